"""IPACLIP: image, text and pronunciation encoders in one space, fused queries, logits."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from ipaclip import IPACLIP, IPATransformer, PronunciationEncoder, fuse
from tests.fixtures import (
    FIT_ON_ARRAY_CHECKS,
    RHYMES_TEXT,
    small_encoder,
    tiny_clip_image_encoder,
    tiny_clip_text_encoder,
)

WORDS = ["cat", "dog", "bird", "fish", "tree", "car", "house", "boat"]


@pytest.fixture(scope="module")
def model():
    text = tiny_clip_text_encoder()
    g2p = IPATransformer()
    enc = PronunciationEncoder(
        teacher=text, width=32, layers=1, heads=2, epochs=40, batch_size=8, random_state=0
    )
    enc.fit(g2p.fit_transform(WORDS), WORDS)
    return IPACLIP(enc, teacher=text, image_encoder=tiny_clip_image_encoder(), g2p=g2p)


def test_fuse_is_the_normalised_weighted_mix():
    t = np.array([[3.0, 0.0], [0.0, 1.0]])
    p = np.array([[0.0, 2.0], [0.0, 5.0]])
    out = fuse(t, p, 0.25)
    expected = np.array([[0.75, 0.25], [0.0, 1.0]])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_allclose(fuse(t, p, 0.0), [[1, 0], [0, 1]])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fuse(t, p, 1.5)
    with pytest.raises(ValueError, match="same shape"):
        fuse(t, p[:1], 0.5)


def test_encoders_share_one_space(model):
    T = model.encode_text(WORDS)
    P = model.encode_pronunciation(WORDS)
    P_ipa = model.encode_pronunciation(ipa=model.g2p.transform(WORDS))
    np.testing.assert_allclose(P, P_ipa, atol=1e-6)
    assert T.shape == P.shape == (len(WORDS), 32)
    # The pronunciation of each word retrieves its own text embedding.
    assert ((P @ T.T).argmax(axis=1) == np.arange(len(WORDS))).mean() >= 0.75
    Q = model.encode_query(WORDS, weight=0.3)
    np.testing.assert_allclose(Q, fuse(T, P, 0.3), atol=1e-6)
    np.testing.assert_allclose(model.encode_query(WORDS, weight=0.0), T, atol=1e-6)
    np.testing.assert_allclose(model.encode_query(WORDS, weight=1.0), P, atol=1e-6)


def test_images_logits_and_zero_shot(model):
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in range(3)]
    V = model.encode_image(images)
    assert V.shape == (3, 32)
    T = model.encode_text(WORDS[:4])
    L = model.logits(V, T)
    np.testing.assert_allclose(L, 100.0 * V @ T.T, rtol=1e-5)
    for query in ("text", "pronunciation", "fused"):
        probs = model.classify(images, WORDS[:4], query=query)
        assert probs.shape == (3, 4)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="query must be"):
        model.classify(images, WORDS[:4], query="smell")


def test_load_from_saved_folder_and_errors(model, tmp_path):
    model.pronunciation_encoder.save(tmp_path / "m", g2p=model.g2p)
    loaded = IPACLIP.load(tmp_path / "m", teacher=model.teacher)
    np.testing.assert_array_equal(
        loaded.encode_pronunciation(WORDS), model.encode_pronunciation(WORDS)
    )
    plain = IPACLIP(model.pronunciation_encoder, teacher=model.teacher)
    np.testing.assert_allclose(
        plain.encode_pronunciation(WORDS), model.encode_pronunciation(WORDS), atol=1e-6
    )
    assert plain.get_params()["g2p"] is None  # the default G2P is not written into params
    with pytest.raises(ValueError, match="exactly one"):
        model.encode_pronunciation(WORDS, ipa=["kæt"])
    with pytest.raises(ValueError, match="no image encoder"):
        IPACLIP(model.pronunciation_encoder).encode_image(["x.png"])
    with pytest.raises(ValueError, match="not fitted"):
        IPACLIP(PronunciationEncoder()).encode_pronunciation(["cat"])
    with pytest.raises(ValueError, match="same width"):
        model.logits(np.ones((2, 3)), np.ones((2, 4)))


def test_encode_language_is_the_g2ps_for_one_call(model):
    # #20.6: IPACLIP.encode and encode_pronunciation read texts in language= for one call.
    texts = ["Straße", "Buch"]
    ipa = IPATransformer(language="de").fit_transform(texts)
    german = model.encode_pronunciation(texts, language="de")
    np.testing.assert_allclose(german, model.encode_pronunciation(ipa=ipa), rtol=1e-6)
    np.testing.assert_allclose(
        model.encode(texts, query="pronunciation", language="de"), german, rtol=1e-5, atol=1e-6
    )
    fused = model.encode(texts, language="de")
    np.testing.assert_allclose(
        fused, fuse(model.encode_text(texts), german, model.fuse_weight), rtol=1e-5, atol=1e-6
    )
    assert model.g2p.language == "en-us" and model.g2p.get_params() == IPATransformer().get_params()
    with pytest.raises(ValueError, match="query='text' does not use it"):
        model.encode(texts, query="text", language="de")
    with pytest.raises(ValueError, match="not ipa="):
        model.encode_pronunciation(ipa=ipa, language="de")


# -- issue 20: scorers, the teacher of a target-array model, search --------------------------
def test_ipaclip_scorers_score_the_fused_query_against_the_teacher(model):
    from ipaclip.metrics import get_scorer, make_retrieval_scorer

    fused = model.encode_query(WORDS)
    T = model.encode_text(WORDS)
    expected = float(np.mean(np.sum(fused * T, axis=1)))
    assert get_scorer("fidelity")(model, WORDS, WORDS) == pytest.approx(expected, abs=1e-5)
    hits = np.mean((fused @ T.T).argmax(axis=1) == np.arange(len(WORDS)))
    assert make_retrieval_scorer("recall", k=1)(model, WORDS, WORDS) == pytest.approx(hits)
    # Targets given as rows are compared as given (unit rows).
    assert get_scorer("fidelity")(model, WORDS, T * 3.0) == pytest.approx(expected, abs=1e-5)


def test_gridsearch_over_fuse_weight_with_ipaclip_scorers(model):
    from sklearn.model_selection import GridSearchCV

    from ipaclip.metrics import get_scorer

    weights = [0.0, 0.5, 1.0]
    search = GridSearchCV(
        model,
        {"fuse_weight": weights},
        scoring=get_scorer("fidelity"),
        cv=2,
        error_score="raise",
    )
    search.fit(WORDS, WORDS)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    # fuse_weight=0 is the teacher against itself: fidelity 1.
    assert scores[0] == pytest.approx(1.0, abs=1e-5)
    assert scores[2] < 1.0 - 1e-3
    assert search.best_params_ == {"fuse_weight": 0.0}
    assert search.best_estimator_.pronunciation_encoder is model.pronunciation_encoder


def test_ipaclip_over_a_target_array_model_needs_a_teacher():
    g2p = IPATransformer()
    Y = np.random.default_rng(0).normal(size=(len(WORDS), 8)).astype(np.float32)
    enc = PronunciationEncoder(width=16, layers=1, heads=2, epochs=1, random_state=0)
    enc.fit(g2p.fit_transform(WORDS), Y)
    assert enc.teacher_id_ is None
    clip = IPACLIP(enc, g2p=g2p)
    with pytest.raises(
        ValueError, match=r"teacher_id_ is None.*IPACLIP\(encoder, teacher=\.\.\.\)"
    ):
        clip.fit()
    with pytest.raises(ValueError, match=r"IPACLIP\(encoder, teacher=\.\.\.\)"):
        clip.encode_text(["cat"])
    with pytest.raises(ValueError, match=r"IPACLIP\(encoder, teacher=\.\.\.\)"):
        clip.encode(["cat"])  # the fused query reads the text tower
    # The pronunciation path needs no teacher; an explicit teacher is accepted.
    assert clip.encode(["cat"], query="pronunciation").shape == (1, 8)
    text = tiny_clip_text_encoder(embed_dim=8)
    assert IPACLIP(enc, teacher=text, g2p=g2p).fit() is not None


def test_ipaclip_ipa_path_refuses_spelling(model):
    with pytest.raises(ValueError, match="looks like spelling"):
        model.encode_pronunciation(ipa=["quick", "kwik", "the", "night"])


def test_ipaclip_similarity_and_nearest_follow_encode(model):
    for query in ("fused", "pronunciation", "text"):
        E = model.encode(WORDS, query=query)
        S = model.similarity(WORDS[:3], WORDS, query=query)
        np.testing.assert_allclose(S, E[:3] @ E.T, atol=1e-5)
        hits = model.nearest(WORDS[:3], E, k=4, query=query)
        for i, row in enumerate(hits):
            order = np.lexsort((np.arange(len(WORDS)), -(E[i] @ E.T)))[:4]
            assert [h["corpus_id"] for h in row] == order.tolist()
            assert row[0]["corpus_id"] == i
            assert [h["score"] for h in row] == sorted((h["score"] for h in row), reverse=True)


@pytest.fixture(scope="module")
def rhymes_teacher():
    return tiny_clip_text_encoder()


@pytest.fixture(scope="module")
def rhymes_fitted(rhymes_teacher):
    g2p = IPATransformer()
    enc = small_encoder(epochs=2, teacher=rhymes_teacher)
    return enc.fit(g2p.fit_transform(RHYMES_TEXT), RHYMES_TEXT), g2p


@pytest.mark.slow
def test_ipaclip_clone_keeps_the_fitted_encoder_and_fuse_weight_is_searchable(
    rhymes_fitted, rhymes_teacher
):
    enc, g2p = rhymes_fitted
    model = IPACLIP(enc, teacher=rhymes_teacher, g2p=g2p, fuse_weight=0.5)
    twin = clone(model)
    assert twin.pronunciation_encoder is enc and twin.fuse_weight == 0.5
    np.testing.assert_allclose(
        twin.encode(RHYMES_TEXT[:2]), model.encode(RHYMES_TEXT[:2]), atol=1e-6
    )

    def respell_recall(estimator, X, y):
        Q = estimator.encode(list(X))
        T = estimator.encode_text(list(y))
        return float(((Q @ T.T).argmax(1) == np.arange(len(X))).mean())

    search = GridSearchCV(
        model, {"fuse_weight": [0.0, 0.5, 1.0]}, scoring=respell_recall, cv=KFold(2)
    )
    search.fit(RHYMES_TEXT, RHYMES_TEXT)
    assert search.best_params_["fuse_weight"] in (0.0, 0.5, 1.0)
    assert search.best_estimator_.pronunciation_encoder is enc
    assert np.allclose(search.cv_results_["mean_test_score"][0], 1.0)  # text query finds text
    with pytest.raises(ValueError, match="fuse_weight must be"):
        clone(model).set_params(fuse_weight=2).fit()
    Q = model.encode(RHYMES_TEXT[:2], query="pronunciation")
    np.testing.assert_allclose(Q, model.encode_pronunciation(RHYMES_TEXT[:2]), atol=1e-6)


def _ipaclip_takes_texts(estimator) -> dict[str, str]:
    reason = (
        "IPACLIP encodes texts and images; its fit() takes no X and only checks that the "
        "pronunciation encoder is fitted (the unfitted one here is refused by name)"
    )
    return {name: reason for name in (*FIT_ON_ARRAY_CHECKS, "check_fit_score_takes_y")}


@parametrize_with_checks(
    [IPACLIP(PronunciationEncoder(width=16, layers=1, heads=2, epochs=1, random_state=0))],
    expected_failed_checks=_ipaclip_takes_texts,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
