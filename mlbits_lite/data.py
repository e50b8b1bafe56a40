"""Offline datasets: generated here, bundled in this package, or shipped inside a pip package. Nothing downloads.

    shapes              synthetic colour images of ten shapes, with exact boxes and masks     (generated)
    digits              8x8 handwritten digits, 1437 / 360                                    (scikit-learn)
    mnist1d             MNIST-1D, the published 4000 / 1000 split                             (mnist1d, generated)
    airline_passengers  monthly airline passengers 1949-1960, 144 values                      (bundled CSV)
    adding_problem      the adding problem of recurrent-network benchmarks                    (generated)
    copy_memory         the copy-memory task of the TCN paper                                 (generated)
    photos              three real photographs                                                (scikit-image)
    paraphrases         48 questions with a paraphrase and a distractor each, the book's own  (bundled CSV)

`loader` wraps tensors in a seeded DataLoader; `train_val_split` holds out a fixed validation set.
"""
from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from ._validate import (
    require_bool,
    require_choice,
    require_in_range,
    require_int,
    require_non_negative_int,
    require_positive_int,
    require_tensor,
)

__all__ = [
    "SHAPE_NAMES",
    "Shapes",
    "Split",
    "Airline",
    "shapes",
    "digits",
    "mnist1d",
    "airline_passengers",
    "adding_problem",
    "copy_memory",
    "photos",
    "loader",
    "train_val_split",
]

SHAPE_NAMES = ("circle", "square", "triangle", "star", "cross", "ring", "ellipse", "hexagon", "crescent", "semicircle")
# One hue per class: the object's colour is random, but a spurious background takes its class's hue.
_CLASS_HUES = torch.arange(len(SHAPE_NAMES), dtype=torch.float32) / len(SHAPE_NAMES)


