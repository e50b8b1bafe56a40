"""Self-checks for chapter 8: the Vision Transformer from scratch, and attention rollout."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ._framework import INTEGER, Case, CheckResult, Rule, _hidden_generator, run

__all__ = ["patchify", "attention_head", "vit_param_count", "rollout"]


no_unfold = Rule("this exercise cuts patches with reshape and permute only, and your function called {name}",
                 {"Tensor.unfold": torch.Tensor.unfold, "F.unfold": F.unfold})


def patchify(learner: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Exercise: cut images into P×P patches with reshape and permute (no unfold), in a Conv2d embedding's order.

    Args:
        learner: `f(images, patch_size)` for images (B, C, H, W); returns (B, N, C·P·P), patches numbered row by
            row, each flattened in (C, P, P) order.
    """
    g = _hidden_generator("patchify")
    cases = []
    for B, C, rows, cols, P in ((2, 3, 2, 2, 4), (1, 2, 3, 2, 3), (3, 1, 2, 3, 2), (1, 3, 1, 1, 5)):
        images = torch.randn(B, C, rows * P, cols * P, generator=g, dtype=torch.float64)
        grid = images.reshape(B, C, rows, P, cols, P)  # (B, C, rows, P, cols, P)
        want = grid.permute(0, 2, 4, 1, 3, 5).reshape(B, rows * cols, C * P * P)
        wrong = {
            "each patch is flattened in (P, P, C) order; a Conv2d weight flattens as (C, P, P)":
                grid.permute(0, 2, 4, 3, 5, 1).reshape(B, rows * cols, C * P * P),
            "the patches are numbered column by column; number them row by row":
                grid.permute(0, 4, 2, 1, 3, 5).reshape(B, rows * cols, C * P * P),
            "a plain reshape mixes pixels of different patches: move the grid axes in front with permute first":
                images.reshape(B, rows * cols, C * P * P),
            "the last two axes are swapped: one row per patch, (B, N, C·P·P)":
                want.transpose(1, 2),
            "each patch is flattened column by column (C, P_w, P_h); a Conv2d weight flattens row by row (C, P_h, P_w)":
                grid.permute(0, 2, 4, 1, 5, 3).reshape(B, rows * cols, C * P * P),
        }
        cases.append(Case((images, P), want, wrong))
    return run("patchify", learner, cases, rules=(no_unfold,))


