"""skops persistence: a round trip in a fresh process imports neither torch nor dask, and skops'
default trust is the same as without the import guard."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from sklearn.preprocessing import StandardScaler
    from traincycle.storage import dump_skops, load_skops

    path = sys.argv[1]
    dump_skops(StandardScaler().fit(np.arange(6.0).reshape(3, 2)), path)
    scaler = load_skops(path)
    heavy = sorted(m for m in ("torch", "dask", "pytest") if m in sys.modules)
    left_blocked = sorted(n for n, m in sys.modules.items() if m is None and "array_api_compat" in n)

    import skops.io._trusted_types as trusted
    from sklearn.utils import all_estimators  # unguarded now: walks the adapters, imports torch
    names = sorted({trusted.get_type_name(c) for _, c in all_estimators()})
    names = [n for n in names if n.startswith("sklearn.")]
    print(json.dumps({"mean": scaler.mean_.tolist(), "heavy": heavy, "left_blocked": left_blocked,
                      "same_trust": names == sorted(trusted.SKLEARN_ESTIMATOR_TYPE_NAMES),
                      "adapter": "sklearn.externals.array_api_compat.torch" in sys.modules}))
""")


def test_skops_round_trip_imports_no_torch_and_keeps_skops_default_trust(tmp_path: Path):
    src = Path(__file__).resolve().parents[2] / "src"
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "scaler.skops")], check=True,
                         capture_output=True, text=True, env={"PYTHONPATH": str(src), "PATH": ""})
    seen = json.loads(out.stdout.splitlines()[-1])
    assert seen["mean"] == [2.0, 3.0]
    assert seen["heavy"] == []
    assert seen["left_blocked"] == []
    assert seen["same_trust"]
    assert seen["adapter"]  # the adapter imports normally once skops is loaded
