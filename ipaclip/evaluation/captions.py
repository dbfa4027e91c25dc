"""Caption retrieval: held-out captions by pronunciation among the teacher's caption embeddings.

Each caption's pronunciation embedding (``embed_ipa(g2p(caption))``) is ranked against the
teacher's embeddings of all the captions; a hit is its own caption (or an identical one).
By default the captions are :func:`ipaclip.datasets.composed_captions` from the held-out
split, which shares no caption with the training split (composed from a hand-written
grammar: no real caption corpus ships offline, see ``ipaclip/data/README.md``); pass
``captions=`` to score others.

The ``"text"`` query is the teacher on the very caption it is scored against: the task's
ceiling. The fused query contains the target too and is not reported. Not in the default
suite: it reads sentences, which the word-level suite does not.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np

from ipaclip._validation import Interval, check_string_items
from ipaclip.datasets import composed_captions
from ipaclip.evaluation.evaluator import Evaluator
from ipaclip.evaluation.queries import Queries

__all__ = ["CaptionRetrievalEvaluator"]


class CaptionRetrievalEvaluator(Evaluator):
    """Held-out captions by pronunciation against the teacher's embeddings of them.

    Parameters
    ----------
    captions : sequence of str, optional
        The captions (e.g. real ones of your own); default ``n_captions`` held-out composed
        captions (:func:`ipaclip.datasets.composed_captions` with ``split="heldout"``).
    n_captions : int, default=1000
        Held-out composed captions to draw, the size of the gallery (unless ``captions`` is
        given).
    random_state : int, default=0
        Seeds every random draw of the task (here: the caption sample).

    Examples
    --------
    A stand-in encoder whose pronunciation embeddings are the teacher's (one axis per
    distinct text) reaches the ceiling:

    >>> import numpy as np
    >>> from ipaclip.evaluation.queries import Queries
    >>> axes = {}
    >>> def one_hot(texts):
    ...     X = np.zeros((len(texts), 100))
    ...     for i, text in enumerate(texts):
    ...         X[i, axes.setdefault(text, len(axes))] = 1.0
    ...     return X
    >>> evaluator = CaptionRetrievalEvaluator(n_captions=50)
    >>> scores = evaluator(Queries(text=one_hot, g2p=list, embed_ipa=one_hot))
    >>> scores[evaluator.primary_metric], scores["text/recall@1"]
    (1.0, 1.0)
    """

    name = "captions"
    primary_metric = "pronunciation/recall@1"
    rows = {"R@1": ("recall@1",), "R@5": ("recall@5",), "MRR": ("mrr",)}
    summary = ("R@1",)
    default_suite = False
    order = 86
    _parameter_constraints: dict[str, list[Any]] = {
        "captions": ["array-like", None],
        "n_captions": [Interval(Integral, 2, 1_000_000, closed="both")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, *, captions=None, n_captions: int = 1000, random_state: int = 0):
        self.captions = captions
        self.n_captions = n_captions
        self.random_state = random_state

    def compute(self, queries: Queries) -> dict:
        from ipaclip.metrics import mean_reciprocal_rank, recall_at_k

        if self.captions is None:
            captions = composed_captions(self.n_captions, self.random_state, split="heldout")
            source = "composed, held-out split"
        else:
            captions = check_string_items(self.captions, what="caption")
            source = "given"
        if len(captions) < 2:
            raise ValueError(f"captions needs at least 2 captions; got {len(captions)}.")
        labels: dict[str, int] = {}
        label = np.array([labels.setdefault(c, len(labels)) for c in captions])
        positives = label[:, None] == label[None, :]
        T = queries.memo(("teacher", "captions", tuple(captions)), lambda: queries.text(captions))
        out: dict[str, Any] = {}
        for query, Q in (("text", T), ("pronunciation", queries.pronunciation(captions))):
            S = Q @ T.T
            out[query] = {
                "recall@1": recall_at_k(S, positives, 1),
                "recall@5": recall_at_k(S, positives, min(5, len(captions))),
                "mrr": mean_reciprocal_rank(S, positives),
            }
        out["info"] = {
            "n_captions": len(captions),
            "n_distinct": len(labels),
            "source": source,
            "mean_words": float(np.mean([len(c.split()) for c in captions])),
        }
        return out
