"""Where a network looks: class activation maps, Grad-CAM, boxes from maps, and attention rollout.

    class_activation_map  M_c = sum_k w_k^c f_k for a network ending in global average pooling + one linear layer
    grad_cam              ReLU(sum_k alpha_k^c A^k) with alpha_k^c the spatial mean of d y^c / d A^k (any CNN)
    upsample_map          a coarse map stretched bilinearly to the image size
    cam_to_box            threshold at a fraction of the maximum, keep the largest connected region, take its box
    box_iou               intersection over union of boxes (x0, y0, x1, y1) with exclusive ends
    min_max_normalize     (M - min M) / (max M - min M) per map, as the CAM authors' code does before thresholding
    gradient_saliency     max over colour channels of |d y^c / d pixel| (Simonyan et al. 2014), any classifier
    attention_rollout     how attention mixes tokens across all layers of a transformer: A_hat_L ... A_hat_1
    gaussian_blur         each channel blurred by a Gaussian of standard deviation sigma (reflected edges)
    perturb               Phi(x; m) = m x + (1 - m) x_tilde: keep where m = 1, replace by blur, mean colour or noise
    total_variation       mean |m(u+1) - m(u)|^beta over horizontal and vertical neighbours
    meaningful_perturbation  Fong & Vedaldi's deletion game: the smallest smooth mask whose deletion kills the score
    deletion_curve        the class probability as the most salient pixels are deleted, and its area

For a GAP + linear network, logit_c = mean_{x,y} M_c(x, y) + b_c exactly, and Grad-CAM = ReLU(M_c) / (h w).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ._validate import (
    describe_value,
    require_choice,
    require_non_negative_int,
    require_positive_number,
    require_bool,
    require_floating_tensor,
    require_in_range,
    require_int,
    require_ndim,
    require_positive_int,
    require_tensor,
)

__all__ = [
    "class_activation_map",
    "grad_cam",
    "upsample_map",
    "cam_to_box",
    "box_iou",
    "min_max_normalize",
    "gradient_saliency",
    "attention_rollout",
    "gaussian_blur",
    "perturb",
    "total_variation",
    "meaningful_perturbation",
    "deletion_curve",
]


def _class_indices(class_idx: int | torch.Tensor | Sequence[int], batch: int, num_classes: int) -> torch.Tensor:
    """`class_idx` as a (batch,) int64 tensor: one int for every sample, or one per sample; all in range."""
    if isinstance(class_idx, torch.Tensor):
        if class_idx.dtype.is_floating_point or class_idx.dtype.is_complex or class_idx.dtype == torch.bool:
            raise TypeError(f"class_idx must hold integers, got dtype {class_idx.dtype}")
        indices = class_idx.reshape(-1) if class_idx.ndim == 0 else class_idx
    elif isinstance(class_idx, Sequence) and not isinstance(class_idx, str):
        indices = torch.tensor([require_int("class_idx[i]", c) for c in class_idx], dtype=torch.int64)
    else:
        indices = torch.tensor([require_int("class_idx", class_idx)], dtype=torch.int64)
    require_ndim("class_idx", indices, 1)
    if indices.numel() == 1:
        indices = indices.expand(batch)
    if indices.numel() != batch:
        raise ValueError(f"class_idx must be one int or one per sample ({batch}), got {indices.numel()} entries")
    if indices.numel() and (indices.min() < 0 or indices.max() >= num_classes):
        bad = indices[(indices < 0) | (indices >= num_classes)][0].item()
        raise ValueError(f"class_idx must be in [0, {num_classes - 1}] ({num_classes} classes), got {bad}")
    return indices.to(torch.int64)


def class_activation_map(
    features: torch.Tensor, fc_weight: torch.Tensor, class_idx: int | torch.Tensor | Sequence[int]
) -> torch.Tensor:
    """The class activation map M_c(x, y) = sum_k w_k^c f_k(x, y) of a GAP + linear network (Zhou et al. 2016).

    The map is the class score *before* averaging over positions: logit_c = mean_{x,y} M_c(x, y) + b_c. It keeps
    its sign (negative evidence stays negative) and its scale; normalise it only to look at it.

    Args:
        features: (B, K, h, w) last feature maps f (for `GapCNN`, `model.features(x)`).
        fc_weight: (num_classes, K) weight of the linear layer after global average pooling (`model.fc.weight`).
        class_idx: the class c, one int for the whole batch or a (B,) int tensor (or list) with one per sample.

    Returns:
        (B, h, w) maps, in the dtype of `features`.
    """
    require_floating_tensor("features", features)
    require_ndim("features", features, 4)
    require_floating_tensor("fc_weight", fc_weight)
    require_ndim("fc_weight", fc_weight, 2)
    if fc_weight.shape[1] != features.shape[1]:
        raise ValueError(f"fc_weight must have shape (num_classes, {features.shape[1]}) to match the "
                         f"{features.shape[1]} channels of features, got shape {tuple(fc_weight.shape)}")
    classes = _class_indices(class_idx, features.shape[0], fc_weight.shape[0]).to(fc_weight.device)
    weights = fc_weight[classes].to(features.dtype)  # (B, K): the row w^c of each sample's class
    return torch.einsum("bk,bkhw->bhw", weights, features)  # M_c = sum_k w_k^c f_k


def grad_cam(
    model: nn.Module, target_layer: nn.Module, x: torch.Tensor, class_idx: int | torch.Tensor | Sequence[int]
) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017): ReLU(sum_k alpha_k^c A^k), alpha_k^c = mean_{x,y} d y^c / d A^k(x, y).

    A forward hook on `target_layer` records its output A and hands the rest of the network a copy, so later
    in-place operations (ReLU(inplace=True)) cannot change A; `torch.autograd.grad` then gives d y^c / d A
    without touching any parameter's `.grad`. The model's train/eval mode is left as it is: call `model.eval()`
    first, or batch norm mixes the images of the batch.

    Args:
        model: a classifier returning (B, num_classes) scores y.
        target_layer: a submodule of `model` whose output A is (B, K, h, w), usually the last convolution block.
        x: (B, ...) input batch.
        class_idx: the class c, one int for the whole batch or a (B,) int tensor (or list) with one per sample.

    Returns:
        (B, h, w) non-negative maps (not normalised), detached from the graph.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {describe_value(model)}")
    if not isinstance(target_layer, nn.Module):
        raise TypeError(f"target_layer must be a torch.nn.Module, got {describe_value(target_layer)}")
    if not any(module is target_layer for module in model.modules()):
        raise ValueError(f"target_layer must be a submodule of model; {type(target_layer).__name__} is not in "
                         f"{type(model).__name__}")
    require_tensor("x", x)

    recorded: list[torch.Tensor] = []

    def keep_output(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if not isinstance(output, torch.Tensor) or output.ndim != 4:
            raise ValueError(f"target_layer must output a (B, K, h, w) tensor, got {describe_value(output)}")
        if not output.requires_grad:  # frozen weights and an input without grad: start the graph here
            output = output.detach().requires_grad_(True)
        recorded.append(output)
        return output.clone()  # the network continues on a copy; A itself is never modified in place

    handle = target_layer.register_forward_hook(keep_output)
    try:
        with torch.enable_grad():  # also under a caller's torch.no_grad()
            scores = model(x)
            if not recorded:
                raise ValueError(f"target_layer ({type(target_layer).__name__}) was not called in model's forward "
                                 f"pass")
            activations = recorded[-1]  # (B, K, h, w)
            if not isinstance(scores, torch.Tensor) or scores.ndim != 2 or scores.shape[0] != activations.shape[0]:
                raise ValueError(f"model must return (B, num_classes) scores, got {describe_value(scores)}")
            classes = _class_indices(class_idx, scores.shape[0], scores.shape[1]).to(scores.device)
            score = scores.gather(1, classes[:, None]).sum()  # summed over the batch: y^c of sample i needs A_i only
            (gradients,) = torch.autograd.grad(score, activations)  # (B, K, h, w): d y^c / d A^k(x, y)
    finally:
        handle.remove()
    alpha = gradients.mean(dim=(2, 3), keepdim=True)  # alpha_k^c = (1/Z) sum_{x,y} d y^c / d A^k(x, y)
    return torch.relu((alpha * activations).sum(dim=1)).detach()  # ReLU(sum_k alpha_k^c A^k): (B, h, w)


def upsample_map(cam: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Stretch coarse maps to the image size by bilinear interpolation (as the CAM paper does).

    Args:
        cam: (h, w) or (B, h, w) floating-point maps.
        size: the output (H, W), or one int for a square.

    Returns:
        (H, W) or (B, H, W) maps.
    """
    require_floating_tensor("cam", cam)
    require_ndim("cam", cam, (2, 3))
    if isinstance(size, int) or not isinstance(size, Sequence):
        size = (require_positive_int("size", size),) * 2
    if len(size) != 2:
        raise ValueError(f"size must be an int or a pair (H, W), got {size!r}")
    size = (require_positive_int("size[0]", size[0]), require_positive_int("size[1]", size[1]))
    batch = cam if cam.ndim == 3 else cam[None]  # (B, h, w)
    big = nn.functional.interpolate(batch[:, None], size=size, mode="bilinear", align_corners=False)  # (B, 1, H, W)
    return big[:, 0] if cam.ndim == 3 else big[0, 0]


