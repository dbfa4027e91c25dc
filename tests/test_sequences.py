"""PhonemeSequences.truncate and the length policy (issue #19)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ipaclip import PhonemeEmbedder
from ipaclip.sequences import apply_truncation

IPA = ["kˈæt", "dˈɑːɡ ænd kˈæt", "ʃˈɪp"]


@pytest.fixture(scope="module")
def seqs():
    return PhonemeEmbedder().fit(IPA).transform(IPA)


def test_truncate_keeps_the_start_and_eos_and_leaves_short_items(seqs):
    cut = seqs.truncate(6)
    assert cut.lengths.tolist() == [5, 6, 5]
    full = seqs.tokens(1)
    assert cut.tokens(1) == full[:5] + ["<eos>"]
    assert cut.tokens(0) == seqs.tokens(0) and cut.tokens(2) == seqs.tokens(2)
    np.testing.assert_array_equal(cut[1][:5], seqs[1][:5])
    assert seqs.truncate(100) is seqs


def test_truncate_without_special_tokens_keeps_the_first_tokens():
    plain = PhonemeEmbedder(add_special_tokens=False).fit(IPA).transform(IPA)
    assert plain.truncate(3).tokens(1) == plain.tokens(1)[:3]


@pytest.mark.parametrize("policy", ["warn", "ignore"])
def test_warn_and_ignore_cut_and_count(seqs, policy):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cut, truncated = apply_truncation(seqs, 5, policy, IPA)
    assert truncated.tolist() == [1]
    assert cut.lengths.max() == 5 and len(cut) == 3
    messages = [str(w.message) for w in caught]
    if policy == "ignore":
        assert messages == []
    else:
        assert len(messages) == 1  # once per call, however many items are long
        assert "1 of 3 items is longer than max_length=5" in messages[0]
        assert "item 1 ('dˈɑːɡ ænd kˈæt'), 13 tokens" in messages[0]


def test_raise_names_the_first_long_item_its_length_and_the_limit(seqs):
    with pytest.raises(ValueError, match=r"Item 1 \('dˈɑːɡ.*has 13 phoneme tokens, more than "
                       r"context_length=5 "):  # fmt: skip
        apply_truncation(seqs, 5, "raise", IPA, limit_name="context_length")
    with pytest.raises(ValueError, match=r"Item 0 \('kˈæt'\) has 5 .* 2 more items are too long"):
        apply_truncation(seqs, 4, "raise", IPA)


def test_no_limit_or_nothing_long_is_a_no_op(seqs):
    for limit in (None, 13):
        out, truncated = apply_truncation(seqs, limit, "raise")
        assert out is seqs and truncated.size == 0
