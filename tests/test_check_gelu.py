"""Chapter 2's self-checks: the catalogue of answers (run by test_check_contract.py), and what each check enforces."""
from __future__ import annotations

import math

import numpy as np
import torch

from catalogue import Catalogue
from mlbits_lite import check


def _cdf(x):
    return torch.special.ndtr(x)


def _pdf(x):
    return torch.exp(-x**2 / 2) / math.sqrt(2 * math.pi)


# --------------------------------------------------------------------------------------- reference solutions
def taylor_cubic(sigma):
    return (2 / (3 * math.pi) - 1 / 6) / sigma**2


def expected_gate_slope(x):
    return _cdf(x)


def gelu_gaussian_mean(mu, s):
    r = torch.sqrt(1 + s**2)
    return mu * _cdf(mu / r) + s**2 / r * _pdf(mu / r)


# --------------------------------------------------------------------------------------- other right answers
def taylor_cubic_from_c(sigma):  # c a − c³/3 = −c/(6σ²), solved for a, as a NumPy number
    c = np.sqrt(2 / np.pi) / sigma
    return (c**3 / 3 - c / (6 * sigma**2)) / c


def gelu_gaussian_mean_by_quadrature(mu, s):
    """Gauss–Hermite quadrature of E[z Φ(z)]: exact to round-off for this smooth integrand, no closed form needed."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(120)  # ∫ f(t) e^{-t²/2} dt ≈ Σ w f(t)
    t = torch.tensor(nodes, dtype=torch.float64)
    w = torch.tensor(weights / math.sqrt(2 * math.pi), dtype=torch.float64)
    z = mu[..., None] + s[..., None] * t  # (..., nodes)
    return (w * z * _cdf(z)).sum(-1)


def gelu_gaussian_mean_by_erfc(mu, s):
    var = 1 + s * s
    return mu * 0.5 * torch.special.erfc(-mu / torch.sqrt(2 * var)) + s * s * torch.exp(-mu**2 / (2 * var)) / \
        torch.sqrt(2 * math.pi * var)


# --------------------------------------------------------------------------------------- wrong answers
def _slope_by_autograd(x):
    x = x.clone().requires_grad_()
    m = torch.bernoulli(_cdf(x.detach()).expand(2000, *x.shape))
    return torch.autograd.grad((x * m).mean(0).sum(), x)[0]


def _slope_by_monte_carlo(x):  # the right idea, by sampling: 20,000 gates per entry
    g = torch.Generator().manual_seed(0)
    return torch.bernoulli(_cdf(x).expand(20000, *x.shape), generator=g).mean(0)


def _slope_in_float32(x):
    return _cdf(x.float()).double()


CATALOGUE = {
    check.taylor_cubic: Catalogue(
        reference=taylor_cubic,
        right=[taylor_cubic_from_c,
               lambda sigma: torch.tensor((4 - math.pi) / (6 * math.pi * sigma**2)),
               lambda sigma: np.float32(2 / (3 * math.pi) - 1 / 6) / np.float64(sigma)**2 + 0.0],
        wrong=[
            (lambda sigma: 2 / (3 * math.pi) - 1 / 6, "coefficient for σ = 1"),
            (lambda sigma: 0.044715, "fitted constant"),
            (lambda sigma: (2 / (3 * math.pi) + 1 / 6) / sigma**2, "sign of the x³ term"),
            (lambda sigma: (2 / math.pi - 1 / 6) / sigma**2, "factor 1/3"),
            (lambda sigma: 2 / (3 * math.pi * sigma**2) - 1 / 6, "only part of the answer scales"),
            (lambda sigma: (2 / (3 * math.pi) - 1 / 6) / sigma, "not 1/σ"),
            (lambda sigma: (2 / (3 * math.pi) - 1 / 3) / sigma**2, "cube of x/√2"),
            (lambda sigma: (2 / (3 * math.pi) - 1 / 6) * sigma**2, "the value differs"),
            (lambda sigma: "0.0455", "returned a str"),
            (lambda sigma: [taylor_cubic(sigma)], "returned a list"),
        ],
    ),
    check.expected_gate_slope: Catalogue(
        reference=expected_gate_slope,
        right=[lambda x: 0.5 * torch.special.erfc(-x / math.sqrt(2)),
               lambda x: 0.5 + 0.5 * torch.erf(x / math.sqrt(2)),
               lambda x: 1 - _cdf(-x)],
        wrong=[
            (lambda x: _cdf(x) + x * _pdf(x), "GELU′(x)"),
            (lambda x: x * _pdf(x), "never sees it"),
            (_pdf, "density φ(x)"),
            (lambda x: (x > 0).double(), "ReLU's slope"),
            (lambda x: torch.full_like(x, 0.5), "probability ½"),
            (lambda x: _cdf(x) * (1 - _cdf(x)), "variance of the gate"),
            (lambda x: x * _cdf(x), "GELU(x) itself"),
            (lambda x: torch.sigmoid(1.702 * x), "sigmoid approximation"),
            (lambda x: 0.5 * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))), "tanh approximation"),
            (_slope_by_monte_carlo, "Monte Carlo"),
            (_slope_by_autograd, "is autograd"),
            (_slope_in_float32, "not exact"),
            (lambda x: _cdf(x).flatten(), "shape"),
            (lambda x: 1 - _cdf(x), "the values differ"),
        ],
    ),
    check.gelu_gaussian_mean: Catalogue(
        reference=gelu_gaussian_mean,
        right=[gelu_gaussian_mean_by_quadrature, gelu_gaussian_mean_by_erfc],
        wrong=[
            (lambda mu, s: mu * _cdf(mu), "GELU of the mean"),
            (lambda mu, s: mu * _cdf(mu / s) + s * _pdf(mu / s), "mean of ReLU(z)"),
            (lambda mu, s: mu * _cdf(mu / torch.sqrt(1 + s**2)), "μ·E[Φ(z)] alone"),
            (lambda mu, s: mu * _cdf(mu) + s**2 * _pdf(mu), "a wider normal"),
            (lambda mu, s: mu * _cdf(mu / torch.sqrt(1 + s**2)) + s / torch.sqrt(1 + s**2) * _pdf(
                mu / torch.sqrt(1 + s**2)), "with s²"),
            (lambda mu, s: mu * _cdf(mu / torch.sqrt(1 + s**2)) + s**2 * _pdf(mu / torch.sqrt(1 + s**2)),
             "normalising factor"),
            (lambda mu, s: mu * _cdf(mu / torch.sqrt(1 + s)) + s / torch.sqrt(1 + s) * _pdf(mu / torch.sqrt(1 + s)),
             "not its variance"),
            (lambda mu, s: gelu_gaussian_mean(mu, s).tolist(), "torch.Tensor"),
            (lambda mu, s: gelu_gaussian_mean(mu, s)[..., None], "shape"),
        ],
    ),
}


# --------------------------------------------------------------------------------------- the checks' own rules
def test_expected_gate_slope_refuses_autograd_even_when_exact():
    def by_autograd_of_the_expectation(x):  # d/dx of x·Φ(x) minus the x·φ term: exact, but by autograd
        x = x.clone().requires_grad_()
        (slope,) = torch.autograd.grad((x * _cdf(x)).sum(), x)
        return slope.detach() - x.detach() * _pdf(x.detach())

    result = check.expected_gate_slope(by_autograd_of_the_expectation)
    assert not result and "autograd" in result.message


def test_monte_carlo_hint_needs_scatter_of_both_signs():
    # a constant offset is not sampling noise: it gets no Monte Carlo hint
    result = check.expected_gate_slope(lambda x: _cdf(x) + 1e-3)
    assert not result and "Monte Carlo" not in result.message


def test_taylor_cubic_is_called_with_sigma():
    result = check.taylor_cubic(lambda: 0.0455)
    assert not result and "f(sigma)" in result.message


def test_gelu_gaussian_mean_reference_tends_to_gelu_and_to_stein():
    mu = torch.linspace(-3, 3, 13, dtype=torch.float64)
    tiny = torch.full_like(mu, 1e-6)
    torch.testing.assert_close(gelu_gaussian_mean(mu, tiny), mu * _cdf(mu))  # s → 0: GELU(μ)
    one = torch.ones(1, dtype=torch.float64)
    torch.testing.assert_close(gelu_gaussian_mean(0 * one, one), one / (2 * math.sqrt(math.pi)))  # E[zΦ(z)], N(0,1)
