"""ipaclip/evaluation/suite.py: evaluate_model composing evaluators, format_results, the CLI's
options from the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ipaclip import IPATransformer, PronunciationEncoder
from ipaclip.evaluation import (
    QUERY_TYPES,
    RESULT_ROWS,
    SUMMARY_METRICS,
    evaluate_human_similarity,
    evaluate_model,
    format_results,
    sample_words,
)
from tests.fixtures import LetterEncoder, identity, tiny_clip_text_encoder
from tests.fixtures import letter_counts as _letters

TINY_SIZES = dict(
    n_words=30,
    n_nonwords=8,
    n_respell=8,
    respell_candidates=15,
    n_permutations=9,
    n_analogies=8,
    n_rhyme_classes=20,
    rhyme_test_size=8,
)


@pytest.fixture(scope="module")
def tiny():
    words = sample_words(40, random_state=1)
    g2p = IPATransformer()
    teacher = tiny_clip_text_encoder()
    enc = PronunciationEncoder(
        teacher=teacher, width=32, layers=1, heads=2, epochs=3, batch_size=16, random_state=0
    ).fit(g2p.fit_transform(words), words)
    return enc, g2p, teacher


@pytest.fixture(scope="module")
def full(tiny):
    enc, g2p, teacher = tiny
    return evaluate_model(enc, g2p=g2p, teacher=teacher, verbose=0, **TINY_SIZES)


DEFAULT = ["fidelity", "geometry", "human", "nonwords", "respell", "pwesuite", "triplets"]


@pytest.mark.slow
def test_full_suite_structure_and_ranges(full):
    assert full["config"]["tasks"] == DEFAULT
    assert full["config"]["teacher"] == "CLIPTextEncoder (passed as teacher=)"
    assert set(full["seconds"]) == set(DEFAULT)
    json.dumps(full)  # plain Python values only
    assert set(full["fidelity"]) == {"pronunciation", "info"}
    assert full["fidelity"]["info"] == {"n_words": 30, "n_distinct": 30}
    assert set(full["geometry"]) == {"pronunciation"}
    for task in ("human", "nonwords", "pwesuite"):
        assert set(QUERY_TYPES) <= set(full[task]), task
    fid = full["fidelity"]["pronunciation"]
    assert -1 <= fid["mean_cosine"] <= 1
    assert 0 <= fid["recall@1"] <= fid["recall@5"] <= 1
    assert 1 / 30 <= fid["mrr"] <= 1
    for q in QUERY_TYPES:
        for task in ("human", "nonwords"):
            for key in ("pearson", "spearman"):
                assert -1 <= full[task][q][key] <= 1, (task, q, key)
        assert full["nonwords"][q]["n_items"] == 8
        assert full["nonwords"][q]["n_pairs"] == 8 * 7 // 2
        summary = full["pwesuite"][q]["summary"]
        assert 0 <= summary["retrieval"] <= 1 and 0 <= summary["rhyme"] <= 1
    info = full["respell"]["info"]
    assert info["n_words"] == 8 and info["n_gallery"] == 30
    assert 1 <= info["n_respelled"] <= 8
    for q in QUERY_TYPES:
        assert 0 <= full["respell"][q]["recall@1"] <= full["respell"][q]["recall@5"] <= 1
    geo = full["geometry"]["pronunciation"]
    assert -1 <= geo["all"]["articulatory"]["spearman"] <= 1


@pytest.mark.slow
def test_full_suite_matches_the_task_functions_called_directly(full, tiny):
    enc, g2p, teacher = tiny
    words = sample_words(30, random_state=0)
    T = teacher.transform(words)
    T /= np.linalg.norm(T, axis=1, keepdims=True)
    P = enc.transform(g2p.fit_transform(words))
    expected = float(np.mean(np.sum(P * T, axis=1)))
    assert full["fidelity"]["pronunciation"]["mean_cosine"] == pytest.approx(expected, abs=1e-5)

    def text(ws):
        return teacher.transform(list(ws))

    human = evaluate_human_similarity(text)
    assert full["human"]["text"]["pearson"] == pytest.approx(human["pearson"], abs=1e-5)


@pytest.mark.slow
def test_format_results_has_every_task_and_summary_rows(full):
    table = format_results(full)
    for task in DEFAULT:
        assert f"\n{task}: " in table, task
    assert table.splitlines()[0].split() == ["metric", *QUERY_TYPES]
    ran = [label for label, (task, _) in RESULT_ROWS.items() if task in DEFAULT]
    assert len(table.splitlines()) == 1 + len(ran)
    summary = format_results(full, SUMMARY_METRICS).splitlines()
    ran = [m for m in SUMMARY_METRICS if RESULT_ROWS[m][0] in DEFAULT]
    assert [line[: len(m)] for line, m in zip(summary[1:], ran)] == ran
    fid_row = next(line for line in summary if line.startswith("fidelity: mean cosine"))
    cells = fid_row[len("fidelity: mean cosine") :].split()
    assert cells[0] == "-"  # no text column for fidelity
    assert float(cells[1]) == pytest.approx(
        full["fidelity"]["pronunciation"]["mean_cosine"], abs=5e-4
    )


def test_teacher_override_and_unresolvable_teacher():
    class Broken(LetterEncoder):
        teacher = "gone"

        def embed_targets(self, words):
            raise OSError("weights not found")

    with pytest.raises(ValueError, match="teacher='gone'|'gone'.*teacher="):
        evaluate_model(Broken(), g2p=identity, evaluators="fidelity", words=["ab", "cd"], verbose=0)

    class Teacher:
        def transform(self, words):
            return _letters(words) * 3.0  # rows are normalised by the suite

    res = evaluate_model(
        Broken(),
        g2p=identity,
        teacher=Teacher(),
        evaluators="fidelity",
        words=["ab", "cd"],
        verbose=0,
    )
    assert res["fidelity"]["pronunciation"]["mean_cosine"] == pytest.approx(1.0)


def test_bad_arguments_name_the_problem():
    enc = LetterEncoder()
    with pytest.raises(ValueError, match="Unknown task.*'bogus'"):
        evaluate_model(enc, g2p=identity, evaluators="fidelity,bogus", verbose=0)
    with pytest.raises(ValueError, match="No task"):
        evaluate_model(enc, g2p=identity, evaluators=[], verbose=0)
    with pytest.raises(ValueError, match="n_words must be an integer >= 3"):
        evaluate_model(enc, g2p=identity, n_words=2, verbose=0)
    with pytest.raises(ValueError, match="fuse_weight"):
        evaluate_model(enc, g2p=identity, fuse_weight=1.5, verbose=0)
    with pytest.raises(TypeError, match="g2p must be"):
        evaluate_model(enc, g2p=42, verbose=0)
    with pytest.raises(TypeError, match="teacher must have a transform"):
        evaluate_model(enc, g2p=identity, teacher="letters", verbose=0)
    from ipaclip.evaluation import Queries

    with pytest.raises(ValueError, match="already holds its text query and G2P"):
        evaluate_model(Queries.from_model(enc, g2p=identity), "human", g2p=identity, verbose=0)


def test_format_results_cells_and_errors():
    res = {
        "nonwords": {"text": {"pearson": float("nan")}, "fused": {"pearson": -0.12345}},
        "respell": {"pronunciation": {"recall@1": 0.5}},
    }
    table = format_results(res, ["nonwords: Pearson r", "respell: R@1"]).splitlines()
    assert table[1].split()[-3:] == ["-", "-", "-0.123"]
    assert table[2].split()[-3:] == ["-", "0.500", "-"]
    # Default rows: only the tasks present.
    assert {line.split(":")[0] for line in format_results(res).splitlines()[1:]} == {
        "nonwords",
        "respell",
    }
    with pytest.raises(ValueError, match="Unknown metric row"):
        format_results(res, ["nonwords: accuracy"])


# --------------------------------------------------------------------------------------------
# Composition: names and objects, settings, the registry, Vitz & Winkler once
# --------------------------------------------------------------------------------------------
def _evaluator_objects(sizes):
    from ipaclip.evaluation import (
        FidelityEvaluator,
        GeometryEvaluator,
        HumanSimilarityEvaluator,
        NonwordEvaluator,
        PWESuiteEvaluator,
        RespellingEvaluator,
        TripletEvaluator,
    )

    s = sizes
    return [
        FidelityEvaluator(n_words=s["n_words"]),
        GeometryEvaluator(n_permutations=s["n_permutations"]),
        HumanSimilarityEvaluator(),
        NonwordEvaluator(n_nonwords=s["n_nonwords"]),
        RespellingEvaluator(
            n_words=s["n_words"],
            n_respell=s["n_respell"],
            respell_candidates=s["respell_candidates"],
        ),
        PWESuiteEvaluator(
            n_words=s["n_words"],
            n_analogies=s["n_analogies"],
            n_rhyme_classes=s["n_rhyme_classes"],
            rhyme_test_size=s["rhyme_test_size"],
        ),
        TripletEvaluator(),
    ]


@pytest.mark.slow
def test_by_name_and_by_object_give_the_same_results(full, tiny):
    from ipaclip.evaluation import Queries
    from ipaclip.evaluation.evaluator import split_result

    enc, g2p, teacher = tiny
    objects = _evaluator_objects(TINY_SIZES)
    by_object = evaluate_model(enc, objects, g2p=g2p, teacher=teacher, verbose=0)
    assert by_object["config"] == full["config"]
    by_object.pop("seconds")
    assert by_object == {k: v for k, v in full.items() if k != "seconds"}
    # Each evaluator called on its own gives the suite's flat scores and details.
    queries = Queries.from_model(enc, teacher=teacher, g2p=g2p)
    for ev in _evaluator_objects(TINY_SIZES)[:4]:
        scores = ev(queries)
        assert (scores, ev.info_) == split_result(full[ev.name]), ev.name
        assert ev.primary_metric in scores and all(type(v) is float for v in scores.values())


def test_settings_go_to_the_evaluators_that_take_them():
    res = evaluate_model(
        LetterEncoder(), "fidelity,nonwords", g2p=identity, verbose=0, n_words=5, n_nonwords=4,
        random_state=3, n_triplets=7,
    )  # fmt: skip
    assert res["fidelity"]["info"]["n_words"] == 5
    assert res["nonwords"]["info"]["n_nonwords"] == 4
    assert res["config"]["n_words"] == 5 and res["config"]["random_state"] == 3
    assert "n_triplets" not in res["config"]  # triplets did not run
    with pytest.raises(TypeError, match=r"unknown setting\(s\) \['n_wrods'\]"):
        evaluate_model(LetterEncoder(), "fidelity", g2p=identity, verbose=0, n_wrods=5)
    with pytest.raises(
        ValueError,
        match="n_triplets must be a positive integer; got 0 .parameter of evaluate_m",
    ):
        evaluate_model(LetterEncoder(), "human", g2p=identity, verbose=0, n_triplets=0)
    with pytest.raises(ValueError, match="given twice"):
        evaluate_model(LetterEncoder(), ["human", "human"], g2p=identity, verbose=0)
    with pytest.raises(TypeError, match="task names or Evaluator objects"):
        evaluate_model(LetterEncoder(), [len], g2p=identity, verbose=0)


def test_evaluators_run_in_the_order_given_and_objects_keep_their_settings():
    from ipaclip.evaluation import FidelityEvaluator

    fid = FidelityEvaluator(words=["ab", "cd", "ef"])
    res = evaluate_model(LetterEncoder(), ["human", fid], g2p=identity, verbose=0, n_words=9)
    assert res["config"]["tasks"] == ["human", "fidelity"] == list(res["seconds"])
    assert res["fidelity"]["info"]["n_words"] == 3  # the object's words, not n_words=9
    assert fid.info_ == {"info": {"n_words": 3, "n_distinct": 3}}  # the object is the one run


@pytest.mark.slow
def test_vitz_winkler_is_scored_once_per_run(monkeypatch):
    import ipaclip.evaluation.human as human

    calls = []
    original = human.evaluate_human_similarity

    def counting(embed, **kwargs):
        calls.append(embed)
        return original(embed, **kwargs)

    monkeypatch.setattr(human, "evaluate_human_similarity", counting)
    res = evaluate_model(LetterEncoder(), "human,pwesuite", g2p=identity, verbose=0, **PWE_SIZES)
    assert len(calls) == 3  # one per query type, though both tasks report it
    for q in QUERY_TYPES:
        assert res["pwesuite"][q]["human_similarity"] == res["human"][q]
    calls.clear()
    alone = evaluate_model(LetterEncoder(), "pwesuite", g2p=identity, verbose=0, **PWE_SIZES)
    assert len(calls) == 3 and alone["pwesuite"] == res["pwesuite"]


def test_cli_options_come_from_the_registry(capsys):
    from ipaclip.cli import build_parser, main
    from ipaclip.evaluation import Evaluator
    from ipaclip.evaluation.evaluator import _REGISTRY
    from ipaclip.evaluation.suite import evaluator_settings

    settings = evaluator_settings()
    assert list(settings) == [
        "n_words", "random_state", "n_permutations", "n_nonwords", "n_respell",
        "respell_candidates", "n_analogies", "n_rhyme_classes", "rhyme_test_size", "n_triplets",
        "n_heldout_templates", "n_templates", "n_unseen_classes", "n_captions",
    ]  # fmt: skip
    assert settings["n_permutations"] == (999, "Mantel permutations (geometry)")
    args = build_parser().parse_args(["evaluate", "m", "--n-triplets", "5", "--random-state", "2"])
    assert (args.n_triplets, args.random_state) == (5, 2)
    assert not hasattr(args, "n_words")  # not given: each evaluator keeps its default

    class Echo(Evaluator):
        """Echo.

        Parameters
        ----------
        n_echoes : int, default=3
            Times to echo. Ignored.
        """

        name = "echo"
        rows = {}

        def __init__(self, *, n_echoes: int = 3):
            self.n_echoes = n_echoes

    try:
        parser = build_parser()
        args = parser.parse_args(["evaluate", "m", "--n-echoes", "4", "--tasks", "echo"])
        assert args.n_echoes == 4
        assert main(["evaluate", "--help"]) == 0
        help_text = " ".join(capsys.readouterr().out.split())
        assert "--n-echoes N Times to echo (echo) (default 3)" in help_text
        assert "respell, pwesuite, triplets, multimodal, prompts, captions, echo)" in help_text
    finally:
        del _REGISTRY["echo"]


# --------------------------------------------------------------------------------------------
# Issues #11.11, #12.3, #12.5, #12.7
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted_on_embeddings():
    """A model distilled from precomputed targets: its teacher is unknown."""
    words = sample_words(30, random_state=2)
    teacher = tiny_clip_text_encoder()
    enc = PronunciationEncoder(width=32, layers=1, heads=2, epochs=1, batch_size=16, random_state=0)
    enc.fit(IPATransformer().fit_transform(words), teacher.transform(words))
    return enc, teacher


def test_a_model_fitted_on_embeddings_needs_teacher(fitted_on_embeddings):
    enc, teacher = fitted_on_embeddings
    assert enc.teacher_id_ is None
    with pytest.raises(ValueError, match="precomputed target embeddings.*Pass teacher="):
        evaluate_model(enc, evaluators="fidelity,human", n_words=10, verbose=0)
    res = evaluate_model(enc, teacher=teacher, evaluators="fidelity", n_words=10, verbose=0)
    assert -1 <= res["fidelity"]["pronunciation"]["mean_cosine"] <= 1
    geo = evaluate_model(enc, evaluators="geometry", n_permutations=9, verbose=0)  # no teacher read
    assert "pronunciation" in geo["geometry"]


PWE_SIZES = dict(n_words=30, n_analogies=8, n_rhyme_classes=20, rhyme_test_size=8)


@pytest.mark.slow
def test_progress_one_bar_per_task_with_sub_steps(capsys, caplog, monkeypatch):
    import logging

    import ipaclip._progress as progress_module

    evaluate_model(LetterEncoder(), g2p=identity, evaluators="human", verbose=1, **PWE_SIZES)
    assert capsys.readouterr().err == ""  # a task shorter than 2 s shows no bar
    monkeypatch.setattr(progress_module, "DELAY_S", 0.0)  # tiny tasks: show at once
    caplog.set_level(logging.INFO, logger="ipaclip")
    evaluate_model(
        LetterEncoder(), g2p=identity, evaluators="human,pwesuite", verbose=1, **PWE_SIZES
    )
    err = capsys.readouterr().err
    assert "evaluate [1/2] human" in err and "3/3" in err  # one step per query type
    assert "evaluate [2/2] pwesuite" in err and "15/15" in err  # 3 query types x 5 sub-tasks
    assert "fused: rhyme" in err  # the step being run is named
    assert not [r for r in caplog.records if "done in" in r.getMessage()]  # DEBUG only

    caplog.clear()
    evaluate_model(
        LetterEncoder(), g2p=identity, evaluators="human,pwesuite", verbose=0, **PWE_SIZES
    )
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    assert not [r for r in caplog.records if r.levelno <= logging.INFO]

    evaluate_model(LetterEncoder(), g2p=identity, evaluators="human", verbose=2)
    assert [r.getMessage().split(" done")[0] for r in caplog.records if "done in" in r.message] == [
        "human"
    ]


@pytest.mark.slow
def test_summary_shows_only_the_tasks_that_ran(full):
    res = evaluate_model(LetterEncoder(), g2p=identity, evaluators="human", verbose=0)
    lines = format_results(res, SUMMARY_METRICS).splitlines()
    assert [line.split(":")[0] for line in lines[1:]] == ["human"]
    assert [line.split(":")[0] for line in format_results(res).splitlines()[1:]] == ["human"] * 2
    assert list(res["summary"]) == ["human: Pearson r"]
    # Geometry belongs in the summary when it ran.
    assert "geometry: articulatory rho (all)" in SUMMARY_METRICS
    summary = format_results(full, SUMMARY_METRICS)
    row = next(line for line in summary.splitlines() if line.startswith("geometry:"))
    assert (
        row.split()[-3:][1]
        == f"{full['geometry']['pronunciation']['all']['articulatory']['spearman']:.3f}"
    )
    assert list(full["summary"]) == [m for m in SUMMARY_METRICS if RESULT_ROWS[m][0] in DEFAULT]


@pytest.mark.slow
def test_plot_dir_draws_the_summary_and_the_phoneme_map(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    enc, g2p, teacher = tiny
    res = evaluate_model(enc, g2p=g2p, teacher=teacher, evaluators="human", verbose=0,
                         plot_dir=tmp_path / "a", model_name="tiny")  # fmt: skip
    assert res["plots"] == {"summary": str(tmp_path / "a" / "summary.png")}
    assert (tmp_path / "a" / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert res["config"]["model_name"] == "tiny"
    res = evaluate_model(enc, g2p=g2p, teacher=teacher, evaluators="geometry,human", verbose=0,
                         n_permutations=9, plot_dir=tmp_path / "b")  # fmt: skip
    assert set(res["plots"]) == {"summary", "phoneme_map"}
    assert res["geometry"]["info"]["plot"] == res["plots"]["phoneme_map"]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["phoneme_map.png", "summary.png"]
    json.dumps(res)
    assert (
        evaluate_model(enc, g2p=g2p, teacher=teacher, evaluators="human", verbose=0)["plots"] == {}
    )


@pytest.mark.slow
def test_evaluate_model_silences_the_encoders_own_bars(capsys, monkeypatch):
    import ipaclip._progress as progress_module

    monkeypatch.setattr(progress_module, "DELAY_S", 0.0)  # any bar would show at once
    enc = PronunciationEncoder(width=16, layers=1, heads=2, epochs=1, verbose=0, random_state=0)
    words = ["cat", "dog", "fish", "bird", "horse", "mouse"]
    enc.fit(IPATransformer().fit_transform(words), words)
    enc.set_params(verbose=1)
    capsys.readouterr()
    evaluate_model(enc, evaluators="human", verbose=0)
    assert capsys.readouterr().err == ""  # verbose=0: nothing, though the encoder says 1
    assert enc.verbose == 1  # the caller's encoder is untouched
    evaluate_model(enc, evaluators="human", verbose=1)
    err = capsys.readouterr().err
    assert "evaluate [1/1] human" in err and "teacher targets" not in err


def test_an_ipaclip_is_evaluated_with_its_teacher_and_g2p():
    from ipaclip import IPACLIP

    class Teacher:
        def transform(self, words):
            return _letters(words)

    shifted = LetterEncoder({"plant": "sit", "sit": "plant"})
    model = IPACLIP(shifted, teacher=Teacher(), g2p=identity, fuse_weight=0.5)
    res = evaluate_model(model, "human", verbose=0)
    direct = evaluate_model(shifted, "human", teacher=Teacher(), g2p=identity, verbose=0)
    assert res["human"] == direct["human"]
    assert res["config"]["teacher"] == "Teacher (passed as teacher=)"


# --------------------------------------------------------------------------------------------
# Paper-ready tables and several seeds (issue #20 point 9)
# --------------------------------------------------------------------------------------------
PAPER = {
    "nonwords": {"text": {"pearson": float("nan")}, "fused": {"pearson": -0.12345}},
    "respell": {"pronunciation": {"recall@1": 0.5}},
}
PAPER_ROWS = ["nonwords: Pearson r", "respell: R@1"]


def test_format_results_markdown_is_a_pipe_table_of_the_text_cells():
    lines = format_results(PAPER, PAPER_ROWS, format="markdown").splitlines()
    assert lines[0] == "| metric | text | pronunciation | fused |"
    assert lines[1] == "|:--|--:|--:|--:|"
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert cells == [
        ["nonwords: Pearson r", "-", "-", "-0.123"],
        ["respell: R@1", "-", "0.500", "-"],
    ]
    text = format_results(PAPER, PAPER_ROWS).splitlines()[1:]
    assert [row[1:] for row in cells] == [line.split()[-3:] for line in text]


def test_format_results_latex_is_a_booktabs_tabular_with_escaped_labels(monkeypatch):
    import ipaclip.evaluation.suite as suite

    rows = dict(suite.result_rows())
    rows["respell: 50% R_1 & more"] = rows["respell: R@1"]
    monkeypatch.setattr(suite, "result_rows", lambda: rows)
    latex = format_results(PAPER, ["nonwords: Pearson r", "respell: 50% R_1 & more"],
                           format="latex").splitlines()  # fmt: skip
    assert latex[1:5] == [
        "\\begin{tabular}{lrrr}",
        "\\toprule",
        "metric & text & pronunciation & fused \\\\",
        "\\midrule",
    ]
    assert latex[5] == "nonwords: Pearson r & -- & -- & -0.123 \\\\"
    assert latex[6] == "respell: 50\\% R\\_1 \\& more & -- & 0.500 & -- \\\\"
    assert latex[-2:] == ["\\bottomrule", "\\end{tabular}"]
    assert "booktabs" in latex[0]


def test_format_results_json_gives_the_numbers_unrounded():
    data = json.loads(format_results(PAPER, PAPER_ROWS, format="json"))
    assert data == {
        "nonwords: Pearson r": {"text": None, "pronunciation": None, "fused": -0.12345},
        "respell: R@1": {"text": None, "pronunciation": 0.5, "fused": None},
    }


def test_format_results_refuses_an_unknown_format():
    with pytest.raises(ValueError, match="format.*'html'"):
        format_results(PAPER, format="html")


class DroppedFirstLetter(LetterEncoder):
    """The "pronunciation" loses the word's first letter: the cosine depends on the words."""

    def transform(self, ipas):
        return _letters([w[1:] or w for w in ipas])