# ----------------------------------------------------------------------------------------------- shapes
@dataclass
class Shapes:
    """Images with exact ground truth: the mask of each object and its tight box.

    images (N, 3, H, W) float32 in [0, 1]; labels (N,) int64; boxes (N, 4) int64 as (x0, y0, x1, y1) with x1, y1
    exclusive, so `masks[i, y0:y1, x0:x1]` holds every object pixel; masks (N, H, W) bool; class_names.
    """

    images: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor
    masks: torch.Tensor
    class_names: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def _inside(kind: str, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Which points (u, v) of the object's own frame (unit radius, centred, rotated) belong to the shape."""
    rho, phi = torch.hypot(u, v), torch.atan2(v, u)

    def polygon(sides: int) -> torch.Tensor:  # regular polygon with circumradius 1
        sector = 2 * math.pi / sides
        return rho * torch.cos(torch.remainder(phi, sector) - sector / 2) <= math.cos(math.pi / sides)

    if kind == "circle":
        return rho <= 1
    if kind == "square":
        return torch.maximum(u.abs(), v.abs()) <= 0.75
    if kind == "triangle":
        return polygon(3)
    if kind == "star":  # five points: the radius swings linearly between 1 (tips) and 0.45 (notches)
        sector = 2 * math.pi / 5
        swing = (torch.remainder(phi, sector) / (sector / 2) - 1).abs()  # 1 at a tip, 0 at a notch
        return rho <= 0.45 + 0.55 * swing
    if kind == "cross":
        return ((u.abs() <= 0.3) & (v.abs() <= 1)) | ((v.abs() <= 0.3) & (u.abs() <= 1))
    if kind == "ring":
        return (rho <= 1) & (rho >= 0.55)
    if kind == "ellipse":
        return u**2 + (v / 0.5) ** 2 <= 1
    if kind == "hexagon":
        return polygon(6)
    if kind == "crescent":
        return (rho <= 1) & (torch.hypot(u - 0.5, v) > 0.8)
    if kind == "semicircle":
        return (rho <= 1) & (v >= 0)
    raise ValueError(f"unknown shape {kind!r}")


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """HSV in [0, 1] to RGB in [0, 1]; inputs of shape (N,), output (N, 3)."""
    k = (torch.tensor([5.0, 3.0, 1.0]) + h[:, None] * 6) % 6  # (N, 3)
    return v[:, None] - v[:, None] * s[:, None] * (torch.minimum(k, 4 - k).clamp(0, 1))


def _backgrounds(n: int, size: int, hues: torch.Tensor, kind: str, g: torch.Generator) -> torch.Tensor:
    """Backgrounds of the given hues: plain, noisy, or textured (soft blobs and stripes); (n, 3, size, size)."""
    base = _hsv_to_rgb(hues, 0.25 + 0.35 * torch.rand(n, generator=g), 0.35 + 0.45 * torch.rand(n, generator=g))
    bg = base[:, :, None, None].expand(n, 3, size, size).clone()
    if kind == "plain":
        return bg
    if kind == "texture":
        blobs = torch.rand(n, 1, 4, 4, generator=g) - 0.5  # low-frequency light and shade
        bg = bg * (1 + 0.6 * torch.nn.functional.interpolate(blobs, size=size, mode="bilinear", align_corners=False))
        coords = torch.arange(size, dtype=torch.float32)
        angle = torch.rand(n, generator=g) * math.pi
        period = 4 + 6 * torch.rand(n, generator=g)
        along = coords[None, None, :] * torch.cos(angle)[:, None, None] + coords[None, :, None] * torch.sin(angle)[:, None, None]
        bg = bg * (1 + 0.15 * torch.sin(2 * math.pi * along / period[:, None, None]))[:, None]  # stripes
    return bg + 0.08 * torch.randn(bg.shape, generator=g)  # "noise" and "texture" both get pixel noise


def _require_radius_range(object_radius: object, image_size: int) -> tuple[float, float]:
    """``object_radius`` as floats (low, high) with 0 < low <= high <= 0.5 and a radius of at least 3.2 pixels."""
    if not isinstance(object_radius, (tuple, list)) or len(object_radius) != 2:
        raise TypeError(f"object_radius must be a pair (low, high) of shares of the side, got {object_radius!r}")
    low = require_in_range("object_radius[0]", object_radius[0], 0.0, 0.5, low_inclusive=False)
    high = require_in_range("object_radius[1]", object_radius[1], low, 0.5)
    if low * image_size < 3.2:  # a smaller radius can leave a shape with no pixel at all
        raise ValueError(f"object_radius[0] * image_size must be >= 3.2 pixels, got {low} * {image_size}")
    return low, high


def shapes(
    n: int,
    image_size: int = 32,
    num_classes: int = 10,
    background: str = "texture",
    spurious: float = 0.0,
    seed: int = 0,
    object_radius: tuple[float, float] = (0.2, 0.35),
) -> Shapes:
    """Synthetic colour images of simple shapes, with exact masks and boxes.

    Each image holds one object of random colour, size, position and rotation on a plain, noisy or textured
    background. Classes are balanced (n // num_classes each, the first n % num_classes classes one more). Use
    different seeds for training and test sets.

    Args:
        n: number of images.
        image_size: height and width in pixels (>= 16).
        num_classes: how many of the ten shapes to use (the first `num_classes` of `SHAPE_NAMES`), 2..10.
        background: "texture", "noise" or "plain".
        spurious: probability that the background takes the hue assigned to the object's class, a shortcut a
            classifier can learn instead of the shape; 0 means backgrounds carry no information about the class.
        seed: the generator's seed; the same seed gives the same images.
        object_radius: ``(low, high)``, the range of the object's radius (the circle around it) as a share of the
            side, drawn uniformly; 0 < low <= high <= 0.5 and ``low * image_size >= 3.2`` pixels, so that every
            shape stays visible. The default (0.2, 0.35) makes the object cover about 15 % of the image; (0.4, 0.5)
            makes it fill about half.
    """
    require_positive_int("n", n)
    require_int("image_size", image_size)
    if image_size < 16:
        raise ValueError(f"image_size must be an int >= 16, got {image_size}")
    require_int("num_classes", num_classes)
    if not 2 <= num_classes <= len(SHAPE_NAMES):
        raise ValueError(f"num_classes must be an int in [2, {len(SHAPE_NAMES)}], got {num_classes}")
    require_choice("background", background, ("texture", "noise", "plain"))
    require_in_range("spurious", spurious, 0.0, 1.0)
    require_non_negative_int("seed", seed)
    low, high = _require_radius_range(object_radius, image_size)
    g = torch.Generator().manual_seed(seed)
    S = image_size

    labels = (torch.arange(n) % num_classes)[torch.randperm(n, generator=g)]  # balanced, shuffled
    radius = S * (low + (high - low) * torch.rand(n, generator=g))  # by default 20-35 % of the side
    centre = radius[:, None] + (S - 2 * radius[:, None]) * torch.rand(n, 2, generator=g)  # object stays inside
    angle = 2 * math.pi * torch.rand(n, generator=g)
    object_rgb = _hsv_to_rgb(torch.rand(n, generator=g), 0.7 + 0.3 * torch.rand(n, generator=g),
                             0.75 + 0.25 * torch.rand(n, generator=g))
    cue = torch.rand(n, generator=g) < spurious
    other_class = torch.randint(0, num_classes, (n,), generator=g)
    bg_hue = _CLASS_HUES[torch.where(cue, labels, other_class)]
    images = _backgrounds(n, S, bg_hue, background, g)

    # pixel centres in the object's frame: translate, rotate by -angle, scale by the radius
    yy, xx = torch.meshgrid(torch.arange(S) + 0.5, torch.arange(S) + 0.5, indexing="ij")
    dx, dy = xx - centre[:, 0, None, None], yy - centre[:, 1, None, None]  # (N, S, S)
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    u, v = (dx * cos + dy * sin) / radius[:, None, None], (-dx * sin + dy * cos) / radius[:, None, None]
    masks = torch.zeros(n, S, S, dtype=torch.bool)
    for c in range(num_classes):
        idx = (labels == c).nonzero().squeeze(1)
        masks[idx] = _inside(SHAPE_NAMES[c], u[idx], v[idx])
    if not masks.flatten(1).any(1).all():  # radius >= 3.2 px keeps every shape visible
        raise RuntimeError("an object has an empty mask; image_size too small")

    images = torch.where(masks[:, None], object_rgb[:, :, None, None], images).clamp(0, 1).float()
    rows, cols = masks.any(2), masks.any(1)  # (N, S): which rows / columns hold object pixels
    first = lambda has: has.float().argmax(1)  # noqa: E731  index of the first True
    last = lambda has: S - has.flip(1).float().argmax(1)  # noqa: E731  one past the last True
    boxes = torch.stack([first(cols), first(rows), last(cols), last(rows)], dim=1).long()  # (x0, y0, x1, y1)
    return Shapes(images.contiguous(), labels.long(), boxes, masks, list(SHAPE_NAMES[:num_classes]))


# ----------------------------------------------------------------------------------------------- split datasets
@dataclass
class Split:
    """A dataset with a fixed train/test split."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    class_names: list[str]


def digits() -> Split:
    """scikit-learn's bundled 8x8 handwritten digits (1797 images), split 1437 / 360 by a fixed permutation.

    x is (N, 64) float32 in [0, 1] (reshape to (N, 1, 8, 8) for a convolution); y is (N,) int64 in 0..9.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32) / 16  # pixel values 0..16
    y = torch.tensor(bunch.target, dtype=torch.int64)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    train, test = order[:1437], order[1437:]
    return Split(x[train], y[train], x[test], y[test], [str(d) for d in range(10)])


