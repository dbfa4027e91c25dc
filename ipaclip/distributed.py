"""Data-parallel helpers for ``torch.distributed``: process group, devices, shards, gathers.

:meth:`PronunciationEncoder.fit <ipaclip.PronunciationEncoder.fit>` trains with
DistributedDataParallel whenever a process group of more than one process is initialised
(``ipaclip fit`` under ``torchrun`` does this; the README's "Beyond one machine" explains the
guarantees). This module only talks to ``torch.distributed``; it knows nothing of the
estimator: the trainer hands it a function that encodes rows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from ipaclip._validation import InvalidParameterError

__all__ = [
    "DistributedContext",
    "agree_seed",
    "available_devices",
    "check_device",
    "context",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_distributed",
    "local_device",
    "shard_positions",
]

logger = logging.getLogger(__name__)


def is_distributed() -> bool:
    """True when a ``torch.distributed`` process group of more than one process is active."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    """This process's rank in the active process group (0 without one)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    """Number of processes in the active process group (1 without one)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def available_devices() -> list[str]:
    """The devices this machine has, as ``device`` accepts them.

    Examples
    --------
    >>> available_devices()[:2]
    ['auto', 'cpu']
    """
    names = ["auto", "cpu"]
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        names += ["cuda"] + [f"cuda:{i}" for i in range(count)]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return names


def check_device(device: str) -> torch.device:
    """``device`` as a torch device that exists on this machine; ``"auto"`` picks CUDA if any.

    Accepts ``"auto"``, ``"cpu"``, and ``"cuda"``, ``"cuda:N"`` or ``"mps"`` where this machine
    has them. Called by the estimator's parameter check, so ``fit``, ``transform`` and
    ``ipaclip fit`` refuse a device before any work.

    Raises
    ------
    InvalidParameterError
        A ``ValueError`` naming ``device``, what it got and the devices this machine has.

    Examples
    --------
    >>> check_device("cpu")
    device(type='cpu')
    >>> check_device("toaster")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sklearn...InvalidParameterError: device must be one of the devices this machine has...
    """
    names = available_devices()
    if device == "auto":
        return torch.device("cuda" if "cuda" in names else "cpu")
    dev = None
    if isinstance(device, str) and device.strip() == device:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError, ValueError):
            dev = None
    known = dev is not None and (
        (dev.type == "cpu" and dev.index in (None, 0))
        or (dev.type == "cuda" and (dev.index is None and "cuda" in names))
        or (dev.type == "cuda" and f"cuda:{dev.index}" in names)
        or (dev.type == "mps" and dev.index in (None, 0) and "mps" in names)
    )
    if not known:
        have = ", ".join(repr(n) for n in names)
        raise InvalidParameterError(
            f"device must be one of the devices this machine has ({have}); got {device!r}. "
            "Pass 'auto' to use a GPU when there is one, or 'cpu'."
        )
    return dev


def init_distributed(backend: str | None = None, device: str = "auto") -> bool:
    """Initialise the process group from ``torchrun``'s environment, if there is one.

    Parameters
    ----------
    backend : str, optional
        ``"gloo"`` or ``"nccl"``; by default ``nccl`` when ``device`` resolves to CUDA, else
        ``gloo``.
    device : str, default="auto"
        The estimator's ``device`` parameter; with CUDA the process is bound to
        ``cuda:LOCAL_RANK``.

    Returns
    -------
    bool
        True if this call created the group (destroy it with
        ``torch.distributed.destroy_process_group()``); False when one already existed or
        ``WORLD_SIZE`` is unset or 1 (a single process).

    Examples
    --------
    >>> init_distributed()  # not under torchrun: nothing to do
    False
    """
    if not dist.is_available():
        return False
    if dist.is_initialized():
        return False
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    cuda = device != "cpu" and torch.cuda.is_available() and not str(device).startswith("cpu")
    if backend is None:
        backend = "nccl" if cuda else "gloo"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    logger.debug("Process group %s: rank %d of %d", backend, get_rank(), get_world_size())
    return True


