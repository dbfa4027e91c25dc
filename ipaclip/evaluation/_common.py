"""Plumbing shared by the evaluation modules: calling embedding and IPA functions, one vocabulary.

Every evaluation takes *functions*: an embedding function ``list[str] -> (n, d) array`` and,
where words must be transcribed, an IPA function ``list[str] -> list[str]``. The helpers here
call them, check what they return (naming the parameter and the item) and L2-normalise the
rows through :func:`ipaclip._validation.unit_rows`. The vocabulary is the same everywhere:

* ``embed_input`` is ``"text"`` (the function reads the words) or ``"ipa"`` (their IPA);
* the IPA function is the parameter ``ipa``;
* the three query types are ``"text"``, ``"pronunciation"`` and ``"fused"``.

The older spellings (``embed_input="spelling"``, ``ipa_fn=``, the result key ``"pron"``) keep
working with a :class:`FutureWarning` that names the new one.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from ipaclip._validation import Hidden, StrOptions, check_params, describe_item, unit_rows
from ipaclip.fusion import fuse

__all__ = [
    "EMBED_INPUTS",
    "EmbedFn",
    "IPAFn",
    "QUERY_TYPES",
    "QueryResults",
    "call_embed",
    "call_ipa",
    "check_embed_input",
    "check_query_functions",
    "embed_items",
    "query_embeddings",
    "reference_ipa",
    "renamed_parameter",
    "to_builtin",
]

#: An embedding function: a list of strings to one embedding row per string.
EmbedFn = Callable[[list[str]], Any]
#: An IPA function: a list of words to one IPA string per word.
IPAFn = Callable[[list[str]], Sequence[str]]

#: What an embedding function reads.
EMBED_INPUTS: tuple[str, ...] = ("text", "ipa")
#: The query types of the evaluation, in table order.
QUERY_TYPES: tuple[str, ...] = ("text", "pronunciation", "fused")

F = TypeVar("F", bound=Callable[..., Any])


def call_embed(embed: EmbedFn, items: Sequence[str], name: str = "embed") -> np.ndarray:
    """Call an embedding function; return one L2-normalised float64 row per item.

    Raises
    ------
    TypeError
        ``embed`` is not callable.
    ValueError
        It returned the wrong number of rows, or a zero or non-finite row (the message names
        the row and the item).
    """
    if not callable(embed):
        raise TypeError(
            f"{name} must be a callable taking a list of strings and returning an array of "
            f"embeddings (e.g. encoder.transform); got {type(embed).__name__}."
        )
    items = list(items)
    X = np.asarray(embed(items), dtype=np.float64)
    if X.ndim == 2:
        if X.shape[0] != len(items):
            raise ValueError(
                f"{name} returned {X.shape[0]} embeddings for {len(items)} inputs; expected "
                "one row per item."
            )
        finite = np.isfinite(X).all(axis=1)
        bad = ~finite | ~X.any(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            what = "an all-zero row" if finite[i] else "a NaN or infinite value in row"
            raise ValueError(
                f"{name} returned {what} {i}: a zero or non-finite row for item {i} "
                f"({describe_item(items[i])}) has no cosine similarity."
            )
    return unit_rows(X, f"the output of {name}", dtype=np.float64)


def call_ipa(ipa: IPAFn, items: Sequence[str], name: str = "ipa") -> list[str]:
    """Call an IPA function and check that it returned one string per item."""
    if not callable(ipa):
        raise TypeError(
            f"{name} must be a callable taking a list of strings and returning their IPA "
            f"(e.g. IPATransformer().fit_transform); got {type(ipa).__name__}."
        )
    items = list(items)
    out = list(ipa(items))
    if len(out) != len(items):
        raise ValueError(f"{name} returned {len(out)} transcriptions for {len(items)} inputs.")
    for i, value in enumerate(out):
        if not isinstance(value, str):
            raise TypeError(
                f"{name} returned {type(value).__name__} for item {i} "
                f"({describe_item(items[i])}); expected an IPA string."
            )
    return out


def reference_ipa(words: list[str], ipa: IPAFn | None) -> list[str]:
    """The IPA of ``words``: ``ipa(words)``, or CMUdict's when ``ipa`` is None."""
    from ipaclip.datasets import cmudict_ipa

    return cmudict_ipa(words) if ipa is None else call_ipa(ipa, words)


def check_embed_input(embed_input: Any, caller: str) -> str:
    """``embed_input`` checked against :data:`EMBED_INPUTS`; ``"spelling"`` reads as ``"text"``."""
    check_params(
        {"embed_input": [StrOptions(set(EMBED_INPUTS)), Hidden(StrOptions({"spelling"}))]},
        {"embed_input": embed_input},
        caller,
    )
    if embed_input == "spelling":
        warnings.warn(
            f"embed_input='spelling' is deprecated; use embed_input='text' ({caller}).",
            FutureWarning,
            stacklevel=3,
        )
        return "text"
    return embed_input


