"""Articulatory feature edit distance between IPA strings.

The distance is a Levenshtein distance over *segments* (phonemes with their diacritics, as
segmented by :func:`ipaclip.inventory.get_inventory`) in which

* substituting segment ``x`` by ``y`` costs the fraction of PanPhon's 24 articulatory features
  (values +1, -1, 0) on which they differ, i.e. their Hamming distance divided by 24, so /p/ →
  /b/ (voicing only) costs 1/24 and /p/ → /a/ costs much more;
* inserting or deleting a segment costs 1.

Because a substitution never costs more than 1, the total is at most the length of the longer
string; dividing by that length (``by_length=True``, the default) gives a value in [0, 1].
:func:`phonetic_similarity` is one minus the distance divided by length.

Stress marks (ˈ ˌ), syllable breaks (.), tone numbers and word boundaries are ignored: only
the segment sequence counts, so /ɐ blˈæk kˈæt/ is compared as the segments ɐ b l æ k k æ t.
Length (ː) and tone letters are part of a segment's PanPhon features and do count.
A symbol that is not in the inventory is an error, never silently dropped.

The batched functions (:func:`pairwise_feature_edit_distance`,
:func:`paired_feature_edit_distance`) run the dynamic programme for many pairs at once: the
Python loop runs over the cells of one ``(L_a + 1) x (L_b + 1)`` table (``L`` the longest
segment count in a chunk of pairs) and each step is a numpy operation over all pairs of the
chunk. The work is ``O(n_pairs * L_a * L_b)`` elementary operations, but only
``O(L_a * L_b * n_pairs / chunk_size)`` Python steps; 1,000 English words (about 500,000
pairs) take about a second.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ipaclip._edit_distance import (
    edit_distances,
    pad_codes,
    relative_distances,
    substitution_costs,
)
from ipaclip._validation import check_string_items
from ipaclip.inventory import get_inventory

__all__ = [
    "feature_edit_distance",
    "paired_feature_edit_distance",
    "pairwise_feature_edit_distance",
    "phonetic_similarity",
    "segment_codes",
    "segments",
]

#: Pairs per numpy step of the batched dynamic programme (bounds memory to a few MB per row;
#: the programme itself is :func:`ipaclip._edit_distance.edit_distances`, shared with training).
CHUNK_SIZE = 65_536


def segment_codes(ipas: Sequence[str]) -> list[np.ndarray]:
    """Segment codes (indices into ``get_inventory().segments``) of each IPA string.

    Markers (stress, syllable breaks, tones, word boundaries) are dropped.

    Parameters
    ----------
    ipas : sequence of str
        IPA strings; an empty string gives an empty array.

    Returns
    -------
    list of ndarray of int32

    Raises
    ------
    ValueError
        If an item contains a symbol that is not in the phoneme inventory (the message names
        the symbol and the item).

    Examples
    --------
    >>> [len(c) for c in segment_codes(["pˈæt", "ɐ blˈæk"])]
    [3, 5]
    """
    items = check_string_items(ipas, what="IPA string", allow_empty=True)
    if not items:
        return []
    parts = get_inventory().encode_known(items)
    return [part[part >= 0].astype(np.int32) for part in parts]


def segments(ipa: str) -> list[str]:
    """Split one IPA string into segments (phonemes with their diacritics).

    Stress marks, syllable breaks, tone numbers and word boundaries are dropped; espeak's
    symbols are mapped first (``ɚ`` becomes ``ə˞``, tied diphthongs become two segments).

    Parameters
    ----------
    ipa : str

    Returns
    -------
    list of str
        Segments in Unicode NFD form.

    Raises
    ------
    ValueError
        If ``ipa`` contains a symbol that is not in the phoneme inventory.

    Examples
    --------
    >>> segments("nˈa͡ɪt")
    ['n', 'a', 'ɪ', 't']
    >>> segments("ɐ blˈæk")
    ['ɐ', 'b', 'l', 'æ', 'k']
    """
    if not isinstance(ipa, str):
        raise TypeError(f"segments() takes one IPA string, got {type(ipa).__name__}.")
    inv = get_inventory()
    return [inv.segments[c] for c in segment_codes([ipa])[0]]


def paired_feature_edit_distance(
    a_ipas: Sequence[str], b_ipas: Sequence[str], *, by_length: bool = True
) -> np.ndarray:
    """Feature edit distance between ``a_ipas[k]`` and ``b_ipas[k]`` for every ``k``.

    Parameters
    ----------
    a_ipas, b_ipas : sequence of str
        IPA strings of the same length.
    by_length : bool, default=True
        Divide each distance by the segment count of the longer string (0 for two empty
        strings), so it lies in [0, 1].

    Returns
    -------
    ndarray of shape (n_pairs,)

    Examples
    --------
    >>> d = paired_feature_edit_distance(["pæt", "pæt"], ["bæt", "pæt"])
    >>> (d * 72).round(6).tolist()
    [1.0, 0.0]
    """
    a_codes = segment_codes(a_ipas)
    b_codes = segment_codes(b_ipas)
    if len(a_codes) != len(b_codes):
        raise ValueError(
            f"a_ipas has {len(a_codes)} items and b_ipas {len(b_codes)}; pairs need equal counts."
        )
    if not a_codes:
        return np.zeros(0)
    local, cost = substitution_costs(a_codes + b_codes)
    a, la = pad_codes(a_codes, local)
    b, lb = pad_codes(b_codes, local)
    idx = np.arange(len(a_codes))
    raw = edit_distances(a, la, b, lb, idx, idx, cost, CHUNK_SIZE)
    return relative_distances(raw, la, lb, by_length)


def feature_edit_distance(a_ipa: str, b_ipa: str, by_length: bool = True) -> float:
    """Levenshtein distance over segments with PanPhon feature substitution costs.

    Substitution costs the fraction of the 24 PanPhon features that differ; insertion and
    deletion cost 1. Stress, syllable breaks, tones and word boundaries are ignored.

    Parameters
    ----------
    a_ipa, b_ipa : str
        IPA strings.
    by_length : bool, default=True
        Divide by the segment count of the longer string, giving a value in [0, 1].

    Returns
    -------
    float

    Examples
    --------
    /p/ and /b/ differ in voicing only (1 of 24 features), over three segments:

    >>> round(feature_edit_distance("pˈæt", "bˈæt") * 72, 6)
    1.0
    >>> feature_edit_distance("kæt", "kæts", by_length=False)
    1.0
    >>> feature_edit_distance("kæt", "kæt")
    0.0
    """
    for name, value in (("a_ipa", a_ipa), ("b_ipa", b_ipa)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be one IPA string, got {type(value).__name__}.")
    return float(paired_feature_edit_distance([a_ipa], [b_ipa], by_length=by_length)[0])


def phonetic_similarity(a_ipa: str, b_ipa: str) -> float:
    """One minus the length-relative :func:`feature_edit_distance`, in [0, 1].

    Examples
    --------
    >>> phonetic_similarity("sˈɪt", "sˈɪt")
    1.0
    >>> phonetic_similarity("sˈɪt", "sˈæt") > phonetic_similarity("sˈɪt", "wˈeɪdʒ")
    True
    """
    return 1.0 - feature_edit_distance(a_ipa, b_ipa, by_length=True)


def pairwise_feature_edit_distance(
    ipas: Sequence[str], other: Sequence[str] | None = None, *, by_length: bool = True
) -> np.ndarray:
    """Matrix of feature edit distances, vectorised over pairs.

    Parameters
    ----------
    ipas : sequence of str
        IPA strings (rows).
    other : sequence of str, default=None
        IPA strings for the columns; ``None`` means ``ipas`` itself, in which case only the
        upper triangle is computed and the result is symmetric with a zero diagonal.
    by_length : bool, default=True
        Divide by the segment count of the longer string of each pair.

    Returns
    -------
    ndarray of shape (len(ipas), len(other or ipas))

    Notes
    -----
    ``O(n_pairs * L^2)`` arithmetic in numpy, ``O(L^2)`` Python steps per chunk of
    ``CHUNK_SIZE`` pairs (``L`` the longest segment count); about a second for 1,000 words.

    Examples
    --------
    >>> D = pairwise_feature_edit_distance(["pæt", "bæt", "kæts"])
    >>> D.shape, bool((D == D.T).all()), float(D[0, 0])
    ((3, 3), True, 0.0)
    """
    row_codes = segment_codes(ipas)
    symmetric = other is None
    col_codes = row_codes if symmetric else segment_codes(other)
    n, m = len(row_codes), len(col_codes)
    out = np.zeros((n, m), dtype=np.float64)
    if n == 0 or m == 0:
        return out
    local, cost = substitution_costs(row_codes + ([] if symmetric else col_codes))
    a, la = pad_codes(row_codes, local)
    b, lb = (a, la) if symmetric else pad_codes(col_codes, local)
    if symmetric:
        ii, jj = np.triu_indices(n, k=1)
    else:
        ii, jj = (x.ravel() for x in np.indices((n, m)))
    raw = edit_distances(a, la, b, lb, ii, jj, cost, CHUNK_SIZE)
    out[ii, jj] = relative_distances(raw, la[ii], lb[jj], by_length)
    if symmetric:
        out[jj, ii] = out[ii, jj]
    return out
