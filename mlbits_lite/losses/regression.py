"""Huber and Smooth L1: quadratic near zero, linear in the tails (chapter 3).

With z = |input - target|:

    huber_δ(z)     = ½ z²            if z < δ,   δ (z - ½ δ)   otherwise     gradient clamp(r, -δ, δ)
    smooth_l1_β(z) = ½ z² / β        if z < β,   z - ½ β       otherwise     gradient clamp(r / β, -1, 1)

so huber_δ = δ · smooth_l1_{β=δ}: the same minimiser, gradients δ times larger. Smooth L1 with β = 0 is L1.
Both match ``F.huber_loss`` / ``F.smooth_l1_loss`` for every reduction, including the linear branch at z == β,
but they refuse what PyTorch only warns about: a target whose shape differs from the input's (PyTorch broadcasts
it, usually into a wrong answer).
"""
from __future__ import annotations

import torch
from torch import nn

from .._validate import (
    require_choice,
    require_floating_tensor,
    require_number,
    require_positive_number,
    require_shape,
)

__all__ = ["huber_loss", "smooth_l1_loss", "HuberLoss", "SmoothL1Loss"]

REDUCTIONS = ("none", "mean", "sum")


def _absolute_residual(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """|input - target| after checking both are floating tensors of one shape and dtype."""
    require_floating_tensor("input", input)
    require_floating_tensor("target", target)
    require_shape("target", target, input.shape)
    if target.dtype != input.dtype:
        raise TypeError(f"target must have the dtype of input ({input.dtype}), got dtype {target.dtype}")
    return (input - target).abs()  # z = |r|


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()  # sum / numel: every element counts, not every sample
    if reduction == "sum":
        return loss.sum()
    return loss


def _require_beta(beta: float) -> float:
    beta = require_number("beta", beta)
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    return beta


def huber_loss(
    input: torch.Tensor, target: torch.Tensor, delta: float = 1.0, reduction: str = "mean"
) -> torch.Tensor:
    """Huber loss: ½ r² for |r| < δ, δ (|r| - ½ δ) beyond; value and slope are continuous at |r| = δ.

    Args:
        input: Predictions, any shape, floating point.
        target: Targets, the same shape and dtype as ``input``.
        delta: Where the loss turns from quadratic to linear; > 0. Also the largest gradient magnitude.
        reduction: "mean" (sum / numel), "sum", or "none" (elementwise, the shape of ``input``).

    Returns:
        The loss: a scalar, or a tensor shaped like ``input`` for reduction="none".
    """
    delta = require_positive_number("delta", delta)
    reduction = require_choice("reduction", reduction, REDUCTIONS)
    z = _absolute_residual(input, target)
    loss = torch.where(
        z < delta,
        0.5 * z * z,  # ½ z²
        delta * (z - 0.5 * delta),  # δ (z - ½ δ): slope δ, meets ½ z² at z = δ
    )
    return _reduce(loss, reduction)


def smooth_l1_loss(
    input: torch.Tensor, target: torch.Tensor, beta: float = 1.0, reduction: str = "mean"
) -> torch.Tensor:
    """Smooth L1 loss: ½ r² / β for |r| < β, |r| - ½ β beyond; slope 1 in the tails. β = 0 is L1.

    Args:
        input: Predictions, any shape, floating point.
        target: Targets, the same shape and dtype as ``input``.
        beta: Where the loss turns from quadratic to linear; >= 0 (0 gives the L1 loss).
        reduction: "mean" (sum / numel), "sum", or "none" (elementwise, the shape of ``input``).

    Returns:
        The loss: a scalar, or a tensor shaped like ``input`` for reduction="none".
    """
    beta = _require_beta(beta)
    reduction = require_choice("reduction", reduction, REDUCTIONS)
    z = _absolute_residual(input, target)
    if beta == 0:
        return _reduce(z, reduction)  # the limit β -> 0 is L1; avoids 0 / 0 in the quadratic branch
    loss = torch.where(
        z < beta,
        0.5 * z * z / beta,  # ½ z² / β
        z - 0.5 * beta,  # z - ½ β: slope 1, meets ½ z² / β at z = β
    )
    return _reduce(loss, reduction)


class HuberLoss(nn.Module):
    """Module twin of `huber_loss`.

    Args:
        delta: Where the loss turns from quadratic to linear; > 0.
        reduction: "mean", "sum" or "none".
    """

    def __init__(self, delta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.delta = require_positive_number("delta", delta)
        self.reduction = require_choice("reduction", reduction, REDUCTIONS)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return huber_loss(input, target, delta=self.delta, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"delta={self.delta}, reduction={self.reduction!r}"


class SmoothL1Loss(nn.Module):
    """Module twin of `smooth_l1_loss`.

    Args:
        beta: Where the loss turns from quadratic to linear; >= 0 (0 gives the L1 loss).
        reduction: "mean", "sum" or "none".
    """

    def __init__(self, beta: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.beta = _require_beta(beta)
        self.reduction = require_choice("reduction", reduction, REDUCTIONS)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return smooth_l1_loss(input, target, beta=self.beta, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, reduction={self.reduction!r}"
