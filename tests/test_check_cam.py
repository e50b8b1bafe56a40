"""Chapter 5's self-checks: the catalogue of answers (run by test_check_contract.py), and boxes of any type."""
from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from catalogue import Catalogue
from mlbits_lite import check, explain


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
    return inter / (_area(a) + _area(b) - inter)


def cam_to_box(cam, threshold):
    return _box_from((cam >= threshold * cam.max()).numpy())


# --------------------------------------------------------------------------------------- helpers
def _area(r, plus=0):
    return (r[:, 2] - r[:, 0] + plus) * (r[:, 3] - r[:, 1] + plus)


def _mask_box(mask):
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def _box_from(mask, structure=np.ones((3, 3))):
    labels, _ = ndimage.label(mask, structure=structure)
    return _mask_box(labels == 1 + np.bincount(labels.ravel())[1:].argmax())


def _iou_inclusive(a, b):
    w = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0]) + 1).clamp(min=0)
    h = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1]) + 1).clamp(min=0)
    return w * h / (_area(a, 1) + _area(b, 1) - w * h)


def _overlap(a, b):
    return (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0]),
            torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1]))


def _iou_unclamped(a, b):
    w, h = _overlap(a, b)
    return w * h / (_area(a) + _area(b) - w * h)


def _iou_product_clamped(a, b):  # both sides negative: a positive "overlap"
    w, h = _overlap(a, b)
    inter = (w * h).clamp(min=0)
    return inter / (_area(a) + _area(b) - inter)


def _iou_of_the_enclosing_box(a, b):
    w = torch.maximum(a[:, 2], b[:, 2]) - torch.minimum(a[:, 0], b[:, 0])  # max of the ends minus min of the starts
    h = torch.maximum(a[:, 3], b[:, 3]) - torch.minimum(a[:, 1], b[:, 1])
    return w * h / (_area(a) + _area(b) - _intersection(a, b))


def _intersection(a, b):
    w, h = _overlap(a, b)
    return w.clamp(min=0) * h.clamp(min=0)


def _hottest(cam, threshold):
    labels, _ = ndimage.label((cam >= threshold * cam.max()).numpy(), structure=np.ones((3, 3)))
    row, col = divmod(int(cam.argmax()), cam.shape[1])
    return _mask_box(labels == labels[row, col])


def _cam_to_box_by_loops(cam, threshold):
    """Flood fill by hand, 8 neighbours, returning a tuple of Python ints."""
    keep = (cam >= threshold * cam.max()).tolist()
    height, width = len(keep), len(keep[0])
    seen, best = set(), []
    for start in ((r, c) for r in range(height) for c in range(width)):
        if not keep[start[0]][start[1]] or start in seen:
            continue
        region, stack = [], [start]
        seen.add(start)
        while stack:
            r, c = stack.pop()
            region.append((r, c))
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    n = (r + dr, c + dc)
                    if 0 <= n[0] < height and 0 <= n[1] < width and keep[n[0]][n[1]] and n not in seen:
                        seen.add(n)
                        stack.append(n)
        if len(region) > len(best):
            best = region
    rows, cols = [r for r, _ in best], [c for _, c in best]
    return min(cols), min(rows), max(cols) + 1, max(rows) + 1


