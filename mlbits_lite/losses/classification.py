"""Label smoothing and soft-target cross-entropy (Szegedy et al. 2016; Müller et al. 2019).

Label smoothing trains against a mixture of the one-hot target and the uniform distribution over K classes,

    q'(k) = (1 - ε)·δ(k, y) + ε/K,

and because cross-entropy is linear in its target, the loss splits into two familiar pieces:

    H(q', p) = (1 - ε)·H(q, p) + ε·H(u, p),    H(u, p) = KL(u ‖ p) + log K.

``label_smoothing_cross_entropy`` reproduces ``F.cross_entropy(logits, target, label_smoothing=ε)`` for index
targets exactly, including class ``weight`` (which PyTorch applies to *every* class in the uniform term) and
``ignore_index``. ``soft_target_cross_entropy`` is the loss for any target distribution (smoothed labels, mixup,
a teacher's probabilities); it equals ``F.cross_entropy`` with probability targets and no weights.
"""
from __future__ import annotations

import torch
from torch import nn

from .._validate import (
    require_choice,
    require_floating_tensor,
    require_in_range,
    require_int,
    require_ndim,
    require_positive_int,
    require_tensor,
)

__all__ = [
    "smooth_one_hot",
    "label_smoothing_cross_entropy",
    "soft_target_cross_entropy",
    "LabelSmoothingCrossEntropy",
    "SoftTargetCrossEntropy",
]

_REDUCTIONS = ("mean", "sum", "none")


# ------------------------------------------------------------------------------------------------ validation
def _require_epsilon(epsilon: object) -> float:
    return require_in_range("epsilon", epsilon, 0.0, 1.0)


def _require_index_tensor(name: str, value: object) -> torch.Tensor:
    require_tensor(name, value)
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor of class indices, got dtype {value.dtype}")
    return value


def _class_dim(logits: torch.Tensor) -> int:
    """PyTorch's layout: (C,) unbatched, else (N, C, d1, ...) with classes on dim 1."""
    return 0 if logits.ndim == 1 else 1


def _require_logits(logits: object) -> torch.Tensor:
    require_floating_tensor("logits", logits)
    if logits.ndim == 0 or logits.shape[_class_dim(logits)] == 0:
        raise ValueError(f"logits must be (C,) or (N, C, ...) with C >= 1 classes, got shape {tuple(logits.shape)}")
    return logits


def _require_weight(weight: object, num_classes: int, like: torch.Tensor) -> torch.Tensor | None:
    if weight is None:
        return None
    require_floating_tensor("weight", weight)
    require_ndim("weight", weight, 1)
    if weight.shape[0] != num_classes:
        raise ValueError(f"weight must have one entry per class ({num_classes}), got {weight.shape[0]}")
    return weight.to(dtype=like.dtype, device=like.device)


