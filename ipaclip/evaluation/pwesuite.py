"""PWESuite's phonetic word-embedding tasks, re-implemented offline on CMUdict samples.

PWESuite (Zouhar et al., "PWESuite: Phonetic Word Embeddings and Tasks They Facilitate",
LREC-COLING 2024; code at github.com/zouharvi/pwesuite, ``suite_evaluation/``) scores a
phonetic word embedding on several tasks. This module re-implements the English ones that
need no data beyond CMUdict and PanPhon, following their scripts as closely as a re-write
allows; the word samples are ours (seeded CMUdict samples), not theirs, so numbers are
comparable in kind, not identical in detail.

* **Articulatory distance** (``eval_correlations.py``): on a sample of 1,000 words, for each
  word the correlation between its embedding distances and its PanPhon feature edit distances
  to all other words; the per-word correlations are averaged, and PWESuite reports the
  absolute value of the Pearson mean. We correlate cosine *similarity* with the *negative*
  feature edit distance (same magnitude, positive when the model is right), leave out each
  word's distance to itself, and use ipaclip's feature edit distance
  (:mod:`ipaclip.evaluation.distance`, not divided by length) in place of ``panphon2``'s.
* **Retrieval** (``eval_retrieval.py``): for each query word of the sample, find its nearest
  word by feature edit distance, then its position ``r`` (0 = first) in the query's list of
  other words sorted by embedding similarity; PWESuite scores ``(N - (r + 1)) / N``
  averaged over queries (their ordering keeps the query itself at position 0). We report that
  as ``rank_score`` (ties in embedding similarity are counted against the model), and also
  ``hit@k``: whether the embedding's nearest neighbour is among the ``k`` nearest words by
  feature edit distance (all words tied with the ``k``-th included).
* **Sound analogies** (``eval_analogy.py`` with ``main/add_analogies.py``): quadruples
  ``a : b :: c : d`` in which ``b`` is ``a`` with one segment changed by flipping a single
  PanPhon feature from - to + (or + to -), and ``d`` is ``c`` with a *different* segment
  changed by the same flip (pat : bat :: tin : din, voicing). PWESuite builds such words
  synthetically by perturbing IPA strings; we take real CMUdict words, so text encoders can be
  scored too. The query vector is ``b - a + c``; PWESuite counts a hit when ``d`` is among the
  2 gallery words nearest to it by Euclidean distance (the gallery is every word of every
  analogy, inputs included) and reports the hit rate (``pwesuite_top2``). We also report
  ``accuracy``: ``d`` is the single nearest word by cosine once ``a``, ``b``, ``c`` are
  excluded (the usual word-analogy rule).
* **Rhyme detection** (``eval_rhyme.py``): two words rhyme when their CMUdict pronunciations
  agree from the last primary-stressed vowel onward. For each rhyme class with at least two
  words, one rhyming pair and one pair with a word of another class; a classifier
  (PWESuite: ``MLPClassifier(hidden_layer_sizes=(50, 20, 10))`` on the concatenated
  embeddings) is trained and its accuracy on 1,000 held-out pairs is the score.

PWESuite's cognate task needs data we do not ship and is not implemented. The published
results are in :data:`PWESUITE_PUBLISHED`; :func:`format_table` prints ours beside them.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
from scipy.stats import pearsonr, spearmanr

from ipaclip._progress import iterate
from ipaclip._validation import Interval
from ipaclip.datasets import ARPABET_TO_IPA, arpabet_to_ipa, sample_words
from ipaclip.evaluation._common import (
    EmbedFn,
    G2PFn,
    check_embed_input,
    embed_items,
    reference_ipa,
)
from ipaclip.evaluation.distance import pairwise_feature_edit_distance, segment_codes
from ipaclip.evaluation.evaluator import Evaluator
from ipaclip.evaluation.queries import Queries
from ipaclip.evaluation.rhyme import build_rhyme_pairs, cmudict_lexicon, evaluate_rhyme, rhyme_part
from ipaclip.inventory import FEATURE_NAMES, get_inventory

__all__ = [
    "ARPABET_TO_IPA",
    "PWESuiteEvaluator",
    "PWESUITE_PUBLISHED",
    "arpabet_to_ipa",
    "build_rhyme_pairs",
    "build_sound_analogies",
    "cmudict_lexicon",
    "evaluate_articulatory_correlation",
    "evaluate_pwesuite",
    "evaluate_retrieval",
    "evaluate_rhyme",
    "evaluate_sound_analogies",
    "format_table",
    "iter_pwesuite",
    "pwesuite_summary",
    "rhyme_part",
    "sample_words",
]

logger = logging.getLogger(__name__)

TASKS = ("human_similarity", "articulatory_distance", "retrieval", "analogies", "rhyme")

#: PWESuite's published scores (repository zouharvi/pwesuite, ``meta/evaluation_all.csv`` at
#: commit 206825072d0240551cbe928a859f134421802624; the cognate column is empty there).
#: Human Sim. and Art. Dist. are |Pearson|, Retrieval the rank score, Analogies the top-2 hit
#: rate, Rhyme the held-out accuracy. The paper's final table has slightly different
#: human-similarity numbers (see :data:`ipaclip.evaluation.human.PUBLISHED`).
PWESUITE_PUBLISHED: dict[str, dict[str, float]] = {
    model: dict(zip(TASKS, scores))
    for model, scores in {
        "Metric Learning Panphon": (0.55, 0.94, 0.98, 0.81, 0.80),
        "Metric Learning IPA": (0.45, 0.90, 0.95, 0.23, 0.71),
        "Metric Learning Characters": (0.30, 0.89, 0.94, 0.21, 0.72),
        "Autoencoder Panphon": (0.43, 0.17, 0.77, 0.77, 0.50),
        "Autoencoder IPA": (0.41, 0.20, 0.62, 0.13, 0.50),
        "Autoencoder Characters": (0.41, 0.16, 0.67, 0.22, 0.56),
        "Count TF-IDF IPA": (0.85, 0.12, 0.84, 0.15, 0.80),
        "Count TF-IDF Characters": (0.84, 0.10, 0.80, 0.03, 0.73),
        "Count IPA": (0.84, 0.82, 0.92, 0.19, 0.84),
        "Count Characters": (0.85, 0.73, 0.88, 0.03, 0.79),
        "Poetic Sound Sim.": (0.73, 0.13, 0.77, 0.41, 0.60),
        "fastText": (0.17, 0.13, 0.65, 0.02, 0.57),
        "BPEmb": (0.22, 0.08, 0.61, 0.05, 0.53),
        "BERT": (0.06, 0.34, 0.69, 0.04, 0.57),
        "INSTRUCTOR": (0.59, 0.13, 0.73, 0.04, 0.55),
    }.items()
}


# --------------------------------------------------------------------------------------------
# CMUdict
# --------------------------------------------------------------------------------------------
def _words_and_ipa(
    words: Sequence[str] | None, n_words: int, random_state: int | None, g2p: G2PFn | None
) -> tuple[list[str], list[str]]:
    if words is None:
        words = sample_words(n_words, random_state)
    else:
        words = list(words)
        if len(set(words)) != len(words) or len(words) < 3:
            raise ValueError("words must hold at least 3 distinct words.")
    return words, reference_ipa(words, g2p)


# --------------------------------------------------------------------------------------------
# Articulatory-distance correlation and retrieval
# --------------------------------------------------------------------------------------------
def _similarities(E: np.ndarray) -> np.ndarray:
    """Cosine similarities rounded to 10 decimals, so float noise does not break true ties."""
    return np.round(E @ E.T, 10)


def _row_correlations(S: np.ndarray, D: np.ndarray, verbose: int) -> dict:
    n = S.shape[0]
    pear, spear = [], []
    undefined = 0
    for i in iterate(range(n), "Correlations", verbose):
        mask = np.arange(n) != i
        x, y = S[i, mask], -D[i, mask]
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            undefined += 1
            continue
        pear.append(pearsonr(x, y)[0])
        spear.append(spearmanr(x, y)[0])
    if not pear:
        raise ValueError("Every word's similarities or distances are constant.")
    iu = np.triu_indices(n, k=1)
    return {
        "pearson": float(np.mean(pear)),
        "spearman": float(np.mean(spear)),
        "pooled_pearson": float(pearsonr(S[iu], -D[iu])[0]),
        "pooled_spearman": float(spearmanr(S[iu], -D[iu])[0]),
        "n_words": int(n),
        "n_words_undefined": int(undefined),
    }


def evaluate_articulatory_correlation(
    embed: EmbedFn,
    *,
    g2p: G2PFn | None = None,
    embed_input: str = "text",
    words: Sequence[str] | None = None,
    n_words: int = 1000,
    random_state: int | None = 0,
    verbose: int = 0,
) -> dict:
    """Correlation of embedding cosine similarity with negative feature edit distance.

    Parameters
    ----------
    embed : callable
        ``list[str] -> ndarray (n, d)``.
    g2p : callable, optional
        Words to IPA for the reference distances (and for ``embed`` when
        ``embed_input="ipa"``); by default CMUdict's pronunciations (:func:`arpabet_to_ipa`).
    embed_input : {"text", "ipa"}, default="text"
    words : sequence of str, optional
        The words; by default ``n_words`` sampled from CMUdict with ``random_state``.
    n_words : int, default=1000
    random_state : int or None, default=0
    verbose : int, default=0

    Returns
    -------
    dict
        ``pearson`` and ``spearman`` (per-word correlations averaged, PWESuite's protocol),
        ``pooled_pearson`` and ``pooled_spearman`` (over all pairs at once), ``n_words``,
        ``n_words_undefined`` (words whose distances are all equal, left out of the means).

    Examples
    --------
    /b/ is nearer to /p/ and to /m/ than they are to each other, in features and here:

    >>> toy = {"p": [1.0, 0.0], "b": [1.0, 0.3], "m": [0.3, 1.0]}
    >>> def embed(ipas):
    ...     return np.array([toy[s[0]] for s in ipas])
    >>> res = evaluate_articulatory_correlation(
    ...     embed, words=["pæt", "bæt", "mæt"], g2p=list, embed_input="ipa")
    >>> round(res["pearson"], 6), res["n_words"]
    (1.0, 3)
    """
    embed_input = check_embed_input(embed_input, "evaluate_articulatory_correlation")
    words, ipas = _words_and_ipa(words, n_words, random_state, g2p)
    E = embed_items(embed, words, embed_input, ipas=ipas)
    D = pairwise_feature_edit_distance(ipas, by_length=False)
    return _row_correlations(_similarities(E), D, verbose)


def evaluate_retrieval(
    embed: EmbedFn,
    *,
    g2p: G2PFn | None = None,
    embed_input: str = "text",
    words: Sequence[str] | None = None,
    n_words: int = 1000,
    ks: Sequence[int] = (1, 5, 10),
    random_state: int | None = 0,
    verbose: int = 0,
) -> dict:
    """Nearest-neighbour retrieval against feature edit distance (PWESuite's rank score).

    Parameters are as in :func:`evaluate_articulatory_correlation`; ``ks`` are the ``k`` of
    ``hit@k``.

    Returns
    -------
    dict
        ``rank_score`` (PWESuite's: mean ``(N - (r + 1)) / N`` with ``r`` the 0-based rank of
        the feature-edit-nearest word among the query's other words by embedding similarity,
        ties counted against the model; 1 - 1/N is perfect), ``hit@k`` for each ``k``
        (the embedding's nearest neighbour, the first in sample order among ties, is among
        the ``k`` feature-edit-nearest words, ties at the ``k``-th included), ``n_words``.

    Examples
    --------
    >>> toy = {"p": [1.0, 0.0], "b": [1.0, 0.3], "m": [0.3, 1.0]}
    >>> def embed(ipas):
    ...     return np.array([toy[s[0]] for s in ipas])
    >>> res = evaluate_retrieval(embed, words=["pæt", "bæt", "mæt"], g2p=list,
    ...                          embed_input="ipa", ks=(1,))
    >>> res["hit@1"], round(res["rank_score"], 4)
    (1.0, 0.6667)
    """
    embed_input = check_embed_input(embed_input, "evaluate_retrieval")
    words, ipas = _words_and_ipa(words, n_words, random_state, g2p)
    E = embed_items(embed, words, embed_input, ipas=ipas)
    D = pairwise_feature_edit_distance(ipas, by_length=False)
    S = _similarities(E)
    n = len(words)
    ks = [int(k) for k in ks]
    if any(k < 1 or k >= n for k in ks):
        raise ValueError(f"Each k must be between 1 and {n - 1}, got {ks}.")
    rank_scores = []
    hits = {k: 0 for k in ks}
    for i in iterate(range(n), "Retrieval", verbose):
        others = np.flatnonzero(np.arange(n) != i)
        d, s = D[i, others], S[i, others]
        target = int(np.argmin(d))  # first in sample order among ties, as PWESuite's sort
        r = int((s >= s[target]).sum()) - 1  # pessimistic rank among the other words
        rank_scores.append((n - (r + 1)) / n)
        nearest = int(np.argmax(s))
        sorted_d = np.sort(d)
        for k in ks:
            if d[nearest] <= sorted_d[k - 1]:
                hits[k] += 1
    out = {"rank_score": float(np.mean(rank_scores)), "n_words": int(n)}
    out.update({f"hit@{k}": hits[k] / n for k in ks})
    return out


# --------------------------------------------------------------------------------------------
# Sound analogies
# --------------------------------------------------------------------------------------------
@functools.cache
def _phone_features() -> dict[str, np.ndarray]:
    """PanPhon features of each ARPAbet phone (stress removed) that is a single segment."""
    inv = get_inventory()
    out = {}
    for phone, symbol in ARPABET_TO_IPA.items():
        codes = segment_codes([symbol])[0]
        if len(codes) == 1:
            out[phone] = inv.features[codes[0]].astype(np.int8)
    return out


def _phone_key(phone: str) -> str:
    base = phone.rstrip("012")
    return phone if phone in ARPABET_TO_IPA else base


def _single_flip(fx: np.ndarray, fy: np.ndarray) -> tuple[int, int] | None:
    """(feature index, +1 if x has - and y has +, else -1) when x, y differ by one flip."""
    diff = np.flatnonzero(fx != fy)
    if len(diff) != 1:
        return None
    j = int(diff[0])
    if {int(fx[j]), int(fy[j])} != {-1, 1}:
        return None
    return j, (1 if fx[j] == -1 else -1)


def build_sound_analogies(
    n_analogies: int = 200,
    *,
    words: Sequence[tuple[str, Sequence[str]]] | None = None,
    random_state: int | None = 0,
) -> list[dict]:
    """Real-word sound analogies ``a : b :: c : d`` from CMUdict (see module docs).

    ``b`` is ``a`` with one phone changed by a single PanPhon feature flip, ``d`` is ``c``
    with a different phone pair changed by the same flip in the same direction; the four
    words are distinct. Stress digits are ignored when comparing phones, except that
    unstressed AH and ER count as /ə/ and /ɚ/.

    Parameters
    ----------
    n_analogies : int, default=200
        PWESuite draws 200 per language (100 with one perturbation, 100 with two; we use one).
    words : sequence of (word, ARPAbet phones), optional
        The lexicon; by default :func:`cmudict_lexicon`.
    random_state : int or None, default=0

    Returns
    -------
    list of dict
        ``{"a", "b", "c", "d", "ipa": [4 IPA strings], "feature", "pair_ab", "pair_cd"}``.

    Raises
    ------
    ValueError
        If fewer than ``n_analogies`` distinct analogies are found (by seeded random draws of
        two minimal pairs with the same flip, at most ``50 * n_analogies + 1000`` draws).

    Examples
    --------
    >>> lex = [("pat", ["P", "AE1", "T"]), ("bat", ["B", "AE1", "T"]),
    ...        ("tin", ["T", "IH1", "N"]), ("din", ["D", "IH1", "N"])]
    >>> x = build_sound_analogies(1, words=lex, random_state=0)[0]
    >>> x["a"], x["b"], x["c"], x["d"], x["feature"], x["pair_ab"]
    ('tin', 'din', 'pat', 'bat', 'voi', 'T->D')
    """
    lexicon = cmudict_lexicon() if words is None else [(w, tuple(p)) for w, p in words]
    feats = _phone_features()
    groups: dict[tuple, list[tuple[str, str]]] = defaultdict(list)
    pron = {}
    for word, phones in lexicon:
        keys = tuple(_phone_key(p) for p in phones)
        pron[word] = phones
        for i, key in enumerate(keys):
            if key in feats:
                groups[(*keys[:i], "_", *keys[i + 1 :])].append((word, key))
    # Minimal pairs by (feature, direction): list of (word_minus, word_plus, phone-, phone+).
    by_flip: dict[tuple[int, int], list[tuple[str, str, str, str]]] = defaultdict(list)
    flip_of = {(x, y): _single_flip(feats[x], feats[y]) for x in feats for y in feats if x != y}
    for members in groups.values():
        if len(members) < 2:
            continue
        for wx, x in members:
            for wy, y in members:
                flip = flip_of.get((x, y))
                if flip is not None and flip[1] == 1:
                    by_flip[(flip[0], 1)].append((wx, wy, x, y))
    # Draw a minimal pair, then a second one with the same flip and another phone pair;
    # each analogy is used in a random direction (a on the - side or on the + side).
    flips = sorted(by_flip)
    pool = [(f, i) for f in flips for i in range(len(by_flip[f]))]
    rng = np.random.default_rng(random_state)
    seen: set[tuple] = set()
    chosen: list[tuple] = []
    attempts = 0
    max_attempts = 50 * n_analogies + 1000
    while len(chosen) < n_analogies and pool and attempts < max_attempts:
        attempts += 1
        f, i = pool[int(rng.integers(len(pool)))]
        pairs = by_flip[f]
        p1, p2 = pairs[i], pairs[int(rng.integers(len(pairs)))]
        if (p1[2], p1[3]) == (p2[2], p2[3]) or len({p1[0], p1[1], p2[0], p2[1]}) != 4:
            continue
        if rng.random() < 0.5:
            quad = (f[0], (p1[0], p1[1], p2[0], p2[1]), (p1[2], p1[3]), (p2[2], p2[3]))
        else:
            quad = (f[0], (p1[1], p1[0], p2[1], p2[0]), (p1[3], p1[2]), (p2[3], p2[2]))
        if quad[1] not in seen:
            seen.add(quad[1])
            chosen.append(quad)
    if len(chosen) < n_analogies:
        raise ValueError(
            f"Found only {len(chosen)} distinct sound analogies in the lexicon (after "
            f"{attempts} draws); asked for {n_analogies}."
        )
    out = []
    for feat, (a, b, c, d), pab, pcd in chosen:
        out.append(
            {
                "a": a,
                "b": b,
                "c": c,
                "d": d,
                "ipa": [arpabet_to_ipa(pron[w]) for w in (a, b, c, d)],
                "feature": FEATURE_NAMES[feat],
                "pair_ab": f"{pab[0]}->{pab[1]}",
                "pair_cd": f"{pcd[0]}->{pcd[1]}",
            }
        )
    return out


@functools.lru_cache(maxsize=8)
def _seeded_analogies(n_analogies: int, random_state: int | None) -> tuple[dict, ...]:
    """The CMUdict analogies of a seed, drawn once: the search takes seconds, and the suite
    scores three query types on the same draw."""
    return tuple(build_sound_analogies(n_analogies, random_state=random_state))


def evaluate_sound_analogies(
    embed: EmbedFn,
    *,
    analogies: Sequence[dict] | None = None,
    g2p: G2PFn | None = None,
    embed_input: str = "text",
    n_analogies: int = 200,
    random_state: int | None = 0,
) -> dict:
    """Solve ``a : b :: c : ?`` with ``b - a + c`` over the words of all analogies.

    Parameters
    ----------
    embed : callable
    analogies : sequence of dict, optional
        As :func:`build_sound_analogies` returns (keys ``a b c d`` and ``g2p``); by default
        ``build_sound_analogies(n_analogies, random_state=random_state)``.
    g2p : callable, optional
        With ``embed_input="ipa"``, transcribes the words; by default the analogies' own IPA.
    embed_input : {"text", "ipa"}, default="text"
    n_analogies : int, default=200
    random_state : int or None, default=0

    Returns
    -------
    dict
        ``accuracy`` (``d`` is the cosine-nearest gallery word to ``b - a + c`` once ``a``,
        ``b``, ``c`` are excluded), ``pwesuite_top2`` (``d`` is among the 2 Euclidean-nearest
        gallery words, none excluded), ``per_feature`` accuracy, ``n_analogies``,
        ``n_gallery``.
    """
    embed_input = check_embed_input(embed_input, "evaluate_sound_analogies")
    if analogies is None and isinstance(random_state, int | None):
        analogies = _seeded_analogies(n_analogies, random_state)
    elif analogies is None:
        analogies = build_sound_analogies(n_analogies, random_state=random_state)
    analogies = list(analogies)
    if not analogies:
        raise ValueError("No analogies to score.")
    gallery: dict[str, str] = {}
    for x in analogies:
        for w, p in zip("abcd", x["ipa"]):
            gallery.setdefault(x[w], p)
    words = list(gallery)
    if embed_input == "ipa" and g2p is not None:
        E = embed_items(embed, words, embed_input, g2p=g2p)
    else:
        E = embed_items(embed, words, embed_input, ipas=[gallery[w] for w in words])
    index = {w: i for i, w in enumerate(words)}
    hits, top2 = [], []
    per_feature: dict[str, list[bool]] = defaultdict(list)
    for x in analogies:
        ia, ib, ic, id_ = (index[x[k]] for k in "abcd")
        q = E[ib] - E[ia] + E[ic]
        cos = E @ q / max(np.linalg.norm(q), 1e-12)
        cos[[ia, ib, ic]] = -np.inf
        hit = bool(cos[id_] > np.delete(cos, id_).max())  # a tie is a miss
        hits.append(hit)
        per_feature[x["feature"]].append(hit)
        dist = np.linalg.norm(E - q, axis=1)
        top2.append(int((dist < dist[id_]).sum()) <= 1)
    return {
        "accuracy": float(np.mean(hits)),
        "pwesuite_top2": float(np.mean(top2)),
        "per_feature": {f: float(np.mean(v)) for f, v in sorted(per_feature.items())},
        "n_analogies": len(analogies),
        "n_gallery": len(words),
    }


# --------------------------------------------------------------------------------------------
# All tasks and the table
# --------------------------------------------------------------------------------------------
def iter_pwesuite(
    embed: EmbedFn,
    *,
    g2p: G2PFn | None = None,
    embed_input: str = "text",
    n_words: int = 1000,
    n_analogies: int = 200,
    n_classes: int | None = 1500,
    rhyme_test_size: int | float = 1000,
    random_state: int | None = 0,
    verbose: int = 0,
    human_similarity: Callable[[], dict] | None = None,
) -> Iterator[tuple[str, dict | None]]:
    """Run PWESuite's tasks one at a time: yields ``(task, result)`` in :data:`TASKS` order.

    Each task runs when its item is requested, so a caller can show progress between them.
    Parameters as in :func:`evaluate_pwesuite`; ``human_similarity``, when given, returns
    the human-similarity result in place of ``evaluate_human_similarity(embed)`` (so that a
    run that also scores Vitz & Winkler on its own computes it once).
    """
    from ipaclip.evaluation.human import evaluate_human_similarity

    embed_input = check_embed_input(embed_input, "evaluate_pwesuite")
    if human_similarity is not None:
        yield "human_similarity", human_similarity()
    elif embed_input == "ipa" and g2p is None:
        logger.warning("Human similarity skipped: embed_input='ipa' needs an g2p function.")
        yield "human_similarity", None
    else:
        yield "human_similarity", evaluate_human_similarity(embed, g2p=g2p, embed_input=embed_input)
    common = {"g2p": g2p, "embed_input": embed_input, "random_state": random_state}
    yield (
        "articulatory_distance",
        evaluate_articulatory_correlation(embed, n_words=n_words, verbose=verbose, **common),
    )
    yield "retrieval", evaluate_retrieval(embed, n_words=n_words, verbose=verbose, **common)
    yield "analogies", evaluate_sound_analogies(embed, n_analogies=n_analogies, **common)
    yield "rhyme", evaluate_rhyme(embed, n_classes=n_classes, test_size=rhyme_test_size, **common)


def pwesuite_summary(results: dict) -> dict[str, float | None]:
    """The one number per task that PWESuite reports, from the per-task results."""
    hs = results["human_similarity"]
    return {
        "human_similarity": None if hs is None else hs["pearson"],
        "articulatory_distance": results["articulatory_distance"]["pearson"],
        "retrieval": results["retrieval"]["rank_score"],
        "analogies": results["analogies"]["pwesuite_top2"],
        "rhyme": results["rhyme"]["accuracy"],
    }


def evaluate_pwesuite(
    embed: EmbedFn,
    *,
    g2p: G2PFn | None = None,
    embed_input: str = "text",
    n_words: int = 1000,
    n_analogies: int = 200,
    n_classes: int | None = 1500,
    rhyme_test_size: int | float = 1000,
    random_state: int | None = 0,
    verbose: int = 0,
) -> dict:
    """Run every task; ``"summary"`` holds the one number per task that PWESuite reports.

    Human similarity needs IPA for its nonwords when ``embed_input="ipa"``, so it is skipped
    (reported as ``None``, with a log message) if ``embed_input="ipa"`` and ``g2p`` is None.
    :func:`iter_pwesuite` runs the same tasks one at a time.
    """
    out: dict = dict(
        iter_pwesuite(
            embed,
            g2p=g2p,
            embed_input=embed_input,
            n_words=n_words,
            n_analogies=n_analogies,
            n_classes=n_classes,
            rhyme_test_size=rhyme_test_size,
            random_state=random_state,
            verbose=verbose,
        )
    )
    out["summary"] = pwesuite_summary(out)
    return out


def format_table(results: dict | None = None, name: str = "ours") -> str:
    """Our PWESuite summary beside the published one, with the caveat about samples.

    Parameters
    ----------
    results : dict, optional
        :func:`evaluate_pwesuite`'s result (or its ``"summary"``); several models can be given
        as ``{name: result}``. ``None`` prints the published table only.
    name : str, default="ours"

    Examples
    --------
    >>> print(format_table().splitlines()[0])
    model                          Human Art.D Retr. Analo Rhyme
    """
    rows: dict[str, dict] = {}
    if results is not None:
        if "summary" in results or set(results) <= set(TASKS):
            results = {name: results}
        for model, res in results.items():
            rows[model] = res.get("summary", res)
    for model, res in PWESUITE_PUBLISHED.items():
        rows[f"{model} [PWESuite]"] = res
    head = f"{'model':<31}" + " ".join(f"{h:>5}" for h in ("Human", "Art.D", "Retr.", "Analo",
                                                            "Rhyme"))  # fmt: skip
    lines = [head]
    for model, res in rows.items():
        cells = []
        for task in TASKS:
            v = res.get(task)
            cells.append(f"{'-':>5}" if v is None else f"{v:5.2f}")
        lines.append(f"{model[:30]:<31}" + " ".join(cells))
    lines.append(
        "Caveat: our word samples (seeded CMUdict draws, real-word analogies) differ from "
        "PWESuite's data; published numbers are from zouharvi/pwesuite meta/evaluation_all.csv."
    )
    return "\n".join(lines)


class PWESuiteEvaluator(Evaluator):
    """PWESuite's tasks (:func:`iter_pwesuite`) for each query type.

    The human-similarity task is the ``"human"`` task's computation (shared through
    :meth:`~ipaclip.evaluation.queries.Queries.memo`: Vitz & Winkler is scored once a run).

    Parameters
    ----------
    n_words : int, default=1000
        CMUdict words of the articulatory-distance and retrieval tasks.
    n_analogies : int, default=200
        Sound analogies.
    n_rhyme_classes : int, default=500
        Rhyme classes drawn for the rhyme task.
    rhyme_test_size : int or float in (0, 1), default=500
        Held-out rhyme pairs (a count, or a share of the pairs).
    random_state : int or None, default=0
        Seeds every sample.
    """

    name = "pwesuite"
    primary_metric = "pronunciation/summary/articulatory_distance"
    rows = {
        "articulatory distance r": ("summary", "articulatory_distance"),
        "retrieval rank score": ("summary", "retrieval"),
        "analogies top-2": ("summary", "analogies"),
        "rhyme accuracy": ("summary", "rhyme"),
    }
    summary = ("articulatory distance r",)
    order = 60
    _parameter_constraints: dict[str, list[Any]] = {
        "n_words": [Interval(Integral, 3, None, closed="left")],
        "n_analogies": [Interval(Integral, 1, None, closed="left")],
        "n_rhyme_classes": [Interval(Integral, 1, None, closed="left")],
        "rhyme_test_size": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
        ],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        n_words: int = 1000,
        n_analogies: int = 200,
        n_rhyme_classes: int = 500,
        rhyme_test_size: int | float = 500,
        random_state: int | None = 0,
    ):
        self.n_words = n_words
        self.n_analogies = n_analogies
        self.n_rhyme_classes = n_rhyme_classes
        self.rhyme_test_size = rhyme_test_size
        self.random_state = random_state

    def compute(self, queries: Queries) -> dict:
        from ipaclip.evaluation.human import human_similarity

        runs = {
            name: iter_pwesuite(
                fn,
                n_words=self.n_words,
                n_analogies=self.n_analogies,
                n_classes=self.n_rhyme_classes,
                rhyme_test_size=self.rhyme_test_size,
                random_state=self.random_state,
                human_similarity=lambda name=name: human_similarity(queries, name),
            )
            for name, fn in queries.functions.items()
        }
        out: dict[str, dict] = {name: {} for name in runs}
        steps = [(name, sub) for name in runs for sub in TASKS]  # iter_pwesuite's order
        for name, sub in queries.track(steps, lambda step: f"{step[0]}: {step[1]}"):
            done, out[name][sub] = next(runs[name])
            if done != sub:  # pragma: no cover - the two orders are one constant
                raise RuntimeError(f"PWESuite ran {done!r} where {sub!r} was expected.")
        for result in out.values():
            result["summary"] = pwesuite_summary(result)
        return out
