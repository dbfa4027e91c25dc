"""The one validation mechanism of ipaclip: parameters, string items and embedding rows.

Parameters are checked against scikit-learn's constraint objects (``Interval``,
``StrOptions``, ``HasMethods``, types, ``None``...), declared once per estimator in
``_parameter_constraints`` (as scikit-learn's own estimators do) or per function in a call to
:func:`check_params`. Every failure raises scikit-learn's ``InvalidParameterError``, a
subclass of both ``ValueError`` and ``TypeError``, with a message that names the parameter,
says what it must be and shows what it got::

    lr must be a number > 0; got 'fast' (parameter of PronunciationEncoder).

Numpy scalars pass wherever Python numbers do (``GridSearchCV`` hands out ``np.int64``).
Bad *input* (a bare string where a list of texts belongs, a non-string item) raises
:class:`InputError`, also both a ``TypeError`` and a ``ValueError``, naming the item.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np

# scikit-learn's constraint vocabulary, re-exported so that no other module depends on the
# location of this (semi-private) scikit-learn module.
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    make_constraint,
)

__all__ = [
    "HasMethods",
    "Hidden",
    "InputError",
    "Integral",
    "Interval",
    "InvalidParameterError",
    "Options",
    "ParamsMixin",
    "Real",
    "StrOptions",
    "check_params",
    "check_string_items",
    "consume_once",
    "describe_item",
    "unit_rows",
]


class InputError(TypeError, ValueError):
    """Input of the wrong kind (``X`` or one of its items); the message names the item.

    It is both a ``TypeError`` and a ``ValueError``, like scikit-learn's
    ``InvalidParameterError``, so code that catches either keeps working.
    """


def describe_item(item: object, limit: int = 40) -> str:
    """A short ``repr`` of an item for error messages."""
    text = repr(item)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------
def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _describe(constraint: Any) -> str:
    """What a value satisfying ``constraint`` is, in words ("an integer >= 3")."""
    if isinstance(constraint, Interval):
        kind = "an integer" if constraint.type is Integral else "a number"
        left, right, closed = constraint.left, constraint.right, constraint.closed
        lo_in, hi_in = closed in ("left", "both"), closed in ("right", "both")
        if constraint.type is Integral and right is None and left is not None:
            if (left == 1 and lo_in) or (left == 0 and not lo_in):
                return "a positive integer"
        if right is None:
            return f"{kind} {'>=' if lo_in else '>'} {_number(left)}" if left is not None else kind
        if left is None:
            return f"{kind} {'<=' if hi_in else '<'} {_number(right)}"
        return (
            f"{kind} in {'[' if lo_in else '('}{_number(left)}, "
            f"{_number(right)}{']' if hi_in else ')'}"
        )
    if isinstance(constraint, StrOptions | Options):
        return "one of " + ", ".join(repr(o) for o in sorted(constraint.options, key=str))
    # scikit-learn's named constraints ("boolean", "verbose", ...) describe themselves in
    # terms of Python types; say it in words.
    named = {
        "_Booleans": "a bool",
        "_VerboseHelper": "an integer >= 0 or a bool",
        "_Callables": "a callable",
        "_NoneConstraint": "None",
        "_RandomStates": "an integer, a numpy RandomState or None",
    }
    return named.get(type(constraint).__name__, str(constraint))


def check_params(
    constraints: Mapping[str, list[Any]], params: Mapping[str, Any], caller: str
) -> None:
    """Check ``params`` against scikit-learn style ``constraints``; raise naming the parameter.

    Parameters
    ----------
    constraints : mapping of str to list
        For each parameter, the constraints of which at least one must hold: scikit-learn
        constraint objects, types, ``None``, ``"boolean"``, ``"random_state"``... Parameters
        absent from ``constraints`` are not checked.
    params : mapping of str to object
        The values.
    caller : str
        The estimator or function, for the message.

    Raises
    ------
    InvalidParameterError
        A ``ValueError`` and a ``TypeError``: ``"{name} must be {what}; got {value!r}
        (parameter of {caller})."``

    Examples
    --------
    >>> check_params({"k": [Interval(Integral, 1, None, closed="left")]}, {"k": 0}, "f")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sklearn...InvalidParameterError: k must be a positive integer; got 0 (parameter of f).
    """
    for name, allowed in constraints.items():
        if name not in params:
            continue
        value = params[name]
        objects = [make_constraint(c) for c in allowed]
        # A bool is an int to Python, never a size, count or rate here.
        numeric = [c for c in objects if isinstance(c, Interval)]
        if isinstance(value, bool | np.bool_) and numeric:
            objects_ok = [c for c in objects if not isinstance(c, Interval)]
        else:
            objects_ok = objects
        if any(c.is_satisfied_by(value) for c in objects_ok):
            # Interval with an open end accepts +-inf only when asked for; NaN never.
            if isinstance(value, float | np.floating) and math.isnan(value):
                pass
            else:
                continue
        visible = [c for c in objects if not c.hidden]
        words = [_describe(c) for c in visible]
        what = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
        raise InvalidParameterError(
            f"{name} must be {what}; got {describe_item(value, 60)} (parameter of {caller})."
        )


class ParamsMixin:
    """``_validate_params`` through :func:`check_params`, for estimators.

    Put it before ``BaseEstimator`` in the bases; declare ``_parameter_constraints`` as a
    class attribute and call ``self._validate_params()`` at the start of ``fit`` (and of any
    method that reads parameters ``fit`` does not, such as ``transform``).
    """

    _parameter_constraints: dict[str, list[Any]] = {}

    def _validate_params(self) -> None:
        check_params(self._parameter_constraints, self.get_params(deep=False), type(self).__name__)


# --------------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------------
def consume_once(X: Any) -> Any:
    """``X`` itself, or, when it is an iterator (a generator), its items as a list.

    An iterator can be read only once; reading it to check its items and again to use them
    would see nothing the second time. Collections and arrays are returned as they are.

    Examples
    --------
    >>> consume_once(t for t in ["a", "b"])
    ['a', 'b']
    """
    return list(X) if isinstance(X, Iterator) else X


def check_string_items(X: object, *, what: str = "text", allow_empty: bool = False) -> list[str]:
    """Return ``X`` as a list of strings, or raise an error that names the offending item.

    Parameters
    ----------
    X : iterable of str
        A list, tuple, 1-D array, one-column frame or any other iterable of strings (not a
        bare ``str``).
    what : str
        What the items are, for the messages ("text", "IPA string").
    allow_empty : bool
        Whether empty or whitespace-only strings are allowed.

    Returns
    -------
    list of str

    Raises
    ------
    InputError
        ``X`` is a bare string, ``None`` or not iterable, or an item is not a string.
    ValueError
        An item is empty (unless ``allow_empty``), or ``X`` is not one-dimensional.

    Examples
    --------
    >>> check_string_items(["a cat", "a dog"])
    ['a cat', 'a dog']
    >>> check_string_items("a cat")
    Traceback (most recent call last):
    ...
    ipaclip._validation.InputError: Iterable over raw text documents expected, str object ...
    """
    if isinstance(X, str | bytes):
        head = f"Iterable over raw text documents expected, {type(X).__name__} object received"
        if isinstance(X, bytes):
            raise InputError(f"{head}. Decode it and wrap each {what} in a list.")
        raise InputError(
            f"{head}: a bare string object received. Wrap a single {what} in a list: "
            f"[{describe_item(X)}]."
        )
    if X is None:
        raise InputError(
            f"Iterable over raw text documents expected, None received (got None instead of a "
            f"list of {what}s)."
        )
    ndim = getattr(X, "ndim", None)
    if isinstance(X, np.ndarray):
        if X.ndim != 1:
            raise ValueError(f"Expected a 1-D array of {what}s, got an array of shape {X.shape}.")
        X = X.tolist()
    elif hasattr(X, "iloc") and ndim == 2:
        if X.shape[1] != 1:
            raise ValueError(f"Expected one column of {what}s, got a frame of shape {X.shape}.")
        X = X.iloc[:, 0].tolist()
    elif ndim is not None and ndim != 1:
        raise ValueError(
            f"Iterable over raw text documents expected, got a {ndim}-D {type(X).__name__} of "
            f"shape {getattr(X, 'shape', '?')}; pass a 1-D sequence of {what}s."
        )
    if not isinstance(X, Iterable):
        raise InputError(f"Expected an iterable of {what}s, got {type(X).__name__}.")
    items = list(X)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            hint = "; decode bytes first" if isinstance(item, bytes) else ""
            raise InputError(
                f"Item {i} is {describe_item(item)} ({type(item).__name__}), not a string; "
                f"every item must be a {what}{hint}."
            )
        if not allow_empty and not item.strip():
            raise ValueError(
                f"Item {i} is {describe_item(item)}: an empty or whitespace-only {what} has "
                "nothing to pronounce; remove it or replace it."
            )
    return items


# --------------------------------------------------------------------------------------------
# Embedding rows
# --------------------------------------------------------------------------------------------
def unit_rows(
    X: Any, name: str = "X", *, zero_rows: str = "raise", dtype: Any = np.float32
) -> np.ndarray:
    """``X`` as a 2-D array with L2-normalised rows; errors name ``name`` and the bad row.

    Parameters
    ----------
    X : array-like of shape (n, d)
    name : str
        What ``X`` is, for the messages.
    zero_rows : {"raise", "keep"}
        An all-zero row has no direction: raise, or keep it as zeros (its cosine with
        anything is then 0).
    dtype : numpy dtype, default=float32

    Raises
    ------
    ValueError
        ``X`` is not 2-D, holds NaN or infinity, or (``zero_rows="raise"``) an all-zero row.

    Examples
    --------
    >>> unit_rows([[3.0, 4.0]])
    array([[0.6, 0.8]], dtype=float32)
    """
    A = np.asarray(X, dtype=dtype)
    if A.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of embeddings; got shape {A.shape}.")
    finite = np.isfinite(A).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{name} has a NaN or infinite value in row {row}.")
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    zero = norms[:, 0] == 0
    if zero.any() and zero_rows == "raise":
        row = int(np.flatnonzero(zero)[0])
        raise ValueError(f"{name} has an all-zero row {row}: its cosine is undefined.")
    return A / np.where(norms == 0, 1.0, norms)
