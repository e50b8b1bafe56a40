"""Self-checks for chapter 8: the cost of attention, position-embedding interpolation, and the conv stem's window."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ._framework import INTEGER, Case, CheckResult, Ints, Rule, run

__all__ = ["attention_macs", "linear_resize_matrix", "stem_window"]


def _attention_macs(img_size: int, patch_size: int, embed_dim: int, depth: int, num_heads: int, *,
                    class_token: bool = True, products: int = 2, per_head_width: bool = True,
                    squared_grid: bool = True, all_heads: bool = True, all_blocks: bool = True) -> int:
    """Multiply-accumulates of Q Kᵀ and A V, with switches that reproduce the usual mistakes."""
    side = img_size // patch_size
    tokens = (side**2 if squared_grid else side) + (1 if class_token else 0)
    width = embed_dim // num_heads if per_head_width else embed_dim
    heads = num_heads if all_heads else 1
    return (depth if all_blocks else 1) * heads * products * tokens * tokens * width


def attention_macs(learner: Callable[..., int]) -> CheckResult:
    """Exercise: predict the multiply-accumulates of the two attention products of a ViT, for one image.

    Args:
        learner: `f(img_size, patch_size, embed_dim, depth, num_heads)`; returns the number (an int) of
            multiply-accumulates in Q Kᵀ and A V, over all heads and blocks, with a class token.
    """
    configs = ((32, 8, 32, 4, 4), (224, 16, 192, 12, 3), (48, 4, 60, 2, 6), (384, 16, 768, 12, 12))
    cases = []
    for config in configs:
        want = _attention_macs(*config)
        wrong = {
            "the class token is a token too: T = N + 1": _attention_macs(*config, class_token=False),
            "attention has two products per head: the scores Q Kᵀ and the weighted sum A V": _attention_macs(
                *config, products=1),
            "each head works on d = D / h dimensions: the heads split the width, they do not multiply it":
                _attention_macs(*config, per_head_width=False),
            "that is one head: add up all h heads": _attention_macs(*config, all_heads=False),
            "the patches form a grid: N = (H / P)², not H / P": _attention_macs(*config, squared_grid=False),
            "every block has its own attention: multiply by the depth": _attention_macs(*config, all_blocks=False),
            "count multiply-accumulates, not FLOPs: one per term of each dot product": 2 * want,
        }
        cases.append(Case(config, want, {hint: v for hint, v in wrong.items() if v != want}))
    return run("attention_macs", learner, cases, answer=INTEGER)


def _linear_resize_matrix(old: int, new: int, *, align_corners: bool = False, half_pixel: bool = True,
                          clamp: bool = True, inverted: bool = False, swapped: bool = False) -> torch.Tensor:
    """1-D linear interpolation weights (new, old), with switches that reproduce the usual mistakes."""
    i = torch.arange(new, dtype=torch.float64)
    if align_corners:
        source = i * (old - 1) / (new - 1) if new > 1 else torch.zeros(new, dtype=torch.float64)
    else:
        scale = new / old if inverted else old / new
        source = (i + 0.5) * scale - 0.5 if half_pixel else i * scale
    if clamp:
        source = source.clamp(min=0)
    left = source.floor().long().clamp(0, old - 1)
    right = (left + 1).clamp(max=old - 1)
    weight = source - left  # the share of the right neighbour
    if swapped:
        weight = 1 - weight
    M = torch.zeros(new, old, dtype=torch.float64)
    M[torch.arange(new), left] += 1 - weight
    M[torch.arange(new), right] += weight
    return M


no_interpolate = Rule("this exercise derives the weights that F.interpolate hides, and your function called {name}: "
                      "build M from the positions of the cell centres", {"F.interpolate": F.interpolate})


def linear_resize_matrix(learner: Callable[[int, int], torch.Tensor]) -> CheckResult:
    """Exercise: the weights of 1-D linear interpolation (align_corners=False), by hand.

    Args:
        learner: `f(old, new)`; returns the (new, old) float64 matrix M with M @ x equal to
            F.interpolate(x[None, None], size=new, mode="linear", align_corners=False)[0, 0].
    """
    cases = []
    for old, new in ((4, 6), (5, 12), (7, 3), (6, 6), (3, 8)):
        want = _linear_resize_matrix(old, new)
        nearest = torch.zeros(new, old, dtype=torch.float64)
        nearest[torch.arange(new), ((torch.arange(new) + 0.5) * old / new).floor().long().clamp(max=old - 1)] = 1
        wrong = {
            "that is align_corners=True (first and last samples pinned to each other); with align_corners=False the "
            "cells, not the end samples, cover the same interval": _linear_resize_matrix(old, new, align_corners=True),
            "the new sample i sits at the centre of its cell, i + ½, not at i": _linear_resize_matrix(
                old, new, half_pixel=False),
            "near the first edge the position falls below the first centre: clamp the position at 0 (the edge value "
            "repeats), do not extrapolate": _linear_resize_matrix(old, new, clamp=False),
            "the weights are swapped: the nearer neighbour gets the larger weight": _linear_resize_matrix(
                old, new, swapped=True),
            "the scale is upside down: a step of one new cell is old / new old cells": _linear_resize_matrix(
                old, new, inverted=True),
            "that is nearest-neighbour: linear interpolation mixes the two nearest old samples": nearest,
            "rows are the new positions: M has shape (new, old)": want.T,
        }
        cases.append(((old, new), want, wrong))
    return run("linear_resize_matrix", learner, [Case(*case) for case in cases], rules=(no_interpolate,))


def _stem_window(index: int, num_convs: int, size: int, *, padded: bool = True, strided: bool = True,
                 clipped: bool = True, inclusive: bool = True, centred: bool = False,
                 cell_only: bool = False) -> tuple[int, int]:
    """Input rows a conv-stem token sees, with switches that reproduce the usual mistakes."""
    scale = 2**num_convs
    if cell_only:
        first, last = scale * index, scale * index + scale - 1
    elif centred:
        half = scale - 1
        centre = scale * index + (scale - 1) / 2
        first, last = int(centre - half), int(centre + half)
    elif not strided:
        first, last = scale * index - num_convs, scale * index + num_convs
    elif not padded:
        first, last = scale * index, scale * index + 2 * scale - 2
    else:
        first, last = scale * index - (scale - 1), scale * index + (scale - 1)
    if clipped:
        first, last = max(0, first), min(size - 1, last)
    return first, last + (0 if inclusive else 1)


def stem_window(learner: Callable[[int, int, int], tuple[int, int]]) -> CheckResult:
    """Exercise: the input rows that a token of a conv stem (3×3, stride 2, padding 1, stacked) can see.

    Args:
        learner: `f(index, num_convs, size)`; returns (first, last), the inclusive input rows, clipped to
            0 .. size - 1, that can change token row `index`.
    """
    cases = []
    for index, num_convs, size in ((2, 3, 32), (0, 3, 32), (3, 2, 16), (5, 1, 12), (3, 3, 32), (1, 4, 48)):
        want = _stem_window(index, num_convs, size)
        wrong = {
            "the convolutions are padded by one pixel: output i of one convolution reads 2i - 1 .. 2i + 1":
                _stem_window(index, num_convs, size, padded=False),
            "each convolution's 3 pixels are pixels of its own input, which are 2, 4, 8, ... image rows apart":
                _stem_window(index, num_convs, size, strided=False),
            "clip the window to the image's rows 0 .. size - 1": _stem_window(index, num_convs, size, clipped=False),
            "the last row is inclusive": _stem_window(index, num_convs, size, inclusive=False),
            "the window is not centred on the token's cell: work it out layer by layer": _stem_window(
                index, num_convs, size, centred=True),
            "that is the token's own cell; the 3×3 kernels reach beyond it": _stem_window(
                index, num_convs, size, cell_only=True),
        }
        cases.append(Case((index, num_convs, size), want, {hint: v for hint, v in wrong.items() if v != want}))
    return run("stem_window", learner, cases, answer=Ints(("first", "last")))
