"""Self-checks for chapter 8: temporal convolutional networks vs recurrent networks."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ._framework import GENERIC, INTEGER, TENSOR, Case, CheckResult, Rule, _hidden_generator, run

__all__ = ["causal_conv1d", "receptive_field", "leak_free_scale"]

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


def receptive_field(learner: Callable[[int, int, int], int]) -> CheckResult:
    """Exercise: how many inputs one output of a TCN sees, from the kernel size, the levels and convs per block.

    Args:
        learner: `f(kernel_size, num_levels, convs_per_block)` returning an int (of any integer type); block i has
            dilation 2^i.
    """
    cases = []
    for k, levels, convs in ((2, 4, 2), (3, 6, 2), (5, 3, 1), (3, 4, 3), (7, 8, 2), (1, 5, 2)):  # k = 1 last
        want = 1 + convs * (k - 1) * (2**levels - 1)
        wrong = {
            "that counts one convolution per block: each block has convs_per_block": 1 + (k - 1) * (2**levels - 1),
            "you counted two convolutions per block whatever convs_per_block says": 1 + 2 * (k - 1) * (2**levels - 1),
            "off by one: the current input counts too": convs * (k - 1) * (2**levels - 1),
            "the dilations 1, 2, ..., 2^(L-1) sum to 2^L - 1, not 2^L": 1 + convs * (k - 1) * 2**levels,
            "that treats every level as dilation 1: block i has dilation 2^i": 1 + convs * (k - 1) * levels,
            "a kernel of k taps with dilation d spans (k - 1) d extra steps, not k d": 1 + convs * k * (2**levels - 1),
        }
        cases.append(Case((k, levels, convs), want, wrong))
    return run("receptive_field", learner, cases, answer=_diagnose_receptive_field)


def _diagnose_receptive_field(got: object, case: Case, results: list) -> tuple[int, str] | None:
    verdict = INTEGER.diagnose(got, case, results)
    if verdict is not None and verdict[0] == GENERIC and case.args[0] == 1:  # reported only if all else is right
        return GENERIC, "check your formula for kernel_size = 1: what does a convolution with a single tap add?"
    return verdict


def leak_free_scale(learner: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Exercise: min-max scale a whole series with statistics from its training period only.

    Args:
        learner: `f(series, num_train)` for a 1-D tensor, returning (series - lo) / (hi - lo) for every point,
            with lo and hi the minimum and maximum of the first `num_train` points.
    """
    g = _hidden_generator("leak_free_scale")
    cases = []
    for length, num_train, last in ((40, 30, "min"), (60, 45, "max"), (25, 10, "min")):
        trend = torch.linspace(0, 3, length, dtype=torch.float64)  # rising: the test period leaves the train range
        series = 100 * (1 + trend + 0.3 * torch.randn(length, generator=g, dtype=torch.float64))
        # the last training point is the training period's minimum or maximum: leaving it out shows
        extreme = series[:num_train].min() - 5 if last == "min" else series[:num_train].max() + 5
        series[num_train - 1] = extreme
        series[num_train] = series[:num_train].max() + 50  # the first test point beats every training point

        def scaled(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
            return (series - lo) / (hi - lo)

        train = series[:num_train]
        want = scaled(train.min(), train.max())
        before_last = series[: num_train - 1]
        wrong = {
            "you fitted the scaler on the whole series: the test period leaks into the statistics":
                scaled(series.min(), series.max()),
            "your training period includes the first test point: use the first num_train points":
                scaled(series[: num_train + 1].min(), series[: num_train + 1].max()),
            "your training period misses its last point: series[:num_train] holds the first num_train points":
                scaled(before_last.min(), before_last.max()),
            "the statistics come from the training period, the first num_train points, not from the test period":
                scaled(series[num_train:].min(), series[num_train:].max()),
            "divide by the range hi - lo, not by hi": (series - train.min()) / train.max(),
            "that standardises (mean and standard deviation); min-max scaling is asked for":
                (series - train.mean()) / train.std(),
            "that standardises with the population standard deviation; min-max scaling is asked for":
                (series - train.mean()) / train.std(unbiased=False),
            "you scaled only the training period: return the whole series, scaled with the training statistics":
                want[:num_train],
        }
        cases.append(Case((series.clone(), num_train), want, wrong))
    return run("leak_free_scale", learner, cases)
