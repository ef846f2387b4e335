"""Privacy scan: personal data in column names and values, and what to do with each finding.

`scan` looks at every column's name and at up to `max_values` of its distinct values (in
order of first appearance, so the scan is deterministic) for e-mail addresses, phone
numbers, payment cards (prefix + Luhn), IBANs (mod-97), IP addresses, national ids (US SSN,
UK NINO) and person names, and flags undeclared identifier-like columns (a distinct short
value on every row). Detection is offline and pattern based: person names in values are
found only as a column of "Given Family" words, so name hints in column names matter.

Each finding gets an action from params `validate.privacy`: the column's own rule, else its
kind's, else the default (`fail`). `fail` stops validate (exit 3) before anything is
written, naming the column and the kind, never a value; `drop` removes the column; `hash`
replaces every value by a keyed HMAC-SHA256 (key from an environment variable, never from
params) and is only for declared identifiers (`data.id_columns`), since predict/serve inputs
are never hashed; `allow` keeps the column as it is and must name the column explicitly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import itertools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Literal

import pandas as pd

from traincycle.config import DataConfig, check_range
from traincycle.errors import ConfigError, GateFailed
from traincycle.parsing import snake_case

Action = Literal["fail", "drop", "hash", "allow"]
#: `warn` (reported, kept) is what an identifier-like column gets unless params say otherwise
Decided = Literal["fail", "drop", "hash", "allow", "warn"]
KINDS = (
    "email", "phone", "credit_card", "iban", "ip_address", "national_id", "person_name", "identifier",
)
#: the strongest action wins when one column has several findings
STRENGTH = {"allow": 0, "warn": 1, "hash": 2, "drop": 3, "fail": 4}
LISTED = 3
MIN_KEY_BYTES = 16


@dataclasses.dataclass(frozen=True)
class PrivacyConfig:
    """Params `validate.privacy`."""

    #: action for a personal-data finding that no column or kind rule covers (identifier-like
    #: columns are leakage candidates: reported unless `kinds: {identifier: ...}` says otherwise)
    default: Literal["fail", "drop", "hash"] = "fail"
    #: per-column action, e.g. {email: drop, customer_id: hash, notes: allow}; applied even without a finding
    columns: dict[str, Action] = dataclasses.field(default_factory=dict)
    #: per-kind action (allow is only given column by column), e.g. {ip_address: drop}
    kinds: dict[str, Literal["fail", "drop", "hash"]] = dataclasses.field(default_factory=dict)
    #: environment variable holding the HMAC key for `hash` (never written to params or outputs)
    key_env: str = "TRAINCYCLE_PRIVACY_KEY"
    #: distinct values scanned per column (first seen first)
    max_values: int = 10000
    #: a value kind is flagged when at least this share of the scanned values match (0: any match)
    min_share: float = 0.0
    #: identifier-like columns need at least this many rows (tiny tables are all-unique by chance)
    min_identifier_rows: int = 50

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ConfigError(
                f"params validate.privacy.kinds: unknown kind {unknown[0]!r}; allowed: {', '.join(KINDS)}"
            )
        check_range("validate.privacy.max_values", self.max_values, 1)
        check_range("validate.privacy.min_share", self.min_share, 0.0, 1.0)
        check_range("validate.privacy.min_identifier_rows", self.min_identifier_rows, 2)
        if not self.key_env.strip():
            raise ConfigError("params validate.privacy.key_env: expected an environment variable name")


@dataclasses.dataclass(frozen=True)
class Finding:
    """Personal data (or an identifier) found in one column; holds counts, never values."""

    column: str
    kind: str
    #: `name` (the column name hints at it), `values` (scanned values match), or `name_only`
    #: (the name hints at it but the column is a small code none of whose values match)
    evidence: Literal["name", "values", "name_only"]
    hits: int
    scanned: int

    def describe(self) -> str:
        what = {
            "email": "e-mail addresses", "phone": "phone numbers", "credit_card": "payment card numbers",
            "iban": "IBANs", "ip_address": "IP addresses", "national_id": "national id numbers",
            "person_name": "person names", "identifier": "an identifier (a distinct value per row)",
        }[self.kind]
        if self.evidence == "name":
            return f"column {self.column!r} looks like {what} (its name)"
        if self.evidence == "name_only":
            return (f"column {self.column!r} is named like {what} but none of its {self.scanned} "
                    "distinct values looks like one")
        return f"column {self.column!r} holds {what} ({self.hits} of {self.scanned} distinct values scanned)"


# --- value detectors: a candidate pattern plus a validator on the match --------------------------

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
#: international (+CC ...) or grouped national numbers; 9 to 15 digits (E.164), at least one separator
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?!\w)")
CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|6(?:011|5)|35")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
SSN = re.compile(r"(?<![\d-])(\d{3})[- ](\d{2})[- ](\d{4})(?![\d-])")
NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_WORD = r"[A-Z][a-z]+(?:['’-][A-Z]?[a-z]+)?"
PERSON = re.compile(rf"{_WORD}(?: [A-Z]\.?)?(?: {_WORD}){{1,2}}")
#: share of a column's values that must look like "Given Family" to call it a column of names
PERSON_SHARE = 0.8
#: a column of at most this many distinct values, each on 5+ rows on average, is a code (e.g.
#: German credit's `telephone`: "none" / "yes, registered..."): a name hint alone only warns
CODE_MAX_VALUES = 20


def luhn(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _card(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return 13 <= len(digits) <= 19 and bool(CARD_PREFIX.match(digits)) and len(set(digits)) > 1 \
        and luhn(digits)


def _iban(match: str) -> bool:
    code = match.replace(" ", "")
    moved = code[4:] + code[:4]
    return 15 <= len(code) <= 34 and int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ip(match: str) -> bool:
    try:
        address = ipaddress.ip_address(match)
    except ValueError:
        return False
    return not (address.version == 6 and match.count(":") < 3)  # "1:2" clock-like strings


def _phone(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return 9 <= len(digits) <= 15 and (match.startswith("+") or bool(re.search(r"[ .()-]", match))) \
        and not _date_like(match)


def _date_like(match: str) -> bool:
    """2024-01-31, 31.01.2024 and 12:30-style runs are not phone numbers."""
    return bool(re.fullmatch(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}", match.strip()))


def _ssn(match: re.Match[str]) -> bool:
    area, group, serial = match.groups()
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


Detector = tuple[str, re.Pattern[str], Callable[[str], bool] | None]
DETECTORS: tuple[Detector, ...] = (
    ("email", EMAIL, None),
    ("credit_card", CARD, _card),
    ("iban", IBAN, _iban),
    ("ip_address", IPV4, _ip),
    ("ip_address", IPV6, _ip),
    ("national_id", NINO, None),
    ("phone", PHONE, _phone),
)


def value_kinds(value: str) -> set[str]:
    """The kinds of personal data found anywhere in one string."""
    kinds = {kind for kind, pattern, valid in DETECTORS
             if any(valid is None or valid(m.group(0)) for m in pattern.finditer(value))}
    ssn_shaped = list(SSN.finditer(value))
    if ssn_shaped:
        kinds.discard("phone")  # 123-45-6789 is an SSN's shape, not a phone's
    if any(_ssn(m) for m in ssn_shaped):
        kinds.add("national_id")
    if "credit_card" in kinds or "iban" in kinds:
        kinds.discard("phone")  # grouped card/account digits also look like a phone number
    return kinds


# --- column names ---------------------------------------------------------------------------

NAME_HINTS = {
    "email": {"email", "e_mail", "mail", "emailaddress"},
    "phone": {"phone", "telephone", "tel", "mobile", "cellphone", "fax", "msisdn", "phonenumber"},
    "credit_card": {"credit_card", "card_number", "cc_number", "pan", "creditcard", "cardnumber"},
    "iban": {"iban", "bank_account", "account_number"},
    "ip_address": {"ip", "ip_address", "ipv4", "ipv6", "ipaddress"},
    "national_id": {"ssn", "social_security", "national_id", "nino", "passport", "tax_id", "nin"},
    "person_name": {"name", "first_name", "last_name", "surname", "full_name", "given_name",
                    "firstname", "lastname", "fullname", "family_name", "patient", "customer_name"},
}


def name_kinds(column: str) -> set[str]:
    """Kinds a column's name hints at: a whole snake_case token or a pair of adjacent tokens."""
    tokens = [t for t in re.split(r"[^a-z0-9]+", snake_case(column)) if t]
    grams = set(tokens) | {f"{a}_{b}" for a, b in itertools.pairwise(tokens)}
    return {kind for kind, hints in NAME_HINTS.items() if grams & hints}


