"""evaluate_model / format_results: the whole suite on a tiny model, and hand-computed cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ipaclip import IPATransformer, PronunciationEncoder
from ipaclip.evaluation import (
    QUERY_TYPES,
    RESULT_ROWS,
    SUMMARY_METRICS,
    TASKS,
    evaluate_human_similarity,
    evaluate_model,
    format_results,
    sample_words,
)
from tests.fixtures import tiny_clip_text_encoder

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


def _letters(words):
    X = np.zeros((len(words), 26))
    for i, w in enumerate(words):
        for ch in w:
            X[i, ord(ch) - 97] += 1
    return X / np.linalg.norm(X, axis=1, keepdims=True)


class LetterEncoder:
    """Teacher = letter counts of the word; the "pronunciation" is the next word's counts."""

    teacher = "letters"

    def __init__(self, shift: dict[str, str] | None = None):
        self.shift = shift or {}

    def embed_targets(self, words):
        return _letters(words)

    def transform(self, ipas):
        return _letters([self.shift.get(w, w) for w in ipas])


def identity(words):
    return list(words)


def test_full_suite_structure_and_ranges(full):
    assert full["config"]["tasks"] == list(TASKS)
    assert full["config"]["teacher"] == "CLIPTextEncoder (passed as teacher=)"
    assert set(full["seconds"]) == set(TASKS)
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


def test_format_results_has_every_task_and_summary_rows(full):
    table = format_results(full)
    for task in TASKS:
        assert f"\n{task}: " in table, task
    assert table.splitlines()[0].split() == ["metric", *QUERY_TYPES]
    assert len(table.splitlines()) == 1 + len(RESULT_ROWS)
    summary = format_results(full, SUMMARY_METRICS).splitlines()
    assert [line[: len(m)] for line, m in zip(summary[1:], SUMMARY_METRICS)] == list(
        SUMMARY_METRICS
    )
    fid_row = next(line for line in summary if line.startswith("fidelity: mean cosine"))
    cells = fid_row[len("fidelity: mean cosine") :].split()
    assert cells[0] == "-"  # no text column for fidelity
    assert float(cells[1]) == pytest.approx(
        full["fidelity"]["pronunciation"]["mean_cosine"], abs=5e-4
    )


def test_fidelity_hand_computed():
    words = ["ab", "cd", "ef"]  # disjoint letters: orthogonal teacher embeddings
    perfect = evaluate_model(
        LetterEncoder(), g2p=identity, tasks="fidelity", words=words, verbose=0
    )["fidelity"]
    assert perfect["pronunciation"]["mean_cosine"] == pytest.approx(1.0)
    assert perfect["pronunciation"]["recall@1"] == 1.0
    # Each pronunciation is the next word's teacher embedding: its own target scores 0 and
    # ties with the third word, so (pessimistically) it ranks 3rd.
    shifted = LetterEncoder({"ab": "cd", "cd": "ef", "ef": "ab"})
    res = evaluate_model(shifted, g2p=identity, tasks=["fidelity"], words=words, verbose=0)
    pron = res["fidelity"]["pronunciation"]
    assert pron["mean_cosine"] == pytest.approx(0.0)
    assert pron["recall@1"] == 0.0 and pron["recall@5"] == 1.0
    assert pron["mrr"] == pytest.approx(1 / 3)
    assert set(res["fidelity"]) == {"pronunciation", "info"}
    # A repeated word: both copies are positives of either query.
    dup = evaluate_model(
        LetterEncoder(), g2p=identity, tasks="fidelity", words=["ab", "ab", "cd"], verbose=0
    )["fidelity"]
    assert dup["info"] == {"n_words": 3, "n_distinct": 2}
    assert dup["pronunciation"]["recall@1"] == 1.0


def test_human_fused_with_weight_zero_equals_text():
    res = evaluate_model(LetterEncoder(), g2p=identity, tasks="human", fuse_weight=0.0, verbose=0)[
        "human"
    ]
    assert res["fused"]["pearson"] == pytest.approx(res["text"]["pearson"], abs=1e-6)
    expected = evaluate_human_similarity(_letters)["pearson"]
    assert res["text"]["pearson"] == pytest.approx(expected, abs=1e-6)
    shifted = LetterEncoder({"plant": "sit", "sit": "plant"})
    res = evaluate_model(shifted, g2p=identity, tasks="human", fuse_weight=1.0, verbose=0)
    assert res["human"]["fused"]["pearson"] == pytest.approx(
        res["human"]["pronunciation"]["pearson"], abs=1e-6
    )
    assert res["human"]["pronunciation"]["pearson"] != pytest.approx(
        res["human"]["text"]["pearson"], abs=1e-6
    )


