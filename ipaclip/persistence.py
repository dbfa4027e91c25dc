"""The saved-model folder: safetensors weights + JSON config, written atomically, read warily.

A folder holds ``config.json``, ``model.safetensors`` and, when the G2P had a lexicon,
``lexicon.json`` (its entries: a saved model never points at a file elsewhere). The config
records a SHA-256 over the canonical config (without the checksum itself), the weights and
the lexicon, so editing any of them is detected.

Reading trusts nothing in the folder: every size is bounded or checked against the
safetensors header *before* memory is allocated, the checksum is mandatory, weights must be
finite, and no path named inside the config is ever opened. Writing goes through a sibling
folder renamed into place (:func:`ipaclip._io.atomic_folder`), so the old model stays
loadable until the new one is complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import torch

from ipaclip._io import atomic_folder, check_replaceable, recover_folder
from ipaclip._model_checks import (
    MAX_JSON_BYTES,
    MAX_WEIGHT,
    check_codes,
    check_encoder_fields,
    check_file_size,
    checked_history,
    checked_params,
    checked_vocabulary,
    corrupt,
    fitted_architecture,
    lexicon_entries,
    read_json,
    string_list,
)
from ipaclip.model_card import render_model_card
from ipaclip.nn import EncoderConfig
from ipaclip.recipe import Recipe
from ipaclip.training import EarlyStopping

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "FORMAT",
    "FORMAT_VERSION",
    "LEXICON_NAME",
    "MAX_JSON_BYTES",
    "MODEL_FILES",
    "WEIGHTS_NAME",
    "check_save_target",
    "is_model_folder",
    "jsonable",
    "read_model",
    "save_estimator",
    "teacher_not_restored",
    "write_model",
]

FORMAT = "ipaclip-pronunciation-encoder"
FORMAT_VERSION = 2
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
LEXICON_NAME = "lexicon.json"
CARD_NAME = "README.md"
#: Every file a model folder may hold (what is downloaded from a hub repository).
MODEL_FILES = (CONFIG_NAME, WEIGHTS_NAME, LEXICON_NAME, CARD_NAME)
_BLOCK = re.compile(r"^blocks\.(\d+)\.")


def _digest(config: dict, files: list[Path]) -> str:
    h = hashlib.sha256()
    body = {k: v for k, v in config.items() if k != "checksum"}
    h.update(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    for path in files:
        h.update(path.name.encode())
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_model_folder(folder: Path) -> bool:
    """Whether ``folder`` holds an ipaclip model and nothing else: what a save may replace.

    Every entry must be a regular file named in :data:`MODEL_FILES`, and ``config.json``
    must name the ipaclip format. Nothing is opened but that config (read only up to
    :data:`MAX_JSON_BYTES`).
    """
    try:
        entries = list(folder.iterdir())
        config = folder / CONFIG_NAME
        if not config.is_file() or config.stat().st_size > MAX_JSON_BYTES:
            return False
        if any(p.name not in MODEL_FILES or p.is_symlink() or not p.is_file() for p in entries):
            return False
        with open(config, "rb") as f:
            data = json.loads(f.read(MAX_JSON_BYTES))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def check_save_target(path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Raise ``FileExistsError`` unless a model may be saved to ``path`` (before any work).

    A missing path, an empty folder or a model folder (:func:`is_model_folder`) is replaced;
    anything else only with ``overwrite=True``; the working directory, its ancestors, the
    root and the home folder never (:func:`ipaclip._io.check_replaceable`).
    """
    check_replaceable(path, overwrite=overwrite, is_ours=is_model_folder)


def write_model(
    folder: str | os.PathLike,
    tensors: dict[str, torch.Tensor],
    config: dict,
    lexicon: dict[str, str] | None = None,
    card: str | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write a model folder atomically; ``config`` gains the format keys and the checksum.

    ``card`` is a model card written as ``README.md`` (documentation: not checksummed).
    What is at ``folder`` is replaced only as :func:`check_save_target` allows.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, **config}
    with atomic_folder(folder, overwrite=overwrite, is_ours=is_model_folder) as tmp:
        weights = tmp / WEIGHTS_NAME
        save_file(tensors, str(weights), metadata={"format": FORMAT})
        files = [weights]
        if lexicon:
            (tmp / LEXICON_NAME).write_text(
                json.dumps(lexicon, ensure_ascii=False, indent=0), "utf-8"
            )
            files.append(tmp / LEXICON_NAME)
        config["checksum"] = {
            "sha256": _digest(config, files),
            "covers": [CONFIG_NAME] + [p.name for p in files],
        }
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2, ensure_ascii=False), "utf-8")
        if card is not None:
            (tmp / CARD_NAME).write_text(card, "utf-8")
    return folder


