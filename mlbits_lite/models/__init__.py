"""Models shared by the chapters, one per module, written in plain PyTorch.

    gap_cnn   GapCNN: convolutions, global average pooling, one linear layer (CAM-ready)
    tcn       TCN: residual blocks of dilated causal convolutions; receptive_field
    recurrent LSTMNet, GRUNet: recurrent baselines with the TCN's (N, C, L) interface
    vit       ViT: the Vision Transformer with timm's parameter names; vit_tiny_patch16_224 (DeiT-Tiny); ConvStem
    pool      pool: one vector per sequence (cls, mean, max, last, CLIP's eot_argmax), padding-aware
    bert      BertEncoder: BERT with Hugging Face's names, bidirectional or causal; all-MiniLM-L6-v2 offline
"""
from __future__ import annotations

from .gap_cnn import GapCNN
from .recurrent import GRUNet, LSTMNet
from .tcn import TCN, CausalConv1d, TemporalBlock, causal_conv1d, receptive_field
from .vit import ConvStem, ViT, patchify, resize_pos_embed, vit_tiny_patch16_224

__all__ = ["GapCNN", "TCN", "TemporalBlock", "CausalConv1d", "causal_conv1d", "receptive_field", "LSTMNet", "GRUNet",
           "ViT", "vit_tiny_patch16_224", "patchify", "resize_pos_embed", "ConvStem"]

from .bert import BertEncoder, all_minilm_l6_v2, allowed_attention, minilm_tokenizer, tokenize  # noqa: E402
from .pool import POOL_MODES, pool  # noqa: E402

__all__ += ["pool", "POOL_MODES", "BertEncoder", "allowed_attention", "all_minilm_l6_v2", "minilm_tokenizer",
            "tokenize"]
