"""Self-checks for chapter 9: temporal convolutional networks vs recurrent networks."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ._framework import (FORMAT, GENERIC, SPECIFIC, TENSOR, Case, CheckResult, Rule, Tensor, _hidden_generator,
                         as_int, no_autograd, run)

__all__ = ["causal_conv1d", "levels_to_cover", "path_counts", "rnn_critical_path"]

no_conv = Rule("this exercise builds the convolution from shifted copies of x, and your function called {name}",
               {"F.conv1d": F.conv1d, "torch.nn.Conv1d": torch.nn.Conv1d.forward, "F.conv2d": F.conv2d})


def _causal(x: torch.Tensor, weight: torch.Tensor, dilation: int) -> torch.Tensor:
    return F.conv1d(F.pad(x, ((weight.shape[-1] - 1) * dilation, 0)), weight, dilation=dilation)


FUTURE = "your output depends on future inputs: step t may read x at steps t, t - d, ..., never later"


def _with_future(x: torch.Tensor) -> Callable[[Callable, tuple], tuple]:
    """Call the learner on x and on x with its second half changed: a causal output keeps its first half."""
    changed = x.clone()
    changed[..., x.shape[-1] // 2:] += 1.0

    def call(learner: Callable, args: tuple) -> tuple:
        return learner(*args), learner(changed.clone(), *args[1:])
    return call


def _diagnose_causal(got: object, case: Case, results: list) -> tuple[int, str] | None:
    """The first case's answer comes with a second one, on an input changed in its future half."""
    plain = [(g[0] if c.call is not None else g, c) for g, c in results]
    if case.call is None:
        return TENSOR.diagnose(got, case, plain)
    output, changed = got
    half = case.args[0].shape[-1] // 2
    if all(isinstance(t, torch.Tensor) and t.ndim == 3 for t in (output, changed)) and \
            output.shape == changed.shape and not torch.allclose(output[..., :half], changed[..., :half]):
        return 1, FUTURE
    return TENSOR.diagnose(output, case, plain)


