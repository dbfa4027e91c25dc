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
    """

    def __init__(self, seqs: PhonemeSequences, vocabulary, device: torch.device) -> None:
        index = {s: i + 1 for i, s in enumerate(vocabulary)}
        self.table = torch.from_numpy(np.ascontiguousarray(seqs.table)).to(device)
        self.row_vocab = torch.tensor(
            [index.get(s, 0) for s in seqs.symbols], dtype=torch.long, device=device
        )
        self.ids = seqs.ids
        self.offsets = seqs.offsets
        self.lengths = seqs.lengths
        self.device = device

    def batch(self, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded row ids ``(b, max_len)`` and lengths ``(b,)`` of the items at ``index``."""
        lengths = self.lengths[index]
        width = int(lengths.max())
        starts = self.offsets[index]
        grid = np.arange(width)[None, :]
        valid = grid < lengths[:, None]
        pos = np.where(valid, starts[:, None] + grid, 0)
        ids = np.where(valid, self.ids[pos], 0)
        return (
            torch.from_numpy(ids.astype(np.int64)).to(self.device),
            torch.from_numpy(lengths.astype(np.int64)).to(self.device),
        )

    def encode(self, module: torch.nn.Module, index: np.ndarray) -> torch.Tensor:
        """``module``'s outputs for the items at ``index``."""
        ids, lengths = self.batch(index)
        return module(self.table, self.row_vocab, ids, lengths)


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
