"""GELU and Mish: smooth activations that weigh an input by a gate instead of cutting it at zero.

    gelu(x)              x·Φ(x), Φ the standard normal CDF: the expectation of x·m with m ~ Bernoulli(Φ(x))
    gelu(x, "tanh")      ½x(1 + tanh(√(2/π)(x + 0.044715x³)))   (PyTorch's approximate="tanh")
    gelu(x, "sigmoid")   x·σ(1.702x)                             (the cheapest form, "quick GELU")
    gelu_monte_carlo     the mean of x·m over num_samples random gates: an estimate of gelu(x)
    mish(x)              x·tanh(softplus(x))

``GELU`` and ``Mish`` are the ``nn.Module`` twins of ``gelu`` and ``mish``. Everything works elementwise on any
shape, dtype (floating point) and device, and is differentiable.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ._validate import require_choice, require_floating_tensor, require_positive_int

__all__ = ["APPROXIMATIONS", "gelu", "gelu_monte_carlo", "mish", "GELU", "Mish"]

APPROXIMATIONS = ("none", "tanh", "sigmoid")
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)  # 0.7978845608..., PyTorch's kBeta
TANH_CUBIC = 0.044715  # the cubic coefficient of the tanh form (a fit, not a Taylor coefficient)
SIGMOID_SCALE = 1.702  # σ(1.702x) ≈ Φ(x)


def _normal_cdf(x: torch.Tensor) -> torch.Tensor:
    # Φ(x) = ½ erfc(-x/√2): the same as ½(1 + erf(x/√2)), without its cancellation to 0 in the left tail
    return 0.5 * torch.special.erfc(-x / math.sqrt(2.0))


_HALF_TYPES = (torch.float16, torch.bfloat16)


def gelu(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """The Gaussian error linear unit, GELU(x) = x·Φ(x), exactly or by one of two approximations.

    Args:
        x: Floating-point tensor of any shape.
        approximate: ``"none"`` for x·Φ(x) with Φ(x) = ½ erfc(-x/√2) (``F.gelu``'s default); ``"tanh"`` for
            ½x(1 + tanh(√(2/π)(x + 0.044715x³))) (``F.gelu(approximate="tanh")``); ``"sigmoid"`` for x·σ(1.702x).

    Returns:
        A tensor shaped like ``x``, in its dtype; float16 and bfloat16 are computed in float32 and rounded once,
        as ``F.gelu`` does.

    Raises:
        TypeError: ``x`` is not a floating-point tensor.
        ValueError: ``approximate`` is not one of "none", "tanh", "sigmoid".
    """
    require_floating_tensor("x", x)
    require_choice("approximate", approximate, APPROXIMATIONS)
    if x.dtype in _HALF_TYPES:  # like PyTorch: compute in float32, round once (each half-precision step would round)
        return gelu(x.float(), approximate).to(x.dtype)
    if approximate == "tanh":
        return 0.5 * x * (1.0 + torch.tanh(SQRT_2_OVER_PI * (x + TANH_CUBIC * x**3)))  # ½x(1 + tanh(c(x + ax³)))
    if approximate == "sigmoid":
        return x * torch.sigmoid(SIGMOID_SCALE * x)  # x·σ(1.702x)
    return x * _normal_cdf(x)  # x·Φ(x)


def gelu_monte_carlo(x: torch.Tensor, num_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Estimate GELU(x) = E[x·m], m ~ Bernoulli(Φ(x)), by the mean of x·m over ``num_samples`` random gates.

    The number of open gates among n independent draws is Binomial(n, Φ(x)), so one binomial draw per entry
    gives the same estimate as n Bernoulli draws, in memory independent of n. Its standard deviation is
    |x|·√(Φ(x)(1 − Φ(x))/n): the error shrinks like 1/√n.
    With ``num_samples=1`` the result is one draw of the stochastic gate x·m itself: a regulariser for training.

    Args:
        x: Floating-point tensor of any shape.
        num_samples: Number of random gates averaged per entry, at least 1.
        generator: Optional ``torch.Generator`` on x's device, for reproducible draws.

    Returns:
        A tensor shaped like ``x``; differentiable in x with the gates held fixed.

    Raises:
        TypeError: ``x`` is not a floating-point tensor, ``num_samples`` is not an int, or ``generator`` is
            neither None nor a ``torch.Generator``.
        ValueError: ``num_samples`` is less than 1.
    """
    require_floating_tensor("x", x)
    num_samples = require_positive_int("num_samples", num_samples)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    p = _normal_cdf(x.detach())  # the gate's probability of opening, Φ(x)
    if num_samples == 1:  # Binomial(1, p) is Bernoulli(p), which torch draws faster: one stochastic gate
        return x * torch.bernoulli(p, generator=generator)  # x·m
    p = p.double()  # counts up to n must be exact
    opened = torch.binomial(torch.full_like(p, float(num_samples)), p, generator=generator)  # Σ mᵢ ~ Bin(n, Φ)
    return x * (opened / num_samples).to(x.dtype)  # (1/n) Σᵢ x·mᵢ


def _softplus(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x, min=0) + torch.log1p(torch.exp(-x.abs()))  # log(1 + eˣ) without overflow


def mish(x: torch.Tensor) -> torch.Tensor:
    """Mish(x) = x·tanh(softplus(x)), with softplus(x) = log(1 + eˣ).

    Args:
        x: Floating-point tensor of any shape.

    Returns:
        A tensor shaped like ``x``.

    Raises:
        TypeError: ``x`` is not a floating-point tensor.
    """
    require_floating_tensor("x", x)
    return x * torch.tanh(_softplus(x))  # x·tanh(log(1 + eˣ))


class GELU(nn.Module):
    """Module twin of :func:`gelu`.

    Args:
        approximate: ``"none"``, ``"tanh"`` or ``"sigmoid"``, as in :func:`gelu`.
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = require_choice("approximate", approximate, APPROXIMATIONS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Mish(nn.Module):
    """Module twin of :func:`mish`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mish(x)
