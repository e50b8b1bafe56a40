"""Self-checks for chapter 5: class activation maps and Grad-CAM."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..explain import box_iou as _box_iou
from ..explain import cam_to_box as _cam_to_box
from ._framework import Case, CheckResult, Ints, _hidden_generator, run

__all__ = ["cam_by_einsum", "grad_cam_from_gradients", "box_iou", "cam_to_box"]


def cam_by_einsum(learner: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: a class activation map by hand, M_c = sum_k w_k^c f_k, one class per sample.

    Args:
        learner: `f(features, fc_weight, class_idx)` with features (B, K, h, w), fc_weight (num_classes, K) and
            class_idx a (B,) int64 tensor; returns the (B, h, w) maps.
    """
    g = _hidden_generator("cam_by_einsum")
    cases = []
    for batch, channels, num_classes, h, w in ((3, 4, 5, 3, 4), (4, 6, 3, 5, 2), (2, 8, 10, 6, 6)):
        features = torch.randn(batch, channels, h, w, generator=g, dtype=torch.float64)
        weight = torch.randn(num_classes, channels, generator=g, dtype=torch.float64)
        classes = torch.randperm(num_classes, generator=g)[:batch] if batch <= num_classes else \
            torch.arange(batch) % num_classes  # different classes within the batch
        want = torch.einsum("bk,bkhw->bhw", weight[classes], features)  # M_c = sum_k w_k^c f_k
        wrong = {
            "you divided by the number of positions: that is Grad-CAM's scale; a CAM is the score before "
            "averaging": want / (h * w),
            "you applied a ReLU: a CAM keeps its negative evidence": want.relu(),
            "every sample got the first sample's class: index fc_weight with each sample's own class":
                torch.einsum("k,bkhw->bhw", weight[classes[0]], features),
            "you summed the weights of all classes; take the row of the one class c": torch.einsum(
                "k,bkhw->bhw", weight.sum(0), features),
            "you averaged the feature maps over channels instead of weighting them by w_k^c":
                features.mean(1),
            "you rescaled each map to [0, 1]: that is for looking at it; a CAM keeps its scale and sign":
                (want - want.amin((1, 2), keepdim=True)) / (want.amax((1, 2), keepdim=True)
                                                            - want.amin((1, 2), keepdim=True)),
        }
        cases.append(Case((features, weight, classes), want, wrong))
    return run("cam_by_einsum", learner, cases)


