"""Distillation losses: how far the student's embeddings are from the frozen teacher's.

A loss is a weighted sum of named terms, given as a name (``"cosine"``), a sum of names
with optional weights (``"cosine+contrastive+3*triplet"``) or a dict of weights
(``{"cosine": 1, "contrastive": 0.1}``). The teacher terms (:func:`distillation_loss`):

``cosine``
    ``1 - cos(student, teacher)``, averaged over the batch.
``mse``
    Mean squared error between the raw student output and the teacher embedding.
``contrastive``
    In-batch InfoNCE in both directions against the batch's teacher embeddings; identical
    teacher rows (the same text twice, homophones with one target) all count as positives.

The phonetic terms of the training recipe (issue #10, ``examples/recipe_study.py``), which
need more than the batch's outputs and targets (the trainer supplies it):

``triplet``
    :func:`triplet_margin_loss` on single-phoneme swaps of training words: a near swap must
    stay closer to its word than a far swap (:meth:`ipaclip.augment.PhoneticAugmenter.swap_pairs`).
``prior``
    :func:`phonetic_prior_loss`: one minus the Pearson correlation between the student's
    cosines and one minus the feature edit distance over the batch's pairs.
``gallery``
    :func:`gallery_infonce`: InfoNCE of each output against *every* distinct training
    target, not just the batch's (measured slower to learn, and worse on human ratings;
    opt-in only).
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from ipaclip._validation import InvalidParameterError

__all__ = [
    "LOSSES",
    "TEACHER_TERMS",
    "LogitScale",
    "distillation_loss",
    "gallery_infonce",
    "parse_loss",
    "phonetic_prior_loss",
    "triplet_margin_loss",
]

#: The terms :func:`distillation_loss` computes from the batch's outputs and targets.
TEACHER_TERMS = ("cosine", "mse", "contrastive")
#: Every loss term a loss may name.
LOSSES = (*TEACHER_TERMS, "triplet", "prior", "gallery")
_WEIGHTED = re.compile(r"^\s*(?:(?P<weight>[0-9.eE+-]+)\s*\*\s*)?(?P<name>[a-z_]+)\s*$")


def parse_loss(loss: str | dict) -> dict[str, float]:
    """The loss as ``{term: weight}``; an error names ``loss`` and the unknown term.

    Weights must be finite and >= 0, and at least one must be > 0 (``"0*cosine"`` would
    train nothing); a term may have weight 0 beside others.

    Examples
    --------
    >>> parse_loss("cosine+contrastive")
    {'cosine': 1.0, 'contrastive': 1.0}
    >>> parse_loss("cosine+contrastive+3*triplet+3*prior")
    {'cosine': 1.0, 'contrastive': 1.0, 'triplet': 3.0, 'prior': 3.0}
    >>> parse_loss({"cosine": 1, "contrastive": 0.1})
    {'cosine': 1.0, 'contrastive': 0.1}
    """
    if isinstance(loss, str):
        weights = {}
        for part in loss.split("+") if loss.strip() else []:
            match = _WEIGHTED.match(part)
            try:
                weight = float(match["weight"] or 1.0) if match else None
            except ValueError:
                weight = None
            if weight is None:
                raise InvalidParameterError(
                    f"loss={loss!r}: {part.strip()!r} is not a term or 'weight*term' "
                    f"(e.g. '3*triplet'); terms are {LOSSES}."
                )
            weights[match["name"]] = weight
    elif isinstance(loss, dict):
        weights = {}
        for name, value in loss.items():
            try:
                weights[str(name)] = float(value)
            except (TypeError, ValueError):
                raise InvalidParameterError(
                    f"loss={loss!r}: the weight of {name!r} must be a number; got {value!r}."
                ) from None
    else:
        raise InvalidParameterError(
            f"loss must be a name, 'a+b', or a dict of weights; got {loss!r}."
        )
    unknown = sorted(set(weights) - set(LOSSES))
    if unknown or not weights:
        raise InvalidParameterError(
            f"loss={loss!r}: unknown term(s) {unknown}; choose from {LOSSES}."
        )
    bad = {k: w for k, w in weights.items() if not (math.isfinite(w) and w >= 0)}
    if bad:
        raise InvalidParameterError(
            f"loss={loss!r}: weights must be finite and >= 0; got {bad}. Give each term a "
            "weight >= 0, e.g. 'cosine+contrastive'."
        )
    if not any(weights.values()):
        raise InvalidParameterError(
            f"loss={loss!r}: every weight is 0, so nothing would be trained; give at least "
            "one term a weight > 0, e.g. 'cosine+contrastive'."
        )
    return weights


def distillation_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    weights: dict[str, float],
    temperature: float | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted sum of the teacher terms, and the batch's mean cosine (for logging).

    Parameters
    ----------
    student : tensor of shape (b, d)
        Raw student outputs.
    teacher : tensor of shape (b, d)
        Teacher embeddings, L2-normalised (unless only ``mse`` is used).
    weights : dict of str to float
        From :func:`parse_loss`; only the :data:`TEACHER_TERMS` are read.
    temperature : float or scalar tensor
        Of the contrastive term (a tensor when it is learned, see :class:`LogitScale`).
    """
    s_norm = F.normalize(student, dim=-1)
    cos = (s_norm * teacher).sum(-1)
    total = student.new_zeros(())
    if "cosine" in weights:
        total = total + weights["cosine"] * (1.0 - cos).mean()
    if "mse" in weights:
        total = total + weights["mse"] * F.mse_loss(student, teacher)
    if "contrastive" in weights:
        logits = s_norm @ teacher.T / temperature
        # Every row is its own positive even where float32 rounding puts its self-cosine
        # below the threshold (an all-False row would make the target 0/0 = NaN).
        same = ((teacher @ teacher.T) > 1.0 - 1e-6) | torch.eye(
            len(teacher), dtype=torch.bool, device=teacher.device
        )
        target = same.float() / same.sum(-1, keepdim=True)
        loss_st = -(target * logits.log_softmax(-1)).sum(-1).mean()
        loss_ts = -(target * logits.T.log_softmax(-1)).sum(-1).mean()
        total = total + weights["contrastive"] * 0.5 * (loss_st + loss_ts)
    return total, cos.detach().mean()


