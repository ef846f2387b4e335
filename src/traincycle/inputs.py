"""A model's raw inputs: rows checked against the manifest, flagged, and turned into ONNX feeds.

`traincycle predict` (CSV/Parquet batches) and `traincycle serve` (JSON rows) both end in
:func:`screen`, so one rule decides what is scored, what is flagged and what is refused:

* a missing value is scored as evaluate scores it (the graph imputes it) and flagged
  ``missing:<column>``;
* a category never seen in training (``unknown_category:<column>``) or a number outside the
  schema's range (``out_of_range:<column>``) is scored the way evaluate scores it (unknown
  categories fall into the encoder's infrequent/all-zero bucket, numbers are clipped) and
  flagged, or refused with a one-line error under ``predict.unknown: error``;
* an absent column is an error naming it, or, under ``predict.missing_columns: impute``, all
  missing and flagged ``missing_column:<column>``;
* a value of the wrong type (text in a numeric column, a number or a boolean where a category is
  expected, a date that does not parse) is always an error.

Free text is scored as it comes (only a missing text is flagged); dates arrive as strings (ISO
8601, or the source's ``data.date_format``), parsed by ingest's own code into the graph's epoch
seconds; booleans as true/false (JSON) or yes/no, true/false, 1/0 (files).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import operator
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from traincycle.errors import DataError
from traincycle.export import MISSING_STRING, NUMERIC_TENSOR, TENSOR_MIN_COLUMNS

FLAG_MISSING = "missing"
FLAG_UNKNOWN = "unknown_category"
FLAG_RANGE = "out_of_range"
FLAG_ABSENT = "missing_column"
FLAG_KINDS = (FLAG_MISSING, FLAG_UNKNOWN, FLAG_RANGE, FLAG_ABSENT)
#: flags of one row are joined with this in predict's `flags` column
FLAG_SEPARATOR = ";"


@dataclasses.dataclass(frozen=True)
class PredictConfig:
    """The `predict` section of params.yaml, read by `traincycle predict` and `traincycle serve`."""

    #: unknown categories and numbers outside the schema range: flag (score and mark) | error
    unknown: Literal["flag", "error"] = "flag"
    #: a column absent from the input: error | impute (score as all missing, and mark)
    missing_columns: Literal["error", "impute"] = "error"


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One raw input column of a model directory's graph, as its manifest describes it."""

    name: str
    kind: str  # "numeric", "categorical", "text" or "datetime"
    dtype: str
    categories: tuple[str, ...] = ()
    #: the schema's allowed range of a numeric column (None: unbounded); dates: epoch seconds
    low: float | None = None
    high: float | None = None
    #: a date column's strptime format (None: ISO 8601 and the common forms ingest reads)
    format: str | None = None

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"

    @property
    def is_string(self) -> bool:
        """Read and fed as strings: categories and free text."""
        return self.kind in ("categorical", "text")

    @functools.cached_property
    def known_set(self) -> frozenset[str]:
        """The training categories as a set (membership tests, see `in_training`)."""
        return frozenset(self.categories)


def specs_from_manifest(manifest: Mapping[str, Any]) -> list[InputSpec]:
    """The input columns listed in a manifest, in graph order."""
    return [InputSpec(str(c["name"]), str(c["kind"]), str(c["dtype"]),
                      tuple(str(v) for v in c.get("categories", ())), *_bounds(c), c.get("format"))
            for c in manifest["inputs"]]


