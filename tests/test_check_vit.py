"""Chapter 7 self-checks: a right answer passes, each typical mistake fails with its hint, no hint leaks the answer."""
from __future__ import annotations

import math
import re

import pytest
import torch

from mlbits_lite import check, explain, models


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+\.\d+|\d{3,}", text)


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


CASES = [
    (check.patchify, patchify),
    (check.attention_head, attention_head),
    (check.vit_param_count, vit_param_count),
    (check.rollout, rollout),
]
IDS = ["patchify", "attention_head", "vit_param_count", "rollout"]


def test_library_versions_pass_too():
    assert check.patchify(models.patchify)
    assert check.rollout(lambda attentions: explain.attention_rollout([a[None] for a in attentions])[0])


# --------------------------------------------------------------------------------------- typical mistakes
def _channels_last(images, P):
    B, C, H, W = images.shape
    return images.reshape(B, C, H // P, P, W // P, P).permute(0, 2, 4, 3, 5, 1).reshape(B, -1, C * P * P)


def _column_order(images, P):
    B, C, H, W = images.shape
    return images.reshape(B, C, H // P, P, W // P, P).permute(0, 4, 2, 1, 3, 5).reshape(B, -1, C * P * P)


@pytest.mark.parametrize("wrong, hint", [
    (_channels_last, "(P, P, C) order"),
    (_column_order, "column by column"),
    (lambda images, P: images.reshape(images.shape[0], -1, images.shape[1] * P * P), "plain reshape"),
    (lambda images, P: patchify(images, P).transpose(1, 2), "swapped"),
    (lambda images, P: patchify(images, P).numpy(), "torch.Tensor"),
    (lambda images, P: patchify(images, P)[:, :-1], "shape"),
])
def test_patchify_mistakes_get_their_hint(wrong, hint):
    result = check.patchify(wrong)
    assert not result and hint in result.message, result.message


@pytest.mark.parametrize("wrong, hint", [
    (lambda q, k, v: (q @ k.transpose(-2, -1)).softmax(-1) @ v, "not scaled"),
    (lambda q, k, v: (q @ k.transpose(-2, -1) / q.shape[-1]).softmax(-1) @ v, "divided by d"),
    (lambda q, k, v: (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-2) @ v, "over the queries"),
    (lambda q, k, v: (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])) @ v, "need a softmax"),
    (lambda q, k, v: (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1), "multiply it by v"),
    (lambda q, k, v: (k @ q.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1) @ v, "k qᵀ"),
    (lambda q, k, v: -attention_head(q, k, v), "sign"),
])
def test_attention_head_mistakes_get_their_hint(wrong, hint):
    result = check.attention_head(wrong)
    assert not result and hint in result.message, result.message


def _count_without(part):
    def count(img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp_ratio):
        D, N = embed_dim, (img_size // patch_size) ** 2
        total = vit_param_count(img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp_ratio)
        return total - {
            "pos_embed": (N + 1) * D,
            "cls_token": D,
            "cls_position": D,
            "head": D * num_classes + num_classes,
            "final_norm": 2 * D,
            "all_norms": 2 * D * (2 * depth + 1),
            "block_norms": 4 * D * depth,
            "biases": D + depth * (3 * D + D + int(D * mlp_ratio) + D + 2 * D) + D + num_classes,
            "heads_multiply": -(num_heads - 1) * depth * (4 * D * D + 4 * D),
        }[part]
    return count


@pytest.mark.parametrize("part, hint", [
    ("pos_embed", "position embeddings"),
    ("cls_token", "class token"),
    ("cls_position", "N + 1"),
    ("head", "classification head"),
    ("final_norm", "final LayerNorm"),
    ("all_norms", "two per block"),
    ("block_norms", "inside the blocks"),
    ("biases", "biases"),
    ("heads_multiply", "number of heads does not change"),
])
def test_param_count_mistakes_get_their_hint(part, hint):
    result = check.vit_param_count(_count_without(part))
    assert not result and hint in result.message, result.message


def test_param_count_wrong_type_and_direction():
    as_float = check.vit_param_count(lambda *config: float(vit_param_count(*config)))
    assert not as_float and "return an int" in as_float.message
    assert "too low" in check.vit_param_count(lambda *config: vit_param_count(*config) - 7).message
    assert "too high" in check.vit_param_count(lambda *config: vit_param_count(*config) + 7).message
    assert check.vit_param_count(lambda *config: torch.tensor(vit_param_count(*config)))  # an int tensor is fine


def _rollout_variant(*, residual=True, renormalise=True, keepdim=True, later_on_left=True):
    def variant(attentions):
        result = None
        for layer in attentions:
            a = layer.mean(0)
            if residual:
                a = a + torch.eye(a.shape[-1], dtype=a.dtype)
            if renormalise:
                a = a / (a.sum(-1, keepdim=True) if keepdim else a.sum(-1))
            result = a if result is None else (a @ result if later_on_left else result @ a)
        return result
    return variant


@pytest.mark.parametrize("wrong, hint", [
    (_rollout_variant(keepdim=False), "keepdim=True"),
    (_rollout_variant(residual=False), "identity for the residual"),
    (_rollout_variant(renormalise=False), "renormalised"),
    (_rollout_variant(later_on_left=False), "wrong order"),
    (lambda attentions: rollout(attentions)[0], "shape"),
])
def test_rollout_mistakes_get_their_hint(wrong, hint):
    result = check.rollout(wrong)
    assert not result and hint in result.message, result.message


# --------------------------------------------------------------------------------------- no leaks, determinism
def test_no_message_contains_a_number_from_the_reference():
    wrongs = [
        (check.patchify, lambda images, P: 1.5 * patchify(images, P)),
        (check.attention_head, lambda q, k, v: attention_head(q, k, v) + 0.25),
        (check.vit_param_count, lambda *config: vit_param_count(*config) - 12345),
        (check.rollout, lambda attentions: 0.5 * rollout(attentions)),
    ]
    for run_check, wrong in wrongs:
        message = run_check(wrong).message
        assert _numbers(message) == [], message


def test_hidden_cases_are_deterministic():
    def wrong(q, k, v):
        return 1.1 * attention_head(q, k, v)

    assert check.attention_head(wrong).message == check.attention_head(wrong).message
