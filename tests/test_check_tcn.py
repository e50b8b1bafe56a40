"""Chapter 8's self-checks: right answers pass, typical mistakes get their hint, no hint leaks a number."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from mlbits_lite import check


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d+\.\d+", text)


# --------------------------------------------------------------------------------------- reference solutions
def causal_conv1d(x, weight, dilation):
    k, length = weight.shape[-1], x.shape[-1]
    out = 0
    for j in range(k):  # tap j multiplies x_{t - (k-1-j) d}
        shift = (k - 1 - j) * dilation
        shifted = F.pad(x, (shift, 0))[..., :length]
        out = out + torch.einsum("oc,ncl->nol", weight[:, :, j], shifted)
    return out


def receptive_field(kernel_size, num_levels, convs_per_block):
    return 1 + convs_per_block * (kernel_size - 1) * (2**num_levels - 1)


def leak_free_scale(series, num_train):
    lo, hi = series[:num_train].min(), series[:num_train].max()
    return (series - lo) / (hi - lo)


CASES = [
    (check.causal_conv1d, causal_conv1d),
    (check.receptive_field, receptive_field),
    (check.leak_free_scale, leak_free_scale),
]
IDS = ["causal_conv1d", "receptive_field", "leak_free_scale"]


def test_other_right_answers_pass():
    def by_library_conv(x, w, d):  # pad left, then PyTorch's convolution
        return F.conv1d(F.pad(x, ((w.shape[-1] - 1) * d, 0)), w, dilation=d)

    def by_chomp(x, w, d):  # the reference code's way, with the k = 1 case handled
        pad = (w.shape[-1] - 1) * d
        y = F.conv1d(x, w, padding=pad, dilation=d)
        return y[..., : y.shape[-1] - pad]

    assert check.causal_conv1d(by_library_conv)
    assert check.causal_conv1d(by_chomp)
    assert check.receptive_field(lambda k, n, c: torch.tensor(receptive_field(k, n, c)))


def _pad_both(x, w, d):
    pad = (w.shape[-1] - 1) * d
    return F.conv1d(x, w, padding=pad, dilation=d)


@pytest.mark.parametrize("wrong, hint", [
    (lambda x, w, d: F.conv1d(x, w, padding=(w.shape[-1] - 1) * d // 2, dilation=d)
     if (w.shape[-1] - 1) * d % 2 == 0 else causal_conv1d(x, w, d), "future inputs"),  # 'same' padding
    (lambda x, w, d: _pad_both(x, w, d)[..., (w.shape[-1] - 1) * d:], "future inputs"),  # kept the wrong end
    (_pad_both, "longer than the input"),  # no chomp
    (lambda x, w, d: _pad_both(x, w, d)[..., :-((w.shape[-1] - 1) * d)], "empty when k = 1"),  # Chomp1d(0)
    (lambda x, w, d: causal_conv1d(x, w.flip(-1), d), "reverse order"),
    (lambda x, w, d: causal_conv1d(x, w, 1), "dilation"),
    (lambda x, w, d: -causal_conv1d(x, w, d), "sign"),
    (lambda x, w, d: causal_conv1d(x, w, d).numpy(), "torch.Tensor"),
])
def test_causal_conv_mistakes_get_their_hint(wrong, hint):
    result = check.causal_conv1d(wrong)
    assert not result and result.attempted
    assert hint in result.message, result.message


@pytest.mark.parametrize("wrong, hint", [
    (lambda k, n, c: 1 + (k - 1) * (2**n - 1), "one convolution per block"),
    (lambda k, n, c: c * (k - 1) * (2**n - 1), "off by one"),
    (lambda k, n, c: 1 + c * (k - 1) * 2**n, "2^L - 1"),
    (lambda k, n, c: 1 + c * (k - 1) * n, "dilation 2^i"),
    (lambda k, n, c: 1 + c * k * (2**n - 1), "(k - 1) d"),
    (lambda k, n, c: 2 + c * (k - 1) * (2**n - 1) - (k == 1), "differs"),
    (lambda k, n, c: max(1, 1 + c * (k - 1) * (2**n - 1)) + (k == 1), "k = 1"),
    (lambda k, n, c: float("nan"), "differs"),
    (lambda k, n, c: str(receptive_field(k, n, c)), "return an int"),
    (lambda k, n, c: 1 // 0, "ZeroDivisionError"),
])
def test_receptive_field_mistakes_get_their_hint(wrong, hint):
    result = check.receptive_field(wrong)
    assert not result and result.attempted
    assert hint in result.message, result.message


@pytest.mark.parametrize("wrong, hint", [
    (lambda s, n: (s - s.min()) / (s.max() - s.min()), "whole series"),
    (lambda s, n: leak_free_scale(s, n + 1), "first test point"),
    (lambda s, n: (s - s[:n].mean()) / s[:n].std(), "standardises"),
    (lambda s, n: (s - s[:n].mean()) / s[:n].std(unbiased=False), "standardises"),
    (lambda s, n: leak_free_scale(s, n)[:n], "only the training period"),
    (lambda s, n: 2 * leak_free_scale(s, n), "constant factor"),
    (lambda s, n: leak_free_scale(s, n) + 0.1, "differ"),
])
def test_leak_free_scale_mistakes_get_their_hint(wrong, hint):
    result = check.leak_free_scale(wrong)
    assert not result and result.attempted
    assert hint in result.message, result.message


def test_learner_cannot_change_the_hidden_series():
    def scale_in_place(series, num_train):
        lo, hi = series[:num_train].min(), series[:num_train].max()
        return series.sub_(lo).div_(hi - lo)  # in place: the check passes copies

    assert check.leak_free_scale(scale_in_place)


def test_no_message_contains_a_number_from_the_reference():
    for run_check, solution in CASES:
        for wrong in (lambda *a, s=solution: 1.5 * s(*a), lambda *a, s=solution: s(*a) + 0.25):
            assert _numbers(run_check(wrong).message) == []


def test_hidden_cases_are_deterministic():
    def wrong(x, w, d):
        return 1.1 * causal_conv1d(x, w, d)

    assert check.causal_conv1d(wrong).message == check.causal_conv1d(wrong).message
