"""Chapter 8's self-checks: the catalogue of answers (run by test_check_contract.py), and counts of any type."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from catalogue import Catalogue
from mlbits_lite import check, explain, models


# --------------------------------------------------------------------------------------- reference solutions
def patchify(images, patch_size):
    B, C, H, W = images.shape
    P = patch_size
    patches = images.reshape(B, C, H // P, P, W // P, P).permute(0, 2, 4, 1, 3, 5)
    return patches.reshape(B, (H // P) * (W // P), C * P * P)


def attention_head(q, k, v):
    return (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1) @ v


def vit_param_count(img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp_ratio):
    D, N, hidden = embed_dim, (img_size // patch_size) ** 2, int(embed_dim * mlp_ratio)
    block = 2 * 2 * D + (3 * D * D + 3 * D) + (D * D + D) + (D * hidden + hidden) + (hidden * D + D)
    embedding = (in_chans * patch_size**2 * D + D) + D + (N + 1) * D
    return embedding + depth * block + 2 * D + (D * num_classes + num_classes)


def rollout(attentions):
    result = None
    for layer in attentions:
        a = layer.mean(0) + torch.eye(layer.shape[-1], dtype=layer.dtype)
        a = a / a.sum(-1, keepdim=True)
        result = a if result is None else a @ result
    return result


# --------------------------------------------------------------------------------------- other right answers
def patchify_by_einops_style(images, patch_size):
    B, C, H, W = images.shape
    P = patch_size
    x = images.reshape(B, C, H // P, P, W // P, P)
    x = x.transpose(1, 2).transpose(2, 4)  # (B, rows, cols, P, C, P)
    return x.transpose(3, 4).reshape(B, -1, C * P * P)  # (B, rows·cols, C·P·P)


def vit_count_by_model(img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp_ratio):
    with torch.device("meta"):
        model = models.ViT(img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp_ratio)
    return np.int64(sum(p.numel() for p in model.parameters()))  # the review's case: a NumPy integer is a count


def _count_without(part):
    def count(img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp_ratio):
        D, N, hidden = embed_dim, (img_size // patch_size) ** 2, int(embed_dim * mlp_ratio)
        side = img_size // patch_size
        total = vit_param_count(img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp_ratio)
        return total - {
            "pos_embed": (N + 1) * D,
            "cls_token": D,
            "cls_position": D,
            "patch_bias": D,
            "head": D * num_classes + num_classes,
            "head_bias": num_classes,
            "final_norm": 2 * D,
            "all_norms": 2 * D * (2 * depth + 1),
            "block_norms": 4 * D * depth,
            "biases": D + depth * (3 * D + D + hidden + D + 2 * D) + D + num_classes,
            "qkv_bias": 3 * D * depth,
            "patches_not_squared": (side**2 - side) * D,
            "hidden_is_d": depth * (2 * (hidden - D) * D + hidden - D),
            "heads_multiply": -(num_heads - 1) * depth * (4 * D * D + 4 * D),
        }[part]
    return count


def _rollout_variant(*, residual=True, renormalise=True, keepdim=True, later_on_left=True, fuse="mean", half=False,
                     early=False):
    def variant(attentions):
        result = None
        for layer in attentions:
            a = {"mean": layer.mean(0), "max": layer.amax(0), "sum": layer.sum(0)}[fuse]
            if early:
                a = a / a.sum(-1, keepdim=True)
            if residual:
                a = 0.5 * a + 0.5 * torch.eye(a.shape[-1], dtype=a.dtype) if half else a + torch.eye(a.shape[-1])
            if renormalise and not early:
                a = a / (a.sum(-1, keepdim=True) if keepdim else a.sum(-1))
            result = a if result is None else (a @ result if later_on_left else result @ a)
        return result
    return variant


def _channels_last(images, P):
    B, C, H, W = images.shape
    return images.reshape(B, C, H // P, P, W // P, P).permute(0, 2, 4, 3, 5, 1).reshape(B, -1, C * P * P)


def _column_order(images, P):
    B, C, H, W = images.shape
    return images.reshape(B, C, H // P, P, W // P, P).permute(0, 4, 2, 1, 3, 5).reshape(B, -1, C * P * P)


def _columns_within_patch(images, P):
    B, C, H, W = images.shape
    return images.reshape(B, C, H // P, P, W // P, P).permute(0, 2, 4, 1, 5, 3).reshape(B, -1, C * P * P)


def _by_unfold(images, P):
    B, C, H, W = images.shape
    return images.unfold(2, P, P).unfold(3, P, P).permute(0, 2, 3, 1, 4, 5).reshape(B, -1, C * P * P)


CATALOGUE = {
    check.patchify: Catalogue(
        reference=patchify,
        right=[models.patchify, patchify_by_einops_style],
        wrong=[
            (_channels_last, "(P, P, C) order"),
            (_column_order, "column by column; number them row by row"),
            (_columns_within_patch, "flattened column by column"),
            (lambda images, P: images.reshape(images.shape[0], -1, images.shape[1] * P * P), "plain reshape"),
            (lambda images, P: patchify(images, P).transpose(1, 2), "swapped"),
            (_by_unfold, "called Tensor.unfold"),
            (lambda images, P: torch.nn.functional.unfold(images, P, stride=P).transpose(1, 2), "called F.unfold"),
            (lambda images, P: patchify(images, P).numpy(), "torch.Tensor"),
            (lambda images, P: patchify(images, P)[:, :-1], "shape"),
        ],
        mutations={"rearranged": "last two axes are swapped"},
    ),
    check.attention_head: Catalogue(
        reference=attention_head,
        right=[torch.nn.functional.scaled_dot_product_attention,
               lambda q, k, v: torch.einsum("...ij,...jd->...id", torch.einsum(
                   "...id,...jd->...ij", q, k).div(q.shape[-1] ** 0.5).softmax(-1), v)],
        wrong=[
            (lambda q, k, v: (q @ k.transpose(-2, -1)).softmax(-1) @ v, "not scaled"),
            (lambda q, k, v: (q @ k.transpose(-2, -1) / q.shape[-1]).softmax(-1) @ v, "divided by d"),
            (lambda q, k, v: (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-2) @ v, "over the queries"),
            (lambda q, k, v: (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])) @ v, "need a softmax"),
            (lambda q, k, v: (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1), "multiply it by v"),
            (lambda q, k, v: (k @ q.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1) @ v, "k qᵀ"),
            (lambda q, k, v: (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-2])).softmax(-1) @ v, "number of tokens"),
            (lambda q, k, v: -attention_head(q, k, v), "sign"),
        ],
    ),
    check.vit_param_count: Catalogue(
        reference=vit_param_count,
        right=[vit_count_by_model, lambda *config: torch.tensor(vit_param_count(*config))],
        wrong=[
            (_count_without("pos_embed"), "position embeddings"),
            (_count_without("cls_token"), "class token"),
            (_count_without("cls_position"), "N + 1"),
            (_count_without("patch_bias"), "patch embedding's bias"),  # the review's case: not only "class token"
            (_count_without("head"), "classification head"),
            (_count_without("head_bias"), "head's bias"),
            (_count_without("final_norm"), "final LayerNorm"),
            (_count_without("all_norms"), "two per block"),
            (_count_without("block_norms"), "inside the blocks"),
            (_count_without("biases"), "the biases"),
            (_count_without("qkv_bias"), "qkv projection's bias"),
            (_count_without("patches_not_squared"), "(img_size / patch_size)²"),
            (_count_without("hidden_is_d"), "int(embed_dim · mlp_ratio)"),
            (_count_without("heads_multiply"), "number of heads does not change"),
            (lambda *config: float(vit_param_count(*config)), "return an int"),
            (lambda *config: vit_param_count(*config) - 7, "too low"),
            (lambda *config: vit_param_count(*config) + 7, "too high"),
        ],
    ),
    check.rollout: Catalogue(
        reference=rollout,
        right=[lambda attentions: explain.attention_rollout([a[None] for a in attentions])[0],
               lambda attentions: torch.linalg.multi_dot(
                   [_rollout_variant()([a]) for a in reversed(attentions)] + [torch.eye(attentions[0].shape[-1],
                                                                                         dtype=torch.float64)])],
        wrong=[
            (_rollout_variant(keepdim=False), "keepdim=True"),
            (_rollout_variant(residual=False), "identity for the residual"),
            (_rollout_variant(renormalise=False), "renormalised"),
            (_rollout_variant(later_on_left=False), "wrong order"),
            (_rollout_variant(renormalise=False, half=True), "0.5·A + 0.5·I"),  # the review's case
            (_rollout_variant(fuse="max"), "maximum over the heads"),
            (_rollout_variant(fuse="sum"), "summed the heads"),
            (_rollout_variant(early=True), "before adding the identity"),
            (lambda attentions: rollout(attentions)[0], "shape"),
        ],
    ),
}


@pytest.mark.parametrize("answer", [np.int64(5), torch.tensor(5), np.array([5]), 5])
def test_a_count_is_accepted_in_any_integer_type(answer):
    result = check.vit_param_count(lambda *config: answer)
    assert not result and "too low" in result.message  # read as a count, and simply wrong


@pytest.mark.parametrize("answer", [5.0, torch.tensor(5.0), True, "5"])
def test_a_float_bool_or_string_is_not_a_count(answer):
    result = check.vit_param_count(lambda *config: answer)
    assert not result and ("return an int" in result.message or "bool" in result.message)
