"""Self-checks for chapter 2: GELU derived from dropout, zoneout and ReLU."""
from __future__ import annotations

import math
from typing import Callable

import torch

from ._framework import BY_HAND, TENSOR, Case, CheckResult, _hidden_generator, no_autograd, run

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
        cases.append(Case((x,), x * gate, wrong))
    return run("gelu_tanh", learner, cases)


def gelu_derivative(learner: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: GELU′(x) by hand (no autograd: the check watches for it).

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
            "that is the slope of the sigmoid approximation x·σ(1.702x); the exercise asks for the exact GELU":
                torch.sigmoid(1.702 * x) * (1 + 1.702 * x * (1 - torch.sigmoid(1.702 * x))),
        }
        cases.append(Case((x,), cdf + x * pdf, wrong))
    return run("gelu_derivative", learner, cases, answer=BY_HAND, rules=(no_autograd,))


# Six input values, each repeated: the fraction of open gates per value must match Φ(value).
_GATE_VALUES = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)
_GATE_REPEATS = 20000  # enough to tell Φ(x) from its sigmoid approximation σ(1.702x) at x = -2
_Z_LIMIT = 5.0  # a right gate misses by more than 5 standard errors with probability below 1e-6 per value


def _gate_fits(opened: torch.Tensor, p: torch.Tensor) -> bool:
    """Whether each row's fraction of open gates agrees with probability p (per row) within _Z_LIMIT standard errors."""
    fraction = opened.double().mean(dim=1)
    stderr = torch.sqrt(p * (1 - p) / opened.shape[1]).clamp_min(1e-12)
    return bool(((fraction - p).abs() / stderr <= _Z_LIMIT).all())


def _draws(x: torch.Tensor, seed: int) -> Callable[[Callable, tuple], tuple]:
    """Call the learner four times: twice with one seed (reproducible?), then with two other seeds (random?)."""
    def call(learner: Callable, args: tuple) -> tuple:
        return tuple(learner(x.clone(), torch.Generator().manual_seed(s)) for s in (seed, seed, seed + 1, seed + 2))
    return call


def _diagnose_gate(got: tuple, case: Case, results: list) -> str | None:
    first, again, *others = got
    x = case.args[0]
    values = x[:, 0]
    problem = TENSOR.diagnose(first, case, [])
    if problem is None:
        return "that is the expectation x·Φ(x), not a random draw: sample a gate for each entry"
    if not isinstance(first, torch.Tensor) or not first.is_floating_point() or first.shape != x.shape or \
            not torch.isfinite(first).all():
        return problem[1]
    first = first.detach().double().cpu()
    opened, closed = first == x, first == 0
    if not (opened | closed).all():
        kept = first[~closed] / x[~closed]
        if torch.allclose(kept, kept[0].expand_as(kept)):
            if kept[0] > 1:
                return "kept entries are scaled up (as inverted dropout does, x·m/p); the gate keeps x unchanged"
            return "kept entries are multiplied by a constant; the gate keeps x unchanged"
        return "every entry must be either 0 (gate closed) or x itself (gate open)"
    if not (isinstance(again, torch.Tensor) and again.shape == x.shape and torch.equal(again.double().cpu(), first)):
        return "two calls with equally seeded generators differ: draw the gates from `generator`"
    random = any(not (isinstance(o, torch.Tensor) and o.shape == x.shape and torch.equal(o.double().cpu(), first))
                 for o in others)
    if not random:
        if torch.equal(opened, x > 0):
            return "the gate opens exactly when x > 0, whatever the seed: that is ReLU, a deterministic gate"
        if closed.all():
            return "your result is zero everywhere: every gate is closed, whatever the seed"
        return "your gates are the same whatever the generator's seed: draw them at random from `generator`"
    if bool((opened.all(dim=1) | closed.all(dim=1)).all()):
        return "all entries with the same value share one gate: draw an independent gate for each entry"
    if _gate_fits(opened, _cdf(values)):
        return None
    candidates = {
        "the gate opens with probability σ(x) (the SiLU gate) rather than Φ(x)": torch.sigmoid(values),
        "the gate opens with probability one half whatever x is: that is dropout, not a gate on x":
            torch.full_like(values, 0.5),
        "the gate opens with probability 1 − Φ(x): it should open more often for larger x": 1 - _cdf(values),
        "the gate opens with probability σ(1.702x), the sigmoid approximation, rather than Φ(x)":
            torch.sigmoid(1.702 * values),
    }
    for hint, p in candidates.items():
        if _gate_fits(opened, p):
            return hint
    return "the share of open gates does not follow Φ(x): check the probability you draw the gate with"


def stochastic_gate(learner: Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]) -> CheckResult:
    """Exercise: the stochastic gate x·m with m ~ Bernoulli(Φ(x)), one independent gate per entry.

    The check is statistical: every entry must be 0 or x, the share of open gates for each input value must
    match Φ at that value, two calls with equally seeded generators must agree, and other seeds must differ.

    Args:
        learner: `f(x, generator)` returning x·m, shaped like x, drawing its randomness from `generator`.
    """
    name = "stochastic_gate"
    seed = _hidden_generator(name).initial_seed()
    x = torch.tensor(_GATE_VALUES, dtype=torch.float64)[:, None].expand(-1, _GATE_REPEATS).contiguous()  # (6, R)
    case = Case((x, torch.Generator().manual_seed(seed)), x * _cdf(x), call=_draws(x, seed))
    return run(name, learner, [case], answer=_diagnose_gate,
               passed=f"pass ({x.numel()} hidden draws: every entry is 0 or x, open with probability Φ(x), "
                      "reproducible from the generator)")
