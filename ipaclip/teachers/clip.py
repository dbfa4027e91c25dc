"""CLIP teachers: open_clip's text and image towers as frozen scikit-learn transformers.

:func:`load_clip` builds a model from any of its weight sources (see ``_clip_loading``);
:class:`CLIPTextEncoder` and :class:`CLIPImageEncoder` wrap it, sharing loaded models between
identical encoders through a small in-process cache.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ipaclip._hub import HUB_PREFIX, directory_digest, file_digest, state_dict_digest
from ipaclip._validation import check_params
from ipaclip.teachers._base import (
    COMMON_CONSTRAINTS,
    TRUNCATION_CONSTRAINTS,
    FrozenTeacher,
    check_device,
    check_embeddings,
    check_texts,
    eval_mode,
)
from ipaclip.teachers._clip_loading import (
    CHECKPOINT_SUFFIXES,
    LOCAL_DIR_PREFIX,
    RANDOM_WEIGHTS_SEED,
    clean_arch,
    clean_tag,
    load_named_clip,
    prepare_model_object,
    preprocess_for,
)
from ipaclip.teachers._images import check_image_items, to_rgb_image

__all__ = ["RANDOM_WEIGHTS_SEED", "CLIPImageEncoder", "CLIPTextEncoder", "load_clip"]

_LOAD_CLIP_CONSTRAINTS: dict[str, list[Any]] = {
    "model": [str, torch.nn.Module],
    "pretrained": [str, os.PathLike, None],
    "device": [str, torch.device],
    "cache_dir": [str, os.PathLike, None],
}


def load_clip(
    model: str | torch.nn.Module,
    pretrained: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    cache_dir: str | os.PathLike | None = None,
) -> tuple[torch.nn.Module, Callable | None, Callable]:
    """Build a frozen open_clip model with its image preprocessing and its tokenizer.

    Unlike ``open_clip.create_model``, this fails within seconds when the weights of a
    pretrained tag are not cached and the hub cannot be reached (open_clip alone retries
    for about a minute), with a message that says how to provide the weights.

    Parameters
    ----------
    model : str or torch.nn.Module
        An open_clip architecture name (``"ViT-B-32"``, see ``open_clip.list_models()``),
        ``"local-dir:/path"`` (a folder holding ``open_clip_config.json`` and a checkpoint),
        ``"hf-hub:org/repo"``, or an already-built model object with ``encode_text`` /
        ``encode_image`` (moved to ``device`` and put in eval mode in place).
    pretrained : str or path-like, default=None
        For an architecture name: a pretrained tag as open_clip names it (``"openai"``,
        ``"laion2b_s34b_b79k"``, see ``open_clip.list_pretrained_tags_by_model``) or a local
        checkpoint file. ``None`` builds random weights drawn with a fixed seed
        (:data:`RANDOM_WEIGHTS_SEED`), for tests and benchmarks; a warning is logged.
        Must be ``None`` for ``local-dir:``, ``hf-hub:`` and model objects.
    device : str or torch.device, default="cpu"
        Device the model is moved to.
    cache_dir : str or path-like, default=None
        Download cache, as in ``open_clip.create_model``: the Hugging Face hub cache for hub
        weights, the folder for URL downloads (default ``~/.cache/clip``).

    Returns
    -------
    model : torch.nn.Module
        The model, in eval mode.
    preprocess : callable or None
        The inference image transform (PIL image to tensor); None for a text-only model.
    tokenizer : callable
        CLIP's tokenizer for this model: a list of strings to a ``(n, context_length)``
        tensor of token ids.

    Raises
    ------
    ValueError
        Unknown architecture or pretrained tag (the message lists close matches).
    FileNotFoundError
        A checkpoint path or ``local-dir:`` folder that does not exist.
    RuntimeError
        The weights are not cached and the hub cannot be reached (``HF_HUB_OFFLINE`` is set,
        or a connection probe of about 2.5 s failed).

    Examples
    --------
    >>> from ipaclip.teachers import load_clip
    >>> model, preprocess, tokenizer = load_clip("ViT-B-32")  # random weights
    >>> tokens = tokenizer(["a photo of a cat"])
    >>> tuple(tokens.shape)
    (1, 77)
    >>> tuple(model.encode_text(tokens).shape)
    (1, 512)
    """
    params = {"model": model, "pretrained": pretrained, "device": device, "cache_dir": cache_dir}
    check_params(_LOAD_CLIP_CONSTRAINTS, params, "load_clip")
    dev = check_device(device)
    cache_dir = os.fspath(cache_dir) if cache_dir is not None else None
    if isinstance(model, torch.nn.Module):
        model, tokenizer = prepare_model_object(model, pretrained, dev)
        return model, preprocess_for(model), tokenizer
    built, tokenizer = load_named_clip(model, pretrained, dev, cache_dir)
    built.eval()
    return built, preprocess_for(built), tokenizer


@functools.lru_cache(maxsize=2)
def _load_clip_shared(
    model: str, pretrained: str | None, device: str, cache_dir: str | None, stamp: Any
) -> tuple[torch.nn.Module, Callable | None, Callable]:
    # ``stamp`` keys the cache on the checkpoint file's size and mtime.
    del stamp
    built = load_clip(model, pretrained, device=device, cache_dir=cache_dir)
    built[0].requires_grad_(False)
    return built


def _file_stamp(pretrained: str | None) -> tuple[int, int] | None:
    if pretrained is not None and os.path.isfile(pretrained):
        stat = os.stat(pretrained)
        return stat.st_size, stat.st_mtime_ns
    return None


class _CLIPEncoderBase(FrozenTeacher):
    _required_method = "encode_text"
    _parameter_constraints: dict[str, list[Any]] = {
        **_LOAD_CLIP_CONSTRAINTS,
        **COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        model: str | torch.nn.Module = "ViT-B-32",
        *,
        pretrained: str | os.PathLike | None = "openai",
        device: str | torch.device = "cpu",
        batch_size: int = 256,
        normalize: bool = True,
        cache_dir: str | os.PathLike | None = None,
        verbose: int = 0,
    ) -> None:
        self.model = model
        self.pretrained = pretrained
        self.device = device
        self.batch_size = batch_size
        self.normalize = normalize
        self.cache_dir = cache_dir
        self.verbose = verbose

    @property
    def teacher_id(self) -> str:
        """Stable string naming the teacher's weights, for on-disk caches and saved configs.

        ``"open_clip:ARCH:TAG"`` for a pretrained tag, ``"open_clip:ARCH:random-seed0"`` for
        random weights, ``"open_clip:ARCH:file-sha256-<digest>"`` for a checkpoint file,
        ``"open_clip:local-dir:<folder name>@sha256-<digest>"`` for a folder,
        ``"open_clip:hf-hub:org/repo"``, and ``"open_clip:<class>@sha256-<digest>"`` for a
        model object (a hash of its state_dict). It names the weights only: text and image
        encoders of one model share it, and ``normalize`` is not part of it.
        """
        model, pretrained = self.model, self.pretrained
        if isinstance(model, torch.nn.Module):
            cached = getattr(self, "_id_cache", None)
            if cached is None or cached[0] is not model:
                self._id_cache = (model, state_dict_digest(model))
            return f"open_clip:{type(model).__name__}@sha256-{self._id_cache[1]}"
        check_params(
            {"model": self._parameter_constraints["model"]}, {"model": model}, type(self).__name__
        )
        if model.startswith(LOCAL_DIR_PREFIX):
            folder = Path(model[len(LOCAL_DIR_PREFIX) :]).expanduser()
            if not folder.is_dir():
                raise FileNotFoundError(f"model={model!r}: folder {folder} does not exist.")
            digest = directory_digest(folder, ["*.json", *(f"*{s}" for s in CHECKPOINT_SUFFIXES)])
            return f"open_clip:local-dir:{folder.resolve().name}@sha256-{digest}"
        if model.startswith(HUB_PREFIX):
            return f"open_clip:{model}"
        arch = clean_arch(model)
        if pretrained is None:
            return f"open_clip:{arch}:random-seed{RANDOM_WEIGHTS_SEED}"
        pretrained = os.fspath(pretrained)
        if os.path.isfile(pretrained):
            return f"open_clip:{arch}:file-sha256-{file_digest(pretrained)}"
        return f"open_clip:{arch}:{clean_tag(pretrained)}"

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_id_cache", None)
        return state

    def _pretrained_used(self) -> str | None:
        """``pretrained`` as used: None for model objects and local-dir:/hf-hub: names."""
        if self.pretrained is None or not isinstance(self.model, str):
            return None
        if self.model.startswith((LOCAL_DIR_PREFIX, HUB_PREFIX)):
            return None
        return os.fspath(self.pretrained)

    def _load_key(self) -> tuple:
        model = self.model if isinstance(self.model, str) else id(self.model)
        pretrained = self._pretrained_used()
        cache_dir = None if self.cache_dir is None else os.fspath(self.cache_dir)
        return (model, pretrained, str(self.device), cache_dir, _file_stamp(pretrained))

    def _load(self) -> None:
        self._validate_params()
        key = self._load_key()
        if isinstance(self.model, torch.nn.Module):
            if not hasattr(self.model, self._required_method):
                raise TypeError(
                    f"{type(self).__name__} needs a model with {self._required_method}(); "
                    f"{type(self.model).__name__} has none."
                )
            model, preprocess, tokenizer = load_clip(self.model, None, device=self.device)
        else:
            model, preprocess, tokenizer = _load_clip_shared(*key)
        self.model_ = model
        self._set_loaded(model, preprocess, tokenizer)
        self._loaded_key = key

    def _set_loaded(self, model: torch.nn.Module, preprocess: Any, tokenizer: Any) -> None:
        raise NotImplementedError

    def _encode_batches(
        self, items: list[Any], encode: Callable[[int, list[Any]], torch.Tensor], unit: str
    ) -> np.ndarray:
        """Embed ``items`` batch by batch; ``encode(start, batch)`` runs the model."""
        batch_size = int(self.batch_size)
        out = np.empty((len(items), self.embedding_dim_), dtype=np.float32)
        with (
            torch.inference_mode(),
            eval_mode(self.model_),
            self._progress(len(items), unit) as bar,
        ):
            for start in range(0, len(items), batch_size):
                batch = items[start : start + batch_size]
                emb = encode(start, batch).float()
                if self.normalize:
                    emb = F.normalize(emb, dim=-1)
                out[start : start + batch_size] = emb.cpu().numpy()
                bar.update(len(batch))
        return out


class CLIPTextEncoder(_CLIPEncoderBase):
    """Frozen CLIP text tower as a transformer: texts to CLIP text embeddings.

    Texts go through CLIP's own tokenizer (lower-cased BPE; longer texts are truncated to
    ``context_length_`` tokens) and the model's ``encode_text``.

    Parameters
    ----------
    model : str or torch.nn.Module, default="ViT-B-32"
        An open_clip architecture name, ``"local-dir:/path"``, ``"hf-hub:org/repo"``, or a
        built open_clip model object; see :func:`load_clip`.
    pretrained : str or path-like, default="openai"
        A pretrained tag or a checkpoint file; ``None`` for random weights (tests). Ignored
        for model objects and ``local-dir:`` / ``hf-hub:`` models, which carry their weights.
    device : str or torch.device, default="cpu"
        Device the model runs on.
    batch_size : int, default=256
        Number of texts encoded at once.
    normalize : bool, default=True
        Whether to L2-normalise each embedding.
    cache_dir : str or path-like, default=None
        Download cache for pretrained weights; see :func:`load_clip`.
    truncation : {"warn", "raise", "ignore"}, default="warn"
        What to do with texts longer than ``context_length_`` tokens (77 for CLIP, start and
        end tokens included), which CLIP's tokenizer truncates: their embeddings ignore the
        rest, so texts that differ only after the limit get identical embeddings. ``"warn"``
        embeds them truncated and warns with their number and the first one; ``"raise"``
        raises a ``ValueError`` naming the first one, its token count and the limit, before
        anything is embedded; ``"ignore"`` embeds them truncated without counting them.
    verbose : int, default=0
        0 prints nothing: no progress bar, and the progress bars and log lines of open_clip,
        transformers and huggingface_hub are silenced while the model loads and embeds (and
        restored afterwards). 1 or more shows a progress bar over the texts and lets those
        libraries print.

    Attributes
    ----------
    model_ : torch.nn.Module
        The loaded model (eval mode, frozen).
    tokenizer_ : callable
        CLIP's tokenizer for the model.
    embedding_dim_ : int
        Dimension of the embeddings.
    context_length_ : int
        Maximum number of tokens per text, start and end tokens included.
    n_truncated_ : int or None
        Number of texts of the last ``transform`` longer than ``context_length_``; None with
        ``truncation="ignore"``.

    Notes
    -----
    The model is frozen, so ``fit`` only loads it, and ``transform`` loads it too when
    ``fit`` was not called (the ``requires_fit`` tag is False, as for ``HashingVectorizer``).
    Models built from a name are shared between encoders with the same ``model``,
    ``pretrained``, ``device`` and ``cache_dir`` through a small in-process cache, so cloning
    (``cross_val_score``, ``GridSearchCV``) does not reload them. Pickling drops the loaded
    model and tokenizer; they are reloaded on the next ``transform``, which needs the weights
    where the pickle is loaded. A model object passed as ``model`` is a parameter and is
    pickled, cloned and deep-copied with the estimator; it is moved to ``device`` in place.

    Counting truncated texts costs nothing for texts shorter than the context: only the texts
    that fill it are tokenized again. With ``truncation="raise"`` every text is tokenized
    once more before embedding, so that the error comes before the work.

    Examples
    --------
    >>> from ipaclip.teachers import CLIPTextEncoder
    >>> encoder = CLIPTextEncoder("ViT-B-32", pretrained=None).fit()  # random weights
    >>> X = encoder.transform(["a photo of a cat", "a photo of a dog"])
    >>> X.shape, X.dtype
    ((2, 512), dtype('float32'))
    >>> encoder.teacher_id
    'open_clip:ViT-B-32:random-seed0'
    >>> CLIPTextEncoder("ViT-B-32", pretrained="openai").teacher_id
    'open_clip:ViT-B-32:openai'
    """

    _required_method = "encode_text"
    _parameter_constraints: dict[str, list[Any]] = {
        **_CLIPEncoderBase._parameter_constraints,
        **TRUNCATION_CONSTRAINTS,
    }

    def __init__(
        self,
        model: str | torch.nn.Module = "ViT-B-32",
        *,
        pretrained: str | os.PathLike | None = "openai",
        device: str | torch.device = "cpu",
        batch_size: int = 256,
        normalize: bool = True,
        cache_dir: str | os.PathLike | None = None,
        truncation: str = "warn",
        verbose: int = 0,
    ) -> None:
        super().__init__(
            model,
            pretrained=pretrained,
            device=device,
            batch_size=batch_size,
            normalize=normalize,
            cache_dir=cache_dir,
            verbose=verbose,
        )
        self.truncation = truncation

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    def _set_loaded(self, model: torch.nn.Module, preprocess: Any, tokenizer: Any) -> None:
        self.tokenizer_ = tokenizer
        context_length = getattr(tokenizer, "context_length", None)
        self.context_length_ = int(context_length or getattr(model, "context_length", 77))
        device = check_device(self.device)
        empty = tokenizer([""])
        # The id that pads a short text's tokens; a text whose last position holds another
        # id fills the context and may have been truncated.
        self._pad_id = int(empty[0, -1])
        with torch.inference_mode(), eval_mode(model):
            probe = model.encode_text(empty.to(device))
        self.embedding_dim_ = int(probe.shape[-1])

    def _truncated_in(self, batch: list[str], tokens: torch.Tensor, start: int) -> list[int]:
        """Indices (from ``start``) of the texts of ``batch`` that ``tokens`` truncated.

        Only the texts that fill the context are tokenized again, one token longer: they
        were truncated when that longer context is full too. Texts shorter than the context
        cost nothing.
        """
        full = torch.nonzero(tokens[:, -1] != self._pad_id).flatten().tolist()
        if not full:
            return []
        longer = self.tokenizer_([batch[i] for i in full], context_length=self.context_length_ + 1)
        return [start + i for i, row in zip(full, longer) if int(row[-1]) != self._pad_id]

    def _count_tokens(self, text: str) -> int:
        """Number of tokens of ``text``, start and end tokens included, without truncation."""
        # A byte-level BPE token covers at least one UTF-8 byte (at most 4 per character).
        tokens = self.tokenizer_([text], context_length=4 * len(text) + 8)[0]
        return int(torch.nonzero(tokens != self._pad_id).max()) + 1

    def transform(self, X: Iterable[str]) -> np.ndarray:
        """Embed texts with the CLIP text tower.

        Parameters
        ----------
        X : iterable of str
            The texts. A bare string is rejected.

        Returns
        -------
        embeddings : ndarray of shape (n_texts, embedding_dim_), dtype float32
            L2-normalised when ``normalize`` is True.

        Raises
        ------
        InputError
            ``X`` is a bare string or holds a non-string item.
        ValueError
            An empty text; with ``truncation="raise"``, a text longer than
            ``context_length_`` tokens; an embedding holding NaN or infinity (broken weights).

        Warns
        -----
        UserWarning
            With ``truncation="warn"``, when texts were truncated (their number and the first).
        """
        self._validate_params()
        texts = check_texts(X)
        truncated: list[int] | None = None if self.truncation == "ignore" else []
        with self._quiet():
            self._ensure_loaded()
            device = check_device(self.device)
            if self.truncation == "raise":
                # Fail before embedding anything: one tokenization pass to find long texts.
                step = int(self.batch_size)
                for start in range(0, len(texts), step):
                    batch = texts[start : start + step]
                    truncated += self._truncated_in(batch, self.tokenizer_(batch), start)
                self._report_truncation(truncated, texts, lambda i: self._count_tokens(texts[i]))

            def encode(start: int, batch: list[str]) -> torch.Tensor:
                tokens = self.tokenizer_(batch)
                if self.truncation == "warn":
                    truncated.extend(self._truncated_in(batch, tokens, start))
                return self.model_.encode_text(tokens.to(device))

            out = self._encode_batches(texts, encode, "text")
        self._report_truncation(truncated, texts, lambda i: self._count_tokens(texts[i]))
        return check_embeddings(out, texts, type(self).__name__)


class CLIPImageEncoder(_CLIPEncoderBase):
    """Frozen CLIP image tower as a transformer: images to CLIP image embeddings.

    Each image goes through the model's own preprocessing (resize, centre crop,
    normalisation) and ``encode_image``.

    Parameters
    ----------
    model : str or torch.nn.Module, default="ViT-B-32"
        An open_clip architecture name, ``"local-dir:/path"``, ``"hf-hub:org/repo"``, or a
        built open_clip model object; see :func:`load_clip`.
    pretrained : str or path-like, default="openai"
        A pretrained tag or a checkpoint file; ``None`` for random weights (tests). Ignored
        for model objects and ``local-dir:`` / ``hf-hub:`` models, which carry their weights.
    device : str or torch.device, default="cpu"
        Device the model runs on.
    batch_size : int, default=256
        Number of images encoded at once (and held decoded in memory).
    normalize : bool, default=True
        Whether to L2-normalise each embedding.
    cache_dir : str or path-like, default=None
        Download cache for pretrained weights; see :func:`load_clip`.
    verbose : int, default=0
        0 prints nothing (third-party progress bars and log lines are silenced while the
        model loads and embeds); 1 or more shows a progress bar over the images.

    Attributes
    ----------
    model_ : torch.nn.Module
        The loaded model (eval mode, frozen).
    preprocess_ : callable
        The model's inference image transform (PIL image to tensor).
    embedding_dim_ : int
        Dimension of the embeddings.

    Notes
    -----
    Loading, sharing, cloning and pickling work as for :class:`CLIPTextEncoder`.
    Float arrays must hold values in [0, 1]; integer arrays values in 0..255.

    Examples
    --------
    >>> import numpy as np
    >>> from ipaclip.teachers import CLIPImageEncoder
    >>> encoder = CLIPImageEncoder("ViT-B-32", pretrained=None)  # random weights
    >>> image = np.zeros((64, 48, 3), dtype=np.uint8)
    >>> encoder.transform([image, image]).shape
    (2, 512)
    """

    _required_method = "encode_image"

    def _set_loaded(self, model: torch.nn.Module, preprocess: Any, tokenizer: Any) -> None:
        if preprocess is None:
            raise TypeError(
                f"{type(self).__name__} needs a model with an image tower; "
                f"{type(model).__name__} has no 'visual' module to build the preprocessing from."
            )
        self.preprocess_ = preprocess
        from PIL import Image

        device = check_device(self.device)
        with torch.inference_mode(), eval_mode(model):
            probe = model.encode_image(preprocess(Image.new("RGB", (8, 8))).unsqueeze(0).to(device))
        self.embedding_dim_ = int(probe.shape[-1])

    def transform(self, X: Iterable[Any]) -> np.ndarray:
        """Embed images with the CLIP image tower.

        Parameters
        ----------
        X : iterable of images
            Each item a file path (str or Path), a PIL image, or a numpy array of shape
            (H, W, 3) with uint8 values or floats in [0, 1]. A 4-D array (n, H, W, 3) is
            accepted as a stack of images.

        Returns
        -------
        embeddings : ndarray of shape (n_images, embedding_dim_), dtype float32
            L2-normalised when ``normalize`` is True.

        Raises
        ------
        TypeError, ValueError, FileNotFoundError
            For an item that is not an image, or whose embedding holds NaN or infinity
            (broken weights); the message names its index.
        """
        self._validate_params()
        items = check_image_items(X)
        self._ensure_loaded()
        device = check_device(self.device)
        indices = list(range(len(items)))

        def encode(start: int, batch: list[int]) -> torch.Tensor:
            pixels = torch.stack([self.preprocess_(to_rgb_image(items[i], i)) for i in batch])
            return self.model_.encode_image(pixels.to(device))

        with self._quiet():
            out = self._encode_batches(indices, encode, "image")
        return check_embeddings(out, items, type(self).__name__)
