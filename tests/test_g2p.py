"""Tests for IPATransformer (text → IPA) with the espeak, epitran and "ipa" backends."""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from ipaclip import IPATransformer, PhonemeEmbedder, available_languages, scripts
from ipaclip import _g2p_engines as engines


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
    assert emb.symbol_counts_ == {"-": 1}


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


@pytest.mark.parametrize("digits", ["٦٦", "६६", "６６", "𝟔𝟔", "۶۶", "๖๖"])
def test_digits_of_every_script_are_read_as_numbers(digits):
    # #17.9: 'route ٦٦' was read as 'route': espeak drops digits it has no reading for.
    g2p = IPATransformer()
    assert g2p.fit_transform([f"route {digits}"]) == ipa(["route 66"]) == ["ɹˈa͡ʊt sˈɪksti sˈɪks"]
    assert g2p.report_["plain_forms"] == {digits[0]: 2}
    assert g2p.report_["unread"] == {}


def test_a_non_ascii_digit_with_numbers_raise_is_named():
    with pytest.raises(ValueError, match=r"Item 1 \('route ٦٦'\) contains the digit '٦' \(ARABIC"):
        ipa(["cat", "route ٦٦"], numbers="raise")


@pytest.mark.parametrize("text", ["ｃａｔ", "𝐜𝐚𝐭", "𝒄𝒂𝒕", "ℂ𝔸𝕋"])
def test_fullwidth_and_mathematical_letters_read_as_plain_letters(text):
    # #17.9: they were spelled out as letter names with their code points.
    g2p = IPATransformer()
    assert g2p.fit_transform([text]) == ipa(["cat"]) == ["kˈæt"]
    assert g2p.report_["plain_forms"] == {ch: 1 for ch in text}


def test_plain_forms_keep_symbols_and_fractions_under_their_policies():
    assert ipa(["½"]) == ["ɐ hˈæf"]  # NFKC '1⁄2' has a fraction slash: read as it is
    with pytest.raises(ValueError, match=r"contains '™' \(TRADE MARK SIGN\)"):
        ipa(["brand™"])  # a symbol, not a letter: symbols='raise' still holds
    g2p = IPATransformer()
    assert g2p.fit_transform(["ﬁsh", "x²", "①"]) == ["fˈɪʃ", "ˈɛks tˈuː", "wˈʌn"]
    assert g2p.report_["plain_forms"] == {"ﬁ": 1, "①": 1}
    # Latin-1 is read by espeak as it is: NFKC would make the micro sign a Greek mu
    config = g2p._config()
    assert g2p.fit_transform(["5 µm"]) == engines._g2p_chunk(config, ["5 µm"])
    assert g2p.report_["plain_forms"] == {} and g2p.report_["language_switches"] == 0


def test_characters_the_voice_reads_as_nothing_are_counted_and_warned(caplog):
    with caplog.at_level(logging.WARNING, logger="ipaclip.g2p"):
        g2p = IPATransformer()
        out = g2p.fit_transform(["Hawaiʻi", "ꜣ cat", "cat ⅕"])
    assert out[1] == out[2] == "kˈæt"
    assert g2p.report_["unread"] == {"ʻ": 1, "ꜣ": 1, "⅕": 1}
    assert "reads 3 character(s) as nothing" in caplog.text
    assert "'ꜣ' (LATIN SMALL LETTER EGYPTOLOGICAL ALEF)" in caplog.text
    # a word routed to another voice is asked of that voice (ar drops U+0870)
    g2p = IPATransformer(language_switch="ignore")
    assert g2p.fit_transform(["cat كتابࡰ"]) == ["kˈæt " + ipa(["كتاب"], language="ar")[0]]
    assert g2p.report_["unread"] == {"ࡰ": 1}
    with caplog.at_level(logging.WARNING, logger="ipaclip.g2p"):
        caplog.clear()
        assert IPATransformer().fit_transform(["route ٦٦", "ｃａｔ"])
    assert "as nothing" not in caplog.text


BLOCKS = {  # where espeak's en-us voice drops characters without a trace
    "Latin-1 Supplement": (0x00A0, 0x0100),
    "Arabic-Indic digits": (0x0660, 0x066A),
    "Ethiopic numbers": (0x1369, 0x137D),
    "Number Forms": (0x2150, 0x2190),
    "Enclosed Alphanumerics": (0x2460, 0x2500),
    "Latin Extended-D": (0xA720, 0xA800),
    "Fullwidth": (0xFF10, 0xFF5B),
    "Mathematical digits": (0x1D7CE, 0x1D800),
}


