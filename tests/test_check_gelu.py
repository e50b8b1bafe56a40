"""Chapter 2's self-checks: the catalogue of answers (run by test_check_contract.py) and the statistical gate."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from catalogue import Catalogue
from mlbits_lite import check

C = math.sqrt(2 / math.pi)


def _cdf(x):
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def _pdf(x):
    return torch.exp(-x**2 / 2) / math.sqrt(2 * math.pi)


# --------------------------------------------------------------------------------------- reference solutions
def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(C * (x + 0.044715 * x**3)))


def gelu_derivative(x):
    return _cdf(x) + x * _pdf(x)


def stochastic_gate(x, generator=None):
    return x * torch.bernoulli(_cdf(x), generator=generator)


# --------------------------------------------------------------------------------------- other right answers
def stochastic_gate_by_uniforms(x, generator=None):
    return torch.where(torch.rand(x.shape, generator=generator, dtype=x.dtype) < _cdf(x), x, torch.zeros_like(x))


def gelu_tanh_by_sigmoid(x):  # ½(1 + tanh(u)) = σ(2u)
    return x * torch.sigmoid(2 * C * (x + 0.044715 * x**3))


# --------------------------------------------------------------------------------------- wrong answers
def _tanh_slope(x):
    t = torch.tanh(C * (x + 0.044715 * x**3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * C * (1 + 3 * 0.044715 * x**2)


def _derivative_by_autograd(x):
    return torch.autograd.grad(F.gelu(x.requires_grad_()).sum(), x)[0]


def _derivative_by_func_grad(x):  # torch.func ignores no_grad: the rule still sees it
    return torch.vmap(torch.func.grad(lambda t: t * _cdf(t)))(x.reshape(-1)).reshape(x.shape)


def _one_gate_per_value(x, g):
    # one draw per distinct value, shared by every entry holding it
    values, inverse = torch.unique(x, return_inverse=True)
    return x * torch.bernoulli(_cdf(values), generator=g)[inverse]


CATALOGUE = {
    check.gelu_tanh: Catalogue(
        reference=gelu_tanh,
        right=[lambda x: F.gelu(x, approximate="tanh"), gelu_tanh_by_sigmoid],
        wrong=[
            (lambda x: x * _cdf(x), "exact GELU"),
            (lambda x: 0.5 * (1 + torch.tanh(C * (x + 0.044715 * x**3))), "gate alone"),
            (lambda x: 0.5 * x * (1 + torch.tanh(C * x)), "cubic term"),
            (lambda x: 0.5 * x * (1 + torch.tanh(C * (x + 0.044715 * x**2))), "x squared"),
            (lambda x: 0.5 * x * (1 + torch.tanh(x + 0.044715 * x**3)), "√(2/π)"),
            (lambda x: x * (1 + torch.tanh(C * (x + 0.044715 * x**3))), "½"),
            (lambda x: x * torch.sigmoid(1.702 * x), "sigmoid approximation"),
            (lambda x: -gelu_tanh(x), "sign"),
            (lambda x: gelu_tanh(x).flatten(), "shape"),
            (lambda x: gelu_tanh(x).tolist(), "torch.Tensor"),
        ],
        mutations={"times_two": "½ in front is missing"},
    ),
    check.gelu_derivative: Catalogue(
        reference=gelu_derivative,
        right=[lambda x: 0.5 * torch.special.erfc(-x / math.sqrt(2)) + x * _pdf(x),
               lambda x: torch.special.ndtr(x) + x * torch.exp(torch.distributions.Normal(0.0, 1.0).log_prob(x))],
        wrong=[
            (lambda x: _cdf(x), "Φ(x) alone"),
            (lambda x: x * _pdf(x), "x·φ(x) alone"),
            (lambda x: _pdf(x), "density φ(x)"),
            (lambda x: x * _cdf(x), "GELU(x) itself"),
            (lambda x: _cdf(x) - x * _pdf(x), "wrong sign"),
            (lambda x: _cdf(x) + x * torch.exp(-x**2 / 2), "normalising constant"),
            (_tanh_slope, "tanh approximation"),
            (lambda x: torch.sigmoid(1.702 * x) * (1 + 1.702 * x * (1 - torch.sigmoid(1.702 * x))), "sigmoid"),
            (_derivative_by_autograd, "by hand"),
            (_derivative_by_func_grad, "torch.func.grad"),
            (lambda x: torch.zeros_like(x), "zero everywhere"),  # the review's case: not "a constant factor"
            (lambda x: (F.gelu(x + 1e-5) - F.gelu(x - 1e-5)) / 2e-5, "not exact"),  # finite differences
        ],
    ),
    check.stochastic_gate: Catalogue(
        reference=stochastic_gate,
        right=[stochastic_gate_by_uniforms,
               lambda x, g: x * torch.bernoulli(_cdf(x).float(), generator=g).double()],
        wrong=[
            (lambda x, g: x * _cdf(x), "expectation"),
            (lambda x, g: x * torch.bernoulli(_cdf(x), generator=g) / _cdf(x), "either 0"),
            (lambda x, g: x * torch.bernoulli(_cdf(x), generator=g) / 0.5, "inverted dropout"),
            (lambda x, g: x * torch.bernoulli(_cdf(x), generator=g) + 0.1, "either 0"),
            (lambda x, g: x * torch.bernoulli(_cdf(x)), "generator"),
            (lambda x, g: torch.relu(x), "ReLU"),
            (lambda x, g: x * torch.bernoulli(_cdf(x).mean(), generator=g), "share one gate"),
            (_one_gate_per_value, "share one gate"),  # the review's case: not "that is ReLU"
            (lambda x, g: x * torch.bernoulli(torch.sigmoid(x), generator=g), "σ(x)"),
            (lambda x, g: x * torch.bernoulli(torch.sigmoid(1.702 * x), generator=g), "sigmoid approximation"),
            (lambda x, g: x * torch.bernoulli(torch.full_like(x, 0.5), generator=g), "dropout"),
            (lambda x, g: x * torch.bernoulli(1 - _cdf(x), generator=g), "1 − Φ(x)"),
            (lambda x, g: x * torch.bernoulli(_cdf(2 * x), generator=g), "does not follow Φ(x)"),
            (lambda x, g: x * (x > 0.7), "same whatever the generator's seed"),
            (lambda x, g: stochastic_gate(x, g)[0], "shape"),
            (lambda x, g: torch.bernoulli(_cdf(x), generator=g), "either 0"),
        ],
        mutations={"zeros": "every gate is closed", "times_two": "inverted dropout",
                   "negated": "multiplied by a constant"},
    ),
}


def test_gate_hints_show_no_numbers():
    import re

    for wrong in (lambda x, g: 1.5 * stochastic_gate(x, g), lambda x, g: x * torch.bernoulli(_cdf(x / 2), generator=g),
                  stochastic_gate):
        assert re.findall(r"\d+\.\d+", check.stochastic_gate(wrong).message) == []
