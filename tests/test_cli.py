"""The ``ipaclip`` command line on a tiny model distilled from the offline MiniLM teacher."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ipaclip import IPATransformer, PronunciationEncoder
from ipaclip.cli import main
from ipaclip.evaluation import SUMMARY_METRICS, evaluate_model, sample_words
from tests.fixtures import RHYMES_IPA, random_targets, small_encoder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    words = sample_words(40, random_state=1)
    g2p = IPATransformer()
    enc = PronunciationEncoder(
        teacher="minilm", width=32, layers=1, heads=2, epochs=2, batch_size=16, random_state=0
    ).fit(g2p.fit_transform(words), words)
    return str(enc.save(tmp_path_factory.mktemp("cli") / "model", g2p=g2p))


def test_evaluate_writes_json_and_prints_table(model_dir, tmp_path, capsys):
    out = tmp_path / "results.json"
    argv = ["evaluate", model_dir, "--tasks", "fidelity,human", "--n-words", "20"]
    code = main([*argv, "--out", str(out), "--random-state", "3", "--quiet"])
    assert code == 0
    results = json.loads(out.read_text("utf-8"))
    assert results["config"]["tasks"] == ["fidelity", "human"]
    assert results["config"]["model_dir"] == model_dir
    assert results["config"]["random_state"] == 3
    assert results["config"]["teacher"] == "sentence-transformers:all-MiniLM-L6-v2"
    assert "nonwords" not in results and "pwesuite" not in results
    assert results["fidelity"]["info"]["n_words"] == 20
    # The same numbers as evaluate_model on the loaded model.
    direct = evaluate_model(
        PronunciationEncoder.load(model_dir),
        evaluators="fidelity",
        n_words=20,
        random_state=3,
        verbose=0,
    )
    assert results["fidelity"] == direct["fidelity"]
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split() == ["metric", "text", "pronunciation", "fused"]
    assert "fidelity: mean cosine" in printed and "human: Pearson r" in printed
    assert "pwesuite" not in printed


def test_evaluate_summary_and_fuse_weight(model_dir, capsys):
    code = main(
        ["evaluate", model_dir, "--tasks", "human", "--fuse-weight", "0", "--summary", "--quiet"]
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    # Only the summary rows of the tasks that ran (issue #12.5; it printed a dash row for every
    # summary metric of the tasks that did not run).
    assert [line.split(":")[0] for line in lines[1:]] == ["human"]
    assert "human: Pearson r" in SUMMARY_METRICS
    human = next(line for line in lines if line.startswith("human: Pearson r")).split()[-3:]
    assert human[0] == human[2] != "-"  # fused with weight 0 is the text query


@pytest.mark.parametrize(
    "argv, message",
    [
        (["evaluate", "{missing}"], "does not exist"),
        (["evaluate", "{empty}"], "config.json is missing"),
        (["evaluate", "{model}", "--tasks", "bogus"], "Unknown task"),
        (["evaluate", "{model}", "--fuse-weight", "2"], "fuse_weight"),
        (["evaluate", "{model}", "--out", "{empty}"], "is a folder; give a file name"),
        (["embed", "{missing}", "cat"], "does not exist"),
    ],
)
def test_user_errors_exit_2_with_one_line(argv, message, model_dir, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    paths = {
        "missing": str(tmp_path / "nope"),
        "empty": str(tmp_path / "empty"),
        "model": model_dir,
    }
    assert main([a.format(**paths) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_argparse_errors_and_help_return_codes(capsys):
    assert main([]) == 2
    assert main(["evaluate"]) == 2  # MODEL_DIR missing
    assert main(["evaluate", "m", "--n-words", "many"]) == 2
    assert main(["--help"]) == 0
    assert "evaluate" in capsys.readouterr().out


def test_g2p_prints_ipa(capsys):
    assert main(["g2p", "cat", "dog"]) == 0
    assert capsys.readouterr().out.splitlines() == ["kˈæt", "dˈɑːɡ"]


def test_embed_matches_transform(model_dir, tmp_path, capsys):
    out = tmp_path / "emb.npy"
    assert main(["embed", model_dir, "cat", "dog", "--out", str(out)]) == 0
    enc = PronunciationEncoder.load(model_dir)
    expected = enc.transform(["kˈæt", "dˈɑːɡ"])
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)
    assert main(["embed", model_dir, "cat"]) == 0
    word, values = capsys.readouterr().out.rstrip("\n").split("\t")
    assert word == "cat"
    np.testing.assert_allclose(np.array(values.split(), dtype=float), expected[0], atol=1e-5)


@pytest.mark.slow
def test_fit_from_a_text_file_and_stdin_saves_a_loadable_model(tmp_path, monkeypatch, capsys):
    words = sample_words(24, random_state=2)
    (tmp_path / "words.txt").write_text("\n".join(words) + "\n", "utf-8")
    small = ["--width", "32", "--layers", "1", "--heads", "2", "--epochs", "1"]
    small += ["--batch-size", "8", "--random-state", "0", "--quiet"]
    out = tmp_path / "deep" / "er" / "model"  # parents are created
    assert main(["fit", str(tmp_path / "words.txt"), "--out", str(out), *small]) == 0
    enc = PronunciationEncoder.load(out)
    assert enc.width == 32 and enc.teacher_id_ == "sentence-transformers:all-MiniLM-L6-v2"
    assert enc.g2p_.language == "en-us"  # the G2P is saved with the model
    direct = PronunciationEncoder(
        teacher="minilm", width=32, layers=1, heads=2, epochs=1, batch_size=8, random_state=0
    ).fit(IPATransformer().fit_transform(words), words)
    np.testing.assert_allclose(
        enc.transform(enc.g2p_.transform(words)),
        direct.transform(IPATransformer().fit_transform(words)),
        atol=1e-6,
    )
    # The same from standard input.
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(words) + "\n"))
    assert main(["fit", "-", "--out", str(tmp_path / "m2"), *small]) == 0
    again = PronunciationEncoder.load(tmp_path / "m2")
    np.testing.assert_array_equal(again.transform(["kˈæt"]), enc.transform(["kˈæt"]))
    assert capsys.readouterr().err == ""  # --quiet: nothing printed


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--epochs", "two"], "epochs must be a positive integer; got 'two'"),
        (["--lr", "fast"], "lr must be a number"),
        (["--language", "xx-nope"], "Unknown language"),
        (["--out", "{file}"], "exists and is not a folder"),
        (["--augment", "{{substitute: 0.2"], "augment must be"),  # not JSON: a string
        (["--augment", '{{"bogus": 1}}'], "not a valid set of PhoneticAugmenter parameters"),
    ],
)
def test_fit_errors_exit_2_before_any_work(extra, message, tmp_path, capsys):
    (tmp_path / "words.txt").write_text("cat\ndog\n", "utf-8")
    (tmp_path / "file").write_text("x", "utf-8")
    argv = ["fit", str(tmp_path / "words.txt"), "--out", str(tmp_path / "m")]
    argv += [a.format(file=tmp_path / "file") for a in extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_fit_reads_json_options(tmp_path):
    (tmp_path / "words.txt").write_text("\n".join(sample_words(12, random_state=4)), "utf-8")
    argv = ["fit", str(tmp_path / "words.txt"), "--out", str(tmp_path / "m"), "--quiet"]
    argv += ["--width", "16", "--layers", "1", "--heads", "2", "--epochs", "1"]
    argv += ["--augment", '{"substitute": 0.3, "unstress": 0.5}', "--loss", '{"cosine": 1}']
    assert main(argv) == 0
    enc = PronunciationEncoder.load(tmp_path / "m")
    assert enc.recipe.loss == {"cosine": 1}
    assert {k: enc.recipe.augment[k] for k in ("substitute", "unstress")} == {
        "substitute": 0.3,
        "unstress": 0.5,
    }


@pytest.mark.slow
def test_fit_recipe_options_and_callback_options(tmp_path):
    (tmp_path / "words.txt").write_text("\n".join(sample_words(12, random_state=4)), "utf-8")
    argv = ["fit", str(tmp_path / "words.txt"), "--out", str(tmp_path / "m"), "--quiet"]
    argv += ["--width", "16", "--layers", "1", "--heads", "2", "--epochs", "2"]
    argv += ["--recipe-triplet-margin", "0.05", "--ngrams", "3", "--validation-fraction", "0.25"]
    argv += ["--early-stopping", "2", "--checkpoint-dir", str(tmp_path / "ck")]
    assert main(argv) == 0
    enc = PronunciationEncoder.load(tmp_path / "m")
    assert (enc.recipe.triplet_margin, enc.recipe.ngrams, enc.config_.ngram_max) == (0.05, 3, 3)
    assert [(type(cb).__name__, cb.patience) for cb in enc.callbacks] == [("EarlyStopping", 2)]
    assert (tmp_path / "ck" / "checkpoint.pt").is_file()
    assert str(tmp_path / "ck") not in (tmp_path / "m" / "config.json").read_text()


def test_g2p_and_embed_read_standard_input(model_dir, monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("cat\ndog\n"))
    assert main(["g2p", "-"]) == 0
    assert capsys.readouterr().out.splitlines() == ["kˈæt", "dˈɑːɡ"]
    monkeypatch.setattr("sys.stdin", io.StringIO("cat\n"))
    assert main(["embed", model_dir, "-"]) == 0
    assert capsys.readouterr().out.split("\t")[0] == "cat"


def test_out_naming_a_folder_fails_before_the_suite_runs(model_dir, tmp_path, capsys):
    assert main(["evaluate", model_dir, "--out", str(tmp_path), "--quiet"]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["embed", model_dir, "cat", "--out", str(tmp_path / "new" / "e.npy")]) == 0
    assert np.load(tmp_path / "new" / "e.npy").shape[0] == 1


def test_evaluate_plot_dir_prints_the_pictures_it_wrote(model_dir, tmp_path, capsys):
    argv = ["evaluate", model_dir, "--tasks", "human,geometry", "--n-words", "20", "--quiet"]
    assert main([*argv, "--plot-dir", str(tmp_path / "pics")]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "picture written" in line]
    written = sorted(line.rsplit(" to ", 1)[1] for line in lines)
    assert written == sorted(str(p) for p in (tmp_path / "pics").iterdir())
    assert {p.name for p in (tmp_path / "pics").iterdir()} == {"summary.png", "phoneme_map.png"}


# ----------------------------------------------------------------------------------------
# Issue #17: every usage error is one line and exit 2, before any work; nothing is deleted
# ----------------------------------------------------------------------------------------
_TINY = ["--width", "16", "--layers", "1", "--heads", "2", "--epochs", "1", "--batch-size", "4"]
_TINY += ["--random-state", "0", "--device", "cpu", "--quiet"]


@pytest.fixture
def no_work(monkeypatch):
    """Any G2P, teacher loading or training fails the test: the command had to stop first."""

    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the usage error")

    monkeypatch.setattr(IPATransformer, "fit_transform", forbidden)
    monkeypatch.setattr(IPATransformer, "transform", forbidden)
    monkeypatch.setattr(PronunciationEncoder, "fit", forbidden)
    monkeypatch.setattr(PronunciationEncoder, "get_teacher", forbidden)
    monkeypatch.setattr(PronunciationEncoder, "load", forbidden)


def _one_line_error(capsys, message: str) -> str:
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.fixture
def inputs(tmp_path):
    """``words.txt`` (6 words), their IPA in ``ipa.txt`` and 8-d targets in ``y.npy``."""
    words = ["cat", "dog", "fish", "bird", "cow", "hen"]
    (tmp_path / "words.txt").write_text("\n".join(words) + "\n", "utf-8")
    (tmp_path / "ipa.txt").write_text("\n".join(IPATransformer().fit_transform(words)), "utf-8")
    np.save(tmp_path / "y.npy", np.random.default_rng(0).standard_normal((6, 8)).astype("f4"))
    return tmp_path


def _fit_argv(folder, out, *extra) -> list[str]:
    files = ["--ipa-file", str(folder / "ipa.txt"), "--targets-file", str(folder / "y.npy")]
    return ["fit", *files, "--out", str(out), *_TINY, *extra]


@pytest.mark.parametrize(
    "out, message",
    [
        (".", "is the current folder or one above it"),
        ("..", "is the current folder or one above it"),
        ("{root}", "is the current folder or one above it"),
    ],
)
def test_fit_out_naming_the_current_folder_or_above_is_refused(
    out, message, inputs, monkeypatch, capsys, no_work
):
    work = inputs / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(p.name for p in inputs.iterdir())
    argv = _fit_argv(inputs, out.format(root=inputs))
    assert main(argv) == 2
    _one_line_error(capsys, message)
    assert sorted(p.name for p in inputs.iterdir()) == before  # no '....new-*' folder
    assert list(work.iterdir()) == []
    assert main([*argv, "--overwrite"]) == 2  # --overwrite cannot replace them either


def test_fit_out_holding_its_own_input_is_refused_and_the_input_kept(inputs, capsys, no_work):
    """issue 17.1: ``ipaclip fit data/words.txt --out data`` deleted its own input."""
    data = inputs / "data"
    data.mkdir()
    (data / "words.txt").write_text("cat\ndog\n", "utf-8")
    (data / "notes.md").write_text("mine", "utf-8")
    for extra in ([], ["--overwrite"]):
        assert main(["fit", str(data / "words.txt"), "--out", str(data), *extra]) == 2
        _one_line_error(capsys, "holds the input file")
    assert sorted(p.name for p in data.iterdir()) == ["notes.md", "words.txt"]
    assert (data / "words.txt").read_text("utf-8") == "cat\ndog\n"


def test_fit_out_holding_other_files_is_refused_without_overwrite(inputs, capsys, no_work):
    folder = inputs / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"\xff\xd8")
    assert main(_fit_argv(inputs, folder)) == 2
    _one_line_error(capsys, "holds files that are not an ipaclip model.*--overwrite")
    # A folder with an ipaclip-looking config.json and a foreign file is not a model either.
    (folder / "config.json").write_text('{"format": "ipaclip-pronunciation-encoder"}')
    assert main(_fit_argv(inputs, folder)) == 2
    _one_line_error(capsys, "not an ipaclip model")
    assert (folder / "a.jpg").read_bytes() == b"\xff\xd8"
    # An existing file is refused too.
    assert main(_fit_argv(inputs, inputs / "words.txt")) == 2
    _one_line_error(capsys, "exists and is not a folder; pass --overwrite")
    assert (inputs / "words.txt").read_text("utf-8").startswith("cat\n")


def test_fit_replaces_a_model_folder_and_with_overwrite_any_folder(inputs, capsys):
    out = inputs / "m"
    assert main(_fit_argv(inputs, out)) == 0
    first = PronunciationEncoder.load(out).transform(["kˈæt"])
    assert main(_fit_argv(inputs, out, "--random-state", "1")) == 0  # a model: replaced
    assert not np.allclose(PronunciationEncoder.load(out).transform(["kˈæt"]), first)
    assert sorted(p.name for p in inputs.iterdir() if p.name.startswith(".")) == []
    # issue 17.1 end to end: needs PronunciationEncoder.save(overwrite=...) (merged from t17).
    other = inputs / "other"
    other.mkdir()
    (other / "a.txt").write_text("x", "utf-8")
    assert main(_fit_argv(inputs, other, "--overwrite")) == 0
    assert not (other / "a.txt").exists()
    PronunciationEncoder.load(other)


def test_fit_targets_file_must_be_a_numeric_npy_never_unpickled(
    inputs, monkeypatch, capsys, no_work
):
    import pickle

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickled")

    base = ["fit", "--ipa-file", str(inputs / "ipa.txt"), "--out", str(inputs / "m")]
    np.save(inputs / "obj.npy", np.array([{"a": 1}] * 6, dtype=object), allow_pickle=True)
    np.save(inputs / "str.npy", np.array(["cat", "dog", "fish", "bird", "cow", "hen"]))
    np.save(inputs / "one.npy", np.zeros(6, dtype="f4"))
    (inputs / "y.txt").write_text("0 1\n", "utf-8")
    (inputs / "fake.npy").write_bytes(b"\x80\x04K\x01.")  # a pickle named .npy
    (inputs / "cut.npy").write_bytes((inputs / "y.npy").read_bytes()[:20])  # truncated header
    cases = [
        ("obj.npy", "not a readable .npy array of numbers: .*Python objects in dtype"),
        ("str.npy", r"1-d array of dtype <U4; it must be an \(n, d\) array of numbers"),
        ("one.npy", r"1-d array of dtype float32"),
        ("y.txt", "is not a .npy file"),
        ("fake.npy", r"has no .npy header \(a pickle, or another format; never unpickled\)"),
        ("cut.npy", "is not a readable .npy array of numbers"),
    ]
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    for name, message in cases:
        assert main([*base, "--targets-file", str(inputs / name)]) == 2
        _one_line_error(capsys, message)
    assert not (inputs / "m").exists()


def test_fit_texts_must_be_utf8_and_not_blank(inputs, monkeypatch, capsys, no_work):
    (inputs / "latin1.txt").write_bytes("cat\ndog\n\ncaf\xe9\n".encode("latin-1"))
    (inputs / "blank.txt").write_text("\n  \n\t\n", "utf-8")
    out = ["--out", str(inputs / "m")]
    assert main(["fit", str(inputs / "latin1.txt"), *out]) == 2
    _one_line_error(capsys, r"latin1.txt' is not UTF-8 text: line 4 holds the byte b'\\xe9'")
    assert main(["fit", str(inputs / "blank.txt"), *out]) == 2
    _one_line_error(capsys, "TEXTS .*blank.txt' has no text")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"ok\n\xff\n")))
    assert main(["fit", "-", *out]) == 2
    _one_line_error(capsys, "standard input.* is not UTF-8 text: line 2")
    assert not (inputs / "m").exists()


def test_fit_stdin_under_torchrun_is_refused(inputs, monkeypatch, capsys, no_work):
    """issue 17.13: under torchrun, all of standard input reached one rank only."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr("sys.stdin", io.StringIO("cat\ndog\n"))
    assert main(["fit", "-", "--out", str(inputs / "m")]) == 2
    _one_line_error(capsys, "torchrun gives to one process only; write the texts to a file")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--checkpoint-dir", "{file}"], "--checkpoint-dir .* is a file; it must name a folder"),
        (["--target-cache-dir", "{file}"], "--target-cache-dir .* is a file"),
        (["--device", "toaster"], "device must be one of the devices this machine has"),
        (["--device", "meta"], "device must be one of the devices this machine has"),
        (["--context-length", "1000000000"], "context_length must be"),
        (["--augment", "[" * 3000 + "]" * 3000], "--augment holds JSON nested too deeply"),
        (["--loss", "[" * 2000 + "]" * 2000], "--loss holds JSON nested too deeply"),
    ],
)
def test_fit_bad_options_exit_2_before_any_work(extra, message, inputs, capsys, no_work):
    argv = ["fit", str(inputs / "words.txt"), "--out", str(inputs / "m")]
    assert main([*argv, *[a.format(file=inputs / "ipa.txt") for a in extra]]) == 2
    _one_line_error(capsys, message)
    assert not (inputs / "m").exists()


