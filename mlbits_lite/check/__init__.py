"""Self-checks for exercises: tell a learner whether they are right without giving the answer away.

Each exercise has one check, named after it. A check calls the learner's function on hidden inputs (drawn from a
private, fixed seed), compares with a reference implementation, and returns a `CheckResult` that shows as one line:

    pass    -- every hidden case agrees with the reference;
    fail    -- with a hint about *what kind* of mistake (shape, sign, a missing term, a broken rule, ...), given
               only where the evidence supports it;
    not yet -- the function still raises NotImplementedError.

Checks never print expected values, only what is wrong in kind. They never raise for a wrong answer, so "Run all"
always reaches the end of a notebook. They enforce an exercise's own rules: "by hand" refuses autograd, "from m
VJPs" counts the calls of the `vjp` the check passes in, "without forming the Hessian" refuses Hessian builders.
Where a number is asked, any numeric type will do (int, float, NumPy scalar, one-element tensor).
`_framework` holds the machinery and explains how to write a new check.

One module per chapter holds that chapter's checks; `check.NAME` reaches every one of them:
    backward   chapter 1: backward() as a vector–Jacobian product
    gelu       chapter 2: GELU, the expectation of a random gate
    huber      chapter 3: Huber loss vs Smooth L1
    label_smoothing  chapter 4: label smoothing, its optimum, and calibration
    cam        chapter 5: class activation maps, Grad-CAM and boxes
    perturbation  chapter 6: meaningful perturbation
    cutmix     chapter 7: CutMix, derived from Cutout and Mixup
    vit        chapter 8: the Vision Transformer: the cost of attention, interpolation weights, the conv stem
    tcn        chapter 9: temporal convolutional networks vs recurrent networks
    pooling    chapter 10: pooling a sequence into one vector
"""
from __future__ import annotations

from ._framework import CheckResult
from .backward import hessian_vector_product, per_sample_jacobians, predict_grad, softmax_vjp
from .gelu import expected_gate_slope, gelu_gaussian_mean, taylor_cubic
from .cam import conv_receptive_field, grad_cam_max_pooled, iou_tolerance
from .perturbation import fastest_deletion_curve, optimal_linear_mask, tv_gradient
from .huber import contamination_threshold, huber_gradient_ratio, huber_influence
from .label_smoothing import (distilled_smoothing, expected_calibration_error, smoothed_cross_entropy,
                              smoothed_loss_at_gap, smoothing_for_confidence)
from .cutmix import max_box_accuracy, partners_without_self, uniform_cover_box
from .tcn import causal_conv1d, levels_to_cover, path_counts, rnn_critical_path
from .vit import attention_macs, linear_resize_matrix, stem_window
from .pooling import attention_pool, eos_pool, pooled_dependence

__all__ = [
    "CheckResult",
    # chapter 1
    "softmax_vjp",
    "per_sample_jacobians",
    "predict_grad",
    "hessian_vector_product",
    # chapter 2
    "taylor_cubic",
    "expected_gate_slope",
    "gelu_gaussian_mean",
    # chapter 3
    "contamination_threshold",
    "huber_gradient_ratio",
    "huber_influence",
    # chapter 4
    "smoothed_loss_at_gap",
    "distilled_smoothing",
    "smoothed_cross_entropy",
    "expected_calibration_error",
    "smoothing_for_confidence",
    # chapter 5
    "iou_tolerance",
    "grad_cam_max_pooled",
    "conv_receptive_field",
    # chapter 6
    "tv_gradient",
    "optimal_linear_mask",
    "fastest_deletion_curve",
    # chapter 7
    "partners_without_self",
    "uniform_cover_box",
    "max_box_accuracy",
    # chapter 8
    "attention_macs",
    "linear_resize_matrix",
    "stem_window",
    # chapter 9
    "causal_conv1d",
    "levels_to_cover",
    "path_counts",
    "rnn_critical_path",
    # chapter 10
    "pooled_dependence",
    "eos_pool",
    "attention_pool",
]
