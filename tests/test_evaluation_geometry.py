"""Phoneme geometry: Mantel test, chart/articulatory distances and the evaluation, by hand."""

import math

import numpy as np
import pytest

from ipaclip.evaluation.geometry import (
    articulatory_distance_matrix,
    chart_distance_matrix,
    chart_position,
    cosine_distance_matrix,
    evaluate_phoneme_geometry,
    mantel_test,
    plot_phoneme_map,
)
from ipaclip.inventory import get_inventory


def _onehot_features(symbol):
    inv = get_inventory()
    f = inv.features[inv.segment_index[symbol]]
    return np.eye(3)[f + 1].ravel()


def _random_distances(n, seed):
    pts = np.random.default_rng(seed).normal(size=(n, 3))
    return np.linalg.norm(pts[:, None] - pts[None], axis=-1)


# -- Mantel test ----------------------------------------------------------------------------
def test_mantel_three_objects_exact_enumeration():
    # Pair distances (d01, d02, d12) = (1, 2, 3). The 6 relabellings of 3 objects induce all
    # 6 orderings of the 3 pairs; correlations with (1, 2, 3): 1, 0.5, 0.5, -1, -0.5, -0.5.
    D = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]], dtype=float)
    res = mantel_test(D, D, n_permutations=6)
    assert res["exact"] and res["n_permutations"] == 6
    assert res["r"] == pytest.approx(1.0)
    assert res["p_value"] == pytest.approx(1 / 6)
    # Reversed association: (3, 2, 1) has r = -1, and every relabelling has r >= -1.
    D_rev = np.array([[0, 3, 2], [3, 0, 1], [2, 1, 0]], dtype=float)
    res = mantel_test(D, D_rev, n_permutations=6)
    assert res["r"] == pytest.approx(-1.0)
    assert res["p_value"] == pytest.approx(1.0)
    # (1, 3, 2): r = 0.5; relabellings with r >= 0.5 are 1, 0.5, 0.5 -> p = 3/6.
    D_half = np.array([[0, 1, 3], [1, 0, 2], [3, 2, 0]], dtype=float)
    res = mantel_test(D, D_half, n_permutations=6)
    assert res["r"] == pytest.approx(0.5)
    assert res["p_value"] == pytest.approx(0.5)


def test_mantel_identical_matrices_monte_carlo():
    D = _random_distances(10, 0)
    res = mantel_test(D, D, n_permutations=199, random_state=3)
    assert not res["exact"]
    assert res["r"] == pytest.approx(1.0)
    # Only the identity (probability 1/10!) can reach r = 1: p = (1 + 0) / (1 + 199).
    assert res["p_value"] == pytest.approx(1 / 200)


def test_mantel_invariant_to_joint_relabelling_and_seeded():
    D1, D2 = _random_distances(8, 1), _random_distances(8, 2)
    D2 = D2 + 0.5 * D1  # some association
    perm = np.random.default_rng(5).permutation(8)
    a = mantel_test(D1, D2, n_permutations=99, random_state=0)
    b = mantel_test(D1[np.ix_(perm, perm)], D2[np.ix_(perm, perm)], 99, random_state=0)
    assert a["r"] == pytest.approx(b["r"])
    assert a == mantel_test(D1, D2, n_permutations=99, random_state=0)
    # The observed r is the Pearson correlation of the upper triangles.
    iu = np.triu_indices(8, 1)
    assert a["r"] == pytest.approx(np.corrcoef(D1[iu], D2[iu])[0, 1])


def test_mantel_rejects_bad_input():
    D = _random_distances(4, 0)
    with pytest.raises(ValueError, match="shape"):
        mantel_test(D, _random_distances(5, 0))
    with pytest.raises(ValueError, match="symmetric"):
        mantel_test(D, D + np.triu(np.ones((4, 4)), 1))
    with pytest.raises(ValueError, match="at least 3"):
        mantel_test(D[:2, :2], D[:2, :2])