def cam_to_box(cam: torch.Tensor, threshold: float = 0.2) -> torch.Tensor:
    """A box from a map: keep pixels >= threshold * max, take the largest 8-connected region, return its box.

    This is the CAM paper's localisation heuristic (20 % of the maximum; Grad-CAM used 15 %). Boxes are
    (x0, y0, x1, y1) in the map's pixel coordinates with exclusive ends x1, y1, like `data.shapes`' boxes. Regions
    are found by `scipy.ndimage.label` (diagonal neighbours connect); on a tie in size the region that starts first
    in raster order wins. A map without any positive value holds no evidence for the class and gives the empty box
    (0, 0, 0, 0).

    Args:
        cam: (H, W) or (B, H, W) map (upsample it to the image size first to get image coordinates).
        threshold: fraction of the map's maximum, in [0, 1].

    Returns:
        (4,) or (B, 4) int64 boxes, on the device of `cam`.
    """
    require_floating_tensor("cam", cam)
    require_ndim("cam", cam, (2, 3))
    threshold = require_in_range("threshold", threshold, 0.0, 1.0)
    from scipy import ndimage  # imported here: labelling is the only use

    maps = (cam.detach() if cam.ndim == 3 else cam.detach()[None]).cpu()  # (B, H, W)
    maps = (maps.float() if maps.dtype in (torch.float16, torch.bfloat16) else maps).numpy()  # NumPy has no bfloat16
    if not np.isfinite(maps).all():
        raise ValueError("cam must be finite, got NaN or inf")
    peak = maps.max(axis=(1, 2), keepdims=True)  # (B, 1, 1)
    masks = (maps >= threshold * peak) & (peak > 0)  # no positive value: nothing kept
    connect = np.zeros((3, 3, 3), dtype=bool)
    connect[1] = True  # 8-connected within a map, never across maps of the batch
    labels, _ = ndimage.label(masks, structure=connect)  # (B, H, W); regions numbered in raster order
    sizes = np.bincount(labels.ravel())  # pixels per label (label 0: the background)
    extents = ndimage.find_objects(labels)  # (batch, row, column) slices of each region
    last_label = labels.reshape(len(maps), -1).max(axis=1)  # each map's regions are labels first..last
    boxes = np.zeros((len(maps), 4), dtype=np.int64)
    first = 1
    for i, last in enumerate(last_label):
        if last < first:
            continue  # an empty map: the empty box
        largest = first + int(np.argmax(sizes[first : last + 1]))  # argmax: the first of the largest
        _, rows, cols = extents[largest - 1]
        boxes[i] = (cols.start, rows.start, cols.stop, rows.stop)  # slices end exclusively, like our boxes
        first = last + 1
    boxes = torch.from_numpy(boxes).to(cam.device)
    return boxes if cam.ndim == 3 else boxes[0]


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of boxes (x0, y0, x1, y1), paired entry by entry, with broadcasting.

    Ends are exclusive, so a box covers (x1 - x0) * (y1 - y0) pixels. Unlike `torchvision.ops.box_iou`, which
    compares all pairs, a (N, 4) and b (N, 4) give (N,); for all pairs pass `a[:, None]` and `b[None]`.
    Two boxes whose union is empty have IoU 0.

    Args:
        a: (..., 4) boxes with x0 <= x1 and y0 <= y1 (integer or floating point).
        b: (..., 4) boxes, broadcastable with `a`.

    Returns:
        (...) IoU in [0, 1], float32 for integer boxes, else the boxes' floating dtype.
    """
    for name, boxes in (("a", a), ("b", b)):
        require_tensor(name, boxes)
        if boxes.ndim == 0 or boxes.shape[-1] != 4:
            raise ValueError(f"{name} must have shape (..., 4) holding (x0, y0, x1, y1), got shape "
                             f"{tuple(boxes.shape)}")
        if boxes.dtype == torch.bool or boxes.is_complex():
            raise TypeError(f"{name} must hold real numbers, got dtype {boxes.dtype}")
        if (boxes[..., 2] < boxes[..., 0]).any() or (boxes[..., 3] < boxes[..., 1]).any():
            raise ValueError(f"{name} must have x0 <= x1 and y0 <= y1 in every box")
    dtype = torch.promote_types(a.dtype, b.dtype)
    dtype = dtype if dtype.is_floating_point else torch.float32
    a, b = a.to(dtype), b.to(dtype)
    width = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    height = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    intersection = width * height  # |a ∩ b|: the overlap, 0 when the boxes are apart
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - intersection  # |a ∪ b| = |a| + |b| - |a ∩ b|
    return torch.where(union > 0, intersection / union.clamp(min=torch.finfo(dtype).tiny), 0.0)


def min_max_normalize(cam: torch.Tensor) -> torch.Tensor:
    """Each map scaled to [0, 1]: (M - min M) / (max M - min M), as the CAM authors' code does before thresholding.

    `cam_to_box(min_max_normalize(cam), t)` keeps the pixels >= min M + t (max M - min M), the box of the CAM
    authors' code; `cam_to_box(cam, t)` keeps those >= t max M. The two differ when a map has negative values (a
    CAM does): min-max normalisation hides the sign, so a map that speaks against the class everywhere still gets
    a box. A constant map holds no information about where to look and becomes all zeros (its box is empty).

    Args:
        cam: (H, W) or (B, H, W) floating-point maps, finite.

    Returns:
        Maps of the same shape and dtype with minimum 0 and maximum 1 (or all zeros).
    """
    require_floating_tensor("cam", cam)
    require_ndim("cam", cam, (2, 3))
    if not torch.isfinite(cam).all():
        raise ValueError("cam must be finite, got NaN or inf")
    maps = cam if cam.ndim == 3 else cam[None]  # (B, H, W)
    low = maps.amin(dim=(1, 2), keepdim=True)  # (B, 1, 1)
    span = maps.amax(dim=(1, 2), keepdim=True) - low
    scaled = torch.where(span > 0, (maps - low) / torch.where(span > 0, span, 1), 0.0)  # (M - min) / (max - min)
    return scaled if cam.ndim == 3 else scaled[0]


def gradient_saliency(
    model: nn.Module, x: torch.Tensor, class_idx: int | torch.Tensor | Sequence[int]
) -> torch.Tensor:
    """Gradient saliency (Simonyan et al. 2014): S(x, y) = max over colour channels of |d y^c / d pixel(x, y)|.

    The CAM paper's "backprop" baseline. It needs no particular architecture: one backward pass from the class
    score to the input. As for `grad_cam`, the model's train/eval mode is left as it is, and no parameter's
    `.grad` is touched.

    Args:
        model: a classifier returning (B, num_classes) scores y.
        x: (B, C, H, W) input batch (floating point).
        class_idx: the class c, one int for the whole batch or a (B,) int tensor (or list) with one per sample.

    Returns:
        (B, H, W) non-negative maps, detached from the graph.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {describe_value(model)}")
    require_floating_tensor("x", x)
    require_ndim("x", x, 4)
    pixels = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():  # also under a caller's torch.no_grad()
        scores = model(pixels)
        if not isinstance(scores, torch.Tensor) or scores.ndim != 2 or scores.shape[0] != x.shape[0]:
            raise ValueError(f"model must return (B, num_classes) scores, got {describe_value(scores)}")
        classes = _class_indices(class_idx, scores.shape[0], scores.shape[1]).to(scores.device)
        score = scores.gather(1, classes[:, None]).sum()  # summed over the batch: y^c of sample i needs x_i only
        (gradients,) = torch.autograd.grad(score, pixels)  # (B, C, H, W): d y^c / d pixel
    return gradients.abs().amax(dim=1)  # the largest over colour channels: (B, H, W)


