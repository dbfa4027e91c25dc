"""The objective (:mod:`ipaclip.objective`): the whole loss in one call, its optimiser groups."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ipaclip.training as training_module
from ipaclip import PhonemeEmbedder, Recipe
from ipaclip._batches import SequenceData
from ipaclip.augment import PhoneticAugmenter
from ipaclip.losses import distillation_loss, parse_loss
from ipaclip.nn import EncoderConfig, PronunciationTransformer
from ipaclip.objective import Objective
from tests.fixtures import ANIMALS_IPA, RECIPE_OPT_INS, random_targets, tiny_encoder

IPA = ["kˈæt", "dˈɑːɡ", "fˈɪʃ", "bˈɜːd", "hˈɔːs", "mˈaʊs", "ɡˈoʊt", "ʃˈiːp", "lˈaɪən", "tˈaɪɡɚ"]


def _objective(**recipe):
    seqs = PhonemeEmbedder().fit(IPA).transform(IPA)
    vocab = tuple(sorted({s for s in seqs.symbols if not s.startswith("<")}))
    targets = torch.nn.functional.normalize(
        torch.from_numpy(np.random.default_rng(0).normal(size=(len(IPA), 16)).astype("f4")), dim=-1
    )
    r = Recipe(**recipe)
    weights = r.check("ipa", 64)
    data, obj = r.build_objective(seqs, vocab, targets, np.arange(len(IPA)), 64, weights)
    return r, seqs, vocab, data, obj, targets


def test_loss_is_the_teacher_terms_then_the_recipe_terms_in_one_call():
    _, _, _, data, obj, targets = _objective(
        loss="cosine+contrastive+2*triplet+3*prior+gallery",
        learn_temperature=True,
        augment={"substitute": 0.3},
        triplet_items=3,
        triplet_margin=2.0,
        prior_items=4,
    )
    batch = obj.make_batch(data, np.array([4, 1, 7, 2]), np.random.default_rng(0))
    z = torch.randn(len(batch.ids), 16, generator=torch.Generator().manual_seed(1))
    loss, cos = obj.loss(z, batch)
    # The same terms by hand, in the same order.
    scored, triplets = obj.split(z, batch)
    teacher, cos_ref = distillation_loss(
        scored, targets[batch.rows], obj.weights, obj.contrastive_temperature()
    )
    assert torch.equal(loss, obj.add_terms(teacher, scored, triplets, batch))
    assert torch.equal(cos, cos_ref)
    assert obj.weights == {"cosine": 1, "contrastive": 1, "triplet": 2, "prior": 3, "gallery": 1}
    assert not torch.equal(loss, teacher)  # the recipe's terms count


def test_the_objective_owns_the_optimiser_groups():
    r, seqs, vocab, _, obj, _ = _objective(ngram_lr_scale=3.0, learn_temperature=True)
    base = EncoderConfig(embedding="ipa", vocab_size=len(vocab), width=16, heads=2, layers=1,
                         output_dim=16)  # fmt: skip
    config, codes, classes = r.build_config(base, seqs, vocab)
    module = PronunciationTransformer(config)
    module.set_ngrams(codes, classes)
    main, ngrams, scale = obj.param_groups(module)
    assert ngrams["params"] == list(module.ngrams.parameters()) and ngrams["lr_scale"] == 3.0
    assert scale["params"] == [obj.logit_scale.log_scale]
    assert scale["weight_decay"] == 0.0 and "lr_scale" not in main
    n_module = sum(1 for _ in module.parameters())
    assert len(main["params"]) + len(ngrams["params"]) == n_module
    _, _, _, _, plain, _ = _objective(ngrams=0)
    assert len(plain.param_groups(PronunciationTransformer(base))) == 1


def test_a_step_encodes_copies_and_near_far_swaps_with_their_targets():
    seqs = PhonemeEmbedder().fit(ANIMALS_IPA).transform(ANIMALS_IPA)
    vocab = sorted({s for s in seqs.symbols if not s.startswith("<")})
    aug = PhoneticAugmenter(substitute=0.5)
    table, symbols = aug.fit(seqs.table, seqs.symbols)
    data = SequenceData(seqs, vocab, torch.device("cpu"), table=table, symbols=symbols)
    targets = torch.nn.functional.normalize(
        torch.from_numpy(random_targets(len(ANIMALS_IPA), dim=16)), dim=-1
    )
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


def test_ngram_vectors_and_the_logit_scale_have_their_own_optimiser_groups(monkeypatch):
    seen = {}
    real = training_module.Trainer.fit_loop

    def spy(self, history):
        seen["groups"] = self.optimizer.param_groups
        seen["ngrams"] = self.module.ngrams.weight
        return real(self, history)

    monkeypatch.setattr(training_module.Trainer, "fit_loop", spy)
    tiny_encoder(epochs=1, lr=0.01, recipe=Recipe(ngram_lr_scale=3.0, **RECIPE_OPT_INS)).fit(
        ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16)
    )
    main, ngrams, scale = seen["groups"]
    assert ngrams["params"] == [seen["ngrams"]] and ngrams["lr"] == pytest.approx(3 * main["lr"])
    assert len(scale["params"]) == 1 and scale["weight_decay"] == 0.0


MIXED = [*IPA[:6], "ɐ kˈæt", "ɐ dˈɑːɡ ɹˈʌnɪŋ", "ðə fˈɪʃ", "tˈuː bˈɜːdz"]


def _mixed_objective(scope: str) -> tuple[SequenceData, Objective]:
    seqs = PhonemeEmbedder().fit(MIXED).transform(MIXED)
    vocab = tuple(sorted({s for s in seqs.symbols if not s.startswith("<")}))
    targets = torch.nn.functional.normalize(
        torch.from_numpy(random_targets(len(MIXED), dim=16)), dim=-1
    )
    r = Recipe(phonetic_scope=scope, triplet_items=8, prior_items=8)
    data, obj = r.build_objective(seqs, vocab, targets, np.arange(len(MIXED)), 64)
    return data, obj


def test_phonetic_scope_word_scores_the_phonetic_terms_on_single_words_only():
    data, obj = _mixed_objective("word")
    assert obj.word_items.tolist() == [True] * 6 + [False] * 4
    rows = np.array([7, 0, 8, 1, 6, 2, 9, 3])  # sentences and words interleaved
    batch = obj.make_batch(data, rows, np.random.default_rng(0))
    anchors = batch.ids[8 : 8 + len(batch.triplet_ok)]
    words = data.batch_arrays(rows[obj.word_items[rows]])[0]
    assert (anchors[:, : words.shape[1]] == words).all() and not anchors[:, words.shape[1] :].any()
    # The prior reads the single words' outputs only: moving a sentence's output leaves it.
    z = torch.randn(len(batch.ids), 16, generator=torch.Generator().manual_seed(0))
    scored, triplets = obj.split(z, batch)
    before = obj.add_terms(torch.zeros(()), scored, triplets, batch)
    moved = z.clone()
    moved[0] += 5.0  # row 7, a sentence
    scored, triplets = obj.split(moved, batch)
    assert torch.equal(before, obj.add_terms(torch.zeros(()), scored, triplets, batch))
    # A batch of sentences only has no phonetic term and encodes no swap.
    only = obj.make_batch(data, np.array([6, 7, 8, 9]), np.random.default_rng(0))
    assert len(only.ids) == 4 and not only.triplet_ok.any()


def test_phonetic_scope_item_scores_every_item_as_before():
    data, obj = _mixed_objective("item")
    assert obj.word_items is None
    rows = np.array([7, 0, 8, 1, 6, 2, 9, 3])
    batch = obj.make_batch(data, rows, np.random.default_rng(0))
    anchors = batch.ids[8 : 8 + len(batch.triplet_ok)]
    assert (anchors == data.batch_arrays(rows)[0][:, : anchors.shape[1]]).all()
