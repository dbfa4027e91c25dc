"""The training recipe of issue #10: n-gram bag, triplet and prior terms, augmentation,
gallery, learnable temperature, minimal-pair triplets; their parameters, saving and resuming."""

from __future__ import annotations

import functools
import pickle
import re

import numpy as np
import pytest
import torch
from sklearn.base import clone

import ipaclip.training as training_module
from ipaclip import PronunciationEncoder, Recipe
from ipaclip._batches import SequenceData
from ipaclip._edit_distance import BatchPhoneticSimilarity
from ipaclip.augment import PhoneticAugmenter
from ipaclip.evaluation import evaluate_model
from ipaclip.evaluation.distance import paired_feature_edit_distance, segment_codes
from ipaclip.evaluation.triplets import (
    FOREIGN_PHONEMES,
    minimal_pair_triplets,
    nonword_triplets,
    triplet_accuracy,
)
from ipaclip.losses import gallery_infonce, parse_loss, phonetic_prior_loss, triplet_margin_loss
from ipaclip.ngrams import ngram_codes, ngram_vocabulary
from ipaclip.objective import Objective
from ipaclip.phonemes import PhonemeEmbedder
from tests.fixtures import fit_interrupted_then_resumed

IPA = ["kˈæt", "dˈɑːɡ", "fˈɪʃ", "bˈɜːd", "hˈɔːs", "mˈaʊs", "ɡˈoʊt", "ʃˈiːp", "lˈaɪən", "tˈaɪɡɚ"]
OPT_INS = dict(
    loss="cosine+contrastive+3*triplet+3*prior+gallery",
    learn_temperature=True,
    augment={"substitute": 0.2, "delete": 0.1, "insert": 0.1, "unstress": 0.2},
)


def _y(seed: int = 0, dim: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(len(IPA), dim)).astype(np.float32)


def small(**params) -> PronunciationEncoder:
    base = dict(width=16, layers=1, heads=2, epochs=2, batch_size=4, random_state=0)
    return PronunciationEncoder(**{**base, **params})


def recipe(**params) -> Recipe:
    """The default recipe with ``params``."""
    return Recipe(**params)


def _batch(seqs, n):
    ids, _ = seqs[:n].padded()
    return ids, seqs.lengths[:n]


# -- minimal-pair triplets -------------------------------------------------------------------
@pytest.mark.parametrize("condition", ["native", "foreign"])
def test_triplets_swap_one_segment_for_a_nearer_and_a_farther_one(condition):
    out = minimal_pair_triplets(IPA, condition=condition, random_state=0)
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
    assert minimal_pair_triplets(IPA, random_state=3) == minimal_pair_triplets(IPA, random_state=3)
    assert minimal_pair_triplets(IPA, random_state=3) != minimal_pair_triplets(IPA, random_state=4)
    with pytest.raises(ValueError, match="condition must be one of 'foreign', 'native'"):
        minimal_pair_triplets(IPA, condition="other")
    with pytest.raises(ValueError, match="n_far must be a positive integer"):
        minimal_pair_triplets(IPA, n_far=0)
    with pytest.raises(ValueError, match="native symbol 'not a phoneme'"):
        minimal_pair_triplets(IPA, native=["not a phoneme"])
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

    enc = small(epochs=1).fit(IPA, _y())
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


# -- augmentation and swaps ------------------------------------------------------------------
def test_augmenter_keeps_items_valid_and_swaps_one_phoneme():
    seqs = PhonemeEmbedder().fit(IPA).transform(IPA)
    aug = PhoneticAugmenter(substitute=0.5, delete=0.5, insert=1.0, unstress=1.0, max_length=12)
    table, symbols = aug.fit(seqs.table, seqs.symbols)
    assert table[: len(seqs.table)].tolist() == seqs.table.tolist()
    ids, lengths = _batch(seqs, len(IPA))
    new, new_lengths = aug(ids, lengths, np.random.default_rng(0))
    assert (new_lengths <= 12).all()
    changed = [
        a[:m].tolist() != b[:n].tolist() for a, m, b, n in zip(new, new_lengths, ids, lengths)
    ]
    assert any(changed)
    stress = [seqs.feature_names.index(c) for c in ("stress_primary", "stress_secondary")]
    for row, n in zip(new, new_lengths):
        tokens = [symbols[r] for r in row[:n]]
        assert tokens[0] == "<bos>" and tokens[-1] == "<eos>"
        assert all(not t.startswith("<") for t in tokens[1:-1])
        assert (row[n:] == 0).all()
        assert table[row[:n]][:, stress].sum() == 0  # unstress=1.0 removed all stress
    near, far, ok = aug.swap_pairs(ids, lengths, np.random.default_rng(1))
    assert ok.all() and ((near != ids).sum(1) == 1).all() and ((far != ids).sum(1) == 1).all()
    sim = BatchPhoneticSimilarity(symbols)
    both = np.concatenate([ids, near, far])
    s = sim(both, np.concatenate([lengths] * 3))
    k = len(IPA)
    ii, jj = np.triu_indices(3 * k, 1)
    pair = {(i, j): v for i, j, v in zip(ii, jj, s)}
    assert all(pair[(i, k + i)] > pair[(i, 2 * k + i)] for i in range(k))  # near is nearer


