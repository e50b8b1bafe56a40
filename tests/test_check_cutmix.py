"""Chapter 7's self-checks: the catalogue of answers (run by test_check_contract.py)."""
from __future__ import annotations

import math

import numpy as np
import torch

from catalogue import Catalogue
from mlbits_lite import check
from mlbits_lite.explain import box_iou, cam_to_box


# --------------------------------------------------------------------------------------- partners without self
def shifted_partners(batch_size, generator):
    if batch_size < 2:
        raise ValueError("a batch of one image has no partner")
    shift = int(torch.randint(1, batch_size, (1,), generator=generator))  # 1 .. B-1: never 0
    return (torch.arange(batch_size) + shift) % batch_size


def shuffled_cycle(batch_size, generator):
    # a random order, each image paired with the next one in it (the last with the first): one random cycle
    if batch_size == 1:
        raise ValueError("need two images")
    order = torch.randperm(batch_size, generator=generator)
    perm = torch.empty(batch_size, dtype=torch.long)
    perm[order] = order.roll(-1)
    return perm


def rejected_until_deranged(batch_size, generator):
    if batch_size <= 1:
        raise ValueError("batch_size must be at least 2")
    while True:
        perm = torch.randperm(batch_size, generator=generator)
        if (perm != torch.arange(batch_size)).all():
            return perm


def plain_randperm(batch_size, generator):
    return torch.randperm(batch_size, generator=generator)


def flipped(batch_size, generator):
    return torch.arange(batch_size).flip(0)


def next_image(batch_size, generator):
    if batch_size == 1:
        raise ValueError("no partner")
    return torch.arange(batch_size).roll(1)


def shift_with_zero(batch_size, generator):
    if batch_size == 1:
        raise ValueError("no partner")
    return (torch.arange(batch_size) + int(torch.randint(0, batch_size, (1,), generator=generator))) % batch_size


def any_other_image(batch_size, generator):
    if batch_size == 1:
        raise ValueError("no partner")
    return (torch.arange(batch_size) + torch.randint(1, batch_size, (batch_size,), generator=generator)) % batch_size


def global_generator(batch_size, generator):
    if batch_size == 1:
        raise ValueError("no partner")
    return (torch.arange(batch_size) + int(torch.randint(1, batch_size, (1,)))) % batch_size


def neighbour_either_side(batch_size, generator):
    if batch_size == 1:
        raise ValueError("no partner")
    step = 1 if float(torch.rand(1, generator=generator)) < 0.5 else -1
    return (torch.arange(batch_size) + step) % batch_size


def one_image_allowed(batch_size, generator):
    if batch_size == 1:
        return torch.zeros(1, dtype=torch.long)
    return shifted_partners(batch_size, generator)


def float_indices(batch_size, generator):
    return shifted_partners(batch_size, generator).double()


# --------------------------------------------------------------------------------------- uniform cover box
def _sides(height, width, lam):
    return int(height * math.sqrt(1 - lam)), int(width * math.sqrt(1 - lam))


def _clipped(top, left, h, w, height, width):
    return max(top, 0), min(top + h, height), max(left, 0), min(left + w, width)


def uniform_box(height, width, lam, generator):
    h, w = _sides(height, width, lam)
    top = int(torch.randint(-h + 1, height, (1,), generator=generator))  # H + h - 1 places: each row covered h times
    left = int(torch.randint(-w + 1, width, (1,), generator=generator))
    return _clipped(top, left, h, w, height, width)


def uniform_box_wider_range(height, width, lam, generator):
    # the top edge anywhere from -h to H: some boxes miss the image entirely, the coverage stays flat
    h, w = _sides(height, width, lam)
    top = int(torch.randint(-h, height + 1, (1,), generator=generator))
    left = int(torch.randint(-w, width + 1, (1,), generator=generator))
    return np.array(_clipped(top, left, h, w, height, width))