def test_fit_device_cuda_without_a_gpu_exits_2(inputs, monkeypatch, capsys, no_work):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = ["fit", str(inputs / "words.txt"), "--out", str(inputs / "m"), "--device", "cuda"]
    assert main(argv) == 2
    _one_line_error(capsys, r"device must be one of .*\('auto', 'cpu'\); got 'cuda'")


def test_fit_missing_teacher_folder_exits_2_before_g2p(inputs, monkeypatch, capsys):
    def forbidden(*args, **kwargs):
        raise AssertionError("G2P ran before the teacher was checked")

    monkeypatch.setattr(IPATransformer, "fit_transform", forbidden)
    teacher = f"sentence-transformers:{inputs / 'no-such-teacher'}"
    argv = ["fit", str(inputs / "words.txt"), "--out", str(inputs / "m"), "--teacher", teacher]
    assert main(argv) == 2
    _one_line_error(capsys, "--teacher .*no-such-teacher.*no such folder")
    assert not (inputs / "m").exists()


def test_fit_full_disk_at_save_is_one_line_and_leaves_nothing(inputs, monkeypatch, capsys):
    import errno

    import safetensors.torch

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    assert main(_fit_argv(inputs, inputs / "m")) == 2
    _one_line_error(capsys, r"cannot write the model to '.*/m': No space left on device\.")
    assert not (inputs / "m").exists()
    assert [p.name for p in inputs.iterdir() if p.name.startswith(".")] == []


