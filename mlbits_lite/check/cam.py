"""Self-checks for chapter 5: class activation maps, Grad-CAM and boxes, derived rather than copied."""
from __future__ import annotations

import math
from typing import Callable

import torch

from .. import explain
from ._framework import BY_HAND, Case, CheckResult, Ints, Rule, _hidden_generator, no_autograd, run

__all__ = ["iou_tolerance", "grad_cam_max_pooled", "conv_receptive_field"]


no_box_iou = Rule("this exercise asks for formulas, and your function called {name}: derive g and d from "
                  "IoU >= 0.5 instead of measuring boxes", {"explain.box_iou": explain.box_iou})


def _largest_growth(width: int, height: int, strict: bool = False) -> int:
    """The largest integer g with w h / ((w + 2g)(h + 2g)) >= 1/2 (or > 1/2), by counting up: exact integers."""
    g = 0
    while (2 * width * height > (width + 2 * (g + 1)) * (height + 2 * (g + 1))) if strict else \
            (2 * width * height >= (width + 2 * (g + 1)) * (height + 2 * (g + 1))):
        g += 1
    return g


def _largest_one_sided_growth(width: int, height: int) -> int:
    """The slip of growing the box by g in width and height in all, not on every side: (w + g)(h + g) <= 2 w h."""
    g = 0
    while (width + g + 1) * (height + g + 1) <= 2 * width * height:
        g += 1
    return g


