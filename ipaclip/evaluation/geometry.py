"""Phoneme geometry: do the learned phoneme vectors lay out like the IPA chart?

The input is a mapping ``{phoneme: vector}``, e.g. ``PronunciationEncoder.phoneme_vectors()``
(the learned input embedding of each phoneme, for ``embedding="ipa"`` and ``"onehot"``
students alike). The pairwise *cosine distances* between the vectors are compared with two
reference distances:

**Articulatory distance** -- the Hamming distance between the two segments' 24 PanPhon
features (values +1, -1, 0) divided by 24, the substitution cost of
:mod:`ipaclip.evaluation.distance`. It is computed over all phonemes, and within consonants and
within vowels.

**IPA-chart distance** -- where the two symbols sit on the IPA chart, from the small tables
:data:`CONSONANT_CHART` and :data:`VOWEL_CHART` written from the 2020 IPA chart:

* a consonant has a *place* (the chart's columns, in order: bilabial 0, labiodental 1, dental
  2, alveolar 3, postalveolar 4, retroflex 5, palatal 6, velar 7, uvular 8, pharyngeal 9,
  glottal 10), a *manner* (the chart's rows, in order: plosive 0, nasal 1, trill 2, tap or
  flap 3, fricative 4, lateral fricative 5, approximant 6, lateral approximant 7) and a
  *voicing* (PanPhon's ``voi`` feature of the segment itself, so a devoicing diacritic
  counts). Symbols from the chart's "other symbols" box are placed in the nearest column:
  /w ʍ/ velar (their dorsal articulation; the lip rounding is secondary), /ɥ/ and the
  alveolo-palatal /ɕ ʑ/ palatal, /ɫ/ alveolar;
* a vowel has a *height* (close 0, near-close 1, close-mid 2, mid 3, open-mid 4, near-open 5,
  open 6), a *backness* (front 0, central 1, back 2; near-front /ɪ ʏ/ 0.5, near-back /ʊ/ 1.5)
  and a *rounding* (0 or 1).

The chart distance is the city-block distance over the three coordinates, each scaled to
[0, 1] by its range (place / 10, manner / 7, voicing; height / 6, backness / 2, rounding), so
the three chart dimensions weigh the same. A segment with diacritics (``tʰ``, ``iː``, ``ə˞``)
takes the cell of its base letter. Affricates and other tied segments (``t͡ʃ``) have no
single chart cell; they, and any symbol whose base letter is not in the tables, are left out
of the chart comparison and listed, with the reason, under ``"excluded_from_chart"`` in the
result (never dropped silently). Chart distances are compared within consonants and within
vowels only.

Each comparison reports the Spearman rank correlation between the condensed distance
matrices (one value per unordered pair) and a Mantel permutation test (:func:`mantel_test`)
of that correlation.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import unicodedata
from collections.abc import Mapping
from numbers import Integral
from pathlib import Path

import numpy as np
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr, rankdata, spearmanr
from sklearn.metrics.pairwise import cosine_distances
from tqdm.auto import tqdm

from ipaclip._validation import Interval, StrOptions, check_params
from ipaclip.inventory import FEATURE_NAMES, TIE_BARS, get_inventory

__all__ = [
    "CONSONANT_CHART",
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

PLACES = (
    "bilabial", "labiodental", "dental", "alveolar", "postalveolar", "retroflex", "palatal",
    "velar", "uvular", "pharyngeal", "glottal",
)  # fmt: skip
MANNERS = (
    "plosive", "nasal", "trill", "tap", "fricative", "lateral fricative", "approximant",
    "lateral approximant",
)  # fmt: skip


def _consonants(place: str, manner: str, symbols: str) -> dict[str, tuple[int, int]]:
    return {s: (PLACES.index(place), MANNERS.index(manner)) for s in symbols}


#: Consonant base letter -> (place index, manner index) on the IPA chart (see module docs).
CONSONANT_CHART: dict[str, tuple[int, int]] = {
    **_consonants("bilabial", "plosive", "pb"),
    **_consonants("bilabial", "nasal", "m"),
    **_consonants("bilabial", "trill", "ʙ"),
    **_consonants("bilabial", "fricative", "ɸβ"),
    **_consonants("labiodental", "nasal", "ɱ"),
    **_consonants("labiodental", "tap", "ⱱ"),
    **_consonants("labiodental", "fricative", "fv"),
    **_consonants("labiodental", "approximant", "ʋ"),
    **_consonants("dental", "fricative", "θð"),
    **_consonants("alveolar", "plosive", "td"),
    **_consonants("alveolar", "nasal", "n"),
    **_consonants("alveolar", "trill", "r"),
    **_consonants("alveolar", "tap", "ɾ"),
    **_consonants("alveolar", "fricative", "sz"),
    **_consonants("alveolar", "lateral fricative", "ɬɮ"),
    **_consonants("alveolar", "approximant", "ɹ"),
    **_consonants("alveolar", "lateral approximant", "lɫ"),
    **_consonants("postalveolar", "fricative", "ʃʒ"),
    **_consonants("retroflex", "plosive", "ʈɖ"),
    **_consonants("retroflex", "nasal", "ɳ"),
    **_consonants("retroflex", "tap", "ɽ"),
    **_consonants("retroflex", "fricative", "ʂʐ"),
    **_consonants("retroflex", "approximant", "ɻ"),
    **_consonants("retroflex", "lateral approximant", "ɭ"),
    **_consonants("palatal", "plosive", "cɟ"),
    **_consonants("palatal", "nasal", "ɲ"),
    **_consonants("palatal", "fricative", "çʝɕʑ"),
    **_consonants("palatal", "approximant", "jɥ"),
    **_consonants("palatal", "lateral approximant", "ʎ"),
    **_consonants("velar", "plosive", "kɡ"),
    **_consonants("velar", "nasal", "ŋ"),
    **_consonants("velar", "fricative", "xɣʍ"),
    **_consonants("velar", "approximant", "ɰw"),
    **_consonants("velar", "lateral approximant", "ʟ"),
    **_consonants("uvular", "plosive", "qɢ"),
    **_consonants("uvular", "nasal", "ɴ"),
    **_consonants("uvular", "trill", "ʀ"),
    **_consonants("uvular", "fricative", "χʁ"),
    **_consonants("pharyngeal", "fricative", "ħʕ"),
    **_consonants("glottal", "plosive", "ʔ"),
    **_consonants("glottal", "fricative", "hɦ"),
}

#: Vowel base letter -> (height, backness, rounded) on the IPA vowel chart (see module docs).
VOWEL_CHART: dict[str, tuple[float, float, int]] = {
    "i": (0, 0, 0), "y": (0, 0, 1), "ɨ": (0, 1, 0), "ʉ": (0, 1, 1), "ɯ": (0, 2, 0),
    "u": (0, 2, 1), "ɪ": (1, 0.5, 0), "ʏ": (1, 0.5, 1), "ʊ": (1, 1.5, 1), "e": (2, 0, 0),
    "ø": (2, 0, 1), "ɘ": (2, 1, 0), "ɵ": (2, 1, 1), "ɤ": (2, 2, 0), "o": (2, 2, 1),
    "ə": (3, 1, 0), "ɛ": (4, 0, 0), "œ": (4, 0, 1), "ɜ": (4, 1, 0), "ɞ": (4, 1, 1),
    "ʌ": (4, 2, 0), "ɔ": (4, 2, 1), "æ": (5, 0, 0), "ɐ": (5, 1, 0), "a": (6, 0, 0),
    "ɶ": (6, 0, 1), "ɑ": (6, 2, 0), "ɒ": (6, 2, 1),
}  # fmt: skip

_VOI = FEATURE_NAMES.index("voi")


def _segment_features(symbols: list[str]) -> np.ndarray:
    """PanPhon features of each symbol, which must be exactly one inventory segment."""
    inv = get_inventory()
    rows = []
    for symbol in symbols:
        if not isinstance(symbol, str):
            raise TypeError(f"Phoneme keys must be strings, got {symbol!r}.")
        code = inv.segment_index.get(unicodedata.normalize("NFD", symbol))
        if code is None:
            raise ValueError(
                f"Phoneme {symbol!r} is not a single segment of the PanPhon inventory; "
                "pass only segment symbols (as PronunciationEncoder.phoneme_vectors() returns)."
            )
        rows.append(inv.features[code])
    return np.asarray(rows, dtype=np.int8).reshape(len(symbols), -1)


def chart_position(symbol: str) -> tuple[str, tuple[float, float, float]]:
    """IPA-chart coordinates of one segment.

    Parameters
    ----------
    symbol : str
        One IPA segment (with or without diacritics).

    Returns
    -------
    kind : {"consonant", "vowel"}
    coordinates : tuple of three floats, each in [0, 1]
        ``(place / 10, manner / 7, voiced)`` for a consonant, ``(height / 6, backness / 2,
        rounded)`` for a vowel.

    Raises
    ------
    ValueError
        If the symbol is a tied segment (an affricate) or its base letter is not in
        :data:`CONSONANT_CHART` or :data:`VOWEL_CHART`.

    Examples
    --------
    >>> chart_position("b")
    ('consonant', (0.0, 0.0, 1.0))
    >>> chart_position("tʰ")[1] == chart_position("t")[1]
    True
    >>> chart_position("ɔ")
    ('vowel', (0.6666666666666666, 1.0, 1.0))
    """
    nfd = unicodedata.normalize("NFD", symbol)
    if any(t in nfd for t in TIE_BARS):
        raise ValueError(f"{symbol!r} is a tied segment (an affricate) with no single chart cell.")
    for ch in nfd:
        if ch in VOWEL_CHART:
            h, b, r = VOWEL_CHART[ch]
            return "vowel", (h / 6, b / 2, float(r))
        if ch in CONSONANT_CHART:
            place, manner = CONSONANT_CHART[ch]
            voiced = float(_segment_features([symbol])[0, _VOI] == 1)
            return "consonant", (place / (len(PLACES) - 1), manner / (len(MANNERS) - 1), voiced)
    raise ValueError(f"The base letter of {symbol!r} is not in the IPA chart tables.")


def _condensed(D: np.ndarray) -> np.ndarray:
    return D[np.triu_indices(D.shape[0], k=1)]


def cosine_distance_matrix(vectors: np.ndarray) -> np.ndarray:
    """``1 - cos`` between every pair of rows.

    Examples
    --------
    >>> cosine_distance_matrix(np.array([[1.0, 0.0], [0.0, 2.0]])).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    X = np.asarray(vectors, dtype=np.float64)
    zero = ~X.any(axis=1)
    if zero.any():
        raise ValueError(f"Row {int(np.flatnonzero(zero)[0])} is all zeros; cosine "
                         "distance is undefined for a zero vector.")  # fmt: skip
    return cosine_distances(X)  # clipped to [0, 2], zero diagonal


