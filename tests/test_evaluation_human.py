"""Vitz & Winkler human similarity: data loading and the per-word Pearson protocol."""

import numpy as np
import pytest

from ipaclip.evaluation.human import (
    PUBLISHED,
    STANDARD_WORDS,
    evaluate_human_similarity,
    format_human_similarity,
    load_vitz_winkler,
)

ROWS = load_vitz_winkler()
STANDARD = set(STANDARD_WORDS)


def _embedding_from_score(score):
    """Unit vectors whose cosine with every standard word is ``score[word]`` (in [-1, 1])."""

    def embed(words):
        X = np.zeros((len(words), 2))
        for i, w in enumerate(words):
            s = 1.0 if w in STANDARD else score[w]
            X[i] = [s, np.sqrt(1 - s * s)]
        return X

    return embed


def test_load_vitz_winkler():
    assert len(ROWS) == 100
    assert [sum(r["word2"] == s for r in ROWS) for s in STANDARD_WORDS] == [25, 25, 25, 25]
    assert ROWS[-1] == {
        "word1": "belation",
        "word2": "relation",
        "vw_predicted": 0.14,
        "obtained": 3.33,
    }
    assert len({r["word1"] for r in ROWS}) == 100  # each comparison word rated once


def test_similarity_linear_in_rating_gives_pearson_one():
    score = {r["word1"]: r["obtained"] / 4 for r in ROWS}
    res = evaluate_human_similarity(_embedding_from_score(score))
    assert res["pearson"] == pytest.approx(1.0)
    assert res["spearman"] == pytest.approx(1.0)
    assert set(res["pearson_per_word"]) == STANDARD
    reversed_ = evaluate_human_similarity(_embedding_from_score({w: -s for w, s in score.items()}))
    assert reversed_["pearson"] == pytest.approx(-1.0)


def test_per_word_pearson_matches_direct_computation():
    # Similarity = the authors' predicted distance, scaled: per word, our value must equal
    # the plain correlation of vw_predicted with obtained over that word's 25 pairs.
    score = {r["word1"]: r["vw_predicted"] / 2 for r in ROWS}
    res = evaluate_human_similarity(_embedding_from_score(score))
    for s in STANDARD_WORDS:
        batch = [r for r in ROWS if r["word2"] == s]
        x = np.array([r["vw_predicted"] for r in batch])
        y = np.array([r["obtained"] for r in batch])
        dx, dy = x - x.mean(), y - y.mean()
        expected = (dx @ dy) / np.sqrt((dx @ dx) * (dy @ dy))
        assert res["pearson_per_word"][s] == pytest.approx(expected)
    assert res["pearson"] == pytest.approx(np.mean(list(res["pearson_per_word"].values())))


def test_ipa_input_goes_through_ipa_function():
    score = {r["word1"]: r["obtained"] / 4 for r in ROWS}
    inner = _embedding_from_score(score)
    seen = []

    def embed(ipas):
        seen.extend(ipas)
        return inner([s[1:-1] for s in ipas])

    res = evaluate_human_similarity(embed, ipa=lambda ws: [f"/{w}/" for w in ws], embed_input="ipa")
    assert res["pearson"] == pytest.approx(1.0)
    assert all(s.startswith("/") for s in seen) and len(seen) == 104
    with pytest.raises(ValueError, match="needs an ipa function"):
        evaluate_human_similarity(embed, embed_input="ipa")


def test_bad_embeddings_are_reported():
    with pytest.raises(ValueError, match="one row per item"):
        evaluate_human_similarity(lambda ws: np.ones((3, 2)))
    with pytest.raises(ValueError, match="zero or non-finite row for item 0"):
        evaluate_human_similarity(lambda ws: np.zeros((len(ws), 2)))
    with pytest.raises(ValueError, match="same embedding similarity"):
        evaluate_human_similarity(lambda ws: np.ones((len(ws), 2)))


def test_format_lists_published_numbers():
    text = format_human_similarity({"pearson": 0.123}, name="IPA-CLIP")
    assert "IPA-CLIP" in text and "0.12" in text
    assert len(text.splitlines()) == 2 + len(PUBLISHED)
    assert PUBLISHED["TF-IDF, character n-grams"] == 0.85
