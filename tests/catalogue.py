"""The format of a self-check's catalogue of answers, and the generic mutations every check must see through.

Each chapter's test module (`test_check_<chapter>.py`) defines `CATALOGUE = {check.NAME: Catalogue(...), ...}`:

    Catalogue(
        reference=softmax_vjp,                      # the solution the chapter shows
        right=[by_explicit_jacobian],               # other right formulations: each must pass
        wrong=[(lambda x, v: softmax(x) * v, "normalising sum"), ...],   # realistic slips, each with a fragment
                                                    # of the hint it must get (at least 5)
        mutations={"times_two": "½ in front"},      # where a generic mutation truly is a known slip: its hint
    )

`test_check_contract.py` runs every catalogue: the contract, the right answers, the wrong answers and their hints,
the generic mutations (never passing, never given a specific hint they do not deserve) and the leak test.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

MUTATIONS = ("zeros", "times_two", "negated", "plus_1e-3", "rearranged", "nan")

# Hints that name no particular mistake: what a generic mutation may get without being listed in `mutations`.
GENERIC = re.compile(
    r"^(your result (is zero|contains NaN|is NaN|has shape|has dtype)|the sign is flipped|right direction, but off"
    r"|right number of entries|the values? differs? from the reference|your function returned|your count is too"
    r"|return (two|three|four|a) |mixed has shape|the mixed images differ|lam is not the share|lam should be a number"
    r"|the box differs|the answer differs|every entry must be either 0|your result is NaN"
    r"|the share of open gates does not follow)"
)


@dataclass
class Catalogue:
    """A check's reference solution, its other right answers, and realistic wrong answers with their hints."""

    reference: Callable
    right: list[Callable]
    wrong: list[tuple[Callable, str]]
    mutations: dict[str, str] = field(default_factory=dict)


def mutate(value: object, how: str) -> object:
    """A generic corruption of a right answer: zeros, x2, negated, +1e-3, transposed or reshaped, NaN.

    Values a corruption does not apply to (a scalar cannot be transposed) come back unchanged.
    """
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point():
            value = value.double()
        return {
            "zeros": lambda t: torch.zeros_like(t),
            "times_two": lambda t: 2 * t,
            "negated": lambda t: -t,
            "plus_1e-3": lambda t: t + 1e-3,
            "rearranged": lambda t: t.transpose(-2, -1) if t.ndim >= 2 else t[None] if t.ndim == 1 else t,
            "nan": lambda t: torch.full_like(t, math.nan),
        }[how](value)
    if isinstance(value, (bool, np.bool_)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        return {"zeros": 0 * value, "times_two": 2 * value, "negated": -value, "plus_1e-3": value + 1e-3,
                "rearranged": value, "nan": math.nan}[how]
    if isinstance(value, (tuple, list)):
        if how == "rearranged" and all(isinstance(v, (int, float, np.integer, np.floating)) for v in value):
            return type(value)(reversed(value))
        return type(value)(mutate(v, how) for v in value)
    return value


def same(a: object, b: object) -> bool:
    """Whether a mutation left a value as it was."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and \
            torch.equal(a.double(), b.double())
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def numbers_in(value: object) -> list[float]:
    """Every number in an answer (tensors, arrays, tuples, scalars), as floats."""
    if isinstance(value, torch.Tensor):
        return value.detach().double().flatten().tolist()
    if isinstance(value, np.ndarray):
        return value.astype(float).ravel().tolist()
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in numbers_in(v)]
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return [float(value)]
    return []
