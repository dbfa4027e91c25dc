"""ipaclip/evaluation/evaluator.py: the Evaluator base class, its registry, flat scores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from ipaclip.evaluation import (
    TASK_REGISTRY,
    Evaluator,
    PWESuiteEvaluator,
    Queries,
    TripletEvaluator,
    evaluate_model,
    format_results,
    registry,
)
from ipaclip.evaluation.evaluator import _REGISTRY, nest_result, parameter_docs, split_result
from tests.fixtures import letter_counts as _letters

DEFAULT = ["fidelity", "geometry", "human", "nonwords", "respell", "pwesuite", "triplets"]


def _queries(shift=None):
    shift = shift or {}
    return Queries(
        text=_letters, g2p=list, embed_ipa=lambda xs: _letters([shift.get(x, x) for x in xs])
    )


@pytest.fixture
def toy():
    class ToyEvaluator(Evaluator):
        """Self-retrieval of words.

        Parameters
        ----------
        words : list of str
            The words.
        """

        name = "toy"
        primary_metric = "pronunciation/r1"
        rows = {"self R@1": ("r1",)}
        summary = ("self R@1",)

        def __init__(self, *, words=("ab", "cd", "ef")):
            self.words = words

        def compute(self, queries):
            words = list(self.words)
            out = {}
            for name, fn in queries.track(queries.functions.items(), lambda item: item[0]):
                S = fn(words) @ queries.text(words).T
                out[name] = {"r1": float(np.mean(S.argmax(axis=1) == np.arange(len(words))))}
            out["info"] = {"n": len(words)}
            return out

    yield ToyEvaluator
    del _REGISTRY["toy"]


def test_builtin_tasks_are_found_without_a_list_and_in_their_order():
    assert list(registry())[: len(DEFAULT)] == DEFAULT
    assert list(registry())[len(DEFAULT)] == "multimodal"
    assert [name for name, cls in registry().items() if cls.default_suite] == DEFAULT
    for name, cls in registry().items():
        assert cls.name == name and cls.primary_metric.split("/")[0] in {
            "text", "pronunciation", "fused"
        }  # fmt: skip
        assert set(cls.summary) <= set(cls.rows)


def test_a_subclass_registers_itself_and_shows_in_the_live_tables(toy):
    assert "toy" in TASK_REGISTRY and TASK_REGISTRY["toy"] is toy
    assert list(registry())[-1] == "toy"  # order=100: after the built-ins
    import ipaclip.evaluation as evaluation

    assert (
        "toy: self R@1" in evaluation.RESULT_ROWS and "toy: self R@1" in evaluation.SUMMARY_METRICS
    )
    shifted = _queries({"ab": "cd", "cd": "ab"})
    res = evaluate_model(shifted, "toy", verbose=0, words=["ab", "cd", "ef"])
    assert res["toy"]["text"]["r1"] == 1.0
    assert res["toy"]["pronunciation"]["r1"] == pytest.approx(1 / 3)
    assert res["toy"]["info"] == {"n": 3}
    table = format_results(res).splitlines()
    assert [line.split()[:3] for line in table[1:]] == [["toy:", "self", "R@1"]]
    assert table[1].split()[-3:-1] == ["1.000", "0.333"]
    # Not in evaluate_model's settings unless it declares them; the default suite includes it.
    assert toy.default_suite and "toy" in TASK_REGISTRY


def test_bad_names_and_rows_are_refused_at_class_definition():
    with pytest.raises(ValueError, match="not among its rows"):

        class A(Evaluator):
            name = "a"
            rows = {"x": ("x",)}
            summary = ("y",)

    with pytest.raises(ValueError, match="without ',' or '/'"):

        class B(Evaluator):
            name = "a,b"

    with pytest.raises(ValueError, match="must not be one of"):

        class C(Evaluator):
            name = "config"

    assert not {"a", "a,b", "config"} & set(registry())


def test_scores_are_flat_floats_and_the_rest_is_info():
    nested = {
        "text": {"summary": {"rhyme": 0.5, "human_similarity": None}, "n_pairs": 3, "xs": [0.1]},
        "pronunciation": {},
        "info": {"n": 2, "share": 0.25},
    }
    scores, info = split_result(nested)
    assert scores == {"text/summary/rhyme": 0.5}
    assert info == {
        "text": {"summary": {"human_similarity": None}, "n_pairs": 3, "xs": [0.1]},
        "pronunciation": {},
        "info": {"n": 2, "share": 0.25},
    }
    assert nest_result(scores, info) == nested


def test_evaluators_are_scikit_learn_style_parameter_holders():
    ev = PWESuiteEvaluator(n_words=50)
    assert ev.get_params()["n_words"] == 50 and ev.get_params()["n_analogies"] == 200
    twin = clone(ev).set_params(n_analogies=7)
    assert twin.n_words == 50 and twin.n_analogies == 7 and ev.n_analogies == 200
    assert repr(TripletEvaluator(n_triplets=5)) == "TripletEvaluator(n_triplets=5)"
    with pytest.raises(ValueError, match="n_triplets must be .*TripletEvaluator"):
        TripletEvaluator(n_triplets=0)(_queries())


def test_every_number_setting_is_documented():
    for name, cls in registry().items():
        docs = parameter_docs(cls)
        for param in cls().get_params():
            assert docs.get(param), (name, param)
