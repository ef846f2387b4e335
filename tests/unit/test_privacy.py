"""The privacy scan: detectors, column findings, policy decisions and keyed hashing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traincycle.config import DataConfig, build
from traincycle.errors import ConfigError, GateFailed
from traincycle.privacy import (
    PrivacyConfig,
    decide,
    keyed_hash,
    luhn,
    name_kinds,
    scan,
    screen,
    value_kinds,
    warnings,
)

from conftest import make_frame

KEY = {"TRAINCYCLE_PRIVACY_KEY": "k" * 32}
DATA = DataConfig(target="income", sensitive=("sex", "race"))


@pytest.mark.parametrize(("value", "kind"), [
    ("john.doe@example.com", "email"),
    ("write to ana+news@mail.example.org today", "email"),
    ("+44 20 7946 0958", "phone"),
    ("(415) 555-0123", "phone"),
    ("4111 1111 1111 1111", "credit_card"),
    ("5500-0000-0000-0004", "credit_card"),
    ("GB82 WEST 1234 5698 7654 32", "iban"),
    ("DE89370400440532013000", "iban"),
    ("192.168.1.20", "ip_address"),
    ("2001:db8::8a2e:370:7334", "ip_address"),
    ("123-45-6789", "national_id"),
    ("AB 12 34 56 C", "national_id"),
])
def test_detectors_find_each_kind(value, kind):
    assert value_kinds(value) == {kind}


@pytest.mark.parametrize("value", [
    "Self-emp-not-inc", "United-States", "2024-01-31", "10/12/2020", "12:30", "3.14", "version 1.2.3",
    "1999-2000", "4111 1111 1111 1112",  # Luhn fails
    "DE89370400440532013001",  # mod-97 fails
    "999.1.1.1", "000-12-3456", "1,234,567", "ISBN 978-3-16-148410-0",
])
def test_detectors_ignore_lookalikes(value):
    assert value_kinds(value) == set()


def test_luhn():
    assert luhn("79927398713") and not luhn("79927398710")


@pytest.mark.parametrize(("name", "kinds"), [
    ("email", {"email"}), ("EmailAddress", {"email"}), ("customer_name", {"person_name"}),
    ("phone_number", {"phone"}), ("ssn", {"national_id"}), ("native_country", set()),
    ("hours_per_week", set()), ("pipeline", set()), ("tip_amount", set()),
])
def test_column_name_hints(name, kinds):
    assert name_kinds(name) == kinds


def planted(n: int = 120) -> pd.DataFrame:
    df = make_frame(n)
    first = ["Ana", "Ben", "Carla", "David", "Eva", "Farid"]
    last = ["Smith", "Okafor", "Nguyen", "Garcia", "Kowalski"]
    df["contact"] = [f"user{i}@example.com" for i in range(n)]
    df["who"] = [f"{first[i % 6]} {last[i % 5]}{'son' * (i // 30)}" for i in range(n)]
    df["ref"] = [f"R{i:05d}" for i in range(n)]
    return df


def test_scan_finds_planted_columns_and_nothing_in_clean_ones():
    found = {(f.column, f.kind, f.evidence) for f in scan(planted(), DATA, PrivacyConfig())}
    assert found == {
        ("contact", "email", "values"), ("contact", "identifier", "values"),
        ("who", "person_name", "values"), ("who", "identifier", "values"), ("ref", "identifier", "values"),
    }
    assert scan(make_frame(400), DATA, PrivacyConfig()) == []


def test_a_name_hint_on_a_small_code_column_warns_and_real_values_still_fail():
    """German credit's `telephone` ("none" / "yes, registered ...") is a code, not phone numbers."""
    df = make_frame(200)
    df["telephone"] = np.where(np.arange(200) % 3 == 0, "yes, registered under the customers name", "none")
    df["product_name"] = np.array(["basic", "plus", "pro", "team"])[np.arange(200) % 4]
    out, decisions = screen(df, DATA, PrivacyConfig(), KEY)
    assert out is df
    assert [(d.column, d.action) for d in decisions] == [("telephone", "warn"), ("product_name", "warn")]
    assert [f.evidence for d in decisions for f in d.findings] == ["name_only", "name_only"]
    lines = warnings(decisions)
    assert lines[0] == (
        "column 'telephone' is named like phone numbers but none of its 2 distinct values looks like one: "
        "kept; set validate.privacy.columns.telephone to drop (or allow, to silence this)")
    with pytest.raises(GateFailed, match="'telephone'"):  # a kind rule still applies
        screen(df, DATA, build(PrivacyConfig, {"kinds": {"phone": "fail"}}, "p"), KEY)
    df["telephone"] = np.where(np.arange(200) % 2 == 0, "+44 20 7946 0958", "+44 20 7946 0959")
    with pytest.raises(GateFailed, match="'telephone' looks like phone numbers"):  # values agree: fails
        screen(df, DATA, PrivacyConfig(), KEY)
    df["telephone"] = [f"0{i:03d} {i * 7 % 1000:03d}" for i in range(200)]  # many values: not a code
    with pytest.raises(GateFailed, match="'telephone'"):
        screen(df, DATA, PrivacyConfig(), KEY)


