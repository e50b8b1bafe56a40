"""Self-checks for chapter 6: CutMix, derived from Cutout and Mixup."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ._framework import FORMAT, NUMBER, RTOL, Case, CheckResult, Ints, _hidden_generator, as_number, run

__all__ = ["cutmix_box", "mix_with_box", "mixed_loss", "smoothed_mixed_targets"]

# ------------------------------------------------------------------------------------------------ the box
def _box(height: int, width: int, lam: float, cy: int, cx: int, *, side: Callable = lambda lam: math.sqrt(1 - lam),
         clip: bool = True, to_int: Callable = int) -> tuple[int, int, int, int]:
    """The CutMix box with centre (cy, cx): sides int(H side(lam)) and int(W side(lam)), edges half a side away."""
    cut_h, cut_w = to_int(height * side(lam)), to_int(width * side(lam))
    y0, y1, x0, x1 = cy - cut_h // 2, cy + cut_h // 2, cx - cut_w // 2, cx + cut_w // 2
    if clip:
        y0, y1, x0, x1 = max(y0, 0), min(y1, height), max(x0, 0), min(x1, width)
    return y0, y1, x0, x1


def _box_full_side(height: int, width: int, lam: float, cy: int, cx: int) -> tuple[int, int, int, int]:
    """The box whose far edge lies a whole side from the near one (an odd side keeps its last row)."""
    cut_h, cut_w = int(height * math.sqrt(1 - lam)), int(width * math.sqrt(1 - lam))
    y0, x0 = cy - cut_h // 2, cx - cut_w // 2
    return max(y0, 0), min(y0 + cut_h, height), max(x0, 0), min(x0 + cut_w, width)


def cutmix_box(learner: Callable[[int, int, float, int, int], tuple]) -> CheckResult:
    """Exercise: the CutMix box for a given centre, clipped to the image.

    Args:
        learner: `f(height, width, lam, cy, cx)` returning `(y0, y1, x0, x1)` as ints (ends exclusive) for the box
            with sides int(height * sqrt(1 - lam)) and int(width * sqrt(1 - lam)) centred on row cy, column cx.
    """
    g = _hidden_generator("cutmix_box")
    sizes = [(20, 36), (36, 20), (32, 32), (17, 29), (25, 14)]  # non-square first: a swap shows at once
    problems = []
    for height, width in sizes:
        for _ in range(4):
            lam = float(torch.rand(1, generator=g)) * 0.9 + 0.05
            cy, cx = int(torch.randint(0, height, (1,), generator=g)), int(torch.randint(0, width, (1,), generator=g))
            problems.append((height, width, lam, cy, cx))
    problems += [(20, 36, 1.0, 7, 30), (20, 36, 0.0, 0, 35)]  # lam = 1: an empty box; lam = 0: the whole image
    cases = []
    for height, width, lam, cy, cx in problems:
        want = _box(height, width, lam, cy, cx)
        y0, y1, x0, x1 = want
        wrong = {
            "rows and columns are exchanged: return (y0, y1, x0, x1), the rows first": (x0, x1, y0, y1),
            "the order is (y0, y1, x0, x1): both row edges first, then both column edges": (y0, x0, y1, x1),
            "height and width are swapped: rows go with the height, columns with the width":
                _box(width, height, lam, cy, cx),
            "the box is not clipped to the image: an edge can fall outside the picture":
                _box(height, width, lam, cy, cx, clip=False),
            "the sides scale with (1 - lam): it is the area that should be (1 - lam) of the image":
                _box(height, width, lam, cy, cx, side=lambda lam: 1 - lam),
            "the box has the size of the part that stays: it should cover (1 - lam) of the image, not lam":
                _box(height, width, lam, cy, cx, side=math.sqrt),
            "round the sides down with int(), as the paper's code does, not to the nearest int":
                _box(height, width, lam, cy, cx, to_int=round),
            "both edges lie side // 2 from the centre, as in the paper's code (an odd side loses a row)":
                _box_full_side(height, width, lam, cy, cx),
            "the box reaches outside the image or has y1 < y0 or x1 < x0":
                lambda box, h=height, w=width: not (0 <= box[0] <= box[1] <= h and 0 <= box[2] <= box[3] <= w),
        }
        cases.append(Case((height, width, lam, cy, cx), want, wrong))
    return run("cutmix_box", learner, cases,
               answer=Ints(("y0", "y1", "x0", "x1"), differs="the box differs from the reference (check the edges: "
                                                             "each lies half a side, side // 2, from the centre)"))


# ------------------------------------------------------------------------------------------------ pasting
def _pasted(into: torch.Tensor, source: torch.Tensor, rows: slice, cols: slice) -> torch.Tensor:
    mixed = into.clone()
    mixed[:, :, rows, cols] = source[:, :, rows, cols]
    return mixed


def _diagnose_mix(got: object, case: Case, results: list) -> tuple[int, str] | None:
    x_a, x_b, (y0, y1, x0, x1) = case.args
    want, lam_want = case.want
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return FORMAT, "return a pair (mixed, lam)"
    mixed, lam = got
    if not isinstance(mixed, torch.Tensor):
        return FORMAT, f"mixed should be a torch.Tensor, got {type(mixed).__name__}"
    if mixed.shape != want.shape:
        return FORMAT, f"mixed has shape {tuple(mixed.shape)}; keep the batch's shape"
    mixed = mixed.detach().cpu()
    if not torch.equal(mixed, want.to(mixed.dtype)):
        height, width = x_a.shape[-2:]
        variants = {
            "the roles are reversed: the box comes from x_b and goes into x_a":
                _pasted(x_b, x_a, slice(y0, y1), slice(x0, x1)),
            "the ends y1 and x1 are exclusive, as in a slice": _pasted(x_a, x_b, slice(y0, y1 + 1), slice(x0, x1 + 1)),
            "rows and columns are exchanged: y indexes dimension 2 (height), x dimension 3 (width)":
                _pasted(x_a, x_b, slice(x0, x1), slice(y0, y1)),
            "every image got the patch of the first image of x_b: paste each image's own patch":
                _pasted(x_a, x_b[:1].expand_as(x_b), slice(y0, y1), slice(x0, x1)),
            "the mixed images hold x_b's whole image: paste only the box": x_b,
        }
        for hint, value in variants.items():
            if not torch.equal(value, want) and torch.equal(mixed, value.to(mixed.dtype)):
                return 1, hint
        return 3, "the mixed images differ from the reference"
    value = as_number(lam)
    if isinstance(value, str):
        return FORMAT, f"lam should be a number: {value}"
    if math.isclose(value, lam_want, rel_tol=RTOL, abs_tol=1e-12):
        return None
    area = (y1 - y0) * (x1 - x0)
    height, width = x_a.shape[-2:]
    lam_hints = {
        "that lam is the share of x_b; lam weighs x_a, the pixels outside the box": area / (height * width),
        "the image has height · width pixels: you used one side squared": 1 - area / (height * height),
        "the image has height · width pixels: you used one side squared ": 1 - area / (width * width),
    }
    for hint, candidate in lam_hints.items():
        if not math.isclose(candidate, lam_want, rel_tol=RTOL) and math.isclose(value, candidate, rel_tol=RTOL):
            return 1, hint.strip()
    return 3, "lam is not the share of pixels that come from x_a"


def mix_with_box(learner: Callable[[torch.Tensor, torch.Tensor, tuple], tuple]) -> CheckResult:
    """Exercise: paste a box of x_b into x_a and return the corrected lam.

    Args:
        learner: `f(x_a, x_b, box)` for batches (B, C, H, W) and box = (y0, y1, x0, x1) (ends exclusive),
            returning `(mixed, lam)`: x_a with the box taken from x_b, and lam (any kind of number) the share of
            pixels from x_a. It must not modify x_a or x_b.
    """
    g = _hidden_generator("mix_with_box")
    shapes = [(2, 3, 10, 16), (3, 1, 15, 9), (1, 3, 12, 12), (2, 2, 7, 11)]
    problems = []
    for batch, channels, height, width in shapes:
        y0 = int(torch.randint(0, height - 2, (1,), generator=g))
        x0 = int(torch.randint(0, width - 2, (1,), generator=g))
        y1 = int(torch.randint(y0 + 1, height, (1,), generator=g))
        x1 = int(torch.randint(x0 + 1, width, (1,), generator=g))
        problems.append((batch, channels, height, width, (y0, y1, x0, x1)))
    problems.append((2, 3, 8, 8, (0, 8, 0, 8)))  # the whole image: lam = 0
    cases = []
    for batch, channels, height, width, box in problems:
        x_a = torch.rand(batch, channels, height, width, generator=g, dtype=torch.float64)
        x_b = torch.rand(batch, channels, height, width, generator=g, dtype=torch.float64) + 2  # tell A and B apart
        y0, y1, x0, x1 = box
        want = _pasted(x_a, x_b, slice(y0, y1), slice(x0, x1))
        cases.append(Case((x_a, x_b, box), (want, 1 - (y1 - y0) * (x1 - x0) / (height * width))))
    return run("mix_with_box", learner, cases, answer=_diagnose_mix, keep_inputs=True)


# ------------------------------------------------------------------------------------------------ the loss
def mixed_loss(learner: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """Exercise: the mixed loss lam CE(logits, labels_a) + (1 - lam) CE(logits, labels_b), mean over the batch.

    Args:
        learner: `f(logits, labels_a, labels_b, lam)` for logits (B, K), integer labels (B,) and a float lam,
            returning the scalar loss.
    """
    g = _hidden_generator("mixed_loss")
    cases = []
    for batch, classes, lam in ((5, 4, 0.3), (8, 10, 0.85), (3, 3, 0.6), (6, 5, 1.0)):
        logits = torch.randn(batch, classes, generator=g, dtype=torch.float64) * 2
        labels_a = torch.randint(0, classes, (batch,), generator=g)
        labels_b = torch.randint(0, classes, (batch,), generator=g)
        ce_a, ce_b = F.cross_entropy(logits, labels_a), F.cross_entropy(logits, labels_b)
        p = logits.softmax(1)
        want = lam * ce_a + (1 - lam) * ce_b  # = CE with the soft target lam y_a + (1 - lam) y_b
        wrong = {
            "the weights are swapped: lam belongs to labels_a": (1 - lam) * ce_a + lam * ce_b,
            "reduce with the mean over the batch, not the sum": want * batch,
            "both labels count: weigh the loss of labels_b by (1 - lam)": ce_a,
            "the loss of labels_b is weighed by (1 - lam), not by lam": lam * (ce_a + ce_b),
            "weigh the two losses by lam and (1 - lam), not equally": (ce_a + ce_b) / 2,
            "that mixes the probabilities inside the log; the loss mixes the two cross-entropies":
                -torch.log(lam * p.gather(1, labels_a[:, None]) + (1 - lam) * p.gather(1, labels_b[:, None])).mean(),
        }
        cases.append(Case((logits, labels_a, labels_b, lam), float(want), {h: float(w) for h, w in wrong.items()}))
    return run("mixed_loss", learner, cases, answer=NUMBER)


# ------------------------------------------------------------------------------------------------ smoothing once
def smoothed_mixed_targets(
    learner: Callable[[torch.Tensor, torch.Tensor, float, int, float], torch.Tensor]
) -> CheckResult:
    """Exercise: soft targets for a mixed batch with label smoothing applied exactly once.

    Args:
        learner: `f(labels_a, labels_b, lam, num_classes, epsilon)` returning (B, K) targets: the mix
            lam y_a + (1 - lam) y_b of one-hot targets, smoothed once with epsilon spread over all K classes.
    """
    g = _hidden_generator("smoothed_mixed_targets")
    cases = []
    for batch, classes, lam, epsilon in ((4, 5, 0.3, 0.1), (6, 10, 0.75, 0.2), (3, 3, 0.55, 0.05), (5, 7, 1.0, 0.1)):
        labels_a = torch.randint(0, classes, (batch,), generator=g)
        labels_b = torch.randint(0, classes, (batch,), generator=g)
        one_a = F.one_hot(labels_a, classes).double()
        one_b = F.one_hot(labels_b, classes).double()
        mixed = lam * one_a + (1 - lam) * one_b

        def smooth(q: torch.Tensor, eps: float = epsilon, k: int = classes) -> torch.Tensor:
            return (1 - eps) * q + eps / k

        want = smooth(mixed)
        wrong = {
            "the targets are smoothed twice: smooth once, before or after mixing (it comes to the same)":
                smooth(smooth(mixed)),
            "these are the mixed targets without smoothing": mixed,
            "epsilon is spread over all K classes (eps / K each), not over the K - 1 wrong ones":
                (1 - epsilon) * mixed + epsilon / (classes - 1) * (1 - mixed),
            "the weights are swapped: lam belongs to labels_a": smooth((1 - lam) * one_a + lam * one_b),
            "smooth both targets (or their mix), not only labels_a's": lam * smooth(one_a) + (1 - lam) * one_b,
            "(1 - ε) q + ε/K already sums to 1: scale q by (1 - ε) instead of renormalising":
                (mixed + epsilon / classes) / (1 + epsilon),
        }
        cases.append(Case((labels_a, labels_b, lam, classes, epsilon), want, wrong))
    return run("smoothed_mixed_targets", learner, cases)

