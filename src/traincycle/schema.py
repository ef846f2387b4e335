"""The data schema: a human-readable `schema.yaml` the validate stage turns into expectations.

A schema names every column with its dtype, the largest share of missing values it may have,
a numeric range or a set of allowed values, and the label values of the target. Each check
carries a severity: ``critical`` fails the pipeline, ``warning`` is reported and the run goes on.
`infer_schema` writes a first draft from data for a person to review and commit.

A wide table's columns can share one entry: a key with glob characters (``g*``) is a pattern
that applies to every data column it matches (and not named on its own), with an optional
``count`` of the columns it must match; `resolve` expands them against the data's columns.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml

from traincycle.config import build
from traincycle.errors import ConfigError, DataError

Severity = Literal["critical", "warning"]
DType = Literal["integer", "float", "category", "bool", "string", "datetime"]
Kind = Literal["numeric", "category", "boolean", "datetime", "text", "identifier"]

#: the kinds of column checks a schema can hold; each has a default severity
COLUMN_KINDS = ("dtype", "nulls", "range", "finite", "values", "constant", "unique", "length", "empty")
NUMERIC = ("integer", "float")
DISCRETE = ("category", "string")


@dataclasses.dataclass(frozen=True)
class SeverityDefaults:
    """Severity of each kind of check unless a column overrides it."""

    columns: Severity = "critical"
    dtype: Severity = "critical"
    nulls: Severity = "critical"
    range: Severity = "critical"
    finite: Severity = "critical"
    values: Severity = "critical"
    labels: Severity = "critical"
    #: a column with a single value carries no information: reported, not fatal, by default
    constant: Severity = "warning"
    #: an identifier column (kind: identifier) repeats a value
    unique: Severity = "critical"
    #: a text value is longer than the column's max_length: reported, not fatal, by default
    length: Severity = "warning"
    #: more empty (blank) texts than the column's max_empty_share
    empty: Severity = "critical"


@dataclasses.dataclass(frozen=True)
class ColumnSchema:
    """What one column must look like."""

    dtype: DType
    #: the largest share of missing values allowed (0 = never missing)
    max_null_share: float = 0.0
    #: allowed range: numbers, or ISO 8601 dates/times for a datetime column
    min: int | float | str | None = None
    max: int | float | str | None = None
    #: allowed values of a category/string column (None = any)
    values: tuple[str, ...] | None = None
    #: per-kind severity overrides for this column, e.g. {range: warning}
    severity: dict[str, Severity] = dataclasses.field(default_factory=dict)
    #: for a pattern entry (``g*``): how many data columns it must match (None = any number)
    count: int | None = None
    #: what the column is (see column_kinds): an identifier must be unique per row; dates and
    #: free text get no list of allowed values
    kind: Kind | None = None
    #: text columns: the longest value allowed, in characters (None = any length)
    max_length: int | None = None
    #: text columns: the largest share of empty or blank values allowed (None = not checked)
    max_empty_share: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_null_share <= 1.0:
            raise ConfigError(f"max_null_share: expected a share in [0, 1], got {self.max_null_share}")
        bounds = [v for v in (self.min, self.max) if v is not None]
        if bounds and self.dtype not in (*NUMERIC, "datetime"):
            raise ConfigError(f"min/max: only for integer, float or datetime columns, not {self.dtype}")
        if bounds and self.dtype == "datetime":
            low, high = (None if v is None else as_timestamp(v) for v in (self.min, self.max))
        else:
            if any(isinstance(v, str) for v in bounds):
                raise ConfigError(f"min/max: expected numbers for a {self.dtype} column, got {bounds}")
            low, high = self.min, self.max
        if low is not None and high is not None and low > high:
            raise ConfigError(f"min {self.min} is greater than max {self.max}")
        if self.max_length is not None and self.max_length < 0:
            raise ConfigError(f"max_length: expected a number of characters >= 0, got {self.max_length}")
        if self.max_empty_share is not None and not 0.0 <= self.max_empty_share <= 1.0:
            raise ConfigError(f"max_empty_share: expected a share in [0, 1], got {self.max_empty_share}")
        if self.values is not None and self.dtype not in DISCRETE:
            raise ConfigError(f"values: only for category or string columns, not {self.dtype}")
        if self.values is not None and self.kind in ("text", "identifier", "datetime"):
            raise ConfigError(f"values: not for a {self.kind} column (every row has its own value)")
        unknown = sorted(set(self.severity) - set(COLUMN_KINDS))
        if unknown:
            raise ConfigError(
                f"severity: unknown check kind {unknown[0]!r}; allowed: {', '.join(COLUMN_KINDS)}"
            )


@dataclasses.dataclass(frozen=True)
class Schema:
    """The whole table: its columns, target and label values, and default severities."""

    columns: dict[str, ColumnSchema]
    version: int = 1
    #: exact: the data has exactly these columns (any order); ordered: also in this order
    columns_match: Literal["exact", "ordered"] = "exact"
    target: str | None = None
    #: every label value of the target: all must occur and no other may
    labels: tuple[str, ...] | None = None
    severity: SeverityDefaults = dataclasses.field(default_factory=SeverityDefaults)

    def __post_init__(self) -> None:
        if self.version != 1:
            raise ConfigError(f"version: expected 1, got {self.version}")
        if not self.columns:
            raise ConfigError("columns: expected at least one column")
        if self.target is not None and self.target not in self.columns:
            raise ConfigError(f"target: {self.target!r} is not one of the columns")
        if self.labels is not None and self.target is None:
            raise ConfigError("labels: needs a target column")
        if self.target is not None and is_pattern(self.target):
            raise ConfigError(f"target: {self.target!r} must name one column, not a pattern")
        for name, column in self.columns.items():
            if column.count is not None and not is_pattern(name):
                raise ConfigError(f"columns.{name}: count is only for patterns such as 'g*'")
            if column.count is not None and column.count < 1:
                raise ConfigError(f"columns.{name}: count: expected at least 1, got {column.count}")

    def resolve(self, data_columns: Iterable[str]) -> tuple[Schema, dict[str, list[str]]]:
        """This schema with each pattern replaced by the data columns it matches, and the matches.

        A column named on its own keeps its entry; otherwise the first pattern (in file order)
        that matches it applies. Members take the pattern's place in the column order.
        """
        data_columns = [str(c) for c in data_columns]
        named = {n for n in self.columns if not is_pattern(n)}
        matches: dict[str, list[str]] = {n: [] for n in self.columns if is_pattern(n)}
        for column in data_columns:
            if column in named:
                continue
            pattern = next((p for p in matches if fnmatch.fnmatchcase(column, p)), None)
            if pattern is not None:
                matches[pattern].append(column)
        if not matches:
            return self, {}
        columns: dict[str, ColumnSchema] = {}
        for name, column in self.columns.items():
            if name in matches:
                member = dataclasses.replace(column, count=None)
                columns.update({m: member for m in matches[name]})
            else:
                columns[name] = column
        if not columns:  # no data column matched: keep the schema checkable (the count check reports it)
            return self, matches
        return dataclasses.replace(self, columns=columns), matches

    def severity_of(self, kind: str, column: str | None = None) -> Severity:
        """The severity of a check: the column's override, else the schema default."""
        if column is not None and kind in self.columns[column].severity:
            return self.columns[column].severity[kind]
        return getattr(self.severity, kind)


