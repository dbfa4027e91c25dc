"""Atomic folders: a save replaces only what may be replaced, matches its temporaries
literally and serialises concurrent writers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ipaclip._io as io_module
from ipaclip import PronunciationEncoder
from ipaclip._io import atomic_folder, check_replaceable, recover_folder
from ipaclip.persistence import check_save_target
from tests.fault_runner import IPA, model

REPO = Path(__file__).resolve().parents[1]
DEAD = "999999999-abcd1234"  # the pid and token of a process that no longer runs


@pytest.fixture(scope="module")
def encoders() -> tuple[PronunciationEncoder, PronunciationEncoder]:
    return model(0), model(1)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _dotted(folder: Path) -> list[str]:
    return [name for name in _names(folder) if name.startswith(".")]


def _pending_pair(encoder: PronunciationEncoder, target: Path) -> None:
    """The state a save killed between "old aside" and "new into place" leaves at ``target``."""
    staging = encoder.save(target.with_name("staging"))
    os.replace(staging, target.with_name(f".{target.name}.new-{DEAD}"))
    (target.with_name(f".{target.name}.old-{DEAD}")).mkdir()


# --------------------------------------------------------------------------------------
# Point 1: what a save may replace
# --------------------------------------------------------------------------------------


def test_a_file_a_link_or_a_folder_of_other_files_is_refused_and_left_as_it_was(encoders, tmp_path):
    a, _ = encoders
    file = tmp_path / "words.txt"
    file.write_text("cat\ndog\n")
    user = tmp_path / "data"
    user.mkdir()
    for name in ("a.csv", "b.csv", "c.csv", "d.csv", "notes.txt"):
        (user / name).write_text(name)
    mixed = a.save(tmp_path / "mixed")  # a model folder with a user's file added
    (mixed / "notes.txt").write_text("mine")
    link = tmp_path / "link"
    link.symlink_to(user)
    cases = [
        (file, "it is a file"),
        (user, r"it holds a\.csv, b\.csv, c\.csv and 2 more"),
        (mixed, r"it holds config\.json, model\.safetensors, notes\.txt"),
        (link, "it is a symbolic link"),
    ]
    before = _names(user)
    for target, lost in cases:
        with pytest.raises(FileExistsError, match=lost) as info:
            a.save(target)
        message = str(info.value)
        assert str(target) in message
        assert "overwrite=True (ipaclip fit --overwrite)" in message
        assert "choose another folder" in message
    assert file.read_text() == "cat\ndog\n"
    assert _names(user) == before
    assert (mixed / "notes.txt").read_text() == "mine"
    assert link.is_symlink() and link.resolve() == user
    assert _dotted(tmp_path) == []  # the refusal came before any temporary


def test_overwrite_replaces_a_file_a_folder_or_a_link_as_a_whole(encoders, tmp_path):
    _, b = encoders
    expected = b.transform(IPA)
    file, user, link = tmp_path / "file", tmp_path / "user", tmp_path / "link"
    file.write_text("x")
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    pointed = tmp_path / "pointed"
    pointed.mkdir()
    (pointed / "keep.txt").write_text("keep")
    link.symlink_to(pointed)
    for target in (file, user, link):
        b.save(target, overwrite=True)
        assert _names(target) == ["config.json", "model.safetensors"]
        np.testing.assert_array_equal(PronunciationEncoder.load(target).transform(IPA), expected)
    assert not link.is_symlink()  # the link was replaced, never the folder it pointed to
    assert _names(pointed) == ["keep.txt"]
    assert _dotted(tmp_path) == []


def test_a_missing_path_an_empty_folder_and_a_model_folder_are_replaced_unasked(encoders, tmp_path):
    a, b = encoders
    (tmp_path / "empty").mkdir()
    b.save(tmp_path / "empty")
    a.save_pretrained(tmp_path / "model")  # model files and the card
    b.save(tmp_path / "model")
    b.save(tmp_path / "new" / "deeper")
    for target in ("empty", "model", "new/deeper"):
        np.testing.assert_array_equal(
            PronunciationEncoder.load(tmp_path / target).transform(IPA), b.transform(IPA)
        )
    check_save_target(tmp_path / "model")  # what the command line checks before training


def test_a_folder_whose_config_is_not_ipaclips_is_not_a_model(encoders, tmp_path):
    a, _ = encoders
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "config.json").write_text('{"format": "someone-else", "model_type": "bert"}')
    (folder / "model.safetensors").write_bytes(b"theirs")
    with pytest.raises(FileExistsError, match="config.json, model.safetensors"):
        a.save(folder)
    (folder / "config.json").write_text("[" * 100_000)  # deep JSON is not a model either
    with pytest.raises(FileExistsError):
        a.save(folder)
    assert (folder / "model.safetensors").read_bytes() == b"theirs"


def test_the_working_directory_its_ancestors_root_and_home_are_never_replaced(
    encoders, tmp_path, monkeypatch
):
    a, _ = encoders
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    (work / "words.txt").write_text("cat")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("mine")
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    cases = {
        ".": "current working directory",
        "..": "ancestor of the current working directory",
        "../..": "ancestor",
        str(home): "home folder",
        "/": "root of the file system",
    }
    for target, reason in cases.items():
        with pytest.raises(FileExistsError, match=reason):
            check_save_target(target, overwrite=True)
        if target != "/":
            with pytest.raises(FileExistsError, match="even with overwrite=True"):
                a.save(target, overwrite=True)
    assert (work / "words.txt").read_text() == "cat"
    assert (home / ".bashrc").read_text() == "mine"
    # "." and ".." are resolved before anything is named: no "..new-*" or "....new-*".
    for folder in (work, work.parent, tmp_path):
        assert [n for n in _dotted(folder) if ".new-" in n or ".old-" in n] == []


def test_the_target_is_checked_again_before_the_renames(tmp_path):
    # A user's file that appears while the new folder is being written is not deleted.
    target = tmp_path / "out"
    with pytest.raises(FileExistsError, match="it holds notes.txt"):
        with atomic_folder(target) as tmp:
            (tmp / "x").write_text("new")
            target.mkdir()
            (target / "notes.txt").write_text("mine")
    assert _names(target) == ["notes.txt"]
    assert _dotted(tmp_path) == []


# --------------------------------------------------------------------------------------
# Point 2: temporaries are matched literally
# --------------------------------------------------------------------------------------


def test_glob_characters_in_a_name_never_take_another_models_temporaries(encoders, tmp_path):
    a, b = encoders
    _pending_pair(b, tmp_path / "run1")
    with pytest.raises(FileNotFoundError):
        PronunciationEncoder.load(tmp_path / "run[1]")  # a glob would match run1's pair
    assert not (tmp_path / "run[1]").exists()
    _pending_pair(b, tmp_path / "run2")
    a.save(tmp_path / "*")  # a glob would clean everyone's dead temporaries
    a.save(tmp_path / "?un2")
    assert f".run1.new-{DEAD}" in _dotted(tmp_path)
    assert f".run2.old-{DEAD}" in _dotted(tmp_path)
    # Each pair is still there for its own model's next load.
    for name in ("run1", "run2"):
        np.testing.assert_array_equal(
            PronunciationEncoder.load(tmp_path / name).transform(IPA), b.transform(IPA)
        )
    assert _dotted(tmp_path) == []


def test_names_that_only_start_like_a_temporary_are_not_taken(tmp_path):
    # ".a.old-5" is the prefix of model "a"'s temporaries but belongs to model "a.old-5".
    (tmp_path / ".a.old-5.new-999999999-abcd1234").mkdir()
    (tmp_path / ".a.old-abc").mkdir()
    assert io_module._siblings(tmp_path / "a", "old") == []
    assert io_module._siblings(tmp_path / "a.old-5", "new") == [
        tmp_path / ".a.old-5.new-999999999-abcd1234"
    ]


# --------------------------------------------------------------------------------------
# Point 3: concurrent saves
# --------------------------------------------------------------------------------------

_SAVER = """
import sys
import numpy as np
from ipaclip import PronunciationEncoder
from tests.fault_runner import IPA
source, target, times = sys.argv[1], sys.argv[2], int(sys.argv[3])
if source == "load":  # a reader: every load sees one whole model
    outputs = [PronunciationEncoder.load(path).transform(IPA) for path in sys.argv[4:]]
    for _ in range(times):
        got = PronunciationEncoder.load(target).transform(IPA)
        assert any(np.array_equal(got, out) for out in outputs)
