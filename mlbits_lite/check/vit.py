"""Self-checks for chapter 7: the Vision Transformer from scratch, and attention rollout."""
from __future__ import annotations

import math
from typing import Callable

import torch

from ._framework import CheckResult, _hidden_generator, _run

__all__ = ["patchify", "attention_head", "vit_param_count", "rollout"]


def patchify(learner: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Exercise: cut images into P×P patches with reshape and permute, in the order a Conv2d embedding uses.

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
        }
        cases.append(((images, P), want, {hint: value for hint, value in wrong.items() if not _same(value, want)}))
    return _run("patchify", learner, cases, no_grad=True)


def attention_head(learner: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: one attention head, softmax(q kᵀ / √d) v.

    Args:
        learner: `f(q, k, v)` for q, k, v of shape (..., T, d); returns (..., T, d).
    """
    g = _hidden_generator("attention_head")
    cases = []
    for shape in ((5, 4), (2, 6, 9), (3, 2, 4, 16)):
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
        }
        cases.append(((q, k, v), want, wrong))
    return _run("attention_head", learner, cases, no_grad=True)


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
        "cls_token": model.cls_token.numel(),
        "head": count(model.head),
        "final norm": count(model.norm),
        "norms": count(model.norm) + sum(count(b.norm1) + count(b.norm2) for b in blocks),
        "biases": sum(p.numel() for name, p in model.named_parameters() if name.endswith("bias")),
        "attention": sum(count(b.attn) for b in blocks),
        "mlp": sum(count(b.mlp) for b in blocks),
    }


def vit_param_count(learner: Callable[..., int]) -> CheckResult:
    """Exercise: the number of parameters of a ViT, by formula.

    Args:
        learner: `f(img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp_ratio)`; returns
            the number of learnable parameters (an int) of a ViT with a class token, learned position embeddings,
            qkv bias and a linear head.
    """
    exercise = "vit_param_count"
    if not callable(learner):
        raise TypeError(f"{exercise}: expected your function as the argument, got {type(learner).__name__}")
    configs = (
        (32, 4, 3, 10, 48, 3, 3, 4.0),
        (224, 16, 3, 1000, 192, 12, 3, 4.0),  # DeiT-Tiny
        (28, 7, 1, 10, 64, 2, 4, 2.0),
        (224, 16, 3, 1000, 768, 12, 12, 4.0),  # ViT-B/16
    )
    for i, config in enumerate(configs, start=1):
        where = f"case {i} of {len(configs)}"
        try:
            got = learner(*config)
        except NotImplementedError:
            return CheckResult(exercise, False, "not attempted yet: replace `raise NotImplementedError` with your code",
                               attempted=False)
        except Exception as exc:  # the learner's bug, reported as a hint rather than a crash
            return CheckResult(exercise, False, f"{where}: your function raised {type(exc).__name__}: {exc}")
        if isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_floating_point():
            got = int(got.item())
        if isinstance(got, bool) or not isinstance(got, int):
            return CheckResult(exercise, False, f"{where}: your function returned a {type(got).__name__}; "
                                                "return an int (a count)")
        img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp_ratio = config
        parts = _vit_parts(img_size, patch_size, in_chans, num_classes, embed_dim, depth, mlp_ratio)
        want = parts["total"]
        if got == want:
            continue
        missing = want - got
        hints = {
            parts["pos_embed"]: "you left out the position embeddings",
            parts["cls_token"]: "one token's worth is missing: the class token itself, or its row of the position "
                                "embeddings (one row per token, N + 1)",
            parts["head"]: "you left out the classification head",
            parts["final norm"]: "you left out the final LayerNorm",
            parts["norms"]: "you left out the LayerNorms (two per block and a final one, each a weight and a bias)",
            parts["biases"]: "you left out the biases",
            parts["norms"] - parts["final norm"]: "you left out the LayerNorms inside the blocks",
            -(num_heads - 1) * parts["attention"]: "the number of heads does not change the count: heads split the "
                                                    "width D, they do not add weights",
        }
        if missing in hints and missing != 0:
            return CheckResult(exercise, False, f"{where}: {hints[missing]}")
        too = "low: some parameters are missing" if got < want else "high: something is counted twice or too large"
        return CheckResult(exercise, False, f"{where}: your count is too {too}")
    return CheckResult(exercise, True, f"pass ({len(configs)} hidden cases)")


def _rollout(attentions: list[torch.Tensor], *, residual: bool = True, renormalise: bool = True,
             keepdim: bool = True, later_on_left: bool = True) -> torch.Tensor:
    """Rollout of one image's (heads, T, T) maps, with switches that reproduce the usual mistakes."""
    result = None
    for layer in attentions:
        a = layer.mean(0)  # (T, T): mean over heads
        if residual:
            a = a + torch.eye(a.shape[-1], dtype=a.dtype)  # A + I for the skip connection
        if renormalise:
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
        }
        cases.append(((attentions,), want, wrong))
    return _run("rollout", learner, cases, no_grad=True)


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.equal(a, b)
