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

__all__ = ["SequenceData", "autocast", "embed_rows", "length_bucketed_batches"]


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


def autocast(device: torch.device, precision: str):
    """bfloat16 autocast for ``precision="bf16"``, else a disabled autocast."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return torch.autocast(device_type=device.type, enabled=False)


def embed_rows(
    module: torch.nn.Module, data: SequenceData, rows: np.ndarray, batch_size: int, precision: str
) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """Yield ``(rows_of_batch, float32 outputs)`` over length-bucketed batches of ``rows``.

    Runs the module in eval and inference mode; shared by ``transform`` and validation.
    """
    module.eval()
    with torch.inference_mode(), autocast(data.device, precision):
        for batch in length_bucketed_batches(data.lengths[rows], batch_size, None):
            selected = rows[batch]
            yield selected, data.encode(module, selected).float()
