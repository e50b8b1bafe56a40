"""Chapter 6 self-checks: right answers pass, typical mistakes get their hint, no hint leaks a number."""
from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F

from mlbits_lite import check


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d+\.\d+", text)


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


CASES = [
    (check.cutmix_box, cutmix_box),
    (check.mix_with_box, mix_with_box),
    (check.mixed_loss, mixed_loss),
    (check.smoothed_mixed_targets, smoothed_mixed_targets),
]


def test_equivalent_right_answers_pass():
    # a soft-target cross-entropy is the same loss; mixing after smoothing is the same targets
    def loss_by_soft_targets(logits, labels_a, labels_b, lam):
        k = logits.shape[1]
        targets = lam * F.one_hot(labels_a, k) + (1 - lam) * F.one_hot(labels_b, k)
        return -(targets * logits.log_softmax(1)).sum(1).mean()

    def smooth_then_mix(labels_a, labels_b, lam, num_classes, epsilon):
        smooth = lambda y: (1 - epsilon) * F.one_hot(y, num_classes).double() + epsilon / num_classes  # noqa: E731
        return lam * smooth(labels_a) + (1 - lam) * smooth(labels_b)

    assert check.mixed_loss(loss_by_soft_targets)
    assert check.smoothed_mixed_targets(smooth_then_mix)
    assert check.cutmix_box(lambda *a: torch.tensor(cutmix_box(*a)))  # a tensor of four ints is fine


# --------------------------------------------------------------------------------------- cutmix_box mistakes
def swapped_hw(height, width, lam, cy, cx):  # the official code's names: W = size[2], H = size[3]
    return cutmix_box(width, height, lam, cy, cx)


def unclipped(height, width, lam, cy, cx):
    cut_h, cut_w = int(height * math.sqrt(1 - lam)), int(width * math.sqrt(1 - lam))
    return cy - cut_h // 2, cy + cut_h // 2, cx - cut_w // 2, cx + cut_w // 2


def linear_side(height, width, lam, cy, cx):
    cut_h, cut_w = int(height * (1 - lam)), int(width * (1 - lam))
    return max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height), max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)


def rounded_side(height, width, lam, cy, cx):
    cut_h, cut_w = round(height * math.sqrt(1 - lam)), round(width * math.sqrt(1 - lam))
    return max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height), max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)


@pytest.mark.parametrize("wrong, hint", [
    (swapped_hw, "height and width are swapped"),
    (unclipped, "not clipped"),
    (linear_side, "(1 - lam)"),
    (lambda h, w, lam, cy, cx: cutmix_box(h, w, 1 - lam, cy, cx), "not lam"),
    (rounded_side, "round the sides down"),
    (lambda *a: (lambda b: (b[2], b[3], b[0], b[1]))(cutmix_box(*a)), "rows first"),
    (lambda *a: (lambda b: (b[0], b[2], b[1], b[3]))(cutmix_box(*a)), "the order is"),
    (lambda *a: cutmix_box(*a)[:3], "four ints"),
    (lambda *a: "box", "four ints"),
    (lambda *a: tuple(v + 0.5 for v in cutmix_box(*a)), "four ints"),
    (lambda *a: 1 / 0, "ZeroDivisionError"),
])
def test_cutmix_box_mistakes_get_their_hint(wrong, hint):
    result = check.cutmix_box(wrong)
    assert not result and hint in result.message, result.message


# --------------------------------------------------------------------------------------- mix_with_box mistakes
def in_place(x_a, x_b, box):
    y0, y1, x0, x1 = box
    x_a[:, :, y0:y1, x0:x1] = x_b[:, :, y0:y1, x0:x1]
    return x_a, 1 - (y1 - y0) * (x1 - x0) / (x_a.shape[2] * x_a.shape[3])


def reversed_roles(x_a, x_b, box):
    return mix_with_box(x_b, x_a, box)


def inclusive_ends(x_a, x_b, box):
    y0, y1, x0, x1 = box
    return mix_with_box(x_a, x_b, (y0, y1 + 1, x0, x1 + 1))[0], mix_with_box(x_a, x_b, box)[1]


