"""Loss functions derived in the chapters, each with a function and an `nn.Module` twin.

    regression       Huber and Smooth L1: robust regression losses (chapter 3)
    classification   label smoothing and soft-target cross-entropy (chapter 4)
"""
from __future__ import annotations

from .classification import (
    LabelSmoothingCrossEntropy,
    SoftTargetCrossEntropy,
    label_smoothing_cross_entropy,
    smooth_one_hot,
    soft_target_cross_entropy,
)
from .regression import HuberLoss, SmoothL1Loss, huber_loss, smooth_l1_loss

__all__: list[str] = [
    # regression
    "huber_loss",
    "smooth_l1_loss",
    "HuberLoss",
    "SmoothL1Loss",
    # classification
    "smooth_one_hot",
    "label_smoothing_cross_entropy",
    "soft_target_cross_entropy",
    "LabelSmoothingCrossEntropy",
    "SoftTargetCrossEntropy",
]