def test_default_fails_naming_column_and_kind_never_the_value():
    with pytest.raises(GateFailed) as err:
        screen(planted(), DATA, PrivacyConfig(), KEY)
    message = str(err.value)
    assert "'contact'" in message and "e-mail" in message and "'who'" in message
    assert "@example.com" not in message and "Smith" not in message
    assert "\n" not in message


def test_identifier_like_columns_are_warnings_unless_params_say_fail():
    df = planted().drop(columns=["contact", "who"])
    out, decisions = screen(df, DATA, PrivacyConfig(), KEY)
    assert out is df and [(d.column, d.action) for d in decisions] == [("ref", "warn")]
    with pytest.raises(GateFailed, match="'ref'"):
        screen(df, DATA, build(PrivacyConfig, {"kinds": {"identifier": "fail"}}, "p"), KEY)
    declared = DataConfig(target="income", sensitive=("sex", "race"), id_columns=("ref",))
    assert screen(df, declared, PrivacyConfig(), KEY)[1] == []


def test_drop_hash_and_allow():
    data = DataConfig(target="income", sensitive=("sex", "race"), id_columns=("contact",))
    rules = {"columns": {"contact": "hash", "who": "allow"}, "kinds": {"identifier": "drop"}}
    cfg = build(PrivacyConfig, rules, "p")
    df = planted()
    out, decisions = screen(df, data, cfg, KEY)
    assert {d.column: d.action for d in decisions} == {"contact": "hash", "who": "allow", "ref": "drop"}
    assert "ref" not in out.columns and out["who"].equals(df["who"])
    assert out["contact"].str.fullmatch(r"[0-9a-f]{32}").all() and out["contact"].is_unique
    again, _ = screen(df, data, cfg, KEY)
    assert again["contact"].equals(out["contact"])  # deterministic for one key
    other, _ = screen(df, data, cfg, {"TRAINCYCLE_PRIVACY_KEY": "x" * 32})
    assert not (other["contact"] == out["contact"]).any()
    assert "contact" in df.columns and df["contact"].str.contains("@").all()  # the input is untouched


def test_hash_keeps_missing_values():
    hashed = keyed_hash(pd.Series(["a", None, "b"]), b"k" * 16)
    assert hashed.isna().tolist() == [False, True, False]


@pytest.mark.parametrize(("cfg", "data", "env", "needle"), [
    ({"columns": {"contact": "hash"}}, DataConfig(id_columns=("contact",)), {}, "$TRAINCYCLE_PRIVACY_KEY"),
    ({"columns": {"contact": "hash"}}, DataConfig(id_columns=("contact",)),
     {"TRAINCYCLE_PRIVACY_KEY": "short"}, "shorter than 16 bytes"),
    ({"columns": {"contact": "hash"}}, DataConfig(), KEY, "list it in data.id_columns"),
    ({"columns": {"nope": "drop"}}, DataConfig(), KEY, "'nope' is not in the data"),
    ({"columns": {"sex": "drop"}}, DataConfig(sensitive=("sex",)), KEY, "cannot drop 'sex'"),
])
def test_impossible_rules_are_config_errors(cfg, data, env, needle):
    df = planted()[["contact", "sex", "income"]]
    with pytest.raises(ConfigError) as err:
        screen(df, data, build(PrivacyConfig, cfg, "validate.privacy"), env)
    assert needle in str(err.value)


def test_params_reject_unknown_kinds_and_allow_by_kind():
    with pytest.raises(ConfigError, match="unknown kind 'postcode'"):
        build(PrivacyConfig, {"kinds": {"postcode": "drop"}}, "validate.privacy")
    with pytest.raises(ConfigError, match=r"validate\.privacy\.kinds\.email"):
        build(PrivacyConfig, {"kinds": {"email": "allow"}}, "validate.privacy")


def test_decide_is_per_column_strongest_action():
    findings = scan(planted(), DATA, PrivacyConfig())
    cfg = build(PrivacyConfig, {"kinds": {"person_name": "drop", "email": "drop"}}, "p")
    decisions = {d.column: d.action for d in decide(findings, planted().columns, DATA, cfg)}
    assert decisions == {"contact": "drop", "who": "drop", "ref": "warn"}  # drop beats warn
