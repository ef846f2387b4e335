"""Run every benchmark, print one table per measure, and keep the tables for docs/performance.md.

    python benchmarks/run.py [--quick] [--only startup,overhead,...] [--sizes 100000,...] [--readme]

Each measure's table is saved as `.traincycle/bench/[quick/]<measure>.md` (git-ignored, with the machine,
the load average around it, the date and the command that made it); `--readme` rewrites the
tables of docs/performance.md from the saved tables, so a long run (the 10M-row scale) can be made once
and later quick runs of other measures keep it.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import ROOT, machine, table

OUT = ROOT / ".traincycle" / "bench"
PAGE = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
TITLES = {
    "overhead": "Pipeline overhead (goals: no-op <= 1.3x bare DVC, cold <= 1.4x one process)",
    "startup": "Start-up (heavy imports lazy)",
    "scale": "Scale: seconds and peak RSS per stage (goal: linear, 10M rows in 24 GiB, validate <= 60 s)",
    "scale_fixed": "Scale after the validate and split fixes: ingest, validate, split (wall and CPU seconds)",
    "validate": "Validate gate: Great Expectations vs the same checks in plain pandas",
    "quality": "Model quality on Adult test vs published baselines",
    "optimized": "Optimised model: size and latency, native vs ONNX vs int8 (one optimize run)",
    "experiments": "Experiments: queued with -j 2 vs one after another",
}
MEASURES = ("startup", "overhead", "scale", "validate", "models", "experiments")  # and scale_fixed


def run_measure(name: str, args: argparse.Namespace) -> dict[str, list[dict[str, object]]]:
    """Run one measure; return its tables by title key."""
    quick = args.quick
    if name == "startup":
        import startup

        return {"startup": startup.main(1 if quick else 5)}
    if name == "overhead":
        import overhead

        return {"overhead": overhead.main(quick, 1 if quick else 3)}
    if name == "scale":
        import scale

        return {"scale": scale.main(sizes(args))}
    if name == "scale_fixed":  # the stages the fixes touched, without the long featurize/train
        import scale

        return {"scale_fixed": scale.main(sizes(args)[-2:], ("ingest", "validate", "split"))}
    if name == "validate":
        import validate

        return {"validate": validate.main(100_000 if quick else 1_000_000, 1 if quick else 3)}
    if name == "models":
        import models

        quality, optimized = models.main(quick)
        return {"quality": quality, "optimized": optimized}
    if name == "experiments":
        import experiments

        return {"experiments": experiments.main(quick)}
    raise SystemExit(f"unknown measure {name!r}; expected one of {', '.join(MEASURES)}")


def sizes(args: argparse.Namespace) -> list[int]:
    if args.sizes:
        return [int(s) for s in args.sizes.split(",")]
    return [20_000, 200_000] if args.quick else [100_000, 1_000_000, 10_000_000]


def save(key: str, rows: list[dict[str, object]], seconds: float, load: tuple[float, float],
         command: str, out: Path) -> str:
    """Write one measure's Markdown block (title, table, provenance) under `out`; return it."""
    block = "\n".join([
        f"### {TITLES[key]}",
        "",
        table(rows),
        "",
        f"<sub>`{command}` · {seconds:.0f} s · load average {load[0]:.1f} before, {load[1]:.1f} after"
        f" · {datetime.now(UTC):%Y-%m-%d} · {machine()}</sub>",
        "",
    ])
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{key}.md").write_text(block)
    return block


def update_page(notes: str) -> None:
    """Rewrite the tables of docs/performance.md (between the bench markers) from the saved blocks.

    A measure with no saved block here (a fresh clone, or one measure rerun) keeps the table the
    page already shows, so rerunning one measure never drops the others.
    """
    text = PAGE.read_text() if PAGE.exists() else "# Performance\n"
    shown = {}
    if BEGIN in text and END in text:
        current = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
        for block in re.split(r"(?m)^(?=### )", current)[1:]:
            shown[block.splitlines()[0].removeprefix("### ").strip()] = block.rstrip("\n") + "\n"
    blocks = [(OUT / f"{k}.md").read_text() if (OUT / f"{k}.md").exists() else shown.get(title)
              for k, title in TITLES.items()]
    body = "\n".join([BEGIN, "", f"Machine: {machine()}.", "", *filter(None, blocks), END])
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: body, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + notes + "\n\n" + body + "\n"
    PAGE.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, fewer repeats and families: a smoke run of every measure")
    parser.add_argument("--only", default=",".join(MEASURES), help="comma-separated measures")
    parser.add_argument("--sizes", default="", help="scale row counts (default 100k,1M[,10M])")
    parser.add_argument("--readme", action="store_true", help="rewrite the tables of docs/performance.md")
    args = parser.parse_args()
    if args.quick and args.readme:
        parser.error("--readme shows full runs only; drop --quick")
    # quick tables are kept apart so they never replace a full run's figures
    out = OUT / "quick" if args.quick else OUT
    command = "python benchmarks/run.py " + shlex.join(sys.argv[1:])
    print(f"machine: {machine()}", flush=True)
    for name in filter(None, args.only.split(",")):  # --only '' --readme: tables from saved runs
        print(f"\n== {name}", flush=True)
        load_before, start = os.getloadavg()[0], time.perf_counter()
        tables = run_measure(name, args)
        seconds, load_after = time.perf_counter() - start, os.getloadavg()[0]
        for key, rows in tables.items():
            print(save(key, rows, seconds, (load_before, load_after), command, out), flush=True)
    if args.readme:
        update_page(NOTES)
        print(f"updated {PAGE.relative_to(ROOT)}")


NOTES = """\
`make bench` runs every measure (`make bench QUICK=1`: small sizes, a few minutes) and prints one
table per measure; `make bench README=1` also rewrites the tables below. Every ratio
compares against a baseline measured in the same run on the same machine, because wall-clock
figures on a shared machine are noisy; the load average around each measure is given with it.
Benchmarks print, they never assert."""


if __name__ == "__main__":
    main()