def save_estimator(
    est: Any,
    params: dict,
    path: str | os.PathLike,
    g2p: Any,
    model_card: bool,
    *,
    overwrite: bool = False,
) -> Path:
    """Write a fitted PronunciationEncoder ``est`` (its JSON ``params``) as a model folder.

    What is at ``path`` is replaced only as :func:`check_save_target` allows.
    """
    from ipaclip._version import __version__
    from ipaclip.g2p import load_lexicon

    tensors = {k: v.detach().cpu().contiguous() for k, v in est.module_.state_dict().items()}
    params = fitted_architecture(params, est.config_)
    if not isinstance(est.teacher, str):
        params["teacher"] = est.teacher_id_
    params["target_cache_dir"] = None  # paths stay local (a Checkpoint is never saved)
    embedder = est.phoneme_embedder_
    lexicon, g2p_params = None, None
    if g2p is not None:
        g2p_params = {k: v for k, v in g2p.get_params().items() if jsonable(v)}
        lexicon = load_lexicon(g2p.lexicon) or None
        g2p_params["lexicon"] = LEXICON_NAME if lexicon else None
    config = {
        "ipaclip_version": __version__,
        "encoder_config": est.config_.to_dict(),
        "estimator_params": params,
        "vocabulary": list(est.vocabulary_),
        "phoneme_embedder": None
        if embedder is None
        else {"params": embedder.get_params(), "vocabulary": list(embedder.vocabulary_)},
        "teacher": {"id": est.teacher_id_, "dim": est.embedding_dim_},
        "layout": None if est.layout_ is None else est.layout_.to_dict(),
        "g2p": g2p_params,
        "history": est.history_,
    }
    card = render_model_card(config, model_id=Path(path).name) if model_card else None
    return write_model(path, tensors, config, lexicon, card, overwrite=overwrite)


def jsonable(value: Any) -> bool:
    """Whether ``value`` can be written to a model's JSON config as it is."""
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False


# ----------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------
def _require(config: dict, key: str, kind: type | tuple, where: Path) -> Any:
    if key not in config:
        raise ValueError(f"{where}: the key {key!r} is missing; the file is corrupted.")
    value = config[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ValueError(
            f"{where}: {key!r} must be {getattr(kind, '__name__', kind)}, got "
            f"{type(value).__name__}; the file is corrupted."
        )
    return value


def _header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from the safetensors header, without reading the tensors."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path} cannot be read as safetensors: {exc}") from exc


def _check_architecture(encoder: EncoderConfig, shapes: dict, path: Path) -> None:
    """Compare the config with the weights' header, cheapest checks first."""

    def mismatch(detail: str) -> ValueError:
        return ValueError(
            f"The weights in {path} do not fit the architecture in config.json: {detail}."
        )

    blocks = {int(m.group(1)) for k in shapes if (m := _BLOCK.match(k))}
    if encoder.layers != len(blocks):
        raise mismatch(f"encoder_config.layers is {encoder.layers}, the weights hold {len(blocks)}")
    positional = shapes.get("positional", ())
    if len(positional) == 2:
        for key, value, found in (
            ("context_length", encoder.context_length, positional[0]),
            ("width", encoder.width, positional[1]),
        ):
            if value != found:
                raise mismatch(f"encoder_config.{key} is {value}, the weights have {found}")
    expected = encoder.parameter_shapes()
    for name in sorted(set(expected) | set(shapes)):
        if expected.get(name) != shapes.get(name):
            raise mismatch(
                f"tensor {name!r} has shape {shapes.get(name)} in the weights but "
                f"{expected.get(name)} in the config"
            )


