"""schema infer keeps personal data out of schema.yaml (it is committed to git)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from click.testing import CliRunner

from traincycle.schema import draft_schema_file, load_schema

EMAILS = [f"person{i}@example.org" for i in range(12)]
PHONES = [f"+44 20 7946 {i:04d}" for i in range(12)]


def table(rows: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "contact": rng.choice(EMAILS, rows),  # names that hint at nothing: found by the values
        "reach": rng.choice(PHONES, rows),
        "plan": rng.choice(["basic", "plus", "pro"], rows),
        "card": rng.choice([4111111111111111, 5500000000000004], rows),  # Luhn-valid test numbers
        "spend": rng.normal(50, 10, rows).round(2),
        "churned": rng.choice(["yes", "no"], rows),
        "telephone": rng.choice(["none", "yes, registered"], rows),  # German credit's: a code, not numbers
    })


def test_flagged_columns_get_no_values_or_range_in_schema_yaml(tmp_path) -> None:
    data = tmp_path / "customers.csv"
    table().to_csv(data, index=False)
    out = tmp_path / "schema.yaml"
    columns, _entries, _high, private = draft_schema_file(data, out, target="churned")
    text = out.read_text()
    assert columns == 7 and private == ["contact", "reach", "card"]
    assert "@" not in text and "7946" not in text and "4111111111111111" not in text
    assert "5500000000000004" not in text and not re.search(r"\d{9,}", text)
    assert "the privacy scan found email" in text and "the privacy scan found phone" in text
    schema = load_schema(out)
    assert schema.columns["plan"].values == ("basic", "plus", "pro")  # ordinary categories stay listed
    assert schema.columns["telephone"].values == ("none", "yes, registered")  # named like phones, values not
    assert schema.columns["spend"].min is not None and schema.labels == ("no", "yes")
    assert all(schema.columns[c].values is None and schema.columns[c].min is None for c in private)


def test_the_command_says_which_columns_it_withheld(tmp_path, monkeypatch) -> None:
    from traincycle.cli import main

    table().to_csv(tmp_path / "customers.csv", index=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["schema", "infer", "customers.csv", "-o", "schema.yaml"])
    assert result.exit_code == 0, result.output
    assert "privacy scan flagged contact, reach, card" in result.stderr
    assert "@" not in (tmp_path / "schema.yaml").read_text()
