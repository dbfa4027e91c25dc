"""The training engine behind :meth:`PronunciationEncoder.fit <ipaclip.PronunciationEncoder.fit>`.

As in skorch, training is ``fit_loop`` -> ``run_epoch`` -> ``train_step``, and everything that
is not the loop itself (progress, early stopping, checkpoints) is a :class:`Callback`, passed
as ``PronunciationEncoder(callbacks=[...])`` (each fit works on clones; the fitted ones are
``callbacks_``):

* :class:`EarlyStopping`: tracks the best validation cosine and its weights, stops after
  ``patience`` epochs without improvement and keeps the best epoch's weights;
* :class:`Checkpoint`: after every epoch, writes everything needed to continue bit for bit
  (weights, optimiser, step, history, RNG state, every callback's state) to ``dirname``; on
  start, resumes from a checkpoint of the same run;
* :class:`ProgressBar`: one tqdm bar over the steps (``verbose >= 1``), epoch lines at 2;
  added by ``fit`` from ``verbose``.

Your own callback subclasses :class:`Callback` and overrides the hooks it needs.

What a step encodes and the whole loss are the :class:`~ipaclip.objective.Objective`'s:
augmented copies, near/far swaps, the teacher terms, the phonetic prior, the gallery and the
learnable temperature, and the optimiser's parameter groups.

The trainer works on a *copy* of the module: the estimator adopts the result only when
training succeeded.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator

from ipaclip._batches import SequenceData, autocast, embed_rows, length_bucketed_batches
from ipaclip._io import atomic_file
from ipaclip._progress import make_bar
from ipaclip._validation import Interval, ParamsMixin
from ipaclip.distributed import DistributedContext
from ipaclip.nn import cosine_schedule
from ipaclip.objective import Objective, StepBatch

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "ProgressBar",
    "TrainSettings",
    "Trainer",
    "run_fingerprint",
]

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TrainSettings:
    """What one training run needs from the estimator's parameters."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup: float
    lr_schedule: str
    grad_clip: float | None
    precision: str = "fp32"
    compile: bool = False
    seed: int = 0
    partial: bool = False
    epochs_before: int = 0  # epochs trained by earlier fits (warm start, partial_fit)


class Callback(ParamsMixin, BaseEstimator):
    """Hooks around the training loop; ``state_dict`` goes into checkpoints.

    Subclass it and override the hooks you need; ``__init__`` stores only its keyword
    arguments (scikit-learn's rule), because each fit works on a clone
    (:func:`sklearn.base.clone`): the objects you pass are never changed, and the fitted
    clones are the encoder's ``callbacks_``. A hook gets the :class:`Trainer` (its
    ``module``, ``optimizer``, ``epoch``, ``history``; set ``trainer.stop = True`` to stop
    after this epoch).

    Examples
    --------
    >>> class Epochs(Callback):
    ...     def on_epoch_end(self, trainer, record):
    ...         self.seen_ = getattr(self, "seen_", []) + [record["epoch"]]
    """

    def on_train_begin(self, trainer: Trainer) -> None:
        pass

    def on_step_end(self, trainer: Trainer) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        pass

    def on_train_end(self, trainer: Trainer) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


