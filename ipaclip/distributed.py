"""Beyond one machine: data-parallel distillation with ``torch.distributed``, and parallel G2P.

Distillation
------------
:meth:`PronunciationEncoder.fit <ipaclip.estimator.PronunciationEncoder.fit>` trains with
PyTorch's ``DistributedDataParallel`` (DDP) whenever a ``torch.distributed`` process group of
more than one process is initialised, as it is in every process that ``torchrun`` starts once
:func:`init_distributed` (or ``torch.distributed.init_process_group``) has run. Nothing else
changes in the estimator's parameters:

* every process computes the same global batch order from ``random_state`` (drawn on rank 0
  and broadcast when ``random_state=None``) and encodes its shard of each global batch (items
  ``rank, rank + world_size, ...``), so ``batch_size`` is the *global* batch size;
* the shards' student embeddings are gathered into the whole global batch (the gradient flows
  through each process's own rows), so every term of the loss, the contrastive term's in-batch
  negatives included, is the one-process loss over the same batch; gradients are summed
  across processes. The weights therefore match a one-process fit with the same
  ``random_state`` up to floating-point reduction order (checked to 1e-4 in
  ``tests/test_distributed.py``). With ``dropout > 0`` the dropout masks differ from the
  one-process run, so the result is equivalent in distribution only;
* teacher targets are computed (and cached) by every process; validation runs on every
  process over the whole held-out set, so early stopping decides the same everywhere;
* only rank 0 writes checkpoints (``checkpoint_dir`` must be on a file system every process
  reads, so that all resume from the same epoch; a mismatch is an error); every process ends
  with the fitted ``module_``, and only rank 0 should save it;
* every process must pass the same ``X``, ``y`` and parameters; :meth:`fit` checks this
  (a hash of data, targets and settings) and raises otherwise;
* the process group's backend must suit the device: ``gloo`` for the CPU, ``nccl`` for CUDA
  (with ``device="auto"`` or ``"cuda"`` each process uses the GPU ``cuda:LOCAL_RANK``).

The entry point fits and saves (:meth:`~ipaclip.estimator.PronunciationEncoder.save`) from
files with one item per line; any estimator parameter can be given as ``--name value``
(``--batch-size 512``, ``--random-state 0``, ``--early-stopping none``)::

    # two processes on one machine (CPU: gloo; GPUs: nccl, one GPU per process)
    torchrun --nproc_per_node=2 -m ipaclip.distributed \\
        --ipa-file ipa.txt --texts-file texts.txt --out model_dir \\
        --epochs 30 --batch-size 512 --random-state 0

    # two machines with 4 GPUs each (run on both, RANK 0's address as the endpoint)
    torchrun --nnodes=2 --nproc_per_node=4 --rdzv-backend=c10d \\
        --rdzv-endpoint=HOST:29500 -m ipaclip.distributed --ipa-file ipa.txt \\
        --texts-file texts.txt --out model_dir

    # one process, same code path
    python -m ipaclip.distributed --ipa-file ipa.txt --texts-file texts.txt --out model_dir

``--targets-file emb.npy`` (an ``(n, d)`` array) replaces ``--texts-file`` for precomputed
teacher embeddings. In a script of one's own, call :func:`init_distributed` before ``fit`` and
save on rank 0 only (``if get_rank() == 0: encoder.save(...)``).

G2P
---
:class:`~ipaclip.IPATransformer` with ``n_jobs`` runs through ``joblib.Parallel`` without
naming a backend, so a backend chosen by the caller distributes the transcription, e.g. over
a dask cluster::

    from dask.distributed import Client
    import joblib
    client = Client("scheduler:8786")
    with joblib.parallel_config(backend="dask"):
        ipa = IPATransformer(n_jobs=-1, batch_size=2048).fit_transform(texts)

Process-based backends (joblib's default ``loky``, dask workers with processes, ray) run
espeak in parallel; a process has one espeak engine, which threads take in turns, so the
``threading`` backend is correct but not faster.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["get_rank", "get_world_size", "init_distributed", "is_distributed", "main"]

# Named explicitly: under ``python -m`` this module runs as ``__main__``.
logger = logging.getLogger("ipaclip.distributed")


def is_distributed() -> bool:
    """True when a ``torch.distributed`` process group of more than one process is active."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    """This process's rank in the active process group (0 without one)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    """Number of processes in the active process group (1 without one)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


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
class _Context:
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

    def embed_global(self, module, data, rows: np.ndarray) -> torch.Tensor:
        """Student embeddings of the whole global batch ``rows``, in its order.

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
            ids, lengths = data.batch(rows[mine])
            z = module(data.table, data.row_vocab, ids, lengths).float()
        else:
            # Fewer items than processes: encode one anyway so that DDP's backward runs here
            # too, and keep it in the graph with weight zero.
            ids, lengths = data.batch(rows[:1])
            dummy = module(data.table, data.row_vocab, ids, lengths).float()
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


def context(device: torch.device) -> _Context | None:
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
    return _Context(rank=dist.get_rank(), world_size=dist.get_world_size())


# ----------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------
def _literal(text: str):
    """A command-line value as None, bool, int, float or str."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _read_lines(path: str, what: str) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} {p} does not exist.")
    return p.read_text("utf-8").splitlines()


def _parser() -> argparse.ArgumentParser:
    from ipaclip.estimator import PronunciationEncoder

    parser = argparse.ArgumentParser(
        prog="python -m ipaclip.distributed",
        description="Distil a PronunciationEncoder (in parallel under torchrun) and save it.",
    )
    parser.add_argument("--ipa-file", required=True, help="One IPA string per line.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--texts-file", help="One text per line (embedded by the teacher).")
    source.add_argument("--targets-file", help="Teacher embeddings, an (n, d) .npy array.")
    parser.add_argument("--out", required=True, help="Folder to save the fitted encoder in.")
    params = parser.add_argument_group("estimator parameters (see PronunciationEncoder)")
    for name, default in PronunciationEncoder().get_params(deep=False).items():
        params.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=_literal,
            default=argparse.SUPPRESS,
            metavar="VALUE",
            help=f"default: {default!r}",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Fit a :class:`~ipaclip.estimator.PronunciationEncoder` from files and save it.

    Runs alone, or in parallel under ``torchrun`` (see the module docstring). Returns the
    exit status.
    """
    from ipaclip.estimator import PronunciationEncoder

    parser = _parser()
    args = vars(parser.parse_args(argv))
    ipa_file, texts_file = args.pop("ipa_file"), args.pop("texts_file")
    targets_file, out = args.pop("targets_file"), args.pop("out")
    created = init_distributed(device=str(args.get("device", "auto")))
    try:
        X = _read_lines(ipa_file, "--ipa-file")
        if texts_file is not None:
            y = _read_lines(texts_file, "--texts-file")
            y_name = texts_file
        else:
            if not Path(targets_file).is_file():
                raise FileNotFoundError(f"--targets-file {targets_file} does not exist.")
            y = np.load(targets_file)
            y_name = targets_file
        if len(X) != len(y):
            raise ValueError(
                f"{ipa_file} has {len(X)} lines but {y_name} has {len(y)} "
                "items; they must correspond one to one."
            )
        encoder = PronunciationEncoder(**args).fit(X, y)
        if get_rank() == 0:
            folder = encoder.save(out)
            logger.info("Saved the encoder to %s", folder)
        if is_distributed():
            dist.barrier()
    finally:
        if created:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses
    # Rank 0 reports; the other processes only warn.
    level = logging.INFO if os.environ.get("RANK", "0") == "0" else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
