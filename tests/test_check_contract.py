"""What every self-check promises, whatever its chapter: a right answer passes, a stub is "not attempted yet",
a crash becomes a hint instead of an exception, and anything but a function is a clear error.

The chapters' test modules (`test_check*.py`) each list their checks with a reference solution in `CASES`; their
own tests cover the hints for typical mistakes.
"""
from __future__ import annotations

import importlib

import pytest

CHAPTER_TESTS = ["test_check", "test_check_gelu", "test_check_huber", "test_check_label_smoothing", "test_check_cam",
                 "test_check_cutmix", "test_check_vit", "test_check_tcn", "test_check_pooling"]
CASES = [case for name in CHAPTER_TESTS for case in importlib.import_module(name).CASES]
IDS = [run_check.__name__ for run_check, _ in CASES]


def test_every_check_is_covered():
    from mlbits_lite import check

    names = {name for name in check.__all__ if name != "CheckResult"}
    assert names == set(IDS), f"checks without a reference solution in CASES: {sorted(names - set(IDS))}"


@pytest.mark.parametrize("run_check, solution", CASES, ids=IDS)
def test_right_answer_passes(run_check, solution):
    result = run_check(solution)
    assert result.passed and bool(result), result.message
    assert str(result).startswith("✅") and "pass" in result.message


@pytest.mark.parametrize("run_check, solution", CASES, ids=IDS)
def test_unattempted_says_so_without_raising(run_check, solution):
    def stub(*args):
        raise NotImplementedError

    result = run_check(stub)
    assert not result and not result.attempted and "not attempted" in result.message
    assert str(result).startswith("✏️")


@pytest.mark.parametrize("run_check, solution", CASES, ids=IDS)
def test_a_crash_is_reported_not_raised(run_check, solution):
    def crash(*args):
        raise IndexError("index 7 is out of bounds")

    result = run_check(crash)
    assert not result and result.attempted and "raised IndexError" in result.message


@pytest.mark.parametrize("run_check, solution", CASES, ids=IDS)
def test_non_callable_is_a_clear_error(run_check, solution):
    with pytest.raises(TypeError, match="expected your function"):
        run_check(42)
