"""What a model folder may hold: the checks refuse hostile values and accept every real one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ipaclip._model_checks import _invalid_windows, read_json
from ipaclip.ngrams import MAX_ORDER, ngram_vocabulary
from ipaclip.nn import EncoderConfig
from ipaclip.phonemes import PhonemeEmbedder

WORDS = ["pˈæt", "bˈæt", "stɹˈɛŋθ", "ˈaɪ", "kʰˈæt", "ɡˈoʊt", "ʃˈɪp", "m", "ˌʌndɚstˈænd"]
SENTENCES = [*WORDS, "ɐ bˈæt ænd ɐ ɡˈoʊt", "ðə m ʃˈɪp"]


@pytest.mark.parametrize("order", range(2, MAX_ORDER + 1))
@pytest.mark.parametrize("classes", [False, True])
@pytest.mark.parametrize("boundaries", ["drop", "word", "across"])
def test_every_code_a_training_set_gives_decodes_to_a_valid_window(order, classes, boundaries):
    seqs = PhonemeEmbedder().fit(SENTENCES).transform(SENTENCES)
    vocab = sorted({s for s in seqs.symbols if not s.startswith("<")})
    codes, class_codes = ngram_vocabulary(
        seqs, vocab, order, classes=classes, boundaries=boundaries
    )
    n_classes = 0 if class_codes is None else len(class_codes)
    config = EncoderConfig(
        vocab_size=len(vocab),
        width=8,
        layers=1,
        heads=2,
        output_dim=4,
        ngram_max=order,
        ngram_vocab_size=len(codes),
        ngram_class_count=n_classes,
        ngram_boundaries=boundaries,
    )
    assert len(codes) > 20
    assert len(_invalid_windows(codes, config)) == 0
    if boundaries == "across" and order > 2:  # windows across a boundary hold it inside,
        strict = EncoderConfig(**{**config.to_dict(), "ngram_boundaries": "word"})
        assert len(_invalid_windows(codes, strict)) > 0  # which no other policy writes
    # ... and a code of the same tables with any digit out of range is caught.
    rng = np.random.default_rng(0)
    shifted = codes[torch.from_numpy(rng.choice(len(codes), 10, replace=False))]
    tag = 2 * (order + 1)
    too_long = shifted + (max(len(vocab), n_classes) + 2) ** order * tag
    assert len(_invalid_windows(too_long, config)) == 10
    assert len(_invalid_windows(shifted - shifted % tag, config)) == 10  # order 0


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"a": {"b": [1, 2, NaN]}}', r"a\.b\[2\] holds NaN"),
        ('{"a": -Infinity}', "a holds -Infinity"),
        ('{"a": 1e999}', "a holds 1e999"),
        ('{"a": -' + "9" * 21 + "}", "a holds an integer of 21 digits"),
        ('{"a": ' + "[" * 33 + "]" * 33 + "}", "a" + r"(\[0\])+ nests deeper than 32"),
        ('{"k": 1, "deep": ' + "[" * 50_000 + "]" * 50_000 + "}", "deep nests too deep"),
    ],
)
def test_strict_json_names_the_key_that_python_cannot_hold(tmp_path, text, message):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"config.json: {message}"):
        read_json(path, "config")


def test_a_key_from_the_file_is_shortened_in_the_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"' + "k" * 100_000 + '": NaN}')
    with pytest.raises(ValueError, match="k{40} holds NaN") as info:
        read_json(path, "config")
    assert len(str(info.value)) < len(str(path)) + 120
