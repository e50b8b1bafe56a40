"""Chapter 3's self-checks: the catalogue of answers (run by test_check_contract.py), and the rules they enforce."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import brentq
from scipy.stats import norm

from catalogue import Catalogue
from mlbits_lite import check


# --------------------------------------------------------------------------------------- reference solutions
def _phi(k):
    return torch.exp(-(k**2) / 2) / math.sqrt(2 * math.pi)


def contamination_threshold(epsilon):
    # (1 - ε)(2Φ(k) - 1 + 2φ(k)/k) = 1  <=>  2φ(k)/k - 2Φ(-k) = ε / (1 - ε); the left side falls as k grows
    odds = epsilon / (1 - epsilon)
    low, high = torch.full_like(epsilon, 1e-3), torch.full_like(epsilon, 20.0)
    for _ in range(100):
        k = (low + high) / 2
        above = 2 * _phi(k) / k - 2 * torch.special.ndtr(-k) > odds  # the root lies right of k
        low, high = torch.where(above, k, low), torch.where(above, high, k)
    return (low + high) / 2


def gradient_ratio(residual, delta, beta):
    return residual.clamp(-delta, delta) / (residual / beta).clamp(-1, 1)


def huber_influence(X, residuals, x0, r0, delta):
    inside = (residuals.abs() < delta).to(X.dtype)  # ψ'(r_i)
    M = (X.T * inside) @ X  # Σ ψ'(r_i) x_i x_iᵀ, (p, p)
    return torch.linalg.solve(M, (r0.clamp(-delta, delta)[:, None] * x0).T).T  # (m, p)


# --------------------------------------------------------------------------------------- other right answers
def threshold_by_brentq(epsilon):
    def excess(k, e):
        return 2 * norm.pdf(k) / k - 2 * norm.cdf(-k) - e / (1 - e)

    return torch.tensor([brentq(excess, 1e-6, 50, args=(e,), xtol=1e-14) for e in epsilon.tolist()],
                        dtype=epsilon.dtype)


def threshold_by_newton(epsilon):
    # the normalising condition itself, g(k) = (1 - ε)(2Φ(k) - 1 + 2φ(k)/k) - 1 with g'(k) = -2(1 - ε)φ(k)/k²
    k = torch.full_like(epsilon, 0.5)  # left of the root: g is convex, so Newton climbs to it without overshooting
    for _ in range(100):
        g = (1 - epsilon) * (2 * torch.special.ndtr(k) - 1 + 2 * _phi(k) / k) - 1
        k = k + g / (2 * (1 - epsilon) * _phi(k) / k**2)
    return k


def gradient_ratio_by_branches(residual, delta, beta):
    z = residual.abs()
    huber_slope = torch.where(z < delta, z, torch.full_like(z, delta))
    smooth_slope = torch.where(z < beta, z / beta, torch.ones_like(z))
    return huber_slope / smooth_slope


def influence_by_inverse(X, residuals, x0, r0, delta):
    kept = X[residuals.abs() < delta]  # only quadratic-branch points contribute curvature
    psi0 = torch.where(r0.abs() < delta, r0, delta * r0.sign())
    return psi0[:, None] * x0 @ torch.linalg.inv(kept.T @ kept)  # M is symmetric


def _bisect(g, target, low=1e-3, high=20.0):
    low, high = torch.full_like(target, low), torch.full_like(target, high)
    for _ in range(100):
        k = (low + high) / 2
        above = g(k) > target
        low, high = torch.where(above, k, low), torch.where(above, high, k)
    return (low + high) / 2


def _phi_cdf(k):
    return torch.special.ndtr(k)


def _influence(X, curvature, pull, x0):
    return torch.linalg.solve((X.T * curvature) @ X, (pull[:, None] * x0).T).T


CATALOGUE = {
    check.contamination_threshold: Catalogue(
        reference=contamination_threshold,
        right=[threshold_by_brentq, threshold_by_newton],
        wrong=[
            (lambda e: _bisect(lambda k: 2 * _phi(k) / k - 2 * _phi_cdf(-k), e), "not epsilon"),
            (lambda e: _bisect(lambda k: _phi(k) / k - _phi_cdf(-k), e / (1 - e)), "two tails"),
            (lambda e: _bisect(lambda k: 2 * _phi(k) / k - _phi_cdf(-k), e / (1 - e)), "2 Phi(k) - 1"),
            (lambda e: _bisect(lambda k: (1 - e) * (2 * _phi_cdf(k) - 1) + 2 * _phi(k) / k, torch.ones_like(e)),
             "the tails too"),
            (lambda e: torch.special.ndtri(1 - e / 2), "integrate to 1"),
            (lambda e: contamination_threshold(e) * (1 + 3e-3), "not converged"),
            (lambda e: _bisect(lambda k: 2 * _phi(k) / k - 2 * _phi_cdf(-k), e / (1 - e), high=1.0), "not converged"),
            (lambda e: contamination_threshold(e).tolist(), "torch.Tensor"),
        ],
        mutations={"plus_1e-3": "not converged"},
    ),
    check.huber_gradient_ratio: Catalogue(
        reference=gradient_ratio,
        right=[gradient_ratio_by_branches],
        wrong=[
            (lambda r, d, b: 1 / gradient_ratio(r, d, b), "upside down"),
            (lambda r, d, b: torch.full_like(r, d), "only when beta = delta"),
            (lambda r, d, b: torch.full_like(r, b), "beta everywhere"),
            (lambda r, d, b: F.huber_loss(r, 0 * r, delta=d, reduction="none")
             / F.smooth_l1_loss(r, 0 * r, beta=b, reduction="none"), "losses"),
            (lambda r, d, b: r.clamp(-d, d) / (r / b), "sign(r)"),
            (lambda r, d, b: r / (r / b).clamp(-1, 1), "clamped to [-delta, delta]"),
            (lambda r, d, b: r.clamp(-d, d) / r.clamp(-1, 1), "r / beta, not r"),
            (lambda r, d, b: (F.huber_loss(r + 1e-6, 0 * r, delta=d, reduction="none")
                              - F.huber_loss(r - 1e-6, 0 * r, delta=d, reduction="none"))
             / (F.smooth_l1_loss(r + 1e-6, 0 * r, beta=b, reduction="none")
                - F.smooth_l1_loss(r - 1e-6, 0 * r, beta=b, reduction="none")), "not exact"),
            (lambda r, d, b: torch.autograd.grad(F.huber_loss(r.clone().requires_grad_(), 0 * r, delta=d,
                                                              reduction="sum"), r)[0], "by hand"),
        ],
    ),
    check.huber_influence: Catalogue(
        reference=huber_influence,
        right=[influence_by_inverse],
        wrong=[
            (lambda X, r, x0, r0, d: _influence(X, torch.ones_like(r), r0, x0), "least squares"),
            (lambda X, r, x0, r0, d: _influence(X, torch.ones_like(r), r0.clamp(-d, d), x0), "psi' = 0"),
            (lambda X, r, x0, r0, d: _influence(X, (d / r.abs()).clamp(max=1), r0.clamp(-d, d), x0), "IRLS"),
            (lambda X, r, x0, r0, d: _influence(X, (r.abs() < d).double(), r0, x0), "not with r0"),
            (lambda X, r, x0, r0, d: _influence(X, (r.abs() < d).double() / len(r), r0.clamp(-d, d), x0),
             "textbook"),
            (lambda X, r, x0, r0, d: r0.clamp(-d, d)[:, None] * x0, "solve with M"),
            (lambda X, r, x0, r0, d: huber_influence(X, r, x0, r0, d).T, "shape"),
            (lambda X, r, x0, r0, d: huber_influence(X, r, x0, r0, d).numpy(), "torch.Tensor"),
            (lambda X, r, d: None, "calls your function as f(X, residuals, x0, r0, delta)"),
        ],
    ),
}


# --------------------------------------------------------------------------------------- the checks' own facts
def test_contamination_threshold_matches_known_values():
    # the minimax k for ε = 0.01, 0.05, 0.1 is about 1.945, 1.40 and 1.140 (Huber 1964); k falls as ε grows
    k = contamination_threshold(torch.tensor([0.01, 0.05, 0.1], dtype=torch.float64))
    np.testing.assert_allclose(k.numpy(), [1.945, 1.40, 1.140], atol=2e-3)


def test_influence_is_the_derivative_of_the_refitted_coefficients():
    # refit Σ ψ(r_i) x_i + t ψ(r0) x0 = 0 by Newton at two small weights t: the slope is the influence
    g = torch.Generator().manual_seed(0)
    X = torch.cat([torch.randn(80, 2, generator=g, dtype=torch.float64), torch.ones(80, 1, dtype=torch.float64)], 1)
    y = X @ torch.tensor([1.0, -0.5, 0.3], dtype=torch.float64) + torch.randn(80, generator=g, dtype=torch.float64)
    x0, y0, delta = torch.tensor([[6.0, -2.0, 1.0]], dtype=torch.float64), torch.tensor([9.0]), 1.0

    def fit(t):
        w = torch.linalg.lstsq(X, y[:, None]).solution[:, 0]
        for _ in range(100):  # Newton on the piecewise quadratic: exact once the branches settle
            r, r_new = y - X @ w, y0 - x0[0] @ w
            grad = X.T @ r.clamp(-delta, delta) + t * r_new.clamp(-delta, delta) * x0[0]
            M = (X.T * (r.abs() < delta).double()) @ X + t * float(r_new.abs() < delta) * torch.outer(x0[0], x0[0])
            w = w + torch.linalg.solve(M, grad)
        return w

    w0 = fit(0.0)
    slope = (fit(1e-4) - fit(-1e-4)) / 2e-4
    r = y - X @ w0
    predicted = huber_influence(X, r, x0, (y0 - x0 @ w0), delta)[0]
    torch.testing.assert_close(slope, predicted, rtol=1e-5, atol=1e-8)


def test_influence_grows_with_leverage_not_with_the_residual():
    g = torch.Generator().manual_seed(1)
    X = torch.cat([torch.randn(50, 1, generator=g, dtype=torch.float64), torch.ones(50, 1, dtype=torch.float64)], 1)
    r = torch.randn(50, generator=g, dtype=torch.float64)
    far = torch.tensor([[10.0, 1.0], [100.0, 1.0]], dtype=torch.float64)
    big = huber_influence(X, r, far, torch.tensor([5.0, 5.0], dtype=torch.float64), 1.0)
    huge = huber_influence(X, r, far, torch.tensor([500.0, 500.0], dtype=torch.float64), 1.0)
    torch.testing.assert_close(big, huge)  # bounded in the residual ...
    assert big[1].norm() > 9 * big[0].norm()  # ... not in x
