"""Nonword evaluation: does an encoder place nonwords by how they sound?

Pronounceable English nonwords ("blorvin", "strale") have no meaning, so a text encoder can
only relate them through their spelling, while a pronunciation encoder sees their sounds. This
module

* generates nonwords with a letter n-gram model fitted on the words of CMUdict, keeping only
  strings that are neither CMUdict words nor an inflection of one
  (:func:`generate_nonwords`);
* correlates, over pairs of nonwords, the cosine similarity of their embeddings with their
  phonetic similarity, one minus the normalized PanPhon feature edit distance of their IPA
  (:func:`nonword_phonetic_correlation`);
* lists the real words nearest to each nonword in an embedding space
  (:func:`nearest_real_words`).

Embedding functions follow the convention of :mod:`ipaclip.evaluation`: a callable taking a
list of strings and returning one embedding row per string. Rows are L2-normalized here
again (a zero row is an error), so a function that does not normalise is scored by cosine
all the same.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state

from ipaclip._progress import iterate, progress
from ipaclip._validation import Interval, check_params, check_string_items
from ipaclip.datasets import load_cmudict_words
from ipaclip.evaluation._common import (
    EmbedFn,
    G2PFn,
    call_embed,
    call_g2p,
    check_embed_input,
)
from ipaclip.evaluation.distance import (
    paired_feature_edit_distance,
    pairwise_feature_edit_distance,
)
from ipaclip.evaluation.evaluator import Evaluator
from ipaclip.evaluation.queries import Queries

__all__ = [
    "NonwordEvaluator",
    "generate_nonwords",
    "is_real_word",
    "nearest_real_words",
    "nonword_phonetic_correlation",
]

logger = logging.getLogger(__name__)

_VOWELS = frozenset("aeiouy")
_START, _END = "^", "$"
# Queries per block when ranking a gallery (bounds the similarity block to ~16M floats).
_BLOCK_ELEMENTS = 2**24


# --------------------------------------------------------------------------------------------
# The lexicon (ipaclip.datasets.load_cmudict_words)
# --------------------------------------------------------------------------------------------
def is_real_word(word: str, *, inflections: bool = True) -> bool:
    """Whether ``word`` is a CMUdict word, or (``inflections``) a regular inflection of one.

    The inflection check strips the regular English suffixes -s, -es, -ed, -d, -ing (also
    restoring a dropped final e, "making" → "make"), -er, -est and -ly and looks the stem up.

    Parameters
    ----------
    word : str
    inflections : bool, default=True
        Also count regular inflections of CMUdict words as real.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_real_word("cat"), is_real_word("cats"), is_real_word("blorvin")
    (True, True, False)
    >>> is_real_word("cats", inflections=False)  # CMUdict lists "cats" itself
    True
    """
    words = load_cmudict_words()
    w = word.lower()
    if w in words:
        return True
    if not inflections:
        return False
    for suffix, restore in (
        ("s", ("",)),
        ("es", ("",)),
        ("ed", ("", "e")),
        ("ing", ("", "e")),
        ("er", ("", "e")),
        ("est", ("", "e")),
        ("ly", ("",)),
    ):
        if w.endswith(suffix) and len(w) > len(suffix) + 1:
            stem = w[: -len(suffix)]
            if any(stem + r in words for r in restore):
                return True
            if len(stem) > 2 and stem[-1] == stem[-2] and stem[:-1] in words:  # "stopped"
                return True
    return False


# --------------------------------------------------------------------------------------------
# Nonword generation
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _letter_model(order: int) -> dict[str, tuple[str, np.ndarray]]:
    """Letter n-gram model on CMUdict: context (order-1 letters) -> (next letters, cum. probs).

    Words are padded with ``order - 1`` start symbols and one end symbol; only words made of
    the letters a-z count. Tables are built in sorted order so sampling is reproducible.
    """
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for word in sorted(load_cmudict_words()):
        if not (word.isascii() and word.isalpha()):
            continue
        padded = _START * (order - 1) + word + _END
        for i in range(order - 1, len(padded)):
            counts[padded[i - order + 1 : i]][padded[i]] += 1
    model = {}
    for context, nexts in counts.items():
        letters = "".join(sorted(nexts))
        freq = np.array([nexts[c] for c in letters], dtype=np.float64)
        model[context] = (letters, np.cumsum(freq) / freq.sum())
    return model


def _sample_word(model: dict, order: int, max_length: int, rng: np.random.RandomState) -> str:
    context = _START * (order - 1)
    out = []
    while len(out) <= max_length:
        letters, cum = model[context]
        c = letters[min(int(np.searchsorted(cum, rng.random_sample(), side="right")), len(cum) - 1)]
        if c == _END:
            break
        out.append(c)
        context = (context + c)[1:] if order > 1 else ""
    return "".join(out)


_CLUSTER = re.compile(r"[aeiouy]+|[^aeiouy]+")
#: A letter cluster must occur in at least this many CMUdict words, in the same position.
_MIN_CLUSTER_WORDS = 50


def _clusters(word: str) -> list[tuple[str, str]]:
    """(position, cluster) of each maximal run of vowel or consonant letters of ``word``.

    Position is "start", "end", "whole" or "mid"; an initial y counts as a consonant.
    """
    parts = _CLUSTER.findall(word)
    if len(parts) > 1 and parts[0][0] == "y" and parts[0] != "y" and parts[0][1] in _VOWELS:
        parts[:1] = ["y", parts[0][1:]]  # "yes": consonant y, then the vowels
    last = len(parts) - 1
    out = []
    for i, part in enumerate(parts):
        where = "whole" if last == 0 else "start" if i == 0 else "end" if i == last else "mid"
        out.append((where, part))
    return out


@functools.lru_cache(maxsize=1)
def _cluster_table() -> frozenset[tuple[str, str]]:
    """Letter clusters (with their position) found in many CMUdict words."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for word in load_cmudict_words():
        if word.isascii() and word.isalpha():
            for key in set(_clusters(word)):
                counts[key] += 1
    return frozenset(key for key, c in counts.items() if c >= _MIN_CLUSTER_WORDS)


