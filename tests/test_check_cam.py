"""Chapter 5 self-checks: a right answer passes, each typical mistake gets its hint, no hint leaks the answer."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from scipy import ndimage

from mlbits_lite import check


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d+\.\d+", text)


# --------------------------------------------------------------------------------------- reference solutions
def cam_by_einsum(features, fc_weight, class_idx):
    return torch.einsum("bk,bkhw->bhw", fc_weight[class_idx], features)


def grad_cam_from_gradients(activations, gradients):
    alpha = gradients.mean(dim=(2, 3), keepdim=True)
    return torch.relu((alpha * activations).sum(dim=1))


def box_iou(a, b):
    width = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    height = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a + area_b - inter)


def cam_to_box(cam, threshold):
    labels, _ = ndimage.label((cam >= threshold * cam.max()).numpy(), structure=np.ones((3, 3)))
    ys, xs = np.nonzero(labels == 1 + np.bincount(labels.ravel())[1:].argmax())
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


CASES = [
    (check.cam_by_einsum, cam_by_einsum),
    (check.grad_cam_from_gradients, grad_cam_from_gradients),
    (check.box_iou, box_iou),
    (check.cam_to_box, cam_to_box),
]
IDS = ["cam_by_einsum", "grad_cam_from_gradients", "box_iou", "cam_to_box"]


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda f, w, c: cam_by_einsum(f, w, c) / (f.shape[2] * f.shape[3]), "number of positions"),
        (lambda f, w, c: cam_by_einsum(f, w, c).relu(), "negative evidence"),
        (lambda f, w, c: torch.einsum("k,bkhw->bhw", w[c[0]], f), "first sample's class"),
        (lambda f, w, c: torch.einsum("k,bkhw->bhw", w.sum(0), f), "all classes"),
        (lambda f, w, c: f.mean(1), "averaged the feature maps over channels"),
        (lambda f, w, c: -cam_by_einsum(f, w, c), "sign"),
        (lambda f, w, c: cam_by_einsum(f, w, c).transpose(1, 2), "shape"),
        (lambda f, w, c: cam_by_einsum(f, w, c).numpy(), "torch.Tensor"),
    ],
)
def test_cam_by_einsum_mistakes_get_their_hint(wrong, hint):
    result = check.cam_by_einsum(wrong)
    assert not result and hint in result.message, result.message


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda a, g: (g.mean((2, 3), keepdim=True) * a).sum(1), "ReLU"),
        (lambda a, g: (g * a).sum(1).relu(), "position by position"),
        (lambda a, g: (g.sum((2, 3), keepdim=True) * a).sum(1).relu(), "not their sum"),
        (lambda a, g: (g.mean(1, keepdim=True) * a).sum(1).relu(), "over channels instead"),
        (lambda a, g: (g.mean((2, 3), keepdim=True) * a).relu().sum(1), "after the sum over channels"),
    ],
)
def test_grad_cam_mistakes_get_their_hint(wrong, hint):
    result = check.grad_cam_from_gradients(wrong)
    assert not result and hint in result.message, result.message


def _area(r, plus=0):
    return (r[:, 2] - r[:, 0] + plus) * (r[:, 3] - r[:, 1] + plus)


def _iou_inclusive(a, b):
    w = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0]) + 1).clamp(min=0)
    h = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1]) + 1).clamp(min=0)
    return w * h / (_area(a, 1) + _area(b, 1) - w * h)


def _iou_unclamped(a, b):
    inter = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])) * \
        (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1]))
    return inter / (_area(a) + _area(b) - inter)


def _intersection(a, b):
    return box_iou(a, b) * (_area(a) + _area(b)) / (1 + box_iou(a, b))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_iou_inclusive, "exclusive"),
        (_iou_unclamped, "clamp"),
        (lambda a, b: _intersection(a, b) / (_area(a) + _area(b)), "counts the overlap twice"),
        (lambda a, b: _intersection(a, b) / _area(a), "area of one box"),
        (lambda a, b: box_iou(a, b)[:-1], "shape"),
    ],
)
def test_box_iou_mistakes_get_their_hint(wrong, hint):
    result = check.box_iou(wrong)
    assert not result and hint in result.message, result.message


def _mask_box(mask):
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def _box_from(mask):
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    return _mask_box(labels == 1 + np.bincount(labels.ravel())[1:].argmax())


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda cam, t: [v - (i >= 2) for i, v in enumerate(cam_to_box(cam, t))], "exclusive"),
        (lambda cam, t: [cam_to_box(cam, t)[i] for i in (1, 0, 3, 2)], "swapped"),
        (lambda cam, t: _mask_box((cam >= t * cam.max()).numpy()), "every pixel above the threshold"),
        (lambda cam, t: _box_from((cam >= t).numpy()), "fraction of the map's maximum"),
        (lambda cam, t: [0, 0, cam.shape[1], cam.shape[0]], "differs from the reference"),
        (lambda cam, t: cam_to_box(cam, t)[:3], "four numbers"),
        (lambda cam, t: "box", "four numbers"),
    ],
)
def test_cam_to_box_mistakes_get_their_hint(wrong, hint):
    result = check.cam_to_box(wrong)
    assert not result and hint in result.message, result.message


def test_cam_to_box_names_the_hottest_region_mistake():
    def hottest(cam, threshold):
        labels, _ = ndimage.label((cam >= threshold * cam.max()).numpy(), structure=np.ones((3, 3)))
        row, col = divmod(int(cam.argmax()), cam.shape[1])
        return _mask_box(labels == labels[row, col])

    result = check.cam_to_box(hottest)
    assert not result and "hottest pixel" in result.message, result.message


def test_cam_to_box_accepts_tensors_and_four_connectivity():
    # the hidden maps are round blobs: 4- and 8-connected regions agree, so scipy's default works too
    def four_connected(cam, threshold):
        labels, _ = ndimage.label((cam >= threshold * cam.max()).numpy())
        return torch.tensor(_mask_box(labels == 1 + np.bincount(labels.ravel())[1:].argmax()))

    assert check.cam_to_box(four_connected)


def test_no_message_contains_a_number_from_the_reference():
    # hints name the kind of mistake, never values: no decimals in any message
    for run_check, solution in CASES[:3]:
        for wrong in (lambda *a, s=solution: 1.5 * s(*a), lambda *a, s=solution: s(*a) + 0.25):
            assert _numbers(run_check(wrong).message) == []
    for wrong in (lambda cam, t: [v + 1 for v in cam_to_box(cam, t)], lambda cam, t: [0.5, 0.5, 3.5, 3.5]):
        message = check.cam_to_box(wrong).message
        assert _numbers(message) == [] and "differs" in message


def test_hidden_cases_are_deterministic():
    def off(f, w, c):
        return 1.1 * cam_by_einsum(f, w, c)

    assert check.cam_by_einsum(off).message == check.cam_by_einsum(off).message
    assert check.cam_to_box(lambda cam, t: [1, 2, 3, 4]).message == \
        check.cam_to_box(lambda cam, t: [1, 2, 3, 4]).message
