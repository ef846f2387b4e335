"""Built-in sample data shipped inside the package, readable offline.

``builtin:adult``    UCI Adult census income (48,842 rows), CC BY 4.0 — see datasets/adult/README.md
``builtin:diabetes`` scikit-learn's diabetes regression data (442 rows), BSD-3-Clause, read from sklearn
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from importlib import resources

import pandas as pd

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
    "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
    "hours_per_week", "native_country", "income",
]


def _read_package_file(*parts: str) -> bytes:
    return resources.files(__name__).joinpath(*parts).read_bytes()


def load_adult() -> tuple[pd.DataFrame, dict[str, bytes]]:
    """UCI Adult: the train and test files concatenated; '?' is missing, labels lose the '.'."""
    raw = {name: _read_package_file("adult", name) for name in ("adult.data.gz", "adult.test.gz")}
    frames = []
    for name, blob in raw.items():
        frame = pd.read_csv(
            io.BytesIO(gzip.decompress(blob)),
            header=None,
            names=ADULT_COLUMNS,
            skipinitialspace=True,
            na_values=["?"],
            skiprows=1 if name.startswith("adult.test") else 0,  # "|1x3 Cross validator"
        )
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    df["income"] = df["income"].str.rstrip(".")
    return df, raw


def load_diabetes() -> tuple[pd.DataFrame, dict[str, bytes]]:
    """scikit-learn's diabetes regression data (10 standardised features, target 'target')."""
    from sklearn.datasets import load_diabetes as sk_load

    bunch = sk_load(as_frame=True, scaled=True)
    df = bunch.frame
    return df, {"diabetes.csv": df.to_csv(index=False).encode()}


BUILTINS: dict[str, Callable[[], tuple[pd.DataFrame, dict[str, bytes]]]] = {
    "adult": load_adult,
    "diabetes": load_diabetes,
}
