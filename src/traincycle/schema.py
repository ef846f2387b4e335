"""The data schema: a human-readable `schema.yaml` the validate stage turns into expectations.

A schema names every column with its dtype, the largest share of missing values it may have,
a numeric range or a set of allowed values, and the label values of the target. Each check
carries a severity: ``critical`` fails the pipeline, ``warning`` is reported and the run goes on.
`infer_schema` writes a first draft from data for a person to review and commit.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml

from traincycle.config import build
from traincycle.errors import ConfigError, DataError

Severity = Literal["critical", "warning"]
DType = Literal["integer", "float", "category", "bool", "string"]

#: the kinds of column checks a schema can hold; each has a default severity
COLUMN_KINDS = ("dtype", "nulls", "range", "finite", "values", "constant")
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


@dataclasses.dataclass(frozen=True)
class ColumnSchema:
    """What one column must look like."""

    dtype: DType
    #: the largest share of missing values allowed (0 = never missing)
    max_null_share: float = 0.0
    min: int | float | None = None
    max: int | float | None = None
    #: allowed values of a category/string column (None = any)
    values: tuple[str, ...] | None = None
    #: per-kind severity overrides for this column, e.g. {range: warning}
    severity: dict[str, Severity] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_null_share <= 1.0:
            raise ConfigError(f"max_null_share: expected a share in [0, 1], got {self.max_null_share}")
        if (self.min is not None or self.max is not None) and self.dtype not in NUMERIC:
            raise ConfigError(f"min/max: only for integer or float columns, not {self.dtype}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ConfigError(f"min {self.min} is greater than max {self.max}")
        if self.values is not None and self.dtype not in DISCRETE:
            raise ConfigError(f"values: only for category or string columns, not {self.dtype}")
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


def dtype_kind(series: pd.Series) -> DType:
    """Map a pandas dtype to a schema dtype."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
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


def infer_column(series: pd.Series) -> tuple[ColumnSchema, dict[str, Any]]:
    """A first schema for one column plus what was observed (for comments)."""
    kind = dtype_kind(series)
    null_share = float(series.isna().mean()) if len(series) else 0.0
    observed: dict[str, Any] = {"null_share": null_share}
    lo = hi = values = None
    present = series.dropna()
    if kind in NUMERIC and len(present):
        finite = present[pd.Series(present, dtype="float64").map(math.isfinite).to_numpy()]
        if len(finite):
            lo, hi = finite.min().item(), finite.max().item()
    elif kind in DISCRETE:
        values = tuple(sorted(present.astype("string").unique().tolist()))
        observed["distinct"] = len(values)
    column = ColumnSchema(
        dtype=kind, max_null_share=null_allowance(null_share), min=lo, max=hi, values=values
    )
    return column, observed


def infer_schema(df: pd.DataFrame, target: str | None = None) -> tuple[Schema, dict[str, dict]]:
    """Draft a schema from data: observed dtypes, ranges and categories, nulls with slack."""
    if target is not None and target not in df.columns:
        raise DataError(f"target column {target!r} not found; columns: {', '.join(map(str, df.columns))}")
    columns, observed = {}, {}
    for name in df.columns:
        columns[str(name)], observed[str(name)] = infer_column(df[name])
    labels = None
    if target is not None and columns[target].values is not None:
        labels = columns[target].values
        columns[target] = dataclasses.replace(columns[target], values=None)
    return Schema(columns=columns, target=target, labels=labels), observed


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
#   dtype           integer | float | category | bool | string
#   max_null_share  largest share of missing values allowed (0 = never missing)
#   min, max        allowed numeric range (drafted as the observed range)
#   values          allowed values of a category/string column
#   severity        per-check overrides, e.g. {{range: warning}}; checks: {kinds}
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
        lines.append(f"    dtype: {col.dtype}")
        note = f"    # observed {seen['null_share']:.4f}" if "null_share" in seen else ""
        lines.append(f"    max_null_share: {_yaml_value(col.max_null_share)}{note}")
        for key in ("min", "max"):
            value = getattr(col, key)
            if value is not None:
                lines.append(f"    {key}: {_yaml_value(value)}")
        if col.values is not None:
            count = f"    # {len(col.values)} observed" if "distinct" in seen else ""
            lines.append(f"    values:{count}")
            lines.extend(_yaml_list(col.values, 6))
        if col.severity:
            lines.append(f"    severity: {_yaml_value(dict(sorted(col.severity.items())))}")
    return "\n".join(lines) + "\n"


def draft_schema_file(data_path: str | Path, output: str | Path, target: str | None = None) -> int:
    """Infer a schema from a data file and write it as commented YAML; return the column count."""
    from traincycle.io import write_text

    schema, observed = infer_schema(read_table(data_path), target)
    write_text(render_schema(schema, observed, source=str(data_path)), output)
    return len(schema.columns)
