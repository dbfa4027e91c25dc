"""The training recipe: what a :class:`~ipaclip.PronunciationEncoder` learns from, as one object.

The recipe of issue #10 (``examples/recipe_study.py``) adds to the Transformer a bag of
phoneme n-grams (:mod:`ipaclip.ngrams`), and to the teacher's loss terms a triplet term on
single-phoneme swaps and a phonetic prior (:mod:`ipaclip.losses`); opt-in, phonetic
perturbations as extra positives (:mod:`ipaclip.augment`), a gallery term and a learnable
temperature. Those settings change together, so they live together in :class:`Recipe`, an
estimator-like object (``get_params``/``set_params``/``clone``) passed as
``PronunciationEncoder(recipe=Recipe(...))``; scikit-learn's nested parameters reach them
(``GridSearchCV(encoder, {"recipe__triplet_margin": [0.05, 0.1]})``).

A recipe builds what a fit trains with: the n-gram sizes of the
:class:`~ipaclip.nn.EncoderConfig` (:meth:`Recipe.build_config`) and the training data with
the :class:`~ipaclip.objective.Objective` (:meth:`Recipe.build_objective`), which computes the
whole loss of a step and owns its optimiser groups.
"""

from __future__ import annotations

from dataclasses import replace
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from ipaclip._batches import SequenceData
from ipaclip._validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    ParamsMixin,
    StrOptions,
    check_params,
)
from ipaclip.augment import PhoneticAugmenter
from ipaclip.losses import parse_loss
from ipaclip.ngrams import BOUNDARY_POLICIES, MAX_ORDER, ngram_vocabulary
from ipaclip.nn import EncoderConfig
from ipaclip.objective import Objective
from ipaclip.phonemes import CHANNEL_NAMES
from ipaclip.sequences import PhonemeSequences

__all__ = ["Recipe"]


