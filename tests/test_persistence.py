"""The saved-model folder: old releases load, hostile or corrupt folders are refused early."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file, save_file

import ipaclip.nn as nn_module
from ipaclip import IPATransformer, PronunciationEncoder
from ipaclip._persistence import _digest

DATA = Path(__file__).resolve().parent / "data"
IPA = ["kˈæt", "dˈɑːɡ", "fˈɪʃ", "bˈɜːd", "tɹˈiː", "nˈa͡ɪt", "ʃˈɪp", "ɡˈoʊt"]


def _fit(**params) -> PronunciationEncoder:
    Y = np.random.default_rng(0).normal(size=(len(IPA), 6)).astype(np.float32)
    base = dict(width=16, layers=1, heads=2, epochs=2, batch_size=4, random_state=0)
    return PronunciationEncoder(**{**base, **params}).fit(IPA, Y)


def _resign(folder: Path, config: dict) -> None:
    """Write ``config`` back with a valid checksum, as a hostile user could."""
    files = [folder / "model.safetensors"]
    if (folder / "lexicon.json").is_file():
        files.append(folder / "lexicon.json")
    config["checksum"]["sha256"] = _digest(config, files)
    (folder / "config.json").write_text(json.dumps(config), "utf-8")


@pytest.fixture()
def saved(tmp_path) -> Path:
    return _fit().save(tmp_path / "m", g2p=IPATransformer())


def test_a_model_saved_by_ipaclip_0_1_0_still_loads():
    folder = DATA / "model_v0.1.0"
    assert json.loads((folder / "config.json").read_text())["format_version"] == 1
    enc = PronunciationEncoder.load(folder)
    ipa = (DATA / "model_v0.1.0_ipa.txt").read_text("utf-8").splitlines()
    np.testing.assert_allclose(
        enc.transform(ipa), np.load(DATA / "model_v0.1.0_expected.npy"), atol=1e-6
    )
    assert enc.g2p_.language == "en-us"


def test_a_format_2_model_saved_before_the_ngram_bag_still_loads():
    folder = DATA / "model_format2_no_ngrams"
    assert "ngram_max" not in json.loads((folder / "config.json").read_text())["encoder_config"]
    enc = PronunciationEncoder.load(folder)
    assert enc.ngrams == 0 and enc.config_.ngram_max == 0
    ipa = (DATA / "model_format2_no_ngrams_ipa.txt").read_text("utf-8").splitlines()
    np.testing.assert_allclose(
        enc.transform(ipa), np.load(DATA / "model_format2_no_ngrams_expected.npy"), atol=1e-6
    )


def test_round_trip_writes_format_2_with_a_checksum_over_everything(saved):
    config = json.loads((saved / "config.json").read_text())
    assert config["format_version"] == 2
    assert config["checksum"]["covers"] == ["config.json", "model.safetensors"]
    loaded = PronunciationEncoder.load(saved)
    np.testing.assert_array_equal(loaded.transform(IPA), _fit().transform(IPA))


def test_checksum_is_mandatory_and_covers_config_and_vocabulary(saved):
    config = json.loads((saved / "config.json").read_text())
    swapped = json.loads(json.dumps(config))
    swapped["vocabulary"][0], swapped["vocabulary"][1] = (
        swapped["vocabulary"][1],
        swapped["vocabulary"][0],
    )
    (saved / "config.json").write_text(json.dumps(swapped))
    with pytest.raises(ValueError, match="does not match the checksum"):
        PronunciationEncoder.load(saved)
    del config["checksum"]
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="'checksum' is missing"):
        PronunciationEncoder.load(saved)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("width", 10**9, "encoder_config.width is 1000000000"),
        ("layers", 10**9, "encoder_config.layers is 1000000000"),
        ("context_length", 10**9, "encoder_config.context_length"),
        ("output_dim", 10**9, "projection"),
        ("vocab_size", 10**9, "vocab_size"),
        ("mlp_ratio", 10**6, "mlp"),
        ("ngram_vocab_size", 10**9, "ngram"),
        ("ngram_class_count", 10**9, "ngram_class_count"),
        ("ngram_max", 99, "ngram_max"),
    ],
)
def test_huge_sizes_are_refused_before_anything_is_allocated(
    saved, monkeypatch, key, value, message
):
    config = json.loads((saved / "config.json").read_text())
    config["encoder_config"][key] = value
    _resign(saved, config)

    def never(*args, **kwargs):
        raise AssertionError("the module was built before the sizes were checked")

    monkeypatch.setattr(nn_module.PronunciationTransformer, "__init__", never)
    with pytest.raises(ValueError, match=message):
        PronunciationEncoder.load(saved)


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda c: c.__setitem__("vocabulary", "abc"), "vocabulary"),
        (lambda c: c["vocabulary"].pop(), "vocabulary"),
        (lambda c: c.__setitem__("teacher", {"id": None, "dim": 7}), "teacher"),
        (lambda c: c["estimator_params"].__setitem__("lr", "fast"), "estimator_params"),
        (lambda c: c["estimator_params"].__setitem__("bogus", 1), "estimator_params"),
        (lambda c: c["phoneme_embedder"]["params"].__setitem__("embedding", 3), "phoneme_embedder"),
        (lambda c: c["g2p"].__setitem__("backend", "telepathy"), "g2p"),
        (lambda c: c.__setitem__("history", 5), "history"),
        (lambda c: c["encoder_config"].__setitem__("pooling", "max"), "encoder_config"),
        (lambda c: c["encoder_config"].__setitem__("surprise", 1), "encoder_config"),
    ],
)
def test_every_corrupt_key_is_a_value_error_naming_it(saved, edit, key):
    config = json.loads((saved / "config.json").read_text())
    edit(config)
    _resign(saved, config)
    with pytest.raises(ValueError, match=key):
        PronunciationEncoder.load(saved)


def test_nan_weights_are_refused_even_with_a_recomputed_checksum(saved):
    tensors = load_file(str(saved / "model.safetensors"))
    tensors["projection"][0, 0] = float("nan")
    save_file(tensors, str(saved / "model.safetensors"))
    _resign(saved, json.loads((saved / "config.json").read_text()))
    with pytest.raises(ValueError, match="'projection' holds NaN"):
        PronunciationEncoder.load(saved)


def test_lexicon_content_is_saved_and_no_path_from_a_config_is_opened(tmp_path, caplog):
    lexicon = tmp_path / "lex.tsv"
    lexicon.write_text("ipaclip\tˈaɪpəklɪp\n", "utf-8")
    folder = _fit().save(tmp_path / "m", g2p=IPATransformer(lexicon=str(lexicon)))
    lexicon.unlink()  # the model must not depend on the file any more
    loaded = PronunciationEncoder.load(folder)
    assert loaded.g2p_.lexicon == {"ipaclip": "ˈaɪpəklɪp"}
    assert loaded.g2p_.transform(["ipaclip"]) == ["ˈaɪpəklɪp"]
    # A config naming a path (as ipaclip 0.1 wrote) is never opened.
    old = tmp_path / "old"
    old.mkdir()
    for p in (DATA / "model_v0.1.0").iterdir():
        (old / p.name).write_bytes(p.read_bytes())
    config = json.loads((old / "config.json").read_text())
    config["g2p"]["lexicon"] = "/etc/passwd"
    (old / "config.json").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING):
        enc = PronunciationEncoder.load(old)
    assert enc.g2p_.lexicon is None
    assert "/etc/passwd" in caplog.text and "not opened" in caplog.text
    assert "root:" not in caplog.text


def test_local_paths_are_neither_saved_nor_restored(tmp_path):
    enc = _fit(checkpoint_dir=str(tmp_path / "ck"), target_cache_dir=str(tmp_path / "tc"))
    folder = enc.save(tmp_path / "m")
    params = json.loads((folder / "config.json").read_text())["estimator_params"]
    assert params["checkpoint_dir"] is None and params["target_cache_dir"] is None
    loaded = PronunciationEncoder.load(folder)
    assert loaded.checkpoint_dir is None and loaded.target_cache_dir is None


def test_saving_over_a_model_keeps_it_loadable_until_the_new_one_is_complete(tmp_path, monkeypatch):
    folder = _fit().save(tmp_path / "m")
    before = PronunciationEncoder.load(folder).transform(IPA)
    import safetensors.torch

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        _fit(random_state=1).save(folder)
    np.testing.assert_array_equal(PronunciationEncoder.load(folder).transform(IPA), before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # nothing left over


def test_unsorted_ngram_codes_are_refused_even_with_a_recomputed_checksum(saved):
    tensors = load_file(str(saved / "model.safetensors"))
    assert len(tensors["ngram_codes"]) > 1  # the default recipe has an n-gram bag
    tensors["ngram_codes"] = tensors["ngram_codes"].flip(0).contiguous()
    save_file(tensors, str(saved / "model.safetensors"))
    _resign(saved, json.loads((saved / "config.json").read_text()))
    with pytest.raises(ValueError, match="'ngram_codes' must hold sorted, distinct"):
        PronunciationEncoder.load(saved)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_saved_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    # safetensors creates its files 0600: a model saved for a group must stay readable to it.
    import os
    import stat

    old = os.umask(umask)
    try:
        folder = _fit().save(tmp_path / "m")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert modes and set(modes.values()) == {mode}, modes


# ----------------------------------------------------------------------------------------
# Saving over an existing folder (issue #17, point 1)
# ----------------------------------------------------------------------------------------


def test_a_hand_edited_model_folder_is_replaced_only_while_it_is_ipaclips(saved):
    config = json.loads((saved / "config.json").read_text())
    config["history"] = []  # any edit, signed again: still an ipaclip model folder
    _resign(saved, config)
    new = _fit(random_state=1)
    new.save(saved, g2p=IPATransformer())
    np.testing.assert_array_equal(
        PronunciationEncoder.load(saved).transform(IPA), new.transform(IPA)
    )
    config = json.loads((saved / "config.json").read_text())
    config["format"] = "someone-elses-format"
    _resign(saved, config)
    with pytest.raises(FileExistsError, match="not a model folder that ipaclip wrote"):
        _fit().save(saved)
    assert json.loads((saved / "config.json").read_text())["format"] == "someone-elses-format"


def test_deciding_whether_to_replace_opens_only_the_config_and_follows_no_link(
    saved, tmp_path, monkeypatch
):
    import builtins

    secret = tmp_path / "secret.json"
    secret.write_text('{"format": "ipaclip-pronunciation-encoder"}')
    (saved / "lexicon.json").symlink_to(secret)  # a model's file name, but a link
    opened = []
    real_open = builtins.open

    def recording_open(file, *args, **kwargs):
        opened.append(Path(file).resolve() if isinstance(file, (str, Path)) else file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    with pytest.raises(FileExistsError, match="lexicon.json"):
        _fit().save(saved)
    monkeypatch.setattr(builtins, "open", real_open)
    inside = [p for p in opened if isinstance(p, Path) and saved in p.parents]
    assert inside == [] or inside == [saved / "config.json"]
    assert secret not in opened
    assert (saved / "lexicon.json").is_symlink()
