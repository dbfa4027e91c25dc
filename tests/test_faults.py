"""Fault injection: SIGKILL at every write of a save and of a training run loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ipaclip import IPATransformer, PronunciationEncoder
from ipaclip._io import recover_folder
from tests.fault_runner import IPA, LEXICON, model

# Every test here runs child processes and kills them, some of them dozens of times.
pytestmark = pytest.mark.slow

RUNNER = Path(__file__).resolve().parent / "fault_runner.py"
REPO = RUNNER.parents[1]


def _run(mode: str, kill_at: int, workdir: Path) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(RUNNER), mode, str(kill_at), str(workdir)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(proc.stderr[-3000:])
    return proc.returncode


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_save_killed_at_any_point_leaves_the_old_or_the_new_model(tmp_path):
    a, b = model(0), model(1)
    out_a, out_b = a.transform(IPA), b.transform(IPA)
    kills = 0
    for kill_at in range(1, 50):
        work = tmp_path / f"k{kill_at}"
        work.mkdir()
        a.save(work / "model", g2p=IPATransformer())
        b.save(work / "b")
        code = _run("save", kill_at, work)
        loaded = PronunciationEncoder.load(work / "model").transform(IPA)
        if code == 0:
            np.testing.assert_array_equal(loaded, out_b)
            assert _leftovers(work) == []
            assert PronunciationEncoder.load(work / "model").g2p_.lexicon == LEXICON
            break
        kills += 1
        # Killed: the folder holds one whole model, A or B, never a mix or nothing.
        assert np.array_equal(loaded, out_a) or np.array_equal(loaded, out_b), kill_at
        # The next save cleans up whatever the killed one left beside the folder.
        b.save(work / "model", g2p=IPATransformer(lexicon=LEXICON))
        assert _leftovers(work) == []
        assert sorted(p.name for p in (work / "model").iterdir()) == [
            "config.json", "lexicon.json", "model.safetensors",
        ]  # fmt: skip
    assert kills >= 4  # the writes of the weights, the two renames and the clean-up


def test_training_killed_anywhere_resumes_to_the_uninterrupted_result(tmp_path):
    # The reference runs in a child too: the same thread settings give the same floats.
    (tmp_path / "ref").mkdir()
    assert _run("train", 0, tmp_path / "ref") == 0
    full = PronunciationEncoder.load(tmp_path / "ref" / "trained")
    uninterrupted = full.module_.state_dict()
    # Events: 2 steps, a checkpoint write and its rename per epoch (3 epochs, then early
    # stopping), then the final save: kills in a checkpoint write, in a step, in the last
    # checkpoint's rename and in the final save.
    for kill_at in (3, 6, 12, 14):
        work = tmp_path / f"k{kill_at}"
        work.mkdir()
        assert _run("train", kill_at, work) == -signal.SIGKILL
        assert _run("train", 0, work) == 0  # resume, undisturbed
        resumed = PronunciationEncoder.load(work / "trained")
        assert resumed.n_epochs_ == full.n_epochs_, kill_at
        for name, value in uninterrupted.items():
            assert torch.equal(resumed.module_.state_dict()[name], value), (kill_at, name)
        assert _leftovers(work / "ckpt") == [], kill_at


@pytest.mark.parametrize("first_save", [True, False])
def test_recovery_between_the_two_renames(tmp_path, first_save):
    # The state a kill between "old aside" and "new into place" leaves, made by hand.
    a, b = model(0), model(1)
    target = tmp_path / "model"
    new = b.save(tmp_path / "staging")
    if not first_save:
        a.save(tmp_path / "old")
        os.replace(tmp_path / "old", tmp_path / ".model.old-999999999-abcd1234")
    os.replace(new, tmp_path / ".model.new-999999999-abcd1234")
    if first_save:
        with pytest.raises(FileNotFoundError):  # nothing was ever complete at the target
            PronunciationEncoder.load(target)
        b.save(target)
        assert _leftovers(tmp_path) == []
    else:
        np.testing.assert_array_equal(
            PronunciationEncoder.load(target).transform(IPA), b.transform(IPA)
        )
        assert _leftovers(tmp_path) == []


@pytest.mark.slow
def test_a_replacement_the_user_asked_for_killed_anywhere_leaves_their_folder_or_the_model(
    tmp_path,
):
    # Without overwrite=True a folder of the user's files is refused before any write; with
    # it, a kill at any write leaves either that folder, whole, or the new model.
    b = model(1)
    out_b = b.transform(IPA)
    mine = {"words.txt": "cat\ndog\n", "notes.md": "keep"}
    kills = 0
    for kill_at in range(1, 30):
        work = tmp_path / f"k{kill_at}"
        (work / "model").mkdir(parents=True)
        for name, text in mine.items():
            (work / "model" / name).write_text(text)
        b.save(work / "b")
        if kill_at == 1:
            with pytest.raises(FileExistsError, match="notes.md, words.txt"):
                b.save(work / "model")
        code = _run("overwrite", kill_at, work)
        recover_folder(work / "model")  # what every load does first
        names = sorted(p.name for p in (work / "model").iterdir())
        if names == sorted(mine):
            assert code != 0, kill_at
            assert {n: (work / "model" / n).read_text() for n in names} == mine
        else:
            assert names == ["config.json", "model.safetensors"], (kill_at, names)
            np.testing.assert_array_equal(
                PronunciationEncoder.load(work / "model").transform(IPA), out_b
            )
        if code == 0:
            assert _leftovers(work) == []
            break
        kills += 1
    assert kills >= 4  # the write of the weights, the two renames and the clean-up