@dataclass
class Trainer:
    """One training run: epochs of length-bucketed batches, AdamW, warm-up + schedule."""

    module: torch.nn.Module
    data: SequenceData
    objective: Objective
    train_idx: np.ndarray
    val_idx: np.ndarray
    settings: TrainSettings
    callbacks: list[Callback] = field(default_factory=list)
    dist: DistributedContext | None = None
    #: Identity of the run (:func:`run_fingerprint`), computed when a callback first asks.
    fingerprint: Callable[[], str] | None = None

    def __post_init__(self) -> None:
        s = self.settings
        self.device = self.data.device
        self.targets = self.objective.targets
        self.optimizer = torch.optim.AdamW(
            self.objective.param_groups(self.module),
            lr=float(s.lr),
            weight_decay=float(s.weight_decay),
        )
        self.step_rng = np.random.default_rng([s.seed, s.epochs_before])
        self.steps_per_epoch = -(-len(self.train_idx) // s.batch_size)
        self.total_steps = self.steps_per_epoch * s.epochs
        self.warmup_steps = 0 if s.partial else int(round(float(s.warmup) * self.total_steps))
        self.step = 0
        self.epoch = 0  # the next epoch to run
        self.history: list[dict] = []
        self.stop = False
        self.train_module = self.module
        if self.dist is not None:
            self.train_module = self.dist.wrap(self.module, self.device)
        if s.compile:
            self.train_module = torch.compile(self.train_module)

    # -- the loop --------------------------------------------------------------------------
    def fit_loop(self, history: list[dict]) -> list[dict]:
        """Run the remaining epochs; returns the history (earlier epochs included)."""
        self.history = list(history)
        for cb in self.callbacks:
            cb.on_train_begin(self)
        if self.dist is not None:
            self.dist.check_same(self.epoch, "the epoch to resume from")
        with deterministic_on_cpu(self.device):
            while self.epoch < self.settings.epochs and not self.stop:
                record = self.run_epoch(self.epoch)
                self.history.append(record)
                self.epoch += 1
                for cb in self.callbacks:
                    cb.on_epoch_end(self, record)
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def run_epoch(self, epoch: int) -> dict:
        """One pass over the training items; the epoch's history record."""
        s = self.settings
        t0 = time.perf_counter()
        self.module.train()
        rng = np.random.default_rng([s.seed, s.epochs_before + epoch])
        # Perturbations and swaps draw from their own stream, reseeded every epoch: a run
        # resumed from a checkpoint (written at an epoch's end) draws the same ones.
        self.step_rng = np.random.default_rng([s.seed, s.epochs_before + epoch, 1])
        lengths = self.data.lengths[self.train_idx]
        loss_sum = cos_sum = 0.0
        seen = 0
        for batch in length_bucketed_batches(lengths, s.batch_size, rng):
            rows = self.train_idx[batch]
            loss, cos = self.train_step(rows, epoch)
            loss_sum += loss * len(rows)
            cos_sum += cos * len(rows)
            seen += len(rows)
            for cb in self.callbacks:
                cb.on_step_end(self)
        seconds = time.perf_counter() - t0
        record = {
            "epoch": len(self.history) + 1,
            "loss": loss_sum / seen,
            "train_cosine": cos_sum / seen,
            "lr": self.optimizer.param_groups[0]["lr"],
            "seconds": seconds,
            "samples_per_second": seen / seconds,
        }
        if self.objective.logit_scale is not None:
            record["logit_scale"] = float(self.objective.logit_scale().detach())
        if len(self.val_idx):
            record["val_cosine"] = self.evaluate(self.val_idx)
        return record

    def train_step(self, rows: np.ndarray, epoch: int) -> tuple[float, float]:
        """One optimiser step on the items ``rows``; their loss and mean cosine."""
        s = self.settings
        for group in self.optimizer.param_groups:
            group["lr"] = float(s.lr) * self.lr_factor() * group.get("lr_scale", 1.0)
        batch = self.objective.make_batch(self.data, rows, self.step_rng)
        with autocast(self.device, s.precision):
            loss, cos = self.objective.loss(self.embed_batch(batch), batch)
        if not torch.isfinite(loss):
            # The module is a working copy: the estimator keeps its pre-fit state.
            raise FloatingPointError(
                f"The loss became {float(loss.detach())} at epoch {epoch + 1}, "
                f"step {self.step + 1}; training stopped and the encoder was left as it was "
                "before fit. Lower lr, raise temperature, or check y for extreme values."
            )
        self.optimizer.zero_grad(set_to_none=True)
        # DDP averages gradients; each process's loss covers the whole global batch but
        # reaches only its shard, so the sum over processes is the full gradient.
        (loss if self.dist is None else loss * self.dist.world_size).backward()
        if self.dist is not None:
            # The objective's own parameters (the logit scale) are outside DDP: every process
            # already has their whole gradient, times the world size.
            for p in self.objective.parameters():
                if p.grad is not None:
                    p.grad.div_(self.dist.world_size)
        if s.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.module.parameters(), float(s.grad_clip))
        self.optimizer.step()
        self.step += 1
        return float(loss.detach()), float(cos)

    # -- pieces ----------------------------------------------------------------------------
    def lr_factor(self) -> float:
        s = self.settings
        if s.partial:
            return 1.0
        if s.lr_schedule == "constant":
            return min(1.0, (self.step + 1) / max(1, self.warmup_steps))
        return cosine_schedule(self.step, self.total_steps, self.warmup_steps)

    def embed_batch(self, batch: StepBatch) -> torch.Tensor:
        """Student outputs of every sequence of ``batch`` (gathered from the shards under DDP).

        Under DDP each process encodes a strided share of the sequences (originals, copies
        and swaps alike) and gathers the others' without a gradient.
        """
        if self.dist is None:
            return self.data.encode_ids(self.train_module, batch.ids, batch.lengths)

        def encode(positions: np.ndarray) -> torch.Tensor:
            ids, lengths = batch.ids[positions], batch.lengths[positions]
            return self.data.encode_ids(self.train_module, ids, lengths)

        return self.dist.embed_global(encode, np.arange(len(batch.ids)))

    def evaluate(self, index: np.ndarray) -> float:
        """Mean cosine of the student to the targets over the items ``index``."""
        total = 0.0
        for rows, z in embed_rows(self.module, self.data, index, 1024, self.settings.precision):
            t = F.normalize(self.targets[rows], dim=-1)
            total += float((F.normalize(z, dim=-1) * t).sum())
        return total / len(index)

    @property
    def is_main_process(self) -> bool:
        return self.dist is None or self.dist.rank == 0


