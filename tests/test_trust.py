"""Nothing lost, nothing silently wrong: parameters, targets, caches, checkpoints (issue #11)."""

from __future__ import annotations

import functools
import threading

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, KFold

from ipaclip import Checkpoint, EarlyStopping, PronunciationEncoder, Recipe
from ipaclip._targets import DiskStore, TargetMemory, embed_texts
from ipaclip.cli import main
from tests.fixtures import fit_interrupted_then_resumed

IPA = [
    "kˈæt", "hˈæt", "bˈæt", "mˈæt", "dˈɑːɡ", "fˈɑːɡ", "lˈɑːɡ", "fɹˈɑːɡ", "fˈɪʃ", "dˈɪʃ",
    "wˈɪʃ", "ʃˈɪp", "ʃˈɑːp", "stˈɑːp", "tˈɑːp", "pˈɑːt", "spˈɑːt", "sˈʌn", "ɹˈʌn", "fˈʌn",
]  # fmt: skip


def _y(seed: int = 0, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(len(IPA), dim)).astype(np.float32)


def small(**params) -> PronunciationEncoder:
    base = dict(width=32, layers=1, heads=2, epochs=3, batch_size=8, random_state=0)
    return PronunciationEncoder(**{**base, **params})


def _weights(enc: PronunciationEncoder) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in enc.module_.state_dict().items()}


# -- parameters ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params, message",
    [
        ({"grad_clip": -1.0}, "grad_clip must be a number > 0 or None; got -1.0"),
        ({"recipe": Recipe(temperature=float("inf"))}, "temperature must be a number in (0, 100]"),
        ({"recipe": Recipe(temperature=float("nan"))}, "temperature must be"),
        ({"lr": "fast"}, "lr must be a number in (0, 10]; got 'fast'"),
        ({"inference_batch_size": 0}, "inference_batch_size must be a positive integer"),
        ({"epochs": 2.5}, "epochs must be a positive integer; got 2.5"),
        ({"embedding": "braille"}, "embedding must be one of 'ipa', 'onehot'"),
        ({"random_state": -3}, "random_state must be"),
    ],
)
def test_bad_parameters_are_refused_by_name_before_training(params, message):
    with pytest.raises(ValueError, match=f"^{message.replace('(', r'[(]').replace(')', r'[)]')}"):
        small(**params).fit(IPA, _y())


def test_inference_batch_size_is_checked_at_transform_too():
    enc = small().fit(IPA, _y())
    with pytest.raises(ValueError, match="inference_batch_size must be a positive integer"):
        enc.set_params(inference_batch_size=0).transform(IPA)


def test_numpy_integers_from_grid_search_are_accepted():
    enc = small(epochs=np.int64(2), batch_size=np.int32(8), width=np.int64(32))
    enc.fit(IPA, _y())
    assert enc.n_epochs_ == 2
    search = GridSearchCV(small(epochs=1), {"batch_size": np.array([4, 8])}, cv=KFold(2))
    search.fit(IPA, _y())
    assert search.best_params_["batch_size"] in (4, 8)


# -- targets ---------------------------------------------------------------------------------
def test_bad_target_arrays_are_named():
    y = _y()
    zero = y.copy()
    zero[3] = 0
    with pytest.raises(ValueError, match="y row 3 is all zeros"):
        small().fit(IPA, zero)
    with pytest.raises(ValueError, match="complex"):
        small().fit(IPA, y + 1j)
    ragged = [list(row) for row in y]
    ragged[5] = ragged[5][:4]
    with pytest.raises(ValueError, match="row 5 has 4"):
        small().fit(IPA, ragged)


