"""Chapter 5's self-checks: the catalogue of answers (run by test_check_contract.py), and the rules they enforce."""
from __future__ import annotations

import math

import numpy as np
import torch

from catalogue import Catalogue
from mlbits_lite import check, explain


# --------------------------------------------------------------------------------------- reference solutions
def iou_tolerance(width, height):
    grow = (math.isqrt((width + height) ** 2 + 4 * width * height) - width - height) // 4
    shift = width // 3  # (w - d) / (w + d) >= 1/2  <=>  d <= w / 3
    return grow, shift


def grad_cam_max_pooled(features, fc_weight, class_idx):
    positions = features.shape[2] * features.shape[3]
    alpha = fc_weight[class_idx] / positions  # (B, K)
    return torch.relu(torch.einsum("bk,bkhw->bhw", alpha, features))


def conv_receptive_field(layers):
    size, jump = 1, 1
    for kernel_size, stride in layers:
        size += (kernel_size - 1) * jump
        jump *= stride
    return size, jump


# --------------------------------------------------------------------------------------- other right answers
def iou_tolerance_by_counting(width, height):
    """Largest g and d by trying them in turn, in exact integer arithmetic (IoU >= 1/2 as 2 * overlap >= union)."""
    grow = 0
    while 2 * width * height >= (width + 2 * grow + 2) * (height + 2 * grow + 2):
        grow += 1
    shift = 0
    while 2 * (width - shift - 1) * height >= (width + shift + 1) * height:
        shift += 1
    return np.array([grow, shift])  # a NumPy array is an answer too


def iou_tolerance_by_float_root(width, height):
    root = (math.sqrt((width + height) ** 2 + 4 * width * height) - width - height) / 4
    return torch.tensor([math.floor(root + 1e-12), math.floor(width / 3 + 1e-12)])


def grad_cam_max_pooled_from_the_gradient(features, fc_weight, class_idx):
    """Build d y^c / d f by hand (w_k^c at each channel's maximum), then Grad-CAM as in the chapter."""
    batch, channels, h, w = features.shape
    flat = features.flatten(2)  # (B, K, h w)
    grad = torch.zeros_like(flat).scatter_(2, flat.argmax(2, keepdim=True), 1.0) * fc_weight[class_idx][:, :, None]
    alpha = grad.view(batch, channels, h, w).mean(dim=(2, 3), keepdim=True)  # (B, K, 1, 1)
    return (alpha * features).sum(1).clamp(min=0)


def conv_receptive_field_by_product(layers):
    """r = 1 + sum_l (k_l - 1) prod_{i<l} s_i, as one sum."""
    strides = [s for _, s in layers]
    size = 1 + sum((k - 1) * math.prod(strides[:i]) for i, (k, _) in enumerate(layers))
    return [size, math.prod(strides)]


def conv_receptive_field_backwards(layers):
    """From one output cell back to the input: r <- s r + (k - s), layer by layer from the last."""
    size = 1
    for kernel_size, stride in reversed(layers):
        size = stride * size + (kernel_size - stride)
    return size, math.prod(s for _, s in layers)


# --------------------------------------------------------------------------------------- realistic slips
def _growth(width, height, condition):
    grow = 0
    while condition(width, height, grow + 1):
        grow += 1
    return grow


def iou_tolerance_strict_grow(width, height):
    return _growth(width, height, lambda w, h, g: 2 * w * h > (w + 2 * g) * (h + 2 * g)), width // 3


def iou_tolerance_one_side(width, height):
    return _growth(width, height, lambda w, h, g: 2 * w * h >= (w + g) * (h + g)), width // 3


def iou_tolerance_square(width, height):
    return math.floor((math.sqrt(2) - 1) * width / 2), width // 3


def iou_tolerance_rounded(width, height):
    root = (math.sqrt((width + height) ** 2 + 4 * width * height) - width - height) / 4
    return round(root), width // 3


def grad_cam_max_pooled_by_autograd(features, fc_weight, class_idx):
    features = features.clone().requires_grad_(True)
    scores = features.amax(dim=(2, 3)) @ fc_weight.T  # (B, C)
    (grad,) = torch.autograd.grad(scores.gather(1, class_idx[:, None]).sum(), features)
    return (grad.mean(dim=(2, 3), keepdim=True) * features).sum(1).relu().detach()


