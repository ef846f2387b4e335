"""ONNX export of the whole inference path: raw columns -> featurizer -> model -> scores.

The exported graph has one input per raw column (``[N, 1]`` string tensors for categoricals,
float32 for numerics; a missing categorical is the empty string, a missing numeric NaN) and
(wide tables: more than ``TENSOR_MIN_COLUMNS`` numeric columns) one ``[N, k]`` float32 input
``numeric_columns`` holding every numeric column in input order instead, which the
featurizer's parts slice by position: feeding thousands of one-column tensors costs more than
the model itself. It has
one output: ``probabilities`` (``[N, n_classes]`` float32) for classification or
``prediction`` (``[N, 1]`` float32) for regression. A consumer needs onnxruntime and raw rows.

The featurizer goes through skl2onnx (with converters registered here for the parts it lacks:
our ``QuantileClipper`` and ``SimpleImputer(add_indicator=True)``), the model through its
family's ``export_onnx`` hook (:mod:`traincycle.models`), and the two graphs are merged with
``onnx.compose.merge_models``. :func:`stable_bytes` makes the serialised graph
byte-stable (skl2onnx orders ``opset_import`` by hash).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: opsets every part is exported with, so the graphs can be merged
OPSET = 17
ML_OPSET = 3
IR_VERSION = 8
FEATURES = "features"
PROBABILITIES = "probabilities"
PREDICTION = "prediction"
MISSING_STRING = ""
#: more numeric columns than this reach the graph as one [N, k] tensor (see `tensor_columns`)
TENSOR_MIN_COLUMNS = 64
NUMERIC_TENSOR = "numeric_columns"


@dataclass(frozen=True)
class Column:
    """One raw input column of the exported graph."""

    name: str
    kind: str  # "numeric", "categorical", "text" or "datetime"
    dtype: str
    categories: tuple[str, ...] = ()

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"

    @property
    def is_string(self) -> bool:
        """Fed as strings: categories and free text."""
        return self.kind in ("categorical", "text")


def output_name(task: str) -> str:
    """The graph's output: class probabilities, or the prediction for regression."""
    return PREDICTION if task == "regression" else PROBABILITIES


# --------------------------------------------------------------------------- converters


def _register_converters() -> None:
    """Teach skl2onnx our QuantileClipper and SimpleImputer's missing-value indicator."""
    from skl2onnx import update_registered_converter
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    update_registered_converter(
        SimpleImputer, "SklearnSimpleImputer", _imputer_shape, _convert_imputer, overwrite=True
    )
    # skl2onnx's encoders reject infrequent categories after an imputer (one [N, k] input)
    for cls, alias in ((OneHotEncoder, "SklearnOneHotEncoder"),
                       (OrdinalEncoder, "SklearnOrdinalEncoder")):
        update_registered_converter(cls, alias, _encoder_shape, _convert_encoder, overwrite=True)
    try:
        from traincycle import kind_onnx
        from traincycle.featurize import QuantileClipper
    except ImportError:  # featurize not present (e.g. a stripped-down install)
        return
    kind_onnx.register()
    update_registered_converter(
        QuantileClipper, "TraincycleQuantileClipper", _clipper_shape, _convert_clipper,
        overwrite=True,
    )


def _n_inputs(operator: Any) -> int:
    return sum(v.get_second_dimension() or 1 for v in operator.inputs)


def _imputer_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    op = operator.raw_operator
    width = int(np.sum(_kept_features(op)))
    if getattr(op, "indicator_", None) is not None:
        width += len(op.indicator_.features_)
    n = operator.inputs[0].get_first_dimension()
    string = isinstance(operator.inputs[0].type, StringTensorType)
    if string and op.indicator_ is not None:
        raise NotImplementedError("string imputer with add_indicator cannot mix types in ONNX")
    operator.outputs[0].type = (StringTensorType if string else FloatTensorType)([n, width])


def _kept_features(op: Any) -> np.ndarray:
    """Columns SimpleImputer keeps (it drops all-missing ones unless keep_empty_features)."""
    stats = np.asarray(op.statistics_)
    if stats.dtype.kind in "fc" and not getattr(op, "keep_empty_features", False):
        return ~np.isnan(stats)
    return np.ones(len(stats), dtype=bool)


