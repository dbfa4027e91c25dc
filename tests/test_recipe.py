"""The training recipe (:mod:`ipaclip.recipe`): its defaults, its parameters and their checks,
nested parameters, saving, ``to_dict``/``from_dict``, and the augmenter it builds."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from ipaclip import PronunciationEncoder, Recipe
from ipaclip.augment import PhoneticAugmenter
from ipaclip.losses import parse_loss
from tests.fixtures import (
    ANIMALS_IPA,
    FIT_ON_ARRAY_CHECKS,
    RECIPE_OPT_INS,
    random_targets,
    tiny_encoder,
)


def test_defaults_are_the_recipe_and_classes_follow_the_embedding():
    assert PronunciationEncoder().recipe is None  # Recipe(): the recipe study's
    params = Recipe().get_params()
    assert parse_loss(params["loss"]) == {
        "cosine": 1.0, "contrastive": 1.0, "triplet": 3.0, "prior": 3.0,
    }  # fmt: skip
    assert (params["ngrams"], params["ngram_classes"], params["ngram_lr_scale"]) == (4, "auto", 5)
    assert (params["prior_items"], params["prior_per_row"]) == (256, True)
    ipa = tiny_encoder(epochs=1).fit(ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16))
    onehot = tiny_encoder(epochs=1, embedding="onehot").fit(
        ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16)
    )
    assert ipa.config_.ngram_max == 4 and ipa.config_.ngram_class_count > 0
    assert onehot.config_.ngram_max == 4 and onehot.config_.ngram_class_count == 0


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
        tiny_encoder(recipe=Recipe(**params), embedding=embedding).fit(
            ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16)
        )


@pytest.mark.slow
def test_numpy_integers_and_an_augmenter_object_are_accepted():
    ints = Recipe(ngrams=np.int64(3), triplet_items=np.int64(2), prior_items=np.int64(4))
    assert (
        tiny_encoder(recipe=ints)
        .fit(ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16))
        .config_.ngram_max
        == 3
    )
    aug = PhoneticAugmenter(substitute=0.3, mode="replace")
    enc = tiny_encoder(recipe=Recipe(augment=aug)).fit(
        ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16)
    )
    assert enc.recipe.augment is aug and not hasattr(aug, "neighbours_")  # user's object intact
    twin = clone(enc)
    assert twin.recipe.augment is not aug and twin.recipe.augment.get_params() == aug.get_params()
    twin.set_params(recipe__augment__substitute=0.1)
    assert twin.recipe.augment.substitute == 0.1 and aug.substitute == 0.3


@pytest.mark.slow
@pytest.mark.parametrize("embedding", ["ipa", "onehot"])
def test_recipe_with_every_option_fits_saves_loads_and_pickles(tmp_path, embedding):
    opt_ins = {k: v for k, v in RECIPE_OPT_INS.items() if k != "augment"}
    recipe = Recipe(augment=PhoneticAugmenter(substitute=0.2), **opt_ins)
    enc = tiny_encoder(embedding=embedding, recipe=recipe)
    enc.fit(ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16))
    assert "logit_scale" in enc.history_[-1]
    z = enc.transform(ANIMALS_IPA + ["xˈæt"])  # x: unseen (onehot: <unk>), its n-grams unknown
    assert np.isfinite(z).all()
    folder = enc.save(tmp_path / "m")
    again = PronunciationEncoder.load(folder)
    np.testing.assert_array_equal(again.transform(ANIMALS_IPA + ["xˈæt"]), z)
    assert again.recipe.augment == {
        **PhoneticAugmenter(substitute=0.2).get_params(),
        "weak": ["ə", "h", "ʔ"],
    }
    assert again.get_params()["recipe__ngrams"] == 4 and again.recipe.learn_temperature is True
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(enc)).transform(ANIMALS_IPA), z[:10])
    refit = clone(again).fit(
        ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16)
    )  # the saved parameters train the same model again
    np.testing.assert_allclose(refit.transform(ANIMALS_IPA), z[:10], atol=1e-6)


def test_grid_search_reaches_the_recipe_through_nested_parameters():
    from sklearn.model_selection import GridSearchCV, KFold

    enc = tiny_encoder(epochs=1, recipe=Recipe(ngrams=0, loss="cosine+triplet"))
    assert enc.get_params(deep=True)["recipe__loss"] == "cosine+triplet"
    grid = {"recipe__triplet_margin": [0.05, 0.5]}
    search = GridSearchCV(enc, grid, cv=KFold(2)).fit(
        ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16)
    )
    assert search.best_params_["recipe__triplet_margin"] in (0.05, 0.5)
    assert (
        search.best_estimator_.recipe.triplet_margin
        == search.best_params_["recipe__triplet_margin"]
    )
    assert enc.recipe.triplet_margin == 0.1  # the searched clones, not the user's recipe
    # The margin reaches the loss: the two settings train differently.
    a = (
        clone(enc)
        .set_params(recipe__triplet_margin=0.05)
        .fit(ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16))
    )
    b = (
        clone(enc)
        .set_params(recipe__triplet_margin=0.5)
        .fit(ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16))
    )
    assert a.history_[0]["loss"] != b.history_[0]["loss"]


def test_recipe_none_is_the_default_recipe_bit_for_bit():
    none = tiny_encoder(epochs=1).fit(ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16))
    explicit = tiny_encoder(epochs=1, recipe=Recipe()).fit(
        ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16)
    )
    for name, value in none.module_.state_dict().items():
        assert torch.equal(explicit.module_.state_dict()[name], value), name
    assert none.recipe is None  # fit does not set parameters
    # With the default None, nested parameters need a recipe first (in the same call).
    enc = tiny_encoder().set_params(recipe=Recipe(), recipe__triplet_margin=0.05)
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
    tiny_encoder(epochs=1, recipe=r).check_params()
    assert built == []
    tiny_encoder(epochs=1, recipe=r).fit(ANIMALS_IPA, random_targets(len(ANIMALS_IPA), dim=16))
    assert len(built) == 1 and built[0]["substitute"] == 0.2


def _recipe_is_not_fitted(estimator) -> dict[str, str]:
    reason = "Recipe holds parameters and has no fit: PronunciationEncoder.fit reads it"
    return {name: reason for name in (*FIT_ON_ARRAY_CHECKS, "check_fit1d")}


# Recipe runs the checks of its parameters (clone, repr, get_params/set_params, defaults).
@parametrize_with_checks([Recipe()], expected_failed_checks=_recipe_is_not_fitted)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
