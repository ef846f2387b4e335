import dataclasses
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from traincycle.config import DataConfig, build, load_stage_config, read_params
from traincycle.errors import ConfigError
from traincycle.split import SplitConfig


@dataclasses.dataclass(frozen=True)
class Inner:
    depth: int = 3


@dataclasses.dataclass(frozen=True)
class Outer:
    lr: float = 0.1
    name: Literal["a", "b"] = "a"
    cols: tuple[str, ...] = ()
    inner: Inner = Inner()
    maybe: int | None = None


def test_build_coerces_types_and_nested():
    cfg = build(Outer, {"lr": 1, "cols": ["x", "y"], "inner": {"depth": 5}, "maybe": 2}, "s")
    assert cfg == Outer(lr=1.0, cols=("x", "y"), inner=Inner(5), maybe=2)
    assert isinstance(cfg.lr, float)


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"lrr": 0.1}, "params s: unknown key 'lrr'; allowed keys: lr, name, cols, inner, maybe"),
        ({"lr": "fast"}, "params s.lr: expected a number, got 'fast'"),
        ({"name": "c"}, "params s.name: expected one of 'a', 'b', got 'c'"),
        ({"cols": "x"}, "params s.cols: expected a list"),
        ({"inner": {"depht": 1}}, "params s.inner: unknown key 'depht'"),
        ({"inner": {"depth": 1.5}}, "params s.inner.depth: expected an integer"),
        ({"maybe": True}, "params s.maybe: expected"),
    ],
)
def test_build_rejects_bad_values(values, needle):
    with pytest.raises(ConfigError, match=None) as err:
        build(Outer, values, "s")
    assert needle in str(err.value)


def test_params_file_errors(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        read_params(bad)
    bad.write_text("dataa: {}\n")
    with pytest.raises(ConfigError, match="unknown params section 'dataa'"):
        read_params(bad)
    with pytest.raises(ConfigError, match="params file not found"):
        read_params(tmp_path / "missing.yaml")
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        read_params(bad)


def test_load_stage_config_reads_sections(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(
        "data: {target: y, task: regression}\nseed: 7\nsplit: {train: 0.8, val: 0.1, test: 0.1}\n"
    )
    data, seed, cfg = load_stage_config(path, "split", SplitConfig)
    assert data == DataConfig(target="y", task="regression")
    assert seed == 7
    assert cfg.train == 0.8


@pytest.mark.parametrize("seed", [-1, 1.5, "x", True])
def test_seed_must_be_non_negative_int(tmp_path, seed):
    path = tmp_path / "params.yaml"
    path.write_text(f"seed: {seed!r}\n".replace("'", ""))
    with pytest.raises(ConfigError, match="params seed"):
        load_stage_config(path, "split", SplitConfig)


@given(st.floats(0.01, 0.98), st.floats(0.01, 0.98))
def test_split_fractions_must_sum_to_one(a, b):
    c = 1.0 - a - b
    if c <= 0 or c >= 1:
        with pytest.raises(ConfigError):
            SplitConfig(train=a, val=b, test=c)
    else:
        assert SplitConfig(train=a, val=b, test=c).train == a
    with pytest.raises(ConfigError, match="must sum to 1"):
        SplitConfig(train=a, val=b, test=min(0.99, c + 0.05) if c > 0 else 0.5)


def test_exponent_floats_written_by_dvc_are_numbers():
    # `dvc exp run -S train.lr=0.00001` writes 1e-05, which PyYAML reads as a string
    assert build(Outer, {"lr": "1e-05"}, "s").lr == 1e-05
    assert build(Outer, {"lr": "-2.5E+3"}, "s").lr == -2500.0
    with pytest.raises(ConfigError, match="expected a number"):
        build(Outer, {"lr": "fast"}, "s")
    with pytest.raises(ConfigError, match="expected a number"):
        build(Outer, {"lr": "1e"}, "s")
