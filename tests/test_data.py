"""Offline datasets: deterministic, the documented shapes and dtypes, exact ground truth, clear errors."""
from __future__ import annotations

import random
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbits_lite import data


# ----------------------------------------------------------------------------------------------- shapes
@pytest.fixture(scope="module")
def sample() -> data.Shapes:
    return data.shapes(500, seed=3)


def test_shapes_types_and_ranges(sample):
    assert sample.images.shape == (500, 3, 32, 32) and sample.images.dtype == torch.float32
    assert sample.images.min() >= 0 and sample.images.max() <= 1
    assert sample.labels.shape == (500,) and sample.labels.dtype == torch.int64
    assert sample.boxes.shape == (500, 4) and sample.boxes.dtype == torch.int64
    assert sample.masks.shape == (500, 32, 32) and sample.masks.dtype == torch.bool
    assert sample.class_names == list(data.SHAPE_NAMES) and len(sample) == 500


def test_shapes_boxes_are_the_tight_boxes_of_the_masks(sample):
    for mask, (x0, y0, x1, y1) in zip(sample.masks, sample.boxes.tolist()):
        ys, xs = mask.nonzero(as_tuple=True)
        assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)  # x1, y1 exclusive
        assert mask[y0:y1, x0:x1].sum() == mask.sum()


def test_shapes_object_pixels_take_the_object_colour(sample):
    # inside the mask every pixel has one colour (the object's); the mask is what was painted
    for image, mask in zip(sample.images[:50], sample.masks[:50]):
        inside = image[:, mask]  # (3, pixels)
        torch.testing.assert_close(inside, inside[:, :1].expand_as(inside))


def test_shapes_are_deterministic_per_seed():
    a, b, c = data.shapes(64, seed=7), data.shapes(64, seed=7), data.shapes(64, seed=8)
    for field in ("images", "labels", "boxes", "masks"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert not torch.equal(a.images, c.images)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 60), num_classes=st.integers(2, 10))
def test_shapes_classes_are_balanced(n, num_classes):
    counts = torch.bincount(data.shapes(n, num_classes=num_classes, background="plain").labels,
                            minlength=num_classes)
    assert counts.max() - counts.min() <= 1 and counts.sum() == n and len(counts) == num_classes


@pytest.mark.parametrize("background", ["texture", "noise", "plain"])
@pytest.mark.parametrize("image_size", [16, 48])
def test_shapes_backgrounds_and_sizes(background, image_size):
    d = data.shapes(30, image_size=image_size, background=background)
    assert d.images.shape == (30, 3, image_size, image_size)
    assert d.masks.flatten(1).any(1).all(), "every image shows its object"
    if background == "plain":  # one colour outside the object
        for image, mask in zip(d.images, d.masks):
            outside = image[:, ~mask]
            torch.testing.assert_close(outside, outside[:, :1].expand_as(outside))


def _background_hue_predicts_class(d: data.Shapes) -> float:
    """Accuracy of guessing the class as the one whose hue is nearest the background's hue."""
    from matplotlib.colors import rgb_to_hsv

    colour = torch.stack([im[:, ~m].mean(1) for im, m in zip(d.images, d.masks)])  # (N, 3)
    hue = torch.tensor(rgb_to_hsv(colour.clamp(0, 1).numpy())[:, 0])
    class_hues = torch.arange(10) / 10
    gap = (hue[:, None] - class_hues[None, :]).abs()
    nearest = torch.minimum(gap, 1 - gap).argmin(1)  # hue is an angle: distance around the circle
    return (nearest == d.labels).float().mean().item()


def test_spurious_background_is_a_cue_only_when_asked():
    assert _background_hue_predicts_class(data.shapes(1000, background="plain", spurious=1.0)) > 0.9
    assert _background_hue_predicts_class(data.shapes(1000, background="plain", spurious=0.0)) < 0.3


def test_ten_thousand_shapes_in_a_few_seconds():
    start = time.perf_counter()
    data.shapes(10_000)
    assert time.perf_counter() - start < 6.0  # about 1 s on the 2-core machine; slack for a busy one


