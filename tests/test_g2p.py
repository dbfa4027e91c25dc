"""Tests for IPATransformer (text → IPA) with the espeak, epitran and "ipa" backends."""

from __future__ import annotations

import json
import logging
import pickle
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from ipaclip import IPATransformer, PhonemeEmbedder, available_languages
from ipaclip import g2p as g2p_module


def ipa(texts, **params) -> list[str]:
    return IPATransformer(**params).fit_transform(texts)


# --------------------------------------------------------------------------------------------
# Known transcriptions (espeak-ng en-us)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("cat", "kˈæt"),
        ("knight", "nˈa͡ɪt"),
        ("butter", "bˈʌɾɚ"),
        ("roses", "ɹˈo͡ʊzᵻz"),
        ("a black cat", "ɐ blˈæk kˈæt"),
        ("Hello, world!", "həlˈo͡ʊ wˈɜːld"),
        ("don't", "dˈo͡ʊnt"),
    ],
)
def test_known_transcriptions(text, expected):
    assert ipa([text]) == [expected]


def test_without_stress_and_ties():
    assert ipa(["a black cat"], with_stress=False) == ["ɐ blæk kæt"]
    assert ipa(["knight"], tie=False) == ["nˈaɪt"]


@pytest.mark.parametrize(
    "a, b",
    [("knight", "night"), ("knows", "nose"), ("sea", "see"), ("right", "write"), ("two", "too")],
)
def test_homophones_are_identical(a, b):
    x, y = ipa([a, b])
    assert x == y
    emb = PhonemeEmbedder().fit([x, y])
    sx, sy = emb.transform([x, y])
    assert np.array_equal(sx, sy)


def test_multi_word_caption_keeps_word_boundaries():
    (out,) = ipa(["The knight rode at night"])
    assert out.split(" ") == ["ðə", "nˈa͡ɪt", "ɹˈo͡ʊd", "æt", "nˈa͡ɪt"]
    assert ipa(["a black cat"], word_separator="|") == ["ɐ|blˈæk|kˈæt"]
    seqs = PhonemeEmbedder().fit_transform([out])
    assert seqs.tokens(0).count("<wb>") == 4


# --------------------------------------------------------------------------------------------
# Languages
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "language, text, expected",
    [
        ("fr-fr", "le chat noir", "lə- ʃˈa nwˈaʁ"),
        ("de", "der Hund", "dɛɾ hˈʊnt"),
        ("es", "el perro", "el pˈero"),
        ("ru", "собака", "sʌbˈɑka"),  # Cyrillic (non-Latin scripts: no input letter in the IPA)
        ("el", "σκύλος", "scˈilos"),  # Greek
        ("hi", "कुत्ता", "kˈʊtːaː"),  # Devanagari
        ("ja", "ねこ", "nˈe̞ko̞"),  # kana
        ("cmn", "猫", "mˈɑ͡u5"),  # Han, with a tone number
    ],
)
def test_languages_smoke(language, text, expected):
    g2p = IPATransformer(language=language, language_switch="raise")
    (out,) = g2p.fit_transform([text])
    assert out == expected
    if not text.isascii():
        assert not set(out) & set(text), "letters of the input script leaked into the IPA"
    emb = PhonemeEmbedder(unknown="raise").fit([out])
    assert emb.unknown_counts_ == {}
    assert g2p.report_["language_switches"] == 0


def test_french_clitic_link_is_normalised():
    (out,) = ipa(["le chat noir"], language="fr-fr")
    assert out == "lə- ʃˈa nwˈaʁ"
    emb = PhonemeEmbedder().fit([out])
    assert emb.normalization_counts_ == {"-": 1}


def test_language_switch_policies(caplog):
    with caplog.at_level(logging.WARNING, logger="ipaclip.g2p"):
        g2p = IPATransformer(language="ru")
        (out,) = g2p.fit_transform(["hello мир"])
    assert "(" not in out and out.split()[1] == "mʲˈir"
    assert g2p.report_["language_switches"] == 1
    assert "switched language" in caplog.text and "'hello мир'" in caplog.text
    with pytest.raises(ValueError, match="switched language .* language_switch='warn'"):
        ipa(["hello мир"], language="ru", language_switch="raise")


