"""Column kinds end to end: a customer table with an id, a date, a category, a boolean, a number
and free text; each kind reaches its featurizer and the date and text carry the signal."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from traincycle.column_kinds import kinds_of
from traincycle.config import DataConfig
from traincycle.errors import ConfigError
from traincycle.featurize import FeaturizeConfig, LabelScanConfig, featurize
from traincycle.ingest import IngestConfig, ingest
from traincycle.split import SplitConfig, split_frame
from traincycle.synth import churn_frame
from traincycle.train import TrainConfig, train


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    path = tmp_path_factory.mktemp("churn") / "customers.csv"
    churn_frame(4000, seed=0).to_csv(path, index=False)
    data = DataConfig(source=str(path), target="churn", task="binary", positive_label="yes")
    df, _ = ingest(data, IngestConfig())
    return df, data


def test_ingest_decides_each_kind(raw) -> None:
    df, data = raw
    assert kinds_of(df.drop(columns="churn"), data) == {
        "customer_id": "identifier", "signup_date": "datetime", "plan": "category",
        "autopay": "boolean", "monthly_spend": "numeric", "note": "text",
    }
    assert str(df["signup_date"].dtype).startswith("datetime64")


def test_overrides_win_and_unknown_columns_are_named(raw) -> None:
    df, data = raw
    over = DataConfig(source=data.source, target="churn", positive_label="yes", kinds={"note": "category"})
    assert kinds_of(df, over)["note"] == "category"
    bad = DataConfig(source=data.source, target="churn", positive_label="yes", kinds={"nope": "text"})
    with pytest.raises(ConfigError, match=r"data\.kinds: column 'nope'"):
        ingest(bad, IngestConfig())


def test_score(raw) -> None:
    df, data = raw
    full, names = auc(df, data, ())
    assert any(n.startswith("signup_date_dayofweek") for n in names)
    assert any(n.startswith("note_") for n in names) and "note_refund" in names
    assert "autopay" in names and any(n.startswith("plan_") for n in names) and "monthly_spend" in names
    assert not any(n.startswith("customer_id") for n in names)
    assert len([n for n in names if n.startswith("note_")]) <= FeaturizeConfig().text_column_terms
    without, _ = auc(df, data, ("signup_date", "note"))
    assert full > without + 0.05, (full, without)


def auc(df, data, drop) -> tuple[float, list[str]]:
    parts, _ = split_frame(df, data, SplitConfig(), seed=0)
    cfg = FeaturizeConfig(drop_columns=drop, label_scan=LabelScanConfig(enabled=False))
    fz, processed, _, _ = featurize(parts, data, cfg, 0)
    model, _, _ = train(processed["train"], processed["val"], fz.meta, data, TrainConfig(model="logistic"), 0)
    test = processed["test"]
    proba = model.predict_proba(model.as_matrix(test[model.feature_names]))[:, 1]
    return float(roc_auc_score(np.asarray(test[data.target]) == 1, proba)), list(fz.feature_names)


@pytest.fixture(scope="module")
def shipped(raw, tmp_path_factory):
    """The churn model through featurize, train and optimize, written as a model directory."""
    from traincycle.io import write_bytes, write_json
    from traincycle.optimize import MANIFEST_FILE, MODEL_FILE, Inputs, OptimizeConfig, manifest, optimize

    df, data = raw
    parts, _ = split_frame(df, data, SplitConfig(), seed=0)
    cfg = FeaturizeConfig(label_scan=LabelScanConfig(enabled=False))
    fz, processed, _, _ = featurize(parts, data, cfg, 0)
    model, _, _ = train(processed["train"], processed["val"], fz.meta, data, TrainConfig(model="xgboost"), 0)
    variants, chosen, _ = optimize(Inputs(fz, model, processed["val"], parts["val"]),
                                  OptimizeConfig(choose="float"), 0)
    out = tmp_path_factory.mktemp("optimized")
    write_bytes(chosen.onnx, out / MODEL_FILE)
    _, provenance = ingest(data, IngestConfig())
    write_json(manifest(chosen, fz, model, "0" * 64, provenance["parsing"]), out / MANIFEST_FILE)
    return fz, model, variants, out


def test_optimize_exports_every_kind_behind_the_parity_gate(shipped) -> None:
    import json

    from traincycle.optimize import FLOAT, MANIFEST_FILE

    _fz, _model, variants, out = shipped
    exported = next(v for v in variants if v.name == FLOAT)
    assert exported.verdict["accepted"], exported.verdict
    assert exported.figures["max_prob_diff"] < 1e-4
    text = (out / MANIFEST_FILE).read_text()
    inputs = {c["name"]: (c["kind"], c["dtype"]) for c in json.loads(text)["inputs"]}
    assert inputs == {"signup_date": ("datetime", "datetime"), "plan": ("categorical", "category"),
                      "autopay": ("numeric", "bool"), "monthly_spend": ("numeric", "float64"),
                      "note": ("text", "text")}
    assert len(text) < 3000  # no value lists for dates, notes or ids


def test_predict_and_serve_score_raw_rows_like_their_ingested_twins(raw, shipped, tmp_path) -> None:
    import pandas as pd

    from traincycle.featurize import transform
    from traincycle.inputs import PredictConfig
    from traincycle.predict import load_predictor, predict_file

    df, data = raw
    fz, model, _variants, out = shipped
    sent = pd.read_csv(data.source).head(300)  # ISO date strings, yes/no, free text, an id
    sent.loc[3, "note"] = None
    twins = df.head(300).copy()
    twins.loc[3, "note"] = None
    native = model.scores(transform(fz, twins))[:, 1]
    sent.to_csv(tmp_path / "new.csv", index=False)
    outcome = predict_file(out, tmp_path / "new.csv", tmp_path / "scored.csv")
    scored = pd.read_csv(tmp_path / "scored.csv")
    np.testing.assert_allclose(scored["proba_yes"].to_numpy(), native, atol=1e-5)
    assert outcome.counts["missing"] == 1 and scored["flags"].iloc[3] == "missing:note"
    rows = sent.drop(columns=["churn", "customer_id"]).head(20)
    body = rows.assign(autopay=rows["autopay"] == "yes").to_json(orient="records")  # JSON booleans
    pred = load_predictor(out)
    batch = pred.intake(PredictConfig()).parse_request(
        f'{{"rows": {body}}}'.encode(), "application/json", 100)
    np.testing.assert_allclose(pred.scores(batch.screened)[:, 1], native[:20], atol=1e-5)


def test_drafted_schema_is_short_and_lists_no_ids_dates_or_notes(raw, tmp_path) -> None:
    from traincycle.schema import infer_schema, render_schema
    from traincycle.validate import ValidateConfig, gate, validate_frame

    df, data = raw
    schema, observed = infer_schema(df, target="churn")
    assert len(render_schema(schema, observed).splitlines()) < 100
    assert schema.columns["customer_id"].kind == "identifier" and schema.columns["note"].values is None
    outcomes, _ = validate_frame(df, schema, data, ValidateConfig())
    gate(outcomes)
    assert {o.check.name for o in outcomes} >= {"unique:customer_id", "dtype:signup_date"}
    twin = df.copy()
    twin.loc[1, "customer_id"] = twin.loc[0, "customer_id"]
    bad = {o.check.name for o in validate_frame(twin, schema, data, ValidateConfig())[0] if not o.success}
    assert bad == {"unique:customer_id"}


def test_raw_rows_as_users_send_them_score_like_their_ingested_twins(raw, tmp_path) -> None:
    import pandas as pd

    from traincycle.featurize import fit_featurizer, load_featurizer, save_featurizer, transform

    df, data = raw
    fz = fit_featurizer(df, data, FeaturizeConfig(label_scan=LabelScanConfig(enabled=False)))
    save_featurizer(fz, tmp_path / "fz.skops", tmp_path / "fz.json")
    back = load_featurizer(tmp_path / "fz.skops")
    sent = pd.read_csv(data.source).head(40)  # ISO date strings, yes/no, free text
    pd.testing.assert_frame_equal(transform(back, sent), transform(fz, df.head(40)))
