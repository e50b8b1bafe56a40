"""Self-checks for chapter 4: label smoothing, its optimum, and calibration."""
from __future__ import annotations

import math
import numbers
from typing import Callable

import torch
import torch.nn.functional as F

from ._framework import CheckResult, _close, _hidden_generator, _run

__all__ = ["smooth_one_hot", "optimal_logit_gap", "smoothed_cross_entropy", "expected_calibration_error"]

NOT_ATTEMPTED = "not attempted yet: replace `raise NotImplementedError` with your code"


# ------------------------------------------------------------------------------------------------ scalar answers
def _as_scalar(got: object) -> torch.Tensor | str:
    """A Python number or a one-element tensor as a float64 0-d tensor; otherwise a hint saying what came back."""
    if isinstance(got, numbers.Real) and not isinstance(got, bool):
        return torch.tensor(float(got), dtype=torch.float64)
    if isinstance(got, torch.Tensor):
        if got.numel() != 1:
            return f"your result has shape {tuple(got.shape)}; return a single number"
        if not got.is_floating_point():
            return f"your result has dtype {got.dtype}; return a floating-point number"
        return got.detach().reshape(()).double().cpu()
    return f"your function returned a {type(got).__name__}; return a number (a float or a one-element tensor)"


def _run_scalar(exercise: str, learner: Callable, cases: list[tuple[tuple, float, dict[str, float]]]) -> CheckResult:
    """Like the framework's runner, for answers that are one number (where "off by a constant factor" says nothing)."""
    if not callable(learner):
        raise TypeError(f"{exercise}: expected your function as the argument, got {type(learner).__name__}")
    for i, (args, want, wrong) in enumerate(cases, start=1):
        try:
            got = learner(*args)
        except NotImplementedError:
            return CheckResult(exercise, False, NOT_ATTEMPTED, attempted=False)
        except Exception as exc:  # the learner's bug, reported as a hint rather than a crash
            return CheckResult(exercise, False, f"case {i} of {len(cases)}: your function raised "
                                                f"{type(exc).__name__}: {exc}")
        value = _as_scalar(got)
        if isinstance(value, str):
            return CheckResult(exercise, False, f"case {i} of {len(cases)}: {value}")
        problem = None
        if not torch.isfinite(value):
            problem = "your result is NaN or infinite"
        elif not _close(value, torch.tensor(want, dtype=torch.float64)):
            problem = next((hint for hint, w in wrong.items() if _close(value, torch.tensor(w, dtype=torch.float64))),
                           "the value differs from the reference on a hidden input")
        if problem is not None:
            return CheckResult(exercise, False, f"case {i} of {len(cases)}: {problem}")
    return CheckResult(exercise, True, f"pass ({len(cases)} hidden cases)")


# ------------------------------------------------------------------------------------------------ the checks
def smooth_one_hot(learner: Callable[[torch.Tensor, int, float], torch.Tensor]) -> CheckResult:
    """Exercise: smoothed one-hot targets q' = (1 - ε)·onehot(y) + ε/K.

    Args:
        learner: `f(target, num_classes, epsilon)` for integer class indices `target` of any shape (...), returning a
            floating tensor of shape (..., num_classes).
    """
    g = _hidden_generator("smooth_one_hot")
    cases = []
    for shape, k, eps in (((6,), 4, 0.1), ((5,), 10, 0.3), ((2, 3), 3, 0.2), ((4,), 7, 0.05)):
        target = torch.randint(0, k, shape, generator=g)
        one_hot = F.one_hot(target, k).double()  # (..., K)
        want = (1 - eps) * one_hot + eps / k
        wrong = {
            "you spread ε over the K − 1 wrong classes; here (as in PyTorch) ε is spread over all K classes":
                (1 - eps) * one_hot + eps / (k - 1) * (1 - one_hot),
            "the true class must give up a share ε of its mass before the uniform part is added":
                one_hot + eps / k,
            "ε and 1 − ε are swapped": eps * one_hot + (1 - eps) / k,
            "that is the plain one-hot: the smoothing is missing": one_hot,
            "the true class also gets its share ε/K of the uniform part":
                (1 - eps) * one_hot + eps / k * (1 - one_hot),
        }
        cases.append(((target, k, eps), want, wrong))
    return _run("smooth_one_hot", learner, cases, no_grad=True)


def optimal_logit_gap(learner: Callable[[int, float], float]) -> CheckResult:
    """Exercise: the gap between the true-class logit and the others that minimises the smoothed loss.

    Args:
        learner: `f(num_classes, epsilon)` returning the gap z_y - z_k (k ≠ y) at the optimum, a number.
    """
    cases = []
    for k, eps in ((10, 0.1), (3, 0.2), (1000, 0.05), (4, 0.5)):
        right, other = 1 - eps + eps / k, eps / k  # the optimum puts p = q'
        wrong = {
            "that is the ratio of the two probabilities; the logits differ by its logarithm": right / other,
            "the true class also receives ε/K from the uniform part": math.log((1 - eps) / other),
            "that is the gap for the ε/(K − 1) convention; here ε is spread over all K classes":
                math.log((1 - eps) / (eps / (k - 1))),
            "each wrong class gets ε/K of the mass, not ε": math.log(right / eps),
            "the sign is flipped: the true class has the larger logit": -math.log(right / other),
        }
        cases.append(((k, eps), math.log(right / other), wrong))
    return _run_scalar("optimal_logit_gap", learner, cases)