def test_augmenter_parameters_are_checked_by_name():
    seqs = PhonemeEmbedder().fit(IPA).transform(IPA)
    with pytest.raises(ValueError, match="substitute must be a number in"):
        PhoneticAugmenter(substitute=2).fit(seqs.table, seqs.symbols)
    with pytest.raises(ValueError, match="mode must be one of"):
        PhoneticAugmenter(mode="sideways").fit(seqs.table, seqs.symbols)
    with pytest.raises(ValueError, match="candidates: 'q' has no one-hot column"):
        onehot = PhonemeEmbedder(embedding="onehot").fit(IPA).transform(IPA)
        columns = [n.removeprefix("phoneme=") for n in onehot.feature_names[:-17]]
        PhoneticAugmenter(candidates=["q"]).fit(onehot.table, onehot.symbols, columns)
    with pytest.raises(RuntimeError, match="not fitted"):
        PhoneticAugmenter().swap_pairs(np.zeros((1, 3), int), np.array([3]), None)


def test_batch_similarity_matches_the_feature_edit_distance():
    seqs = PhonemeEmbedder().fit(IPA).transform(IPA)
    ids, lengths = _batch(seqs, len(IPA))
    sim = BatchPhoneticSimilarity(seqs.symbols)(ids, lengths)
    ii, jj = np.triu_indices(len(IPA), 1)
    ref = 1 - paired_feature_edit_distance([IPA[i] for i in ii], [IPA[j] for j in jj])
    np.testing.assert_allclose(sim, ref, atol=1e-6)


def test_a_step_encodes_copies_and_near_far_swaps_with_their_targets():
    seqs = PhonemeEmbedder().fit(IPA).transform(IPA)
    vocab = sorted({s for s in seqs.symbols if not s.startswith("<")})
    aug = PhoneticAugmenter(substitute=0.5)
    table, symbols = aug.fit(seqs.table, seqs.symbols)
    data = SequenceData(seqs, vocab, torch.device("cpu"), table=table, symbols=symbols)
    targets = torch.nn.functional.normalize(torch.from_numpy(_y()), dim=-1)
    weights = parse_loss("cosine+triplet+prior")
    # A margin of 2 keeps every triplet's hinge active, so every swap must get a gradient.
    obj = Objective(
        weights, 0.05, data, targets, np.arange(10), aug, triplet_items=3, triplet_margin=2.0
    )
    rows = np.array([4, 1, 7, 2])
    batch = obj.make_batch(data, rows, np.random.default_rng(0))
    assert batch.rows.tolist() == [4, 4, 1, 1, 7, 7, 2, 2] and batch.n_scored == 8
    assert len(batch.ids) == 8 + 3 * 3 and batch.triplet_ok.all()
    anchor, near, far = batch.ids[8:11], batch.ids[11:14], batch.ids[14:17]
    assert (anchor == data.batch_arrays(rows[:3])[0][:, : anchor.shape[1]]).all()
    assert ((near != anchor).sum(1) == 1).all() and ((far != anchor).sum(1) == 1).all()
    z = torch.randn(len(batch.ids), 16, requires_grad=True)
    scored, triplets = obj.split(z, batch)
    loss = obj.add_terms(torch.zeros(()), scored, triplets, batch)
    loss.backward()
    assert torch.isfinite(loss) and (z.grad[8:].abs().sum(1) > 0).all()  # swaps get gradients