def test_no_letter_or_number_vanishes_uncounted():
    # Every letter or number espeak reads as nothing is either read in a plain form or
    # counted, in blocks where espeak drops some (found by reading each character alone).
    config = IPATransformer()._config()
    chars = [
        chr(cp)
        for lo, hi in BLOCKS.values()
        for cp in range(lo, hi)
        if chr(cp).isprintable() and unicodedata.category(chr(cp))[0] in "LN"
    ]
    dropped = {ch for ch, out in zip(chars, engines._g2p_chunk(config, chars)) if not out}
    assert len(dropped) > 100  # the blocks do hold characters espeak drops
    g2p = IPATransformer(language_switch="ignore")
    g2p.fit_transform([f"cat {ch}" for ch in chars])
    report = g2p.report_
    assert dropped <= set(report["plain_forms"]) | set(report["unread"])
    assert not set(report["plain_forms"]) & set(report["unread"])


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
    engines._epitran_languages.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"pip install 'ipaclip\[epitran\]'"):
            ipa(["Hund"], backend="epitran", language="deu-Latn")
    finally:
        engines._epitran_languages.cache_clear()


@pytest.mark.slow
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
    real = engines._g2p_chunk

    def counting(config, texts):
        calls.append(list(texts))
        return real(config, texts)

    monkeypatch.setattr(engines, "_g2p_chunk", counting)
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


# --------------------------------------------------------------------------------------------
# Text in a script the voice does not read (#11.7)
# --------------------------------------------------------------------------------------------
def test_non_latin_text_is_read_by_a_voice_of_its_script(caplog):
    # The English voice spelled these out with invented letter names, unflagged and uncounted.
    russian = ipa(["Здравствуйте"], language="ru")[0]
    chinese = ipa(["世界"], language="cmn")[0]
    with caplog.at_level(logging.WARNING, logger="ipaclip.g2p"):
        g2p = IPATransformer()
        out = g2p.fit_transform(["Здравствуйте", "世界", "a cat called Мурка"])
    assert out[:2] == [russian, chinese]
    assert out[2] == "ɐ kˈæt kˈɔːld " + ipa(["Мурка"], language="ru")[0]
    assert g2p.report_["script_mismatches"] == {"Cyrillic": 2, "Han": 1}
    assert g2p.report_["language_switches"] == 3
    assert "1 in Han to 'cmn'" in caplog.text and "2 in Cyrillic to 'ru'" in caplog.text
    emb = PhonemeEmbedder().fit(out)  # real phonemes, no letter names
    assert emb.unknown_counts_ == {}


def test_script_mismatch_is_a_language_switch():
    with pytest.raises(ValueError, match="switched language .*Cyrillic to 'ru'"):
        ipa(["Здравствуйте"], language_switch="raise")
    g2p = IPATransformer(language_switch="ignore")
    assert g2p.fit_transform(["γεια"]) == ipa(["γεια"], language="el")
    assert g2p.report_["script_mismatches"] == {"Greek": 1}


def test_script_mismatch_raise_names_item_word_and_voice():
    with pytest.raises(
        ValueError,
        match=r"Item 1 \('a cat called Мурка'\): 'Мурка' is in the Cyrillic script, which the "
        r"espeak voice 'en-us' does not read; .* script_mismatch='route' to read it with the "
        r"'ru' voice",
    ):
        ipa(["dog", "a cat called Мурка"], script_mismatch="raise")


def test_script_mismatch_spell_keeps_letter_names_and_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="ipaclip.g2p"):
        g2p = IPATransformer(script_mismatch="spell")
        (out,) = g2p.fit_transform(["世界"])
    assert out.split() == [out.split()[0]] * 2  # one letter name, twice
    assert g2p.report_["script_mismatches"] == {"Han": 1}
    assert g2p.report_["language_switches"] == 0
    assert "spelled out letter by letter" in caplog.text


def test_script_without_a_voice_is_an_error():
    with pytest.raises(ValueError, match="no espeak voice reads Cherokee"):
        ipa(["ᏣᎳᎩ"])


