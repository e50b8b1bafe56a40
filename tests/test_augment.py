"""mlbits_lite.augment: Cutout, Mixup, CutMix and their boxes, lambdas and soft targets."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbits_lite import augment


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batch(n=6, c=3, h=8, w=8, seed=0):
    g = gen(seed)
    return torch.rand(n, c, h, w, generator=g), torch.randint(0, 5, (n,), generator=g)


def reference_box(height, width, lam, cy, cx):
    """The CutMix paper's code (clovaai/CutMix-PyTorch), with H and W named for an NCHW batch."""
    cut_rat = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * cut_rat), int(width * cut_rat)
    y0, y1 = np.clip(cy - cut_h // 2, 0, height), np.clip(cy + cut_h // 2, 0, height)
    x0, x1 = np.clip(cx - cut_w // 2, 0, width), np.clip(cx + cut_w // 2, 0, width)
    return int(y0), int(y1), int(x0), int(x1)


# ------------------------------------------------------------------------------------------------ sample_lam
def test_sample_lam_is_reproducible_and_in_range():
    a = [augment.sample_lam(0.4, gen(3)) for _ in range(2)]
    assert a[0] == a[1] and 0.0 <= a[0] <= 1.0
    torch.manual_seed(5)
    first = augment.sample_lam(1.0)
    torch.manual_seed(5)
    assert augment.sample_lam(1.0) == first  # the global generator seeds it too


@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
def test_sample_lam_has_beta_moments(alpha):
    g = gen(1)
    samples = np.array([augment.sample_lam(alpha, g) for _ in range(4000)])
    variance = 1 / (4 * (2 * alpha + 1))  # Var Beta(a, a) = a^2 / ((2a)^2 (2a + 1))
    assert abs(samples.mean() - 0.5) < 4 * math.sqrt(variance / 4000)
    assert samples.var() == pytest.approx(variance, rel=0.1)


# ------------------------------------------------------------------------------------------------ rand_bbox
@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), lam=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_rand_bbox_matches_the_reference_and_stays_inside(h, w, lam, seed):
    y0, y1, x0, x1 = augment.rand_bbox(h, w, lam, gen(seed))
    g = gen(seed)  # the same centre draws: row first, then column
    cy, cx = int(torch.randint(0, h, (1,), generator=g)), int(torch.randint(0, w, (1,), generator=g))
    assert (y0, y1, x0, x1) == reference_box(h, w, lam, cy, cx)
    assert 0 <= y0 <= y1 <= h and 0 <= x0 <= x1 <= w
    assert all(type(v) is int for v in (y0, y1, x0, x1))
    # clipping and rounding only shrink the box: corrected lam >= sampled lam
    assert augment.box_lam(h, w, (y0, y1, x0, x1)) >= lam - 1e-12


def test_rand_bbox_area_is_one_minus_lam_away_from_the_border():
    # sides of 16 rows and 24 columns for lam = 0.75 on 32 x 48; centre in the middle: no clipping
    for seed in range(50):
        y0, y1, x0, x1 = augment.rand_bbox(32, 48, 0.75, gen(seed))
        if 8 <= (y0 + y1) / 2 <= 24 and 12 <= (x0 + x1) / 2 <= 36 and y0 > 0 and x0 > 0 and y1 < 32 and x1 < 48:
            assert (y1 - y0, x1 - x0) == (16, 24)


def test_rand_bbox_heights_follow_height_on_non_square_images():
    # a wide image (8 rows, 64 columns): boxes never reach beyond row 8, and their widths exceed their heights
    boxes = [augment.rand_bbox(8, 64, 0.1, gen(s)) for s in range(100)]
    assert max(y1 for _, y1, _, _ in boxes) <= 8
    assert max(x1 - x0 for _, _, x0, x1 in boxes) > 8


def test_rand_bbox_extremes():
    y0, y1, x0, x1 = augment.rand_bbox(10, 12, 1.0, gen(0))
    assert y1 - y0 == 0 and x1 - x0 == 0  # lam = 1: an empty box
    y0, y1, x0, x1 = augment.rand_bbox(10, 12, 0.0, gen(0))
    assert (y1 - y0) >= 5 and (x1 - x0) >= 6  # a full-size box, at least half of it inside


# ------------------------------------------------------------------------------------------------ box_lam
def test_box_lam():
    assert augment.box_lam(4, 5, (0, 2, 0, 5)) == 0.5
    assert augment.box_lam(4, 5, (1, 1, 0, 5)) == 1.0
    assert augment.box_lam(4, 5, (0, 4, 0, 5)) == 0.0


# ------------------------------------------------------------------------------------------------ cutmix
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 6), h=st.integers(1, 12), w=st.integers(1, 12), alpha=st.floats(0.1, 5.0),
       seed=st.integers(0, 2**16))
