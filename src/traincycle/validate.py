"""Data quality and bias gate: the schema and bias limits as a Great Expectations suite.

`build_checks` turns a :class:`~traincycle.schema.Schema` and the bias limits into plain
`Check` records (no GX needed), `evaluate_checks` runs them with GX 1.x on an ephemeral context
(one pandas dataframe batch for the data, one per sensitive column for its group summary, one
per check kind for the column profile table, so the number of GX expectations does not grow
with the number of columns), and `gate` fails on critical results. Great Expectations is
imported only inside `run_checks`.
"""

from __future__ import annotations

import copy
import dataclasses
import html
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import pandas as pd

from traincycle.bias import BiasConfig, positive_label, summarize_groups
from traincycle.column_profile import Observation, observe, profiled
from traincycle.config import DataConfig, check_range
from traincycle.errors import ConfigError, DataError, GateFailed
from traincycle.parsing import snake_case
from traincycle.privacy import PrivacyConfig
from traincycle.schema import Schema, Severity, as_timestamp, check_describes

DATA_BATCH = "data"
BIAS_PREFIX = "bias:"
#: batches listing the columns each schema pattern matched
GROUP_PREFIX = "group:"
#: batches of the column profile table, one per check kind (see `evaluate_checks`)
PROFILE_PREFIX = "profile:"
#: GX dtype names per schema dtype; category and str are matched by type name (OfType)
TYPE_LISTS = {
    "integer": [
        *(f"{p}int{b}" for p in ("", "u") for b in (8, 16, 32, 64)),
        *(f"{p}Int{b}Dtype" for p in ("", "U") for b in (8, 16, 32, 64)),
    ],
    "float": ["float16", "float32", "float64", "Float32Dtype", "Float64Dtype"],
    "bool": ["bool", "BooleanDtype"],
    "datetime": [f"datetime64[{unit}]" for unit in ("ns", "us", "ms", "s")],
}
OF_TYPE = {"category": "CategoricalDtypeType", "string": "str"}
#: result fields worth keeping in the report; GX ids, timestamps and tracebacks are dropped
OBSERVED_KEYS = (
    "observed_value", "element_count", "unexpected_count", "unexpected_percent",
    "partial_unexpected_list", "partial_missing_list", "details",
)
LISTED_FAILURES = 5
#: the one-row table of time-column violation counts (data.time)
TIME_BATCH = "time"


