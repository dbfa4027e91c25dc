"""The training engine (:mod:`ipaclip.training`): what makes a checkpoint one run's."""

from __future__ import annotations

import dataclasses
import functools
import logging

import numpy as np
import pytest
import torch
from sklearn.base import clone

import ipaclip.objective as objective_module
from ipaclip import (
    Callback,
    Checkpoint,
    EarlyStopping,
    PhonemeEmbedder,
    PronunciationEncoder,
    Recipe,
)
from ipaclip.nn import EncoderConfig, PronunciationTransformer
from ipaclip.training import CHECKPOINT_NAME, run_fingerprint
from tests.fixtures import (
    ANIMALS_IPA,
    RECIPE_OPT_INS,
    RHYMES_IPA,
    fit_interrupted_then_resumed,
    random_targets,
    small_encoder,
    state_copy,
)

# Voiceless stops in every word: the second set reads p as b and t as d, which gives the same
# row ids, offsets and symbol order, with other feature rows and another vocabulary.
VOICELESS = [
    "pˈat", "tˈap", "pˈɪt", "tˈɪp", "kˈat", "mˈap", "pˈam", "tˈɪk", "sˈɪp", "nˈat", "pˈɪn",
    "tˈan",
]  # fmt: skip
VOICED = [w.replace("p", "b").replace("t", "d") for w in VOICELESS]


def _y(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(len(VOICELESS), 8)).astype(np.float32)


def small(**params) -> PronunciationEncoder:
    # No n-gram bag: its codes (in the starting weights) would tell the two sets apart anyway.
    base = dict(width=32, layers=1, heads=2, epochs=2, batch_size=4, random_state=0)
    base["recipe"] = Recipe(ngrams=0)
    return PronunciationEncoder(**{**base, **params})


def _fingerprint(seqs, vocabulary=("a",), **changes) -> str:
    config = EncoderConfig(vocab_size=1, width=8, layers=1, heads=2, output_dim=4)
    torch.manual_seed(0)
    module = PronunciationTransformer(config)
    args = dict(params={"lr": 0.1}, seed=0, targets=np.ones((len(seqs), 4), np.float32))
    args.update(changes)
    return run_fingerprint(
        config, args["params"], args["seed"], seqs, args["targets"], module, 0, vocabulary
    )


def test_the_fingerprint_covers_the_feature_table_vocabulary_and_layout():
    voiceless = PhonemeEmbedder().fit(VOICELESS).transform(VOICELESS)
    voiced = PhonemeEmbedder().fit(VOICED).transform(VOICED)
    assert np.array_equal(voiceless.ids, voiced.ids)  # the case the issue found
    assert np.array_equal(voiceless.offsets, voiced.offsets)
    base = _fingerprint(voiceless)
    assert _fingerprint(voiceless) == base  # deterministic
    table = voiceless.table.copy()
    table[3, 0] += 1.0  # one feature value of one row
    same_symbols_other_values = dataclasses.replace(voiceless, table=table)
    stress = PhonemeEmbedder(stress=False).fit(VOICELESS).transform(VOICELESS)
    variants = {
        "other features (p read as b)": _fingerprint(voiced),
        "one feature value": _fingerprint(same_symbols_other_values),
        "symbols": _fingerprint(dataclasses.replace(voiceless, symbols=voiced.symbols)),
        "vocabulary": _fingerprint(voiceless, vocabulary=("b",)),
        "layout": _fingerprint(stress) if stress.layout != voiceless.layout else None,
        "targets": _fingerprint(voiceless, targets=np.full((12, 4), 2, np.float32)),
        "seed": _fingerprint(voiceless, seed=1),
        "params": _fingerprint(voiceless, params={"lr": 0.2}),
    }
    assert variants["layout"] is not None
    for what, fingerprint in variants.items():
        assert fingerprint != base, what
    assert len(set(variants.values())) == len(variants)


@pytest.mark.slow
def test_same_row_ids_with_other_features_train_afresh_not_resume(tmp_path, caplog):
    first = small(callbacks=[Checkpoint(tmp_path)]).fit(VOICELESS, _y())
    assert (tmp_path / CHECKPOINT_NAME).is_file()
    fresh = small().fit(VOICED, _y())  # no checkpoint: what the second run must give
    with caplog.at_level(logging.INFO, logger="ipaclip.training"):
        second = small(callbacks=[Checkpoint(tmp_path)]).fit(VOICED, _y())
    assert "Resuming" not in caplog.text
    assert "belongs to another model, data or settings" in caplog.text
    assert second.vocabulary_ == fresh.vocabulary_ != first.vocabulary_
    assert [h["loss"] for h in second.history_] == [h["loss"] for h in fresh.history_]
    assert [h["loss"] for h in second.history_] != [h["loss"] for h in first.history_]
    for name, value in fresh.module_.state_dict().items():
        assert torch.equal(second.module_.state_dict()[name], value), name
    assert any(
        not torch.equal(first.module_.state_dict()[k], v)
        for k, v in second.module_.state_dict().items()
    )
    # The same data again does resume: the finished run's checkpoint is now the voiced one.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ipaclip.training"):
        again = small(callbacks=[Checkpoint(tmp_path)]).fit(VOICED, _y())
    assert "Resuming" in caplog.text
    assert [h["loss"] for h in again.history_] == [h["loss"] for h in fresh.history_]


