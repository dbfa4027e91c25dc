"""Phonetic augmentation (:mod:`ipaclip.augment`): edits that keep items valid, near/far swaps."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from ipaclip._edit_distance import BatchPhoneticSimilarity
from ipaclip.augment import PhoneticAugmenter
from ipaclip.phonemes import PhonemeEmbedder
from tests.fixtures import ANIMALS_IPA, FIT_ON_ARRAY_CHECKS, padded_batch


def test_augmenter_keeps_items_valid_and_swaps_one_phoneme():
    seqs = PhonemeEmbedder().fit(ANIMALS_IPA).transform(ANIMALS_IPA)
    aug = PhoneticAugmenter(substitute=0.5, delete=0.5, insert=1.0, unstress=1.0, max_length=12)
    table, symbols = aug.fit(seqs.table, seqs.symbols)
    assert table[: len(seqs.table)].tolist() == seqs.table.tolist()
    ids, lengths = padded_batch(seqs, len(ANIMALS_IPA))
    new, new_lengths = aug(ids, lengths, np.random.default_rng(0))
    assert (new_lengths <= 12).all()
    changed = [
        a[:m].tolist() != b[:n].tolist() for a, m, b, n in zip(new, new_lengths, ids, lengths)
    ]
    assert any(changed)
    stress = [seqs.feature_names.index(c) for c in ("stress_primary", "stress_secondary")]
    for row, n in zip(new, new_lengths):
        tokens = [symbols[r] for r in row[:n]]
        assert tokens[0] == "<bos>" and tokens[-1] == "<eos>"
        assert all(not t.startswith("<") for t in tokens[1:-1])
        assert (row[n:] == 0).all()
        assert table[row[:n]][:, stress].sum() == 0  # unstress=1.0 removed all stress
    near, far, ok = aug.swap_pairs(ids, lengths, np.random.default_rng(1))
    assert ok.all() and ((near != ids).sum(1) == 1).all() and ((far != ids).sum(1) == 1).all()
    sim = BatchPhoneticSimilarity(symbols)
    both = np.concatenate([ids, near, far])
    s = sim(both, np.concatenate([lengths] * 3))
    k = len(ANIMALS_IPA)
    ii, jj = np.triu_indices(3 * k, 1)
    pair = {(i, j): v for i, j, v in zip(ii, jj, s)}
    assert all(pair[(i, k + i)] > pair[(i, 2 * k + i)] for i in range(k))  # near is nearer


def test_augmenter_parameters_are_checked_by_name():
    seqs = PhonemeEmbedder().fit(ANIMALS_IPA).transform(ANIMALS_IPA)
    with pytest.raises(ValueError, match="substitute must be a number in"):
        PhoneticAugmenter(substitute=2).fit(seqs.table, seqs.symbols)
    with pytest.raises(ValueError, match="mode must be one of"):
        PhoneticAugmenter(mode="sideways").fit(seqs.table, seqs.symbols)
    with pytest.raises(ValueError, match="candidates: 'q' has no one-hot column"):
        onehot = PhonemeEmbedder(embedding="onehot").fit(ANIMALS_IPA).transform(ANIMALS_IPA)
        columns = [n.removeprefix("phoneme=") for n in onehot.feature_names[:-17]]
        PhoneticAugmenter(candidates=["q"]).fit(onehot.table, onehot.symbols, columns)
    with pytest.raises(RuntimeError, match="not fitted"):
        PhoneticAugmenter().swap_pairs(np.zeros((1, 3), int), np.array([3]), None)


def _augmenter_fits_a_feature_table(estimator) -> dict[str, str]:
    reason = (
        "fit(table, symbols) takes the PanPhon feature table and symbols of PhonemeSequences, "
        "not an (X, y) array: a random array is refused by its column count"
    )
    names = (*FIT_ON_ARRAY_CHECKS, "check_fit_score_takes_y", "check_fit1d")
    return {name: reason for name in names}


@parametrize_with_checks(
    [PhoneticAugmenter()], expected_failed_checks=_augmenter_fits_a_feature_table
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