def test_available_languages():
    espeak = available_languages()
    assert {"en-us", "fr-fr", "ru", "cmn"} <= set(espeak)
    assert "deu-Latn" in available_languages("epitran")
    with pytest.raises(ValueError, match="backend='ipa' has no language list"):
        available_languages("ipa")


def test_unknown_language_suggests_close_codes():
    with pytest.raises(ValueError, match=r"Unknown language 'en-xx' .* Did you mean 'en-us'"):
        ipa(["cat"], language="en-xx")
    with pytest.raises(ValueError, match="Unknown language 'xxx-Latn' for the epitran backend"):
        ipa(["cat"], backend="epitran", language="xxx-Latn")


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "X, error, message",
    [
        ("a cat", TypeError, r"string object received. Wrap a single text in a list: \['a cat'\]"),
        (None, TypeError, "got None"),
        (5, TypeError, "got int"),
        (["cat", 3], TypeError, r"Item 1 is 3 \(int\), not a string"),
        (["cat", None], TypeError, r"Item 1 is None \(NoneType\)"),
        (["cat", ""], ValueError, "Item 1 is '': an empty or whitespace-only text"),
        (["cat", " \t\n"], ValueError, "Item 1 is ' \\\\t\\\\n'"),
        (np.array([["cat"]]), ValueError, r"1-D array of texts, got an array of shape \(1, 1\)"),
    ],
)
def test_bad_input(X, error, message):
    with pytest.raises(error, match=message):
        IPATransformer().fit_transform(X)


def test_iterables_arrays_and_frames_are_accepted():
    expected = ["kˈæt", "dˈɑːɡ"]
    assert ipa(("cat", "dog")) == expected
    assert ipa(t for t in ["cat", "dog"]) == expected
    assert ipa(np.array(["cat", "dog"])) == expected
    assert ipa(pd.Series(["cat", "dog"])) == expected
    assert ipa(pd.DataFrame({"text": ["cat", "dog"]})) == expected


def test_numbers_expand_or_raise():
    assert ipa(["42"]) == ["fˈɔː͡ɹɾi tˈuː"]
    with pytest.raises(ValueError, match=r"Item 1 \('room 101'\) contains the digit '1'"):
        ipa(["cat", "room 101"], numbers="raise")


def test_punctuation_strip_counts_or_raises():
    g2p = IPATransformer()
    assert g2p.fit_transform(["Hello, world!", "cat."]) == ["həlˈo͡ʊ wˈɜːld", "kˈæt"]
    assert g2p.report_["stripped"] == {",": 1, "!": 1, ".": 1}
    with pytest.raises(ValueError, match=r"Item 1 \('hi, there'\) contains the punctuation ','"):
        ipa(["cat", "hi, there"], punctuation="raise")
    # apostrophes and hyphens inside words are part of the word, not punctuation
    assert ipa(["don't", "ice-cream"], punctuation="raise") == ["dˈo͡ʊnt", "ˈa͡ɪskɹˈiːm"]
    with pytest.raises(ValueError, match=r"Item 0 \('!!!'\) has nothing to pronounce"):
        ipa(["!!!"])


def test_emoji_raise_or_strip():
    with pytest.raises(ValueError, match=r"Item 1 \('cat 🐱'\) contains '🐱' \(CAT FACE\)"):
        ipa(["dog", "cat 🐱"])
    g2p = IPATransformer(symbols="strip")
    assert g2p.fit_transform(["cat 🐱"]) == ["kˈæt"]
    assert g2p.report_["stripped"] == {"🐱": 1}


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"backend": "festival"},
            "backend must be one of 'epitran', 'espeak', 'ipa'; got 'festival'",
        ),
        ({"numbers": "spell"}, "numbers must be one of 'expand', 'raise'; got 'spell'"),
        ({"punctuation": "keep"}, "punctuation must be one of 'raise', 'strip'; got 'keep'"),
        ({"symbols": "keep"}, "symbols must be one of 'raise', 'strip'; got 'keep'"),
        ({"language_switch": "no"}, "language_switch must be one of .*; got 'no'"),
        ({"batch_size": 0}, "batch_size must be a positive integer; got 0"),
        ({"word_separator": ""}, "word_separator must be a non-empty str; got ''"),
    ],
)
def test_bad_params(params, message):
    # The one validation mechanism (ipaclip._validation): "{name} must be {what}; got {value}".
    with pytest.raises(ValueError, match=message + r" \(parameter of IPATransformer\)"):
        IPATransformer(**params).fit(["cat"])


