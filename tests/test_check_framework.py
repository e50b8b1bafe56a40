"""The self-check machinery itself: rules, counted functions, reading numbers, and hints only where evidence holds."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mlbits_lite.check._framework import (
    INTEGER, NUMBER, Case, Counted, Ints, Rule, as_int, as_number, gradient_calls, no_autograd, no_hessian, run)

F64 = torch.float64


def _cases(f):
    """One case per hidden vector x, whose answer is f(x)."""
    return [Case((x,), f(x)) for x in _vectors()]


def _vectors():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(n, generator=g, dtype=F64) for n in (3, 5, 2)]


# ------------------------------------------------------------------------------------------------ rules
def _square_by(method):
    def learner(x):
        return method(x)
    return learner


AUTOGRAD_WAYS = {
    "Tensor.backward": lambda x: (lambda y: (y.pow(2).sum().backward(), y.grad)[1])(x.clone().requires_grad_()),
    "torch.autograd.grad": lambda x: torch.autograd.grad(x.requires_grad_().pow(2).sum(), x)[0],
    "torch.autograd.backward": lambda x: (lambda y: (torch.autograd.backward(y.pow(2).sum()), y.grad)[1])(
        x.clone().requires_grad_()),
    "torch.autograd.functional.jacobian": lambda x: torch.autograd.functional.jacobian(lambda t: t.pow(2).sum(), x),
    "torch.func.grad": lambda x: torch.func.grad(lambda t: t.pow(2).sum())(x),
    "torch.func.vjp": lambda x: torch.func.vjp(lambda t: t.pow(2), x)[1](torch.ones_like(x))[0],
    "torch.func.jvp": lambda x: torch.func.jvp(lambda t: t.pow(2), (x,), (torch.ones_like(x),))[1],
    "torch.func.jacrev": lambda x: torch.func.jacrev(lambda t: t.pow(2).sum())(x),
    "torch.autograd.forward_ad.make_dual": lambda x: _forward_ad(x),
}


def _forward_ad(x):
    import torch.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        dual = fwAD.make_dual(x, torch.ones_like(x))
        return fwAD.unpack_dual(dual.pow(2)).tangent


@pytest.mark.parametrize("name", AUTOGRAD_WAYS)
def test_no_autograd_sees_every_way_in(name):
    result = run("square", AUTOGRAD_WAYS[name], _cases(lambda x: 2 * x), rules=(no_autograd,))
    assert not result and "by hand" in result.message and name in result.message, result.message


def test_no_autograd_sees_renamed_imports_and_engine_calls():
    from torch.autograd import grad as g

    def renamed(x):
        return g(x.requires_grad_().pow(2).sum(), x)[0]

    def through_the_engine(x):  # what every reverse pass goes through
        from torch.autograd.graph import _engine_run_backward

        y = x.clone().requires_grad_()
        out = y.pow(2).sum()
        return _engine_run_backward(out, (torch.ones_like(out),), False, False, (y,), False, True)[0]

    for learner in (renamed, through_the_engine):
        result = run("square", learner, _cases(lambda x: 2 * x), rules=(no_autograd,))
        assert not result and "autograd" in result.message, result.message


def test_ordinary_code_is_never_flagged():
    def busy(x):
        with torch.no_grad():
            a = F.softmax(x, 0) * 0
        with torch.enable_grad():
            b = torch.einsum("i,i->i", x, torch.ones_like(x))
        with torch.inference_mode():
            c = x.clone() * 0
        return 2 * b + a + c.clone()

    assert run("square", busy, _cases(lambda x: 2 * x), rules=(no_autograd, no_hessian))


def test_builtins_and_tensor_methods_are_seen():
    rule = Rule("no {name}", {"torch.conv1d": torch.conv1d, "Tensor.unfold": torch.Tensor.unfold})
    x = torch.randn(1, 1, 8, dtype=F64)
    w = torch.randn(1, 1, 3, dtype=F64)
    conv = run("conv", lambda x: F.conv1d(x, w), [Case((x,), F.conv1d(x, w))], rules=(rule,))
    assert not conv and conv.message == "no torch.conv1d"
    unfold = run("unfold", lambda x: x.unfold(2, 2, 2), [Case((x,), x.unfold(2, 2, 2))], rules=(rule,))
    assert not unfold and unfold.message == "no Tensor.unfold"
    assert run("other", lambda x: x.reshape(1, 1, 4, 2), [Case((x,), x.reshape(1, 1, 4, 2))], rules=(rule,))


def test_a_call_budget_counts_calls():
    def hvp(x, calls):
        y = x.clone().requires_grad_()
        (g,) = torch.autograd.grad(y.pow(3).sum(), y, create_graph=True)
        for _ in range(calls - 1):
            torch.autograd.grad(g.sum(), y, retain_graph=True)
        return 6 * x

    cases = [Case((v, 2), 6 * v) for v in _vectors()]
    assert run("budget", lambda x, c: hvp(x, 2), cases, rules=(gradient_calls(2),))
    result = run("budget", lambda x, c: hvp(x, 3), cases, rules=(gradient_calls(2),))
    assert not result and "3 gradient calls" in result.message


def test_the_profiler_is_restored_even_after_a_crash():
    previous = []

    def outer_hook(frame, event, arg):
        previous.append(event)

    sys.setprofile(outer_hook)
    try:
        run("crash", lambda x: 1 / 0, _cases(lambda x: x), rules=(no_autograd,))
        assert sys.getprofile() is outer_hook
    finally:
        sys.setprofile(None)


def test_a_counted_function_counts_each_case_afresh_and_runs_outside_the_rules():
    counted = Counted(lambda t: torch.func.jvp(torch.sin, (t,), (torch.ones_like(t),))[1], "slope", 1, "case")
    cases = [Case((v, counted), torch.cos(v)) for v in _vectors()]
    assert run("once", lambda x, slope: slope(x), cases, rules=(no_autograd,))
    twice = run("once", lambda x, slope: slope(x) + 0 * slope(x), cases, rules=(no_autograd,))
    assert not twice and "made 2 calls" in twice.message
    never = run("once", lambda x, slope: torch.cos(x), cases, rules=(no_autograd,))
    assert not never and "made 0 calls" in never.message
    assert counted.calls == 0  # the learner always gets a fresh copy


# ------------------------------------------------------------------------------------------------ hints
def test_zeros_are_not_a_constant_factor():
    result = run("z", lambda x: torch.zeros_like(x), _cases(lambda x: x))
    assert "zero everywhere" in result.message


def test_a_factor_must_hold_in_every_case():
    one_off = {3: 2.0, 5: 2.0, 2: 3.0}  # the same factor twice, another one in the third case
    result = run("f", lambda x: one_off[x.numel()] * x, _cases(lambda x: x))
    assert "differ" in result.message and "factor" not in result.message
    assert "constant factor" in run("f", lambda x: 2 * x, _cases(lambda x: x)).message


def test_a_two_entry_answer_summing_to_zero_is_no_evidence_of_a_factor():
    # with n = 2 and entries summing to 0, any such answer is proportional to the truth: the other cases decide
    want = torch.tensor([0.3, -0.3], dtype=F64)
    result = run("f", lambda x: torch.tensor([1.0, -1.0], dtype=F64) if x.numel() == 2 else x + 1,
                 [Case((want,), want), *_cases(lambda x: x)[:2]])
    assert "factor" not in result.message


def test_a_number_never_gets_a_ratio_hint():
    cases = [Case((x,), x) for x in (1.5, 2.5, -0.7)]
    result = run("n", lambda x: 2 * x, cases, answer=NUMBER)
    assert result.message.endswith("the value differs from the reference on a hidden input")


def test_a_catalogued_mistake_is_named_only_if_every_case_agrees():
    vectors = _vectors()
    cases = [Case((v,), v, {"you doubled it": 2 * v}) for v in vectors]
    assert "you doubled it" in run("c", lambda x: 2 * x, cases).message
    once = run("c", lambda x: 2 * x if x.numel() == 3 else 3 * x, cases)  # matches in case 1 only
    assert "doubled" not in once.message


def test_a_value_two_mistakes_share_names_neither():
    v = _vectors()[0]
    cases = [Case((v,), v, {"mistake a": 2 * v, "mistake b": 2 * v})]
    assert "mistake" not in run("c", lambda x: 2 * x, cases).message


def test_a_case_can_call_the_learner_its_own_way():
    def twice(learner, args):
        return learner(*args), learner(*args)

    case = Case((torch.ones(3, dtype=F64),), None, call=twice)
    seen = []
    assert run("c", lambda x: x, [case], answer=lambda got, case, results: seen.append(got) or None)
    assert len(seen[0]) == 2


def test_inputs_changed_in_place_fail_only_when_asked():
    def answer_then_spoil(x):
        answer = x.clone()
        x.mul_(2)
        return answer

    cases = _cases(lambda x: x)
    assert run("c", answer_then_spoil, cases) and all(torch.equal(c.args[0], c.want) for c in cases)
    result = run("c", answer_then_spoil, cases, keep_inputs=True)
    assert not result and "in place" in result.message


# ------------------------------------------------------------------------------------------------ reading answers
@pytest.mark.parametrize("value", [2, 2.0, np.float32(2.0), np.int64(2), torch.tensor(2.0), torch.tensor([2]),
                                   np.array(2.0), torch.tensor(2, dtype=torch.int32)])
def test_as_number_reads_any_numeric_type(value):
    assert as_number(value) == 2.0


@pytest.mark.parametrize("value, hint", [(True, "bool"), (np.bool_(True), "bool"), ("2", "str"),
                                         (torch.ones(2), "single number"), (None, "NoneType"),
                                         (torch.tensor(True), "bool")])
def test_as_number_refuses_what_is_not_a_number(value, hint):
    message = as_number(value)
    assert isinstance(message, str) and hint in message


@pytest.mark.parametrize("value", [2, np.int64(2), np.int8(2), torch.tensor(2), torch.tensor([2]), np.array([2])])
def test_as_int_reads_any_integer_type(value):
    assert as_int(value) == 2 and isinstance(as_int(value), int)


@pytest.mark.parametrize("value", [2.0, np.float64(2.0), torch.tensor(2.0), True, "2", [2]])
def test_as_int_refuses_floats_bools_and_the_rest(value):
    assert isinstance(as_int(value), str)


def test_integer_and_ints_answers():
    cases = [Case((n,), n) for n in (3, 4)]
    assert run("i", lambda n: np.int64(n), cases, answer=INTEGER)
    assert "too high" in run("i", lambda n: n + 1, cases, answer=INTEGER).message
    boxes = [Case((n,), (0, n, 1, n + 1)) for n in (3, 4)]
    box = Ints(("y0", "y1", "x0", "x1"))
    assert run("b", lambda n: torch.tensor([0, n, 1, n + 1]), boxes, answer=box)
    assert run("b", lambda n: np.array([0.0, n, 1.0, n + 1]), boxes, answer=box)
    assert "four ints" in run("b", lambda n: (0, n, 1), boxes, answer=box).message
    assert "whole number" in run("b", lambda n: (0, n + 0.5, 1, n), boxes, answer=box).message
