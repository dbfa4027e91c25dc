"""Tests for ipaclip.metrics: retrieval metrics, fidelity and the scikit-learn scorers.

Expected values are worked out by hand in the comments. Ranks are 1-based and
pessimistic: a positive tied with negatives is ranked after them.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.metrics import recall_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from ipaclip import metrics
from ipaclip.metrics import (
    fidelity_scorer,
    get_scorer,
    make_retrieval_scorer,
    mean_average_precision,
    mean_cosine,
    mean_reciprocal_rank,
    recall_at_k,
    retrieval_report,
)

# ---------------------------------------------------------------------------------------
# A 3x4 similarity matrix with known rankings (gallery items by descending similarity):
#   query 0: 0 (0.9), 3 (0.7), 2 (0.5), 1 (0.1)
#   query 1: 1 (0.8), 2 (0.6), 3 (0.4), 0 (0.2)
#   query 2: 2 (0.9), {0, 1} tied (0.3), 3 (0.1)
# ---------------------------------------------------------------------------------------
S3x4 = np.array(
    [
        [0.9, 0.1, 0.5, 0.7],
        [0.2, 0.8, 0.6, 0.4],
        [0.3, 0.3, 0.9, 0.1],
    ]
)
# One positive per query: query 0 -> item 3 (rank 2), query 1 -> item 2 (rank 2),
# query 2 -> item 0, tied with negative item 1 at 0.3 -> pessimistic rank 3.
SINGLE = [3, 2, 0]
# Several positives per query:
#   query 0: {1, 3} at ranks 2 and 4 -> first 2, AP = (1/2 + 2/4) / 2 = 1/2
#   query 1: {0, 1} at ranks 4 and 1 -> first 1, AP = (1/1 + 2/4) / 2 = 3/4
#   query 2: {0, 1}, tied with each other only, ranks 2 and 3 -> first 2,
#            AP = (1/2 + 2/3) / 2 = 7/12
MULTI = [[1, 3], [0, 1], [0, 1]]


def _mask(index_lists, n_gallery):
    mask = np.zeros((len(index_lists), n_gallery), dtype=bool)
    for i, idx in enumerate(index_lists):
        mask[i, list(idx)] = True
    return mask


def _reference(S, mask):
    """Slow reference: sort each row by (-score, is_positive), read off the ranks."""
    firsts, aps = [], []
    for s, p in zip(S, mask, strict=True):
        order = sorted(range(len(s)), key=lambda j: (-s[j], bool(p[j])))
        hit_ranks = [r + 1 for r, j in enumerate(order) if p[j]]
        firsts.append(hit_ranks[0])
        aps.append(np.mean([(m + 1) / r for m, r in enumerate(hit_ranks)]))
    return np.array(firsts), np.array(aps)


@pytest.fixture(params=[0, 16], ids=["ap-by-sorting", "ap-by-comparison"])
def ap_path(request, monkeypatch):
    """Run a test with both ways of computing AP (sorting rows, or comparisons)."""
    monkeypatch.setattr(metrics, "_FEW_POSITIVES", request.param)


# --- recall@k, MRR, mAP: hand-computed values ------------------------------------------


def test_single_positive_hand_values(ap_path):
    # Ranks 2, 2, 3.
    assert recall_at_k(S3x4, SINGLE, 1) == 0.0
    assert recall_at_k(S3x4, SINGLE, 2) == pytest.approx(2 / 3)
    assert recall_at_k(S3x4, SINGLE, 3) == 1.0
    # MRR = (1/2 + 1/2 + 1/3) / 3 = 4/9; with one positive, AP = 1/rank, so mAP = MRR.
    assert mean_reciprocal_rank(S3x4, SINGLE) == pytest.approx(4 / 9)
    assert mean_average_precision(S3x4, SINGLE) == pytest.approx(4 / 9)


def test_several_positives_hand_values(ap_path):
    # First-positive ranks 2, 1, 2.
    assert recall_at_k(S3x4, MULTI, 1) == pytest.approx(1 / 3)
    assert recall_at_k(S3x4, MULTI, 2) == 1.0
    # MRR = (1/2 + 1 + 1/2) / 3 = 2/3.
    assert mean_reciprocal_rank(S3x4, MULTI) == pytest.approx(2 / 3)
    # mAP = (1/2 + 3/4 + 7/12) / 3 = (6 + 9 + 7) / 36 = 11/18.
    assert mean_average_precision(S3x4, MULTI) == pytest.approx(11 / 18)


def test_k_beyond_gallery_size_is_a_hit():
    assert recall_at_k(S3x4, SINGLE, 100) == 1.0


def test_ties_are_pessimistic(ap_path):
    S = np.array([[0.5, 0.5, 0.5, 0.2]])
    # Positive 0 tied with negatives 1 and 2 -> rank 3.
    assert recall_at_k(S, [0], 2) == 0.0
    assert recall_at_k(S, [0], 3) == 1.0
    assert mean_reciprocal_rank(S, [0]) == pytest.approx(1 / 3)
    # Positives {0, 1} tied with negative 2 -> ranks 2 and 3: AP = (1/2 + 2/3) / 2 = 7/12.
    assert mean_reciprocal_rank(S, [[0, 1]]) == pytest.approx(1 / 2)
    assert mean_average_precision(S, [[0, 1]]) == pytest.approx(7 / 12)
    # The lower-scored item 3 as positive: rank 4.
    assert mean_reciprocal_rank(S, [3]) == pytest.approx(1 / 4)


def test_constant_scores_get_the_worst_rank(ap_path):
    S = np.ones((3, 4))
    # Every positive ties with the 3 negatives -> rank 4 for every query.
    assert recall_at_k(S, [0, 1, 2], 3) == 0.0
    assert mean_reciprocal_rank(S, [0, 1, 2]) == pytest.approx(1 / 4)
    assert mean_average_precision(S, [0, 1, 2]) == pytest.approx(1 / 4)
    # All 4 items positive: ranks 1..4, AP = 1.
    assert mean_average_precision(np.ones((1, 4)), [[0, 1, 2, 3]]) == 1.0


def test_ties_do_not_depend_on_gallery_order():
    S = np.array([[0.5, 0.5, 0.5, 0.2]])
    for perm in ([0, 1, 2, 3], [2, 1, 0, 3], [3, 2, 1, 0]):
        inverse = np.argsort(perm)
        assert mean_reciprocal_rank(S[:, perm], [int(inverse[0])]) == pytest.approx(1 / 3)


def test_matches_reference_on_random_ties(ap_path):
    rng = np.random.default_rng(0)
    S = rng.integers(0, 4, size=(25, 11)).astype(float)  # many ties
    mask = rng.random((25, 11)) < 0.3
    mask[np.arange(25), rng.integers(0, 11, 25)] = True  # >= 1 positive per query
    first, ap = _reference(S, mask)
    assert recall_at_k(S, mask, 1) == pytest.approx(np.mean(first <= 1))
    assert recall_at_k(S, mask, 3) == pytest.approx(np.mean(first <= 3))
    assert mean_reciprocal_rank(S, mask) == pytest.approx(np.mean(1 / first))
    assert mean_average_precision(S, mask) == pytest.approx(np.mean(ap))


def test_float32_and_integer_similarities():
    assert mean_average_precision(S3x4.astype(np.float32), MULTI) == pytest.approx(11 / 18)
    S_int = np.array([[3, 1, 2], [1, 1, 2]])
    # query 0: positive 0 ranked first; query 1: positive 0 tied with negative 1 -> rank 3.
    assert mean_reciprocal_rank(S_int, [0, 0]) == pytest.approx((1 + 1 / 3) / 2)


# --- formats of positives ------------------------------------------------------------


@pytest.mark.parametrize(
    "positives",
    [
        SINGLE,
        np.array(SINGLE),
        np.array(SINGLE, dtype=np.uint8),
        [[3], [2], [0]],
        [{3}, (2,), np.array([0])],
        _mask([[3], [2], [0]], 4),
        _mask([[3], [2], [0]], 4).astype(int),
        sp.csr_matrix(_mask([[3], [2], [0]], 4)),
    ],
)
def test_single_positive_formats_agree(positives):
    assert recall_at_k(S3x4, positives, 2) == pytest.approx(2 / 3)
    assert mean_reciprocal_rank(S3x4, positives) == pytest.approx(4 / 9)
    assert mean_average_precision(S3x4, positives) == pytest.approx(4 / 9)


@pytest.mark.parametrize(
    "positives",
    [
        MULTI,
        [{1, 3}, (0, 1, 1), np.array([1, 0])],  # duplicates are ignored
        np.array([[1, 3], [0, 1], [0, 1]], dtype=object).tolist(),
        _mask(MULTI, 4),
        _mask(MULTI, 4).astype(np.float32),
        sp.csr_array(_mask(MULTI, 4).astype(int)),
    ],
)
def test_several_positive_formats_agree(positives):
    assert recall_at_k(S3x4, positives, 1) == pytest.approx(1 / 3)
    assert mean_reciprocal_rank(S3x4, positives) == pytest.approx(2 / 3)
    assert mean_average_precision(S3x4, positives) == pytest.approx(11 / 18)


# --- chunking ------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 1000])
def test_chunking_does_not_change_results(chunk_size, ap_path):
    rng = np.random.default_rng(1)
    S = rng.integers(0, 5, size=(13, 9)).astype(float)
    mask = rng.random((13, 9)) < 0.25
    mask[:, 4] = True
    for fn, args in [(recall_at_k, (2,)), (mean_reciprocal_rank, ()), (mean_average_precision, ())]:
        whole = fn(S, mask, *args)
        assert fn(S, mask, *args, chunk_size=chunk_size) == pytest.approx(whole, abs=1e-15)
    Q, G = rng.normal(size=(13, 4)), rng.normal(size=(9, 4))
    assert retrieval_report(Q, G, mask, chunk_size=chunk_size) == pytest.approx(
        retrieval_report(Q, G, mask)
    )


# --- retrieval_report ----------------------------------------------------------------


def test_retrieval_report_both_directions_hand_values():
    Q = np.array([[1.0, 0.0], [0.0, 1.0]])
    # Unit directions (1, 0), (0.6, 0.8), (0.8, 0.6), (-1, 0), scaled to check that the
    # report normalises: cosines are
    #   query 0: [1.0, 0.6, 0.8, -1.0]   query 1: [0.0, 0.8, 0.6, 0.0]
    G = np.array([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6], [-1.0, 0.0]]) * [[2], [5], [0.5], [3]]
    positives = [1, 2]
    report = retrieval_report(Q, G, positives, ks=(1, 2, 3))
    # Query -> gallery: query 0 ranks item 1 third (after 0 and 2); query 1 ranks item 2
    # second (after 1). recall@1 = 0, @2 = 1/2, @3 = 1; MRR = mAP = (1/3 + 1/2) / 2 = 5/12.
    assert report["q2g_recall@1"] == 0.0
    assert report["q2g_recall@2"] == 0.5
    assert report["q2g_recall@3"] == 1.0
    assert report["q2g_mrr"] == pytest.approx(5 / 12)
    assert report["q2g_map"] == pytest.approx(5 / 12)
    assert report["q2g_n_queries"] == 2
    # Gallery -> query: items 0 and 3 are nobody's positive and are skipped. Item 1
    # (positive: query 0) scores queries [0.6, 0.8] -> rank 2; item 2 (positive: query 1)
    # scores [0.8, 0.6] -> rank 2. recall@1 = 0, recall@2 = 1, MRR = mAP = 1/2.
    assert report["g2q_recall@1"] == 0.0
    assert report["g2q_recall@2"] == 1.0
    assert report["g2q_mrr"] == pytest.approx(1 / 2)
    assert report["g2q_map"] == pytest.approx(1 / 2)
    assert report["g2q_n_queries"] == 2
    assert set(report) == {
        f"{d}_{m}"
        for d in ("q2g", "g2q")
        for m in ("recall@1", "recall@2", "recall@3", "mrr", "map", "n_queries")
    }


def test_retrieval_report_reverse_direction_uses_transposed_positives():
    rng = np.random.default_rng(2)
    Q, G = rng.normal(size=(6, 3)), rng.normal(size=(5, 3))
    mask = rng.random((6, 5)) < 0.4
    mask[:, 0] = True
    mask[:, 4] = False  # gallery item 4 is nobody's positive
    report = retrieval_report(Q, G, mask, ks=(1, 2))
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    Gn = G / np.linalg.norm(G, axis=1, keepdims=True)
    S = Qn @ Gn.T
    assert report["q2g_mrr"] == pytest.approx(mean_reciprocal_rank(S, mask))
    assert report["q2g_map"] == pytest.approx(mean_average_precision(S, mask))
    kept = mask.any(axis=0)
    assert report["g2q_n_queries"] == kept.sum() == 4
    assert report["g2q_recall@2"] == pytest.approx(recall_at_k(S.T[kept], mask.T[kept], 2))
    assert report["g2q_map"] == pytest.approx(mean_average_precision(S.T[kept], mask.T[kept]))


def test_retrieval_report_identical_embeddings_tie_exactly():
    rng = np.random.default_rng(3)
    G = rng.normal(size=(6, 33))
    G[4] = G[1]  # a duplicate of item 1
    Q = G[[1]]
    # The query equals items 1 and 4; with positive {4} the duplicate 1 is a tied negative
    # -> pessimistic rank 2, whatever the floating-point rounding of the matrix product.
    report = retrieval_report(Q, G, [4], ks=(1, 2))
    assert report["q2g_recall@1"] == 0.0
    assert report["q2g_recall@2"] == 1.0


def test_retrieval_report_constant_embeddings_score_worst():
    Q = np.ones((4, 3))
    G = np.full((5, 3), 2.0)
    report = retrieval_report(Q, G, [0, 1, 2, 3], ks=(1, 4, 5))
    # All cosines are 1: each query's positive is ranked after the 4 other items -> 5.
    assert report["q2g_recall@1"] == report["q2g_recall@4"] == 0.0
    assert report["q2g_recall@5"] == 1.0
    assert report["q2g_mrr"] == pytest.approx(1 / 5)
    # Reverse: 4 gallery items with one positive query each, among 4 tied queries -> 4.
    assert report["g2q_mrr"] == pytest.approx(1 / 4)


# --- mean_cosine ---------------------------------------------------------------------


def test_mean_cosine_hand_value():
    a = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
    b = np.array([[2.0, 0.0], [1.0, 1.0], [4.0, 3.0]])
    # Cosines: 1, 1/sqrt(2), (12 + 12) / 25 = 0.96.
    assert mean_cosine(a, b) == pytest.approx((1 + 1 / np.sqrt(2) + 0.96) / 3)
    assert mean_cosine(a, -a) == pytest.approx(-1.0)


def test_mean_cosine_errors():
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    with pytest.raises(ValueError, match="row 1 of b is all zeros"):
        mean_cosine(a, np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*shape \(2, 3\)"):
        mean_cosine(a, np.ones((2, 3)))
    with pytest.raises(ValueError, match="2-D"):
        mean_cosine(a[0], a[0])
    with pytest.raises(ValueError, match="row 0 of a has NaN"):
        mean_cosine(np.array([[np.nan, 1.0], [0.0, 1.0]]), a)


# --- errors of the retrieval metrics ---------------------------------------------------


def test_query_without_positive_is_named():
    with pytest.raises(ValueError, match="query 1 has no positive"):
        recall_at_k(S3x4, [[0], [], [2]], 1)
    with pytest.raises(ValueError, match="query 2 has no positive"):
        mean_average_precision(S3x4, _mask([[0], [1], []], 4))
    with pytest.raises(ValueError, match="query 0 has no positive"):
        retrieval_report(np.eye(2), np.eye(2), [[], [1]])


@pytest.mark.parametrize(
    ("positives", "error", "match"),
    [
        (np.zeros((3, 5), dtype=bool), ValueError, r"mask has shape \(3, 5\).*\(3, 4\)"),
        (sp.csr_matrix((2, 4)), ValueError, r"mask has shape \(2, 4\)"),
        ([3, 2], ValueError, "2 entries but there are 3 queries"),
        ([[3], [2]], ValueError, "2 entries but there are 3 queries"),
        ([3, 7, 0], ValueError, "query 1 is gallery index 7"),
        ([3, -1, 0], ValueError, "query 1 is gallery index -1"),
        ([[3], [2, 4], [0]], ValueError, "query 1 include gallery index 4"),
        (np.full((3, 4), 2), ValueError, r"only 0/1.*entry \(0, 0\)"),
        ([True, False, True], TypeError, "got booleans"),
        ([[True, False, False, True], [1], [2]], TypeError, "query 0 .*np.asarray"),
        ([0.0, 1.0, 2.0], TypeError, "integer gallery indices"),
        ([[3], 2, [0]], TypeError, "positives of query 1 must be an iterable"),
        ("abc", TypeError, "positives must be"),
        (None, TypeError, "positives must be"),
    ],
)
def test_bad_positives(positives, error, match):
    with pytest.raises(error, match=match):
        recall_at_k(S3x4, positives, 1)


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "1"])
def test_bad_k(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        recall_at_k(S3x4, SINGLE, k)


def test_bad_similarities():
    with pytest.raises(ValueError, match="2-D similarity matrix"):
        mean_reciprocal_rank(np.ones(4), [0])
    with pytest.raises(ValueError, match="at least one query"):
        mean_reciprocal_rank(np.ones((0, 4)), [])
    S = S3x4.copy()
    S[2, 1] = np.nan
    with pytest.raises(ValueError, match="similarities of query 2 contain NaN"):
        mean_reciprocal_rank(S, SINGLE, chunk_size=1)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        mean_reciprocal_rank(S3x4, SINGLE, chunk_size=0)


def test_retrieval_report_errors():
    with pytest.raises(ValueError, match="dimension 2 but gallery_emb has dimension 3"):
        retrieval_report(np.eye(2), np.ones((2, 3)), [0, 1])
    with pytest.raises(ValueError, match="row 1 of gallery_emb is all zeros"):
        retrieval_report(np.eye(2), np.array([[1.0, 0.0], [0.0, 0.0]]), [0, 0])
    with pytest.raises(ValueError, match="each k in ks must be a positive integer"):
        retrieval_report(np.eye(2), np.eye(2), [0, 1], ks=(1, 0))


# --- scorers -------------------------------------------------------------------------
# Student and teacher for four spellings. Targets: "d" is pronounced like "a" (target "A"),
# so in y = ["A", "B", "C", "A"] items 0 and 3 are each other's positives.
TEACHER = {"A": (1.0, 0.0), "B": (0.0, 1.0), "C": (-1.0, 0.0)}
STUDENT = {"a": (1.0, 0.0), "b": (1.0, 1.0), "c": (0.0, 1.0), "d": (0.0, -1.0)}
X4 = ["a", "b", "c", "d"]
Y4 = ["A", "B", "C", "A"]
# Cosines of each student embedding (row) with the targets [A, B, C, A] (columns):
#   a: [1, 0, -1, 1]          positives {0, 3}, both ranked first   -> first 1, AP 1
#   b: [.71, .71, -.71, .71]  positive {1} tied with negatives 0, 3 -> first 3, AP 1/3
#   c: [0, 1, 0, 0]           positive {2} after 1 and tied 0, 3    -> first 4, AP 1/4
#   d: [0, -1, 0, 0]          positives {0, 3} tied with negative 2 -> ranks 2, 3,
#                             AP = (1/2 + 2/3) / 2 = 7/12
# recall@1 = 1/4, @2 = 2/4, @3 = 3/4; MRR = (1 + 1/3 + 1/4 + 1/2) / 4 = 25/48;
# mAP = (1 + 1/3 + 1/4 + 7/12) / 4 = 13/24.
# Fidelity (cosine with own target): a 1, b 1/sqrt(2), c 0, d 0 -> (1 + 1/sqrt(2)) / 4.
EXPECTED = {
    "recall@1": 1 / 4,
    "recall@2": 2 / 4,
    "recall@3": 3 / 4,
    "recall@4": 1.0,
    "mrr": 25 / 48,
    "map": 13 / 24,
    "fidelity": (1 + 1 / np.sqrt(2)) / 4,
}


class FakeEncoder(TransformerMixin, BaseEstimator):
    """Implements the PronunciationEncoder protocol with lookup tables.

    ``perfect=True`` embeds each spelling like its target instead (the ideal student).
    """

    def __init__(self, perfect=False):
        self.perfect = perfect

    def fit(self, X, y=None):
        self.fitted_ = True
        return self

    def transform(self, X):
        if self.perfect:
            return self.embed_targets([x.upper() if x != "d" else "A" for x in X])
        Z = np.array([STUDENT[x] for x in X])
        return Z / np.linalg.norm(Z, axis=1, keepdims=True)

    def embed_targets(self, y):
        if isinstance(y, np.ndarray) and y.dtype.kind == "f":
            return y
        return np.array([TEACHER[t] for t in y])


def _lowercase(X):
    return [x.lower() for x in X]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_scorers_hand_values(name):
    est = FakeEncoder().fit(X4, Y4)
    assert get_scorer(name)(est, X4, Y4) == pytest.approx(EXPECTED[name])
    assert get_scorer(f"ipaclip_{name}")(est, X4, Y4) == pytest.approx(EXPECTED[name])


def test_make_retrieval_scorer_matches_names():
    est = FakeEncoder().fit(X4, Y4)
    assert make_retrieval_scorer()(est, X4, Y4) == pytest.approx(1 / 4)
    assert make_retrieval_scorer("recall", k=3)(est, X4, Y4) == pytest.approx(3 / 4)
    assert make_retrieval_scorer("mrr")(est, X4, Y4) == pytest.approx(25 / 48)
    assert make_retrieval_scorer("map")(est, X4, Y4) == pytest.approx(13 / 24)
    assert fidelity_scorer(est, X4, Y4) == pytest.approx(EXPECTED["fidelity"])


def test_scorers_with_numeric_targets():
    # y as teacher embeddings: rows 0 and 3 are identical, so they are positives again.
    est = FakeEncoder().fit(X4, Y4)
    y_num = est.embed_targets(Y4)
    for name, value in EXPECTED.items():
        assert get_scorer(name)(est, X4, y_num) == pytest.approx(value)


def test_scorers_inside_pipeline():
    pipe = Pipeline([("lower", FunctionTransformer(_lowercase)), ("enc", FakeEncoder())])
    pipe.fit(["A", "B", "C", "D"], Y4)
    for name, value in EXPECTED.items():
        assert get_scorer(name)(pipe, ["A", "B", "C", "D"], Y4) == pytest.approx(value)


def test_cross_val_score_and_grid_search():
    # Two folds, each exactly the 4-item scenario above.
    X, y = X4 * 2, Y4 * 2
    cv = KFold(2)
    scores = cross_val_score(FakeEncoder(), X, y, cv=cv, scoring=get_scorer("mrr"))
    np.testing.assert_allclose(scores, [25 / 48, 25 / 48])
    results = cross_validate(
        FakeEncoder(perfect=True),
        X,
        y,
        cv=cv,
        scoring={"fid": fidelity_scorer, "r1": get_scorer("recall@1")},
    )
    np.testing.assert_allclose(results["test_fid"], [1.0, 1.0])
    np.testing.assert_allclose(results["test_r1"], [1.0, 1.0])
    pipe = Pipeline([("lower", FunctionTransformer(_lowercase)), ("enc", FakeEncoder())])
    search = GridSearchCV(pipe, {"enc__perfect": [False, True]}, cv=cv, scoring=get_scorer("map"))
    search.fit([x.upper() for x in X], y)
    assert search.best_params_ == {"enc__perfect": True}
    assert search.best_score_ == pytest.approx(1.0)
    # The fitted search is itself scorable (via best_estimator_).
    assert get_scorer("map")(search, X4, Y4) == pytest.approx(1.0)


def test_scorers_pickle():
    est = FakeEncoder().fit(X4, Y4)
    for name in ("fidelity", "recall@3", "mrr", "map"):
        scorer = pickle.loads(pickle.dumps(get_scorer(name)))
        assert scorer(est, X4, Y4) == pytest.approx(EXPECTED[name])


def test_get_scorer_falls_back_to_sklearn():
    assert get_scorer("recall")._score_func is recall_score
    assert repr(get_scorer("recall@10")) == "make_retrieval_scorer(metric='recall', k=10)"
    with pytest.raises(ValueError, match="not a valid scoring value"):
        get_scorer("no_such_metric")


def test_scorer_errors():
    est = FakeEncoder().fit(X4, Y4)
    with pytest.raises(ValueError, match="ipaclip_recall@K"):
        get_scorer("ipaclip_recall")
    with pytest.raises(ValueError, match="at least 1"):
        get_scorer("recall@0")
    with pytest.raises(ValueError, match="metric must be one of"):
        make_retrieval_scorer("ndcg")
    with pytest.raises(ValueError, match="k must be a positive integer"):
        make_retrieval_scorer("recall", k=0)
    with pytest.raises(ValueError, match="need the targets y"):
        fidelity_scorer(est, X4, None)
    with pytest.raises(TypeError, match="FunctionTransformer cannot be scored"):
        get_scorer("mrr")(FunctionTransformer().fit(X4), X4, Y4)
    with pytest.raises(ValueError, match=r"returned shape \(4, 2\).*shape \(3, 2\)"):
        fidelity_scorer(est, X4, Y4[:3])
