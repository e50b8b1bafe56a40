"""Loss functions derived in the chapters, each with a function and an `nn.Module` twin.

    regression       Huber and Smooth L1: robust regression losses (chapter 3)
    classification   label smoothing and soft-target cross-entropy (chapter 4)
"""
from __future__ import annotations

__all__: list[str] = []
