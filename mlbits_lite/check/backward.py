"""Self-checks for chapter 1: backward() as a vector–Jacobian product."""
from __future__ import annotations

from typing import Callable

import torch

from ._framework import (BY_HAND, Case, CheckResult, Counted, Rule, Tensor, _hidden_generator, autograd_functions,
                         gradient_calls, no_autograd, no_hessian, run)

__all__ = ["softmax_vjp", "jacobian_by_jvps", "predict_grad", "hessian_vector_product"]


def softmax_vjp(learner: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: the vector–Jacobian product of softmax, by hand (no autograd: the check watches for it).

    Args:
        learner: `f(x, v)` for 1-D tensors x and v of equal length, returning vᵀJ with J the Jacobian of softmax at x.
    """
    g = _hidden_generator("softmax_vjp")
    cases = []
    for n in (3, 5, 17, 1):  # n >= 3 first (with n = 2 every answer summing to 0 is proportional); n = 1 last: J = 0
        x = torch.randn(n, generator=g, dtype=torch.float64) * 3
        v = torch.randn(n, generator=g, dtype=torch.float64)
        s = torch.softmax(x, dim=0)
        want = s * (v - s @ v)  # J = diag(s) - s sᵀ, so vᵀJ = s ⊙ (v - sᵀv)
        wrong = {
            "you kept the diagonal of J but missed the term from the normalising sum": s * v,
            "you left out the factor s in front: vᵀJ = s ⊙ (v - sᵀv)": v - s @ v,
            "of s sᵀ you kept only its diagonal: the term from the normalising sum couples every pair of entries":
                s * v - s**2 * v,
            "sᵀv weighs each v_i by s_i; that is the plain mean of v": s * (v - v.mean()),
            "sᵀv weighs each v_i by s_i; that is the plain sum of v": s * (v - v.sum()),
            "that is the VJP of log-softmax, v - s·Σv": v - s * v.sum(),
            "you used x where softmax(x) belongs": x * (v - x @ v),
            "you multiplied by the Jacobian of exp instead of softmax": torch.exp(x) * v,
        }
        cases.append(Case((x, v), want, wrong))
    return run("softmax_vjp", learner, cases, answer=BY_HAND, rules=(no_autograd,))


only_the_given_jvp = Rule("this exercise builds J from the `jvp` it is given, and your function called {name}: use "
                          "that `jvp`, one call per column", autograd_functions())


def _jvp(func: Callable, primals: tuple, tangents: tuple) -> tuple:
    return torch.func.jvp(func, primals, tangents)


def jacobian_by_jvps(learner: Callable[[Callable, torch.Tensor, Callable], torch.Tensor]) -> CheckResult:
    """Exercise: build a full Jacobian from one JVP per input column, with the `jvp` the check passes in.

    The check counts the calls of that `jvp`: one per input is asked for; other autograd is refused.

    Args:
        learner: `f(fn, x, jvp)` for a function fn of a 1-D tensor x returning a 1-D tensor, and `jvp` with
            `torch.func.jvp`'s signature, `jvp(fn, (x,), (u,)) -> (fn(x), J u)`; returns J of shape (m, n).
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
        wrong = {
            "rows and columns are swapped: column j of J is J e_j": want.T,
            "every column used the same tangent: column j needs the unit vector e_j":
                (want @ x)[:, None].expand(m, n),
            "every column used the tangent of ones: column j needs the unit vector e_j":
                want.sum(1, keepdim=True).expand(m, n),
            "`jvp` returns (fn(x), J u): the columns are its second output": fn(x)[:, None].expand(m, n),
        }
        cases.append(Case((fn, x, Counted(_jvp, "jvp", n, "input (column of J)")), want, wrong))
    return run("jacobian_by_jvps", learner, cases, rules=(only_the_given_jvp,), call="f(fn, x, jvp)")


def predict_grad(learner: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Exercise: predict `.grad` after repeated backward calls on y = sum(x³), by formula (no autograd).

    Args:
        learner: `f(x, calls)` returning what `x.grad` holds after `calls` calls of
            `y.backward(retain_graph=True)` with y = (x ** 3).sum(), starting from `x.grad = None`, never zeroed.
    """
    g = _hidden_generator("predict_grad")
    cases = []
    for calls in (2, 3, 7, 1):
        x = torch.randn(4, generator=g, dtype=torch.float64)
        dy_dx = 3 * x**2  # d/dx sum(x³)
        want = calls * dy_dx  # .grad accumulates: each backward adds dy/dx
        wrong = {
            "that is the gradient of one backward call: .grad accumulates across calls": dy_dx,
            "that is the value of y's terms, not a derivative": x**3 * calls,
            "d/dx x³ is 3x², not 3x": calls * 3 * x,
            "d/dx x³ is 3x²: the factor 3 is missing": calls * x**2,
            "every one of the `calls` calls adds its gradient, the first one too": (calls - 1) * dy_dx,
            "the calls add their gradients; they do not multiply them": dy_dx**calls,
        }
        cases.append(Case((x, calls), want, wrong))
    return run("predict_grad", learner, cases, answer=BY_HAND, rules=(no_autograd,))


def hessian_vector_product(learner: Callable[[Callable, torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: a Hessian–vector product by differentiating the gradient (reverse or forward over reverse).

    The check refuses Hessian and Jacobian builders (torch.autograd.functional, torch.func.hessian, jacrev,
    jacfwd, vmap) and more than two gradient calls.

    Args:
        learner: `f(fn, x, v)` for a scalar function fn of a 1-D tensor x, returning H v (shape of x).
    """
    g = _hidden_generator("hessian_vector_product")
    cases = []
    for n in (3, 8, 1):
        A = torch.randn(n, n, generator=g, dtype=torch.float64)

        def fn(x: torch.Tensor, A: torch.Tensor = A) -> torch.Tensor:
            return torch.log1p((A @ x).pow(2).sum()) + x.pow(3).sum()

        x = torch.randn(n, generator=g, dtype=torch.float64)
        v = torch.randn(n, generator=g, dtype=torch.float64)
        H = torch.autograd.functional.hessian(fn, x)
        gradient = torch.autograd.functional.jacobian(fn, x)
        wrong = {
            "that is the gradient, not the Hessian times v": gradient,
            "that is the gradient times v entry by entry: differentiate ⟨∇f, v⟩ once more": gradient * v,
            "that is H times a vector of ones: you differentiated the sum of the gradient, not ⟨∇f, v⟩":
                H.sum(1),
            "that is the full Hessian: multiply it by v, or better, never form it": H,
        }
        cases.append(Case((fn, x, v), H @ v, wrong))
    exact = Tensor(exact=True, near="close to H v, but not exact: a finite difference of gradients (or float32) "
                                    "only approximates H v; differentiate the gradient itself (create_graph=True, or "
                                    "a JVP of torch.func.grad)")
    return run("hessian_vector_product", learner, cases, answer=exact, rules=(no_hessian, gradient_calls(2)))
