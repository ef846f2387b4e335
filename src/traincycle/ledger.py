"""The test-set ledger: every look at the test split, so overuse of it is visible.

Each evaluate run appends one JSON line to one file per repository: ``traincycle/ledger.jsonl``
inside the git common directory (``.git``, shared by every worktree), found from ``DVC_ROOT``,
which DVC points at the parent repository even inside a temp or queued experiment's copy. So a
look at test is recorded wherever it happens, and ``traincycle ledger`` lists them all. It is
local history, not a DVC output, so reruns of the pipeline stay byte-identical.

Scoring many models on one test split and keeping the best turns the test estimate into a
selection, and an optimistic one; changing the headline metric after seeing results is the same
problem in another form. Both get a warning.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from traincycle.errors import DataError

#: outside a git repository (or without git): next to the project, as before
FALLBACK_PATH = ".traincycle/ledger.jsonl"


def default_path() -> Path:
    """The repository's one ledger: <git common dir>/traincycle/ledger.jsonl.

    Starts from ``DVC_ROOT`` (set by DVC for stage commands; the parent repository in temp and
    queued experiments) or the current directory; falls back to ``.traincycle/`` off git.
    """
    import os
    import subprocess

    root = Path(os.environ.get("DVC_ROOT") or ".")
    try:
        found = subprocess.run(["git", "rev-parse", "--git-common-dir"], cwd=root, capture_output=True,
                               text=True, check=False)
    except OSError:
        return Path(FALLBACK_PATH)
    if found.returncode != 0 or not found.stdout.strip():
        return Path(FALLBACK_PATH)
    return (root / found.stdout.strip()).resolve() / "traincycle" / "ledger.jsonl"
FIELDS = ("time", "test_hash", "model_hash", "metric", "value", "params_hash", "problem_metric")


def read_entries(path: str | Path) -> list[dict[str, Any]]:
    """All ledger entries, oldest first (an absent ledger is empty)."""
    path = Path(path)
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise DataError(f"{path}: line {number} is not valid JSON; fix or delete that line") from None
        if not isinstance(entry, dict):
            raise DataError(f"{path}: line {number} is not a JSON object")
        entries.append(entry)
    return entries


def append_entry(path: str | Path, entry: dict[str, Any]) -> None:
    """Append one entry as a JSON line (one write call, so concurrent runs do not interleave)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({k: entry.get(k) for k in FIELDS}, sort_keys=False) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)


def warnings_for(entries: Iterable[dict[str, Any]], entry: dict[str, Any], budget: int) -> list[str]:
    """Warnings raised by adding `entry` to the earlier `entries` of the ledger."""
    same_test = [e for e in entries if e.get("test_hash") == entry["test_hash"]]
    out = []
    models = {e.get("model_hash") for e in same_test} | {entry["model_hash"]}
    if len(models) > budget:
        out.append(
            f"test budget exceeded: {len(models)} distinct models have been scored on this test "
            f"split (evaluate.test_budget {budget}); the test estimate is becoming optimistic. "
            "Select on val, or hold out a fresh test split"
        )
    earlier = [e.get("problem_metric") for e in same_test if e.get("problem_metric")]
    if earlier and earlier[0] != entry["problem_metric"]:
        out.append(
            f"headline metric changed: problem.metric is {entry['problem_metric']!r} but "
            f"{earlier[0]!r} was the metric when this test split was first scored; "
            "choosing the metric after seeing test results biases the estimate"
        )
    return out


def record(path: str | Path, entry: dict[str, Any], budget: int) -> list[str]:
    """Append `entry` to the ledger and return the warnings it raises."""
    found = warnings_for(read_entries(path), entry, budget)
    append_entry(path, entry)
    return found


def looks_summary(entries: list[dict[str, Any]], budget: int) -> str | None:
    """One line on how often the latest test split has been looked at; a warning past `budget`."""
    if not entries:
        return None
    test = entries[-1].get("test_hash")
    same = [e for e in entries if e.get("test_hash") == test]
    models = len({e.get("model_hash") for e in same})
    line = (f"the test split ({_short(test)}) has been scored {len(same)} time(s), by {models} "
            f"distinct model(s) (`traincycle ledger`)")
    if models > budget:
        return (f"**warning:** {line}: over evaluate.test_budget {budget}, so the test estimate "
                "is optimistic; judge changes on val and keep a fresh test split for the end")
    return line[0].upper() + line[1:]


def format_table(entries: list[dict[str, Any]]) -> str:
    """Entries as an aligned text table, hashes shortened to 12 characters."""
    if not entries:
        return "the ledger is empty: no model has been scored on a test split yet"
    header = ["#", "time", "test", "model", "metric", "value", "params", "problem metric"]
    rows = [header]
    for i, e in enumerate(entries, start=1):
        value = e.get("value")
        rows.append([
            str(i), str(e.get("time") or "-"), _short(e.get("test_hash")), _short(e.get("model_hash")),
            str(e.get("metric") or "-"), f"{value:.4f}" if isinstance(value, int | float) else "-",
            _short(e.get("params_hash")), str(e.get("problem_metric") or "-"),
        ])
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    tests: dict[str, set[str]] = {}
    for e in entries:
        tests.setdefault(_short(e.get("test_hash")), set()).add(str(e.get("model_hash")))
    summary = [f"test {t}: {len(m)} distinct model(s) scored" for t, m in tests.items()]
    return "\n".join([*lines, "", *summary])


def _short(value: Any) -> str:
    return str(value)[:12] if value else "-"
