"""Recurrent baselines for the TCN chapter: an LSTM and a GRU with the TCN's (N, C, L) interface.

`nn.LSTM` and `nn.GRU` read (L, N, C) by default, or (N, L, C) with `batch_first=True`; a TCN reads (N, C, L) like
`nn.Conv1d`. These wrappers take (N, C, L) and return the hidden state at every step, (N, hidden_size, L), so any
model in the chapter can be swapped for another under the same head. Output t depends on inputs 0..t only: a
recurrence is causal by construction and its receptive field is unbounded (in principle).
"""
from __future__ import annotations

import torch
from torch import nn

from .._validate import require_in_range, require_positive_int, require_tensor

__all__ = ["LSTMNet", "GRUNet"]


class _RecurrentNet(nn.Module):
    _cell: type[nn.RNNBase]

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.input_size = require_positive_int("input_size", input_size)
        require_positive_int("hidden_size", hidden_size)
        require_positive_int("num_layers", num_layers)
        require_in_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
        # dropout acts between stacked layers only (PyTorch warns when it is set with one layer)
        self.rnn = self._cell(input_size, hidden_size, num_layers, batch_first=True,
                              dropout=dropout if num_layers > 1 else 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        require_tensor("x", x)
        if x.ndim != 3 or x.shape[1] != self.input_size:
            raise ValueError(f"x must have shape (N, {self.input_size}, L) (3-D, channels second), "
                             f"got shape {tuple(x.shape)}")
        hidden, _ = self.rnn(x.transpose(1, 2))  # (N, L, hidden_size): every step's top-layer state
        return hidden.transpose(1, 2)  # (N, hidden_size, L)


class LSTMNet(_RecurrentNet):
    """An LSTM mapping (N, input_size, L) to its hidden states (N, hidden_size, L).

    Args:
        input_size: channels of the input sequence.
        hidden_size: size of the hidden state (channels of the output).
        num_layers: stacked LSTM layers.
        dropout: dropout between stacked layers, in [0, 1) (ignored with one layer).
    """

    _cell = nn.LSTM


class GRUNet(_RecurrentNet):
    """A GRU mapping (N, input_size, L) to its hidden states (N, hidden_size, L).

    Args:
        input_size: channels of the input sequence.
        hidden_size: size of the hidden state (channels of the output).
        num_layers: stacked GRU layers.
        dropout: dropout between stacked layers, in [0, 1) (ignored with one layer).
    """

    _cell = nn.GRU
