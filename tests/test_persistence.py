"""The saved-model folder: old releases load, hostile or corrupt folders are refused early."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import ipaclip.nn as nn_module
from ipaclip import Checkpoint, EarlyStopping, IPATransformer, PronunciationEncoder, Recipe
from ipaclip.persistence import _digest

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
    assert enc.recipe.ngrams == 0 and enc.config_.ngram_max == 0
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
    callbacks = [EarlyStopping(2), Checkpoint(tmp_path / "ck")]
    enc = _fit(validation_fraction=0.25, callbacks=callbacks, target_cache_dir=str(tmp_path / "tc"))
    folder = enc.save(tmp_path / "m")
    params = json.loads((folder / "config.json").read_text())["estimator_params"]
    assert params["target_cache_dir"] is None and str(tmp_path / "ck") not in json.dumps(params)
    assert params["callbacks"] == [{"EarlyStopping": {"patience": 2}}]
    loaded = PronunciationEncoder.load(folder)
    assert loaded.target_cache_dir is None
    assert [(type(cb), cb.get_params()) for cb in loaded.callbacks] == [
        (EarlyStopping, {"patience": 2})
    ]


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
# Issue #17: nothing read from a model folder is trusted, no path in it is ever opened
# ----------------------------------------------------------------------------------------
def _record_opens(monkeypatch) -> list[str]:
    """Every path opened or listed from now on (builtins/io/os open, Path.open, listdir)."""
    import builtins
    import io
    import os

    opened: list[str] = []

    def recording(real):
        def wrapper(file, *args, **kwargs):
            if isinstance(file, str | bytes | os.PathLike):
                opened.append(os.fsdecode(os.fspath(file)))
            return real(file, *args, **kwargs)

        return wrapper

    for module, name in [(builtins, "open"), (io, "open"), (os, "open"), (os, "listdir")]:
        monkeypatch.setattr(module, name, recording(getattr(module, name)))
    monkeypatch.setattr(os, "scandir", recording(os.scandir))
    real_path_open = Path.open

    def path_open(self, *args, **kwargs):
        opened.append(str(self))
        return real_path_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", path_open)
    return opened


def _outside(tmp_path: Path) -> Path:
    """A folder beside the model with a file a hostile config might point at."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.tsv").write_text("root:x:0:0\tsecret\n", "utf-8")
    (outside / "modules.json").write_text("[]", "utf-8")
    (outside / "config.json").write_text("{}", "utf-8")
    return outside


@pytest.mark.parametrize(
    "content, message",
    [
        ("PATH", "must hold a JSON object of word -> IPA entries, not a str"),
        ('["PATH"]', "not a list"),
        ('{"cat": ["PATH"]}', "entry 'cat' must map to an IPA string"),
        ('{"cat": 3}', "entry 'cat' must map to an IPA string"),
        ('{"cat": "' + "k" * 1001 + '"}', "entry 'cat' is longer than"),
    ],
)
def test_a_lexicon_json_that_is_not_word_to_ipa_is_refused_and_nothing_outside_is_opened(
    tmp_path, monkeypatch, content, message
):
    import sys

    from ipaclip.inventory import get_inventory

    outside = _outside(tmp_path)
    folder = _fit().save(tmp_path / "m", g2p=IPATransformer(lexicon={"ipaclip": "ˈaɪpəklɪp"}))
    secret = json.dumps(str(outside / "secret.tsv"))
    (folder / "lexicon.json").write_text(content.replace('"PATH"', secret).replace("PATH", secret))
    _resign(folder, json.loads((folder / "config.json").read_text()))
    get_inventory()  # the shared phoneme table, read once per process from the package
    opened = _record_opens(monkeypatch)
    with pytest.raises(ValueError, match="lexicon.json") as info:
        PronunciationEncoder.load(folder)
    assert message in str(info.value)
    assert "root:" not in str(info.value)
    allowed = (str(folder), sys.prefix, sys.base_prefix, str(Path(nn_module.__file__).parent))
    # The model's parent folder is opened as a directory for the shared read lock, no more.
    assert [p for p in opened if not p.startswith(allowed) and p != str(folder.parent)] == []


