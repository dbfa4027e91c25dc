"""The ``ipaclip`` command line on a tiny model distilled from the offline MiniLM teacher."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ipaclip import IPATransformer, PronunciationEncoder
from ipaclip.cli import main
from ipaclip.evaluation import SUMMARY_METRICS, evaluate_model, sample_words


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
        (["evaluate", "{model}", "--out", "{missing}/r.json"], "folder of --out"),
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
    assert enc.loss == {"cosine": 1}
    assert {k: enc.augment[k] for k in ("substitute", "unstress")} == {
        "substitute": 0.3,
        "unstress": 0.5,
    }


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
