"""Phoneme n-grams of token sequences: what the encoder's n-gram bag reads.

An item's n-grams are its windows of 2 .. ``max_order`` consecutive tokens, the item's
boundaries (``<bos>``, ``<eos>``) written as one extra symbol, so /kæt/ has the 2-grams
``# k``, ``k æ``, ``æ t``, ``t #`` and so on. Every window gets an exact integer code (no
hashing, so two n-grams never share a vector); a window with a phoneme outside the
vocabulary, a tone or padding gets ``-1`` and counts for nothing.

A sentence's word boundaries (``<wb>`` tokens) are read by one of three policies,
:data:`BOUNDARY_POLICIES` (the ``ngram_boundaries`` of :class:`~ipaclip.Recipe`):

``"drop"``
    a window that touches a word boundary counts for nothing (ipaclip before issue #19);
``"word"``
    a word boundary is written as the item boundary symbol and no window crosses it, so a
    word's n-grams inside a sentence are the n-grams it has alone (the bag of a sentence is
    the bag of its words: what a word-level fit learned carries over to prompts);
``"across"``
    a word boundary is written as the boundary symbol and windows run across it (``t # k``).

Single words have no word boundary: the three policies code them alike.

Two streams of n-grams can be coded from the same windows:

phonemes
    each token's index in the encoder's phoneme vocabulary (``row_vocab``);
sound classes
    each token's coarse articulatory class: its values of the PanPhon features in
    :data:`CLASS_FEATURES` (manner and place; voicing, length, rounding and the like are
    ignored), so a swap that keeps a phoneme's class keeps those n-grams (``"ipa"`` tables
    only: a one-hot table has no features).

:func:`ngram_vocabulary` finds the codes that occur in a training set (the encoder keeps
them, sorted, in its ``ngram_codes`` buffer); :func:`ngram_codes` codes the windows of a
padded batch inside the encoder's forward pass. Both work on the ``(table, row_vocab, ids,
lengths)`` batches of :class:`~ipaclip.PhonemeSequences`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ipaclip.inventory import FEATURE_NAMES, get_inventory
from ipaclip.phonemes import CHANNEL_NAMES
from ipaclip.sequences import PhonemeSequences

__all__ = [
    "BOUNDARY_POLICIES",
    "CLASS_FEATURES",
    "MAX_ORDER",
    "check_code_range",
    "class_signatures",
    "ngram_codes",
    "ngram_vocabulary",
    "row_classes",
    "sound_classes",
    "word_boundary_rows",
]

#: PanPhon features that define a sound class for class n-grams (manner and place).
CLASS_FEATURES: tuple[str, ...] = (
    "syl", "son", "cons", "cont", "nas", "lat", "lab", "cor", "hi", "lo", "back",
)  # fmt: skip
_CLASS_COLUMNS = [FEATURE_NAMES.index(name) for name in CLASS_FEATURES]
#: How n-gram windows read a word boundary (see the module docstring).
BOUNDARY_POLICIES = ("drop", "word", "across")
# The word-boundary channel of a token table: channels are the table's last columns.
_WB_COLUMN = CHANNEL_NAMES.index("word_boundary") - len(CHANNEL_NAMES)
#: Longest n-gram order supported (codes of longer windows could overflow int64).
MAX_ORDER = 5
_INT64_LIMIT = 2**62  # headroom below 2**63 for the order tag


def word_boundary_rows(table: torch.Tensor) -> torch.Tensor:
    """Which rows of a token table are word boundaries (``<wb>``), as a bool tensor.

    Examples
    --------
    >>> from ipaclip.phonemes import PhonemeEmbedder
    >>> seqs = PhonemeEmbedder().fit(["ɐ kˈæt"]).transform(["ɐ kˈæt"])
    >>> rows = word_boundary_rows(torch.from_numpy(seqs.table))
    >>> [s for s, wb in zip(seqs.symbols, rows) if wb]
    ['<wb>']
    """
    return table[:, _WB_COLUMN] > 0


def check_code_range(n_symbols: int, max_order: int) -> None:
    """Raise if codes of ``max_order``-grams over ``n_symbols`` symbols could overflow int64.

    Examples
    --------
    >>> check_code_range(60, 4)
    >>> check_code_range(10**6, 4)
    Traceback (most recent call last):
    ...
    ValueError: 4-grams over 1000002 symbols do not fit in 64-bit codes; use fewer n-gram orders.
    """
    base = n_symbols + 2
    if base**max_order * 2 * (max_order + 1) >= _INT64_LIMIT:
        raise ValueError(
            f"{max_order}-grams over {base} symbols do not fit in 64-bit codes; use fewer "
            "n-gram orders."
        )


def class_signatures(table: torch.Tensor) -> torch.Tensor:
    """A base-3 code of each table row's :data:`CLASS_FEATURES` values; -1 without features.

    Rows without PanPhon features (special tokens, tones, padding) have no class.

    Examples
    --------
    >>> from ipaclip.phonemes import PhonemeEmbedder
    >>> seqs = PhonemeEmbedder().fit(["pˈæt", "bˈæt"]).transform(["pˈæt", "bˈæt"])
    >>> sig = class_signatures(torch.from_numpy(seqs.table))
    >>> rows = {s: int(v) for s, v in zip(seqs.symbols, sig)}
    >>> rows["p"] == rows["b"], rows["p"] == rows["æ"], rows["<bos>"]
    (True, False, -1)
    """
    feats = table[:, _CLASS_COLUMNS].round().long() + 1
    powers = 3 ** torch.arange(len(_CLASS_COLUMNS), device=table.device)
    code = (feats * powers).sum(1)
    has_features = table[:, : len(FEATURE_NAMES)].abs().sum(1) > 0
    return torch.where(has_features, code, torch.full_like(code, -1))


def sound_classes() -> torch.Tensor:
    """The sorted :func:`class_signatures` of every PanPhon segment: the class vocabulary.

    It does not depend on the training data, so a sound class unseen in fit still has an
    index (its n-grams are unknown all the same). A fitted encoder keeps its own copy (the
    ``class_codes`` buffer), so a later, larger inventory does not renumber its classes.

    Examples
    --------
    >>> codes = sound_classes()
    >>> bool((codes[1:] > codes[:-1]).all()), 50 < len(codes) < 3**len(CLASS_FEATURES)
    (True, True)
    """
    feats = torch.from_numpy(get_inventory().features[:, _CLASS_COLUMNS]).long() + 1
    powers = 3 ** torch.arange(len(_CLASS_COLUMNS))
    return torch.unique((feats * powers).sum(1))


def row_classes(table: torch.Tensor, class_codes: torch.Tensor) -> torch.Tensor:
    """Each table row's class: its index in the sorted ``class_codes`` plus 1; 0 if unknown."""
    code = class_signatures(table)
    if not len(class_codes):
        return torch.zeros_like(code)
    index = torch.searchsorted(class_codes, code).clamp_max(len(class_codes) - 1)
    found = (class_codes[index] == code) & (code >= 0)
    return torch.where(found, index + 1, torch.zeros_like(index))