CATALOGUE = {
    check.iou_tolerance: Catalogue(
        reference=iou_tolerance,
        right=[iou_tolerance_by_counting, iou_tolerance_by_float_root],
        wrong=[
            (iou_tolerance_strict_grow, "grow: a box with IoU exactly 0.5 still counts"),
            (iou_tolerance_one_side, "w + 2g"),
            (iou_tolerance_square, "both w and h"),
            (iou_tolerance_rounded, "grow: the largest integer g: round down"),
            (lambda w, h: (iou_tolerance(w, h)[0], (w - 1) // 3), "shift: a box with IoU exactly 0.5 still counts"),
            (lambda w, h: (iou_tolerance(w, h)[0], w // 2), "not by the true box's area"),
            (lambda w, h: (iou_tolerance(w, h)[0], h // 3), "along its width"),
            (lambda w, h: (iou_tolerance(w, h)[0], round(w / 3)), "shift: the largest integer d: round down"),
            (lambda w, h: iou_tolerance(w, h)[::-1], "the order is (grow, shift)"),
            (lambda w, h: [v + 0.5 for v in iou_tolerance(w, h)], "whole number"),
            (lambda w, h: iou_tolerance(w, h)[0], "return two ints"),
            (lambda w, h: (int(explain.box_iou(torch.tensor([0, 0, w, h]), torch.tensor([0, 0, w, h])).item()),
                           w // 3), "called explain.box_iou"),
        ],
        mutations={"rearranged": "the order is (grow, shift)"},
    ),
    check.grad_cam_max_pooled: Catalogue(
        reference=grad_cam_max_pooled,
        right=[grad_cam_max_pooled_from_the_gradient,
               lambda f, w, c: explain.class_activation_map(f, w, c).relu() / (f.shape[2] * f.shape[3])],
        wrong=[
            (lambda f, w, c: grad_cam_max_pooled(f, w, c) * f.shape[2] * f.shape[3], "divided by Z"),
            (lambda f, w, c: torch.einsum(
                "bk,bkhw->bhw", w[c], f * (f == f.amax(dim=(2, 3), keepdim=True))).relu(), "position by position"),
            (lambda f, w, c: torch.einsum("bk,bkhw->bhw", w[c], f) / (f.shape[2] * f.shape[3]), "(ReLU)"),
            (lambda f, w, c: (w[c][:, :, None, None] / (f.shape[2] * f.shape[3]) * f).relu().sum(1),
             "after the sum over channels"),
            (lambda f, w, c: torch.einsum("k,bkhw->bhw", w[c[0]], f).relu() / (f.shape[2] * f.shape[3]),
             "first sample's class"),
            (lambda f, w, c: ((w[c] * f.amax(dim=(2, 3))).sum(1).relu()[:, None, None] / (f.shape[2] * f.shape[3]))
             .expand(f.shape[0], f.shape[2], f.shape[3]), "each channel's maximum"),
            (grad_cam_max_pooled_by_autograd, "this exercise is by hand"),
            (lambda f, w, c: grad_cam_max_pooled(f.float(), w.float(), c), "close, but not exact"),
        ],
    ),
    check.conv_receptive_field: Catalogue(
        reference=conv_receptive_field,
        right=[conv_receptive_field_by_product, conv_receptive_field_backwards],
        wrong=[
            (lambda layers: (1 + sum(k - 1 for k, _ in layers), math.prod(s for _, s in layers)),
             "multiply by the jump so far"),
            (lambda layers: (1 + sum((k - 1) * math.prod(s for _, s in layers[: i + 1])
                                     for i, (k, _) in enumerate(layers)), math.prod(s for _, s in layers)),
             "before this layer's stride"),
            (lambda layers: (sum(k for k, _ in layers), math.prod(s for _, s in layers)), "not k"),
            (lambda layers: (math.prod(k for k, _ in layers), math.prod(s for _, s in layers)),
             "does not multiply it"),
            (lambda layers: (conv_receptive_field(layers)[0] - 1, conv_receptive_field(layers)[1]), "start from 1"),
            (lambda layers: (conv_receptive_field(layers)[0], sum(s for _, s in layers)), "strides multiply"),
            (lambda layers: conv_receptive_field(layers)[::-1], "the order is (size, jump)"),
            (lambda layers: float(conv_receptive_field(layers)[0]), "return two ints"),
        ],
        mutations={"rearranged": "the order is (size, jump)"},
    ),
}


# --------------------------------------------------------------------------------------- the rules, directly
def test_iou_tolerance_forbids_measuring_boxes_however_imported():
    from mlbits_lite.explain import box_iou as measure

    def by_search(width, height):
        true = torch.tensor([0, 0, width, height])
        grow = 0
        while measure(true, torch.tensor([-grow - 1, -grow - 1, width + grow + 1, height + grow + 1])) >= 0.5:
            grow += 1
        return grow, width // 3

    result = check.iou_tolerance(by_search)
    assert not result and "explain.box_iou" in result.message


def test_grad_cam_max_pooled_runs_the_learner_without_autograd():
    result = check.grad_cam_max_pooled(grad_cam_max_pooled_by_autograd)
    assert not result and "by hand" in result.message


def test_the_chapter_network_is_among_the_hidden_stacks():
    # the exercise asks the learner to compare with the chapter's measured field: GapCNN's 32 pixels, jump 4
    layers = [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2), (3, 1), (3, 1)]
    assert conv_receptive_field(layers) == (32, 4)
    assert check.conv_receptive_field(conv_receptive_field)