# -- loss terms ------------------------------------------------------------------------------
def test_loss_terms_and_their_names():
    assert parse_loss("cosine+contrastive+3*triplet+0.5*prior") == {
        "cosine": 1.0, "contrastive": 1.0, "triplet": 3.0, "prior": 0.5,
    }  # fmt: skip
    for bad, message in [
        ("cosine+3*bogus", r"unknown term\(s\) \['bogus'\]"),
        ("cosine+x*triplet", "'x\\*triplet' is not a term or 'weight\\*term'"),
        ({"cosine": -1}, "weights must be finite and >= 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_loss(bad)
    g = torch.nn.functional.normalize(torch.randn(50, 8), dim=-1)
    s = torch.randn(4, 8, requires_grad=True)
    full = gallery_infonce(s, g, torch.tensor([[0, -1], [1, 2], [3, -1], [4, -1]]), 10.0)
    full.backward()
    assert torch.isfinite(full) and s.grad is not None
    z = torch.randn(6, 8)
    zn = torch.nn.functional.normalize(z, dim=-1)
    cos = (zn @ zn.T)[tuple(torch.triu_indices(6, 6, 1))]
    for per_row in (False, True):
        assert 0.0 <= float(phonetic_prior_loss(z, torch.rand(15), per_row=per_row)) <= 2.0
        # scale-free: any increasing affine function of the cosines is a perfect match
        assert float(phonetic_prior_loss(3 * z, 0.5 * cos + 2, per_row=per_row)) < 1e-5
        assert float(phonetic_prior_loss(z, -cos, per_row=per_row)) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="similarity has 3 pairs; 6 items have 15"):
        phonetic_prior_loss(z, torch.rand(3))
    a = torch.tensor([[1.0, 0.0]])
    assert float(triplet_margin_loss(a, a, -a, 0.1)) == 0.0
    assert float(triplet_margin_loss(a, -a, a, 0.1)) == pytest.approx(2.1)


# -- n-grams ---------------------------------------------------------------------------------
def test_ngram_vocabulary_and_codes_of_unseen_ngrams():
    seqs = PhonemeEmbedder().fit(IPA).transform(IPA)
    vocab = sorted({s for s in seqs.symbols if not s.startswith("<")})
    codes, classes = ngram_vocabulary(seqs, vocab, max_order=3)
    assert classes is None and (codes[1:] > codes[:-1]).all()
    with_classes, classes = ngram_vocabulary(seqs, vocab, max_order=3, classes=True)
    assert len(with_classes) > len(codes) and classes is not None
    table, row_vocab = (
        torch.from_numpy(seqs.table),
        torch.tensor([vocab.index(s) + 1 if s in vocab else 0 for s in seqs.symbols]),
    )
    ids, lengths = (torch.from_numpy(x) for x in _batch(seqs, len(IPA)))
    windows = ngram_codes(table, row_vocab, ids, lengths, vocab_size=len(vocab), max_order=3)
    found = windows[windows >= 0]
    assert set(found.tolist()) == set(codes.tolist())
    unknown = row_vocab.clone()
    unknown[ids[0, 1]] = 0  # the first phoneme of kæt outside the vocabulary
    w = ngram_codes(table, unknown, ids, lengths, vocab_size=len(vocab), max_order=3)
    assert (w[0] == -1).sum() > (windows[0] == -1).sum()  # its windows count for nothing
    with pytest.raises(ValueError, match="Sound-class n-grams need articulatory features"):
        onehot = PhonemeEmbedder(embedding="onehot").fit(IPA).transform(IPA)
        ngram_vocabulary(onehot, vocab, max_order=3, classes=True)


def test_defaults_are_the_recipe_and_classes_follow_the_embedding():
    assert PronunciationEncoder().recipe is None  # Recipe(): the recipe study's
    params = Recipe().get_params()
    assert parse_loss(params["loss"]) == {
        "cosine": 1.0, "contrastive": 1.0, "triplet": 3.0, "prior": 3.0,
    }  # fmt: skip
    assert (params["ngrams"], params["ngram_classes"], params["ngram_lr_scale"]) == (4, "auto", 5)
    assert (params["prior_items"], params["prior_per_row"]) == (256, True)
    ipa = small(epochs=1).fit(IPA, _y())
    onehot = small(epochs=1, embedding="onehot").fit(IPA, _y())
    assert ipa.config_.ngram_max == 4 and ipa.config_.ngram_class_count > 0
    assert onehot.config_.ngram_max == 4 and onehot.config_.ngram_class_count == 0


def test_ngram_vectors_and_the_logit_scale_have_their_own_optimiser_groups(monkeypatch):
    seen = {}
    real = training_module.Trainer.fit_loop

    def spy(self, history):
        seen["groups"] = self.optimizer.param_groups
        seen["ngrams"] = self.module.ngrams.weight
        return real(self, history)

    monkeypatch.setattr(training_module.Trainer, "fit_loop", spy)
    small(epochs=1, lr=0.01, recipe=recipe(ngram_lr_scale=3.0, **OPT_INS)).fit(IPA, _y())
    main, ngrams, scale = seen["groups"]
    assert ngrams["params"] == [seen["ngrams"]] and ngrams["lr"] == pytest.approx(3 * main["lr"])
    assert len(scale["params"]) == 1 and scale["weight_decay"] == 0.0


@pytest.mark.parametrize(
    "params, message",
    [
        ({"ngrams": 1}, "ngrams must be 0 (no n-gram bag) or an integer in [2, 5]; got 1"),
        ({"ngrams": 6}, "ngrams must be an integer in [0, 5]"),
        ({"ngrams": True}, "ngrams must be"),
        ({"ngram_classes": "yes"}, "ngram_classes must be a bool or one of 'auto'"),
        ({"ngram_classes": True}, "ngram_classes=True needs embedding"),
        ({"ngram_lr_scale": 0}, "ngram_lr_scale must be a number > 0"),
        ({"triplet_items": 0}, "triplet_items must be a positive integer"),
        ({"triplet_margin": -0.1}, "triplet_margin must be a number in [0, 2]"),
        ({"prior_items": 2}, "prior_items must be an integer >= 3 or None"),
        ({"prior_per_row": "yes"}, "prior_per_row must be a bool"),
        ({"learn_temperature": 1}, "learn_temperature must be a bool"),
        ({"augment": "strong"}, "augment must be"),
        ({"augment": {"bogus": 1}}, "augment=.* is not a valid set of PhoneticAugmenter"),
        ({"augment": {"substitute": 2}}, "augment=.*substitute must be a number in"),
        ({"loss": "cosine+2*hinge"}, "unknown term(s) ['hinge']"),
    ],
)
def test_bad_recipe_parameters_are_refused_by_name(params, message):
    escaped = message if ".*" in message else re.escape(message)
    embedding = "onehot" if params.get("ngram_classes") is True else "ipa"
    with pytest.raises(ValueError, match=escaped):
        small(recipe=recipe(**params), embedding=embedding).fit(IPA, _y())


def test_numpy_integers_and_an_augmenter_object_are_accepted():
    ints = recipe(ngrams=np.int64(3), triplet_items=np.int64(2), prior_items=np.int64(4))
    assert small(recipe=ints).fit(IPA, _y()).config_.ngram_max == 3
    aug = PhoneticAugmenter(substitute=0.3, mode="replace")
    enc = small(recipe=recipe(augment=aug)).fit(IPA, _y())
    assert enc.recipe.augment is aug and not hasattr(aug, "neighbours_")  # user's object intact
    twin = clone(enc)
    assert twin.recipe.augment is not aug and twin.recipe.augment.get_params() == aug.get_params()
    twin.set_params(recipe__augment__substitute=0.1)
    assert twin.recipe.augment.substitute == 0.1 and aug.substitute == 0.3


@pytest.mark.parametrize("embedding", ["ipa", "onehot"])
def test_recipe_with_every_option_fits_saves_loads_and_pickles(tmp_path, embedding):
    enc = small(embedding=embedding, recipe=recipe(augment=PhoneticAugmenter(substitute=0.2), **{
        k: v for k, v in OPT_INS.items() if k != "augment"
    }))  # fmt: skip
    enc.fit(IPA, _y())
    assert "logit_scale" in enc.history_[-1]
    z = enc.transform(IPA + ["xˈæt"])  # x: unseen (onehot: <unk>), its n-grams unknown
    assert np.isfinite(z).all()
    folder = enc.save(tmp_path / "m")
    again = PronunciationEncoder.load(folder)
    np.testing.assert_array_equal(again.transform(IPA + ["xˈæt"]), z)
    assert again.recipe.augment == {
        **PhoneticAugmenter(substitute=0.2).get_params(),
        "weak": ["ə", "h", "ʔ"],
    }
    assert again.get_params()["recipe__ngrams"] == 4 and again.recipe.learn_temperature is True
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(enc)).transform(IPA), z[:10])
    refit = clone(again).fit(IPA, _y())  # the saved parameters train the same model again
    np.testing.assert_allclose(refit.transform(IPA), z[:10], atol=1e-6)