def articulatory_distance_matrix(symbols: list[str]) -> np.ndarray:
    """PanPhon feature Hamming distance / 24 between every pair of segments.

    Examples
    --------
    >>> D = articulatory_distance_matrix(["p", "b", "a"])
    >>> round(float(D[0, 1]) * 24)   # /p/ and /b/ differ in voicing only
    1
    """
    F = _segment_features(list(symbols))
    if len(F) < 2:
        return np.zeros((len(F), len(F)))
    return squareform(pdist(F, metric="hamming"))


def chart_distance_matrix(symbols: list[str]) -> np.ndarray:
    """City-block distance between IPA-chart coordinates (:func:`chart_position`).

    All symbols must be of the same kind (all consonants or all vowels).

    Examples
    --------
    >>> chart_distance_matrix(["p", "b", "t"]).round(2).tolist()
    [[0.0, 1.0, 0.3], [1.0, 0.0, 1.3], [0.3, 1.3, 0.0]]
    """
    positions = [chart_position(s) for s in symbols]
    kinds = {k for k, _ in positions}
    if len(kinds) > 1:
        raise ValueError("Chart distances compare consonants with consonants and vowels with "
                         f"vowels; got both among {list(symbols)[:10]}.")  # fmt: skip
    P = np.asarray([c for _, c in positions], dtype=np.float64).reshape(len(symbols), 3)
    return np.abs(P[:, None, :] - P[None, :, :]).sum(axis=-1)


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
    for perm in tqdm(perms, total=total, disable=not verbose, desc="Mantel permutations"):
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
    x, y = _condensed(D_emb), _condensed(D_ref)
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


