"""Input checks shared by every string-in estimator."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["check_string_items", "describe_item"]


def describe_item(item: object, limit: int = 40) -> str:
    """A short ``repr`` of an item for error messages."""
    text = repr(item)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def check_string_items(X: object, *, what: str = "text", allow_empty: bool = False) -> list[str]:
    """Return ``X`` as a list of strings, or raise an error that names the offending item.

    Parameters
    ----------
    X : iterable of str
        A list, tuple, 1-D array or any other iterable of strings (not a bare ``str``).
    what : str
        What the items are, for the messages ("text", "IPA string").
    allow_empty : bool
        Whether empty or whitespace-only strings are allowed.

    Returns
    -------
    list of str

    Examples
    --------
    >>> check_string_items(["a cat", "a dog"])
    ['a cat', 'a dog']
    >>> check_string_items("a cat")
    Traceback (most recent call last):
    ...
    TypeError: Iterable over raw text documents expected, string object received. ...
    """
    if isinstance(X, str | bytes):
        raise TypeError(
            "Iterable over raw text documents expected, string object received. "
            f"Wrap a single {what} in a list: [{describe_item(X)}]."
        )
    if X is None:
        raise TypeError(f"Expected an iterable of {what}s, got None.")
    if isinstance(X, np.ndarray):
        if X.ndim != 1:
            raise ValueError(f"Expected a 1-D array of {what}s, got an array of shape {X.shape}.")
        X = X.tolist()
    elif hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:
        if X.shape[1] != 1:
            raise ValueError(f"Expected one column of {what}s, got a frame of shape {X.shape}.")
        X = X.iloc[:, 0].tolist()
    if not isinstance(X, Iterable):
        raise TypeError(f"Expected an iterable of {what}s, got {type(X).__name__}.")
    items = list(X)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(
                f"Item {i} is {describe_item(item)} ({type(item).__name__}), not a string; "
                f"every item must be a {what}."
            )
        if not allow_empty and not item.strip():
            raise ValueError(
                f"Item {i} is {describe_item(item)}: an empty or whitespace-only {what} has "
                "nothing to pronounce; remove it or replace it."
            )
    return items
