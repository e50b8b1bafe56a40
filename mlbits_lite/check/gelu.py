"""Self-checks for chapter 2: GELU derived from dropout, zoneout and ReLU."""
from __future__ import annotations

import math
from typing import Callable

import torch

from ._framework import CheckResult, _diagnose, _hidden_generator, _run

__all__ = ["gelu_tanh", "gelu_derivative", "stochastic_gate"]


def _cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.special.erfc(-x / math.sqrt(2))  # Φ(x)


def _pdf(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(-x**2 / 2) / math.sqrt(2 * math.pi)  # φ(x)


def _hidden_inputs(exercise: str) -> list[torch.Tensor]:
    """A vector around the kink, a wide matrix, and a scalar: float64, drawn from the exercise's private seed."""
    g = _hidden_generator(exercise)
    return [
        torch.randn(9, generator=g, dtype=torch.float64) * 1.5,
        torch.randn(3, 4, generator=g, dtype=torch.float64) * 4,
        torch.tensor(-0.8, dtype=torch.float64),
    ]


def gelu_tanh(learner: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: the tanh approximation of GELU.

    Args:
        learner: `f(x)` returning ½x(1 + tanh(√(2/π)(x + 0.044715 x³))) elementwise, shaped like x.
    """
    c = math.sqrt(2 / math.pi)
    cases = []
    for x in _hidden_inputs("gelu_tanh"):
        gate = 0.5 * (1 + torch.tanh(c * (x + 0.044715 * x**3)))  # ≈ Φ(x)
        wrong = {
            "that is the exact GELU x·Φ(x) with erf; the exercise asks for the tanh approximation": x * _cdf(x),
            "that is the gate alone (an approximation of Φ): multiply it by x": gate,
            "the cubic term inside tanh is missing": 0.5 * x * (1 + torch.tanh(c * x)),
            "the correction inside tanh uses x squared where it needs x cubed": 0.5 * x * (
                1 + torch.tanh(c * (x + 0.044715 * x**2))),
            "the factor √(2/π) inside tanh is missing": 0.5 * x * (1 + torch.tanh(x + 0.044715 * x**3)),
            "the ½ in front is missing": x * (1 + torch.tanh(c * (x + 0.044715 * x**3))),
            "that is x·σ(1.702x), the sigmoid approximation": x * torch.sigmoid(1.702 * x),
        }
        cases.append(((x,), x * gate, wrong))
    return _run("gelu_tanh", learner, cases)


def gelu_derivative(learner: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: GELU′(x) by hand (no autograd).

    Args:
        learner: `f(x)` returning d/dx [x·Φ(x)] elementwise, shaped like x.
    """
    cases = []
    for x in _hidden_inputs("gelu_derivative"):
        cdf, pdf = _cdf(x), _pdf(x)
        c, a = math.sqrt(2 / math.pi), 0.044715
        th = torch.tanh(c * (x + a * x**3))
        tanh_slope = 0.5 * (1 + th) + 0.5 * x * (1 - th**2) * c * (1 + 3 * a * x**2)  # d/dx ½x(1 + tanh(u))
        wrong = {
            "that is Φ(x) alone: the product rule gives a second term": cdf,
            "that is x·φ(x) alone: the product rule gives a first term": x * pdf,
            "that is the density φ(x), not the derivative of x·Φ(x)": pdf,
            "that is GELU(x) itself, not its derivative": x * cdf,
            "the second term has the wrong sign": cdf - x * pdf,
            "the density is missing its normalising constant": cdf + x * torch.exp(-x**2 / 2),
            "you differentiated the tanh approximation; the exercise asks for the exact GELU": tanh_slope,
        }
        cases.append(((x,), cdf + x * pdf, wrong))
    return _run("gelu_derivative", learner, cases, no_grad=True)


# Six input values, each repeated: the fraction of open gates per value must match Φ(value).
_GATE_VALUES = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)
_GATE_REPEATS = 4000
_Z_LIMIT = 5.0  # a right gate misses by more than 5 standard errors with probability below 1e-6 per value


def _gate_fits(opened: torch.Tensor, p: torch.Tensor) -> bool:
    """Whether each row's fraction of open gates agrees with probability p (per row) within _Z_LIMIT standard errors."""
    fraction = opened.double().mean(dim=1)
    stderr = torch.sqrt(p * (1 - p) / opened.shape[1]).clamp_min(1e-12)
    return bool(((fraction - p).abs() / stderr <= _Z_LIMIT).all())


def stochastic_gate(learner: Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]) -> CheckResult:
    """Exercise: the stochastic gate x·m with m ~ Bernoulli(Φ(x)), one independent gate per entry.

    The check is statistical: every entry must be 0 or x, the share of open gates for each input value must
    match Φ at that value, and two calls with equally seeded generators must agree.

    Args:
        learner: `f(x, generator)` returning x·m, shaped like x, drawing its randomness from `generator`.
    """
    name = "stochastic_gate"
    if not callable(learner):
        raise TypeError(f"{name}: expected your function as the argument, got {type(learner).__name__}")
    seed = _hidden_generator(name).initial_seed()
    x = torch.tensor(_GATE_VALUES, dtype=torch.float64)[:, None].expand(-1, _GATE_REPEATS).contiguous()  # (6, R)
    values = x[:, 0]

    def fail(message: str) -> CheckResult:
        return CheckResult(name, False, message)

    try:
        got = learner(x.clone(), torch.Generator().manual_seed(seed))
        again = learner(x.clone(), torch.Generator().manual_seed(seed))
    except NotImplementedError:
        return CheckResult(name, False, "not attempted yet: replace `raise NotImplementedError` with your code",
                           attempted=False)
    except Exception as exc:  # the learner's bug, reported as a hint rather than a crash
        return fail(f"your function raised {type(exc).__name__}: {exc}")

    expectation = x * _cdf(x)
    problem = _diagnose(got, expectation, {})
    if problem is None:
        return fail("that is the expectation x·Φ(x), not a random draw: sample a gate for each entry")
    if not isinstance(got, torch.Tensor) or not got.is_floating_point() or got.shape != x.shape:
        return fail(problem)
    opened, closed = got.double() == x, got.double() == 0
    if not (opened | closed).all():
        kept = got.double()[~closed] / x[~closed]
        if torch.allclose(kept, kept[0].expand_as(kept)):
            return fail("kept entries are rescaled (as inverted dropout does); the gate keeps x unchanged")
        return fail("every entry must be either 0 (gate closed) or x itself (gate open)")
    if not isinstance(again, torch.Tensor) or again.shape != got.shape or not torch.equal(again, got):
        return fail("two calls with equally seeded generators differ: draw the gates from `generator`")
    if torch.equal(opened, x > 0):
        return fail("the gate opens exactly when x > 0: that is ReLU, a deterministic gate")
    if bool((opened.all(dim=1) | closed.all(dim=1)).all()):
        return fail("all entries with the same value share one gate: draw an independent gate for each entry")
    candidates = {
        "the gate opens with probability σ(x) (the SiLU gate) rather than Φ(x)": torch.sigmoid(values),
        "the gate opens with probability one half whatever x is: that is dropout, not a gate on x": torch.full_like(
            values, 0.5),
        "the gate opens with probability 1 − Φ(x): it should open more often for larger x": 1 - _cdf(values),
    }
    if _gate_fits(opened, _cdf(values)):
        return CheckResult(name, True, f"pass ({x.numel()} hidden draws: every entry is 0 or x, open with "
                                       "probability Φ(x), reproducible from the generator)")
    for hint, p in candidates.items():
        if _gate_fits(opened, p):
            return fail(hint)
    return fail("the share of open gates does not follow Φ(x): check the probability you draw the gate with")