class LogitScale(nn.Module):
    """CLIP's learnable inverse temperature: ``exp(log_scale)``, clamped at ``max_scale``.

    Parameters
    ----------
    temperature : float
        Initial temperature (``log_scale = log(1 / temperature)``).
    max_scale : float, default=100.0
        CLIP's clamp.

    Examples
    --------
    >>> round(float(LogitScale(0.05)().detach()), 3)
    20.0
    """

    def __init__(self, temperature: float, max_scale: float = 100.0) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive; got {temperature!r}.")
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))
        self.max_scale = float(max_scale)

    def forward(self) -> torch.Tensor:
        return self.log_scale.exp().clamp(max=self.max_scale)


def triplet_margin_loss(
    anchor: torch.Tensor, near: torch.Tensor, far: torch.Tensor, margin: float
) -> torch.Tensor:
    """``relu(margin - cos(anchor, near) + cos(anchor, far))``, averaged over rows.

    Examples
    --------
    >>> a = torch.tensor([[1.0, 0.0]])
    >>> float(triplet_margin_loss(a, torch.tensor([[0.9, 0.1]]), torch.tensor([[0.0, 1.0]]), 0.1))
    0.0
    >>> float(triplet_margin_loss(a, torch.tensor([[0.0, 1.0]]), a, 0.1))
    1.100000023841858
    """
    a, n, f = (F.normalize(t, dim=-1) for t in (anchor, near, far))
    gap = (a * n).sum(-1) - (a * f).sum(-1)
    return F.relu(margin - gap).mean()


