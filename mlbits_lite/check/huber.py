"""Self-checks for chapter 3: Huber loss vs Smooth L1."""
from __future__ import annotations

import math
from typing import Callable

import torch

from ._framework import BY_HAND, Case, CheckResult, _hidden_generator, no_autograd, run

__all__ = ["contamination_threshold", "huber_gradient_ratio", "huber_influence"]


def _huber(z: torch.Tensor, delta: float) -> torch.Tensor:
    return torch.where(z < delta, 0.5 * z**2, delta * (z - 0.5 * delta))  # z = |r|


def _smooth_l1(z: torch.Tensor, beta: float) -> torch.Tensor:
    return torch.where(z < beta, 0.5 * z**2 / beta, z - 0.5 * beta)


def _decreasing_root(g: Callable[[torch.Tensor], torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """k > 0 with g(k) = target, elementwise, for g decreasing from +inf: bisection in float64 to round-off."""
    low, high = torch.full_like(target, 1e-6), torch.full_like(target, 40.0)
    for _ in range(200):
        middle = (low + high) / 2
        above = g(middle) > target  # the root lies to the right of middle
        low, high = torch.where(above, middle, low), torch.where(above, high, middle)
    return (low + high) / 2


def contamination_threshold(learner: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: Huber's minimax threshold k for a contamination fraction epsilon (k = delta / sigma).

    The least favourable density of (1 - eps) N(0, 1) + eps H is (1 - eps) phi(x) for |x| <= k and
    (1 - eps) phi(k) exp(-k (|x| - k)) beyond; k makes it integrate to 1:
    (1 - eps) (2 Phi(k) - 1 + 2 phi(k) / k) = 1.

    Args:
        learner: `f(epsilon)` for a 1-D float64 tensor of fractions in (0, 1), returning k > 0 elementwise.
    """
    g = _hidden_generator("contamination_threshold")
    phi = lambda k: torch.exp(-(k**2) / 2) / math.sqrt(2 * math.pi)  # noqa: E731, the standard normal density
    Phi = torch.special.ndtr  # noqa: N806, its distribution function
    cases = []
    for n in (5, 3, 1):
        eps = 0.005 + 0.35 * torch.rand(n, generator=g, dtype=torch.float64)
        odds = eps / (1 - eps)
        want = _decreasing_root(lambda k: 2 * phi(k) / k - 2 * Phi(-k), odds)
        wrong = {
            "the Gaussian part carries mass 1 - epsilon: the equation's right side is epsilon / (1 - epsilon), "
            "not epsilon": _decreasing_root(lambda k: 2 * phi(k) / k - 2 * Phi(-k), eps),
            "the density has two tails, |x| > k on both sides of zero":
                _decreasing_root(lambda k: phi(k) / k - Phi(-k), odds),
            "the central part is P(|Z| <= k) = 2 Phi(k) - 1, not Phi(k)":
                _decreasing_root(lambda k: 2 * phi(k) / k - Phi(-k), odds),
            "both pieces of the density carry the factor 1 - epsilon, the tails too":
                _decreasing_root(lambda k: (1 - eps) * (2 * Phi(k) - 1) + 2 * phi(k) / k, torch.ones_like(eps)),
            "that k puts a fraction epsilon of Gaussian residuals beyond it; the minimax k comes from making the "
            "least favourable density integrate to 1": torch.special.ndtri(1 - eps / 2),
            "close, but not converged: solve the equation to round-off (bisection needs about 50 halvings)":
                lambda got, want=want: got.shape == want.shape and bool(torch.allclose(got, want, rtol=1e-2)),
        }
        cases.append(Case((eps,), want, wrong))
    return run("contamination_threshold", learner, cases)


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


def huber_influence(learner: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float],
                                      torch.Tensor]) -> CheckResult:
    """Exercise: how a Huber regression fit moves when one new point (x0, y0) is added with a small weight t.

    The fit solves sum_i psi(r_i) x_i + t psi(r0) x0 = 0 with r = y - x^T w and psi = clamp(., -delta, delta);
    differentiating at t = 0 gives dw/dt = M^-1 psi(r0) x0 with M = sum_i psi'(r_i) x_i x_i^T.

    Args:
        learner: `f(X, residuals, x0, r0, delta)` for the fit's inputs X (n, p) and residuals (n,), new inputs
            x0 (m, p) with their residuals r0 (m,) under the fit, and delta > 0; returning dw/dt for each new
            point, (m, p).
    """
    g = _hidden_generator("huber_influence")
    cases = []
    for n, p, delta in ((40, 3, 1.0), (25, 2, 0.5), (60, 4, 2.0)):
        X = torch.cat([torch.randn(n, p - 1, generator=g, dtype=torch.float64),
                       torch.ones(n, 1, dtype=torch.float64)], 1)  # (n, p), an intercept column
        residuals = delta * 2 * torch.randn(n, generator=g, dtype=torch.float64)  # about a third beyond delta
        scale = torch.tensor([0.5, 2.0, 8.0, 30.0], dtype=torch.float64)[:, None]  # from the bulk to far out
        x0 = torch.cat([scale * torch.randn(4, p - 1, generator=g, dtype=torch.float64),
                        torch.ones(4, 1, dtype=torch.float64)], 1)  # (m, p)
        r0 = delta * torch.tensor([0.3, -4.0, 2.5, -0.6], dtype=torch.float64)  # inside and beyond delta

        def influence(curvature: torch.Tensor, pull: torch.Tensor, X: torch.Tensor = X) -> torch.Tensor:
            M = (X.T * curvature) @ X  # noqa: N806, sum_i c_i x_i x_i^T, (p, p)
            return torch.linalg.solve(M, (pull[:, None] * x0).T).T  # M^-1 psi(r0) x0 per new point, (m, p)

        inside = (residuals.abs() < delta).double()  # psi'(r_i)
        psi0 = r0.clamp(-delta, delta)
        want = influence(inside, psi0)
        wrong = {
            "that is the influence under least squares: Huber's psi clips the new residual, and M counts only "
            "the points on the quadratic branch": influence(torch.ones(n, dtype=torch.float64), r0),
            "M sums psi'(r_i) x_i x_i^T: points on the linear branch (|r_i| >= delta) have psi' = 0":
                influence(torch.ones(n, dtype=torch.float64), psi0),
            "the IRLS weights psi(r) / r are not the derivative psi'(r): M needs psi'":
                influence((delta / residuals.abs()).clamp(max=1), psi0),
            "the new point pulls with psi(r0) = clamp(r0, -delta, delta), not with r0": influence(inside, r0),
            "that is the textbook influence function, with M averaged over the n points; the equation here sums "
            "them": n * want,
            "the new point's pull psi(r0) x0 is resisted by the fit's other points: solve with M":
                psi0[:, None] * x0,
        }
        cases.append(Case((X, residuals, x0, r0, delta), want, wrong))
    return run("huber_influence", learner, cases, call="f(X, residuals, x0, r0, delta)")
