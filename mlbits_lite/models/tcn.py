"""TCN: a temporal convolutional network, residual blocks of dilated causal convolutions (Bai et al., 2018).

A causal convolution pads (k - 1) d steps on the left only, so output t sees inputs t, t - d, ..., t - (k - 1) d
and nothing after t:

    y_t = b + sum_{j=0}^{k-1} w_j x_{t - (k-1-j) d}        (PyTorch's last tap w_{k-1} multiplies x_t)

Level i of a TCN is a residual block of two such convolutions with dilation d = 2^i, so after L levels an output
sees the last

    RF = 1 + 2 (k - 1) (2^L - 1)

inputs: the memory grows exponentially with depth, and every time step is computed in parallel.

The reference code (locuslab/TCN) pads both sides and cuts the right end off with `Chomp1d`; for k = 1 there is
nothing to cut and `x[:, :, :-0]` is an empty tensor. Padding on the left only has no such edge case.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from .._validate import (
    require_floating_tensor,
    require_in_range,
    require_int,
    require_ndim,
    require_positive_int,
    require_tensor,
)

__all__ = ["receptive_field", "causal_conv1d", "CausalConv1d", "TemporalBlock", "TCN"]


def receptive_field(kernel_size: int, num_levels: int, convs_per_block: int = 2) -> int:
    """How many past inputs (the current one included) one output of a TCN can see.

    Args:
        kernel_size: taps per convolution, k >= 1.
        num_levels: number of residual blocks L >= 0; block i uses dilation 2^i.
        convs_per_block: causal convolutions per block (2 in a TCN's temporal block).

    Returns:
        1 + convs_per_block (k - 1) (2^L - 1).
    """
    k = require_positive_int("kernel_size", kernel_size)
    levels = require_int("num_levels", num_levels)
    if levels < 0:
        raise ValueError(f"num_levels must be a non-negative int (>= 0), got {levels}")
    convs = require_positive_int("convs_per_block", convs_per_block)
    # each conv with dilation d adds (k - 1) d steps of history; sum_i 2^i = 2^L - 1
    return 1 + convs * (k - 1) * (2**levels - 1)


def causal_conv1d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, dilation: int = 1
) -> torch.Tensor:
    """A dilated causal 1-D convolution: output t depends on inputs t, t - d, ..., t - (k - 1) d only.

    Args:
        x: (N, C_in, L) input sequences.
        weight: (C_out, C_in, k) kernel, as in `nn.Conv1d`.
        bias: optional (C_out,) bias.
        dilation: spacing d >= 1 between taps.

    Returns:
        (N, C_out, L): the same length as the input.
    """
    require_floating_tensor("x", x)
    require_ndim("x", x, 3)
    require_floating_tensor("weight", weight)
    require_ndim("weight", weight, 3)
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight must have {x.shape[1]} input channels to match x, got shape {tuple(weight.shape)}")
    if bias is not None:
        require_floating_tensor("bias", bias)
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"bias must have shape ({weight.shape[0]},), got shape {tuple(bias.shape)}")
    d = require_positive_int("dilation", dilation)
    left = (weight.shape[-1] - 1) * d  # pad (k - 1) d on the left only: no output sees the future
    return F.conv1d(F.pad(x, (left, 0)), weight, bias, dilation=d)  # (N, C_out, L)


class CausalConv1d(nn.Conv1d):
    """`nn.Conv1d` made causal: pads (k - 1) d on the left, so the output has the input's length.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        kernel_size: taps k >= 1.
        dilation: spacing d >= 1 between taps.
        bias: whether to learn a bias.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1,
                 bias: bool = True) -> None:
        require_positive_int("in_channels", in_channels)
        require_positive_int("out_channels", out_channels)
        require_positive_int("kernel_size", kernel_size)
        require_positive_int("dilation", dilation)
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, padding=0, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # self.weight, not a saved copy: under weight norm it is recomputed from g and v on every access
        return causal_conv1d(x, self.weight, self.bias, dilation=self.dilation[0])


class TemporalBlock(nn.Module):
    """Two weight-normalised dilated causal convolutions with ReLU and dropout, and a residual connection.

        out = relu(F(x) + skip(x)),  F = [conv -> relu -> dropout] x 2,  skip = 1x1 conv if channels differ

    Args:
        in_channels: channels of the input.
        out_channels: channels of both convolutions and of the output.
        kernel_size: taps k >= 1 of each convolution.
        dilation: spacing d >= 1 of both convolutions.
        dropout: dropout probability in [0, 1) after each convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int,
                 dropout: float = 0.2) -> None:
        super().__init__()
        require_in_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
        self.conv1 = weight_norm(CausalConv1d(in_channels, out_channels, kernel_size, dilation))  # w = g v / ||v||
        self.conv2 = weight_norm(CausalConv1d(out_channels, out_channels, kernel_size, dilation))
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)
        # the skip path needs a 1x1 convolution only to match channel counts
        self.downsample = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dropout1(torch.relu(self.conv1(x)))
        out = self.dropout2(torch.relu(self.conv2(out)))  # F(x)
        residual = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + residual)  # (N, out_channels, L)


class TCN(nn.Module):
    """A temporal convolutional network: `len(num_channels)` temporal blocks with dilations 1, 2, 4, ...

    Maps (N, input_size, L) to (N, num_channels[-1], L), like the reference `TemporalConvNet`; output t depends on
    inputs t - RF + 1, ..., t with RF = `receptive_field(kernel_size, len(num_channels))`. Add a head for a task:
    a linear layer on the last step to classify a sequence, or on every step to predict the next value.

    Args:
        input_size: channels of the input sequence.
        num_channels: output channels of each block (one block per entry, at least one).
        kernel_size: taps k >= 1 of every convolution.
        dropout: dropout probability in [0, 1).
    """

    def __init__(self, input_size: int, num_channels: list[int] | tuple[int, ...], kernel_size: int = 2,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.input_size = require_positive_int("input_size", input_size)
        if not isinstance(num_channels, (list, tuple)):
            raise TypeError(f"num_channels must be a list of ints, got {type(num_channels).__name__}")
        if len(num_channels) == 0:
            raise ValueError("num_channels must list at least one block's channels, got an empty list")
        channels = [require_positive_int(f"num_channels[{i}]", c) for i, c in enumerate(num_channels)]
        self.kernel_size = require_positive_int("kernel_size", kernel_size)
        require_in_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
        blocks = []
        for i, out_channels in enumerate(channels):
            in_channels = input_size if i == 0 else channels[i - 1]
            blocks.append(TemporalBlock(in_channels, out_channels, kernel_size, dilation=2**i, dropout=dropout))
        self.network = nn.Sequential(*blocks)
        self.receptive_field = receptive_field(kernel_size, len(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        require_tensor("x", x)
        if x.ndim != 3 or x.shape[1] != self.input_size:
            raise ValueError(f"x must have shape (N, {self.input_size}, L) (3-D, channels second), "
                             f"got shape {tuple(x.shape)}")
        if x.shape[2] == 0:
            raise ValueError(f"x must have at least one time step (L >= 1), got shape {tuple(x.shape)}")
        return self.network(x)  # (N, num_channels[-1], L)