# --------------------------------------------------------------------------------------------
# epitran and the "ipa" passthrough
# --------------------------------------------------------------------------------------------
def test_epitran_not_installed_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "epitran", None)  # makes "import epitran" fail
    g2p_module._epitran_languages.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"pip install 'ipaclip\[epitran\]'"):
            ipa(["Hund"], backend="epitran", language="deu-Latn")
    finally:
        g2p_module._epitran_languages.cache_clear()


def test_epitran_backend():
    pytest.importorskip("epitran")
    assert ipa(["Hund"], backend="epitran", language="deu-Latn") == ["hʊnt"]


def test_ipa_passthrough_validates():
    g2p = IPATransformer(backend="ipa", word_separator="|")
    assert g2p.fit_transform(["kˈæt  dˈɔɡ", "bˈʌɾɚ"]) == ["kˈæt|dˈɔɡ", "bˈʌɾɚ"]
    with pytest.raises(ValueError, match=r"'@' \(U\+0040\) in item 1 \('k@t'\)"):
        IPATransformer(backend="ipa").fit_transform(["kæt", "k@t"])
    with pytest.raises(TypeError, match="string object received"):
        IPATransformer(backend="ipa").fit_transform("kæt")


# --------------------------------------------------------------------------------------------
# Lexicon
# --------------------------------------------------------------------------------------------
def test_lexicon_dict_is_consulted_first():
    g2p = IPATransformer(lexicon={"Cat": "mjˈa͡ʊ"})
    assert g2p.fit_transform(["the cat sat", "CAT", "dog"]) == [
        "ðə mjˈa͡ʊ sˈæt",
        "mjˈa͡ʊ",
        "dˈɑːɡ",
    ]
    assert g2p.report_["lexicon_hits"] == 2


def test_lexicon_when_numbers_change_the_word_count():
    # "42" is read as two words, so the phrase is read in runs around the lexicon word.
    (out,) = ipa(["42 cats"], lexicon={"cats": "mjˈa͡ʊz"})
    assert out == "fˈɔː͡ɹɾi tˈuː mjˈa͡ʊz"


@pytest.mark.parametrize("suffix", [".tsv", ".csv", ".json"])
def test_lexicon_files(tmp_path, suffix):
    path = tmp_path / f"lexicon{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps({"cat": "mjˈa͡ʊ"}), encoding="utf-8")
    else:
        sep = "\t" if suffix == ".tsv" else ","
        path.write_text(f"# word{sep}ipa\ncat{sep}mjˈa͡ʊ\n", encoding="utf-8")
    assert ipa(["a cat"], lexicon=path) == ["ɐ mjˈa͡ʊ"]
    assert ipa(["a cat"], lexicon=str(path)) == ["ɐ mjˈa͡ʊ"]


