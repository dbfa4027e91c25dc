"""ipaclip/evaluation/prompts.py: ZeroShotPromptEvaluator on stand-in and tiny fitted encoders."""

from __future__ import annotations

import numpy as np
import pytest

from ipaclip._validation import InvalidParameterError
from ipaclip.datasets import imagenet_classnames, imagenet_templates, prompt_split
from ipaclip.evaluation import Queries, ZeroShotPromptEvaluator, evaluate_model, registry

SIDES = ("seen", "unseen")
METRICS = ("recall@1", "recall@5", "mrr")


class OneHot:
    """One axis per distinct text: a teacher that tells every prompt apart. Counts calls."""

    def __init__(self):
        self.axes: dict[str, int] = {}
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        X = np.zeros((len(texts), 4096))
        for i, text in enumerate(texts):
            X[i, self.axes.setdefault(text, len(self.axes))] = 1.0
        return X


def test_a_perfect_encoder_reaches_the_ceiling_on_both_sides():
    teacher = OneHot()
    evaluator = ZeroShotPromptEvaluator(n_templates=2)
    scores = evaluator(Queries(text=teacher, g2p=list, embed_ipa=teacher))
    assert evaluator.primary_metric in scores
    assert set(scores) == {f"{q}/{s}/{m}" for q in ("text", "pronunciation") for s in SIDES
                           for m in METRICS}  # fmt: skip
    assert all(v == 1.0 for v in scores.values())
    info = evaluator.info_["info"]
    assert info["n_classes"] == 1000 and sum(info["n_queries"].values()) == 1000
    assert info["templates"] == list(prompt_split(0).heldout_templates[:2])


def test_seen_and_unseen_are_the_sides_of_prompt_split():
    """Pronunciation = teacher for seen classes only; unseen classes point at a wrong class."""
    split = prompt_split(7, n_unseen_classes=300, n_heldout_templates=4)
    seen = set(split.seen_classes)
    names = imagenet_classnames()
    teacher = OneHot()

    heard = {
        template.format(n): template.format(n if n in seen else names[(i + 500) % 1000])
        for template in imagenet_templates()
        for i, n in enumerate(names)
    }

    def embed_ipa(prompts):
        return teacher([heard[p] for p in prompts])

    evaluator = ZeroShotPromptEvaluator(
        n_templates=1, n_unseen_classes=300, n_heldout_templates=4, random_state=7
    )
    scores = evaluator(Queries(text=teacher, g2p=list, embed_ipa=embed_ipa))
    assert scores["pronunciation/seen/recall@1"] == 1.0
    assert scores["pronunciation/unseen/recall@1"] == 0.0
    n_queries = evaluator.info_["info"]["n_queries"]
    assert n_queries["seen"] == sum(n in seen for n in names)
    assert n_queries["unseen"] == sum(n not in seen for n in names) >= 300
    # Another seed draws other unseen classes: the same encoder no longer scores 1.0 / 0.0.
    other = ZeroShotPromptEvaluator(
        n_templates=1, n_unseen_classes=300, n_heldout_templates=4, random_state=8
    )(Queries(text=teacher, g2p=list, embed_ipa=embed_ipa))
    assert 0.0 < other["pronunciation/unseen/recall@1"] < 1.0


def test_the_teacher_embeds_each_template_once_per_queries():
    teacher = OneHot()
    queries = Queries(text=teacher, g2p=list, embed_ipa=OneHot())
    ZeroShotPromptEvaluator(n_templates=3)(queries)
    assert teacher.calls == 3
    ZeroShotPromptEvaluator(n_templates=3)(queries)  # memoized on the queries
    assert teacher.calls == 3


def test_settings_are_checked_and_named():
    queries = Queries(text=OneHot(), g2p=list, embed_ipa=OneHot())
    with pytest.raises(ValueError, match="n_templates=5 is more than .*n_heldout_templates=4"):
        ZeroShotPromptEvaluator(n_templates=5, n_heldout_templates=4)(queries)
    with pytest.raises(InvalidParameterError, match="n_unseen_classes"):
        ZeroShotPromptEvaluator(n_unseen_classes=0)(queries)
    cls = registry()["prompts"]
    assert cls is ZeroShotPromptEvaluator and not cls.default_suite


@pytest.mark.slow
def test_on_a_tiny_fitted_encoder_by_name_and_from_the_cli_parser():
    from ipaclip.cli import build_parser
    from ipaclip.datasets import sample_words
    from tests.fixtures import fitted_on_sentences

    split = prompt_split(0)
    words = sample_words(30, random_state=1)
    texts = words + split.prompts()[:: len(split.prompts()) // 60][:60]
    enc, g2p, teacher = fitted_on_sentences(texts)
    res = evaluate_model(enc, "prompts", g2p=g2p, teacher=teacher, n_templates=1, verbose=0)
    task = res["prompts"]
    assert task["info"]["n_templates"] == 1
    for side in SIDES:
        assert set(task["pronunciation"][side]) == set(METRICS)
        assert all(0.0 <= v <= 1.0 for v in task["pronunciation"][side].values())
        assert task["text"][side]["recall@1"] == 1.0  # the ceiling
    assert (
        res["summary"]["prompts: R@1 unseen classes"]["pronunciation"]
        == (task["pronunciation"]["unseen"]["recall@1"])
    )
    args = build_parser().parse_args(["evaluate", "m", "--tasks", "prompts", "--n-templates", "2"])
    assert (args.tasks, args.n_templates) == ("prompts", 2)
