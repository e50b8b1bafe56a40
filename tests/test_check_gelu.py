"""Self-checks of chapter 2: right answers pass, typical mistakes get their hint, no hint leaks a number."""
from __future__ import annotations

import math
import re

import pytest
import torch

from mlbits_lite import check

C = math.sqrt(2 / math.pi)


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d+\.\d+", text)


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


def stochastic_gate_by_uniforms(x, generator=None):
    return torch.where(torch.rand(x.shape, generator=generator, dtype=x.dtype) < _cdf(x), x, torch.zeros_like(x))


CASES = [
    (check.gelu_tanh, gelu_tanh),
    (check.gelu_derivative, gelu_derivative),
    (check.stochastic_gate, stochastic_gate),
]


def test_other_right_answers_pass():
    assert check.gelu_tanh(lambda x: torch.nn.functional.gelu(x, approximate="tanh"))
    assert check.gelu_derivative(lambda x: 0.5 * torch.special.erfc(-x / math.sqrt(2)) + x * _pdf(x))
    assert check.stochastic_gate(stochastic_gate_by_uniforms)
    assert check.stochastic_gate(lambda x, g: x * torch.bernoulli(_cdf(x).float(), generator=g).double())


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda x: x * _cdf(x), "exact GELU"),
        (lambda x: 0.5 * (1 + torch.tanh(C * (x + 0.044715 * x**3))), "gate alone"),
        (lambda x: 0.5 * x * (1 + torch.tanh(C * x)), "cubic term"),
        (lambda x: 0.5 * x * (1 + torch.tanh(C * (x + 0.044715 * x**2))), "x squared"),
        (lambda x: 0.5 * x * (1 + torch.tanh(x + 0.044715 * x**3)), "√(2/π)"),
        (lambda x: 2 * gelu_tanh(x), "½"),
        (lambda x: x * torch.sigmoid(1.702 * x), "sigmoid approximation"),
        (lambda x: -gelu_tanh(x), "sign"),
        (lambda x: gelu_tanh(x).flatten(), "shape"),
        (lambda x: gelu_tanh(x).tolist(), "torch.Tensor"),
    ],
)
def test_gelu_tanh_mistakes_get_their_hint(wrong, hint):
    result = check.gelu_tanh(wrong)
    assert not result and result.attempted
    assert hint in result.message, result.message


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda x: _cdf(x), "Φ(x) alone"),
        (lambda x: x * _pdf(x), "x·φ(x) alone"),
        (lambda x: _pdf(x), "density φ(x)"),
        (lambda x: x * _cdf(x), "GELU(x) itself"),
        (lambda x: _cdf(x) - x * _pdf(x), "wrong sign"),
        (lambda x: _cdf(x) + x * torch.exp(-x**2 / 2), "normalising constant"),
        (lambda x: torch.autograd.grad(gelu_tanh(x.requires_grad_()).sum(), x)[0], "by hand"),
    ],
)
def test_gelu_derivative_mistakes_get_their_hint(wrong, hint):
    result = check.gelu_derivative(wrong)
    assert not result
    assert hint in result.message, result.message


def test_gelu_derivative_of_the_tanh_form_is_named():
    def tanh_slope(x):
        t = torch.tanh(C * (x + 0.044715 * x**3))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * C * (1 + 3 * 0.044715 * x**2)

    result = check.gelu_derivative(tanh_slope)
    assert not result and "tanh approximation" in result.message


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda x, g: x * _cdf(x), "expectation"),
        (lambda x, g: x * torch.bernoulli(_cdf(x), generator=g) / 0.5, "rescaled"),
        (lambda x, g: x * torch.bernoulli(_cdf(x), generator=g) + 0.1, "either 0"),
        (lambda x, g: x * torch.bernoulli(_cdf(x)), "generator"),
        (lambda x, g: torch.relu(x), "ReLU"),
        (lambda x, g: x * torch.bernoulli(_cdf(x).mean(), generator=g), "share one gate"),  # one gate in all
        (lambda x, g: x * torch.bernoulli(torch.sigmoid(x), generator=g), "σ(x)"),
        (lambda x, g: x * torch.bernoulli(torch.full_like(x, 0.5), generator=g), "dropout"),
        (lambda x, g: x * torch.bernoulli(1 - _cdf(x), generator=g), "1 − Φ(x)"),
        (lambda x, g: x * torch.bernoulli(_cdf(2 * x), generator=g), "does not follow Φ(x)"),
        (lambda x, g: stochastic_gate(x, g)[0], "shape"),
        (lambda x, g: torch.bernoulli(_cdf(x), generator=g), "either 0"),
    ],
)
def test_stochastic_gate_mistakes_get_their_hint(wrong, hint):
    result = check.stochastic_gate(wrong)
    assert not result and result.attempted
    assert hint in result.message, result.message


def test_a_crash_is_reported_not_raised():
    result = check.stochastic_gate(lambda x, g: x.undefined_method())
    assert not result and "AttributeError" in result.message
    result = check.gelu_tanh(lambda x: 1 / 0)
    assert not result and "ZeroDivisionError" in result.message


def test_no_message_contains_a_number_from_the_reference():
    for run_check, solution in CASES[:2]:
        for wrong in (lambda x, s=solution: 1.5 * s(x), lambda x, s=solution: s(x) + 0.25):
            assert _numbers(run_check(wrong).message) == []
    for wrong in (lambda x, g: 1.5 * stochastic_gate(x, g), lambda x, g: x * torch.bernoulli(_cdf(x / 2), generator=g)):
        assert _numbers(check.stochastic_gate(wrong).message) == []
    assert _numbers(check.stochastic_gate(stochastic_gate).message) == []


def test_hidden_cases_are_deterministic():
    wrong = lambda x, g: x * torch.bernoulli(_cdf(0.9 * x), generator=g)  # noqa: E731
    assert check.stochastic_gate(wrong).message == check.stochastic_gate(wrong).message
    scaled = lambda x: 1.1 * gelu_tanh(x)  # noqa: E731
    assert check.gelu_tanh(scaled).message == check.gelu_tanh(scaled).message
