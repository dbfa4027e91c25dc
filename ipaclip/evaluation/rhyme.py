"""PWESuite's rhyme-detection task, and the CMUdict lexicon of its analogy and rhyme tasks.

Part of :mod:`ipaclip.evaluation.pwesuite` (which runs it with the other tasks and re-exports
these names). Two words rhyme when their CMUdict pronunciations agree from the last
primary-stressed vowel onward. For each rhyme class with at least two words, one rhyming pair
and one pair with a word of another class; a classifier (PWESuite:
``MLPClassifier(hidden_layer_sizes=(50, 20, 10))`` on the concatenated embeddings) is trained
and its accuracy on held-out pairs is the score (PWESuite's ``eval_rhyme.py``).
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from ipaclip._validation import StrOptions, check_params
from ipaclip.datasets import load_cmudict
from ipaclip.evaluation._common import EmbedFn, G2PFn, check_embed_input, embed_items, reference_ipa

__all__ = ["build_rhyme_pairs", "cmudict_lexicon", "evaluate_rhyme", "rhyme_part"]

logger = logging.getLogger(__name__)


@functools.cache
def cmudict_lexicon(min_length: int = 3, max_length: int = 8) -> tuple[tuple[str, tuple], ...]:
    """Alphabetic CMUdict words of ``min_length``..``max_length`` letters, first pronunciation.

    The lexicon of the analogy and rhyme tasks (:func:`ipaclip.datasets.load_cmudict` as
    pairs); the word samples come from :func:`ipaclip.datasets.sample_words`, re-exported
    here with :func:`~ipaclip.datasets.arpabet_to_ipa`.

    Returns
    -------
    tuple of (word, tuple of ARPAbet phones)
        Sorted by word. The length bounds are PWESuite's for its analogy words.

    Examples
    --------
    >>> dict(cmudict_lexicon())["cat"]
    ('K', 'AE1', 'T')
    """
    return tuple(load_cmudict(min_length, max_length).items())


def rhyme_part(phones: Sequence[str]) -> tuple[str, ...] | None:
    """The pronunciation from the last primary-stressed vowel onward, or ``None``.

    Examples
    --------
    >>> rhyme_part(["K", "AE1", "T"])
    ('AE1', 'T')
    >>> rhyme_part(["R", "IH0", "L", "EY1", "SH", "AH0", "N"])
    ('EY1', 'SH', 'AH0', 'N')
    >>> rhyme_part(["DH", "AH0"]) is None
    True
    """
    stressed = [i for i, p in enumerate(phones) if p.endswith("1")]
    return tuple(phones[stressed[-1] :]) if stressed else None


def build_rhyme_pairs(
    n_classes: int | None = 1500,
    *,
    words: Sequence[tuple[str, Sequence[str]]] | None = None,
    random_state: int | None = 0,
) -> list[tuple[str, str, bool]]:
    """Rhyming and non-rhyming word pairs, PWESuite's way.

    For each rhyme class (words sharing :func:`rhyme_part`) with at least two words: two of
    its words (a rhyming pair) and the first of them with a word of another class (a
    non-rhyming pair). Words without a primary stress are skipped.

    Parameters
    ----------
    n_classes : int or None, default=1500
        How many rhyme classes to sample (``None``: all, as PWESuite).
    words : sequence of (word, ARPAbet phones), optional
        The lexicon; by default :func:`cmudict_lexicon`.
    random_state : int or None, default=0

    Returns
    -------
    list of (word1, word2, rhymes)

    Examples
    --------
    >>> lex = [("cat", ["K", "AE1", "T"]), ("hat", ["HH", "AE1", "T"]),
    ...        ("dog", ["D", "AO1", "G"])]
    >>> build_rhyme_pairs(None, words=lex)
    [('cat', 'hat', True), ('cat', 'dog', False)]
    """
    lexicon = cmudict_lexicon() if words is None else [(w, tuple(p)) for w, p in words]
    classes: dict[tuple, list[str]] = defaultdict(list)
    for word, phones in lexicon:
        part = rhyme_part(phones)
        if part is not None:
            classes[part].append(word)
    keys = sorted(classes)
    usable = [k for k in keys if len(classes[k]) >= 2]
    if len(keys) < 2 or not usable:
        raise ValueError("Rhyme pairs need a class with two words and at least two classes.")
    rng = np.random.default_rng(random_state)
    if n_classes is not None:
        if n_classes > len(usable):
            raise ValueError(f"Only {len(usable)} rhyme classes have two words; asked for "
                             f"{n_classes}.")  # fmt: skip
        usable = [usable[i] for i in sorted(rng.choice(len(usable), n_classes, replace=False))]
    pairs = []
    for key in usable:
        members = classes[key]
        w1, w2 = (members[i] for i in rng.choice(len(members), 2, replace=False))
        other = key
        while other == key:
            other = keys[int(rng.integers(len(keys)))]
        w3 = classes[other][int(rng.integers(len(classes[other])))]
        pairs += [(w1, w2, True), (w1, w3, False)]
    return pairs


def evaluate_rhyme(
    embed: EmbedFn,
    *,
    pairs: Sequence[tuple[str, str, bool]] | None = None,
    g2p: G2PFn | None = None,
    embed_input: str = "text",
    n_classes: int | None = 1500,
    test_size: int | float = 1000,
    classifier: object | None = None,
    pair_features: str = "concat",
    random_state: int | None = 0,
) -> dict:
    """Rhyme detection: a classifier on pair embeddings, accuracy on held-out pairs.

    Parameters
    ----------
    embed : callable
    pairs : sequence of (word1, word2, rhymes), optional
        By default ``build_rhyme_pairs(n_classes, random_state=random_state)``.
    g2p : callable, optional
        Transcribes the words when ``embed_input="ipa"`` (default: CMUdict's IPA).
    embed_input : {"text", "ipa"}, default="text"
    n_classes : int or None, default=1500
    test_size : int or float, default=1000
        Held-out pairs (PWESuite: 1,000), as in ``train_test_split``.
    classifier : sklearn classifier, optional
        Default PWESuite's ``MLPClassifier(hidden_layer_sizes=(50, 20, 10))`` (seeded).
    pair_features : {"concat", "product"}, default="concat"
        ``"concat"``: ``[e1, e2]`` (PWESuite); ``"product"``: ``[e1 * e2, |e1 - e2|]``.
    random_state : int or None, default=0

    Returns
    -------
    dict
        ``accuracy`` (held out), ``train_accuracy``, ``n_train``, ``n_test``.
    """
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    embed_input = check_embed_input(embed_input, "evaluate_rhyme")
    if pairs is None:
        pairs = build_rhyme_pairs(n_classes, random_state=random_state)
    pairs = list(pairs)
    check_params(
        {"pair_features": [StrOptions({"concat", "product"})]},
        {"pair_features": pair_features},
        "evaluate_rhyme",
    )
    words = sorted({w for p in pairs for w in p[:2]})
    ipas = reference_ipa(words, g2p) if embed_input == "ipa" else None
    E = embed_items(embed, words, embed_input, ipas=ipas)
    index = {w: i for i, w in enumerate(words)}
    A = E[[index[p[0]] for p in pairs]]
    B = E[[index[p[1]] for p in pairs]]
    if pair_features == "concat":
        X = np.hstack([A, B])
    else:
        X = np.hstack([A * B, np.abs(A - B)])
    y = np.array([bool(p[2]) for p in pairs])
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=y
    )
    if classifier is None:
        model = MLPClassifier(hidden_layer_sizes=(50, 20, 10), random_state=random_state)
    else:
        model = clone(classifier)
    model.fit(X_tr, y_tr)
    return {
        "accuracy": float(model.score(X_te, y_te)),
        "train_accuracy": float(model.score(X_tr, y_tr)),
        "n_train": int(len(y_tr)),
        "n_test": int(len(y_te)),
    }