def attention_rollout(attentions: Sequence[torch.Tensor] | torch.Tensor, add_residual: bool = True) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020): how much each token draws on each input token across layers.

    Per layer, A_hat = mean over heads of A (plus the identity for the residual connection), each row divided by
    its sum; the rollout is the product A_hat_L ... A_hat_1, whose rows again sum to 1. Row i of the result says
    how token i at the output mixes the input tokens (row 0 is the class token in a ViT).

    Args:
        attentions: the attention probabilities of each layer, first layer first: a list of (B, heads, T, T)
            tensors, or one (L, B, heads, T, T) tensor.
        add_residual: add the identity before normalising, for the skip connection around each attention.

    Returns:
        (B, T, T) rollout.

    Raises:
        TypeError: ``attentions`` is not a list of floating tensors or one floating tensor, or ``add_residual`` is
            not a bool.
        ValueError: no layers, shapes that are not (B, heads, T, T) alike, NaN, inf or negative entries, or a row
            of zeros that cannot be normalised.
    """
    require_bool("add_residual", add_residual)
    if isinstance(attentions, torch.Tensor):
        require_floating_tensor("attentions", attentions)
        require_ndim("attentions", attentions, 5)
        layers = list(attentions.unbind(0))
    elif isinstance(attentions, Sequence) and not isinstance(attentions, str):
        layers = list(attentions)
        for i, layer in enumerate(layers):
            require_floating_tensor(f"attentions[{i}]", layer)
            require_ndim(f"attentions[{i}]", layer, 4)
    else:
        raise TypeError(f"attentions must be a list of (B, heads, T, T) tensors or one (L, B, heads, T, T) tensor, "
                        f"got {describe_value(attentions)}")
    if not layers:
        raise ValueError("attentions must hold at least one layer, got none")
    shape = layers[0].shape
    if shape[-1] != shape[-2]:
        raise ValueError(f"attentions must be square over tokens (B, heads, T, T), got shape {tuple(shape)}")
    for i, layer in enumerate(layers):
        if layer.shape != shape:
            raise ValueError(f"attentions[{i}] must have the shape of attentions[0], {tuple(shape)}, "
                             f"got shape {tuple(layer.shape)}")
        if not torch.isfinite(layer).all():
            raise ValueError(f"attentions[{i}] holds NaN or inf: attention probabilities are finite")
        if (layer < 0).any():
            raise ValueError(f"attentions[{i}] must be non-negative (attention probabilities)")

    rollout = None
    for layer in layers:
        fused = layer.mean(dim=1)  # (B, T, T): mean over heads
        if add_residual:
            fused = fused + torch.eye(fused.shape[-1], dtype=fused.dtype, device=fused.device)  # A + I
        row_sums = fused.sum(dim=-1, keepdim=True)  # (B, T, 1): keepdim, so each row is divided by its own sum
        if (row_sums <= 0).any():
            raise ValueError("attentions has a row of zeros in some layer: it cannot be normalised")
        fused = fused / row_sums  # A_hat: rows sum to 1
        rollout = fused if rollout is None else fused @ rollout  # A_hat_l ... A_hat_1
    return rollout


# ------------------------------------------------------------------ meaningful perturbation (Fong & Vedaldi 2017)
PERTURBATIONS = ("blur", "constant", "noise")


def _require_image_batch(x: torch.Tensor) -> torch.Tensor:
    require_floating_tensor("x", x)
    require_ndim("x", x, 4)
    if x.shape[0] == 0 or x.shape[2] < 2 or x.shape[3] < 2:
        raise ValueError(f"x must be a (N, C, H, W) batch with N >= 1 and H, W >= 2, got shape {tuple(x.shape)}")
    return x


def _require_mask(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    require_floating_tensor("mask", mask)
    if mask.shape != (x.shape[0], x.shape[2], x.shape[3]):
        raise ValueError(f"mask must be (N, H, W) = {(x.shape[0], x.shape[2], x.shape[3])} for x of shape "
                         f"{tuple(x.shape)}, got {tuple(mask.shape)}")
    return mask


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each channel with a Gaussian of standard deviation `sigma` pixels: two 1-D convolutions, edges reflected.

    Args:
        x: (N, C, H, W) images.
        sigma: the standard deviation in pixels, > 0; the kernel reaches 3 sigma (at most H - 1 and W - 1).

    Returns:
        (N, C, H, W) blurred images, differentiable in x.
    """
    _require_image_batch(x)
    sigma = require_positive_number("sigma", sigma)
    out = x
    for dim in (2, 3):  # rows, then columns
        radius = min(math.ceil(3 * sigma), x.shape[dim] - 1)  # reflect padding needs radius < size
        t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
        kernel = torch.exp(-(t**2) / (2 * sigma**2))
        kernel = kernel / kernel.sum()  # g_sigma, weights summing to 1
        C = x.shape[1]
        if dim == 2:
            weight, pad = kernel.view(1, 1, -1, 1).repeat(C, 1, 1, 1), (0, 0, radius, radius)
        else:
            weight, pad = kernel.view(1, 1, 1, -1).repeat(C, 1, 1, 1), (radius, radius, 0, 0)
        out = torch.nn.functional.conv2d(torch.nn.functional.pad(out, pad, mode="reflect"), weight, groups=C)
    return out