def grad_cam_from_gradients(learner: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: Grad-CAM from the activations A and the gradients dy^c/dA of one layer.

    Args:
        learner: `f(activations, gradients)`, both (B, K, h, w); returns the (B, h, w) maps
            ReLU(sum_k alpha_k A^k) with alpha_k the mean of the gradients of channel k over positions.
    """
    g = _hidden_generator("grad_cam_from_gradients")
    cases = []
    for batch, channels, h, w in ((2, 3, 4, 5), (3, 6, 3, 3), (1, 8, 7, 2)):
        activations = torch.randn(batch, channels, h, w, generator=g, dtype=torch.float64).relu()
        gradients = torch.randn(batch, channels, h, w, generator=g, dtype=torch.float64)
        alpha = gradients.mean(dim=(2, 3), keepdim=True)  # (B, K, 1, 1)
        want = (alpha * activations).sum(1).relu()
        wrong = {
            "the map has negative values: Grad-CAM keeps the positive part (ReLU) of the weighted sum":
                (alpha * activations).sum(1),
            "you multiplied gradients and activations position by position: average the gradients over the "
            "positions first (alpha_k)": (gradients * activations).sum(1).relu(),
            "alpha_k is the mean of the gradients over positions, not their sum": want * (h * w),
            "you averaged the gradients over channels instead of over positions":
                (gradients.mean(1, keepdim=True) * activations).sum(1).relu(),
            "the ReLU goes after the sum over channels, not on each channel": (alpha * activations).relu().sum(1),
            "you divided each map by its maximum: that is for looking at it; Grad-CAM keeps its scale":
                want / want.amax((1, 2), keepdim=True).clamp(min=1e-12),
        }
        cases.append(Case((activations, gradients), want, wrong))
    return run("grad_cam_from_gradients", learner, cases)


def box_iou(learner: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: intersection over union of paired boxes (x0, y0, x1, y1) with exclusive ends.

    Args:
        learner: `f(a, b)` for (N, 4) float tensors of boxes; returns the (N,) IoU of a[i] and b[i].
    """
    g = _hidden_generator("box_iou")
    fixed_a = torch.tensor([[2, 2, 10, 8], [0, 0, 4, 4], [3, 1, 9, 7], [1, 1, 5, 5], [0, 0, 6, 6], [0, 0, 4, 4]])
    fixed_b = torch.tensor([[2, 2, 10, 8], [6, 7, 9, 12], [5, 0, 12, 4], [2, 2, 4, 4], [4, 0, 10, 6], [6, 1, 9, 3]])
    # identical; apart in both directions; overlapping; nested; side by side with a strip in common; apart in x only
    corners = torch.randint(0, 20, (12, 4), generator=g)
    random_boxes = torch.cat([torch.minimum(corners[:, :2], corners[:, 2:]),
                              torch.maximum(corners[:, :2], corners[:, 2:]) + 1], dim=1)  # (12, 4), non-empty
    cases = []
    for a, b in ((fixed_a, fixed_b), (random_boxes[:6], random_boxes[6:])):
        a, b = a.double(), b.double()
        want = _box_iou(a, b)
        width = torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])
        height = torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])
        area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
        area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        inter = width.clamp(min=0) * height.clamp(min=0)
        inter_plus = (width + 1).clamp(min=0) * (height + 1).clamp(min=0)
        area_a_plus = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
        area_b_plus = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
        unclamped = width * height
        enclosing = (torch.maximum(a[:, 2], b[:, 2]) - torch.minimum(a[:, 0], b[:, 0])) * (
            torch.maximum(a[:, 3], b[:, 3]) - torch.minimum(a[:, 1], b[:, 1]))
        wrong = {
            "x1 and y1 are exclusive here: a box covers (x1 - x0) * (y1 - y0) pixels, no + 1":
                inter_plus / (area_a_plus + area_b_plus - inter_plus),
            "boxes that do not overlap must have intersection 0: clamp the overlap's width and height at 0":
                unclamped / (area_a + area_b - unclamped),
            "the union counts the overlap twice: subtract the intersection": inter / (area_a + area_b),
            "you divided by the area of one box, not by the union": inter / area_a,
            "clamp the width and the height at 0 each, before multiplying: two negative sides give a positive "
            "product": unclamped.clamp(min=0) / (area_a + area_b - unclamped.clamp(min=0)),
            "the overlap runs from the larger start to the smaller end: you measured the box enclosing both":
                enclosing / (area_a + area_b - inter),
        }
        cases.append(Case((a, b), want, wrong))
    return run("box_iou", learner, cases)


def _gaussian_blob(height: int, width: int, centre: tuple[float, float], spread: float) -> torch.Tensor:
    """exp(-d^2 / (2 spread^2)) around centre = (x, y), on a (height, width) grid."""
    ys = torch.arange(height, dtype=torch.float64)[:, None]
    xs = torch.arange(width, dtype=torch.float64)[None, :]
    return torch.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * spread**2))


def _box_of(mask: torch.Tensor) -> list[int]:
    ys, xs = mask.nonzero(as_tuple=True)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def _largest_box(mask: torch.Tensor, connectivity: int = 8) -> list[int] | None:
    """The box of the largest connected region of a (H, W) bool mask (8- or 4-connected); None if it is empty."""
    from scipy import ndimage

    if not mask.any():
        return None
    structure = np.ones((3, 3)) if connectivity == 8 else None  # scipy's default connects 4 neighbours
    labels, _ = ndimage.label(mask.numpy(), structure=structure)
    largest = 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    return _box_of(torch.from_numpy(labels == largest))


def _hottest_region(cam: torch.Tensor, threshold: float) -> list[int]:
    from scipy import ndimage

    labels, _ = ndimage.label((cam >= threshold * cam.max()).numpy(), structure=np.ones((3, 3)))
    peak = divmod(int(cam.argmax()), cam.shape[1])
    return _box_of(torch.from_numpy(labels == labels[peak]))


