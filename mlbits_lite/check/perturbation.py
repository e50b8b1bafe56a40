"""Self-checks for chapter 6: meaningful perturbation."""
from __future__ import annotations

import math
from typing import Callable

import torch

from ._framework import BY_HAND, Case, CheckResult, _hidden_generator, no_autograd, run

__all__ = ["tv_gradient", "optimal_linear_mask", "fastest_deletion_curve"]


def _tv_gradient(m: torch.Tensor, *, per_pair: bool = True, both: bool = True, factor: float = 2.0,
                 sign: float = 1.0, periodic: bool = False) -> torch.Tensor:
    """d TV_2 / d m for TV_2(m) = mean (m[i, j+1] - m[i, j])^2 + mean (m[i+1, j] - m[i, j])^2, with switches that
    reproduce the usual mistakes."""
    H, W = m.shape
    grad = torch.zeros_like(m)
    if periodic:  # differences that wrap around the border
        dh, dv = m.roll(-1, 1) - m, m.roll(-1, 0) - m
        grad += factor * (dh.roll(1, 1) - dh) / (H * W if per_pair else 1)
        if both:
            grad += factor * (dv.roll(1, 0) - dv) / (H * W if per_pair else 1)
        return sign * grad
    dh = m[:, 1:] - m[:, :-1]  # (H, W - 1)
    grad[:, 1:] += factor * dh / (H * (W - 1) if per_pair else 1)  # d/dm[i, j+1] of dh^2
    grad[:, :-1] -= factor * dh / (H * (W - 1) if per_pair else 1)  # d/dm[i, j]
    if both:
        dv = m[1:, :] - m[:-1, :]  # (H - 1, W)
        grad[1:, :] += factor * dv / ((H - 1) * W if per_pair else 1)
        grad[:-1, :] -= factor * dv / ((H - 1) * W if per_pair else 1)
    return sign * grad


