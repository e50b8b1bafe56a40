"""Self-checks for chapter 8: temporal convolutional networks vs recurrent networks."""
from __future__ import annotations

import numbers
from typing import Callable

import torch
import torch.nn.functional as F

from ._framework import CheckResult, _hidden_generator, _run

__all__ = ["causal_conv1d", "receptive_field", "leak_free_scale"]

_NOT_ATTEMPTED = "not attempted yet: replace `raise NotImplementedError` with your code"


def _causal(x: torch.Tensor, weight: torch.Tensor, dilation: int) -> torch.Tensor:
    return F.conv1d(F.pad(x, ((weight.shape[-1] - 1) * dilation, 0)), weight, dilation=dilation)


def _sees_the_future(learner: Callable, x: torch.Tensor, weight: torch.Tensor, dilation: int) -> bool:
    """Whether changing only the second half of x changes the learner's output in the first half."""
    half = x.shape[-1] // 2
    changed = x.clone()
    changed[..., half:] += 1.0
    try:
        with torch.no_grad():
            a, b = learner(x, weight, dilation), learner(changed, weight, dilation)
    except Exception:
        return False
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape or a.ndim != 3:
        return False
    return not torch.allclose(a[..., :half], b[..., :half])


def causal_conv1d(learner: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Exercise: a dilated causal convolution, tap by tap (y_t = sum_j w_j x_{t - (k-1-j) d}).

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
        wrong = {}
        if k > 1:
            left = pad // 2
            wrong = {
                "your output depends on future inputs: pad (k - 1) d steps on the left only":
                    F.conv1d(F.pad(x, (left, pad - left)), w, dilation=d),
                "you kept the wrong end after padding both sides: cut the last (k - 1) d steps, not the first":
                    both[..., pad:],
                "your output is longer than the input: after padding both sides, cut (k - 1) d steps off the right":
                    both,
                "your taps are in reverse order: in PyTorch's convention the last tap multiplies the current step":
                    _causal(x, w.flip(-1), d),
            }
            if d > 1:
                wrong["the dilation is missing: taps are d steps apart"] = _causal(x, w, 1)
        cases.append(((x, w, d), _causal(x, w, d), wrong))

    # a causality test of its own first: it names the mistake whatever the padding arithmetic was
    if _sees_the_future(learner, *cases[0][0]):
        return CheckResult("causal_conv1d", False,
                           "your output depends on future inputs: pad (k - 1) d steps on the left only")
    result = _run("causal_conv1d", learner, cases, no_grad=True)
    if not result.passed and result.attempted and "shape (2, 4, 0)" in result.message:
        return CheckResult("causal_conv1d", False,
                           result.message.split(":")[0] + ": your output is empty when k = 1: "
                           "`x[..., :-0]` keeps nothing, so cut only when there is something to cut")
    return result


def receptive_field(learner: Callable[[int, int, int], int]) -> CheckResult:
    """Exercise: how many inputs one output of a TCN sees, from the kernel size, the levels and convs per block.

    Args:
        learner: `f(kernel_size, num_levels, convs_per_block)` returning an int; block i has dilation 2^i.
    """
    if not callable(learner):
        raise TypeError(f"receptive_field: expected your function as the argument, got {type(learner).__name__}")
    cases = [(2, 4, 2), (3, 6, 2), (7, 8, 2), (5, 3, 1), (1, 5, 2)]  # k = 1 last: every formula gives 1
    for i, (k, levels, convs) in enumerate(cases, start=1):
        want = 1 + convs * (k - 1) * (2**levels - 1)
        wrong = {
            1 + (k - 1) * (2**levels - 1): "that counts one convolution per block: each block has convs_per_block",
            convs * (k - 1) * (2**levels - 1): "off by one: the current input counts too",
            1 + convs * (k - 1) * 2**levels: "the dilations 1, 2, ..., 2^(L-1) sum to 2^L - 1, not 2^L",
            1 + convs * (k - 1) * levels: "that treats every level as dilation 1: block i has dilation 2^i",
            1 + convs * k * (2**levels - 1): "a kernel of k taps with dilation d spans (k - 1) d extra steps, not k d",
        }
        try:
            got = learner(k, levels, convs)
        except NotImplementedError:
            return CheckResult("receptive_field", False, _NOT_ATTEMPTED, attempted=False)
        except Exception as exc:
            return CheckResult("receptive_field", False,
                               f"case {i} of {len(cases)}: your function raised {type(exc).__name__}: {exc}")
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            return CheckResult("receptive_field", False,
                               f"case {i} of {len(cases)}: your function returned a {type(got).__name__}; return an int")
        if got != want:
            hint = wrong.get(got, "the count differs from the reference on a hidden case") if want != 1 else \
                "with one tap per convolution (k = 1) an output sees only the current input"
            return CheckResult("receptive_field", False, f"case {i} of {len(cases)}: {hint}")
    return CheckResult("receptive_field", True, f"pass ({len(cases)} hidden cases)")


def leak_free_scale(learner: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Exercise: min-max scale a whole series with statistics from its training period only.

    Args:
        learner: `f(series, num_train)` for a 1-D tensor, returning (series - lo) / (hi - lo) for every point,
            with lo and hi the minimum and maximum of the first `num_train` points.
    """
    g = _hidden_generator("leak_free_scale")
    cases = []
    for length, num_train in ((40, 30), (60, 45), (25, 10)):
        trend = torch.linspace(0, 3, length, dtype=torch.float64)  # rising: the test period leaves the train range
        series = 100 * (1 + trend + 0.3 * torch.randn(length, generator=g, dtype=torch.float64))
        series[num_train] = series[:num_train].max() + 50  # the first test point beats every training point

        def scaled(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
            return (series - lo) / (hi - lo)

        train = series[:num_train]
        want = scaled(train.min(), train.max())
        wrong = {
            "you fitted the scaler on the whole series: the test period leaks into the statistics":
                scaled(series.min(), series.max()),
            "your training period includes the first test point: use the first num_train points":
                scaled(series[: num_train + 1].min(), series[: num_train + 1].max()),
            "that standardises (mean and standard deviation); min-max scaling is asked for":
                (series - train.mean()) / train.std(),
            "that standardises with the population standard deviation; min-max scaling is asked for":
                (series - train.mean()) / train.std(unbiased=False),
            "you scaled only the training period: return the whole series, scaled with the training statistics":
                want[:num_train],
        }
        cases.append(((series.clone(), num_train), want, wrong))
    return _run("leak_free_scale", learner, cases, no_grad=True)
