"""A new user's first hour (issue #12): sklearn output, quiet and progress, encode, IPACLIP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline

from ipaclip import IPACLIP, IPATransformer, PronunciationEncoder
from tests.fixtures import tiny_clip_text_encoder

WORDS = ["cat", "hat", "bat", "dog", "fog", "log", "fish", "dish", "ship", "shop", "sun", "run"]


def small(**params) -> PronunciationEncoder:
    base = dict(width=32, layers=1, heads=2, epochs=2, batch_size=8, random_state=0)
    return PronunciationEncoder(**{**base, **params})


@pytest.fixture(scope="module")
def teacher():
    return tiny_clip_text_encoder()


@pytest.fixture(scope="module")
def fitted(teacher):
    g2p = IPATransformer()
    return small(teacher=teacher).fit(g2p.fit_transform(WORDS), WORDS), g2p


def test_the_readme_pipeline_works_with_pandas_output(teacher):
    pipe = Pipeline([("ipa", IPATransformer()), ("enc", small(teacher=teacher))])
    pipe.set_output(transform="pandas")
    out = pipe.fit(WORDS, WORDS).transform(WORDS[:3])
    assert isinstance(out, pd.DataFrame) and out.shape == (3, 32)
    assert list(out.columns[:2]) == ["pronunciationencoder0", "pronunciationencoder1"]
    names = pipe.get_feature_names_out()
    assert len(names) == 32 and names[-1] == "pronunciationencoder31"


def test_column_transformer_names_the_encoder_columns(teacher):
    frame = pd.DataFrame({"word": WORDS, "n": np.arange(len(WORDS), dtype=float)})
    pron = Pipeline([("ipa", IPATransformer()), ("enc", small(teacher=teacher))])
    ct = ColumnTransformer([("pron", pron, "word"), ("keep", "passthrough", ["n"])])
    Z = ct.fit_transform(frame, WORDS)
    names = ct.get_feature_names_out()
    assert Z.shape == (len(WORDS), 33) and len(names) == 33
    assert names[0] == "pron__pronunciationencoder0" and names[-1] == "keep__n"


def test_fit_without_y_is_scikit_learns_requires_y_error():
    with pytest.raises(ValueError, match="PronunciationEncoder requires y to be passed"):
        small().fit(["kˈæt", "dˈɑːɡ"])


def test_verbose_0_prints_nothing_and_verbose_1_shows_progress(fitted, capfd, monkeypatch):
    enc, g2p = fitted
    ipa = g2p.transform(WORDS)
    quiet = clone(enc).set_params(verbose=0)
    quiet.fit(ipa, WORDS)
    quiet.transform(ipa)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    import ipaclip._progress as progress_module

    monkeypatch.setattr(progress_module, "DELAY_S", 0.0)  # tiny steps: show at once
    loud = clone(enc).set_params(verbose=2)
    loud.fit(ipa, WORDS)
    loud.transform(ipa)
    err = capfd.readouterr().err
    assert "distilling" in err and "embedding" in err
    assert "epoch 2: loss" in err  # verbose=2 epoch lines without any logging setup


def test_encode_like_sentence_transformers(fitted):
    enc, g2p = fitted
    params = enc.get_params()
    Z = enc.encode(WORDS[:3])
    np.testing.assert_allclose(Z, enc.transform(g2p.transform(WORDS[:3])), atol=1e-6)
    one = enc.encode("cat", convert_to_tensor=True)
    assert isinstance(one, torch.Tensor) and tuple(one.shape) == (32,)
    raw = enc.encode(["kˈæt"], ipa=True, normalize_embeddings=False, batch_size=1)
    assert not np.isclose(np.linalg.norm(raw), 1.0)
    assert enc.get_params() == params  # encode's options did not leak into the estimator


def test_ipaclip_clone_keeps_the_fitted_encoder_and_fuse_weight_is_searchable(fitted, teacher):
    enc, g2p = fitted
    model = IPACLIP(enc, teacher=teacher, g2p=g2p, fuse_weight=0.5)
    twin = clone(model)
    assert twin.pronunciation_encoder is enc and twin.fuse_weight == 0.5
    np.testing.assert_allclose(twin.encode(WORDS[:2]), model.encode(WORDS[:2]), atol=1e-6)

    def respell_recall(estimator, X, y):
        Q = estimator.encode(list(X))
        T = estimator.encode_text(list(y))
        return float(((Q @ T.T).argmax(1) == np.arange(len(X))).mean())

    search = GridSearchCV(
        model, {"fuse_weight": [0.0, 0.5, 1.0]}, scoring=respell_recall, cv=KFold(2)
    )
    search.fit(WORDS, WORDS)
    assert search.best_params_["fuse_weight"] in (0.0, 0.5, 1.0)
    assert search.best_estimator_.pronunciation_encoder is enc
    assert np.allclose(search.cv_results_["mean_test_score"][0], 1.0)  # text query finds text
    with pytest.raises(ValueError, match="fuse_weight must be"):
        clone(model).set_params(fuse_weight=2).fit()
    Q = model.encode(WORDS[:2], query="pronunciation")
    np.testing.assert_allclose(Q, model.encode_pronunciation(WORDS[:2]), atol=1e-6)


def test_spelling_given_as_ipa_is_refused_with_the_pipeline_hint():
    Y = np.random.default_rng(0).normal(size=(len(WORDS), 8)).astype(np.float32)
    with pytest.raises(ValueError, match="looks like spelling") as info:
        small().fit(WORDS, Y)
    assert str(info.value).count("Pipeline(") == 1  # one hint, not two
    with pytest.raises(ValueError, match="check_spelling must be one of"):
        small(check_spelling="maybe").fit(WORDS, Y)
    assert small(check_spelling="off").fit(WORDS, Y).vocabulary_  # the user said: it is IPA
