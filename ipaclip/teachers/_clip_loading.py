"""Building an open_clip model from each of its weight sources, failing fast offline.

``load_named_clip`` dispatches a model name to one loader per source:

* ``local-dir:/path`` — a folder with ``open_clip_config.json`` and a checkpoint
  (:func:`load_local_dir`);
* ``hf-hub:org/repo`` — a hub repository, from the cache when it is complete
  (:func:`load_hf_hub`);
* an architecture name with ``pretrained=None`` — random weights, seeded
  (:func:`load_random`);
* an architecture name with a checkpoint file (:func:`load_checkpoint`);
* an architecture name with a pretrained tag, from the cache or downloaded
  (:func:`load_tag`).

A model object passed by the user goes through :func:`prepare_model_object`. Every loader
returns ``(model, tokenizer)``; the caller builds the image preprocessing with
:func:`preprocess_for`.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from ipaclip._hub import (
    HUB_PREFIX,
    has_hf_hub,
    hf_cached_file,
    hub_endpoint,
    unreachable_reason,
)

logger = logging.getLogger(__name__)

#: Seed used to draw the random weights of ``pretrained=None`` models, so that they are
#: the same in every process (tests, benchmarks and caches rely on it).
RANDOM_WEIGHTS_SEED = 0

LOCAL_DIR_PREFIX = "local-dir:"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".npz", ".npy", ".ckpt")


def import_open_clip() -> Any:
    try:
        import open_clip
    except ImportError as exc:  # pragma: no cover - open_clip is a hard dependency
        raise ImportError(
            "CLIP teachers need the 'open_clip_torch' package: pip install open_clip_torch"
        ) from exc
    return open_clip


# --------------------------------------------------------------------------------------
# Names, tags and messages
# --------------------------------------------------------------------------------------


def close_matches(word: str, choices: Iterable[str], n: int = 5, cutoff: float = 0.5) -> list[str]:
    """Case-insensitive ``difflib.get_close_matches``, returning the choices as spelt."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    found = difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=cutoff)
    return [lowered[f] for f in found]


def clean_arch(model: str) -> str:
    return model.replace("/", "-")


def clean_tag(tag: str) -> str:
    # open_clip normalises tags the same way (open_clip.pretrained._clean_tag)
    return tag.lower().replace("-", "_")


def looks_like_path(value: str) -> bool:
    return (
        os.sep in value
        or "/" in value
        or (os.altsep is not None and os.altsep in value)
        or value.lower().endswith(CHECKPOINT_SUFFIXES)
    )


def check_architecture(open_clip: Any, model: str) -> str:
    """Return the cleaned architecture name; raise with close matches when it is unknown."""
    arch = clean_arch(model)
    known = open_clip.list_models()
    if arch not in known:
        close = close_matches(arch, known)
        hint = f" Close matches: {close}." if close else ""
        raise ValueError(
            f"Unknown open_clip architecture {model!r}.{hint} See open_clip.list_models() for "
            f"all {len(known)} names, register your own JSON config with "
            "open_clip.add_model_config(path), or pass model='local-dir:/path/to/folder'."
        )
    return arch


def tag_config(open_clip: Any, arch: str, tag: str) -> dict:
    """Return open_clip's config of a pretrained tag; raise with close matches if unknown."""
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        if not tags:
            raise ValueError(
                f"open_clip architecture {arch!r} has no pretrained tags, so pretrained={tag!r} "
                "can only be a checkpoint file, and no such file exists. Pass the path of a "
                "checkpoint file, or pretrained=None for random weights."
            )
        close = close_matches(tag, tags)
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
        found = hf_cached_file(repo_id, filenames, cache_dir)
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
        if os.path.isdir(repo_id) or hf_cached_file(repo_id, filenames, cache_dir):
            continue
        reason = unreachable_reason(hub_endpoint())
        if reason:
            raise RuntimeError(
                f"Cannot load open_clip model {model!r}: it needs the Hugging Face files of "
                f"{repo_id!r} (text tower or tokenizer), which are not cached, and the hub "
                f"cannot be reached ({reason}). {_how_to_provide_weights(model, pretrained)}"
            )


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


