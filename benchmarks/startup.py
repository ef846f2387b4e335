"""Start-up time of `traincycle --help` and each stage script's --help vs a bare `python -c pass`.

Heavy libraries (torch, great_expectations, shap, onnx, ...) must be imported lazily, so start-up
stays close to the interpreter's own. Each command also runs once under `python -X importtime`,
and the table lists which heavy packages its import pulled in (with their cumulative seconds).
"""

from __future__ import annotations

import argparse
import re
import sys

from harness import BIN, ROOT, best_of, measure, table

#: packages that must load only where used (sklearn is expected in featurize: its clipper
#: subclasses sklearn's bases)
HEAVY = ("torch", "great_expectations", "shap", "onnx", "onnxruntime", "skl2onnx", "xgboost",
         "fairlearn", "sklearn", "optuna", "dvclive", "transformers", "sentence_transformers")
IMPORT_LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)")


def heavy_imports(cmd: list[str]) -> dict[str, float]:
    """Heavy packages imported by `cmd` (a python argv) and their cumulative import seconds."""
    run = measure([cmd[0], "-X", "importtime", *cmd[1:]], ROOT)
    found = {}
    for line in run.output.splitlines():
        match = IMPORT_LINE.match(line)
        if match and match.group(2) in HEAVY:
            found[match.group(2)] = int(match.group(1)) / 1e6
    return found


def main(repeat: int) -> list[dict[str, object]]:
    baseline = best_of([sys.executable, "-c", "pass"], ROOT, repeat)
    commands = {"traincycle --help": [sys.executable, str(BIN / "traincycle"), "--help"]}
    for script in sorted((ROOT / "stages").glob("*.py")):
        commands[f"stages/{script.name} --help"] = [sys.executable, str(script), "--help"]
    rows: list[dict[str, object]] = [
        {"command": "python -c pass (baseline)", "seconds": baseline, "ratio": 1.0, "heavy imports": "—"}
    ]
    for name, cmd in commands.items():
        seconds = best_of(cmd, ROOT, repeat)
        heavy = heavy_imports(cmd)
        rows.append({"command": name, "seconds": seconds, "ratio": seconds / baseline,
                     "heavy imports": ", ".join(f"{k} {v:.1f} s" for k, v in heavy.items()) or "none"})
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    print(table(main(parser.parse_args().repeat)))
