"""Plumbing shared by the evaluation modules: calling embedding and G2P functions, one vocabulary.

Every evaluation takes *functions*: an embedding function ``list[str] -> (n, d) array`` and,
where words must be transcribed, a G2P function ``list[str] -> list[str]`` (words to IPA).
The helpers here call them, check what they return (naming the parameter and the item) and
L2-normalize the rows through :func:`ipaclip._validation.unit_rows`. The vocabulary is the
same everywhere:

* ``embed_input`` is ``"text"`` (the function reads the words) or ``"ipa"`` (their IPA);
* a function that turns words into IPA is the parameter ``g2p`` (``ipa`` is always data:
  IPA strings);
* the pronunciation encoder's embedding function is ``embed_pronunciation``;
* the three query types are ``"text"``, ``"pronunciation"`` and ``"fused"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ipaclip._validation import StrOptions, check_params, describe_item, unit_rows
from ipaclip.fusion import fuse

__all__ = [
    "EMBED_INPUTS",
    "EmbedFn",
    "G2PFn",
    "QUERY_TYPES",
    "call_embed",
    "call_g2p",
    "check_embed_input",
    "check_query_functions",
    "embed_items",
    "query_embeddings",
    "reference_ipa",
    "to_builtin",
]

#: An embedding function: a list of strings to one embedding row per string.
EmbedFn = Callable[[list[str]], Any]
#: A G2P function: a list of words to one IPA string per word.
G2PFn = Callable[[list[str]], Sequence[str]]

#: What an embedding function reads.
EMBED_INPUTS: tuple[str, ...] = ("text", "ipa")
#: The query types of the evaluation, in table order.
QUERY_TYPES: tuple[str, ...] = ("text", "pronunciation", "fused")


def call_embed(embed: EmbedFn, items: Sequence[str], name: str = "embed") -> np.ndarray:
    """Call an embedding function; return one L2-normalized float64 row per item.

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


def call_g2p(g2p: G2PFn, items: Sequence[str], name: str = "g2p") -> list[str]:
    """Call a G2P function and check that it returned one string per item."""
    if not callable(g2p):
        raise TypeError(
            f"{name} must be a callable taking a list of strings and returning their IPA "
            f"(e.g. IPATransformer().fit_transform); got {type(g2p).__name__}."
        )
    items = list(items)
    out = list(g2p(items))
    if len(out) != len(items):
        raise ValueError(f"{name} returned {len(out)} transcriptions for {len(items)} inputs.")
    for i, value in enumerate(out):
        if not isinstance(value, str):
            raise TypeError(
                f"{name} returned {type(value).__name__} for item {i} "
                f"({describe_item(items[i])}); expected an IPA string."
            )
    return out


def reference_ipa(words: list[str], g2p: G2PFn | None) -> list[str]:
    """The IPA of ``words``: ``g2p(words)``, or CMUdict's when ``g2p`` is None."""
    from ipaclip.datasets import cmudict_ipa

    return cmudict_ipa(words) if g2p is None else call_g2p(g2p, words)


def check_embed_input(embed_input: Any, caller: str) -> str:
    """``embed_input`` checked against :data:`EMBED_INPUTS`."""
    check_params(
        {"embed_input": [StrOptions(set(EMBED_INPUTS))]}, {"embed_input": embed_input}, caller
    )
    return embed_input


def embed_items(
    embed: EmbedFn,
    words: Sequence[str],
    embed_input: str,
    *,
    ipas: Sequence[str] | None = None,
    g2p: G2PFn | None = None,
    name: str = "embed",
) -> np.ndarray:
    """Embed ``words`` (``embed_input="text"``) or their IPA (``"ipa"``) with unit rows.

    The IPA is ``ipas`` when given, else ``g2p(words)``.
    """
    if embed_input == "text":
        return call_embed(embed, words, name)
    if ipas is None:
        if g2p is None:
            raise ValueError("embed_input='ipa' needs a g2p function (words -> IPA strings).")
        ipas = call_g2p(g2p, words)
    return call_embed(embed, ipas, name)


def check_query_functions(
    embed_text: EmbedFn | None, embed_pronunciation: EmbedFn | None, g2p: G2PFn | None, what: str
) -> None:
    """At least one query function, and an IPA function for the pronunciation query."""
    if embed_text is None and embed_pronunciation is None:
        raise ValueError("Pass at least one of embed_text and embed_pronunciation.")
    if embed_pronunciation is not None and g2p is None:
        raise ValueError(
            f"embed_pronunciation reads IPA: pass g2p=, a function that transcribes the {what}."
        )


def query_embeddings(
    texts: list[str],
    embed_text: EmbedFn | None,
    embed_pronunciation: EmbedFn | None,
    g2p: G2PFn | None,
    fuse_weight: float,
    what: str = "texts",
) -> dict[str, np.ndarray]:
    """The ``"text"``, ``"pronunciation"`` and ``"fused"`` query embeddings of ``texts``.

    Only the available ones: ``embed_text=None`` drops ``"text"`` and ``"fused"``,
    ``embed_pronunciation=None`` drops ``"pronunciation"`` and ``"fused"``. The pronunciation query
    is ``embed_pronunciation(g2p(texts))``; the fused one :func:`ipaclip.fuse` of the two.
    """
    check_query_functions(embed_text, embed_pronunciation, g2p, what)
    queries: dict[str, np.ndarray] = {}
    if embed_text is not None:
        queries["text"] = call_embed(embed_text, texts, "embed_text")
    if embed_pronunciation is not None:
        queries["pronunciation"] = call_embed(
            embed_pronunciation, call_g2p(g2p, texts), "embed_pronunciation"
        )
    if len(queries) == 2:
        queries["fused"] = fuse(queries["text"], queries["pronunciation"], fuse_weight)
    return queries


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