# -- callbacks -------------------------------------------------------------------------------
class Epochs(Callback):
    """Records the epochs it sees; ``stop_after`` stops training after that epoch."""

    def __init__(self, stop_after=None):
        self.stop_after = stop_after

    def on_epoch_end(self, trainer, record):
        self.seen_ = [*getattr(self, "seen_", []), record["epoch"]]
        if self.stop_after is not None and record["epoch"] >= self.stop_after:
            trainer.stop = True


def test_a_users_callback_runs_on_a_clone_and_can_stop_training():
    mine = Epochs()
    enc = small(epochs=3, callbacks=[mine]).fit(VOICELESS, _y())
    assert enc.callbacks_[0].seen_ == [1, 2, 3] and enc.callbacks_[0] is not mine
    assert not hasattr(mine, "seen_") and enc.callbacks == [mine]  # the user's object as it was
    stopped = small(epochs=5, callbacks=[Epochs(stop_after=2)]).fit(VOICELESS, _y())
    assert stopped.n_epochs_ == 2 and stopped.callbacks_[0].seen_ == [1, 2]
    # Without the callback, the first two epochs are the same: it changed only the stop.
    plain = small(epochs=5).fit(VOICELESS, _y())
    assert [h["loss"] for h in plain.history_[:2]] == [h["loss"] for h in stopped.history_]
    watched = small(epochs=5, callbacks=[Epochs()]).fit(VOICELESS, _y())
    for name, value in plain.module_.state_dict().items():
        assert torch.equal(watched.module_.state_dict()[name], value), name


@pytest.mark.parametrize(
    "callbacks, message",
    [
        (["early"], r"callbacks\[0\] is 'early' \(str\), not a Callback"),
        ([EarlyStopping(3), 3], r"callbacks\[1\] is 3 \(int\), not a Callback"),
        (
            [EarlyStopping(0)],
            "patience must be a positive integer or None; got 0 .parameter of EarlyStopping",
        ),
        ([Checkpoint(3)], "dirname must be"),
        ("early", "callbacks must be"),
    ],
)
def test_callbacks_are_checked_before_any_work(callbacks, message):
    enc = small(callbacks=callbacks, validation_fraction=0.25)
    with pytest.raises(ValueError, match=message):
        enc.check_params()
    with pytest.raises(ValueError, match=message):
        enc.fit(VOICELESS, _y())
    assert not hasattr(enc, "module_")


def test_clone_copies_callbacks_and_get_params_reaches_them():
    enc = small(callbacks=[EarlyStopping(3), Checkpoint("ck")])
    twin = clone(enc)
    assert twin.callbacks[0] is not enc.callbacks[0]
    assert [cb.get_params() for cb in twin.callbacks] == [{"patience": 3}, {"dirname": "ck"}]


def test_a_fitted_encoder_with_callbacks_and_a_progress_bar_pickles(tmp_path):
    import pickle

    enc = small(callbacks=[EarlyStopping(2), Checkpoint(tmp_path), Epochs()], verbose=1)
    enc.set_params(validation_fraction=0.25).fit(VOICELESS, _y())
    assert [type(cb) for cb in enc.callbacks_] == [EarlyStopping, Checkpoint, Epochs]
    again = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(again.transform(VOICELESS), enc.transform(VOICELESS))
    assert again.callbacks_[2].seen_ == [1, 2]


@pytest.mark.slow
def test_resume_is_bit_identical_with_augmentation_gallery_and_learned_temperature(
    tmp_path, monkeypatch
):
    params = dict(epochs=4, batch_size=4, validation_fraction=0.2, recipe=Recipe(**RECIPE_OPT_INS))
    make = functools.partial(small, **params)
    full, resumed = fit_interrupted_then_resumed(
        make, ANIMALS_IPA, random_targets(len(ANIMALS_IPA), 1, dim=16), tmp_path, monkeypatch
    )
    keys = ("loss", "val_cosine", "logit_scale")
    assert [[h[k] for k in keys] for h in resumed.history_] == [
        [h[k] for k in keys] for h in full.history_
    ]
    for name, value in full.module_.state_dict().items():
        assert torch.equal(resumed.module_.state_dict()[name], value), name