CATALOGUE = {
    check.cam_by_einsum: Catalogue(
        reference=cam_by_einsum,
        right=[lambda f, w, c: explain.class_activation_map(f, w, c),
               lambda f, w, c: (w[c][:, :, None, None] * f).sum(1)],
        wrong=[
            (lambda f, w, c: cam_by_einsum(f, w, c) / (f.shape[2] * f.shape[3]), "number of positions"),
            (lambda f, w, c: cam_by_einsum(f, w, c).relu(), "negative evidence"),
            (lambda f, w, c: torch.einsum("k,bkhw->bhw", w[c[0]], f), "first sample's class"),
            (lambda f, w, c: torch.einsum("k,bkhw->bhw", w.sum(0), f), "all classes"),
            (lambda f, w, c: f.mean(1), "averaged the feature maps over channels"),
            (lambda f, w, c: (lambda m: (m - m.amin((1, 2), keepdim=True))
                              / (m.amax((1, 2), keepdim=True) - m.amin((1, 2), keepdim=True)))(cam_by_einsum(f, w, c)),
             "rescaled each map"),
            (lambda f, w, c: -cam_by_einsum(f, w, c), "sign"),
            (lambda f, w, c: cam_by_einsum(f, w, c).transpose(1, 2), "shape"),
            (lambda f, w, c: cam_by_einsum(f, w, c).numpy(), "torch.Tensor"),
        ],
    ),
    check.grad_cam_from_gradients: Catalogue(
        reference=grad_cam_from_gradients,
        right=[lambda a, g: torch.einsum("bk,bkhw->bhw", g.mean((2, 3)), a).clamp(min=0)],
        wrong=[
            (lambda a, g: (g.mean((2, 3), keepdim=True) * a).sum(1), "ReLU"),
            (lambda a, g: (g * a).sum(1).relu(), "position by position"),
            (lambda a, g: (g.sum((2, 3), keepdim=True) * a).sum(1).relu(), "not their sum"),
            (lambda a, g: (g.mean(1, keepdim=True) * a).sum(1).relu(), "over channels instead"),
            (lambda a, g: (g.mean((2, 3), keepdim=True) * a).relu().sum(1), "after the sum over channels"),
            (lambda a, g: (lambda m: m / m.amax((1, 2), keepdim=True).clamp(min=1e-12))(grad_cam_from_gradients(a, g)),
             "maximum"),
        ],
    ),
    check.box_iou: Catalogue(
        reference=box_iou,
        right=[explain.box_iou, lambda a, b: (lambda i: i / (_area(a) + _area(b) - i))(_intersection(a, b))],
        wrong=[
            (_iou_inclusive, "exclusive"),
            (_iou_unclamped, "clamp the overlap's width and height"),
            (_iou_product_clamped, "two negative sides"),  # boxes apart in both directions
            (lambda a, b: _intersection(a, b) / (_area(a) + _area(b)), "counts the overlap twice"),
            (lambda a, b: _intersection(a, b) / _area(a), "area of one box"),
            (_iou_of_the_enclosing_box, "enclosing both"),
            (lambda a, b: box_iou(a, b)[:-1], "shape"),
        ],
    ),
    check.cam_to_box: Catalogue(
        reference=cam_to_box,
        right=[lambda cam, t: explain.cam_to_box(cam, t), _cam_to_box_by_loops,
               lambda cam, t: np.array(cam_to_box(cam, t), dtype=np.float32)],  # whole numbers in a float array
        wrong=[
            (lambda cam, t: [v - (i >= 2) for i, v in enumerate(cam_to_box(cam, t))], "exclusive"),
            (lambda cam, t: [cam_to_box(cam, t)[i] for i in (1, 0, 3, 2)], "swapped"),
            (lambda cam, t: [cam_to_box(cam, t)[i] for i in (0, 2, 1, 3)], "both starts, then both ends"),
            (lambda cam, t: _mask_box((cam >= t * cam.max()).numpy()), "every pixel above the threshold"),
            (_hottest, "hottest pixel"),
            (lambda cam, t: _box_from((cam >= t * cam.max()).numpy(), structure=None), "diagonal neighbours"),
            (lambda cam, t: _box_from((cam >= t).numpy()), "fraction of the map's maximum"),
            (lambda cam, t: _box_from(((cam - cam.min()) >= t * (cam.max() - cam.min())).numpy()), "range"),
            (lambda cam, t: _box_from((cam > t * cam.max()).numpy()), ">=, not >"),
            (lambda cam, t: [1, 1, cam.shape[1] - 1, cam.shape[0] - 1], "differs from the reference"),
            (lambda cam, t: cam_to_box(cam, t)[:3], "four ints"),
            (lambda cam, t: "box", "four ints"),
            (lambda cam, t: [v + 0.5 for v in cam_to_box(cam, t)], "whole number"),
        ],
        mutations={"rearranged": "the order is (x0, y0, x1, y1)"},
    ),
}