def parse_schema(values: Any, source: str) -> Schema:
    """Build a Schema from parsed YAML, naming `source` in any error."""
    try:
        # columns first, so a column's own range checks name the column in their message
        columns = values.get("columns") if isinstance(values, dict) else None
        for name, column in (columns.items() if isinstance(columns, dict) else ()):
            try:
                build(ColumnSchema, column, f"schema.columns.{name}")
            except ConfigError as exc:
                msg = str(exc)
                raise ConfigError(msg if msg.startswith("params ") else f"columns.{name}: {msg}") from None
        return build(Schema, values, "schema")
    except ConfigError as exc:
        where = str(exc).removeprefix("params ").removeprefix("schema.").removeprefix("schema")
        raise ConfigError(f"{source}: {where.lstrip(': ')}") from None


def load_schema(path: str | Path) -> Schema:
    """Read and check a schema YAML file (safe_load; unknown keys are errors)."""
    path = Path(path)
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: schema file not found (draft one with `traincycle schema infer`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read schema file ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    return parse_schema(values, str(path))


def as_timestamp(value: Any) -> pd.Timestamp:
    """An ISO 8601 date or time from the schema (naive, as ingest stores datetimes)."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ConfigError(f"min/max: {value!r} is not an ISO 8601 date or time") from None
    if pd.isna(stamp):
        raise ConfigError(f"min/max: {value!r} is not an ISO 8601 date or time")
    return stamp.tz_convert(None) if stamp.tzinfo is not None else stamp


def iso(stamp: pd.Timestamp) -> str:
    """A datetime as the schema writes it: the date alone at midnight, else date and time."""
    return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()


def is_pattern(name: str) -> bool:
    """True for a schema key with glob characters (``*``, ``?``, ``[``): an entry for many columns."""
    return any(ch in name for ch in "*?[")


def dtype_kind(series: pd.Series) -> DType:
    """Map a pandas dtype to a schema dtype."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "string"


def null_allowance(observed: float) -> float:
    """Observed null share plus slack (half again, at least one point), rounded up to 0.01.

    Never-missing columns stay at 0: a first missing value there is news worth a failure.
    """
    if observed <= 0:
        return 0.0
    return min(1.0, math.ceil((observed + max(observed / 2, 0.01)) * 100 - 1e-9) / 100)


#: a category with more distinct values than this is drafted without a value list
MAX_VALUES = 100


def infer_column(
    series: pd.Series, column_kind: str | None = None, max_values: int = MAX_VALUES
) -> tuple[ColumnSchema, dict[str, Any]]:
    """A first schema for one column plus what was observed (for comments).

    Text, identifier and date columns (`column_kind`) get no list of values: a date gets its
    observed range, a text its longest length and empty share. A category with more than
    `max_values` distinct values (0 = no cap) is high-cardinality: no list either.
    """
    kind = dtype_kind(series)
    null_share = float(series.isna().mean()) if len(series) else 0.0
    observed: dict[str, Any] = {"null_share": null_share}
    lo = hi = values = longest = empty = None
    severity: dict[str, Severity] = {}
    present = series.dropna()
    if kind in NUMERIC and len(present):
        finite = present[pd.Series(present, dtype="float64").map(math.isfinite).to_numpy()]
        if len(finite):
            lo, hi = finite.min().item(), finite.max().item()
    elif kind == "datetime" and len(present):
        lo, hi = iso(present.min()), iso(present.max())
        severity = {"range": "warning"}  # fresh data brings later dates: reported, not fatal
    elif column_kind == "text":
        text = present.astype("string")
        longest = int(text.str.len().max()) if len(text) else 0
        blank = float(text.str.strip().eq("").mean()) if len(text) else 0.0
        empty, observed["empty_share"] = null_allowance(blank), blank
    elif kind in DISCRETE and column_kind not in ("identifier", "datetime"):
        distinct = present.astype("string").unique()
        observed["distinct"] = len(distinct)
        if max_values and len(distinct) > max_values:
            observed["high_cardinality"] = True
        else:
            values = tuple(sorted(distinct.tolist()))
    listed = column_kind if column_kind in ("text", "identifier", "datetime", "boolean") else None
    column = ColumnSchema(
        dtype=kind, max_null_share=null_allowance(null_share), min=lo, max=hi, values=values, kind=listed,
        max_length=longest, max_empty_share=empty, severity=severity,
    )
    return column, observed


def infer_schema(
    df: pd.DataFrame, target: str | None = None, max_values: int = MAX_VALUES
) -> tuple[Schema, dict[str, dict]]:
    """Draft a schema from data: observed dtypes, ranges and categories, nulls with slack."""
    if target is not None and target not in df.columns:
        raise DataError(f"target column {target!r} not found; columns: {', '.join(map(str, df.columns))}")
    from traincycle.column_kinds import kinds_of

    kinds = kinds_of(df)
    columns, observed = {}, {}
    for name in df.columns:
        kind, cap = (kinds[name], max_values) if name != target else (None, 0)
        columns[str(name)], observed[str(name)] = infer_column(df[name], kind, cap)
    labels = None
    if target is not None and columns[target].values is not None:
        labels = columns[target].values
        columns[target] = dataclasses.replace(columns[target], values=None)
    return Schema(columns=columns, target=target, labels=labels), observed


#: a column name that no table has: the privacy scan skips the target, and a draft may have none
NO_TARGET = "\x00no target"


def withhold_private(
    df: pd.DataFrame, schema: Schema, observed: dict[str, dict], target: str | None
) -> tuple[Schema, dict[str, dict]]:
    """Drop the value list and range of every column validate's privacy scan flags.

    schema.yaml is committed to git, so e-mail addresses, phone numbers, card numbers and the
    like (:mod:`traincycle.privacy`, default settings) must not be copied into it as allowed
    values or as a min/max. The observed record gets the kinds found (for the file's comment).
    """
    from traincycle.config import DataConfig
    from traincycle.privacy import PrivacyConfig, scan

    found: dict[str, set[str]] = {}
    for finding in scan(df, DataConfig(target=target or NO_TARGET), PrivacyConfig()):
        if finding.evidence == "name_only":
            continue  # a small code none of whose values looks personal: its value list is safe
        found.setdefault(str(finding.column), set()).add(finding.kind)
    columns = dict(schema.columns)
    for name, kinds in found.items():
        columns[name] = dataclasses.replace(columns[name], values=None, min=None, max=None)
        observed[name] = {**observed.get(name, {}), "private": sorted(kinds)}
    return dataclasses.replace(schema, columns=columns), observed


#: a run of at least this many same-typed columns named prefix + number is drafted as one pattern
GROUP_MIN_RUN = 10
_NUMBERED = re.compile(r"^(.*\D)\d+$")


def group_columns(
    schema: Schema, observed: dict[str, dict], min_run: int = GROUP_MIN_RUN
) -> tuple[Schema, dict[str, dict]]:
    """Replace runs of same-typed columns named prefix + number (g0001, g0002, ...) by patterns.

    A run becomes ``prefix*`` with the widest limits of its members (largest null allowance,
    smallest min, largest max, all values) and a `count`, when the pattern matches exactly that
    run. The target is never grouped. `min_run` 0 keeps every column on its own.
    """
    names = list(schema.columns)
    runs: list[tuple[tuple[str, str] | None, list[str]]] = []
    for name in names:
        match = _NUMBERED.match(name)
        key = (match.group(1), schema.columns[name].dtype) if match and name != schema.target else None
        if runs and key is not None and runs[-1][0] == key:
            runs[-1][1].append(name)
        else:
            runs.append((key, [name]))
    columns: dict[str, ColumnSchema] = {}
    seen: dict[str, dict] = {}
    for key, members in runs:
        pattern = f"{key[0]}*" if key is not None else None
        if (
            pattern is None or min_run <= 0 or len(members) < min_run
            or sum(fnmatch.fnmatchcase(n, pattern) for n in names) != len(members)
            or any("private" in observed.get(n, {}) for n in members)  # its note stays per column
        ):
            columns.update((n, schema.columns[n]) for n in members)
            seen.update((n, observed[n]) for n in members if n in observed)
            continue
        columns[pattern] = _widest([schema.columns[n] for n in members])
        shares = [observed[n]["null_share"] for n in members if "null_share" in observed.get(n, {})]
        seen[pattern] = {"columns": len(members), **({"null_share": max(shares)} if shares else {})}
    return dataclasses.replace(schema, columns=columns), seen


def _widest(members: list[ColumnSchema]) -> ColumnSchema:
    """One entry whose limits admit every member's observed values."""
    lows = [m.min for m in members if m.min is not None]
    highs = [m.max for m in members if m.max is not None]
    values = None
    if all(m.values is not None for m in members):
        values = tuple(sorted({v for m in members for v in m.values}))
    return ColumnSchema(
        dtype=members[0].dtype, max_null_share=max(m.max_null_share for m in members),
        min=min(lows) if lows else None, max=max(highs) if highs else None, values=values,
        count=len(members),
    )


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a Parquet or CSV file for schema inference (CSV text columns become categories)."""
    from traincycle.io import read_parquet

    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return read_parquet(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    from traincycle.parsing import tidy

    try:
        df = pd.read_csv(path, skipinitialspace=True, na_values=["?"], low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).strip()})") from None
    return tidy(df, str(path))


HEADER = """\
# Data schema checked by the `validate` stage (see stages/validate.py). Edit and commit it.
# First drafted by `traincycle schema infer` from {source}: review every line.
#
# Per column:
#   dtype           integer | float | category | bool | string | datetime
#   kind            boolean | datetime | text | identifier (numbers and categories need none);
#                   an identifier must be unique per row; text and dates list no values
#   max_null_share  largest share of missing values allowed (0 = never missing)
#   min, max        allowed range (drafted as the observed range): numbers, or ISO dates for a
#                   datetime column
#   values          allowed values of a category/string column (none drafted above
#                   --max-values distinct values: a high-cardinality category)
#   max_length      text: the longest value in characters (drafted as the longest seen)
#   max_empty_share text: the largest share of empty or blank values
#   severity        per-check overrides, e.g. {{range: warning}}; checks: {kinds}
# A key with * ? [ is a pattern (e.g. g*): it applies to every data column it matches that is
# not named on its own; `count` is how many columns it must match (drafted for runs of
# same-typed numbered columns, with the widest limits of the run).
# Severity: critical fails the pipeline (exit 3), warning is reported and the run goes on.
# Numeric columns are also checked for infinities (check `finite`); NaN counts as missing.
"""


def _yaml_value(value: Any) -> str:
    """One YAML scalar/flow value, quoted only where YAML needs it."""
    # dumped inside a list: a bare scalar document would end with a '...' marker
    text = yaml.safe_dump([value], default_flow_style=True, width=10**9, allow_unicode=True)
    return text.strip()[1:-1]


def _yaml_list(values: tuple[str, ...], indent: int) -> list[str]:
    pad = " " * indent
    return [f"{pad}- {_yaml_value(v)}" for v in values]


def render_schema(schema: Schema, observed: dict[str, dict] | None = None, source: str = "data") -> str:
    """Deterministic, commented YAML for a schema (comments show what was observed)."""
    observed = observed or {}
    lines = [HEADER.format(source=source, kinds=", ".join(COLUMN_KINDS)).rstrip("\n"), ""]
    lines.append(f"version: {schema.version}")
    lines.append(f"columns_match: {schema.columns_match}    # exact (any order) | ordered")
    if schema.target is not None:
        lines.append(f"target: {_yaml_value(schema.target)}")
    if schema.labels is not None:
        lines.append("labels:    # label values of the target: every one must occur, no other may")
        lines.extend(_yaml_list(schema.labels, 2))
    lines.append("severity:    # default severity per check kind")
    for field in dataclasses.fields(SeverityDefaults):
        lines.append(f"  {field.name}: {getattr(schema.severity, field.name)}")
    lines.append("columns:")
    for name, col in schema.columns.items():
        seen = observed.get(name, {})
        lines.append(f"  {_yaml_value(name)}:")
        if col.count is not None:
            lines.append(f"    count: {col.count}    # columns this pattern must match")
        lines.append(f"    dtype: {col.dtype}")
        if col.kind is not None:
            lines.append(f"    kind: {col.kind}")
        note = f"    # observed {seen['null_share']:.4f}" if "null_share" in seen else ""
        if "columns" in seen and note:
            note += " (largest in the group)"
        lines.append(f"    max_null_share: {_yaml_value(col.max_null_share)}{note}")
        for key in ("min", "max", "max_length", "max_empty_share"):
            value = getattr(col, key)
            if value is not None:
                lines.append(f"    {key}: {_yaml_value(value)}")
        if seen.get("high_cardinality"):
            lines.append(f"    # {seen['distinct']} distinct values (above --max-values): "
                         "high-cardinality, no list")
        if seen.get("private"):
            lines.append(f"    # no values or range: the privacy scan found {', '.join(seen['private'])} "
                         "(this file goes to git)")
        if col.values is not None:
            count = f"    # {len(col.values)} observed" if "distinct" in seen else ""
            lines.append(f"    values:{count}")
            lines.extend(_yaml_list(col.values, 6))
        if col.severity:
            lines.append(f"    severity: {_yaml_value(dict(sorted(col.severity.items())))}")
    return "\n".join(lines) + "\n"


def draft_schema_file(
    data_path: str | Path, output: str | Path, target: str | None = None, group_min: int = GROUP_MIN_RUN,
    max_values: int = MAX_VALUES,
) -> tuple[int, int, list[str]]:
    """Infer a schema from a data file and write it as commented YAML.

    A CSV gets the column kinds ingest would give it (dates parsed, yes/no as booleans), so the
    draft describes the table validate will see. Columns the privacy scan flags get no values
    or range (:func:`withhold_private`). Returns the number of data columns, of schema entries
    (patterns cover many columns), the high-cardinality categories (drafted unlisted) and the
    columns whose values were withheld.
    """
    from traincycle.column_kinds import apply_kinds
    from traincycle.io import write_text

    df = read_table(data_path)
    if Path(data_path).suffix.lower() not in (".parquet", ".pq"):
        df, _ = apply_kinds(df, {}, skip=(target,) if target else ())
    schema, observed = withhold_private(df, *infer_schema(df, target, max_values), target)
    grouped, observed = group_columns(schema, observed, group_min)
    write_text(render_schema(grouped, observed, source=str(data_path)), output)
    high = [name for name, seen in observed.items() if seen.get("high_cardinality")]
    private = [name for name, seen in observed.items() if seen.get("private")]
    return len(schema.columns), len(grouped.columns), high, private


def check_describes(
    schema: Schema, columns: Iterable[str], target: str, schema_path: str | Path, data_path: str | Path
) -> None:
    """Raise DataError when `schema` is for other data: its target absent or most columns missing.

    A schema that fits but for a few columns is left to the checks (they name each column); one
    written for another table (the committed Adult schema against the user's own CSV) gets one
    line naming the command that drafts a schema for this data.
    """
    present = set(columns)
    missing = [c for c in schema.columns if c not in present and "*" not in c]  # not patterns
    if schema.target is not None and schema.target != target:
        why = f"its target is {schema.target!r}, params data.target is {target!r}"
    elif len(missing) * 2 > len(schema.columns):
        why = f"{len(missing)} of its {len(schema.columns)} columns are absent"
    else:
        return
    raise DataError(
        f"{schema_path} does not describe this data ({why}); draft a schema for it with "
        f"`traincycle schema infer {data_path} --target {target} -o {schema_path}`, review it and commit it"
    )
