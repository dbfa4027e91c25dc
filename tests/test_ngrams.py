"""The n-gram bag (:mod:`ipaclip.ngrams`): its vocabulary and the codes of unseen n-grams."""

from __future__ import annotations

import pytest
import torch

from ipaclip.ngrams import ngram_codes, ngram_vocabulary
from ipaclip.phonemes import PhonemeEmbedder
from tests.fixtures import ANIMALS_IPA, padded_batch


def test_ngram_vocabulary_and_codes_of_unseen_ngrams():
    seqs = PhonemeEmbedder().fit(ANIMALS_IPA).transform(ANIMALS_IPA)
    vocab = sorted({s for s in seqs.symbols if not s.startswith("<")})
    codes, classes = ngram_vocabulary(seqs, vocab, max_order=3)
    assert classes is None and (codes[1:] > codes[:-1]).all()
    with_classes, classes = ngram_vocabulary(seqs, vocab, max_order=3, classes=True)
    assert len(with_classes) > len(codes) and classes is not None
    table, row_vocab = (
        torch.from_numpy(seqs.table),
        torch.tensor([vocab.index(s) + 1 if s in vocab else 0 for s in seqs.symbols]),
    )
    ids, lengths = (torch.from_numpy(x) for x in padded_batch(seqs, len(ANIMALS_IPA)))
    windows = ngram_codes(table, row_vocab, ids, lengths, vocab_size=len(vocab), max_order=3)
    found = windows[windows >= 0]
    assert set(found.tolist()) == set(codes.tolist())
    unknown = row_vocab.clone()
    unknown[ids[0, 1]] = 0  # the first phoneme of kæt outside the vocabulary
    w = ngram_codes(table, unknown, ids, lengths, vocab_size=len(vocab), max_order=3)
    assert (w[0] == -1).sum() > (windows[0] == -1).sum()  # its windows count for nothing
    with pytest.raises(ValueError, match="Sound-class n-grams need articulatory features"):
        onehot = PhonemeEmbedder(embedding="onehot").fit(ANIMALS_IPA).transform(ANIMALS_IPA)
        ngram_vocabulary(onehot, vocab, max_order=3, classes=True)


SENTENCE = ["ɐ kˈæt ɪz hˈɪɹ", "ɐ", "kˈæt", "ɪz", "hˈɪɹ"]


def _bags(boundaries: str) -> list[set[int]]:
    seqs = PhonemeEmbedder().fit(SENTENCE).transform(SENTENCE)
    vocab = sorted({s for s in seqs.symbols if not s.startswith("<")})
    return [
        set(ngram_vocabulary(seqs[i : i + 1], vocab, 4, boundaries=boundaries)[0].tolist())
        for i in range(len(SENTENCE))
    ]


def test_word_boundaries_word_codes_a_sentence_as_the_bag_of_its_words():
    sentence, *words = _bags("word")
    assert sentence == set().union(*words)  # each word coded as it is alone, nothing more


def test_word_boundaries_drop_and_across_differ_from_the_words_alone():
    drop, *words = _bags("drop")
    across, *_ = _bags("across")
    union = set().union(*words)
    assert drop < union  # the windows at each word's edges are gone
    assert union < across  # every word's windows, and windows across the boundaries
    single = [_bags(policy)[2] for policy in ("drop", "word", "across")]
    assert single[0] == single[1] == single[2]  # a single word: the three policies agree


def test_an_unknown_boundary_policy_is_refused_by_name():
    seqs = PhonemeEmbedder().fit(SENTENCE).transform(SENTENCE)
    with pytest.raises(ValueError, match="boundaries='spaces'; expected one of"):
        ngram_vocabulary(seqs, ["k"], 2, boundaries="spaces")
