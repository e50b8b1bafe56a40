"""The machinery every self-check shares: hidden cases, a runner with one contract, rules, and honest hints.

A check builds its hidden cases from a private, fixed seed and hands them to `run`, which keeps the contract:

    pass            every hidden case agrees with the reference;
    not attempted   the learner's function still raises NotImplementedError;
    fail + hint     a crash, a broken rule or a wrong answer, said in kind ("the sign is flipped"), never in value;
    TypeError       the check was given something that is not a function ("expected your function").

The learner gets copies of the hidden arguments (`keep_inputs=True` instead fails an answer that changes them).

A `Case` holds the arguments, the reference answer `want`, and the known wrong answers `wrong`: {hint: value},
where a value may also be a predicate `lambda got: bool` for a mistake seen in a property rather than a value.
An *answer kind* says how to read and compare what the learner returned, and which generic hints it may give:

    TENSOR          a floating tensor (the default); BY_HAND (or Tensor(exact=True, near=hint)) for exact formulas
    NUMBER          one number: int, float, NumPy scalar, 0-d or one-element tensor (a bool or a str is not)
    INTEGER         a count: int, NumPy integer or one-element integer tensor (a float is not)
    Ints(names)     a fixed number of integers (a box), as a tuple, a list, an array or a tensor
    any function    `diagnose(got, case, results) -> hint | (rank, hint) | None`, for answers of their own shape

Hints are given only where the evidence supports them:
- a known wrong answer is named only when the learner's answer matches it in every hidden case where that mistake
  differs from the reference; known wrong answers that equal the reference, are zero everywhere, or that two hints
  share are dropped from a case, since they cannot tell the mistakes apart;
- a pattern only when it holds: zero everywhere, the sign flipped, and "off by a constant factor" only for a
  non-zero answer with at least two non-zero entries and the same factor in every hidden case (never for a number);
- otherwise the generic "the values differ". Of the failing cases, the one with the most specific hint is shown.
So hidden cases must make the typical mistakes differ from the truth (n >= 3, an empty bin, diagonal neighbours, ...).

Rules enforce an exercise's own constraints, whatever way the learner imported or called the functions:

    no_autograd          "by hand": no backward(), torch.autograd.*, torch.func.* (vjp, jvp, grad, jacrev, ...)
    no_hessian           "without forming the Hessian": no Hessian or Jacobian builders, no vmap over a basis
    gradient_calls(n)    at most n calls of torch.autograd.grad / backward
    Rule(hint, {...})    any other: e.g. no F.conv1d, no unfold (Python functions, built-ins and tensor methods)
    Counted(fn, ...)     a function the check passes to the learner (e.g. a `jvp`): its calls must number `calls`

Calls are seen by a profiler hook on the functions themselves, so `from torch.func import vjp as v` is seen too,
while `torch.no_grad()` and ordinary tensor operations never are. A broken rule fails with the rule's hint.

Example, a check for an exercise "the VJP of tanh, by hand":

    def tanh_vjp(learner: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
        g = _hidden_generator("tanh_vjp")
        cases = []
        for n in (3, 7, 1):
            x = torch.randn(n, generator=g, dtype=torch.float64)
            v = torch.randn(n, generator=g, dtype=torch.float64)
            slope = 1 - torch.tanh(x) ** 2  # d tanh(x) / dx
            cases.append(Case((x, v), v * slope, {"that is the slope of tanh: multiply it by v": slope}))
        return run("tanh_vjp", learner, cases, rules=(no_autograd,))

and its catalogue in the tests (tests/catalogue.py explains the format): the reference, another right answer,
at least five realistic wrong answers, each with a fragment of the hint it must get.
"""
from __future__ import annotations

import contextlib
import inspect
import math
import numbers
import sys
import types
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["CheckResult"]

