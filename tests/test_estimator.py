"""PronunciationEncoder: distillation from a tiny open_clip teacher, persistence, faults."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import ipaclip._targets as targets_module
import ipaclip.objective as objective_module
from ipaclip import (
    EarlyStopping,
    IPATransformer,
    PhonemeEmbedder,
    PronunciationEncoder,
    Recipe,
)
from tests.fixtures import (
    RHYMES_IPA,
    RHYMES_TEXT,
    random_targets,
    small_encoder,
    tiny_clip_text_encoder,
)

WORDS = [
    "cat", "hat", "bat", "mat", "dog", "fog", "log", "frog", "fish", "dish", "wish", "ship",
    "shop", "stop", "top", "pot", "spot", "sun", "run", "fun", "bun", "tree", "free", "three",
    "sea", "tea", "bee", "key", "night", "light", "kite", "bite", "white", "rain", "train",
    "brain", "plane", "lake", "cake", "snake",
]  # fmt: skip


@pytest.fixture(scope="module")
def ipa() -> list[str]:
    return IPATransformer().fit_transform(WORDS)


@pytest.fixture(scope="module")
def teacher():
    return tiny_clip_text_encoder()


def small(**params) -> PronunciationEncoder:
    base = dict(width=32, layers=1, heads=2, epochs=5, batch_size=16, random_state=0)
    base.update(params)
    return PronunciationEncoder(**base)


def test_distillation_raises_cosine_far_above_its_start(ipa, teacher):
    enc = small(teacher=teacher, epochs=80, recipe=Recipe(loss="cosine"), lr=3e-3)
    enc.fit(ipa, WORDS)
    start = enc.history_[0]["train_cosine"]
    end = enc.score(ipa, WORDS)
    # A random tiny CLIP maps all words close together, so the start is not near zero; the
    # student has to close most of the remaining gap.
    assert end > 0.85
    assert (1 - end) < 0.25 * (1 - start)
    assert [h["epoch"] for h in enc.history_] == list(range(1, 81))
    assert enc.teacher_id_ == teacher.teacher_id
    assert enc.embedding_dim_ == 32


@pytest.mark.slow
def test_contrastive_term_retrieves_training_words(ipa, teacher):
    enc = small(teacher=teacher, epochs=80, lr=3e-3)  # default loss: cosine + contrastive
    enc.fit(ipa, WORDS)
    Z, T = enc.transform(ipa), enc.embed_targets(WORDS)
    hits = (Z @ T.T).argmax(axis=1) == np.arange(len(WORDS))
    assert hits.mean() >= 0.9


def test_transform_output_and_precomputed_targets(ipa):
    Y = np.random.default_rng(0).normal(size=(len(ipa), 12)).astype(np.float32)
    enc = small().fit(ipa, Y)
    Z = enc.transform(ipa)
    assert Z.shape == (len(ipa), 12) and Z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-5)
    raw = enc.encode(ipa=ipa, normalize_embeddings=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), Z, atol=1e-6)
    assert enc.teacher_id_ is None
    # Featurised input gives the same embeddings as IPA strings.
    seqs = enc.phoneme_embedder_.transform(ipa)
    np.testing.assert_allclose(enc.transform(seqs), Z, atol=1e-6)


def test_same_random_state_gives_identical_weights(ipa):
    Y = np.random.default_rng(1).normal(size=(len(ipa), 8)).astype(np.float32)
    a = small(random_state=3).fit(ipa, Y)
    b = small(random_state=3).fit(ipa, Y)
    c = small(random_state=4).fit(ipa, Y)
    for (name, pa), pb in zip(a.module_.state_dict().items(), b.module_.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert not np.allclose(a.transform(ipa), c.transform(ipa))


def test_history_validation_and_early_stopping(ipa):
    Y = np.random.default_rng(2).normal(size=(len(ipa), 8)).astype(np.float32)
    stop = EarlyStopping(2)
    enc = small(epochs=30, validation_fraction=0.25, callbacks=[stop], lr=0.05).fit(ipa, Y)
    keys = {"epoch", "loss", "train_cosine", "val_cosine", "lr", "seconds", "samples_per_second"}
    assert all(keys <= set(h) for h in enc.history_)
    vals = [h["val_cosine"] for h in enc.history_]
    if len(vals) < 30:  # stopped early: the last two epochs did not beat the best
        assert max(vals[-2:]) <= max(vals[:-2])
    assert not hasattr(stop, "best_score")  # the fit worked on a clone
    assert enc.callbacks_[0].best_score == max(vals)
    with pytest.raises(ValueError, match="EarlyStopping needs validation_fraction"):
        small(callbacks=[EarlyStopping(2)]).fit(ipa, Y)


def test_partial_fit_and_warm_start_continue_training(ipa):
    Y = np.random.default_rng(3).normal(size=(len(ipa), 8)).astype(np.float32)
    enc = small(epochs=3).fit(ipa, Y)
    before = {k: v.clone() for k, v in enc.module_.state_dict().items()}
    enc.partial_fit(ipa, Y)
    assert enc.n_epochs_ == 4 and len(enc.history_) == 4
    changed = [k for k, v in enc.module_.state_dict().items() if not torch.equal(v, before[k])]
    assert changed
    enc.set_params(warm_start=True, epochs=2).fit(ipa, Y)
    assert enc.n_epochs_ == 6
    with pytest.raises(ValueError, match="dimension 5"):
        enc.partial_fit(ipa, Y[:, :5])


def test_onehot_embedding_and_phoneme_vectors(ipa):
    Y = np.random.default_rng(4).normal(size=(len(ipa), 8)).astype(np.float32)
    onehot = small(embedding="onehot").fit(ipa, Y)
    feats = small(embedding="ipa").fit(ipa, Y)
    assert onehot.config_.embedding == "onehot"
    vecs = onehot.phoneme_vectors()
    assert set(vecs) == set(onehot.vocabulary_)
    assert all(v.shape == (32,) for v in vecs.values())
    # The IPA embedding has a vector for any PanPhon segment, seen in training or not.
    unseen = feats.phoneme_vectors(["ʔ", "ɣ"])
    assert set(unseen) == {"ʔ", "ɣ"}
    # p and b differ in one feature: closer than p and a under the untrained linear map.
    fresh = small(embedding="ipa", epochs=1, lr=1e-12).fit(ipa, Y)
    v = fresh.phoneme_vectors(["p", "b", "a"])
    assert np.linalg.norm(v["p"] - v["b"]) < np.linalg.norm(v["p"] - v["a"])


def test_save_load_round_trip_and_pickle(ipa, tmp_path):
    Y = np.random.default_rng(5).normal(size=(len(ipa), 8)).astype(np.float32)
    g2p = IPATransformer(with_stress=False)
    enc = small().fit(ipa, Y)
    enc.save(tmp_path / "model", g2p=g2p)
    files = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert files == ["config.json", "model.safetensors"]
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["teacher"] == {"id": None, "dim": 8}
    assert config["g2p"]["with_stress"] is False
    loaded = PronunciationEncoder.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.transform(ipa), enc.transform(ipa))
    assert loaded.g2p_.get_params() == g2p.get_params()
    assert loaded.vocabulary_ == enc.vocabulary_
    restored = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(restored.transform(ipa), enc.transform(ipa))


def test_load_rejects_corrupted_or_mismatched_files(ipa, tmp_path):
    Y = np.random.default_rng(6).normal(size=(len(ipa), 8)).astype(np.float32)
    folder = small().fit(ipa, Y).save(tmp_path / "m")
    weights = folder / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:-7] + b"garbage")
    with pytest.raises(ValueError, match="checksum"):
        PronunciationEncoder.load(folder)
    weights.write_bytes(good)
    config = json.loads((folder / "config.json").read_text())
    config["encoder_config"]["width"] = 64
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="do not fit the architecture"):
        PronunciationEncoder.load(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        PronunciationEncoder.load(folder)
    with pytest.raises(FileNotFoundError, match="missing"):
        PronunciationEncoder.load(tmp_path / "nowhere")


@pytest.mark.slow
def test_pipeline_cross_val_score_and_grid_search(teacher):
    pipe = Pipeline(
        [
            ("ipa", IPATransformer()),
            ("enc", small(teacher=teacher, epochs=3)),
        ]
    )
    pipe.fit(WORDS, WORDS)
    assert pipe.transform(["cat"]).shape == (1, 32)
    scores = cross_val_score(pipe, WORDS, WORDS, cv=KFold(2, shuffle=True, random_state=0))
    assert scores.shape == (2,) and np.all((scores > -1) & (scores <= 1))
    search = GridSearchCV(pipe, {"enc__embedding": ["ipa", "onehot"]}, cv=2)
    search.fit(WORDS, WORDS)
    assert search.best_params_["enc__embedding"] in ("ipa", "onehot")
    assert len(search.cv_results_["mean_test_score"]) == 2
    # The featuriser can be its own step too.
    pipe3 = Pipeline(
        [
            ("ipa", IPATransformer()),
            ("feat", PhonemeEmbedder()),
            ("enc", clone(small(teacher=teacher))),
        ]
    )
    assert pipe3.fit(WORDS, WORDS).transform(WORDS[:2]).shape == (2, 32)


@pytest.mark.slow
def test_nan_loss_stops_with_clear_error_and_keeps_model(ipa, monkeypatch):
    Y = np.random.default_rng(7).normal(size=(len(ipa), 8)).astype(np.float32)
    enc = small().fit(ipa, Y)
    before = enc.transform(ipa)
    real = objective_module.distillation_loss
    calls = {"n": 0}

    def exploding(*args, **kwargs):
        loss, cos = real(*args, **kwargs)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] == 3 else loss), cos

    monkeypatch.setattr(objective_module, "distillation_loss", exploding)
    with pytest.raises(FloatingPointError, match="loss became nan at epoch 1, step 3"):
        enc.set_params(warm_start=True).fit(ipa, Y)
    np.testing.assert_array_equal(enc.transform(ipa), before)
    assert enc.n_epochs_ == 5
    fresh = small()
    calls["n"] = 0
    with pytest.raises(FloatingPointError):
        fresh.fit(ipa, Y)
    with pytest.raises(NotFittedError):
        fresh.transform(ipa)


@pytest.mark.slow
def test_teacher_embeddings_computed_once_per_fit_and_cached_on_disk(ipa, tmp_path):
    class CountingTeacher:
        teacher_id = "counting-teacher-v1"

        def __init__(self):
            self.seen = []

        def transform(self, texts):
            self.seen.extend(texts)
            rng = np.random.default_rng(abs(hash(tuple(texts))) % 2**32)
            return rng.normal(size=(len(texts), 6)).astype(np.float32)

    t = CountingTeacher()
    small(teacher=t, epochs=4, target_cache_dir=str(tmp_path)).fit(ipa, WORDS)
    assert sorted(t.seen) == sorted(set(WORDS))  # once per text, not once per epoch
    targets_module.MEMORY.clear()
    t2 = CountingTeacher()
    enc = small(teacher=t2, epochs=1, target_cache_dir=str(tmp_path)).fit(ipa, WORDS)
    assert t2.seen == []  # all from disk
    assert enc.embedding_dim_ == 6


def test_bad_input_gets_clear_errors(ipa):
    Y = np.zeros((len(ipa), 8), dtype=np.float32) + 1
    with pytest.raises(ValueError, match=f"X has {len(ipa)} items but y has 3"):
        small().fit(ipa, Y[:3])
    with pytest.raises(ValueError, match="empty"):
        small().fit([], Y[:0])
    with pytest.raises(NotFittedError):
        small().transform(ipa)
    with pytest.raises(ValueError, match="y is required"):
        small().fit(ipa, None)
    bad = Y.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match="y row 4"):
        small().fit(ipa, bad)
    with pytest.raises(ValueError, match="2-D"):
        small().fit(ipa, np.zeros((len(ipa), 2, 2)))
    long_ipa = ["ta" * 40]
    with pytest.raises(ValueError, match=r"Item 0 \('tata.*has 82 .* context_length=16"):
        small(context_length=16, truncation="raise").fit(long_ipa, np.ones((1, 4)))
    with pytest.raises(ValueError, match="loss"):
        small(recipe=Recipe(loss="hinge")).fit(ipa, Y)
    with pytest.raises(TypeError, match="string"):
        small().fit("kæt", Y[:1])


# -- issue 17: inputs that used to give the wrong message ------------------------------------
class _CountingTeacher:
    """Embeds a text as (length, 1, 0, 0) and counts its calls."""

    teacher_id = "counting-v1"

    def __init__(self):
        self.calls = 0

    def transform(self, texts):
        self.calls += 1
        return np.array([[len(t), 1.0, 0.0, 0.0] for t in texts], dtype=np.float32)


def test_empty_x_or_y_is_named_before_any_work():
    t = _CountingTeacher()
    for X, y in [([], []), ((i for i in ()), []), ([], np.zeros((0, 4)))]:
        with pytest.raises(ValueError, match=r"^X is empty: at least one item"):
            small(teacher=t).fit(X, y)
    with pytest.raises(ValueError, match=r"^y is empty: at least one target"):
        small(teacher=t).embed_targets([])
    assert t.calls == 0
    enc = small(epochs=1).fit(["kˈæt", "dˈɑːɡ"], np.eye(2, 4))
    with pytest.raises(ValueError, match=r"^X is empty"):
        enc.score([], np.zeros((0, 4)))


def test_generators_are_read_once_as_iterables(ipa):
    Y = np.random.default_rng(0).normal(size=(len(ipa), 6)).astype(np.float32)
    listed = small(epochs=2).fit(ipa, Y)
    streamed = small(epochs=2).fit((s for s in ipa), (row for row in Y))
    np.testing.assert_array_equal(streamed.transform(ipa), listed.transform(ipa))
    assert streamed.teacher_id_ is None  # the generator of rows was read as embeddings
    assert streamed.score((s for s in ipa), (row for row in Y)) == pytest.approx(
        listed.score(ipa, Y), abs=1e-7
    )
    t = _CountingTeacher()
    texts = small(teacher=t, epochs=1).fit((s for s in ipa[:5]), (w for w in WORDS[:5]))
    assert texts.teacher_id_ == "counting-v1" and texts.n_epochs_ == 1 and t.calls == 1


def test_tensors_and_data_frames_of_embeddings_are_accepted(ipa):
    pd = pytest.importorskip("pandas")
    Y = np.random.default_rng(1).normal(size=(len(ipa), 6)).astype(np.float32)
    reference = small(epochs=1).fit(ipa, Y).transform(ipa)
    for y in [
        torch.from_numpy(Y),
        torch.from_numpy(Y).requires_grad_(),
        pd.DataFrame(Y, columns=[f"d{i}" for i in range(6)]),
    ]:
        enc = small(epochs=1).fit(ipa, y)
        assert enc.teacher_id_ is None and enc.embedding_dim_ == 6, type(y)
        np.testing.assert_array_equal(enc.transform(ipa), reference)
        assert enc.score(ipa, y) == pytest.approx(enc.score(ipa, Y), abs=1e-7)


def test_context_length_is_bounded_before_anything_is_allocated(monkeypatch):
    import ipaclip.estimator as estimator_module

    def no_model(*args, **kwargs):
        raise AssertionError("a model was built")

    monkeypatch.setattr(estimator_module, "PronunciationTransformer", no_model)
    t = _CountingTeacher()
    enc = small(teacher=t, context_length=10**9)
    message = r"^context_length must be an integer in \[3, 4096\]; got 1000000000"
    with pytest.raises(ValueError, match=message):
        enc.check_params()
    with pytest.raises(ValueError, match=message):
        enc.fit(["kˈæt", "dˈɑːɡ"], ["cat", "dog"])
    assert t.calls == 0
    small(context_length=4096).check_params()  # the largest accepted
    with pytest.raises(ValueError, match="context_length must be"):
        small(context_length=4097).check_params()


# -- the shape of the API (issue #18) --------------------------------------------------------
def test_fewer_than_30_parameters_with_the_recipe_and_callbacks_as_objects():
    params = PronunciationEncoder().get_params(deep=False)
    assert len(params) < 30
    assert params["recipe"] is None and params["callbacks"] is None
    assert not {"loss", "ngrams", "early_stopping", "checkpoint_dir", "normalize"} & set(params)


def test_each_input_is_validated_once_on_the_serving_path(ipa, monkeypatch):
    import ipaclip.estimator as estimator_module
    import ipaclip.phonemes as phonemes_module

    enc = small(epochs=1).fit(ipa, np.random.default_rng(3).normal(size=(len(ipa), 8)))
    calls = []
    for module in (estimator_module, phonemes_module):  # _serving checks nothing itself
        real = module.check_string_items

        def counting(X, *args, _real=real, **kwargs):
            calls.append(X)
            return _real(X, *args, **kwargs)

        monkeypatch.setattr(module, "check_string_items", counting)
    enc.transform(ipa)
    assert len(calls) == 1
    calls.clear()
    enc.encode(ipa=ipa)
    assert len(calls) == 1
    calls.clear()
    enc.fit(ipa, np.random.default_rng(3).normal(size=(len(ipa), 8)))
    assert len(calls) == 3  # fit's own check, then the phoneme embedder's fit and transform


def test_fit_stages_run_once_each_and_share_set_fitted_with_load(ipa, tmp_path, monkeypatch):
    counts = {"_initialize": 0, "_split": 0, "_set_fitted": 0}
    for name in counts:
        real = getattr(PronunciationEncoder, name)

        def spy(self, *args, _real=real, _name=name, **kwargs):
            counts[_name] += 1
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(PronunciationEncoder, name, spy)
    enc = small(epochs=1).fit(ipa, np.random.default_rng(3).normal(size=(len(ipa), 8)))
    assert counts == {"_initialize": 1, "_split": 1, "_set_fitted": 1}
    PronunciationEncoder.load(enc.save(tmp_path / "m"))
    assert counts["_set_fitted"] == 2


def test_encode_language_reads_one_call_in_that_language_and_keeps_the_saved_g2p(ipa, tmp_path):
    # #20.6: encode had no language=; the saved G2P's language was the only one.
    Y = np.random.default_rng(6).normal(size=(len(ipa), 8)).astype(np.float32)
    folder = small().fit(ipa, Y).save(tmp_path / "m", g2p=IPATransformer(with_stress=False))
    enc = PronunciationEncoder.load(folder)
    saved = enc.g2p_.get_params()
    german = enc.encode(["Straße", "Buch"], language="de")
    expected = IPATransformer(language="de", with_stress=False).fit_transform(["Straße", "Buch"])
    np.testing.assert_array_equal(german, enc.encode(ipa=expected))
    assert not np.allclose(german, enc.encode(["Straße", "Buch"]))  # read as English
    assert enc.g2p_.get_params() == saved  # one call, not the model's G2P
    with pytest.raises(ValueError, match="language='de' is for texts the G2P reads, not ipa="):
        enc.encode(ipa=expected, language="de")
    with pytest.raises(ValueError, match="Unknown language 'klingon'"):
        enc.encode(["cat"], language="klingon")


# -- issue 19: the length policy and token-budget batches -------------------------------------
CAPTION_66 = (
    "a crowded city street at night with bright neon signs, wet pavement reflecting the "
    "lights, people holding umbrellas walking past small shops, a yellow taxi waiting at the "
    "corner, and an old man selling roasted chestnuts from a cart beside the subway entrance "
    "under a tall clock while two children watch pigeons gather near the big old stone fountain"
)


@pytest.fixture(scope="module")
def fitted_long():
    """A tiny encoder with the default context_length, fitted on words and one caption."""
    g2p = IPATransformer()
    X = g2p.fit_transform(WORDS + [CAPTION_66])
    Y = np.random.default_rng(0).normal(size=(len(X), 8)).astype(np.float32)
    return small(epochs=1).fit(X, Y)


def test_default_context_length_hears_a_66_token_clip_caption_to_its_end(fitted_long):
    import open_clip

    tokens = open_clip.get_tokenizer("ViT-B-32")([CAPTION_66])[0]
    assert int((tokens != 0).sum()) == 66  # <start_of_text> and <end_of_text> included
    other = CAPTION_66.rsplit(" ", 1)[0] + " tower"  # the last word changed
    assert fitted_long.context_length == 320
    z = fitted_long.encode([CAPTION_66, other])
    assert fitted_long.n_truncated_ == 0
    assert np.abs(z[0] - z[1]).max() > 1e-3
    # The old default, 64 tokens, cuts both before the last word: they become one embedding.
    short = small(epochs=1, context_length=64, truncation="ignore")
    short.fit(IPATransformer().fit_transform(WORDS), np.ones((len(WORDS), 8), np.float32))
    z = short.encode([CAPTION_66, other])
    assert short.n_truncated_ == 2
    np.testing.assert_allclose(z[0], z[1], atol=1e-6)


def test_one_400_word_text_gets_a_row_and_a_warning_or_is_named_by_raise(fitted_long):
    long_text = " ".join(WORDS * 10)  # 400 words
    texts = ["cat", long_text, "dog"]
    with pytest.warns(UserWarning, match=r"1 of 3 items is longer than context_length=320.*"
                      r"item 1 \('kˈæt hˈæt"):  # fmt: skip
        z = fitted_long.encode(texts)
    assert z.shape == (3, 8) and np.isfinite(z).all()
    assert fitted_long.n_truncated_ == 1 and fitted_long.truncated_items_ == [1]
    # The other rows are what they are alone.
    np.testing.assert_allclose(z[[0, 2]], fitted_long.encode(["cat", "dog"]), atol=1e-6)
    assert fitted_long.n_truncated_ == 0
    raising = clone(fitted_long).set_params(truncation="raise")
    raising.__dict__.update({k: v for k, v in fitted_long.__dict__.items() if k.endswith("_")})
    with pytest.raises(ValueError, match=r"Item 1 \('kˈæt hˈæt.*has \d{4} phoneme tokens, more "
                       r"than context_length=320"):  # fmt: skip
        raising.encode(texts)
    quiet = clone(fitted_long).set_params(truncation="ignore")
    quiet.__dict__.update({k: v for k, v in fitted_long.__dict__.items() if k.endswith("_")})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(quiet.encode(texts), z, atol=1e-6)
    assert quiet.n_truncated_ == 1


def test_fit_cuts_long_items_and_warns_by_default(ipa):
    long_ipa = ipa[:5] + ["".join(ipa) * 3]
    Y = np.random.default_rng(1).normal(size=(len(long_ipa), 4)).astype(np.float32)
    with pytest.warns(UserWarning, match="1 of 6 items is longer than context_length=32"):
        enc = small(epochs=1, context_length=32).fit(long_ipa, Y)
    assert enc.n_truncated_ == 1 and enc.truncated_items_ == [5]
    # The phoneme sequences given as such follow the same policy.
    seqs = clone(enc.phoneme_embedder_).set_params(max_length=None).fit(long_ipa)
    seqs = seqs.transform(long_ipa[4:])
    with pytest.warns(UserWarning, match="item 1, "):
        assert enc.transform(seqs).shape == (2, 4)


def test_rows_do_not_depend_on_the_batching(fitted_long):
    texts = [CAPTION_66, "cat", " ".join(WORDS[:12]), "dog", CAPTION_66[:80], "tree"]
    full = fitted_long.encode(texts)
    for batch_size in (1, 2, 5):
        np.testing.assert_allclose(fitted_long.encode(texts, batch_size=batch_size), full,
                                   atol=1e-6)  # fmt: skip


def test_ipaclip_pronunciation_queries_follow_the_encoders_policy(fitted_long, teacher):
    from ipaclip import IPACLIP

    model = IPACLIP(fitted_long, teacher=teacher)
    long_text = " ".join(WORDS * 10)
    with pytest.warns(UserWarning, match="1 of 2 items is longer than context_length=320"):
        z = model.encode_pronunciation(["cat", long_text])
    assert z.shape[0] == 2 and fitted_long.n_truncated_ == 1
    fitted_long.set_params(truncation="raise")
    try:
        with pytest.raises(ValueError, match="Item 1 .* context_length=320"):
            model.encode_pronunciation(["cat", long_text])
    finally:
        fitted_long.set_params(truncation="warn")


# -- issue 20, point 1: the spelling check after fit ---------------------------------------
@pytest.fixture(scope="module")
def ipa_fitted(ipa):
    Y = np.random.default_rng(0).normal(size=(len(ipa), 8)).astype(np.float32)
    return small(epochs=1).fit(ipa, Y), Y


def test_transform_refuses_spelling_and_names_the_fix(ipa_fitted):
    enc, _ = ipa_fitted
    with pytest.raises(ValueError, match=r"(?s)looks like spelling.*'quick'.*encode\(texts\)"):
        enc.transform(["quick", "kwik", "the", "night"])
    with pytest.raises(ValueError, match="IPATransformer"):
        enc.transform(["Paris"])
    with pytest.raises(ValueError, match=r"encode\(ipa=\.\.\.\)"):
        enc.encode(ipa=["quick", "kwik", "the", "night"])
    # The texts themselves, through the G2P, are not spelling.
    assert enc.encode(["quick", "kwik", "the", "night"]).shape == (4, 8)


def test_score_refuses_spelling(ipa_fitted):
    enc, Y = ipa_fitted
    with pytest.raises(ValueError, match="looks like spelling"):
        enc.score(WORDS, Y)


def test_transform_spelling_policy_warn_and_off(ipa_fitted, ipa, caplog):
    enc, _ = ipa_fitted
    words = ["quick", "kwik", "the", "night"]
    warned = pickle.loads(pickle.dumps(enc)).set_params(check_spelling="warn")
    with caplog.at_level("WARNING", logger="ipaclip"):
        Z = warned.transform(words)
    assert Z.shape == (4, 8)
    assert "looks like spelling" in caplog.text
    caplog.clear()
    off = pickle.loads(pickle.dumps(enc)).set_params(check_spelling="off")
    with caplog.at_level("WARNING", logger="ipaclip"):
        np.testing.assert_allclose(off.transform(words), Z, atol=1e-6)
    assert "looks like spelling" not in caplog.text
    # IPA from the G2P passes under the default policy.
    assert enc.transform(ipa).shape == (len(ipa), 8)


@pytest.fixture(scope="module")
def rhymes_fitted(teacher):
    g2p = IPATransformer()
    return small_encoder(epochs=2, teacher=teacher).fit(
        g2p.fit_transform(RHYMES_TEXT), RHYMES_TEXT
    ), g2p


@pytest.mark.parametrize(
    "params, message",
    [
        ({"grad_clip": -1.0}, "grad_clip must be a number > 0 or None; got -1.0"),
        ({"recipe": Recipe(temperature=float("inf"))}, "temperature must be a number in (0, 100]"),
        ({"recipe": Recipe(temperature=float("nan"))}, "temperature must be"),
        ({"lr": "fast"}, "lr must be a number in (0, 10]; got 'fast'"),
        ({"truncation": "cut"}, "truncation must be one of"),
        ({"epochs": 2.5}, "epochs must be a positive integer; got 2.5"),
        ({"embedding": "braille"}, "embedding must be one of 'ipa', 'onehot'"),
        ({"random_state": -3}, "random_state must be"),
    ],
)
def test_bad_parameters_are_refused_by_name_before_training(params, message):
    with pytest.raises(ValueError, match=f"^{message.replace('(', r'[(]').replace(')', r'[)]')}"):
        small_encoder(**params).fit(RHYMES_IPA, random_targets(len(RHYMES_IPA)))


def test_truncation_is_checked_at_transform_too():
    enc = small_encoder().fit(RHYMES_IPA, random_targets(len(RHYMES_IPA)))
    with pytest.raises(ValueError, match="truncation must be"):
        enc.set_params(truncation="cut").transform(RHYMES_IPA)


def test_numpy_integers_from_grid_search_are_accepted():
    enc = small_encoder(epochs=np.int64(2), batch_size=np.int32(8), width=np.int64(32))
    enc.fit(RHYMES_IPA, random_targets(len(RHYMES_IPA)))
    assert enc.n_epochs_ == 2
    search = GridSearchCV(small_encoder(epochs=1), {"batch_size": np.array([4, 8])}, cv=KFold(2))
    search.fit(RHYMES_IPA, random_targets(len(RHYMES_IPA)))
    assert search.best_params_["batch_size"] in (4, 8)


@pytest.mark.slow
def test_a_layout_mismatch_at_transform_is_refused_by_name(tmp_path):
    from ipaclip import PhonemeEmbedder

    fit_side = PhonemeEmbedder(stress=False, word_boundary="feature").fit(RHYMES_IPA)
    enc = small_encoder().fit(fit_side.transform(RHYMES_IPA), random_targets(len(RHYMES_IPA)))
    other = (
        PhonemeEmbedder(stress=True, word_boundary="token").fit(RHYMES_IPA).transform(RHYMES_IPA)
    )
    with pytest.raises(ValueError, match=r"another layout.*stress.*word_boundary"):
        enc.transform(other)
    np.testing.assert_allclose(
        enc.transform(fit_side.transform(RHYMES_IPA)).shape, (len(RHYMES_IPA), 8)
    )
    # The layout is saved with the model, so a reloaded encoder refuses the same.
    loaded = PronunciationEncoder.load(enc.save(tmp_path / "m"))
    with pytest.raises(ValueError, match="another layout"):
        loaded.transform(other)
    with pytest.raises(ValueError, match="another layout"):
        enc.set_params(warm_start=True).fit(other, random_targets(len(RHYMES_IPA)))


def test_the_readme_pipeline_works_with_pandas_output(teacher):
    pipe = Pipeline([("ipa", IPATransformer()), ("enc", small_encoder(epochs=2, teacher=teacher))])
    pipe.set_output(transform="pandas")
    out = pipe.fit(RHYMES_TEXT, RHYMES_TEXT).transform(RHYMES_TEXT[:3])
    assert isinstance(out, pd.DataFrame) and out.shape == (3, 32)
    assert list(out.columns[:2]) == ["pronunciationencoder0", "pronunciationencoder1"]
    names = pipe.get_feature_names_out()
    assert len(names) == 32 and names[-1] == "pronunciationencoder31"


@pytest.mark.slow
def test_column_transformer_names_the_encoder_columns(teacher):
    frame = pd.DataFrame({"word": RHYMES_TEXT, "n": np.arange(len(RHYMES_TEXT), dtype=float)})
    pron = Pipeline([("ipa", IPATransformer()), ("enc", small_encoder(epochs=2, teacher=teacher))])
    ct = ColumnTransformer([("pron", pron, "word"), ("keep", "passthrough", ["n"])])
    Z = ct.fit_transform(frame, RHYMES_TEXT)
    names = ct.get_feature_names_out()
    assert Z.shape == (len(RHYMES_TEXT), 33) and len(names) == 33
    assert names[0] == "pron__pronunciationencoder0" and names[-1] == "keep__n"


def test_fit_without_y_is_scikit_learns_requires_y_error():
    with pytest.raises(ValueError, match="PronunciationEncoder requires y to be passed"):
        small_encoder(epochs=2).fit(["kˈæt", "dˈɑːɡ"])


def test_verbose_0_prints_nothing_and_verbose_1_shows_progress(rhymes_fitted, capfd, monkeypatch):
    enc, g2p = rhymes_fitted
    ipa = g2p.transform(RHYMES_TEXT)
    quiet = clone(enc).set_params(verbose=0)
    quiet.fit(ipa, RHYMES_TEXT)
    quiet.transform(ipa)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    import ipaclip._progress as progress_module

    monkeypatch.setattr(progress_module, "DELAY_S", 0.0)  # tiny steps: show at once
    loud = clone(enc).set_params(verbose=2)
    loud.fit(ipa, RHYMES_TEXT)
    loud.transform(ipa)
    err = capfd.readouterr().err
    assert "distilling" in err and "embedding" in err
    assert "epoch 2: loss" in err  # verbose=2 epoch lines without any logging setup


def test_encode_like_sentence_transformers(rhymes_fitted):
    enc, g2p = rhymes_fitted
    params = enc.get_params()
    Z = enc.encode(RHYMES_TEXT[:3])
    np.testing.assert_allclose(Z, enc.transform(g2p.transform(RHYMES_TEXT[:3])), atol=1e-6)
    one = enc.encode("cat", convert_to_tensor=True)
    assert isinstance(one, torch.Tensor) and tuple(one.shape) == (32,)
    raw = enc.encode(ipa=["kˈæt"], normalize_embeddings=False, batch_size=1)
    assert not np.isclose(np.linalg.norm(raw), 1.0)
    assert enc.get_params() == params  # encode's options did not leak into the estimator


def test_spelling_given_as_ipa_is_refused_with_the_pipeline_hint():
    Y = np.random.default_rng(0).normal(size=(len(RHYMES_TEXT), 8)).astype(np.float32)
    with pytest.raises(ValueError, match="looks like spelling") as info:
        small_encoder(epochs=2).fit(RHYMES_TEXT, Y)
    assert str(info.value).count("Pipeline(") == 1  # one hint, not two
    with pytest.raises(ValueError, match="check_spelling must be one of"):
        small_encoder(epochs=2, check_spelling="maybe").fit(RHYMES_TEXT, Y)
    assert (
        small_encoder(epochs=2, check_spelling="off").fit(RHYMES_TEXT, Y).vocabulary_
    )  # the user said: it is IPA


# String input (input_tags.string=True): scikit-learn runs its clone check only; the tests above
# cover get_params/set_params, pickling, Pipeline and grid search.
@parametrize_with_checks(
    [PronunciationEncoder(width=16, layers=1, heads=2, epochs=1, random_state=0)]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
