"""What every frozen teacher shares: lazy loading, pickling, feature names, checks, reports.

A teacher is a scikit-learn transformer around a frozen model. ``fit`` only loads the model;
``transform`` loads it too when ``fit`` was not called, or when a parameter that names the
weights changed since (the subclass says which, in ``_load_key``). Loaded objects are dropped
when pickling and reloaded lazily. Loading and embedding run inside ``_quiet()`` (third-party
output silenced at ``verbose=0``), and text teachers report the texts their tokenizer
truncated through ``_report_truncation``, as their ``truncation`` parameter says.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin

from ipaclip._progress import make_bar
from ipaclip._validation import (
    Integral,
    Interval,
    ParamsMixin,
    StrOptions,
    check_string_items,
    describe_item,
)
from ipaclip.teachers._quiet import quiet_third_party


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device; raise when it is not one, or names a missing CUDA device."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device: {exc}. Pass 'cpu', 'cuda' or 'cuda:0'."
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available here; pass "
                "device='cpu'."
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ValueError(
                f"device={device!r} was requested but only {count} CUDA device"
                f"{'s are' if count != 1 else ' is'} visible here (cuda:0 to cuda:{count - 1}); "
                "pass one of those, or check CUDA_VISIBLE_DEVICES."
            )
    return dev


def check_embeddings(out: np.ndarray, items: list[Any], teacher: str) -> np.ndarray:
    """Return ``out``; raise, naming the first item, when a row holds NaN or infinity.

    A broken checkpoint or a float16 overflow gives NaN embeddings, which would otherwise
    become NaN training targets far from their cause.
    """
    finite = np.isfinite(out).all(axis=1)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        item = items[i]
        what = describe_item(item, 60) if isinstance(item, str) else f"a {type(item).__name__}"
        raise ValueError(
            f"{teacher} produced a NaN or infinite embedding for item {i} ({what}) "
            f"({int((~finite).sum())} of {len(out)} items in all): its weights hold NaN or "
            "infinity, or its precision overflowed. Check the checkpoint, or run the model in "
            "float32."
        )
    return out


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[None]:
    """Put ``module`` in eval mode for the block, and back in training mode if it was."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        if was_training:
            module.train()


#: Constraint of a positive integer parameter such as ``batch_size`` (numpy ints pass).
POSITIVE_INT = Interval(Integral, 1, None, closed="left")  # bools are refused by check_params


def check_texts(X: Any) -> list[str]:
    """``X`` as a list of texts; errors name the offending item (see ``check_string_items``).

    Empty and whitespace-only texts are refused: they would still get an embedding (that of
    CLIP's start and end tokens alone), silently standing in for a missing text.
    """
    return check_string_items(X, what="text")


class FrozenTeacher(ParamsMixin, TransformerMixin, BaseEstimator):
    """Shared behaviour of the frozen teachers: lazy loading, pickling, feature names.

    Subclasses declare ``_parameter_constraints``, call ``self._validate_params()`` at the
    start of ``_load`` and ``transform``, and say in ``_load_key`` which parameters name the
    loaded model.
    """

    # Attributes holding loaded objects; dropped when pickling and reloaded lazily.
    _unpicklable = ("model_", "tokenizer_", "preprocess_", "_loaded_key")

    def fit(self, X: Any = None, y: Any = None) -> FrozenTeacher:
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
        with self._quiet():
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
            with self._quiet():
                self._load()

    def _quiet(self) -> contextlib.AbstractContextManager:
        """Silence third-party bars and log lines in the block, unless ``verbose``."""
        return quiet_third_party(self.verbose)

    def _progress(self, total: int, unit: str) -> Any:
        """A tqdm bar over ``total`` items, shown when ``verbose`` is 1 or more."""
        return make_bar(total, type(self).__name__, self.verbose, unit=unit)

    def _report_truncation(
        self, truncated: list[int] | None, texts: list[str], count_tokens: Callable[[int], int]
    ) -> None:
        """Set ``n_truncated_``; warn or raise, as ``truncation`` says, when it is not 0.

        ``truncated`` holds the indices of the texts longer than ``context_length_`` (None
        when they were not counted); ``count_tokens(i)`` gives the full length of text ``i``.
        """
        self.n_truncated_ = None if truncated is None else len(truncated)
        self.truncated_items_ = None if truncated is None else list(truncated)
        if not truncated or self.truncation == "ignore":
            return
        first, limit, name = truncated[0], self.context_length_, type(self).__name__
        item, n = f"item {first} ({describe_item(texts[first], 60)})", len(truncated)
        where = f"the {limit}-token limit of {name} (special tokens included)"
        if self.truncation == "raise":
            others = f" ({n - 1} more {'texts are' if n > 2 else 'text is'} too long.)"
            raise ValueError(
                f"Text {item} has {count_tokens(first)} tokens, more than {where}."
                f"{others if n > 1 else ''} Shorten or split it, or pass truncation='warn' or "
                f"'ignore' to embed only its first {limit} tokens."
            )
        one = n == 1
        warnings.warn(
            f"{n} of {len(texts)} texts {'is' if one else 'are'} longer than {where} and "
            f"{'was' if one else 'were'} truncated: {'its' if one else 'their'} "
            f"embedding{'' if one else 's'} ignore{'s' if one else ''} the rest, so texts that "
            f"differ only after the limit get identical embeddings. First: {item}, "
            f"{count_tokens(first)} tokens. Shorten or split such texts, or pass "
            "truncation='ignore' to silence this or truncation='raise' to stop instead.",
            UserWarning,
            stacklevel=4,  # the caller of transform, through scikit-learn's set_output wrapper
        )

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


#: Constraints of the parameters every teacher has.
COMMON_CONSTRAINTS: dict[str, list[Any]] = {
    "device": [str, torch.device],
    "batch_size": [POSITIVE_INT],
    "normalize": ["boolean"],
    "verbose": ["verbose"],
}

#: Constraint of the text teachers' ``truncation`` policy.
TRUNCATION_CONSTRAINTS: dict[str, list[Any]] = {
    "truncation": [StrOptions({"warn", "raise", "ignore"})],
}
