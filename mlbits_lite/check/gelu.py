"""Self-checks for chapter 2: GELU, the expectation of a random gate.

    taylor_cubic         derive: the cubic coefficient of the tanh gate that matches Φ(x/σ) to third order
    expected_gate_slope  predict: the average gradient autograd gives through the stochastic gate x·m
    gelu_gaussian_mean   derive: the mean of GELU(z) for Gaussian pre-activations z ~ N(μ, s²)
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from ._framework import BY_HAND, NUMBER, Case, CheckResult, Tensor, _hidden_generator, no_autograd, run

__all__ = ["taylor_cubic", "expected_gate_slope", "gelu_gaussian_mean"]


def _cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.special.erfc(-x / math.sqrt(2))  # Φ(x)


def _pdf(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(-x**2 / 2) / math.sqrt(2 * math.pi)  # φ(x)


# ------------------------------------------------------------------------------------------------ Exercise 1
def taylor_cubic(learner: Callable[[float], float]) -> CheckResult:
    """Exercise: the a of ½(1 + tanh(c(x + a x³))) ≈ Φ(x/σ) that matches the x³ term, with c = √(2/π)/σ.

    Args:
        learner: `f(sigma)` for a float sigma > 0, returning a as a number (any numeric type).
    """
    cases = []
    for sigma in (0.5, 1.0, 1.7, 3.0):
        c2 = 2 / (math.pi * sigma**2)  # c², with c = √(2/π)/σ from matching the slope at 0
        a = c2 / 3 - 1 / (6 * sigma**2)  # c·a − c³/3 = −c/(6σ²)
        wrong = {
            "that is the coefficient for σ = 1: with x/σ in place of x, the x³ terms of both series change too":
                2 / (3 * math.pi) - 1 / 6,
            "that is the paper's fitted constant, chosen to minimise the largest error; the exercise asks for the "
            "coefficient that matches the Taylor series": 0.044715,
            "check the sign of the x³ term in Φ's series: Φ(x) = ½ + φ(0)(x − x³/6 + ...)": c2 / 3 + 1 / (6 * sigma**2),
            "tanh(u) = u − u³/3 + ...: its cubic term carries a factor 1/3": c2 - 1 / (6 * sigma**2),
            "only part of the answer scales with σ: the −1/6 from Φ's series scales like the c²/3 from tanh's":
                c2 / 3 - 1 / 6,
            "a multiplies x³ next to x: rescaling x by 1/σ scales a by 1/σ², not 1/σ": (2 / (3 * math.pi) - 1 / 6) / sigma,
            "check the cube of x/√2 in erf's series: (x/√2)³ = x³/(2√2)": c2 / 3 - 1 / (3 * sigma**2),
        }
        cases.append(Case((sigma,), a, wrong))
    return run("taylor_cubic", learner, cases, answer=NUMBER, call="f(sigma)")


# ------------------------------------------------------------------------------------------------ Exercise 2
_EXACT_SLOPE = Tensor(exact=True, near="close, but not exact: give the expectation in closed form, in float64")


def _sampling_noise(x: torch.Tensor, want: torch.Tensor) -> Callable[[torch.Tensor], bool]:
    """Whether an answer scatters around the expectation as a Monte Carlo average does: small errors of both signs."""
    def noisy(got: torch.Tensor) -> bool:
        if got.shape != x.shape or got.numel() < 4 or not torch.isfinite(got).all():
            return False
        error = got.double() - want
        return bool(1e-6 < error.abs().max() < 0.05 and (error > 0).any() and (error < 0).any())
    return noisy


def expected_gate_slope(learner: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: E_m[∂(x·m)/∂x] with m ~ Bernoulli(Φ(x)) drawn, then held fixed as autograd holds it; by hand.

    Args:
        learner: `f(x)` for a float64 tensor x of any shape, returning the expected slope elementwise, shaped like x.
            It runs without autograd.
    """
    g = _hidden_generator("expected_gate_slope")
    cases = []
    for x in (torch.randn(12, generator=g, dtype=torch.float64) * 1.5,
              torch.randn(3, 5, generator=g, dtype=torch.float64) * 2.5,
              torch.tensor(-0.8, dtype=torch.float64)):
        cdf, pdf = _cdf(x), _pdf(x)
        wrong = {
            "that is GELU′(x) = d/dx E[x·m], the slope of the average; autograd takes the slope of each draw with "
            "m held fixed, and the exercise asks for the average of those slopes": cdf + x * pdf,
            "that is the term from the gate's probability Φ(x) changing with x; autograd never sees it, since m "
            "is a constant once drawn": x * pdf,
            "that is the density φ(x), the slope of the gate's probability, not the slope of x·m": pdf,
            "that is ReLU's slope 1[x > 0]: the gate is random, so its slope is random too": (x > 0).double(),
            "the gate does not open with probability ½ whatever x: it opens with a probability that grows with x":
                torch.full_like(x, 0.5),
            "that is the variance of the gate m, not its mean": cdf * (1 - cdf),
            "that is GELU(x) itself, a value rather than a slope": x * cdf,
            "that is the sigmoid approximation σ(1.702x) of the gate's probability; the exercise asks for the exact "
            "expectation": torch.sigmoid(1.702 * x),
            "that is the tanh approximation of the gate's probability; the exercise asks for the exact expectation":
                0.5 * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
            "your answer scatters around the right curve, as a Monte Carlo average does: give the expectation in "
            "closed form": _sampling_noise(x, cdf),
        }
        cases.append(Case((x,), cdf, wrong))
    return run("expected_gate_slope", learner, cases, answer=_EXACT_SLOPE, rules=(no_autograd,), call="f(x)")


