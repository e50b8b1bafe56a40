"""Self-checks for chapter 7: CutMix, derived from Cutout and Mixup.

The first two exercises ask for a random design, so their checks call the learner's function many times on hidden
generators and test the properties the design must have (a permutation without fixed points; a box that covers
every pixel equally often), each with a fixed, generous statistical margin. The third is a metric, checked value by
value.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ..explain import box_iou as _box_iou
from ..explain import cam_to_box as _cam_to_box
from ._framework import FORMAT, GENERIC, NUMBER, SPECIFIC, Case, CheckResult, Ints, _hidden_generator, run

__all__ = ["partners_without_self", "uniform_cover_box", "max_box_accuracy"]

SAME_STATE = "use the generator you are given: the same generator state must give the same answer"


def _generator_like(generator: torch.Generator) -> torch.Generator:
    copy = torch.Generator()
    copy.set_state(generator.get_state())
    return copy


# ------------------------------------------------------------------------------------------------ partners
PARTNER_DRAWS = 400
NOT_PERMUTATION = "not a permutation: every image must be the partner of exactly one image (each index once)"
FIXED_POINT = ("some images are paired with themselves (perm[i] == i): a random permutation leaves one per batch "
               "on average")
ALWAYS_SAME = "the pairing is the same every time: draw it at random from the generator"
UNEVEN = "some partners come up more often than others: every other image should be equally likely as partner"
BATCH_OF_ONE = "a batch of one has no partner: raise a ValueError that says so"


def _draw_partners(learner: Callable, args: tuple) -> dict | str:
    """Call the learner PARTNER_DRAWS times on one generator, then once more from the first state (for B >= 2);
    for B = 1, whether it raises ValueError."""
    batch_size, generator = args
    if batch_size == 1:
        try:
            learner(batch_size, generator)
        except NotImplementedError:
            raise
        except ValueError:
            return {"raised": True}
        except Exception as exc:  # noqa: BLE001  any other error is the learner's, and says nothing clear
            return {"raised": False, "other": f"{type(exc).__name__}: {exc}"}
        return {"raised": False}
    start = _generator_like(generator)
    draws = [learner(batch_size, generator) for _ in range(PARTNER_DRAWS)]
    return {"draws": draws, "again": learner(batch_size, start)}


def _read_partners(value: object, batch_size: int) -> torch.Tensor | str:
    if not isinstance(value, torch.Tensor):
        return f"your function returned a {type(value).__name__}; return a torch.Tensor of indices"
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        return f"your result has dtype {value.dtype}; return an integer tensor of indices (int64)"
    if value.shape != (batch_size,):
        return f"your result has shape {tuple(value.shape)}; return one partner per image, shape ({batch_size},)"
    return value.detach().cpu().long()


def _diagnose_partners(got: dict, case: Case, results: Sequence) -> tuple[int, str] | None:
    batch_size = case.args[0]
    if batch_size == 1:
        if got["raised"]:
            return None
        if "other" in got:
            return FORMAT, f"{BATCH_OF_ONE} (your function raised {got['other']})"
        return SPECIFIC, BATCH_OF_ONE
    draws = []
    for value in got["draws"] + [got["again"]]:
        perm = _read_partners(value, batch_size)
        if isinstance(perm, str):
            return FORMAT, perm
        draws.append(perm)
    again, draws = draws[-1], torch.stack(draws[:-1])  # (R, B)
    if not (draws.sort(dim=1).values == torch.arange(batch_size)).all():
        return SPECIFIC, NOT_PERMUTATION
    if (draws == torch.arange(batch_size)).any():
        return SPECIFIC, FIXED_POINT
    if batch_size > 2 and (draws == draws[0]).all():  # two images have one pairing only: swap them
        return SPECIFIC, ALWAYS_SAME
    if not torch.equal(again, draws[0]):
        return SPECIFIC, SAME_STATE
    # each of the B - 1 others equally likely as partner of image i: a chi-square over the off-diagonal counts
    counts = torch.zeros(batch_size, batch_size)
    counts.index_put_((torch.arange(batch_size).repeat(len(draws)), draws.flatten()), torch.ones(draws.numel()),
                      accumulate=True)  # counts[i, j]: how often j was the partner of i
    off = ~torch.eye(batch_size, dtype=torch.bool)
    expected = len(draws) / (batch_size - 1)
    chi2 = float(((counts[off] - expected) ** 2 / expected).sum())
    dof = batch_size * (batch_size - 2)  # B rows of B - 1 cells, each row summing to R
    if chi2 > dof + 6 * math.sqrt(2 * dof) + 10:  # far out in the tail for any right answer
        return SPECIFIC, UNEVEN
    return None


def partners_without_self(learner: Callable[[int, torch.Generator], torch.Tensor]) -> CheckResult:
    """Exercise: a random pairing of a batch in which no image is its own partner.

    Args:
        learner: `f(batch_size, generator)` returning an int64 tensor `perm` of shape (batch_size,): image i is
            mixed with image perm[i]. perm must be a permutation with perm[i] != i for every i, drawn from
            `generator`, with every other image equally likely as the partner of image i; a batch of one raises
            ValueError.
    """
    g = _hidden_generator("partners_without_self")
    cases = [Case((batch_size, torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,), generator=g)))),
                  None, call=_draw_partners) for batch_size in (2, 5, 3, 8, 16, 1)]
    return run("partners_without_self", learner, cases, answer=_diagnose_partners,
               call="f(batch_size, generator)")


# ------------------------------------------------------------------------------------------------ the box
BOX_DRAWS = 3000
BOX_NAMES = ("y0", "y1", "x0", "x1")
OUTSIDE = "the box reaches outside the image or has y1 < y0 or x1 < x0: clip its edges to [0, H] and [0, W]"
SIDES = ("before clipping the box has h = int(H sqrt(1 - lam)) rows and w = int(W sqrt(1 - lam)) columns: "
         "its area is (1 - lam) of the image")
SWAPPED = "rows go with the height and columns with the width: h = int(height sqrt(1 - lam)) rows"
HALF_SIDES = "the unclipped box must have exactly h rows and w columns: edges at c ± h // 2 lose a row when h is odd"
INSIDE_ONLY = ("your box always stays inside the image, so pixels near the border are covered less often: let it "
               "hang over the border, then clip it")
BORDER = ("pixels near the border are covered less often than central ones: the box must be able to hang over "
          "every edge of the image (then clip it)")
UNEVEN_COVER = "some pixels are covered more often than others: every pixel should be equally likely to be in the box"


def _draw_boxes(learner: Callable, args: tuple) -> dict:
    height, width, lam, generator = args
    start = _generator_like(generator)
    draws = [learner(height, width, lam, generator) for _ in range(BOX_DRAWS)]
    return {"draws": draws, "again": learner(height, width, lam, start)}


def _diagnose_box(got: dict, case: Case, results: Sequence) -> tuple[int, str] | None:
    height, width, lam = case.args[:3]
    reader = Ints(BOX_NAMES)
    boxes = []
    for value in got["draws"] + [got["again"]]:
        box = reader.read(value)
        if isinstance(box, str):
            return FORMAT, box
        boxes.append(box)
    again, boxes = boxes[-1], torch.tensor(boxes[:-1])  # (R, 4) as (y0, y1, x0, x1)
    y0, y1, x0, x1 = boxes.unbind(1)
    if not ((0 <= y0) & (y0 <= y1) & (y1 <= height) & (0 <= x0) & (x0 <= x1) & (x1 <= width)).all():
        return SPECIFIC, OUTSIDE
    h, w = int(height * math.sqrt(1 - lam)), int(width * math.sqrt(1 - lam))
    rows, cols = y1 - y0, x1 - x0
    free_rows, free_cols = (y0 > 0) & (y1 < height), (x0 > 0) & (x1 < width)  # edges not clipped
    never_whole = (h <= height - 2 and not free_rows.any()) or (w <= width - 2 and not free_cols.any())
    if never_whole or (rows > h).any() or (cols > w).any() or (rows[free_rows] != h).any() or \
            (cols[free_cols] != w).any():
        seen = bool(free_rows.any() or free_cols.any())
        if seen and h != w and (rows[free_rows] == w).all() and (cols[free_cols] == h).all() and \
                rows.max() <= w and cols.max() <= h:
            return SPECIFIC, SWAPPED
        if free_rows.any() and free_cols.any() and ((h % 2 == 1 and (rows[free_rows] == h - 1).all()) or
                                                    (w % 2 == 1 and (cols[free_cols] == w - 1).all())):
            return SPECIFIC, HALF_SIDES
        return SPECIFIC, SIDES
    if again != tuple(boxes[0].tolist()):
        return SPECIFIC, SAME_STATE
    inside = torch.zeros(len(boxes), height, width)
    for i, (a, b, c, d) in enumerate(boxes.tolist()):
        inside[i, a:b, c:d] = 1
    cover = inside.mean(0)  # (H, W): how often each pixel was in the box
    level = float(cover.mean())
    spread = math.sqrt(max(level * (1 - level), 1e-12) / len(boxes))
    if float((cover - level).abs().max()) <= 5 * spread + 0.01:
        return None
    clipped = (rows < h) | (cols < w)
    ring = torch.ones(height, width, dtype=torch.bool)
    ring[1:-1, 1:-1] = False  # the outermost pixels
    if not clipped.any():
        return SPECIFIC, INSIDE_ONLY
    if float(cover[ring].mean()) < float(cover[~ring].mean()) - 5 * spread:
        return SPECIFIC, BORDER
    return GENERIC, UNEVEN_COVER


def uniform_cover_box(learner: Callable[[int, int, float, torch.Generator], tuple]) -> CheckResult:
    """Exercise: a CutMix box placed so that every pixel is equally likely to be pasted over.

    Args:
        learner: `f(height, width, lam, generator)` returning `(y0, y1, x0, x1)` (ints, ends exclusive): a box of
            h = int(height sqrt(1 - lam)) rows and w = int(width sqrt(1 - lam)) columns before clipping, placed at
            random (from `generator`) so that every pixel of the image is inside it with the same probability, then
            clipped to the image.
    """
    g = _hidden_generator("uniform_cover_box")
    sizes = ((12, 20, 0.6), (20, 12, 0.3), (9, 15, 0.05), (16, 16, 0.75), (15, 11, 0.5))  # non-square first
    cases = [Case((height, width, lam, torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,), generator=g)))),
                  None, call=_draw_boxes) for height, width, lam in sizes]
    return run("uniform_cover_box", learner, cases, answer=_diagnose_box, call="f(height, width, lam, generator)")


# ------------------------------------------------------------------------------------------------ MaxBoxAcc
IOU_LEVELS = (0.3, 0.5, 0.7)


def _normalised(cams: torch.Tensor) -> torch.Tensor:
    low = cams.amin(dim=(1, 2), keepdim=True)
    high = cams.amax(dim=(1, 2), keepdim=True)
    return (cams - low) / (high - low)  # each map to [0, 1]


def _box_accuracy(maps: torch.Tensor, boxes: torch.Tensor, thresholds: Sequence[float], *, relative: bool = True,
                  strict: bool = False) -> torch.Tensor:
    """(T, len(IOU_LEVELS)) share of maps whose box at threshold t has IoU >= delta (> delta when strict)."""
    rows = []
    for t in thresholds:
        iou = _box_iou(_cam_to_box(maps, float(t)), boxes)  # (N,)
        hit = [(iou > d) if strict else (iou >= d) for d in IOU_LEVELS]
        rows.append(torch.stack(hit).double().mean(dim=1))
    return torch.stack(rows)


def _max_box_accuracy(cams: torch.Tensor, boxes: torch.Tensor, thresholds: Sequence[float]) -> float:
    accuracy = _box_accuracy(_normalised(cams), boxes, thresholds)  # (T, 3)
    return float(accuracy.max(dim=0).values.mean())  # best threshold per IoU level, then the mean over levels


def _blob(size: int, centre: tuple[float, float], spread: tuple[float, float]) -> torch.Tensor:
    ys = torch.arange(size, dtype=torch.float64)[:, None]
    xs = torch.arange(size, dtype=torch.float64)[None, :]
    return torch.exp(-((xs - centre[0]) / spread[0]) ** 2 / 2 - ((ys - centre[1]) / spread[1]) ** 2 / 2)


def max_box_accuracy(learner: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], float]) -> CheckResult:
    """Exercise: MaxBoxAcc over three IoU levels: the best threshold for each level, then their mean.

    Args:
        learner: `f(cams, boxes, thresholds)` for maps (N, H, W), true boxes (N, 4) as (x0, y0, x1, y1) with
            exclusive ends, and a 1-D tensor of thresholds in [0, 1]; returns a number in [0, 1]: each map
            min-max normalised to [0, 1], its box at threshold t the box of the largest 8-connected region of
            pixels >= t (`cam_to_box`), and for each IoU level delta in (0.3, 0.5, 0.7) the best share of maps with
            IoU >= delta over the thresholds; the result is the mean of those three shares.
    """
    g = _hidden_generator("max_box_accuracy")
    cases = []
    for n, size, count in ((12, 20, 9), (9, 16, 6), (15, 24, 11)):
        cams, boxes = [], []
        for _ in range(n):
            cx, cy = (float(v) for v in 4 + (size - 8) * torch.rand(2, generator=g, dtype=torch.float64))
            sx, sy = (float(v) for v in 1.5 + 3 * torch.rand(2, generator=g, dtype=torch.float64))
            other = tuple(float(v) for v in size * torch.rand(2, generator=g, dtype=torch.float64))
            cam = _blob(size, (cx, cy), (sx, sy)) + 0.6 * _blob(size, other, (2.0, 2.0))  # the object and a decoy
            cam = cam + 0.3 * torch.rand(size, size, generator=g, dtype=torch.float64) - 0.5  # noise; minimum < 0
            scale, offset = (float(v) for v in torch.rand(2, generator=g, dtype=torch.float64))
            cam = (0.2 + 3 * scale) * cam - offset  # maps on different scales
            x0, y0 = int(cx - 1.5 * sx), int(cy - 1.5 * sy)
            jitter = torch.randint(-2, 3, (2,), generator=g).tolist()
            box = [max(x0 + jitter[0], 0), max(y0 + jitter[1], 0), min(int(cx + 1.5 * sx) + 1, size),
                   min(int(cy + 1.5 * sy) + 1, size)]
            cams.append(cam)
            boxes.append(box)
        cams, boxes = torch.stack(cams), torch.tensor(boxes)
        thresholds = torch.linspace(0.05, 0.95, count, dtype=torch.float64)
        accuracy = _box_accuracy(_normalised(cams), boxes, thresholds)  # (T, 3)
        raw = _box_accuracy(cams, boxes, thresholds)
        wrong = {
            "normalise each map to [0, 1] with its own minimum and maximum before thresholding":
                float(raw.max(dim=0).values.mean()),
            "choose the best threshold for each IoU level separately, then average the three":
                float(accuracy.mean(dim=1).max()),
            "average over the three IoU levels 0.3, 0.5 and 0.7, not only 0.5": float(accuracy[:, 1].max()),
            "take the best threshold (the maximum over thresholds), not the average over them":
                float(accuracy.mean(dim=0).mean()),
            "a box counts when its IoU is at least delta (>=), not strictly above it":
                float(_box_accuracy(_normalised(cams), boxes, thresholds, strict=True).max(dim=0).values.mean()),
            "normalise each map by its own minimum and maximum, not by those of the whole batch": float(
                _box_accuracy((cams - cams.min()) / (cams.max() - cams.min()), boxes, thresholds)
                .max(dim=0).values.mean()),
            "an accuracy is a share in [0, 1], not a percentage": 100 * float(accuracy.max(dim=0).values.mean()),
        }
        cases.append(Case((cams, boxes, thresholds), float(accuracy.max(dim=0).values.mean()), wrong))
    # flat blocks whose boxes have IoU exactly 0.3, 0.5 and 0.7 with the true boxes: >= and > part here
    found = torch.tensor([[0, 0, 3, 10], [2, 2, 6, 6], [0, 0, 7, 10], [1, 1, 9, 9]])  # (x0, y0, x1, y1)
    truth = torch.tensor([[0, 0, 10, 10], [2, 2, 6, 10], [0, 0, 10, 10], [1, 1, 9, 9]])  # IoU .3, .5, .7, 1
    cams = 0.01 * torch.rand(4, 12, 12, generator=g, dtype=torch.float64) - 0.5
    for cam, (x0, y0, x1, y1) in zip(cams, found.tolist()):
        cam[y0:y1, x0:x1] += 1
    thresholds = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
    accuracy = _box_accuracy(_normalised(cams), truth, thresholds)
    strict = _box_accuracy(_normalised(cams), truth, thresholds, strict=True)
    wrong = {"a box counts when its IoU is at least delta (>=), not strictly above it":
             float(strict.max(dim=0).values.mean()),
             "average over the three IoU levels 0.3, 0.5 and 0.7, not only 0.5": float(accuracy[:, 1].max()),
             "an accuracy is a share in [0, 1], not a percentage": 100 * float(accuracy.max(dim=0).values.mean())}
    cases.append(Case((cams, truth, thresholds), float(accuracy.max(dim=0).values.mean()), wrong))
    return run("max_box_accuracy", learner, cases, answer=NUMBER, call="f(cams, boxes, thresholds)")
