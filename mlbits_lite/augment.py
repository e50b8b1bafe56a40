"""Batch augmentations that mix or erase image regions: Cutout, Mixup and CutMix.

All three act on a batch (B, C, H, W) and draw their randomness from an optional ``torch.Generator``, so a seeded
generator gives the same batch every time:

    cutout(images, size)         erase one size x size square per image                    (DeVries & Taylor 2017)
    mixup(images, labels)        blend each image with a partner: lam x_a + (1 - lam) x_b   (Zhang et al. 2018)
    cutmix(images, labels)       paste a box of the partner into each image                 (Yun et al. 2019)

``mixup`` and ``cutmix`` return ``(mixed, labels_a, labels_b, lam)``: the partner of image i is image perm[i] of
the same batch, and the loss is ``lam * CE(logits, labels_a) + (1 - lam) * CE(logits, labels_b)``, which equals
cross-entropy with the soft targets ``mixed_targets(labels_a, labels_b, lam, num_classes)``. CutMix's ``lam`` is
the share of pixels that still come from the image itself, recomputed from the box after clipping it to the image.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ._validate import (
    require_in_range,
    require_ndim,
    require_non_negative_int,
    require_positive_int,
    require_positive_number,
    require_tensor,
)

__all__ = ["sample_lam", "rand_bbox", "box_lam", "cutmix", "mixup", "cutout", "mixed_targets"]

Box = tuple[int, int, int, int]


def _require_generator(generator: object) -> torch.Generator | None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def _randint(high: int, size: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
    """Integers uniform in [0, high), drawn on the generator's device (CPU without one)."""
    device = generator.device if generator is not None else "cpu"
    return torch.randint(0, high, size, generator=generator, device=device)


def _require_batch(images: object, labels: object) -> tuple[torch.Tensor, torch.Tensor]:
    """A 4-D batch of images and labels with one entry (or one row) per image."""
    require_tensor("images", images)
    require_ndim("images", images, 4)
    require_tensor("labels", labels)
    if labels.ndim == 0 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"labels must have one entry per image ({images.shape[0]}), got shape {tuple(labels.shape)}")
    return images, labels


def _partners(batch_size: int, device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
    """A random permutation of the batch: image i is mixed with image perm[i]."""
    generator_device = generator.device if generator is not None else "cpu"
    return torch.randperm(batch_size, generator=generator, device=generator_device).to(device)


def sample_lam(alpha: float = 1.0, generator: torch.Generator | None = None) -> float:
    """Draw the mixing ratio lam ~ Beta(alpha, alpha).

    torch's Beta sampler takes no generator, so a seed is drawn from ``generator`` (or torch's global generator)
    and NumPy draws the Beta sample: reproducible under ``torch.manual_seed`` and under a seeded generator alike.

    Args:
        alpha: Both shape parameters of the Beta distribution, > 0 (1 is uniform on [0, 1]).
        generator: Source of randomness; None uses torch's global generator.

    Returns:
        lam as a Python float in [0, 1].
    """
    alpha = require_positive_number("alpha", alpha)
    seed = int(_randint(2**62, (1,), _require_generator(generator)))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def rand_bbox(height: int, width: int, lam: float, generator: torch.Generator | None = None) -> Box:
    """A random box covering about (1 - lam) of an image, clipped to the image (the CutMix paper's recipe).

    The sides are ``int(height * sqrt(1 - lam))`` and ``int(width * sqrt(1 - lam))``; the centre is a uniformly
    random pixel; each edge lies half a side from the centre and is clipped to the image, so a box near the border
    is smaller than asked. Recompute lam from the returned box with :func:`box_lam`.

    Args:
        height: Image height H (rows), a positive int.
        width: Image width W (columns), a positive int.
        lam: Share of the image to keep, in [0, 1]; the box asks for (1 - lam) H W pixels.
        generator: Source of randomness for the centre; None uses torch's global generator.

    Returns:
        ``(y0, y1, x0, x1)`` as Python ints, ends exclusive: the box is ``image[..., y0:y1, x0:x1]``.
    """
    height = require_positive_int("height", height)
    width = require_positive_int("width", width)
    lam = require_in_range("lam", lam, 0.0, 1.0)
    generator = _require_generator(generator)
    cut_ratio = math.sqrt(1.0 - lam)  # area (1 - lam) H W  =>  sides sqrt(1 - lam) H and sqrt(1 - lam) W
    cut_h, cut_w = int(height * cut_ratio), int(width * cut_ratio)
    cy = int(_randint(height, (1,), generator))  # centre row, uniform over the rows
    cx = int(_randint(width, (1,), generator))  # centre column, uniform over the columns
    y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)  # clipping shrinks the box at the border
    x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
    return y0, y1, x0, x1