def perturb(x: torch.Tensor, mask: torch.Tensor, perturbation: str = "blur", *, sigma: float = 5.0,
            noise_std: float = 0.2, generator: torch.Generator | None = None) -> torch.Tensor:
    """Phi(x; m) = m x + (1 - m) x_tilde: the image where m = 1, a meaningless version of it where m = 0.

    The three x_tilde of Fong & Vedaldi 2017: "blur" the image blurred by a Gaussian of `sigma` pixels (the blend
    with one blurred copy that reference implementations use, rather than a blur whose width varies with m);
    "constant" each image's mean colour; "noise" i.i.d. Gaussian noise of standard deviation `noise_std` around
    that mean colour, drawn from `generator` on the CPU (so a seeded generator gives the same noise on any device).

    Args:
        x: (N, C, H, W) images.
        mask: (N, H, W) mask m in [0, 1]; 1 keeps the pixel.
        perturbation: "blur", "constant" or "noise".
        sigma: blur width in pixels (> 0).
        noise_std: noise standard deviation (> 0).
        generator: the random source of "noise" (default: torch's global generator).

    Returns:
        (N, C, H, W) perturbed images, differentiable in x and mask.
    """
    _require_image_batch(x)
    _require_mask(mask, x)
    require_choice("perturbation", perturbation, PERTURBATIONS)
    mean_colour = x.mean(dim=(2, 3), keepdim=True)  # (N, C, 1, 1)
    if perturbation == "blur":
        replacement = gaussian_blur(x, sigma)
    elif perturbation == "constant":
        replacement = mean_colour.expand_as(x)
    else:
        noise_std = require_positive_number("noise_std", noise_std)
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)  # drawn on the CPU: device-independent
        replacement = mean_colour + noise_std * noise.to(x.device)
    m = mask[:, None].to(x.dtype)  # (N, 1, H, W), one mask for all channels
    return m * x + (1 - m) * replacement