def embed_items(
    embed: EmbedFn,
    words: Sequence[str],
    embed_input: str,
    *,
    ipas: Sequence[str] | None = None,
    ipa: IPAFn | None = None,
    name: str = "embed",
) -> np.ndarray:
    """Embed ``words`` (``embed_input="text"``) or their IPA (``"ipa"``) with unit rows.

    The IPA is ``ipas`` when given, else ``ipa(words)``.
    """
    if embed_input == "text":
        return call_embed(embed, words, name)
    if ipas is None:
        if ipa is None:
            raise ValueError("embed_input='ipa' needs an ipa function (words -> IPA strings).")
        ipas = call_ipa(ipa, words)
    return call_embed(embed, ipas, name)


def check_query_functions(
    embed_text: EmbedFn | None, embed_pron: EmbedFn | None, ipa: IPAFn | None, what: str
) -> None:
    """At least one query function, and an IPA function for the pronunciation query."""
    if embed_text is None and embed_pron is None:
        raise ValueError("Pass at least one of embed_text and embed_pron.")
    if embed_pron is not None and ipa is None:
        raise ValueError(
            f"embed_pron reads IPA: pass ipa= (before: pass ipa_fn=), a function that "
            f"transcribes the {what}."
        )


def query_embeddings(
    texts: list[str],
    embed_text: EmbedFn | None,
    embed_pron: EmbedFn | None,
    ipa: IPAFn | None,
    fuse_weight: float,
    what: str = "texts",
) -> dict[str, np.ndarray]:
    """The ``"text"``, ``"pronunciation"`` and ``"fused"`` query embeddings of ``texts``.

    Only the available ones: ``embed_text=None`` drops ``"text"`` and ``"fused"``,
    ``embed_pron=None`` drops ``"pronunciation"`` and ``"fused"``. The pronunciation query
    is ``embed_pron(ipa(texts))``; the fused one :func:`ipaclip.fuse` of the two.
    """
    check_query_functions(embed_text, embed_pron, ipa, what)
    queries: dict[str, np.ndarray] = {}
    if embed_text is not None:
        queries["text"] = call_embed(embed_text, texts, "embed_text")
    if embed_pron is not None:
        queries["pronunciation"] = call_embed(embed_pron, call_ipa(ipa, texts), "embed_pron")
    if len(queries) == 2:
        queries["fused"] = fuse(queries["text"], queries["pronunciation"], fuse_weight)
    return queries


def renamed_parameter(old: str, new: str) -> Callable[[F], F]:
    """Decorator: the keyword ``old`` still works for ``new``, with a FutureWarning.

    Examples
    --------
    >>> @renamed_parameter("ipa_fn", "ipa")
    ... def f(ipa=None):
    ...     return ipa
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     f(ipa_fn=len)
    <built-in function len>
    >>> print(caught[0].category.__name__, caught[0].message)
    FutureWarning f: the parameter ipa_fn= is deprecated; use ipa= instead.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(
                        f"{fn.__name__}() got both {new}= and its deprecated name {old}=; "
                        f"pass {new}= only."
                    )
                warnings.warn(
                    f"{fn.__name__}: the parameter {old}= is deprecated; use {new}= instead.",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


class QueryResults(dict):
    """A result ``dict`` keyed by query type; the old key ``"pron"`` reads ``"pronunciation"``.

    Reading ``"pron"`` gives the ``"pronunciation"`` entry with a FutureWarning. It is a
    plain ``dict`` otherwise (``json.dump`` writes only the real keys).

    Examples
    --------
    >>> import warnings
    >>> res = QueryResults(pronunciation={"recall@1": 1.0})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     res["pron"]
    {'recall@1': 1.0}
    """

    _ALIASES = {"pron": "pronunciation"}

    def __missing__(self, key: Any) -> Any:
        new = self._ALIASES.get(key)
        if new is None or new not in self:
            raise KeyError(key)
        warnings.warn(
            f"The result key {key!r} is deprecated; use {new!r}.", FutureWarning, stacklevel=2
        )
        return self[new]

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self and self._ALIASES.get(key) in self:
            return self[key]
        return super().get(key, default)


def to_builtin(value: Any) -> Any:
    """Numpy scalars/arrays and tuples to JSON-ready Python values, recursively.

    Examples
    --------
    >>> to_builtin({"a": np.float32(0.5), "b": (np.int64(1), np.array([True]))})
    {'a': 0.5, 'b': [1, [True]]}
    """
    if isinstance(value, dict):
        return {str(k): to_builtin(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_builtin(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_builtin(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
