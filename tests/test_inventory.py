"""Tests for the IPA inventory: PanPhon's table, the symbol map and the tokenizer."""

from __future__ import annotations

import csv
import io
import unicodedata
from importlib import resources

import numpy as np
import panphon
import pytest

from ipaclip import PhonemeEmbedder
from ipaclip import inventory as inventory_module
from ipaclip.inventory import (
    FEATURE_NAMES,
    ITEM,
    PRIMARY,
    SECONDARY,
    SYLLABLE,
    TONE_BASE,
    UNKNOWN_BASE,
    UNTIED,
    WORD,
    get_inventory,
    symbol_rules,
)


@pytest.fixture(scope="module")
def inv():
    return get_inventory()


@pytest.fixture(scope="module")
def ft():
    return panphon.FeatureTable()


def symbols(inv, ipa: str) -> list[str]:
    codes, _ = inv.encode([ipa])
    return [inv.symbol(int(c)) for c in codes]


def _csv_rows() -> list[dict[str, str]]:
    """The data rows of the shipped table, read independently of ``symbol_rules``."""
    text = resources.files("ipaclip").joinpath("data/ipa_symbol_map.csv").read_text("utf-8")
    body = "\n".join(line for line in text.splitlines() if line and not line.startswith("#"))
    return list(csv.DictReader(io.StringIO(body)))


ROWS = _csv_rows()


# --------------------------------------------------------------------------------------------
# PanPhon's table
# --------------------------------------------------------------------------------------------
def test_feature_names_are_panphons(ft):
    assert FEATURE_NAMES == tuple(ft.names)
    assert len(FEATURE_NAMES) == 24


@pytest.mark.parametrize("seg", ["p", "b", "t͡ʃ", "iː", "ə˞", "ɪ̈", "pʰ", "ɡ", "ʔ", "˥"])
def test_segment_features_equal_panphon(inv, ft, seg):
    seg = unicodedata.normalize("NFD", seg)
    code = inv.segment_index[seg]
    assert inv.features[code].tolist() == ft.fts(seg).numeric()


def test_p_and_b_differ_in_voicing_only(inv):
    p, b = inv.features[inv.segment_index["p"]], inv.features[inv.segment_index["b"]]
    assert [FEATURE_NAMES[j] for j in np.flatnonzero(p != b)] == ["voi"]
    assert p[FEATURE_NAMES.index("voi")] == -1 and b[FEATURE_NAMES.index("voi")] == 1


def test_get_inventory_is_shared():
    assert get_inventory() is get_inventory()


# --------------------------------------------------------------------------------------------
# The symbol map
# --------------------------------------------------------------------------------------------
def test_every_csv_row_is_a_rule():
    rules = symbol_rules()
    assert len(rules) == len(ROWS) >= 30
    assert [r.source for r in rules] == [unicodedata.normalize("NFD", r["source"]) for r in ROWS]
    assert len({r.source for r in rules}) == len(rules), "duplicate sources"
    assert all(r.reason.strip() for r in rules), "every rule says why"
    by_source = {r.source: r.target for r in rules}
    assert by_source["|"] == " "  # "<space>" in the file
    assert by_source["ᵝ"] == ""  # empty target: deletion


@pytest.mark.parametrize("row", ROWS, ids=[f"U+{ord(r['source'][0]):04X}" for r in ROWS])
def test_every_rule_maps_source_to_target_and_is_counted(inv, row):
    source = unicodedata.normalize("NFD", row["source"])
    target = " " if row["target"] == "<space>" else row["target"]
    # Between a vowel and a consonant, as espeak writes them.
    written, expected = f"bˈa{source}b", f"bˈa{target}b"
    got, counts = inv.encode([written])
    want, want_counts = inv.encode([expected])
    assert got.tolist() == want.tolist()
    assert counts[source] == 1
    assert not want_counts or set(want_counts) == {UNTIED}
    assert (got > UNKNOWN_BASE).all(), f"{row['target']!r} is not fully known to the inventory"
    emb = PhonemeEmbedder().fit([written, "kˈæt"])
    assert emb.symbol_counts_[source] == 1
    assert emb.unknown_counts_ == {}


def test_rules_apply_longest_source_first(inv):
    # "ːː" is folded to one length mark, not read as a long segment plus a stray mark.
    assert symbols(inv, "wˈiːː") == ["w", "ˈ", "iː", "\\n"]
    _, counts = inv.encode(["wˈiːː"])
    assert counts == {"ːː": 1}


@pytest.mark.parametrize(
    "written, counted",
    [("bˈa::b", {":": 2, "ːː": 1}), ("bˈaː:b", {":": 1, "ːː": 1}), ("bˈaːːːb", {"ːː": 2})],
)
def test_length_marks_that_meet_after_the_table_fold_to_one(inv, written, counted):
    # Regression: "a::" became "aː" plus a stray, unknown "ː".
    codes, counts = inv.encode([written])
    assert [inv.symbol(int(c)) for c in codes] == ["b", "ˈ", "aː", "b", "\\n"]
    assert counts == counted