def _bounds(column: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """A column's (min, max); a date column's ISO bounds as epoch seconds, as its feed."""
    low, high = column.get("min"), column.get("max")
    if column["kind"] != "datetime":
        return low, high
    import pandas as pd

    from traincycle.column_kinds import epoch_seconds

    seconds = epoch_seconds(pd.Series([low, high], dtype=object))
    return tuple(None if np.isnan(v) else float(v) for v in seconds)  # type: ignore[return-value]


@dataclasses.dataclass
class Screened:
    """Rows ready for the graph: feeds, each row's flags ("" when none), and counts per kind.

    `scored` marks the rows the feeds hold when some cannot be scored at all (an unreadable
    image file): those get no scores, only their flags. None: every row is in the feeds.
    """

    feeds: dict[str, np.ndarray]
    flags: list[str]
    counts: Counter[str]
    rows: int
    scored: np.ndarray | None = None

    @property
    def flagged(self) -> int:
        """Rows carrying at least one flag."""
        return sum(1 for f in self.flags if f)


class Layout:
    """What screening needs of `specs` beyond the specs themselves, worked out once (the service
    does it at start-up): on wide tables, the numeric columns' places in the one [N, k] tensor
    and their ranges as arrays, so a request is checked without a Python step per column."""

    #: row shapes (key tuples) remembered per layout: a client sends one or a few
    SHAPES = 16

    def __init__(self, specs: Sequence[InputSpec]) -> None:
        self.specs = list(specs)
        places = [i for i, spec in enumerate(self.specs) if spec.kind == "numeric"]
        # wide tables: the graph takes one [N, k] tensor (export), checked as one matrix
        self.wide = len(places) > TENSOR_MIN_COLUMNS
        self.numeric = [self.specs[i] for i in places]
        self.places = np.array(places, dtype=np.intp)  # each numeric column's index in specs
        self.others = [i for i, spec in enumerate(self.specs) if spec.kind != "numeric"]
        self.at = {spec.name: j for j, spec in enumerate(self.numeric)}
        self.low = np.array([-np.inf if s.low is None else s.low for s in self.numeric], dtype=np.float64)
        self.high = np.array([np.inf if s.high is None else s.high for s in self.numeric], dtype=np.float64)
        self.shapes: dict[tuple[str, ...], _RowPlan | None] = {}

    def plan(self, shape: tuple[str, ...], names: Mapping[str, str]) -> _RowPlan | None:
        """How rows with these keys in this order are typed at once (None: field by field)."""
        if shape not in self.shapes:
            if len(self.shapes) >= self.SHAPES:  # a client shuffling its keys: bounded memory
                self.shapes.clear()
            self.shapes[shape] = _RowPlan.make(shape, names, self)
        return self.shapes[shape]


def screen(columns: Mapping[str, np.ndarray], specs: Sequence[InputSpec], cfg: PredictConfig,
           rows: int, offset: int = 0, where: str = "input",
           absent: Mapping[str, np.ndarray] | None = None, layout: Layout | None = None) -> Screened:
    """Check typed columns (float64 with NaN for numerics, object arrays of str/None for
    categoricals) against `specs`; return the feeds and flags or raise a one-line DataError.

    A column left out of `columns` is absent from every row; `absent` marks the rows where a
    present column's field was not given (JSON rows). Rows are numbered from `offset` in
    messages (the first row of this batch in the file). `layout`: `specs`' own, made once.
    """
    feeds: dict[str, np.ndarray] = {}
    marks: list[tuple[str, np.ndarray]] = []
    layout = layout or Layout(specs)
    block = _NumericBlock(columns, layout, rows, absent) if layout.wide else None
    # once for the whole loop (per column it was a tenth of a one-row request's screening): NaN
    # compares false with any bound, and numbers beyond float32 become +-inf in the feeds
    with np.errstate(invalid="ignore", over="ignore"):
        for i in range(len(specs)) if block is None else block.visit:
            spec = specs[i]
            values = columns.get(spec.name)
            gone = np.ones(rows, dtype=bool) if values is None else (absent or {}).get(spec.name)
            if gone is not None and gone.any():
                _check_absent(gone, spec, cfg, offset, where)
                marks.append((f"{FLAG_ABSENT}:{spec.name}", gone))
            if block is not None and spec.kind == "numeric":
                missing = block.judge(spec, cfg, offset, where, marks)
                if missing is not None:
                    if gone is not None:
                        missing = missing & ~gone
                    if missing.any():
                        marks.append((f"{FLAG_MISSING}:{spec.name}", missing))
                continue
            if values is None:
                values = (np.full(rows, None, dtype=object) if spec.is_string
                          else np.full(rows, np.nan))
            if spec.is_string:
                values = _text(values)
                missing = values == MISSING_STRING
                if spec.is_categorical:  # free text has no list of known values
                    unseen = ~missing & ~in_training(values, spec)
                    _judge(unseen, values, spec, cfg, offset, where, FLAG_UNKNOWN, marks)
            else:
                missing = np.isnan(values)
                outside = _outside(values, spec)
                if outside is not None:
                    _judge(outside, values, spec, cfg, offset, where, FLAG_RANGE, marks)
            if gone is not None:
                missing = missing & ~gone
            if missing.any():
                marks.append((f"{FLAG_MISSING}:{spec.name}", missing))
            feeds[spec.name] = _feed(values, spec)
        if block is not None:
            feeds[NUMERIC_TENSOR] = block.feed()
    return Screened(feeds, row_flags(marks, rows), flag_counts(marks), rows)


def _outside(values: np.ndarray, spec: InputSpec) -> np.ndarray | None:
    """Which numbers fall outside the schema's range (None: the column has no bounds)."""
    low = None if spec.low is None else values < spec.low
    high = None if spec.high is None else values > spec.high
    return high if low is None else low if high is None else low | high


class _NumericBlock:
    """A wide table's numeric columns as one [rows, k] matrix, range- and NaN-checked at once.

    Column by column, numpy's per-call overhead (~40 us a column) is most of a one-row request
    at thousands of columns; `visit` lists only the columns with something to report (with
    every other column), in order, and `judge` looks at one of those.
    """

    def __init__(self, columns: Mapping[str, np.ndarray], layout: Layout, rows: int,
                 absent: Mapping[str, np.ndarray] | None) -> None:
        self.at = layout.at
        if isinstance(columns, RowColumns):  # typed as one matrix already (a regular request)
            self.matrix, present = columns.matrix, columns.present
        else:
            nan = np.full(rows, np.nan)
            given = [columns.get(spec.name) for spec in layout.numeric]
            present = np.array([v is not None for v in given], dtype=bool)
            self.matrix = np.array([nan if v is None else v for v in given], dtype=np.float64,
                                   ndmin=2).reshape(len(given), rows).T
        with np.errstate(invalid="ignore"):
            self.outside = (self.matrix < layout.low) | (self.matrix > layout.high)
        self.missing = np.isnan(self.matrix)
        self.any_outside = self.outside.any(axis=0)
        self.any_missing = self.missing.any(axis=0)
        report = self.any_outside | self.any_missing | ~present
        for name in absent or ():
            if name in self.at:
                report[self.at[name]] = True
        #: the specs screen visits: every non-numeric one, and the numeric ones with a flag to
        #: give, an error to raise or a field absent, in the specs' order
        self.visit = sorted([*layout.others, *layout.places[report].tolist()])

    def judge(self, spec: InputSpec, cfg: PredictConfig, offset: int, where: str,
              marks: list[tuple[str, np.ndarray]]) -> np.ndarray | None:
        """Flag (or refuse) `spec`'s values outside its range; its missing rows, None if none."""
        j = self.at[spec.name]
        if self.any_outside[j]:
            _judge(self.outside[:, j], self.matrix[:, j], spec, cfg, offset, where, FLAG_RANGE, marks)
        return self.missing[:, j] if self.any_missing[j] else None

    def feed(self) -> np.ndarray:
        with np.errstate(over="ignore"):  # beyond float32: +-inf, out of every range, clipped
            return np.ascontiguousarray(self.matrix, dtype=np.float32)


def _check_absent(gone: np.ndarray, spec: InputSpec, cfg: PredictConfig, offset: int,
                  where: str) -> None:
    if cfg.missing_columns != "error":
        return
    expected = _EXPECTED.get(spec.kind, f"a number, {spec.dtype}")
    hint = "params predict.missing_columns: impute scores it as missing"
    if gone.all():
        raise DataError(f"{where}: column {spec.name!r} is missing (expected {expected}); {hint}")
    row = offset + int(np.flatnonzero(gone)[0])
    raise DataError(f"{where}: row {row}: field {spec.name!r} is missing (expected {expected}, "
                    f"or null); {hint}")


def _judge(bad: np.ndarray, values: np.ndarray, spec: InputSpec, cfg: PredictConfig, offset: int,
           where: str, kind: str, marks: list[tuple[str, np.ndarray]]) -> None:
    if not bad.any():
        return
    if cfg.unknown == "flag":
        marks.append((f"{kind}:{spec.name}", bad))
        return
    i = int(np.flatnonzero(bad)[0])
    if kind == FLAG_UNKNOWN:
        known = ", ".join(spec.categories[:8]) + (", ..." if len(spec.categories) > 8 else "")
        what = f"unseen category {str(values[i])!r} (known: {known})"
    elif spec.kind == "datetime":
        shown = [_iso(v) for v in (values[i], spec.low, spec.high)]
        what = f"{shown[0]} is outside the schema range [{shown[1]}, {shown[2]}]"
    else:
        what = f"{float(values[i]):g} is outside the schema range [{spec.low}, {spec.high}]"
    raise DataError(f"{where}: column {spec.name!r} row {offset + i}: {what}; params "
                    "predict.unknown: flag scores such rows and marks them")


def _iso(seconds: float | None) -> str | None:
    """Epoch seconds as an ISO date/time (messages about date columns)."""
    import pandas as pd

    return None if seconds is None else pd.Timestamp(seconds, unit="s").isoformat()


def in_training(values: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Which text values (an object array of str) are training categories, by set lookups: on
    str objects they beat np.isin's sort at every size (measured here: 1,000 rows 60 vs 250 us)."""
    return np.fromiter(map(spec.known_set.__contains__, values.tolist()), bool, len(values))


def _text(values: np.ndarray) -> np.ndarray:
    """Text values as an object array of str, missing (None) as the graph's empty string.

    Kept as str objects, not converted to a numpy unicode array: onnxruntime reads either as a
    string tensor, and the conversion cost 0.15 ms per column of 1,000 rows (a third of parsing).
    """
    values = values.astype(object)  # a copy: the caller's array is left as it was
    values[np.equal(values, None)] = MISSING_STRING
    return values


def _feed(values: np.ndarray, spec: InputSpec) -> np.ndarray:
    if spec.is_string:
        return values.reshape(-1, 1)
    if spec.kind == "datetime":
        return values.astype(np.float64).reshape(-1, 1)  # epoch seconds need float64
    return values.astype(np.float32).reshape(-1, 1)  # beyond float32: +-inf (screen's errstate)


def row_flags(marks: Sequence[tuple[str, np.ndarray]], rows: int) -> list[str]:
    """Each row's flags joined by FLAG_SEPARATOR, from (flag, row mask) pairs in order."""
    if not marks:
        return [""] * rows
    hit = np.logical_or.reduce([m for _, m in marks])
    flags = [""] * rows
    for i in np.flatnonzero(hit).tolist():
        flags[i] = FLAG_SEPARATOR.join(name for name, m in marks if m[i])
    return flags


def flag_counts(marks: Sequence[tuple[str, np.ndarray]]) -> Counter[str]:
    """Rows flagged per kind, the part before ':' (a row with two missing columns counts once
    under `missing`)."""
    counts: Counter[str] = Counter()
    for kind in dict.fromkeys(name.split(":", 1)[0] for name, _ in marks):
        masks = [m for name, m in marks if name.split(":", 1)[0] == kind]
        counts[kind] = int(np.logical_or.reduce(masks).sum())
    return counts


def summary(counts: Counter[str], flagged: int, rows: int) -> str:
    """One line: how many rows were flagged, and why (the table kinds first, then the others)."""
    share = flagged / rows if rows else 0.0
    kinds = [*FLAG_KINDS, *sorted(set(counts) - set(FLAG_KINDS))]
    parts = ", ".join(f"{k} {counts[k]}" for k in kinds if counts.get(k))
    return f"flagged {flagged} of {rows} rows ({share:.2%})" + (f": {parts}" if parts else "")


# --------------------------------------------------------------------------- readers


def frame_columns(df: Any, specs: Sequence[InputSpec], offset: int = 0,
                  where: str = "input") -> dict[str, np.ndarray]:
    """Columns of a tidied pandas frame (predict), typed for :func:`screen`; absent ones left out.

    Wrong types are errors naming column and row: text that is not a number in a numeric
    column, numbers in a categorical one.
    """
    import pandas as pd

    out: dict[str, np.ndarray] = {}
    for spec in specs:
        if spec.name not in df.columns:
            continue
        series = df[spec.name]
        if spec.kind == "text":  # free text: whatever was written, numbers included
            out[spec.name] = series.astype("string").to_numpy(dtype=object, na_value=None)
        elif spec.kind == "datetime":
            out[spec.name] = _dates(series, spec, offset, where)
        elif spec.is_categorical:
            numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
            if numeric and series.notna().any():
                bad = int(np.flatnonzero(series.notna().to_numpy())[0])
                raise DataError(f"{where}: column {spec.name!r} row {offset + bad}: expected a "
                                f"category (text), got number {series.iloc[bad]!r}")
            out[spec.name] = series.astype("string").to_numpy(dtype=object, na_value=None)
        else:
            numbers = _numbers(series, spec)
            bad_mask = series.notna().to_numpy() & np.isnan(numbers)
            if bad_mask.any():
                bad = int(np.flatnonzero(bad_mask)[0])
                expected = "yes/no, true/false or 1/0" if spec.dtype == "bool" else f"a number ({spec.dtype})"
                raise DataError(f"{where}: column {spec.name!r} row {offset + bad}: expected "
                                f"{expected}, got {series.iloc[bad]!r}")
            out[spec.name] = numbers
    return out


def _dates(series: Any, spec: InputSpec, offset: int, where: str) -> np.ndarray:
    """A date column as epoch seconds, parsed by ingest's code; a value that is no date is an error."""
    import pandas as pd

    from traincycle.column_kinds import convert, epoch_seconds

    seconds = epoch_seconds(convert(series, "datetime", spec.format))
    bad_mask = series.notna().to_numpy() & np.isnan(seconds)
    if pd.api.types.is_string_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype):
        bad_mask &= series.astype("string").str.strip().fillna("").to_numpy(dtype=str) != ""
    if bad_mask.any():
        bad = int(np.flatnonzero(bad_mask)[0])
        raise DataError(f"{where}: column {spec.name!r} row {offset + bad}: expected a date "
                        f"({spec.format or 'ISO 8601, e.g. 2024-05-31'}), got {series.iloc[bad]!r}")
    return seconds


def _numbers(series: Any, spec: InputSpec) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    if spec.dtype == "bool":  # yes/no, true/false as users write them (ingest's reading)
        from traincycle.column_kinds import parse_booleans

        return parse_booleans(series).to_numpy(dtype="float64", na_value=np.nan)
    text = series.astype("string").str.strip()
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


class _Absent:
    """A field not given in a JSON row (unlike null: a missing value)."""


ABSENT = _Absent()
_TEXT = frozenset({str, type(None), _Absent})
_BOOL = frozenset({bool, type(None), _Absent})
_NUMBER = frozenset({int, float, type(None), _Absent})
_EXPECTED = {"categorical": "a category", "text": "a text", "datetime": "a date"}


def record_columns(records: Sequence[Mapping[str, Any]], specs: Sequence[InputSpec],
                   names: Mapping[str, str], missing: frozenset[str], where: str = "request",
                   layout: Layout | None = None,
                   ) -> tuple[Mapping[str, np.ndarray], dict[str, np.ndarray]]:
    """Columns of JSON rows (serve), typed for :func:`screen`, and where each field was absent.

    Types are strict: numbers (never booleans) or null for numeric columns, true/false or null for
    boolean ones, text or null for categorical ones. `names` maps every accepted key (snake_case or
    the source's original name) to its column; text is cleaned as ingest cleans it (`missing`
    holds the missing-value markers). Works column by column: a 1,000-row request stays cheap.
    With `specs`' wide `layout`, rows that all give the same known keys in the same order are
    typed by that key order's plan (:class:`RowColumns`); anything else, errors included, by
    the field-by-field path below.
    """
    n = len(records)
    shapes = set(map(tuple, records))  # each row's keys in order: one shape in a regular request
    if layout is not None and layout.wide and len(shapes) == 1:
        plan = layout.plan(next(iter(shapes)), names)
        typed = None if plan is None else plan.columns(records, missing, where)
        if typed is not None:
            return typed, {}
    keys: set[str] = set().union(*shapes)
    unknown = keys - names.keys()
    if unknown:
        row, key = next((i, k) for i, r in enumerate(records) for k in r if k not in names)
        raise DataError(f"{where}: row {row}: unknown field {key!r}")
    # rows that all give the same keys in the same order are transposed in one pass in C
    transposed = dict(zip(next(iter(shapes)), zip(*map(dict.values, records), strict=True),
                          strict=True)) if len(shapes) == 1 else {}
    aliases: dict[str, list[str]] = {}
    for key in sorted(keys):
        aliases.setdefault(names[key], []).append(key)
    out = _number_block(transposed, aliases, specs)
    absent: dict[str, np.ndarray] = {}
    for spec in specs:
        given = aliases.get(spec.name)
        if not given or spec.name in out:
            continue  # absent from every row: screen applies the missing-columns rule
        if len(given) == 1 and given[0] in transposed:
            values: Sequence[Any] = transposed[given[0]]
        else:
            values = [r.get(given[0], ABSENT) for r in records]
            for other in given[1:]:  # rows that used the other accepted name
                values = [r.get(other, ABSENT) if v is ABSENT else v
                          for v, r in zip(values, records, strict=True)]
        types = set(map(type, values))
        out[spec.name] = _typed(values, types, spec, given[0], missing, where)
        if _Absent in types:
            absent[spec.name] = np.fromiter((v is ABSENT for v in values), bool, n)
    return out, absent


class RowColumns(Mapping[str, np.ndarray]):
    """A regular wide request's typed columns: the numeric ones as one [N, k] matrix in the
    layout's order (`present`: the columns given; the others' entries are NaN), the rest by name."""

    def __init__(self, matrix: np.ndarray, present: np.ndarray, others: dict[str, np.ndarray],
                 layout: Layout) -> None:
        self.matrix, self.present, self.others, self.layout = matrix, present, others, layout

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.others:
            return self.others[name]
        j = self.layout.at.get(name)
        if j is None or not self.present[j]:
            raise KeyError(name)
        return self.matrix[:, j]

    def __iter__(self) -> Iterator[str]:
        yield from self.others
        yield from (self.layout.numeric[j].name for j in np.flatnonzero(self.present).tolist())

    def __len__(self) -> int:
        return len(self.others) + int(self.present.sum())


_NUMBER_ONLY = frozenset({int, float, type(None)})


@dataclasses.dataclass(frozen=True)
class _RowPlan:
    """How rows of one key order are typed: the fields of numeric (non-boolean) columns picked
    from each row's values by position (`take`) into matrix columns `into`, as one array; the
    other given fields (`fields`: column, key, position) typed one by one, in the specs' order."""

    layout: Layout
    take: Callable[[tuple[Any, ...]], tuple[Any, ...]]
    into: np.ndarray | None  # None: every numeric column, in order
    present: np.ndarray
    fields: list[tuple[InputSpec, str, int]]

    @staticmethod
    def make(shape: tuple[str, ...], names: Mapping[str, str], layout: Layout) -> _RowPlan | None:
        """The plan of rows keyed `shape`; None where the field-by-field path must decide: an
        unknown key, a column given under two names, or too few numbers to stack."""
        columns = [names.get(key) for key in shape]
        if None in columns or len(set(columns)) < len(columns):
            return None
        place = {column: i for i, column in enumerate(columns)}
        stacked = [(j, place[spec.name]) for j, spec in enumerate(layout.numeric)
                   if spec.dtype != "bool" and spec.name in place]
        if len(stacked) <= TENSOR_MIN_COLUMNS:  # as `_number_block`
            return None
        into = [j for j, _ in stacked]
        in_stack = {layout.numeric[j].name for j in into}
        present = np.array([spec.name in place for spec in layout.numeric], dtype=bool)
        fields = [(spec, shape[place[spec.name]], place[spec.name]) for spec in layout.specs
                  if spec.name in place and spec.name not in in_stack]
        return _RowPlan(layout, operator.itemgetter(*[i for _, i in stacked]),
                        None if into == list(range(len(layout.numeric))) else np.array(into, dtype=np.intp),
                        present, fields)

    def columns(self, records: Sequence[Mapping[str, Any]], missing: frozenset[str],
                where: str) -> RowColumns | None:
        """`records` (all keyed as this plan's shape) typed; None if a stacked field is not a
        number or null, or an integer too large for a float (the field-by-field path decides)."""
        rows = [tuple(r.values()) for r in records]
        numbers = list(map(self.take, rows))
        if not set(map(type, itertools.chain.from_iterable(numbers))) <= _NUMBER_ONLY:
            return None
        try:
            stacked = np.array(numbers, dtype=np.float64)  # None is NaN
        except OverflowError:
            return None
        if self.into is None:
            matrix = stacked
        else:
            matrix = np.full((len(rows), len(self.layout.numeric)), np.nan)
            matrix[:, self.into] = stacked
        others: dict[str, np.ndarray] = {}
        for spec, key, i in self.fields:
            values = tuple(r[i] for r in rows)
            typed = _typed(values, set(map(type, values)), spec, key, missing, where)
            if spec.kind == "numeric":  # a boolean column: its place in the matrix
                matrix[:, self.layout.at[spec.name]] = typed
            else:
                others[spec.name] = typed
        return RowColumns(matrix, self.present, others, self.layout)


def _number_block(transposed: Mapping[str, Sequence[Any]], aliases: Mapping[str, list[str]],
                  specs: Sequence[InputSpec]) -> dict[str, np.ndarray]:
    """A wide request's numeric columns typed in one pass (rows of one [k, N] array), when every
    value is a number or null; {} otherwise (then `_typed` checks, and names the bad field)."""
    keys = {spec.name: aliases[spec.name][0] for spec in specs
            if spec.kind == "numeric" and spec.dtype != "bool" and len(aliases.get(spec.name, ())) == 1
            and aliases[spec.name][0] in transposed}
    if len(keys) <= TENSOR_MIN_COLUMNS:
        return {}
    values = [transposed[key] for key in keys.values()]
    if not set(map(type, itertools.chain.from_iterable(values))) <= {int, float, type(None)}:
        return {}
    try:
        return dict(zip(keys, np.array(values, dtype=np.float64), strict=True))  # None is NaN
    except OverflowError:  # an integer beyond float: `_typed` makes it +-inf
        return {}


def _typed(values: Sequence[Any], types: set[type], spec: InputSpec, key: str,
           missing: frozenset[str], where: str) -> np.ndarray:
    from traincycle.parsing import clean_text

    allowed, expected = ((_TEXT, f"{_EXPECTED[spec.kind]} (a string) or null") if spec.kind in _EXPECTED else
                         (_BOOL, "true, false or null") if spec.dtype == "bool" else
                         (_NUMBER, "a number or null"))
    if not types <= allowed:
        i, bad = next((i, v) for i, v in enumerate(values) if type(v) not in allowed)
        raise DataError(f"{where}: row {i}: field {key!r}: expected {expected}, "
                        f"got {type(bad).__name__} {bad!r}")
    if spec.kind in _EXPECTED:  # a column repeats few texts: clean each distinct one once
        cleaned = {v: clean_text(v, missing) for v in set(values) if type(v) is str}
        text = np.array(list(map(cleaned.get, values)), dtype=object)
        if spec.kind != "datetime":
            return text
        import pandas as pd

        return _dates(pd.Series(text, dtype=object), spec, 0, where)
    if _Absent in types:
        values = [None if v is ABSENT else v for v in values]
    try:
        return np.array(values, dtype=np.float64)  # None is NaN
    except OverflowError:  # an integer beyond float: +-inf, outside any range
        return np.array([np.nan if v is None else _to_float(v) for v in values], dtype=np.float64)


def _to_float(value: int | float) -> float:
    """A JSON number as float; integers too large for a float become +-inf (out of any range)."""
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")