def test_read_only_out_folder_is_refused_before_any_work(
    model_dir, inputs, monkeypatch, capsys, no_work
):
    """A read-only parent of --out (faked: the tests may run as root, who may write anyway)."""
    import os

    locked = inputs / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != locked and real(p, mode))
    assert main(_fit_argv(inputs, locked / "m")) == 2
    _one_line_error(capsys, "cannot write in the folder of --out .*locked.*permission denied")
    assert main(["embed", model_dir, "cat", "--out", str(locked / "e.npy")]) == 2
    _one_line_error(capsys, "cannot write in the folder of --out")
    assert list(locked.iterdir()) == []


def test_embed_and_evaluate_full_disk_is_one_line(model_dir, tmp_path, monkeypatch, capsys):
    import errno

    import ipaclip._io

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", lambda *a, **k: full(None))
    assert main(["embed", model_dir, "cat", "--out", str(tmp_path / "e.npy")]) == 2
    _one_line_error(capsys, r"cannot write the embeddings to .*e.npy': No space left on device")
    monkeypatch.setattr(ipaclip._io.Path, "write_bytes", full)
    argv = ["evaluate", model_dir, "--tasks", "human", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "r.json")]) == 2
    _one_line_error(capsys, r"cannot write the results to .*r.json': No space left on device")
    assert list(tmp_path.iterdir()) == []  # no temporaries left