def test_cutmix_pixel_fraction_from_the_partner_is_one_minus_lam(n, h, w, alpha, seed):
    images = torch.arange(n, dtype=torch.float64)[:, None, None, None].expand(n, 2, h, w)  # image i is all i
    labels = torch.arange(n)
    mixed, labels_a, labels_b, lam = augment.cutmix(images, labels, alpha, gen(seed))
    assert mixed.shape == images.shape and mixed.dtype == images.dtype
    assert torch.equal(labels_a, labels) and sorted(labels_b.tolist()) == list(range(n))  # a permutation
    from_partner = (mixed == labels_b[:, None, None, None].double()).double().mean(dim=(1, 2, 3))  # (n,)
    from_self = (mixed == labels_a[:, None, None, None].double()).double().mean(dim=(1, 2, 3))
    paired_with_other = labels_a != labels_b
    exact = dict(rtol=0, atol=1e-12)  # equal up to float rounding of 1 - (1 - area / HW)
    ones = torch.ones(int(paired_with_other.sum()), dtype=torch.float64)
    torch.testing.assert_close(from_partner[paired_with_other], (1 - lam) * ones, **exact)
    torch.testing.assert_close(from_self[paired_with_other], lam * ones, **exact)


def test_cutmix_box_is_the_same_for_every_image_and_channel():
    images, labels = batch(n=5, h=9, w=13)
    mixed, _, labels_b, lam = augment.cutmix(images, labels, 1.0, gen(4))
    changed = (mixed != images).any(dim=1)  # (B, H, W)
    boxes = {tuple(m.nonzero().min(0).values.tolist() + m.nonzero().max(0).values.tolist())
             for m in changed if m.any()}
    assert len(boxes) <= 1


def test_cutmix_equals_the_mask_formula():
    images, labels = batch(n=4, h=10, w=14)
    g = gen(7)
    mixed, _, _, lam = augment.cutmix(images, labels, 1.0, g)
    g = gen(7)  # replay the draws: lam, partners, box
    lam_sampled = augment.sample_lam(1.0, g)
    perm = torch.randperm(4, generator=g)
    y0, y1, x0, x1 = augment.rand_bbox(10, 14, lam_sampled, g)
    mask = torch.ones(10, 14)
    mask[y0:y1, x0:x1] = 0  # M = 1 where pixels come from x_a
    torch.testing.assert_close(mixed, mask * images + (1 - mask) * images[perm])  # M x_a + (1 - M) x_b
    assert lam == pytest.approx(mask.mean().item()) and lam >= lam_sampled


def test_cutmix_is_deterministic_per_generator_and_leaves_input_alone():
    images, labels = batch()
    before = images.clone()
    first = augment.cutmix(images, labels, 1.0, gen(11))
    second = augment.cutmix(images, labels, 1.0, gen(11))
    assert torch.equal(first[0], second[0]) and torch.equal(first[2], second[2]) and first[3] == second[3]
    assert torch.equal(images, before)
    other = augment.cutmix(images, labels, 1.0, gen(12))
    assert not (torch.equal(first[0], other[0]) and first[3] == other[3])


