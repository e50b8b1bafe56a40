"""GapCNN: a small convolutional classifier that ends in global average pooling (GAP) and one linear layer.

That ending is what makes class activation maps exact (chapter 5): because averaging and the linear layer are both
linear they commute, so

    logit_c = mean_{x,y} M_c(x, y) + b_c,    M_c = sum_k w_k^c f_k(x, y),

with f the last feature maps (`model.features(x)`) and w, b the head's weight and bias (`model.fc`).
"""
from __future__ import annotations

import torch
from torch import nn

from .._validate import require_ndim, require_positive_int, require_tensor

__all__ = ["GapCNN"]


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 convolutions that keep the spatial size, each followed by batch norm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class GapCNN(nn.Module):
    """Convolution blocks, halving the resolution between blocks, then GAP and one linear layer.

    Block i has `width * 2**i` channels; a 32x32 input with depth 3 gives feature maps of 8x8, fine enough to see
    where the network looks.

    Args:
        num_classes: number of output logits.
        in_channels: channels of the input images (3 for colour, 1 for grey).
        width: channels of the first block.
        depth: number of blocks (the input is halved depth - 1 times).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: int = 32, depth: int = 3) -> None:
        super().__init__()
        require_positive_int("num_classes", num_classes)
        require_positive_int("in_channels", in_channels)
        require_positive_int("width", width)
        require_positive_int("depth", depth)
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        channels = in_channels
        for i in range(depth):
            if i > 0:
                layers.append(nn.MaxPool2d(2))  # halve H and W between blocks
            layers.append(_conv_block(channels, width * 2**i))
            channels = width * 2**i
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature maps f, shape (B, C, h, w): what a class activation map weighs."""
        require_tensor("x", x)
        require_ndim("x", x, 4)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels (B, {self.in_channels}, H, W), "
                             f"got shape {tuple(x.shape)}")
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.features(x).mean(dim=(2, 3))  # global average pooling: (B, C)
        return self.fc(pooled)  # (B, num_classes)
