"""Evaluation metrics for pronunciation embeddings, and scikit-learn scorers.

Two families of metrics live here:

* **Retrieval** over a similarity matrix ``S`` of shape ``(n_queries, n_gallery)``
  (higher means more similar): :func:`recall_at_k`, :func:`mean_reciprocal_rank`,
  :func:`mean_average_precision`, and :func:`retrieval_report`, which starts from two
  sets of embeddings and scores both retrieval directions with cosine similarity.
* **Distillation fidelity**: :func:`mean_cosine`, the mean row-wise cosine between the
  student's embeddings and the teacher's.

The scorers (:data:`fidelity_scorer`, :func:`make_retrieval_scorer`,
:func:`get_scorer`) plug these metrics into ``cross_val_score`` and ``GridSearchCV``.

Positives
---------
Retrieval functions take the relevant gallery items of each query in one of three
formats, all equivalent:

* a 2-D **mask**: a NumPy array of shape ``(n_queries, n_gallery)`` holding booleans or
  0/1 values, or a ``scipy.sparse`` matrix/array of that shape (several positives per
  query allowed);
* a 1-D **integer array** (or list of ints) of length ``n_queries``: the single positive
  gallery index of each query;
* a **list of iterables** of gallery indices, one per query (several positives per
  query allowed).

Only NumPy arrays and sparse matrices are read as masks: a nested Python list is read as
index lists. Booleans inside index lists are rejected, so that a mask written as nested
lists of ``True``/``False`` is not silently misread; wrap it in ``np.asarray``.

Ties
----
Ranks are *pessimistic*: a positive whose similarity ties with negatives is ranked after
all of them. Positives tied with each other occupy consecutive ranks (which of them comes
first does not change any metric). A model that gives every item the same score therefore
gets the worst possible rank for every query, never a lucky one. This is deterministic and
does not depend on the order of the gallery.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import get_scorer as _sklearn_get_scorer
from sklearn.pipeline import Pipeline

from ipaclip._validation import Interval, InvalidParameterError, StrOptions, check_params, unit_rows

__all__ = [
    "fidelity_scorer",
    "get_scorer",
    "make_retrieval_scorer",
    "mean_average_precision",
    "mean_cosine",
    "mean_reciprocal_rank",
    "recall_at_k",
    "retrieval_report",
]

# Score matrices are processed a block of rows at a time. A block holds about this many
# similarities (each costs ~50 bytes across the temporaries of the rank step, i.e. ~100 MB
# per block), and never more than _MAX_CHUNK_ROWS rows.
_CHUNK_ELEMENTS = 2**21
_MAX_CHUNK_ROWS = 1024

# Average precision compares each row against each of its positives when no query in a
# block has more positives than this; otherwise it sorts the rows.
_FEW_POSITIVES = 16

_RETRIEVAL_METRICS = ("recall", "mrr", "map")


# ---------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------


def _check_similarity(S: Any) -> np.ndarray:
    """Return ``S`` as a 2-D numeric array without copying it to float64."""
    S = np.asarray(S)
    if S.ndim != 2:
        raise ValueError(
            f"S must be a 2-D similarity matrix of shape (n_queries, n_gallery); "
            f"got an array with shape {S.shape}"
        )
    if S.dtype.kind not in "biuf":
        raise TypeError(f"S must hold real numbers; got dtype {S.dtype}")
    if S.shape[0] == 0 or S.shape[1] == 0:
        raise ValueError(f"S must have at least one query and one gallery item; got {S.shape}")
    return S


_POSITIVE_INT = [Interval(numbers.Integral, 1, None, closed="left")]


def _check_k(k: Any, name: str = "k", caller: str = "recall_at_k") -> int:
    if isinstance(k, bool):  # an Integral to Python (and to check_params), never a cut-off
        raise InvalidParameterError(
            f"{name} must be a positive integer; got {k!r} (parameter of {caller})."
        )
    check_params({name: _POSITIVE_INT}, {name: k}, caller)
    return int(k)


def _check_chunk_size(chunk_size: Any, caller: str) -> int | None:
    if chunk_size is None:
        return None
    return _check_k(chunk_size, "chunk_size", caller)


def _rows_per_chunk(chunk_size: int | None, n_gallery: int) -> int:
    if chunk_size is not None:
        return chunk_size
    return max(1, min(_MAX_CHUNK_ROWS, _CHUNK_ELEMENTS // max(n_gallery, 1)))


def _check_positives(positives: Any, n_queries: int, n_gallery: int) -> sp.csr_array:
    """Convert any accepted positives format to a boolean CSR array (n_queries, n_gallery).

    Rows may be empty here; callers decide whether that is an error.
    """
    shape = (n_queries, n_gallery)
    if sp.issparse(positives):
        mask = sp.csr_array(positives)
        if mask.shape != shape:
            raise ValueError(
                f"positives mask has shape {mask.shape} but the similarities have shape "
                f"{shape} (n_queries, n_gallery)"
            )
        mask.eliminate_zeros()
        if mask.dtype != bool and not np.isin(mask.data, (0, 1)).all():
            bad = np.flatnonzero(~np.isin(mask.data, (0, 1)))[0]
            row = int(np.searchsorted(mask.indptr, bad, side="right") - 1)
            raise ValueError(
                f"positives mask must hold only 0/1 or booleans; query {row} holds "
                f"{mask.data[bad]!r}"
            )
        return sp.csr_array(mask.astype(bool))

    if isinstance(positives, np.ndarray) and positives.ndim == 2:
        if positives.shape != shape:
            raise ValueError(
                f"positives mask has shape {positives.shape} but the similarities have shape "
                f"{shape} (n_queries, n_gallery)"
            )
        if positives.dtype != bool:
            if positives.dtype.kind not in "biuf":
                raise TypeError(
                    f"positives mask must hold booleans or 0/1; got dtype {positives.dtype}"
                )
            bad = ~np.isin(positives, (0, 1))
            if bad.any():
                row, col = (int(v) for v in np.argwhere(bad)[0])
                raise ValueError(
                    f"positives mask must hold only 0/1 or booleans; entry ({row}, {col}) "
                    f"of query {row} is {positives[row, col]!r}"
                )
        return sp.csr_array(positives.astype(bool, copy=False))

    if isinstance(positives, (str, bytes)) or not isinstance(positives, Iterable):
        raise TypeError(
            "positives must be a 2-D mask (NumPy array or scipy.sparse matrix), a 1-D array "
            "of gallery indices, or a list of iterables of gallery indices; got "
            f"{type(positives).__name__}"
        )

    items: list[Any] | None = None
    arr: np.ndarray | None = None
    if isinstance(positives, np.ndarray) and positives.dtype != object:
        arr = positives
    else:
        items = list(positives)
        scalars = [isinstance(v, (numbers.Number, np.bool_)) for v in items]
        if items and all(scalars):
            if any(isinstance(v, (bool, np.bool_)) for v in items):
                raise TypeError(
                    "positives given as a flat list must hold integer gallery indices, one "
                    "per query; got booleans. A boolean mask must be a 2-D NumPy array of "
                    "shape (n_queries, n_gallery)."
                )
            arr = np.asarray(items)

    if arr is not None:
        # One positive per query.
        if arr.ndim != 1:
            raise ValueError(
                f"positives given as an index array must be 1-D (one gallery index per "
                f"query); got shape {arr.shape}"
            )
        if arr.dtype == bool or arr.dtype.kind not in "iu":
            raise TypeError(
                f"positives given as a 1-D array must hold integer gallery indices; got "
                f"dtype {arr.dtype}. A boolean mask must be 2-D (n_queries, n_gallery)."
            )
        if arr.shape[0] != n_queries:
            raise ValueError(
                f"positives has {arr.shape[0]} entries but there are {n_queries} queries"
            )
        out_of_range = (arr < 0) | (arr >= n_gallery)
        if out_of_range.any():
            i = int(np.flatnonzero(out_of_range)[0])
            raise ValueError(
                f"positive of query {i} is gallery index {int(arr[i])}, outside [0, {n_gallery})"
            )
        data = np.ones(n_queries, dtype=bool)
        return sp.csr_array((data, arr.astype(np.int64), np.arange(n_queries + 1)), shape=shape)

    # List of iterables of gallery indices.
    assert items is not None
    if len(items) != n_queries:
        raise ValueError(f"positives has {len(items)} entries but there are {n_queries} queries")
    indptr = np.zeros(n_queries + 1, dtype=np.int64)
    indices: list[np.ndarray] = []
    for i, item in enumerate(items):
        if isinstance(item, (str, bytes)) or not isinstance(item, Iterable):
            raise TypeError(
                f"positives of query {i} must be an iterable of gallery indices; got "
                f"{type(item).__name__} {item!r}"
            )
        values = list(item)
        for v in values:
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
                raise TypeError(
                    f"positives of query {i} must be integer gallery indices; got {v!r}. "
                    "To pass a boolean mask, give a 2-D NumPy array (np.asarray(mask))."
                )
            if not 0 <= v < n_gallery:
                raise ValueError(
                    f"positives of query {i} include gallery index {v}, outside [0, {n_gallery})"
                )
        idx = np.unique(np.asarray(values, dtype=np.int64))
        indices.append(idx)
        indptr[i + 1] = indptr[i] + idx.size
    flat = np.concatenate(indices) if indices else np.zeros(0, np.int64)
    return sp.csr_array((np.ones(flat.size, dtype=bool), flat, indptr), shape=shape)


def _require_positive_per_row(mask: sp.csr_array, what: str = "query") -> None:
    empty = np.flatnonzero(np.diff(mask.indptr) == 0)
    if empty.size:
        raise ValueError(
            f"{what} {int(empty[0])} has no positive gallery item ({empty.size} "
            f"{what}s have none); every {what} needs at least one positive"
        )


def _check_embeddings(X: Any, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n, d); got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column; got {X.shape}")
    finite = np.isfinite(X).all(axis=1)
    if not finite.all():
        raise ValueError(f"row {int(np.flatnonzero(~finite)[0])} of {name} has NaN or infinity")
    return X


def _check_nonzero_rows(X: np.ndarray, name: str) -> None:
    zero = ~X.any(axis=1)
    if zero.any():
        raise ValueError(
            f"row {int(np.flatnonzero(zero)[0])} of {name} is all zeros; cosine similarity "
            "is undefined for a zero vector"
        )


def _unit(X: np.ndarray, name: str) -> np.ndarray:
    """The one normalisation helper (:func:`~ipaclip._validation.unit_rows`) in ``X``'s dtype,
    after this module's message for a zero row."""
    _check_nonzero_rows(X, name)
    return unit_rows(X, name, dtype=X.dtype)