def test_map_symbols_counts_each_application(inv):
    from collections import Counter

    counts = Counter()
    out = inv.map_symbols("bˈʌɾɚ ɚ ʧ", counts)
    assert out == unicodedata.normalize("NFD", "bˈʌɾə˞ ə˞ t͡ʃ")
    assert counts == {"ɚ": 2, "ʧ": 1}


# --------------------------------------------------------------------------------------------
# Tokenisation
# --------------------------------------------------------------------------------------------
def test_encode_markers(inv):
    codes, _ = inv.encode(["ˌa.ˈb ma1"])
    a, b, m = (inv.segment_index[s] for s in "abm")
    assert codes.tolist() == [
        SECONDARY, a, SYLLABLE, PRIMARY, b, WORD, m, a, TONE_BASE - 1, ITEM,
    ]  # fmt: skip


def test_encode_batch_ends_every_item(inv):
    codes, _ = inv.encode(["ab", "cd"])
    assert codes.tolist() == [
        inv.segment_index["a"], inv.segment_index["b"], ITEM,
        inv.segment_index["c"], inv.segment_index["d"], ITEM,
    ]  # fmt: skip


def test_newline_inside_item_is_a_word_boundary(inv):
    assert symbols(inv, "a\nb") == ["a", " ", "b", "\\n"]


def test_whitespace_run_is_one_boundary(inv):
    assert symbols(inv, "a  \t b") == ["a", " ", "b", "\\n"]


def test_tied_affricate_is_one_segment_untied_is_two(inv):
    assert symbols(inv, "t͡ʃa") == ["t͡ʃ", "a", "\\n"]
    assert symbols(inv, "tʃa") == ["t", "ʃ", "a", "\\n"]


def test_tie_between_separate_segments_is_removed_and_counted(inv):
    codes, counts = inv.encode(["nˈa͡ɪt"])
    assert [inv.symbol(int(c)) for c in codes] == ["n", "ˈ", "a", "ɪ", "t", "\\n"]
    assert counts == {UNTIED: 1}


def test_diacritics_stay_on_their_base(inv):
    assert symbols(inv, "pʰa") == ["pʰ", "a", "\\n"]
    assert symbols(inv, "ˀta") == ["ˀt", "a", "\\n"]  # pre-glottalised
    assert symbols(inv, "ma˥˩") == ["m", "a", "˥", "˩", "\\n"]  # tone letters are segments


def test_unknown_symbol_gets_a_code_that_names_it(inv):
    codes, _ = inv.encode(["k@t"])
    assert codes[1] <= UNKNOWN_BASE
    assert inv.symbol(int(codes[1])) == "@"
    again, _ = inv.encode(["@"])
    assert again[0] == codes[1]  # the same symbol keeps its code
    assert not inv.is_valid("k@t")
    assert inv.is_valid("kˈæt dˈɔɡ")
    assert inv.is_valid("bˈʌɾɚ")  # after normalisation


def test_symbol_of_markers(inv):
    assert [inv.symbol(c) for c in (PRIMARY, SECONDARY, WORD, SYLLABLE, ITEM)] == [
        "ˈ", "ˌ", " ", ".", "\\n",
    ]  # fmt: skip
    assert inv.symbol(TONE_BASE - 3) == "3"


def test_unknown_codes_need_no_table_and_stay_bounded(monkeypatch):
    # Regression: every distinct unknown symbol was appended to a table that never shrank
    # (unknown="ignore" over arbitrary text grew it without bound).
    monkeypatch.setattr(inventory_module, "RESOLVE_CACHE_SIZE", 100)
    inv = inventory_module.Inventory()
    symbols = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]  # 3,000 distinct CJK characters
    items = [f"k{a}{b}t" for a, b in zip(symbols, symbols[1:] + symbols[:1])]
    codes, _ = inv.encode(items)
    unknown = codes[codes <= UNKNOWN_BASE]
    assert len(unknown) == 2 * len(items)
    assert [inv.symbol(int(c)) for c in unknown[::2]] == symbols  # all named, none evicted
    assert inv._resolve_cached.cache_info().currsize == 100
    again, _ = inv.encode(items[:1])
    assert again.tolist() == codes[:5].tolist()  # the same codes in every call (and process)
    emb = PhonemeEmbedder(unknown="unk").fit(items[:500])
    assert set(emb.unknown_counts_) == set(symbols[:501])


def test_capital_letter_error_says_the_input_looks_like_spelling(inv):
    with pytest.raises(ValueError, match=r"'P' .* in item 1 \('Paris'\) .* looks like spelling"):
        inv.encode_known(["kˈæt", "Paris"])
