"""Models shared by the chapters, one per module, written in plain PyTorch.

    gap_cnn   GapCNN: convolutions, global average pooling, one linear layer (CAM-ready)
    tcn       TCN: residual blocks of dilated causal convolutions; receptive_field
    recurrent LSTMNet, GRUNet: recurrent baselines with the TCN's (N, C, L) interface
    vit       ViT: the Vision Transformer with timm's parameter names; vit_tiny_patch16_224 (DeiT-Tiny)
"""
from __future__ import annotations

from .gap_cnn import GapCNN
from .recurrent import GRUNet, LSTMNet
from .tcn import TCN, CausalConv1d, TemporalBlock, causal_conv1d, receptive_field
from .vit import ViT, patchify, resize_pos_embed, vit_tiny_patch16_224

__all__ = ["GapCNN", "TCN", "TemporalBlock", "CausalConv1d", "causal_conv1d", "receptive_field", "LSTMNet", "GRUNet",
           "ViT", "vit_tiny_patch16_224", "patchify", "resize_pos_embed"]