def test_evaluate_plot_dir_naming_a_file_exits_2_before_loading(
    model_dir, tmp_path, capsys, no_work
):
    (tmp_path / "pics").write_text("x", "utf-8")
    argv = ["evaluate", model_dir, "--tasks", "human", "--plot-dir", str(tmp_path / "pics")]
    assert main(argv) == 2
    _one_line_error(capsys, "--plot-dir .*pics' is a file; it must name a folder")


def test_g2p_and_embed_refuse_a_text_with_a_line_break(model_dir, monkeypatch, capsys):
    """issue 17.13: a text holding a newline broke the one-line-per-text output."""
    assert main(["g2p", "cat", "sea\ndog"]) == 2
    _one_line_error(capsys, r"text 1 \('sea\\ndog'\) holds a line break")
    assert main(["embed", model_dir, "cat", "a\u2028b"]) == 2
    _one_line_error(capsys, r"text 1 .* holds a line break")
    monkeypatch.setattr("sys.stdin", io.StringIO("cat\nsea\rdog\n"))
    assert main(["embed", model_dir, "-"]) == 2
    _one_line_error(capsys, r"text 1 \('sea\\rdog'\) holds a line break")
    monkeypatch.setattr("sys.stdin", io.StringIO("\n \n"))
    assert main(["g2p", "-"]) == 2
    _one_line_error(capsys, "standard input has no text")


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(proc.stdout)