@pytest.mark.slow
def test_checkpoint_dir_does_not_freeze_partial_fit_or_warm_start(tmp_path):
    enc = small_encoder(epochs=1, callbacks=[Checkpoint(tmp_path)])
    seen = []
    for _ in range(4):
        enc.partial_fit(RHYMES_IPA, random_targets(len(RHYMES_IPA)))
        seen.append(state_copy(enc))
    assert enc.n_epochs_ == 4
    for a, b in zip(seen, seen[1:]):
        assert any(not torch.equal(a[k], b[k]) for k in a)  # every call trained
    warm = small_encoder(epochs=3, warm_start=True, callbacks=[Checkpoint(tmp_path / "w")])
    warm.fit(RHYMES_IPA, random_targets(len(RHYMES_IPA)))
    first = state_copy(warm)
    warm.fit(RHYMES_IPA, random_targets(len(RHYMES_IPA)))
    assert warm.n_epochs_ == 6
    assert any(not torch.equal(first[k], v) for k, v in warm.module_.state_dict().items())


@pytest.mark.slow
def test_resume_is_bit_identical_with_dropout_and_early_stopping(tmp_path, monkeypatch):
    params = dict(epochs=8, dropout=0.3, validation_fraction=0.25, lr=0.02)
    params["callbacks"] = [EarlyStopping(3)]
    make = functools.partial(small, **params)
    full, resumed = fit_interrupted_then_resumed(
        make, RHYMES_IPA, random_targets(len(RHYMES_IPA), 1), tmp_path, monkeypatch
    )
    assert resumed.n_epochs_ == full.n_epochs_  # the patience counter was restored
    assert [h["val_cosine"] for h in resumed.history_] == [h["val_cosine"] for h in full.history_]
    for name, value in full.module_.state_dict().items():
        assert torch.equal(resumed.module_.state_dict()[name], value), name


def test_a_garbage_checkpoint_is_named_not_unpickled(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"\x80\x04garbage, not a checkpoint")
    with pytest.raises(ValueError, match=r"checkpoint.pt cannot be read as an ipaclip checkpoint"):
        small_encoder(callbacks=[Checkpoint(tmp_path)]).fit(
            RHYMES_IPA, random_targets(len(RHYMES_IPA))
        )


@pytest.mark.slow
def test_fits_with_two_threads_are_bit_identical_and_leave_torch_settings_alone():
    # Some backward ops accumulate in thread order unless torch's deterministic algorithms
    # are on: two such fits used to differ by ~1e-5 at this size.
    from ipaclip import IPATransformer
    from ipaclip.datasets import sample_words

    words = sample_words(2000, random_state=0, max_length=12, common=True)
    ipa = IPATransformer().fit_transform(words)
    y = np.random.default_rng(0).normal(size=(len(words), 32)).astype(np.float32)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        fits = [
            PronunciationEncoder(width=64, layers=1, heads=4, epochs=1, random_state=0).fit(ipa, y)
            for _ in range(2)
        ]
    finally:
        torch.set_num_threads(threads)
    for name, value in fits[0].module_.state_dict().items():
        assert torch.equal(value, fits[1].module_.state_dict()[name]), name
    assert not torch.are_deterministic_algorithms_enabled()  # restored after fit


@pytest.mark.slow
def test_killed_run_resumes_from_checkpoint_to_the_same_result(tmp_path, monkeypatch):
    Y = np.random.default_rng(8).normal(size=(len(RHYMES_IPA), 8)).astype(np.float32)
    full = small_encoder(epochs=4, batch_size=16).fit(RHYMES_IPA, Y)
    real = objective_module.distillation_loss
    steps_per_epoch = -(-len(RHYMES_IPA) // 16)
    calls = {"n": 0}

    def killed_in_epoch_3(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2 * steps_per_epoch + 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(objective_module, "distillation_loss", killed_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        small_encoder(epochs=4, batch_size=16, callbacks=[Checkpoint(tmp_path)]).fit(RHYMES_IPA, Y)
    assert (tmp_path / "checkpoint.pt").is_file()
    counted = {"n": 0}

    def counting(*args, **kwargs):
        counted["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(objective_module, "distillation_loss", counting)
    resumed = small_encoder(epochs=4, batch_size=16, callbacks=[Checkpoint(str(tmp_path))]).fit(
        RHYMES_IPA, Y
    )
    assert counted["n"] == 2 * steps_per_epoch  # only epochs 3 and 4 were run again
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3, 4]
    np.testing.assert_allclose(resumed.transform(RHYMES_IPA), full.transform(RHYMES_IPA), atol=1e-6)