def test_teacher_override_and_unresolvable_teacher():
    class Broken(LetterEncoder):
        teacher = "gone"

        def embed_targets(self, words):
            raise OSError("weights not found")

    with pytest.raises(ValueError, match="teacher='gone'|'gone'.*teacher="):
        evaluate_model(Broken(), g2p=identity, tasks="fidelity", words=["ab", "cd"], verbose=0)

    class Teacher:
        def transform(self, words):
            return _letters(words) * 3.0  # rows are normalised by the suite

    res = evaluate_model(
        Broken(), g2p=identity, teacher=Teacher(), tasks="fidelity", words=["ab", "cd"], verbose=0
    )
    assert res["fidelity"]["pronunciation"]["mean_cosine"] == pytest.approx(1.0)


def test_bad_arguments_name_the_problem():
    enc = LetterEncoder()
    with pytest.raises(ValueError, match="Unknown task.*'bogus'"):
        evaluate_model(enc, g2p=identity, tasks="fidelity,bogus", verbose=0)
    with pytest.raises(ValueError, match="No task"):
        evaluate_model(enc, g2p=identity, tasks=[], verbose=0)
    with pytest.raises(ValueError, match="n_words must be an integer >= 3"):
        evaluate_model(enc, g2p=identity, n_words=2, verbose=0)
    with pytest.raises(ValueError, match="fuse_weight"):
        evaluate_model(enc, g2p=identity, fuse_weight=1.5, verbose=0)
    with pytest.raises(TypeError, match="g2p must be"):
        evaluate_model(enc, g2p=42, verbose=0)
    with pytest.raises(TypeError, match="teacher must have a transform"):
        evaluate_model(enc, g2p=identity, teacher="letters", verbose=0)


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
# The task registry
# --------------------------------------------------------------------------------------------
@pytest.fixture
def toy_task():
    from ipaclip.evaluation.tasks import TASK_REGISTRY, register_task

    @register_task("toy", rows={"self R@1": ("r1",)}, summary=("self R@1",))
    def toy(ctx):
        words = ctx.words
        out = {}
        for name, fn in ctx.queries.items():
            S = fn(words) @ ctx.text(words).T
            out[name] = {"r1": float(np.mean(S.argmax(axis=1) == np.arange(len(words))))}
        out["info"] = {"n": len(words), "seed": ctx.settings["random_state"]}
        return out

    yield toy
    del TASK_REGISTRY["toy"]


def test_a_registered_task_runs_and_shows_in_the_tables(toy_task):
    shifted = LetterEncoder({"ab": "cd", "cd": "ab"})
    res = evaluate_model(
        shifted, g2p=identity, tasks="toy", words=["ab", "cd", "ef"], random_state=7, verbose=0
    )
    assert res["config"]["tasks"] == ["toy"]
    assert res["toy"]["text"]["r1"] == 1.0
    assert res["toy"]["pronunciation"]["r1"] == pytest.approx(1 / 3)
    assert res["toy"]["info"] == {"n": 3, "seed": 7}
    table = format_results(res).splitlines()
    assert [line.split()[:3] for line in table[1:]] == [["toy:", "self", "R@1"]]
    assert table[1].split()[-3:-1] == ["1.000", "0.333"]
    # Every task by default, the new one last.
    from ipaclip.evaluation.suite import _check_tasks

    assert _check_tasks(None) == [*TASKS, "toy"] == _check_tasks("all")


def test_register_task_rejects_bad_names_and_rows():
    from ipaclip.evaluation.tasks import register_task

    with pytest.raises(ValueError, match="not among its rows"):
        register_task("x", rows={"a": ("a",)}, summary=("b",))
    with pytest.raises(ValueError, match="without commas"):
        register_task("a,b", rows={})
    with pytest.raises(ValueError, match="config"):
        register_task("config", rows={})


