"""Self-checks for chapter 3: Huber loss vs Smooth L1."""
from __future__ import annotations

from typing import Callable

import torch

from ._framework import CheckResult, _hidden_generator, _run

__all__ = ["huber_elementwise", "delta_for_fraction", "huber_gradient_ratio"]


def _huber(z: torch.Tensor, delta: float) -> torch.Tensor:
    return torch.where(z < delta, 0.5 * z**2, delta * (z - 0.5 * delta))  # z = |r|


def _smooth_l1(z: torch.Tensor, beta: float) -> torch.Tensor:
    return torch.where(z < beta, 0.5 * z**2 / beta, z - 0.5 * beta)


def huber_elementwise(learner: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """Exercise: the Huber loss from its definition, one value per element.

    Args:
        learner: `f(input, target, delta)` for 1-D float tensors and a float delta > 0, returning the elementwise
            Huber loss (what `F.huber_loss(..., reduction="none")` returns), shaped like `input`.
    """
    g = _hidden_generator("huber_elementwise")
    cases = []
    for delta in (0.3, 1.0, 2.5, 7.0):  # residuals on both sides of delta in every case
        target = torch.randn(12, generator=g, dtype=torch.float64)
        jitter = 1 + 0.1 * torch.rand(12, generator=g, dtype=torch.float64)
        input = target + delta * torch.linspace(-3, 3, 12, dtype=torch.float64) * jitter  # |r| up to about 3 delta
        z = (input - target).abs()
        want = _huber(z, delta)
        wrong = {
            "that is ½ r² everywhere (the L2 loss): beyond delta the loss grows linearly": 0.5 * z**2,
            "that is |r| everywhere (the L1 loss): inside delta the loss is quadratic": z,
            "the quadratic branch is missing its factor ½": torch.where(z < delta, z**2, delta * (z - 0.5 * delta)),
            "the linear branch lacks its offset: the two pieces do not meet at |r| = delta": torch.where(
                z < delta, 0.5 * z**2, delta * z
            ),
            "the linear branch has slope 1 instead of delta": torch.where(z < delta, 0.5 * z**2, z - 0.5 * delta),
        }
        if delta != 1.0:  # at delta = 1 the two losses coincide
            wrong["that is Smooth L1 with beta = delta: Huber is delta times larger"] = _smooth_l1(z, delta)
        cases.append(((input, target, delta), want, wrong))
    return _run("huber_elementwise", learner, cases)


def delta_for_fraction(learner: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: choose delta so that a given fraction of Gaussian residuals falls in Huber's linear branch.

    Args:
        learner: `f(sigma, fraction)` for tensors of equal shape (noise standard deviations > 0 and fractions in
            (0, 1)), returning delta such that P(|r| >= delta) = fraction for r ~ N(0, sigma²), elementwise.
    """
    g = _hidden_generator("delta_for_fraction")
    cases = []
    for n in (1, 4, 9):
        sigma = 0.2 + 3 * torch.rand(n, generator=g, dtype=torch.float64)
        fraction = 0.02 + 0.6 * torch.rand(n, generator=g, dtype=torch.float64)
        quantile = torch.special.ndtri  # Φ⁻¹
        z = quantile(1 - fraction / 2)
        want = sigma * z  # P(|r| >= δ) = 2 (1 - Φ(δ / σ)) = fraction
        z_inside = quantile((1 + fraction) / 2)  # P(|r| < δ) = fraction instead
        wrong = {
            "you counted one tail: |r| >= delta happens on both sides of zero": sigma * quantile(1 - fraction),
            "that delta puts the fraction inside the quadratic branch, not beyond it": sigma * z_inside,
            "you scaled by the variance: delta scales with the standard deviation": sigma**2 * z,
            "delta must scale with sigma: residuals twice as large need a delta twice as large": z,
        }
        cases.append(((sigma, fraction), want, wrong))
    return _run("delta_for_fraction", learner, cases, no_grad=True)


def huber_gradient_ratio(learner: Callable[[torch.Tensor, float, float], torch.Tensor]) -> CheckResult:
    """Exercise: predict dHuber_delta/dr divided by dSmoothL1_beta/dr, by formula (no autograd).

    Args:
        learner: `f(residual, delta, beta)` for a 1-D tensor of non-zero residuals and delta, beta > 0, returning
            the elementwise ratio of the Huber gradient to the Smooth L1 gradient.
    """
    g = _hidden_generator("huber_gradient_ratio")
    cases = []
    for delta, beta in ((1.0, 1.0), (0.5, 0.5), (0.5, 2.0), (3.0, 0.25)):
        magnitude = torch.logspace(-2, 1.5, 16, dtype=torch.float64)  # from well inside to well beyond both
        sign = torch.where(torch.rand(16, generator=g) < 0.5, -1.0, 1.0).double()
        r = sign * magnitude
        huber_grad = r.clamp(-delta, delta)  # d huber_δ / dr
        smooth_grad = (r / beta).clamp(-1, 1)  # d smooth_l1_β / dr
        want = huber_grad / smooth_grad
        loss_ratio = _huber(r.abs(), delta) / _smooth_l1(r.abs(), beta)
        wrong = {
            "upside down: that is the Smooth L1 gradient over the Huber gradient": smooth_grad / huber_grad,
            "that is the ratio of the losses, not of their gradients": loss_ratio,
        }
        if delta != beta:  # delta everywhere is right only when beta = delta
            hint = "a constant delta is right only when beta = delta: look at each residual's branch in both losses"
            wrong[hint] = torch.full_like(r, delta)
            wrong["beta everywhere holds only where both losses are quadratic"] = torch.full_like(r, beta)
        cases.append(((r, delta, beta), want, wrong))
    return _run("huber_gradient_ratio", learner, cases, no_grad=True)
