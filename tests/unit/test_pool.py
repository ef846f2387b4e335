"""The labelling pool the service fills (serve --pool): source format, rotation, locking,
privacy, the metric, and `traincycle select` reading the pool it wrote."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest
from click.testing import CliRunner
from test_predict import model_dir  # noqa: F401 - the shared module-scoped fixture

from traincycle.errors import ConfigError
from traincycle.parsing import ReadOptions
from traincycle.pool import Pool, PoolConfig, pooled_rows, privacy_flagged, rotated


class Intake:
    """What the pool reads of a table intake: request keys, the source's format."""

    KEY = "rows"
    names: ClassVar[dict[str, str]] = {"age": "age", "Work-Class": "work_class", "work_class": "work_class"}
    options = ReadOptions(",", "utf-8", ("?",), {"age": "age", "Work-Class": "work_class",
                                                 "Income": "income"})


def test_rows_are_written_in_the_source_format(tmp_path: Path) -> None:
    pool = Pool(PoolConfig(tmp_path / "pool.csv"), Intake())
    assert pool.add([{"age": 39, "Work-Class": "State-gov, local"}, {"age": None, "work_class": "x"}]) == 2
    assert pool.add([]) == 0
    text = (tmp_path / "pool.csv").read_text()
    # the source's names and order; the target, which requests never carry, written missing
    assert text == 'age,Work-Class,Income\n39,"State-gov, local",?\n?,x,?\n'
    back = pd.read_csv(tmp_path / "pool.csv", na_values=["?"])
    assert back["Work-Class"].tolist() == ["State-gov, local", "x"]
    assert back["age"].isna().tolist() == [False, True]


def test_pool_rotates_each_file_with_its_header(tmp_path: Path) -> None:
    pool = Pool(PoolConfig(tmp_path / "pool.csv", max_bytes=60, backups=2), Intake())
    for age in range(10):
        pool.add([{"age": age, "work_class": "Private"}])
    files = sorted(p.name for p in tmp_path.glob("pool*.csv"))
    assert files == ["pool.1.csv", "pool.2.csv", "pool.csv"]
    assert rotated(tmp_path / "p.csv", 3).name == "p.3.csv"
    frames = [pd.read_csv(tmp_path / name) for name in ("pool.2.csv", "pool.1.csv", "pool.csv")]
    assert all(list(f.columns) == ["age", "Work-Class", "Income"] for f in frames)
    ages = pd.concat(frames)["age"].tolist()
    assert ages == list(range(10 - len(ages), 10))  # the newest rows, in order; the oldest went
    assert all((tmp_path / n).stat().st_size <= 60 for n in files)


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    pools = [Pool(PoolConfig(tmp_path / "pool.csv"), Intake()) for _ in range(4)]  # e.g. 4 processes

    def hammer(pool: Pool, n: int) -> None:
        for i in range(50):
            pool.add([{"age": n * 1000 + i, "work_class": "w" * 200}] * 3)

    threads = [threading.Thread(target=hammer, args=(p, n)) for n, p in enumerate(pools)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    back = pd.read_csv(tmp_path / "pool.csv")
    assert len(back) == 600 and (back["Work-Class"] == "w" * 200).all()
    assert back["age"].value_counts().eq(3).all()


def test_omitted_and_privacy_flagged_columns_stay_empty(tmp_path: Path) -> None:
    report = tmp_path / "validation.json"
    report.write_text(json.dumps({"privacy": [
        {"column": "work_class", "action": "allow", "findings": [{"kind": "email"}]},
        {"column": "email", "action": "drop", "findings": [{"kind": "email"}]},
        {"column": "telephone", "action": "warn",  # a code named like phones: its values are safe
         "findings": [{"kind": "phone", "evidence": "name_only"}]}]}))
    assert privacy_flagged(report) == ["work_class"] and privacy_flagged(tmp_path / "none.json") == []
    pool = Pool(PoolConfig(tmp_path / "pool.csv", omit=tuple(privacy_flagged(report))), Intake())
    pool.add([{"age": 40, "Work-Class": "a@b.example"}])
    assert "a@b.example" not in (tmp_path / "pool.csv").read_text()
    with pytest.raises(ConfigError, match="--pool-omit: 'nope' is not a column"):
        Pool(PoolConfig(tmp_path / "pool.csv", omit=("nope",)), Intake())
    with pytest.raises(ConfigError, match=r"expected a \.csv"):
        Pool(PoolConfig(tmp_path / "pool.jsonl"), Intake())

    class Texts:  # an intake of texts or images has no table columns to write
        KEY = "texts"

    with pytest.raises(ConfigError, match="keeps table rows; this model takes 'texts'"):
        Pool(PoolConfig(tmp_path / "pool.csv"), Texts())


def test_which_rows_are_pooled() -> None:
    assert pooled_rows([0.9, 0.55, 0.7], ["", "", "missing:age"], 0.6, flagged=False) == [1]
    assert pooled_rows([0.9, 0.55, 0.7], ["", "", "missing:age"], 0.6, flagged=True) == [1, 2]
    assert pooled_rows(None, ["", "out_of_range:x"], 0.6, flagged=True) == [1]  # regression


def test_service_fills_the_pool_and_select_reads_it(model_dir, tmp_path: Path) -> None:  # noqa: F811
    from fastapi.testclient import TestClient

    from traincycle.cli import main
    from traincycle.serve import create_app

    root, rows = model_dir
    pool_path = tmp_path / "feedback" / "pool.csv"
    body = rows.drop(columns="income").head(40).astype(object)
    body = body.where(body.notna(), None)
    body.loc[body.index[0], "race"] = "Martian"
    sent = body.to_dict(orient="records")
    app = create_app(root, min_confidence=0.8, cfg=None, pool=PoolConfig(pool_path, flagged=True))
    with TestClient(app) as client:
        answers = []
        for start in range(0, 40, 10):  # several requests append to one file
            reply = client.post("/predict", json={"rows": sent[start:start + 10]})
            assert reply.status_code == 200, reply.text
            answers += reply.json()["predictions"]
        metrics = client.get("/metrics").text
    wanted = [i for i, a in enumerate(answers) if a["low_confidence"] or a["flags"]]
    assert 0 < len(wanted) < 40 and 0 in wanted  # some sure rows stay out; the flagged row is in
    assert f"traincycle_pooled_rows_total {float(len(wanted))}" in metrics
    pooled = pd.read_csv(pool_path, na_values=["?"])
    assert list(pooled.columns) == list(rows.columns)  # the source's columns, the label empty
    assert pooled["income"].isna().all() and len(pooled) == len(wanted)
    expected = rows.drop(columns="income").iloc[wanted].reset_index(drop=True).astype(object)
    expected.loc[0, "race"] = "Martian"
    pd.testing.assert_frame_equal(pooled.drop(columns="income").astype(object), expected,
                                  check_dtype=False)

    out = tmp_path / "to_label.csv"
    result = CliRunner().invoke(main, ["select", str(pool_path), "-k", "5", "-o", str(out),
                                       "--model", str(root)])
    assert result.exit_code == 0, result.output
    picked = pd.read_csv(out, na_values=["?"])
    assert len(picked) == 5 and set(picked.columns) == {"pool_row", "rank", "uncertainty", *rows.columns}
    assert picked["uncertainty"].is_monotonic_decreasing
