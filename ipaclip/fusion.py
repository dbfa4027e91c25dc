"""The fused query of IPA-CLIP: text and pronunciation embeddings mixed by a weight.

Kept free of torch so that the evaluation code and :mod:`ipaclip.model` share one definition.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ipaclip._validation import Interval, Real, check_params, unit_rows

__all__ = ["FUSE_WEIGHT", "check_fuse_weight", "fuse"]

#: The constraint on a fused query's weight: the pronunciation's share, in [0, 1].
FUSE_WEIGHT = [Interval(Real, 0, 1, closed="both")]


def check_fuse_weight(weight: Any, caller: str = "fuse") -> float:
    """``weight`` as a float in [0, 1]; an error names ``fuse_weight``."""
    if isinstance(weight, bool):
        weight = "a bool"  # True is an int to Python, not a share
    check_params({"fuse_weight": FUSE_WEIGHT}, {"fuse_weight": weight}, caller)
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
    w = check_fuse_weight(weight)
    text = unit_rows(text, "text", zero_rows="keep")
    pronunciation = unit_rows(pronunciation, "pronunciation", zero_rows="keep")
    if text.shape != pronunciation.shape:
        raise ValueError(
            f"Text embeddings {text.shape} and pronunciation embeddings "
            f"{pronunciation.shape} must have the same shape (they must match)."
        )
    return unit_rows((1.0 - w) * text + w * pronunciation, "fused", zero_rows="keep")
