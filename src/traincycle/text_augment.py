"""Text augmentation for small data: random word deletion and random word swaps (EDA).

Wei & Zou (2019), "EDA: Easy Data Augmentation Techniques for Boosting Performance on Text
Classification", found random deletion and random swap alone worth a few points on a few
hundred to a few thousand examples. Each augmented copy keeps its original's label.
Synonym replacement (EDA's other operation) needs a thesaurus, and none ships offline with the
packages this project installs (nltk's WordNet is a separate data download), so it is not done.
Everything is seeded: the same texts, config and seed give the same copies.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from traincycle.config import check_range


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """train.finetune.augment: how many augmented copies of each train text, and how changed."""

    #: augmented copies added per train text (0: no augmentation)
    copies: int = 0
    #: each word of a copy is deleted with this probability (one word always survives)
    deletion: float = 0.1
    #: random swaps of two words per copy
    swaps: int = 1

    def __post_init__(self) -> None:
        check_range("train.finetune.augment.copies", self.copies, 0)
        check_range("train.finetune.augment.deletion", self.deletion, 0.0, 1.0, high_open=True)
        check_range("train.finetune.augment.swaps", self.swaps, 0)


def delete_words(words: list[str], p: float, rng: np.random.Generator) -> list[str]:
    """Each word dropped with probability `p`; a text never loses its last word."""
    if len(words) <= 1 or p == 0:
        return list(words)
    kept = [w for w, drop in zip(words, rng.random(len(words)) < p, strict=True) if not drop]
    return kept or [words[int(rng.integers(len(words)))]]


def swap_words(words: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """`n` swaps of two randomly chosen positions."""
    out = list(words)
    if len(out) < 2:
        return out
    for _ in range(n):
        i, j = rng.choice(len(out), 2, replace=False)
        out[i], out[j] = out[j], out[i]
    return out


def augment(texts: list[str], labels: np.ndarray, cfg: AugmentConfig,
            seed: int) -> tuple[list[str], np.ndarray]:
    """The texts followed by `cfg.copies` augmented copies of each (labels repeated alike)."""
    if cfg.copies == 0:
        return list(texts), labels
    rng = np.random.default_rng(seed)
    out = list(texts)
    for _ in range(cfg.copies):
        for text in texts:
            words = swap_words(delete_words(text.split(), cfg.deletion, rng), cfg.swaps, rng)
            out.append(" ".join(words))
    return out, np.concatenate([labels] * (cfg.copies + 1))
