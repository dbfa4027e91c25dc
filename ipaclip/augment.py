"""Phonetic perturbations of phoneme-id batches: positives that sound like their word.

After LOVE (Chen, Varoquaux & Suchanek, ACL 2022), which trains a word-embedding mimic on
typo-like perturbations of each word that keep its target: here the perturbations are
*phonetic*. A perturbed pronunciation keeps its word's teacher embedding as its target, so
the student learns that near sounds map near. :class:`PhoneticAugmenter` applies, to a padded
batch of token-table row ids (:class:`~ipaclip.PhonemeSequences` layout, ``<bos>``/``<eos>``
around each item):

``substitute``
    each segment, with this probability, becomes one of its ``k`` articulatorily nearest
    phonemes (fewest differing PanPhon features, at most ``max_distance``) among the
    candidates (by default the phonemes of the training data), keeping its stress, syllable
    and word channels;
``delete``
    each *weak* segment (ə, h, ʔ by default) is dropped with this probability (never the
    last segment of an item);
``insert``
    with this probability per item, a weak segment (unstressed, chosen uniformly) is put at
    a random position between ``<bos>`` and ``<eos>``;
``unstress``
    with this probability per item, every stress mark is removed.

It also draws the near/far single swaps of the ``"triplet"`` loss term
(:meth:`PhoneticAugmenter.swap_pairs`). Everything is a handful of numpy operations on the
``(batch, length)`` id array; the rows a perturbation needs (a neighbour phoneme with the
original's channels, the unstressed twin of a row, a weak segment) are added to the token
table once, by :meth:`PhoneticAugmenter.fit`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator

from ipaclip._validation import Interval, ParamsMixin, StrOptions
from ipaclip.inventory import FEATURE_NAMES, get_inventory
from ipaclip.phonemes import CHANNEL_NAMES

__all__ = ["PhoneticAugmenter"]

_N_CHANNELS = len(CHANNEL_NAMES)
_STRESS = [CHANNEL_NAMES.index("stress_primary"), CHANNEL_NAMES.index("stress_secondary")]
_PROBABILITY = [Interval(Real, 0, 1, closed="both")]


class PhoneticAugmenter(ParamsMixin, BaseEstimator):
    """Perturb padded batches of token-table ids so they still sound like the same word.

    Parameters
    ----------
    substitute : float, default=0.1
        Per-segment probability of a swap for a near phoneme.
    delete : float, default=0.1
        Per-weak-segment probability of deletion.
    insert : float, default=0.1
        Per-item probability of inserting a weak segment.
    unstress : float, default=0.2
        Per-item probability of dropping all stress.
    k : int, default=3
        Swaps draw uniformly among this many nearest phonemes.
    max_distance : int, default=3
        Largest number of differing PanPhon features (of 24) for a swap.
    weak : sequence of str, default=("ə", "h", "ʔ")
        Segments that deletion and insertion use (with a one-hot table, those of the
        vocabulary).
    candidates : sequence of str or None, default=None
        Phonemes a swap may bring in; ``None``: the segments of the token table (the training
        data). Others need ``embedding="ipa"`` (a one-hot table has no column for them).
    mode : {"append", "replace", "none"}, default="append"
        How a trainer uses the copies: ``"append"`` adds a perturbed copy of each item to
        the batch (twice the compute), ``"replace"`` trains on the perturbed copies only,
        ``"none"`` makes no copies (the augmenter only serves :meth:`swap_pairs`).
        Read by the trainer, not here.
    max_length : int or None, default=None
        No insertion makes an item longer than this (the encoder's context length).
    n_far : int, default=5
        :meth:`swap_pairs` draws far phonemes among this many most distant ones.

    Examples
    --------
    >>> from ipaclip.phonemes import PhonemeEmbedder
    >>> seqs = PhonemeEmbedder().fit(["pˈæt", "həlˈoʊ"]).transform(["pˈæt", "həlˈoʊ"])
    >>> aug = PhoneticAugmenter(substitute=1.0, delete=0, insert=0, unstress=0)
    >>> table, symbols = aug.fit(seqs.table, seqs.symbols)
    >>> ids = np.array([seqs.ids[:5]])       # <bos> p æ t <eos>
    >>> new, lengths = aug(ids, np.array([5]), np.random.default_rng(0))
    >>> [symbols[r] for r in new[0]][1:4] != ["p", "æ", "t"], int(lengths[0])
    (True, 5)
    """

    _parameter_constraints: dict = {
        "substitute": _PROBABILITY,
        "delete": _PROBABILITY,
        "insert": _PROBABILITY,
        "unstress": _PROBABILITY,
        "k": [Interval(Integral, 1, None, closed="left")],
        "max_distance": [Interval(Integral, 1, len(FEATURE_NAMES), closed="both")],
        "weak": [list, tuple],
        "candidates": [list, tuple, None],
        "mode": [StrOptions({"append", "replace", "none"})],
        "max_length": [Interval(Integral, 3, None, closed="left"), None],
        "n_far": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        substitute: float = 0.1,
        *,
        delete: float = 0.1,
        insert: float = 0.1,
        unstress: float = 0.2,
        k: int = 3,
        max_distance: int = 3,
        weak: Sequence[str] = ("ə", "h", "ʔ"),
        candidates: Sequence[str] | None = None,
        mode: str = "append",
        max_length: int | None = None,
        n_far: int = 5,
    ) -> None:
        self.substitute = substitute
        self.delete = delete
        self.insert = insert
        self.unstress = unstress
        self.k = k
        self.max_distance = max_distance
        self.weak = weak
        self.candidates = candidates
        self.mode = mode
        self.max_length = max_length
        self.n_far = n_far

    def fit(
        self,
        table: np.ndarray,
        symbols: Sequence[str],
        vocabulary: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, tuple[str, ...]]:
        """Precompute the row maps; return the token table and symbols with the rows added.

        Parameters
        ----------
        table : ndarray of shape (n_rows, n_features)
            Token feature rows (``PhonemeSequences.table``): a segment part (24 PanPhon
            features, or one-hot columns over ``vocabulary``) then the channels.
        symbols : sequence of str
            Each row's symbol (``PhonemeSequences.symbols``).
        vocabulary : sequence of str or None
            The one-hot columns' phonemes for a one-hot table; ``None`` for a PanPhon table.

        Returns
        -------
        table, symbols
            The existing rows unchanged and first, the new rows after them.
        """
        self._validate_params()
        inv = get_inventory()
        feats = inv.features.astype(np.int64)
        symbols = tuple(symbols)
        n_head = table.shape[1] - _N_CHANNELS
        onehot = vocabulary is not None
        col = {s: j for j, s in enumerate(vocabulary)} if onehot else {}
        if not onehot and n_head != len(FEATURE_NAMES):
            raise ValueError(
                f"table has {table.shape[1]} columns; a PanPhon table has "
                f"{len(FEATURE_NAMES) + _N_CHANNELS} (pass vocabulary= for a one-hot table)."
            )
        is_seg = np.array([not s.startswith("<") and s in inv.segment_index for s in symbols])
        present = sorted({s for s, ok in zip(symbols, is_seg) if ok})
        cands = present if self.candidates is None else sorted(set(_nfd(self.candidates)))
        for s in cands:
            if s not in inv.segment_index:
                raise ValueError(f"candidates: {s!r} is not a PanPhon segment.")
            if onehot and s not in col:
                raise ValueError(
                    f"candidates: {s!r} has no one-hot column: with a one-hot table only the "
                    "vocabulary's phonemes can be brought in (use embedding='ipa')."
                )
        weak = _nfd(self.weak)
        for s in weak:
            if s not in inv.segment_index:
                raise ValueError(f"weak: {s!r} is not a PanPhon segment.")
        if onehot:  # a one-hot table can only bring in the vocabulary's phonemes
            weak = [s for s in weak if s in col]
        cand_codes = np.array([inv.segment_index[s] for s in cands], dtype=np.int64)

        rows = [np.asarray(r, dtype=np.float32) for r in table]
        syms = list(symbols)
        index = {(s, rows[r][n_head:].tobytes()): r for r, s in enumerate(syms)}

        def row_for(segment: str, channels: np.ndarray) -> int:
            """The row of ``segment`` with ``channels``, added to the table if new."""
            key = (segment, channels.astype(np.float32).tobytes())
            r = index.get(key)
            if r is None:
                head = np.zeros(n_head, dtype=np.float32)
                if onehot:
                    head[col[segment]] = 1.0
                else:
                    head[:] = feats[inv.segment_index[segment]]
                r = index[key] = len(rows)
                rows.append(np.concatenate([head, channels.astype(np.float32)]))
                syms.append(segment)
            return r

        neighbours: dict[str, list[str]] = {}  # nearest candidates of each present segment
        for s in present:
            d = (feats[cand_codes] != feats[inv.segment_index[s]]).sum(1)
            order = np.lexsort((np.arange(len(d)), d))
            neighbours[s] = [cands[j] for j in order if 1 <= d[j] <= self.max_distance][: self.k]
        n0 = len(symbols)
        nbr = np.zeros((n0, self.k), dtype=np.int64)
        n_nbr = np.zeros(n0, dtype=np.int64)
        unstress = np.arange(n0, dtype=np.int64)
        for r in range(n0):
            ch = rows[r][n_head:].copy()
            if is_seg[r]:
                n_nbr[r] = len(neighbours[symbols[r]])
                for j, q in enumerate(neighbours[symbols[r]]):
                    nbr[r, j] = row_for(q, ch)
            if ch[_STRESS].any():
                plain = ch.copy()
                plain[_STRESS] = 0
                unstress[r] = row_for(symbols[r], plain) if is_seg[r] else r
        self.weak_rows_ = np.array(
            [row_for(s, np.zeros(_N_CHANNELS)) for s in weak], dtype=np.int64
        )
        # Far swaps (for near/far triplets): the n_far most distant present phonemes of the
        # same class (vowel or not, by PanPhon's syl), with the original's channels.
        far = np.zeros((n0, self.n_far), dtype=np.int64)
        n_far = np.zeros(n0, dtype=np.int64)
        present_codes = np.array([inv.segment_index[q] for q in present], dtype=np.int64)
        for r in range(n0):
            if not is_seg[r] or not n_nbr[r]:
                continue
            code = inv.segment_index[symbols[r]]
            same = (feats[present_codes, 0] > 0) == (feats[code, 0] > 0)
            d = (feats[present_codes] != feats[code]).sum(1)
            nearest = inv.segment_index[neighbours[symbols[r]][0]]
            near_d = (feats[nearest] != feats[code]).sum()
            order = [j for j in np.argsort(-d, kind="stable") if same[j] and d[j] > near_d + 1]
            chosen = [present[j] for j in order[: self.n_far]]
            n_far[r] = len(chosen)
            for j, q in enumerate(chosen):
                far[r, j] = row_for(q, rows[r][n_head:].copy())
        # Maps over the extended table: new rows are never perturbed again (identity).
        extra = len(rows) - n0
        self.neighbours_ = np.concatenate([nbr, np.zeros((extra, self.k), dtype=np.int64)])
        self.n_neighbours_ = np.concatenate([n_nbr, np.zeros(extra, dtype=np.int64)])
        self.unstress_ = np.concatenate([unstress, np.arange(n0, len(rows))])
        self.far_ = np.concatenate([far, np.zeros((extra, self.n_far), dtype=np.int64)])
        self.n_far_ = np.concatenate([n_far, np.zeros(extra, dtype=np.int64)])
        self.is_segment_ = np.array(
            [not s.startswith("<") and s in inv.segment_index for s in syms]
        )
        self.is_weak_ = np.array([s in set(weak) for s in syms], dtype=bool)
        return np.stack(rows).astype(np.float32), tuple(syms)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "neighbours_")

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise RuntimeError("This PhoneticAugmenter is not fitted; call fit(table, symbols).")

    def swap_pairs(
        self, ids: np.ndarray, lengths: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A near and a far single swap of each item, at the same random position.

        The near swap brings one of the ``k`` nearest phonemes, the far swap one of the
        ``n_far`` most distant of the same class; items with no swappable segment come back
        unchanged (``ok`` False). Returns ``(near_ids, far_ids, ok)``.
        """
        self._check_fitted()
        ids = np.asarray(ids, dtype=np.int64)
        width = ids.shape[1]
        valid = np.arange(width)[None, :] < np.asarray(lengths)[:, None]
        can = valid & (self.n_neighbours_[ids] > 0) & (self.n_far_[ids] > 0)
        score = np.where(can, rng.random(ids.shape), -1.0)
        pos = score.argmax(1)
        ok = can.any(1)
        rows = np.arange(len(ids))
        orig = ids[rows, pos]
        near_choice = (rng.random(len(ids)) * np.maximum(self.n_neighbours_[orig], 1)).astype(int)
        far_choice = (rng.random(len(ids)) * np.maximum(self.n_far_[orig], 1)).astype(int)
        near, far = ids.copy(), ids.copy()
        near[rows[ok], pos[ok]] = self.neighbours_[orig, near_choice][ok]
        far[rows[ok], pos[ok]] = self.far_[orig, far_choice][ok]
        return near, far, ok

    def __call__(
        self, ids: np.ndarray, lengths: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Perturbed copies of a padded batch: ``(ids, lengths)``, ids padded with 0."""
        self._check_fitted()
        ids = np.array(ids, dtype=np.int64, copy=True)
        lengths = np.asarray(lengths, dtype=np.int64)
        b, width = ids.shape
        valid = np.arange(width)[None, :] < lengths[:, None]
        if self.unstress:
            pick = rng.random(b) < self.unstress
            ids[pick] = self.unstress_[ids[pick]]
        if self.substitute:
            n = self.n_neighbours_[ids]
            swap = valid & (n > 0) & (rng.random(ids.shape) < self.substitute)
            choice = np.minimum((rng.random(ids.shape) * n).astype(np.int64), self.k - 1)
            ids = np.where(swap, self.neighbours_[ids, choice], ids)
        if self.delete:
            drop = valid & self.is_weak_[ids] & (rng.random(ids.shape) < self.delete)
            left = (valid & self.is_segment_[ids] & ~drop).sum(1)
            drop[left == 0] = False
            keep = valid & ~drop
            order = np.argsort(~keep, axis=1, kind="stable")
            ids = np.take_along_axis(np.where(keep, ids, 0), order, axis=1)
            lengths = keep.sum(1)
        if self.insert and len(self.weak_rows_):
            room = lengths + 1 <= (self.max_length or np.iinfo(np.int64).max)
            add = (rng.random(b) < self.insert) & room & (lengths >= 2)
            if add.any():
                pos = 1 + (rng.random(b) * (lengths - 1)).astype(np.int64)  # in [1, len - 1]
                grid = np.arange(width + 1)[None, :]
                src = np.where(add[:, None] & (grid > pos[:, None]), grid - 1, grid)
                padded = np.concatenate([ids, np.zeros((b, 1), dtype=np.int64)], axis=1)
                new = np.take_along_axis(padded, np.minimum(src, width), axis=1)
                weak = self.weak_rows_[rng.integers(len(self.weak_rows_), size=b)]
                new[add, pos[add]] = weak[add]
                lengths = lengths + add
                new[np.arange(width + 1)[None, :] >= lengths[:, None]] = 0
                ids = new
        width = int(lengths.max())
        return ids[:, :width], lengths


def _nfd(symbols: Sequence[str]) -> list[str]:
    return [unicodedata.normalize("NFD", s) for s in symbols]
