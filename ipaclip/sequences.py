"""A batch of phoneme sequences (:class:`PhonemeSequences`) and what its rows mean
(:class:`SequenceLayout`).

Sequences are stored as integer ids into one small table of token feature rows, so the torch
core gathers features per batch instead of holding a padded ``(n, L, F)`` array. They are made
by :class:`~ipaclip.PhonemeEmbedder`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ipaclip._validation import describe_item

__all__ = ["PhonemeSequences", "SequenceLayout", "apply_truncation"]


@dataclass(frozen=True)
class SequenceLayout:
    """Everything that gives the rows of a :class:`PhonemeSequences` table their meaning.

    Two batches can be compared, joined, or fed to the same model only when their layouts are
    equal: the same layout means the same feature for the same column and the same tokens
    for the same IPA. ``None`` marks a setting that is not known (sequences built by hand).
    It is frozen (hashable) and JSON-able through :meth:`to_dict` / :meth:`from_dict`.

    Parameters
    ----------
    embedding : {"ipa", "onehot"}
    feature_names : tuple of str
        The table's columns (for ``"onehot"`` they name the fitted vocabulary).
    stress : bool, optional
        Whether stress marks set the stress channels.
    word_boundary : {"token", "feature", "none"}, optional
    add_special_tokens : bool, optional
        Whether items start with ``<bos>`` and end with ``<eos>``.

    Examples
    --------
    >>> a = SequenceLayout("ipa", ("syl", "son"), stress=False, word_boundary="feature")
    >>> b = SequenceLayout("ipa", ("syl", "son"), stress=True, word_boundary="token")
    >>> a == b, a == SequenceLayout.from_dict(a.to_dict())
    (False, True)
    >>> a.describe_differences(b)
    "stress (False, not True), word_boundary ('feature', not 'token')"
    """

    embedding: str
    feature_names: tuple[str, ...]
    stress: bool | None = None
    word_boundary: str | None = None
    add_special_tokens: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "feature_names", tuple(self.feature_names))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (feature names as a list)."""
        out = dataclasses.asdict(self)
        out["feature_names"] = list(self.feature_names)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SequenceLayout:
        """The layout :meth:`to_dict` described."""
        return cls(**data)

    def differences(self, other: SequenceLayout) -> dict[str, tuple[Any, Any]]:
        """``{field: (value here, value in other)}`` for each field that differs."""
        return {
            f.name: (getattr(self, f.name), getattr(other, f.name))
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        }

    def describe_differences(self, other: SequenceLayout) -> str:
        """The differences in words, for error messages."""
        parts = []
        for name, (mine, theirs) in self.differences(other).items():
            if name == "feature_names":
                changed = sorted(set(mine) ^ set(theirs))[:5] or ["their order"]
                parts.append(f"feature_names ({len(mine)} vs {len(theirs)}; {changed})")
            else:
                parts.append(f"{name} ({mine!r}, not {theirs!r})")
        return ", ".join(parts) or "nothing"