def _check_vectors(vectors: Mapping[str, object]) -> tuple[list[str], np.ndarray]:
    if not isinstance(vectors, Mapping):
        raise TypeError(
            "vectors must be a mapping {phoneme: vector}, e.g. "
            f"PronunciationEncoder.phoneme_vectors(); got {type(vectors).__name__}."
        )
    symbols = list(vectors)
    if not symbols:
        raise ValueError("vectors is empty.")
    rows = []
    for s in symbols:
        v = np.asarray(vectors[s], dtype=np.float64).ravel()
        if not np.isfinite(v).all() or not v.any():
            raise ValueError(f"The vector of phoneme {s!r} is all zeros or not finite.")
        rows.append(v)
    dims = {len(v) for v in rows}
    if len(dims) > 1:
        raise ValueError(f"Phoneme vectors have different lengths {sorted(dims)}.")
    return symbols, np.stack(rows)


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
    symbols, X = _check_vectors(vectors)
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
        logger.info("Left out of the chart comparison: %s", ", ".join(excluded))
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


def plot_phoneme_map(
    vectors: Mapping[str, object],
    path: str | os.PathLike,
    *,
    method: str = "pca",
    title: str | None = None,
) -> Path:
    """Draw the phoneme vectors in 2-D (PCA or MDS), consonants and vowels coloured, labelled.

    Vectors are L2-normalised first, so the picture reflects cosine geometry. Needs
    matplotlib (``pip install 'ipaclip[plot]'``).

    Parameters
    ----------
    vectors : mapping of str to array-like
    path : str or path-like
        Where to write the PNG.
    method : {"pca", "mds"}, default="pca"
        PCA of the normalised vectors, or classical (Torgerson) MDS of their cosine
        distances.
    title : str, optional

    Returns
    -------
    pathlib.Path
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plot_phoneme_map needs matplotlib; install it with pip install 'ipaclip[plot]'."
        ) from err
    check_params({"method": [StrOptions({"pca", "mds"})]}, {"method": method}, "plot_phoneme_map")
    symbols, X = _check_vectors(vectors)
    if len(symbols) < 2:
        raise ValueError("plot_phoneme_map needs at least 2 phonemes.")
    from sklearn.decomposition import PCA
    from sklearn.manifold import ClassicalMDS

    U = X / np.linalg.norm(X, axis=1)[:, None]
    n_components = min(2, *U.shape)
    if method == "pca":
        Y = PCA(n_components=n_components).fit_transform(U)
    else:
        # Classical (Torgerson) MDS of the cosine distances.
        Y = ClassicalMDS(n_components, metric="precomputed").fit_transform(
            cosine_distance_matrix(U)
        )
    if Y.shape[1] < 2:
        Y = np.pad(Y, ((0, 0), (0, 2 - Y.shape[1])))
    colours = {"consonant": "tab:blue", "vowel": "tab:red", None: "tab:gray"}
    fig = Figure(figsize=(8, 8))
    ax = fig.add_subplot()
    for kind, label in (("consonant", "consonants"), ("vowel", "vowels"), (None, "other")):
        idx = []
        for i, s in enumerate(symbols):
            try:
                k = chart_position(s)[0]
            except ValueError:
                k = None
            if k == kind:
                idx.append(i)
        if idx:
            ax.scatter(Y[idx, 0], Y[idx, 1], c=colours[kind], label=label, s=20)
            for i in idx:
                ax.annotate(symbols[i], (Y[i, 0], Y[i, 1]), fontsize=11, color=colours[kind],
                            xytext=(3, 3), textcoords="offset points")  # fmt: skip
    ax.legend()
    ax.set_title(title or f"Phoneme vectors ({method.upper()})")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    return out