def attention_head(learner: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: one attention head, softmax(q kᵀ / √d) v.

    Args:
        learner: `f(q, k, v)` for q, k, v of shape (..., T, d); returns (..., T, d).
    """
    g = _hidden_generator("attention_head")
    cases = []
    for shape in ((5, 4), (2, 6, 9), (3, 2, 4, 16)):  # T != d in each: the two scales differ
        q, k, v = (torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(3))
        d = shape[-1]
        scores = q @ k.transpose(-2, -1)  # (..., T, T)
        weights = (scores / math.sqrt(d)).softmax(-1)
        want = weights @ v
        wrong = {
            "the scores are not scaled: divide q kᵀ by √d": scores.softmax(-1) @ v,
            "the scores are divided by d; the scale is 1/√d": (scores / d).softmax(-1) @ v,
            "the softmax runs over the queries: each query's weights over the keys (the last axis) must sum to 1":
                (scores / math.sqrt(d)).softmax(-2) @ v,
            "the scores need a softmax before they weigh the values": scores / math.sqrt(d) @ v,
            "that is the matrix of attention weights: multiply it by v": weights,
            "the scores are k qᵀ; row i of q kᵀ belongs to query i":
                (scores.transpose(-2, -1) / math.sqrt(d)).softmax(-1) @ v,
            "the scale is 1/√d with d the width of a query, not the number of tokens":
                (scores / math.sqrt(shape[-2])).softmax(-1) @ v,
        }
        cases.append(Case((q, k, v), want, wrong))
    return run("attention_head", learner, cases)


def _vit_parts(img_size: int, patch_size: int, in_chans: int, num_classes: int, embed_dim: int, depth: int,
               mlp_ratio: float) -> dict[str, int]:
    """The parameter count of each part of a ViT, read off a model built on the meta device (shapes only)."""
    from ..models.vit import ViT

    with torch.device("meta"):
        model = ViT(img_size, patch_size, in_chans, num_classes, embed_dim, depth, 1, mlp_ratio)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    blocks = model.blocks
    return {
        "total": count(model),
        "pos_embed": model.pos_embed.numel(),
        "head": count(model.head),
        "head bias": model.head.bias.numel(),
        "final norm": count(model.norm),
        "norms": count(model.norm) + sum(count(b.norm1) + count(b.norm2) for b in blocks),
        "biases": sum(p.numel() for name, p in model.named_parameters() if name.endswith("bias")),
        "qkv bias": sum(b.attn.qkv.bias.numel() for b in blocks),
        "attention": sum(count(b.attn) for b in blocks),
        "mlp": sum(count(b.mlp) for b in blocks),
    }


def vit_param_count(learner: Callable[..., int]) -> CheckResult:
    """Exercise: the number of parameters of a ViT, by formula.

    Args:
        learner: `f(img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp_ratio)`; returns
            the number of learnable parameters (an int of any integer type) of a ViT with a class token, learned
            position embeddings, qkv bias and a linear head.
    """
    configs = (
        (32, 4, 3, 10, 48, 3, 3, 4.0),
        (224, 16, 3, 1000, 192, 12, 3, 4.0),  # DeiT-Tiny
        (28, 7, 1, 10, 64, 2, 4, 2.0),
        (224, 16, 3, 1000, 768, 12, 12, 4.0),  # ViT-B/16
    )
    cases = []
    for config in configs:
        img_size, patch_size, in_chans, num_classes, D, depth, num_heads, mlp_ratio = config
        parts = _vit_parts(img_size, patch_size, in_chans, num_classes, D, depth, mlp_ratio)
        want = parts["total"]
        side = img_size // patch_size
        hidden = int(D * mlp_ratio)
        missing = {  # hint: how many parameters that slip leaves out (negative: counts too many)
            "D parameters are missing: the class token, its row of the position embeddings (one row per token, "
            "N + 1), or the patch embedding's bias": D,
            "2·D parameters are missing: the final LayerNorm (a weight and a bias), or two of the D-sized vectors "
            "(the class token, its position row, the patch embedding's bias)": parts["final norm"],
            "you left out the position embeddings": parts["pos_embed"],
            "you left out the classification head": parts["head"],
            "you left out the head's bias (one per class)": parts["head bias"],
            "you left out the LayerNorms (two per block and a final one, each a weight and a bias)": parts["norms"],
            "you left out the LayerNorms inside the blocks": parts["norms"] - parts["final norm"],
            "you left out the biases": parts["biases"],
            "you left out the qkv projection's bias (3·D per block)": parts["qkv bias"],
            "N is the number of patches, (img_size / patch_size)², not img_size / patch_size":
                (side**2 - side) * D,
            "the MLP's hidden width is int(embed_dim · mlp_ratio), not embed_dim": depth * 2 * (hidden - D) * D
                + depth * (hidden - D),
            "the number of heads does not change the count: heads split the width D, they do not add weights":
                -(num_heads - 1) * parts["attention"],
        }
        cases.append(Case(config, want, {hint: want - gap for hint, gap in missing.items()}))
    return run("vit_param_count", learner, cases, answer=INTEGER)


def _rollout(attentions: list[torch.Tensor], *, residual: bool = True, renormalise: bool = True,
             keepdim: bool = True, later_on_left: bool = True, fuse: str = "mean", half: bool = False,
             early: bool = False) -> torch.Tensor:
    """Rollout of one image's (heads, T, T) maps, with switches that reproduce the usual mistakes."""
    result = None
    for layer in attentions:
        a = {"mean": layer.mean(0), "max": layer.amax(0), "sum": layer.sum(0)}[fuse]  # (T, T): fuse the heads
        if early:
            a = a / a.sum(-1, keepdim=True)
        if residual:
            eye = torch.eye(a.shape[-1], dtype=a.dtype)
            a = 0.5 * a + 0.5 * eye if half else a + eye  # A + I for the skip connection
        if renormalise and not early:
            a = a / a.sum(-1, keepdim=True) if keepdim else a / a.sum(-1)  # without keepdim: the broadcasting bug
        if result is None:
            result = a
        else:
            result = a @ result if later_on_left else result @ a  # A_hat_L ... A_hat_1
    return result


def rollout(learner: Callable[[list[torch.Tensor]], torch.Tensor]) -> CheckResult:
    """Exercise: attention rollout of one image with the residual identity (Abnar & Zuidema 2020).

    Args:
        learner: `f(attentions)` for a list (first layer first) of (heads, T, T) non-negative attention maps of
            one image (rows need not sum to 1, e.g. after the weakest weights were dropped); returns the (T, T)
            rollout: per layer the mean over heads plus the identity, rows renormalised to sum to 1, multiplied
            through the layers with later layers on the left.
    """
    g = _hidden_generator("rollout")
    cases = []
    for layers, heads, tokens, discard in ((4, 3, 5, False), (3, 2, 7, True), (1, 4, 3, False), (6, 1, 4, True)):
        attentions = [(2 * torch.randn(heads, tokens, tokens, generator=g, dtype=torch.float64)).softmax(-1)
                      for _ in range(layers)]
        if discard:  # the weakest weights dropped, as visualisation code often does: rows no longer sum to 1
            attentions = [a * (a >= a.quantile(0.3, dim=-1, keepdim=True)) for a in attentions]
        want = _rollout(attentions)
        wrong = {
            "you divided each column by a row's sum: `a / a.sum(-1)` broadcasts over the wrong axis, keep the "
            "dimension (keepdim=True)": _rollout(attentions, keepdim=False),
            "you left out the identity for the residual connections": _rollout(attentions, residual=False),
            "after adding the identity the rows must be renormalised to sum to 1": _rollout(attentions,
                                                                                            renormalise=False),
            "the product is in the wrong order: later layers multiply from the left": _rollout(attentions,
                                                                                              later_on_left=False),
            "0.5·A + 0.5·I has rows summing to 1 only when A's do: renormalise the rows after adding I":
                _rollout(attentions, renormalise=False, half=True),
            "you took the maximum over the heads: the rollout averages them": _rollout(attentions, fuse="max"),
            "you summed the heads: take their mean, so the identity weighs as much as one layer's attention":
                _rollout(attentions, fuse="sum"),
            "you renormalised before adding the identity: add I, then renormalise": _rollout(attentions,
                                                                                           early=True),
        }
        cases.append(Case((attentions,), want, wrong))
    return run("rollout", learner, cases)