def phonetic_prior_loss(
    student: torch.Tensor, similarity: torch.Tensor, per_row: bool = False
) -> torch.Tensor:
    """``1 - Pearson r`` between student cosines and a phonetic similarity of the pairs.

    Parameters
    ----------
    student : Tensor of shape (b, d)
        Student outputs (normalised here).
    similarity : Tensor of shape (b * (b - 1) / 2,)
        Phonetic similarity of each pair ``i < j`` in row-major order (as
        :func:`torch.triu_indices`), e.g. one minus the feature edit distance.
    per_row : bool, default=False
        Correlate each item's cosines to the other items with their similarities to it and
        average over items (as the human-similarity protocol correlates per standard word);
        otherwise one correlation over all pairs.

    Returns
    -------
    Tensor
        In ``[0, 2]``; 0 when the cosines are an increasing affine function of the
        similarity. Scale-free: it asks the cosines for no particular range, so it competes
        little with fidelity to the teacher.

    Examples
    --------
    >>> z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> sim = torch.tensor([0.9, 0.1, 0.2])  # pairs (0,1), (0,2), (1,2)
    >>> float(phonetic_prior_loss(z, sim)) < 0.05
    True
    >>> float(phonetic_prior_loss(z, sim, per_row=True)) < 0.05
    True
    """
    z = F.normalize(student, dim=-1)
    n = len(z)
    if len(similarity) != n * (n - 1) // 2:
        raise ValueError(
            f"similarity has {len(similarity)} pairs; {n} items have {n * (n - 1) // 2}."
        )
    cos_all = z @ z.T  # one (b, b) product: far cheaper than gathering pair rows
    if n < 3:
        return cos_all.new_zeros(())
    ii, jj = torch.triu_indices(n, n, offset=1, device=z.device)
    if per_row:
        sim = cos_all.new_zeros(n, n)
        sim[ii, jj] = similarity.to(sim.dtype)
        sim = sim + sim.T
        off = ~torch.eye(n, dtype=torch.bool, device=z.device)
        a = cos_all[off].view(n, n - 1)
        b = sim[off].view(n, n - 1)
        a = a - a.mean(1, keepdim=True)
        b = b - b.mean(1, keepdim=True)
        r = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-8)
        return 1.0 - r.mean()
    cos = cos_all[ii, jj]
    a = cos - cos.mean()
    b = similarity.to(cos.dtype) - similarity.mean()
    r = (a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-8)
    return 1.0 - r


def gallery_infonce(
    student: torch.Tensor,
    gallery: torch.Tensor,
    positives: torch.Tensor,
    scale: torch.Tensor | float,
) -> torch.Tensor:
    """Cross-entropy of each student row against a whole gallery of frozen targets.

    Parameters
    ----------
    student : Tensor of shape (b, d)
        Student outputs (normalised here).
    gallery : Tensor of shape (g, d)
        L2-normalised teacher embeddings: every distinct training target.
    positives : LongTensor of shape (b,) or (b, p)
        The gallery row of each student row's target, or, padded with -1, every row that
        counts as its target (homophones: one pronunciation, several words). With several
        positives the loss is ``-log`` of their total probability.
    scale : float or Tensor
        Logit scale (inverse temperature).

    Examples
    --------
    >>> g = torch.eye(3)
    >>> s = torch.tensor([[5.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    >>> float(gallery_infonce(s, g, torch.tensor([0, 2]), 20.0)) < 1e-6
    True
    >>> s = torch.tensor([[5.0, 5.0, 0.0]])          # homophones 0 and 1: both count
    >>> float(gallery_infonce(s, g, torch.tensor([[0, 1]]), 20.0)) < 1e-6
    True
    """
    z = F.normalize(student, dim=-1)
    if positives.dim() == 1:
        positives = positives[:, None]
    pad = positives < 0
    if pad.all(-1).any():
        raise ValueError("every student row needs at least one positive gallery row")
    logits = z @ gallery.T * scale
    if positives.shape[1] == 1:
        return F.cross_entropy(logits, positives[:, 0])
    pos = logits.gather(1, positives.clamp_min(0)).masked_fill(pad, float("-inf"))
    return (logits.logsumexp(-1) - pos.logsumexp(-1)).mean()
