"""Where phonemes sit on the IPA chart, and reference distances between phonemes.

The reference geometry that :mod:`ipaclip.evaluation.geometry` compares learned phoneme
vectors with, and that :mod:`ipaclip.evaluation.plots` draws them by:

**Articulatory distance** (:func:`articulatory_distance_matrix`) -- the Hamming distance
between the two segments' 24 PanPhon features (values +1, -1, 0) divided by 24, the
substitution cost of :mod:`ipaclip.evaluation.distance`.

**IPA-chart distance** (:func:`chart_distance_matrix`) -- where the two symbols sit on the IPA
chart, from the small tables :data:`CONSONANT_CHART` and :data:`VOWEL_CHART` written from the
2020 IPA chart:

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
single chart cell (:func:`chart_position` refuses them), but :func:`phoneme_kind` still
calls them consonants.

**Cosine distance** (:func:`cosine_distance_matrix`) between learned vectors, and
:func:`vector_table`, the check of a ``{phoneme: vector}`` mapping.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

import numpy as np
from scipy.spatial.distance import pdist, squareform
from sklearn.metrics.pairwise import cosine_distances

from ipaclip.inventory import FEATURE_NAMES, TIE_BARS, get_inventory

__all__ = [
    "CONSONANT_CHART",
    "MANNERS",
    "PLACES",
    "VOWEL_CHART",
    "articulatory_distance_matrix",
    "chart_distance_matrix",
    "chart_position",
    "condensed",
    "cosine_distance_matrix",
    "phoneme_kind",
    "vector_table",
]

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


def condensed(D: np.ndarray) -> np.ndarray:
    """The upper triangle of a square matrix, one value per unordered pair, row-major."""
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


def phoneme_kind(symbol: str) -> str:
    """``"consonant"``, ``"vowel"`` or ``"other"``: how the phoneme map colours a segment.

    A segment with a chart cell takes its kind (:func:`chart_position`). A tied segment
    (an affricate such as ``t͡ʃ``, a tied diphthong) takes the kind of its first letter, and
    any other inventory segment the kind its PanPhon ``syl`` feature says.

    Examples
    --------
    >>> phoneme_kind("p"), phoneme_kind("t͡ʃ"), phoneme_kind("d͡ʒ"), phoneme_kind("iː")
    ('consonant', 'consonant', 'consonant', 'vowel')
    >>> phoneme_kind("☃")
    'other'
    """
    nfd = unicodedata.normalize("NFD", symbol)
    parts = [p for p in nfd.replace(TIE_BARS[1], TIE_BARS[0]).split(TIE_BARS[0]) if p]
    try:
        return chart_position(parts[0] if len(parts) > 1 else symbol)[0]
    except (ValueError, IndexError):
        pass
    code = get_inventory().segment_index.get(nfd)
    if code is None:
        return "other"
    syllabic = get_inventory().features[code][FEATURE_NAMES.index("syl")]
    return "vowel" if syllabic == 1 else "consonant" if syllabic == -1 else "other"


def vector_table(vectors: Mapping[str, object]) -> tuple[list[str], np.ndarray]:
    """The symbols of a ``{phoneme: vector}`` mapping and their vectors as rows (checked)."""
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
