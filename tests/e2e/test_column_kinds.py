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


def test_optimize_refuses_date_and_text_in_one_line(raw) -> None:
    from traincycle.featurize import fit_featurizer
    from traincycle.optimize import check_exportable

    df, data = raw
    fz = fit_featurizer(df, data, FeaturizeConfig(label_scan=LabelScanConfig(enabled=False)))

    class Model:
        family, feature_names = "logistic", fz.feature_names

    with pytest.raises(ConfigError, match="column 'signup_date' is a datetime column") as info:
        check_exportable(fz, Model())
    assert "\n" not in str(info.value)


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
