"""Self-checks for chapter 3: Huber loss vs Smooth L1."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .. import losses
from ._framework import BY_HAND, Case, CheckResult, Rule, _hidden_generator, no_autograd, run

__all__ = ["huber_elementwise", "delta_for_fraction", "huber_gradient_ratio"]

no_library_loss = Rule("this exercise builds the loss from its definition, and your function called {name}: write the "
                       "two branches yourself",
                       {"F.huber_loss": F.huber_loss, "F.smooth_l1_loss": F.smooth_l1_loss,
                        "F.l1_loss": F.l1_loss, "F.mse_loss": F.mse_loss,
                        "mlbits_lite.losses.huber_loss": losses.huber_loss,
                        "mlbits_lite.losses.smooth_l1_loss": losses.smooth_l1_loss})


def _huber(z: torch.Tensor, delta: float) -> torch.Tensor:
    return torch.where(z < delta, 0.5 * z**2, delta * (z - 0.5 * delta))  # z = |r|


def _smooth_l1(z: torch.Tensor, beta: float) -> torch.Tensor:
    return torch.where(z < beta, 0.5 * z**2 / beta, z - 0.5 * beta)


def huber_elementwise(learner: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """Exercise: the Huber loss from its definition, one value per element, without PyTorch's loss functions.

    Args:
        learner: `f(input, target, delta)` for 1-D float tensors and a float delta > 0, returning the elementwise
            Huber loss (what `F.huber_loss(..., reduction="none")` returns), shaped like `input`.
    """
    g = _hidden_generator("huber_elementwise")
    cases = []
    for delta in (0.3, 1.0, 2.5, 7.0):  # residuals on both sides of delta, of both signs, in every case
        target = torch.randn(12, generator=g, dtype=torch.float64)
        jitter = 1 + 0.1 * torch.rand(12, generator=g, dtype=torch.float64)
        input = target + delta * torch.linspace(-3, 3, 12, dtype=torch.float64) * jitter  # |r| up to about 3 delta
        r = input - target
        z = r.abs()
        want = _huber(z, delta)
        wrong = {
            "that is ½ r² everywhere (the L2 loss): beyond delta the loss grows linearly": 0.5 * z**2,
            "that is |r| everywhere (the L1 loss): inside delta the loss is quadratic": z,
            "the quadratic branch is missing its factor ½": torch.where(z < delta, z**2, delta * (z - 0.5 * delta)),
            "the linear branch lacks its offset: the two pieces do not meet at |r| = delta": torch.where(
                z < delta, 0.5 * z**2, delta * z
            ),
            "the linear branch subtracts ½ delta², it does not add it": torch.where(
                z < delta, 0.5 * z**2, delta * (z + 0.5 * delta)
            ),
            "the linear branch has slope 1 instead of delta": torch.where(z < delta, 0.5 * z**2, z - 0.5 * delta),
            "the linear branch needs |r|: a negative residual gave a negative loss": torch.where(
                z < delta, 0.5 * z**2, delta * (r - 0.5 * delta)
            ),
            "that is Smooth L1 with beta = delta: Huber is delta times larger": _smooth_l1(z, delta),
        }
        cases.append(Case((input, target, delta), want, wrong))
    return run("huber_elementwise", learner, cases, rules=(no_library_loss,))


def delta_for_fraction(learner: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: choose delta so that a given fraction of Gaussian residuals falls in Huber's linear branch.

    Args:
        learner: `f(sigma, fraction)` for tensors of equal shape (noise standard deviations > 0 and fractions in
            (0, 1)), returning delta such that P(|r| >= delta) = fraction for r ~ N(0, sigma²), elementwise.
    """
    g = _hidden_generator("delta_for_fraction")
    cases = []
    for n in (4, 9, 1):
        sigma = 0.2 + 3 * torch.rand(n, generator=g, dtype=torch.float64)
        fraction = 0.02 + 0.6 * torch.rand(n, generator=g, dtype=torch.float64)
        quantile = torch.special.ndtri  # Φ⁻¹
        z = quantile(1 - fraction / 2)
        want = sigma * z  # P(|r| >= δ) = 2 (1 - Φ(δ / σ)) = fraction
        wrong = {
            "you counted one tail: |r| >= delta happens on both sides of zero": sigma * quantile(1 - fraction),
            "that delta puts the fraction inside the quadratic branch, not beyond it":
                sigma * quantile((1 + fraction) / 2),
            "Φ⁻¹(p / 2) is the lower quantile, a negative number: the upper tail starts at Φ⁻¹(1 - p / 2)":
                sigma * quantile(fraction / 2),
            "you scaled by the variance: delta scales with the standard deviation": sigma**2 * z,
            "delta must scale with sigma: residuals twice as large need a delta twice as large": z,
            "delta is sigma times the quantile, not sigma divided by it": sigma / z,
            "Φ⁻¹(q) = √2·erfinv(2q - 1): the √2 is missing": sigma * torch.erfinv(1 - fraction),
        }
        cases.append(Case((sigma, fraction), want, wrong))
    return run("delta_for_fraction", learner, cases)


def huber_gradient_ratio(learner: Callable[[torch.Tensor, float, float], torch.Tensor]) -> CheckResult:
    """Exercise: predict dHuber_delta/dr divided by dSmoothL1_beta/dr, by formula (no autograd: the check watches).

    Args:
        learner: `f(residual, delta, beta)` for a 1-D tensor of non-zero residuals and delta, beta > 0, returning
            the elementwise ratio of the Huber gradient to the Smooth L1 gradient.
    """
    g = _hidden_generator("huber_gradient_ratio")
    cases = []
    for delta, beta in ((0.5, 2.0), (3.0, 0.25), (1.0, 1.0), (0.5, 0.5)):  # delta != beta first: the ratio varies
        magnitude = torch.logspace(-2, 1.5, 16, dtype=torch.float64)  # from well inside to well beyond both
        sign = torch.where(torch.rand(16, generator=g) < 0.5, -1.0, 1.0).double()
        r = sign * magnitude
        huber_grad = r.clamp(-delta, delta)  # d huber_δ / dr
        smooth_grad = (r / beta).clamp(-1, 1)  # d smooth_l1_β / dr
        want = huber_grad / smooth_grad
        wrong = {
            "upside down: that is the Smooth L1 gradient over the Huber gradient": smooth_grad / huber_grad,
            "that is the ratio of the losses, not of their gradients": _huber(r.abs(), delta) / _smooth_l1(r.abs(),
                                                                                                         beta),
            "a constant delta is right only when beta = delta: look at each residual's branch in both losses":
                torch.full_like(r, delta),
            "beta everywhere holds only where both losses are quadratic": torch.full_like(r, beta),
            "the Smooth L1 gradient stops growing too: beyond beta it is sign(r)": huber_grad / (r / beta),
            "the Huber gradient stops growing beyond delta: it is clamped to [-delta, delta]": r / smooth_grad,
            "the Smooth L1 gradient inside beta is r / beta, not r": huber_grad / r.clamp(-1, 1),
        }
        cases.append(Case((r, delta, beta), want, wrong))
    return run("huber_gradient_ratio", learner, cases, answer=BY_HAND, rules=(no_autograd,))
