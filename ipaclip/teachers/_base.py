"""What every frozen teacher shares: lazy loading, pickling, feature names, input checks.

A teacher is a scikit-learn transformer around a frozen model. ``fit`` only loads the model;
``transform`` loads it too when ``fit`` was not called, or when a parameter that names the
weights changed since (the subclass says which, in ``_load_key``). Loaded objects are dropped
when pickling and reloaded lazily.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin

from ipaclip._validation import Integral, Interval, ParamsMixin, check_string_items


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device; raise when it is not one, or is CUDA without CUDA."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device: {exc}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here")
    return dev


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


class _StrictIntInterval(Interval):
    """An integer interval that, unlike scikit-learn's, refuses bools (``batch_size=True``)."""

    def is_satisfied_by(self, val: Any) -> bool:
        return not isinstance(val, bool | np.bool_) and super().is_satisfied_by(val)


#: Constraint of a positive integer parameter such as ``batch_size`` (numpy ints pass).
POSITIVE_INT = _StrictIntInterval(Integral, 1, None, closed="left")


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


#: Constraints of the parameters every teacher has.
COMMON_CONSTRAINTS: dict[str, list[Any]] = {
    "device": [str, torch.device],
    "batch_size": [POSITIVE_INT],
    "normalize": ["boolean"],
}