def smoothed_cross_entropy(learner: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """Exercise: the label-smoothing loss from its decomposition (1 - ε)·H(q, p) + ε·H(u, p), mean over the batch.

    Args:
        learner: `f(logits, target, epsilon)` for (N, K) logits and (N,) integer targets, returning the scalar mean
            loss (no class weights, nothing ignored).
    """
    g = _hidden_generator("smoothed_cross_entropy")
    cases = []
    for n, k, eps in ((8, 5, 0.1), (3, 10, 0.3), (16, 3, 0.2), (5, 4, 0.05)):
        logits = 3 * torch.randn(n, k, generator=g, dtype=torch.float64)
        target = torch.randint(0, k, (n,), generator=g)
        log_p = logits.log_softmax(1)
        h_qp = F.nll_loss(log_p, target)  # H(q, p)
        h_up = -log_p.mean(1).mean()  # H(u, p)
        one_hot = F.one_hot(target, k).double()
        want = (1 - eps) * h_qp + eps * h_up
        k_minus_one = (1 - eps) * one_hot + eps / (k - 1) * (1 - one_hot)
        wrong = {
            "you spread ε over the K − 1 wrong classes; here ε is spread over all K classes":
                -(k_minus_one * log_p).sum(1).mean(),
            "the one-hot term is weighted by 1 − ε": h_qp + eps * h_up,
            "you used KL(u‖p) where H(u, p) belongs: they differ by log K": want - eps * math.log(k),
            "you summed over the batch; return the mean": n * want,
            "you smoothed the predicted probabilities; smoothing applies to the targets":
                -torch.log((1 - eps) * log_p.exp() + eps / k).gather(1, target[:, None]).mean(),
            "that is plain cross-entropy: the smoothing term is missing": h_qp,
        }
        cases.append(((logits, target, eps), want.item(), {h: w.item() if torch.is_tensor(w) else w
                                                          for h, w in wrong.items()}))
    return _run_scalar("smoothed_cross_entropy", learner, cases)


def _ece_variants(probs: torch.Tensor, labels: torch.Tensor, n_bins: int) -> dict[str, float]:
    """ECE (Guo et al. 2017) and the values the usual mistakes give, keyed by their hint ("" is the right one)."""
    confidence, prediction = probs.max(1)
    correct = (prediction == labels).double()
    edges = torch.arange(1, n_bins, dtype=torch.float64) / n_bins

    def per_bin(bin_index: torch.Tensor, conf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        count = torch.bincount(bin_index, minlength=n_bins).double()
        conf_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, bin_index, conf)
        acc_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, bin_index, correct)
        return count, conf_sum, acc_sum

    def ece(bin_index: torch.Tensor, conf: torch.Tensor) -> float:
        count, conf_sum, acc_sum = per_bin(bin_index, conf)
        return ((acc_sum - conf_sum).abs().sum() / len(conf)).item()  # Σ_m |B_m|/N·|acc - conf|

    right_closed = torch.bucketize(confidence, edges)  # bins ((m-1)/M, m/M]
    count, conf_sum, acc_sum = per_bin(right_closed, confidence)
    filled = count > 0
    label_prob = probs.gather(1, labels[:, None]).squeeze(1)
    return {
        "": ece(right_closed, confidence),
        "a confidence on a bin edge belongs to the lower bin: bins are ((m − 1)/M, m/M]":
            ece(torch.bucketize(confidence, edges, right=True).clamp_max(n_bins - 1), confidence),
        "weigh each bin by its share of the samples |B_m|/N, not equally":
            ((acc_sum - conf_sum)[filled].abs() / count[filled]).mean().item(),
        "gaps of opposite sign cancelled: take |acc − conf| in each bin, then sum":
            abs((acc_sum - conf_sum).sum().item()) / len(confidence),
        "the confidence is the largest probability (the predicted class), not the label's probability":
            ece(torch.bucketize(label_prob, edges), label_prob),
    }


def expected_calibration_error(learner: Callable[[torch.Tensor, torch.Tensor, int], float]) -> CheckResult:
    """Exercise: the expected calibration error with M equal-width bins ((m - 1)/M, m/M].

    Args:
        learner: `f(probs, labels, n_bins)` for (N, C) probabilities and (N,) integer labels, returning
            ECE = Σ_m |B_m|/N · |acc(B_m) - conf(B_m)| as a number.
    """
    g = _hidden_generator("expected_calibration_error")
    problems = []
    for n, c, n_bins, scale in ((200, 5, 15, 3.0), (500, 10, 10, 5.0), (64, 3, 15, 1.0)):
        logits = scale * torch.randn(n, c, generator=g, dtype=torch.float64)
        probs = torch.softmax(logits, 1)
        labels = torch.where(torch.rand(n, generator=g) < 0.7, probs.argmax(1), torch.randint(0, c, (n,), generator=g))
        problems.append((probs, labels, n_bins))
    # confidences exactly on the edges of 4 bins (dyadic: exactly representable); predictions are class 0
    edge_conf = torch.tensor([0.5, 0.5, 0.6, 0.7, 0.75, 0.75, 0.9, 1.0], dtype=torch.float64)
    edge_probs = torch.stack([edge_conf, (1 - edge_conf) / 2, (1 - edge_conf) / 2], 1)  # (8, 3)
    edge_labels = torch.tensor([0, 0, 1, 1, 0, 0, 0, 0])
    problems.append((edge_probs, edge_labels, 4))

    cases = []
    for probs, labels, n_bins in problems:
        variants = _ece_variants(probs, labels, n_bins)
        want = variants.pop("")
        wrong = {hint: value for hint, value in variants.items() if not math.isclose(value, want, abs_tol=1e-9)}
        cases.append(((probs, labels, n_bins), want, wrong))
    return _run_scalar("expected_calibration_error", learner, cases)
