"""Phoneme geometry: do the learned phoneme vectors lay out like the IPA chart?

The input is a mapping ``{phoneme: vector}``, e.g. ``PronunciationEncoder.phoneme_vectors()``
(the learned input embedding of each phoneme, for ``embedding="ipa"`` and ``"onehot"``
students alike). The pairwise *cosine distances* between the vectors are compared with two
reference distances, defined in :mod:`ipaclip.evaluation.chart` (whose names are
re-exported here):

**Articulatory distance** -- the Hamming distance between the two segments' 24 PanPhon
features divided by 24. It is compared over all phonemes, and within consonants and within
vowels.

**IPA-chart distance** -- the city-block distance between the symbols' cells on the 2020 IPA
chart (place, manner, voicing; height, backness, rounding, each scaled to [0, 1]). It is
compared within consonants and within vowels only. Affricates and other tied segments
(``t͡ʃ``) have no single chart cell; they, and any symbol whose base letter is not in the
tables, are left out of the chart comparison and listed, with the reason, under
``"excluded_from_chart"`` in the result (never dropped silently).

Each comparison reports the Spearman rank correlation between the condensed distance
matrices (one value per unordered pair) and a Mantel permutation test (:func:`mantel_test`)
of that correlation. :func:`plot_phoneme_map` (in :mod:`ipaclip.evaluation.plots`, importable
from here too) draws the vectors.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Mapping
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import pearsonr, rankdata, spearmanr

from ipaclip._progress import iterate
from ipaclip._validation import Interval, StrOptions, check_params
from ipaclip.evaluation.chart import (
    CONSONANT_CHART,
    MANNERS,
    PLACES,
    VOWEL_CHART,
    articulatory_distance_matrix,
    chart_distance_matrix,
    chart_position,
    condensed,
    cosine_distance_matrix,
    vector_table,
)
from ipaclip.evaluation.evaluator import Evaluator
from ipaclip.evaluation.plots import plot_phoneme_map  # moved there; kept importable here
from ipaclip.evaluation.queries import Queries

__all__ = [
    "CONSONANT_CHART",
    "GeometryEvaluator",
    "MANNERS",
    "PLACES",
    "VOWEL_CHART",
    "articulatory_distance_matrix",
    "chart_distance_matrix",
    "chart_position",
    "cosine_distance_matrix",
    "evaluate_phoneme_geometry",
    "mantel_test",
    "plot_phoneme_map",
]

logger = logging.getLogger(__name__)


def _check_square(D: object, name: str) -> np.ndarray:
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {D.shape}.")
    if not np.isfinite(D).all():
        raise ValueError(f"{name} has NaN or infinite entries.")
    if not np.allclose(D, D.T):
        raise ValueError(f"{name} must be symmetric.")
    return D


def mantel_test(
    D1: object,
    D2: object,
    n_permutations: int = 999,
    random_state: int | np.random.Generator | None = 0,
    *,
    method: str = "pearson",
    verbose: int = 0,
) -> dict:
    """Mantel test: correlation of two distance matrices and its permutation p-value.

    The statistic ``r`` is the correlation (Pearson, or Spearman with ``method="spearman"``)
    between the upper triangles of ``D1`` and ``D2``. Its null distribution comes from
    relabelling the objects of ``D2``: rows and columns are permuted together, which keeps
    the within-matrix dependence that makes a plain correlation test invalid. The p-value is
    one-sided (positive association): the share of relabellings with ``r_perm >= r``.

    If ``n!`` is at most ``n_permutations``, all ``n!`` relabellings (the identity included)
    are enumerated and the p-value is exact. Otherwise ``n_permutations`` random relabellings
    are drawn and ``p = (1 + #{r_perm >= r}) / (1 + n_permutations)``.

    Parameters
    ----------
    D1, D2 : array-like of shape (n, n)
        Symmetric distance matrices over the same ``n >= 3`` objects in the same order.
    n_permutations : int, default=999
    random_state : int, Generator or None, default=0
    method : {"pearson", "spearman"}, default="pearson"
    verbose : int, default=0
        Show a progress bar over permutations when positive.

    Returns
    -------
    dict
        ``{"r", "p_value", "n_permutations", "exact", "method", "n"}`` (``n_permutations`` is
        the number of relabellings actually used).

    Examples
    --------
    Three objects have 3! = 6 relabellings; only the identity reproduces ``r = 1``:

    >>> D = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]])
    >>> res = mantel_test(D, D, n_permutations=10)
    >>> round(res["r"], 6), res["exact"], round(res["p_value"], 4)
    (1.0, True, 0.1667)
    """
    A = _check_square(D1, "D1")
    B = _check_square(D2, "D2")
    if A.shape != B.shape:
        raise ValueError(f"D1 has shape {A.shape} but D2 has shape {B.shape}; they must match.")
    n = A.shape[0]
    if n < 3:
        raise ValueError(f"The Mantel test needs at least 3 objects, got {n}.")
    check_params(
        {
            "method": [StrOptions({"pearson", "spearman"})],
            "n_permutations": [Interval(Integral, 1, None, closed="left")],
        },
        {"method": method, "n_permutations": n_permutations},
        "mantel_test",
    )
    iu = np.triu_indices(n, k=1)
    a = A[iu]
    if method == "spearman":
        a = rankdata(a)
        B = B.copy()
        B[iu] = rankdata(B[iu])
        B[(iu[1], iu[0])] = B[iu]
    a = a - a.mean()
    a_norm = np.linalg.norm(a)
    b0 = B[iu]
    if a_norm == 0 or np.ptp(b0) == 0:
        raise ValueError("A distance matrix is constant over its pairs; the correlation is "
                         "undefined.")  # fmt: skip

    def corr(perm: np.ndarray) -> float:
        b = B[perm[iu[0]], perm[iu[1]]]
        b = b - b.mean()
        return float(a @ b / (a_norm * np.linalg.norm(b)))

    r = corr(np.arange(n))
    exact = math.factorial(n) <= n_permutations
    tol = 1e-12
    if exact:
        perms = itertools.permutations(range(n))
        total = math.factorial(n)
    else:
        rng = np.random.default_rng(random_state)
        perms = (rng.permutation(n) for _ in range(n_permutations))
        total = int(n_permutations)
    count = 0
    for perm in iterate(perms, "Mantel permutations", verbose, total=total):
        if corr(np.asarray(perm)) >= r - tol:
            count += 1
    p = count / total if exact else (1 + count) / (1 + total)
    return {
        "r": r,
        "p_value": float(p),
        "n_permutations": total,
        "exact": bool(exact),
        "method": method,
        "n": int(n),
    }


def _compare(
    D_emb: np.ndarray,
    D_ref: np.ndarray,
    n_permutations: int,
    random_state: int | None,
    verbose: int,
) -> dict:
    n = D_emb.shape[0]
    out: dict = {"n": int(n), "n_pairs": int(n * (n - 1) // 2)}
    x, y = condensed(D_emb), condensed(D_ref)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        logger.warning("Too few phonemes (%d) or constant distances: no correlation.", n)
        out.update(spearman=None, pearson=None, mantel_r=None, mantel_p=None)
        return out
    out["spearman"] = float(spearmanr(x, y)[0])
    out["pearson"] = float(pearsonr(x, y)[0])
    mantel = mantel_test(
        D_emb, D_ref, n_permutations, random_state, method="spearman", verbose=verbose
    )
    out["mantel_r"] = mantel["r"]
    out["mantel_p"] = mantel["p_value"]
    out["mantel_permutations"] = mantel["n_permutations"]
    return out


def evaluate_phoneme_geometry(
    vectors: Mapping[str, object],
    *,
    n_permutations: int = 999,
    random_state: int | None = 0,
    verbose: int = 0,
) -> dict:
    """Compare phoneme-vector cosine distances with articulatory and IPA-chart distances.

    Parameters
    ----------
    vectors : mapping of str to array-like
        ``{segment: vector}``, e.g. ``PronunciationEncoder.phoneme_vectors()``.
    n_permutations : int, default=999
        Relabellings for each Mantel test.
    random_state : int or None, default=0
    verbose : int, default=0

    Returns
    -------
    dict
        ``"n_phonemes"``, ``"excluded_from_chart"`` (``{symbol: reason}``), and for each group
        ``"all"`` (articulatory only), ``"consonants"`` and ``"vowels"`` (``"articulatory"``
        and ``"chart"``): ``{"n", "n_pairs", "spearman", "pearson", "mantel_r", "mantel_p",
        "mantel_permutations"}``, correlations ``None`` when a group has fewer than 3 members.

    Examples
    --------
    Vectors that one-hot encode each PanPhon feature value have cosine distance equal to the
    articulatory distance, so the rank correlation is perfect:

    >>> from ipaclip.inventory import get_inventory
    >>> inv = get_inventory()
    >>> def onehot(s):
    ...     f = inv.features[inv.segment_index[s]]
    ...     return np.eye(3)[f + 1].ravel()
    >>> res = evaluate_phoneme_geometry({s: onehot(s) for s in "pbtdkɡaiu"}, n_permutations=99)
    >>> res["all"]["articulatory"]["spearman"]
    1.0
    >>> res["all"]["articulatory"]["mantel_p"]
    0.01
    """
    symbols, X = vector_table(vectors)
    D_emb = cosine_distance_matrix(X)
    D_art = articulatory_distance_matrix(symbols)
    kinds: dict[str, str] = {}
    excluded: dict[str, str] = {}
    for s in symbols:
        try:
            kinds[s] = chart_position(s)[0]
        except ValueError as err:
            excluded[s] = str(err)
    if excluded:
        level = logging.INFO if verbose else logging.DEBUG  # verbose=0 logs nothing visible
        logger.log(level, "Left out of the chart comparison: %s", ", ".join(excluded))
    result: dict = {"n_phonemes": len(symbols), "excluded_from_chart": excluded}
    args = (n_permutations, random_state, verbose)
    result["all"] = {"articulatory": _compare(D_emb, D_art, *args)}
    for group, kind in (("consonants", "consonant"), ("vowels", "vowel")):
        idx = [i for i, s in enumerate(symbols) if kinds.get(s) == kind]
        sub = np.ix_(idx, idx)
        members = [symbols[i] for i in idx]
        result[group] = {
            "symbols": members,
            "articulatory": _compare(D_emb[sub], D_art[sub], *args),
            "chart": _compare(D_emb[sub], chart_distance_matrix(members), *args),
        }
    return result


class GeometryEvaluator(Evaluator):
    """The encoder's phoneme vectors against articulatory and IPA-chart distances.

    :func:`evaluate_phoneme_geometry` on ``encoder.phoneme_vectors()`` (pronunciation only;
    the teacher is not read).

    Parameters
    ----------
    n_permutations : int, default=999
        Mantel permutations.
    random_state : int or None, default=0
        Seeds the permutations.
    plot_dir : str or Path, optional
        Also draw the phoneme map there (``phoneme_map.png``, needs matplotlib); its path is
        in ``plots_`` and ``info_["info"]["plot"]``.
    """

    name = "geometry"
    primary_metric = "pronunciation/all/articulatory/spearman"
    rows = {
        "articulatory rho (all)": ("all", "articulatory", "spearman"),
        "chart rho (consonants)": ("consonants", "chart", "spearman"),
        "chart rho (vowels)": ("vowels", "chart", "spearman"),
    }
    summary = ("articulatory rho (all)",)
    needs_teacher = False
    order = 20
    _parameter_constraints: dict[str, list[Any]] = {
        "n_permutations": [Interval(Integral, 1, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
        "plot_dir": [str, os.PathLike, None],
    }

    def __init__(
        self,
        *,
        n_permutations: int = 999,
        random_state: int | None = 0,
        plot_dir: str | os.PathLike | None = None,
    ):
        self.n_permutations = n_permutations
        self.random_state = random_state
        self.plot_dir = plot_dir

    def compute(self, queries: Queries) -> dict:
        vectors = queries.encoder.phoneme_vectors()
        steps = ["Mantel tests"] + (["phoneme map"] if self.plot_dir is not None else [])
        out: dict[str, Any] = {}
        for step in queries.track(steps):
            if step == "Mantel tests":
                out["pronunciation"] = evaluate_phoneme_geometry(
                    vectors, n_permutations=self.n_permutations, random_state=self.random_state
                )
            else:
                path = Path(self.plot_dir) / "phoneme_map.png"
                path = plot_phoneme_map(vectors, path, name=queries.name)
                self.plots_["phoneme_map"] = str(path)
                out["info"] = {"plot": str(path)}
        return out
