"""Fidelity: the pronunciation embeddings of words against the teacher's embeddings of them.

The distillation's own test: for CMUdict words (or words given, e.g. held out from training),
the mean cosine between each word's pronunciation embedding and its teacher embedding, and
recall@k and MRR of each word's own teacher embedding in the gallery of all of them.
Pronunciation only: the text and fused queries contain the target they are scored against.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np

from ipaclip._validation import Interval
from ipaclip.evaluation.evaluator import Evaluator
from ipaclip.evaluation.queries import Queries

__all__ = ["FidelityEvaluator"]


class FidelityEvaluator(Evaluator):
    """Pronunciation embeddings against the teacher's embeddings of the same words.

    Parameters
    ----------
    words : sequence of str, optional
        The words (e.g. held-out words); default ``n_words`` seeded CMUdict words.
    n_words : int, default=1000
        CMUdict words to sample (unless ``words`` is given).
    random_state : int or None, default=0
        Seeds every random draw of the task (here: the word sample).

    Examples
    --------
    A stand-in encoder whose teacher and pronunciation embeddings are both letter counts:

    >>> import numpy as np
    >>> from ipaclip.evaluation.queries import Queries
    >>> def letters(items):
    ...     X = np.zeros((len(items), 26))
    ...     for i, w in enumerate(items):
    ...         for ch in w:
    ...             X[i, ord(ch) - 97] += 1
    ...     return X / np.linalg.norm(X, axis=1, keepdims=True)
    >>> queries = Queries(text=letters, g2p=list, embed_ipa=letters)
    >>> evaluator = FidelityEvaluator(words=["cat", "dog", "bird"])
    >>> scores = evaluator(queries)
    >>> round(scores[evaluator.primary_metric], 6), scores["pronunciation/recall@1"]
    (1.0, 1.0)
    >>> evaluator.info_
    {'info': {'n_words': 3, 'n_distinct': 3}}
    """

    name = "fidelity"
    primary_metric = "pronunciation/mean_cosine"
    rows = {"mean cosine": ("mean_cosine",), "R@1": ("recall@1",), "R@5": ("recall@5",)}
    summary = ("mean cosine",)
    order = 10
    _parameter_constraints: dict[str, list[Any]] = {
        "words": ["array-like", None],
        "n_words": [Interval(Integral, 3, None, closed="left")],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(self, *, words=None, n_words: int = 1000, random_state: int | None = 0):
        self.words = words
        self.n_words = n_words
        self.random_state = random_state

    def compute(self, queries: Queries) -> dict:
        from ipaclip.metrics import mean_reciprocal_rank, recall_at_k

        if self.words is None:
            words = queries.sample(self.n_words, self.random_state)
        else:
            words = list(self.words)
        if len(words) < 2:
            raise ValueError(f"fidelity needs at least 2 words; got {len(words)}.")
        labels: dict[str, int] = {}
        label = np.array([labels.setdefault(w, len(labels)) for w in words])
        positives = label[:, None] == label[None, :]
        T = queries.text(words)
        Q = queries.pronunciation(words)
        S = Q @ T.T
        return {
            "pronunciation": {
                "mean_cosine": float(np.mean(np.sum(Q * T, axis=1))),
                "recall@1": recall_at_k(S, positives, 1),
                "recall@5": recall_at_k(S, positives, min(5, len(words))),
                "mrr": mean_reciprocal_rank(S, positives),
            },
            "info": {"n_words": len(words), "n_distinct": len(labels)},
        }
