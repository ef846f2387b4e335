"""traincycle predict: ingest's parsing, flags instead of refusals, one-line errors, streaming."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from traincycle.errors import ConfigError, DataError
from traincycle.inputs import PredictConfig
from traincycle.predict import load_predictor, predict_file

from conftest import tiny_pipeline, write_optimized_model

PROBA = "proba_>50K"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """An optimised model directory (float ONNX + manifest) and raw val rows."""
    return write_optimized_model(tmp_path_factory.mktemp("optimized"))


def as_source(rows: pd.DataFrame, path: Path, header: list[str] | None = None) -> Path:
    """Rows written the way the Adult source is: ', ' separated, '?' for missing values."""
    out = rows.astype(object).where(rows.notna(), "?")
    out.columns = header or list(rows.columns)
    path.write_text(out.to_csv(index=False).replace(",", ", "))
    return path


def test_scores_csv_and_parquet_in_batches(model_dir, tmp_path: Path) -> None:
    root, rows = model_dir
    rows.to_csv(tmp_path / "rows.csv", index=False)
    rows.to_parquet(tmp_path / "rows.parquet")
    n = predict_file(root, tmp_path / "rows.csv", tmp_path / "out.csv", batch_rows=7)
    m = predict_file(root, tmp_path / "rows.parquet", tmp_path / "out.parquet", batch_rows=7)
    assert n.rows == m.rows == len(rows) and n.flagged == m.flagged
    csv_out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    pq_out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(csv_out.columns) == ["row", "label", "proba_<=50K", PROBA, "confidence", "flags"]
    assert csv_out["row"].tolist() == list(range(len(rows)))
    np.testing.assert_allclose(csv_out["confidence"], csv_out[["proba_<=50K", PROBA]].max(axis=1))
    assert len(csv_out) == len(rows)
    pd.testing.assert_series_equal(csv_out[PROBA], pq_out[PROBA], atol=1e-6)
    assert set(csv_out["label"]) <= {"<=50K", ">50K"}
    missing = rows["age"].isna() | rows["education"].isna()
    assert n.flagged == missing.sum() > 0
    assert (csv_out["flags"] != "").tolist() == missing.tolist()
    assert csv_out["flags"][missing.to_numpy()].str.contains("missing:").all()
    whole = predict_file(root, tmp_path / "rows.csv", tmp_path / "whole.csv")
    assert whole.rows == n.rows
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "whole.csv", keep_default_na=False), csv_out)


def test_source_format_and_original_header_score_as_the_clean_rows(model_dir, tmp_path: Path) -> None:
    """'?' markers, blanks after separators and the source's own header names are read as
    ingest read them: the scores equal those of the typed rows."""
    root, rows = model_dir
    rows = rows.drop(columns="income")
    rows.to_parquet(tmp_path / "clean.parquet")
    header = ["Age", "Hours-per-week", "Education", "SEX", "race"]
    as_source(rows, tmp_path / "source.csv", header)
    assert "?" in (tmp_path / "source.csv").read_text()
    clean = predict_file(root, tmp_path / "clean.parquet", tmp_path / "clean.csv")
    source = predict_file(root, tmp_path / "source.csv", tmp_path / "source_out.csv")
    a = pd.read_csv(tmp_path / "clean.csv", keep_default_na=False)
    b = pd.read_csv(tmp_path / "source_out.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(a, b)
    assert clean.counts == source.counts


def test_unknown_category_and_out_of_range_are_flagged_and_scored_like_evaluate(model_dir, tmp_path):
    from traincycle.featurize import transform

    root, rows = model_dir
    rows = rows.head(6).drop(columns="income").copy()
    rows["race"] = rows["race"].astype(object)
    rows.loc[2, "race"] = "Martian"
    rows.loc[4, "hours_per_week"] = 200
    as_source(rows, tmp_path / "odd.csv")
    out = predict_file(root, tmp_path / "odd.csv", tmp_path / "out.csv")
    scored = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert "unknown_category:race" in scored["flags"][2]
    assert "out_of_range:hours_per_week" in scored["flags"][4]
    assert out.counts["unknown_category"] == 1 and out.counts["out_of_range"] == 1
    fz, model, _processed, _raw = tiny_pipeline("logistic")  # the fixture's model, refitted alike
    typed = rows.copy()
    for col in ("education", "sex", "race"):
        typed[col] = typed[col].astype("category")
    native = model.predict_proba(transform(fz, typed))[:, 1]
    np.testing.assert_allclose(scored[PROBA], native, atol=1e-5)


@pytest.mark.parametrize(
    ("mutate", "cfg", "needle"),
    [
        (lambda d: d.drop(columns="sex"), PredictConfig(), "column 'sex' is missing"),
        (lambda d: d.assign(age=d["age"].astype(object).where(d.index != 3, "old")), PredictConfig(),
         "column 'age' row 3: expected a number"),
        (lambda d: d.assign(race=d["race"].astype(object).where(d.index != 2, "Martian")),
         PredictConfig(unknown="error"), "column 'race' row 2: unseen category 'Martian'"),
        (lambda d: d.assign(age=d["age"].where(d.index != 1, 130)), PredictConfig(unknown="error"),
         "column 'age' row 1: 130 is outside the schema range [18, 79]"),
    ],
)
def test_refusals_are_one_line_errors_naming_column_and_row(model_dir, tmp_path: Path, mutate, cfg,
                                                            needle: str) -> None:
    root, rows = model_dir
    mutate(rows.head(6).copy()).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=re.escape(needle)):
        predict_file(root, tmp_path / "bad.csv", tmp_path / "out.csv", cfg=cfg)
    assert not (tmp_path / "out.csv").exists()


def test_absent_column_imputed_when_params_allow(model_dir, tmp_path: Path) -> None:
    root, rows = model_dir
    rows.head(5).drop(columns="sex").to_csv(tmp_path / "rows.csv", index=False)
    out = predict_file(root, tmp_path / "rows.csv", tmp_path / "out.csv",
                       cfg=PredictConfig(missing_columns="impute"))
    flags = pd.read_csv(tmp_path / "out.csv")["flags"]
    assert out.flagged == 5 and flags.str.contains("missing_column:sex").all()


def test_cli_summary_policy_and_params(model_dir, tmp_path: Path, monkeypatch) -> None:
    from traincycle.cli import main

    root, rows = model_dir
    odd = rows.head(4).copy()
    odd["race"] = odd["race"].astype(object)
    odd.loc[1, "race"] = "Martian"
    odd.to_csv(tmp_path / "rows.csv", index=False)
    monkeypatch.chdir(tmp_path)
    args = ["predict", str(root), "rows.csv", "-o", "out.csv"]
    flagged = CliRunner().invoke(main, args)
    assert flagged.exit_code == 0, flagged.output
    assert "predict: flagged 1 of 4 rows (25.00%): unknown_category 1" in flagged.stderr
    refused = CliRunner().invoke(main, [*args, "--unknown", "error"])
    assert refused.exit_code == 2 and "unseen category 'Martian'" in refused.output
    (tmp_path / "params.yaml").write_text("predict:\n  unknown: error\n")
    assert CliRunner().invoke(main, args).exit_code == 2  # ./params.yaml read by default
    (tmp_path / "params.yaml").write_text("predict:\n  unknwon: error\n")
    typo = CliRunner().invoke(main, args)
    assert typo.exit_code == 2 and "params predict: unknown key 'unknwon'" in typo.output


def test_params_section_is_typed() -> None:
    from traincycle.config import build

    with pytest.raises(ConfigError, match=r"predict\.unknown: expected one of 'flag', 'error'"):
        build(PredictConfig, {"unknown": "ignore"}, "predict")


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
    missing = CliRunner().invoke(main, ["predict", str(root), str(tmp_path / "nope.parquet"), "-o",
                                        str(tmp_path / "o.parquet")])
    assert missing.exit_code == 2 and "nope.parquet: file not found" in missing.output


def test_tampered_model_is_refused(model_dir, tmp_path: Path) -> None:
    import shutil

    root, _rows = model_dir
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    (copy / "model.onnx").write_bytes((copy / "model.onnx").read_bytes() + b"x")
    with pytest.raises(DataError, match="sha256"):
        load_predictor(copy)