@pytest.mark.parametrize("command", ["embed", "evaluate"])
def test_embed_and_evaluate_finish_a_save_killed_between_its_renames(
    command, model_dir, tmp_path, capsys
):
    """issue 17.4: the CLI said "does not exist" where the loader could finish the save."""
    pid, token = _dead_pid(), "0123abcd"
    shutil.copytree(model_dir, tmp_path / f".model.old-{pid}-{token}")
    shutil.copytree(model_dir, tmp_path / f".model.new-{pid}-{token}")
    folder = tmp_path / "model"
    argv = [str(folder), "cat"] if command == "embed" else [str(folder), "--tasks", "human"]
    assert main([command, *argv, *([] if command == "embed" else ["--quiet"])]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    expected = PronunciationEncoder.load(model_dir)
    np.testing.assert_array_equal(
        PronunciationEncoder.load(folder).transform(["kˈæt"]), expected.transform(["kˈæt"])
    )
    out = capsys.readouterr().out
    assert out.startswith("cat\t") if command == "embed" else "human: Pearson r" in out


@pytest.mark.slow
def test_python_m_ipaclip_exits_2_with_one_line_and_writes_nothing(tmp_path):
    """The real entry point: exit status 2 and one stderr line, for ``--out ..`` (issue 17.12)."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "words.txt").write_text("cat\ndog\n", "utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-m", "ipaclip", "fit", "words.txt", "--out", ".."],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("ipaclip fit: error: --out '..' is the current folder or one")
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]  # no '....new-*' folder
    assert sorted(p.name for p in work.iterdir()) == ["words.txt"]


# ----------------------------------------------------------------------------------------
# Issue 20: the command line
# ----------------------------------------------------------------------------------------
def test_stored_option_table_matches_the_live_parameters():
    """The table ``--help`` reads equals the estimator's and the registry's (issue 20.16)."""
    from ipaclip._cli_options import describe_options, stored_options

    assert stored_options() == describe_options(), (
        "ipaclip/data/cli_options.json is stale: run python -m ipaclip._cli_options"
    )


@pytest.mark.parametrize("argv", [["--help"], ["fit", "--help"], ["evaluate", "--help"]])
def test_help_imports_neither_torch_nor_sklearn(argv):
    """``--help`` answers without the seconds-long imports (issue 20.16)."""
    code = (
        "import sys; from ipaclip.cli import main; code = main(sys.argv[1:]); "
        "heavy = sorted(m for m in ('torch', 'sklearn', 'numpy') if m in sys.modules); "
        "print('HEAVY', heavy); sys.exit(code)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: ipaclip" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY []"


def test_fit_help_has_descriptions_and_boolean_flags(capsys):
    """Each option's help is its numpydoc description; booleans are --flag/--no-flag (20.17)."""
    assert main(["fit", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--causal, --no-causal Causal attention (CLIP's text tower) or bidirectional" in text
    assert "--lr VALUE Peak learning rate of AdamW (default: 0.002)" in text
    assert "--causal VALUE" not in text and "--warm-start VALUE" not in text
    from ipaclip.cli import build_parser

    parser = build_parser()
    base = ["fit", "words.txt", "--out", "m"]
    assert parser.parse_args([*base, "--causal"]).causal is True
    assert parser.parse_args([*base, "--no-causal"]).causal is False
    assert parser.parse_args([*base, "--no-prior-per-row"]).recipe__prior_per_row is False
    assert not hasattr(parser.parse_args(base), "causal")  # unset: the estimator's default


def test_stdin_blank_line_is_refused_with_its_number(monkeypatch, capsys, no_work):
    """A blank line would shift every row after it; refused, naming the line (20.3)."""
    for command in (["g2p", "-"], ["embed", "model", "-"]):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"cat\n \ndog\n")))
        assert main(command) == 2
        _one_line_error(capsys, "standard input: line 2 is blank, but each line is one item")


def test_stdin_final_line_break_is_not_a_blank_line(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"cat\r\ndog\r\n")))
    assert main(["g2p", "-"]) == 0
    assert capsys.readouterr().out.splitlines() == ["kˈæt", "dˈɑːɡ"]


