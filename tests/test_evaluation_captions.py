"""ipaclip/evaluation/captions.py: CaptionRetrievalEvaluator on stand-in and tiny encoders."""

from __future__ import annotations

import numpy as np
import pytest

from ipaclip._validation import InvalidParameterError
from ipaclip.datasets import composed_captions
from ipaclip.evaluation import CaptionRetrievalEvaluator, Queries, evaluate_model, registry


class OneHot:
    """One axis per distinct text; records what it embedded."""

    def __init__(self, shift=None):
        self.axes: dict[str, int] = {}
        self.seen: list[list[str]] = []
        self.shift = shift or {}

    def __call__(self, texts):
        self.seen.append(list(texts))
        X = np.zeros((len(texts), 4096))
        for i, text in enumerate(texts):
            X[i, self.axes.setdefault(self.shift.get(text, text), len(self.axes))] = 1.0
        return X


def test_a_perfect_encoder_finds_every_held_out_composed_caption():
    teacher = OneHot()
    evaluator = CaptionRetrievalEvaluator(n_captions=300, random_state=2)
    scores = evaluator(Queries(text=teacher, g2p=list, embed_ipa=teacher))
    assert evaluator.primary_metric in scores
    assert set(scores) == {f"{q}/{m}" for q in ("text", "pronunciation")
                           for m in ("recall@1", "recall@5", "mrr")}  # fmt: skip
    assert all(v == 1.0 for v in scores.values())
    # The gallery is the held-out side of composed_captions, none of it trained on.
    assert teacher.seen[0] == composed_captions(300, random_state=2, split="heldout")
    assert not set(teacher.seen[0]) & set(composed_captions(20000, random_state=2))
    assert evaluator.info_["info"]["n_captions"] == 300
    assert evaluator.info_["info"]["source"] == "composed, held-out split"


def test_each_pronunciation_heard_as_the_next_caption_scores_zero():
    captions = ["a dog running", "two cats sitting", "a horse sleeping"]
    shift = dict(zip(captions, captions[1:] + captions[:1]))
    teacher = OneHot()
    heard = OneHot(shift)
    heard.axes = teacher.axes  # the same space
    evaluator = CaptionRetrievalEvaluator(captions=captions)
    scores = evaluator(Queries(text=teacher, g2p=list, embed_ipa=heard))
    assert scores["pronunciation/recall@1"] == 0.0
    assert scores["pronunciation/mrr"] == pytest.approx(1 / 3)  # orthogonal: ranked last
    assert scores["text/recall@1"] == 1.0
    assert evaluator.info_["info"]["source"] == "given"


def test_settings_and_items_are_checked():
    queries = Queries(text=OneHot(), g2p=list, embed_ipa=OneHot())
    with pytest.raises(InvalidParameterError, match="n_captions"):
        CaptionRetrievalEvaluator(n_captions=1)(queries)
    with pytest.raises(ValueError, match="at least 2 captions"):
        CaptionRetrievalEvaluator(captions=["one"])(queries)
    with pytest.raises((TypeError, ValueError), match="caption"):
        CaptionRetrievalEvaluator(captions=["fine", 3])(queries)
    assert not registry()["captions"].default_suite


@pytest.mark.slow
def test_on_a_tiny_fitted_encoder_by_name():
    from tests.fixtures import fitted_on_sentences

    enc, g2p, teacher = fitted_on_sentences(composed_captions(80, random_state=0))
    res = evaluate_model(enc, "captions", g2p=g2p, teacher=teacher, n_captions=200, verbose=0)
    task = res["captions"]
    assert set(task["pronunciation"]) == {"recall@1", "recall@5", "mrr"}
    assert 0.0 <= task["pronunciation"]["recall@1"] <= task["pronunciation"]["recall@5"] <= 1.0
    assert task["text"]["recall@1"] == 1.0
    assert res["summary"]["captions: R@1"]["pronunciation"] == task["pronunciation"]["recall@1"]
