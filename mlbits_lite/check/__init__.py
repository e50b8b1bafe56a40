"""Self-checks for exercises: tell a learner whether they are right without giving the answer away.

Each exercise has one check, named after it. A check calls the learner's function on hidden inputs (drawn from a
private, fixed seed), compares with a reference implementation, and returns a `CheckResult` that shows as one line:

    pass    -- every hidden case agrees with the reference;
    fail    -- with a hint about *what kind* of mistake (shape, sign, a missing term, off by a factor, ...);
    not yet -- the function still raises NotImplementedError.

Checks never print expected values, only what is wrong in kind. They never raise for a wrong answer, so "Run all"
always reaches the end of a notebook.

One module per chapter holds that chapter's checks; `check.NAME` reaches every one of them:
    backward   chapter 1: backward() as a vector–Jacobian product
"""
from __future__ import annotations

from ._framework import CheckResult
from .backward import hessian_vector_product, jacobian_by_jvps, predict_grad, softmax_vjp

__all__ = [
    "CheckResult",
    # chapter 1
    "softmax_vjp",
    "jacobian_by_jvps",
    "predict_grad",
    "hessian_vector_product",
]
