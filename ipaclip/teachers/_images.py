"""Image input of the image teachers: any image item to an RGB PIL image, errors naming the item.

Accepted items: a file path (str or path-like), a PIL image, or a numpy array of shape
(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) holding uint8 values (or other integers in 0..255)
or floats in [0, 1]. A 4-D array is a stack of such arrays.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def to_rgb_image(item: Any, index: int) -> Any:
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
        return Image.fromarray(_as_uint8_pixels(item, index)).convert("RGB")
    raise TypeError(
        f"Image item {index} is {type(item).__name__}; expected a file path (str or Path), a "
        "PIL.Image.Image, or a numpy array of shape (H, W, 3)."
    )


def _as_uint8_pixels(item: np.ndarray, index: int) -> np.ndarray:
    """An image array as contiguous uint8 pixels of shape (H, W) or (H, W, 3|4)."""
    array = item[..., 0] if item.ndim == 3 and item.shape[-1] == 1 else item
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))) or (
        0 in array.shape
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
    return np.ascontiguousarray(array)


def check_image_items(X: Any) -> list[Any]:
    """Return ``X`` as a list of image items; reject a single image or path.

    Items are converted (and checked) one batch at a time by :func:`to_rgb_image`, so that
    a large list of paths is never decoded all at once.
    """
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
