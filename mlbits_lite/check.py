"""Self-checks for exercises: tell a learner whether they are right without giving the answer away.

Each exercise has one check, named after it. A check calls the learner's function on hidden inputs (drawn from a
private, fixed seed), compares with a reference implementation, and returns a `CheckResult` that shows as one line:

    pass    -- every hidden case agrees with the reference;
    fail    -- with a hint about *what kind* of mistake (shape, sign, a missing term, off by a factor, ...);
    not yet -- the function still raises NotImplementedError.

Checks never print expected values, only what is wrong in kind. They never raise for a wrong answer, so "Run all"
always reaches the end of a notebook.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

__all__ = [
    "CheckResult",
    "softmax_vjp",
    "jacobian_by_jvps",
    "predict_grad",
    "hessian_vector_product",
]

# Tolerances for float64 comparisons against the reference.
RTOL, ATOL = 1e-6, 1e-8


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a self-check: truthy when passed; shows as one line in a notebook."""

    exercise: str
    passed: bool
    message: str
    attempted: bool = True

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = "✅" if self.passed else ("❌" if self.attempted else "✏️")
        return f"{mark} {self.exercise}: {self.message}"

    def _ipython_display_(self) -> None:  # a notebook shows the line, not the dataclass
        print(str(self))


# ----------------------------------------------------------------------------------------------- framework
def _hidden_generator(exercise: str) -> torch.Generator:
    """A private, fixed seed per exercise: the same hidden cases every run, on every machine."""
    return torch.Generator().manual_seed(sum(map(ord, exercise)) * 7919)


def _close(got: torch.Tensor, want: torch.Tensor) -> bool:
    return got.shape == want.shape and torch.allclose(got.double(), want.double(), rtol=RTOL, atol=ATOL)


def _diagnose(got: object, want: torch.Tensor, wrong: dict[str, torch.Tensor]) -> str | None:
    """None when `got` equals `want`; otherwise a hint naming the kind of mistake, never the expected values.

    Args:
        got: what the learner's function returned.
        want: the reference result.
        wrong: known wrong results for this case, keyed by the hint to give when `got` matches one of them.
    """
    if not isinstance(got, torch.Tensor):
        return f"your function returned a {type(got).__name__}; return a torch.Tensor"
    if not got.is_floating_point():
        return f"your result has dtype {got.dtype}; return a floating-point tensor"
    if not torch.isfinite(got).all():
        return "your result contains NaN or inf"
    if _close(got, want):
        return None
    for hint, value in wrong.items():
        if _close(got, value):
            return hint
    if got.shape != want.shape:
        if got.numel() == want.numel():
            return f"right number of entries but shape {tuple(got.shape)}: check how you arrange them"
        return f"your result has shape {tuple(got.shape)}, which is not the shape asked for"
    if _close(-got, want):
        return "the sign is flipped"
    ratio = got.double().flatten() @ want.double().flatten() / want.double().pow(2).sum().clamp_min(1e-300)
    if _close(got, ratio * want):
        return "right direction, but off by a constant factor"
    return "the values differ from the reference on a hidden input"


def _run(exercise: str, learner: Callable, cases: list[tuple[tuple, torch.Tensor, dict[str, torch.Tensor]]],
         *, no_grad: bool = False) -> CheckResult:
    """Call `learner(*args)` on every hidden case; stop at the first failure with its hint."""
    if not callable(learner):
        raise TypeError(f"{exercise}: expected your function as the argument, got {type(learner).__name__}")
    for i, (args, want, wrong) in enumerate(cases, start=1):
        try:
            with torch.no_grad() if no_grad else torch.enable_grad():
                got = learner(*args)
        except NotImplementedError:
            return CheckResult(exercise, False, "not attempted yet: replace `raise NotImplementedError` with your code",
                               attempted=False)
        except Exception as exc:  # the learner's bug, reported as a hint rather than a crash
            hint = f"your function raised {type(exc).__name__}: {exc}"
            if no_grad and "grad" in str(exc):
                hint += " (this exercise is by hand: the check runs without autograd)"
            return CheckResult(exercise, False, f"case {i} of {len(cases)}: {hint}")
        problem = _diagnose(got, want, wrong)
        if problem is not None:
            return CheckResult(exercise, False, f"case {i} of {len(cases)}: {problem}")
    return CheckResult(exercise, True, f"pass ({len(cases)} hidden cases)")


# ----------------------------------------------------------------------------------------------- chapter 1
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