def local_device(device: torch.device) -> torch.device:
    """``cuda`` without an index becomes ``cuda:LOCAL_RANK`` in a process group."""
    if device.type == "cuda" and device.index is None and is_distributed():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def shard_positions(batch_size: int, rank: int, world_size: int) -> np.ndarray:
    """Positions of a global batch that ``rank`` encodes: ``rank, rank + world_size, ...``.

    Strided rather than contiguous, because batches are sorted by length: every process gets
    a similar share of long items.

    Examples
    --------
    >>> shard_positions(5, 0, 2), shard_positions(5, 1, 2)
    (array([0, 2, 4]), array([1, 3]))
    """
    return np.arange(rank, batch_size, world_size)


def agree_seed(seed: int) -> int:
    """Rank 0's ``seed`` on every process (a no-op without a process group)."""
    if not is_distributed():
        return seed
    box = [int(seed)]
    dist.broadcast_object_list(box, src=0)
    return int(box[0])


@dataclass
class DistributedContext:
    """The process group as the trainer uses it."""

    rank: int
    world_size: int

    def check_same(self, value, what: str) -> None:
        """Raise on every process unless all processes hold the same ``value``."""
        values = [None] * self.world_size
        dist.all_gather_object(values, value)
        if any(v != values[0] for v in values):
            raise RuntimeError(
                f"The processes disagree on {what} ({values}): every process must call fit "
                "with the same X, y and parameters (and resume from the same checkpoint)."
            )

    def wrap(self, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)

    def embed_global(
        self, encode: Callable[[np.ndarray], torch.Tensor], rows: np.ndarray
    ) -> torch.Tensor:
        """Student embeddings of the whole global batch ``rows``, in its order.

        ``encode(rows)`` runs the (DDP-wrapped) module on some of the rows, with a gradient.

        This process encodes its shard; the shards of the others are gathered without a
        gradient, so ``loss.backward()`` reaches this process's rows only and the sum over
        processes is the one-process gradient (the trainer scales the loss by the world size
        because DDP averages).
        """
        b, w = len(rows), self.world_size
        positions = [shard_positions(b, r, w) for r in range(w)]
        mine = positions[self.rank]
        anchor = None
        if len(mine):
            z = encode(rows[mine]).float()
        else:
            # Fewer items than processes: encode one anyway so that DDP's backward runs here
            # too, and keep it in the graph with weight zero.
            dummy = encode(rows[:1]).float()
            z, anchor = dummy[:0], dummy.sum() * 0.0
        size = len(positions[0])
        padded = torch.cat([z, z.new_zeros((size - len(mine), z.shape[1]))])
        parts = [torch.empty_like(padded) for _ in range(w)]
        dist.all_gather(parts, padded.detach().contiguous())
        parts[self.rank] = padded
        gathered = torch.cat([p[: len(pos)] for p, pos in zip(parts, positions)])
        order = np.concatenate(positions)
        inverse = np.empty(b, dtype=np.int64)
        inverse[order] = np.arange(b)
        z_global = gathered[torch.from_numpy(inverse).to(gathered.device)]
        return z_global if anchor is None else z_global + anchor


def context(device: torch.device) -> DistributedContext | None:
    """The trainer's view of the process group, or None to train alone."""
    if not is_distributed():
        world = os.environ.get("WORLD_SIZE")
        if world is not None and world.isdigit() and int(world) > 1:
            logger.warning(
                "WORLD_SIZE=%s but no torch.distributed process group is initialised: this "
                "process trains alone on all the data. Call "
                "ipaclip.distributed.init_distributed() before fit to train in parallel.",
                world,
            )
        return None
    backend = dist.get_backend()
    if backend == "nccl" and device.type != "cuda":
        raise ValueError(
            f"The process group uses nccl, which needs CUDA tensors, but the encoder trains on "
            f"{device}; initialise the group with backend='gloo' or train on CUDA."
        )
    return DistributedContext(rank=dist.get_rank(), world_size=dist.get_world_size())
