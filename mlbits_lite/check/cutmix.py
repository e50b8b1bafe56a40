"""Self-checks for chapter 6: CutMix, derived from Cutout and Mixup."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ._framework import CheckResult, _hidden_generator, _run

__all__ = ["cutmix_box", "mix_with_box", "mixed_loss", "smoothed_mixed_targets"]

NOT_ATTEMPTED = "not attempted yet: replace `raise NotImplementedError` with your code"


def _call(exercise: str, learner: Callable, args: tuple, case: str) -> tuple[object, CheckResult | None]:
    """Call the learner; a NotImplementedError or a crash becomes the CheckResult to return."""
    try:
        return learner(*args), None
    except NotImplementedError:
        return None, CheckResult(exercise, False, NOT_ATTEMPTED, attempted=False)
    except Exception as exc:  # the learner's bug, reported as a hint rather than a crash
        return None, CheckResult(exercise, False, f"{case}: your function raised {type(exc).__name__}: {exc}")


# ------------------------------------------------------------------------------------------------ the box
def _box(height: int, width: int, lam: float, cy: int, cx: int, *, side: Callable = lambda lam: math.sqrt(1 - lam),
         clip: bool = True, to_int: Callable = int) -> tuple[int, int, int, int]:
    """The CutMix box with centre (cy, cx): sides int(H side(lam)) and int(W side(lam)), edges half a side away."""
    cut_h, cut_w = to_int(height * side(lam)), to_int(width * side(lam))
    y0, y1, x0, x1 = cy - cut_h // 2, cy + cut_h // 2, cx - cut_w // 2, cx + cut_w // 2
    if clip:
        y0, y1, x0, x1 = max(y0, 0), min(y1, height), max(x0, 0), min(x1, width)
    return y0, y1, x0, x1


def cutmix_box(learner: Callable[[int, int, float, int, int], tuple]) -> CheckResult:
    """Exercise: the CutMix box for a given centre, clipped to the image.

    Args:
        learner: `f(height, width, lam, cy, cx)` returning `(y0, y1, x0, x1)` as ints (ends exclusive) for the box
            with sides int(height * sqrt(1 - lam)) and int(width * sqrt(1 - lam)) centred on row cy, column cx.
    """
    exercise = "cutmix_box"
    if not callable(learner):
        raise TypeError(f"{exercise}: expected your function as the argument, got {type(learner).__name__}")
    g = _hidden_generator(exercise)
    sizes = [(20, 36), (36, 20), (32, 32), (17, 29), (25, 14)]  # non-square first: a swap shows at once
    cases = []
    for height, width in sizes:
        for _ in range(4):
            lam = float(torch.rand(1, generator=g)) * 0.9 + 0.05
            cy, cx = int(torch.randint(0, height, (1,), generator=g)), int(torch.randint(0, width, (1,), generator=g))
            cases.append((height, width, lam, cy, cx))
    cases += [(20, 36, 1.0, 7, 30), (20, 36, 0.0, 0, 35)]  # lam = 1: an empty box; lam = 0: the whole image
    for i, (height, width, lam, cy, cx) in enumerate(cases, start=1):
        where = f"case {i} of {len(cases)}"
        got, failed = _call(exercise, learner, (height, width, lam, cy, cx), where)
        if failed is not None:
            return failed
        if isinstance(got, torch.Tensor):
            got = tuple(got.tolist())
        if not isinstance(got, (tuple, list)) or len(got) != 4:
            return CheckResult(exercise, False, f"{where}: return a tuple of four ints (y0, y1, x0, x1)")
        try:
            values = [float(v) for v in got]
        except (TypeError, ValueError):
            values = [math.nan]
        if not all(math.isfinite(v) and v == int(v) for v in values):
            return CheckResult(exercise, False, f"{where}: return a tuple of four ints (y0, y1, x0, x1)")
        got = tuple(int(v) for v in values)
        want = _box(height, width, lam, cy, cx)
        if got == want:
            continue
        y0, y1, x0, x1 = want
        swapped = _box(width, height, lam, cy, cx)  # H and W exchanged, as in the official code's names
        wrong = [
            ((x0, x1, y0, y1), "rows and columns are exchanged: return (y0, y1, x0, x1), the rows first"),
            ((y0, x0, y1, x1), "the order is (y0, y1, x0, x1): both row edges first, then both column edges"),
            (swapped, "height and width are swapped: rows go with the height, columns with the width"),
            (_box(height, width, lam, cy, cx, clip=False),
             "the box is not clipped to the image: an edge can fall outside the picture"),
            (_box(height, width, lam, cy, cx, side=lambda lam: 1 - lam),
             "the sides scale with (1 - lam): it is the area that should be (1 - lam) of the image"),
            (_box(height, width, lam, cy, cx, side=math.sqrt),
             "the box has the size of the part that stays: it should cover (1 - lam) of the image, not lam"),
            (_box(height, width, lam, cy, cx, to_int=round),
             "round the sides down with int(), as the paper's code does, not to the nearest int"),
        ]
        for value, hint in wrong:
            if got == value:
                return CheckResult(exercise, False, f"{where}: {hint}")
        if not (0 <= got[0] <= got[1] <= height and 0 <= got[2] <= got[3] <= width):
            return CheckResult(exercise, False, f"{where}: the box reaches outside the image or has y1 < y0 or x1 < x0")
        return CheckResult(exercise, False, f"{where}: the box differs from the reference (check the edges: "
                                            "each lies half a side, side // 2, from the centre)")
    return CheckResult(exercise, True, f"pass ({len(cases)} hidden cases)")


# ------------------------------------------------------------------------------------------------ pasting
def mix_with_box(learner: Callable[[torch.Tensor, torch.Tensor, tuple], tuple]) -> CheckResult:
    """Exercise: paste a box of x_b into x_a and return the corrected lam.

    Args:
        learner: `f(x_a, x_b, box)` for batches (B, C, H, W) and box = (y0, y1, x0, x1) (ends exclusive),
            returning `(mixed, lam)`: x_a with the box taken from x_b, and lam the share of pixels from x_a. It must
            not modify x_a or x_b.
    """
    exercise = "mix_with_box"
    if not callable(learner):
        raise TypeError(f"{exercise}: expected your function as the argument, got {type(learner).__name__}")
    g = _hidden_generator(exercise)
    shapes = [(2, 3, 10, 16), (3, 1, 15, 9), (1, 3, 12, 12), (2, 2, 7, 11)]
    cases = []
    for batch, channels, height, width in shapes:
        y0 = int(torch.randint(0, height - 2, (1,), generator=g))
        x0 = int(torch.randint(0, width - 2, (1,), generator=g))
        y1 = int(torch.randint(y0 + 1, height, (1,), generator=g))
        x1 = int(torch.randint(x0 + 1, width, (1,), generator=g))
        cases.append((batch, channels, height, width, (y0, y1, x0, x1)))
    cases.append((2, 3, 8, 8, (0, 8, 0, 8)))  # the whole image: lam = 0
    for i, (batch, channels, height, width, box) in enumerate(cases, start=1):
        where = f"case {i} of {len(cases)}"
        x_a = torch.rand(batch, channels, height, width, generator=g, dtype=torch.float64)
        x_b = torch.rand(batch, channels, height, width, generator=g, dtype=torch.float64) + 2  # tell A and B apart
        a_before, b_before = x_a.clone(), x_b.clone()
        got, failed = _call(exercise, learner, (x_a, x_b, box), where)
        if failed is not None:
            return failed
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return CheckResult(exercise, False, f"{where}: return a pair (mixed, lam)")
        mixed, lam = got
        if not torch.equal(x_a, a_before) or not torch.equal(x_b, b_before):
            return CheckResult(exercise, False, f"{where}: your function changed its input in place: clone x_a "
                                                "before pasting into it")
        y0, y1, x0, x1 = box
        want = a_before.clone()
        want[:, :, y0:y1, x0:x1] = b_before[:, :, y0:y1, x0:x1]
        area = (y1 - y0) * (x1 - x0) / (height * width)
        if not isinstance(mixed, torch.Tensor):
            return CheckResult(exercise, False, f"{where}: mixed should be a torch.Tensor, got {type(mixed).__name__}")
        if mixed.shape != want.shape:
            return CheckResult(exercise, False,
                               f"{where}: mixed has shape {tuple(mixed.shape)}; keep the batch's shape")
        if not torch.equal(mixed, want):
            reversed_roles = b_before.clone()
            reversed_roles[:, :, y0:y1, x0:x1] = a_before[:, :, y0:y1, x0:x1]
            inclusive = a_before.clone()
            inclusive[:, :, y0:y1 + 1, x0:x1 + 1] = b_before[:, :, y0:y1 + 1, x0:x1 + 1]
            if torch.equal(mixed, reversed_roles):
                return CheckResult(exercise, False, f"{where}: the roles are reversed: the box comes from x_b and "
                                                    "goes into x_a")
            if torch.equal(mixed, inclusive):
                return CheckResult(exercise, False, f"{where}: the ends y1 and x1 are exclusive, as in a slice")
            if height != width or y0 != x0 or y1 != x1:
                transposed = a_before.clone()
                rows, cols = slice(x0, x1), slice(y0, y1)  # the row and column ranges exchanged
                transposed[:, :, rows, cols] = b_before[:, :, rows, cols]
                if torch.equal(mixed, transposed):
                    return CheckResult(exercise, False, f"{where}: rows and columns are exchanged: y indexes "
                                                        "dimension 2 (height), x dimension 3 (width)")
            return CheckResult(exercise, False, f"{where}: the mixed images differ from the reference")
        try:
            lam = float(lam)
        except (TypeError, ValueError):
            return CheckResult(exercise, False, f"{where}: lam should be a number, got {type(lam).__name__}")
        if math.isclose(lam, 1 - area, rel_tol=1e-9, abs_tol=1e-12):
            continue
        if math.isclose(lam, area, rel_tol=1e-9, abs_tol=1e-12):
            return CheckResult(exercise, False, f"{where}: that lam is the share of x_b; lam weighs x_a, the pixels "
                                                "outside the box")
        return CheckResult(exercise, False, f"{where}: lam is not the share of pixels that come from x_a")
    return CheckResult(exercise, True, f"pass ({len(cases)} hidden cases)")


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
        want = lam * ce_a + (1 - lam) * ce_b  # = CE with the soft target lam y_a + (1 - lam) y_b
        wrong = {
            "the weights are swapped: lam belongs to labels_a": (1 - lam) * ce_a + lam * ce_b,
            "reduce with the mean over the batch, not the sum": want * batch,
            "both labels count: weigh the loss of labels_b by (1 - lam)": ce_a,
        }
        if lam == 1.0:
            wrong = {"reduce with the mean over the batch, not the sum": want * batch}
        cases.append(((logits, labels_a, labels_b, lam), want, wrong))
    return _run("mixed_loss", learner, cases)


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
        }
        if lam == 1.0:
            wrong.pop("the weights are swapped: lam belongs to labels_a")
        cases.append(((labels_a, labels_b, lam, classes, epsilon), want, wrong))
    return _run("smoothed_mixed_targets", learner, cases)