def test_cutmix_with_lam_one_leaves_images_unchanged(monkeypatch):
    images, labels = batch()
    monkeypatch.setattr(augment, "sample_lam", lambda alpha, generator: 1.0)
    mixed, _, _, lam = augment.cutmix(images, labels, 1.0, gen(0))
    assert torch.equal(mixed, images) and lam == 1.0


def test_cutmix_soft_labels_and_integer_images():
    images = torch.randint(0, 256, (4, 3, 6, 6), dtype=torch.uint8)
    soft = torch.softmax(torch.randn(4, 3), dim=1)
    mixed, soft_a, soft_b, _ = augment.cutmix(images, soft, 1.0, gen(0))
    assert mixed.dtype == torch.uint8 and soft_b.shape == (4, 3)


def test_expected_corrected_lam_at_32_by_32():
    # references: E[lam corrected] ~ 0.70 against E[lam] = 0.50 at 32 x 32 with alpha = 1
    g = gen(0)
    corrected = [augment.box_lam(32, 32, augment.rand_bbox(32, 32, augment.sample_lam(1.0, g), g))
                 for _ in range(3000)]
    assert np.mean(corrected) == pytest.approx(0.70, abs=0.015)


# ------------------------------------------------------------------------------------------------ mixup
def test_mixup_is_a_convex_combination_with_a_permutation():
    images, labels = batch(n=5)
    mixed, labels_a, labels_b, lam = augment.mixup(images, labels, 0.4, gen(2))
    g = gen(2)
    assert lam == augment.sample_lam(0.4, g)
    perm = torch.randperm(5, generator=g)
    torch.testing.assert_close(mixed, lam * images + (1 - lam) * images[perm])
    assert torch.equal(labels_b, labels[perm]) and torch.equal(labels_a, labels)


def test_mixup_is_deterministic_per_generator():
    images, labels = batch()
    first, second = augment.mixup(images, labels, 1.0, gen(9)), augment.mixup(images, labels, 1.0, gen(9))
    assert torch.equal(first[0], second[0]) and first[3] == second[3]


# ------------------------------------------------------------------------------------------------ cutout
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), h=st.integers(1, 20), w=st.integers(1, 20), size=st.integers(1, 24),
       seed=st.integers(0, 2**16))
def test_cutout_erases_one_clipped_square_per_image(n, h, w, size, seed):
    images = torch.rand(n, 2, h, w, generator=gen(seed)) + 0.5  # no zeros before erasing
    out = augment.cutout(images, size, gen(seed + 1))
    g = gen(seed + 1)
    cy, cx = torch.randint(0, h, (n, 1), generator=g), torch.randint(0, w, (n, 1), generator=g)
    for i in range(n):
        y0, x0 = int(cy[i]) - size // 2, int(cx[i]) - size // 2
        expected = images[i].clone()
        expected[:, max(y0, 0):max(y0 + size, 0), max(x0, 0):max(x0 + size, 0)] = 0
        assert torch.equal(out[i], expected)
        assert (out[i, 0] == 0).sum() <= size * size
    assert (out[:, 0] == 0).any(dim=(1, 2)).all()  # the centre pixel is always erased


def test_cutout_keeps_dtype_and_input():
    images = torch.full((2, 3, 8, 8), 7, dtype=torch.uint8)
    out = augment.cutout(images, 4, gen(0))
    assert out.dtype == torch.uint8 and (images == 7).all()
    erased = out == 0  # (2, 3, 8, 8)
    assert torch.equal(erased, erased[:, :1].expand_as(erased))  # the same square in every channel
    assert ((erased[:, 0].sum(dim=(1, 2)) >= 4) & (erased[:, 0].sum(dim=(1, 2)) <= 16)).all()


