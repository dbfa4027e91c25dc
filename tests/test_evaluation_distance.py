"""Tests for ipaclip.evaluation.distance: feature edit distance over PanPhon segments."""

import numpy as np
import pytest

from ipaclip.evaluation.distance import (
    feature_edit_distance,
    paired_feature_edit_distance,
    pairwise_feature_edit_distance,
    phonetic_similarity,
    segments,
)
from ipaclip.inventory import FEATURE_NAMES, get_inventory


def _features(seg):
    inv = get_inventory()
    return inv.features[inv.segment_index[seg]]


def _reference(a, b):
    """Plain-Python Levenshtein over segments with Hamming/24 substitution costs."""
    sa, sb = segments(a), segments(b)
    d = np.zeros((len(sa) + 1, len(sb) + 1))
    d[:, 0] = np.arange(len(sa) + 1)
    d[0, :] = np.arange(len(sb) + 1)
    for i in range(1, len(sa) + 1):
        for j in range(1, len(sb) + 1):
            sub = np.mean(_features(sa[i - 1]) != _features(sb[j - 1]))
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + sub)
    return d[-1, -1] / max(len(sa), len(sb), 1)


def test_segments_drop_markers_and_split_diphthongs():
    assert segments("pˈæt") == ["p", "æ", "t"]
    assert segments("ɐ blˈæk kˈæt") == ["ɐ", "b", "l", "æ", "k", "k", "æ", "t"]
    assert segments("nˈa͡ɪt") == ["n", "a", "ɪ", "t"]
    assert segments("") == []


def test_segments_unknown_symbol_is_an_error():
    with pytest.raises(ValueError, match="'☃'.*not in the phoneme inventory"):
        segments("pæ☃t")
    with pytest.raises(ValueError, match="item 1"):
        pairwise_feature_edit_distance(["pæt", "b☃t"])


def test_p_b_differ_in_voicing_only():
    diff = [n for n, x, y in zip(FEATURE_NAMES, _features("p"), _features("b")) if x != y]
    assert diff == ["voi"]
    assert feature_edit_distance("pæt", "bæt") == pytest.approx((1 / 24) / 3)
    assert feature_edit_distance("pæt", "bæt", by_length=False) == pytest.approx(1 / 24)
    assert phonetic_similarity("pæt", "bæt") == pytest.approx(1 - 1 / 72)


def test_stress_and_word_boundaries_are_ignored():
    assert feature_edit_distance("pˈæt", "pæt") == 0.0
    assert feature_edit_distance("blæk kæt", "blækkæt") == 0.0


def test_identity_symmetry_and_bounds():
    words = ["kæt", "kæts", "dɑːɡ", "ɐ blˈæk kˈæt", "sˈɪt", "ɹɪlˈeɪʃən", ""]
    for a in words:
        assert feature_edit_distance(a, a) == 0.0
        for b in words:
            d = feature_edit_distance(a, b)
            assert 0.0 <= d <= 1.0
            assert d == pytest.approx(feature_edit_distance(b, a))
    assert feature_edit_distance("", "kæt") == 1.0
    assert feature_edit_distance("", "") == 0.0


def test_insertion_and_deletion_cost_one():
    assert feature_edit_distance("kæt", "kæts", by_length=False) == 1.0
    assert feature_edit_distance("kæt", "kæts") == pytest.approx(1 / 4)
    assert feature_edit_distance("skæt", "kæt", by_length=False) == 1.0


def test_substitution_cost_is_feature_fraction():
    # One substitution /t/ -> /a/: cost = Hamming / 24, never more than an indel pair.
    cost = np.mean(_features("t") != _features("a"))
    assert feature_edit_distance("tæ", "aæ", by_length=False) == pytest.approx(min(cost, 2.0))


def test_batched_matches_reference():
    ipas = ["pˈæt", "bˈæt", "kˈæts", "sˈɪt", "wˈʌndɚ", "ɹɪlˈeɪʃən", "ˈɪts", "", "ɐ blˈæk kˈæt"]
    D = pairwise_feature_edit_distance(ipas)
    expected = np.array([[_reference(a, b) for b in ipas] for a in ipas])
    np.testing.assert_allclose(D, expected, atol=1e-12)
    assert (np.diag(D) == 0).all()
    C = pairwise_feature_edit_distance(ipas[:3], ipas)
    np.testing.assert_allclose(C, expected[:3], atol=1e-12)
    p = paired_feature_edit_distance(ipas, ipas[::-1])
    np.testing.assert_allclose(p, [expected[i, -1 - i] for i in range(len(ipas))], atol=1e-12)
    raw = pairwise_feature_edit_distance(ipas, by_length=False)
    assert raw.max() > 1.0


def test_pairwise_chunks(monkeypatch):
    import ipaclip.evaluation.distance as distance

    ipas = ["pˈæt", "bˈæt", "kˈæts", "sˈɪt", "wˈʌndɚ", "ɹɪlˈeɪʃən", "ˈɪts"]
    full = pairwise_feature_edit_distance(ipas)
    monkeypatch.setattr(distance, "CHUNK_SIZE", 4)
    np.testing.assert_allclose(pairwise_feature_edit_distance(ipas), full)


def test_empty_inputs_and_errors():
    assert pairwise_feature_edit_distance([]).shape == (0, 0)
    assert paired_feature_edit_distance([], []).shape == (0,)
    with pytest.raises(ValueError, match="equal counts"):
        paired_feature_edit_distance(["pæt"], [])
    with pytest.raises(TypeError):
        pairwise_feature_edit_distance("pæt")
