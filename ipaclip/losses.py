"""Distillation losses: how far the student's embeddings are from the frozen teacher's.

A loss is a weighted sum of named terms, given as a name (``"cosine"``), a sum of names
(``"cosine+contrastive"``) or a dict of weights (``{"cosine": 1, "contrastive": 0.1}``):

``cosine``
    ``1 - cos(student, teacher)``, averaged over the batch.
``mse``
    Mean squared error between the raw student output and the teacher embedding.
``contrastive``
    In-batch InfoNCE in both directions against the batch's teacher embeddings; identical
    teacher rows (the same text twice, homophones with one target) all count as positives.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ipaclip._validation import InvalidParameterError

__all__ = ["LOSSES", "distillation_loss", "parse_loss"]

#: The loss terms :func:`distillation_loss` knows.
LOSSES = ("cosine", "mse", "contrastive")


def parse_loss(loss: str | dict) -> dict[str, float]:
    """The loss as ``{term: weight}``; an error names ``loss`` and the unknown term.

    Examples
    --------
    >>> parse_loss("cosine+contrastive")
    {'cosine': 1.0, 'contrastive': 1.0}
    >>> parse_loss({"cosine": 1, "contrastive": 0.1})
    {'cosine': 1.0, 'contrastive': 0.1}
    """
    if isinstance(loss, str):
        weights = {name.strip(): 1.0 for name in loss.split("+")}
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
    return weights


def distillation_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    weights: dict[str, float],
    temperature: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted sum of the loss terms, and the batch's mean cosine (for logging).

    Parameters
    ----------
    student : tensor of shape (b, d)
        Raw student outputs.
    teacher : tensor of shape (b, d)
        Teacher embeddings, L2-normalised (unless only ``mse`` is used).
    weights : dict of str to float
        From :func:`parse_loss`.
    temperature : float
        Of the contrastive term.
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