# --------------------------------------------------------------------------------------
# Preprocessing and tokenizers
# --------------------------------------------------------------------------------------


def preprocess_for(model: torch.nn.Module) -> Callable | None:
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
    return import_open_clip().SimpleTokenizer(context_length=context_length)


def _tokenizer_for_object(model: torch.nn.Module) -> Any:
    context_length = getattr(model, "context_length", None)
    if context_length is None:
        context_length = getattr(getattr(model, "text", None), "context_length", None)
    return _simple_tokenizer(int(context_length or 77))


# --------------------------------------------------------------------------------------
# One loader per weight source
# --------------------------------------------------------------------------------------


def prepare_model_object(
    model: torch.nn.Module, pretrained: Any, device: torch.device
) -> tuple[torch.nn.Module, Any]:
    """A model object built by the user: move it to ``device`` in place, find its tokenizer."""
    if not (
        isinstance(model, torch.nn.Module)
        and any(hasattr(model, m) for m in ("encode_text", "encode_image"))
    ):
        raise TypeError(
            f"model object of type {type(model).__name__} has neither encode_text nor "
            "encode_image; pass an open_clip model (e.g. from open_clip.create_model)."
        )
    if pretrained is not None:
        raise ValueError(
            f"pretrained={pretrained!r} cannot be combined with a model object: load the "
            "weights into the object yourself, or pass the architecture name as model."
        )
    model.to(device).eval()
    return model, _tokenizer_for_object(model)


def _no_pretrained_with(model: str, pretrained: str | None, holder: str) -> None:
    if pretrained is not None:
        raise ValueError(
            f"pretrained={pretrained!r} cannot be combined with model={model!r}: {holder} "
            "holds its own weights. Pass pretrained=None."
        )


def load_local_dir(model: str, pretrained: str | None, common: dict) -> tuple[Any, Any]:
    """``local-dir:/path``: a folder holding open_clip_config.json and a checkpoint."""
    _no_pretrained_with(model, pretrained, "a 'local-dir:' folder")
    open_clip = import_open_clip()
    folder = Path(model[len(LOCAL_DIR_PREFIX) :]).expanduser()
    if not (folder / "open_clip_config.json").is_file():
        raise FileNotFoundError(
            f"model={model!r}: expected a folder holding open_clip_config.json (with a "
            "'model_cfg' entry) and a checkpoint file such as open_clip_pytorch_model.bin, "
            f"but {folder / 'open_clip_config.json'} does not exist."
        )
    spec = f"{LOCAL_DIR_PREFIX}{folder}"
    built = open_clip.create_model(spec, require_pretrained=True, **common)
    return built, open_clip.get_tokenizer(spec)


def load_hf_hub(model: str, pretrained: str | None, common: dict) -> tuple[Any, Any]:
    """``hf-hub:org/repo``: from the cached snapshot when complete, else downloaded."""
    _no_pretrained_with(model, pretrained, "an 'hf-hub:' repository")
    open_clip = import_open_clip()
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    cache_dir = common["cache_dir"]
    repo_id = model[len(HUB_PREFIX) :]
    config = hf_cached_file(repo_id, ["open_clip_config.json"], cache_dir)
    weights = hf_cached_file(repo_id, [HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME], cache_dir)
    if config and weights and os.path.dirname(config) == os.path.dirname(weights):
        # Everything is cached: load the snapshot folder without touching the network.
        spec = f"{LOCAL_DIR_PREFIX}{os.path.dirname(config)}"
        built = open_clip.create_model(spec, require_pretrained=True, **common)
        return built, open_clip.get_tokenizer(spec)
    reason = unreachable_reason(hub_endpoint())
    if reason:
        raise _weights_unavailable(model, None, f"looked in the hub cache for {repo_id!r}", reason)
    built = open_clip.create_model(model, require_pretrained=True, **common)
    return built, open_clip.get_tokenizer(model, cache_dir=cache_dir)