def test_resume_is_bit_identical_with_augmentation_gallery_and_learned_temperature(
    tmp_path, monkeypatch
):
    params = dict(epochs=4, batch_size=4, validation_fraction=0.2, recipe=recipe(**OPT_INS))
    make = functools.partial(small, **params)
    full, resumed = fit_interrupted_then_resumed(make, IPA, _y(1), tmp_path, monkeypatch)
    keys = ("loss", "val_cosine", "logit_scale")
    assert [[h[k] for k in keys] for h in resumed.history_] == [
        [h[k] for k in keys] for h in full.history_
    ]
    for name, value in full.module_.state_dict().items():
        assert torch.equal(resumed.module_.state_dict()[name], value), name


# -- the Recipe object (ipaclip.recipe) ------------------------------------------------------
def test_grid_search_reaches_the_recipe_through_nested_parameters():
    from sklearn.model_selection import GridSearchCV, KFold

    enc = small(epochs=1, recipe=Recipe(ngrams=0, loss="cosine+triplet"))
    assert enc.get_params(deep=True)["recipe__loss"] == "cosine+triplet"
    grid = {"recipe__triplet_margin": [0.05, 0.5]}
    search = GridSearchCV(enc, grid, cv=KFold(2)).fit(IPA, _y())
    assert search.best_params_["recipe__triplet_margin"] in (0.05, 0.5)
    assert (
        search.best_estimator_.recipe.triplet_margin
        == search.best_params_["recipe__triplet_margin"]
    )
    assert enc.recipe.triplet_margin == 0.1  # the searched clones, not the user's recipe
    # The margin reaches the loss: the two settings train differently.
    a = clone(enc).set_params(recipe__triplet_margin=0.05).fit(IPA, _y())
    b = clone(enc).set_params(recipe__triplet_margin=0.5).fit(IPA, _y())
    assert a.history_[0]["loss"] != b.history_[0]["loss"]