def total_variation(mask: torch.Tensor, beta: float = 3.0) -> torch.Tensor:
    """TV_beta(m): mean |m(i, j+1) - m(i, j)|^beta over horizontal neighbours + the same over vertical ones.

    Means, not sums, so its weight does not depend on the image size. A constant mask has TV 0; a checkerboard of
    0 and 1 has the largest, 2.

    Args:
        mask: (N, H, W) masks with H, W >= 2.
        beta: the exponent, > 0 (Fong & Vedaldi use 3).

    Returns:
        (N,) values, differentiable in mask.
    """
    require_floating_tensor("mask", mask)
    require_ndim("mask", mask, 3)
    if mask.shape[1] < 2 or mask.shape[2] < 2:
        raise ValueError(f"mask must be at least 2x2 to have neighbours, got shape {tuple(mask.shape)}")
    beta = require_positive_number("beta", beta)
    horizontal = (mask[:, :, 1:] - mask[:, :, :-1]).abs().pow(beta).mean(dim=(1, 2))
    vertical = (mask[:, 1:, :] - mask[:, :-1, :]).abs().pow(beta).mean(dim=(1, 2))
    return horizontal + vertical


def _class_probability(model: nn.Module, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    scores = model(images)
    if not isinstance(scores, torch.Tensor) or scores.ndim != 2 or scores.shape[0] != images.shape[0]:
        raise ValueError(f"model must return (B, num_classes) scores, got {describe_value(scores)}")
    return scores.softmax(dim=1).gather(1, classes[:, None])[:, 0]  # p_c: (B,)


def meaningful_perturbation(
    model: nn.Module,
    x: torch.Tensor,
    class_idx: int | torch.Tensor | Sequence[int],
    *,
    perturbation: str = "blur",
    mask_size: int = 8,
    steps: int = 150,
    l1: float = 0.05,
    tv: float = 0.2,
    beta: float = 3.0,
    lr: float = 0.1,
    jitter: int = 2,
    sigma: float = 5.0,
    noise_std: float = 0.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The deletion game of Fong & Vedaldi 2017: a mask m whose deletion destroys the class probability.

    Minimises, for each image independently, with Adam on a `mask_size` x `mask_size` mask kept in [0, 1] and
    stretched bilinearly to the image:

        l1 * mean(1 - m) + tv * TV_beta(m) + p_c(Phi(x shifted by tau; m)),

    with tau a random shift of up to `jitter` pixels drawn at every step (the image moves, the mask does not), so
    a mask cannot rely on a pattern aligned to single pixels. `mask_size` equal to the image size, tv = 0 and
    jitter = 0 give the unregularised mask, which finds adversarial patterns. The model's train/eval mode is left
    as it is (call `model.eval()` first), and no parameter's `.grad` is touched.

    Args:
        model: a classifier returning (B, num_classes) scores.
        x: (N, C, H, W) images.
        class_idx: the class c, one int for the batch or one per image.
        perturbation: how deleted pixels are replaced: "blur", "constant" or "noise" (see `perturb`).
        mask_size: side of the optimised mask (1 <= mask_size <= min(H, W)).
        steps: Adam steps (>= 1).
        l1: weight of the deleted area (>= 0).
        tv: weight of the total variation (>= 0).
        beta: the total variation's exponent (> 0).
        lr: Adam's learning rate (> 0).
        jitter: largest shift in pixels (>= 0).
        sigma, noise_std: passed to `perturb`.
        generator: random source of the shifts and the noise (default: torch's global generator).

    Returns:
        (N, H, W) mask m in [0, 1], detached; 1 keeps a pixel, and 1 - m is the explanation.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {describe_value(model)}")
    _require_image_batch(x)
    require_choice("perturbation", perturbation, PERTURBATIONS)
    mask_size = require_positive_int("mask_size", mask_size)
    if mask_size > min(x.shape[2], x.shape[3]):
        raise ValueError(f"mask_size must be at most the image side {min(x.shape[2], x.shape[3])}, got {mask_size}")
    steps = require_positive_int("steps", steps)
    for name, value in (("l1", l1), ("tv", tv)):
        require_in_range(name, value, 0, math.inf)
    lr = require_positive_number("lr", lr)
    jitter = require_non_negative_int("jitter", jitter)
    N, _, H, W = x.shape
    x = x.detach()
    with torch.enable_grad():
        classes = _class_indices(class_idx, N, _num_classes(model, x)).to(x.device)
        small = torch.full((N, 1, mask_size, mask_size), 0.5, dtype=x.dtype, device=x.device, requires_grad=True)
        optimizer = torch.optim.Adam([small], lr=lr)
        for _ in range(steps):
            m = torch.nn.functional.interpolate(small, size=(H, W), mode="bilinear", align_corners=False)[:, 0]
            shift = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist() if jitter else [0, 0]
            shifted = torch.roll(x, shifts=shift, dims=(2, 3))  # x(. - tau)
            probability = _class_probability(model, perturb(shifted, m, perturbation, sigma=sigma,
                                                            noise_std=noise_std, generator=generator), classes)
            objective = l1 * (1 - m).mean(dim=(1, 2)) + tv * total_variation(m, beta) + probability  # (N,)
            (gradient,) = torch.autograd.grad(objective.sum(), small)  # images are independent: sum is fine
            optimizer.zero_grad(set_to_none=True)
            small.grad = gradient
            optimizer.step()
            with torch.no_grad():
                small.clamp_(0, 1)  # projected: m stays a mask
        m = torch.nn.functional.interpolate(small, size=(H, W), mode="bilinear", align_corners=False)[:, 0]
    return m.detach().clamp(0, 1)


def _num_classes(model: nn.Module, x: torch.Tensor) -> int:
    with torch.no_grad():
        scores = model(x[:1])
    if not isinstance(scores, torch.Tensor) or scores.ndim != 2:
        raise ValueError(f"model must return (B, num_classes) scores, got {describe_value(scores)}")
    return scores.shape[1]


def deletion_curve(
    model: nn.Module,
    x: torch.Tensor,
    saliency: torch.Tensor,
    class_idx: int | torch.Tensor | Sequence[int],
    steps: int = 16,
    *,
    perturbation: str = "constant",
    sigma: float = 5.0,
    noise_std: float = 0.2,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The class probability as the most salient pixels are deleted, and the area under that curve.

    At step k of `steps`, the ceil(k / steps * H W) most salient pixels of each image (ties broken by position)
    are replaced as `perturb` does, and p_c is read. A map that ranks the pixels the model uses first makes the
    probability fall early: a lower area is a more faithful map (Petsiuk et al. 2018 call it the deletion metric).

    Args:
        model: a classifier returning (B, num_classes) scores.
        x: (N, C, H, W) images.
        saliency: (N, H, W) maps, larger = more important.
        class_idx: the class c, one int for the batch or one per image.
        steps: number of deletion steps (>= 1); the curve has steps + 1 points, from nothing to everything deleted.
        perturbation, sigma, noise_std, generator: how deleted pixels are replaced (see `perturb`).

    Returns:
        (scores, area): (N, steps + 1) probabilities and (N,) areas by the trapezoid rule over the deleted
        fraction in [0, 1].
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {describe_value(model)}")
    _require_image_batch(x)
    require_floating_tensor("saliency", saliency)
    if saliency.shape != (x.shape[0], x.shape[2], x.shape[3]):
        raise ValueError(f"saliency must be (N, H, W) = {(x.shape[0], x.shape[2], x.shape[3])}, got "
                         f"{tuple(saliency.shape)}")
    if not torch.isfinite(saliency).all():
        raise ValueError("saliency must be finite (no NaN or inf)")
    steps = require_positive_int("steps", steps)
    require_choice("perturbation", perturbation, PERTURBATIONS)
    N, _, H, W = x.shape
    classes = _class_indices(class_idx, N, _num_classes(model, x)).to(x.device)
    order = saliency.flatten(1).argsort(dim=1, descending=True, stable=True)  # most salient first: (N, H W)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(H * W, device=order.device).expand(N, -1))  # each pixel's place
    scores = []
    with torch.no_grad():
        for k in range(steps + 1):
            deleted = math.ceil(k * H * W / steps)
            mask = (rank >= deleted).to(x.dtype).view(N, H, W)  # 1 keeps the pixel
            images = perturb(x, mask, perturbation, sigma=sigma, noise_std=noise_std, generator=generator)
            scores.append(_class_probability(model, images, classes))
    scores = torch.stack(scores, dim=1)  # (N, steps + 1)
    area = ((scores[:, 1:] + scores[:, :-1]) / 2).mean(dim=1)  # trapezoids of width 1 / steps
    return scores, area