def test_bad_lexicons(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("cat\tkæt\ndog\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: expected 2 columns"):
        ipa(["cat"], lexicon=bad)
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        ipa(["cat"], lexicon=tmp_path / "missing.tsv")
    with pytest.raises(ValueError, match="'two words' must be a single word"):
        ipa(["cat"], lexicon={"two words": "x"})
    with pytest.raises(ValueError, match="pronunciation of 'cat' is empty"):
        ipa(["cat"], lexicon={"cat": " "})


# --------------------------------------------------------------------------------------------
# Parallelism and cache
# --------------------------------------------------------------------------------------------
def test_n_jobs_2_equals_n_jobs_1():
    texts = [f"the {w} sat on a mat" for w in ("cat", "dog", "bird", "fish", "horse", "mouse")]
    one = ipa(texts, n_jobs=1, batch_size=2, cache=False)
    two = ipa(texts, n_jobs=2, batch_size=2, cache=False)
    assert two == one
    assert one[0] == "ðə kˈæt sˈæt ˌɔn ɐ mˈæt"


def test_cache(monkeypatch):
    calls = []
    real = g2p_module._g2p_chunk

    def counting(config, texts):
        calls.append(list(texts))
        return real(config, texts)

    monkeypatch.setattr(g2p_module, "_g2p_chunk", counting)
    texts = ["a zebra in the cache test", "another zebra"]
    g2p = IPATransformer()
    first = g2p.fit_transform(texts)
    assert calls == [texts]
    assert g2p.transform(texts + texts) == first + first
    assert len(calls) == 1  # served from the cache
    assert IPATransformer(cache=False).fit_transform(texts) == first
    assert len(calls) == 2
    # another configuration has its own entries
    IPATransformer(with_stress=False).fit_transform(texts)
    assert len(calls) == 3


def test_report_counts_items_and_unique_texts():
    g2p = IPATransformer()
    g2p.fit_transform(["cat", "cat", "dog"])
    assert g2p.report_["n_items"] == 3 and g2p.report_["n_unique"] == 2


# --------------------------------------------------------------------------------------------
# scikit-learn contract
# --------------------------------------------------------------------------------------------
def test_tags():
    tags = IPATransformer().__sklearn_tags__()
    assert tags.input_tags.string is True
    assert tags.input_tags.two_d_array is False
    assert tags.requires_fit is False
    assert IPATransformer().transform(["cat"]) == ["kˈæt"]  # no fit needed


def test_clone_get_set_params():
    g2p = IPATransformer(language="fr-fr", lexicon={"chat": "ʃa"}, n_jobs=2)
    twin = clone(g2p)
    assert twin.get_params() == g2p.get_params()
    assert twin.get_params()["lexicon"] == {"chat": "ʃa"}
    assert twin.set_params(language="de") is twin and twin.language == "de"
    # set_params replaces the parsed lexicon
    g2p = IPATransformer(lexicon={"cat": "mjˈa͡ʊ"})
    assert g2p.transform(["a cat"]) == ["ɐ mjˈa͡ʊ"]
    g2p.set_params(lexicon={"cat": "kˈɪɾi"})
    assert g2p.transform(["a cat"]) == ["ɐ kˈɪɾi"]


def test_pickle_round_trip():
    g2p = IPATransformer(lexicon={"cat": "mjˈa͡ʊ"}, language_switch="ignore")
    out = g2p.fit_transform(["a cat"])
    back = pickle.loads(pickle.dumps(g2p))
    assert back.get_params() == g2p.get_params()
    assert back.transform(["a cat"]) == out
    assert back.report_ == g2p.report_


def test_get_feature_names_out():
    assert IPATransformer().get_feature_names_out().tolist() == ["ipa"]


def test_in_pipeline():
    pipe = Pipeline([("g2p", IPATransformer()), ("emb", PhonemeEmbedder(pooling="sum"))])
    out = pipe.fit_transform(["knight", "night", "cat"])
    assert out.shape == (3, 41)
    assert np.array_equal(out[0], out[1]) and not np.array_equal(out[0], out[2])
    assert pipe.get_feature_names_out()[0] == "sum_syl"


def test_set_output_pandas_feeds_the_embedder():
    frame = IPATransformer().set_output(transform="pandas").fit_transform(["cat", "dog"])
    assert list(frame.columns) == ["ipa"] and frame["ipa"].tolist() == ["kˈæt", "dˈɑːɡ"]
    seqs = PhonemeEmbedder().fit_transform(frame)  # a one-column frame is accepted
    assert seqs.tokens(1) == ["<bos>", "d", "ɑː", "ɡ", "<eos>"]
