"""Correlation with human judgements of sound similarity (Vitz & Winkler, 1973).

Vitz and Winkler asked listeners how similar in sound 25 comparison words (some of them
nonwords) are to each of four standard words: *plant*, *sit*, *wonder*, *relation*. The
ratings ship with ipaclip (``ipaclip/data/vitz_winkler_1973_human_similarity.csv``, the
transcription PWESuite uses; see ``ipaclip/data/README.md``).

The protocol is PWESuite's (zouharvi/pwesuite, ``suite_evaluation/eval_human_similarity.py``):
for each standard word, the Pearson correlation over its 25 pairs between the human rating
(``obtained``) and the similarity of the two words' embeddings, then the mean of the four
values. PWESuite correlates *cosine distance* with the rating and reports the absolute value
of the mean; we correlate *cosine similarity*, so a good model scores positive and a model
that ranks similarity backwards scores negative (the magnitude is the same). We also report
the Spearman correlation.

The embedding function sees either the words themselves (``embed_input="text"``, e.g. a CLIP
text encoder, or a Pipeline that starts with :class:`~ipaclip.IPATransformer`) or their IPA
from the ``ipa`` function (``embed_input="ipa"``, e.g. a fitted
:class:`~ipaclip.PronunciationEncoder`'s ``transform``).
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Sequence
from importlib import resources

import numpy as np
from scipy.stats import pearsonr, spearmanr

__all__ = [
    "PUBLISHED",
    "STANDARD_WORDS",
    "evaluate_human_similarity",
    "format_human_similarity",
    "load_vitz_winkler",
]

EmbedFn = Callable[[list[str]], np.ndarray]
IpaFn = Callable[[list[str]], list[str]]

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


@functools.cache
def _read_rows() -> tuple[tuple[str, str, float, float], ...]:
    text = (
        resources.files("ipaclip")
        .joinpath("data/vitz_winkler_1973_human_similarity.csv")
        .read_text("utf-8")
    )
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append(
            (row["word1"], row["word2"], float(row["vw_predicted"]), float(row["obtained"]))
        )
    return tuple(rows)


def load_vitz_winkler() -> list[dict]:
    """The 100 rated word pairs of Vitz & Winkler (1973).

    Returns
    -------
    list of dict
        One dict per pair: ``word1`` (comparison word), ``word2`` (standard word),
        ``vw_predicted`` (the authors' predicted phonetic distance) and ``obtained`` (the mean
        human similarity rating).

    Examples
    --------
    >>> rows = load_vitz_winkler()
    >>> len(rows), rows[0]
    (100, {'word1': 'screech', 'word2': 'plant', 'vw_predicted': 1.0, 'obtained': 0.11})
    """
    keys = ("word1", "word2", "vw_predicted", "obtained")
    return [dict(zip(keys, row)) for row in _read_rows()]


def _call_embed(embed: EmbedFn, items: Sequence[str], what: str = "items") -> np.ndarray:
    """Call an embedding function and return its rows L2-normalised (checked)."""
    if not callable(embed):
        raise TypeError(
            f"embed must be a function list[str] -> array (e.g. a fitted Pipeline's "
            f".transform), got {type(embed).__name__}."
        )
    items = list(items)
    X = np.asarray(embed(items), dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != len(items):
        raise ValueError(
            f"embed returned shape {X.shape} for {len(items)} {what}; expected one row per item."
        )
    norms = np.linalg.norm(X, axis=1)
    bad = ~np.isfinite(norms) | (norms == 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"embed returned a zero or non-finite row for item {i} ({items[i]!r}); cosine "
            "similarity is undefined."
        )
    return X / norms[:, None]


def _call_ipa(ipa: IpaFn, items: Sequence[str]) -> list[str]:
    """Call an IPA function and check that it returns one string per item."""
    if not callable(ipa):
        raise TypeError(
            "ipa must be a function list[str] -> list[str] (e.g. IPATransformer().fit_transform), "
            f"got {type(ipa).__name__}."
        )
    items = list(items)
    out = list(ipa(items))
    if len(out) != len(items):
        raise ValueError(f"ipa returned {len(out)} strings for {len(items)} items.")
    for i, s in enumerate(out):
        if not isinstance(s, str):
            raise TypeError(f"ipa returned {s!r} for item {i} ({items[i]!r}), not a string.")
    return out


def _embed_words(
    embed: EmbedFn, words: Sequence[str], ipa: IpaFn | None, embed_input: str
) -> np.ndarray:
    if embed_input == "text":
        return _call_embed(embed, words, "words")
    if embed_input == "ipa":
        if ipa is None:
            raise ValueError("embed_input='ipa' needs an ipa function (words -> IPA strings).")
        return _call_embed(embed, _call_ipa(ipa, words), "IPA strings")
    raise ValueError(f"embed_input must be 'text' or 'ipa', got {embed_input!r}.")


def evaluate_human_similarity(
    embed: EmbedFn, *, ipa: IpaFn | None = None, embed_input: str = "text"
) -> dict:
    """Correlate embedding similarity with Vitz & Winkler's human similarity ratings.

    Parameters
    ----------
    embed : callable
        ``list[str] -> ndarray of shape (n, d)``; rows are L2-normalised here in any case.
    ipa : callable, optional
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
    rows = _read_rows()
    words = sorted({w for r in rows for w in r[:2]})
    index = {w: i for i, w in enumerate(words)}
    E = _embed_words(embed, words, ipa, embed_input)
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