# ------------------------------------------------------------------------------------------------ mixed targets
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mixed_loss_equals_cross_entropy_with_mixed_targets(dtype):
    logits = torch.randn(6, 5, dtype=dtype, generator=gen(0), requires_grad=True)
    labels_a, labels_b = torch.randint(0, 5, (6,), generator=gen(1)), torch.randint(0, 5, (6,), generator=gen(2))
    lam = 0.3
    mixed_loss = lam * F.cross_entropy(logits, labels_a) + (1 - lam) * F.cross_entropy(logits, labels_b)
    targets = augment.mixed_targets(labels_a, labels_b, lam, 5).to(dtype)
    soft_loss = F.cross_entropy(logits, targets)
    torch.testing.assert_close(mixed_loss, soft_loss)
    g1, = torch.autograd.grad(mixed_loss, logits)
    g2, = torch.autograd.grad(soft_loss, logits)
    torch.testing.assert_close(g1, g2)
    torch.testing.assert_close(targets.sum(1), torch.ones(6, dtype=dtype))


# ------------------------------------------------------------------------------------------------ device
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_on_the_gpu():
    images, labels = batch()
    images, labels = images.cuda(), labels.cuda()
    for fn in (augment.cutmix, augment.mixup):
        mixed, _, labels_b, _ = fn(images, labels, 1.0, gen(0))
        assert mixed.device == images.device and labels_b.device == labels.device
    assert augment.cutout(images, 4, gen(0)).device == images.device


# ------------------------------------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("call, error, match", [
    (lambda: augment.cutmix(torch.rand(2, 3, 4, 4), torch.tensor([0, 1]), alpha=0.0), ValueError, "alpha"),
    (lambda: augment.mixup(torch.rand(2, 3, 4, 4), torch.tensor([0, 1]), alpha=-1.0), ValueError, "alpha"),
    (lambda: augment.cutmix(torch.rand(3, 4, 4), torch.tensor([0, 1, 2])), ValueError, "images must be 4-D"),
    (lambda: augment.cutmix([[0.0]], torch.tensor([0])), TypeError, "images must be a torch.Tensor"),
    (lambda: augment.cutmix(torch.rand(2, 3, 4, 4), torch.tensor([0, 1, 2])), ValueError, "labels must have one"),
    (lambda: augment.mixup(torch.rand(2, 3, 4, 4), torch.tensor(1)), ValueError, "labels"),
    (lambda: augment.mixup(torch.ones(2, 3, 4, 4, dtype=torch.uint8), torch.tensor([0, 1])), TypeError, "images"),
    (lambda: augment.cutmix(torch.rand(2, 3, 4, 4), torch.tensor([0, 1]), generator=0), TypeError, "generator"),
    (lambda: augment.cutout(torch.rand(2, 3, 4, 4), 0), ValueError, "size"),
    (lambda: augment.cutout(torch.rand(3, 4, 4), 2), ValueError, "images"),
    (lambda: augment.rand_bbox(0, 4, 0.5), ValueError, "height"),
    (lambda: augment.rand_bbox(4, 2.0, 0.5), TypeError, "width"),
    (lambda: augment.rand_bbox(4, 4, 1.5), ValueError, "lam"),
    (lambda: augment.box_lam(4, 4, (0, 5, 0, 1)), ValueError, "box"),
    (lambda: augment.box_lam(4, 4, (0, 1)), TypeError, "box"),
    (lambda: augment.sample_lam(float("nan")), ValueError, "alpha"),
    (lambda: augment.mixed_targets(torch.tensor([0.0]), torch.tensor([1]), 0.5, 3), TypeError, "labels_a"),
    (lambda: augment.mixed_targets(torch.tensor([0]), torch.tensor([1, 2]), 0.5, 3), ValueError, "labels_b"),
    (lambda: augment.mixed_targets(torch.tensor([0]), torch.tensor([1]), 2.0, 3), ValueError, "lam"),
    (lambda: augment.mixed_targets(torch.tensor([0]), torch.tensor([1]), 0.5, 0), ValueError, "num_classes"),
])
def test_bad_inputs_raise_naming_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
