"""Self-checks: a right answer passes, each typical mistake fails with its hint, and no hint leaks the answer."""
from __future__ import annotations

import re

import pytest
import torch

from mlbits_lite import check


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d+\.\d+", text)


# --------------------------------------------------------------------------------------- reference solutions
def softmax_vjp(x, v):
    s = torch.softmax(x, dim=0)
    return s * (v - s @ v)


def jacobian_by_jvps(fn, x):
    columns = [torch.func.jvp(fn, (x,), (e,))[1] for e in torch.eye(x.numel(), dtype=x.dtype)]
    return torch.stack(columns, dim=1)


def predict_grad(x, calls):
    return calls * 3 * x**2


def hessian_vector_product(fn, x, v):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x), x, create_graph=True)
    return torch.autograd.grad(grad @ v, x)[0]


CASES = [
    (check.softmax_vjp, softmax_vjp),
    (check.jacobian_by_jvps, jacobian_by_jvps),
    (check.predict_grad, predict_grad),
    (check.hessian_vector_product, hessian_vector_product),
]


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda x, v: torch.softmax(x, 0) * v, "normalising sum"),  # forgot -s s^T
        (lambda x, v: -softmax_vjp(x, v), "sign"),
        (lambda x, v: 2 * softmax_vjp(x, v), "constant factor"),
        (lambda x, v: softmax_vjp(x, v)[:-1], "shape"),
        (lambda x, v: softmax_vjp(x, v).numpy(), "torch.Tensor"),
        (lambda x, v: x * (v - x @ v), "you used x"),
        (lambda x, v: torch.autograd.grad(torch.softmax(x.requires_grad_(), 0), x, v)[0], "without autograd"),
    ],
)
def test_softmax_vjp_mistakes_get_their_hint(wrong, hint):
    result = check.softmax_vjp(wrong)
    assert not result
    assert hint in result.message, result.message


def test_jacobian_transposed_is_named():
    result = check.jacobian_by_jvps(lambda fn, x: jacobian_by_jvps(fn, x).T)
    assert not result and "swapped" in result.message


def test_predict_grad_without_accumulation_is_named():
    result = check.predict_grad(lambda x, calls: 3 * x**2)
    assert not result and "accumulates" in result.message


def test_hvp_returning_the_gradient_is_named():
    def gradient(fn, x, v):
        x = x.detach().requires_grad_(True)
        return torch.autograd.grad(fn(x), x)[0]

    result = check.hessian_vector_product(gradient)
    assert not result and "gradient" in result.message


def test_no_message_contains_a_number_from_the_reference():
    # hints name the kind of mistake, never values: no decimals appear in any message
    for run_check, solution in CASES:
        for wrong in (lambda *a, s=solution: 1.5 * s(*a), lambda *a, s=solution: s(*a) + 0.25):
            assert _numbers(run_check(wrong).message) == []


def test_hidden_cases_are_deterministic():
    assert check.softmax_vjp(lambda x, v: 1.1 * softmax_vjp(x, v)).message == \
        check.softmax_vjp(lambda x, v: 1.1 * softmax_vjp(x, v)).message
