"""Chapter 8's self-checks: the catalogue of answers (run by test_check_contract.py)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from catalogue import Catalogue
from mlbits_lite import check, models


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


# --------------------------------------------------------------------------------------- other right answers
def causal_conv_by_roll(x, weight, dilation):
    k, length = weight.shape[-1], x.shape[-1]
    steps = torch.arange(length)
    out = torch.zeros(x.shape[0], weight.shape[0], length, dtype=x.dtype)
    for j in range(k):
        shift = (k - 1 - j) * dilation
        shifted = torch.where(steps >= shift, x.roll(shift, -1), torch.zeros_like(x))  # x_{t - shift}, 0 before 0
        out += weight[:, :, j] @ shifted
    return out


def receptive_field_by_summing(kernel_size, num_levels, convs_per_block):
    seen = 1
    for level in range(num_levels):
        seen += convs_per_block * (kernel_size - 1) * 2**level  # each conv adds (k - 1) d
    return np.int64(seen)


def scale_in_place(series, num_train):  # in place is fine here: the check passes copies
    lo, hi = series[:num_train].min(), series[:num_train].max()
    return series.sub_(lo).div_(hi - lo)


# --------------------------------------------------------------------------------------- wrong answers
def _pad_both(x, w, d):
    return F.conv1d(x, w, padding=(w.shape[-1] - 1) * d, dilation=d)


def _taps(x, w, d, shift_of, pad_total=None):
    """Tap-by-tap convolution with a chosen shift per tap: the shape of every slip below."""
    k, length = w.shape[-1], x.shape[-1]
    out = 0
    for j in range(k):
        shifted = F.pad(x, (shift_of(j, k, d), 0))[..., :length]
        out = out + torch.einsum("oc,ncl->nol", w[:, :, j], shifted)
    return out


def _same_padding(x, w, d):  # centred taps: half of them read the future
    k, length = w.shape[-1], x.shape[-1]
    pad = (k - 1) * d
    padded = F.pad(x, (pad // 2, pad - pad // 2))
    return sum(torch.einsum("oc,ncl->nol", w[:, :, j], padded[..., j * d: j * d + length]) for j in range(k))


def _chomp_by_zero(x, w, d):  # the reference code's Chomp1d with nothing to cut
    pad = (w.shape[-1] - 1) * d
    return causal_conv1d(F.pad(x, (0, pad)), w, d)[..., :-pad]


CATALOGUE = {
    check.causal_conv1d: Catalogue(
        reference=causal_conv1d,
        right=[causal_conv_by_roll],
        wrong=[
            (_same_padding, "future inputs"),
            (lambda x, w, d: causal_conv1d(F.pad(x, (0, (w.shape[-1] - 1) * d)), w, d)[..., (w.shape[-1] - 1) * d:],
             "future inputs"),  # padded both sides, kept the wrong end
            (lambda x, w, d: causal_conv1d(F.pad(x, (0, (w.shape[-1] - 1) * d)), w, d), "longer than the input"),
            (_chomp_by_zero, "empty when k = 1"),
            (lambda x, w, d: _taps(x, w, d, lambda j, k, d: j * d), "reverse order"),
            (lambda x, w, d: _taps(x, w, d, lambda j, k, d: k - 1 - j), "dilation is missing"),
            (lambda x, w, d: F.conv1d(F.pad(x, ((w.shape[-1] - 1) * d, 0)), w, dilation=d), "called F.conv1d"),
            (_pad_both, "called F.conv1d"),
            (lambda x, w, d: -causal_conv1d(x, w, d), "sign"),
            (lambda x, w, d: causal_conv1d(x, w, d).numpy(), "torch.Tensor"),
        ],
    ),
    check.receptive_field: Catalogue(
        reference=receptive_field,
        right=[receptive_field_by_summing, lambda k, n, c: torch.tensor(receptive_field(k, n, c)),
               lambda k, n, c: models.receptive_field(k, n, c)],
        wrong=[
            (lambda k, n, c: 1 + (k - 1) * (2**n - 1), "one convolution per block"),
            (lambda k, n, c: 1 + 2 * (k - 1) * (2**n - 1), "two convolutions per block whatever"),  # the review's
            (lambda k, n, c: c * (k - 1) * (2**n - 1), "off by one"),
            (lambda k, n, c: 1 + c * (k - 1) * 2**n, "2^L - 1"),
            (lambda k, n, c: 1 + c * (k - 1) * n, "dilation 2^i"),
            (lambda k, n, c: 1 + c * k * (2**n - 1), "(k - 1) d"),
            (lambda k, n, c: 2 + c * (k - 1) * (2**n - 1) - (k == 1), "too high"),
            (lambda k, n, c: receptive_field(k, n, c) + (k == 1), "kernel_size = 1"),
            (lambda k, n, c: float(receptive_field(k, n, c)), "return an int"),
            (lambda k, n, c: str(receptive_field(k, n, c)), "return an int"),
            (lambda k, n, c: 1 // 0, "ZeroDivisionError"),
        ],
        mutations={"zeros": "off by one"},
    ),
    check.leak_free_scale: Catalogue(
        reference=leak_free_scale,
        right=[scale_in_place, lambda s, n: (s - s[:n].amin()) / (s[:n].amax() - s[:n].amin())],
        wrong=[
            (lambda s, n: (s - s.min()) / (s.max() - s.min()), "whole series"),
            (lambda s, n: leak_free_scale(s, n + 1), "first test point"),
            (lambda s, n: leak_free_scale(s, n - 1), "misses its last point"),  # the review's case
            (lambda s, n: (s - s[n:].min()) / (s[n:].max() - s[n:].min()), "not from the test period"),
            (lambda s, n: (s - s[:n].min()) / s[:n].max(), "not by hi"),
            (lambda s, n: (s - s[:n].mean()) / s[:n].std(), "standardises"),
            (lambda s, n: (s - s[:n].mean()) / s[:n].std(unbiased=False), "standardises"),
            (lambda s, n: leak_free_scale(s, n)[:n], "only the training period"),
            (lambda s, n: 2 * leak_free_scale(s, n), "constant factor"),
            (lambda s, n: leak_free_scale(s, n) + 0.1, "differ"),
        ],
    ),
}
