"""ONNX converters for the column-kind featurizer parts (:mod:`traincycle.kind_features`).

Dates reach the graph as float64 seconds since 1970-01-01 UTC (:func:`column_kinds.epoch_seconds`,
the one conversion predict, serve and optimize share; NaN = missing), and `DateParts` becomes
calendar arithmetic in float64 inside the graph (Howard Hinnant's days-to-civil algorithm), so
a date string is parsed by the same pandas code everywhere and the calendar parts cannot drift
from featurize's. Text columns go through skl2onnx's own TfidfVectorizer converter on their
fitted vectorizer (`TextTerms.tfidf_`, see :func:`traincycle.export.simplify`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: seconds per day and per hour
DAY = 86400.0
HOUR = 3600.0
#: days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar (the algorithm's shift)
EPOCH_SHIFT = 719468.0


def register() -> None:
    """Teach skl2onnx `DateParts` (the calendar arithmetic below), `TermWeights` and
    `FrequencyEncoder`; each outputs float32 ``[N, width]``."""
    from skl2onnx import update_registered_converter

    from traincycle.kind_features import DateParts, FrequencyEncoder, TermWeights

    parts = [(DateParts, _convert_date_parts, lambda op: len(op.columns_) * len(op.parts_)),
             (TermWeights, _convert_term_weights, lambda op: len(op.idf)),
             (FrequencyEncoder, _convert_frequency, lambda op: len(op.shares_))]
    for cls, convert, width in parts:
        update_registered_converter(cls, f"Traincycle{cls.__name__}", _float_shape(width), convert,
                                    overwrite=True)


def _float_shape(width: Callable[[Any], int]) -> Callable[[Any], None]:
    """A skl2onnx shape calculator: float32 ``[N, width(fitted part)]``."""

    def shape(operator: Any) -> None:
        from skl2onnx.common.data_types import FloatTensorType

        n = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = FloatTensorType([n, width(operator.raw_operator)])

    return shape


def _convert_frequency(scope: Any, operator: Any, container: Any) -> None:
    """Per column: LabelEncoder (value -> float32 share of train rows, 0 when unseen)."""
    from onnx import TensorProto
    from skl2onnx.operator_converters.common import concatenate_variables

    op = operator.raw_operator
    g = _Graph(scope, container)
    x = concatenate_variables(scope, operator.inputs, container)
    shape = scope.get_unique_variable_name("shape")
    container.add_initializer(shape, TensorProto.INT64, [2], [-1, 1])
    blocks = []
    for j, (cats, shares) in enumerate(zip(op.categories_, op.shares_, strict=True)):
        index = scope.get_unique_variable_name("col_idx")
        container.add_initializer(index, TensorProto.INT64, [], [j])
        code = g.op("LabelEncoder", g.op("Gather", x, index, axis=1), op_domain="ai.onnx.ml",
                    op_version=2, keys_strings=[str(c) for c in cats],
                    values_floats=np.asarray(shares, dtype=np.float32).tolist(), default_float=0.0)
        blocks.append(g.op("Reshape", code, shape))
    out = operator.outputs[0].full_name
    container.add_node("Concat" if len(blocks) > 1 else "Identity", blocks, [out],
                       **({"axis": 1} if len(blocks) > 1 else {}))


def _convert_term_weights(scope: Any, operator: Any, container: Any) -> None:
    """Cast(counts, double) * idf, divided by the row's L2 norm (0 rows stay 0), cast to float32."""
    from onnx import TensorProto

    op = operator.raw_operator
    g = _Graph(scope, container)
    idf = scope.get_unique_variable_name("idf")
    container.add_initializer(idf, TensorProto.DOUBLE, [1, len(op.idf)],
                              np.asarray(op.idf, dtype=np.float64).tolist())
    weighted = g.op("Mul", g.op("Cast", operator.inputs[0].full_name, to=TensorProto.DOUBLE), idf)
    if op.norm == "l2":
        norm = g.op("Sqrt", g.op("ReduceSumSquare", weighted, axes=[1], keepdims=1))
        safe = g.where(g.op("Greater", norm, 0.0), norm, 1.0)
        weighted = g.op("Div", weighted, safe)
    container.add_node("Cast", [weighted], [operator.outputs[0].full_name], to=TensorProto.FLOAT)


