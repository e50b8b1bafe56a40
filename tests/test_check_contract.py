"""What every self-check promises, whatever its chapter, tested once for all of them from their catalogues.

The contract: a right answer passes, a stub is "not attempted yet", a crash becomes a hint instead of an exception,
anything but a function is a clear TypeError. Then, from each check's catalogue (format: `catalogue.py`):
- the reference solution and every alternative right answer pass;
- every catalogued wrong answer fails with its hint;
- the generic mutations of the reference (zeros, x2, negated, +1e-3, transposed or reshaped, NaN) never pass,
  and get a generic hint unless the catalogue says which specific hint is true of them;
- no hint contains a number from the reference's answers (numbers that are part of a hint's fixed text, found
  in the check's source, are allowed);
- every check has a catalogue of at least 5 wrong answers and 1 alternative right answer.

To add a check: add it to `mlbits_lite.check.__all__` and a `Catalogue` for it to its chapter's `CATALOGUE`.
"""
from __future__ import annotations

import importlib
import inspect
import re

import pytest

from catalogue import GENERIC, MUTATIONS, mutate, numbers_in, same
from mlbits_lite import check
from mlbits_lite.check import _framework

CHAPTER_TESTS = ["test_check", "test_check_gelu", "test_check_huber", "test_check_label_smoothing", "test_check_cam",
                 "test_check_cutmix", "test_check_vit", "test_check_tcn", "test_check_pooling",
                 "test_check_perturbation"]
CATALOGUE = {run_check: entry for name in CHAPTER_TESTS
             for run_check, entry in importlib.import_module(name).CATALOGUE.items()}
CHECKS = list(CATALOGUE)
IDS = [c.__name__ for c in CHECKS]
WRONG = [(c, i) for c in CHECKS for i in range(len(CATALOGUE[c].wrong))]
RIGHT = [(c, i) for c in CHECKS for i in range(len(CATALOGUE[c].right))]
PREFIX = re.compile(r"^case \d+ of \d+: ")


def _hint(message: str) -> str:
    return PREFIX.sub("", message)


# ------------------------------------------------------------------------------------------------ completeness
def test_every_check_has_a_catalogue():
    names = {name for name in check.__all__ if name != "CheckResult"}
    assert names == set(IDS), f"checks without a catalogue: {sorted(names - set(IDS))}"
    for run_check, entry in CATALOGUE.items():
        assert len(entry.wrong) >= 5, f"{run_check.__name__}: at least 5 realistic wrong answers"
        assert len(entry.right) >= 1, f"{run_check.__name__}: at least 1 alternative right answer"
        assert set(entry.mutations) <= set(MUTATIONS), f"{run_check.__name__}: unknown mutation"


# ------------------------------------------------------------------------------------------------ the contract
@pytest.mark.parametrize("run_check", CHECKS, ids=IDS)
def test_reference_passes(run_check):
    result = run_check(CATALOGUE[run_check].reference)
    assert result.passed and bool(result), result.message
    assert str(result).startswith("✅") and "pass" in result.message


@pytest.mark.parametrize("run_check, index", RIGHT, ids=[f"{c.__name__}-{i}" for c, i in RIGHT])
def test_alternative_right_answer_passes(run_check, index):
    result = run_check(CATALOGUE[run_check].right[index])
    assert result.passed, result.message


@pytest.mark.parametrize("run_check", CHECKS, ids=IDS)
def test_unattempted_says_so_without_raising(run_check):
    def stub(*args):
        raise NotImplementedError

    result = run_check(stub)
    assert not result and not result.attempted and "not attempted" in result.message
    assert str(result).startswith("✏️")


@pytest.mark.parametrize("run_check", CHECKS, ids=IDS)
def test_a_crash_is_reported_not_raised(run_check):
    def crash(*args):
        raise IndexError("index 7 is out of bounds")

    result = run_check(crash)
    assert not result and result.attempted and "raised IndexError" in result.message


@pytest.mark.parametrize("run_check", CHECKS, ids=IDS)
def test_non_callable_is_a_clear_error(run_check):
    with pytest.raises(TypeError, match="expected your function"):
        run_check(42)


# ------------------------------------------------------------------------------------------------ the catalogue
@pytest.mark.parametrize("run_check, index", WRONG, ids=[f"{c.__name__}-{i}" for c, i in WRONG])
def test_wrong_answer_fails_with_its_hint(run_check, index):
    wrong, fragment = CATALOGUE[run_check].wrong[index]
    result = run_check(wrong)
    assert not result and result.attempted, f"a wrong answer passed: {fragment}"
    assert fragment in result.message, result.message


@pytest.mark.parametrize("how", MUTATIONS)
@pytest.mark.parametrize("run_check", CHECKS, ids=IDS)
def test_mutation_never_passes_nor_misleads(run_check, how):
    reference = CATALOGUE[run_check].reference
    changed = []

    def mutant(*args):
        value = reference(*args)
        mutated = mutate(value, how)
        changed.append(not same(mutated, value))
        return mutated

    result = run_check(mutant)
    if not any(changed):
        pytest.skip(f"{how} does not apply to this answer")
    assert not result, f"the mutation {how} passed"
    hint = _hint(result.message)
    allowed = CATALOGUE[run_check].mutations.get(how)
    assert GENERIC.match(hint) or (allowed and allowed in hint), f"{how} got a specific hint: {hint}"


def _source_numbers(run_check) -> set[str]:
    text = inspect.getsource(inspect.getmodule(run_check)) + inspect.getsource(_framework)
    return set(re.findall(r"\d+(?:\.\d+)?", text))


@pytest.mark.parametrize("run_check", CHECKS, ids=IDS)
def test_hints_leak_no_expected_value(run_check):
    entry = CATALOGUE[run_check]
    answers = []

    def spy(*args):
        answers.append(entry.reference(*args))
        return answers[-1]

    assert run_check(spy)
    expected = [v for answer in answers for v in numbers_in(answer)]
    allowed = _source_numbers(run_check)
    learners = [w for w, _ in entry.wrong] + [
        (lambda how: lambda *a: mutate(entry.reference(*a), how))(how) for how in MUTATIONS]
    for learner in learners:
        hint = _hint(run_check(learner).message)
        for number in re.findall(r"\d+(?:\.\d+)?", hint):
            if number in allowed:
                continue
            decimals = len(number.split(".")[1]) if "." in number else 0
            leaked = [v for v in expected if abs(abs(v) - float(number)) <= 0.5 * 10**-decimals]
            assert not leaked, f"the hint shows {number}, a value of the reference's answer: {hint}"


@pytest.mark.parametrize("run_check", CHECKS, ids=IDS)
def test_hidden_cases_are_deterministic(run_check):
    def off(*args):
        return mutate(CATALOGUE[run_check].reference(*args), "plus_1e-3")

    assert run_check(off).message == run_check(off).message


def test_the_framework_example_works_as_documented():
    import torch

    example = _framework.__doc__.split("Example, a check for an exercise")[1].split("and its catalogue")[0]
    code = "\n".join(line[4:] for line in example.splitlines()[1:])
    namespace = vars(_framework).copy()
    exec(code, namespace)
    tanh_vjp = namespace["tanh_vjp"]
    assert tanh_vjp(lambda x, v: v * (1 - torch.tanh(x) ** 2))
    assert "slope of tanh" in tanh_vjp(lambda x, v: 1 - torch.tanh(x) ** 2).message
    assert "by hand" in tanh_vjp(lambda x, v: torch.autograd.grad(x.requires_grad_().tanh(), x, v)[0]).message
    assert not tanh_vjp(lambda x, v: None).passed