@lru_cache(maxsize=1)
def _mnist1d_arrays() -> dict:
    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset seeds NumPy's and Python's global generators; put them back as they were
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        return make_dataset(get_dataset_args())  # seed 42, 5000 samples, 80 % train: the published split
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def mnist1d() -> Split:
    """MNIST-1D (Greydanus 2020), generated locally with the package's default arguments: the published split.

    x_train (4000, 40) and x_test (1000, 40) float32, standardised as the package does; y int64 in 0..9.
    """
    d = _mnist1d_arrays()
    as_x = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    as_y = lambda a: torch.tensor(a, dtype=torch.int64)  # noqa: E731
    return Split(as_x(d["x"]), as_y(d["y"]), as_x(d["x_test"]), as_y(d["y_test"]), [str(k) for k in range(10)])


# ----------------------------------------------------------------------------------------------- time series
@dataclass
class Airline:
    """Monthly international airline passengers in thousands, January 1949 to December 1960."""

    months: list[str]
    passengers: torch.Tensor


def airline_passengers() -> Airline:
    """The 144 monthly totals 1949-1960 (Box & Jenkins; R's AirPassengers), read from the CSV in this package."""
    text = resources.files("mlbits_lite").joinpath("_files", "airline_passengers.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    return Airline([r["month"] for r in rows], torch.tensor([float(r["passengers"]) for r in rows]))


# ----------------------------------------------------------------------------------------------- sequence tasks
def adding_problem(n: int, seq_len: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The adding problem: add the two values that carry a marker.

    Args:
        n: number of sequences.
        seq_len: sequence length L (>= 2).
        generator: a torch.Generator for reproducible draws.

    Returns:
        x (n, 2, L): channel 0 uniform values in [0, 1], channel 1 zeros with exactly two ones (the markers);
        y (n,): the sum of the two marked values.
    """
    require_positive_int("n", n)
    require_int("seq_len", seq_len)
    if seq_len < 2:
        raise ValueError(f"seq_len must be an int >= 2 (two markers), got {seq_len}")
    values = torch.rand(n, seq_len, generator=generator)
    marked = torch.rand(n, seq_len, generator=generator).argsort(dim=1)[:, :2]  # two distinct positions
    markers = torch.zeros(n, seq_len).scatter_(1, marked, 1.0)
    y = (values * markers).sum(dim=1)  # y = sum of the marked values
    return torch.stack([values, markers], dim=1), y


def copy_memory(
    n: int,
    seq_len: int,
    memory_length: int = 10,
    num_symbols: int = 8,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The copy-memory task of the TCN paper: remember `memory_length` symbols across `seq_len` blanks.

    Input: symbols in 1..num_symbols, then seq_len - 1 blanks (0), then memory_length + 1 markers (num_symbols + 1);
    the marker says "recall now". Target: blanks (0) everywhere but the last memory_length steps, which repeat the
    symbols. Both have length seq_len + 2 * memory_length.

    Args:
        n: number of sequences.
        seq_len: the delay T between the symbols and the recall (>= 1).
        memory_length: how many symbols to copy.
        num_symbols: size of the alphabet (the marker is num_symbols + 1).
        generator: a torch.Generator for reproducible draws.

    Returns:
        x (n, T + 2 * memory_length) int64 and y of the same shape, int64.
    """
    require_positive_int("n", n)
    require_positive_int("seq_len", seq_len)
    require_positive_int("memory_length", memory_length)
    require_positive_int("num_symbols", num_symbols)
    symbols = torch.randint(1, num_symbols + 1, (n, memory_length), generator=generator)
    blanks = torch.zeros(n, seq_len - 1, dtype=torch.int64)
    marker = torch.full((n, memory_length + 1), num_symbols + 1, dtype=torch.int64)
    x = torch.cat([symbols, blanks, marker], dim=1)
    y = torch.cat([torch.zeros(n, memory_length + seq_len, dtype=torch.int64), symbols], dim=1)
    return x, y


# ----------------------------------------------------------------------------------------------- photographs
def photos() -> dict[str, torch.Tensor]:
    """Three photographs bundled with scikit-image: "chelsea" (a cat), "coffee", "astronaut"; each (3, H, W) in [0, 1]."""
    from skimage import data as skdata

    return {name: torch.tensor(getattr(skdata, name)()).permute(2, 0, 1).float() / 255
            for name in ("chelsea", "coffee", "astronaut")}


# ----------------------------------------------------------------------------------------------- loading
def loader(*tensors: torch.Tensor, batch_size: int = 128, shuffle: bool = False, seed: int = 0) -> DataLoader:
    """A DataLoader over tensors of equal length; shuffling, if asked for, is seeded and so reproducible.

    Args:
        tensors: one or more tensors sharing their first dimension (e.g. images and labels).
        batch_size: examples per batch.
        shuffle: draw a new order every epoch (from a generator seeded with `seed`).
        seed: the shuffling seed.
    """
    if not tensors:
        raise ValueError("tensors: pass at least one tensor")
    for i, t in enumerate(tensors):
        require_tensor(f"tensors[{i}]", t)
        if len(t) != len(tensors[0]):
            raise ValueError(f"tensors must share their first dimension: tensors[0] has {len(tensors[0])}, "
                             f"tensors[{i}] has {len(t)}")
    require_positive_int("batch_size", batch_size)
    require_non_negative_int("seed", seed)
    require_bool("shuffle", shuffle)
    dataset = TensorDataset(*tensors)
    order = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)) if shuffle else SequentialSampler(dataset)
    # one index list per batch: TensorDataset slices every tensor at once instead of stacking single examples
    batches = BatchSampler(order, batch_size=batch_size, drop_last=False)
    return DataLoader(dataset, sampler=batches, batch_size=None)


