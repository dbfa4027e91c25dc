"""The examples' outputs: where they write, and what they never touch."""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import pytest

from ipaclip import IPATransformer, PronunciationEncoder

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["cat", "hat", "dog", "fog", "fish", "dish", "night", "light", "rain", "train"]


def _example(name: str):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(ROOT / "examples"))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    g2p = IPATransformer()
    enc = PronunciationEncoder(
        teacher="minilm", width=16, layers=1, heads=2, epochs=1, random_state=0
    ).fit(g2p.fit_transform(WORDS), WORDS)
    return Path(enc.save(tmp_path_factory.mktemp("m") / "model", g2p=g2p))


@pytest.mark.slow
def test_fuse_sweep_writes_to_out_or_a_printed_temporary_folder_never_the_model(
    model_dir, tmp_path, capsys, monkeypatch
):
    # #20.18: by default the sweep wrote fuse_sweep.png into the model folder.
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # its temporary folder, here
    fuse_sweep = _example("fuse_sweep")
    before = _snapshot(model_dir)
    assert fuse_sweep.main([str(model_dir), "--weights", "0", "1"]) == 0
    printed = capsys.readouterr().out
    match = re.search(r"wrote (\S+fuse_sweep\.png) \(a temporary folder", printed)
    assert match and Path(match[1]).is_file() and Path(match[1]).parent.parent == tmp_path
    assert _snapshot(model_dir) == before  # only read

    out = tmp_path / "pictures"
    assert fuse_sweep.main([str(model_dir), "--weights", "0", "1", "--out", str(out)]) == 0
    assert (out / "fuse_sweep.png").is_file()
    # A picture already there is the user's: replaced only with --overwrite.
    (out / "fuse_sweep.png").write_bytes(b"mine")
    with pytest.raises(SystemExit) as exit_:
        fuse_sweep.main([str(model_dir), "--weights", "0", "--out", str(out)])
    assert exit_.value.code == 2 and "pass --overwrite" in capsys.readouterr().err
    assert (out / "fuse_sweep.png").read_bytes() == b"mine"
    args = [str(model_dir), "--weights", "0", "1", "--out", str(out), "--overwrite"]
    assert fuse_sweep.main(args) == 0
    assert (out / "fuse_sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert _snapshot(model_dir) == before
