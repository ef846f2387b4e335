"""Seeded synthetic data of any size, for scale benchmarks and tests.

Two shapes: Adult-like (a mix of numeric and categorical columns, target `income`) and wide
(many float columns like a gene-expression table, a multi-class target `label`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from traincycle.io import atomic_path

CATEGORIES = {
    "workclass": ["Federal-gov", "Local-gov", "Private", "Self-emp-inc", "Self-emp-not-inc", "State-gov"],
    "education": ["Assoc", "Bachelors", "Doctorate", "HS-grad", "Masters", "Prof-school", "Some-college"],
    "marital_status": ["Divorced", "Married", "Never-married", "Separated", "Widowed"],
    "occupation": ["Adm-clerical", "Craft-repair", "Exec-managerial", "Prof-specialty", "Sales", "Service"],
    "race": ["Amer-Indian-Eskimo", "Asian-Pac-Islander", "Black", "Other", "White"],
    "sex": ["Female", "Male"],
}
RACE_P = [0.01, 0.03, 0.1, 0.01, 0.85]
CHUNK = 1_000_000


def synth_chunk(rows: int, extra_cols: int, rng: np.random.Generator) -> pd.DataFrame:
    """One chunk of Adult-like rows: numerics, categoricals with missing values, a learnable label."""
    cols: dict[str, object] = {
        "age": rng.integers(17, 90, rows),
        "hours_per_week": rng.integers(1, 99, rows),
        "capital_gain": np.where(rng.random(rows) < 0.08, rng.integers(1, 99_999, rows), 0),
        "fnlwgt": rng.integers(12_000, 1_500_000, rows),
    }
    for name, values in CATEGORIES.items():
        p = RACE_P if name == "race" else None
        codes = rng.choice(len(values), rows, p=p)
        if name in ("workclass", "occupation"):
            codes = np.where(rng.random(rows) < 0.05, -1, codes)  # ~5% missing, like Adult's '?'
        cols[name] = pd.Categorical.from_codes(codes, categories=values)
    for i in range(extra_cols):
        cols[f"x{i}"] = rng.normal(size=rows).astype(np.float32)
    df = pd.DataFrame(cols)
    logit = (
        0.04 * (df["age"] - 40)
        + 0.03 * (df["hours_per_week"] - 40)
        + 0.9 * df["education"].isin(["Bachelors", "Masters", "Doctorate", "Prof-school"])
        + 1.2 * (df["marital_status"] == "Married")
        + 0.4 * (df["sex"] == "Male")
        + 2.0 * (df["capital_gain"] > 5000)
        - 2.9
    )
    positive = rng.random(rows) < 1 / (1 + np.exp(-logit.to_numpy(dtype=float)))
    df["income"] = pd.Categorical.from_codes(positive.astype(int), categories=["<=50K", ">50K"])
    return df


WIDE_TARGET = "label"
#: columns of a wide table that carry the class signal (the rest is noise)
WIDE_INFORMATIVE = 20


def wide_frame(rows: int, cols: int, classes: int = 4, seed: int = 0) -> pd.DataFrame:
    """`rows` x `cols` float columns g0000, g0001, ... and a `classes`-class target `label`.

    Log-normal-ish expression levels; the first few columns shift with the class, so a linear
    model can learn it even when columns far outnumber rows.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(rows) % classes  # every class present, even at a few rows
    rng.shuffle(labels)
    values = rng.normal(size=(rows, cols))
    informative = min(WIDE_INFORMATIVE, cols)
    shifts = rng.normal(scale=2.0, size=(classes, informative))
    values[:, :informative] += shifts[labels]
    width = len(str(cols - 1))
    df = pd.DataFrame(np.exp(values / 4), columns=[f"g{i:0{width}d}" for i in range(cols)])
    df[WIDE_TARGET] = pd.Categorical.from_codes(labels, categories=[f"class_{k}" for k in range(classes)])
    return df


NOTE_WORDS = ("called", "about", "invoice", "login", "app", "slow", "asked", "plan", "upgrade", "email",
              "support", "billing", "question", "thanks", "issue", "account", "update", "password")
CHURN_WORDS = ("cancel", "refund", "competitor")


def churn_frame(rows: int = 6000, seed: int = 0) -> pd.DataFrame:
    """A customer table with every column kind; `churn` depends on signup weekday and note words.

    customer_id (identifier), signup_date (ISO date strings), plan (category), autopay
    (yes/no), monthly_spend (numeric), note (free text), churn (yes/no label).
    """
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 3 * 365, rows)
    signup = pd.Timestamp("2021-01-01") + pd.to_timedelta(days, unit="D")
    plan = rng.choice(["basic", "pro", "enterprise"], rows, p=[0.5, 0.35, 0.15])
    autopay = rng.random(rows) < 0.6
    spend = np.round(rng.gamma(2.0, 30.0, rows), 2)
    angry = rng.random(rows) < 0.25
    notes = []
    for i in range(rows):
        words = list(rng.choice(NOTE_WORDS, rng.integers(4, 10)))
        if angry[i]:
            words.insert(int(rng.integers(0, len(words))), str(rng.choice(CHURN_WORDS)))
        notes.append(" ".join(words).capitalize())
    weekend = signup.dayofweek.to_numpy() >= 5
    logit = -1.6 + 2.2 * weekend + 2.4 * angry - 0.3 * autopay + 0.002 * (spend - 60)
    churn = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({
        "customer_id": [f"C{100000 + i}" for i in rng.permutation(rows)],
        "signup_date": signup.strftime("%Y-%m-%d"),
        "plan": plan,
        "autopay": np.where(autopay, "yes", "no"),
        "monthly_spend": spend,
        "note": notes,
        "churn": np.where(churn, "yes", "no"),
    })


def write_wide(path: str | Path, rows: int, cols: int, classes: int = 4, seed: int = 0) -> Path:
    """Write a wide synthetic table (see `wide_frame`) to Parquet."""
    from traincycle.io import write_parquet

    write_parquet(wide_frame(rows, cols, classes, seed), path)
    return Path(path)


def write_synthetic(path: str | Path, rows: int, cols: int = 14, seed: int = 0) -> Path:
    """Write `rows` synthetic rows with `cols` feature columns to Parquet, one chunk at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = 4 + len(CATEGORIES)
    extra = max(0, cols - base)
    keep = None if cols >= base else [*list(synth_chunk(1, 0, np.random.default_rng(0)).columns[:cols]),
                                       "income"]
    path = Path(path)
    with atomic_path(path) as tmp:
        writer = None
        for index, start in enumerate(range(0, rows, CHUNK)):
            rng = np.random.default_rng([seed, index])
            chunk = synth_chunk(min(CHUNK, rows - start), extra, rng)
            table = pa.Table.from_pandas(chunk if keep is None else chunk[keep], preserve_index=False)
            writer = writer or pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table)
        if writer is not None:
            writer.close()
    return path
