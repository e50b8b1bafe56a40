"""Self-checks of chapter 3: a right answer passes, each typical mistake gets its hint, no hint leaks the answer."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from mlbits_lite import check


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d+\.\d+", text)


# --------------------------------------------------------------------------------------- reference solutions
def huber(input, target, delta):
    z = (input - target).abs()
    return torch.where(z < delta, 0.5 * z**2, delta * (z - 0.5 * delta))


def delta_for_fraction(sigma, fraction):
    return sigma * torch.special.ndtri(1 - fraction / 2)


def gradient_ratio(residual, delta, beta):
    return residual.clamp(-delta, delta) / (residual / beta).clamp(-1, 1)


CASES = [
    (check.huber_elementwise, huber),
    (check.delta_for_fraction, delta_for_fraction),
    (check.huber_gradient_ratio, gradient_ratio),
]
IDS = ["huber_elementwise", "delta_for_fraction", "huber_gradient_ratio"]


def test_other_right_answers_pass():
    assert check.huber_elementwise(lambda x, y, d: F.huber_loss(x, y, delta=d, reduction="none"))
    assert check.huber_elementwise(lambda x, y, d: d * F.smooth_l1_loss(x, y, beta=d, reduction="none"))
    assert check.delta_for_fraction(lambda s, p: s * 2**0.5 * torch.erfinv(1 - p))


def _where(z, delta, inside, outside):
    return torch.where(z < delta, inside, outside)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda x, y, d: 0.5 * (x - y) ** 2, "L2"),
        (lambda x, y, d: (x - y).abs(), "L1"),
        (lambda x, y, d: F.smooth_l1_loss(x, y, beta=d, reduction="none"), "Smooth L1"),
        (lambda x, y, d: _where((x - y).abs(), d, (x - y) ** 2, d * ((x - y).abs() - 0.5 * d)), "factor ½"),
        (lambda x, y, d: _where((x - y).abs(), d, 0.5 * (x - y) ** 2, d * (x - y).abs()), "offset"),
        (lambda x, y, d: F.smooth_l1_loss(x, y, beta=d, reduction="none") * 1 + 0 * d, "Smooth L1"),
        (lambda x, y, d: F.huber_loss(x, y, delta=d), "shape"),  # the mean, not one value per element
        (lambda x, y, d: F.huber_loss(x, y, delta=d, reduction="none").numpy(), "torch.Tensor"),
        (lambda x, y, d: -huber(x, y, d), "sign"),
    ],
)
def test_huber_mistakes_get_their_hint(wrong, hint):
    result = check.huber_elementwise(wrong)
    assert not result and result.attempted
    assert hint in result.message, result.message


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda s, p: s * torch.special.ndtri(1 - p), "one tail"),
        (lambda s, p: s * torch.special.ndtri((1 + p) / 2), "inside the quadratic branch"),
        (lambda s, p: s**2 * torch.special.ndtri(1 - p / 2), "variance"),
        (lambda s, p: torch.special.ndtri(1 - p / 2) + 0 * s, "scale with sigma"),
        (lambda s, p: 2 * delta_for_fraction(s, p), "constant factor"),
    ],
)
def test_delta_mistakes_get_their_hint(wrong, hint):
    result = check.delta_for_fraction(wrong)
    assert not result
    assert hint in result.message, result.message


def test_delta_with_scipy_array_is_told_to_return_a_tensor():
    from scipy.stats import norm

    result = check.delta_for_fraction(lambda s, p: s.numpy() * norm.ppf(1 - p.numpy() / 2))
    assert not result and "torch.Tensor" in result.message


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda r, d, b: 1 / gradient_ratio(r, d, b), "upside down"),
        (lambda r, d, b: torch.full_like(r, d), "only when beta = delta"),
        (lambda r, d, b: torch.full_like(r, b), "beta everywhere"),
        (lambda r, d, b: huber(r, 0 * r, d) / F.smooth_l1_loss(r, 0 * r, beta=b, reduction="none"), "losses"),
    ],
)
def test_gradient_ratio_mistakes_get_their_hint(wrong, hint):
    result = check.huber_gradient_ratio(wrong)
    assert not result
    assert hint in result.message, result.message


def test_gradient_ratio_by_autograd_is_refused_politely():
    def by_autograd(r, d, b):
        r = r.clone().requires_grad_(True)
        (gh,) = torch.autograd.grad(F.huber_loss(r, torch.zeros_like(r), delta=d, reduction="sum"), r)
        return gh

    result = check.huber_gradient_ratio(by_autograd)
    assert not result and "by hand" in result.message


def test_no_message_contains_a_number_from_the_reference():
    for run_check, solution in CASES:
        for wrong in (lambda *a, s=solution: 1.5 * s(*a), lambda *a, s=solution: s(*a) + 0.25):
            message = run_check(wrong).message
            assert _numbers(message) == [], message


def test_hidden_cases_are_deterministic():
    wrong = lambda x, y, d: 1.1 * huber(x, y, d)  # noqa: E731
    assert check.huber_elementwise(wrong).message == check.huber_elementwise(wrong).message