def test_a_teacher_named_by_a_local_path_is_not_restored_and_its_folder_never_read(
    tmp_path, monkeypatch, caplog, capsys
):
    from ipaclip.cli import main

    outside = _outside(tmp_path)
    folder = _fit().save(tmp_path / "m", g2p=IPATransformer())
    config = json.loads((folder / "config.json").read_text())
    spec = f"sentence-transformers:{outside}"
    config["estimator_params"]["teacher"] = spec
    config["teacher"]["id"] = "sentence-transformers:outside@sha256-0"
    _resign(folder, config)

    opened = _record_opens(monkeypatch)
    with caplog.at_level(logging.WARNING):
        loaded = PronunciationEncoder.load(folder)
    warnings = [r for r in caplog.records if "estimator_params.teacher" in r.getMessage()]
    assert len(warnings) == 1 and "pass teacher=" in warnings[0].getMessage().lower()
    assert loaded.teacher is None and loaded.get_params()["teacher"] is None
    assert loaded.teacher_id_ == "sentence-transformers:outside@sha256-0"
    with pytest.raises(ValueError, match=r"Pass teacher=\.\.\. \(PronunciationEncoder.set_params"):
        loaded.get_teacher()
    # What `ipaclip evaluate` runs: one line, exit 2, asking for the teacher.
    capsys.readouterr()
    assert main(["evaluate", str(folder), "--tasks", "fidelity", "--n-words", "10", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Pass teacher=" in err, err
    assert [p for p in opened if str(outside) in p] == []
    np.testing.assert_array_equal(loaded.transform(IPA), _fit().transform(IPA))


@pytest.mark.parametrize(
    "spec",
    [
        "sentence-transformers:OUTSIDE",
        "sentence-transformers:./models/st",
        "open_clip:ViT-B-32@OUTSIDE/ckpt.pt",
        "open_clip:local-dir:OUTSIDE",
        "OUTSIDE",
    ],
)
def test_every_teacher_spec_naming_a_path_is_dropped_on_load(tmp_path, spec):
    outside = _outside(tmp_path)
    folder = _fit().save(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["estimator_params"]["teacher"] = spec.replace("OUTSIDE", str(outside))
    _resign(folder, config)
    loaded = PronunciationEncoder.load(folder)
    assert loaded.teacher is None
    assert loaded.unrestored_teacher_ == spec.replace("OUTSIDE", str(outside))


def test_a_hub_named_teacher_is_restored(saved):
    config = json.loads((saved / "config.json").read_text())
    config["estimator_params"]["teacher"] = "sentence-transformers:org/model"
    _resign(saved, config)
    assert PronunciationEncoder.load(saved).teacher == "sentence-transformers:org/model"


def _set(path: str, value):
    """An edit of the config that sets the dotted ``path`` ('a.b' or 'a[0]') to ``value``."""

    def edit(config):
        *parents, last = path.replace("[", ".").replace("]", "").split(".")
        node = config
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = (
            value(config) if callable(value) else value
        )

    return edit


@pytest.mark.parametrize(
    "edit, key",
    [
        (_set("encoder_config.vocab_size", 16.0), "encoder_config.vocab_size must be an int"),
        (_set("encoder_config.width", 16.0), "encoder_config.width must be an int"),
        (_set("encoder_config.heads", True), "encoder_config.heads must be an int"),
        (_set("encoder_config.residual", 0), "encoder_config.residual must be true or false"),
        (_set("encoder_config.mlp_ratio", "4"), "encoder_config.mlp_ratio must be a number"),
        (_set("vocabulary[1]", lambda c: c["vocabulary"][0]), r"vocabulary\[1\].*repeats"),
        (_set("vocabulary[0]", "<bos>"), r"vocabulary\[0\].*not a PanPhon segment"),
        (_set("vocabulary[0]", "xyz"), r"vocabulary\[0\].*not a PanPhon segment"),
        (_set("estimator_params.width", 64), "estimator_params.width is 64 but encoder_config"),
        (_set("estimator_params.layers", 1.0), "estimator_params.layers is 1.0"),
        (_set("estimator_params.pooling", "eos"), "estimator_params.pooling"),
        (_set("estimator_params.recipe.ngrams", 3), "estimator_params.recipe.ngrams is 3"),
        (
            _set("estimator_params.recipe.ngram_classes", False),
            "estimator_params.recipe.ngram_classes is False",
        ),
        (
            _set("estimator_params.recipe.ngram_boundaries", "across"),
            "estimator_params.recipe.ngram_boundaries is 'across' but encoder_config",
        ),
        (
            _set("encoder_config.ngram_boundaries", "spaces"),
            "encoder_config.*ngram_boundaries='spaces'",
        ),
        (_set("estimator_params.ngrams", 4), "estimator_params.ngrams belongs in .*recipe"),
        (_set("estimator_params.recipe", [4]), "estimator_params.recipe must be an object"),
        (
            _set("estimator_params.recipe.triplet_margin", -1),
            "estimator_params.recipe holds a bad value: triplet",
        ),
        (_set("estimator_params.recipe.bogus", 1), "estimator_params.recipe holds an unknown"),
        (_set("estimator_params.callbacks", ["x"]), "estimator_params.callbacks must be null"),
        (
            _set("estimator_params.callbacks", [{"EarlyStopping": {"patience": 0}}]),
            "estimator_params.callbacks holds a bad value",
        ),
        (_set("estimator_params.embedding", "onehot"), "estimator_params.embedding"),
        (_set("phoneme_embedder.vocabulary", ["€"]), r"phoneme_embedder.vocabulary is invalid"),
        (_set("history[0]", "fast"), r"history\[0\] must be an object of numbers"),
        (_set("history[1]", {"loss": "low"}), r"history\[1\] must be an object of numbers"),
        (_set("history[0].loss", True), r"history\[0\] must be an object of numbers"),
    ],
)
def test_hand_edited_configs_that_would_misbehave_are_refused_by_key(saved, edit, key):
    config = json.loads((saved / "config.json").read_text())
    edit(config)
    _resign(saved, config)
    with pytest.raises(ValueError, match=f"config.json: {key}"):
        PronunciationEncoder.load(saved)


def test_a_model_saved_before_issue_19_keeps_the_n_grams_it_was_trained_with(saved):
    config = json.loads((saved / "config.json").read_text())
    assert config["encoder_config"]["ngram_boundaries"] == "word"  # the default now
    for key in ("ngram_boundaries", "phonetic_scope"):
        del config["estimator_params"]["recipe"][key]
    del config["encoder_config"]["ngram_boundaries"]
    _resign(saved, config)
    loaded = PronunciationEncoder.load(saved)
    assert loaded.module_.config.ngram_boundaries == "drop"
    assert loaded.recipe.ngram_boundaries == "drop" and loaded.recipe.phonetic_scope == "item"


@pytest.mark.parametrize(
    "old, new, key",
    [
        ('"mlp_ratio": 4.0', '"mlp_ratio": Infinity', "encoder_config.mlp_ratio holds Infinity"),
        ('"mlp_ratio": 4.0', '"mlp_ratio": 1e400', "encoder_config.mlp_ratio holds 1e400"),
        ('"lr": ', '"lr": NaN, "x": ', "estimator_params.lr holds NaN"),
        ('"width": 16', '"width": ' + "1" * 5000, "encoder_config.width holds an integer of 5,000"),
        ('"history": [', '"history": [' + "[" * 100_000 + "]" * 100_000 + ", ", "history nests"),
        ('"history": [', '"history": [' + "[" * 40 + "]" * 40 + ", ", r"history\[0\]"),
    ],
)
def test_json_that_python_cannot_hold_is_a_value_error_naming_the_key(saved, old, new, key):
    text = (saved / "config.json").read_text()
    assert old in text
    (saved / "config.json").write_text(text.replace(old, new, 1))
    with pytest.raises(ValueError, match=f"config.json: {key}"):
        PronunciationEncoder.load(saved)


def test_a_saved_device_is_not_restored(saved):
    for device in ("toaster", "meta", "cuda:7"):
        config = json.loads((saved / "config.json").read_text())
        config["estimator_params"]["device"] = device
        _resign(saved, config)
        loaded = PronunciationEncoder.load(saved)
        assert loaded.device == "auto" and loaded.get_params()["device"] == "auto"
    np.testing.assert_array_equal(loaded.transform(IPA), _fit().transform(IPA))


def test_a_model_saved_after_set_params_records_the_architecture_it_holds(tmp_path):
    enc = _fit(recipe=Recipe()).set_params(width=64, recipe__ngrams=3, pooling="eos")
    loaded = PronunciationEncoder.load(enc.save(tmp_path / "m"))
    params = loaded.get_params()
    assert (params["width"], params["recipe__ngrams"], params["pooling"]) == (16, 4, "mean")
    assert loaded.config_.width == 16
    np.testing.assert_array_equal(loaded.transform(IPA), enc.transform(IPA))


def _edit_tensors(folder: Path, edit) -> None:
    tensors = load_file(str(folder / "model.safetensors"))
    edit(tensors)
    save_file(tensors, str(folder / "model.safetensors"))
    _resign(folder, json.loads((folder / "config.json").read_text()))


def _bad_ngram_code(tensors, config) -> None:
    # A window one digit longer than its order says: sorted in, but no n-gram of the vocabulary.
    enc = config["encoder_config"]
    tag, base = 2 * (enc["ngram_max"] + 1), enc["vocab_size"] + 2
    bad = base ** enc["ngram_max"] * tag + 2 * enc["ngram_max"]
    codes = tensors["ngram_codes"]
    tensors["ngram_codes"] = torch.unique(torch.cat([codes[1:], torch.tensor([bad])]))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t, c: t["projection"].__setitem__((0, 0), 3e38), "'projection' holds a weight"),
        (lambda t, c: t["ln_final.weight"].__setitem__(0, -2e6), "'ln_final.weight' holds a wei"),
        (_bad_ngram_code, "'ngram_codes' holds 1 codes that are no n-gram"),
        (
            lambda t, c: t["class_codes"].__setitem__(-1, 3**11),
            "'class_codes' holds 177147, not a sound class",
        ),
    ],
)
def test_weights_and_codes_that_would_overflow_or_never_match_are_refused(saved, edit, message):
    config = json.loads((saved / "config.json").read_text())
    _edit_tensors(saved, lambda tensors: edit(tensors, config))
    with pytest.raises(ValueError, match=message):
        PronunciationEncoder.load(saved)