def offsets_of(lengths: np.ndarray) -> np.ndarray:
    """Item start offsets (``n + 1`` of them, from 0) for items of the given lengths."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


@dataclass(eq=False)
class PhonemeSequences:
    """A batch of phoneme sequences: integer ids into one table of token feature rows.

    Indexing with an int returns that item's ``(length, n_features)`` feature array; with a
    slice, an integer or boolean array, or a list, it returns a ``PhonemeSequences`` of those
    items (sharing the table). It has a ``shape`` of ``(n_items,)``, so scikit-learn's
    splitters (``cross_val_score``, ``GridSearchCV``) index it like an array.

    Attributes
    ----------
    ids : ndarray of int32, shape (n_tokens_total,)
        Row of ``table`` for every position of every item, items one after another.
    offsets : ndarray of int64, shape (n_items + 1,)
        Item ``i`` is ``ids[offsets[i]:offsets[i + 1]]``.
    table : ndarray of float32, shape (n_rows, n_features)
        Feature vector of each token row. Row 0 is always padding (all zeros).
    symbols : tuple of str
        The token of each row: a segment in NFD form, ``"<tone3>"``, or a special token.
    feature_names : tuple of str
        Names of the table's columns.
    embedding : str
        ``"ipa"`` or ``"onehot"``.
    layout : SequenceLayout
        Everything that gives the table its meaning (embedding, feature names, stress, word
        boundaries, special tokens). Sequences to be compared or joined must have equal
        layouts; by default, one with only ``embedding`` and ``feature_names`` known.
    """

    ids: np.ndarray
    offsets: np.ndarray
    table: np.ndarray
    symbols: tuple[str, ...]
    feature_names: tuple[str, ...]
    embedding: str = "ipa"
    layout: SequenceLayout | None = None

    def __post_init__(self) -> None:
        if self.layout is None:
            self.layout = SequenceLayout(self.embedding, tuple(self.feature_names))
        elif (self.layout.embedding, self.layout.feature_names) != (
            self.embedding,
            tuple(self.feature_names),
        ):
            raise ValueError(
                "layout does not describe these sequences: its embedding or feature names "
                "differ from embedding and feature_names."
            )

    # -- container protocol ----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def shape(self) -> tuple[int]:
        return (len(self),)

    @property
    def ndim(self) -> int:
        return 1

    @property
    def lengths(self) -> np.ndarray:
        """Number of tokens of each item (special tokens included)."""
        return np.diff(self.offsets)

    @property
    def n_features(self) -> int:
        return self.table.shape[1]

    def item_ids(self, i: int) -> np.ndarray:
        """Token row ids of item ``i``."""
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    def __getitem__(self, key):
        if isinstance(key, tuple):  # sklearn indexes arrays as X[key, ...]
            if len(key) == 2 and key[1] is Ellipsis:
                key = key[0]
            else:
                raise IndexError(f"PhonemeSequences supports one index, got {key!r}.")
        if isinstance(key, int | np.integer):
            n = len(self)
            i = int(key) + n if key < 0 else int(key)
            if not 0 <= i < n:
                raise IndexError(f"index {key} is out of range for {n} items")
            return self.table[self.item_ids(i)]
        index = np.arange(len(self))[key]
        return self.take(index)

    def take(self, index: Sequence[int] | np.ndarray) -> PhonemeSequences:
        """The items at ``index``, in that order, as a new ``PhonemeSequences``.

        Negative indices count from the end, as in :func:`numpy.take`.
        """
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        n = len(self)
        bad = (index < -n) | (index >= n)
        if bad.any():
            raise IndexError(f"index {int(index[bad][0])} is out of range for {n} items")
        index = np.where(index < 0, index + n, index)
        starts, ends = self.offsets[index], self.offsets[index + 1]
        lengths = ends - starts
        offsets = offsets_of(lengths)
        # positions: for each output token, its input position
        pos = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return dataclasses.replace(self, ids=self.ids[pos], offsets=offsets)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        lengths = self.lengths
        span = f"{lengths.min()}..{lengths.max()}" if len(self) else "-"
        return (
            f"PhonemeSequences(n_items={len(self)}, lengths={span}, "
            f"n_rows={len(self.symbols)}, n_features={self.n_features}, "
            f"embedding={self.embedding!r})"
        )

    # -- views -----------------------------------------------------------------------------
    def tokens(self, i: int) -> list[str]:
        """The tokens of item ``i`` as strings."""
        return [self.symbols[r] for r in self.item_ids(i)]

    def truncate(self, max_length: int) -> PhonemeSequences:
        """Every item cut to at most ``max_length`` tokens; a cut item keeps its ``<eos>``.

        As open_clip's tokenizer does: the first ``max_length - 1`` tokens and the
        end-of-sequence token (or the first ``max_length`` tokens of an item that does not
        end in ``<eos>``). Items that fit are unchanged.

        Examples
        --------
        >>> from ipaclip import PhonemeEmbedder
        >>> seqs = PhonemeEmbedder().fit(["pˈæt"]).transform(["pˈæt"])
        >>> seqs.truncate(4).tokens(0)
        ['<bos>', 'p', 'æ', '<eos>']
        """
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1; got {max_length}.")
        lengths = self.lengths
        if not (lengths > max_length).any():
            return self
        starts, ends = self.offsets[:-1], self.offsets[1:]
        new = np.minimum(lengths, max_length)
        offsets = offsets_of(new)
        item = np.repeat(np.arange(len(self)), new)
        rank = np.arange(offsets[-1]) - offsets[item]
        pos = starts[item] + rank
        eos = [i for i, s in enumerate(self.symbols) if s == "<eos>"]
        keeps_eos = (lengths > max_length) & np.isin(self.ids[ends - 1], eos)
        last = keeps_eos[item] & (rank == new[item] - 1)
        pos[last] = ends[item[last]] - 1
        return dataclasses.replace(self, ids=self.ids[pos], offsets=offsets)

    def padded(self, max_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Ids padded with row 0 to a rectangle, and the mask of real tokens.

        Returns
        -------
        ids : ndarray of int64, shape (n_items, max_length)
        mask : ndarray of bool, shape (n_items, max_length)
        """
        lengths = self.lengths
        width = int(lengths.max(initial=0)) if max_length is None else int(max_length)
        if (lengths > width).any():
            i = int(np.argmax(lengths > width))
            raise ValueError(f"Item {i} has {lengths[i]} tokens, more than max_length={width}.")
        mask = np.arange(width)[None, :] < lengths[:, None]
        out = np.zeros((len(self), width), dtype=np.int64)
        out[mask] = self.ids
        return out, mask

    def pooled(self, how: str = "mean") -> np.ndarray:
        """One ``(n_items, n_features)`` row per item: the mean, sum or max over its tokens.

        Padding is excluded; start, end and word-boundary tokens are included.
        """
        n, lengths = len(self), self.lengths
        feats = self.table[self.ids]
        item = np.repeat(np.arange(n), lengths)
        if how in ("mean", "sum"):
            out = np.zeros((n, self.n_features), dtype=np.float64)
            np.add.at(out, item, feats)
            if how == "mean":
                out /= np.maximum(lengths, 1)[:, None]
            return out.astype(np.float32)
        if how == "max":
            out = np.full((n, self.n_features), -np.inf, dtype=np.float32)
            np.maximum.at(out, item, feats)
            return out
        raise ValueError(f"how={how!r}; expected 'mean', 'sum' or 'max'.")

    @classmethod
    def concatenate(cls, parts: Sequence[PhonemeSequences]) -> PhonemeSequences:
        """Join batches made by the same fitted embedder (with equal layouts) into one."""
        if not parts:
            raise ValueError("Nothing to concatenate.")
        first = parts[0]
        rows: dict[tuple[str, bytes], int] = {}
        tables, symbols, ids, lengths = [], [], [], []
        for k, p in enumerate(parts):
            if p.layout != first.layout:
                raise ValueError(
                    f"Cannot concatenate sequences with different layouts: part {k} differs "
                    f"from part 0 in {p.layout.describe_differences(first.layout)}. Featurise "
                    "them with the same fitted PhonemeEmbedder."
                )
            remap = np.empty(len(p.symbols), dtype=np.int32)
            for r, (sym, row) in enumerate(zip(p.symbols, p.table)):
                key = (sym, row.tobytes())  # one symbol has several rows (stress, ...)
                if key not in rows:
                    rows[key] = len(symbols)
                    symbols.append(sym)
                    tables.append(row)
                remap[r] = rows[key]
            ids.append(remap[p.ids])
            lengths.append(p.lengths)
        return cls(
            ids=np.concatenate(ids),
            offsets=offsets_of(np.concatenate(lengths)),
            table=np.stack(tables).astype(np.float32),
            symbols=tuple(symbols),
            feature_names=first.feature_names,
            embedding=first.embedding,
            layout=first.layout,
        )