# --- the scan -------------------------------------------------------------------------------

def scan(df: pd.DataFrame, data: DataConfig, cfg: PrivacyConfig) -> list[Finding]:
    """Every finding in `df`, column by column (target excluded), in column order."""
    findings: list[Finding] = []
    for column in df.columns:
        if column == data.target:
            continue
        series = df[column]
        by_values = _value_findings(column, series, cfg)
        matched = {f.kind for f in by_values}
        named = name_kinds(column)
        # the distinct count costs a pass over the column: only a name hint needs it
        distinct = _code_size(series) if named - matched else None
        findings += [Finding(column, k, "name", 0, 0) if k in matched or distinct is None
                     else Finding(column, k, "name_only", 0, distinct) for k in sorted(named)]
        findings += [f for f in by_values if f.kind not in named]
        if column not in data.id_columns and column != data.text_column and _identifier_like(series, cfg):
            findings.append(Finding(column, "identifier", "values", len(series), len(series)))
    return findings


def _value_findings(column: str, series: pd.Series, cfg: PrivacyConfig) -> list[Finding]:
    if not (_textual(series) or _integer(series)):
        return []  # floats are measurements; booleans, images and bytes hold no text
    values = pd.Series(pd.unique(series.dropna()))[: cfg.max_values]
    if values.empty:
        return []
    texts = values.astype(str)
    if _integer(series):
        # numbers stored as integers: only card numbers are long and checked enough to tell
        hits = {"credit_card": int(texts.map(_card).sum())}
    else:
        counts: dict[str, int] = {}
        for value in texts:
            for kind in value_kinds(value):
                counts[kind] = counts.get(kind, 0) + 1
        person = int(texts.map(lambda v: PERSON.fullmatch(v.strip()) is not None).sum())
        if person >= PERSON_SHARE * len(texts) and len(texts) >= min(cfg.min_identifier_rows, len(series)):
            counts["person_name"] = person
        hits = counts
    return [
        Finding(column, kind, "values", n, len(texts))
        for kind, n in sorted(hits.items())
        if n and n >= cfg.min_share * len(texts)
    ]


