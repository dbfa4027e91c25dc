"""ipaclip/evaluation/human.py: Vitz & Winkler data, the per-word Pearson protocol and
HumanSimilarityEvaluator."""

import numpy as np
import pytest

from ipaclip.evaluation.human import (
    PUBLISHED,
    STANDARD_WORDS,
    evaluate_human_similarity,
    format_human_similarity,
    load_vitz_winkler,
)
from tests.fixtures import LetterEncoder, identity
from tests.fixtures import letter_counts as _letters

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


def test_ipa_input_goes_through_the_g2p_function():
    score = {r["word1"]: r["obtained"] / 4 for r in ROWS}
    inner = _embedding_from_score(score)
    seen = []

    def embed(ipas):
        seen.extend(ipas)
        return inner([s[1:-1] for s in ipas])

    res = evaluate_human_similarity(embed, g2p=lambda ws: [f"/{w}/" for w in ws], embed_input="ipa")
    assert res["pearson"] == pytest.approx(1.0)
    assert all(s.startswith("/") for s in seen) and len(seen) == 104
    with pytest.raises(ValueError, match="needs a g2p function"):
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


# --------------------------------------------------------------------------------------------
# HumanSimilarityEvaluator
# --------------------------------------------------------------------------------------------
def test_human_fused_with_weight_zero_equals_text():
    from ipaclip.evaluation import evaluate_model

    res = evaluate_model(
        LetterEncoder(), g2p=identity, evaluators="human", fuse_weight=0.0, verbose=0
    )["human"]
    assert res["fused"]["pearson"] == pytest.approx(res["text"]["pearson"], abs=1e-6)
    expected = evaluate_human_similarity(_letters)["pearson"]
    assert res["text"]["pearson"] == pytest.approx(expected, abs=1e-6)
    shifted = LetterEncoder({"plant": "sit", "sit": "plant"})
    res = evaluate_model(shifted, g2p=identity, evaluators="human", fuse_weight=1.0, verbose=0)
    assert res["human"]["fused"]["pearson"] == pytest.approx(
        res["human"]["pronunciation"]["pearson"], abs=1e-6
    )
    assert res["human"]["pronunciation"]["pearson"] != pytest.approx(
        res["human"]["text"]["pearson"], abs=1e-6
    )


def test_human_evaluator_scores_each_query_type_with_pearson_primary():
    from ipaclip.evaluation import HumanSimilarityEvaluator, Queries

    evaluator = HumanSimilarityEvaluator()
    scores = evaluator(Queries.from_model(LetterEncoder(), g2p=identity))
    expected = evaluate_human_similarity(_letters)
    assert scores["text/pearson"] == pytest.approx(expected["pearson"], abs=1e-12)
    assert scores[evaluator.primary_metric] == scores["pronunciation/pearson"]
    assert scores["fused/pearson_per_word/plant"] == pytest.approx(
        expected["pearson_per_word"]["plant"], abs=1e-12
    )
    assert evaluator.info_ == {q: {"n_pairs": 100} for q in ("text", "pronunciation", "fused")}
    assert all(isinstance(v, float) for v in scores.values())
