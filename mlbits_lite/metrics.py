"""Classification metrics: accuracy and calibration (reliability bins, expected calibration error).

A classifier is *calibrated* when, among the samples it labels with confidence p, a fraction p is right.
Guo et al. (2017) measure the gap with M equal-width confidence bins Bₘ = ((m-1)/M, m/M]:

    conf(Bₘ) = mean of max-probability over Bₘ,   acc(Bₘ) = mean of [prediction == label] over Bₘ
    ECE      = Σₘ |Bₘ|/N · |acc(Bₘ) - conf(Bₘ)|

``reliability_bins`` returns the per-bin numbers (what ``plot.reliability_diagram`` draws) and
``expected_calibration_error`` sums them up. Label-smoothing papers report ECE with 15 bins, the default here.
"""
from __future__ import annotations

import torch

from ._validate import require_floating_tensor, require_ndim, require_positive_int, require_tensor

__all__ = ["accuracy", "reliability_bins", "expected_calibration_error"]


def _require_labels(labels: object, n: int) -> torch.Tensor:
    """Check that labels is a 1-D integer tensor of n class indices."""
    require_tensor("labels", labels)
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor of class indices, got dtype {labels.dtype}")
    require_ndim("labels", labels, 1)
    if labels.shape[0] != n:
        raise ValueError(f"labels must have {n} entries (one per sample), got {labels.shape[0]}")
    return labels


def accuracy(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of samples whose predicted class equals the label.

    Args:
        scores: Either (N, C) class scores (logits or probabilities; the prediction is the argmax over dim 1),
            or (N,) integer predicted class indices.
        labels: (N,) integer class indices.

    Returns:
        The accuracy in [0, 1] as a Python float.

    Raises:
        TypeError: ``scores`` or ``labels`` is not a tensor, (N,) ``scores`` are not integers, or ``labels`` are
            not integers.
        ValueError: wrong number of dimensions, N differs between the two, N is 0, or a label lies outside
            [0, C) for (N, C) scores.
    """
    require_tensor("scores", scores)
    require_ndim("scores", scores, (1, 2))
    labels = _require_labels(labels, scores.shape[0])
    if scores.shape[0] == 0:
        raise ValueError("scores must hold at least one sample, got N = 0")
    if scores.ndim == 2:
        num_classes = scores.shape[1]
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(f"labels must lie in [0, {num_classes}) for scores with {num_classes} classes")
        if scores.is_floating_point() and scores.isnan().any():
            raise ValueError("scores must not contain NaN (the argmax of NaN scores is meaningless)")
        predictions = scores.argmax(dim=1)  # (N,)
    else:
        if scores.is_floating_point() or scores.is_complex() or scores.dtype == torch.bool:
            raise TypeError(
                f"1-D scores must be integer predicted classes, got dtype {scores.dtype}; pass (N, C) scores "
                "to take the argmax"
            )
        predictions = scores
    return (predictions == labels.to(predictions.device)).double().mean().item()


def reliability_bins(
    probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-bin confidence, accuracy and count over M equal-width confidence bins ((m-1)/M, m/M].

    The confidence of a sample is its largest probability, its prediction that class.

    Args:
        probs: (N, C) class probabilities (rows sum to 1; apply softmax to logits first).
        labels: (N,) integer class indices in [0, C).
        n_bins: Number of bins M, a positive int.

    Returns:
        ``(bin_confidence, bin_accuracy, bin_count)``, each of shape (M,) on the CPU, float64 (count int64). An
        empty bin has confidence and accuracy NaN (there is nothing to average) and count 0.

    Raises:
        TypeError: ``probs`` is not a floating-point tensor or ``labels`` is not an integer tensor.
        ValueError: ``probs`` is not (N, C) probabilities in [0, 1], ``labels`` has the wrong length or a label
            outside [0, C), or ``n_bins`` is not positive.
    """
    require_floating_tensor("probs", probs)
    require_ndim("probs", probs, 2)
    labels = _require_labels(labels, probs.shape[0])
    n_bins = require_positive_int("n_bins", n_bins)
    n, num_classes = probs.shape
    if n == 0:
        raise ValueError("probs must hold at least one sample, got N = 0")
    if not ((probs >= 0) & (probs <= 1)).all():
        raise ValueError("probs must be probabilities in [0, 1]; apply softmax to logits first")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}) for probs with {num_classes} classes")

    probs = probs.detach().double().cpu()  # binning on the CPU: CUDA's bincount/index_add_ are not deterministic
    confidence, prediction = probs.max(dim=1)  # (N,), (N,)
    correct = (prediction == labels.cpu()).double()  # (N,)
    inner_edges = torch.arange(1, n_bins, dtype=torch.float64) / n_bins  # 1/M, ..., (M-1)/M
    bin_index = torch.bucketize(confidence, inner_edges)  # (N,), index m-1 for conf in ((m-1)/M, m/M]
    count = torch.bincount(bin_index, minlength=n_bins)  # (M,)
    conf_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, bin_index, confidence)
    acc_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, bin_index, correct)
    bin_confidence = conf_sum / count  # 0/0 = NaN for empty bins
    bin_accuracy = acc_sum / count
    return bin_confidence, bin_accuracy, count


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> float:
    """Expected calibration error, ECE = Σₘ |Bₘ|/N · |acc(Bₘ) - conf(Bₘ)| (Guo et al. 2017).

    Args:
        probs: (N, C) class probabilities (rows sum to 1; apply softmax to logits first).
        labels: (N,) integer class indices in [0, C).
        n_bins: Number of equal-width confidence bins M (15 in the label-smoothing papers).

    Returns:
        ECE in [0, 1] as a Python float (0 is perfectly calibrated).

    Raises:
        TypeError, ValueError: as :func:`reliability_bins`.
    """
    bin_confidence, bin_accuracy, count = reliability_bins(probs, labels, n_bins)
    filled = count > 0  # empty bins weigh 0 (and hold NaN)
    weight = count[filled].double() / count.sum()  # |Bₘ|/N
    return (weight * (bin_accuracy[filled] - bin_confidence[filled]).abs()).sum().item()