def test_voice_reads_its_own_scripts_and_routes_the_others():
    # Serbian reads both of its alphabets; the Japanese voice reads kana, and Latin goes to
    # English (kanji: test_japanese_kanji_are_refused_not_read_as_mandarin).
    g2p = IPATransformer(language="sr", language_switch="raise")
    g2p.fit_transform(["mama", "мама"])
    assert g2p.report_["script_mismatches"] == {}
    g2p = IPATransformer(language="ja", language_switch="ignore")
    latin, kana = g2p.fit_transform(["cat", "ねこ"])
    assert latin == ipa(["cat"])[0]
    assert g2p.report_["script_mismatches"] == {"Latin": 1}


def test_lexicon_words_stay_with_the_voice():
    g2p = IPATransformer(lexicon={"мурка": "mˈurkə"}, language_switch="raise")
    assert g2p.fit_transform(["a cat called Мурка"]) == ["ɐ kˈæt kˈɔːld mˈurkə"]
    assert g2p.report_["script_mismatches"] == {}


def test_every_bundled_voice_has_its_scripts():
    assert set(available_languages()) <= set(scripts._voice_table()[0])
    for script, voice in scripts._voice_table()[1].items():
        assert script in scripts.voice_scripts("espeak", voice)


@pytest.mark.parametrize("voice", ["en-us", "ru", "sr", "el", "cmn", "ja", "ar", "hi", "de"])
def test_probing_espeak_agrees_with_the_shipped_table(voice):
    # What a voice missing from the table (another espeak-ng) gets.
    assert scripts.probe_voice_scripts(voice) == scripts.voice_scripts("espeak", voice)


# --------------------------------------------------------------------------------------------
# Parameters named up front (#11.8)
# --------------------------------------------------------------------------------------------
def test_language_none_is_a_named_error():
    with pytest.raises(ValueError, match=r"language must be .*str.*; got None \(parameter of"):
        IPATransformer(language=None).fit(["cat"])


@pytest.mark.parametrize("method", ["fit_transform", "transform"])
def test_n_jobs_0_fails_before_any_work(monkeypatch, method):
    def fail(config, texts):
        raise AssertionError("G2P ran")

    monkeypatch.setattr(engines, "_g2p_chunk", fail)
    with pytest.raises(ValueError, match=r"n_jobs must be .*; got 0 \(parameter of IPATransf"):
        getattr(IPATransformer(n_jobs=0, cache=False), method)(["cat", "dog"])


def test_numpy_integers_are_accepted():
    g2p = IPATransformer(n_jobs=np.int64(1), batch_size=np.int64(1))  # as GridSearchCV passes
    assert g2p.fit_transform(["cat", "dog"]) == ["kˈæt", "dˈɑːɡ"]


# --------------------------------------------------------------------------------------------
# Bounded, thread-safe caches (#11.12)
# --------------------------------------------------------------------------------------------
WORDS = [f"{a} {b}" for a in ("red", "blue", "green", "old") for b in ("cat", "dog", "fish")]


def _bytes_for(n_entries: int) -> int:
    """A byte bound that holds at least ``n_entries`` of the WORDS readings."""
    config = IPATransformer()._config()
    readings = IPATransformer(cache=False).fit_transform(WORDS)
    return n_entries * max(engines.entry_bytes((config, w), r) for w, r in zip(WORDS, readings))


def test_cache_filled_past_its_bound_in_one_call(monkeypatch):
    # Regression: the full cache was cleared in the middle of a call, which then looked up
    # the texts it had found there before: KeyError.
    expected = IPATransformer(cache=False).fit_transform(WORDS)
    monkeypatch.setattr(engines, "CACHE", engines.LRUCache(maxbytes=_bytes_for(4)))
    g2p = IPATransformer()
    assert g2p.fit_transform(WORDS[:3]) == expected[:3]
    assert g2p.transform(WORDS + WORDS[:3]) == expected + expected[:3]  # 3 hits + 9 misses
    assert 4 <= len(engines.CACHE) < len(WORDS)
    assert engines.CACHE.nbytes <= engines.CACHE.maxbytes