#: Values of ``truncation``: what happens to an item longer than the length limit.
TRUNCATION_OPTIONS = ("warn", "raise", "ignore")


def apply_truncation(
    seqs: PhonemeSequences,
    max_length: int | None,
    truncation: str,
    items: Sequence[str] | None = None,
    *,
    limit_name: str = "max_length",
) -> tuple[PhonemeSequences, np.ndarray]:
    """``seqs`` with the items longer than ``max_length`` cut, as ``truncation`` says.

    The policy of open_clip's tokenizer and of the teachers: ``"warn"`` cuts (keeping
    ``<eos>``) and warns once, with the count and the first long item; ``"ignore"`` cuts
    silently; ``"raise"`` raises a ``ValueError`` naming the first long item, its length and
    the limit, before anything is cut. Every other item is unchanged.

    Parameters
    ----------
    seqs : PhonemeSequences
    max_length : int or None
        The limit (tokens, ``<bos>``/``<eos>`` included); None: no limit.
    truncation : {"warn", "raise", "ignore"}
    items : sequence of str, optional
        The items' texts or IPA, to name the first long one.
    limit_name : str, default="max_length"
        The parameter that sets the limit, for the messages.

    Returns
    -------
    seqs : PhonemeSequences
        Cut as said (``seqs`` itself when nothing was too long).
    truncated : ndarray of int64
        Indices of the items that were (or, with ``"raise"``, would be) cut.
    """
    if truncation not in TRUNCATION_OPTIONS:
        raise ValueError(f"truncation must be one of {TRUNCATION_OPTIONS}; got {truncation!r}.")
    if max_length is None:
        return seqs, np.zeros(0, dtype=np.int64)
    lengths = seqs.lengths
    truncated = np.flatnonzero(lengths > max_length).astype(np.int64)
    if truncated.size == 0:
        return seqs, truncated
    first, n = int(truncated[0]), int(truncated.size)
    text = "" if items is None else f" ({describe_item(items[first])})"
    where = f"{limit_name}={max_length} (<bos>/<eos> included)"
    if truncation == "raise":
        more = f" {n - 1} more item{'s are' if n > 2 else ' is'} too long." if n > 1 else ""
        raise ValueError(
            f"Item {first}{text} has {lengths[first]} phoneme tokens, more than {where}."
            f"{more} Shorten or split it, use a longer context (raise {limit_name}), or pass "
            "truncation='warn' or "
            f"'ignore' to keep only its first {max_length} tokens (with <eos>)."
        )
    if truncation == "warn":
        one = n == 1
        warnings.warn(
            f"{n} of {len(seqs)} items {'is' if one else 'are'} longer than {where} and "
            f"{'was' if one else 'were'} cut to their first {max_length} tokens (keeping "
            f"<eos>): what follows is not heard. First: item {first}{text}, "
            f"{lengths[first]} tokens. Raise {limit_name}, or pass truncation='ignore' to "
            "silence this or truncation='raise' to stop instead.",
            UserWarning,
            stacklevel=_user_stacklevel(),
        )
    return seqs.truncate(max_length), truncated


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _user_stacklevel() -> int:
    """The ``stacklevel`` of a warning from the caller's frame that points at the first frame
    outside ipaclip and scikit-learn (whose ``set_output`` wraps ``transform``)."""
    frame, level = sys._getframe(1), 1
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith(_PACKAGE) or f"{os.sep}sklearn{os.sep}" in name):
            break
        frame, level = frame.f_back, level + 1
    return level