# ----------------------------------------------------------------------------------------
# Callbacks
# ----------------------------------------------------------------------------------------
class ProgressBar(Callback):
    """A tqdm bar over all training steps (``verbose >= 1``); epoch lines at ``verbose >= 2``.

    Epoch lines are written through ``tqdm.write`` (standard error), so they show without
    any logging configuration and do not break the bar.
    """

    def __init__(self, verbose: int = 1) -> None:
        self.verbose = verbose

    def on_train_begin(self, trainer: Trainer) -> None:
        verbose = self.verbose if trainer.is_main_process else 0
        self.bar = make_bar(
            trainer.total_steps,
            "distilling",
            verbose,
            unit="step",
            initial=trainer.epoch * trainer.steps_per_epoch,
        )

    def on_step_end(self, trainer: Trainer) -> None:
        self.bar.update(1)

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        shown = {k: round(v, 4) for k, v in record.items() if k in _SHOWN}
        self.bar.set_postfix({"epoch": record["epoch"], **shown})
        if self.verbose >= 2:
            text = " ".join(f"{k} {v:.4f}" for k, v in shown.items())
            line = f"epoch {record['epoch']}: {text} ({record['seconds']:.1f} s)"
            self.bar.write(line, file=sys.stderr)

    def on_train_end(self, trainer: Trainer) -> None:
        self.bar.close()
        self.bar = None  # a fitted encoder that keeps this callback stays picklable


_SHOWN = ("loss", "train_cosine", "val_cosine")


class EarlyStopping(Callback):
    """Keep the weights of the best validation epoch; stop after ``patience`` without gain.

    Epochs are judged on the validation cosine, so the encoder needs
    ``validation_fraction > 0``. With ``patience=None`` the best weights are tracked but
    training runs all epochs and ends with the last epoch's weights.

    Parameters
    ----------
    patience : int or None, default=3
        Epochs without a better validation cosine before training stops.

    Examples
    --------
    >>> from ipaclip import PronunciationEncoder
    >>> enc = PronunciationEncoder(validation_fraction=0.1, callbacks=[EarlyStopping(3)])
    """

    _parameter_constraints: dict = {"patience": [Interval(Integral, 1, None, closed="left"), None]}

    def __init__(self, patience: int | None = 3) -> None:
        self.patience = patience

    def on_train_begin(self, trainer: Trainer) -> None:
        if not hasattr(self, "best_score"):  # a checkpoint may have restored them already
            self.best_score = -np.inf
            self.best_state: dict | None = None
            self.bad_epochs = 0

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        score = record.get("val_cosine")
        if score is None:
            return
        if score > self.best_score:
            self.best_score = score
            self.best_state = copy.deepcopy(trainer.module.state_dict())
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
            if self.patience is not None and self.bad_epochs >= self.patience:
                trainer.stop = True

    def on_train_end(self, trainer: Trainer) -> None:
        if self.best_state is not None and self.patience is not None:
            trainer.module.load_state_dict(self.best_state)
        self.best_state = None  # the fitted clone keeps the score, not a copy of the weights

    def state_dict(self) -> dict:
        return {
            "best_score": self.best_score,
            "best_state": self.best_state,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict) -> None:
        self.best_score = state["best_score"]
        self.best_state = state["best_state"]
        self.bad_epochs = state["bad_epochs"]


