"""Hub-style models: save_pretrained / from_pretrained / push_to_hub, with no network."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import ipaclip._hub as hub_module
from ipaclip import IPATransformer, PronunciationEncoder

IPA = ["kˈæt", "dˈɑːɡ", "fˈɪʃ", "bˈɜːd", "tɹˈiː", "nˈa͡ɪt"]


@pytest.fixture(scope="module")
def encoder() -> PronunciationEncoder:
    Y = np.random.default_rng(0).normal(size=(len(IPA), 6)).astype(np.float32)
    return PronunciationEncoder(
        width=16, layers=1, heads=2, epochs=1, batch_size=4, random_state=0
    ).fit(IPA, Y)


def _fake_cache(cache_dir, repo_id: str, folder) -> None:
    """Lay ``folder`` out as huggingface_hub's cache holds a downloaded snapshot."""
    repo = cache_dir / f"models--{repo_id.replace('/', '--')}"
    revision = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    shutil.copytree(folder, repo / "snapshots" / revision)


def test_save_pretrained_round_trip_through_a_local_folder(encoder, tmp_path):
    assert encoder.save_pretrained(tmp_path / "m", g2p=IPATransformer()) is None
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["README.md", "config.json", "model.safetensors"]
    card = (tmp_path / "m" / "README.md").read_text("utf-8")
    assert "library_name: ipaclip" in card and "from_pretrained" in card
    loaded = PronunciationEncoder.from_pretrained(tmp_path / "m")
    np.testing.assert_array_equal(loaded.transform(IPA), encoder.transform(IPA))


def test_from_pretrained_reads_a_cached_hub_repository_offline(encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder.save_pretrained(tmp_path / "m")
    _fake_cache(tmp_path / "cache", "someone/tiny-encoder", tmp_path / "m")
    for name in ("someone/tiny-encoder", "hf-hub:someone/tiny-encoder"):
        loaded = PronunciationEncoder.from_pretrained(name, cache_dir=tmp_path / "cache")
        np.testing.assert_array_equal(loaded.transform(IPA), encoder.transform(IPA))


def test_an_uncached_hub_id_fails_at_once_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    calls = []
    monkeypatch.setattr(hub_module, "network_reachable", lambda *a, **k: calls.append(a))
    for load in (
        lambda: PronunciationEncoder.from_pretrained("nobody/nothing", cache_dir=tmp_path),
        lambda: PronunciationEncoder.load("hf-hub:nobody/nothing"),
    ):
        with pytest.raises(RuntimeError, match="not in the local cache.*HF_HUB_OFFLINE"):
            load()
    assert calls == []  # offline mode is known without probing the network


def test_an_unreachable_hub_is_probed_once_then_the_cache_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_module, "network_reachable", lambda *a, **k: False)
    with pytest.raises(RuntimeError, match="no connection to .* could be opened"):
        PronunciationEncoder.from_pretrained("nobody/nothing", cache_dir=tmp_path)


def test_push_to_hub_uploads_the_saved_folder(encoder, monkeypatch):
    uploaded = {}

    class FakeApi:
        def __init__(self, token=None):
            uploaded["token"] = token

        def create_repo(self, repo_id, **kwargs):
            uploaded["created"] = (repo_id, kwargs)

        def upload_folder(self, *, repo_id, folder_path, commit_message, **kwargs):
            from pathlib import Path

            uploaded["files"] = sorted(p.name for p in Path(folder_path).iterdir())
            uploaded["loads"] = PronunciationEncoder.load(folder_path).transform(IPA)
            uploaded["message"] = commit_message
            return type("Info", (), {"commit_url": f"https://hub/{repo_id}/commit/1"})()

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(hub_module, "unreachable_reason", lambda url: None)
    url = encoder.push_to_hub("me/encoder", token="t0k", private=True)
    assert url == "https://hub/me/encoder/commit/1"
    assert uploaded["files"] == ["README.md", "config.json", "model.safetensors"]
    np.testing.assert_array_equal(uploaded["loads"], encoder.transform(IPA))
    assert uploaded["created"] == (
        "me/encoder",
        {"private": True, "exist_ok": True, "repo_type": "model"},
    )
    monkeypatch.setattr(hub_module, "unreachable_reason", lambda url: "HF_HUB_OFFLINE is set")
    with pytest.raises(RuntimeError, match="Cannot push to 'me/encoder'"):
        encoder.push_to_hub("me/encoder")


def test_from_pretrained_finishes_a_local_save_killed_between_its_renames(encoder, tmp_path):
    # The state a kill between "old aside" and "new into place" leaves, made by hand: the
    # target is missing, its new folder and its old one are beside it.
    encoder.save_pretrained(tmp_path / "staging")
    os.replace(tmp_path / "staging", tmp_path / ".model.new-999999999-abcd1234")
    (tmp_path / ".model.old-999999999-abcd1234").mkdir()
    for source in (tmp_path / "model", str(tmp_path / "model")):
        loaded = PronunciationEncoder.from_pretrained(source)  # no hub call, no HFValidationError
        np.testing.assert_array_equal(loaded.transform(IPA), encoder.transform(IPA))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_from_pretrained_names_a_missing_local_folder(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("a local path went to the hub")

    monkeypatch.setattr(hub_module, "download_model", no_download)
    for missing in (tmp_path / "nothing", "./nothing", "../a/b/c"):
        with pytest.raises(FileNotFoundError, match="does not exist, and it is not a hub"):
            PronunciationEncoder.from_pretrained(missing)


def test_push_to_hub_offline_says_nothing_was_saved(encoder, tmp_path, monkeypatch):
    monkeypatch.setattr(hub_module, "unreachable_reason", lambda url: "HF_HUB_OFFLINE is set")
    saves = []
    monkeypatch.setattr(PronunciationEncoder, "save", lambda *a, **k: saves.append(a))
    with pytest.raises(RuntimeError) as info:
        encoder.push_to_hub("me/encoder")
    message = str(info.value)
    assert "Nothing was saved" in message and "The model is saved" not in message
    assert "`hf upload me/encoder FOLDER`" in message and "huggingface-cli" not in message
    assert saves == []  # refused before any work


def test_save_pretrained_and_push_offline_names_the_folder_it_kept(encoder, tmp_path, monkeypatch):
    monkeypatch.setattr(hub_module, "unreachable_reason", lambda url: "HF_HUB_OFFLINE is set")
    folder = tmp_path / "kept"
    with pytest.raises(RuntimeError) as info:
        encoder.save_pretrained(folder, repo_id="me/encoder", push_to_hub=True)
    assert f"The model is saved in {folder}; upload it later with `hf upload me/encoder " in str(
        info.value
    )
    loaded = PronunciationEncoder.from_pretrained(folder)
    np.testing.assert_array_equal(loaded.transform(IPA), encoder.transform(IPA))


def test_save_pretrained_refuses_a_folder_of_other_files_unless_overwrite(encoder, tmp_path):
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / ".gitattributes").write_text("*.safetensors filter=lfs")
    with pytest.raises(FileExistsError, match=r"\.gitattributes.*overwrite=True"):
        encoder.save_pretrained(folder)
    assert (folder / ".gitattributes").exists()
    encoder.save_pretrained(folder, overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md", "config.json", "model.safetensors",
    ]  # fmt: skip
