"""Would a sparse one-hot path help? Featurize's dense output vs its sparse twin, measured.

    python benchmarks/wide_onehot.py [--rows 100000] [--levels 10,1000]

A seeded table of ROWS rows: 10 float columns, one category of LEVELS equally frequent values
(every value above featurize's rare-value cut, so each becomes its own one-hot column) and a
binary label. For each LEVELS, the featurizer is fit (default params, label scan off) in a child
process: its wall and CPU seconds and peak RSS, the dense float32 feature matrix it hands on
(the processed-data contract: one float32 parquet column per feature) beside the bytes the same
matrix takes as CSR, and the processed train parquet's size on disk. The ratios compare the
largest LEVELS with the smallest in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from harness import ROOT, measure, table

CHILD = """
import json, sys, numpy as np, pandas as pd
from traincycle.config import DataConfig
from traincycle.featurize import FeaturizeConfig, LabelScanConfig, fit_featurizer
rows, levels, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(0)
df = pd.DataFrame(rng.normal(size=(rows, 10)), columns=[f"x{i}" for i in range(10)])
df["c"] = pd.Categorical(np.char.add("v", (np.arange(rows) % levels).astype(str)))
df["y"] = pd.Categorical(np.where(df["x0"] + rng.normal(size=rows) > 0, "yes", "no"))
cfg = FeaturizeConfig(label_scan=LabelScanConfig(enabled=False))
fz = fit_featurizer(df, DataConfig(target="y", positive_label="yes"), cfg, seed=0)
X = fz.fitted_train
nnz = int(np.count_nonzero(X))
pd.DataFrame(X, columns=fz.feature_names).to_parquet(out)
import os
json.dump({"features": X.shape[1], "dense_mb": X.nbytes / 2**20, "density": nnz / X.size,
           "csr_mb": (nnz * 8 + (X.shape[0] + 1) * 8) / 2**20,
           "parquet_mb": os.path.getsize(out) / 2**20}, sys.stdout)
"""


def run(rows: int, levels: int, tmp: Path) -> dict[str, float]:
    """One fit in a child process: its measurements plus the matrix figures it prints."""
    child = tmp / "child.py"
    child.write_text(CHILD)
    got = measure([sys.executable, str(child), str(rows), str(levels), str(tmp / f"train-{levels}.parquet")],
                  ROOT)
    if got.returncode:
        raise SystemExit(got.output[-2000:])
    figures = json.loads(got.output.strip().splitlines()[-1])
    return {"levels": levels, **figures, "fit s": got.seconds, "cpu s": got.cpu_seconds,
            "peak MB": got.peak_rss_mb}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--levels", default="10,1000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tc-onehot-") as tmp:
        results = [run(args.rows, int(k), Path(tmp)) for k in args.levels.split(",")]
    print(table(results))
    first, last = results[0], results[-1]
    rss, cpu = last["peak MB"] / first["peak MB"], last["cpu s"] / max(first["cpu s"], 1e-9)
    print(f"{last['levels']} vs {first['levels']} levels: peak RSS x{rss:.2f}, CPU x{cpu:.2f}; "
          f"dense/CSR bytes at {last['levels']}: x{last['dense_mb'] / last['csr_mb']:.1f}")