# -- reference distances --------------------------------------------------------------------
def test_chart_positions_by_hand():
    assert chart_position("p") == ("consonant", (0.0, 0.0, 0.0))
    assert chart_position("ŋ") == ("consonant", (0.7, 1 / 7, 1.0))
    assert chart_position("i") == ("vowel", (0.0, 0.0, 0.0))
    assert chart_position("ɑ") == ("vowel", (1.0, 1.0, 0.0))
    assert chart_position("iː")[1] == chart_position("i")[1]
    with pytest.raises(ValueError, match="tied"):
        chart_position("t͡ʃ")
    D = chart_distance_matrix(["i", "u", "a"])
    # i-u: backness 2/2 + rounding 1 = 2; i-a: height 1; u-a: 1 + 1 + 1 = 3.
    np.testing.assert_allclose(D, [[0, 2, 1], [2, 0, 3], [1, 3, 0]])
    with pytest.raises(ValueError, match="consonants with consonants"):
        chart_distance_matrix(["p", "a"])


def test_articulatory_and_cosine_distances():
    D = articulatory_distance_matrix(["p", "b", "m"])
    assert D[0, 1] == pytest.approx(1 / 24)
    inv = get_inventory()
    fp, fm = (inv.features[inv.segment_index[s]] for s in "pm")
    assert D[0, 2] == pytest.approx(np.mean(fp != fm))
    with pytest.raises(ValueError, match="'pʰʰx'"):
        articulatory_distance_matrix(["p", "pʰʰx"])
    C = cosine_distance_matrix(np.array([[1.0, 0], [1, 1], [0, 3]]))
    np.testing.assert_allclose(C[0], [0, 1 - 1 / np.sqrt(2), 1])


# -- the evaluation -------------------------------------------------------------------------
def test_four_consonants_known_spearman():
    # Angles 0, 10, 60, 70 degrees for p, t, b, d; chart: p-t = b-d = 0.3 (place),
    # p-b = t-d = 1 (voicing), p-d = t-b = 1.3.
    ang = {"p": 0, "t": 10, "b": 60, "d": 70}
    vecs = {s: [math.cos(math.radians(a)), math.sin(math.radians(a))] for s, a in ang.items()}
    res = evaluate_phoneme_geometry(vecs, n_permutations=24)
    chart = res["consonants"]["chart"]
    # Pairs in order (p,t) (p,b) (p,d) (t,b) (t,d) (b,d): embedding angles 10 60 70 50 60 10,
    # ranks 1.5 4.5 6 3 4.5 1.5; chart 0.3 1 1.3 1.3 1 0.3, ranks 1.5 3.5 5.5 5.5 3.5 1.5.
    # Deviations from 3.5: (-2 1 2.5 -0.5 1 -2) and (-2 0 2 2 0 -2): 12 / sqrt(16.5 * 16).
    assert chart["spearman"] == pytest.approx(3 / math.sqrt(16.5))
    assert chart["mantel_r"] == pytest.approx(3 / math.sqrt(16.5))
    assert chart["mantel_permutations"] == 24  # 4! relabellings, enumerated exactly
    assert res["consonants"]["symbols"] == ["p", "t", "b", "d"]
    assert res["vowels"]["chart"]["spearman"] is None  # no vowels


def test_feature_onehot_vectors_match_articulatory_exactly():
    symbols = ["p", "b", "t", "d", "k", "ɡ", "s", "z", "m", "n", "i", "u", "a", "e", "o", "t͡ʃ"]
    res = evaluate_phoneme_geometry({s: _onehot_features(s) for s in symbols}, n_permutations=99)
    art = res["all"]["articulatory"]
    assert art["spearman"] == pytest.approx(1.0)
    assert art["pearson"] == pytest.approx(1.0)
    assert art["mantel_p"] == pytest.approx(1 / 100)
    assert res["n_phonemes"] == 16
    assert list(res["excluded_from_chart"]) == ["t͡ʃ"]
    assert res["vowels"]["symbols"] == ["i", "u", "a", "e", "o"]
    assert res["consonants"]["articulatory"]["spearman"] == pytest.approx(1.0)
    assert -1 <= res["vowels"]["chart"]["spearman"] <= 1


def test_evaluation_rejects_bad_vectors():
    with pytest.raises(ValueError, match="'b'"):
        evaluate_phoneme_geometry({"p": [1.0, 0.0], "b": [0.0, 0.0]})
    with pytest.raises(TypeError, match="mapping"):
        evaluate_phoneme_geometry([[1.0, 0.0]])


def test_plot_phoneme_map(tmp_path):
    pytest.importorskip("matplotlib")
    vecs = {s: _onehot_features(s) for s in ["p", "b", "t", "i", "a", "t͡ʃ"]}
    out = plot_phoneme_map(vecs, tmp_path / "map.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = plot_phoneme_map(vecs, tmp_path / "mds.png", method="mds")
    assert out.stat().st_size > 1000