def _convert_imputer(scope: Any, operator: Any, container: Any) -> None:
    """Where(missing, statistic, x), plus IsNaN indicator columns when add_indicator is set.

    Written with standard ops; skl2onnx's own converter ignores ``add_indicator`` and rejects
    string imputers whose ``missing_values`` is NaN (ours: a missing string is ``""``).
    """
    from onnx import TensorProto
    from skl2onnx.common.data_types import StringTensorType
    from skl2onnx.operator_converters.common import concatenate_variables

    op = operator.raw_operator
    x = concatenate_variables(scope, operator.inputs, container)
    kept = _kept_features(op)
    out = operator.outputs[0].full_name
    name = scope.get_unique_variable_name
    if isinstance(operator.inputs[0].type, StringTensorType):
        fill = name("fill")
        stats = [str(v) for v in np.asarray(op.statistics_)]
        container.add_initializer(fill, TensorProto.STRING, [1, len(stats)], stats)
        flag, cond = name("isempty"), name("cond")
        container.add_node(
            "LabelEncoder", [x], [flag], op_domain="ai.onnx.ml", op_version=2,
            keys_strings=[MISSING_STRING], values_int64s=[1], default_int64=0,
        )
        container.add_node("Cast", [flag], [cond], to=TensorProto.BOOL)
        container.add_node("Where", [cond, fill, x], [out])
        return
    xf = name("xf")
    container.add_node("Cast", [x], [xf], to=TensorProto.FLOAT)
    missing = name("missing")
    if isinstance(op.missing_values, float) and np.isnan(op.missing_values):
        container.add_node("IsNaN", [xf], [missing])
    else:
        value = name("missing_value")
        container.add_initializer(value, TensorProto.FLOAT, [], [float(op.missing_values)])
        container.add_node("Equal", [xf, value], [missing])
    fill = name("fill")
    stats = np.nan_to_num(np.asarray(op.statistics_, dtype=np.float32))
    container.add_initializer(fill, TensorProto.FLOAT, [1, len(stats)], stats.tolist())
    imputed = name("imputed")
    container.add_node("Where", [missing, fill, xf], [imputed])
    parts = [imputed]
    if not kept.all():
        keep_idx, kept_out = name("keep"), name("kept")
        container.add_initializer(keep_idx, TensorProto.INT64, [int(kept.sum())],
                                  np.flatnonzero(kept).tolist())
        container.add_node("Gather", [imputed, keep_idx], [kept_out], axis=1)
        parts = [kept_out]
    if getattr(op, "indicator_", None) is not None:
        idx, picked, flags = name("ind_idx"), name("ind_pick"), name("ind")
        features = [int(i) for i in op.indicator_.features_]
        container.add_initializer(idx, TensorProto.INT64, [len(features)], features)
        container.add_node("Gather", [missing, idx], [picked], axis=1)
        container.add_node("Cast", [picked], [flags], to=TensorProto.FLOAT)
        parts.append(flags)
    if len(parts) == 1:
        container.add_node("Identity", parts, [out])
    else:
        container.add_node("Concat", parts, [out], axis=1)


def encoder_tables(op: Any) -> list[tuple[list[Any], list[float], float, int]]:
    """Per input column: (categories, encoded values, value for unknowns, output width).

    Read off the fitted encoder by transforming each category, so infrequent grouping, drop
    and unknown handling match sklearn exactly. A OneHotEncoder's value is the position of
    the hot column in the column's block (-1: all zeros); an OrdinalEncoder's is the code.
    """
    import pandas as pd

    onehot = hasattr(op, "drop_idx_")
    widths = op._compute_n_features_outs() if onehot else [1] * len(op.categories_)
    names = list(getattr(op, "feature_names_in_", range(len(op.categories_))))
    base = {n: [cats[0]] for n, cats in zip(names, op.categories_, strict=True)}
    tables, start = [], 0
    for j, cats in enumerate(op.categories_):
        frame = pd.DataFrame({n: v * len(cats) for n, v in base.items()})
        frame[names[j]] = list(cats)
        data = frame if hasattr(op, "feature_names_in_") else frame.to_numpy(dtype=object)
        out = np.asarray(op.transform(data).todense() if hasattr(op.transform(data), "todense")
                         else op.transform(data), dtype=np.float64)
        block = out[:, start:start + widths[j]]
        if onehot:
            values = [float(np.argmax(r)) if r.any() else -1.0 for r in block]
            unknown = -1.0
            infrequent = getattr(op, "_infrequent_enabled", False) and op.handle_unknown in (
                "infrequent_if_exist", "warn")
            if infrequent and op._default_to_infrequent_mappings[j] is not None:
                unknown = values[int(np.argmax(op._default_to_infrequent_mappings[j]))]
        else:
            values = block[:, 0].tolist()
            unknown = float(op.unknown_value) if op.handle_unknown == "use_encoded_value" \
                and op.unknown_value is not None else float("nan")
        tables.append((list(cats), values, unknown, widths[j]))
        start += widths[j]
    return tables