def tv_gradient(learner: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: the gradient of the total variation with beta = 2, by hand (no autograd: the check watches).

    TV_2(m) = mean over the H (W - 1) horizontal pairs of (m[i, j+1] - m[i, j])^2 + mean over the (H - 1) W vertical
    pairs of (m[i+1, j] - m[i, j])^2, as `explain.total_variation(m[None], beta=2)`.

    Args:
        learner: `f(m)` for an (H, W) float64 mask, returning d TV_2 / d m, (H, W).
    """
    g = _hidden_generator("tv_gradient")
    cases = []
    for H, W in ((5, 7), (3, 3), (6, 4)):  # not square first: the two means have different counts
        m = torch.rand(H, W, generator=g, dtype=torch.float64)
        want = _tv_gradient(m)
        wrong = {
            "the vertical neighbours count too: TV has a horizontal and a vertical term": _tv_gradient(m, both=False),
            "each difference appears in two squares: d/dm[i, j] collects the pair to its left and the pair to its "
            "right (and above and below)": lambda got, m=m, want=want: got.shape == want.shape and bool(
                torch.allclose(got, _one_sided(m), rtol=1e-9, atol=1e-12)),
            "TV is a mean: divide each term by its number of pairs, H (W - 1) and (H - 1) W":
                _tv_gradient(m, per_pair=False),
            "the border has no neighbour beyond it: differences do not wrap around": _tv_gradient(m, periodic=True),
            "d/dm of (a - b)^2 is 2 (a - b): the factor 2 is missing": _tv_gradient(m, factor=1.0),
        }
        cases.append(Case((m,), want, wrong))
    return run("tv_gradient", learner, cases, answer=BY_HAND, rules=(no_autograd,))


def _one_sided(m: torch.Tensor) -> torch.Tensor:
    """Each pixel differentiated only through the pair to its right and the pair below it (a common slip)."""
    H, W = m.shape
    grad = torch.zeros_like(m)
    grad[:, :-1] -= 2 * (m[:, 1:] - m[:, :-1]) / (H * (W - 1))
    grad[:-1, :] -= 2 * (m[1:, :] - m[:-1, :]) / ((H - 1) * W)
    return grad


def optimal_linear_mask(learner: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float], torch.Tensor]
                        ) -> CheckResult:
    """Exercise: the exact minimiser of the deletion game for a linear score and a constant perturbation.

    Score s(z) = sum_{c,u} w[c, u] z[c, u]; Phi(x; m) = m x + (1 - m) mu (mu one colour per channel); objective
    l1 * mean_u (1 - m[u]) + s(Phi(x; m)) over m in [0, 1]^(H x W). It is linear in m, so the minimiser is 0 or 1
    per pixel: m[u] = 0 (delete) where sum_c w[c, u] (x[c, u] - mu[c]) > l1 / (H W), else 1.

    Args:
        learner: `f(w, x, mu, l1)` for w and x of shape (C, H, W), mu (C,) and l1 >= 0, returning m (H, W).
    """
    g = _hidden_generator("optimal_linear_mask")
    cases = []
    for C, H, W, l1 in ((3, 5, 6, 2.0), (1, 4, 4, 0.5), (2, 6, 3, 5.0)):
        w = torch.randn(C, H, W, generator=g, dtype=torch.float64)
        x = torch.rand(C, H, W, generator=g, dtype=torch.float64)
        mu = x.mean(dim=(1, 2))
        gain = (w * (x - mu[:, None, None])).sum(0)  # what keeping pixel u adds to the score, (H, W)
        want = (gain <= l1 / (H * W)).double()  # keep unless deleting lowers the score by more than it costs
        wrong = {
            "that is 1 - m, the deleted region: m = 1 keeps a pixel": 1 - want,
            "the area term is a mean over the H W pixels: a pixel costs l1 / (H W), not l1":
                (gain <= l1).double(),
            "the area term costs something: a pixel is deleted only when that lowers the score by more than "
            "l1 / (H W)": (gain <= 0).double(),
            "deleting a pixel replaces x by mu: its effect is w (x - mu), not w x":
                ((w * x).sum(0) <= l1 / (H * W)).double(),
            "the colour channels act together: sum w (x - mu) over channels before comparing":
                ((w * (x - mu[:, None, None])).amax(0) <= l1 / (H * W)).double(),
        }
        cases.append(Case((w, x, mu, l1), want, wrong))
    return run("optimal_linear_mask", learner, cases, answer=BY_HAND)


def fastest_deletion_curve(learner: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Exercise: the lowest deletion curve any saliency map can give a linear score.

    Deleting pixel u removes its contribution c[u] from the score; with nothing deleted the score is sum c. At step
    k of `steps`, ceil(k P / steps) of the P pixels are deleted (as `explain.deletion_curve` does). The lowest
    score at every step deletes the pixels with the largest contributions first (signed: a negative contribution
    raises the score when deleted).

    Args:
        learner: `f(contributions, steps)` for (N, P) contributions and steps >= 1, returning (N, steps + 1) scores.
    """
    g = _hidden_generator("fastest_deletion_curve")
    cases = []
    for N, P, steps in ((2, 12, 4), (3, 10, 3), (1, 7, 7)):  # P not a multiple of steps: the count rounds up
        c = torch.randn(N, P, generator=g, dtype=torch.float64) + 0.3

        def curve(order: torch.Tensor, count: Callable[[int], int]) -> torch.Tensor:
            ranked = c.gather(1, order)
            removed = torch.cat([torch.zeros(N, 1, dtype=c.dtype), ranked.cumsum(1)], 1)  # (N, P + 1)
            return torch.stack([c.sum(1) - removed[:, count(k)] for k in range(steps + 1)], 1)

        ceil = lambda k: math.ceil(k * P / steps)  # noqa: E731
        want = curve(c.argsort(1, descending=True), ceil)
        wrong = {
            "rank by the signed contribution: deleting a pixel that lowers the score (negative c) raises it":
                curve(c.abs().argsort(1, descending=True), ceil),
            "the largest contributions go first: that order gives the highest curve": curve(c.argsort(1), ceil),
            "round the number of deleted pixels up, ceil(k P / steps), as explain.deletion_curve does":
                curve(c.argsort(1, descending=True), lambda k: (k * P) // steps),
            "that is what was removed; the curve is the score that remains":
                curve(c.argsort(1, descending=True), ceil).sub(c.sum(1, keepdim=True)).neg(),
        }
        cases.append(Case((c, steps), want, wrong))
    return run("fastest_deletion_curve", learner, cases)