def _pronounceable(word: str) -> bool:
    """Has a vowel letter, and every letter cluster is common in English in its position."""
    if not any(c in _VOWELS for c in word):
        return False
    table = _cluster_table()
    return all(key in table for key in _clusters(word))


def generate_nonwords(
    n: int,
    random_state: int | np.random.RandomState | None = None,
    *,
    min_length: int = 4,
    max_length: int = 8,
    order: int = 3,
    exclude_inflections: bool = True,
    max_tries: int | None = None,
    verbose: int = 0,
) -> list[str]:
    """Sample ``n`` distinct pronounceable English nonwords that are not in CMUdict.

    Letters are drawn from a letter n-gram model (trigrams by default) fitted on the CMUdict
    word list, with word-boundary padding so that words start and end the way English words
    do. A sample is kept when its length is in ``[min_length, max_length]``, it has a vowel
    letter (a e i o u y), each of its runs of vowel letters and of consonant letters occurs
    in the same position (start, middle, end) in at least 50 CMUdict words (this rejects
    "mgrae" and "cupf"), it is not a CMUdict word (nor, with ``exclude_inflections``, a regular
    inflection of one, see :func:`is_real_word`) and it was not drawn before.

    Parameters
    ----------
    n : int
        Number of nonwords.
    random_state : int, RandomState or None, default=None
        Seed; the same seed and parameters give the same list.
    min_length, max_length : int, default=4, 8
        Length range in letters (inclusive).
    order : int, default=3
        n-gram order: each letter is drawn given the ``order - 1`` letters before it.
    exclude_inflections : bool, default=True
        Also reject regular inflections of CMUdict words ("blinked", "cats").
    max_tries : int, optional
        Samples drawn before giving up; default ``1000 * n + 10000``.
    verbose : int, default=0
        Show a progress bar when positive.

    Returns
    -------
    list of str
        Lower-case nonwords in the order drawn.

    Raises
    ------
    RuntimeError
        If fewer than ``n`` nonwords were found within ``max_tries`` samples (loosen the
        length range or raise ``max_tries``).

    Examples
    --------
    >>> words = generate_nonwords(5, random_state=0)
    >>> len(words), any(w in load_cmudict_words() for w in words)
    (5, False)
    >>> words == generate_nonwords(5, random_state=0)
    True
    """
    check_params(
        {
            "n": [Interval(Integral, 0, None, closed="left")],
            "min_length": [Interval(Integral, 1, None, closed="left")],
            "max_length": [Interval(Integral, None, None, closed="neither")],
            "order": [Interval(Integral, 1, None, closed="left")],
            "max_tries": [Interval(Integral, 0, None, closed="left"), None],
        },
        {
            "n": n,
            "min_length": min_length,
            "max_length": max_length,
            "order": order,
            "max_tries": max_tries,
        },  # fmt: skip
        "generate_nonwords",
    )
    if max_length < min_length:
        raise ValueError(f"max_length ({max_length}) is smaller than min_length ({min_length}).")
    tries = 1000 * n + 10_000 if max_tries is None else int(max_tries)
    rng = check_random_state(random_state)
    model = _letter_model(int(order))
    found: list[str] = []
    seen: set[str] = set()
    with progress(n, "nonwords", verbose) as bar:
        for _ in range(tries):
            if len(found) >= n:
                break
            word = _sample_word(model, int(order), int(max_length), rng)
            if (
                not (min_length <= len(word) <= max_length)
                or word in seen
                or not _pronounceable(word)
                or is_real_word(word, inflections=exclude_inflections)
            ):
                continue
            seen.add(word)
            found.append(word)
            bar.update(1)
    if len(found) < n:
        raise RuntimeError(
            f"found only {len(found)} of {n} nonwords in {tries} samples; widen the length "
            f"range ({min_length}..{max_length}) or raise max_tries."
        )
    return found