def _diagonal_map() -> torch.Tensor:
    """Blocks that touch only at a corner: 8-connected they are the largest region, 4-connected they are not.

    Two 3×3 blocks meet diagonally in the top-left corner (18 pixels together), a 4×4 block (16 pixels) sits near the
    bottom-right corner, and one pixel exactly at the threshold extends the pair by a column. The maximum is 2.5.
    """
    cam = torch.full((12, 14), -0.1, dtype=torch.float64)
    cam[0:3, 0:3] = 2.25  # block A, touching the image's top and left edges
    cam[1, 1] = 2.5  # the hottest pixel
    cam[3:6, 3:6] = 2.0  # block B: meets A only at the corner (2, 2)-(3, 3)
    cam[4, 6] = 1.25  # exactly threshold · max for threshold 0.5: kept with >=, dropped with >
    cam[7:11, 9:13] = 1.75  # block C, near the bottom-right corner
    return cam


def cam_to_box(learner: Callable[[torch.Tensor, float], object]) -> CheckResult:
    """Exercise: from a map to a box (threshold at a fraction of the maximum, largest connected region, its box).

    Pixels with a value of at least `threshold` times the maximum count; diagonal neighbours are connected.

    Args:
        learner: `f(cam, threshold)` for a (H, W) float map and a fraction in [0, 1]; returns the box
            (x0, y0, x1, y1) with exclusive ends, as a tensor, an array or a sequence of four ints.
    """
    g = _hidden_generator("cam_to_box")
    maps = [(_diagonal_map(), 0.5)]
    for i, (height, width, threshold) in enumerate(((24, 32, 0.2), (30, 20, 0.5), (28, 28, 0.35), (16, 24, 0.2))):
        scale = 0.5 + 4 * torch.rand((), generator=g, dtype=torch.float64).item()  # the maximum is not 1
        cam = scale * _gaussian_blob(height, width, (0.3 * width, 0.6 * height), 3.5)
        if i % 2 == 0:  # a second, smaller but hotter blob far away: the largest region is not the hottest
            cam = cam + 1.3 * scale * _gaussian_blob(height, width, (0.8 * width, 0.15 * height), 1.2)
        if i == 3:  # the big blob cut by the image's left edge
            cam = scale * _gaussian_blob(height, width, (1.0, 0.6 * height), 3.5)
        cam = cam - 0.05 * scale  # a little negative evidence in the far background
        maps.append((cam, threshold))

    cases = []
    for cam, threshold in maps:
        want = _cam_to_box(cam, threshold).tolist()
        x0, y0, x1, y1 = want
        mask = cam >= threshold * cam.max()
        span = cam.max() - cam.min()
        wrong = {
            "x1 and y1 are exclusive: add 1 to the last column and row": [x0, y0, x1 - 1, y1 - 1],
            "x and y are swapped: boxes are (x0, y0, x1, y1) with x the column": [y0, x0, y1, x1],
            "the order is (x0, y0, x1, y1): both starts, then both ends": [x0, x1, y0, y1],
            "you kept every pixel above the threshold: keep only the largest connected region": _box_of(mask),
            "you kept the region around the hottest pixel: keep the largest region": _hottest_region(cam, threshold),
            "diagonal neighbours are connected too (8-connectivity; scipy's default connects only 4)":
                _largest_box(mask, connectivity=4),
            "the threshold is a fraction of the map's maximum, not an absolute value": _largest_box(cam >= threshold),
            "the threshold is a fraction of the maximum, not of the range from the minimum to the maximum":
                _largest_box((cam - cam.min()) >= threshold * span),
            "a pixel exactly at the threshold counts (>=, not >)": _largest_box(cam > threshold * cam.max()),
        }
        cases.append(Case((cam, threshold), want, wrong))
    return run("cam_to_box", learner, cases,
               answer=Ints(("x0", "y0", "x1", "y1"), differs="the box differs from the reference on a hidden map"))