def _encoder_config(config: dict, where: Path) -> EncoderConfig:
    raw = _require(config, "encoder_config", dict, where)
    check_encoder_fields(raw, where)
    try:
        return EncoderConfig.from_dict(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: encoder_config is invalid: {exc}") from exc


def read_model(folder: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor], dict | None]:
    """Read and check a model folder: ``(config, tensors, lexicon)``.

    Raises
    ------
    FileNotFoundError
        The folder, its config or its weights are missing.
    ValueError
        Anything corrupt or inconsistent; the message names the file and the key.
    """
    from safetensors.torch import load_file

    folder = Path(folder)
    recover_folder(folder)  # a save killed between its two renames
    config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    for p in (config_path, weights_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p} is missing: not a saved PronunciationEncoder folder.")
    config = read_json(config_path, "config")
    if not isinstance(config, dict):
        raise ValueError(f"{config_path} must hold a JSON object; the file is corrupted.")
    if config.get("format") != FORMAT:
        raise ValueError(f"{config_path} is not an ipaclip pronunciation encoder config.")
    version = _require(config, "format_version", int, config_path)
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{folder} was saved by a newer ipaclip (format {version}, ipaclip "
            f"{config.get('ipaclip_version')}); upgrade ipaclip to load it."
        )
    encoder = _encoder_config(config, config_path)
    _check_architecture(encoder, _header_shapes(weights_path), weights_path)

    lexicon_path = folder / LEXICON_NAME
    has_lexicon = lexicon_path.is_file()
    if has_lexicon:  # its size, before hashing it
        check_file_size(lexicon_path, "lexicon")
    files = [weights_path] + ([lexicon_path] if has_lexicon else [])
    if version >= 2:
        checksum = _require(config, "checksum", dict, config_path)
        if checksum.get("sha256") != _digest(config, files):
            raise ValueError(
                f"{folder} does not match the checksum in config.json: the config, the weights "
                "or the lexicon were changed or corrupted after saving."
            )
    else:  # format 1 (ipaclip 0.1) checksummed the weights only
        expected = _require(config, "weights_sha256", str, config_path)
        if _sha256_file(weights_path) != expected:
            raise ValueError(
                f"{weights_path} does not match the checksum in config.json: the weights are "
                "corrupted or belong to another model."
            )
    lexicon = (
        lexicon_entries(read_json(lexicon_path, "lexicon"), lexicon_path) if has_lexicon else None
    )
    try:
        tensors = load_file(str(weights_path))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{weights_path} cannot be read as safetensors: {exc}") from exc
    for name, tensor in tensors.items():
        if not tensor.is_floating_point():
            continue
        if not torch.isfinite(tensor).all():
            raise ValueError(
                f"{weights_path}: tensor {name!r} holds NaN or infinite values; the model is "
                "broken (retrain it, or load an earlier save)."
            )
        if tensor.numel() and tensor.abs().max() > MAX_WEIGHT:
            raise ValueError(
                f"{weights_path}: tensor {name!r} holds a weight of magnitude "
                f"{float(tensor.abs().max()):.3g}, above {MAX_WEIGHT:g} (no trained model has "
                "one; computing with it overflows); the model is corrupted."
            )
    check_codes(tensors, encoder, weights_path)
    return config, tensors, lexicon


# ----------------------------------------------------------------------------------------
# From a checked config to an estimator
# ----------------------------------------------------------------------------------------
def _corrupt(folder: Path, key: str, detail: str) -> ValueError:
    return corrupt(folder / CONFIG_NAME, key, detail)


def _make(kind: type, params: Any, key: str, where: Path) -> Any:
    """``kind(**params)`` with its parameters validated; errors name ``key``."""
    if not isinstance(params, dict):
        raise _corrupt(where, key, "must be an object of parameters")
    try:
        obj = kind(**params)
        obj._validate_params()
    except TypeError as exc:  # unknown keyword (InvalidParameterError is a ValueError)
        if isinstance(exc, ValueError):
            raise _corrupt(where, key, f"holds a bad value: {exc}") from exc
        raise _corrupt(where, key, f"holds an unknown parameter ({exc})") from exc
    except ValueError as exc:
        raise _corrupt(where, key, f"holds a bad value: {exc}") from exc
    return obj


def _layout(config: dict, folder: Path, embedder: Any) -> Any:
    """The training sequences' layout: saved (format 2), else the embedder's, else None."""
    from ipaclip.sequences import SequenceLayout

    raw = config.get("layout")
    if raw is None:
        return None if embedder is None else embedder.layout_
    if not isinstance(raw, dict):
        raise _corrupt(folder, "layout", "must be an object or null")
    try:
        return SequenceLayout.from_dict(raw)
    except (TypeError, ValueError) as exc:
        raise _corrupt(folder, "layout", f"is invalid ({exc})") from exc