def test_evaluate_seeds_gives_mean_and_sd_over_random_states_0_to_n():
    from ipaclip.evaluation import FidelityEvaluator, HumanSimilarityEvaluator
    from ipaclip.evaluation.suite import evaluate_seeds

    fidelity = FidelityEvaluator(n_words=25)
    evaluators = [fidelity, HumanSimilarityEvaluator()]
    kwargs = dict(g2p=identity, verbose=0)
    res = evaluate_seeds(DroppedFirstLetter(), 3, evaluators=evaluators, **kwargs)
    singles = [
        evaluate_model(
            DroppedFirstLetter(),
            [FidelityEvaluator(n_words=25, random_state=s), HumanSimilarityEvaluator()],
            **kwargs,
        )  # fmt: skip
        for s in range(3)
    ]
    values = [r["fidelity"]["pronunciation"]["mean_cosine"] for r in singles]
    assert np.ptp(values) > 0  # the seeds draw different words
    assert res["fidelity"]["pronunciation"]["mean_cosine"] == pytest.approx(np.mean(values))
    sd = res["seeds"]["sd"]["fidelity"]["pronunciation"]["mean_cosine"]
    assert sd == pytest.approx(np.std(values, ddof=1))
    # A task without randomness: the same figure, sd 0.
    human = [r["human"]["text"]["pearson"] for r in singles]
    assert res["human"]["text"]["pearson"] == human[0]
    assert res["seeds"]["sd"]["human"]["text"]["pearson"] == 0.0
    assert res["config"]["random_state"] == [0, 1, 2] and res["seeds"]["n_seeds"] == 3
    assert [s["fidelity: mean cosine"] for s in res["seeds"]["summaries"]] == [
        r["summary"]["fidelity: mean cosine"] for r in singles
    ]
    assert fidelity.random_state == 0  # the caller's evaluator is not changed
    table = format_results(res, ["fidelity: mean cosine", "human: Pearson r"])
    cell = f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"
    assert cell in table.splitlines()[1]
    assert f"{human[0]:.3f} ± 0.000" in table.splitlines()[2]
    cells = json.loads(format_results(res, ["fidelity: mean cosine"], format="json"))
    assert cells["fidelity: mean cosine"]["pronunciation"] == {
        "mean": pytest.approx(np.mean(values)),
        "sd": pytest.approx(sd),
        "n_seeds": 3,
    }
    json.dumps(res)  # plain types throughout


def test_evaluate_seeds_by_name_and_its_arguments():
    from ipaclip.evaluation.suite import evaluate_seeds

    kwargs = dict(g2p=identity, verbose=0, n_words=20)
    res = evaluate_seeds(DroppedFirstLetter(), 2, evaluators="fidelity", **kwargs)
    by_seed = [
        evaluate_model(DroppedFirstLetter(), "fidelity", random_state=s, **kwargs)["fidelity"]
        for s in (0, 1)
    ]
    assert res["fidelity"]["pronunciation"]["recall@1"] == pytest.approx(
        np.mean([r["pronunciation"]["recall@1"] for r in by_seed])
    )
    one = evaluate_seeds(DroppedFirstLetter(), 1, evaluators="fidelity", **kwargs)
    assert one["seeds"]["sd"]["fidelity"]["pronunciation"]["mean_cosine"] is None
    assert "±" not in format_results(one, ["fidelity: mean cosine"])
    with pytest.raises(TypeError, match="sets random_state itself"):
        evaluate_seeds(DroppedFirstLetter(), 2, random_state=3, **kwargs)
    with pytest.raises(ValueError, match="n_seeds"):
        evaluate_seeds(DroppedFirstLetter(), 0, **kwargs)
