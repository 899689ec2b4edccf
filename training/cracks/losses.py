"""Losses for thin, rare structures: masked binary cross-entropy + soft Dice (ignore-aware)."""

from __future__ import annotations

import torch
from torch.nn import functional

from training.cracks.data import IGNORE


def bce_dice(
    logits: torch.Tensor, label: torch.Tensor, *, dice_weight: float = 1.0
) -> torch.Tensor:
    """Mean BCE over valid pixels plus ``dice_weight`` x (1 - soft Dice over the batch).

    Parameters
    ----------
    logits : (N, 1, H, W) float
    label : (N, H, W) uint8 with 0 background, 1 crack, 255 ignore
    """
    logits = logits[:, 0].float()
    valid = (label != IGNORE).float()
    target = (label == 1).float()
    bce = functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    bce = (bce * valid).sum() / valid.sum().clamp_min(1.0)
    p = torch.sigmoid(logits) * valid
    inter = (p * target).sum()
    dice = 1.0 - (2.0 * inter + 1.0) / (p.sum() + target.sum() + 1.0)
    return bce + dice_weight * dice


def aux_target(label: torch.Tensor, factor: int) -> torch.Tensor:
    """Down-sample a 0/1/255 label by ``factor``: crack where any crack pixel, else background."""
    pos = (label == 1).float()[:, None]
    pooled = functional.max_pool2d(pos, factor)[:, 0]
    return pooled.to(torch.uint8)
