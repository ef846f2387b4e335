import pandas as pd

from traincycle.synth import write_synthetic


def test_synthetic_data_is_seeded_and_shaped(tmp_path):
    a = write_synthetic(tmp_path / "a.parquet", rows=5000, cols=12, seed=3)
    b = write_synthetic(tmp_path / "b.parquet", rows=5000, cols=12, seed=3)
    assert a.read_bytes() == b.read_bytes()
    df = pd.read_parquet(a)
    assert df.shape == (5000, 13)
    assert set(df["income"].cat.categories) == {"<=50K", ">50K"}
    assert 0.1 < (df["income"] == ">50K").mean() < 0.5
    assert df["occupation"].isna().mean() > 0.01
    other = pd.read_parquet(write_synthetic(tmp_path / "c.parquet", rows=5000, cols=12, seed=4))
    assert not other.equals(df)


def test_fewer_columns_keep_the_label(tmp_path):
    df = pd.read_parquet(write_synthetic(tmp_path / "s.parquet", rows=100, cols=3))
    assert list(df.columns) == ["age", "hours_per_week", "capital_gain", "income"]