def test_cache_from_several_threads(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    expected = dict(zip(WORDS, IPATransformer(cache=False).fit_transform(WORDS)))
    monkeypatch.setattr(engines, "CACHE", engines.LRUCache(maxbytes=_bytes_for(5)))
    rng = np.random.default_rng(0)
    batches = [list(rng.choice(WORDS, size=8)) for _ in range(24)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = list(pool.map(IPATransformer().fit_transform, batches))
    for batch, out in zip(batches, outputs):
        assert out == [expected[t] for t in batch]
    assert 0 < engines.CACHE.nbytes <= engines.CACHE.maxbytes
    assert engines.CACHE.nbytes == sum(
        engines.entry_bytes(k, v)
        for k, v in engines.CACHE.get_many(list(engines.CACHE._data)).items()
    )


def test_lru_cache_forgets_the_least_recently_used():
    cache = engines.LRUCache(maxbytes=3 * engines.entry_bytes("a", 1))
    cache.put_many([("a", 1), ("b", 2), ("c", 3)])
    assert cache.get_many(["a", "zzz"]) == {"a": 1}
    cache.put_many([("d", 4)])  # "b" is the least recently used now
    assert cache.get_many(["a", "b", "c", "d"]) == {"a": 1, "c": 3, "d": 4}


def test_lru_cache_is_bounded_by_bytes_not_entries():
    small, big = "x" * 10, "y" * 10_000
    cache = engines.LRUCache(maxbytes=2 * engines.entry_bytes("big0", big) + 200)
    cache.put_many((f"k{i}", small) for i in range(20))
    assert len(cache) == 20  # many small entries fit
    cache.put_many([("big0", big), ("big1", big)])
    assert sorted(cache.get_many(["big0", "big1"])) == ["big0", "big1"]
    assert len(cache) < 20 and cache.nbytes <= cache.maxbytes  # small ones made room
    cache.put_many([("huge", "z" * 100_000)])  # larger than the whole bound: not kept
    assert cache.get_many(["huge"]) == {} and cache.nbytes <= cache.maxbytes
    cache.put_many([("big0", small)])  # a refreshed entry is counted at its new size
    held = cache.get_many(list(cache._data))
    assert cache.nbytes == sum(engines.entry_bytes(k, v) for k, v in held.items())


def _long_texts(n: int, size: int) -> list[str]:
    """``n`` distinct texts of ``size`` characters, letters only (nothing to clean), in
    long words (splitting them into many short ones only makes the test slower)."""
    words = ["".join("abcdefghij"[int(d)] for d in f"{i:04d}") * 250 for i in range(n)]
    return [(word + " ") * (size // (len(word) + 1)) for word in words]


def _retained_by_reading(texts, monkeypatch) -> int:
    """Bytes that stay allocated after reading ``texts`` and dropping the answer."""
    import gc
    import tracemalloc

    def fake_engine(config, chunk):  # a reading as long as the text, without espeak's time
        return [t.upper() for t in chunk]

    monkeypatch.setattr(engines, "_g2p_chunk", fake_engine)
    g2p = IPATransformer(language_switch="ignore").fit(["warm up"])
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out = g2p.transform(texts)
        assert out == [" ".join(t.upper().split()) for t in texts]  # answered in full
        del out
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_150_long_texts_never_keep_more_than_the_byte_bound(monkeypatch):
    # #17.15: the cache was bounded at 200,000 entries, and 150 texts of 100 kB kept 15 MB.
    texts = _long_texts(150, 100_000)
    monkeypatch.setattr(engines, "CACHE", engines.LRUCache(maxbytes=engines.CACHE_BYTES))
    unbounded = _retained_by_reading(texts, monkeypatch)  # 64 MiB: everything fits
    assert unbounded > 2 * 150 * 100_000 * 0.9  # the measure sees texts and readings
    bound = 2 * 2**20
    monkeypatch.setattr(engines, "CACHE", engines.LRUCache(maxbytes=bound))
    retained = _retained_by_reading(texts, monkeypatch)
    assert engines.CACHE.nbytes <= bound and 1 <= len(engines.CACHE) < 150
    assert retained <= bound + 256 * 2**10, f"{retained / 2**20:.1f} MiB kept"


# --------------------------------------------------------------------------------------------
# Parallel G2P (#12.8)
# --------------------------------------------------------------------------------------------
def test_small_inputs_are_read_serially_with_the_default_process_pool(monkeypatch):
    # Regression: n_jobs=2 started loky workers for any input of two chunks or more, which
    # cost seconds where reading takes milliseconds.
    def no_pool(*args, **kwargs):
        raise AssertionError("joblib.Parallel was used")

    monkeypatch.setattr(engines, "Parallel", no_pool)
    texts = [f"the {w} sat on a mat" for w in ("cat", "dog", "bird", "fish", "horse")]
    expected = ipa(texts, cache=False)
    assert ipa(texts, n_jobs=2, batch_size=2, cache=False) == expected
    assert len(texts) < engines.PARALLEL_MIN_TEXTS


def test_parallel_reading_above_the_crossover_equals_serial(monkeypatch):
    monkeypatch.setattr(engines, "PARALLEL_MIN_TEXTS", 4)
    texts = [f"a {w} and a {v}" for w in ("cat", "dog", "bird") for v in ("hat", "mat", "bat")]
    expected = ipa(texts, cache=False)
    assert ipa(texts, n_jobs=2, cache=False) == expected  # loky: two chunks, two workers


def test_chunks_respect_batch_size_and_feed_every_worker():
    texts = [str(i) for i in range(10)]
    assert [len(c) for c in engines.chunks(texts, batch_size=4, workers=1)] == [4, 4, 2]
    assert [len(c) for c in engines.chunks(texts, batch_size=100, workers=4)] == [3, 3, 3, 1]
    assert sum(engines.chunks(texts, batch_size=3, workers=2), []) == texts


def test_parallel_g2p_on_a_dask_cluster():
    pytest.importorskip(
        "dask.distributed", reason="dask is not installed: pip install 'ipaclip[dask]'"
    )
    import joblib
    from dask.distributed import Client, get_task_stream

    texts = [f"a {w} on a {v}" for w in ("cat", "dog", "bird") for v in ("mat", "hat")]
    expected = ipa(texts, cache=False)
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None):
        with joblib.parallel_config(backend="dask"), get_task_stream() as tasks:
            out = IPATransformer(n_jobs=2, batch_size=2, cache=False).fit_transform(texts)
    assert out == expected
    assert len(tasks.data) >= 1  # the chunks ran on the dask cluster, few as they are


# --------------------------------------------------------------------------------------------
# phonemizer's copies of the espeak library (#17.19)
# --------------------------------------------------------------------------------------------
def _espeak_library() -> Path:
    import espeakng_loader

    return Path(espeakng_loader.get_library_path()).resolve()


def _fake_copy(folder: Path, name: str, *, age: float = 0.0, extra: bool = False) -> Path:
    """A folder like phonemizer's: a copy of the library, ``age`` seconds old."""
    library = _espeak_library()
    path = folder / name
    path.mkdir()
    shutil.copy(library, path / library.name)
    if extra:
        (path / "notes.txt").write_text("the user's")
    stamp = time.time() - age
    os.utime(path / library.name, (stamp, stamp))
    return path


def test_only_unused_old_lone_copies_of_the_library_are_removed(tmp_path):
    import ctypes

    old = 2 * engines.STALE_COPY_AGE_S
    stale = _fake_copy(tmp_path, "tmpstale", age=old)
    young = _fake_copy(tmp_path, "tmpyoung")  # its process may not have loaded it yet
    crowded = _fake_copy(tmp_path, "tmpcrowded", age=old, extra=True)  # not only the library
    named = _fake_copy(tmp_path, "mine", age=old)  # not a tempfile.mkdtemp() name
    loaded = _fake_copy(tmp_path, "tmploaded", age=old)
    ctypes.CDLL(str(loaded / _espeak_library().name))  # this live process has it loaded
    other = tmp_path / "tmpother"
    other.mkdir()
    (other / _espeak_library().name).write_bytes(b"not the library")
    os.utime(other / _espeak_library().name, (time.time() - old,) * 2)

    removed = engines.remove_stale_espeak_copies(_espeak_library(), tmp_path)
    assert removed == [stale]
    assert not stale.exists()
    for kept in (young, crowded, named, loaded, other):
        assert kept.is_dir() and any(kept.iterdir()), kept


@pytest.mark.slow
def test_a_killed_process_leaves_no_espeak_copy_past_the_next_start(tmp_path):
    # phonemizer copies libespeak-ng.so into a new tempfile.mkdtemp() folder per engine and
    # removes it only when the engine is collected: SIGKILL left 102 folders in a loop.
    folder = tmp_path / "tmp"
    folder.mkdir()
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "TMPDIR": str(folder), "PYTHONPATH": root}
    hold = (
        "from ipaclip import _g2p_engines as e; e.load(('espeak', 'en-us', True, True)); "
        "print('ready', flush=True); import time; time.sleep(120)"
    )

    def copies() -> set[Path]:
        return {p for p in folder.glob("tmp*") if (p / _espeak_library().name).exists()}

    def start() -> subprocess.Popen:
        child = subprocess.Popen(
            [sys.executable, "-c", hold], env=env, stdout=subprocess.PIPE, text=True
        )
        assert child.stdout.readline().strip() == "ready"
        return child

    killed = start()
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    left_by_kill = copies()
    assert left_by_kill  # the fault: SIGKILL leaves phonemizer's copies behind
    live = start()
    try:
        in_use = copies() - left_by_kill
        assert in_use
        stamp = time.time() - 2 * engines.STALE_COPY_AGE_S  # both were made a while ago
        for path in copies():
            os.utime(path / _espeak_library().name, (stamp, stamp))
        subprocess.run(
            [sys.executable, "-c", "from ipaclip import IPATransformer; IPATransformer().fit()"],
            env=env,
            check=True,
            timeout=120,
        )
        assert copies() == in_use  # the killed one's are gone, the live one's are kept,
        # and the next process removed its own at exit
    finally:
        live.kill()
        live.wait()


# --------------------------------------------------------------------------------------------
# Latin letters the voice's language does not write; kanji for Japanese (#20.6)
# --------------------------------------------------------------------------------------------
def test_latin_letters_the_language_does_not_write_are_counted_and_warned(caplog):
    # "Straße" was read as English, /stɹˈeɪs/, with no word said.
    with caplog.at_level(logging.WARNING, logger="ipaclip.g2p"):
        g2p = IPATransformer()
        out = g2p.fit_transform(["a cat", "café naïve jalapeño", "die Straße", "Łódź"])
    assert g2p.report_["foreign_letters"] == {"ß": 1, "ł": 1, "ó": 1, "ź": 1}
    assert g2p.report_["language_switches"] == 0  # read as English: no switch, a warning
    assert "2 word(s) have letters" in caplog.text
    assert "Item 2 ('die Straße'): the word 'Straße' has 'ß'" in caplog.text
    assert "language='de'" in caplog.text
    # Read by the voice of its language, the same word is German, and nothing is said.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ipaclip.g2p"):
        de = IPATransformer(language="de")
        (german,) = de.fit_transform(["Straße"])
    assert german != out[2].split()[1] and not de.report_["foreign_letters"]
    assert caplog.text == ""


def test_foreign_letters_raise_or_ignore_by_language_switch(caplog):
    with pytest.raises(
        ValueError,
        match=r"Item 1 \('Łódź'\): the word 'Łódź' has 'łóź', which the language of the 'en-us' "
        r"voice does not write; .* language='pl'",
    ):
        ipa(["cat", "Łódź"], language_switch="raise")
    with caplog.at_level(logging.WARNING, logger="ipaclip.g2p"):
        g2p = IPATransformer(language_switch="ignore")
        g2p.fit_transform(["Dvořák"])
    assert dict(g2p.report_["foreign_letters"]) == {"ř": 1}
    assert caplog.text == ""
    # A lexicon entry is the user's pronunciation: nothing to flag.
    g2p = IPATransformer(lexicon={"straße": "ʃtʁaːsə"}, language_switch="raise")
    assert g2p.fit_transform(["die Straße"]) == [ipa(["die"])[0] + " ʃtʁaːsə"]
    assert not g2p.report_["foreign_letters"]


def test_the_letter_table_holds_lowercase_latin_letters_of_known_voices():
    table = scripts._voice_table()[2]
    assert {"en-us", "de", "fr-fr", "pl", "es"} <= set(table) <= set(available_languages())
    for voice, letters in table.items():
        for ch in letters:
            assert not ch.isascii() and unicodedata.category(ch) == "Ll", (voice, ch)
            assert scripts.letter_script(ch) == "Latin", (voice, ch)
        assert "Latin" in scripts.voice_scripts("espeak", voice), voice
    assert table["id"] == frozenset()  # '-': a-z only, checked
    assert scripts.foreign_letters("id", "Straße") == "ß"
    assert scripts.foreign_letters("vi", "Straße") == ""  # not listed: not checked


def test_the_english_letters_are_ones_espeak_reads_as_letters_of_their_own():
    # The provenance of the English row: each of its letters is read otherwise than the
    # unaccented letter in some word, so English rules know it; ß, ł and å are not.
    def base(ch):
        return unicodedata.normalize("NFD", ch)[0]

    contexts = ["ta{}ta", "ta{}", "pa{}o", "{}la"]

    def differs(ch, other, contexts=contexts):
        words = [c.format(ch) for c in contexts] + [c.format(other) for c in contexts]
        out = engines._g2p_chunk(("espeak", "en-us", True, True), words)
        return out[: len(contexts)] != out[len(contexts) :]

    for ch in scripts._voice_table()[2]["en-us"]:
        assert differs(ch, base(ch)), ch
    for ch, plain in [("ß", "ss"), ("ł", "l"), ("å", "a"), ("ø", "o")]:
        assert not differs(ch, plain, contexts[:2]), ch  # inside and at the end of a word


def test_japanese_kanji_are_refused_not_read_as_mandarin(caplog):
    # espeak's Japanese voice spells kanji as "chinese letter"; routing them to the Mandarin
    # voice read 東京 as Mandarin /tˈoŋ5 tɕˈi5ŋ/ with only a generic switch warning.
    for policy in ("route", "raise"):
        with pytest.raises(
            ValueError,
            match=r"Item 0 \('東京'\).*Japanese writes Han \(kanji\).* write it in kana, "
            r"or pass language='cmn' if the text is Chinese",
        ):
            ipa(["東京", "とうきょう"], language="ja", script_mismatch=policy)
    assert ipa(["とうきょう"], language="ja", language_switch="raise")[0].startswith("t")
    # Han in English text still goes to the Mandarin voice, and spelling is still an opt-in.
    assert ipa(["世界"], language_switch="ignore") == ipa(["世界"], language="cmn")
    with caplog.at_level(logging.WARNING, logger="ipaclip.g2p"):
        g2p = IPATransformer(language="ja", script_mismatch="spell")
        g2p.fit_transform(["東京"])
    assert g2p.report_["script_mismatches"] == {"Han": 1}
    assert "spelled out letter by letter" in caplog.text


def test_resolve_g2p_language_is_a_copy_for_one_call():
    from ipaclip.g2p import resolve_g2p

    saved = IPATransformer(language="fr-fr", with_stress=False)
    g2p = resolve_g2p(saved=saved, language="de")
    assert (g2p.language, g2p.with_stress, saved.language) == ("de", False, "fr-fr")
    assert resolve_g2p(saved=saved) is saved
    with pytest.raises(ValueError, match="language='de' needs a G2P with a language parameter"):
        resolve_g2p(g2p=str.lower, language="de")


# --------------------------------------------------------------------------------------------
# The README's dask snippet, as printed (#20.21)
# --------------------------------------------------------------------------------------------
README_DASK_SNIPPET = """
import joblib
from dask.distributed import Client
from ipaclip import IPATransformer

client = Client(processes=False)  # or Client("scheduler-address:8786"), Client(LocalCluster())
with joblib.parallel_config(backend="dask"):
    ipa = IPATransformer(n_jobs=-1, batch_size=2048).fit_transform(texts)
client.close()
"""


@pytest.mark.slow
def test_the_readme_dask_snippet_runs_on_a_client(monkeypatch):
    # Without a Client, joblib's dask backend fails ("No clients found"); the README's
    # snippet had none.
    pytest.importorskip("dask.distributed", reason="pip install 'ipaclip[dask]'")
    texts = [f"{n} blue cats sat on {n + 1} mats" for n in range(3000, 3300)]
    expected = ipa(texts, cache=False)
    used = []

    class Recording(engines.Parallel):
        def __call__(self, iterable):
            used.append(type(self._backend).__name__)
            return super().__call__(iterable)

    monkeypatch.setattr(engines, "Parallel", Recording)
    namespace = {"texts": texts}
    exec(README_DASK_SNIPPET, namespace)
    assert namespace["ipa"] == expected
    assert used == ["DaskDistributedBackend"]  # read on the cluster, 300 texts as they are
    assert namespace["client"].status == "closed"


# String input (input_tags.string=True): scikit-learn runs its clone check only; the tests above
# cover get_params/set_params, pickling, Pipeline and grid search.
@parametrize_with_checks([IPATransformer()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
