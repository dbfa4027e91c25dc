"""Correlation with human judgements of sound similarity (Vitz & Winkler, 1973).

Vitz and Winkler asked listeners how similar in sound 25 comparison words (some of them
nonwords) are to each of four standard words: *plant*, *sit*, *wonder*, *relation*. The
ratings ship with ipaclip (:func:`ipaclip.datasets.load_vitz_winkler`, the transcription
PWESuite uses; see ``ipaclip/data/README.md``).

The protocol is PWESuite's (zouharvi/pwesuite, ``suite_evaluation/eval_human_similarity.py``):
for each standard word, the Pearson correlation over its 25 pairs between the human rating
(``obtained``) and the similarity of the two words' embeddings, then the mean of the four
values. PWESuite correlates *cosine distance* with the rating and reports the absolute value
of the mean; we correlate *cosine similarity*, so a good model scores positive and a model
that ranks similarity backwards scores negative (the magnitude is the same). We also report
the Spearman correlation.

The embedding function sees either the words themselves (``embed_input="text"``, e.g. a CLIP
text encoder, or a Pipeline that starts with :class:`~ipaclip.IPATransformer`) or their IPA
from the ``g2p`` function (``embed_input="ipa"``, e.g. a fitted
:class:`~ipaclip.PronunciationEncoder`'s ``transform``).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr

from ipaclip.datasets import load_vitz_winkler
from ipaclip.evaluation._common import EmbedFn, G2PFn, check_embed_input, embed_items
from ipaclip.evaluation.evaluator import Evaluator
from ipaclip.evaluation.queries import Queries

__all__ = [
    "HumanSimilarityEvaluator",
    "PUBLISHED",
    "STANDARD_WORDS",
    "evaluate_human_similarity",
    "format_human_similarity",
    "human_similarity",
    "load_vitz_winkler",
]

#: The four standard words, in the order of the data file.
STANDARD_WORDS: tuple[str, ...] = ("plant", "sit", "wonder", "relation")

#: PWESuite's published results on this task (Zouhar et al., LREC-COLING 2024, results table:
#: Pearson correlation, mean over the four standard words, absolute value).
PUBLISHED: dict[str, float] = {
    "TF-IDF, character n-grams": 0.85,
    "TF-IDF, IPA n-grams": 0.82,
    "phoneme2vec": 0.77,
    "Triplet margin, IPA": 0.66,
    "INSTRUCTOR": 0.60,
    "BERT": 0.10,
}


def evaluate_human_similarity(
    embed: EmbedFn, *, g2p: G2PFn | None = None, embed_input: str = "text"
) -> dict:
    """Correlate embedding similarity with Vitz & Winkler's human similarity ratings.

    Parameters
    ----------
    embed : callable
        ``list[str] -> ndarray of shape (n, d)``; rows are L2-normalized here in any case.
    g2p : callable, optional
        ``list[str] -> list[str]``, words to IPA (e.g. ``IPATransformer().fit_transform``);
        needed when ``embed_input="ipa"``.
    embed_input : {"text", "ipa"}, default="text"
        Whether ``embed`` receives the words or their IPA.

    Returns
    -------
    dict
        ``pearson`` (mean over the four standard words), ``pearson_per_word``, ``spearman``,
        ``spearman_per_word``, ``n_pairs``.

    Examples
    --------
    An embedding that only knows the first letter of each word:

    >>> def first_letter(words):
    ...     X = np.zeros((len(words), 26))
    ...     X[np.arange(len(words)), [ord(w[0]) - 97 for w in words]] = 1
    ...     return X
    >>> res = evaluate_human_similarity(first_letter)
    >>> sorted(res["pearson_per_word"]), res["n_pairs"]
    (['plant', 'relation', 'sit', 'wonder'], 100)
    """
    embed_input = check_embed_input(embed_input, "evaluate_human_similarity")
    rows = [tuple(r.values()) for r in load_vitz_winkler()]
    words = sorted({w for r in rows for w in r[:2]})
    index = {w: i for i, w in enumerate(words)}
    E = embed_items(embed, words, embed_input, g2p=g2p)
    per_pearson: dict[str, float] = {}
    per_spearman: dict[str, float] = {}
    for standard in STANDARD_WORDS:
        batch = [r for r in rows if r[1] == standard]
        sims = np.array([E[index[r[0]]] @ E[index[r[1]]] for r in batch])
        obtained = np.array([r[3] for r in batch])
        if np.ptp(sims) == 0:
            raise ValueError(
                f"All {len(batch)} comparison words of {standard!r} have the same embedding "
                "similarity to it; the correlation is undefined."
            )
        per_pearson[standard] = float(pearsonr(sims, obtained)[0])
        per_spearman[standard] = float(spearmanr(sims, obtained)[0])
    return {
        "pearson": float(np.mean(list(per_pearson.values()))),
        "pearson_per_word": per_pearson,
        "spearman": float(np.mean(list(per_spearman.values()))),
        "spearman_per_word": per_spearman,
        "n_pairs": len(rows),
    }


def format_human_similarity(result: dict, name: str = "ours") -> str:
    """A small text table: our mean Pearson beside PWESuite's published models.

    Examples
    --------
    >>> print(format_human_similarity({"pearson": 0.5}).splitlines()[1])
    ours                          0.50
    """
    lines = [f"{'model (Vitz & Winkler 1973)':<30}Pearson"]
    lines.append(f"{name:<30}{result['pearson']:.2f}")
    for model, value in PUBLISHED.items():
        lines.append(f"{model + ' [PWESuite]':<30}{value:.2f}")
    return "\n".join(lines)


def human_similarity(queries: Queries, query: str) -> dict:
    """:func:`evaluate_human_similarity` of one query type, computed once per ``queries``
    (``"human"`` and PWESuite's human-similarity task share it)."""
    fn = queries.functions[query]
    return queries.memo(("human_similarity", query), lambda: evaluate_human_similarity(fn))


class HumanSimilarityEvaluator(Evaluator):
    """Vitz & Winkler's human similarity ratings, for each query type.

    :func:`evaluate_human_similarity` on the text, pronunciation and fused queries. It has
    no settings: the ratings are a fixed set of 100 pairs.
    """

    name = "human"
    primary_metric = "pronunciation/pearson"
    rows = {"Pearson r": ("pearson",), "Spearman rho": ("spearman",)}
    summary = ("Pearson r",)
    order = 30

    def compute(self, queries: Queries) -> dict:
        return {q: human_similarity(queries, q) for q in queries.track(queries.functions)}