def _code_size(series: pd.Series) -> int | None:
    """The distinct count of a textual or integer column small enough to be a code, else None."""
    if not (_textual(series) or _integer(series)):
        return None
    distinct = series.nunique(dropna=True)
    return int(distinct) if 0 < distinct <= CODE_MAX_VALUES and 5 * distinct <= len(series) else None


def _identifier_like(series: pd.Series, cfg: PrivacyConfig) -> bool:
    """A short integer or string key that differs on every row (floats are measurements)."""
    if len(series) < cfg.min_identifier_rows or series.isna().any():
        return False
    text = _textual(series)
    if not (text or _integer(series)):
        return False
    if text and series.astype(str).str.len().median() > 64:
        return False  # free text differs on every row without identifying anyone
    return bool(series.is_unique)


def _integer(series: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _textual(series: pd.Series) -> bool:
    """Strings, categories of strings, or an object column whose first value is a string."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return pd.api.types.is_string_dtype(series.cat.categories) or series.cat.categories.dtype == object
    if series.dtype == object:
        first = series.dropna()
        return first.empty or isinstance(first.iloc[0], str)
    return pd.api.types.is_string_dtype(series)


# --- policy ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Decision:
    """What validate does with one column, and the findings behind it."""

    column: str
    action: Decided
    findings: tuple[Finding, ...]


def decide(findings: Iterable[Finding], columns: Iterable[str], data: DataConfig,
           cfg: PrivacyConfig) -> list[Decision]:
    """One decision per column with a finding or a column rule; raises on an impossible rule."""
    present = list(columns)
    absent = [c for c in cfg.columns if c not in present]
    if absent:
        raise ConfigError(f"params validate.privacy.columns: column {absent[0]!r} is not in the data")
    by_column: dict[str, list[Finding]] = {}
    for f in findings:
        by_column.setdefault(f.column, []).append(f)
    decisions = []
    for column in present:
        found = tuple(by_column.get(column, ()))
        if column in cfg.columns:
            action: Decided = cfg.columns[column]
        elif found:
            action = max((finding_action(f, cfg) for f in found), key=STRENGTH.__getitem__)
        else:
            continue
        protected = {data.target, *data.sensitive} if action in ("drop", "hash") else set()
        if column in protected:
            raise ConfigError(
                f"params validate.privacy: cannot {action} {column!r}, it is the target or a sensitive "
                "column (data.target, data.sensitive); use allow or remove it from the source"
            )
        if action == "hash" and column not in data.id_columns:
            raise ConfigError(
                f"params validate.privacy: hash keeps {column!r} as a key, not a feature (predict and "
                "serve never see hashed inputs); list it in data.id_columns or use drop"
            )
        decisions.append(Decision(column, action, found))
    return decisions


def finding_action(finding: Finding, cfg: PrivacyConfig) -> Decided:
    """The action for a finding in a column without its own rule: the kind's rule, else `warn`
    for identifiers and names that the values contradict, else the default."""
    weak = finding.kind == "identifier" or finding.evidence == "name_only"
    return cfg.kinds.get(finding.kind) or ("warn" if weak else cfg.default)


def warnings(decisions: list[Decision]) -> list[str]:
    """One line per column kept with a warning (identifier-like, or named like personal data)."""
    lines = []
    for d in decisions:
        if d.action != "warn":
            continue
        found = "; ".join(f.describe() for f in d.findings)
        rule = f"validate.privacy.columns.{d.column}"
        lines.append(f"{found}: a leakage candidate; list it in data.id_columns or set {rule}"
                     if any(f.kind == "identifier" for f in d.findings)
                     else f"{found}: kept; set {rule} to drop (or allow, to silence this)")
    return lines


def gate(decisions: list[Decision]) -> None:
    """Raise GateFailed naming the columns whose findings fail, never their values."""
    failing = [d for d in decisions if d.action == "fail"]
    if not failing:
        return
    parts = [
        "; ".join(f.describe() for f in d.findings) for d in failing[:LISTED]
    ]
    more = f"; and {len(failing) - LISTED} more column(s)" if len(failing) > LISTED else ""
    first = failing[0].column
    raise GateFailed(
        f"validate: privacy: {'; '.join(parts)}{more} (set validate.privacy.columns.{first} to drop, "
        "hash or allow, or remove it from the source)"
    )


def read_key(cfg: PrivacyConfig, environ: Mapping[str, str] | None = None) -> bytes:
    """The HMAC key from the environment variable params name; an error if unset or short."""
    key = (os.environ if environ is None else environ).get(cfg.key_env, "")
    if len(key.encode()) < MIN_KEY_BYTES:
        state = "is not set" if not key else f"is shorter than {MIN_KEY_BYTES} bytes"
        raise ConfigError(
            f"validate.privacy: hash needs a secret key in ${cfg.key_env}, which {state} "
            "(keep it out of git; changing it needs `dvc repro -f validate`)"
        )
    return key.encode()


def keyed_hash(series: pd.Series, key: bytes) -> pd.Series:
    """HMAC-SHA256 of each value's text (first 32 hex digits); missing values stay missing."""
    def digest(value: object) -> str:
        return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()[:32]

    hashed = series.dropna().map(digest)
    return hashed.reindex(series.index).astype("string")


def apply(df: pd.DataFrame, decisions: list[Decision], key: Callable[[], bytes]) -> pd.DataFrame:
    """`df` with dropped and hashed columns applied (the key is read only when a column is hashed)."""
    drop = [d.column for d in decisions if d.action == "drop"]
    hashed = [d.column for d in decisions if d.action == "hash"]
    if not drop and not hashed:
        return df
    out = df.drop(columns=drop)
    if hashed:
        secret = key()
        for column in hashed:
            out[column] = keyed_hash(out[column], secret)
    return out


def screen(df: pd.DataFrame, data: DataConfig, cfg: PrivacyConfig,
           environ: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, list[Decision]]:
    """Scan, decide and gate (GateFailed on a `fail`), then drop and hash: the table validate passes on."""
    decisions = decide(scan(df, data, cfg), df.columns, data, cfg)
    gate(decisions)
    return apply(df, decisions, lambda: read_key(cfg, environ)), decisions


def summary(decisions: list[Decision]) -> list[dict[str, object]]:
    """The report's privacy section: column, action and findings with counts (no values)."""
    return [
        {
            "column": d.column,
            "action": d.action,
            "findings": [
                {"kind": f.kind, "evidence": f.evidence, "hits": f.hits, "scanned": f.scanned}
                for f in d.findings
            ],
        }
        for d in decisions
    ]