class Recipe(ParamsMixin, BaseEstimator):
    """The training recipe of a :class:`~ipaclip.PronunciationEncoder`: n-grams and loss terms.

    Every default was chosen by the recipe study (``examples/recipe_study.py``, 72 runs;
    README, *The training recipe*), those for sentences (``ngram_boundaries``,
    ``phonetic_scope``) by the sentence study (``examples/sentence_study.py``; README,
    *Sentences*); the measured reason is given with each parameter.

    Parameters
    ----------
    ngrams : int, default=4
        0: none. Otherwise a bag of the item's phoneme n-grams of orders 2 .. ``ngrams``
        (word start and end as symbols), each n-gram seen in fit with a learned vector; their
        mean is added to the pooled vector (:mod:`ipaclip.ngrams`). The n-grams are saved
        with the model; unseen ones count for nothing. Measured (recipe study, 18,287 words,
        8 epochs): the Transformer alone memorises the teacher's arbitrary word targets
        slowly (training R@1 0.09, held-out 0.04); with 4-grams 0.84 / 0.31. It makes the
        model larger (55k n-grams x ``width``: 67 MB instead of 13 MB at width 256).
    ngram_classes : bool or "auto", default="auto"
        Also n-grams over coarse sound classes (manner and place of the PanPhon features),
        so that a phoneme swapped for a near one keeps those n-grams. ``"auto"``: on for
        ``embedding="ipa"``, off for ``"onehot"`` (classes come from articulatory
        features, which would leak into the one-hot baseline). Measured: without them the
        n-gram bag breaks the minimal-pair triplets (0.51; with them 0.84).
    ngram_lr_scale : float, default=5.0
        The n-gram vectors' learning rate is ``lr`` times this: each gets a gradient only
        from the few words that contain it. Measured: x5 memorises in 2 epochs (training
        R@1 0.98, held-out 0.44; with x1: 0.76 / 0.27).
    ngram_boundaries : {"drop", "word", "across"}, default="word"
        How the bag reads the word boundaries of a sentence
        (:data:`ipaclip.ngrams.BOUNDARY_POLICIES`): ``"word"`` codes each word of a sentence
        as it is coded alone (the bag of a prompt is the bag of its words, so a class name
        learned as a word carries over to its prompts); ``"drop"`` ignores every window that
        touches a boundary (before issue #19); ``"across"`` lets windows run across them.
        Single words are coded alike by all three, so word-level figures do not depend on
        it. Measured (sentence study, ``examples/sentence_study.py``, dev split, 128 x 2,
        eos pooling, words and 11,000 sentences): prompts of unseen classes under held-out
        templates R@1 0.562 with ``"word"``, 0.529 with ``"drop"``, 0.491 with ``"across"``
        (seen classes 0.977 / 0.983 / 0.987).
    loss : str or dict, default="cosine+contrastive+3*triplet+3*prior"
        A sum of terms, optionally weighted (``"cosine+contrastive+3*triplet"``), or a dict
        of weights. Teacher terms: ``"cosine"`` (1 - cosine to the teacher), ``"mse"``,
        ``"contrastive"`` (in-batch InfoNCE against the teacher's embeddings). Phonetic
        terms (:mod:`ipaclip.losses`): ``"triplet"`` (a near single-phoneme swap of a
        training word must stay closer to it than a far swap, by ``triplet_margin``),
        ``"prior"`` (one minus the Pearson correlation of the batch's cosines with one minus
        the feature edit distance), and, opt-in, ``"gallery"`` (InfoNCE against every
        distinct training target). Measured (recipe study, test split, 256 x 4, 8 epochs):
        the default reaches training R@1 0.984, held-out R@1 0.436, minimal-pair triplets
        0.97 (English) / 0.95 (foreign phonemes) and nonword Spearman 0.24, where
        ``"cosine+contrastive"`` without n-grams reached 0.12 / 0.04 / 0.87 / 0.91 / 0.15;
        without the triplet term the triplets fall to 0.88, without the prior the nonword
        Spearman to 0.11. ``"gallery"`` learned slower (held-out R@1 0.03) and lowered the
        human-similarity correlation (0.58 vs 0.69).
    temperature : float, default=0.05
        Temperature of the contrastive and gallery terms (the initial one with
        ``learn_temperature``).
    learn_temperature : bool, default=False
        Learn the temperature (CLIP's ``logit_scale``, clamped at 100) with the weights.
        Measured: no gain (held-out R@1 0.39 vs 0.41 at 128 x 2); opt-in.
    augment : dict, PhoneticAugmenter or None, default=None
        Phonetic perturbations of each batch's items that keep their item's target
        (:class:`~ipaclip.augment.PhoneticAugmenter`; a dict holds its parameters; its
        ``mode`` appends copies, twice the compute, or replaces the items). Measured on top
        of the default: triplets 0.98 instead of 0.96 but held-out R@1 0.38 instead of 0.41
        and 50 % more time; opt-in.
    triplet_items : int, default=64
        Items of each batch that get a near and a far swap for the ``"triplet"`` term.
    triplet_margin : float, default=0.1
        Margin of the ``"triplet"`` term, in cosine.
    prior_items : int or None, default=256
        The ``"prior"`` term scores the pairs of the first ``prior_items`` items of each
        batch (the feature edit distance of 256 items, 32,640 pairs, takes about 26 ms on
        one core); ``None``: the whole batch.
    prior_per_row : bool, default=True
        Average the correlation of each item's cosines to the others with their phonetic
        similarities (as human ratings are compared per standard word) instead of one
        correlation over all pairs; measured slightly better on every phonetic score.
    phonetic_scope : {"word", "item"}, default="word"
        Which training items the ``"triplet"`` and ``"prior"`` terms are computed on:
        ``"word"``, single-word items only (a sentence gets the teacher terms alone);
        ``"item"``, every item (before issue #19). On single-word data both are the same.
        Measured: a triplet on a prompt encodes three more prompts (a batch of prompts
        trains at 124 instead of 236 prompts/s at 256 x 4 on 2 cores); in the sentence
        study (dev split, 128 x 2, eos pooling) ``"item"`` also found fewer prompts, of
        unseen classes 0.471 instead of 0.562 and of seen classes 0.944 instead of 0.977,
        with the word-level scores alike.

    Examples
    --------
    >>> from ipaclip import PronunciationEncoder, Recipe
    >>> before = Recipe(loss="cosine+contrastive", ngrams=0)  # the recipe before issue #10
    >>> enc = PronunciationEncoder(recipe=before)
    >>> enc.get_params()["recipe__loss"]
    'cosine+contrastive'
    >>> Recipe().loss_weights()
    {'cosine': 1.0, 'contrastive': 1.0, 'triplet': 3.0, 'prior': 3.0}

    Scikit-learn's nested parameters reach a recipe passed explicitly; with the default
    ``recipe=None`` (this default recipe) pass one first:
    ``enc.set_params(recipe=Recipe(), recipe__triplet_margin=0.05)``.
    """

    _parameter_constraints: dict = {
        "ngrams": [Interval(Integral, 0, MAX_ORDER, closed="both")],
        "ngram_classes": ["boolean", StrOptions({"auto"})],
        "ngram_lr_scale": [Interval(Real, 0, None, closed="neither")],
        "ngram_boundaries": [StrOptions(set(BOUNDARY_POLICIES))],
        "loss": [str, dict],
        "temperature": [Interval(Real, 0, 100, closed="right")],
        "learn_temperature": ["boolean"],
        "augment": [dict, HasMethods(["fit", "swap_pairs"]), None],
        "triplet_items": [Interval(Integral, 1, None, closed="left")],
        "triplet_margin": [Interval(Real, 0, 2, closed="both")],
        "prior_items": [Interval(Integral, 3, None, closed="left"), None],
        "prior_per_row": ["boolean"],
        "phonetic_scope": [StrOptions({"word", "item"})],
    }

    def __init__(
        self,
        *,
        ngrams: int = 4,
        ngram_classes: bool | str = "auto",
        ngram_lr_scale: float = 5.0,
        ngram_boundaries: str = "word",
        loss: str | dict = "cosine+contrastive+3*triplet+3*prior",
        temperature: float = 0.05,
        learn_temperature: bool = False,
        augment: dict | PhoneticAugmenter | None = None,
        triplet_items: int = 64,
        triplet_margin: float = 0.1,
        prior_items: int | None = 256,
        prior_per_row: bool = True,
        phonetic_scope: str = "word",
    ) -> None:
        self.ngrams = ngrams
        self.ngram_classes = ngram_classes
        self.ngram_lr_scale = ngram_lr_scale
        self.ngram_boundaries = ngram_boundaries
        self.loss = loss
        self.temperature = temperature
        self.learn_temperature = learn_temperature
        self.augment = augment
        self.triplet_items = triplet_items
        self.triplet_margin = triplet_margin
        self.prior_items = prior_items
        self.prior_per_row = prior_per_row
        self.phonetic_scope = phonetic_scope

    # ------------------------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------------------------
    def loss_weights(self) -> dict[str, float]:
        """The loss as ``{term: weight}`` (:func:`ipaclip.losses.parse_loss`)."""
        return parse_loss(self.loss)

    def check(self, embedding: str, context_length: int) -> dict[str, float]:
        """Validate every setting against the encoder's ``embedding``; the loss weights.

        ``context_length`` is the encoder's (the augmenter's longest sequence). Nothing is
        built: the augmenter's parameters are checked against its constraints.

        Raises
        ------
        InvalidParameterError
            Naming the parameter (of Recipe) and what it must be.
        """
        self._validate_params()
        weights = self.loss_weights()
        if self.ngrams == 1:
            raise InvalidParameterError(
                "ngrams must be 0 (no n-gram bag) or an integer in [2, 5]; got 1 (parameter of "
                "Recipe): the bag's n-grams have orders 2 .. ngrams."
            )
        self.uses_classes(embedding)
        self._check_augment(weights, int(context_length))
        return weights

    def _check_augment(self, weights: dict[str, float], context_length: int) -> None:
        """Refuse ``augment`` parameters :class:`PhoneticAugmenter` would refuse, unbuilt."""
        params = self._augmenter_params(weights, context_length)
        if params is None:
            return
        unknown = sorted(set(params) - set(PhoneticAugmenter._get_param_names()))
        try:
            if unknown:
                raise TypeError(f"unknown parameter(s) {unknown}")
            check_params(PhoneticAugmenter._parameter_constraints, params, "PhoneticAugmenter")
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(
                f"augment={self.augment!r} is not a valid set of PhoneticAugmenter parameters: "
                f"{exc} (parameter of Recipe)"
            ) from None

    def uses_classes(self, embedding: str) -> bool:
        """Whether to code sound-class n-grams: ``"auto"`` means for ``"ipa"`` only.

        Examples
        --------
        >>> Recipe().uses_classes("ipa"), Recipe().uses_classes("onehot")
        (True, False)
        """
        if self.ngram_classes == "auto":
            return embedding == "ipa"
        if self.ngram_classes and embedding != "ipa":
            raise InvalidParameterError(
                "ngram_classes=True needs embedding='ipa': sound classes come from articulatory "
                "features, which a one-hot table does not have (and would leak into the one-hot "
                "baseline); use ngram_classes='auto' or False (parameter of Recipe)."
            )
        return bool(self.ngram_classes)

    # ------------------------------------------------------------------------------------
    # what a fit builds
    # ------------------------------------------------------------------------------------
    def build_config(
        self, config: EncoderConfig, seqs: PhonemeSequences, vocabulary: tuple[str, ...]
    ) -> tuple[EncoderConfig, torch.Tensor | None, torch.Tensor | None]:
        """``config`` with the n-gram sizes of ``seqs``, and the codes for the new module.

        The codes (``None`` without an n-gram bag) go to :meth:`PronunciationTransformer.
        set_ngrams <ipaclip.nn.PronunciationTransformer.set_ngrams>`.
        """
        if not self.ngrams:
            return config, None, None
        classes = self.uses_classes(seqs.embedding)
        codes, class_codes = ngram_vocabulary(
            seqs, vocabulary, int(self.ngrams), classes=classes, boundaries=self.ngram_boundaries
        )
        config = replace(
            config,
            ngram_max=int(self.ngrams),
            ngram_boundaries=self.ngram_boundaries,
            ngram_vocab_size=max(1, len(codes)),
            ngram_class_count=0 if class_codes is None else len(class_codes),
        )
        return config, codes, class_codes

    def augment_params(self) -> dict | None:
        """``augment`` as a dict of :class:`PhoneticAugmenter` parameters (``None``: none)."""
        augment = self.augment
        if augment is None:
            return None
        if isinstance(augment, PhoneticAugmenter):
            params = augment.get_params()
            return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
        return dict(augment)

    def make_augmenter(
        self, weights: dict[str, float], context_length: int
    ) -> PhoneticAugmenter | None:
        """A fresh augmenter for ``augment`` (never the user's object), or a swap sampler only.

        The ``"triplet"`` term draws its swaps from an augmenter: without ``augment`` it gets
        one that makes no copies (``mode="none"``).
        """
        self._check_augment(weights, context_length)
        params = self._augmenter_params(weights, context_length)
        return None if params is None else PhoneticAugmenter(**params)

    def _augmenter_params(self, weights: dict[str, float], context_length: int) -> dict | None:
        params = self.augment_params()
        if params is None:
            if "triplet" not in weights:
                return None
            params = dict(substitute=0, delete=0, insert=0, unstress=0, mode="none")
        params.setdefault("max_length", context_length)
        return params

    def build_objective(
        self,
        seqs: PhonemeSequences,
        vocabulary: tuple[str, ...],
        targets: torch.Tensor,
        train_idx: np.ndarray,
        context_length: int,
        weights: dict[str, float] | None = None,
    ) -> tuple[SequenceData, Objective]:
        """The training data (with the augmenter's extra token rows) and the objective.

        ``targets`` are the teacher targets of every dataset row, on the training device
        (L2-normalised unless the loss has ``"mse"``); ``weights`` the loss weights
        :meth:`check` returned (parsed again when not given).
        """
        weights = self.loss_weights() if weights is None else weights
        augmenter = self.make_augmenter(weights, context_length)
        device = targets.device
        if augmenter is None:
            data = SequenceData(seqs, vocabulary, device)
        else:
            columns = None
            if seqs.embedding == "onehot":  # the one-hot columns' phonemes ("phoneme=p" ...)
                head = seqs.feature_names[: len(seqs.feature_names) - len(CHANNEL_NAMES)]
                columns = [name.removeprefix("phoneme=") for name in head]
            table, symbols = augmenter.fit(seqs.table, seqs.symbols, columns)
            data = SequenceData(seqs, vocabulary, device, table=table, symbols=symbols)
        objective = Objective(
            weights,
            float(self.temperature),
            data,
            targets,
            train_idx,
            augmenter,
            learn_temperature=bool(self.learn_temperature),
            triplet_items=int(self.triplet_items),
            triplet_margin=float(self.triplet_margin),
            prior_items=None if self.prior_items is None else int(self.prior_items),
            prior_per_row=bool(self.prior_per_row),
            word_items_only=self.phonetic_scope == "word",
            ngram_lr_scale=float(self.ngram_lr_scale),
        )
        return data, objective.to(device)

    # ------------------------------------------------------------------------------------
    # saving
    # ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The parameters as JSON values (an augmenter object as its parameters)."""
        params = self.get_params(deep=False)
        params["augment"] = self.augment_params()
        return params

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> Recipe:
        """The recipe :meth:`to_dict` wrote (unknown keys are a ``TypeError`` naming them).

        Examples
        --------
        >>> Recipe.from_dict(Recipe(ngrams=0).to_dict()).ngrams
        0
        """
        return cls(**params)