@dataclasses.dataclass(frozen=True)
class ImageChecks:
    """validate.image: limits of the image gate."""

    #: pixel values must lie in [min_value, max_value] (255 for 8-bit images, 16 for digits)
    min_value: float = 0.0
    max_value: float = 255.0
    channels: tuple[int, ...] = (1, 3)
    #: every class needs at least this many images
    min_class_count: int = 10
    #: smallest class count / largest class count
    min_class_ratio: float = 0.5
    class_balance_severity: Literal["critical", "warning"] = "warning"

    def __post_init__(self) -> None:
        if self.max_value <= self.min_value:
            raise ConfigError("params validate.image.max_value: expected a value above min_value")
        check_range("validate.image.min_class_count", self.min_class_count, 1)
        check_range("validate.image.min_class_ratio", self.min_class_ratio, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class TextChecks:
    """validate.text: limits of the text gate."""

    #: share of empty / whitespace-only texts tolerated (0: none)
    max_empty_share: float = 0.0
    #: a text is garbled when more than this share of its characters are control or U+FFFD
    garbled_char_share: float = 0.05
    #: share of garbled texts tolerated
    max_garbled_share: float = 0.01
    #: texts longer than this (characters) are reported
    max_chars: int = 5000
    #: share of over-long texts tolerated before the warning
    max_long_share: float = 0.01
    min_class_count: int = 10
    min_class_ratio: float = 0.5
    class_balance_severity: Literal["critical", "warning"] = "warning"

    def __post_init__(self) -> None:
        for name in ("max_empty_share", "garbled_char_share", "max_garbled_share", "max_long_share",
                     "min_class_ratio"):
            check_range(f"validate.text.{name}", getattr(self, name), 0.0, 1.0)
        check_range("validate.text.max_chars", self.max_chars, 1)
        check_range("validate.text.min_class_count", self.min_class_count, 1)


@dataclasses.dataclass(frozen=True)
class ValidateConfig:
    """Params section `validate`."""

    bias: BiasConfig = dataclasses.field(default_factory=BiasConfig)
    #: limits for data.modality image / text (the schema applies to tables only)
    image: ImageChecks = dataclasses.field(default_factory=ImageChecks)
    text: TextChecks = dataclasses.field(default_factory=TextChecks)
    #: personal data in column names and values: fail (default), drop, hash or allow per finding
    privacy: PrivacyConfig = dataclasses.field(default_factory=PrivacyConfig)
    #: tables: any missing target value is a warning (featurize drops those rows); a larger
    #: share than this is critical
    max_missing_target_share: float = 0.1

    def __post_init__(self) -> None:
        check_range("validate.max_missing_target_share", self.max_missing_target_share, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class Check:
    """One expectation: which GX class, on which batch and column, and how much it matters."""

    name: str
    kind: str
    column: str | None
    expectation: str
    kwargs: Mapping[str, Any]
    severity: Severity
    batch: str = DATA_BATCH


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The result of one check."""

    check: Check
    success: bool
    observed: dict[str, Any]


def schema_checks(schema: Schema, columns: Iterable[str]) -> list[Check]:
    """Checks from the schema; column checks only for columns the data has."""
    present = set(columns)
    table_kind = "ExpectTableColumnsToMatchSet"
    table_kwargs: dict[str, Any] = {"column_set": list(schema.columns), "exact_match": True}
    if schema.columns_match == "ordered":
        table_kind = "ExpectTableColumnsToMatchOrderedList"
        table_kwargs = {"column_list": list(schema.columns)}
    checks = [Check("columns", "columns", None, table_kind, table_kwargs, schema.severity.columns)]
    for name, col in schema.columns.items():
        if name not in present:
            continue  # reported by the columns check; GX would raise on a missing column

        def add(kind: str, expectation: str, name: str = name, **kwargs: Any) -> None:
            severity = schema.severity_of(kind, name)
            kwargs = {"column": name, **kwargs}
            checks.append(Check(f"{kind}:{name}", kind, name, expectation, kwargs, severity))

        if col.dtype in OF_TYPE:
            add("dtype", "ExpectColumnValuesToBeOfType", type_=OF_TYPE[col.dtype])
        else:
            add("dtype", "ExpectColumnValuesToBeInTypeList", type_list=TYPE_LISTS[col.dtype])
        add("nulls", "ExpectColumnValuesToNotBeNull", mostly=round(1.0 - col.max_null_share, 12))
        if col.dtype == "datetime" and (col.min is not None or col.max is not None):
            # GX compares datetimes with datetimes, not with the schema's ISO strings
            low, high = (None if v is None else as_timestamp(v).to_pydatetime() for v in (col.min, col.max))
            add("range", "ExpectColumnValuesToBeBetween", min_value=low, max_value=high)
        elif col.min is not None or col.max is not None:
            add("range", "ExpectColumnValuesToBeBetween", min_value=col.min, max_value=col.max)
        if col.max_length is not None:
            add("length", "ExpectColumnValueLengthsToBeBetween", min_value=None, max_value=col.max_length)
        if col.max_empty_share is not None:
            add("empty", "ExpectColumnValuesToNotMatchRegex", regex=r"^\s*$",
                mostly=round(1.0 - col.max_empty_share, 12))
        if col.dtype == "float":
            top = sys.float_info.max
            add("finite", "ExpectColumnValuesToBeBetween", min_value=-top, max_value=top)
        if col.values is not None:
            add("values", "ExpectColumnValuesToBeInSet", value_set=list(col.values))
        if name != schema.target:
            add("constant", "ExpectColumnUniqueValueCountToBeBetween", min_value=2)
        if col.kind == "identifier":
            add("unique", "ExpectColumnValuesToBeUnique")
    if schema.target is not None and schema.labels is not None and schema.target in present:
        checks.append(Check(
            f"labels:{schema.target}", "labels", schema.target, "ExpectColumnDistinctValuesToEqualSet",
            {"column": schema.target, "value_set": list(schema.labels)}, schema.severity.labels,
        ))
    return checks


def target_checks(target: str, columns: Iterable[str], max_share: float) -> list[Check]:
    """Missing target values: any is a warning (featurize drops those rows), over `max_share` critical."""
    if target not in set(columns):
        return []  # the columns check names it
    return [
        Check(f"{name}:{target}", "nulls", target, "ExpectColumnValuesToNotBeNull",
              {"column": target, "mostly": round(1.0 - share, 12)}, severity)
        for name, share, severity in (("target_missing", 0.0, "warning"),
                                      ("target_missing_limit", max_share, "critical"))
    ]


def group_checks(schema: Schema, matches: Mapping[str, list[str]]) -> list[Check]:
    """For each pattern with a `count`: it matches that many data columns (see `Schema.resolve`)."""
    checks = []
    for pattern in matches:
        count = schema.columns[pattern].count
        if count is not None:
            checks.append(Check(
                f"columns:{pattern}", "columns", None, "ExpectTableRowCountToEqual", {"value": count},
                schema.severity.columns, f"{GROUP_PREFIX}{pattern}",
            ))
    return checks


def group_batches(matches: Mapping[str, list[str]]) -> dict[str, pd.DataFrame]:
    """One small batch per pattern: the data columns it matched, one per row."""
    return {f"{GROUP_PREFIX}{p}": pd.DataFrame({"column": members}) for p, members in matches.items()}


def bias_checks(
    sensitive: Iterable[str], summaries: Mapping[str, pd.DataFrame], cfg: BiasConfig
) -> list[Check]:
    """Checks on each sensitive column's group summary (see `bias.summarize_groups`)."""
    checks = []
    for col in sensitive:
        batch = f"{BIAS_PREFIX}{col}"
        specs = [
            ("group_share", "row_share", {"min_value": cfg.min_group_share}),
            ("label_rate_ratio", "label_rate_ratio", {"min_value": cfg.min_label_rate_ratio}),
            ("group_missing", "missing_share", {"max_value": cfg.max_group_missing_share}),
        ]
        for kind, field, limits in specs:
            if field in summaries[col].columns:
                severity = getattr(cfg.severity, kind)
                kwargs = {"column": field, **limits}
                checks.append(Check(
                    f"{kind}:{col}", kind, col, "ExpectColumnValuesToBeBetween", kwargs, severity, batch
                ))
    return checks


def group_summaries(df: pd.DataFrame, data: DataConfig, target: str | None) -> dict[str, pd.DataFrame]:
    """Group summaries for every sensitive column (params data.sensitive)."""
    missing = [c for c in data.sensitive if c not in df.columns]
    if missing:
        raise DataError(f"validate: sensitive column {missing[0]!r} (params data.sensitive) not in the data")
    target = target if target in df.columns else None
    positive = positive_label(df[target], data.positive_label) if target else None
    return {col: summarize_groups(df, col, target, positive) for col in data.sensitive}


def _context() -> Any:
    """An in-memory GX context without analytics or progress bars."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def run_checks(
    checks: list[Check], batches: Mapping[str, pd.DataFrame], complete: Iterable[str] = ()
) -> list[Outcome]:
    """Run the checks with Great Expectations, one suite and dataframe batch per batch name.

    Batches named in `complete` get GX's COMPLETE result format (every unexpected index).
    """
    import great_expectations as gx

    complete = set(complete)
    context = _context()
    source = context.data_sources.add_pandas("traincycle")
    by_name: dict[str, Any] = {}
    for batch in dict.fromkeys(c.batch for c in checks):
        suite = gx.ExpectationSuite(name=f"traincycle:{batch}")
        for check in (c for c in checks if c.batch == batch):
            cls = getattr(gx.expectations, check.expectation)
            suite.add_expectation(cls(**check.kwargs, severity=check.severity, meta={"name": check.name}))
        suite = context.suites.add(suite)
        definition = gx.ValidationDefinition(
            name=batch, suite=suite,
            data=source.add_dataframe_asset(batch).add_batch_definition_whole_dataframe(batch),
        )
        result = context.validation_definitions.add(definition).run(
            batch_parameters={"dataframe": batches[batch]},
            result_format="COMPLETE" if batch in complete else "SUMMARY",
        )
        for res in result.results:
            by_name[res.expectation_config.meta["name"]] = res
    outcomes = []
    for check in checks:
        res = by_name[check.name]
        observed = {k: res.result[k] for k in OBSERVED_KEYS if k in res.result}
        if check.batch in complete:
            observed["unexpected_index_list"] = res.result.get("unexpected_index_list") or []
        if check.kind == "nulls":
            observed.pop("partial_unexpected_list", None)  # a list of None says nothing
        if check.kind == "labels" and observed.get("observed_value") is None:
            # GX leaves it empty for categorical columns; the present labels are what a reader wants
            present = batches[check.batch][check.column].dropna().astype("string").unique()
            observed["observed_value"] = sorted(present.tolist())
        error = _error_message(res.exception_info or {})
        if error:
            observed["error"] = error
        if check.batch.startswith(BIAS_PREFIX):
            observed.update(_group_observation(check, batches[check.batch]))
        outcomes.append(Outcome(check, bool(res.success), observed))
    return outcomes


def evaluate_checks(checks: list[Check], batches: Mapping[str, pd.DataFrame]) -> list[Outcome]:
    """Every check's outcome, with a number of GX expectations that does not grow with columns.

    Column checks GX would run once per column are profiled in bulk (`column_profile`) and the
    profile table is checked with one GX expectation per check kind; dtype checks run once per
    distinct (dtype, expected types) pair on one representative column. The rest (table
    columns, labels, bias summaries, checks the profile cannot compute) run as they are.
    """
    frame = batches[DATA_BATCH]
    dtypes = frame.dtypes.to_dict()
    bulk = [c for c in checks if c.batch == DATA_BATCH and profiled(c, dtypes)]
    in_bulk = {c.name for c in bulk}
    copies = _dtype_copies([c for c in checks if c.kind == "dtype" and c.batch == DATA_BATCH], dtypes)
    direct = [c for c in checks if c.name not in in_bulk and c.name not in copies]
    observations = observe(bulk, frame)
    verdicts, profile_batches = _profile_checks(bulk, observations)
    ran = {o.check.name: o for o in run_checks(direct + verdicts, {**batches, **profile_batches},
                                                 complete=profile_batches)}
    # GX lists each unexpected row of the profile table as {index name: check name, column: value}
    failing = {row["check"] for v in verdicts for row in ran[v.name].observed["unexpected_index_list"]}
    outcomes = []
    for check in checks:
        if check.name in copies:
            twin = ran[copies[check.name]]
            outcomes.append(Outcome(check, twin.success, copy.deepcopy(twin.observed)))
        elif check.name in in_bulk:
            outcomes.append(Outcome(check, check.name not in failing, observations[check.name].observed))
        else:
            outcomes.append(ran[check.name])
    return outcomes


def _profile_checks(
    bulk: list[Check], observations: Mapping[str, Observation]
) -> tuple[list[Check], dict[str, pd.DataFrame]]:
    """One GX expectation per check kind on the profile table: every check's violations are 0."""
    checks, frames = [], {}
    for kind in dict.fromkeys(c.kind for c in bulk):
        names = [c.name for c in bulk if c.kind == kind]
        batch = f"{PROFILE_PREFIX}{kind}"
        frames[batch] = pd.DataFrame(
            {"violations": [observations[n].violations for n in names]}, index=pd.Index(names, name="check")
        )
        kwargs = {"column": "violations", "min_value": 0, "max_value": 0}
        expectation = "ExpectColumnValuesToBeBetween"
        checks.append(Check(batch, "profile", None, expectation, kwargs, "critical", batch))
    return checks, frames


def _dtype_copies(checks: list[Check], dtypes: Mapping[str, Any]) -> dict[str, str]:
    """Dtype checks whose result equals another's: same column dtype, same expected types.

    Maps each such check's name to its representative's. Object columns are checked value by
    value, so each keeps its own check.
    """
    first: dict[tuple, str] = {}
    copies = {}
    for check in checks:
        if check.column not in dtypes or pd.api.types.is_object_dtype(dtypes[check.column]):
            continue
        options = repr(sorted((k, v) for k, v in check.kwargs.items() if k != "column"))
        key = (str(dtypes[check.column]), check.expectation, options)
        if key in first:
            copies[check.name] = first[key]
        else:
            first[key] = check.name
    return copies


def _error_message(info: Mapping[str, Any]) -> str | None:
    """The first exception message GX recorded for an expectation, if any."""
    if "raised_exception" in info:
        return info.get("exception_message") if info["raised_exception"] else None
    # several metrics failed: GX keys the info by metric id
    messages = [v.get("exception_message") for v in info.values() if isinstance(v, dict)]
    return messages[0] if messages else None


def _group_observation(check: Check, summary: pd.DataFrame) -> dict[str, Any]:
    """The extreme value of a bias check's field and the groups beyond its limit."""
    field = check.kwargs["column"]
    low, high = check.kwargs.get("min_value"), check.kwargs.get("max_value")
    values = summary[field]
    worst = values.max() if low is None else values.min()
    bad = (values < low) if low is not None else (values > high)
    return {"observed_value": float(worst), "failing_groups": summary["group"][bad].tolist()}


def require_rows(df: pd.DataFrame) -> None:
    """Validate needs data: an empty table is an error, whatever its type."""
    if df.empty:
        raise DataError("validate: the data has no rows")


def validate_frame(
    df: pd.DataFrame, schema: Schema, data: DataConfig, cfg: ValidateConfig,
    paths: tuple[str, str] = ("schema.yaml", "data/raw/dataset.parquet"),
) -> tuple[list[Outcome], dict[str, pd.DataFrame]]:
    """Run every schema and bias check on `df`; return the outcomes and group summaries."""
    require_rows(df)
    check_describes(schema, df.columns, data.target, *paths)
    summaries = group_summaries(df, data, schema.target or data.target)
    resolved, matches = schema.resolve(df.columns)
    checks = [
        *schema_checks(resolved, df.columns), *group_checks(schema, matches),
        *target_checks(schema.target or data.target, df.columns, cfg.max_missing_target_share),
        *bias_checks(data.sensitive, summaries, cfg.bias),
    ]
    batches = {DATA_BATCH: df, **group_batches(matches)}
    batches.update({f"{BIAS_PREFIX}{c}": s for c, s in summaries.items()})
    findings = {}
    if data.time is not None:  # a time series: its time column is checked before split relies on it
        from traincycle.time_checks import inspect

        findings = {f"time_{f.kind}:{data.time.column}": f for f in inspect(df, data.time)}
        checks += time_checks(findings)
        batches[TIME_BATCH] = pd.DataFrame({name: [f.violations] for name, f in findings.items()})
    outcomes = evaluate_checks(checks, batches)
    for outcome in outcomes:  # GX saw one count per check; the report shows the rows behind it
        found = findings.get(outcome.check.name)
        if found is not None:
            share = 100 * found.violations / len(df)
            outcome.observed.clear()
            outcome.observed.update(unexpected_count=found.violations, unexpected_percent=share,
                                    **found.observed)
    return outcomes, summaries


def time_checks(findings: Mapping[str, Any]) -> list[Check]:
    """One check per time finding (traincycle.time_checks): its count of rows breaking the rule is 0."""
    return [Check(name, f"time_{f.kind}", name.split(":", 1)[1], "ExpectColumnValuesToBeBetween",
                  {"column": name, "min_value": 0, "max_value": 0}, f.severity, TIME_BATCH)
            for name, f in findings.items()]


def failed(outcomes: Iterable[Outcome], severity: Severity) -> list[Outcome]:
    """The failed outcomes of one severity."""
    return [o for o in outcomes if not o.success and o.check.severity == severity]


def describe(outcome: Outcome) -> str:
    """A short phrase for one failed check, e.g. 'range:age (3 unexpected)'."""
    obs = outcome.observed
    if "error" in obs:
        detail = "error: " + str(obs["error"]).splitlines()[0][:80]
    elif outcome.check.kind == "columns":
        mismatch = (obs.get("details") or {}).get("mismatched") or {}
        parts = [f"{k}: {', '.join(map(str, v))}" for k, v in sorted(mismatch.items()) if v]
        detail = "; ".join(parts) or f"observed {obs.get('observed_value')}"
    elif "failing_groups" in obs:
        detail = f"groups: {', '.join(obs['failing_groups'])}; worst {obs['observed_value']:.3g}"
    elif "unexpected_count" in obs:
        detail = f"{obs['unexpected_count']} unexpected ({obs.get('unexpected_percent', 0):.3g}%)"
    else:
        detail = f"observed {obs.get('observed_value')}"
    return f"{outcome.check.name} ({detail})"


def gate(outcomes: list[Outcome]) -> None:
    """Raise GateFailed naming the failed critical checks, if any."""
    critical = failed(outcomes, "critical")
    if critical:
        names = [describe(o) for o in critical[:LISTED_FAILURES]]
        more = f", and {len(critical) - LISTED_FAILURES} more" if len(critical) > LISTED_FAILURES else ""
        raise GateFailed(f"validate: {len(critical)} critical check(s) failed: {', '.join(names)}{more}")


def build_report(df: pd.DataFrame, outcomes: list[Outcome], summaries: Mapping[str, pd.DataFrame]) -> dict:
    """The full validation report (reports/validation.json): every expectation and its result."""
    expectations = [
        {
            "name": o.check.name,
            "type": snake_case(o.check.expectation),
            "kind": o.check.kind,
            "batch": o.check.batch,
            "column": o.check.column,
            "kwargs": dict(o.check.kwargs),
            "severity": o.check.severity,
            "success": o.success,
            "observed": o.observed,
        }
        for o in outcomes
    ]
    return {
        "success": not failed(outcomes, "critical"),
        "rows": len(df),
        "columns": len(df.columns),
        "statistics": {
            "evaluated": len(outcomes),
            "successful": sum(o.success for o in outcomes),
            "failed_critical": len(failed(outcomes, "critical")),
            "failed_warning": len(failed(outcomes, "warning")),
        },
        "expectations": expectations,
        "groups": {col: s.to_dict(orient="records") for col, s in summaries.items()},
    }


def quality_metrics(df: pd.DataFrame, outcomes: list[Outcome], summaries: Mapping[str, pd.DataFrame]) -> dict:
    """Data-quality figures for reports/data_quality.json (headline in metrics/)."""
    metrics: dict[str, Any] = {
        "rows": len(df),
        "columns": len(df.columns),
        "null_share": float(df.isna().to_numpy().mean()) if df.size else 0.0,
        "expectations": len(outcomes),
        "failed_critical": len(failed(outcomes, "critical")),
        "failed_warning": len(failed(outcomes, "warning")),
    }
    missing = next((o for o in outcomes if o.check.name.startswith("target_missing:")), None)
    if missing is not None:
        metrics["target_missing_share"] = (missing.observed.get("unexpected_percent") or 0.0) / 100
    for col, s in summaries.items():
        entry: dict[str, Any] = {"min_group_share": s["row_share"].min()}
        if "label_rate_ratio" in s.columns:
            entry["label_rate_ratio"] = s["label_rate_ratio"].min()
        entry["max_group_missing_share"] = s["missing_share"].max()
        entry.update({f"share_{g}": v for g, v in zip(s["group"], s["row_share"], strict=True)})
        metrics[col] = entry
    return metrics


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}.ok{color:#176f2c}.critical{color:#b00020;font-weight:bold}.warning{color:#a15c00}
code{font-size:12px}
"""


def render_html(report: dict) -> str:
    """A small self-contained HTML page of the report (no external CSS/JS, no timestamps)."""
    esc = html.escape
    stats = report["statistics"]
    status = "passed" if report["success"] else "FAILED"
    rows = []
    for e in report["expectations"]:
        css = "ok" if e["success"] else e["severity"]
        result = "pass" if e["success"] else f"fail ({e['severity']})"
        observed = {k: v for k, v in e["observed"].items() if k != "details"}
        rows.append(
            f"<tr><td>{esc(e['name'])}</td><td><code>{esc(e['type'])}</code></td>"
            f"<td class='{css}'>{esc(result)}</td><td><code>{esc(_brief(observed))}</code></td></tr>"
        )
    groups = []
    for col, records in report["groups"].items():
        if not records:
            continue
        head = "".join(f"<th>{esc(k)}</th>" for k in records[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(_fmt(v))}</td>" for v in r.values()) + "</tr>" for r in records
        )
        groups.append(f"<h2>Groups of {esc(col)}</h2><table><tr>{head}</tr>{body}</table>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Data validation</title><style>{STYLE}</style></head><body>"
        f"<h1>Data validation: {status}</h1>"
        f"<p>{report['rows']} rows x {report['columns']} columns; {stats['evaluated']} expectations, "
        f"{stats['failed_critical']} critical and {stats['failed_warning']} warning failures.</p>"
        "<table><tr><th>check</th><th>expectation</th><th>result</th><th>observed</th></tr>"
        + "".join(rows) + "</table>" + "".join(groups) + "</body></html>\n"
    )


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _brief(observed: Mapping[str, Any], limit: int = 160) -> str:
    text = ", ".join(f"{k}={_fmt(v)}" for k, v in observed.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"