def load_random(arch: str, common: dict) -> torch.nn.Module:
    """An architecture with random weights drawn from :data:`RANDOM_WEIGHTS_SEED`."""
    logger.warning(
        "open_clip model %r has no pretrained weights: using random weights (seed %d). "
        "This is meant for tests and benchmarks; pass pretrained=... for a real teacher.",
        arch,
        RANDOM_WEIGHTS_SEED,
    )
    with _seeded(RANDOM_WEIGHTS_SEED):
        return import_open_clip().create_model(
            arch, pretrained=None, pretrained_image=False, pretrained_text=False, **common
        )


def load_checkpoint(arch: str, checkpoint: str, common: dict) -> torch.nn.Module:
    """An architecture with the weights of a local checkpoint file."""
    return import_open_clip().create_model(arch, pretrained=checkpoint, **common)


def load_tag(arch: str, tag: str, common: dict) -> torch.nn.Module:
    """An architecture with a pretrained tag's weights: from the cache, else downloaded.

    Downloading starts only after a probe says the hub (or the tag's URL) can be reached.
    """
    open_clip = import_open_clip()
    cfg = tag_config(open_clip, arch, tag)
    # Tags record whether they were trained with QuickGELU; build the matching activation
    # so that the embeddings are those of the published model.
    quick_gelu = bool(cfg.get("quick_gelu", False))
    cache_dir = common["cache_dir"]
    cached = _cached_tag_weights(cfg, cache_dir)
    if cached:
        from open_clip.transform import PreprocessCfg

        keys = set(PreprocessCfg.__dataclass_fields__) - {"size"}
        logger.info("Loading %s:%s from cached weights %s", arch, tag, cached)
        return open_clip.create_model(
            arch,
            pretrained=cached,
            force_quick_gelu=quick_gelu,
            force_preprocess_cfg={k: v for k, v in cfg.items() if k in keys},
            **common,
        )
    repo_id, filenames, url = _tag_download_sources(cfg)
    source = hub_endpoint() if repo_id and has_hf_hub() else url
    looked = []
    if repo_id:
        looked.append(f"hub cache for {repo_id!r} ({', '.join(filenames)})")
    if url:
        looked.append(os.path.join(cache_dir or "~/.cache/clip", os.path.basename(url)))
    reason = unreachable_reason(source or hub_endpoint())
    if reason:
        raise _weights_unavailable(arch, tag, "looked in " + " and ".join(looked), reason)
    logger.info("Downloading the weights of %s:%s", arch, tag)
    return open_clip.create_model(arch, pretrained=tag, force_quick_gelu=quick_gelu, **common)


def load_named_clip(
    model: str, pretrained: str | None, device: torch.device, cache_dir: str | None
) -> tuple[torch.nn.Module, Any]:
    """Build an open_clip model from a name; return ``(model, tokenizer)``."""
    common = {"device": device, "cache_dir": cache_dir}
    if model.startswith(LOCAL_DIR_PREFIX):
        return load_local_dir(model, pretrained, common)
    if model.startswith(HUB_PREFIX):
        return load_hf_hub(model, pretrained, common)

    open_clip = import_open_clip()
    arch = check_architecture(open_clip, model)
    _check_hf_parts(model, pretrained, open_clip.get_model_config(arch) or {}, cache_dir)
    tokenizer = open_clip.get_tokenizer(arch, cache_dir=cache_dir)
    if pretrained is None:
        return load_random(arch, common), tokenizer
    pretrained = os.fspath(pretrained)
    if os.path.isfile(pretrained):
        return load_checkpoint(arch, pretrained, common), tokenizer
    if looks_like_path(pretrained):
        raise FileNotFoundError(
            f"pretrained={pretrained!r} looks like a checkpoint path but no such file exists. "
            f"Pass an existing checkpoint file or a pretrained tag of {arch!r} "
            f"({open_clip.list_pretrained_tags_by_model(arch)})."
        )
    return load_tag(arch, pretrained, common), tokenizer