def test_recipe_none_is_the_default_recipe_bit_for_bit():
    none = small(epochs=1).fit(IPA, _y())
    explicit = small(epochs=1, recipe=Recipe()).fit(IPA, _y())
    for name, value in none.module_.state_dict().items():
        assert torch.equal(explicit.module_.state_dict()[name], value), name
    assert none.recipe is None  # fit does not set parameters
    # With the default None, nested parameters need a recipe first (in the same call).
    enc = small().set_params(recipe=Recipe(), recipe__triplet_margin=0.05)
    assert enc.recipe.triplet_margin == 0.05


def test_recipe_to_dict_is_json_and_from_dict_gives_the_same_recipe():
    import json

    aug = PhoneticAugmenter(substitute=0.2, mode="replace")
    r = Recipe(ngrams=3, loss={"cosine": 1.0, "triplet": 2.0}, augment=aug, prior_items=None)
    saved = json.loads(json.dumps(r.to_dict()))
    again = Recipe.from_dict(saved)
    assert again.get_params(deep=False) == {**r.get_params(deep=False), "augment": saved["augment"]}
    assert PhoneticAugmenter(**again.augment).get_params() == aug.get_params() | {
        "weak": list(aug.weak)
    }
    with pytest.raises(TypeError, match="bogus"):
        Recipe.from_dict({**saved, "bogus": 1})


def test_a_fit_builds_its_augmenter_once_and_checking_builds_none(monkeypatch):
    import ipaclip.recipe as recipe_module

    built = []

    class Counting(PhoneticAugmenter):
        def __new__(cls, *args, **kwargs):
            built.append(kwargs)
            return super().__new__(cls)

    monkeypatch.setattr(recipe_module, "PhoneticAugmenter", Counting)
    r = Recipe(augment={"substitute": 0.2})
    r.check("ipa", 64)
    small(epochs=1, recipe=r).check_params()
    assert built == []
    small(epochs=1, recipe=r).fit(IPA, _y())
    assert len(built) == 1 and built[0]["substitute"] == 0.2
