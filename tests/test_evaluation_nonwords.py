"""Tests for ipaclip.evaluation.nonwords: generation, phonetic correlation, nearest words."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ipaclip import IPATransformer
from ipaclip.datasets import load_cmudict_words
from ipaclip.evaluation.nonwords import (
    _pair_from_flat,
    generate_nonwords,
    is_real_word,
    nearest_real_words,
    nonword_phonetic_correlation,
)

# Three IPA strings with hand-computed phonetic similarities (1 - normalised feature edit
# distance; /p/ -> /b/ changes 1 of 24 features, an insertion costs 1):
#   pæt / bæt : 1 - (1/24) / 3       = 71/72
#   pæt / pæts: 1 - 1 / 4            = 3/4
#   bæt / pæts: 1 - (1/24 + 1) / 4   = 71/96
IPAS = ["pæt", "bæt", "pæts"]
PHON = np.array([71 / 72, 3 / 4, 71 / 96])  # pairs (0,1), (0,2), (1,2)


def embed_with_cosines(keys: list[str], c01: float, c02: float, c12: float):
    """An embedding function on ``keys`` whose pairwise cosines are the given values."""
    gram = np.array([[1.0, c01, c02], [c01, 1.0, c12], [c02, c12, 1.0]])
    vals, vecs = np.linalg.eigh(gram)
    rows = vecs * np.sqrt(np.clip(vals, 0, None))  # rows @ rows.T == gram
    table = dict(zip(keys, rows))
    calls: list[list[str]] = []

    def embed(xs: list[str]) -> np.ndarray:
        calls.append(list(xs))
        return np.array([table[x] for x in xs])

    embed.calls = calls
    return embed


# --------------------------------------------------------------------------------------------
# generation
# --------------------------------------------------------------------------------------------
def test_generate_nonwords_is_deterministic_and_seed_dependent():
    a = generate_nonwords(30, random_state=1)
    assert a == generate_nonwords(30, random_state=1)
    assert a != generate_nonwords(30, random_state=2)
    rng_words = generate_nonwords(30, random_state=np.random.RandomState(1))
    assert rng_words == a


def test_generated_nonwords_are_not_real_words_and_respect_constraints():
    words = generate_nonwords(60, random_state=0, min_length=5, max_length=7)
    lexicon = load_cmudict_words()
    assert len(words) == len(set(words)) == 60
    for w in words:
        assert 5 <= len(w) <= 7
        assert w.isalpha() and w == w.lower()
        assert w not in lexicon
        assert not is_real_word(w)
        assert any(c in "aeiouy" for c in w)


def test_is_real_word_inflections():
    lexicon = load_cmudict_words()
    assert is_real_word("Cat")  # case-insensitive
    assert not is_real_word("blorvin")
    # Forms missing from CMUdict whose stem is listed (checked in the asserts below).
    for form, stem in [
        ("blogged", "blog"),
        ("skims", "skim"),
        ("tweeting", "tweet"),
        ("catly", "cat"),
        ("exiling", "exile"),
    ]:
        assert form not in lexicon and stem in lexicon
        assert is_real_word(form), form
        assert not is_real_word(form, inflections=False), form
    assert "glazing" not in lexicon or is_real_word("glazing")


def test_generate_nonwords_gives_up_with_a_clear_error():
    # Every single letter is a CMUdict word, so no one-letter nonword exists.
    with pytest.raises(RuntimeError, match="found only 0 of 3"):
        generate_nonwords(3, random_state=0, min_length=1, max_length=1, max_tries=200)
    with pytest.raises(ValueError, match="max_length"):
        generate_nonwords(3, min_length=6, max_length=5)
    with pytest.raises(ValueError, match="n must be"):
        generate_nonwords(-1)


# --------------------------------------------------------------------------------------------
# correlation
# --------------------------------------------------------------------------------------------
def test_correlation_matches_hand_computed_values():
    cos = np.array([0.9, 0.1, 0.5])
    embed = embed_with_cosines(IPAS, *cos)
    result = nonword_phonetic_correlation(IPAS, embed, ipas=IPAS, embed_input="ipa")
    expected_pearson = np.corrcoef(cos, PHON)[0, 1]
    assert result["pearson"] == pytest.approx(expected_pearson, abs=1e-9)
    # Ranks: cos (3, 1, 2), phon (3, 2, 1): rho = 1 - 6 * (0 + 1 + 1) / (3 * 8) = 0.5.
    assert result["spearman"] == pytest.approx(0.5)
    assert result["n_items"] == 3 and result["n_pairs"] == 3
    assert result["embed_input"] == "ipa"
    json.dumps(result)  # plain JSON


def test_cosine_equal_to_phonetic_similarity_correlates_perfectly():
    embed = embed_with_cosines(IPAS, *PHON)
    result = nonword_phonetic_correlation(IPAS, embed, ipas=IPAS, embed_input="ipa")
    assert result["pearson"] == pytest.approx(1.0)
    assert result["spearman"] == pytest.approx(1.0)


def test_embed_input_selects_spelling_or_ipa():
    spellings = ["pat", "bat", "pats"]
    text_embed = embed_with_cosines(spellings, 0.9, 0.1, 0.5)
    nonword_phonetic_correlation(spellings, text_embed, ipas=IPAS)
    assert text_embed.calls == [spellings]
    pron_embed = embed_with_cosines(IPAS, 0.9, 0.1, 0.5)
    nonword_phonetic_correlation(spellings, pron_embed, ipas=IPAS, embed_input="ipa")
    assert pron_embed.calls == [IPAS]


def test_g2p_is_used_when_ipas_are_not_given():
    words = ["blick", "plick", "blicks"]
    g2p = IPATransformer()
    embed = embed_with_cosines(words, 0.9, 0.1, 0.5)
    via_fn = nonword_phonetic_correlation(words, embed, g2p=g2p.fit_transform)
    via_ipas = nonword_phonetic_correlation(words, embed, ipas=g2p.fit_transform(words))
    assert via_fn == via_ipas


def test_constant_embedding_gives_nan():
    def embed(xs):
        return np.ones((len(xs), 2))

    result = nonword_phonetic_correlation(IPAS, embed, ipas=IPAS)
    assert math.isnan(result["pearson"]) and math.isnan(result["spearman"])


def test_pair_subset_is_seeded_and_sized():
    ipas = ["pæt", "bæt", "pæts", "kæt", "ɡæt", "sæt"]
    rng = np.random.default_rng(0)
    vectors = dict(zip(ipas, rng.normal(size=(6, 4))))

    def embed(xs):
        return np.array([vectors[x] for x in xs])

    a = nonword_phonetic_correlation(ipas, embed, ipas=ipas, max_pairs=7, random_state=3)
    b = nonword_phonetic_correlation(ipas, embed, ipas=ipas, max_pairs=7, random_state=3)
    assert a == b and a["n_pairs"] == 7
    full = nonword_phonetic_correlation(ipas, embed, ipas=ipas, max_pairs=100)
    assert full["n_pairs"] == 15


def test_pair_from_flat_inverts_upper_triangle_order():
    n = 7
    ii, jj = np.triu_indices(n, k=1)
    a, b = _pair_from_flat(np.arange(len(ii)), n)
    np.testing.assert_array_equal(a, ii)
    np.testing.assert_array_equal(b, jj)


def test_correlation_input_errors():
    embed = embed_with_cosines(IPAS, 0.9, 0.1, 0.5)
    with pytest.raises(ValueError, match="exactly one of ipas"):
        nonword_phonetic_correlation(IPAS, embed)
    with pytest.raises(ValueError, match="ipas has 2 items"):
        nonword_phonetic_correlation(IPAS, embed, ipas=IPAS[:2])
    with pytest.raises(ValueError, match="at least 3"):
        nonword_phonetic_correlation(IPAS[:2], embed, ipas=IPAS[:2])
    with pytest.raises(ValueError, match="embed_input"):
        nonword_phonetic_correlation(IPAS, embed, ipas=IPAS, embed_input="audio")
    with pytest.raises(ValueError, match="all-zero row 1"):
        nonword_phonetic_correlation(IPAS, lambda xs: np.eye(3) * [1, 0, 1], ipas=IPAS)
    with pytest.raises(ValueError, match="returned 2 embeddings for 3"):
        nonword_phonetic_correlation(IPAS, lambda xs: np.eye(2), ipas=IPAS)


# --------------------------------------------------------------------------------------------
# nearest real words
# --------------------------------------------------------------------------------------------
def test_nearest_real_words_ranks_by_cosine_with_ties_in_gallery_order():
    vectors = {
        "kat": [1.0, 0.0],
        "cat": [0.8, 0.6],  # cosine 0.8
        "cot": [0.8, -0.6],  # cosine 0.8 (tie with "cat", later in the gallery)
        "dog": [0.0, 1.0],  # cosine 0
        "tac": [-1.0, 0.0],  # cosine -1
    }

    def embed(xs):
        return np.array([vectors[x] for x in xs])

    out = nearest_real_words(["kat"], embed, ["dog", "cat", "tac", "cot"], embed, k=3)
    assert out[0]["query"] == "kat"
    assert out[0]["neighbors"] == ["cat", "cot", "dog"]
    np.testing.assert_allclose(out[0]["cosines"], [0.8, 0.8, 0.0], atol=1e-12)
    # k larger than the gallery returns the whole gallery, best first.
    out = nearest_real_words(["kat", "dog"], embed, ["tac", "dog"], embed, k=10)
    assert [o["neighbors"] for o in out] == [["dog", "tac"], ["dog", "tac"]]
    json.dumps(out)


def test_nearest_real_words_errors():
    def embed2(xs):
        return np.ones((len(xs), 2))

    def embed3(xs):
        return np.ones((len(xs), 3))

    with pytest.raises(ValueError, match="same space"):
        nearest_real_words(["a"], embed2, ["b"], embed3)
    with pytest.raises(ValueError, match="k must be"):
        nearest_real_words(["a"], embed2, ["b"], embed2, k=0)
    with pytest.raises(ValueError, match="empty"):
        nearest_real_words(["a"], embed2, [], embed2)
    with pytest.raises(TypeError, match="callable"):
        nearest_real_words(["a"], "not a function", ["b"], embed2)