def test_fit_blank_line_is_refused_with_its_number(inputs, capsys, no_work):
    (inputs / "gap.txt").write_text("cat\ndog\n\nfish\n", "utf-8")
    assert main(["fit", str(inputs / "gap.txt"), "--out", str(inputs / "m")]) == 2
    _one_line_error(capsys, r"TEXTS .*gap.txt': line 3 is blank")
    assert not (inputs / "m").exists()


def test_embed_npz_holds_texts_beside_embeddings(model_dir, tmp_path, capsys):
    """``--out NAME.npz``: 'texts' and 'embeddings', row for row; ``.npy``: vectors (20.3)."""
    texts = ["cat", "dog", "fish"]
    assert main(["embed", model_dir, *texts, "--out", str(tmp_path / "sub" / "e.npz")]) == 0
    assert main(["embed", model_dir, *texts, "--out", str(tmp_path / "e.npy")]) == 0
    with np.load(tmp_path / "sub" / "e.npz", allow_pickle=False) as saved:
        assert sorted(saved.files) == ["embeddings", "texts"]
        assert saved["texts"].tolist() == texts
        np.testing.assert_array_equal(saved["embeddings"], np.load(tmp_path / "e.npy"))
    expected = PronunciationEncoder.load(model_dir).transform(IPATransformer().transform(texts))
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), expected, atol=1e-6)
    assert main(["embed", model_dir, "cat", "--out", str(tmp_path / "e.txt")]) == 2
    _one_line_error(capsys, r"must end in .npy \(the embeddings\) or .npz")
    assert not (tmp_path / "e.txt").exists()