def teacher_not_restored(spec: str) -> str:
    """Why a loaded model has no teacher: ``spec`` named a local path (what to do)."""
    return (
        f"This model was distilled from the teacher {spec!r}, which names a file or folder; a "
        "saved model never restores a teacher named by a path (it would be opened on this "
        "machine). Pass teacher=... (PronunciationEncoder.set_params(teacher=...) or "
        "evaluate_model(teacher=...)), or IPACLIP.load(path, teacher=...)."
    )


def _unrestored_teacher(params: dict, folder: Path) -> str | None:
    """Drop a saved teacher that names a local path (returned, else None), with a warning."""
    from ipaclip.teachers._spec import names_local_path

    spec = params.get("teacher")
    if not names_local_path(spec):
        return None
    params["teacher"] = None
    logging.getLogger(__name__).warning(
        "%s: estimator_params.teacher is not restored. %s",
        folder / CONFIG_NAME,
        teacher_not_restored(spec),
    )
    return spec


def build_estimator(cls: type, folder: Path, config: dict, tensors: dict, lexicon: Any) -> Any:
    """A fitted ``cls`` (PronunciationEncoder) from a folder :func:`read_model` checked."""
    from ipaclip.g2p import IPATransformer, load_lexicon
    from ipaclip.nn import PronunciationTransformer
    from ipaclip.phonemes import PhonemeEmbedder

    encoder = _encoder_config(config, folder / CONFIG_NAME)
    vocabulary = checked_vocabulary(config, encoder, folder / CONFIG_NAME)
    teacher = config.get("teacher")
    if (
        not isinstance(teacher, dict)
        or not isinstance(teacher.get("id"), str | type(None))
        or teacher.get("dim") != encoder.output_dim
    ):
        raise _corrupt(
            folder, "teacher", f"must be {{'id': str or null, 'dim': {encoder.output_dim}}}"
        )
    history = checked_history(config, folder / CONFIG_NAME)
    params = checked_params(config.get("estimator_params"), encoder, folder / CONFIG_NAME)
    unrestored = _unrestored_teacher(params, folder)
    params["recipe"] = _make(Recipe, params["recipe"], "estimator_params.recipe", folder)
    if params["callbacks"] is not None:
        params["callbacks"] = [
            _make(EarlyStopping, c["EarlyStopping"], "estimator_params.callbacks", folder)
            for c in params["callbacks"]
        ]
    est = _make(cls, params, "estimator_params", folder)
    emb = config.get("phoneme_embedder")
    embedder = None
    if emb is not None:
        if not isinstance(emb, dict):
            raise _corrupt(folder, "phoneme_embedder", "must be an object or null")
        embedder = _make(PhonemeEmbedder, emb.get("params"), "phoneme_embedder.params", folder)
        try:
            embedder.fit(string_list(emb, "vocabulary", folder / CONFIG_NAME) or ["ə"])
        except ValueError as exc:
            raise _corrupt(folder, "phoneme_embedder.vocabulary", f"is invalid ({exc})") from exc
    g2p = config.get("g2p")
    if g2p is not None:
        if not isinstance(g2p, dict):
            raise _corrupt(folder, "g2p", "must be an object or null")
        g2p = dict(g2p)
        named = g2p.get("lexicon")
        if named == LEXICON_NAME and isinstance(lexicon, dict):
            try:  # a dict: load_lexicon opens nothing
                g2p["lexicon"] = load_lexicon(lexicon)
            except ValueError as exc:
                raise ValueError(f"{folder / LEXICON_NAME}: {exc}") from exc
        elif named is not None:
            # A path (ipaclip 0.1 saved one) or anything else: never opened from a config.
            logging.getLogger(__name__).warning(
                "%s names a lexicon %r that is not part of the model folder; it is not "
                "opened. Pass IPACLIP(..., g2p=IPATransformer(lexicon=...)) to use one.",
                folder / CONFIG_NAME,
                named,
            )
            g2p["lexicon"] = None
        est.g2p_ = _make(IPATransformer, g2p, "g2p", folder)
    module = PronunciationTransformer(encoder)
    module.load_state_dict(tensors, strict=True)
    est.unrestored_teacher_ = unrestored
    layout = _layout(config, folder, embedder)
    return est._set_fitted(
        module.eval(), encoder, vocabulary, embedder, layout, teacher["id"], history
    )