# ------------------------------------------------------------------------------------------------ functions
def smooth_one_hot(
    target: torch.Tensor, num_classes: int, epsilon: float, *, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Smoothed one-hot targets q' = (1 - ε)·onehot(y) + ε/K (PyTorch's convention: ε spread over all K classes).

    The true class gets 1 - ε + ε/K and every other class ε/K; each row sums to 1.

    Args:
        target: Integer class indices of any shape (...), each in [0, num_classes).
        num_classes: Number of classes K, a positive int.
        epsilon: Smoothing ε in [0, 1]; 0 gives the one-hot targets, 1 the uniform distribution.
        dtype: Floating dtype of the result; default torch's default dtype (float32).

    Returns:
        A tensor of shape (..., K) on target's device.

    Raises:
        TypeError: ``target`` is not an integer tensor, or ``num_classes``/``epsilon``/``dtype`` have the wrong type.
        ValueError: a target outside [0, num_classes), ``num_classes`` < 1, or ``epsilon`` outside [0, 1].
    """
    _require_index_tensor("target", target)
    num_classes = require_positive_int("num_classes", num_classes)
    epsilon = _require_epsilon(epsilon)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    if target.numel() and (target.min() < 0 or target.max() >= num_classes):
        raise ValueError(f"target must hold class indices in [0, {num_classes}), got values "
                         f"from {target.min().item()} to {target.max().item()}")
    one_hot = nn.functional.one_hot(target, num_classes).to(dtype)  # (..., K)
    return (1 - epsilon) * one_hot + epsilon / num_classes  # q' = (1 - ε)·δ(k, y) + ε/K


def label_smoothing_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    epsilon: float = 0.1,
    weight: torch.Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cross-entropy against smoothed targets, equal to ``F.cross_entropy(..., label_smoothing=epsilon)``.

    Per sample, with log-probabilities log p = log_softmax(logits) and class weights w (all 1 by default),

        loss_i = (1 - ε)·w_y·(-log p_y) + (ε/K)·Σ_c w_c·(-log p_c),

    and 0 for samples whose target is ``ignore_index``. The uniform term weighs every class by its own w_c, not
    by the weight of the sample's class. ``"mean"`` divides the sum by Σ_i w_{y_i} over the samples that are not
    ignored (their count when there are no weights), for both terms, as PyTorch does; when that total is 0 the
    mean is undefined and, as in PyTorch, NaN. With ε = 0 the uniform term is left out entirely, so a class
    masked by a -inf logit gives the finite plain cross-entropy, as in PyTorch.

    Args:
        logits: Unnormalised scores, (N, C), (N, C, d1, ...) or unbatched (C,).
        target: Integer class indices (int64, uint8 or any integer dtype), (N,), (N, d1, ...) or () to match, in
            [0, C) or equal to ``ignore_index``.
        epsilon: Smoothing ε in [0, 1].
        weight: Optional (C,) floating tensor of per-class weights.
        ignore_index: Target value that contributes neither loss nor gradient nor weight to the mean.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-element losses, shaped like ``target``).

    Returns:
        The loss: a scalar, or a tensor shaped like ``target`` for ``"none"``.

    Raises:
        TypeError: ``logits``/``weight`` are not floating tensors, ``target`` is not an integer tensor, or a
            number has the wrong type.
        ValueError: shapes that do not match, a target outside [0, C) that is not ``ignore_index``, ``epsilon``
            outside [0, 1], or an unknown ``reduction``.
    """
    _require_logits(logits)
    _require_index_tensor("target", target)
    epsilon = _require_epsilon(epsilon)
    ignore_index = require_int("ignore_index", ignore_index)
    require_choice("reduction", reduction, _REDUCTIONS)
    class_dim = _class_dim(logits)
    num_classes = logits.shape[class_dim]
    expected = logits.shape[:class_dim] + logits.shape[class_dim + 1:]
    if target.shape != expected:
        raise ValueError(f"target must have shape {tuple(expected)} for logits of shape {tuple(logits.shape)}, "
                         f"got shape {tuple(target.shape)}")
    weight = _require_weight(weight, num_classes, logits)
    target = target.to(device=logits.device, dtype=torch.int64)  # uint8 targets as F accepts them; gather needs int64
    keep = target != ignore_index  # samples that count
    if ((target[keep] < 0) | (target[keep] >= num_classes)).any():
        raise ValueError(f"target must hold class indices in [0, {num_classes}) or ignore_index ({ignore_index})")

    log_p = logits.log_softmax(dim=class_dim)  # log p_c
    safe_target = torch.where(keep, target, 0).unsqueeze(class_dim)  # ignored samples read class 0, then drop out
    nll = -log_p.gather(class_dim, safe_target).squeeze(class_dim)  # -log p_y
    if weight is None:
        w_y = keep.to(logits.dtype)  # 1 per sample that counts
        uniform = -log_p.sum(class_dim)  # Σ_c -log p_c = K·H(u, p)
    else:
        shape = [1] * logits.ndim
        shape[class_dim] = num_classes
        w_y = torch.where(keep, weight[safe_target.squeeze(class_dim)], 0)  # w_{y_i}, 0 when ignored
        uniform = -(log_p * weight.view(shape)).sum(class_dim)  # Σ_c w_c·(-log p_c)
    # loss_i = (1 - ε)·w_y·(-log p_y) + (ε/K)·Σ_c w_c·(-log p_c)
    loss = (1 - epsilon) * w_y * nll
    if epsilon > 0:  # at ε = 0 a class masked by a -inf logit would add 0·∞ = NaN
        loss = loss + (epsilon / num_classes) * uniform
    loss = torch.where(keep, loss, 0)  # ignored samples: no loss, no gradient
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    total_weight = w_y.sum()  # Σ_i w_{y_i}: PyTorch's weighted mean divides both terms by it
    return torch.where(total_weight == 0, torch.nan, loss.sum() / total_weight)  # undefined (NaN) when it is 0