# Tolerances for float64 comparisons against the reference.
RTOL, ATOL = 1e-6, 1e-8
NOT_ATTEMPTED = "not attempted yet: replace `raise NotImplementedError` with your code"
DIFFERS = "the values differ from the reference on a hidden input"
FACTOR = "right direction, but off by a constant factor"

# How specific a hint is; of several failing cases the lowest rank is reported, then the earliest.
FORMAT, SPECIFIC, PATTERN, GENERIC = 0, 1, 2, 3


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


@dataclass(frozen=True)
class Case:
    """One hidden case: the learner's arguments, the reference answer, and known wrong answers keyed by hint.

    `call`, when given, calls the learner its own way (e.g. twice, to test reproducibility) and returns what the
    answer kind reads; by default the learner is called once with `args`.
    """

    args: tuple
    want: Any
    wrong: Mapping[str, Any] = field(default_factory=dict)
    call: Callable[[Callable, tuple], Any] | None = None


def _hidden_generator(exercise: str) -> torch.Generator:
    """A private, fixed seed per exercise: the same hidden cases every run, on every machine."""
    return torch.Generator().manual_seed(sum(map(ord, exercise)) * 7919)


def _close(got: torch.Tensor, want: torch.Tensor) -> bool:
    return got.shape == want.shape and torch.allclose(got.double(), want.double(), rtol=RTOL, atol=ATOL)


def _numbers_close(got: float, want: float) -> bool:
    return math.isclose(got, want, rel_tol=RTOL, abs_tol=ATOL)


# ------------------------------------------------------------------------------------------------ rules
class Rule:
    """An exercise's constraint on how the answer is computed: calls of `functions` beyond `limit` break it.

    Args:
        hint: what the learner is told, with {name} the function called and {calls} how often.
        functions: {display name: function}. A Python function is known by its code object, a built-in (such as
            `torch.conv1d`) by identity, a tensor method (such as `torch.Tensor.unfold`) by its name on any tensor:
            so each is seen however the learner imported or called it.
        limit: how many calls (in all) one call of the learner may make.
        autograd_off: also run the learner under `torch.no_grad()`, so that no graph is recorded at all (a
            learner calling a `grad_fn` node directly is not seen by the hook, but finds no node to call).
    """

    def __init__(self, hint: str, functions: Mapping[str, Callable], limit: int = 0,
                 autograd_off: bool = False) -> None:
        self.hint, self.limit, self.autograd_off = hint, limit, autograd_off
        self.names: dict[Any, str] = {}  # code objects and built-ins
        self.methods: dict[str, str] = {}  # tensor methods, by their name
        for name, function in functions.items():
            function = inspect.unwrap(function)
            if isinstance(function, types.MethodDescriptorType):
                self.methods[function.__name__] = name
            else:
                self.names[getattr(function, "__code__", function)] = name

    def sees(self, event: str, frame: Any, arg: Any) -> str | None:
        """The display name of the function this profiler event calls, if the rule watches it."""
        if event == "call":
            return self.names.get(frame.f_code)
        if event == "c_call":
            if isinstance(getattr(arg, "__self__", None), torch.Tensor):
                return self.methods.get(arg.__name__)
            try:
                return self.names.get(arg)
            except TypeError:  # an unhashable callable: not one of ours
                return None
        return None


