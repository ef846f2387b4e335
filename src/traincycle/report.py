"""`traincycle report`: one Markdown review comment comparing the workspace with a base revision.

The numbers come from the stages' full reports (`reports/<stage>.json`, committed: metrics/ holds
only their headline) at `<rev>` and in the workspace, diffed key by key into the shape of
`dvc metrics diff --all --json`, and from `dvc params diff --json <rev>`; the plot diff is
rendered with `dvc plots diff <rev> -o .traincycle/plots-diff`. Formatting is pure functions over
those JSON documents, so it is tested on canned output.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: metric files in review order (by file stem); others follow alphabetically
FILE_ORDER = ("train", "evaluate", "optimize", "data_quality", "featurize", "split")
#: evaluate.json subtrees shown in their own sections rather than the main table
FAIRNESS_PREFIXES = ("per_group.", "fairness.")
DETAIL_PREFIXES = ("per_class.",)
CI_PREFIX = "ci."


@dataclasses.dataclass(frozen=True)
class Change:
    """One metric or param across the two revisions (None: absent there)."""

    key: str
    old: Any
    new: Any


def changes(entries: Mapping[str, Mapping[str, Any]]) -> list[Change]:
    """Changes from one file's part of `dvc metrics/params diff --json` (`{key: {old, new}}`)."""
    return [Change(k, v.get("old"), v.get("new")) for k, v in entries.items()]


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any) -> str:
    """A compact cell: 4 significant digits for floats, '—' for missing."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value).replace("|", "\\|")


def delta(old: Any, new: Any) -> str:
    """Signed difference (and relative change for large enough bases); '' when not numeric."""
    if not (is_number(old) and is_number(new)):
        return "" if old == new else "changed"
    diff = new - old
    if diff == 0:
        return "="
    if float(diff).is_integer() and abs(diff) < 1e15:
        text = f"{int(diff):+d}"
    else:
        text = f"{diff:+.4g}" if abs(diff) >= 1e-4 else f"{diff:+.1e}"
    if abs(old) > 1e-9 and abs(old) >= 1:  # relative change reads well for counts, sizes, latencies
        text += f" ({diff / abs(old):+.1%})"
    return f"**{text}**"


def ci_of(key: str, flat: Mapping[str, Change], which: str = "new") -> tuple[float, float] | None:
    """The confidence interval stored alongside `key`, if the metrics have one.

    Recognised layouts: `ci.<name>.low/high` for a top-level section's `<section>.<name>`
    (evaluate's `metrics.roc_auc`), siblings `<key>_ci.low/high` or `<key>_low/_high`, and
    `<parent>.low/high` for `<parent>.value`.
    """
    parent, _, leaf = key.rpartition(".")
    candidates = [(f"{key}_ci.low", f"{key}_ci.high"), (f"{key}_low", f"{key}_high")]
    if parent and "." not in parent:
        candidates.append((f"{CI_PREFIX}{leaf}.low", f"{CI_PREFIX}{leaf}.high"))
    if leaf == "value" and parent:
        candidates.append((f"{parent}.low", f"{parent}.high"))
    for low_key, high_key in candidates:
        if low_key in flat and high_key in flat:
            low, high = getattr(flat[low_key], which), getattr(flat[high_key], which)
            if is_number(low) and is_number(high):
                return float(low), float(high)
    return None


def _ci_keys(flat: Mapping[str, Change]) -> set[str]:
    """Keys that are interval bounds of another key (shown in its CI column, not as rows)."""
    used = set()
    for key in flat:
        if key.startswith(CI_PREFIX):
            used.add(key)
        for suffix in ("_ci.low", "_ci.high", "_low", "_high"):
            if key.endswith(suffix) and key[: -len(suffix)] in flat:
                used.add(key)
        parent = key.rpartition(".")[0]
        if key.endswith((".low", ".high")) and f"{parent}.value" in flat:
            used.add(key)
    return used


def ci_cell(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def table(head: list[str], rows: list[list[str]], align: str = "") -> str:
    """A Markdown table; `align` holds one of 'l'/'r' per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(head) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def fold(summary: str, body: str, open_: bool = False) -> str:
    """A GitHub <details> block (blank lines keep the Markdown inside rendering)."""
    return f"<details{' open' if open_ else ''}><summary>{summary}</summary>\n\n{body}\n\n</details>"


def file_order(path: str) -> tuple[int, str]:
    stem = Path(path).stem
    return (FILE_ORDER.index(stem) if stem in FILE_ORDER else len(FILE_ORDER), path)


def metric_table(flat: Mapping[str, Change], keys: list[str], base: str, head: str) -> str:
    """Rows of (metric, base, head, delta[, CI]) for `keys`; the CI column only when any exists."""
    cis = {k: ci_of(k, flat) for k in keys}
    with_ci = any(cis.values())
    cols = ["metric", base, head, "Δ"] + (["95% CI (new)"] if with_ci else [])
    rows = []
    for k in keys:
        c = flat[k]
        row = [f"`{k}`", fmt(c.old), fmt(c.new), delta(c.old, c.new)]
        rows.append(row + ([ci_cell(cis[k])] if with_ci else []))
    return table(cols, rows, "lrrr" + ("l" if with_ci else ""))


def key_list(keys: list[str], limit: int = 30) -> str:
    """Keys as inline code; three or more siblings collapse to `parent.*` (n)."""
    by_parent: dict[str, list[str]] = {}
    for k in keys:
        by_parent.setdefault(k.rpartition(".")[0], []).append(k)
    items = []
    for parent, members in by_parent.items():
        if parent and len(members) >= 3:
            items.append(f"`{parent}.*` ({len(members)})")
        else:
            items += [f"`{k}`" for k in members]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def file_section(path: str, flat: Mapping[str, Change], base: str, head: str) -> str | None:
    """Changed metrics of one file as a table; unchanged, added and removed ones folded.

    Returns None when nothing in the file changed (the caller lists it in one line).
    """
    hidden = _ci_keys(flat)
    keys = sorted(k for k in flat if k not in hidden
                  and not k.startswith(FAIRNESS_PREFIXES + DETAIL_PREFIXES))
    both = [k for k in keys if flat[k].old is not None and flat[k].new is not None]
    moved = [k for k in both if flat[k].old != flat[k].new]
    same = [k for k in both if flat[k].old == flat[k].new]
    added = [k for k in keys if flat[k].old is None and flat[k].new is not None]
    removed = [k for k in keys if flat[k].new is None and flat[k].old is not None]
    detail = sorted(k for k in flat if k.startswith(DETAIL_PREFIXES) and k not in hidden
                    and flat[k].old != flat[k].new)
    if not (moved or added or removed or detail):
        return None
    parts = [f"#### `{path}`"]
    if moved:
        parts.append(metric_table(flat, moved, base, head))
    if added:
        parts.append(f"New in {head}: {key_list(added)}.")
    if removed:
        parts.append(f"Gone from {head}: {key_list(removed)}.")
    if detail:
        parts.append(fold(f"per-class: {len(detail)} changed", metric_table(flat, detail, base, head)))
    if same:
        parts.append(fold(f"{len(same)} unchanged", metric_table(flat, same, base, head)))
    return "\n\n".join(parts)


def metrics_section(diff: Mapping[str, Mapping[str, Any]], base: str, head: str) -> str:
    """Per metrics file: changed metrics with deltas (fairness and per-class split out)."""
    if not diff:
        return "### Metrics\n\nNo metrics files in either revision."
    parts, unchanged = ["### Metrics"], []
    for path in sorted(diff, key=file_order):
        flat = {c.key: c for c in changes(diff[path])}
        section = file_section(path, flat, base, head)
        if section is None:
            unchanged.append(f"`{path}` ({len(flat)})")
        else:
            parts.append(section)
    if unchanged:
        parts.append(f"Unchanged: {', '.join(unchanged)}.")
    return "\n\n".join(parts)


def fairness_section(diff: Mapping[str, Mapping[str, Any]], base: str, head: str) -> str:
    """Parity gaps and per-group metrics (with group size) with deltas, from every metrics file."""
    groups: dict[tuple[str, str], dict[str, Change]] = {}
    gap_rows = []
    for path in sorted(diff, key=file_order):
        flat = {c.key: c for c in changes(diff[path])}
        for k, c in sorted(flat.items()):
            parts = k.split(".")
            if k.startswith("per_group.") and len(parts) >= 4:
                groups.setdefault((parts[1], ".".join(parts[2:-1])), {})[parts[-1]] = c
            elif k.startswith("fairness."):
                col, gap = (parts[1], ".".join(parts[2:])) if len(parts) >= 3 else ("(all)", parts[1])
                gap_rows.append([col, gap, fmt(c.old), fmt(c.new), delta(c.old, c.new)])
    if not groups and not gap_rows:
        return ""
    out = ["### Fairness (test split, per sensitive group)"]
    if gap_rows:
        out.append(table(["column", "gap", base, head, "Δ"], gap_rows, "llrrr"))
    moved, same = [], []
    for (col, group), metrics in sorted(groups.items()):
        count = metrics.get("count")
        n = fmt(count.new if count and count.new is not None else count.old if count else None)
        for name, c in sorted(metrics.items()):
            if name == "count":
                continue
            ci = ci_of(f"per_group.{col}.{group}.{name}", {f"per_group.{col}.{group}.{m}": v
                                                            for m, v in metrics.items()})
            row = [col, group, n, name, fmt(c.old), fmt(c.new), delta(c.old, c.new), ci_cell(ci)]
            (same if c.old == c.new else moved).append(row)
    with_ci = any(r[-1] for r in moved + same)
    cols = ["column", "group", "n", "metric", base, head, "Δ"] + (["95% CI (new)"] if with_ci else [])
    align = "llrlrrr" + ("l" if with_ci else "")

    def rows(rs: list[list[str]]) -> list[list[str]]:
        return rs if with_ci else [r[:-1] for r in rs]

    if moved:
        out.append(f"{len(moved)} per-group figures changed:\n\n" + table(cols, rows(moved), align))
    if same:
        out.append(fold(f"{len(same)} per-group figures unchanged", table(cols, rows(same), align)))
    if groups and not with_ci:
        out.append("_Per-group figures carry no confidence intervals here; read small groups "
                   "(column n) with care._")
    return "\n\n".join(out)


def params_section(diff: Mapping[str, Mapping[str, Any]], base: str, head: str) -> str:
    """Changed params (from `dvc params diff --json`), one row each."""
    rows = []
    for path in sorted(diff):
        for c in sorted(changes(diff[path]), key=lambda c: c.key):
            where = c.key if path == "params.yaml" else f"{path}:{c.key}"
            rows.append([f"`{where}`", fmt(c.old), fmt(c.new)])
    if not rows:
        return "### Params\n\nNo params changed."
    return "### Params changed\n\n" + table(["param", base, head], rows, "lll")


def headline(evaluate: Mapping[str, Any] | None, base: str, head: str) -> str:
    """One sentence on the headline test metric and whether the problem's target is met."""
    if not evaluate:
        return ""
    flat = {c.key: c for c in changes(evaluate)}
    name = flat.get("headline.metric")
    value = flat.get("headline.value")
    if name is None or value is None:
        return ""
    metric = name.new or name.old
    ci = ci_cell(ci_of("headline.value", flat))
    text = (f"**Headline (test):** `{metric}` {fmt(value.old)} ({base}) → {fmt(value.new)} ({head}), "
            f"Δ {delta(value.old, value.new) or 'n/a'}")
    if ci:
        text += f", 95% CI {ci}"
    target = next((flat[k] for k in ("problem.at_least", "problem.at_most") if k in flat), None)
    met = flat.get("problem.met")
    if target is not None and met is not None:
        sign = "≥" if "problem.at_least" in flat else "≤"
        verdict = "met" if met.new else "**not met**"
        text += f"; target {sign} {fmt(target.new)}: {verdict}"
        bound = flat.get("problem.met_at_ci_bound")
        if bound is not None and bound.new is not None:
            text += f" (at the CI bound: {'met' if bound.new else 'not met'})"
    return text + "."


def _numbers(doc: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in doc.items():
        if isinstance(v, Mapping):
            out.update(_numbers(v, f"{prefix}{k}."))
        elif is_number(v):
            out[f"{prefix}{k}"] = v
    return out


def stage_seconds(doc: Mapping[str, Any]) -> float | None:
    """A stage's total seconds from its timings file, whatever its layout; None if unknown."""
    numbers = _numbers(doc)
    for key in ("seconds", "total", "total_seconds"):
        if key in numbers:
            return numbers[key]
    timed = [v for k, v in numbers.items() if k.endswith("seconds")]
    if timed:
        return sum(timed)
    flat = all(is_number(v) for v in doc.values())
    if flat and numbers and not any(w in k for k in numbers for w in ("row", "count", "ms", "bytes")):
        return sum(numbers.values())  # a map of phase -> seconds
    return None


def timings_section(timings: Mapping[str, Mapping[str, Any]], limit: int = 6) -> str:
    """Local wall-clock seconds per stage (from .traincycle/timings; never committed)."""
    if not timings:
        return ""
    rows = []
    for stage in sorted(timings):
        numbers = _numbers(timings[stage])
        total = stage_seconds(timings[stage])
        items = [f"{k} {fmt(v)}" for k, v in numbers.items() if k not in ("seconds", "total")]
        detail = ", ".join(items[:limit]) + (f", … ({len(items) - limit} more)" if len(items) > limit else "")
        rows.append([stage, "—" if total is None else f"{total:.2f}", detail])
    return ("### Timings (this machine, wall clock; not committed)\n\n"
            + table(["stage", "seconds", "detail"], rows, "lrl"))


def plots_section(index: str | None, rev: str, error: str | None = None) -> str:
    if index is None:
        return f"### Plots\n\n`dvc plots diff {rev}` failed: {error or 'no output'}"
    return (f"### Plots\n\nRendered with `dvc plots diff {rev} -o {Path(index).parent}`: open "
            f"`{index}` (learning curves, ROC/PR, calibration, confusion, per-group bars; "
            f"{rev} and workspace overlaid).")


def build_report(
    *,
    rev: str,
    rev_sha: str,
    metrics_diff: Mapping[str, Mapping[str, Any]],
    params_diff: Mapping[str, Mapping[str, Any]],
    plots_index: str | None,
    plots_error: str | None = None,
    timings: Mapping[str, Mapping[str, Any]] | None = None,
    head: str = "workspace",
    looks: str | None = None,
    judged: str | None = None,
    cost: str = "",
) -> str:
    """The whole review comment."""
    base = f"{rev}"
    evaluate = next((v for k, v in metrics_diff.items() if Path(k).stem == "evaluate"), None)
    sections = [
        f"## traincycle report: {head} vs `{rev}` (`{rev_sha[:7]}`)",
        headline(evaluate, base, head),
        judged or "",
        looks or "",
        metrics_section(metrics_diff, base, head),
        fairness_section(metrics_diff, base, head),
        params_section(params_diff, base, head),
        plots_section(plots_index, rev, plots_error),
        timings_section(timings or {}),
        cost,
        "<sub>Generated by `traincycle report --rev "
        f"{rev}` from `reports/*.json`, `dvc params diff` and `dvc plots diff`.</sub>",
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def read_timings(folder: str | Path) -> dict[str, dict[str, Any]]:
    """Every `.traincycle/timings/<stage>.json`, keyed by stage; unreadable files are skipped."""
    from traincycle.errors import DataError
    from traincycle.io import read_json

    out = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            doc = read_json(path)
        except DataError:
            continue
        if isinstance(doc, dict):
            out[path.stem] = doc
    return out


def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys to scalar leaves (lists are not diffed: DVC skips them too)."""
    out: dict[str, Any] = {}
    for k, v in doc.items():
        if isinstance(v, Mapping):
            out.update(flatten(v, f"{prefix}{k}."))
        elif not isinstance(v, list):
            out[f"{prefix}{k}"] = v
    return out


def documents_diff(
    old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """`{path: {key: {old, new[, diff]}}}` for every leaf of either revision's documents."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(set(old) | set(new)):
        a, b = flatten(old.get(path) or {}), flatten(new.get(path) or {})
        entries = {}
        for key in list(a) + [k for k in b if k not in a]:
            entry = {"old": a.get(key), "new": b.get(key)}
            if is_number(entry["old"]) and is_number(entry["new"]):
                entry["diff"] = entry["new"] - entry["old"]
            entries[key] = entry
        out[path] = entries
    return out


def read_reports(rev: str | None, stems: tuple[str, ...] = FILE_ORDER) -> dict[str, tuple[str, dict]]:
    """Every stage's full report at `rev` (None: the workspace): stem -> (path, document).

    The full report is `reports/<stem>.json`; revisions from before the headline split kept it
    in `metrics/<stem>.json`, which is read instead, so an older base compares like with like.
    """
    import json

    from traincycle.errors import DataError
    from traincycle.experiment import git

    out = {}
    for stem in stems:
        for folder in ("reports", "metrics"):
            path = f"{folder}/{stem}.json"
            try:
                text = Path(path).read_text(encoding="utf-8") if rev is None else git("show", f"{rev}:{path}")
                doc = json.loads(text)
            except (OSError, DataError, ValueError):
                continue
            if isinstance(doc, dict):
                out[stem] = (path, doc)
                break
    return out


def reports_diff(old: Mapping[str, tuple[str, dict]], new: Mapping[str, tuple[str, dict]]) -> dict:
    """`documents_diff` of two `read_reports` results, each stem labelled by its newer path."""
    label = {stem: (new.get(stem) or old[stem])[0] for stem in {*old, *new}}
    return documents_diff({label[s]: doc for s, (_, doc) in old.items()},
                          {label[s]: doc for s, (_, doc) in new.items()})


def collect_report(rev: str, plots_dir: str = ".traincycle/plots-diff",
                   timings_dir: str = ".traincycle/timings") -> str:
    """Run the dvc diffs against `rev` in the current repo and build the report."""
    import json

    from traincycle.cost import STAGES, base_costs, cost_section, read_costs
    from traincycle.errors import UserError
    from traincycle.experiment import dvc, experiment_rev, git, last_error

    try:
        sha = git("rev-parse", "--verify", f"{rev}^{{commit}}").strip()
    except UserError:  # not a git revision: an experiment of HEAD by name (a tune trial, a queued run)
        sha = experiment_rev(rev)
        if sha is None:
            raise UserError(f"--rev {rev!r}: neither a git revision nor an experiment of HEAD "
                            "(`dvc exp list`)") from None
    metrics = reports_diff(read_reports(sha), read_reports(None))
    params = json.loads(dvc("params", "diff", "--json", sha).stdout or "{}")
    plots = dvc("plots", "diff", sha, "-o", plots_dir, check=False)
    index = f"{plots_dir}/index.html" if plots.returncode == 0 else None
    return build_report(
        rev=rev, rev_sha=sha, metrics_diff=metrics, params_diff=params, plots_index=index,
        plots_error=None if index else last_error(plots.stderr + plots.stdout),
        timings=read_timings(timings_dir), looks=test_looks(), judged=judge_change(rev, sha),
        cost=cost_section(read_costs(), base_costs(sha), rev, STAGES),
    )


PREDICTIONS = "reports/predictions.parquet"
VAL_PREDICTIONS = "reports/val_predictions.parquet"


def judge_change(rev: str, sha: str, params_path: str = "params.yaml") -> str:
    """Verdicts on the headline metric, val then test: paired bootstrap of (workspace - rev)."""
    from traincycle.config import read_params
    from traincycle.errors import UserError

    try:
        params = read_params(params_path)
        metric, task = params["problem"]["metric"], params["data"]["task"]
        evaluate = params.get("evaluate") or {}
    except (UserError, KeyError, TypeError) as exc:
        return f"_No paired comparison: {type(exc).__name__} reading params._"
    draws = (int(evaluate.get("bootstrap") or 1000), float(evaluate.get("ci_level", 0.95)),
             int(params.get("seed", 0)))
    min_rows = int(((evaluate.get("fairness") or {}).get("min_group_size")) or 30)
    return "\n\n".join((
        judge_rows("val", VAL_PREDICTIONS, rev, sha, task, metric, draws),
        judge_rows("test", PREDICTIONS, rev, sha, task, metric, draws, min_rows),
    ))


def read_rows(path: str, sha: str | None) -> Any:
    """A per-row predictions Parquet of the workspace (`sha` None) or of a revision (dvc.api)."""
    import io

    import pandas as pd

    if sha is None:
        return pd.read_parquet(path)
    import dvc.api

    with dvc.api.open(path, rev=sha, mode="rb") as fh:
        return pd.read_parquet(io.BytesIO(fh.read()))


def judge_rows(split: str, path: str, rev: str, sha: str, task: str, metric: str,
               draws: tuple[int, float, int], min_rows: int | None = None) -> str:
    """One split's verdict from its per-row predictions at `rev` and in the workspace, and per
    sensitive group (test, where `min_rows` is given) within groups of at least `min_rows` rows."""
    from traincycle.comparison import paired_by_group, paired_difference
    from traincycle.errors import UserError

    try:
        head = read_rows(path, None)
    except OSError as exc:
        return (f"_No paired {split} comparison: {path} is not readable "
                f"({type(exc).__name__}; run `dvc repro`)._")
    try:
        base = read_rows(path, sha)
    except Exception as exc:  # dvc raises many types: absent at that revision, not in the cache
        return (f"_No paired {split} comparison: {path} of `{rev}` is not readable "
                f"({type(exc).__name__}; `dvc pull` or `dvc repro` it there)._")
    try:
        out = paired_difference(base, head, task, metric, *draws)
        by_group = [] if min_rows is None else paired_by_group(base, head, task, metric, min_rows, *draws)
    except UserError as exc:
        return f"_No paired {split} comparison: {exc}_"
    text = (f"**Is it real ({split})?** Paired bootstrap on the same {out['rows']} {split} rows: "
            f"Δ `{metric}` {out['difference']:+.4g}, {out['level']:.0%} CI [{out['low']:+.4g}, "
            f"{out['high']:+.4g}] → **{out['verdict']}**.")
    if not by_group:
        return text
    rows = [[g["attribute"], g["group"], str(g["rows"]), fmt_signed(g["difference"]),
             f"[{fmt_signed(g['low'])}, {fmt_signed(g['high'])}]", g["verdict"]] for g in by_group]
    moved = [f"{g['attribute']}={g['group']}" for g in by_group if g["verdict"] != "within noise"]
    summary = (f"Per group (≥ {min_rows} rows): " + (f"{len(moved)} moved beyond noise: {', '.join(moved)}"
               if moved else "every group within noise"))
    return text + "\n\n" + fold(summary, table(["attribute", "group", "rows", f"Δ {metric}", "CI", "verdict"],
                                               rows, "llrrrl"))


def fmt_signed(value: float) -> str:
    """A signed 4-significant-digit number, or n/a (a group where the metric is undefined)."""
    return f"{value:+.4g}" if math.isfinite(value) else "n/a"


def test_looks(params_path: str = "params.yaml") -> str | None:
    """The ledger's count of looks at the current test split (a warning past the budget)."""
    from traincycle import ledger
    from traincycle.config import read_params
    from traincycle.errors import UserError

    try:
        budget = (read_params(params_path).get("evaluate") or {}).get("test_budget", 5)
        return ledger.looks_summary(ledger.read_entries(ledger.default_path()), int(budget))
    except (UserError, TypeError, ValueError):
        return None