@pytest.mark.parametrize(
    "name, message",
    [
        ("lexicon.json", "lexicon.json is 4,294,967,296 bytes, more than"),
        ("config.json", "config.json is 4,294,967,296 bytes, more than"),
        ("model.safetensors", "model.safetensors cannot be read as safetensors.*not fully covered"),
    ],
)
def test_a_4_gib_file_is_refused_from_its_size_before_it_is_hashed(
    tmp_path, monkeypatch, name, message
):
    import time

    import ipaclip.persistence as persistence

    folder = _fit().save(tmp_path / "m", g2p=IPATransformer(lexicon={"ipaclip": "ˈaɪpəklɪp"}))
    with open(folder / name, "r+b") as f:
        f.truncate(4 << 30)  # sparse: no disk used

    def never(*args, **kwargs):
        raise AssertionError("the folder was hashed before the file sizes were checked")

    monkeypatch.setattr(persistence, "_digest", never)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        PronunciationEncoder.load(folder)
    assert time.perf_counter() - start < 1.0


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


# -- the model format of issue #18: the recipe and callbacks ---------------------------------
def test_a_model_saved_with_flat_recipe_parameters_loads_into_a_recipe_and_callbacks():
    folder = DATA / "model_format2_flat_recipe"  # saved before #18, flat parameters
    raw = json.loads((folder / "config.json").read_text())["estimator_params"]
    assert "recipe" not in raw and raw["early_stopping"] == 2 and raw["ngrams"] == 3
    enc = PronunciationEncoder.load(folder)
    assert enc.recipe.ngrams == enc.config_.ngram_max == 3
    assert (enc.recipe.loss, enc.recipe.triplet_margin) == ("cosine+contrastive+2*triplet", 0.05)
    assert enc.recipe.augment["substitute"] == 0.2
    assert [(type(cb), cb.patience) for cb in enc.callbacks] == [(EarlyStopping, 2)]
    ipa = (DATA / "model_format2_flat_recipe_ipa.txt").read_text("utf-8").splitlines()
    np.testing.assert_allclose(
        enc.transform(ipa), np.load(DATA / "model_format2_flat_recipe_expected.npy"), atol=1e-6
    )