def _encoder_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    n = operator.inputs[0].get_first_dimension()
    width = sum(t[3] for t in encoder_tables(operator.raw_operator))
    operator.outputs[0].type = FloatTensorType([n, width])


def _category_key(value: Any) -> str:
    """The string a category arrives as in the graph (missing: the empty string)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return MISSING_STRING
    return str(value)


def _convert_encoder(scope: Any, operator: Any, container: Any) -> None:
    """Per column: LabelEncoder (category -> code) then OneHot for one-hot encoders."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import StringTensorType
    from skl2onnx.operator_converters.common import concatenate_variables

    op = operator.raw_operator
    onehot = hasattr(op, "drop_idx_")
    name = scope.get_unique_variable_name
    x = concatenate_variables(scope, operator.inputs, container)
    string = isinstance(operator.inputs[0].type, StringTensorType)
    if not string:
        xf = name("xf")
        container.add_node("Cast", [x], [xf], to=TensorProto.FLOAT)
        x = xf
    blocks = []
    for j, (cats, values, unknown, width) in enumerate(encoder_tables(op)):
        if width == 0:
            continue
        idx, col = name("col_idx"), name("col")
        container.add_initializer(idx, TensorProto.INT64, [], [j])
        container.add_node("Gather", [x, idx], [col], axis=1)
        keys = ({"keys_strings": [_category_key(c) for c in cats]} if string
                else {"keys_floats": [float(c) for c in cats]})
        code = name("code")
        if onehot:
            # out-of-range indices give an all-zero row in ONNX OneHot
            vals = [int(v) if v >= 0 else width for v in values]
            default = int(unknown) if unknown >= 0 else width
            container.add_node("LabelEncoder", [col], [code], op_domain="ai.onnx.ml",
                               op_version=2, values_int64s=vals, default_int64=default, **keys)
            depth, onoff, hot = name("depth"), name("onoff"), name("hot")
            container.add_initializer(depth, TensorProto.INT64, [], [width])
            container.add_initializer(onoff, TensorProto.FLOAT, [2], [0.0, 1.0])
            container.add_node("OneHot", [code, depth, onoff], [hot], axis=-1)
            blocks.append(hot)
        else:
            container.add_node("LabelEncoder", [col], [code], op_domain="ai.onnx.ml",
                               op_version=2, values_floats=values, default_float=unknown, **keys)
            shape, shaped = name("shape"), name("shaped")
            container.add_initializer(shape, TensorProto.INT64, [2], [-1, 1])
            container.add_node("Reshape", [code, shape], [shaped])
            blocks.append(shaped)
    out = operator.outputs[0].full_name
    if len(blocks) == 1:
        container.add_node("Identity", blocks, [out])
    else:
        container.add_node("Concat", blocks, [out], axis=1)


def clip_bounds(op: Any) -> tuple[np.ndarray, np.ndarray]:
    """The per-column (lower, upper) bounds a fitted QuantileClipper clips to."""
    for low, high in (("lower_", "upper_"), ("low_", "high_"), ("lows_", "highs_")):
        if hasattr(op, low) and hasattr(op, high):
            return (np.asarray(getattr(op, low), dtype=np.float64),
                    np.asarray(getattr(op, high), dtype=np.float64))
    raise NotImplementedError(f"{type(op).__name__}: no fitted clip bounds found to export")


def _clipper_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([n, _n_inputs(operator)])


