"""ipaclip.search: semantic_search in blocks, similarity and nearest on PronunciationEncoder."""

from __future__ import annotations

import numpy as np
import pytest

from ipaclip import IPATransformer, PronunciationEncoder
from ipaclip.search import cosine_similarity, semantic_search


def _brute(Q, C, k):
    Q = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    C = C / np.linalg.norm(C, axis=1, keepdims=True)
    S = Q @ C.T
    return [np.lexsort((np.arange(len(C)), -row))[:k].tolist() for row in S], S


@pytest.mark.parametrize("chunks", [(1024, 65536), (3, 7), (1, 1)])
def test_semantic_search_in_blocks_matches_brute_force(chunks):
    rng = np.random.default_rng(0)
    Q, C = rng.normal(size=(11, 6)), rng.normal(size=(50, 6))
    C[7] = C[3]  # a tie: the lower corpus_id comes first
    Q[0] = C[3]
    expected, S = _brute(Q, C, 5)
    hits = semantic_search(Q, C, 5, query_chunk_size=chunks[0], corpus_chunk_size=chunks[1])
    assert [[h["corpus_id"] for h in row] for row in hits] == expected
    for i, row in enumerate(hits):
        np.testing.assert_allclose([h["score"] for h in row], S[i, expected[i]], atol=1e-5)
    assert [h["corpus_id"] for h in hits[0][:2]] == [3, 7]
    assert len(semantic_search(Q, C[:2], 5)[0]) == 2  # at most the corpus
    np.testing.assert_allclose(cosine_similarity(Q, C), S, atol=1e-5)


def test_semantic_search_refuses_mismatched_widths_and_bad_k():
    with pytest.raises(ValueError, match="width"):
        semantic_search(np.ones((1, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="top_k"):
        semantic_search(np.ones((1, 3)), np.ones((2, 3)), top_k=0)


WORDS = ["cat", "hat", "bat", "night", "knight", "light", "fish", "dish", "photograph", "phone"]


@pytest.fixture(scope="module")
def encoder():
    g2p = IPATransformer()
    Y = np.random.default_rng(0).normal(size=(len(WORDS), 8)).astype(np.float32)
    enc = PronunciationEncoder(width=16, layers=1, heads=2, epochs=2, random_state=0)
    return enc.fit(g2p.fit_transform(WORDS), Y)


def test_encoder_similarity_and_nearest_read_texts_or_embeddings(encoder):
    E = encoder.encode(WORDS)
    np.testing.assert_allclose(encoder.similarity(WORDS[:2], WORDS), E[:2] @ E.T, atol=1e-5)
    np.testing.assert_allclose(encoder.similarity(E[:2], WORDS), E[:2] @ E.T, atol=1e-5)
    hits = encoder.nearest(["fotograf", "nite"], WORDS, k=3)
    Q = encoder.encode(["fotograf", "nite"])
    expected, _ = _brute(Q, E, 3)
    assert [[h["corpus_id"] for h in row] for row in hits] == expected
    # Homophones through the G2P: "knight" and "night" embed alike, so each finds both.
    top2 = {h["corpus_id"] for h in encoder.nearest(["nite"], E, k=2)[0]}
    assert top2 == {WORDS.index("night"), WORDS.index("knight")}
    with pytest.raises(ValueError, match=r"single string.*\['fotograf'\]"):
        encoder.nearest("fotograf", WORDS)
    with pytest.raises(ValueError, match="looks like spelling"):
        encoder.nearest(encoder.encode(ipa=["kwik", "the", "quick", "night"]), E)
