"""Sound-preserving respellings: can an encoder find "photograph" from "fotograf"?

A respelling keeps a word's pronunciation but not its spelling. A text encoder sees a new
string; a pronunciation encoder sees (almost) the same IPA as the original word. This module

* generates respellings (:func:`generate_respellings`) by applying grapheme substitution
  rules (ph→f, ck→k, kn→n, double letters→single, ...) alone and in combination, then keeps
  only candidates that the G2P front end pronounces *exactly* like the original word and
  that are not themselves real (CMUdict) words;
* scores retrieval of the intended word from a gallery of real words
  (:func:`respelling_retrieval`) with three queries: the text encoder on the respelling,
  the pronunciation encoder on the respelling's IPA, and their fusion
  (:func:`fuse_embeddings`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from ipaclip._progress import iterate
from ipaclip._validation import Interval, check_params, check_string_items, describe_item, unit_rows
from ipaclip.datasets import load_cmudict_words
from ipaclip.evaluation._common import (
    EmbedFn,
    G2PFn,
    call_embed,
    call_g2p,
    check_query_functions,
    query_embeddings,
)
from ipaclip.evaluation.evaluator import Evaluator
from ipaclip.evaluation.queries import Queries
from ipaclip.fusion import fuse
from ipaclip.metrics import mean_reciprocal_rank, recall_at_k

__all__ = [
    "RESPELLING_RULES",
    "RespellingEvaluator",
    "fuse_embeddings",
    "generate_respellings",
    "respelling_candidates",
    "respelling_retrieval",
]

logger = logging.getLogger(__name__)

_C = "bcdfghjklmnpqrstvwxz"  # consonant letters
#: Grapheme substitution rules: (regular expression on the lower-cased word, replacement).
#: Each rule is applied at one match at a time; combinations come from applying rules to the
#: results again. Rules may change the sound: the IPA check decides what is kept.
RESPELLING_RULES: tuple[tuple[str, str], ...] = (
    ("ph", "f"),
    ("f", "ph"),
    ("ck", "k"),
    ("c(?=[aoulrt])", "k"),
    ("c(?=[eiy])", "s"),
    ("ch(?=r)", "k"),
    ("^kn", "n"),
    ("^wr", "r"),
    ("^wh", "w"),
    ("^ps", "s"),
    ("mb$", "m"),
    ("gh(?=t)", ""),
    ("igh", "y"),
    ("ight", "ite"),
    ("ough$", "o"),
    ("ough", "uff"),
    ("ough", "off"),
    ("ough", "oo"),
    ("ough", "ow"),
    ("ought", "aut"),
    ("augh", "af"),
    (f"([{_C}])\\1", r"\1"),
    (f"(?<=[aeiou])([{_C}])(?=[aeiouy])", r"\1\1"),
    ("e$", ""),
    (f"a([{_C}])e$", r"ai\1"),
    (f"o([{_C}])e$", r"oa\1"),
    (f"i([{_C}])e$", r"igh\1"),
    ("^([^aeiou]*)o(?=[^aeiou])", r"\1oh"),
    (f"(?<=[aeiou][{_C}])$", "e"),
    ("(?<=.)y", "i"),
    ("(?<=.)i(?=[^aeiou])", "y"),
    ("y$", "ie"),
    ("y$", "ee"),
    ("(?<=[aeiou])s(?=[aeiouy])", "z"),
    ("(?<=[aeioubdglmnrv])s$", "z"),
    ("z", "s"),
    ("x", "ks"),
    ("qu", "kw"),
    ("tion", "shun"),
    ("sion", "zhun"),
    ("ture", "cher"),
    ("dge", "j"),
    ("(?<=.)ge$", "j"),
    ("ee", "ea"),
    ("ea", "ee"),
    ("ie", "ee"),
    ("ei", "ee"),
    ("ai", "ay"),
    ("ay", "ai"),
    ("oa", "o"),
    ("ou", "ow"),
    ("ow$", "o"),
    ("au", "aw"),
    ("aw", "au"),
    ("oo", "u"),
    ("ir", "ur"),
    ("er", "ur"),
    ("ur", "er"),
    ("our", "or"),
    ("ous$", "us"),
    ("le$", "el"),
    ("ce$", "se"),
    ("que$", "k"),
    ("tch", "ch"),
    ("k(?=[aou])", "c"),
)
_STRESS = str.maketrans("", "", "ˈˌ")


def _compiled(rules: Sequence[tuple[str, str]]) -> list[tuple[re.Pattern, str]]:
    out = []
    for i, rule in enumerate(rules):
        try:
            pattern, replacement = rule
            out.append((re.compile(pattern), replacement))
        except (TypeError, ValueError, re.error) as exc:
            raise ValueError(
                f"Rule {i} ({describe_item(rule)}) is not a (regex, replacement) pair: {exc}"
            ) from exc
    return out


def _one_edit(word: str, rules: list[tuple[re.Pattern, str]]) -> set[str]:
    """Every string obtained by applying one rule at one match position of ``word``."""
    out = set()
    for pattern, replacement in rules:
        for m in pattern.finditer(word):
            out.add(word[: m.start()] + m.expand(replacement) + word[m.end() :])
    out.discard(word)
    out.discard("")
    return out


def respelling_candidates(
    word: str,
    *,
    rules: Sequence[tuple[str, str]] = RESPELLING_RULES,
    max_edits: int = 2,
    max_candidates: int = 500,
) -> list[str]:
    """Candidate respellings of one word: up to ``max_edits`` rule applications.

    Breadth first: all one-edit candidates, then two-edit ones and so on, stopping at
    ``max_candidates``. The original spelling is never a candidate. Candidates are *not*
    checked for pronunciation here (see :func:`generate_respellings`).

    Parameters
    ----------
    word : str
    rules : sequence of (str, str), default=RESPELLING_RULES
        Regular expressions on the lower-cased word and their replacements (``re`` syntax,
        groups allowed).
    max_edits : int, default=2
    max_candidates : int, default=500

    Returns
    -------
    list of str
        Sorted by number of edits, then alphabetically.

    Examples
    --------
    >>> "fotograf" in respelling_candidates("photograph")
    True
    >>> respelling_candidates("knock", max_edits=1)
    ['knohck', 'knok', 'nock']
    """
    compiled = _compiled(rules)
    original = word.lower()
    seen = {original}
    frontier = [original]
    out: list[str] = []
    for _ in range(max_edits):
        level: set[str] = set()
        for w in frontier:
            level |= _one_edit(w, compiled)
        level -= seen
        new = sorted(level)
        room = max_candidates - len(out)
        out.extend(new[:room])
        seen |= level
        frontier = new
        if len(out) >= max_candidates or not frontier:
            break
    return out


def generate_respellings(
    words: Sequence[str],
    g2p: G2PFn,
    *,
    rules: Sequence[tuple[str, str]] = RESPELLING_RULES,
    max_edits: int = 2,
    max_candidates: int = 500,
    ignore_stress: bool = False,
    random_state: int | np.random.RandomState | None = None,
    verbose: int = 0,
) -> list[dict[str, Any]]:
    """Sound-preserving respellings of real words.

    For each word, candidates come from :func:`respelling_candidates`. All candidates of all
    words are transcribed with ``g2p`` in one call, and a candidate **survives** if

    * its IPA equals the original word's IPA exactly (or after removing the stress marks
      ˈ ˌ with ``ignore_stress=True``),
    * it is not a CMUdict word ("nite" is not kept for "knight" if CMUdict lists it), and
    * it differs from the original spelling (case-insensitively).

    One survivor is chosen per word at random (seeded); all survivors are returned as well.
    A word with no survivor is kept in the output with ``"respelling": None``.

    Parameters
    ----------
    words : sequence of str
        Real words to respell.
    g2p : callable
        ``list[str] -> list[str]``, e.g. ``IPATransformer().fit_transform``. The same
        function transcribes the original words and the candidates .
    rules : sequence of (str, str), default=RESPELLING_RULES
        Substitution rules (regex, replacement) on the lower-cased word.
    max_edits : int, default=2
        Most rule applications combined in one candidate.
    max_candidates : int, default=500
        Most candidates per word.
    ignore_stress : bool, default=False
        Compare IPA without stress marks.
    random_state : int, RandomState or None, default=None
        Seed for choosing among survivors.
    verbose : int, default=0
        Progress bar over words when positive.

    Returns
    -------
    list of dict
        One per input word, in order: ``{"word", "ipa", "respelling" (str or None),
        "alternatives" (all survivors, sorted), "n_candidates"}``.

    Examples
    --------
    >>> from ipaclip import IPATransformer
    >>> out = generate_respellings(["knock"], IPATransformer().fit_transform, random_state=0)
    >>> out[0]["alternatives"]   # "nock" is a CMUdict word, "knohck" sounds different
    ['knok', 'nok']
    """
    items = check_string_items(words, what="word")
    positive = [Interval(Integral, 1, None, closed="left")]
    check_params(
        {"max_edits": positive, "max_candidates": positive},
        {"max_edits": max_edits, "max_candidates": max_candidates},
        "generate_respellings",
    )
    lexicon = load_cmudict_words()
    per_word = [
        respelling_candidates(w, rules=rules, max_edits=max_edits, max_candidates=max_candidates)
        for w in iterate(items, "respelling candidates", verbose)
    ]
    flat = [c for cands in per_word for c in cands]
    ipas = call_g2p(g2p, items + flat)

    def key(ipa: str) -> str:
        return ipa.translate(_STRESS) if ignore_stress else ipa

    rng = check_random_state(random_state)
    out = []
    pos = len(items)
    for word, ipa, cands in zip(items, ipas, per_word):
        target = key(ipa)
        survivors = sorted(
            c
            for c, c_ipa in zip(cands, ipas[pos : pos + len(cands)])
            if key(c_ipa) == target and c not in lexicon and c != word.lower()
        )
        pos += len(cands)
        choice = survivors[rng.randint(len(survivors))] if survivors else None
        out.append(
            {
                "word": word,
                "ipa": ipa,
                "respelling": choice,
                "alternatives": survivors,
                "n_candidates": len(cands),
            }
        )
    n_kept = sum(r["respelling"] is not None for r in out)
    level = logging.INFO if verbose else logging.DEBUG  # verbose=0 logs nothing visible
    logger.log(level, "respellings found for %d of %d words", n_kept, len(items))
    return out


def fuse_embeddings(text_emb: Any, pronunciation_emb: Any, weight: float = 0.5) -> np.ndarray:
    """Fused query: ``normalize((1 - weight) * text + weight * pronunciation)`` on unit rows.

    The evaluation's name for :func:`ipaclip.fuse` (one definition, in
    :mod:`ipaclip.fusion`), with input checks that name the argument.

    Both inputs are L2-normalized first, so ``weight`` is the share of the pronunciation
    embedding: 0 gives the text query, 1 the pronunciation query.

    Parameters
    ----------
    text_emb, pronunciation_emb : array-like of shape (n, d)
    weight : float in [0, 1], default=0.5

    Returns
    -------
    ndarray of shape (n, d), unit rows

    Examples
    --------
    >>> fuse_embeddings([[1.0, 0.0]], [[0.0, 2.0]]).round(4)
    array([[0.7071, 0.7071]], dtype=float32)
    """
    text = unit_rows(text_emb, "text_emb", dtype=np.float64)
    pronunciation = unit_rows(pronunciation_emb, "pronunciation_emb", dtype=np.float64)
    return fuse(text, pronunciation, weight)


def _retrieval_scores(
    Q: np.ndarray, G: np.ndarray, positives: list[list[int]], ks: Sequence[int], block: int
) -> dict[str, float]:
    """Recall@k and MRR of ``Q`` against ``G``, computed a block of queries at a time."""
    hits = {k: 0.0 for k in ks}
    rr = 0.0
    for start in range(0, len(Q), block):
        S = Q[start : start + block] @ G.T
        pos = positives[start : start + block]
        for k in ks:
            hits[k] += recall_at_k(S, pos, k) * len(S)
        rr += mean_reciprocal_rank(S, pos) * len(S)
    result = {f"recall@{k}": hits[k] / len(Q) for k in ks}
    result["mrr"] = rr / len(Q)
    return result


def respelling_retrieval(
    pairs: Sequence[tuple[str, str]],
    gallery_words: Sequence[str],
    *,
    embed_gallery: EmbedFn,
    embed_text: EmbedFn | None = None,
    embed_pronunciation: EmbedFn | None = None,
    g2p: G2PFn | None = None,
    fuse_weight: float = 0.5,
    ks: Sequence[int] = (1, 5),
    verbose: int = 0,
) -> dict[str, Any]:
    """How often each respelling retrieves its intended word from a gallery of real words.

    The gallery is ``embed_gallery(gallery_words)``: the teacher (e.g. the CLIP text encoder)
    on real spellings, the space the pronunciation encoder was distilled into. Each
    respelling is turned into up to three queries:

    * ``"text"``: ``embed_text(respellings)``, the text encoder on the new spelling;
    * ``"pronunciation"``: ``embed_pronunciation(g2p(respellings))``, the pronunciation encoder on
      the respelling's IPA;
    * ``"fused"``: :func:`fuse_embeddings` of the two, with ``weight=fuse_weight``.

    Queries rank the gallery by cosine; the positives of a query are the gallery entries
    equal (case-insensitively) to its intended word, so homophones ("night" for "knight")
    count as misses. Ties are ranked pessimistically (:mod:`ipaclip.metrics`).

    Parameters
    ----------
    pairs : sequence of (str, str)
        ``(intended word, respelling)`` pairs, e.g.
        ``[(r["word"], r["respelling"]) for r in generate_respellings(...) if r["respelling"]]``.
    gallery_words : sequence of str
        Real words; must contain every intended word.
    embed_gallery : callable
        Embeds the gallery spellings (the teacher).
    embed_text : callable, optional
        Text encoder on spellings (often the teacher itself); ``None`` skips ``"text"`` and
        ``"fused"``.
    embed_pronunciation : callable, optional
        Pronunciation encoder on IPA; ``None`` skips ``"pronunciation"`` and ``"fused"``.
    g2p : callable, optional
        Transcribes the respellings; required with ``embed_pronunciation``.
    fuse_weight : float in [0, 1], default=0.5
        Share of the pronunciation query in the fused query.
    ks : sequence of int, default=(1, 5)
        Recall cut-offs.
    verbose : int, default=0
        Progress bar over query types when positive.

    Returns
    -------
    dict
        ``{"n_pairs", "n_gallery", "fuse_weight", "text": {...}, "pronunciation": {...},
        "fused": {...}}``, each query type with ``"recall@k"`` per ``k`` and ``"mrr"``.

    Examples
    --------
    >>> import numpy as np
    >>> vectors = {"cat": [1.0, 0.0], "dog": [0.0, 1.0], "kat": [0.2, 1.0], "kˈæt": [1.0, 0.1]}
    >>> embed = lambda xs: np.array([vectors[x] for x in xs])
    >>> out = respelling_retrieval(
    ...     [("cat", "kat")], ["cat", "dog"], embed_gallery=embed, embed_text=embed,
    ...     embed_pronunciation=embed, g2p=lambda xs: ["kˈæt" for x in xs], ks=(1,))
    >>> out["text"]["recall@1"], out["pronunciation"]["recall@1"], out["fused"]["recall@1"]
    (0.0, 1.0, 1.0)
    """
    pair_list = list(pairs)
    for i, pair in enumerate(pair_list):
        if (
            not isinstance(pair, tuple | list)
            or len(pair) != 2
            or not all(isinstance(p, str) and p.strip() for p in pair)
        ):
            raise ValueError(
                f"Pair {i} ({describe_item(pair)}) is not an (intended word, respelling) pair "
                "of non-empty strings; drop words whose respelling is None first."
            )
    if not pair_list:
        raise ValueError("pairs is empty; nothing to retrieve.")
    gallery = check_string_items(gallery_words, what="gallery word")
    check_query_functions(embed_text, embed_pronunciation, g2p, "respellings")
    ks = [int(k) for k in ks]
    index: dict[str, list[int]] = {}
    for j, w in enumerate(gallery):
        index.setdefault(w.lower(), []).append(j)
    positives = []
    for i, (word, _) in enumerate(pair_list):
        if word.lower() not in index:
            raise ValueError(
                f"Intended word {word!r} of pair {i} is not in gallery_words; add it to the "
                "gallery (a word that cannot be retrieved would count as a miss for every "
                "query type)."
            )
        positives.append(index[word.lower()])
    respellings = [r for _, r in pair_list]

    G = call_embed(embed_gallery, gallery, "embed_gallery")
    queries = query_embeddings(
        respellings, embed_text, embed_pronunciation, g2p, fuse_weight, "respellings"
    )
    for name, Q in queries.items():
        if Q.shape[1] != G.shape[1]:
            raise ValueError(
                f"The {name} query has dimension {Q.shape[1]} but the gallery {G.shape[1]}; "
                "queries must be embedded in the gallery's (the teacher's) space."
            )
    block = max(1, 2**24 // len(gallery))
    result: dict[str, Any] = dict(
        {
            "n_pairs": len(pair_list),
            "n_gallery": len(gallery),
            "fuse_weight": float(fuse_weight),
        }
    )
    for name in iterate(list(queries), "respelling retrieval", verbose):
        result[name] = _retrieval_scores(queries[name], G, positives, ks, block)
    return result


class RespellingEvaluator(Evaluator):
    """Respellings of sampled words retrieve them among the teacher's real words.

    :func:`generate_respellings` on the first ``n_respell`` of ``n_words`` seeded CMUdict
    words, then :func:`respelling_retrieval` against the teacher's embeddings of all
    ``n_words`` (text, pronunciation and fused queries).

    Parameters
    ----------
    n_words : int, default=1000
        CMUdict words of the gallery (the same seeded sample as ``"fidelity"``).
    n_respell : int, default=200
        Words (the first of the sample) to respell.
    respell_candidates : int, default=60
        Most respelling candidates transcribed per word.
    random_state : int or None, default=0
        Seeds the sample and the respellings.
    """

    name = "respell"
    primary_metric = "pronunciation/recall@1"
    rows = {"R@1": ("recall@1",), "MRR": ("mrr",)}
    summary = ("R@1",)
    order = 50
    _parameter_constraints: dict[str, list[Any]] = {
        "n_words": [Interval(Integral, 3, None, closed="left")],
        "n_respell": [Interval(Integral, 1, None, closed="left")],
        "respell_candidates": [Interval(Integral, 1, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        n_words: int = 1000,
        n_respell: int = 200,
        respell_candidates: int = 60,
        random_state: int | None = 0,
    ):
        self.n_words = n_words
        self.n_respell = n_respell
        self.respell_candidates = respell_candidates
        self.random_state = random_state

    def compute(self, queries: Queries) -> dict:
        gallery = queries.sample(self.n_words, self.random_state)
        out: dict[str, Any] = {}
        for step in queries.track(["respellings", "retrieval"]):
            if step == "respellings":
                found = generate_respellings(
                    gallery[: self.n_respell],
                    queries.g2p,
                    max_candidates=self.respell_candidates,
                    random_state=self.random_state,
                )
                pairs = [(r["word"], r["respelling"]) for r in found if r["respelling"]]
                out["info"] = {
                    "n_words": len(found),
                    "n_respelled": len(pairs),
                    "n_gallery": len(gallery),
                    "examples": [list(p) for p in pairs[:10]],
                }
                if not pairs:
                    logger.warning("No respelling found for any of %d words; skipped.", len(found))
                    return out
            else:
                raw = respelling_retrieval(
                    pairs,
                    gallery,
                    embed_gallery=queries.text,
                    embed_text=queries.text,
                    embed_pronunciation=queries.embed_ipa,
                    g2p=queries.g2p,
                    fuse_weight=queries.fuse_weight,
                    ks=(1, 5),
                )
                out = {**{q: raw[q] for q in ("text", "pronunciation", "fused")}, **out}
        return out
