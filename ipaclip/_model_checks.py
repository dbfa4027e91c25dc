"""What a saved model folder may hold, checked before anything is built from it.

Strict JSON (bounded size, nesting and integers; NaN and infinities refused by key), a
lexicon of bounded word -> IPA strings (never a path), n-gram code tables that decode to
windows the encoder can produce, an encoder config of the right types, estimator
parameters that agree with it, a vocabulary of distinct PanPhon segments and a history of
numbers. Every refusal is a ``ValueError`` naming the file and the key.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import torch

from ipaclip.nn import EncoderConfig

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_WEIGHT",
    "check_codes",
    "check_encoder_fields",
    "check_file_size",
    "checked_history",
    "checked_params",
    "checked_vocabulary",
    "corrupt",
    "fitted_architecture",
    "lexicon_entries",
    "read_json",
    "string_list",
]

#: Largest config.json / lexicon.json read (bytes): far above any real model's.
MAX_JSON_BYTES = 64 * 2**20
#: Deepest nesting read from a model's JSON (a real config nests 4 levels).
MAX_JSON_DEPTH = 32
#: Longest integer literal read from a model's JSON, in digits (sizes and seeds need 10).
MAX_INT_DIGITS = 20
#: Most entries in a saved lexicon, and the longest word and pronunciation (characters).
MAX_LEXICON_ENTRIES = 2_000_000
MAX_LEXICON_WORD = 200
MAX_LEXICON_IPA = 1_000
#: Largest weight magnitude loaded. Trained weights stay far below it (AdamW with weight
#: decay, lr <= 10); a bound on the weights, unlike a probe input, covers every input, and a
#: float32 product of two weights of 3e38 (finite) is already inf.
MAX_WEIGHT = 1e6
#: Largest MLP ratio loaded (CLIP uses 4; the hidden width is width x mlp_ratio).
MAX_MLP_RATIO = 1024
_INT_FIELDS = (
    "vocab_size", "width", "layers", "heads", "context_length", "output_dim",
    "ngram_max", "ngram_vocab_size", "ngram_class_count",
)  # fmt: skip
_BOOL_FIELDS = ("residual", "causal")
#: estimator_params that fix the architecture, and the encoder_config key each must equal.
_ARCHITECTURE_PARAMS = {
    "embedding": "embedding", "residual": "residual", "width": "width", "layers": "layers",
    "heads": "heads", "context_length": "context_length", "causal": "causal",
    "pooling": "pooling", "dropout": "dropout",
}  # fmt: skip
#: The Recipe's parameters, which models saved before issue #18 hold at the top level of
#: estimator_params (since then under estimator_params.recipe).
RECIPE_PARAMS = (
    "ngrams", "ngram_classes", "ngram_lr_scale", "loss", "temperature", "learn_temperature",
    "augment", "triplet_items", "triplet_margin", "prior_items", "prior_per_row",
)  # fmt: skip
# (ngram_boundaries and phonetic_scope came with issue #19, always under recipe.)


def corrupt(where: Path, key: str, detail: str) -> ValueError:
    """The error for a bad ``key`` in the file ``where``."""
    return ValueError(f"{where}: {key} {detail}; the file is corrupted.")


# ----------------------------------------------------------------------------------------
# Strict JSON
# ----------------------------------------------------------------------------------------
class _Refused:
    """A JSON literal the reader refuses, kept until the walk can name its key."""

    def __init__(self, what: str) -> None:
        self.what = what


def _parse_int(text: str) -> int | _Refused:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        return _Refused(f"an integer of {digits:,} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _parse_float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"{text[:30]} (not a finite number)")


def check_file_size(path: Path, what: str) -> None:
    """Refuse a file larger than any saved model's ``what``, from its size alone."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ValueError(
            f"{path} is {size:,} bytes, more than any saved model's {what} ({MAX_JSON_BYTES:,} "
            "bytes at most); it is not an ipaclip model file."
        )


