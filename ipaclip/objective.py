"""What one training step encodes and optimises: the whole loss of a fit, in one object.

:class:`Objective` holds the loss weights (the one place they live), the teacher targets and
what the recipe's terms need, built once per fit by
:meth:`Recipe.build_objective <ipaclip.recipe.Recipe.build_objective>`. The teacher terms
(:func:`ipaclip.losses.distillation_loss`) need only the batch's outputs and targets; the
others need more:

* ``"triplet"``: a near and a far single-phoneme swap of the first ``triplet_items`` items
  (:meth:`~ipaclip.augment.PhoneticAugmenter.swap_pairs`), encoded in the same pass;
* ``"prior"``: one minus the feature edit distance of the batch's pairs
  (:class:`~ipaclip._edit_distance.BatchPhoneticSimilarity`);
* ``"gallery"``: every distinct training target, and each item's positives in it;
* ``augment``: perturbed copies of the batch's items, with their items' targets;
* ``learn_temperature``: the learnable logit scale (a parameter of this module, so the
  trainer gives it to the optimiser and its checkpoints).

A step is :meth:`Objective.make_batch` (numpy ids of every sequence to encode; the same on
every process of a distributed run, since the RNG and the rows are) -> the trainer encodes
them (sharded under DDP) -> :meth:`Objective.loss` (the whole loss, and the mean cosine to
the targets). The optimiser's groups are :meth:`Objective.param_groups`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ipaclip._batches import SequenceData
from ipaclip._edit_distance import BatchPhoneticSimilarity
from ipaclip.losses import (
    LogitScale,
    distillation_loss,
    gallery_infonce,
    phonetic_prior_loss,
    triplet_margin_loss,
)
from ipaclip.ngrams import word_boundary_rows

__all__ = ["Objective", "StepBatch"]


@dataclass
class StepBatch:
    """The sequences one step encodes: ``n_scored`` with targets, then triplet blocks.

    Attributes
    ----------
    rows : ndarray
        Dataset row (target) of each of the first ``n_scored`` sequences.
    ids, lengths : ndarray
        Padded row ids ``(N, L)`` and lengths of every sequence: the scored ones, then the
        triplet anchors, near swaps and far swaps (``len(triplet_ok)`` each).
    n_scored : int
    triplet_ok : ndarray of bool
        Which triplet anchors had a swappable phoneme (the others are ignored).
    """

    rows: np.ndarray
    ids: np.ndarray
    lengths: np.ndarray
    n_scored: int
    triplet_ok: np.ndarray


class Objective(nn.Module):
    """The whole loss of a training step, and what its terms need (built once per fit).

    Parameters
    ----------
    weights : dict of str to float
        The loss (:func:`ipaclip.losses.parse_loss`): the only place a fit keeps its weights.
    temperature : float
        Of the contrastive and gallery terms (the initial one when learned).
    data : SequenceData
        The training data (with the augmenter's extra rows, if any).
    targets : Tensor
        Teacher targets of every dataset row (L2-normalised unless the loss has ``"mse"``).
    train_idx : ndarray
        The rows trained on (the gallery is their distinct targets).
    augmenter : PhoneticAugmenter, optional
        Fitted on ``data``'s table; needed by ``"triplet"`` and by augmentation.
    learn_temperature : bool
    triplet_items : int
    triplet_margin : float
    prior_items : int or None
    prior_per_row : bool
    word_items_only : bool
        Compute the ``"triplet"`` and ``"prior"`` terms on single-word items only (the
        recipe's ``phonetic_scope="word"``): a sentence gets the teacher terms alone.
    ngram_lr_scale : float
        The n-gram vectors' learning rate is the encoder's times this
        (:meth:`param_groups`).
    """

    def __init__(
        self,
        weights: dict[str, float],
        temperature: float,
        data: SequenceData,
        targets: torch.Tensor,
        train_idx: np.ndarray,
        augmenter=None,
        *,
        learn_temperature: bool = False,
        triplet_items: int = 64,
        triplet_margin: float = 0.1,
        prior_items: int | None = None,
        prior_per_row: bool = False,
        word_items_only: bool = False,
        ngram_lr_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if "triplet" in weights and augmenter is None:
            raise ValueError("The 'triplet' term needs an augmenter (its swap sampler).")
        self.weights = dict(weights)
        self.targets = targets
        self.ngram_lr_scale = float(ngram_lr_scale)
        self.temperature = float(temperature)
        self.logit_scale = LogitScale(temperature) if learn_temperature else None
        self.augmenter = augmenter
        self.copies = None if augmenter is None or augmenter.mode == "none" else augmenter.mode
        self.triplet_items = int(triplet_items)
        self.triplet_margin = float(triplet_margin)
        self.prior_items = prior_items
        self.prior_per_row = bool(prior_per_row)
        # Which dataset rows are single words (no word boundary token); None: all count.
        self.word_items = _single_words(data) if word_items_only else None
        self.similarity = BatchPhoneticSimilarity(data.symbols) if "prior" in weights else None
        if "gallery" in weights:
            self.gallery, self.item_positives = _gallery(data, targets, train_idx)

    # -- the batch -------------------------------------------------------------------------
    def make_batch(
        self, data: SequenceData, rows: np.ndarray, rng: np.random.Generator
    ) -> StepBatch:
        """The padded ids of everything one step encodes for the dataset items ``rows``."""
        ids, lengths = data.batch_arrays(rows)
        scored_rows = rows
        if self.copies is not None:
            new_ids, new_lengths = self.augmenter(ids, lengths, rng)
            if self.copies == "replace":
                ids, lengths = new_ids, new_lengths
            else:  # each item followed by its perturbed copy
                order = np.arange(2 * len(rows)).reshape(2, -1).T.reshape(-1)  # 0, n, 1, n+1..
                ids = _stack_padded([ids, new_ids])[order]
                lengths = np.concatenate([lengths, new_lengths])[order]
                scored_rows = np.repeat(rows, 2)
        n = len(ids)
        ok = np.zeros(0, dtype=bool)
        anchors = rows if self.word_items is None else rows[self.word_items[rows]]
        if "triplet" in self.weights and len(anchors):
            base, base_lengths = data.batch_arrays(anchors[: self.triplet_items])
            near, far, ok = self.augmenter.swap_pairs(base, base_lengths, rng)
            ids = _stack_padded([ids, base, near, far])
            lengths = np.concatenate([lengths, base_lengths, base_lengths, base_lengths])
        return StepBatch(scored_rows, ids, lengths, n, ok)

    # -- the optimiser ---------------------------------------------------------------------
    def param_groups(self, module: nn.Module) -> list[dict]:
        """AdamW groups: the encoder; its n-gram vectors (``lr * ngram_lr_scale``: each gets
        a gradient only from the few words that contain it); this objective's logit scale
        (no weight decay, as CLIP's). A group's ``lr_scale`` multiplies the scheduled rate."""
        ngrams = getattr(module, "ngrams", None)
        sparse = [] if ngrams is None else list(ngrams.parameters())
        skip = {id(p) for p in sparse}
        groups = [{"params": [p for p in module.parameters() if id(p) not in skip]}]
        if sparse:
            groups.append({"params": sparse, "lr_scale": self.ngram_lr_scale})
        extra = list(self.parameters())
        if extra:
            groups.append({"params": extra, "weight_decay": 0.0})
        return groups

    # -- the terms -------------------------------------------------------------------------
    def loss(self, z: torch.Tensor, batch: StepBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole loss of a step and the mean cosine of the scored outputs to their targets.

        ``z`` holds the student's outputs of every sequence of ``batch`` (in its order): the
        teacher terms (:func:`ipaclip.losses.distillation_loss`) are computed first, then the
        gallery, triplet and prior terms (:meth:`add_terms`), in the order that reproduces the
        recipe study's runs bit for bit.
        """
        z, triplets = self.split(z, batch)
        loss, cos = distillation_loss(
            z.float(), self.targets[batch.rows], self.weights, self.contrastive_temperature()
        )
        return self.add_terms(loss, z.float(), triplets, batch), cos

    def contrastive_temperature(self) -> float | torch.Tensor:
        """The temperature of the contrastive term (a tensor when learned)."""
        return self.temperature if self.logit_scale is None else 1.0 / self.logit_scale()

    def split(self, z: torch.Tensor, batch: StepBatch) -> tuple[torch.Tensor, tuple | None]:
        """The outputs of the scored sequences, and the triplets' (anchor, near, far) or None.

        The triplet views are taken first: autograd sums the gradients of the views in the
        reverse order of their creation, and this order is the recipe study's, so that the
        study's runs are reproduced bit for bit.
        """
        n, ok = batch.n_scored, batch.triplet_ok
        triplets = None
        if ok.any():
            m = len(ok)
            keep = torch.from_numpy(ok).to(z.device)
            triplets = tuple(z[n + j * m : n + (j + 1) * m][keep] for j in range(3))
        return (z if len(z) == n else z[:n]), triplets

    def add_terms(
        self, loss: torch.Tensor, z: torch.Tensor, triplets: tuple | None, batch: StepBatch
    ) -> torch.Tensor:
        """``loss`` (the teacher terms) plus the weighted gallery, triplet and prior terms.

        ``z`` and ``triplets`` are the outputs :meth:`split` returns.
        """
        if "gallery" in self.weights:
            scale = 1.0 / self.temperature if self.logit_scale is None else self.logit_scale()
            r = torch.from_numpy(np.asarray(batch.rows)).to(z.device)
            term = gallery_infonce(z, self.gallery, self.item_positives[r], scale)
            loss = loss + self.weights["gallery"] * term
        if "triplet" in self.weights and triplets is not None:
            term = triplet_margin_loss(*triplets, self.triplet_margin)
            loss = loss + self.weights["triplet"] * term
        if "prior" in self.weights:
            m = len(z) if self.prior_items is None else min(len(z), int(self.prior_items))
            at = self._prior_positions(batch, m)
            if at is None:
                sim = self.similarity(batch.ids[:m], batch.lengths[:m])
                scored = z[:m]
            elif len(at) >= 3:  # a correlation needs pairs to vary
                sim = self.similarity(batch.ids[at], batch.lengths[at])
                scored = z[torch.from_numpy(at).to(z.device)]
            else:
                return loss
            sim_t = torch.from_numpy(sim).to(z.device)
            term = phonetic_prior_loss(scored, sim_t, per_row=self.prior_per_row)
            loss = loss + self.weights["prior"] * term
        return loss

    def _prior_positions(self, batch: StepBatch, m: int) -> np.ndarray | None:
        """Positions of the scored outputs the prior reads; None for the first ``m`` (every
        item counts, or the first ``m`` are single words: the same slice as before #19)."""
        if self.word_items is None:
            return None
        at = np.flatnonzero(self.word_items[batch.rows])[:m]
        if len(at) == m and (m == 0 or at[-1] == m - 1):
            return None
        return at


def _single_words(data: SequenceData) -> np.ndarray:
    """Whether each item of ``data`` is a single word (holds no word-boundary token)."""
    boundary = word_boundary_rows(data.table).cpu().numpy()
    if not len(data.lengths):
        return np.zeros(0, dtype=bool)
    counts = np.add.reduceat(boundary[data.ids].astype(np.int64), data.offsets[:-1])
    return counts == 0


def _stack_padded(blocks: list[np.ndarray]) -> np.ndarray:
    """The rows of padded id blocks of different widths, one block after another."""
    out = np.zeros((sum(len(b) for b in blocks), max(b.shape[1] for b in blocks)), np.int64)
    start = 0
    for block in blocks:
        out[start : start + len(block), : block.shape[1]] = block
        start += len(block)
    return out


def _gallery(
    data: SequenceData, targets: torch.Tensor, train_idx: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distinct training targets; each item's positives: its own and its homophones' rows.

    Homophones (items with the same token ids) cannot be told apart by the student, so all
    their targets count as positives (padded with -1).
    """
    idx = np.asarray(train_idx)
    rows = targets[idx].cpu().numpy()
    _, first, target_of = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    target_of = target_of.reshape(-1)
    gallery = targets[idx[first]]
    keys = [data.ids[data.offsets[i] : data.offsets[i] + data.lengths[i]].tobytes() for i in idx]
    _, group = np.unique(np.array(keys, dtype=object), return_inverse=True)
    members: dict[int, set] = {}
    for g, t in zip(group.reshape(-1).tolist(), target_of.tolist()):
        members.setdefault(g, set()).add(t)
    width = max(len(m) for m in members.values())
    positives = np.full((len(data.lengths), width), -1, dtype=np.int64)
    for i, g, t in zip(idx.tolist(), group.reshape(-1).tolist(), target_of.tolist()):
        others = sorted(members[g] - {t})
        positives[i, : 1 + len(others)] = [t, *others]
    if width == 1:
        positives = positives[:, 0]
    return gallery, torch.from_numpy(positives).to(targets.device)