def autograd_functions() -> dict[str, Callable]:
    """Every entry point of autograd, for rules: reverse and forward mode, torch.autograd.functional, torch.func."""
    import torch.autograd.forward_ad as forward_ad
    import torch.autograd.functional as functional
    import torch.autograd.graph as graph

    found = {
        "Tensor.backward": torch.Tensor.backward,
        "torch.autograd.grad": torch.autograd.grad,
        "torch.autograd.backward": torch.autograd.backward,
        "the autograd engine": graph._engine_run_backward,  # every reverse pass, whatever called it
        "torch.autograd.forward_ad.make_dual": forward_ad.make_dual,
    }
    found.update({f"torch.autograd.functional.{n}": getattr(functional, n) for n in functional.__all__})
    found.update({f"torch.func.{n}": getattr(torch.func, n) for n in
                  ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize")})
    return found


def _hessian_builders() -> dict[str, Callable]:
    import torch.autograd.functional as functional

    return {"torch.autograd.functional.hessian": functional.hessian,
            "torch.autograd.functional.jacobian": functional.jacobian,
            "torch.autograd.functional.hvp": functional.hvp, "torch.autograd.functional.vhp": functional.vhp,
            "torch.func.hessian": torch.func.hessian, "torch.func.jacrev": torch.func.jacrev,
            "torch.func.jacfwd": torch.func.jacfwd, "torch.func.vmap": torch.func.vmap,
            "torch.autograd.grad(is_grads_batched=True)": torch._vmap_internals._vmap}


no_autograd = Rule("this exercise is by hand, and your function called {name}, which is autograd: compute the "
                   "result with tensor operations", autograd_functions(), autograd_off=True)
no_hessian = Rule("this exercise asks for H v without forming the Hessian, and your function called {name}, "
                  "which builds a Hessian or Jacobian (or batches over a basis): differentiate the gradient once "
                  "more instead", _hessian_builders())


def gradient_calls(limit: int) -> Rule:
    """A rule: at most `limit` calls of torch.autograd.grad and torch.autograd.backward (Tensor.backward)."""
    return Rule("your function made {calls} gradient calls (torch.autograd.grad or backward); the exercise asks "
                f"for at most {limit}: more calls build the result row by row",
                {"torch.autograd.grad": torch.autograd.grad, "torch.autograd.backward": torch.autograd.backward},
                limit)


class _Watch:
    """Counts, while active, the calls of each rule's functions (a profiler hook on their code objects)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self.calls = [0] * len(self.rules)
        self.first: list[str | None] = [None] * len(self.rules)

    def _hook(self, frame: Any, event: str, arg: Any) -> None:
        if event not in ("call", "c_call"):
            return
        for i, rule in enumerate(self.rules):
            name = rule.sees(event, frame, arg)
            if name is not None:
                self.calls[i] += 1
                self.first[i] = self.first[i] or name

    @contextmanager
    def active(self) -> Iterator[_Watch]:
        previous = sys.getprofile()
        sys.setprofile(self._hook if self.rules else previous)
        try:
            yield self
        finally:
            sys.setprofile(previous)

    def broken(self) -> str | None:
        """The hint of the first rule broken, or None."""
        for rule, calls, name in zip(self.rules, self.calls, self.first):
            if calls > rule.limit:
                return rule.hint.format(name=name, calls=calls)
        return None


@contextmanager
def _unwatched() -> Iterator[None]:
    """Pause the rules: what the check itself runs on the learner's behalf (a Counted function) is allowed."""
    previous = sys.getprofile()
    sys.setprofile(None)
    try:
        yield
    finally:
        sys.setprofile(previous)


class Counted:
    """A function the check passes to the learner; it counts the learner's calls, which must number `calls`.

    Args:
        function: what it computes (it runs outside the rules, so it may use autograd).
        name: how the hint names it, e.g. "jvp".
        calls: how many calls the exercise asks for.
        per: what one call is for, e.g. "column of the Jacobian", for the hint.
    """

    def __init__(self, function: Callable, name: str, calls: int, per: str) -> None:
        self.function, self.name, self.expected, self.per = function, name, calls, per
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        with _unwatched(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.func's internal deprecation notices
            return self.function(*args, **kwargs)

    def fresh(self) -> Counted:
        return Counted(self.function, self.name, self.expected, self.per)

    def problem(self) -> str | None:
        if self.calls == self.expected:
            return None
        return (f"the exercise asks for one call of `{self.name}` per {self.per}; your function made {self.calls} "
                f"call{'s' if self.calls != 1 else ''}")


# ------------------------------------------------------------------------------------------------ reading answers
def as_number(got: object) -> float | str:
    """A Python, NumPy or one-element tensor number as a float; otherwise a hint saying what came back."""
    if isinstance(got, (bool, np.bool_)) or (isinstance(got, torch.Tensor) and got.dtype == torch.bool):
        return "your function returned a bool; return a number"
    if isinstance(got, numbers.Real):
        return float(got)
    if isinstance(got, (torch.Tensor, np.ndarray)):
        if got.size != 1 if isinstance(got, np.ndarray) else got.numel() != 1:
            return f"your result has shape {tuple(got.shape)}; return a single number"
        if isinstance(got, np.ndarray) and not np.issubdtype(got.dtype, np.number):
            return f"your result has dtype {got.dtype}; return a number"
        if isinstance(got, torch.Tensor) and got.is_complex():
            return f"your result has dtype {got.dtype}; return a real number"
        return float(got.item())
    return f"your function returned a {type(got).__name__}; return a number (a float or a one-element tensor)"


def as_int(got: object) -> int | str:
    """A Python, NumPy or one-element integer tensor as an int; otherwise a hint (a float is not a count)."""
    if isinstance(got, (bool, np.bool_)) or (isinstance(got, torch.Tensor) and got.dtype == torch.bool):
        return "your function returned a bool; return an int"
    if isinstance(got, numbers.Integral):
        return int(got)
    if isinstance(got, (torch.Tensor, np.ndarray)) and (got.size if isinstance(got, np.ndarray) else got.numel()) == 1:
        integral = not got.is_floating_point() and not got.is_complex() if isinstance(got, torch.Tensor) else \
            np.issubdtype(got.dtype, np.integer)
        if integral:
            return int(got.item())
        return f"your result has dtype {got.dtype}; return an int (a count)"
    return f"your function returned a {type(got).__name__}; return an int (a count)"


class Kind:
    """How to read an answer of one kind, compare it, and name the catalogued mistake it shows.

    A catalogued mistake is named only when the evidence holds in every hidden case: the learner's answer matches
    that mistake's value wherever the mistake is told apart from the reference (a predicate counts case by case).
    """

    def read(self, got: object) -> Any:
        """The answer in a comparable form, or a str: the hint that it cannot be read."""
        raise NotImplementedError

    def same(self, a: Any, b: Any) -> bool:
        return a == b

    def is_zero(self, value: Any) -> bool:
        return False

    def usable(self, case: Case) -> dict[str, Any]:
        """Known wrong answers that tell a mistake apart here: not the reference, not zero, not shared by two hints."""
        values = {hint: value if callable(value) else self.read(value) for hint, value in case.wrong.items()
                  if value is not None}
        want = self.read(case.want)
        kept = {}
        for hint, value in values.items():
            if callable(value):
                kept[hint] = value
            elif not isinstance(value, str) and not self.same(value, want) and not self.is_zero(value) and not any(
                    self.same(value, other) for h, other in values.items()
                    if h != hint and not callable(other) and not isinstance(other, str)):
                kept[hint] = value  # (a value two mistakes share cannot say which of them it was)
        return kept

    def specific(self, got: Any, case: Case, results: Sequence[tuple[object, Case]]) -> str | None:
        """The catalogued mistake `got` shows in this case, if every other case agrees."""
        for hint, value in self.usable(case).items():
            if callable(value):
                if value(got):
                    return hint
                continue
            if self.same(got, value) and all(self._agrees(other, c, hint) for other, c in results):
                return hint
        return None

    def _agrees(self, got: object, case: Case, hint: str) -> bool:
        value = self.usable(case).get(hint)
        if value is None or callable(value):
            return True  # this case cannot tell
        got = self.read(got)
        return not isinstance(got, str) and self.same(got, value)


class Tensor(Kind):
    """A floating tensor shaped like the reference's.

    Args:
        exact: an exercise whose answer is exact compares at float64 round-off (rtol 1e-9), and an answer within
            the usual tolerance but not that close gets `near` as its hint (an approximation where exactness is
            asked, such as finite differences).
        near: the hint for such an answer.
    """

    def __init__(self, exact: bool = False, near: str = "") -> None:
        self.exact, self.near = exact, near

    def _equal(self, got: torch.Tensor, want: torch.Tensor) -> bool:
        if not self.exact:
            return _close(got, want)
        return got.shape == want.shape and torch.allclose(got.double(), want.double(), rtol=1e-9, atol=1e-12)

    def read(self, got: object) -> torch.Tensor | str:
        if not isinstance(got, torch.Tensor):
            return f"your function returned a {type(got).__name__}; return a torch.Tensor"
        if not got.is_floating_point():
            return f"your result has dtype {got.dtype}; return a floating-point tensor"
        return got.detach().cpu()

    def same(self, a: torch.Tensor, b: torch.Tensor) -> bool:
        return _close(a, b)

    def is_zero(self, value: torch.Tensor) -> bool:
        return not bool(value.any())

    def diagnose(self, got: object, case: Case, results: Sequence[tuple[object, Case]]) -> tuple[int, str] | None:
        got = self.read(got)
        if isinstance(got, str):
            return FORMAT, got
        want = case.want
        if got.shape != want.shape:
            hint = self.specific(got, case, results)
            if hint is not None:
                return SPECIFIC, hint
            if got.numel() == want.numel():
                return FORMAT, f"right number of entries but shape {tuple(got.shape)}: check how you arrange them"
            return FORMAT, f"your result has shape {tuple(got.shape)}, which is not the shape asked for"
        if not torch.isfinite(got).all():
            return FORMAT, "your result contains NaN or inf"
        if self._equal(got, want):
            return None
        if self.exact and _close(got, want):
            return PATTERN, self.near
        hint = self.specific(got, case, results)
        if hint is not None:
            return SPECIFIC, hint
        if not got.any():
            return PATTERN, "your result is zero everywhere"
        if _close(-got, want):
            return PATTERN, "the sign is flipped"
        factor = self._same_factor(got, want, results)
        if factor is not None:
            return PATTERN, FACTOR if factor > 0 else "the sign is flipped, and the size is off by a constant factor"
        return GENERIC, DIFFERS

    @staticmethod
    def _factor(got: torch.Tensor, want: torch.Tensor) -> float | None:
        """c with got = c·want, when the evidence can say: at least two non-zero entries on both sides."""
        if got.shape != want.shape or (got != 0).sum() < 2 or (want != 0).sum() < 2:
            return None
        g, w = got.double().flatten(), want.double().flatten()
        c = float(g @ w / (w @ w))
        return c if _close(got, c * want) else None

    def _same_factor(self, got: torch.Tensor, want: torch.Tensor,
                     results: Sequence[tuple[object, Case]]) -> float | None:
        """The factor c when got = c·want, the same c in every hidden case where a factor can be measured."""
        c = self._factor(got, want)
        if c is None:
            return None
        for other, case in results:
            other = self.read(other)
            if isinstance(other, str) or not isinstance(case.want, torch.Tensor):
                return None
            if other.shape == case.want.shape and (case.want != 0).sum() >= 2 and \
                    not _close(other.double(), c * case.want.double()):
                return None
        return c


class Number(Kind):
    """One real number, in any numeric type; no ratio hints (one number is proportional to any other)."""

    def read(self, got: object) -> float | str:
        return as_number(got)

    def same(self, a: float, b: float) -> bool:
        return _numbers_close(a, b)

    def is_zero(self, value: float) -> bool:
        return value == 0

    def diagnose(self, got: object, case: Case, results: Sequence[tuple[object, Case]]) -> tuple[int, str] | None:
        value = self.read(got)
        if isinstance(value, str):
            return FORMAT, value
        want = float(case.want)
        if not math.isfinite(value):
            return FORMAT, "your result is NaN or infinite"
        if _numbers_close(value, want):
            return None
        hint = self.specific(value, case, results)
        if hint is not None:
            return SPECIFIC, hint
        if value == 0:
            return PATTERN, "your result is zero"
        if _numbers_close(-value, want):
            return PATTERN, "the sign is flipped"
        return GENERIC, "the value differs from the reference on a hidden input"


class Integer(Kind):
    """A count: an int in any integer type (a float, even 3.0, is not a count)."""

    def read(self, got: object) -> int | str:
        return as_int(got)

    def diagnose(self, got: object, case: Case, results: Sequence[tuple[object, Case]]) -> tuple[int, str] | None:
        value = self.read(got)
        if isinstance(value, str):
            return FORMAT, value
        if value == case.want:
            return None
        hint = self.specific(value, case, results)
        if hint is not None:
            return SPECIFIC, hint
        return GENERIC, f"your count is too {'low' if value < case.want else 'high'} on a hidden case"


_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


class Ints(Kind):
    """A fixed number of integers, such as a box: a tuple, a list, an array or a tensor of integral values.

    Args:
        names: the names of the entries, in order, for the hint (e.g. ("x0", "y0", "x1", "y1")).
        differs: the hint when the answer is wrong in no known way.
    """

    def __init__(self, names: Sequence[str], differs: str = "the answer differs from the reference on a hidden case"):
        self.names, self.differs = tuple(names), differs

    def read(self, got: object) -> tuple[int, ...] | str:
        wanted = f"return {_WORDS.get(len(self.names), len(self.names))} ints ({', '.join(self.names)})"
        if isinstance(got, (torch.Tensor, np.ndarray)):
            got = got.reshape(-1).tolist()
        if not isinstance(got, (tuple, list)):
            return f"{wanted}, not a {type(got).__name__}"
        if len(got) != len(self.names):
            return f"{wanted}; your function returned {len(got)} values"
        values = []
        for v in got:
            number = as_number(v)
            if isinstance(number, str) or not math.isfinite(number) or number != int(number):
                return f"{wanted}: each entry a whole number"
            values.append(int(number))
        return tuple(values)

    def diagnose(self, got: object, case: Case, results: Sequence[tuple[object, Case]]) -> tuple[int, str] | None:
        value = self.read(got)
        if isinstance(value, str):
            return FORMAT, value
        if value == self.read(case.want):
            return None
        hint = self.specific(value, case, results)
        return (SPECIFIC, hint) if hint is not None else (GENERIC, self.differs)


TENSOR, NUMBER, INTEGER = Tensor(), Number(), Integer()
# a formula derived by hand is exact: an approximation (finite differences) is close but not that close
BY_HAND = Tensor(exact=True, near="close, but not exact: use the exact formula, in float64 (a finite difference, "
                                  "or float32, only approximates it)")


# ------------------------------------------------------------------------------------------------ the runner
def _fresh(value: Any) -> Any:
    """A copy the learner may change freely: tensors cloned, generators at the same state, counters reset."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, torch.Generator):
        copy = torch.Generator(device=value.device)
        copy.set_state(value.get_state())
        return copy
    if isinstance(value, Counted):
        return value.fresh()
    if isinstance(value, (list, tuple)):
        return type(value)(_fresh(v) for v in value)
    return value


def _unchanged(before: Any, after: Any) -> bool:
    if isinstance(before, torch.Tensor):
        return before.shape == after.shape and torch.equal(before, after)
    if isinstance(before, (list, tuple)):
        return len(before) == len(after) and all(_unchanged(b, a) for b, a in zip(before, after))
    return True


def require_function(exercise: str, learner: object) -> None:
    if not callable(learner):
        raise TypeError(f"{exercise}: expected your function as the argument, got {type(learner).__name__}")


def _takes(learner: Callable, args: tuple) -> bool:
    """Whether the learner's signature accepts these arguments (True when it cannot be inspected)."""
    try:
        inspect.signature(learner).bind(*args)
    except TypeError:
        return False
    except ValueError:  # no signature to inspect (some built-ins)
        return True
    return True


def run(exercise: str, learner: Callable, cases: Sequence[Case], *, answer: Any = TENSOR,
        rules: Sequence[Rule] = (), keep_inputs: bool = False, passed: str | None = None,
        call: str | None = None) -> CheckResult:
    """Run the learner on every hidden case and report: pass, not attempted, or the most telling failure.

    Args:
        exercise: the check's name, shown in its line.
        learner: the learner's function.
        cases: the hidden cases, in the order they are numbered in hints.
        answer: how to read and compare the answer: TENSOR, NUMBER, INTEGER, an `Ints`, or a function
            `diagnose(got, case, results) -> hint | (rank, hint) | None`, results being every (got, case).
        rules: the exercise's rules (`no_autograd`, `no_hessian`, `gradient_calls(n)`); `Counted` arguments in a
            case are checked too.
        keep_inputs: fail when the learner changes its arguments in place (otherwise it gets copies anyway).
        passed: the message of a pass, when "pass (N hidden cases)" does not say enough.
        call: how the exercise calls the learner, e.g. "f(fn, x, jvp)", for the hint when its function cannot
            take those arguments.
    """
    require_function(exercise, learner)

    def where(i: int) -> str:
        return f"case {i} of {len(cases)}: " if len(cases) > 1 else ""

    autograd_off = any(rule.autograd_off for rule in rules)
    failures: list[tuple[int, int, str]] = []  # (rank, case number, hint)
    returned: list[tuple[int, object, Case]] = []
    if call is not None and cases and cases[0].call is None and not _takes(learner, cases[0].args):
        return CheckResult(exercise, False, f"the exercise calls your function as {call}: give it those arguments")
    for i, case in enumerate(cases, start=1):
        args = _fresh(case.args)
        before = _fresh(args) if keep_inputs else None
        watch = _Watch(rules)
        crash = None
        with watch.active(), torch.no_grad() if autograd_off else contextlib.nullcontext():
            try:
                got = case.call(learner, args) if case.call is not None else learner(*args)
            except NotImplementedError:
                if watch.broken() is None:
                    return CheckResult(exercise, False, NOT_ATTEMPTED, attempted=False)
            except Exception as exc:  # the learner's bug, reported as a hint rather than a crash
                crash = f"your function raised {type(exc).__name__}: {exc}"
                if autograd_off and "grad" in str(exc):
                    crash += " (this exercise is by hand: the check runs your function without autograd)"
        broken = watch.broken() or (None if crash else next(
            (p for a in args if isinstance(a, Counted) and (p := a.problem()) is not None), None))
        if broken is not None:
            return CheckResult(exercise, False, where(i) + broken)
        if crash is not None:
            failures.append((FORMAT, i, crash))
            break
        if keep_inputs and not _unchanged(before, args):
            failures.append((FORMAT, i, "your function changed its input in place: work on a copy (clone) of it"))
            continue
        returned.append((i, got, case))

    results = [(got, case) for _, got, case in returned]
    for i, got, case in returned:
        verdict = answer.diagnose(got, case, results) if hasattr(answer, "diagnose") else answer(got, case, results)
        if isinstance(verdict, str):
            verdict = (SPECIFIC, verdict)
        if verdict is not None:
            failures.append((verdict[0], i, verdict[1]))
    if failures:
        _, i, hint = min(failures)
        return CheckResult(exercise, False, where(i) + hint)
    return CheckResult(exercise, True, passed or f"pass ({len(cases)} hidden case{'s' if len(cases) > 1 else ''})")