def read_json(path: Path, what: str) -> Any:
    """Strict JSON: bounded size, depth and integers; NaN and infinities refused by key."""
    check_file_size(path, what)
    try:
        value = json.loads(
            path.read_text("utf-8"),
            parse_constant=lambda name: _Refused(f"{name} (not a finite number)"),
            parse_int=_parse_int,
            parse_float=_parse_float,
        )
    except RecursionError:
        raise corrupt(path, _deep_key(path.read_text("utf-8")), "nests too deep to read") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); the file is corrupted.") from exc
    stack = [(value, "", 0)]
    while stack:  # iterative: a deep file cannot exhaust the stack here either
        item, key, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise corrupt(path, key, f"nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, _Refused):
            raise corrupt(path, key or "the value", f"holds {item.what}")
        if isinstance(item, dict):
            # Keys come from the file: a few characters of each name it well enough.
            stack.extend(
                (v, f"{key}.{k[:40]}" if key else k[:40], depth + 1) for k, v in item.items()
            )
        elif isinstance(item, list):
            stack.extend((v, f"{key}[{i}]", depth + 1) for i, v in enumerate(item))
    return value


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"\s*:?|[\[\]{}]')


def _deep_key(text: str) -> str:
    """The top-level key under which ``text`` nests deeper than :data:`MAX_JSON_DEPTH`."""
    depth, key = 0, "the value"
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return key
        elif token in ("]", "}"):
            depth -= 1
        elif depth == 1 and token.endswith(":"):
            key = token[:-1].rstrip()[1:-1][:40]
    return key


def lexicon_entries(raw: Any, where: Path) -> dict[str, str]:
    """A saved lexicon: a JSON object of word -> IPA strings, bounded; never a path."""
    if not isinstance(raw, dict):
        raise ValueError(
            f"{where} must hold a JSON object of word -> IPA entries, not a "
            f"{type(raw).__name__}; the file is corrupted (a lexicon is never read from a path)."
        )
    if len(raw) > MAX_LEXICON_ENTRIES:
        raise corrupt(
            where, "the lexicon", f"holds {len(raw):,} entries (most {MAX_LEXICON_ENTRIES:,})"
        )
    for word, ipa in raw.items():
        if not isinstance(ipa, str):
            raise corrupt(
                where,
                f"entry {word[:40]!r}",
                f"must map to an IPA string, not {type(ipa).__name__}",
            )
        if len(word) > MAX_LEXICON_WORD or len(ipa) > MAX_LEXICON_IPA:
            raise corrupt(
                where,
                f"entry {word[:40]!r}",
                f"is longer than {MAX_LEXICON_WORD} characters (word) or {MAX_LEXICON_IPA} (IPA)",
            )
    return raw


# ----------------------------------------------------------------------------------------
# Weights: the n-gram bag's code tables
# ----------------------------------------------------------------------------------------
def check_codes(tensors: dict[str, torch.Tensor], encoder: EncoderConfig, where: Path) -> None:
    """The n-gram bag's lookup tables: sorted, distinct codes of windows that can occur."""
    from ipaclip.ngrams import CLASS_FEATURES

    for name in ("ngram_codes", "class_codes"):
        codes = tensors.get(name)
        if codes is None:
            continue
        if codes.dtype != torch.int64:
            raise ValueError(f"{where}: tensor {name!r} must hold int64 codes, not {codes.dtype}.")
        if len(codes) and (codes[0] < 0 or (codes[1:] <= codes[:-1]).any()):
            raise ValueError(
                f"{where}: tensor {name!r} must hold sorted, distinct, non-negative codes; "
                "the model is corrupted."
            )
    classes = tensors.get("class_codes")
    if classes is not None and len(classes) and classes[-1] >= 3 ** len(CLASS_FEATURES):
        raise ValueError(
            f"{where}: tensor 'class_codes' holds {int(classes[-1])}, not a sound class "
            f"(codes are below 3**{len(CLASS_FEATURES)}); the model is corrupted."
        )
    codes = tensors.get("ngram_codes")
    if codes is not None:  # an unused slot holds the largest int64 (it matches no window)
        bad = _invalid_windows(codes[codes != torch.iinfo(torch.long).max], encoder)
        if len(bad):
            raise ValueError(
                f"{where}: tensor 'ngram_codes' holds {len(bad)} codes that are no n-gram of "
                f"{encoder.vocab_size} phonemes up to order {encoder.ngram_max} (first "
                f"{int(bad[0])}); the model is corrupted."
            )


def _invalid_windows(codes: torch.Tensor, encoder: EncoderConfig) -> torch.Tensor:
    """The ``codes`` that :func:`ipaclip.ngrams.ngram_codes` cannot produce for ``encoder``.

    A code is ``window * tag + 2 * order + stream``; the window's ``order`` digits, in base
    (symbols + 2), are symbols 1 .. symbols, or the boundary (base - 1) first or last
    (anywhere under ``ngram_boundaries="across"``).
    """
    tag = 2 * (encoder.ngram_max + 1)
    order, stream, window = (codes % tag) // 2, codes % 2, codes // tag
    base = torch.where(
        stream == 0,
        torch.full_like(codes, encoder.vocab_size + 2),
        torch.full_like(codes, encoder.ngram_class_count + 2),
    )
    ok = (order >= 2) & (order <= encoder.ngram_max)
    ok &= (stream == 0) | (encoder.ngram_class_count > 0)
    for j in range(encoder.ngram_max):  # digits from the last symbol of the window
        digit, window = window % base, window // base
        inner = (order - 1 > j) & (j > 0) & (encoder.ngram_boundaries != "across")
        top = torch.where(inner, base - 2, base - 1)
        ok &= (order <= j) | ((digit >= 1) & (digit <= top))
    return codes[~(ok & (window == 0))]


# ----------------------------------------------------------------------------------------
# config.json
# ----------------------------------------------------------------------------------------
def check_encoder_fields(raw: dict, where: Path) -> None:
    """The types of ``encoder_config``'s values (an int is no float, a flag no number)."""
    for key, value in raw.items():
        if key in _INT_FIELDS:
            ok, kind = isinstance(value, int) and not isinstance(value, bool), "an int"
        elif key in _BOOL_FIELDS:
            ok, kind = isinstance(value, bool), "true or false"
        elif key == "mlp_ratio":
            ok = _is_number(value) and 0 < value <= MAX_MLP_RATIO
            kind = f"a number in (0, {MAX_MLP_RATIO}]"
        elif key == "dropout":
            ok, kind = _is_number(value), "a number"
        else:
            continue
        if not ok:
            raise corrupt(where, f"encoder_config.{key}", f"must be {kind}, not {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def string_list(config: dict, key: str, where: Path) -> list[str]:
    value = config.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise corrupt(where, key, "must be a list of strings")
    return value


def _agree(value: Any, built: Any) -> bool:
    """An estimator parameter equals the architecture's value (an int is no float)."""
    if isinstance(built, float):
        return _is_number(value) and value == built
    return type(value) is type(built) and value == built


def _classes_agree(recipe: dict, encoder: EncoderConfig) -> bool:
    from ipaclip.recipe import Recipe

    if not encoder.ngram_max:
        return True
    try:
        classes = Recipe(ngram_classes=recipe.get("ngram_classes")).uses_classes(encoder.embedding)
    except ValueError:
        return False
    return classes == bool(encoder.ngram_class_count)


def fitted_architecture(params: dict, encoder: EncoderConfig) -> dict:
    """``params`` with every architecture parameter set to what ``encoder`` was built with.

    ``set_params(width=...)`` after a fit (or before a warm refit, which keeps the fitted
    architecture) leaves ``get_params`` describing the next fit; a saved model records the
    model it holds, so that loading finds the two in agreement. ``params["recipe"]`` is the
    recipe's dict (its ``ngrams`` and ``ngram_classes`` are architecture too).
    """
    params = dict(params)
    for key, field in _ARCHITECTURE_PARAMS.items():
        if not _agree(params.get(key), getattr(encoder, field)):
            params[key] = getattr(encoder, field)
    recipe = params["recipe"] = dict(params["recipe"])
    if not _agree(recipe.get("ngrams"), encoder.ngram_max):
        recipe["ngrams"] = encoder.ngram_max
    if not _classes_agree(recipe, encoder):
        recipe["ngram_classes"] = bool(encoder.ngram_class_count)
    if encoder.ngram_max:
        recipe["ngram_boundaries"] = encoder.ngram_boundaries
    return params


def _recipe_and_callbacks(params: dict, where: Path) -> None:
    """Read the recipe and callbacks in place; models saved before issue #18 included.

    Those hold the recipe's parameters at the top level, ``early_stopping`` (a patience)
    and ``checkpoint_dir``; a ``normalize`` they hold was always true in use (``transform``
    now always normalises) and is dropped.
    """
    flat = {k: params.pop(k) for k in RECIPE_PARAMS if k in params}
    recipe = params.get("recipe")
    if recipe is None:
        recipe = flat
    elif not isinstance(recipe, dict):
        raise corrupt(where, "estimator_params.recipe", "must be an object of parameters")
    elif flat:
        key = sorted(flat)[0]
        raise corrupt(where, f"estimator_params.{key}", "belongs in estimator_params.recipe")
    params["recipe"] = dict(recipe)
    params.pop("normalize", None)
    params.pop("inference_batch_size", None)  # now a token budget (issue #19), not a parameter
    params.pop("checkpoint_dir", None)  # a path is local to the machine that saved
    patience = params.pop("early_stopping", None)
    callbacks = params.get("callbacks")
    if callbacks is None and patience is not None:
        callbacks = [{"EarlyStopping": {"patience": patience}}]
    if callbacks is not None and (
        not isinstance(callbacks, list)
        or not all(
            isinstance(c, dict) and list(c) == ["EarlyStopping"] and isinstance(c[k], dict)
            for c in callbacks
            for k in c
        )
    ):
        raise corrupt(
            where,
            "estimator_params.callbacks",
            'must be null or a list of {"EarlyStopping": {"patience": ...}}',
        )
    params["callbacks"] = callbacks


def checked_params(raw: Any, encoder: EncoderConfig, where: Path) -> dict:
    """``estimator_params`` that agree with ``encoder_config``; local settings not restored."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise corrupt(where, "estimator_params", "must be an object of parameters")
    params = dict(raw)
    _recipe_and_callbacks(params, where)
    # A path is local to the machine that saved, and so is the device it trained on.
    params["target_cache_dir"] = None
    params["device"] = "auto"
    recipe = params["recipe"]
    checks = [(params, key, field, f"estimator_params.{key}") for key, field in
              _ARCHITECTURE_PARAMS.items()]  # fmt: skip
    checks.append((recipe, "ngrams", "ngram_max", "estimator_params.recipe.ngrams"))
    for where_params, key, field, name in checks:
        built = getattr(encoder, field)
        # Parameters newer than the model take the value it was trained with (no n-gram bag
        # before ipaclip had one), so get_params describes the model and a clone refits it.
        where_params.setdefault(key, built)
        if not _agree(where_params[key], built):
            raise corrupt(
                where,
                name,
                f"is {where_params[key]!r} but encoder_config.{field} is {built!r}: they "
                "must agree",
            )
    # Models saved before issue #19 dropped word-boundary windows and scored the phonetic
    # terms on every item: a recipe without these keys gets what the model was trained with.
    recipe.setdefault("phonetic_scope", "item")
    if encoder.ngram_max:
        recipe.setdefault("ngram_classes", bool(encoder.ngram_class_count))
        recipe.setdefault("ngram_boundaries", encoder.ngram_boundaries)
        if recipe["ngram_boundaries"] != encoder.ngram_boundaries:
            raise corrupt(
                where,
                "estimator_params.recipe.ngram_boundaries",
                f"is {recipe['ngram_boundaries']!r} but encoder_config.ngram_boundaries is "
                f"{encoder.ngram_boundaries!r}: they must agree",
            )
    if not _classes_agree(recipe, encoder):
        raise corrupt(
            where,
            "estimator_params.recipe.ngram_classes",
            f"is {recipe['ngram_classes']!r} but encoder_config.ngram_class_count is "
            f"{encoder.ngram_class_count}: they must agree",
        )
    return params


def checked_vocabulary(config: dict, encoder: EncoderConfig, where: Path) -> list[str]:
    """Distinct PanPhon segments, ``encoder_config.vocab_size`` of them."""
    from ipaclip.inventory import get_inventory

    vocabulary = string_list(config, "vocabulary", where)
    if len(vocabulary) != encoder.vocab_size:
        raise corrupt(
            where,
            "vocabulary",
            f"has {len(vocabulary)} entries, not encoder_config.vocab_size={encoder.vocab_size}",
        )
    segments, seen = get_inventory().segment_index, set()
    for i, symbol in enumerate(vocabulary):
        if symbol in seen or symbol not in segments:
            what = "repeats an entry" if symbol in seen else "is not a PanPhon segment"
            raise corrupt(where, f"vocabulary[{i}] ({symbol[:20]!r})", what)
        seen.add(symbol)
    return vocabulary


def checked_history(config: dict, where: Path) -> list[dict]:
    """The training history: a list of objects of numbers."""
    history = config.get("history", [])
    if not isinstance(history, list):
        raise corrupt(where, "history", "must be a list of objects")
    for i, record in enumerate(history):
        if not isinstance(record, dict) or not all(_is_number(v) for v in record.values()):
            raise corrupt(where, f"history[{i}]", "must be an object of numbers")
    return history
