"""The fused query of IPA-CLIP: text and pronunciation embeddings mixed by a weight.

Kept free of torch so that the evaluation code and :mod:`ipaclip.model` share one definition.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["fuse"]


def _unit_rows(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def _check_weight(weight: Any) -> float:
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)):
        raise TypeError(f"fuse_weight must be a number in [0, 1], got {weight!r}.")
    if not 0.0 <= float(weight) <= 1.0:
        raise ValueError(f"fuse_weight must be in [0, 1], got {weight!r}.")
    return float(weight)


def fuse(text: np.ndarray, pronunciation: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """Fused query: ``normalize((1 - weight) * text + weight * pronunciation)``, row-wise.

    Both inputs are L2-normalised first, so ``weight`` is the share of the pronunciation
    embedding whatever the norms were. ``weight=0`` is the text query, ``weight=1`` the
    pronunciation query.

    Examples
    --------
    >>> import numpy as np
    >>> fuse(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), 0.5).round(4)
    array([[0.7071, 0.7071]], dtype=float32)
    """
    w = _check_weight(weight)
    text, pronunciation = _unit_rows(text), _unit_rows(pronunciation)
    if text.shape != pronunciation.shape:
        raise ValueError(
            f"Text embeddings {text.shape} and pronunciation embeddings "
            f"{pronunciation.shape} must have the same shape (they must match)."
        )
    return _unit_rows((1.0 - w) * text + w * pronunciation)
