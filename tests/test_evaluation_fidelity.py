"""ipaclip/evaluation/fidelity.py: FidelityEvaluator, hand-computed on letter-count encoders."""

from __future__ import annotations

import numpy as np
import pytest

from ipaclip._validation import InvalidParameterError
from ipaclip.evaluation import FidelityEvaluator, Queries, evaluate_model
from tests.fixtures import LetterEncoder, identity


def test_fidelity_hand_computed():
    words = ["ab", "cd", "ef"]  # disjoint letters: orthogonal teacher embeddings
    perfect = FidelityEvaluator(words=words)(Queries.from_model(LetterEncoder(), g2p=identity))
    assert perfect["pronunciation/mean_cosine"] == pytest.approx(1.0)
    assert perfect["pronunciation/recall@1"] == 1.0
    # Each pronunciation is the next word's teacher embedding: its own target scores 0 and
    # ties with the third word, so (pessimistically) it ranks 3rd.
    shifted = LetterEncoder({"ab": "cd", "cd": "ef", "ef": "ab"})
    evaluator = FidelityEvaluator(words=words)
    scores = evaluator(Queries.from_model(shifted, g2p=identity))
    assert scores[evaluator.primary_metric] == pytest.approx(0.0)
    assert scores["pronunciation/recall@1"] == 0.0 and scores["pronunciation/recall@5"] == 1.0
    assert scores["pronunciation/mrr"] == pytest.approx(1 / 3)
    assert set(scores) == {
        f"pronunciation/{m}" for m in ("mean_cosine", "recall@1", "recall@5", "mrr")
    }
    assert evaluator.info_ == {"info": {"n_words": 3, "n_distinct": 3}}
    # A repeated word: both copies are positives of either query.
    dup = FidelityEvaluator(words=["ab", "ab", "cd"])
    assert dup(Queries.from_model(LetterEncoder(), g2p=identity))["pronunciation/recall@1"] == 1.0
    assert dup.info_["info"] == {"n_words": 3, "n_distinct": 2}


def test_fidelity_in_the_suite_is_the_evaluator_nested():
    words = ["ab", "cd", "ef"]
    shifted = LetterEncoder({"ab": "cd", "cd": "ef", "ef": "ab"})
    res = evaluate_model(shifted, "fidelity", g2p=identity, words=words, verbose=0)["fidelity"]
    assert set(res) == {"pronunciation", "info"}
    assert res["pronunciation"]["mrr"] == pytest.approx(1 / 3)


def test_fidelity_settings_are_checked_when_called_and_named():
    evaluator = FidelityEvaluator(n_words=2)  # __init__ only stores
    assert evaluator.get_params() == {"n_words": 2, "random_state": 0, "words": None}
    with pytest.raises(InvalidParameterError, match="n_words must be .*FidelityEvaluator"):
        evaluator(Queries.from_model(LetterEncoder(), g2p=identity))
    with pytest.raises(ValueError, match="at least 2 words"):
        FidelityEvaluator(words=["ab"])(Queries.from_model(LetterEncoder(), g2p=identity))
    # numpy integers, as GridSearchCV passes them, are accepted
    scores = FidelityEvaluator(n_words=np.int64(5), random_state=np.int64(1))(
        Queries.from_model(LetterEncoder(), g2p=identity)
    )
    assert 0.0 <= scores["pronunciation/recall@1"] <= 1.0
