"""Losses as pure functions of logits and masks. Chapter 01 uses cross-entropy; 02-04 add KD.

Shapes: B = batch, T = sequence positions, V = vocabulary. A mask marks with True the positions
whose loss counts (the completion tokens); every reduction is a mean over those positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def check_mask(mask: torch.Tensor) -> torch.Tensor:
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got dtype {mask.dtype}")
    if not mask.any():
        raise ValueError("mask selects no position: at least one completion token must count")
    return mask


def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy over the masked positions.

    Args:
        logits: (B, T, V) scores for the next token at each position.
        targets: (B, T) the token that really came next.
        mask: (B, T) True where the position is a completion token whose loss counts.
    Returns:
        A scalar: the mean negative log-probability of the targets, in nats per token.
    """
    check_mask(mask)
    log_probs = F.log_softmax(logits[mask].float(), dim=-1)  # (M, V), M = masked positions
    return -log_probs.gather(-1, targets[mask].unsqueeze(-1)).mean()