else:
    encoder = PronunciationEncoder.load(source)
    for _ in range(times):
        encoder.save(target)
"""


@pytest.mark.slow
def test_concurrent_saves_to_one_path_never_fail_and_leave_nothing_behind(encoders, tmp_path):
    a, b = encoders
    sources = [a.save(tmp_path / "src" / "a"), b.save(tmp_path / "src" / "b")]
    target = tmp_path / "out" / "model"
    a.save(target)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    commands = [[str(src), str(target), "30"] for src in sources * 2]
    commands.append(["load", str(target), "60", *map(str, sources)])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SAVER, *command], env=env, stderr=subprocess.PIPE, text=True
        )
        for command in commands
    ]
    errors = [proc.communicate(timeout=600)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 5, "\n".join(errors)[-3000:]
    assert _names(target.parent) == ["model"]  # no temporaries, no lock file
    loaded = PronunciationEncoder.load(target).transform(IPA)
    assert np.array_equal(loaded, a.transform(IPA)) or np.array_equal(loaded, b.transform(IPA))


def test_a_folder_being_read_is_not_replaced_until_the_reader_is_done(encoders, tmp_path):
    import threading

    a, b = encoders
    target = a.save(tmp_path / "model")
    before = (target / "model.safetensors").read_bytes()
    with io_module.reading(target):
        writer = threading.Thread(target=b.save, args=(target,))
        writer.start()
        writer.join(0.5)
        assert writer.is_alive()  # its new folder is written, its renames wait
        assert (target / "model.safetensors").read_bytes() == before
    writer.join(30)
    np.testing.assert_array_equal(
        PronunciationEncoder.load(target).transform(IPA), b.transform(IPA)
    )
    assert _dotted(tmp_path) == []


def test_a_pending_pair_is_not_taken_while_its_writer_holds_the_lock(encoders, tmp_path):
    # A reader that finds the target missing waits for the writer's lock, and a pair whose
    # writer is still between its renames is never finished by anyone else.
    import threading

    _, b = encoders
    target = tmp_path / "model"
    _pending_pair(b, target)
    taken = threading.Event()
    with io_module._locked(tmp_path):
        reader = threading.Thread(target=lambda: (recover_folder(target), taken.set()))
        reader.start()
        assert not taken.wait(0.5)
        assert not target.exists()
    reader.join(10)
    assert taken.is_set() and target.is_dir()


def test_lock_without_fcntl_uses_a_lock_file_it_removes(tmp_path, monkeypatch):
    monkeypatch.setattr(io_module, "fcntl", None)
    with atomic_folder(tmp_path / "m") as tmp:
        (tmp / "x").write_text("1")
        assert (tmp_path / io_module._LOCK_NAME).exists() is False  # held only to rename
    stale = tmp_path / io_module._LOCK_NAME
    stale.write_text("")
    os.utime(stale, (0, 0))  # left by a killed process long ago
    with atomic_folder(tmp_path / "m", overwrite=True) as tmp:
        (tmp / "x").write_text("2")
    assert _names(tmp_path) == ["m"]
    assert (tmp_path / "m" / "x").read_text() == "2"


def test_check_replaceable_accepts_what_the_caller_owns(tmp_path):
    folder = tmp_path / "ours"
    folder.mkdir()
    (folder / "mine.bin").write_text("x")
    with pytest.raises(FileExistsError, match="mine.bin"):
        check_replaceable(folder)
    check_replaceable(folder, is_ours=lambda p: (p / "mine.bin").exists())


def test_a_leftover_old_folder_without_its_new_one_is_no_pending_save(tmp_path):
    # A save killed while deleting the old folder leaves ".name.old-*" alone; if the model is
    # then deleted, a load says it is missing (at once, no wait) and takes nothing.
    import threading

    (tmp_path / f".model.old-{DEAD}").mkdir()
    errors = []

    def load():
        try:
            PronunciationEncoder.load(tmp_path / "model")
        except FileNotFoundError as exc:
            errors.append(exc)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive() and len(errors) == 1
    assert not (tmp_path / "model").exists()
