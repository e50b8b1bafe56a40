"""Self-checks for chapter 1: backward() as a vector–Jacobian product."""
from __future__ import annotations

from typing import Callable

import torch

from ._framework import CheckResult, _hidden_generator, _run

__all__ = ["softmax_vjp", "jacobian_by_jvps", "predict_grad", "hessian_vector_product"]


def softmax_vjp(learner: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: the vector–Jacobian product of softmax, by hand (no autograd).

    Args:
        learner: `f(x, v)` for 1-D tensors x and v of equal length, returning vᵀJ with J the Jacobian of softmax at x.
    """
    g = _hidden_generator("softmax_vjp")
    cases = []
    for n in (2, 5, 17, 1):  # a one-entry softmax last: its Jacobian is 0 and mistakes look alike
        x = torch.randn(n, generator=g, dtype=torch.float64) * 3
        v = torch.randn(n, generator=g, dtype=torch.float64)
        s = torch.softmax(x, dim=0)
        want = s * (v - s @ v)  # J = diag(s) - s sᵀ, so vᵀJ = s ⊙ (v - sᵀv)
        wrong = {
            "you kept the diagonal of J but missed the term from the normalising sum": s * v,
            "you used x where softmax(x) belongs": x * (v - x @ v),
            "you multiplied by the Jacobian of exp instead of softmax": torch.exp(x) * v,
        }
        if n > 1:
            cases.append(((x, v), want, wrong))
        else:  # a softmax over one entry is constant: its Jacobian is 0
            cases.append(((x, v), want, {}))
    return _run("softmax_vjp", learner, cases, no_grad=True)


def jacobian_by_jvps(learner: Callable[[Callable, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: build a full Jacobian from one JVP per input column.

    Args:
        learner: `f(fn, x)` for a function fn of a 1-D tensor x returning a 1-D tensor; returns J of shape (m, n).
    """
    g = _hidden_generator("jacobian_by_jvps")
    cases = []
    for m, n in ((3, 5), (6, 2), (1, 4), (4, 1)):  # wide, tall, a gradient, a single input
        W = torch.randn(m, n, generator=g, dtype=torch.float64)
        b = torch.randn(m, generator=g, dtype=torch.float64)

        def fn(x: torch.Tensor, W: torch.Tensor = W, b: torch.Tensor = b) -> torch.Tensor:
            return torch.tanh(W @ x + b) * (1 + x.sum())

        x = torch.randn(n, generator=g, dtype=torch.float64)
        want = torch.autograd.functional.jacobian(fn, x)  # (m, n)
        wrong = {"rows and columns are swapped: column j of J is J e_j": want.T} if m != n else {}
        cases.append(((fn, x), want, wrong))
    return _run("jacobian_by_jvps", learner, cases)


def predict_grad(learner: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Exercise: predict `.grad` after repeated backward calls on y = sum(x³), by formula (no autograd).

    Args:
        learner: `f(x, calls)` returning what `x.grad` holds after `calls` calls of
            `y.backward(retain_graph=True)` with y = (x ** 3).sum(), starting from `x.grad = None`, never zeroed.
    """
    g = _hidden_generator("predict_grad")
    cases = []
    for calls in (1, 2, 3, 7):
        x = torch.randn(4, generator=g, dtype=torch.float64)
        dy_dx = 3 * x**2  # d/dx sum(x^3)
        want = calls * dy_dx  # .grad accumulates: each backward adds dy/dx
        wrong = {
            "that is the gradient of one backward call: .grad accumulates across calls": dy_dx,
            "that is the value of y's terms, not a derivative": x**3 * calls,
        }
        if calls == 1:
            wrong.pop("that is the gradient of one backward call: .grad accumulates across calls")
        cases.append(((x, calls), want, wrong))
    return _run("predict_grad", learner, cases, no_grad=True)


def hessian_vector_product(learner: Callable[[Callable, torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: a Hessian–vector product by differentiating the gradient (create_graph=True).

    Args:
        learner: `f(fn, x, v)` for a scalar function fn of a 1-D tensor x, returning H v (shape of x).
    """
    g = _hidden_generator("hessian_vector_product")
    cases = []
    for n in (1, 3, 8):
        A = torch.randn(n, n, generator=g, dtype=torch.float64)

        def fn(x: torch.Tensor, A: torch.Tensor = A) -> torch.Tensor:
            return torch.log1p((A @ x).pow(2).sum()) + x.pow(3).sum()

        x = torch.randn(n, generator=g, dtype=torch.float64)
        v = torch.randn(n, generator=g, dtype=torch.float64)
        H = torch.autograd.functional.hessian(fn, x)
        want = H @ v
        wrong = {
            "that is the gradient, not the Hessian times v": torch.autograd.functional.jacobian(fn, x),
            "that is the full Hessian: multiply it by v, or better, never form it": H,
        }
        cases.append(((fn, x, v), want, wrong))
    return _run("hessian_vector_product", learner, cases)