# --------------------------------------------------------------------------------------------
# Correlation with phonetic similarity
# --------------------------------------------------------------------------------------------
def nonword_phonetic_correlation(
    words: Sequence[str],
    embed: EmbedFn,
    *,
    embed_input: str = "text",
    ipas: Sequence[str] | None = None,
    g2p: G2PFn | None = None,
    max_pairs: int | None = None,
    random_state: int | np.random.RandomState | None = None,
    verbose: int = 0,
) -> dict[str, Any]:
    """Correlation, over pairs of nonwords, of embedding cosine with phonetic similarity.

    For each pair ``(i, j)``, ``i < j``, the embedding similarity is the cosine of the
    embeddings of items ``i`` and ``j`` and the phonetic similarity is one minus their
    normalized PanPhon feature edit distance (:mod:`ipaclip.evaluation.distance`) on their
    IPA. Pearson's r and Spearman's rho are computed over all pairs (or ``max_pairs`` pairs
    drawn at random without replacement).

    ``embed_input`` says what the embedding function reads: ``"text"`` for a text encoder
    (it gets ``words``), ``"ipa"`` for a pronunciation encoder (it gets the IPA).
    Score the two encoders with two calls that share ``ipas`` and ``random_state``::

        text = nonword_phonetic_correlation(words, clip_text, ipas=ipas)
        pron = nonword_phonetic_correlation(words, encoder.transform, ipas=ipas,
                                            embed_input="ipa")

    Parameters
    ----------
    words : sequence of str
        Spellings of the nonwords (at least 3, so that there are 3 pairs).
    embed : callable
        Embedding function ``list[str] -> (n, d) array``.
    embed_input : {"text", "ipa"}, default="text"
        Which input ``embed`` consumes.
    ipas : sequence of str, optional
        IPA of each word. Exactly one of ``ipas`` and ``g2p`` is required.
    g2p : callable, optional
        ``list[str] -> list[str]`` transcribing ``words`` (e.g.
        ``IPATransformer().fit_transform``), used when ``ipas`` is not given.
    max_pairs : int, optional
        Score a random subset of this many pairs instead of all ``n (n - 1) / 2``.
    random_state : int, RandomState or None, default=None
        Seed for the pair subset.
    verbose : int, default=0
        Log the result at INFO level when positive.

    Returns
    -------
    dict
        ``"pearson"``, ``"pearson_pvalue"``, ``"spearman"``, ``"spearman_pvalue"`` (floats;
        NaN if either similarity is constant over the pairs), ``"n_items"``, ``"n_pairs"``
        and ``"embed_input"``.

    Examples
    --------
    An embedding that separates /b/ from /p/ words tracks their phonetic similarity:

    >>> import numpy as np
    >>> ipas = ["bæt", "bæd", "pɪk", "pɪɡ"]
    >>> embed = lambda xs: np.array([[1.0, 0.0] if x[0] == "b" else [0.0, 1.0] for x in xs])
    >>> result = nonword_phonetic_correlation(ipas, embed, ipas=ipas, embed_input="ipa")
    >>> result["n_pairs"], result["pearson"] > 0.9
    (6, True)
    """
    items = check_string_items(words, what="nonword")
    embed_input = check_embed_input(embed_input, "nonword_phonetic_correlation")
    check_params(
        {"max_pairs": [Interval(Integral, 3, None, closed="left"), None]},
        {"max_pairs": max_pairs},
        "nonword_phonetic_correlation",
    )
    if (ipas is None) == (g2p is None):
        raise ValueError("Pass exactly one of ipas (the IPA of each word) and g2p.")
    if ipas is not None:
        ipa_list = check_string_items(ipas, what="IPA string")
        if len(ipa_list) != len(items):
            raise ValueError(f"ipas has {len(ipa_list)} items but words has {len(items)}.")
    else:
        ipa_list = call_g2p(g2p, items)
    n = len(items)
    if n < 3:
        raise ValueError(f"need at least 3 nonwords (3 pairs) for a correlation; got {n}.")
    total = n * (n - 1) // 2
    E = call_embed(embed, items if embed_input == "text" else ipa_list, "embed")
    if max_pairs is None or max_pairs >= total:
        ii, jj = np.triu_indices(n, k=1)
        phon = 1.0 - pairwise_feature_edit_distance(ipa_list)[ii, jj]
    else:
        rng = check_random_state(random_state)
        flat = np.sort(rng.choice(total, size=int(max_pairs), replace=False))
        ii, jj = _pair_from_flat(flat, n)
        phon = 1.0 - paired_feature_edit_distance(
            [ipa_list[i] for i in ii], [ipa_list[j] for j in jj]
        )
    cos = np.einsum("kd,kd->k", E[ii], E[jj])
    if np.ptp(cos) == 0 or np.ptp(phon) == 0:
        constant = "embedding cosine" if np.ptp(cos) == 0 else "phonetic similarity"
        logger.warning("The %s is constant over all pairs; correlations are NaN.", constant)
        pearson = spearman = (math.nan, math.nan)
    else:
        pearson = stats.pearsonr(cos, phon)
        spearman = stats.spearmanr(cos, phon)
    result = {
        "pearson": float(pearson[0]),
        "pearson_pvalue": float(pearson[1]),
        "spearman": float(spearman[0]),
        "spearman_pvalue": float(spearman[1]),
        "n_items": n,
        "n_pairs": int(len(ii)),
        "embed_input": embed_input,
    }
    if verbose:
        logger.info("nonword phonetic correlation (%s): %s", embed_input, result)
    return result


