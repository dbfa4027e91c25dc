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
