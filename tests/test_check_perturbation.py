"""Chapter 6's self-checks: the catalogue of answers (run by test_check_contract.py)."""
from __future__ import annotations

import math

import torch

from catalogue import Catalogue
from mlbits_lite import check, explain


# --------------------------------------------------------------------------------------- reference solutions
def tv_gradient(m):
    H, W = m.shape
    grad = torch.zeros_like(m)
    dh = m[:, 1:] - m[:, :-1]  # horizontal differences, H (W - 1) of them
    grad[:, 1:] += 2 * dh / (H * (W - 1))
    grad[:, :-1] -= 2 * dh / (H * (W - 1))
    dv = m[1:, :] - m[:-1, :]  # vertical differences, (H - 1) W of them
    grad[1:, :] += 2 * dv / ((H - 1) * W)
    grad[:-1, :] -= 2 * dv / ((H - 1) * W)
    return grad


def optimal_linear_mask(w, x, mu, l1):
    H, W = x.shape[1:]
    gain = (w * (x - mu[:, None, None])).sum(0)  # what keeping each pixel adds to the score
    return (gain <= l1 / (H * W)).double()


def fastest_deletion_curve(contributions, steps):
    N, P = contributions.shape
    ranked = contributions.sort(dim=1, descending=True).values
    removed = torch.cat([torch.zeros(N, 1, dtype=ranked.dtype), ranked.cumsum(1)], 1)  # (N, P + 1)
    counts = [math.ceil(k * P / steps) for k in range(steps + 1)]
    return contributions.sum(1, keepdim=True) - removed[:, counts]


# --------------------------------------------------------------------------------------- other right answers
def tv_gradient_by_padding(m):
    H, W = m.shape
    dh = torch.nn.functional.pad(m[:, 1:] - m[:, :-1], (1, 1))  # zero beyond the border: (H, W + 1)
    dv = torch.nn.functional.pad(m[1:, :] - m[:-1, :], (0, 0, 1, 1))
    return 2 * (dh[:, :-1] - dh[:, 1:]) / (H * (W - 1)) + 2 * (dv[:-1, :] - dv[1:, :]) / ((H - 1) * W)


def tv_gradient_pixel_by_pixel(m):
    H, W = m.shape
    grad = torch.zeros_like(m)
    for i in range(H):
        for j in range(W):
            for di, dj, pairs in ((0, 1, H * (W - 1)), (1, 0, (H - 1) * W)):
                if i + di < H and j + dj < W:  # the pair (i, j) -> (i + di, j + dj)
                    d = m[i + di, j + dj] - m[i, j]
                    grad[i + di, j + dj] += 2 * d / pairs
                    grad[i, j] -= 2 * d / pairs
    return grad


def optimal_mask_by_objective(w, x, mu, l1):
    H, W = x.shape[1:]
    keep_all = torch.ones(H, W, dtype=x.dtype)
    per_pixel = -l1 / (H * W) + (w * (x - mu[:, None, None])).sum(0)  # the objective's slope in each m[u]
    return torch.where(per_pixel > 0, 0 * keep_all, keep_all)  # a linear objective is lowest at an end


def fastest_curve_by_deleting(contributions, steps):
    N, P = contributions.shape
    order = contributions.argsort(dim=1, descending=True)
    scores = []
    for k in range(steps + 1):
        kept = torch.ones_like(contributions)
        kept.scatter_(1, order[:, : math.ceil(k * P / steps)], 0.0)
        scores.append((kept * contributions).sum(1))
    return torch.stack(scores, 1)


# --------------------------------------------------------------------------------------- wrong answers
def _tv_gradient_horizontal_only(m):
    H, W = m.shape
    grad = torch.zeros_like(m)
    dh = m[:, 1:] - m[:, :-1]
    grad[:, 1:] += 2 * dh / (H * (W - 1))
    grad[:, :-1] -= 2 * dh / (H * (W - 1))
    return grad


