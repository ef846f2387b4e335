"""Text augmentation: random deletion and swaps, seeded, labels kept with their copies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from traincycle.errors import ConfigError
from traincycle.text_augment import AugmentConfig, augment, delete_words, swap_words

WORDS = st.lists(st.text(alphabet="abcdef", min_size=1, max_size=5), min_size=1, max_size=12)


@given(WORDS, st.floats(0.0, 0.99), st.integers(0, 2**32 - 1))
def test_deletion_keeps_order_and_never_empties_a_text(words, p, seed):
    kept = delete_words(words, p, np.random.default_rng(seed))
    assert 1 <= len(kept) <= len(words)
    position = iter(words)
    assert all(w in position for w in kept)  # a subsequence: deletion never reorders


@given(WORDS, st.integers(0, 4), st.integers(0, 2**32 - 1))
def test_swaps_permute_the_words(words, n, seed):
    assert sorted(swap_words(words, n, np.random.default_rng(seed))) == sorted(words)


def test_copies_follow_the_originals_with_their_labels_and_are_seeded():
    texts = ["a truly wonderful and moving film", "dull , flat and far too long"]
    labels = np.array([1, 0])
    cfg = AugmentConfig(copies=2, deletion=0.3, swaps=1)
    out, y = augment(texts, labels, cfg, seed=7)
    assert out[:2] == texts and len(out) == 6 and y.tolist() == [1, 0, 1, 0, 1, 0]
    assert out != texts * 3  # the copies differ from their originals
    again, y_again = augment(texts, labels, cfg, seed=7)
    assert again == out and np.array_equal(y_again, y)
    assert augment(texts, labels, cfg, seed=8)[0] != out
    assert augment(texts, labels, AugmentConfig(), seed=7)[0] == texts  # copies: 0 is the default


def test_bad_params_name_the_key():
    with pytest.raises(ConfigError, match=r"train\.finetune\.augment\.deletion"):
        AugmentConfig(deletion=1.0)
    with pytest.raises(ConfigError, match=r"train\.finetune\.augment\.copies"):
        AugmentConfig(copies=-1)
