"""Chapter 9's self-checks: the catalogue of answers (run by test_check_contract.py)."""
from __future__ import annotations

import math

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


def levels_to_cover(kernel_size, seq_len, convs_per_block):
    per_level = convs_per_block * (kernel_size - 1)
    needed = -(-(seq_len - 1) // per_level)  # ceil((T - 1) / (c (k - 1)))
    return needed.bit_length()  # the smallest L with 2^L > needed


def path_counts(kernel_size, dilations):
    counts = torch.ones(1, dtype=torch.float64)  # the output itself: one path of length 0
    for d in dilations:
        longer = torch.zeros(len(counts) + (kernel_size - 1) * d, dtype=torch.float64)
        for j in range(kernel_size):  # tap j reaches j d steps further back
            longer[j * d: j * d + len(counts)] += counts
        counts = longer
    return counts


def rnn_critical_path(num_layers, seq_len):
    return num_layers + seq_len - 1


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


def levels_by_search(kernel_size, seq_len, convs_per_block):  # grow the network until it sees everything
    levels = 0
    while models.receptive_field(kernel_size, levels, convs_per_block) < seq_len:
        levels += 1
    return np.int64(levels)


def levels_by_log(kernel_size, seq_len, convs_per_block):  # ceil of a logarithm: exact for these sizes
    return math.ceil(math.log2((seq_len - 1) / (convs_per_block * (kernel_size - 1)) + 1))


def paths_by_impulse(kernel_size, dilations):  # push an impulse through the linear stack, backwards in time
    signal = torch.zeros(1, 1, 1 + (kernel_size - 1) * sum(dilations), dtype=torch.float64)
    signal[..., 0] = 1.0
    ones = torch.ones(1, 1, kernel_size, dtype=torch.float64)
    for d in dilations:
        signal = F.conv1d(F.pad(signal, ((kernel_size - 1) * d, 0)), ones, dilation=d)  # a causal conv of taps 1
    return signal[0, 0]


def paths_by_polynomials(kernel_size, dilations):  # the product of the layers' polynomials, as integer counts
    counts = np.ones(1, dtype=np.int64)
    for d in dilations:
        taps = np.zeros((kernel_size - 1) * d + 1, dtype=np.int64)
        taps[::d] = 1
        counts = np.convolve(counts, taps)
    return counts


def rounds_by_simulation(num_layers, seq_len):  # run the wavefront: round at which each cell can run
    ready = [[0] * (seq_len + 1) for _ in range(num_layers + 1)]
    for layer in range(1, num_layers + 1):
        for step in range(1, seq_len + 1):
            ready[layer][step] = max(ready[layer][step - 1], ready[layer - 1][step]) + 1
    return torch.tensor(ready[num_layers][seq_len])


# --------------------------------------------------------------------------------------- wrong answers
def _fewest(covers):
    levels = 0
    while not covers(levels):
        levels += 1
    return levels


def _taps_added(kernel_size, dilations):  # each layer's taps added up instead of convolved
    counts = torch.zeros(1 + (kernel_size - 1) * sum(dilations), dtype=torch.float64)
    for d in dilations:
        counts[: (kernel_size - 1) * d + 1: d] += 1
    return counts


def _paths_by_autograd(kernel_size, dilations):  # the chapter's tool, but the exercise is by hand
    x = torch.zeros(1, 1, 1 + (kernel_size - 1) * sum(dilations), dtype=torch.float64, requires_grad=True)
    y = x
    for d in dilations:
        y = F.conv1d(F.pad(y, ((kernel_size - 1) * d, 0)), torch.ones(1, 1, kernel_size, dtype=torch.float64), dilation=d)
    y[..., -1].sum().backward()
    return x.grad[0, 0].flip(0)


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
    check.levels_to_cover: Catalogue(
        reference=levels_to_cover,
        right=[levels_by_search, levels_by_log],
        wrong=[
            (lambda k, t, c: _fewest(lambda n: models.receptive_field(k, n, c) > t), "not exceed it"),
            (lambda k, t, c: _fewest(lambda n: 1 + (k - 1) * (2**n - 1) >= t), "one convolution per level"),
            (lambda k, t, c: _fewest(lambda n: models.receptive_field(k, n) >= t), "two convolutions per level"),
            (lambda k, t, c: _fewest(lambda n: 1 + c * (k - 1) * 2**n >= t), "2^L - 1, not 2^L"),
            (lambda k, t, c: _fewest(lambda n: 1 + c * (k - 1) * n >= t), "dilation 2^i"),
            (lambda k, t, c: _fewest(lambda n: 1 + c * k * (2**n - 1) >= t), "(k - 1) d steps, not k d"),
            (lambda k, t, c: math.floor(math.log2((t - 1) / (c * (k - 1)) + 1)), "round the number of levels up"),
            (lambda k, t, c: levels_to_cover(k, t, c) + 1, "too high"),
            (lambda k, t, c: models.receptive_field(k, levels_to_cover(k, t, c), c), "too high"),  # the RF, not L
            (lambda k, t, c: float(levels_to_cover(k, t, c)), "return an int"),
        ],
    ),
    check.path_counts: Catalogue(
        reference=path_counts,
        right=[paths_by_impulse, paths_by_polynomials, lambda k, ds: path_counts(k, ds).long()],
        wrong=[
            (lambda k, ds: path_counts(k, [1] * len(ds)), "d steps apart"),
            (lambda k, ds: (path_counts(k, ds) > 0).double(), "not only whether one exists"),
            (_taps_added, "they do not add up"),
            (lambda k, ds: path_counts(k + 1, ds), "(k - 1) d steps back, not k d"),
            (lambda k, ds: path_counts(k, ds) / path_counts(k, ds).sum(), "not their share"),
            (lambda k, ds: path_counts(k, ds[:-1]), "one of them is missing"),
            (lambda k, ds: torch.cat([path_counts(k, ds), torch.zeros(1, dtype=torch.float64)]), "one entry too many"),
            (lambda k, ds: (path_counts(k, ds) > 0).tolist(), "return a torch.Tensor"),
            (_paths_by_autograd, "by hand"),
        ],
    ),
    check.rnn_critical_path: Catalogue(
        reference=rnn_critical_path,
        right=[rounds_by_simulation, lambda n, t: np.int32(t + n - 1)],
        wrong=[
            (lambda n, t: n * t, "one after another"),
            (lambda n, t: t, "waits for the layers below"),
            (lambda n, t: n + t, "off by one"),
            (lambda n, t: n + t - 2, "one round short"),
            (lambda n, t: max(n, t), "cannot run at once"),
            (lambda n, t: 2 * (n + t - 1), "too high"),  # forward and backward: not asked
            (lambda n, t: (n + t - 1) / 1, "return an int"),
        ],
    ),
}
