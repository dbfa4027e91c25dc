"""Zero-shot prompts: CLIP's ImageNet prompts under held-out templates, found by pronunciation.

For each held-out template of :func:`ipaclip.datasets.prompt_split` (templates training
never saw), the 1,000 class prompts (``"a bad photo of a goldfish."``) are pronounced
(``embed_ipa(g2p(prompt))``) and ranked against the teacher's embeddings of the same
template's 1,000 prompts: the text-only proxy of zero-shot classification by a pronounced
class prompt. Recall@k and MRR are reported apart for the classes seen and unseen in
training, the sides of the split given by the evaluator's ``random_state`` and sizes (the
split is the contract: the evaluator does not read what the model was trained on).

The ``"text"`` query is the teacher on the very prompt it is scored against: its scores are
the task's ceiling (1.0 unless the teacher gives two classes' prompts the same embedding).
The fused query contains the target too and is not reported. Not in the default suite: it
reads 1,000 sentences per template, and it is about sentences, which the word-level suite
is not.
"""

from __future__ import annotations

import functools
from numbers import Integral
from typing import Any

import numpy as np

from ipaclip._validation import Interval
from ipaclip.datasets import imagenet_classnames, prompt_split
from ipaclip.evaluation.evaluator import Evaluator
from ipaclip.evaluation.queries import Queries

__all__ = ["ZeroShotPromptEvaluator"]

_KS = (1, 5)


def _scores(S: np.ndarray, positives: np.ndarray, rows: np.ndarray) -> dict[str, float]:
    from ipaclip.metrics import mean_reciprocal_rank, recall_at_k

    S, positives = S[rows], positives[rows]
    out = {f"recall@{k}": recall_at_k(S, positives, k) for k in _KS}
    out["mrr"] = mean_reciprocal_rank(S, positives)
    return out


class ZeroShotPromptEvaluator(Evaluator):
    """Class prompts under held-out templates, by pronunciation, among all 1,000 classes.

    Parameters
    ----------
    n_templates : int, default=10
        Held-out templates to score (the first of the split's held-out templates, at most
        ``n_heldout_templates``); each costs 1,000 prompts. Scores are pooled over them.
    n_unseen_classes : int, default=200
        Class names the split keeps out of training (``ipaclip.datasets.prompt_split``).
    n_heldout_templates : int, default=10
        Templates the split keeps out of training.
    random_state : int, default=0
        Seeds every random draw of the task (here: the prompt split).

    Examples
    --------
    A stand-in encoder whose pronunciation embeddings are the teacher's (one axis per
    distinct text) reaches the ceiling:

    >>> import numpy as np
    >>> from ipaclip.evaluation.queries import Queries
    >>> axes = {}
    >>> def one_hot(texts):
    ...     X = np.zeros((len(texts), 2000))
    ...     for i, text in enumerate(texts):
    ...         X[i, axes.setdefault(text, len(axes))] = 1.0
    ...     return X
    >>> evaluator = ZeroShotPromptEvaluator(n_templates=1)
    >>> scores = evaluator(Queries(text=one_hot, g2p=list, embed_ipa=one_hot))
    >>> scores[evaluator.primary_metric], scores["pronunciation/seen/recall@1"]
    (1.0, 1.0)
    >>> evaluator.info_["info"]["n_queries"]
    {'seen': 799, 'unseen': 201}
    """

    name = "prompts"
    primary_metric = "pronunciation/unseen/recall@1"
    rows = {
        "R@1 seen classes": ("seen", "recall@1"),
        "R@1 unseen classes": ("unseen", "recall@1"),
        "R@5 seen classes": ("seen", "recall@5"),
        "R@5 unseen classes": ("unseen", "recall@5"),
    }
    summary = ("R@1 seen classes", "R@1 unseen classes")
    default_suite = False
    order = 85
    _parameter_constraints: dict[str, list[Any]] = {
        "n_templates": [Interval(Integral, 1, 79, closed="both")],
        "n_unseen_classes": [Interval(Integral, 1, 997, closed="both")],
        "n_heldout_templates": [Interval(Integral, 1, 79, closed="both")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_templates: int = 10,
        n_unseen_classes: int = 200,
        n_heldout_templates: int = 10,
        random_state: int = 0,
    ):
        self.n_templates = n_templates
        self.n_unseen_classes = n_unseen_classes
        self.n_heldout_templates = n_heldout_templates
        self.random_state = random_state

    def compute(self, queries: Queries) -> dict:
        if self.n_templates > self.n_heldout_templates:
            raise ValueError(
                f"n_templates={self.n_templates} is more than the split's "
                f"n_heldout_templates={self.n_heldout_templates}; score at most the held-out "
                "templates (lower n_templates or raise n_heldout_templates)."
            )
        split = prompt_split(
            self.random_state,
            n_unseen_classes=self.n_unseen_classes,
            n_heldout_templates=self.n_heldout_templates,
        )
        names = imagenet_classnames()
        label = {name: i for i, name in enumerate(dict.fromkeys(names))}
        labels = np.array([label[name] for name in names])
        positives = labels[:, None] == labels[None, :]  # "crane" is both cranes
        seen = set(split.seen_classes)
        sides = {
            "seen": np.flatnonzero([name in seen for name in names]),
            "unseen": np.flatnonzero([name not in seen for name in names]),
        }
        templates = split.heldout_templates[: self.n_templates]
        S: dict[str, list[np.ndarray]] = {"text": [], "pronunciation": []}
        for template in queries.track(templates, lambda t: t.format("...")):
            prompts = [template.format(name) for name in names]
            key = ("teacher", "imagenet prompts", template)
            T = queries.memo(key, functools.partial(queries.text, prompts))
            S["text"].append(T @ T.T)
            S["pronunciation"].append(queries.pronunciation(prompts) @ T.T)
        n = len(templates)
        out: dict[str, Any] = {}
        for query, blocks in S.items():
            per_template = [
                {side: _scores(block, positives, rows) for side, rows in sides.items()}
                for block in blocks
            ]
            out[query] = {
                side: {m: float(np.mean([p[side][m] for p in per_template])) for m in metrics}
                for side, metrics in per_template[0].items()
            }
        out["info"] = {
            "n_classes": len(names),
            "n_queries": {side: len(rows) for side, rows in sides.items()},
            "templates": list(templates),
            "n_templates": n,
            "random_state": self.random_state,
        }
        return out
