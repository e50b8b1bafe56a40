"""Chapter 8's self-checks: the catalogue of answers (run by test_check_contract.py), and the rules they enforce."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from catalogue import Catalogue
from mlbits_lite import check


# --------------------------------------------------------------------------------------- reference solutions
def attention_macs(img_size, patch_size, embed_dim, depth, num_heads):
    tokens = (img_size // patch_size) ** 2 + 1  # the patches and the class token
    per_head = 2 * tokens * tokens * (embed_dim // num_heads)  # Q Kᵀ, then A V, each T·T·d
    return depth * num_heads * per_head


def linear_resize_matrix(old, new):
    centres = torch.arange(new, dtype=torch.float64) + 0.5  # new cell i's centre, in new cells
    source = (centres * old / new - 0.5).clamp(min=0)  # ... on the old axis, the edge value repeated
    left = source.floor().long()
    right = (left + 1).clamp(max=old - 1)  # past the last centre: the edge value again
    weight_right = source - left
    M = torch.zeros(new, old, dtype=torch.float64)
    rows = torch.arange(new)
    M[rows, left] += 1 - weight_right
    M[rows, right] += weight_right
    return M


def stem_window(index, num_convs, size):
    scale = 2**num_convs  # each convolution halves the resolution
    reach = scale - 1  # 1 + 2 + ... + 2^(k-1): one pixel of each layer's input
    return max(0, scale * index - reach), min(size - 1, scale * index + reach)


# --------------------------------------------------------------------------------------- other right answers
def attention_macs_per_block(img_size, patch_size, embed_dim, depth, num_heads):
    T = (img_size // patch_size) ** 2 + 1
    return np.int64(depth * 2 * T * T * embed_dim)  # the heads' widths add up to D; a NumPy integer is a count


def linear_resize_by_hat_function(old, new):
    """Each weight is the hat function max(0, 1 - |s - j|) at the clamped source position s."""
    s = ((torch.arange(new, dtype=torch.float64) + 0.5) * old / new - 0.5).clamp(0, old - 1)
    return (1 - (s[:, None] - torch.arange(old, dtype=torch.float64)[None]).abs()).clamp(min=0)


def linear_resize_by_loops(old, new):
    M = torch.zeros(new, old, dtype=torch.float64)
    for i in range(new):
        s = min(max((i + 0.5) * old / new - 0.5, 0.0), old - 1.0)
        j = min(int(s), old - 2) if old > 1 else 0
        if old == 1:
            M[i, 0] = 1.0
        else:
            M[i, j], M[i, j + 1] = j + 1 - s, s - j
    return M


def stem_window_layer_by_layer(index, num_convs, size):
    first = last = index
    for _ in range(num_convs):  # one convolution down: output i reads 2i - 1 .. 2i + 1
        first, last = 2 * first - 1, 2 * last + 1
    return torch.tensor([max(first, 0), min(last, size - 1)])  # a tensor of two ints is fine too


# --------------------------------------------------------------------------------------- typical mistakes
def _macs(**slip):
    def count(img_size, patch_size, embed_dim, depth, num_heads):
        side = img_size // patch_size
        tokens = (side if slip.get("grid_not_squared") else side**2) + (0 if slip.get("no_class_token") else 1)
        width = embed_dim if slip.get("full_width_per_head") else embed_dim // num_heads
        heads = 1 if slip.get("one_head") else num_heads
        blocks = 1 if slip.get("one_block") else depth
        products = 1 if slip.get("one_product") else 2
        return blocks * heads * products * tokens * tokens * width * (2 if slip.get("flops") else 1)
    return count


def _resize(*, corners=False, half=True, clamp=True, inverted=False, swapped=False, transposed=False):
    def resize(old, new):
        i = torch.arange(new, dtype=torch.float64)
        if corners:
            s = i * (old - 1) / max(new - 1, 1)
        else:
            s = (i + 0.5) * ((new / old) if inverted else (old / new)) - 0.5 if half else i * old / new
        if clamp:
            s = s.clamp(min=0)
        left = s.floor().long().clamp(0, old - 1)
        right = (left + 1).clamp(max=old - 1)
        w = s - left
        if swapped:
            w = 1 - w
        M = torch.zeros(new, old, dtype=torch.float64)
        M[torch.arange(new), left] += 1 - w
        M[torch.arange(new), right] += w
        return M.T if transposed else M
    return resize


def _nearest(old, new):
    M = torch.zeros(new, old, dtype=torch.float64)
    M[torch.arange(new), ((torch.arange(new) + 0.5) * old / new).long().clamp(max=old - 1)] = 1
    return M


def _by_interpolating_the_identity(old, new):
    return F.interpolate(torch.eye(old, dtype=torch.float64)[:, None], size=new, mode="linear",
                         align_corners=False)[:, 0].T


def _window(**slip):
    def window(index, num_convs, size):
        scale = 2**num_convs
        if slip.get("cell_only"):
            first, last = scale * index, scale * index + scale - 1
        elif slip.get("no_padding"):
            first, last = scale * index, scale * index + 2 * scale - 2
        elif slip.get("no_strides"):
            first, last = scale * index - num_convs, scale * index + num_convs
        elif slip.get("centred"):
            centre = scale * index + (scale - 1) / 2
            first, last = int(centre - (scale - 1)), int(centre + (scale - 1))
        else:
            first, last = scale * index - (scale - 1), scale * index + (scale - 1)
        if not slip.get("unclipped"):
            first, last = max(0, first), min(size - 1, last)
        return first, last + (1 if slip.get("exclusive") else 0)
    return window


CATALOGUE = {
    check.attention_macs: Catalogue(
        reference=attention_macs,
        right=[attention_macs_per_block],
        wrong=[
            (_macs(no_class_token=True), "class token is a token too"),
            (_macs(one_product=True), "two products per head"),
            (_macs(full_width_per_head=True), "heads split the width"),
            (_macs(one_head=True), "add up all h heads"),
            (_macs(grid_not_squared=True), "the patches form a grid"),
            (_macs(one_block=True), "every block has its own attention"),
            (_macs(flops=True), "not FLOPs"),
            (lambda *args: attention_macs(*args) / 1.0, "return an int"),
        ],
        mutations={"times_two": "not FLOPs"},
    ),
    check.linear_resize_matrix: Catalogue(
        reference=linear_resize_matrix,
        right=[linear_resize_by_hat_function, linear_resize_by_loops],
        wrong=[
            (_resize(corners=True), "align_corners=True"),
            (_resize(half=False), "centre of its cell"),
            (_resize(clamp=False), "clamp the position"),
            (_resize(inverted=True), "upside down"),
            (_resize(swapped=True), "weights are swapped"),
            (_nearest, "nearest-neighbour"),
            (_resize(transposed=True), "rows are the new positions"),
            (_by_interpolating_the_identity, "your function called F.interpolate"),
        ],
        mutations={"rearranged": "rows are the new positions"},
    ),
    check.stem_window: Catalogue(
        reference=stem_window,
        right=[stem_window_layer_by_layer],
        wrong=[
            (_window(no_padding=True), "padded by one pixel"),
            (_window(no_strides=True), "rows apart"),
            (_window(unclipped=True), "clip the window"),
            (_window(exclusive=True), "the last row is inclusive"),
            (_window(centred=True), "not centred"),
            (_window(cell_only=True), "the token's own cell"),
            (lambda index, num_convs, size: stem_window(index, num_convs, size)[0], "return two ints"),
        ],
    ),
}


# --------------------------------------------------------------------------------------- the chapter's facts
def test_the_resize_weights_are_pytorchs():
    for old, new in ((4, 6), (5, 12), (7, 3), (6, 6), (1, 4), (4, 1)):
        x = torch.randn(old, dtype=torch.float64, generator=torch.Generator().manual_seed(old * 31 + new))
        want = F.interpolate(x[None, None], size=new, mode="linear", align_corners=False)[0, 0]
        torch.testing.assert_close(linear_resize_matrix(old, new) @ x, want)
    torch.testing.assert_close(linear_resize_matrix(7, 7), torch.eye(7, dtype=torch.float64))  # M = I at one size


def test_the_window_is_what_the_library_stem_sees():
    from mlbits_lite.models import ConvStem

    stem = ConvStem(img_size=32, patch_size=8, in_chans=1, embed_dim=4, channels=(2, 2, 2)).double().eval()
    x = torch.randn(8, 1, 32, 32, dtype=torch.float64, requires_grad=True)
    for row in range(4):
        (grad,) = torch.autograd.grad(stem(x)[:, row * 4].sum(), x)  # token (row, 0)
        rows = (grad.abs().sum((0, 1, 3)) > 0).nonzero().flatten()
        first, last = stem_window(row, 3, 32)
        assert rows.min() >= first and rows.max() <= last


def test_four_by_four_patches_cost_fourteen_times_more_attention():
    ratio = attention_macs(32, 4, 32, 4, 4) / attention_macs(32, 8, 32, 4, 4)
    assert abs(ratio - (65 / 17) ** 2) < 1e-12
