"""One vocabulary across the evaluation modules; the old spellings warn and keep working."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from ipaclip.evaluation._common import call_embed, call_ipa
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


def test_one_error_message_for_bad_ipa_functions():
    with pytest.raises(ValueError, match="ipa returned 1 transcriptions for 2 inputs"):
        call_ipa(lambda xs: ["a"], ["x", "y"])
    with pytest.raises(TypeError, match="ipa returned int for item 0 .'x'.; expected an IPA"):
        call_ipa(lambda xs: [1, 2], ["x", "y"])
    with pytest.raises(ValueError, match="ipa returned 1 transcriptions"):
        nonword_phonetic_correlation(WORDS, by_first_letter, ipa=lambda xs: ["a"])


def test_embed_input_spelling_is_text_with_a_future_warning():
    new = nonword_phonetic_correlation(WORDS, by_first_letter, ipas=IPAS, embed_input="text")
    with pytest.warns(FutureWarning, match="embed_input='spelling' is deprecated; use 'text'|"
                      "embed_input='text'"):  # fmt: skip
        old = nonword_phonetic_correlation(
            WORDS, by_first_letter, ipas=IPAS, embed_input="spelling"
        )
    assert old == new and new["embed_input"] == "text" and not np.isnan(new["pearson"])
    with pytest.raises(ValueError, match="embed_input must be one of 'ipa', 'text'"):
        evaluate_human_similarity(by_first_letter, embed_input="spelling!")


def test_ipa_fn_keyword_still_works_with_a_future_warning():
    new = nonword_phonetic_correlation(WORDS, by_first_letter, ipa=to_ipa)
    with pytest.warns(FutureWarning, match="ipa_fn= is deprecated; use ipa="):
        old = nonword_phonetic_correlation(WORDS, by_first_letter, ipa_fn=to_ipa)
    assert old == new and not np.isnan(new["pearson"])
    with pytest.warns(FutureWarning, match="ipa_fn="):
        found = generate_respellings(["phat"], ipa_fn=lambda xs: ["fæt"] * len(xs), random_state=0)
    assert found == generate_respellings(["phat"], ipa=lambda xs: ["fæt"] * len(xs), random_state=0)
    with pytest.raises(TypeError, match="both ipa= and its deprecated name ipa_fn="):
        generate_respellings(["phat"], ipa=to_ipa, ipa_fn=to_ipa)


def test_pronunciation_key_with_pron_as_a_warning_alias():
    gallery = ["pat", "dog"]
    table = {"pat": [1.0, 0.0], "dog": [0.0, 1.0], "pæt": [1.0, 0.1], "pahtt": [0.2, 1.0]}

    def embed(xs):
        return np.array([table[x] for x in xs])

    out = respelling_retrieval(
        [("pat", "pahtt")], gallery, embed, embed, embed, ipa=lambda xs: ["pæt"], ks=(1,)
    )
    assert set(out) >= {"text", "pronunciation", "fused"} and "pron" not in out
    assert "pron" not in json.loads(json.dumps(out))
    with pytest.warns(FutureWarning, match="'pron' is deprecated; use 'pronunciation'"):
        assert out["pron"] == out["pronunciation"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert out.get("text") == out["text"]
    images = np.eye(2)
    mm = multimodal_retrieval(images, ["pat", "dog"], embed, embed, ipa=to_ipa, ks=(1,))
    assert "pronunciation" in mm
    zs = zero_shot_classify(
        ["a", "b"], lambda xs: images, embed, embed, ipa=lambda xs: ["pæt", "dog"],
        class_names=["pat", "dog"], labels=[0, 1], template="{}", ks=(1,),
    )  # fmt: skip
    assert "pronunciation" in zs


def test_nearest_real_words_k_message_names_the_function():
    with pytest.raises(ValueError, match=r"k must be a positive integer; got 0 \(parameter of "
                       "nearest_real_words\\)"):  # fmt: skip
        nearest_real_words(["a"], by_first_letter, ["b"], by_first_letter, k=0)
