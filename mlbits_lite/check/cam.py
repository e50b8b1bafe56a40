"""Self-checks for chapter 5: class activation maps and Grad-CAM."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..explain import box_iou as _box_iou
from ..explain import cam_to_box as _cam_to_box
from ._framework import CheckResult, _hidden_generator, _run

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
        }
        cases.append(((features, weight, classes), want, wrong))
    return _run("cam_by_einsum", learner, cases)


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
        }
        cases.append(((activations, gradients), want, wrong))
    return _run("grad_cam_from_gradients", learner, cases)


def box_iou(learner: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: intersection over union of paired boxes (x0, y0, x1, y1) with exclusive ends.

    Args:
        learner: `f(a, b)` for (N, 4) float tensors of boxes; returns the (N,) IoU of a[i] and b[i].
    """
    g = _hidden_generator("box_iou")
    fixed_a = torch.tensor([[2, 2, 10, 8], [0, 0, 4, 4], [3, 1, 9, 7], [1, 1, 5, 5], [0, 0, 6, 6]])
    fixed_b = torch.tensor([[2, 2, 10, 8], [6, 7, 9, 12], [5, 0, 12, 4], [2, 2, 4, 4], [4, 0, 10, 6]])
    # identical; apart in both directions; overlapping; nested; side by side with a strip in common
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
        wrong = {
            "x1 and y1 are exclusive here: a box covers (x1 - x0) * (y1 - y0) pixels, no + 1":
                inter_plus / (area_a_plus + area_b_plus - inter_plus),
            "boxes that do not overlap must have intersection 0: clamp the overlap's width and height at 0":
                unclamped / (area_a + area_b - unclamped),
            "the union counts the overlap twice: subtract the intersection": inter / (area_a + area_b),
            "you divided by the area of one box, not by the union": inter / area_a,
        }
        cases.append(((a, b), want, wrong))
    return _run("box_iou", learner, cases)


def _gaussian_blob(height: int, width: int, centre: tuple[float, float], spread: float) -> torch.Tensor:
    """exp(-d^2 / (2 spread^2)) around centre = (x, y), on a (height, width) grid."""
    ys = torch.arange(height, dtype=torch.float64)[:, None]
    xs = torch.arange(width, dtype=torch.float64)[None, :]
    return torch.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * spread**2))


def _box_of(mask: torch.Tensor) -> list[int]:
    ys, xs = mask.nonzero(as_tuple=True)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def _largest_box(mask: torch.Tensor) -> list[int]:
    """The box of the largest 8-connected region of a (H, W) bool mask."""
    from scipy import ndimage

    labels, _ = ndimage.label(mask.numpy(), structure=np.ones((3, 3)))
    largest = 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    return _box_of(torch.from_numpy(labels == largest))


def cam_to_box(learner: Callable[[torch.Tensor, float], object]) -> CheckResult:
    """Exercise: from a map to a box (threshold at a fraction of the maximum, largest connected region, its box).

    Args:
        learner: `f(cam, threshold)` for a (H, W) float map and a fraction in [0, 1]; returns the box
            (x0, y0, x1, y1) with exclusive ends, as a tensor or a sequence of four ints.
    """
    exercise = "cam_to_box"
    if not callable(learner):
        raise TypeError(f"{exercise}: expected your function as the argument, got {type(learner).__name__}")
    g = _hidden_generator(exercise)
    cases = []
    for i, (height, width, threshold) in enumerate(((24, 32, 0.2), (30, 20, 0.5), (28, 28, 0.35), (16, 24, 0.2))):
        scale = 0.5 + 4 * torch.rand((), generator=g, dtype=torch.float64).item()  # the maximum is not 1
        big = _gaussian_blob(height, width, (0.3 * width, 0.6 * height), 3.5)
        cam = scale * big
        if i % 2 == 0:  # a second, smaller but hotter blob far away: the largest region is not the hottest
            cam = cam + 1.3 * scale * _gaussian_blob(height, width, (0.8 * width, 0.15 * height), 1.2)
        cam = cam - 0.05 * scale  # a little negative evidence in the far background
        cases.append((cam, threshold))

    def all_pixels(cam: torch.Tensor, threshold: float) -> list[int]:
        return _box_of(cam >= threshold * cam.max())

    def hottest_region(cam: torch.Tensor, threshold: float) -> list[int]:
        from scipy import ndimage

        labels, _ = ndimage.label((cam >= threshold * cam.max()).numpy())
        peak = divmod(int(cam.argmax()), cam.shape[1])
        return _box_of(torch.from_numpy(labels == labels[peak]))

    for number, (cam, threshold) in enumerate(cases, start=1):
        want = _cam_to_box(cam, threshold).tolist()
        x0, y0, x1, y1 = want
        wrong = {
            "x1 and y1 are exclusive: add 1 to the last column and row": [x0, y0, x1 - 1, y1 - 1],
            "x and y are swapped: boxes are (x0, y0, x1, y1) with x the column": [y0, x0, y1, x1],
            "you kept every pixel above the threshold: keep only the largest connected region":
                all_pixels(cam, threshold),
            "you kept the region around the hottest pixel: keep the largest region": hottest_region(cam, threshold),
            "the threshold is a fraction of the map's maximum, not an absolute value":
                _largest_box(cam >= threshold) if (cam >= threshold).any() else None,
        }
        try:
            got = learner(cam.clone(), threshold)
        except NotImplementedError:
            return CheckResult(exercise, False, "not attempted yet: replace `raise NotImplementedError` with your code",
                               attempted=False)
        except Exception as exc:  # the learner's bug, reported as a hint rather than a crash
            return CheckResult(exercise, False, f"case {number} of {len(cases)}: your function raised "
                                                f"{type(exc).__name__}: {exc}")
        try:
            box = [float(v) for v in torch.as_tensor(got).reshape(-1).tolist()]
        except (TypeError, ValueError, RuntimeError):
            return CheckResult(exercise, False, f"case {number} of {len(cases)}: return four numbers "
                                                f"(x0, y0, x1, y1), got a {type(got).__name__}")
        if len(box) != 4:
            return CheckResult(exercise, False, f"case {number} of {len(cases)}: return four numbers "
                                                f"(x0, y0, x1, y1), got {len(box)}")
        if box == [float(v) for v in want]:
            continue
        hint = next((h for h, w in wrong.items() if w is not None and box == [float(v) for v in w]),
                    "the box differs from the reference on a hidden map")
        return CheckResult(exercise, False, f"case {number} of {len(cases)}: {hint}")
    return CheckResult(exercise, True, f"pass ({len(cases)} hidden cases)")