class Checkpoint(Callback):
    """Write ``dirname/checkpoint.pt`` after every epoch; resume from it when it is this run's.

    A run that was killed resumes from its last completed epoch and ends with the same
    weights as an uninterrupted run. The run is identified by the trainer's fingerprint
    (:func:`run_fingerprint`: settings, data with its feature table, vocabulary and layout,
    targets, seed and starting weights): a checkpoint with another fingerprint is ignored
    with a warning, and training starts afresh. ``dirname`` is never saved with a model.

    Parameters
    ----------
    dirname : str or path-like
        The folder of ``checkpoint.pt`` (created when missing).

    Examples
    --------
    >>> from ipaclip import PronunciationEncoder
    >>> enc = PronunciationEncoder(callbacks=[Checkpoint("runs/words")])
    """

    _parameter_constraints: dict = {"dirname": [str, os.PathLike]}

    def __init__(self, dirname: str | os.PathLike = "checkpoints") -> None:
        self.dirname = dirname

    @property
    def path(self) -> Path:
        return Path(self.dirname) / CHECKPOINT_NAME

    def _others(self, trainer: Trainer) -> list[Callback]:
        return [cb for cb in trainer.callbacks if cb is not self]

    def on_train_begin(self, trainer: Trainer) -> None:
        if trainer.fingerprint is None:
            raise ValueError("Checkpoint needs a trainer with a run fingerprint.")
        self.fingerprint = trainer.fingerprint()
        if trainer.dist is not None:
            trainer.dist.check_same(self.fingerprint, "the data, targets and settings")
        if not self.path.is_file():
            return
        try:
            state = torch.load(self.path, map_location=trainer.device, weights_only=True)
        except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError...
            raise ValueError(
                f"{self.path} cannot be read as an ipaclip checkpoint ({type(exc).__name__}); "
                "delete it to start afresh, or point Checkpoint(dirname=...) elsewhere."
            ) from None
        if not isinstance(state, dict) or state.get("fingerprint") != self.fingerprint:
            logger.warning("Ignoring %s: it belongs to another model, data or settings.", self.path)
            return
        trainer.module.load_state_dict(state["module"])
        trainer.objective.load_state_dict(state.get("objective", {}))
        trainer.optimizer.load_state_dict(state["optimizer"])
        trainer.step = state["step"]
        trainer.epoch = state["epoch"] + 1
        trainer.stop = bool(state["stop"])  # early stopping had decided, the run had ended
        trainer.history = list(state["history"])
        for cb, cb_state in zip(self._others(trainer), state["callbacks"]):
            cb.load_state_dict(cb_state)
        # Dropout draws from torch's global generator: continue its stream where it was.
        torch.set_rng_state(state["rng"]["cpu"])
        if state["rng"]["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        logger.info("Resuming from %s after epoch %d", self.path, trainer.epoch)

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        if not trainer.is_main_process:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "epoch": trainer.epoch - 1,
            "step": trainer.step,
            "module": trainer.module.state_dict(),
            "objective": trainer.objective.state_dict(),
            "optimizer": trainer.optimizer.state_dict(),
            "history": trainer.history,
            "stop": trainer.stop,
            "callbacks": [cb.state_dict() for cb in self._others(trainer)],
            "rng": {
                "cpu": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            },
        }
        with atomic_file(self.path) as tmp:
            torch.save(state, tmp)


@contextlib.contextmanager
def deterministic_on_cpu(device: torch.device) -> Iterator[None]:
    """On the CPU, torch's deterministic algorithms while training (the setting is restored).

    Without them, two fits with the same ``random_state`` and 2 threads differed by about
    1e-5 (some backward ops accumulate in thread order); with them they are bit-identical,
    and a 6,000-word epoch at 256 x 4 took the same time (9.5 s against 9.5-10.2 s). GPUs are
    left alone: their deterministic kernels cost time and need cuBLAS settings.
    """
    if device.type != "cpu":
        yield
        return
    before = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=warn_only)


def run_fingerprint(
    config,
    params: dict,
    seed: int,
    seqs,
    targets: np.ndarray,
    module,
    start_epoch: int,
    vocabulary,
) -> str:
    """Identity of a training run, for checkpoints: what it learns from and starts with.

    ``config`` is the encoder's :class:`~ipaclip.nn.EncoderConfig` (with its n-gram sizes),
    ``params`` the estimator's JSON parameters that change the result, ``seqs`` the training
    :class:`~ipaclip.sequences.PhonemeSequences` (every part that defines the data: row ids,
    item offsets, the feature table's values, its symbols and layout), ``vocabulary`` the
    phonemes with their own index, ``start_epoch`` the epochs trained before (a warm start or
    partial_fit begins from other weights, after other epochs, than the run that wrote an
    earlier checkpoint). Two training sets with the same row ids but other features (``p`` read
    as ``b``) are two runs.
    """
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        # Each part is framed by its name and length: no two splits of the bytes collide.
        h.update(f"{label}:{len(data)}:".encode())
        h.update(data)

    def add_json(label: str, value: Any) -> None:
        add(label, json.dumps(value, sort_keys=True, default=str).encode())

    def add_array(label: str, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        add_json(label + ".meta", [str(array.dtype), list(array.shape)])
        add(label, array.tobytes())

    add_json("config", config.to_dict())
    add_json("params", params)
    add_json("seed", seed)
    add_array("ids", seqs.ids)
    add_array("offsets", seqs.offsets)
    add_array("table", seqs.table)
    add_json("symbols", list(seqs.symbols))
    add_json("layout", None if seqs.layout is None else seqs.layout.to_dict())
    add_json("vocabulary", list(vocabulary))
    add_array("targets", targets)
    add_json("start_epoch", start_epoch)
    for name, tensor in sorted(module.state_dict().items()):
        add_array("module." + name, tensor.detach().cpu().contiguous().numpy())
    return h.hexdigest()
