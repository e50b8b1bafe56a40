"""The machinery every self-check shares: hidden cases, a diagnosis of the kind of mistake, one-line results."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

__all__ = ["CheckResult"]

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


