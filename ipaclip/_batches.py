"""Batches of phoneme sequences for the torch core, shared by training and inference.

:class:`SequenceData` holds one dataset as tensors (the token table, each row's phoneme index,
the flat ids and offsets of :class:`~ipaclip.PhonemeSequences`) and gathers padded id batches
on demand, so no padded ``(n, L, F)`` corpus is ever built.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ipaclip.phonemes import PhonemeSequences

__all__ = [
    "INFERENCE_MAX_TOKENS",
    "SequenceData",
    "autocast",
    "embed_rows",
    "length_bucketed_batches",
    "token_budget_batches",
]

#: Padded tokens per inference batch (``transform``, ``encode``, validation): 4,096 words of
#: 8 tokens or 51 captions of 320, so memory and time per batch stay bounded whatever the
#: lengths (measured in ``benchmarks/bench_encoding.py``).
INFERENCE_MAX_TOKENS = 16384


class SequenceData:
    """Tensors of one dataset: token table, row vocabulary, flat ids and offsets.

    Parameters
    ----------
    seqs : PhonemeSequences
    vocabulary : sequence of str
        The encoder's phonemes; row ``r`` gets index ``1 + vocabulary.index(symbol)``, or 0
        for special tokens, tones and phonemes outside the vocabulary.
    device : torch.device
    table, symbols : optional
        A token table (and its symbols) to use instead of ``seqs``'s: the same rows first,
        then rows a :class:`~ipaclip.augment.PhoneticAugmenter` added for perturbed copies.
    """

    def __init__(
        self,
        seqs: PhonemeSequences,
        vocabulary,
        device: torch.device,
        table: np.ndarray | None = None,
        symbols=None,
    ) -> None:
        index = {s: i + 1 for i, s in enumerate(vocabulary)}
        table = seqs.table if table is None else table
        self.symbols = tuple(seqs.symbols if symbols is None else symbols)
        self.table = torch.from_numpy(np.ascontiguousarray(table)).to(device)
        self.row_vocab = torch.tensor(
            [index.get(s, 0) for s in self.symbols], dtype=torch.long, device=device
        )
        self.ids = seqs.ids
        self.offsets = seqs.offsets
        self.lengths = seqs.lengths
        self.device = device

    def batch_arrays(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Padded row ids ``(b, max_len)`` and lengths ``(b,)`` of the items at ``index``, numpy."""
        lengths = self.lengths[index]
        width = int(lengths.max())
        starts = self.offsets[index]
        grid = np.arange(width)[None, :]
        valid = grid < lengths[:, None]
        pos = np.where(valid, starts[:, None] + grid, 0)
        ids = np.where(valid, self.ids[pos], 0)
        return ids.astype(np.int64), lengths.astype(np.int64)

    def batch(self, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded row ids ``(b, max_len)`` and lengths ``(b,)`` of the items at ``index``."""
        ids, lengths = self.batch_arrays(index)
        return torch.from_numpy(ids).to(self.device), torch.from_numpy(lengths).to(self.device)

    def encode(self, module: torch.nn.Module, index: np.ndarray) -> torch.Tensor:
        """``module``'s outputs for the items at ``index``."""
        ids, lengths = self.batch(index)
        return module(self.table, self.row_vocab, ids, lengths)

    def encode_ids(self, module: torch.nn.Module, ids: np.ndarray, lengths: np.ndarray):
        """``module``'s outputs for padded row ids of this table (items need not be rows of
        the dataset: perturbed copies, swaps); the padding is trimmed to the longest item."""
        width = int(lengths.max())
        return module(
            self.table,
            self.row_vocab,
            torch.from_numpy(np.ascontiguousarray(ids[:, :width])).to(self.device),
            torch.from_numpy(np.asarray(lengths, dtype=np.int64)).to(self.device),
        )


def length_bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None, bucket: int = 50
) -> list[np.ndarray]:
    """Batches of item indices with similar lengths (less padding), in random order.

    Items are shuffled, cut into chunks of ``bucket`` batches, sorted by length inside each
    chunk and split into batches; the batch order is shuffled again. With ``rng=None`` the
    order is deterministic and fully sorted (for inference).

    Examples
    --------
    >>> length_bucketed_batches(np.array([3, 1, 2]), 2, None)
    [array([1, 2]), array([0])]
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    batches = []
    span = batch_size * bucket
    for start in range(0, n, span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def token_budget_batches(
    lengths: np.ndarray, max_tokens: int, max_items: int | None = None
) -> list[np.ndarray]:
    """Batches of item indices, sorted by length, each at most ``max_tokens`` once padded.

    A batch of ``b`` items padded to its longest, ``L``, holds ``b * L <= max_tokens``
    tokens (and at most ``max_items`` items); an item longer than ``max_tokens`` is a batch
    of its own. The order is deterministic: short items first.

    Examples
    --------
    >>> token_budget_batches(np.array([3, 400, 3, 5]), 12)
    [array([0, 2]), array([3]), array([1])]
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1; got {max_tokens}.")
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    cap = len(order) if max_items is None else max(1, int(max_items))
    batches, start = [], 0
    sorted_lengths = lengths[order]
    while start < len(order):
        # Sorted ascending, so item j pads a batch start..j to sorted_lengths[j]:
        # the batch may reach the last j with (j - start + 1) * sorted_lengths[j] <= max_tokens.
        stop = min(len(order), start + cap)
        span = np.arange(1, stop - start + 1) * sorted_lengths[start:stop]
        fits = int(np.searchsorted(np.maximum.accumulate(span), max_tokens, side="right"))
        end = start + max(1, fits)
        batches.append(order[start:end])
        start = end
    return batches


def autocast(device: torch.device, precision: str):
    """bfloat16 autocast for ``precision="bf16"``, else a disabled autocast."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return torch.autocast(device_type=device.type, enabled=False)


def embed_rows(
    module: torch.nn.Module,
    data: SequenceData,
    rows: np.ndarray,
    batch_size: int | None,
    precision: str,
    *,
    max_tokens: int = INFERENCE_MAX_TOKENS,
) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """Yield ``(rows_of_batch, float32 outputs)`` over token-budget batches of ``rows``.

    Each batch holds at most ``max_tokens`` padded tokens and ``batch_size`` items (None: no
    item cap); the outputs do not depend on the batching. Runs the module in eval and
    inference mode; shared by ``transform`` and validation.
    """
    module.eval()
    with torch.inference_mode(), autocast(data.device, precision):
        for batch in token_budget_batches(data.lengths[rows], max_tokens, batch_size):
            selected = rows[batch]
            yield selected, data.encode(module, selected).float()
