"""Self-checks for chapter 4: label smoothing, its optimum, and calibration."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ._framework import NUMBER, Case, CheckResult, _hidden_generator, as_number, run

__all__ = ["smoothed_loss_at_gap", "distilled_smoothing", "smoothed_cross_entropy", "expected_calibration_error",
           "smoothing_for_confidence"]


# ------------------------------------------------------------------------------------------------ the checks
def smoothed_loss_at_gap(learner: Callable[[int, float, float], float]) -> CheckResult:
    """Exercise: the smoothed loss (ε/K convention) of logits whose true class leads every other class by `gap`.

    Args:
        learner: `f(num_classes, epsilon, gap)` returning the loss as a number; the K - 1 other logits are equal and
            `gap` = z_y - z_k may be any real number.
    """
    cases = []
    for k, eps, gap in ((10, 0.1, 3.0), (3, 0.2, 0.5), (1000, 0.05, 12.0), (4, 0.3, -1.0), (2, 0.4, 6.0)):
        one_hot_loss = math.log1p((k - 1) * math.exp(-gap))  # -log p_y = log(1 + (K - 1) e^{-g})
        slope = (k - 1) * eps / k  # the wrong classes' mass, each paying -log p_k = -log p_y + g
        want = one_hot_loss + slope * gap
        wrong = {
            "that is the one-hot loss: the mass the wrong classes get adds a term that grows with the gap":
                one_hot_loss,
            "that is the ε/(K − 1) convention (every wrong class gets ε/(K − 1)); here ε is spread over all K classes":
                one_hot_loss + eps * gap,
            "the wrong classes' term pushes the gap down: −log p_k = −log p_y + g, so it adds, not subtracts":
                one_hot_loss - slope * gap,
            "there are K − 1 wrong classes, each with target ε/K: their term is (K − 1)·ε/K·g": one_hot_loss + eps / k * gap,
            "the normaliser sums over all K − 1 wrong classes: −log p_y = log(1 + (K − 1)e^(−g))":
                math.log1p(math.exp(-gap)) + slope * gap,
            "the true class's target is 1 − ε + ε/K; you left out its share ε/K of the uniform part":
                (1 - eps / k) * one_hot_loss + slope * gap,
            "H(u, p) equals log K only when p is uniform; here p depends on the gap":
                (1 - eps) * one_hot_loss + eps * math.log(k),
            "the gap is z_y − z_k, the true class's lead; you used it the other way round":
                math.log1p((k - 1) * math.exp(gap)) - slope * gap,
        }
        cases.append(Case((k, eps, gap), want, wrong))
    return run("smoothed_loss_at_gap", learner, cases, answer=NUMBER)


def distilled_smoothing(learner: Callable[[int, float, float], float]) -> CheckResult:
    """Exercise: the ε (ε/K convention) of the soft target softmax(z/T) of a teacher at the smoothed loss's optimum.

    Args:
        learner: `f(num_classes, epsilon, temperature)` for a teacher trained with `epsilon` whose logits are
            z = log q' + c, returning the ε of its targets at `temperature` as a number.
    """
    cases = []
    for k, eps, t in ((10, 0.1, 2.0), (3, 0.2, 0.5), (1000, 0.05, 4.0), (4, 0.3, 1.5), (2, 0.4, 10.0)):
        ratio = (1 - eps + eps / k) / (eps / k)  # e^{g*}: the teacher's p_y / p_k
        softened = ratio ** (1 / t)  # softmax(z/T): the gap g*/T
        want = k / (softened + k - 1)  # solves (1 - ε_T + ε_T/K) / (ε_T/K) = e^{g*/T}
        wrong = {
            "the temperature changes the target: softmax(z/T) divides the teacher's logit gap by T": eps,
            "the temperature divides the logits, softmax(z/T); you multiplied them": k / (ratio ** t + k - 1),
            "ε does not scale with T; the gap of the logits does: g*/T": min(1.0, eps * t),
            "that is the ε of the ε/(K − 1) convention; here ε is spread over all K classes":
                (k - 1) / (softened + k - 1),
            "that is the target's probability for the true class; convert it to ε": softened / (softened + k - 1),
            "that is the softened logit gap g*/T; convert it to ε": math.log(ratio) / t,
            "the true class's target is 1 − ε + ε/K, not 1 − ε: it also gets its share of the uniform part":
                k / (softened + k),
        }
        cases.append(Case((k, eps, t), want, wrong))
    return run("distilled_smoothing", learner, cases, answer=NUMBER)


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
            "H(u, p) averages -log p_k over the K classes; you summed them": (1 - eps) * h_qp + eps * k * h_up,
            "the softmax runs over the classes (dim 1), not over the batch":
                (1 - eps) * F.nll_loss(logits.log_softmax(0), target) - eps * logits.log_softmax(0).mean(1).mean(),
        }
        cases.append(Case((logits, target, eps), want.item(), {h: float(w) for h, w in wrong.items()}))
    return run("smoothed_cross_entropy", learner, cases, answer=NUMBER)


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
    fewer_edges = torch.arange(1, n_bins - 1, dtype=torch.float64) / (n_bins - 1)  # linspace(0, 1, M): M - 1 bins
    return {
        "": ece(right_closed, confidence),
        "the first bin (0, 1/M] counts too: you skipped it":
            ((acc_sum - conf_sum)[1:].abs().sum() / len(confidence)).item(),
        "linspace(0, 1, M) gives M - 1 bins: the M bins need M + 1 edges":
            ece(torch.bucketize(confidence, fewer_edges), confidence),
        "weigh each bin by its share of the samples |B_m|/N, not 1/M":
            ((acc_sum - conf_sum)[filled].abs() / count[filled]).sum().item() / n_bins,
        "a confidence on a bin edge belongs to the lower bin: bins are ((m − 1)/M, m/M]":
            ece(torch.bucketize(confidence, edges, right=True).clamp_max(n_bins - 1), confidence),
        "weigh each bin by its share of the samples |B_m|/N, not equally over the bins that hold samples":
            ((acc_sum - conf_sum)[filled].abs() / count[filled]).mean().item(),
        "gaps of opposite sign cancelled: take |acc − conf| in each bin, then sum":
            abs((acc_sum - conf_sum).sum().item()) / len(confidence),
        "the confidence is the largest probability (the predicted class), not the label's probability":
            ece(torch.bucketize(label_prob, edges), label_prob),
    }


def _diagnose_ece(got: object, case: Case, results: list) -> tuple[int, str] | None:
    value = as_number(got)
    if isinstance(value, float) and math.isnan(value):
        return 1, "your result is NaN: is it the mean over an empty bin? An empty bin contributes nothing"
    return NUMBER.diagnose(got, case, ())


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
    # many classes and few bins, confidences from near-uniform to sure: the first bin (0, 1/M] is full
    logits = torch.linspace(0.1, 4, 120, dtype=torch.float64)[:, None] * torch.randn(120, 20, generator=g,
                                                                                     dtype=torch.float64)
    probs = torch.softmax(logits, 1)
    labels = torch.where(torch.rand(120, generator=g) < 0.5, probs.argmax(1), torch.randint(0, 20, (120,), generator=g))
    problems.append((probs, labels, 5))

    cases = []
    for probs, labels, n_bins in problems:
        variants = _ece_variants(probs, labels, n_bins)
        want = variants.pop("")
        cases.append(Case((probs, labels, n_bins), want, variants))
    return run("expected_calibration_error", learner, cases, answer=_diagnose_ece)


def smoothing_for_confidence(learner: Callable[[int, float], float]) -> CheckResult:
    """Exercise: the ε (ε/K convention) whose loss optimum gives the true class probability `confidence`.

    Args:
        learner: `f(num_classes, confidence)` for 1/K < confidence < 1, returning ε as a number.
    """
    cases = []
    for k, c in ((10, 0.9), (3, 0.8), (5, 0.7), (4, 0.6)):
        want = (1 - c) * k / (k - 1)  # solves 1 - ε + ε/K = c
        wrong = {
            "the true class keeps its share ε/K of the uniform part (1 − c is the ε of the ε/(K − 1) convention)":
                1 - c,
            "the factor is K/(K − 1), not (K − 1)/K": (1 - c) * (k - 1) / k,
            "1 − ε + ε/K = 1 − ε(K − 1)/K: divide 1 − c by (K − 1)/K": (1 - c) * k,
            "ε is the whole mass taken from the label, not one class's share ε/K": (1 - c) / (k - 1),
            "ε multiplies 1 − c, the mass left for the other classes, not c": c * k / (k - 1),
            "that is the optimal logit gap for this confidence, not ε": math.log(c / ((1 - c) / (k - 1))),
        }
        cases.append(Case((k, c), want, wrong))
    return run("smoothing_for_confidence", learner, cases, answer=NUMBER)