class _Graph:
    """Elementwise float64 arithmetic on ONNX values, written as nested calls."""

    def __init__(self, scope: Any, container: Any) -> None:
        self.scope, self.container = scope, container
        self._consts: dict[float, str] = {}

    def const(self, value: float) -> str:
        from onnx import TensorProto

        if value not in self._consts:
            name = self.scope.get_unique_variable_name("c")
            self.container.add_initializer(name, TensorProto.DOUBLE, [], [float(value)])
            self._consts[value] = name
        return self._consts[value]

    def op(self, kind: str, *inputs: str | float, **attrs: Any) -> str:
        names = [self.const(v) if isinstance(v, float | int) else v for v in inputs]
        out = self.scope.get_unique_variable_name(kind.lower())
        self.container.add_node(kind, names, [out], **attrs)
        return out

    def floordiv(self, a: str, b: float) -> str:
        return self.op("Floor", self.op("Div", a, b))

    def mod(self, a: str, b: float) -> str:
        return self.op("Sub", a, self.op("Mul", self.floordiv(a, b), b))

    def where(self, cond: str, a: str | float, b: str | float) -> str:
        return self.op("Where", cond, a, b)


def calendar(g: _Graph, seconds: str, reference: float) -> dict[str, str]:
    """Calendar parts (as pandas' ``.dt`` gives them) of float64 epoch seconds; NaN stays NaN."""
    z = g.floordiv(seconds, DAY)  # days since 1970-01-01
    hour = g.floordiv(g.op("Sub", seconds, g.op("Mul", z, DAY)), HOUR)
    dayofweek = g.mod(g.op("Add", z, 3.0), 7.0)  # 1970-01-01 was a Thursday (Monday = 0)
    shifted = g.op("Add", z, EPOCH_SHIFT)
    era = g.floordiv(shifted, 146097.0)
    doe = g.op("Sub", shifted, g.op("Mul", era, 146097.0))  # day of the 400-year era
    yoe = g.floordiv(g.op("Sub", g.op("Add", g.op("Sub", doe, g.floordiv(doe, 1460.0)),
                                      g.floordiv(doe, 36524.0)), g.floordiv(doe, 146096.0)), 365.0)
    doy = g.op("Sub", doe, g.op("Sub", g.op("Add", g.op("Mul", yoe, 365.0), g.floordiv(yoe, 4.0)),
                                g.floordiv(yoe, 100.0)))  # day of the year that starts in March
    mp = g.floordiv(g.op("Add", g.op("Mul", doy, 5.0), 2.0), 153.0)
    march_on = g.op("Less", mp, 10.0)
    month = g.where(march_on, g.op("Add", mp, 3.0), g.op("Sub", mp, 9.0))
    year = g.op("Add", g.op("Add", yoe, g.op("Mul", era, 400.0)), g.where(march_on, 0.0, 1.0))

    def divides(n: float) -> str:
        return g.op("Equal", g.mod(year, n), 0.0)

    leap = g.op("Or", g.op("And", divides(4.0), g.op("Not", divides(100.0))), divides(400.0))
    dayofyear = g.where(march_on, g.op("Add", g.op("Add", doy, 60.0), g.where(leap, 1.0, 0.0)),
                        g.op("Sub", doy, 305.0))
    days = g.op("Div", g.op("Sub", seconds, reference), DAY)
    return {"year": year, "month": month, "dayofweek": dayofweek, "dayofyear": dayofyear,
            "hour": hour, "days": days}


def _convert_date_parts(scope: Any, operator: Any, container: Any) -> None:
    """Epoch seconds ``[N, k]`` -> ``[N, k * parts]`` float32, column by column as `DateParts`."""
    import pandas as pd
    from onnx import TensorProto

    op = operator.raw_operator
    g = _Graph(scope, container)
    names = [v.full_name for v in operator.inputs]
    # Concat, not skl2onnx's FeatureVectorizer: that one rounds to float32 (minutes, at 1.7e9 s)
    seconds = names[0] if len(names) == 1 else g.op("Concat", *names, axis=1)
    seconds = g.op("Cast", seconds, to=TensorProto.DOUBLE)
    reference = pd.Timestamp(op.reference_).value / 1e9
    parts = calendar(g, seconds, reference)
    k, width = len(op.columns_), len(op.parts_)
    stacked = g.op("Concat", *(g.op("Unsqueeze", parts[p], _axes(g, 1)) for p in op.parts_), axis=1)
    by_column = g.op("Transpose", stacked, perm=[0, 2, 1])  # [N, k, parts]: column j's parts together
    shape = scope.get_unique_variable_name("shape")
    container.add_initializer(shape, TensorProto.INT64, [2], [0, k * width])  # 0: keep N
    flat = g.op("Reshape", by_column, shape)
    container.add_node("Cast", [flat], [operator.outputs[0].full_name], to=TensorProto.FLOAT)


def _axes(g: _Graph, axis: int) -> str:
    from onnx import TensorProto

    name = g.scope.get_unique_variable_name("axes")
    g.container.add_initializer(name, TensorProto.INT64, [1], [axis])
    return name

