"""ipaclip/evaluation/_common.py: one vocabulary and one error message across the evaluation
modules; the old spellings are refused (no aliases inside the package)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ipaclip.evaluation._common import call_embed, call_g2p
from ipaclip.evaluation.human import evaluate_human_similarity
from ipaclip.evaluation.multimodal import multimodal_retrieval, zero_shot_classify
from ipaclip.evaluation.nonwords import nearest_real_words, nonword_phonetic_correlation
from ipaclip.evaluation.respell import generate_respellings, respelling_retrieval

IPAS = ["pæt", "bæt", "kɪt"]
WORDS = ["pat", "bat", "kit"]
FIRST = {"p": [1.0, 0.0], "b": [0.8, 0.6]}


def by_first_letter(xs):
    return np.array([FIRST.get(x[0], [0.0, 1.0]) for x in xs])


def to_ipa(xs):
    return [dict(zip(WORDS, IPAS)).get(x, x) for x in xs]


def test_one_error_message_for_bad_embeddings_everywhere():
    for call in (
        lambda embed: call_embed(embed, ["a", "b"]),
        lambda embed: nonword_phonetic_correlation(["a", "b", "c"], embed, ipas=IPAS),
        lambda embed: evaluate_human_similarity(embed),
    ):
        with pytest.raises(ValueError, match="returned 1 embeddings for .* one row per item"):
            call(lambda xs: np.ones((1, 2)))
        with pytest.raises(ValueError, match="all-zero row 0: a zero or non-finite row for"):
            call(lambda xs: np.zeros((len(xs), 2)))
        with pytest.raises(ValueError, match="NaN or infinite value in row 0"):
            call(lambda xs: np.full((len(xs), 2), np.nan))
        with pytest.raises(TypeError, match="must be a callable"):
            call("not a function")


def test_one_error_message_for_bad_g2p_functions():
    with pytest.raises(ValueError, match="g2p returned 1 transcriptions for 2 inputs"):
        call_g2p(lambda xs: ["a"], ["x", "y"])
    with pytest.raises(TypeError, match="g2p returned int for item 0 .'x'.; expected an IPA"):
        call_g2p(lambda xs: [1, 2], ["x", "y"])
    with pytest.raises(ValueError, match="g2p returned 1 transcriptions"):
        nonword_phonetic_correlation(WORDS, by_first_letter, g2p=lambda xs: ["a"])


def test_old_names_are_refused_not_aliased():
    new = nonword_phonetic_correlation(WORDS, by_first_letter, ipas=IPAS, embed_input="text")
    assert new["embed_input"] == "text" and not np.isnan(new["pearson"])
    with pytest.raises(ValueError, match="embed_input must be one of 'ipa', 'text'; got 'spel"):
        nonword_phonetic_correlation(WORDS, by_first_letter, ipas=IPAS, embed_input="spelling")
    with pytest.raises(TypeError, match="unexpected keyword argument 'ipa_fn'"):
        nonword_phonetic_correlation(WORDS, by_first_letter, ipa_fn=to_ipa)
    with pytest.raises(TypeError, match="unexpected keyword argument 'ipa'"):
        generate_respellings(["phat"], ipa=to_ipa)
    found = generate_respellings(["phat"], g2p=lambda xs: ["fæt"] * len(xs), random_state=0)
    assert found[0]["respelling"] is not None


def test_results_are_keyed_by_the_three_query_types():
    gallery = ["pat", "dog"]
    table = {"pat": [1.0, 0.0], "dog": [0.0, 1.0], "pæt": [1.0, 0.1], "pahtt": [0.2, 1.0]}

    def embed(xs):
        return np.array([table[x] for x in xs])

    out = respelling_retrieval(
        [("pat", "pahtt")], gallery, embed_gallery=embed, embed_text=embed,
        embed_pronunciation=embed, g2p=lambda xs: ["pæt"], ks=(1,),
    )  # fmt: skip
    assert set(out) >= {"text", "pronunciation", "fused"} and "pron" not in out
    assert type(out) is dict and json.loads(json.dumps(out)) == out
    images = np.eye(2)
    mm = multimodal_retrieval(
        images, ["pat", "dog"], embed_text=embed, embed_pronunciation=embed, g2p=to_ipa, ks=(1,)
    )
    assert "pronunciation" in mm and "pron" not in mm
    zs = zero_shot_classify(
        ["a", "b"],
        lambda xs: images,
        embed_text=embed,
        embed_pronunciation=embed,
        g2p=lambda xs: ["pæt", "dog"],
        class_names=["pat", "dog"],
        labels=[0, 1],
        template="{}",
        ks=(1,),
    )
    assert "pronunciation" in zs


def test_nearest_real_words_k_message_names_the_function():
    with pytest.raises(ValueError, match=r"k must be a positive integer; got 0 \(parameter of "
                       "nearest_real_words\\)"):  # fmt: skip
        nearest_real_words(["a"], by_first_letter, ["b"], by_first_letter, k=0)
