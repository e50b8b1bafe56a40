"""Chapter 6's self-checks: the catalogue of answers (run by test_check_contract.py)."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from catalogue import Catalogue
from mlbits_lite import check, losses


# --------------------------------------------------------------------------------------- reference solutions
def cutmix_box(height, width, lam, cy, cx):
    cut_h, cut_w = int(height * math.sqrt(1 - lam)), int(width * math.sqrt(1 - lam))
    y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)
    x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
    return y0, y1, x0, x1


def mix_with_box(x_a, x_b, box):
    y0, y1, x0, x1 = box
    mixed = x_a.clone()
    mixed[:, :, y0:y1, x0:x1] = x_b[:, :, y0:y1, x0:x1]
    return mixed, 1 - (y1 - y0) * (x1 - x0) / (x_a.shape[2] * x_a.shape[3])


def mixed_loss(logits, labels_a, labels_b, lam):
    return lam * F.cross_entropy(logits, labels_a) + (1 - lam) * F.cross_entropy(logits, labels_b)


def smoothed_mixed_targets(labels_a, labels_b, lam, num_classes, epsilon):
    mixed = lam * F.one_hot(labels_a, num_classes) + (1 - lam) * F.one_hot(labels_b, num_classes)
    return (1 - epsilon) * mixed.double() + epsilon / num_classes


# --------------------------------------------------------------------------------------- other right answers
def cutmix_box_by_numpy(height, width, lam, cy, cx):
    cut = (np.array([height, width]) * np.sqrt(1 - lam)).astype(int)  # int() rounds down, so does astype
    y0, x0 = np.clip(np.array([cy, cx]) - cut // 2, 0, None)
    y1, x1 = np.clip(np.array([cy, cx]) + cut // 2, None, [height, width])
    return np.array([y0, y1, x0, x1])  # NumPy integers, in an array


def mix_by_mask(x_a, x_b, box):
    y0, y1, x0, x1 = box
    inside = torch.zeros(x_a.shape[-2:], dtype=torch.bool)
    inside[y0:y1, x0:x1] = True
    mixed = torch.where(inside, x_b, x_a)
    return mixed, (mixed == x_a).float().mean()  # the review's case: a float32 share, close but not exact


def loss_by_soft_targets(logits, labels_a, labels_b, lam):
    k = logits.shape[1]
    targets = lam * F.one_hot(labels_a, k) + (1 - lam) * F.one_hot(labels_b, k)
    return -(targets * logits.log_softmax(1)).sum(1).mean()


def smooth_then_mix(labels_a, labels_b, lam, num_classes, epsilon):
    smooth = lambda y: losses.smooth_one_hot(y, num_classes, epsilon, dtype=torch.float64)  # noqa: E731
    return lam * smooth(labels_a) + (1 - lam) * smooth(labels_b)


# --------------------------------------------------------------------------------------- wrong answers
def _box(height, width, lam, cy, cx, side=lambda lam: math.sqrt(1 - lam), clip=True, to_int=int):
    cut_h, cut_w = to_int(height * side(lam)), to_int(width * side(lam))
    y0, y1, x0, x1 = cy - cut_h // 2, cy + cut_h // 2, cx - cut_w // 2, cx + cut_w // 2
    if clip:
        y0, y1, x0, x1 = max(y0, 0), min(y1, height), max(x0, 0), min(x1, width)
    return y0, y1, x0, x1


def _full_side(height, width, lam, cy, cx):
    cut_h, cut_w = int(height * math.sqrt(1 - lam)), int(width * math.sqrt(1 - lam))
    y0, x0 = cy - cut_h // 2, cx - cut_w // 2
    return max(y0, 0), min(y0 + cut_h, height), max(x0, 0), min(x0 + cut_w, width)


def _in_place(x_a, x_b, box):
    y0, y1, x0, x1 = box
    x_a[:, :, y0:y1, x0:x1] = x_b[:, :, y0:y1, x0:x1]
    return x_a, 1 - (y1 - y0) * (x1 - x0) / (x_a.shape[2] * x_a.shape[3])


def _inclusive_ends(x_a, x_b, box):
    y0, y1, x0, x1 = box
    return mix_with_box(x_a, x_b, (y0, y1 + 1, x0, x1 + 1))[0], mix_with_box(x_a, x_b, box)[1]


def _transposed(x_a, x_b, box):
    y0, y1, x0, x1 = box
    mixed = x_a.clone()
    mixed[:, :, x0:x1, y0:y1] = x_b[:, :, x0:x1, y0:y1]
    return mixed, mix_with_box(x_a, x_b, box)[1]


def _first_patch_for_all(x_a, x_b, box):
    y0, y1, x0, x1 = box
    mixed = x_a.clone()
    mixed[:, :, y0:y1, x0:x1] = x_b[0, :, y0:y1, x0:x1]
    return mixed, mix_with_box(x_a, x_b, box)[1]


def _lam_over_height_squared(x_a, x_b, box):
    y0, y1, x0, x1 = box
    return mix_with_box(x_a, x_b, box)[0], 1 - (y1 - y0) * (x1 - x0) / x_a.shape[2] ** 2


def _smoothed_twice(labels_a, labels_b, lam, num_classes, epsilon):
    once = smoothed_mixed_targets(labels_a, labels_b, lam, num_classes, epsilon)
    return (1 - epsilon) * once + epsilon / num_classes


def _over_k_minus_one(labels_a, labels_b, lam, num_classes, epsilon):
    mixed = smoothed_mixed_targets(labels_a, labels_b, lam, num_classes, 0.0)
    return (1 - epsilon) * mixed + epsilon / (num_classes - 1) * (1 - mixed)


def _smooth_only_a(labels_a, labels_b, lam, num_classes, epsilon):
    one = lambda y: F.one_hot(y, num_classes).double()  # noqa: E731
    return lam * ((1 - epsilon) * one(labels_a) + epsilon / num_classes) + (1 - lam) * one(labels_b)


def _probabilities_mixed_in_the_log(logits, labels_a, labels_b, lam):
    p = logits.softmax(1)
    return -torch.log(lam * p.gather(1, labels_a[:, None]) + (1 - lam) * p.gather(1, labels_b[:, None])).mean()


CATALOGUE = {
    check.cutmix_box: Catalogue(
        reference=cutmix_box,
        right=[cutmix_box_by_numpy, lambda *a: torch.tensor(cutmix_box(*a)), lambda *a: list(cutmix_box(*a))],
        wrong=[
            (lambda h, w, lam, cy, cx: cutmix_box(w, h, lam, cy, cx), "height and width are swapped"),
            (lambda *a: _box(*a, clip=False), "not clipped"),
            (lambda *a: _box(*a, side=lambda lam: 1 - lam), "(1 - lam)"),
            (lambda h, w, lam, cy, cx: cutmix_box(h, w, 1 - lam, cy, cx), "not lam"),
            (lambda *a: _box(*a, to_int=round), "round the sides down"),
            (_full_side, "side // 2 from the centre"),
            (lambda *a: (lambda b: (b[2], b[3], b[0], b[1]))(cutmix_box(*a)), "rows first"),
            (lambda *a: (lambda b: (b[0], b[2], b[1], b[3]))(cutmix_box(*a)), "the order is"),
            (lambda h, w, lam, cy, cx: (cy - 2, cy + 2, cx + 3, cx - 3), "outside the image or has"),
            (lambda *a: cutmix_box(*a)[:3], "four ints"),
            (lambda *a: "box", "four ints"),
            (lambda *a: tuple(v + 0.5 for v in cutmix_box(*a)), "whole number"),
            (lambda *a: 1 / 0, "ZeroDivisionError"),
        ],
        mutations={"rearranged": "y1 < y0", "negated": "outside the image", "times_two": "outside the image"},
    ),
    check.mix_with_box: Catalogue(
        reference=mix_with_box,
        right=[mix_by_mask, lambda x_a, x_b, box: (mix_with_box(x_a, x_b, box)[0],
                                                   torch.tensor(mix_with_box(x_a, x_b, box)[1]))],
        wrong=[
            (_in_place, "in place"),
            (lambda x_a, x_b, box: mix_with_box(x_b, x_a, box), "roles are reversed"),
            (_inclusive_ends, "exclusive"),
            (_transposed, "rows and columns are exchanged"),
            (_first_patch_for_all, "first image of x_b"),
            (lambda x_a, x_b, box: (mix_with_box(x_a, x_b, box)[0], 1 - mix_with_box(x_a, x_b, box)[1]),
             "share of x_b"),
            (_lam_over_height_squared, "one side squared"),
            (lambda x_a, x_b, box: (mix_with_box(x_a, x_b, box)[0], 0.5), "share of pixels"),
            (lambda x_a, x_b, box: mix_with_box(x_a, x_b, box)[0], "pair"),
            (lambda x_a, x_b, box: (mix_with_box(x_a, x_b, box)[0], "lam"), "lam should be a number"),
        ],
    ),
    check.mixed_loss: Catalogue(
        reference=mixed_loss,
        right=[loss_by_soft_targets, lambda *a: float(mixed_loss(*a))],
        wrong=[
            (lambda logits, a, b, lam: mixed_loss(logits, a, b, 1 - lam), "weights are swapped"),
            (lambda logits, a, b, lam: mixed_loss(logits, a, b, lam) * logits.shape[0], "not the sum"),
            (lambda logits, a, b, lam: F.cross_entropy(logits, a), "labels_b"),
            (lambda logits, a, b, lam: lam * (F.cross_entropy(logits, a) + F.cross_entropy(logits, b)), "not by lam"),
            (lambda logits, a, b, lam: (F.cross_entropy(logits, a) + F.cross_entropy(logits, b)) / 2, "not equally"),
            (_probabilities_mixed_in_the_log, "inside the log"),
            (lambda logits, a, b, lam: -mixed_loss(logits, a, b, lam), "sign"),
            (lambda logits, a, b, lam: 2.0 * mixed_loss(logits, a, b, lam), "differs"),  # never "a constant factor"
        ],
    ),
    check.smoothed_mixed_targets: Catalogue(
        reference=smoothed_mixed_targets,
        right=[smooth_then_mix],
        wrong=[
            (_smoothed_twice, "smoothed twice"),
            (lambda a, b, lam, k, eps: smoothed_mixed_targets(a, b, lam, k, 0.0), "without smoothing"),
            (_over_k_minus_one, "K - 1"),
            (lambda a, b, lam, k, eps: smoothed_mixed_targets(a, b, 1 - lam, k, eps), "weights are swapped"),
            (_smooth_only_a, "not only labels_a's"),
            (lambda a, b, lam, k, eps: (smoothed_mixed_targets(a, b, lam, k, 0.0) + eps / k) / (1 + eps),
             "renormalising"),
            (lambda a, b, lam, k, eps: smoothed_mixed_targets(a, b, lam, k, eps)[:, :-1], "shape"),
        ],
    ),
}
