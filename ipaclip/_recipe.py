"""From a :class:`~ipaclip.PronunciationEncoder`'s recipe parameters to what a fit trains with.

The training recipe of issue #10 (``examples/recipe_study.py``) adds to the Transformer a
bag of phoneme n-grams (:mod:`ipaclip.ngrams`), and to the teacher's loss terms a triplet
term on single-phoneme swaps and a phonetic prior (:mod:`ipaclip.losses`); opt-in, phonetic
perturbations as extra positives (:mod:`ipaclip.augment`), a gallery term and a learnable
temperature. This module turns the estimator's parameters into those pieces: the n-gram
vocabulary and sizes of the :class:`~ipaclip.nn.EncoderConfig`, the augmenter, the training
data with the augmenter's extra token rows, and the :class:`~ipaclip._objective.Objective`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch

from ipaclip._batches import SequenceData
from ipaclip._objective import Objective
from ipaclip._validation import InvalidParameterError
from ipaclip.augment import PhoneticAugmenter
from ipaclip.ngrams import ngram_vocabulary
from ipaclip.nn import EncoderConfig
from ipaclip.phonemes import CHANNEL_NAMES
from ipaclip.sequences import PhonemeSequences

__all__ = [
    "augment_params",
    "make_augmenter",
    "new_encoder_config",
    "ngram_config",
    "training_objective",
    "use_classes",
]


def use_classes(ngram_classes: bool | str, embedding: str) -> bool:
    """Whether to code sound-class n-grams: ``"auto"`` means for ``"ipa"`` only.

    Examples
    --------
    >>> use_classes("auto", "ipa"), use_classes("auto", "onehot"), use_classes(False, "ipa")
    (True, False, False)
    """
    if ngram_classes == "auto":
        return embedding == "ipa"
    if ngram_classes and embedding != "ipa":
        raise InvalidParameterError(
            "ngram_classes=True needs embedding='ipa': sound classes come from articulatory "
            "features, which a one-hot table does not have (and would leak into the one-hot "
            "baseline); use ngram_classes='auto' or False."
        )
    return bool(ngram_classes)


def new_encoder_config(params: dict, seqs: PhonemeSequences, output_dim: int) -> tuple:
    """The architecture a fresh fit builds from the estimator's ``params`` and ``seqs``.

    Returns ``(config, vocabulary, ngram_codes, class_codes)``: the vocabulary is the
    segments of the token table (tones and special tokens are written ``"<...>"``); the
    codes (``None`` without an n-gram bag) go to :meth:`PronunciationTransformer.set_ngrams
    <ipaclip.nn.PronunciationTransformer.set_ngrams>`.
    """
    vocabulary = tuple(sorted({s for s in seqs.symbols if not s.startswith("<")}))
    config = EncoderConfig(
        embedding=params["embedding"],
        vocab_size=len(vocabulary),
        residual=bool(params["residual"]),
        width=int(params["width"]),
        layers=int(params["layers"]),
        heads=int(params["heads"]),
        context_length=int(params["context_length"]),
        causal=bool(params["causal"]),
        pooling=params["pooling"],
        output_dim=int(output_dim),
        dropout=float(params["dropout"]),
    )
    classes = use_classes(params["ngram_classes"], seqs.embedding)
    config, codes, class_codes = ngram_config(config, seqs, vocabulary, params["ngrams"], classes)
    return config, vocabulary, codes, class_codes


def ngram_config(
    config: EncoderConfig,
    seqs: PhonemeSequences,
    vocabulary,
    ngrams: int,
    classes: bool,
) -> tuple[EncoderConfig, torch.Tensor | None, torch.Tensor | None]:
    """``config`` with the n-gram sizes of ``seqs``, and the codes to give the new module."""
    if not ngrams:
        return config, None, None
    codes, class_codes = ngram_vocabulary(seqs, vocabulary, int(ngrams), classes=classes)
    config = replace(
        config,
        ngram_max=int(ngrams),
        ngram_vocab_size=max(1, len(codes)),
        ngram_class_count=0 if class_codes is None else len(class_codes),
    )
    return config, codes, class_codes


def augment_params(augment: Any) -> dict | None:
    """``augment`` as a dict of :class:`PhoneticAugmenter` parameters (``None``: none)."""
    if augment is None:
        return None
    if isinstance(augment, PhoneticAugmenter):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in augment.get_params().items()}
    return dict(augment)


def make_augmenter(
    augment: Any, weights: dict[str, float], max_length: int
) -> PhoneticAugmenter | None:
    """A fresh augmenter for ``augment`` (never the user's object), or a swap sampler only.

    The ``"triplet"`` term draws its swaps from an augmenter: without ``augment`` it gets one
    that makes no copies (``mode="none"``).
    """
    params = augment_params(augment)
    if params is None:
        if "triplet" not in weights:
            return None
        params = dict(substitute=0, delete=0, insert=0, unstress=0, mode="none")
    params.setdefault("max_length", max_length)
    try:
        augmenter = PhoneticAugmenter(**params)
        augmenter._validate_params()
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"augment={augment!r} is not a valid set of PhoneticAugmenter parameters: {exc}"
        ) from None
    return augmenter


def training_objective(
    seqs: PhonemeSequences,
    vocabulary,
    device: torch.device,
    targets: torch.Tensor,
    train_idx: np.ndarray,
    weights: dict[str, float],
    augmenter: PhoneticAugmenter | None,
    **settings,
) -> tuple[SequenceData, Objective]:
    """The training data (with the augmenter's extra rows) and the objective of a fit.

    ``settings`` are the :class:`~ipaclip._objective.Objective`'s keyword arguments
    (``temperature``, ``learn_temperature``, ``triplet_items``...).
    """
    if augmenter is None:
        data = SequenceData(seqs, vocabulary, device)
    else:
        columns = None
        if seqs.embedding == "onehot":  # the one-hot columns' phonemes ("phoneme=p" ...)
            head = seqs.feature_names[: len(seqs.feature_names) - len(CHANNEL_NAMES)]
            columns = [name.removeprefix("phoneme=") for name in head]
        table, symbols = augmenter.fit(seqs.table, seqs.symbols, columns)
        data = SequenceData(seqs, vocabulary, device, table=table, symbols=symbols)
    temperature = settings.pop("temperature")
    objective = Objective(weights, temperature, data, targets, train_idx, augmenter, **settings).to(
        device
    )
    return data, objective