def _tv_gradient_one_sided(m):
    H, W = m.shape
    grad = torch.zeros_like(m)
    grad[:, :-1] -= 2 * (m[:, 1:] - m[:, :-1]) / (H * (W - 1))
    grad[:-1, :] -= 2 * (m[1:, :] - m[:-1, :]) / ((H - 1) * W)
    return grad


def _tv_gradient_wrapping(m):
    H, W = m.shape
    dh, dv = m.roll(-1, 1) - m, m.roll(-1, 0) - m
    return 2 * (dh.roll(1, 1) - dh) / (H * W) + 2 * (dv.roll(1, 0) - dv) / (H * W)


def _tv_gradient_by_autograd(m):
    m = m.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(explain.total_variation(m[None], beta=2.0).sum(), m)
    return grad


def _curve_by_magnitude(contributions, steps):
    N, P = contributions.shape
    order = contributions.abs().argsort(dim=1, descending=True)
    ranked = contributions.gather(1, order)
    removed = torch.cat([torch.zeros(N, 1, dtype=ranked.dtype), ranked.cumsum(1)], 1)
    return contributions.sum(1, keepdim=True) - removed[:, [math.ceil(k * P / steps) for k in range(steps + 1)]]


def _curve_rounded_down(contributions, steps):
    N, P = contributions.shape
    ranked = contributions.sort(dim=1, descending=True).values
    removed = torch.cat([torch.zeros(N, 1, dtype=ranked.dtype), ranked.cumsum(1)], 1)
    return contributions.sum(1, keepdim=True) - removed[:, [k * P // steps for k in range(steps + 1)]]


CATALOGUE = {
    check.tv_gradient: Catalogue(
        reference=tv_gradient,
        right=[tv_gradient_by_padding, tv_gradient_pixel_by_pixel],
        wrong=[
            (_tv_gradient_horizontal_only, "vertical neighbours count too"),
            (_tv_gradient_one_sided, "appears in two squares"),
            (lambda m: tv_gradient(m) / 2, "factor 2 is missing"),
            (_tv_gradient_wrapping, "do not wrap around"),
            (_tv_gradient_by_autograd, "called torch.autograd.grad"),
            (lambda m: -tv_gradient(m), "sign"),
            (lambda m: tv_gradient(m).numpy(), "torch.Tensor"),
            (lambda m: tv_gradient(m)[:, :-1], "shape"),
        ],
        mutations={"times_two": "constant factor"},
    ),
    check.optimal_linear_mask: Catalogue(
        reference=optimal_linear_mask,
        right=[optimal_mask_by_objective, lambda w, x, mu, l1: optimal_linear_mask(w, x, mu, l1).float()],
        wrong=[
            (lambda w, x, mu, l1: 1 - optimal_linear_mask(w, x, mu, l1), "1 - m, the deleted region"),
            (lambda w, x, mu, l1: ((w * (x - mu[:, None, None])).sum(0) <= l1).double(), "costs l1 / (H W)"),
            (lambda w, x, mu, l1: ((w * (x - mu[:, None, None])).sum(0) <= 0).double(), "area term costs"),
            (lambda w, x, mu, l1: ((w * x).sum(0) <= l1 / x[0].numel()).double(), "not w x"),
            (lambda w, x, mu, l1: ((w * (x - mu[:, None, None])).amax(0) <= l1 / x[0].numel()).double(),
             "channels act together"),
            (lambda w, x, mu, l1: (w * (x - mu[:, None, None]) <= l1 / x[0].numel()).double(), "shape"),
        ],
    ),
    check.fastest_deletion_curve: Catalogue(
        reference=fastest_deletion_curve,
        right=[fastest_curve_by_deleting],
        wrong=[
            (_curve_by_magnitude, "signed contribution"),
            (lambda c, steps: fastest_deletion_curve(-c, steps).neg(), "highest curve"),
            (_curve_rounded_down, "round the number of deleted pixels up"),
            (lambda c, steps: c.sum(1, keepdim=True) - fastest_deletion_curve(c, steps), "score that remains"),
            (lambda c, steps: fastest_deletion_curve(c, steps)[:, 1:], "shape"),
            (lambda c, steps: fastest_deletion_curve(c, steps).T, "shape"),
        ],
    ),
}