def test_shapes_default_object_radius_is_unchanged():
    # the keyword's default reproduces the images every chapter was executed with (values from before it existed)
    d = data.shapes(6, seed=0)
    assert d.labels.tolist() == [2, 5, 3, 0, 1, 4]
    assert d.boxes.tolist() == [[6, 3, 21, 18], [2, 4, 20, 22], [6, 7, 26, 27], [12, 2, 29, 20], [5, 10, 22, 27],
                                [14, 6, 31, 23]]
    assert d.masks.sum((1, 2)).tolist() == [113, 170, 200, 233, 200, 135]
    explicit = data.shapes(64, seed=5, object_radius=(0.2, 0.35))
    default = data.shapes(64, seed=5)
    for field in ("images", "labels", "boxes", "masks"):
        assert torch.equal(getattr(default, field), getattr(explicit, field))


@pytest.mark.parametrize("object_radius", [(0.12, 0.18), (0.25, 0.25), (0.4, 0.5)])
def test_shapes_object_radius_sets_the_size_of_circles(object_radius):
    size = 48
    d = data.shapes(200, image_size=size, num_classes=2, background="plain", seed=1, object_radius=object_radius)
    circles = d.masks[d.labels == 0]
    radius = (circles.sum((1, 2)).double() / torch.pi).sqrt() / size  # area = pi r^2
    low, high = object_radius
    assert radius.min() >= low - 1 / size and radius.max() <= high + 1 / size  # within a pixel of the range
    assert len(set(d.labels.tolist())) == 2 and d.masks.flatten(1).any(1).all()


def test_shapes_larger_radius_covers_more_of_the_image():
    coverage = [data.shapes(300, seed=2, object_radius=r).masks.double().mean().item()
                for r in ((0.15, 0.2), (0.2, 0.35), (0.4, 0.5))]
    assert coverage[0] < coverage[1] < coverage[2]
    assert 0.12 < coverage[1] < 0.18  # the default: about 15 % of the image


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"object_radius": 0.3}, TypeError, "object_radius must be a pair"),
        ({"object_radius": (0.1, 0.2, 0.3)}, TypeError, "object_radius must be a pair"),
        ({"object_radius": ("a", 0.3)}, TypeError, r"object_radius\[0\]"),
        ({"object_radius": (0.0, 0.3)}, ValueError, r"object_radius\[0\]"),
        ({"object_radius": (0.3, 0.2)}, ValueError, r"object_radius\[1\]"),
        ({"object_radius": (0.3, 0.6)}, ValueError, r"object_radius\[1\]"),
        ({"object_radius": (0.2, float("nan"))}, ValueError, r"object_radius\[1\]"),
        ({"object_radius": (0.1, 0.2), "image_size": 16}, ValueError, "3.2 pixels"),
    ],
)
def test_shapes_bad_object_radius(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.shapes(4, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, "n must be"),
        ({"n": 4, "image_size": 8}, "image_size"),
        ({"n": 4, "num_classes": 11}, "num_classes"),
        ({"n": 4, "num_classes": 1}, "num_classes"),
        ({"n": 4, "background": "stars"}, "background"),
        ({"n": 4, "spurious": 1.5}, "spurious"),
        ({"n": 4, "seed": -1}, "seed"),
        ({"n": 2.5}, "n must be"),
    ],
)
def test_shapes_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        data.shapes(**kwargs)


# ----------------------------------------------------------------------------------------------- split datasets
def test_digits_split():
    d = data.digits()
    assert d.x_train.shape == (1437, 64) and d.x_test.shape == (360, 64)
    assert d.y_train.dtype == torch.int64 and set(d.y_test.tolist()) == set(range(10))
    assert d.x_train.min() >= 0 and d.x_train.max() <= 1
    assert torch.equal(d.x_train, data.digits().x_train), "the split is fixed"


def test_mnist1d_is_the_published_split_and_leaves_global_rngs_alone():
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(123)
    random.seed(123)
    d = data.mnist1d()
    assert (np.random.rand(), random.random()) == (expected_np, expected_py)
    assert d.x_train.shape == (4000, 40) and d.x_test.shape == (1000, 40)
    assert d.y_train.shape == (4000,) and d.y_test.shape == (1000,)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert torch.bincount(torch.cat([d.y_train, d.y_test])).tolist() == [500] * 10
    assert torch.equal(d.x_test, data.mnist1d().x_test)


# ----------------------------------------------------------------------------------------------- airline
def test_airline_passengers_values():
    a = data.airline_passengers()
    p = a.passengers
    assert len(a.months) == 144 and p.shape == (144,) and p.dtype == torch.float32
    assert (p.sum().item(), p.min().item(), p.max().item()) == (40363, 104, 622)
    assert a.months[0] == "1949-01" and a.months[-1] == "1960-12"
    assert a.months[p.argmin()] == "1949-11" and a.months[p.argmax()] == "1960-07"