def test_the_tables_come_from_the_registry():
    from ipaclip.evaluation.tasks import TASK_REGISTRY

    assert TASKS == tuple(TASK_REGISTRY)
    assert {task for task, _ in RESULT_ROWS.values()} == set(TASKS)
    for label in SUMMARY_METRICS:
        task, _ = RESULT_ROWS[label]
        assert label.split(": ", 1)[1] in TASK_REGISTRY[task].summary


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
        evaluate_model(enc, tasks="fidelity,human", n_words=10, verbose=0)
    res = evaluate_model(enc, teacher=teacher, tasks="fidelity", n_words=10, verbose=0)
    assert -1 <= res["fidelity"]["pronunciation"]["mean_cosine"] <= 1
    geo = evaluate_model(enc, tasks="geometry", n_permutations=9, verbose=0)  # no teacher read
    assert "pronunciation" in geo["geometry"]


PWE_SIZES = dict(n_words=30, n_analogies=8, n_rhyme_classes=20, rhyme_test_size=8)


def test_progress_one_bar_per_task_with_sub_steps(capsys, caplog, monkeypatch):
    import logging

    import ipaclip._progress as progress_module

    evaluate_model(LetterEncoder(), g2p=identity, tasks="human", verbose=1, **PWE_SIZES)
    assert capsys.readouterr().err == ""  # a task shorter than 2 s shows no bar
    monkeypatch.setattr(progress_module, "DELAY_S", 0.0)  # tiny tasks: show at once
    caplog.set_level(logging.INFO, logger="ipaclip")
    evaluate_model(LetterEncoder(), g2p=identity, tasks="human,pwesuite", verbose=1, **PWE_SIZES)
    err = capsys.readouterr().err
    assert "evaluate [1/2] human" in err and "3/3" in err  # one step per query type
    assert "evaluate [2/2] pwesuite" in err and "15/15" in err  # 3 query types x 5 sub-tasks
    assert "fused: rhyme" in err  # the step being run is named
    assert not [r for r in caplog.records if "done in" in r.getMessage()]  # DEBUG only

    caplog.clear()
    evaluate_model(LetterEncoder(), g2p=identity, tasks="human,pwesuite", verbose=0, **PWE_SIZES)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    assert not [r for r in caplog.records if r.levelno <= logging.INFO]

    evaluate_model(LetterEncoder(), g2p=identity, tasks="human", verbose=2)
    assert [r.getMessage().split(" done")[0] for r in caplog.records if "done in" in r.message] == [
        "human"
    ]


def test_summary_shows_only_the_tasks_that_ran(full):
    res = evaluate_model(LetterEncoder(), g2p=identity, tasks="human", verbose=0)
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
    assert list(full["summary"]) == list(SUMMARY_METRICS)


def test_plot_dir_draws_the_summary_and_the_phoneme_map(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    enc, g2p, teacher = tiny
    res = evaluate_model(enc, g2p=g2p, teacher=teacher, tasks="human", verbose=0,
                         plot_dir=tmp_path / "a", model_name="tiny")  # fmt: skip
    assert res["plots"] == {"summary": str(tmp_path / "a" / "summary.png")}
    assert (tmp_path / "a" / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert res["config"]["model_name"] == "tiny"
    res = evaluate_model(enc, g2p=g2p, teacher=teacher, tasks="geometry,human", verbose=0,
                         n_permutations=9, plot_dir=tmp_path / "b")  # fmt: skip
    assert set(res["plots"]) == {"summary", "phoneme_map"}
    assert res["geometry"]["info"]["plot"] == res["plots"]["phoneme_map"]
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["phoneme_map.png", "summary.png"]
    json.dumps(res)
    assert evaluate_model(enc, g2p=g2p, teacher=teacher, tasks="human", verbose=0)["plots"] == {}


def test_evaluate_model_silences_the_encoders_own_bars(capsys, monkeypatch):
    import ipaclip._progress as progress_module

    monkeypatch.setattr(progress_module, "DELAY_S", 0.0)  # any bar would show at once
    enc = PronunciationEncoder(width=16, layers=1, heads=2, epochs=1, verbose=0, random_state=0)
    words = ["cat", "dog", "fish", "bird", "horse", "mouse"]
    enc.fit(IPATransformer().fit_transform(words), words)
    enc.set_params(verbose=1)
    capsys.readouterr()
    evaluate_model(enc, tasks="human", verbose=0)
    assert capsys.readouterr().err == ""  # verbose=0: nothing, though the encoder says 1
    assert enc.verbose == 1  # the caller's encoder is untouched
    evaluate_model(enc, tasks="human", verbose=1)
    err = capsys.readouterr().err
    assert "evaluate [1/1] human" in err and "teacher targets" not in err
