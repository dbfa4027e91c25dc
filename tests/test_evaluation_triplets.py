"""Minimal-pair and nonword triplets (:mod:`ipaclip.evaluation.triplets`) and their task."""

from __future__ import annotations

import numpy as np
import pytest

from ipaclip.evaluation import evaluate_model
from ipaclip.evaluation.distance import paired_feature_edit_distance, segment_codes
from ipaclip.evaluation.triplets import (
    FOREIGN_PHONEMES,
    minimal_pair_triplets,
    nonword_triplets,
    triplet_accuracy,
)
from tests.fixtures import ANIMALS_IPA, random_targets, tiny_encoder


@pytest.mark.parametrize("condition", ["native", "foreign"])
def test_triplets_swap_one_segment_for_a_nearer_and_a_farther_one(condition):
    out = minimal_pair_triplets(ANIMALS_IPA, condition=condition, random_state=0)
    assert out
    for t in out:
        b, n, f = segment_codes([t["base"], t["near"], t["far"]])
        assert len(b) == len(n) == len(f)
        assert (b != n).sum() == 1 and (b != f).sum() == 1
        assert t["near_distance"] < t["far_distance"]
        d = paired_feature_edit_distance([t["base"]] * 2, [t["near"], t["far"]])
        assert d[0] < d[1]
        if condition == "foreign":
            assert t["near_phoneme"] in FOREIGN_PHONEMES


def test_triplets_are_seeded_and_bad_arguments_named():
    assert minimal_pair_triplets(ANIMALS_IPA, random_state=3) == minimal_pair_triplets(
        ANIMALS_IPA, random_state=3
    )
    assert minimal_pair_triplets(ANIMALS_IPA, random_state=3) != minimal_pair_triplets(
        ANIMALS_IPA, random_state=4
    )
    with pytest.raises(ValueError, match="condition must be one of 'foreign', 'native'"):
        minimal_pair_triplets(ANIMALS_IPA, condition="other")
    with pytest.raises(ValueError, match="n_far must be a positive integer"):
        minimal_pair_triplets(ANIMALS_IPA, n_far=0)
    with pytest.raises(ValueError, match="native symbol 'not a phoneme'"):
        minimal_pair_triplets(ANIMALS_IPA, native=["not a phoneme"])
    with pytest.raises(ValueError, match="triplets is empty"):
        triplet_accuracy(lambda xs: np.ones((len(xs), 2)), [])
    with pytest.raises(ValueError, match=r"triplets\[0\] is not a dict"):
        triplet_accuracy(lambda xs: np.ones((len(xs), 2)), [{"base": "pa"}])


def _feature_means(ipas):
    """A stand-in encoder: the mean PanPhon feature vector of each item's segments."""
    from ipaclip.inventory import get_inventory

    feats = get_inventory().features.astype(float)
    return np.stack([feats[c].mean(0) for c in segment_codes(list(ipas))])


def test_triplet_accuracy_tells_a_phonetic_encoder_from_a_random_one():
    from ipaclip import IPATransformer

    words = nonword_triplets(200, IPATransformer().fit_transform, random_state=1)
    assert len(words) > 100 and all("spelling" in t for t in words)
    phonetic = triplet_accuracy(_feature_means, words)
    rng = np.random.default_rng(0)
    random = triplet_accuracy(lambda xs: rng.normal(size=(len(xs), 8)), words)
    assert phonetic["accuracy"] > 0.9 and phonetic["mean_margin"] > 0
    assert random["accuracy"] < 0.7


def test_triplets_task_runs_in_the_suite_and_shows_in_the_summary(tmp_path, capsys):
    from ipaclip import IPATransformer
    from ipaclip.cli import main

    enc = tiny_encoder(epochs=1).fit(ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16))
    res = evaluate_model(enc, g2p=IPATransformer(), evaluators="triplets", n_triplets=40, verbose=0)
    scores = res["triplets"]["pronunciation"]
    assert set(scores) == {"native", "foreign"}
    assert all(0 <= s["accuracy"] <= 1 and s["n_triplets"] > 10 for s in scores.values())
    assert res["summary"]["triplets: accuracy (English)"]["pronunciation"] == pytest.approx(
        scores["native"]["accuracy"]
    )
    assert res["triplets"]["info"]["n_foreign_candidates"] == len(
        [p for p in FOREIGN_PHONEMES if p not in enc.vocabulary_]
    )
    folder = enc.save(tmp_path / "m")
    args = ["evaluate", str(folder), "--tasks", "triplets", "--n-triplets", "40"]
    assert main([*args, "--summary", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "triplets: accuracy (English)" in out and "triplets: accuracy (foreign)" in out