def train_val_split(
    *tensors: torch.Tensor, val_fraction: float = 0.1, seed: int = 0
) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """Hold out a fixed random fraction of the examples: returns (train tensors, validation tensors).

    Args:
        tensors: one or more tensors sharing their first dimension.
        val_fraction: fraction held out for validation, in (0, 1).
        seed: the permutation's seed.
    """
    if not tensors:
        raise ValueError("tensors: pass at least one tensor")
    for i, t in enumerate(tensors):
        require_tensor(f"tensors[{i}]", t)
        if len(t) != len(tensors[0]):
            raise ValueError(f"tensors must share their first dimension: tensors[0] has {len(tensors[0])}, "
                             f"tensors[{i}] has {len(t)}")
    require_in_range("val_fraction", val_fraction, 0.0, 1.0)
    require_non_negative_int("seed", seed)
    n = len(tensors[0])
    n_val = round(n * val_fraction)
    if not 0 < n_val < n:
        raise ValueError(f"val_fraction={val_fraction} of {n} examples leaves an empty train or validation set")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val, train = order[:n_val], order[n_val:]
    return tuple(t[train] for t in tensors), tuple(t[val] for t in tensors)


# ----------------------------------------------------------------------------------------------- paraphrases
@dataclass
class Paraphrases:
    """The book's own sentence-retrieval set: each query has one paraphrase and one same-subject distractor.

    ``paraphrases[i]`` says what ``queries[i]`` says in other words; ``distractors[i]`` is about the same subject
    (and ``topics[i]``) but asks something else. Retrieval: rank every paraphrase and distractor for each query;
    the right answer for query i is paraphrase i.
    """

    topics: list[str]
    queries: list[str]
    paraphrases: list[str]
    distractors: list[str]


def paraphrases() -> Paraphrases:
    """48 English questions, each with a paraphrase and a same-subject distractor, in 12 topics of 4 (bundled CSV).

    Written for this book (not taken from a benchmark) to compare ways of pooling a sentence encoder's tokens:
    the paraphrases reword their query with few shared words, the distractors share the subject but not the
    meaning.
    """
    text = resources.files("mlbits_lite").joinpath("_files", "paraphrases.csv").read_text(encoding="utf8")
    rows = list(csv.DictReader(text.splitlines()))
    return Paraphrases(topics=[r["topic"] for r in rows], queries=[r["query"] for r in rows],
                       paraphrases=[r["paraphrase"] for r in rows], distractors=[r["distractor"] for r in rows])


__all__ += ["Paraphrases", "paraphrases"]
