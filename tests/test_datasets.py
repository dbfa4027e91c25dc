"""ipaclip.datasets: the one CMUdict sampler, the loaders, and who uses them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ipaclip import datasets
from ipaclip.datasets import (
    arpabet_to_ipa,
    cmudict_ipa,
    common_words,
    load_cmudict,
    load_cmudict_words,
    load_vitz_winkler,
    sample_words,
)

ROOT = Path(__file__).resolve().parents[1]


def test_sample_words_is_seeded_and_respects_the_bounds():
    words = sample_words(200, random_state=4, min_length=5, max_length=6)
    assert words == sample_words(200, random_state=4, min_length=5, max_length=6)
    assert words != sample_words(200, random_state=5, min_length=5, max_length=6)
    assert len(set(words)) == 200
    assert all(5 <= len(w) <= 6 and w.isascii() and w.isalpha() and w.islower() for w in words)
    # The pool is the sorted table; the draw is numpy's choice without replacement.
    pool = list(load_cmudict(5, 6))
    idx = np.random.default_rng(4).choice(len(pool), size=200, replace=False)
    assert words == [pool[i] for i in idx]


def test_common_filter_keeps_only_whole_wordpiece_entries():
    words = sample_words(300, random_state=0, max_length=12, common=True)
    vocab = common_words()
    assert all(w in vocab for w in words)
    everything = sample_words(300, random_state=0, max_length=12)
    assert sum(w not in vocab for w in everything) > 30  # CMUdict alone is mostly rare words


def test_sample_words_errors_name_the_parameter():
    with pytest.raises(ValueError, match="n_words must be a positive integer; got 0"):
        sample_words(0)
    with pytest.raises(ValueError, match=r"n_words must be between 1 and \d+"):
        sample_words(10**7)
    with pytest.raises(ValueError, match="min_length"):
        sample_words(3, min_length=0)


def test_cmudict_tables():
    table = load_cmudict()
    assert table["cat"] == ("K", "AE1", "T")
    assert list(table) == sorted(table)
    with pytest.raises(TypeError):
        table["cat"] = ("D", "AO1", "G")  # read-only: a cached table must not be edited
    words = load_cmudict_words()
    assert "a's" in words and "a's" not in table  # every form vs. alphabetic words only
    assert set(load_cmudict(3, 8)) <= set(table)


def test_cmudict_ipa_and_arpabet():
    assert cmudict_ipa(["cat"]) == [arpabet_to_ipa(load_cmudict()["cat"])] == ["kæt"]
    with pytest.raises(ValueError, match="'blorvin' is not in CMUdict"):
        cmudict_ipa(["cat", "blorvin"])


def test_vitz_winkler_rows_are_fresh_copies():
    rows = load_vitz_winkler()
    rows[0]["obtained"] = -1.0
    assert load_vitz_winkler()[0]["obtained"] != -1.0
    assert {r["word2"] for r in rows} == {"plant", "sit", "wonder", "relation"}


def test_evaluation_reexports_are_the_datasets_objects():
    from ipaclip.evaluation import human, pwesuite

    assert pwesuite.sample_words is sample_words
    assert pwesuite.arpabet_to_ipa is arpabet_to_ipa
    assert pwesuite.ARPABET_TO_IPA is datasets.ARPABET_TO_IPA
    assert human.load_vitz_winkler is load_vitz_winkler
    assert dict(pwesuite.cmudict_lexicon()) == dict(load_cmudict(3, 8))


def test_benchmarks_and_demo_draw_from_the_one_sampler():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import demo
    finally:
        sys.path.remove(str(ROOT / "examples"))
    from benchmarks._common import cmudict_words

    test, train = demo.demo_words(50, 100, 3)
    n_common = len([w for w in load_cmudict(3, 12) if w in common_words()])
    pool = sample_words(n_common, 3, max_length=12, common=True)
    assert test + train == pool[:150] and n_common > 19_000
    assert demo.demo_words(50, None, 3)[1] == pool[50:]
    assert cmudict_words(50, 3) == sample_words(50, 3, min_length=1, max_length=None)


@pytest.mark.slow
def test_datasets_does_not_import_torch_or_the_teachers():
    code = (
        "import sys, ipaclip.datasets as d; d.sample_words(5, common=True); "
        "d.load_vitz_winkler(); print(sorted(m for m in ('torch', 'ipaclip.teachers') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_common_words_are_words_not_wordpiece_tokens():
    # #20.7: common_words() returned all 30,522 WordPiece tokens ('!', '##s', '[unused146]').
    tokens = datasets._wordpiece_vocabulary()
    assert len(tokens) == 30_522 and {"!", "##s", "[unused146]"} <= tokens
    words = common_words()
    assert words == {t for t in tokens if t in load_cmudict()}
    assert 20_000 < len(words) < 22_000  # "about 20,900"
    assert all(w.isascii() and w.isalpha() and w.islower() for w in words)
    assert not {"!", "##s", "[unused146]", "[CLS]", "1980s", "afb"} & words
    assert common_words(3, 12) == {w for w in words if 3 <= len(w) <= 12}
    with pytest.raises(ValueError, match="min_length"):
        common_words(0)


def test_the_demo_and_the_recipe_study_train_on_the_same_words_as_before():
    # The demo and recipe_study drew from the raw token set, filtered by CMUdict; they now
    # draw from common_words() and must get the very same list (the README's 19,287 words).
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import demo
    finally:
        sys.path.remove(str(ROOT / "examples"))
    tokens = datasets._wordpiece_vocabulary()
    pool = [w for w in load_cmudict(3, 12) if w in tokens]  # the filter as it was
    before = [pool[i] for i in np.random.default_rng(0).choice(len(pool), len(pool), replace=False)]
    test, train = demo.demo_words(1000, None, 0)
    assert test + train == before and len(train) == 19_287
    assert sample_words(len(pool), 0, max_length=12, common=True) == before  # recipe_study


# --------------------------------------------------------------------------------------------
# Sentences (#19 item 2): CLIP's ImageNet prompts, their split, composed captions
# --------------------------------------------------------------------------------------------
def test_imagenet_prompts_are_open_clips_own():
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES, OPENAI_IMAGENET_TEMPLATES

    names, templates = datasets.imagenet_classnames(), datasets.imagenet_templates()
    assert names == list(IMAGENET_CLASSNAMES) and len(names) == 1000
    assert len(templates) == len(OPENAI_IMAGENET_TEMPLATES) == 80
    for template, fn in zip(templates, OPENAI_IMAGENET_TEMPLATES):
        assert template.count("{}") == 1
        for name in ("goldfish", names[-1], "great white shark"):
            assert template.format(name) == fn(name)
    names.append("mutated")  # a fresh list each call
    assert len(datasets.imagenet_classnames()) == 1000


def test_prompt_split_is_seeded_disjoint_and_covers_every_class_and_template():
    names = set(datasets.imagenet_classnames())
    templates = datasets.imagenet_templates()
    split = datasets.prompt_split(random_state=3, n_unseen_classes=150, n_heldout_templates=7)
    assert split == datasets.prompt_split(3, n_unseen_classes=150, n_heldout_templates=7)
    assert split.random_state == 3
    seen, unseen = set(split.seen_classes), set(split.unseen_classes)
    assert len(unseen) == 150 and not seen & unseen and seen | unseen == names
    assert len(split.seen_classes) == len(seen)  # distinct: "crane" is on one side only
    train, held = set(split.train_templates), set(split.heldout_templates)
    assert len(held) == 7 and not train & held and train | held == set(templates)
    # Each side keeps its source order.
    assert list(split.train_templates) == [t for t in templates if t in train]
    other = datasets.prompt_split(random_state=4, n_unseen_classes=150, n_heldout_templates=7)
    assert other.unseen_classes != split.unseen_classes
    assert other.heldout_templates != split.heldout_templates
    # The held-out templates depend on the seed alone; fewer are the first of more.
    for n_unseen, n_held in ((1, 7), (997, 3)):
        small = datasets.prompt_split(3, n_unseen_classes=n_unseen, n_heldout_templates=n_held)
        assert set(small.heldout_templates) <= held


def test_prompt_split_defaults_and_prompts():
    split = datasets.prompt_split()
    assert (len(split.seen_classes), len(split.unseen_classes)) == (798, 200)
    assert (len(split.train_templates), len(split.heldout_templates)) == (70, 10)
    train = split.prompts()
    assert len(train) == 798 * 70 == len(set(train))
    assert train[0] == split.train_templates[0].format(split.seen_classes[0])
    held = split.prompts("all", "heldout")
    assert len(held) == 998 * 10
    assert not set(train) & set(held)  # no held-out prompt is trained on
    unseen = split.prompts("unseen", "train")
    assert not set(unseen) & set(train) and len(unseen) == 200 * 70
    with pytest.raises(ValueError, match="classes"):
        split.prompts("some")


def test_prompt_split_checks_its_parameters():
    with pytest.raises(ValueError, match="n_unseen_classes.*prompt_split"):
        datasets.prompt_split(n_unseen_classes=998)
    with pytest.raises(ValueError, match="n_heldout_templates.*prompt_split"):
        datasets.prompt_split(n_heldout_templates=0)
    with pytest.raises(ValueError, match="random_state"):
        datasets.prompt_split(random_state=-1)


def test_composed_captions_are_seeded_distinct_and_a_prefix_of_a_larger_sample():
    captions = datasets.composed_captions(300, random_state=5)
    assert captions == datasets.composed_captions(300, random_state=5)
    assert captions != datasets.composed_captions(300, random_state=6)
    assert len(set(captions)) == 300
    assert datasets.composed_captions(5000, random_state=5)[:300] == captions
    lengths = [len(c.split()) for c in captions]
    assert min(lengths) >= 5 and max(lengths) >= 10  # sentences, not words


def test_composed_captions_follow_the_grammar():
    import csv

    rows = [
        r
        for r in csv.DictReader(
            line
            for line in (ROOT / "ipaclip/data/caption_grammar.csv").read_text().splitlines()
            if not line.startswith("#")
        )
    ]
    counts = {r["text"]: bool(r["plural"]) for r in rows if r["slot"] == "count"}
    singular = {r["text"] for r in rows if r["slot"] == "noun"}
    plural = {r["plural"] for r in rows if r["slot"] == "noun"}
    verbs = [r["text"] for r in rows if r["slot"] == "verb"]
    for caption in datasets.composed_captions(500, random_state=0, split="heldout"):
        count = max(
            (c for c in [*counts, "an"] if caption.startswith(c + " ")), key=len, default=None
        )
        assert count is not None, caption
        verb = next(v for v in verbs if f" {v} " in caption)
        noun = caption[: caption.index(f" {verb} ")].split()[-1]
        if counts.get(count, False):
            assert noun in plural, caption
        else:
            assert noun in singular, caption
            after = caption.split()[1]
            if count in ("a", "an"):  # the article agrees with the next word
                assert (count == "an") == (after[0] in "aeiou"), caption


def test_composed_caption_splits_never_share_a_caption():
    train = set()
    for seed in range(3):
        train |= set(datasets.composed_captions(3000, random_state=seed))
    heldout = set()
    for seed in range(3):
        heldout |= set(datasets.composed_captions(1000, random_state=seed, split="heldout"))
    assert len(train) > 8000 and len(heldout) > 2500
    assert not train & heldout
    with pytest.raises(ValueError, match="split"):
        datasets.composed_captions(10, split="test")
    with pytest.raises(ValueError, match="n .*composed_captions"):
        datasets.composed_captions(0)


# -- issue 20, point 8: the word gallery ----------------------------------------------------
def test_word_gallery_is_clean_pronounceable_and_ranked():
    pytest.importorskip("wordfreq", reason="word_gallery needs wordfreq (ipaclip[words])")
    from ipaclip.datasets import load_cmudict, word_gallery

    gallery = word_gallery(20000)
    words, freqs = gallery.words, gallery.frequencies
    assert len(words) == len(freqs) == 20000 == len(set(words))
    known = load_cmudict()
    assert all(w.isalpha() and w.isascii() and w.islower() and w in known for w in words)
    assert not {"mr", "st", "tv", "s", "t", "don't"} & set(words)
    assert {"photograph", "night", "knight", "quick"} <= set(words)
    assert (freqs > 0).all() and (np.diff(freqs) <= 0).all()
    assert word_gallery(100).words == words[:100]
    with pytest.raises(ValueError, match="n"):
        word_gallery(0)


def test_sentence_mix_trains_on_seen_classes_training_templates_and_the_words_given():
    from ipaclip.datasets import composed_captions, prompt_split, sentence_mix

    split = prompt_split(3, n_unseen_classes=500, n_heldout_templates=40)
    words = ["kettle", "violin", "zebra", "harbor"]
    mix = sentence_mix(words, split, n_prompts=300, n_word_prompts=10, n_captions=50)
    prompts, word_prompts, captions = mix[:300], mix[300:304], mix[304:]
    assert len(mix) == 300 + 4 + 50  # every word once when fewer words than asked
    allowed = set(split.prompts())
    assert all(p in allowed for p in prompts)  # no unseen class, no held-out template
    assert all(sum(w in p for p in word_prompts) == 1 for w in words)
    assert {t.format(w) for t in split.train_templates for w in words} >= set(word_prompts)
    assert captions == composed_captions(50, 0)  # the training side only
    assert sentence_mix(words, split, n_prompts=300, n_word_prompts=10, n_captions=50) == mix
    assert sentence_mix(n_prompts=0, n_word_prompts=0, n_captions=3) == composed_captions(3, 0)


def test_sentence_mix_refuses_one_string_and_bad_sizes_by_name():
    from ipaclip.datasets import sentence_mix

    with pytest.raises(TypeError, match="words must be a sequence of words, not one string"):
        sentence_mix("kettle")
    with pytest.raises(ValueError, match="n_prompts"):
        sentence_mix(["kettle"], n_prompts=-1)