def _unique_unit_rows(X: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """L2-normalised unique rows of ``X`` and the index of each row of ``X`` among them.

    Identical rows are normalised once, so their similarities to anything are bitwise
    equal: exact ties stay ties instead of being broken by floating-point noise. When all
    rows are distinct, returns the normalised ``X`` itself and ``None`` for the index.
    """
    _check_nonzero_rows(X, name)
    unique, inverse = np.unique(X, axis=0, return_inverse=True)
    if unique.shape[0] == X.shape[0]:
        return _unit(X, name), None
    return _unit(unique, name), inverse.reshape(-1)


def _cosine_rows(
    A: np.ndarray, a_index: np.ndarray | None, B: np.ndarray, b_index: np.ndarray | None
) -> Callable[[np.ndarray], np.ndarray]:
    """``scores(idx)``: cosines of rows ``idx`` of A with all rows of B.

    ``A``, ``a_index`` and ``B``, ``b_index`` are as returned by :func:`_unique_unit_rows`.
    """

    def scores(idx: np.ndarray) -> np.ndarray:
        S = A[idx if a_index is None else a_index[idx]] @ B.T
        return S if b_index is None else S[:, b_index]

    return scores


# ---------------------------------------------------------------------------------------
# Rank computation
# ---------------------------------------------------------------------------------------


def _rank_block(S: np.ndarray, P: np.ndarray, need_ap: bool) -> tuple[np.ndarray, np.ndarray]:
    """Pessimistic first-positive rank and average precision for a block of queries.

    ``S`` is float64 ``(c, n)``, ``P`` a boolean mask of the same shape with at least one
    positive per row. Returns ``first_rank`` (int, 1-based) and ``ap`` (float; empty when
    ``need_ap`` is false).
    """
    # First positive: the best-scored positive, ranked after every negative that scores
    # at least as high as it (pessimistic ties).
    best_pos = np.where(P, S, -np.inf).max(axis=1)
    first_rank = np.count_nonzero((S >= best_pos[:, None]) & ~P, axis=1) + 1
    if not need_ap:
        return first_rank, np.zeros(0)

    # AP: the m-th positive (by descending score, m = 1, 2, ...) has rank
    # m + (number of negatives scoring >= its score), i.e. it comes after all tied
    # negatives; tied positives take consecutive values of m in any order, which gives the
    # same AP. The count of negatives is found by comparisons when every query has few
    # positives, else from a full sort of each row.
    n_pos = np.count_nonzero(P, axis=1)
    if n_pos.max() <= _FEW_POSITIVES:
        ap = _ap_by_comparison(S, P, n_pos)
    else:
        ap = _ap_by_sorting(S, P)
    return first_rank, ap


def _ap_by_comparison(S: np.ndarray, P: np.ndarray, n_pos: np.ndarray) -> np.ndarray:
    """AP in O(max_positives * n) per row: one comparison pass per positive slot."""
    rows, cols = np.nonzero(P)
    values = S[rows, cols]
    order = np.lexsort((-values, rows))  # by row, then by descending score
    rows, values = rows[order], values[order]
    row_start = np.concatenate(([0], np.cumsum(n_pos)[:-1]))
    slot = np.arange(rows.size) - row_start[rows]
    thresholds = np.full((S.shape[0], int(n_pos.max())), np.nan)
    thresholds[rows, slot] = values
    negatives = ~P
    total = np.zeros(S.shape[0])
    for m in range(thresholds.shape[1]):
        # NaN thresholds (rows with fewer positives) compare False and are masked below.
        neg_at_or_above = np.count_nonzero((S >= thresholds[:, m, None]) & negatives, axis=1)
        total += np.where(m < n_pos, (m + 1) / (m + 1 + neg_at_or_above), 0.0)
    return total / n_pos


def _ap_by_sorting(S: np.ndarray, P: np.ndarray) -> np.ndarray:
    """AP in O(n log n) per row from a full ranking of each row."""
    n = S.shape[1]
    order = np.argsort(-S, axis=1)
    s_sorted = np.take_along_axis(S, order, axis=1)
    p_sorted = np.take_along_axis(P, order, axis=1)
    del order
    # For each position, the last position of its tie group: the count of negatives up to
    # there is the count of negatives scoring >= the score at this position.
    is_last = np.ones(s_sorted.shape, dtype=bool)
    is_last[:, :-1] = s_sorted[:, :-1] != s_sorted[:, 1:]
    del s_sorted
    group_end = np.where(is_last, np.arange(n), n)
    group_end = np.minimum.accumulate(group_end[:, ::-1], axis=1)[:, ::-1]
    neg_at_or_above = np.take_along_axis(np.cumsum(~p_sorted, axis=1), group_end, axis=1)
    m = np.cumsum(p_sorted, axis=1)
    precision = m / (m + neg_at_or_above)  # denominator >= 1 everywhere
    return np.where(p_sorted, precision, 0.0).sum(axis=1) / m[:, -1]


def _rank_stats(
    scores: Callable[[np.ndarray], np.ndarray],
    positives: Callable[[np.ndarray], np.ndarray],
    rows: np.ndarray,
    n_gallery: int,
    chunk_size: int | None,
    need_ap: bool,
    what: str = "query",
) -> tuple[np.ndarray, np.ndarray]:
    """Run :func:`_rank_block` over ``rows`` in blocks of rows.

    ``scores(idx)`` returns the similarity rows ``idx`` as float64 ``(len(idx), n_gallery)``
    and ``positives(idx)`` the matching boolean mask rows.
    """
    step = _rows_per_chunk(chunk_size, n_gallery)
    firsts, aps = [], []
    for start in range(0, rows.size, step):
        idx = rows[start : start + step]
        S = scores(idx)
        finite = np.isfinite(S).all(axis=1)
        if not finite.all():
            raise ValueError(
                f"similarities of {what} {int(idx[np.flatnonzero(~finite)[0]])} contain NaN "
                "or infinity"
            )
        first, ap = _rank_block(S, positives(idx), need_ap)
        firsts.append(first)
        aps.append(ap)
    return np.concatenate(firsts), np.concatenate(aps)


def _matrix_stats(
    S: Any, positives: Any, chunk_size: int | None, need_ap: bool, caller: str
) -> tuple[np.ndarray, np.ndarray]:
    S = _check_similarity(S)
    chunk_size = _check_chunk_size(chunk_size, caller)
    n_q, n_g = S.shape
    mask = _check_positives(positives, n_q, n_g)
    _require_positive_per_row(mask)

    def scores(idx: np.ndarray) -> np.ndarray:
        return np.asarray(S[idx[0] : idx[-1] + 1], dtype=np.float64)

    def pos(idx: np.ndarray) -> np.ndarray:
        return mask[idx[0] : idx[-1] + 1].toarray()

    return _rank_stats(scores, pos, np.arange(n_q), n_g, chunk_size, need_ap)


# ---------------------------------------------------------------------------------------
# Public retrieval metrics
# ---------------------------------------------------------------------------------------


def recall_at_k(S: Any, positives: Any, k: int, *, chunk_size: int | None = None) -> float:
    """Fraction of queries with at least one positive among their top ``k`` gallery items.

    This is the convention of the CLIP paper and of ``clip_benchmark``: a query counts as
    a hit if *any* of its positives is ranked in the top ``k``. Ties are ranked
    pessimistically (a positive tied with negatives comes after them, see the module
    notes).

    Parameters
    ----------
    S : array-like of shape (n_queries, n_gallery)
        Similarities, higher is more similar. Not copied as a whole: it is read in blocks
        of rows and converted to float64 block by block.
    positives : array-like, sparse matrix or list of iterables
        The relevant gallery items of each query: a 0/1 or boolean mask of shape
        ``(n_queries, n_gallery)``, a 1-D integer array with one gallery index per query,
        or a list with an iterable of gallery indices per query. Every query needs at
        least one positive.
    k : int
        Cut-off, at least 1. With ``k >= n_gallery`` every query is a hit.
    chunk_size : int, optional
        Number of queries processed at a time. By default it is chosen so that a block
        holds about two million similarities (at most 1024 queries).

    Returns
    -------
    float
        Mean over queries of the hit indicator, in ``[0, 1]``.

    Raises
    ------
    ValueError
        If a query has no positive, shapes disagree, ``k`` is not a positive integer or a
        similarity is NaN or infinite.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.array([[0.9, 0.1, 0.5],
    ...               [0.2, 0.3, 0.8]])
    >>> recall_at_k(S, [0, 1], k=1)   # query 0 finds item 0; item 1 is 2nd for query 1
    0.5
    >>> recall_at_k(S, [0, 1], k=2)
    1.0
    """
    k = _check_k(k)
    first, _ = _matrix_stats(S, positives, chunk_size, False, "recall_at_k")
    return float(np.mean(first <= k))


def mean_reciprocal_rank(S: Any, positives: Any, *, chunk_size: int | None = None) -> float:
    """Mean over queries of ``1 / rank`` of the first (best-ranked) positive.

    Ranks start at 1 and ties are ranked pessimistically (see :func:`recall_at_k`).

    Parameters
    ----------
    S : array-like of shape (n_queries, n_gallery)
        Similarities, higher is more similar.
    positives : array-like, sparse matrix or list of iterables
        Positives in any of the formats of :func:`recall_at_k`.
    chunk_size : int, optional
        Number of queries processed at a time (see :func:`recall_at_k`).

    Returns
    -------
    float
        Mean reciprocal rank, in ``(0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.array([[0.9, 0.1, 0.5],
    ...               [0.2, 0.3, 0.8]])
    >>> mean_reciprocal_rank(S, [0, 1])   # ranks 1 and 2: (1 + 1/2) / 2
    0.75
    >>> mean_reciprocal_rank(np.ones((2, 3)), [0, 1])   # all tied: rank 3 for both
    0.3333333333333333
    """
    first, _ = _matrix_stats(S, positives, chunk_size, False, "mean_reciprocal_rank")
    return float(np.mean(1.0 / first))


def mean_average_precision(S: Any, positives: Any, *, chunk_size: int | None = None) -> float:
    """Mean over queries of the average precision of the full ranking.

    For one query with positives at ranks ``r_1 < r_2 < ... < r_P`` (1-based, ties ranked
    pessimistically), ``AP = (1/P) * sum_m m / r_m``: the precision at the rank of each
    positive, averaged over all positives (uninterpolated, no cut-off).

    Parameters
    ----------
    S : array-like of shape (n_queries, n_gallery)
        Similarities, higher is more similar.
    positives : array-like, sparse matrix or list of iterables
        Positives in any of the formats of :func:`recall_at_k`.
    chunk_size : int, optional
        Number of queries processed at a time (see :func:`recall_at_k`).

    Returns
    -------
    float
        Mean average precision, in ``(0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> S = np.array([[0.9, 0.1, 0.5, 0.7]])
    >>> # Positives 0 and 2 are ranked 1st and 3rd: AP = (1/1 + 2/3) / 2
    >>> round(mean_average_precision(S, [[0, 2]]), 4)
    0.8333
    """
    _, ap = _matrix_stats(S, positives, chunk_size, True, "mean_average_precision")
    return float(np.mean(ap))


def retrieval_report(
    query_emb: Any,
    gallery_emb: Any,
    positives: Any,
    ks: Sequence[int] = (1, 5, 10),
    *,
    chunk_size: int | None = None,
) -> dict[str, float | int]:
    """Recall@k, MRR and mAP in both directions, from embeddings and cosine similarity.

    The query→gallery direction ranks the gallery for each query using ``positives``. The
    gallery→query direction ranks the queries for each gallery item using the transposed
    positives. In that reverse direction, **gallery items that are nobody's positive are
    skipped** (they have nothing to retrieve); the number of items actually scored is
    reported as ``"g2q_n_queries"``. In the forward direction every query needs a positive.

    Similarities are cosines computed in float64, one block of rows at a time, so the full
    ``(n_queries, n_gallery)`` matrix is never held in memory. Identical embedding rows are
    scored once, so their similarities are exactly equal and ties among them are real
    ties (ranked pessimistically, see :func:`recall_at_k`) rather than floating-point noise.

    Parameters
    ----------
    query_emb : array-like of shape (n_queries, d)
        Query embeddings. Need not be normalised; zero rows are an error.
    gallery_emb : array-like of shape (n_gallery, d)
        Gallery embeddings.
    positives : array-like, sparse matrix or list of iterables
        Positives of each query, in any of the formats of :func:`recall_at_k`.
    ks : sequence of int, default=(1, 5, 10)
        Cut-offs for recall.
    chunk_size : int, optional
        Number of rows processed at a time (see :func:`recall_at_k`).

    Returns
    -------
    dict
        Keys ``"q2g_recall@k"`` for each ``k`` in ``ks``, ``"q2g_mrr"``, ``"q2g_map"``,
        ``"q2g_n_queries"``, and the same with prefix ``"g2q_"`` for the reverse direction.
        ``*_n_queries`` are ints, the rest floats.

    Examples
    --------
    >>> import numpy as np
    >>> queries = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> gallery = np.array([[1.0, 0.1], [0.1, 1.0], [-1.0, 0.0]])
    >>> report = retrieval_report(queries, gallery, [0, 1], ks=(1,))
    >>> report["q2g_recall@1"], report["q2g_mrr"]
    (1.0, 1.0)
    >>> report["g2q_n_queries"]   # gallery item 2 is no query's positive: skipped
    2
    """
    Q = _check_embeddings(query_emb, "query_emb")
    G = _check_embeddings(gallery_emb, "gallery_emb")
    if Q.shape[1] != G.shape[1]:
        raise ValueError(
            f"query_emb has dimension {Q.shape[1]} but gallery_emb has dimension {G.shape[1]}"
        )
    if isinstance(ks, numbers.Integral):
        ks = (ks,)
    ks = list(dict.fromkeys(_check_k(k, "each k in ks", "retrieval_report") for k in ks))
    chunk_size = _check_chunk_size(chunk_size, "retrieval_report")
    n_q, n_g = Q.shape[0], G.shape[0]
    mask = _check_positives(positives, n_q, n_g)
    _require_positive_per_row(mask)
    mask_t = sp.csr_array(mask.T)

    Qu, q_inv = _unique_unit_rows(Q, "query_emb")
    Gu, g_inv = _unique_unit_rows(G, "gallery_emb")

    report: dict[str, float | int] = {}
    directions = [
        ("q2g", _cosine_rows(Qu, q_inv, Gu, g_inv), mask, n_g, "query"),
        ("g2q", _cosine_rows(Gu, g_inv, Qu, q_inv), mask_t, n_q, "gallery item"),
    ]
    for prefix, scores, m, n_cols, what in directions:
        rows = np.flatnonzero(np.diff(m.indptr) > 0)  # g2q: skip items nobody retrieves

        def pos(idx: np.ndarray, m: sp.csr_array = m) -> np.ndarray:
            return m[idx, :].toarray()

        first, ap = _rank_stats(scores, pos, rows, n_cols, chunk_size, True, what)
        for k in ks:
            report[f"{prefix}_recall@{k}"] = float(np.mean(first <= k))
        report[f"{prefix}_mrr"] = float(np.mean(1.0 / first))
        report[f"{prefix}_map"] = float(np.mean(ap))
        report[f"{prefix}_n_queries"] = int(rows.size)
    return report


# ---------------------------------------------------------------------------------------
# Distillation fidelity
# ---------------------------------------------------------------------------------------


def _mean_cosine(a: Any, b: Any, names: tuple[str, str] = ("a", "b")) -> float:
    A = _check_embeddings(a, names[0])
    B = _check_embeddings(b, names[1])
    if A.shape != B.shape:
        raise ValueError(
            f"{names[0]} has shape {A.shape} but {names[1]} has shape {B.shape}; they must match"
        )
    A = _unit(A, names[0])
    B = _unit(B, names[1])
    return float(np.mean(np.einsum("ij,ij->i", A, B)))


def mean_cosine(a: Any, b: Any) -> float:
    """Mean row-wise cosine similarity of two sets of embeddings.

    This is the distillation fidelity: ``a`` the student's embeddings, ``b`` the teacher's
    embeddings of the same items, row by row. Rows are L2-normalised internally.

    Parameters
    ----------
    a : array-like of shape (n, d)
        First embeddings.
    b : array-like of shape (n, d)
        Second embeddings, row ``i`` paired with row ``i`` of ``a``.

    Returns
    -------
    float
        Mean of ``cos(a[i], b[i])`` over rows, in ``[-1, 1]``.

    Raises
    ------
    ValueError
        If the shapes differ, a row is all zeros (its cosine is undefined) or a value is
        NaN or infinite.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> b = np.array([[3.0, 0.0], [1.0, 1.0]])
    >>> round(mean_cosine(a, b), 4)   # (1 + 1/sqrt(2)) / 2
    0.8536
    """
    return _mean_cosine(a, b)


# ---------------------------------------------------------------------------------------
# scikit-learn scorers
# ---------------------------------------------------------------------------------------


def _target_encoder(estimator: Any) -> Any:
    """The object whose ``embed_targets`` embeds y: the estimator or its final step."""
    current = estimator
    while not hasattr(current, "embed_targets"):
        if isinstance(current, Pipeline):
            current = current[-1]
        elif hasattr(current, "best_estimator_"):
            current = current.best_estimator_
        else:
            raise TypeError(
                f"{type(estimator).__name__} cannot be scored by ipaclip: neither it nor "
                "the final step of its Pipeline has an embed_targets method (expected a "
                "PronunciationEncoder or an IPACLIP, or a Pipeline ending in one)"
            )
    return current


def _student_and_targets(estimator: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    if y is None:
        raise ValueError(
            "ipaclip scorers need the targets y (texts or teacher embeddings) of X; got y=None"
        )
    encoder = _target_encoder(estimator)
    Z = np.asarray(estimator.transform(X), dtype=np.float64)
    T = np.asarray(encoder.embed_targets(y), dtype=np.float64)
    if Z.ndim != 2 or T.ndim != 2 or Z.shape != T.shape:
        raise ValueError(
            f"{type(estimator).__name__}.transform(X) returned shape {Z.shape} but "
            f"embed_targets(y) returned shape {T.shape}; both must be (n_samples, d) "
            "with the same n_samples and d"
        )
    return Z, T


def _target_groups(y: Any, n: int) -> np.ndarray:
    """Integer label per sample; samples with equal targets share a label."""
    arr = y if isinstance(y, np.ndarray) else None
    if arr is None and not isinstance(y, (list, tuple)):
        arr = np.asarray(y)  # e.g. a pandas Series or DataFrame
    if arr is not None and arr.dtype.kind in "biuf" and arr.ndim == 2:
        # Numeric (n, d) targets: equal rows are the same target.
        labels = np.unique(arr, axis=0, return_inverse=True)[1].reshape(-1)
    else:
        # Texts (or other hashable items): equal items are the same target.
        seen: dict[Any, int] = {}
        labels = np.array([seen.setdefault(v, len(seen)) for v in y], dtype=np.int64)
    if labels.shape[0] != n:
        raise ValueError(f"y has {labels.shape[0]} targets but X gave {n} embeddings")
    return labels


class _FidelityScorer:
    """Scorer: mean cosine between ``transform(X)`` and ``embed_targets(y)``."""

    def __call__(self, estimator: Any, X: Any, y: Any = None) -> float:
        Z, T = _student_and_targets(estimator, X, y)
        return _mean_cosine(Z, T, names=("transform(X)", "embed_targets(y)"))

    def __repr__(self) -> str:
        return "ipaclip.metrics.fidelity_scorer"


class _RetrievalScorer:
    """Scorer: retrieval of each sample's target among the fold's target embeddings."""

    def __init__(self, metric: str = "recall", k: int = 1) -> None:
        self.metric = metric
        self.k = k

    def __call__(self, estimator: Any, X: Any, y: Any = None) -> float:
        Z, T = _student_and_targets(estimator, X, y)
        labels = _target_groups(y, Z.shape[0])
        Zu, z_inv = _unique_unit_rows(Z, "transform(X)")
        Tu, t_inv = _unique_unit_rows(T, "embed_targets(y)")

        def pos(idx: np.ndarray) -> np.ndarray:
            return labels[idx][:, None] == labels[None, :]

        n = Z.shape[0]
        scores = _cosine_rows(Zu, z_inv, Tu, t_inv)
        first, ap = _rank_stats(scores, pos, np.arange(n), n, None, self.metric == "map")
        if self.metric == "recall":
            return float(np.mean(first <= self.k))
        if self.metric == "mrr":
            return float(np.mean(1.0 / first))
        return float(np.mean(ap))

    def __repr__(self) -> str:
        if self.metric == "recall":
            return f"make_retrieval_scorer(metric='recall', k={self.k})"
        return f"make_retrieval_scorer(metric={self.metric!r})"


#: Scorer for ``cross_val_score``/``GridSearchCV``: the mean cosine between the
#: estimator's ``transform(X)`` and its ``embed_targets(y)`` (distillation fidelity).
#: Works on a ``PronunciationEncoder``, an ``IPACLIP`` or a ``Pipeline`` ending in one. On an
#: ``IPACLIP``, ``transform(X)`` is the fused query of the texts ``X`` (at its
#: ``fuse_weight``) and ``embed_targets(y)`` the teacher on the target texts (or the rows).
fidelity_scorer = _FidelityScorer()


def make_retrieval_scorer(metric: str = "recall", k: int = 1) -> Callable[..., float]:
    """Build a retrieval scorer for ``cross_val_score`` and ``GridSearchCV``.

    On each scored fold, the student's embedding of ``X[i]`` (``estimator.transform(X)``)
    is a query that ranks the fold's target embeddings (``embed_targets(y)`` of the
    estimator, or of the final step of a ``Pipeline``) by cosine similarity. The positives
    of query ``i`` are all ``j`` whose target equals target ``i``: identical texts in
    ``y``, or identical rows when ``y`` is a numeric ``(n, d)`` array. Homophones and
    duplicated items therefore count as correct. Ties are ranked pessimistically (see
    :func:`recall_at_k`). Scores depend on the fold size: smaller folds are easier.

    On an :class:`~ipaclip.IPACLIP`, the query of ``X[i]`` is its fused query
    (:meth:`IPACLIP.transform <ipaclip.IPACLIP.transform>`, at ``fuse_weight``) and the
    targets are the teacher's embeddings of ``y``: ``GridSearchCV(IPACLIP(encoder),
    {"fuse_weight": [...]}, scoring=make_retrieval_scorer("recall", k=1))`` picks the weight
    whose queries (respellings in ``X``, say) best find their words (``y``).

    Parameters
    ----------
    metric : {"recall", "mrr", "map"}, default="recall"
        ``"recall"``: recall@k; ``"mrr"``: mean reciprocal rank; ``"map"``: mean average
        precision.
    k : int, default=1
        Cut-off for ``metric="recall"``; ignored by the other metrics.

    Returns
    -------
    callable
        A picklable scorer ``scorer(estimator, X, y) -> float`` (greater is better).

    Examples
    --------
    >>> import numpy as np
    >>> class Identity:  # a stand-in for PronunciationEncoder
    ...     def transform(self, X):
    ...         return np.asarray(X, dtype=float)
    ...     def embed_targets(self, y):
    ...         return np.asarray(y, dtype=float)
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1]])
    >>> y = np.array([[0.0, 1.0], [1.0, 0.0], [0.9, 0.1]])
    >>> scorer = make_retrieval_scorer("recall", k=1)
    >>> scorer(Identity(), X, y)   # only X[2] retrieves its own target first
    0.3333333333333333
    """
    check_params(
        {"metric": [StrOptions(set(_RETRIEVAL_METRICS))]},
        {"metric": metric},
        "make_retrieval_scorer",
    )
    return _RetrievalScorer(metric, _check_k(k, caller="make_retrieval_scorer"))


_SCORER_NAME = re.compile(r"^(?:ipaclip_)?(?:(fidelity|mrr|map)|recall@(\d+))$")


def get_scorer(name: Any) -> Callable[..., Any]:
    """Look up a scorer by name: ipaclip's own, else scikit-learn's.

    Parameters
    ----------
    name : str or callable
        ``"fidelity"`` (:data:`fidelity_scorer`), ``"recall@K"`` for any integer ``K >= 1``,
        ``"mrr"`` or ``"map"`` (see :func:`make_retrieval_scorer`), each optionally
        prefixed with ``"ipaclip_"``. Anything else, including callables and ``None``, is
        passed to :func:`sklearn.metrics.get_scorer`. Note that a bare ``"recall"`` is
        scikit-learn's classification recall.

    Returns
    -------
    callable
        A scorer ``scorer(estimator, X, y) -> float``.

    Examples
    --------
    >>> get_scorer("recall@5")
    make_retrieval_scorer(metric='recall', k=5)
    >>> get_scorer("ipaclip_map")
    make_retrieval_scorer(metric='map')
    >>> get_scorer("fidelity")
    ipaclip.metrics.fidelity_scorer
    >>> get_scorer("accuracy")
    make_scorer(accuracy_score, response_method='predict')
    """
    if isinstance(name, str):
        match = _SCORER_NAME.match(name)
        if match:
            simple, k = match.groups()
            if simple == "fidelity":
                return fidelity_scorer
            if simple is not None:
                return make_retrieval_scorer(simple)
            if int(k) < 1:
                raise ValueError(f"scorer {name!r}: K in recall@K must be at least 1")
            return make_retrieval_scorer("recall", int(k))
        if name.startswith("ipaclip_"):
            raise ValueError(
                f"unknown ipaclip scorer {name!r}; expected 'ipaclip_fidelity', "
                "'ipaclip_recall@K' (e.g. 'ipaclip_recall@5'), 'ipaclip_mrr' or 'ipaclip_map'"
            )
    return _sklearn_get_scorer(name)
