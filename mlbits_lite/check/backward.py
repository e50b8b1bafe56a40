"""Self-checks for chapter 1: backward() as a vector–Jacobian product."""
from __future__ import annotations

from typing import Callable

import torch

from ._framework import (BY_HAND, Case, CheckResult, Counted, Rule, Tensor, _hidden_generator, autograd_functions,
                         gradient_calls, no_autograd, no_hessian, run)

__all__ = ["softmax_vjp", "per_sample_jacobians", "predict_grad", "hessian_vector_product"]


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


only_the_given_vjp = Rule("this exercise builds the Jacobians from the `vjp` it is given, and your function called "
                          "{name}: use that `vjp`, one call per output coordinate", autograd_functions())


def _vjp(fn: Callable, X: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    return torch.func.vjp(fn, X)[1](V)[0]  # the gradient of <V, fn(X)> with respect to X


def per_sample_jacobians(learner: Callable[[Callable, torch.Tensor, Callable], torch.Tensor]) -> CheckResult:
    """Exercise: every sample's Jacobian of a row-wise function of a batch, from one VJP per output coordinate.

    fn maps X (B, n) to Y (B, m) row by row, so row b of Y depends on row b of X only. A VJP with a seed V (B, m)
    returns the (B, n) gradient of <V, fn(X)>: row b is V[b]ᵀ J_b. Seeding e_i in every row gives row i of all B
    Jacobians at once, so m calls suffice, not B·m. The check counts the calls; other autograd is refused.

    Args:
        learner: `f(fn, X, vjp)` with `vjp(fn, X, V) -> (B, n)` as above; returns the Jacobians, shape (B, m, n),
            entry [b, i, j] = d fn(X)[b, i] / d X[b, j].
    """
    g = _hidden_generator("per_sample_jacobians")
    cases = []
    for B, m, n in ((4, 3, 5), (3, 6, 2), (5, 1, 4), (2, 4, 1)):  # wide, tall, a gradient, a single input
        W = torch.randn(m, n, generator=g, dtype=torch.float64)
        b = torch.randn(m, generator=g, dtype=torch.float64)

        def fn(X: torch.Tensor, W: torch.Tensor = W, b: torch.Tensor = b) -> torch.Tensor:
            return torch.tanh(X @ W.T + b) * (1 + X.sum(1, keepdim=True))  # row-wise, (B, m)

        X = torch.randn(B, n, generator=g, dtype=torch.float64)
        want = torch.stack([torch.autograd.functional.jacobian(lambda x: fn(x[None])[0], x) for x in X])  # (B, m, n)
        wrong = {
            "each Jacobian is transposed: entry [b, i, j] is d y_bi / d x_bj, so row i comes from the seed e_i":
                want.transpose(1, 2),
            "only the first sample got the seed: put e_i in every row of V, since the rows do not interact":
                torch.cat([want[:1], torch.zeros_like(want[1:])]),
            "that is the Jacobian of the batch's sum: each sample has its own Jacobian, so keep the rows of the "
            "VJP apart": want.sum(0, keepdim=True).expand_as(want),
            "every call used a seed of ones: row i of each Jacobian needs the unit vector e_i in every row of V":
                want.sum(1, keepdim=True).expand_as(want),
        }
        cases.append(Case((fn, X, Counted(_vjp, "vjp", m, "output coordinate (row of every Jacobian)")), want, wrong))
    return run("per_sample_jacobians", learner, cases, rules=(only_the_given_vjp,), call="f(fn, X, vjp)")


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
    """Exercise: a Hessian–vector product by differentiating the gradient (create_graph=True).

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
                                    "only approximates H v; differentiate the gradient itself (create_graph=True)")
    return run("hessian_vector_product", learner, cases, answer=exact, rules=(no_hessian, gradient_calls(2)))