def box_lam(height: int, width: int, box: Box) -> float:
    """The share of an image outside ``box``: lam = 1 - area / (H W), the label weight of the image itself.

    Args:
        height: Image height H, a positive int.
        width: Image width W, a positive int.
        box: ``(y0, y1, x0, x1)`` with 0 <= y0 <= y1 <= H and 0 <= x0 <= x1 <= W (ends exclusive).

    Returns:
        lam as a Python float in [0, 1].
    """
    height = require_positive_int("height", height)
    width = require_positive_int("width", width)
    if not isinstance(box, (tuple, list)) or len(box) != 4:
        raise TypeError(f"box must be a tuple (y0, y1, x0, x1), got {box!r}")
    y0, y1, x0, x1 = (require_non_negative_int(f"box[{i}]", v) for i, v in enumerate(box))
    if not (y0 <= y1 <= height and x0 <= x1 <= width):
        raise ValueError(f"box must satisfy 0 <= y0 <= y1 <= {height} and 0 <= x0 <= x1 <= {width}, got {tuple(box)}")
    return 1.0 - (y1 - y0) * (x1 - x0) / (height * width)  # lam = 1 - |box| / (H W)


def cutmix(
    images: torch.Tensor, labels: torch.Tensor, alpha: float = 1.0, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """CutMix a batch: paste the same random box of each image's partner into it; mix the labels by area.

    x~ = M * x_a + (1 - M) * x_b with M = 0 inside the box; lam ~ Beta(alpha, alpha) sets the box size, and the
    returned lam is recomputed from the clipped box, so it is exactly the share of pixels from x_a.

    Args:
        images: (B, C, H, W) batch; any dtype. Not modified.
        labels: (B,) class indices or (B, K) soft targets, one per image.
        alpha: Beta parameter, > 0 (1: lam uniform on [0, 1]).
        generator: Source of randomness; None uses torch's global generator.

    Returns:
        ``(mixed, labels_a, labels_b, lam)``: mixed images (B, C, H, W), the labels of each image and of its
        partner, and the corrected lam (a float).
    """
    images, labels = _require_batch(images, labels)
    alpha = require_positive_number("alpha", alpha)
    generator = _require_generator(generator)
    height, width = images.shape[-2:]
    lam = sample_lam(alpha, generator)
    perm = _partners(images.shape[0], images.device, generator)
    y0, y1, x0, x1 = rand_bbox(height, width, lam, generator)
    mixed = images.clone()
    mixed[:, :, y0:y1, x0:x1] = images[perm, :, y0:y1, x0:x1]  # x~ = M x_a + (1 - M) x_b, M = 0 in the box
    return mixed, labels, labels[perm], box_lam(height, width, (y0, y1, x0, x1))


def mixup(
    images: torch.Tensor, labels: torch.Tensor, alpha: float = 1.0, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Mixup a batch: blend every pixel of each image with its partner, x~ = lam x_a + (1 - lam) x_b.

    Args:
        images: (B, C, H, W) floating-point batch. Not modified.
        labels: (B,) class indices or (B, K) soft targets, one per image.
        alpha: Beta parameter, > 0.
        generator: Source of randomness; None uses torch's global generator.

    Returns:
        ``(mixed, labels_a, labels_b, lam)`` as for :func:`cutmix`; one lam for the whole batch.
    """
    images, labels = _require_batch(images, labels)
    if not images.is_floating_point():
        raise TypeError(f"images must be a floating-point tensor to blend, got dtype {images.dtype}")
    alpha = require_positive_number("alpha", alpha)
    generator = _require_generator(generator)
    lam = sample_lam(alpha, generator)
    perm = _partners(images.shape[0], images.device, generator)
    mixed = lam * images + (1.0 - lam) * images[perm]  # x~ = lam x_a + (1 - lam) x_b
    return mixed, labels, labels[perm], lam


def cutout(images: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Cutout: set one size x size square of each image to zero, centred on a random pixel, clipped to the image.

    Each image gets its own square (one batched mask, no loop over images). Labels are unchanged. The square spans
    rows cy - size // 2 to cy - size // 2 + size - 1, so it has exactly `size` rows even for odd sizes (the reference
    code's cy +- size // 2 gives size - 1).

    Args:
        images: (B, C, H, W) batch; any dtype. Not modified.
        size: Side of the square in pixels, a positive int (DeVries & Taylor use 16 on 32x32 CIFAR-10).
        generator: Source of randomness; None uses torch's global generator.

    Returns:
        The erased batch, same shape, dtype and device as ``images``.
    """
    require_tensor("images", images)
    require_ndim("images", images, 4)
    size = require_positive_int("size", size)
    generator = _require_generator(generator)
    batch, _, height, width = images.shape
    cy = _randint(height, (batch, 1), generator).to(images.device)  # (B, 1) centre rows
    cx = _randint(width, (batch, 1), generator).to(images.device)  # (B, 1) centre columns
    rows = torch.arange(height, device=images.device)  # (H,)
    cols = torch.arange(width, device=images.device)  # (W,)
    top, left = cy - size // 2, cx - size // 2  # (B, 1) each: the square's corner, possibly outside the image
    in_rows = (rows >= top) & (rows < top + size)  # (B, H): rows outside the image simply never match
    in_cols = (cols >= left) & (cols < left + size)  # (B, W)
    erased = in_rows[:, :, None] & in_cols[:, None, :]  # (B, H, W)
    return images.masked_fill(erased[:, None], 0)  # broadcast over channels


def mixed_targets(labels_a: torch.Tensor, labels_b: torch.Tensor, lam: float, num_classes: int) -> torch.Tensor:
    """Soft targets of a mixed batch: lam * one_hot(labels_a) + (1 - lam) * one_hot(labels_b); rows sum to 1.

    Args:
        labels_a: (B,) class indices of the images.
        labels_b: (B,) class indices of their partners.
        lam: Weight of ``labels_a``, in [0, 1].
        num_classes: Number of classes K.

    Returns:
        (B, K) float32 soft targets, on the labels' device.
    """
    for name, value in (("labels_a", labels_a), ("labels_b", labels_b)):
        require_tensor(name, value)
        require_ndim(name, value, 1)
        if value.is_floating_point() or value.dtype == torch.bool:
            raise TypeError(f"{name} must be an integer tensor of class indices, got dtype {value.dtype}")
    if labels_a.shape != labels_b.shape:
        raise ValueError(f"labels_b must have the shape of labels_a {tuple(labels_a.shape)}, "
                         f"got {tuple(labels_b.shape)}")
    lam = require_in_range("lam", lam, 0.0, 1.0)
    num_classes = require_positive_int("num_classes", num_classes)
    one_hot_a = torch.nn.functional.one_hot(labels_a.long(), num_classes).float()  # (B, K)
    one_hot_b = torch.nn.functional.one_hot(labels_b.long(), num_classes).float()  # (B, K)
    return lam * one_hot_a + (1.0 - lam) * one_hot_b  # y~ = lam y_a + (1 - lam) y_b