def ngram_codes(
    table: torch.Tensor,
    row_vocab: torch.Tensor,
    ids: torch.Tensor,
    lengths: torch.Tensor,
    *,
    vocab_size: int,
    max_order: int,
    class_codes: torch.Tensor | None = None,
    boundaries: str = "drop",
) -> torch.Tensor:
    """Exact integer code of every n-gram window of a padded batch; -1 where invalid.

    Parameters
    ----------
    table, row_vocab : Tensor
        The token table and each row's phoneme index (0: none), as the encoder reads them.
    ids : LongTensor of shape (b, n)
        Row ids of each position (padding beyond ``lengths``).
    lengths : LongTensor of shape (b,)
        Tokens per item, ``<bos>`` and ``<eos>`` included (the first and last positions are
        the item boundaries).
    vocab_size : int
        Size of the phoneme vocabulary (indices 1 .. vocab_size).
    max_order : int
        Longest n-gram (orders 2 .. max_order).
    class_codes : LongTensor, optional
        Sorted :func:`class_signatures` of the known sound classes: also code the windows
        over sound classes.
    boundaries : {"drop", "word", "across"}, default="drop"
        How a window reads a word boundary (:data:`BOUNDARY_POLICIES`).

    Returns
    -------
    LongTensor of shape (b, n_windows)
        Codes of the phoneme stream's windows (order 2, 3, ...) then the class stream's.

    Examples
    --------
    >>> table = torch.zeros(5, 41)
    >>> row_vocab = torch.tensor([0, 0, 0, 1, 2])      # pad, <bos>, <eos>, p, a
    >>> ids = torch.tensor([[1, 3, 4, 2], [1, 4, 3, 2]])  # <bos> p a <eos>, <bos> a p <eos>
    >>> codes = ngram_codes(table, row_vocab, ids, torch.tensor([4, 4]), vocab_size=2, max_order=2)
    >>> codes.shape, bool(codes[0, 0] == codes[1, 2]), bool(codes[0, 1] == codes[1, 1])
    (torch.Size([2, 3]), False, False)
    """
    if boundaries not in BOUNDARY_POLICIES:
        raise ValueError(f"boundaries={boundaries!r}; expected one of {BOUNDARY_POLICIES}.")
    b, n = ids.shape
    pos = torch.arange(n, device=ids.device)[None, :]
    inside = pos < lengths[:, None]
    boundary = (pos == 0) | (pos == lengths[:, None] - 1)
    if boundaries != "drop":
        boundary = boundary | (word_boundary_rows(table)[ids] & inside)
    # Under "word" a window may hold a boundary at its ends only (the item's boundaries are
    # always at a window's ends: nothing valid lies beyond them).
    word_edges = boundaries == "word"
    symbols = row_vocab[ids]
    streams = [(symbols, vocab_size + 2)]
    if class_codes is not None:
        streams.append((row_classes(table, class_codes)[ids], len(class_codes) + 2))
    tag = 2 * (max_order + 1)
    out = []
    for stream, (sym, base) in enumerate(streams):
        code = torch.where(boundary, torch.full_like(sym, base - 1), sym)
        ok = inside & ((sym > 0) | boundary)
        for k in range(2, max_order + 1):
            if n < k:
                break
            c = torch.zeros(b, n - k + 1, dtype=torch.long, device=ids.device)
            good = torch.ones_like(c, dtype=torch.bool)
            for j in range(k):
                c = c * base + code[:, j : n - k + 1 + j]
                good = good & ok[:, j : n - k + 1 + j]
                if word_edges and 0 < j < k - 1:
                    good = good & ~boundary[:, j : n - k + 1 + j]
            c = c * tag + 2 * k + stream
            out.append(torch.where(good, c, torch.full_like(c, -1)))
    if not out:
        return torch.full((b, 1), -1, dtype=torch.long, device=ids.device)
    return torch.cat(out, 1)