def soft_target_cross_entropy(
    logits: torch.Tensor, soft_targets: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy against target distributions, H(q, p) = -Σ_c q_c·log p_c with p = softmax(logits).

    Equals ``F.cross_entropy(logits, soft_targets)`` (probability targets, no weights, no smoothing). Pass targets
    that are already smoothed (``smooth_one_hot``) or mixed; smoothing them again inside the loss would smooth twice.

    Args:
        logits: Unnormalised scores, (N, C), (N, C, d1, ...) or unbatched (C,).
        soft_targets: Floating tensor of the same shape: a distribution over the C classes along the class dim.
        reduction: ``"mean"`` (over all N·d1·... positions), ``"sum"`` or ``"none"``.

    Returns:
        The loss: a scalar, or per-position losses (logits' shape without the class dim) for ``"none"``.

    Raises:
        TypeError: ``logits`` or ``soft_targets`` is not a floating tensor.
        ValueError: shapes differ, or an unknown ``reduction``.
    """
    _require_logits(logits)
    require_floating_tensor("soft_targets", soft_targets)
    require_choice("reduction", reduction, _REDUCTIONS)
    if soft_targets.shape != logits.shape:
        raise ValueError(f"soft_targets must have the shape of logits {tuple(logits.shape)}, "
                         f"got shape {tuple(soft_targets.shape)}")
    class_dim = _class_dim(logits)
    log_p = logits.log_softmax(dim=class_dim)
    loss = -(soft_targets.to(log_p) * log_p).sum(class_dim)  # H(q, p) = -Σ_c q_c log p_c
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


# ------------------------------------------------------------------------------------------------ modules
class LabelSmoothingCrossEntropy(nn.Module):
    """Module twin of :func:`label_smoothing_cross_entropy` (like ``nn.CrossEntropyLoss(label_smoothing=ε)``).

    Args:
        epsilon: Smoothing ε in [0, 1].
        weight: Optional (C,) floating tensor of per-class weights (kept as a buffer: it follows ``.to(device)``).
        ignore_index: Target value to ignore.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """

    def __init__(
        self,
        epsilon: float = 0.1,
        weight: torch.Tensor | None = None,
        ignore_index: int = -100,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.epsilon = _require_epsilon(epsilon)
        if weight is not None:
            require_floating_tensor("weight", weight)
            require_ndim("weight", weight, 1)
        self.register_buffer("weight", weight)
        self.ignore_index = require_int("ignore_index", ignore_index)
        self.reduction = require_choice("reduction", reduction, _REDUCTIONS)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return label_smoothing_cross_entropy(logits, target, self.epsilon, self.weight, self.ignore_index,
                                             self.reduction)

    def extra_repr(self) -> str:
        return f"epsilon={self.epsilon}, ignore_index={self.ignore_index}, reduction={self.reduction!r}"


class SoftTargetCrossEntropy(nn.Module):
    """Module twin of :func:`soft_target_cross_entropy`.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = require_choice("reduction", reduction, _REDUCTIONS)

    def forward(self, logits: torch.Tensor, soft_targets: torch.Tensor) -> torch.Tensor:
        return soft_target_cross_entropy(logits, soft_targets, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
