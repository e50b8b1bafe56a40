"""Models shared by the chapters, one per module, written in plain PyTorch.

    gap_cnn   GapCNN: convolutions, global average pooling, one linear layer (CAM-ready)
"""
from __future__ import annotations

from .gap_cnn import GapCNN

__all__ = ["GapCNN"]