def from_far_corner(height, width, lam, generator):
    # the bottom-right corner drawn instead: bottom in 1 .. H + h - 1, the box above it
    h, w = _sides(height, width, lam)
    bottom = int(torch.randint(1, height + h, (1,), generator=generator))
    right = int(torch.randint(1, width + w, (1,), generator=generator))
    return torch.tensor(_clipped(bottom - h, right - w, h, w, height, width))


def paper_centre(height, width, lam, generator):
    h, w = _sides(height, width, lam)
    cy = int(torch.randint(0, height, (1,), generator=generator))
    cx = int(torch.randint(0, width, (1,), generator=generator))
    return _clipped(cy - h // 2, cx - w // 2, h, w, height, width)


def always_inside(height, width, lam, generator):
    h, w = _sides(height, width, lam)
    top = int(torch.randint(0, height - h + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - w + 1, (1,), generator=generator))
    return top, top + h, left, left + w


def swapped_sides(height, width, lam, generator):
    h, w = _sides(width, height, lam)
    top = int(torch.randint(-h + 1, height, (1,), generator=generator))
    left = int(torch.randint(-w + 1, width, (1,), generator=generator))
    return _clipped(top, left, h, w, height, width)


def linear_sides(height, width, lam, generator):
    h, w = int(height * (1 - lam)), int(width * (1 - lam))
    top = int(torch.randint(-h + 1, height, (1,), generator=generator))
    left = int(torch.randint(-w + 1, width, (1,), generator=generator))
    return _clipped(top, left, h, w, height, width)


def not_clipped(height, width, lam, generator):
    h, w = _sides(height, width, lam)
    top = int(torch.randint(-h + 1, height, (1,), generator=generator))
    left = int(torch.randint(-w + 1, width, (1,), generator=generator))
    return top, top + h, left, left + w


def composer_uniform(height, width, lam, generator):
    # the centre drawn from [-h // 2, H + h // 2), edges at c ± h // 2: an odd side loses a row
    h, w = _sides(height, width, lam)
    cy = int(torch.randint(-(h // 2), height + h // 2, (1,), generator=generator))
    cx = int(torch.randint(-(w // 2), width + w // 2, (1,), generator=generator))
    return max(cy - h // 2, 0), min(cy + h // 2, height), max(cx - w // 2, 0), min(cx + w // 2, width)


def box_from_global(height, width, lam, generator):
    h, w = _sides(height, width, lam)
    top = int(torch.randint(-h + 1, height, (1,)))
    left = int(torch.randint(-w + 1, width, (1,)))
    return _clipped(top, left, h, w, height, width)


def hangs_over_top_only(height, width, lam, generator):
    h, w = _sides(height, width, lam)
    top = int(torch.randint(-h + 1, height - h + 1, (1,), generator=generator))
    left = int(torch.randint(-w + 1, width - w + 1, (1,), generator=generator))
    return _clipped(top, left, h, w, height, width)


# --------------------------------------------------------------------------------------- MaxBoxAcc
def max_box_accuracy(cams, boxes, thresholds):
    low = cams.amin(dim=(1, 2), keepdim=True)
    high = cams.amax(dim=(1, 2), keepdim=True)
    maps = (cams - low) / (high - low)
    iou = torch.stack([box_iou(cam_to_box(maps, float(t)), boxes) for t in thresholds])  # (T, N)
    best = [(iou >= delta).double().mean(dim=1).max() for delta in (0.3, 0.5, 0.7)]
    return float(sum(best) / 3)


def max_box_accuracy_loops(cams, boxes, thresholds):
    total = 0.0
    for delta in (0.3, 0.5, 0.7):
        best = 0.0
        for t in thresholds.tolist():
            hits = 0
            for cam, box in zip(cams, boxes):
                cam = (cam - cam.min()) / (cam.max() - cam.min())
                hits += int(box_iou(cam_to_box(cam, t), box) >= delta)
            best = max(best, hits / len(cams))
        total += best / 3
    return torch.tensor(total)


def _ious(maps, boxes, thresholds):
    return torch.stack([box_iou(cam_to_box(maps, float(t)), boxes) for t in thresholds])  # (T, N)


def _minmax(cams):
    return (cams - cams.amin(dim=(1, 2), keepdim=True)) / (cams.amax(dim=(1, 2), keepdim=True)
                                                           - cams.amin(dim=(1, 2), keepdim=True))


def raw_maps(cams, boxes, thresholds):
    iou = _ious(cams, boxes, thresholds)
    return float(sum((iou >= d).double().mean(1).max() for d in (0.3, 0.5, 0.7)) / 3)


def one_threshold_for_all(cams, boxes, thresholds):
    iou = _ious(_minmax(cams), boxes, thresholds)
    per_level = torch.stack([(iou >= d).double().mean(1) for d in (0.3, 0.5, 0.7)])  # (3, T)
    return float(per_level.mean(0).max())


def only_half(cams, boxes, thresholds):
    return float((_ious(_minmax(cams), boxes, thresholds) >= 0.5).double().mean(1).max())


def mean_over_thresholds(cams, boxes, thresholds):
    iou = _ious(_minmax(cams), boxes, thresholds)
    return float(sum((iou >= d).double().mean(1).mean() for d in (0.3, 0.5, 0.7)) / 3)


def strictly_above(cams, boxes, thresholds):
    iou = _ious(_minmax(cams), boxes, thresholds)
    return float(sum((iou > d).double().mean(1).max() for d in (0.3, 0.5, 0.7)) / 3)


def batch_normalised(cams, boxes, thresholds):
    iou = _ious((cams - cams.min()) / (cams.max() - cams.min()), boxes, thresholds)
    return float(sum((iou >= d).double().mean(1).max() for d in (0.3, 0.5, 0.7)) / 3)


def in_percent(cams, boxes, thresholds):
    return 100 * max_box_accuracy(cams, boxes, thresholds)


CATALOGUE = {
    check.partners_without_self: Catalogue(
        reference=shifted_partners,
        right=[shuffled_cycle, rejected_until_deranged],
        wrong=[
            (plain_randperm, "paired with themselves"),
            (flipped, "paired with themselves"),
            (next_image, "the same every time"),
            (shift_with_zero, "paired with themselves"),
            (any_other_image, "not a permutation"),
            (global_generator, "use the generator you are given"),
            (neighbour_either_side, "equally likely"),
            (one_image_allowed, "a batch of one has no partner"),
            (float_indices, "integer tensor"),
        ],
    ),
    check.uniform_cover_box: Catalogue(
        reference=uniform_box,
        right=[uniform_box_wider_range, from_far_corner],
        wrong=[
            (paper_centre, "near the border are covered less often"),
            (always_inside, "always stays inside the image"),
            (swapped_sides, "rows go with the height"),
            (linear_sides, "its area is (1 - lam)"),
            (not_clipped, "clip its edges"),
            (composer_uniform, "lose a row when h is odd"),
            (box_from_global, "use the generator you are given"),
            (hangs_over_top_only, "hang over every edge"),
        ],
        mutations={"zeros": "its area is (1 - lam)", "times_two": "outside the image", "negated": "outside the image",
                   "rearranged": "outside the image"},
    ),
    check.max_box_accuracy: Catalogue(
        reference=max_box_accuracy,
        right=[max_box_accuracy_loops],
        wrong=[
            (raw_maps, "minimum and maximum before thresholding"),
            (one_threshold_for_all, "for each IoU level separately"),
            (only_half, "not only 0.5"),
            (mean_over_thresholds, "not the average over them"),
            (strictly_above, "at least delta"),
            (batch_normalised, "not by those of the whole batch"),
            (in_percent, "not a percentage"),
        ],
        mutations={"times_two": "not a percentage"},
    ),
}