# ------------------------------------------------------------------------------------------------ Exercise 3
def gelu_gaussian_mean(learner: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: E[GELU(z)] = E[z·Φ(z)] for z ~ N(μ, s²), in closed form, elementwise.

    Args:
        learner: `f(mu, s)` for float64 tensors of one shape (means, and standard deviations s > 0), returning
            E[z·Φ(z)] for z ~ N(mu, s²), shaped like mu.
    """
    g = _hidden_generator("gelu_gaussian_mean")
    cases = []
    for shape in ((8,), (2, 3), ()):
        mu = torch.randn(shape, generator=g, dtype=torch.float64) * 1.5
        s = 0.2 + 2.8 * torch.rand(shape, generator=g, dtype=torch.float64)  # s = 1 would hide s against s²
        s = torch.where((s - 1).abs() < 0.1, s + 0.3, s)
        r = torch.sqrt(1 + s**2)  # Φ averaged over N(μ, s²) is Φ(μ / r): a normal of variance 1 + s²
        want = mu * _cdf(mu / r) + s**2 / r * _pdf(mu / r)  # μ E[Φ(z)] + s² E[φ(z)]  (Stein's lemma)
        wrong = {
            "that is GELU of the mean, μ·Φ(μ); the mean of GELU is not GELU of the mean (GELU is curved)":
                mu * _cdf(mu),
            "that is the mean of ReLU(z), μΦ(μ/s) + s·φ(μ/s); the exercise asks for GELU(z) = z·Φ(z)":
                mu * _cdf(mu / s) + s * _pdf(mu / s),
            "that is μ·E[Φ(z)] alone: the part of z that varies, z − μ, also correlates with Φ(z) (Stein's lemma)":
                mu * _cdf(mu / r),
            "Φ and φ averaged over z ~ N(μ, s²) are not Φ(μ) and φ(μ): the average is a wider normal":
                mu * _cdf(mu) + s**2 * _pdf(mu),
            "the second term's size is off: Stein's lemma gives E[(z − μ) f(z)] = s² E[f′(z)], with s²":
                mu * _cdf(mu / r) + s / r * _pdf(mu / r),
            "the second term's size is off: E[φ(z)] is the density of a wider normal, which carries its own "
            "normalising factor": mu * _cdf(mu / r) + s**2 * _pdf(mu / r),
            "s is the standard deviation of z, not its variance": mu * _cdf(mu / torch.sqrt(1 + s)) + s / torch.sqrt(
                1 + s) * _pdf(mu / torch.sqrt(1 + s)),
        }
        cases.append(Case((mu, s), want, wrong))
    return run("gelu_gaussian_mean", learner, cases, call="f(mu, s)")