def _pair_from_flat(flat: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row/column of the ``flat``-th entry of the strict upper triangle, in row-major order."""
    # Row i of the upper triangle holds n - 1 - i entries; find each entry's row by its offset.
    starts = np.concatenate([[0], np.cumsum(np.arange(n - 1, 0, -1))])
    ii = np.searchsorted(starts, flat, side="right") - 1
    jj = flat - starts[ii] + ii + 1
    return ii.astype(np.int64), jj.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Nearest real words
# --------------------------------------------------------------------------------------------
def nearest_real_words(
    queries: Sequence[str],
    embed_queries: EmbedFn,
    gallery_words: Sequence[str],
    embed_gallery: EmbedFn,
    k: int = 5,
    *,
    verbose: int = 0,
) -> list[dict[str, Any]]:
    """The ``k`` gallery words nearest (by cosine) to each query.

    Queries and gallery are embedded by their own functions, which must map into the same
    space: e.g. a pronunciation encoder on the nonwords' IPA (``queries`` are then the IPA
    strings) against its teacher on real spellings.

    Parameters
    ----------
    queries : sequence of str
        What ``embed_queries`` reads (spellings or IPA).
    embed_queries : callable
        Embedding function for the queries.
    gallery_words : sequence of str
        Real words (duplicates are kept and may both appear).
    embed_gallery : callable
        Embedding function for the gallery.
    k : int, default=5
        Neighbours per query (at most the gallery size).
    verbose : int, default=0
        Progress bar over blocks of queries when positive.

    Returns
    -------
    list of dict
        One per query, in order: ``{"query": str, "neighbors": [str, ...],
        "cosines": [float, ...]}``, nearest first; ties keep gallery order.

    Examples
    --------
    >>> import numpy as np
    >>> vectors = {"cat": [1.0, 0.0], "dog": [0.0, 1.0], "kat": [0.9, 0.1]}
    >>> embed = lambda xs: np.array([vectors[x] for x in xs])
    >>> out = nearest_real_words(["kat"], embed, ["dog", "cat"], embed, k=1)
    >>> out[0]["neighbors"]
    ['cat']
    """
    q_items = check_string_items(queries, what="query")
    g_items = check_string_items(gallery_words, what="gallery word")
    check_params(
        {"k": [Interval(Integral, 1, None, closed="left")]}, {"k": k}, "nearest_real_words"
    )
    if not g_items:
        raise ValueError("gallery_words is empty; nothing to retrieve.")
    k = min(int(k), len(g_items))
    Q = call_embed(embed_queries, q_items, "embed_queries")
    G = call_embed(embed_gallery, g_items, "embed_gallery")
    if Q.shape[1] != G.shape[1]:
        raise ValueError(
            f"embed_queries gives dimension {Q.shape[1]} but embed_gallery {G.shape[1]}; "
            "queries and gallery must be embedded in the same space."
        )
    block = max(1, _BLOCK_ELEMENTS // len(g_items))
    out: list[dict[str, Any]] = []
    for start in iterate(range(0, len(q_items), block), "nearest", verbose):
        S = Q[start : start + block] @ G.T
        for r, row in enumerate(S):
            # Exact top k with ties in gallery order: everything at least the k-th largest.
            threshold = np.partition(row, len(row) - k)[len(row) - k]
            candidates = np.flatnonzero(row >= threshold)
            top = candidates[np.argsort(-row[candidates], kind="stable")][:k]
            out.append(
                {
                    "query": q_items[start + r],
                    "neighbors": [g_items[j] for j in top],
                    "cosines": [float(row[j]) for j in top],
                }
            )
    return out


class NonwordEvaluator(Evaluator):
    """Seeded nonwords: embedding cosine against phonetic similarity, for each query type.

    :func:`generate_nonwords` then :func:`nonword_phonetic_correlation` over all pairs (the
    text query reads the nonwords' spelling, the others their IPA from ``g2p``).

    Parameters
    ----------
    n_nonwords : int, default=200
        Nonwords (all pairs are scored).
    random_state : int or None, default=0
        Seeds the nonwords.
    """

    name = "nonwords"
    primary_metric = "pronunciation/pearson"
    rows = {"Pearson r": ("pearson",), "Spearman rho": ("spearman",)}
    summary = ("Pearson r",)
    order = 40
    _parameter_constraints: dict[str, list[Any]] = {
        "n_nonwords": [Interval(Integral, 3, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(self, *, n_nonwords: int = 200, random_state: int | None = 0):
        self.n_nonwords = n_nonwords
        self.random_state = random_state

    def compute(self, queries: Queries) -> dict:
        functions = queries.functions
        out: dict[str, Any] = {}
        for step in queries.track(["generate", *functions]):
            if step == "generate":
                items = generate_nonwords(self.n_nonwords, self.random_state)
                ipas = queries.g2p(items)
            else:
                out[step] = nonword_phonetic_correlation(items, functions[step], ipas=ipas)
        out["info"] = {"n_nonwords": len(items), "examples": items[:10]}
        return out