def test_fit_refuses_texts_unused_beside_ipa_and_targets(inputs, capsys, no_work):
    """TEXTS with --ipa-file and --targets-file would be ignored: refused by name (20.15)."""
    argv = ["fit", str(inputs / "words.txt"), "--ipa-file", str(inputs / "ipa.txt")]
    argv += ["--targets-file", str(inputs / "y.npy"), "--out", str(inputs / "m")]
    assert main(argv) == 2
    _one_line_error(capsys, r"TEXTS .*words.txt' would be unused: --ipa-file gives the IPA")
    assert not (inputs / "m").exists()


def test_fit_device_error_lists_this_machines_devices(inputs, capsys, no_work):
    from ipaclip.distributed import available_devices

    argv = ["fit", str(inputs / "words.txt"), "--out", str(inputs / "m"), "--device", "cuda:99"]
    assert main(argv) == 2
    err = _one_line_error(capsys, "device must be one of the devices this machine has")
    assert all(repr(name) in err for name in available_devices())
    assert not (inputs / "m").exists()


@pytest.fixture
def offline_clip(monkeypatch):
    """No network and no cached CLIP weights (issue 20.14)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("ipaclip.teachers._clip_loading._cached_tag_weights", lambda *a: None)


def test_offline_clip_teacher_is_one_line_exit_2(inputs, offline_clip, monkeypatch, capsys):
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the usage error")

    monkeypatch.setattr(IPATransformer, "fit_transform", forbidden)
    monkeypatch.setattr(PronunciationEncoder, "fit", forbidden)
    monkeypatch.setattr(PronunciationEncoder, "load", forbidden)
    spec = "open_clip:ViT-B-32@openai"
    argv = ["fit", str(inputs / "words.txt"), "--out", str(inputs / "m"), "--teacher", spec]
    assert main(argv) == 2
    _one_line_error(capsys, r"fit: error: --teacher 'open_clip:ViT-B-32@openai': .*not cached")
    assert main(["evaluate", "model", "--teacher", spec]) == 2  # before the model is loaded
    _one_line_error(capsys, r"evaluate: error: --teacher 'open_clip:ViT-B-32@openai'")
    assert not (inputs / "m").exists()


def test_evaluate_refuses_a_bad_teacher_spec_before_loading(capsys, no_work):
    assert main(["evaluate", "model", "--teacher", "sentence_transformer:x"]) == 2
    _one_line_error(capsys, r"--teacher 'sentence_transformer:x': ")


def test_evaluate_seeds_and_truncation_are_checked_first(capsys, no_work):
    assert main(["evaluate", "model", "--seeds", "0"]) == 2
    _one_line_error(capsys, "--seeds must be a whole number >= 1; got '0'")
    assert main(["evaluate", "model", "--seeds", "2", "--random-state", "1"]) == 2
    _one_line_error(capsys, "drop --random-state, or drop --seeds")
    assert main(["evaluate", "model", "--truncation", "cut"]) == 2
    assert "invalid choice: 'cut'" in capsys.readouterr().err


def test_evaluate_teacher_format_out_folder_and_card(model_dir, tmp_path, capsys):
    """--teacher, --format markdown, --out in a new folder (20.13) and --card (20.10)."""
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    out = tmp_path / "new" / "deeper" / "r.json"
    argv = ["evaluate", str(model), "--tasks", "human", "--teacher", "minilm", "--quiet"]
    assert main([*argv, "--out", str(out), "--format", "markdown", "--card"]) == 0
    printed = capsys.readouterr().out
    results = json.loads(out.read_text("utf-8"))
    assert results["config"]["teacher"] == "sentence-transformers:all-MiniLM-L6-v2"
    from ipaclip.evaluation.suite import format_results

    assert printed.strip() == format_results(results, format="markdown").strip()
    assert printed.lstrip().startswith("|")
    card = (model / "README.md").read_text("utf-8")
    r = results["human"]["pronunciation"]["pearson"]
    assert f"{r:.3f}" in card
    np.testing.assert_array_equal(  # the card leaves the model loadable and unchanged
        PronunciationEncoder.load(model).transform(["kˈæt"]),
        PronunciationEncoder.load(model_dir).transform(["kˈæt"]),
    )


@pytest.mark.slow
def test_evaluate_seeds_prints_mean_and_sd(model_dir, tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["evaluate", model_dir, "--tasks", "fidelity", "--n-words", "20", "--quiet"]
    assert main([*argv, "--seeds", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "±" in printed
    results = json.loads(out.read_text("utf-8"))
    assert results["seeds"]["n_seeds"] == 2
    assert results["config"]["random_state"] == [0, 1]


def test_embed_truncation_and_language_reach_the_encoder(model_dir, monkeypatch, capsys):
    """``--truncation`` sets the loaded encoder's parameter; ``--language`` goes to encode."""
    seen = {}

    def encode(self, texts, **kwargs):
        seen.update(kwargs, texts=list(texts), params=self.get_params(deep=False))
        return np.zeros((len(texts), 2), dtype=np.float32)

    monkeypatch.setattr(PronunciationEncoder, "encode", encode)
    has_truncation = "truncation" in PronunciationEncoder().get_params()
    code = main(["embed", model_dir, "Straße", "--language", "de", "--truncation", "raise"])
    if not has_truncation:  # the parameter is added by another branch (issue 20)
        assert code == 2
        _one_line_error(capsys, "has no truncation parameter")
        code = main(["embed", model_dir, "Straße", "--language", "de"])
    assert code == 0
    assert seen["texts"] == ["Straße"] and seen["language"] == "de"
    if has_truncation:
        assert seen["params"]["truncation"] == "raise"


@pytest.mark.slow
def test_cli_reports_a_corrupt_model_in_one_line(tmp_path, capsys):
    folder = small_encoder().fit(RHYMES_IPA, random_targets(len(RHYMES_IPA))).save(tmp_path / "m")
    (folder / "config.json").write_text('{"format": "ipaclip-pronunciation-encoder"', "utf-8")
    assert main(["embed", str(folder), "cat"]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