# ----------------------------------------------------------------------------------------------- sequence tasks
@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 20), seq_len=st.integers(2, 50), seed=st.integers(0, 1000))
def test_adding_problem_targets_are_the_marked_sums(n, seq_len, seed):
    x, y = data.adding_problem(n, seq_len, generator=torch.Generator().manual_seed(seed))
    assert x.shape == (n, 2, seq_len) and y.shape == (n,)
    values, markers = x[:, 0], x[:, 1]
    assert ((values >= 0) & (values <= 1)).all()
    assert (markers.sum(1) == 2).all() and set(markers.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(y, (values * markers).sum(1))


def test_adding_problem_is_deterministic_per_generator():
    a = data.adding_problem(5, 30, generator=torch.Generator().manual_seed(1))
    b = data.adding_problem(5, 30, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(u, v) for u, v in zip(a, b))


def test_copy_memory_layout():
    T, m, k = 20, 10, 8
    x, y = data.copy_memory(6, T, memory_length=m, num_symbols=k, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (6, T + 2 * m) and x.dtype == y.dtype == torch.int64
    symbols = x[:, :m]
    assert ((symbols >= 1) & (symbols <= k)).all()
    assert (x[:, m : m + T - 1] == 0).all() and (x[:, m + T - 1 :] == k + 1).all()
    assert (y[:, : m + T] == 0).all() and torch.equal(y[:, -m:], symbols)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: data.adding_problem(0, 10), "n must be"),
        (lambda: data.adding_problem(3, 1), "seq_len"),
        (lambda: data.copy_memory(3, 0), "seq_len"),
        (lambda: data.copy_memory(3, 5, memory_length=0), "memory_length"),
        (lambda: data.copy_memory(3, 5, num_symbols=-2), "num_symbols"),
    ],
)
def test_sequence_tasks_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------------------------- photos, loading
def test_photos():
    photos = data.photos()
    assert set(photos) == {"chelsea", "coffee", "astronaut"}
    for image in photos.values():
        assert image.ndim == 3 and image.shape[0] == 3 and image.dtype == torch.float32
        assert 0 <= image.min() and image.max() <= 1


def test_loader_batches_and_seeded_shuffle():
    x, y = torch.arange(10.0), torch.arange(10)
    assert [len(b[0]) for b in data.loader(x, y, batch_size=4)] == [4, 4, 2]
    first = [b[1].tolist() for b in data.loader(x, y, batch_size=10, shuffle=True, seed=5)]
    again = [b[1].tolist() for b in data.loader(x, y, batch_size=10, shuffle=True, seed=5)]
    assert first == again and first != [list(range(10))]


def test_train_val_split_is_fixed_and_disjoint():
    x, y = torch.arange(100.0), torch.arange(100)
    (x_tr, y_tr), (x_val, y_val) = data.train_val_split(x, y, val_fraction=0.2, seed=1)
    assert len(x_val) == 20 and len(x_tr) == 80 and torch.equal(x_tr.long(), y_tr)
    assert set(y_tr.tolist()).isdisjoint(y_val.tolist())
    assert torch.equal(data.train_val_split(x, y, val_fraction=0.2, seed=1)[1][0], x_val)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: data.loader(), "tensors"),
        (lambda: data.loader(torch.zeros(3), torch.zeros(4)), "first dimension"),
        (lambda: data.loader([1, 2]), r"tensors\[0\]"),
        (lambda: data.loader(torch.zeros(3), batch_size=0), "batch_size"),
        (lambda: data.train_val_split(torch.zeros(10), val_fraction=1.5), "val_fraction"),
        (lambda: data.train_val_split(torch.zeros(3), val_fraction=0.01), "val_fraction"),
    ],
)
def test_loading_bad_arguments(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ----------------------------------------------------------------------------------------------- paraphrases
def test_paraphrases_are_48_distinct_questions_in_12_topics_of_4():
    p = data.paraphrases()
    assert len(p.queries) == len(p.paraphrases) == len(p.distractors) == len(p.topics) == 48
    assert sorted({p.topics.count(t) for t in p.topics}) == [4] and len(set(p.topics)) == 12
    everything = p.queries + p.paraphrases + p.distractors
    assert len(set(everything)) == 144 and all(s.strip() == s and s for s in everything)
