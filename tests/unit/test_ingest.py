import pandas as pd
import pytest

from traincycle.config import DataConfig
from traincycle.errors import ConfigError, DataError
from traincycle.ingest import IngestConfig, ingest
from traincycle.parsing import snake_case, tidy


def data_for(path, **kw) -> DataConfig:
    return DataConfig(**{"source": str(path), "target": "income", **kw})


def test_builtin_adult_is_complete_and_clean():
    df, prov = ingest(DataConfig(sensitive=("sex", "race")), IngestConfig())
    assert df.shape == (48842, 15)
    assert set(df["income"].cat.categories) == {"<=50K", ">50K"}
    assert isinstance(df["workclass"].dtype, pd.CategoricalDtype)
    assert df["workclass"].isna().sum() > 0  # '?' read as missing
    assert prov["rows"] == 48842 and set(prov["sha256"]) == {"adult.data.gz", "adult.test.gz"}


def test_builtin_unknown_name():
    with pytest.raises(ConfigError, match="unknown built-in dataset 'nope'; available: builtin:adult"):
        ingest(DataConfig(source="builtin:nope"), IngestConfig())


@pytest.mark.parametrize(
    ("name", "raw", "needle"),
    [
        ("empty.csv", b"", "file is empty"),
        ("header.csv", b"age,income\n", "has a header but no rows"),
        ("dupes.csv", b"age,age,income\n1,2,a\n", "duplicate column name 'age'"),
        ("semi.csv", b"age;income\n1;a\n2;b\n", "looks delimited by something else"),
        ("latin.csv", "age,income\n1,caf\xe9\n".encode("latin-1"), "not utf-8 text"),
        ("notarget.csv", b"age,label\n1,a\n2,b\n", "target column 'income'"),
        ("oneclass.csv", b"age,income\n1,a\n2,a\n", "single class 'a'"),
        ("allnan.csv", b"age,income\n1,\n2,\n", "has no values"),
        ("ragged.csv", b"age,income\n1,a\n2,b,c,d\n", "not a readable CSV"),
        ("bad.parquet", b"PAR1garbage", "not a readable Parquet file"),
    ],
)
def test_bad_sources_give_clear_errors(tmp_path, name, raw, needle):
    path = tmp_path / name
    path.write_bytes(raw)
    with pytest.raises(DataError) as err:
        ingest(data_for(path), IngestConfig())
    assert needle in str(err.value)
    assert name in str(err.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        ingest(data_for(tmp_path / "nope.csv"), IngestConfig())
    with pytest.raises(DataError, match="is a directory"):
        ingest(data_for(tmp_path), IngestConfig())


def test_relative_paths_stay_inside_the_repository(tmp_path, frame, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    frame.to_csv(tmp_path / "outside.csv", index=False)
    monkeypatch.chdir(repo)
    with pytest.raises(ConfigError, match="leads outside the repository"):
        ingest(DataConfig(source="../outside.csv"), IngestConfig())
    df, _ = ingest(DataConfig(source=str(tmp_path / "outside.csv")), IngestConfig())
    assert len(df) == len(frame)


def test_csv_and_parquet_sources_agree(tmp_path, frame):
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    a, prov = ingest(data_for(tmp_path / "d.csv"), IngestConfig())
    b, _ = ingest(data_for(tmp_path / "d.parquet"), IngestConfig())
    pd.testing.assert_frame_equal(a, b, check_categorical=False)
    assert prov["sha256"]["d.csv"]


def test_sensitive_column_must_exist(tmp_path, frame):
    frame.to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(DataError, match="column 'gender' named in params data not found"):
        ingest(data_for(tmp_path / "d.csv", sensitive=("gender",)), IngestConfig())


def test_sensitive_column_needs_two_groups(tmp_path, frame):
    frame.assign(sex="Female").to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(DataError, match="sensitive column 'sex' has a single group \\('Female'\\)"):
        ingest(data_for(tmp_path / "d.csv", sensitive=("sex",)), IngestConfig())


def test_tidy_names_and_categories():
    df = pd.DataFrame({"Hours-per-week ": [1, 2], "maritalStatus": [" a", "b "]})
    out = tidy(df, "x")
    assert list(out.columns) == ["hours_per_week", "marital_status"]
    assert list(out["marital_status"].cat.categories) == ["a", "b"]
    assert snake_case("capitalGain") == "capital_gain"
    with pytest.raises(DataError, match="several columns become 'a_b'"):
        tidy(pd.DataFrame({"a b": [1], "a-b": [2]}), "x")


def test_max_rows_and_config_checks():
    df, _ = ingest(DataConfig(), IngestConfig(max_rows=1000))
    assert len(df) == 1000
    with pytest.raises(ConfigError, match=r"ingest\.delimiter"):
        IngestConfig(delimiter=";;")