def causal_conv1d(learner: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Exercise: a dilated causal convolution, tap by tap (y_t = sum_j w_j x_{t - (k-1-j) d}), without F.conv1d.

    Args:
        learner: `f(x, weight, dilation)` for x (N, C_in, L) and weight (C_out, C_in, k) as in `nn.Conv1d`,
            returning (N, C_out, L) whose step t depends on x at steps t, t - d, ..., t - (k - 1) d only.
    """
    g = _hidden_generator("causal_conv1d")
    cases = []
    for k, d, length in ((3, 1, 12), (2, 4, 16), (4, 2, 9), (1, 3, 7)):  # k = 1 last: nothing to pad or cut
        x = torch.randn(2, 3, length, generator=g, dtype=torch.float64)
        w = torch.randn(4, 3, k, generator=g, dtype=torch.float64)
        pad = (k - 1) * d
        both = F.conv1d(x, w, padding=pad, dilation=d)  # padded on both sides: length L + (k - 1) d
        left = pad // 2
        wrong = {
            FUTURE: F.conv1d(F.pad(x, (left, pad - left)), w, dilation=d),
            "you kept the wrong end after padding both sides: cut the last (k - 1) d steps, not the first":
                both[..., pad:],
            "your output is longer than the input: after padding both sides, cut (k - 1) d steps off the right":
                both,
            "your taps are in reverse order: in PyTorch's convention the last tap multiplies the current step":
                _causal(x, w.flip(-1), d),
            "the dilation is missing: taps are d steps apart": _causal(x, w, 1),
            "pad (k - 1)·d steps on the left: with dilation d the kernel spans (k - 1) d steps":
                F.conv1d(F.pad(x, (k - 1, 0)), w, dilation=d),
            "your output is empty when k = 1: `x[..., :-0]` keeps nothing, so cut only when there is something "
            "to cut": (lambda got: got.shape[-1] == 0) if k == 1 else None,
        }
        cases.append(Case((x, w, d), _causal(x, w, d), wrong, call=_with_future(x) if not cases else None))
    return run("causal_conv1d", learner, cases, answer=_diagnose_causal, rules=(no_conv,))


def _formula_hint(got: object, case: Case, results: list) -> tuple[int, str] | None:
    """An int answer; a catalogued mistake is named only when the learner's answers equal that mistake's formula in
    every hidden case (the wrong values of a case include those equal to the reference), and no other's."""
    value = as_int(got)
    if isinstance(value, str):
        return FORMAT, value
    if value == case.want:
        return None
    answers = [as_int(g) for g, _ in results]
    matching = [hint for hint in case.wrong if all(a == c.wrong[hint] for a, (_, c) in zip(answers, results))]
    if len(matching) == 1:
        return SPECIFIC, matching[0]
    return GENERIC, f"your count is too {'low' if value < case.want else 'high'} on a hidden case"


def _fewest_levels(sees: Callable[[int], int], seq_len: int, strict: bool = False) -> int:
    """The fewest levels L whose receptive field sees(L) reaches seq_len (exceeds it, if strict)."""
    levels = 0
    while sees(levels) < seq_len or (strict and sees(levels) == seq_len):
        levels += 1
    return levels


def levels_to_cover(learner: Callable[[int, int, int], int]) -> CheckResult:
    """Exercise: the fewest TCN levels whose last output sees a whole sequence (RF >= seq_len).

    Args:
        learner: `f(kernel_size, seq_len, convs_per_block)` returning an int (of any integer type): the fewest levels
            L, with dilations 2^0 .. 2^(L-1) and convs_per_block convolutions each, such that
            1 + convs_per_block (kernel_size - 1) (2^L - 1) >= seq_len. kernel_size >= 2, seq_len >= 1.
    """
    cases = []
    # chosen so that each mistake below gives its own answers over the cases, unlike any other and unlike the
    # reference plus or minus one: (5, 57, 2) is met exactly (RF = 57), (2, 9, 3) and (5, 2, 1) have c != 2
    for k, seq_len, c in ((7, 600, 2), (5, 57, 2), (3, 10_000, 2), (2, 9, 2), (3, 127, 2), (2, 9, 3), (5, 2, 1)):
        def fewest(sees: Callable[[int], int], strict: bool = False) -> int:
            return _fewest_levels(sees, seq_len, strict)

        r = k - 1  # (k - 1) d: the steps one convolution of dilation d adds
        wrong = {
            "an output that sees exactly seq_len steps covers the sequence: the receptive field must reach seq_len, "
            "not exceed it": fewest(lambda n: 1 + c * r * (2**n - 1), strict=True),
            "that counts one convolution per level: each level has convs_per_block of them":
                fewest(lambda n: 1 + r * (2**n - 1)),
            "you counted two convolutions per level whatever convs_per_block says":
                fewest(lambda n: 1 + 2 * r * (2**n - 1)),
            "the dilations 1, 2, ..., 2^(L-1) add up to 2^L - 1, not 2^L": fewest(lambda n: 1 + c * r * 2**n),
            "that treats every level as dilation 1: level i has dilation 2^i": fewest(lambda n: 1 + c * r * n),
            "a kernel of k taps with dilation d spans (k - 1) d steps, not k d": fewest(lambda n: 1 + c * k * (2**n - 1)),
            "one level short: round the number of levels up, not down":
                math.floor(math.log2((seq_len - 1) / (c * r) + 1)),
        }
        cases.append(Case((k, seq_len, c), fewest(lambda n: 1 + c * r * (2**n - 1)), wrong))
    return run("levels_to_cover", learner, cases, answer=_formula_hint, call="f(kernel_size, seq_len, convs_per_block)")


class _Counts(Tensor):
    """Counts as a tensor (or NumPy array) of any real dtype, compared exactly."""

    def __init__(self) -> None:
        super().__init__(exact=True, near="close, but not exact: the counts are whole numbers")

    def read(self, got: object) -> torch.Tensor | str:
        if isinstance(got, np.ndarray) and np.issubdtype(got.dtype, np.number) and not np.iscomplexobj(got):
            got = torch.from_numpy(got.astype(np.float64))
        if not isinstance(got, torch.Tensor):
            return f"your function returned a {type(got).__name__}; return a torch.Tensor"
        if got.dtype == torch.bool or got.is_complex():
            return f"your result has dtype {got.dtype}; return the counts as numbers"
        return got.detach().cpu().double()


def _paths(kernel_size: int, dilations: list[int]) -> torch.Tensor:
    """Entry lag of the result: how many paths lead from the input at that lag to the output (all taps 1)."""
    counts = torch.ones(1, dtype=torch.float64)
    for d in dilations:
        longer = torch.zeros(len(counts) + (kernel_size - 1) * d, dtype=torch.float64)
        for j in range(kernel_size):  # tap j reaches j d steps further back
            longer[j * d: j * d + len(counts)] += counts
        counts = longer
    return counts


def path_counts(learner: Callable[[int, list[int]], torch.Tensor]) -> CheckResult:
    """Exercise: the number of paths from each input lag to the output of a linear stack of causal convolutions.

    Args:
        learner: `f(kernel_size, dilations)` returning a 1-D tensor (any real dtype) of length
            1 + (kernel_size - 1) * sum(dilations): entry lag is the number of paths from the input `lag` steps
            back to the last output, one convolution per dilation, every tap 1. Run without autograd (by hand).
    """
    cases = []
    for k, dilations in ((2, [1, 2, 4, 8]), (2, [1, 1, 2, 2, 4, 4]), (3, [1, 2, 4]), (4, [1, 3]), (3, [2, 2, 1]),
                         (1, [1, 2])):
        want = _paths(k, dilations)
        span = len(want)
        each_layer = torch.zeros(span, dtype=torch.float64)
        for d in dilations:
            each_layer[: (k - 1) * d + 1: d] += 1  # one layer's taps, added instead of convolved
        wrong = {
            "the taps of a convolution with dilation d are d steps apart": _paths(k, [1] * len(dilations)),
            "count the paths, not only whether one exists": (want > 0).double(),
            "paths multiply through the layers: the counts of one layer convolve with the taps of the next, they do "
            "not add up": each_layer,
            "a kernel of k taps with dilation d reaches (k - 1) d steps back, not k d": _paths(k + 1, dilations),
            "return the number of paths, not their share of the total": want / want.sum(),
            "every entry of dilations is a convolution: one of them is missing": _paths(k, dilations[:-1]),
            "lags run from 0 to RF - 1: your result has one entry too many": torch.cat([want, want.new_zeros(1)]),
        }
        cases.append(Case((k, list(dilations)), want, wrong))
    return run("path_counts", learner, cases, answer=_Counts(), rules=(no_autograd,),
               call="f(kernel_size, dilations)")


def rnn_critical_path(learner: Callable[[int, int], int]) -> CheckResult:
    """Exercise: rounds of one forward pass of a stacked RNN when every cell runs as soon as its inputs are ready.

    Args:
        learner: `f(num_layers, seq_len)` returning an int (of any integer type): the number of rounds when cell
            (l, t) waits for (l, t - 1) and (l - 1, t), and each round runs every cell that is ready.
    """
    cases = []
    for layers, steps in ((1, 7), (3, 10), (5, 2), (4, 4), (2, 1), (6, 30)):
        wrong = {
            "that runs the layers one after another: layer l can start step t as soon as layer l - 1 has finished "
            "step t, while it works on later steps": layers * steps,
            "the top layer's last step waits for the layers below it too": steps,
            "off by one: the first round already runs the first cell": layers + steps,
            "one round short: count the cells on the longest chain of waits, both ends included": layers + steps - 2,
            "the steps of one layer cannot run at once: step t waits for step t - 1": max(layers, steps),
        }
        cases.append(Case((layers, steps), layers + steps - 1, wrong))
    return run("rnn_critical_path", learner, cases, answer=_formula_hint, call="f(num_layers, seq_len)")