def transposed(x_a, x_b, box):
    y0, y1, x0, x1 = box
    mixed = x_a.clone()
    mixed[:, :, x0:x1, y0:y1] = x_b[:, :, x0:x1, y0:y1]
    return mixed, mix_with_box(x_a, x_b, box)[1]


def lam_of_b(x_a, x_b, box):
    mixed, lam = mix_with_box(x_a, x_b, box)
    return mixed, 1 - lam


@pytest.mark.parametrize("wrong, hint", [
    (in_place, "in place"),
    (reversed_roles, "roles are reversed"),
    (inclusive_ends, "exclusive"),
    (transposed, "rows and columns are exchanged"),
    (lam_of_b, "share of x_b"),
    (lambda x_a, x_b, box: (mix_with_box(x_a, x_b, box)[0], 0.5), "share of pixels"),
    (lambda x_a, x_b, box: mix_with_box(x_a, x_b, box)[0], "pair"),
])
def test_mix_with_box_mistakes_get_their_hint(wrong, hint):
    result = check.mix_with_box(wrong)
    assert not result and hint in result.message, result.message


# --------------------------------------------------------------------------------------- loss and targets mistakes
@pytest.mark.parametrize("wrong, hint", [
    (lambda logits, a, b, lam: mixed_loss(logits, a, b, 1 - lam), "weights are swapped"),
    (lambda logits, a, b, lam: mixed_loss(logits, a, b, lam) * logits.shape[0], "not the sum"),
    (lambda logits, a, b, lam: F.cross_entropy(logits, a), "labels_b"),
    (lambda logits, a, b, lam: -mixed_loss(logits, a, b, lam), "sign"),
])
def test_mixed_loss_mistakes_get_their_hint(wrong, hint):
    result = check.mixed_loss(wrong)
    assert not result and hint in result.message, result.message


def smoothed_twice(labels_a, labels_b, lam, num_classes, epsilon):
    once = smoothed_mixed_targets(labels_a, labels_b, lam, num_classes, epsilon)
    return (1 - epsilon) * once + epsilon / num_classes


def over_k_minus_one(labels_a, labels_b, lam, num_classes, epsilon):
    mixed = smoothed_mixed_targets(labels_a, labels_b, lam, num_classes, 0.0)
    return (1 - epsilon) * mixed + epsilon / (num_classes - 1) * (1 - mixed)


@pytest.mark.parametrize("wrong, hint", [
    (smoothed_twice, "smoothed twice"),
    (lambda a, b, lam, k, eps: smoothed_mixed_targets(a, b, lam, k, 0.0), "without smoothing"),
    (over_k_minus_one, "K - 1"),
    (lambda a, b, lam, k, eps: smoothed_mixed_targets(a, b, 1 - lam, k, eps), "weights are swapped"),
    (lambda a, b, lam, k, eps: smoothed_mixed_targets(a, b, lam, k, eps)[:, :-1], "shape"),
])
def test_smoothed_mixed_targets_mistakes_get_their_hint(wrong, hint):
    result = check.smoothed_mixed_targets(wrong)
    assert not result and hint in result.message, result.message


# --------------------------------------------------------------------------------------- no leaks, determinism
def test_no_message_contains_a_number_from_the_reference():
    wrongs = [
        (check.cutmix_box, lambda *a: tuple(v + 1 for v in cutmix_box(*a))),
        (check.mix_with_box, lambda x_a, x_b, box: (1.5 * mix_with_box(x_a, x_b, box)[0], 0.25)),
        (check.mix_with_box, lambda x_a, x_b, box: (mix_with_box(x_a, x_b, box)[0], 0.25)),
        (check.mixed_loss, lambda *a: 1.5 * mixed_loss(*a)),
        (check.mixed_loss, lambda *a: mixed_loss(*a) + 0.25),
        (check.smoothed_mixed_targets, lambda *a: smoothed_mixed_targets(*a) + 0.25),
    ]
    for run_check, wrong in wrongs:
        result = run_check(wrong)
        assert not result and _numbers(result.message) == [], result.message


def test_hidden_cases_are_deterministic():
    wrong = lambda *a: tuple(v + 1 for v in cutmix_box(*a))  # noqa: E731
    assert check.cutmix_box(wrong).message == check.cutmix_box(wrong).message