def ngram_vocabulary(
    seqs: PhonemeSequences,
    vocabulary: Sequence[str],
    max_order: int,
    classes: bool = False,
    batch_size: int = 4096,
    boundaries: str = "drop",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The n-gram codes that occur in ``seqs``, sorted, and the sound classes they use.

    Parameters
    ----------
    seqs : PhonemeSequences
        The training sequences.
    vocabulary : sequence of str
        The encoder's phoneme vocabulary (index ``i + 1`` for ``vocabulary[i]``).
    max_order : int
        Longest n-gram, 2 .. :data:`MAX_ORDER`.
    classes : bool, default=False
        Also the sound-class n-grams (needs PanPhon features: ``embedding="ipa"``).
    batch_size : int, default=4096
        Items coded at a time.
    boundaries : {"drop", "word", "across"}, default="drop"
        How a window reads a word boundary (:data:`BOUNDARY_POLICIES`).

    Returns
    -------
    codes : LongTensor
        Sorted distinct codes of every valid window (the vectors of the bag).
    class_codes : LongTensor or None
        :func:`sound_classes` (``None`` without classes).

    Examples
    --------
    >>> from ipaclip.phonemes import PhonemeEmbedder
    >>> seqs = PhonemeEmbedder().fit(["pˈæt", "bˈæt"]).transform(["pˈæt", "bˈæt"])
    >>> vocab = sorted({s for s in seqs.symbols if not s.startswith("<")})
    >>> codes, _ = ngram_vocabulary(seqs, vocab, max_order=2)
    >>> len(codes)  # # p, # b, p æ, b æ, æ t, t #
    6
    >>> codes, classes = ngram_vocabulary(seqs, vocab, max_order=2, classes=True)
    >>> len(codes)  # p and b share a class: 4 more 2-grams
    10
    """
    if not 2 <= int(max_order) <= MAX_ORDER:
        raise ValueError(f"max_order must be in [2, {MAX_ORDER}]; got {max_order!r}.")
    if classes and seqs.embedding != "ipa":
        raise ValueError("Sound-class n-grams need articulatory features (embedding='ipa').")
    check_code_range(len(vocabulary), int(max_order))
    index = {s: i + 1 for i, s in enumerate(vocabulary)}
    table = torch.from_numpy(np.ascontiguousarray(seqs.table))
    row_vocab = torch.tensor([index.get(s, 0) for s in seqs.symbols], dtype=torch.long)
    class_codes = sound_classes() if classes else None
    found = []
    for start in range(0, len(seqs), batch_size):
        part = seqs[start : start + batch_size]
        ids, _ = part.padded()
        codes = ngram_codes(
            table,
            row_vocab,
            torch.from_numpy(ids),
            torch.from_numpy(part.lengths),
            vocab_size=len(vocabulary),
            max_order=int(max_order),
            class_codes=class_codes,
            boundaries=boundaries,
        )
        found.append(torch.unique(codes[codes >= 0]))
    codes = torch.unique(torch.cat(found)) if found else torch.zeros(0, dtype=torch.long)
    return codes, class_codes