def _convert_clipper(scope: Any, operator: Any, container: Any) -> None:
    """Max(Min(x, upper), lower): ONNX Clip takes scalars only, so per-column bounds need these."""
    from onnx import TensorProto
    from skl2onnx.operator_converters.common import concatenate_variables

    low, high = clip_bounds(operator.raw_operator)
    name = scope.get_unique_variable_name
    x = concatenate_variables(scope, operator.inputs, container)
    xf, lo, hi, capped = name("xf"), name("lower"), name("upper"), name("capped")
    container.add_node("Cast", [x], [xf], to=TensorProto.FLOAT)
    container.add_initializer(lo, TensorProto.FLOAT, [1, len(low)], low.astype(np.float32).tolist())
    container.add_initializer(hi, TensorProto.FLOAT, [1, len(high)], high.astype(np.float32).tolist())
    container.add_node("Min", [xf, hi], [capped])
    container.add_node("Max", [capped, lo], [operator.outputs[0].full_name])


# --------------------------------------------------------------------------- parts


def initial_types(columns: Sequence[Column]) -> list[tuple[str, Any]]:
    """skl2onnx input types: one ``[N, 1]`` tensor per raw column (strings for categories and
    text, float64 epoch seconds for dates, float32 for numbers)."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    types = {"categorical": StringTensorType, "text": StringTensorType, "datetime": DoubleTensorType}
    return [(c.name, types.get(c.kind, FloatTensorType)([None, 1])) for c in columns]


def tensor_columns(columns: Sequence[Column]) -> list[Column]:
    """The numeric columns fed as one ``NUMERIC_TENSOR`` input (none below the threshold)."""
    numeric = [c for c in columns if c.kind == "numeric"]
    return numeric if len(numeric) > TENSOR_MIN_COLUMNS else []


def export_featurizer(featurizer: Any, columns: Sequence[Column]) -> Any:
    """Convert the fitted sklearn featurizer to an ONNX graph: raw columns in, float32 features out."""
    tensor = tensor_columns(columns)
    if not tensor:
        return _convert_featurizer(featurizer, initial_types(columns))
    if NUMERIC_TENSOR in {c.name for c in columns}:
        raise ValueError(f"a raw column is named {NUMERIC_TENSOR!r}, the graph's numeric input")
    from skl2onnx.common.data_types import FloatTensorType

    rest = [c for c in columns if c.kind != "numeric"]
    # the tensor's columns, then one per other column: skl2onnx resolves a column name by a
    # linear search over the inputs (quadratic at thousands of columns), a position by offsets
    position = {name: i for i, name in enumerate([c.name for c in tensor] + [c.name for c in rest])}
    inputs = [(NUMERIC_TENSOR, FloatTensorType([None, len(tensor)])), *initial_types(rest)]
    return _convert_featurizer(_by_position(featurizer, position), inputs)


def _by_position(featurizer: Any, position: dict[str, int]) -> Any:
    """A shallow copy of a fitted ColumnTransformer whose parts name columns by input position."""
    out = copy.copy(featurizer)
    out.transformers_ = [
        (name, part, cols if isinstance(part, str) and part == "drop" else [position[c] for c in cols])
        for name, part, cols in featurizer.transformers_
    ]
    return out


def export_matrix_featurizer(featurizer: Any, name: str, width: int) -> Any:
    """A featurizer over one float32 ``[N, width]`` input called `name` (e.g. image pixels)."""
    from skl2onnx.common.data_types import FloatTensorType

    return _convert_featurizer(featurizer, [(name, FloatTensorType([None, width]))])


def _convert_featurizer(featurizer: Any, inputs: list[tuple[str, Any]]) -> Any:
    from skl2onnx import convert_sklearn

    _register_converters()
    simple = simplify(featurizer)
    onx = convert_sklearn(
        simple, initial_types=inputs, target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
        options={id(v): tfidf_options(v) for v in _vectorizers(simple)} or None, name="featurizer",
    )
    return _rename_output(onx, onx.graph.output[0].name, FEATURES)


def tfidf_options(vectorizer: Any) -> dict[str, Any]:
    """skl2onnx options for a fitted Count/TfidfVectorizer: its tokenizer regex, and a locale that exists.

    skl2onnx tokenises with RE2, whose ``\\w`` is ASCII: the vectorizer's token_pattern must be
    ASCII too (``(?a)``, traincycle.column_kinds.TOKEN_PATTERN) for the graph to split words alike.
    C.UTF-8 exists on every glibc system; onnxruntime fails on an absent en_US.UTF-8 locale.
    """
    import re

    return {"tokenexp": re.sub(r"^\(\?[au]\)", "", vectorizer.token_pattern), "locale": "C.UTF-8"}


def _vectorizers(est: Any) -> list[Any]:
    """The text vectorizers (count or TF-IDF) inside a (simplified) featurizer."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.pipeline import Pipeline

    if isinstance(est, CountVectorizer):
        return [est]
    if isinstance(est, Pipeline):
        return [v for _, step in est.steps for v in _vectorizers(step)]
    if isinstance(est, ColumnTransformer):
        return [v for _, t, _ in est.transformers_ for v in _vectorizers(t)]
    return []


