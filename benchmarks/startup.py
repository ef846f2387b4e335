"""Start-up time of `traincycle --help` and each stage script's --help vs a bare `python -c pass`.

Heavy libraries (torch, great_expectations, shap, onnx) must be imported lazily, so start-up
stays close to the interpreter's own.
"""

from __future__ import annotations

import argparse
import sys

from harness import BIN, ROOT, best_of, table


def main(repeat: int) -> list[dict[str, object]]:
    baseline = best_of([sys.executable, "-c", "pass"], ROOT, repeat)
    commands = {"traincycle --help": [str(BIN / "traincycle"), "--help"]}
    for script in sorted((ROOT / "stages").glob("*.py")):
        commands[f"stages/{script.name} --help"] = [sys.executable, str(script), "--help"]
    rows = [{"command": "python -c pass (baseline)", "seconds": baseline, "ratio": 1.0}]
    for name, cmd in commands.items():
        seconds = best_of(cmd, ROOT, repeat)
        rows.append({"command": name, "seconds": seconds, "ratio": seconds / baseline})
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    print(table(main(parser.parse_args().repeat)))