@pytest.mark.parametrize(
    "name", ["model_v0.1.0", "model_format2_no_ngrams", "model_format2_flat_recipe"]
)
def test_an_old_model_saved_again_writes_the_recipe_and_gives_the_same_outputs(tmp_path, name):
    old = PronunciationEncoder.load(DATA / name)
    folder = old.save(tmp_path / "m")
    params = json.loads((folder / "config.json").read_text())["estimator_params"]
    assert params["recipe"] == old.recipe.to_dict()
    assert not {"ngrams", "loss", "early_stopping", "checkpoint_dir", "normalize"} & set(params)
    again = PronunciationEncoder.load(folder)
    ipa = (DATA / f"{name}_ipa.txt").read_text("utf-8").splitlines()
    np.testing.assert_array_equal(again.transform(ipa), old.transform(ipa))  # bit for bit
    assert again.get_params(deep=True) == {
        **old.get_params(deep=True), "recipe": again.recipe, "callbacks": again.callbacks
    }  # fmt: skip
    assert repr(again.recipe) == repr(old.recipe)


def test_loading_sets_the_fitted_attributes_through_set_fitted(monkeypatch):
    seen = []
    real = PronunciationEncoder._set_fitted

    def spy(self, *args):
        seen.append(args)
        return real(self, *args)

    monkeypatch.setattr(PronunciationEncoder, "_set_fitted", spy)
    enc = PronunciationEncoder.load(DATA / "model_format2_flat_recipe")
    assert len(seen) == 1 and enc.n_epochs_ == len(enc.history_) == 3