def test_target_memory_is_a_bounded_lru_that_answers_oversized_calls():
    memory = TargetMemory(max_entries=5)

    class Teacher:
        teacher_id = "t"
        calls = 0

        def transform(self, texts):
            type(self).calls += 1
            return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    texts = [f"w{i}" * (i + 1) for i in range(12)]
    out = embed_texts(Teacher(), texts, memory=memory)  # more texts than the bound
    expected = np.array([[len(t), 1.0] for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert len(memory) == 5
    assert set(memory.lookup("t", texts)) == set(texts[-5:])  # the most recent stay

    errors = []

    def worker(k: int) -> None:
        try:
            for r in range(30):
                chunk = [f"x{k}-{(r * 7 + j) % 40}" for j in range(6)]
                got = embed_texts(Teacher(), chunk, memory=memory)
                want = np.array([[len(t), 1.0] for t in chunk], dtype=np.float32)
                want /= np.linalg.norm(want, axis=1, keepdims=True)
                np.testing.assert_allclose(got, want, rtol=1e-6)
        except Exception as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(memory) <= 5


def test_disk_store_writes_one_shard_per_call_not_a_file_per_text(tmp_path):
    store = DiskStore(tmp_path, "teacher-x")
    rows = {f"text {i}": np.full(4, i, dtype=np.float32) for i in range(2000)}
    store.put(rows)
    files = sorted(p.name for p in store.folder.iterdir())
    assert len(files) == 3 and files[-1] == "teacher.txt"  # part-*.json, part-*.npy
    got = DiskStore(tmp_path, "teacher-x").get(["text 7", "text 1999", "missing"])
    assert set(got) == {"text 7", "text 1999"}
    np.testing.assert_array_equal(got["text 1999"], np.full(4, 1999, dtype=np.float32))
    # A shard whose text list was never written (killed mid-put) is ignored.
    (store.folder / "part-deadbeef.npy").write_bytes(b"partial")
    assert set(DiskStore(tmp_path, "teacher-x").get(["text 7"])) == {"text 7"}


# -- checkpoints -----------------------------------------------------------------------------
def test_checkpoint_dir_does_not_freeze_partial_fit_or_warm_start(tmp_path):
    enc = small(epochs=1, callbacks=[Checkpoint(tmp_path)])
    seen = []
    for _ in range(4):
        enc.partial_fit(IPA, _y())
        seen.append(_weights(enc))
    assert enc.n_epochs_ == 4
    for a, b in zip(seen, seen[1:]):
        assert any(not torch.equal(a[k], b[k]) for k in a)  # every call trained
    warm = small(epochs=3, warm_start=True, callbacks=[Checkpoint(tmp_path / "w")])
    warm.fit(IPA, _y())
    first = _weights(warm)
    warm.fit(IPA, _y())
    assert warm.n_epochs_ == 6
    assert any(not torch.equal(first[k], v) for k, v in warm.module_.state_dict().items())


def test_resume_is_bit_identical_with_dropout_and_early_stopping(tmp_path, monkeypatch):
    params = dict(epochs=8, dropout=0.3, validation_fraction=0.25, lr=0.02)
    params["callbacks"] = [EarlyStopping(3)]
    make = functools.partial(small, **params)
    full, resumed = fit_interrupted_then_resumed(make, IPA, _y(1), tmp_path, monkeypatch)
    assert resumed.n_epochs_ == full.n_epochs_  # the patience counter was restored
    assert [h["val_cosine"] for h in resumed.history_] == [h["val_cosine"] for h in full.history_]
    for name, value in full.module_.state_dict().items():
        assert torch.equal(resumed.module_.state_dict()[name], value), name


def test_a_garbage_checkpoint_is_named_not_unpickled(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"\x80\x04garbage, not a checkpoint")
    with pytest.raises(ValueError, match=r"checkpoint.pt cannot be read as an ipaclip checkpoint"):
        small(callbacks=[Checkpoint(tmp_path)]).fit(IPA, _y())


def test_cli_reports_a_corrupt_model_in_one_line(tmp_path, capsys):
    folder = small().fit(IPA, _y()).save(tmp_path / "m")
    (folder / "config.json").write_text('{"format": "ipaclip-pronunciation-encoder"', "utf-8")
    assert main(["embed", str(folder), "cat"]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_layout_mismatch_at_transform_is_refused_by_name(tmp_path):
    from ipaclip import PhonemeEmbedder

    fit_side = PhonemeEmbedder(stress=False, word_boundary="feature").fit(IPA)
    enc = small().fit(fit_side.transform(IPA), _y())
    other = PhonemeEmbedder(stress=True, word_boundary="token").fit(IPA).transform(IPA)
    with pytest.raises(ValueError, match=r"another layout.*stress.*word_boundary"):
        enc.transform(other)
    np.testing.assert_allclose(enc.transform(fit_side.transform(IPA)).shape, (len(IPA), 8))
    # The layout is saved with the model, so a reloaded encoder refuses the same.
    loaded = PronunciationEncoder.load(enc.save(tmp_path / "m"))
    with pytest.raises(ValueError, match="another layout"):
        loaded.transform(other)
    with pytest.raises(ValueError, match="another layout"):
        enc.set_params(warm_start=True).fit(other, _y())


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