def simplify(est: Any) -> Any:
    """A copy without ``passthrough``/None pipeline steps, which skl2onnx cannot convert, and
    with each part that names its ONNX stand-in (``onnx_estimator()``, e.g. a text column's
    fitted TfidfVectorizer) replaced by it."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    stand_in = getattr(est, "onnx_estimator", None)
    if stand_in is not None:
        return stand_in()
    if isinstance(est, Pipeline):
        steps = [(n, simplify(s)) for n, s in est.steps if s not in (None, "passthrough")]
        if not steps:
            return "passthrough"
        if len(steps) == 1 and not isinstance(steps[0][1], Pipeline):
            return steps[0][1]
        out = copy.copy(est)
        out.steps = steps
        return out
    if isinstance(est, ColumnTransformer):
        out = copy.copy(est)
        out.transformers_ = [(n, simplify(t), c) for n, t, c in est.transformers_]
        return out
    return est


def sklearn_onnx(native: Any, task: str, n_features: int, options: dict[Any, Any] | None = None) -> Any:
    """A scikit-learn model (or one registered with skl2onnx) as ONNX: ``features`` in, scores out."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    if options is None and task != "regression":
        options = {type(native): {"zipmap": False}}
    onx = convert_sklearn(
        native, initial_types=[(FEATURES, FloatTensorType([None, n_features]))],
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET}, options=options or None, name="model",
    )
    return keep_score_output(onx, task)


# --------------------------------------------------------------------------- graph surgery


def _rename_output(onx: Any, old: str, new: str) -> Any:
    """Rename a graph output (and every use of that value)."""
    if old == new:
        return onx
    for node in onx.graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]
    for out in onx.graph.output:
        if out.name == old:
            out.name = new
    return onx


def keep_score_output(onx: Any, task: str) -> Any:
    """Keep only the probabilities (or the regression prediction) output, named canonically."""
    outputs = list(onx.graph.output)
    if task == "regression":
        chosen = outputs[0]
    else:
        by_name = [o for o in outputs if "prob" in o.name.lower()]
        chosen = by_name[0] if by_name else outputs[-1]
    del onx.graph.output[:]
    onx.graph.output.append(chosen)
    _prune_dead_nodes(onx)
    return _rename_output(onx, chosen.name, output_name(task))


