"""Where a network looks: class activation maps, Grad-CAM, boxes from maps, and attention rollout.

    class_activation_map  M_c = sum_k w_k^c f_k for a network ending in global average pooling + one linear layer
    grad_cam              ReLU(sum_k alpha_k^c A^k) with alpha_k^c the spatial mean of d y^c / d A^k (any CNN)
    upsample_map          a coarse map stretched bilinearly to the image size
    cam_to_box            threshold at a fraction of the maximum, keep the largest connected region, take its box
    box_iou               intersection over union of boxes (x0, y0, x1, y1) with exclusive ends
    min_max_normalize     (M - min M) / (max M - min M) per map, as the CAM authors' code does before thresholding
    gradient_saliency     max over colour channels of |d y^c / d pixel| (Simonyan et al. 2014), any classifier
    attention_rollout     how attention mixes tokens across all layers of a transformer: A_hat_L ... A_hat_1

For a GAP + linear network, logit_c = mean_{x,y} M_c(x, y) + b_c exactly, and Grad-CAM = ReLU(M_c) / (h w).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ._validate import (
    describe_value,
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
