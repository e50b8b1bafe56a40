"""Argument checks shared by every mlbits_lite module.

Each helper returns the (possibly normalised) value when it is valid and otherwise raises a TypeError (wrong kind
of thing) or ValueError (right kind, wrong value) whose message names the argument, says what was expected and
what was got:  ``seed must be a non-negative int, got -1``.  One line at the top of a public function then
replaces a paragraph of ``if``s, and every error in the package reads the same way.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

__all__ = [
    "describe_value",
    "require_tensor",
    "require_floating_tensor",
    "require_shape",
    "require_ndim",
    "require_bool",
    "require_int",
    "require_positive_int",
    "require_non_negative_int",
    "require_number",
    "require_positive_number",
    "require_in_range",
    "require_choice",
    "require_callable",
]


def describe_value(value: Any) -> str:
    """A short description of ``value`` for error messages: the type, plus shape and dtype for tensors."""
    if isinstance(value, torch.Tensor):
        return f"Tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, (bool, numbers.Number, str)) or value is None:
        return f"{value!r} ({type(value).__name__})"
    return type(value).__name__


def require_tensor(name: str, value: Any) -> torch.Tensor:
    """Return ``value`` if it is a ``torch.Tensor``; TypeError otherwise."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {describe_value(value)}")
    return value


def require_floating_tensor(name: str, value: Any) -> torch.Tensor:
    """Return ``value`` if it is a real floating-point tensor (float16, bfloat16, float32, float64)."""
    require_tensor(name, value)
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    return value


def require_shape(name: str, value: torch.Tensor, expected: Sequence[int]) -> torch.Tensor:
    """Return ``value`` if its shape is exactly ``expected``; ValueError naming both shapes otherwise."""
    if tuple(value.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}, got shape {tuple(value.shape)}")
    return value


def require_ndim(name: str, value: torch.Tensor, ndims: int | Iterable[int]) -> torch.Tensor:
    """Return ``value`` if its number of dimensions is ``ndims`` (or one of them); ValueError otherwise."""
    allowed = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if value.ndim not in allowed:
        wanted = " or ".join(f"{n}-D" for n in allowed)
        raise ValueError(f"{name} must be {wanted}, got shape {tuple(value.shape)} ({value.ndim}-D)")
    return value


def require_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a ``bool``; TypeError otherwise (0/1 and strings are not booleans)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {describe_value(value)}")
    return value


def require_int(name: str, value: Any) -> int:
    """Return ``value`` as a Python int if it is an integer (numpy ints too); TypeError for bools, floats, etc."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {describe_value(value)}")
    return int(value)


def require_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an int if it is an integer >= 1."""
    value = require_int(name, value)
    if value < 1:
        raise ValueError(f"{name} must be a positive int (>= 1), got {value}")
    return value


def require_non_negative_int(name: str, value: Any) -> int:
    """Return ``value`` as an int if it is an integer >= 0."""
    value = require_int(name, value)
    if value < 0:
        raise ValueError(f"{name} must be a non-negative int (>= 0), got {value}")
    return value


def require_number(name: str, value: Any) -> float:
    """Return ``value`` as a finite float if it is a real number (bools rejected); TypeError/ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {describe_value(value)}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def require_positive_number(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite real number > 0."""
    value = require_number(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def require_in_range(
    name: str, value: Any, low: float, high: float, *, low_inclusive: bool = True, high_inclusive: bool = True
) -> float:
    """Return ``value`` as a float if it lies in the interval from ``low`` to ``high`` (ends as told)."""
    value = require_number(name, value)
    above = value >= low if low_inclusive else value > low
    below = value <= high if high_inclusive else value < high
    if not (above and below):
        interval = f"{'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def require_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``; ValueError listing the choices otherwise."""
    choices = tuple(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def require_callable(name: str, value: Any) -> Callable[..., Any]:
    """Return ``value`` if it is callable; TypeError otherwise."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {describe_value(value)}")
    return value