def _prune_dead_nodes(onx: Any) -> None:
    """Drop nodes whose outputs nothing uses (e.g. the label branch after removing it)."""
    needed = {o.name for o in onx.graph.output}
    keep = []
    for node in reversed(onx.graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(node.input)
    del onx.graph.node[:]
    onx.graph.node.extend(reversed(keep))
    inits = [i for i in onx.graph.initializer if i.name in needed]
    del onx.graph.initializer[:]
    onx.graph.initializer.extend(inits)


def align(onx: Any) -> Any:
    """Same IR version and opsets for every part, as merge_models requires."""
    onx.ir_version = IR_VERSION
    versions = {imp.domain: imp.version for imp in onx.opset_import}
    versions[""] = OPSET
    if "ai.onnx.ml" in versions:
        versions["ai.onnx.ml"] = ML_OPSET
    del onx.opset_import[:]
    for domain in sorted(versions):
        imp = onx.opset_import.add()
        imp.domain, imp.version = domain, versions[domain]
    return onx


def merge(featurizer_onnx: Any, model_onnx: Any, task: str) -> Any:
    """One graph: the featurizer's ``features`` output feeds the model's ``features`` input."""
    import onnx
    from onnx import compose

    feat = compose.add_prefix(align(featurizer_onnx), "featurize_", rename_inputs=False,
                              rename_outputs=False)
    est = compose.add_prefix(align(model_onnx), "model_", rename_inputs=False,
                             rename_outputs=False)
    # the model's input keeps its name: make it distinct from the featurizer's output
    rename_input(est, FEATURES, "model_" + FEATURES)
    merged = compose.merge_models(feat, est, io_map=[(FEATURES, "model_" + FEATURES)],
                                  outputs=[output_name(task)], doc_string="", producer_name="traincycle",
                                  producer_version="", name="traincycle")
    align(merged)
    onnx.checker.check_model(merged)
    return merged


def rename_input(onx: Any, old: str, new: str) -> None:
    for node in onx.graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
    for inp in onx.graph.input:
        if inp.name == old:
            inp.name = new


def stable_bytes(onx: Any) -> bytes:
    """Serialise deterministically: sorted opsets, no producer versions or doc strings."""
    onx = copy.deepcopy(onx)
    imports = sorted((i.domain, i.version) for i in onx.opset_import)
    del onx.opset_import[:]
    for domain, version in imports:
        imp = onx.opset_import.add()
        imp.domain, imp.version = domain, version
    onx.producer_name, onx.producer_version, onx.domain = "traincycle", "", ""
    onx.model_version = 0
    onx.doc_string = ""
    onx.graph.doc_string = ""
    del onx.metadata_props[:]
    for node in onx.graph.node:
        node.doc_string = ""
    return onx.SerializeToString(deterministic=True)


def export_pipeline(featurizer_onnx: Any, model_onnx: Any, task: str) -> bytes:
    """Featurizer + model (the family's ``export_onnx`` graph) as one byte-stable graph."""
    return stable_bytes(merge(featurizer_onnx, model_onnx, task))


def export_model_only(model_onnx: Any, input_name: str) -> bytes:
    """The model graph alone (its input renamed), byte-stable: for inputs the model takes as is."""
    rename_input(model_onnx, FEATURES, input_name)
    return stable_bytes(align(model_onnx))


def columns_from_meta(input_columns: Any) -> list[Column]:
    """Raw input columns from featurizer.json's ``input_columns`` (name, dtype, categories)."""
    out = []
    for spec in input_columns:
        dtype = str(spec["dtype"])
        kind = {"category": "categorical", "text": "text", "datetime": "datetime"}.get(dtype, "numeric")
        out.append(Column(str(spec["name"]), kind, dtype,
                          tuple(str(c) for c in spec.get("categories") or ())))
    return out


def to_feeds(df: Any, columns: Sequence[Column]) -> dict[str, np.ndarray]:
    """onnxruntime feeds for raw rows: ``[N, 1]`` float32 numerics (NaN = missing), or one
    ``[N, k]`` ``NUMERIC_TENSOR`` on wide tables, strings (``""`` = missing) for categories and
    text, float64 epoch seconds for dates. `df` must already hold valid values (see predict's
    checks; dates parsed)."""
    from traincycle.column_kinds import epoch_seconds

    feeds = {}
    for col in columns:
        if col.is_string:
            text = df[col.name].astype("string")
            values = text.where(text.notna(), MISSING_STRING).astype(object).to_numpy()
            feeds[col.name] = values.astype(str).reshape(-1, 1)
        elif col.kind == "datetime":
            feeds[col.name] = epoch_seconds(df[col.name]).reshape(-1, 1)
    numeric = [c.name for c in columns if c.kind == "numeric"]
    block = _numeric_block(df, numeric)
    if tensor_columns(columns):
        feeds[NUMERIC_TENSOR] = block
    else:
        feeds.update((name, np.ascontiguousarray(block[:, [i]])) for i, name in enumerate(numeric))
    return feeds


def _numeric_block(df: Any, names: list[str]) -> np.ndarray:
    """``[N, k]`` float32 of numeric columns (NaN = missing), via float64 as one block when it can."""
    import pandas as pd

    frame = df[names]
    if all(pd.api.types.is_numeric_dtype(t) for t in frame.dtypes):
        return frame.to_numpy(dtype=np.float64, na_value=np.nan).astype(np.float32).reshape(len(df), -1)
    columns = [pd.to_numeric(frame[n], errors="raise").astype("float64") for n in names]
    return np.column_stack([c.to_numpy(dtype=np.float32, na_value=np.nan) for c in columns]) \
        if columns else np.zeros((len(df), 0), dtype=np.float32)
