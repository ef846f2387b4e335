"""traincycle predict: schema checks with one-line errors, streaming, atomic output."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from traincycle.errors import DataError
from traincycle.predict import load_predictor, predict_file

from conftest import write_optimized_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """An optimised model directory (float ONNX + manifest) and raw val rows."""
    return write_optimized_model(tmp_path_factory.mktemp("optimized"))


def test_scores_csv_and_parquet_in_batches(model_dir, tmp_path: Path) -> None:
    root, rows = model_dir
    rows.to_csv(tmp_path / "rows.csv", index=False)
    rows.to_parquet(tmp_path / "rows.parquet")
    n = predict_file(root, tmp_path / "rows.csv", tmp_path / "out.csv", batch_rows=7)
    m = predict_file(root, tmp_path / "rows.parquet", tmp_path / "out.parquet", batch_rows=7)
    assert n == m == len(rows)
    csv_out, pq_out = pd.read_csv(tmp_path / "out.csv"), pd.read_parquet(tmp_path / "out.parquet")
    assert list(csv_out.columns) == ["label", "proba_<=50K", "proba_>50K"]
    assert len(csv_out) == len(rows)
    pd.testing.assert_series_equal(csv_out["proba_>50K"], pq_out["proba_>50K"], atol=1e-6)
    assert set(csv_out["label"]) <= {"<=50K", ">50K"}
    whole = predict_file(root, tmp_path / "rows.csv", tmp_path / "whole.csv")
    assert whole == n
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "whole.csv"), csv_out)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d.drop(columns="sex"), "column 'sex' is missing"),
        (lambda d: d.assign(age=d["age"].astype(object).where(d.index != 3, "old")),
         "column 'age' row 3: expected a number"),
        (lambda d: d.assign(race=d["race"].astype(object).where(d.index != 2, "Martian")),
         "column 'race' row 2: unseen category 'Martian'"),
    ],
)
def test_bad_input_is_a_one_line_error_naming_column_and_row(model_dir, tmp_path: Path, mutate,
                                                             needle: str) -> None:
    root, rows = model_dir
    mutate(rows.head(6).copy()).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=needle):
        predict_file(root, tmp_path / "bad.csv", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_empty_files_and_cli_exit_code(model_dir, tmp_path: Path) -> None:
    from traincycle.cli import main

    root, rows = model_dir
    (tmp_path / "empty.csv").write_text("")
    rows.head(0).to_csv(tmp_path / "header.csv", index=False)
    for name, needle in (("empty.csv", "empty"), ("header.csv", "no rows")):
        with pytest.raises(DataError, match=needle):
            predict_file(root, tmp_path / name, tmp_path / "out.csv")
    result = CliRunner().invoke(main, ["predict", str(root), str(tmp_path / "empty.csv"),
                                       "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 2
    assert "empty.csv: the file is empty" in result.output
    header = CliRunner().invoke(main, ["predict", str(root), str(tmp_path / "header.csv"), "-o",
                                   str(tmp_path / "o.parquet")])
    assert header.exit_code == 2 and "no rows to score" in header.output


def test_tampered_model_is_refused(model_dir, tmp_path: Path) -> None:
    import shutil

    root, _rows = model_dir
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    (copy / "model.onnx").write_bytes((copy / "model.onnx").read_bytes() + b"x")
    with pytest.raises(DataError, match="sha256"):
        load_predictor(copy)