def iou_tolerance(learner: Callable[[int, int], object]) -> CheckResult:
    """Exercise: how far a box may be off and still count (IoU >= 0.5), by formula.

    Args:
        learner: `f(width, height)` for the true box's size in pixels (ints); returns (grow, shift): the largest
            integer g such that the true box grown by g pixels on every side has IoU >= 0.5 with it, and the largest
            integer d such that the true box moved sideways by d pixels has IoU >= 0.5 with it.
    """
    cases = []
    # exactly 0.5 at g = 1 for 6 x 4 and at d = 3 for 9 x 9; thin boxes in both directions; a rounding case
    for width, height in ((6, 4), (9, 9), (20, 10), (3, 17), (12, 12), (31, 7), (2, 30), (14, 5)):
        grow, shift = _largest_growth(width, height), width // 3
        grow_root = (math.sqrt((width + height) ** 2 + 4 * width * height) - width - height) / 4
        wrong = {
            "grow: a box with IoU exactly 0.5 still counts (IoU >= 0.5, not > 0.5)":
                (_largest_growth(width, height, strict=True), shift),
            "grow: the box grows by g on every side, so its width becomes w + 2g":
                (_largest_one_sided_growth(width, height), shift),
            "grow: a box that is not square grows in both directions: your formula must use both w and h":
                (math.floor((math.sqrt(2) - 1) * width / 2), shift),
            "grow: the largest integer g: round down, not to the nearest": (round(grow_root), shift),
            "shift: a box with IoU exactly 0.5 still counts (IoU >= 0.5, not > 0.5)": (grow, (width - 1) // 3),
            "shift: IoU divides the overlap by the union, (w + d) h, not by the true box's area":
                (grow, width // 2),
            "shift: the box moves sideways, along its width w": (grow, height // 3),
            "shift: the largest integer d: round down, not to the nearest": (grow, round(width / 3)),
            "the order is (grow, shift)": (shift, grow),
        }
        cases.append(Case((width, height), (grow, shift), wrong))
    return run("iou_tolerance", learner, cases, answer=Ints(("grow", "shift")), rules=(no_box_iou,),
               call="f(width, height)")


def grad_cam_max_pooled(learner: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: Grad-CAM of the last block of a network ending in global max pooling and a linear layer, by hand.

    The score is y^c = sum_k w_k^c max_{x,y} f_k(x, y) + b_c; Grad-CAM is ReLU(sum_k alpha_k^c f_k) with alpha_k^c
    the mean over positions of d y^c / d f_k(x, y).

    Args:
        learner: `f(features, fc_weight, class_idx)` with features (B, K, h, w) (one maximum per channel),
            fc_weight (num_classes, K) and class_idx a (B,) int64 tensor; returns the (B, h, w) maps, without
            autograd.
    """
    g = _hidden_generator("grad_cam_max_pooled")
    cases = []
    for batch, channels, num_classes, h, w in ((3, 5, 4, 4, 3), (2, 8, 6, 5, 5), (4, 6, 10, 3, 6)):
        features = torch.rand(batch, channels, h, w, generator=g, dtype=torch.float64)  # post-ReLU: >= 0
        features = features * (torch.rand(batch, channels, h, w, generator=g, dtype=torch.float64) > 0.3)
        weight = torch.randn(num_classes, channels, generator=g, dtype=torch.float64)
        classes = torch.randperm(num_classes, generator=g)[:batch]  # a different class for each sample
        positions = h * w
        weights = weight[classes]  # (B, K): w^c of each sample's class
        want = torch.einsum("bk,bkhw->bhw", weights / positions, features).relu()  # alpha_k = w_k^c / Z
        flat = features.flatten(2)  # (B, K, h w)
        at_max = torch.zeros_like(flat).scatter_(2, flat.argmax(2, keepdim=True), 1.0).view_as(features)
        peaks = features.amax(dim=(2, 3))  # (B, K)
        wrong = {
            "alpha_k averages the gradient over all Z positions: the one non-zero gradient, w_k^c, is divided "
            "by Z": want * positions,
            "you multiplied the gradient and the activations position by position, so only each channel's "
            "maximum is left: Grad-CAM weighs whole channels by alpha_k":
                torch.einsum("bk,bkhw->bhw", weights, at_max * features).relu(),
            "the map has negative values: Grad-CAM keeps the positive part (ReLU) of the weighted sum":
                torch.einsum("bk,bkhw->bhw", weights / positions, features),
            "the ReLU goes after the sum over channels, not on each channel":
                (weights[:, :, None, None] / positions * features).relu().sum(1),
            "every sample got the first sample's class: index fc_weight with each sample's own class":
                torch.einsum("k,bkhw->bhw", weight[classes[0]] / positions, features).relu(),
            "you weighed each channel's maximum, a number per channel, instead of its map f_k":
                (weights * peaks).sum(1).relu()[:, None, None].expand(batch, h, w) / positions,
        }
        cases.append(Case((features, weight, classes), want, wrong))
    return run("grad_cam_max_pooled", learner, cases, answer=BY_HAND, rules=(no_autograd,),
               call="f(features, fc_weight, class_idx)")


def conv_receptive_field(learner: Callable[[list[tuple[int, int]]], object]) -> CheckResult:
    """Exercise: the receptive field and jump of a stack of convolution and pooling layers, by formula.

    Args:
        learner: `f(layers)` for a list of (kernel_size, stride) pairs, first layer first; returns (size, jump): the
            side of the window of input pixels one output cell sees, and the distance in input pixels between
            neighbouring output cells.
    """
    gap_cnn = [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2), (3, 1), (3, 1)]  # GapCNN, three blocks
    stacks = (gap_cnn, [(7, 2), (3, 2), (3, 1)], [(3, 1)] * 4, [(5, 1), (2, 2), (5, 1), (2, 2)],
              [(1, 1), (3, 3), (3, 1)], [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1)])
    cases = []
    for layers in stacks:
        size, jump, after, unscaled, start_zero = 1, 1, 1, 1, 0
        for k, s in layers:
            size, start_zero = size + (k - 1) * jump, start_zero + (k - 1) * jump  # r_l = r_{l-1} + (k_l - 1) j_{l-1}
            after += (k - 1) * jump * s  # the slip: the jump after this layer's stride
            unscaled += k - 1
            jump *= s  # j_l = j_{l-1} s_l
        wrong = {
            "size: each layer's k - 1 extra cells lie jump input pixels apart: multiply by the jump so far":
                (unscaled, jump),
            "size: multiply k - 1 by the jump before this layer's stride, not after it": (after, jump),
            "size: neighbouring windows overlap: a layer adds k - 1 cells, not k":
                (sum(k for k, _ in layers), jump),
            "size: a layer adds (k - 1) times the jump to the window; it does not multiply it":
                (math.prod(k for k, _ in layers), jump),
            "size: a single input pixel is a window of side 1: start from 1, not 0": (start_zero, jump),
            "jump: strides multiply, they do not add": (size, sum(s for _, s in layers)),
            "the order is (size, jump)": (jump, size),
        }
        cases.append(Case((layers,), (size, jump), wrong))
    return run("conv_receptive_field", learner, cases, answer=Ints(("size", "jump")), call="f(layers)")
