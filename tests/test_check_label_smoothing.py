"""Chapter 4's self-checks: the catalogue of answers (run by test_check_contract.py), and numbers of any type."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from catalogue import Catalogue
from mlbits_lite import check, losses, metrics


# --------------------------------------------------------------------------------------- reference solutions
def smoothed_loss_at_gap(num_classes, epsilon, gap):
    one_hot_loss = math.log1p((num_classes - 1) * math.exp(-gap))
    return one_hot_loss + (num_classes - 1) * epsilon / num_classes * gap


def distilled_smoothing(num_classes, epsilon, temperature):
    ratio = (1 - epsilon + epsilon / num_classes) / (epsilon / num_classes)
    return num_classes / (ratio ** (1 / temperature) + num_classes - 1)


def smoothed_cross_entropy(logits, target, epsilon):
    log_p = logits.log_softmax(dim=1)
    return (1 - epsilon) * F.nll_loss(log_p, target) - epsilon * log_p.mean(dim=1).mean()


def smoothing_for_confidence(num_classes, confidence):
    return (1 - confidence) * num_classes / (num_classes - 1)


def _bins(probs, labels, n_bins, low=lambda m, M: m / M, high=lambda m, M: (m + 1) / M, left_closed=False,
          confidence=None, bins=None):
    """ECE with switches for the usual slips; the defaults are the right answer."""
    top, prediction = probs.max(dim=1)
    confidence = top if confidence is None else confidence
    correct = (prediction == labels).double()
    ece = 0.0
    for m in range(n_bins) if bins is None else bins:
        if left_closed:
            in_bin = (confidence >= low(m, n_bins)) & ((confidence < high(m, n_bins)) | (m == n_bins - 1))
        else:
            in_bin = (confidence > low(m, n_bins)) & (confidence <= high(m, n_bins))
        if in_bin.any():
            ece += in_bin.double().mean() * (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
    return float(ece)


def expected_calibration_error(probs, labels, n_bins):
    return _bins(probs, labels, n_bins)


# --------------------------------------------------------------------------------------- other right answers
def ece_with_linspace_edges(probs, labels, n_bins):
    confidence, prediction = probs.max(dim=1)
    correct = (prediction == labels).double()
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    total = torch.zeros((), dtype=torch.float64)
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            total += in_bin.double().mean() * (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
    return total  # a 0-d tensor is a number too


def ece_by_bucketize(probs, labels, n_bins):
    confidence, prediction = probs.max(dim=1)
    correct = (prediction == labels).double()
    index = torch.bucketize(confidence, torch.arange(1, n_bins, dtype=torch.float64) / n_bins)  # ((m-1)/M, m/M]
    gap = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, index, correct - confidence)
    return np.float64(gap.abs().sum() / len(confidence))  # a NumPy scalar is a number too


# --------------------------------------------------------------------------------------- wrong answers
def _k_minus_one(logits, target, e):
    k = logits.shape[1]
    one_hot = F.one_hot(target, k).double()
    q = (1 - e) * one_hot + e / (k - 1) * (1 - one_hot)
    return -(q * logits.log_softmax(1)).sum(1).mean()


def _ece_unweighted(probs, labels, n_bins):
    confidence, prediction = probs.max(dim=1)
    correct = (prediction == labels).double()
    gaps = [(correct[b].mean() - confidence[b].mean()).abs() for m in range(n_bins)
            if (b := (confidence > m / n_bins) & (confidence <= (m + 1) / n_bins)).any()]
    return float(sum(gaps) / len(gaps))


def _ece_signed(probs, labels, n_bins):
    confidence, prediction = probs.max(dim=1)
    return float(((prediction == labels).double().mean() - confidence.mean()).abs())


def _ece_with_empty_bins(probs, labels, n_bins):
    confidence, prediction = probs.max(dim=1)
    correct = (prediction == labels).double()
    ece = 0.0
    for m in range(n_bins):
        in_bin = (confidence > m / n_bins) & (confidence <= (m + 1) / n_bins)
        ece += in_bin.double().mean() * (correct[in_bin].mean() - confidence[in_bin].mean()).abs()  # NaN if empty
    return float(ece)


def _ece_of_label_probability(probs, labels, n_bins):
    return _bins(probs, labels, n_bins, confidence=probs.gather(1, labels[:, None]).squeeze(1))


CATALOGUE = {
    check.smoothed_loss_at_gap: Catalogue(
        reference=smoothed_loss_at_gap,
        right=[
            # straight from the definition: build the logits and call PyTorch's loss
            lambda k, e, g: F.cross_entropy(torch.cat([torch.tensor([g]), torch.zeros(k - 1)]).double()[None],
                                            torch.tensor([0]), label_smoothing=e),
            # (1 - ε) H(q, p) + ε H(u, p) with p written out, as a NumPy scalar
            lambda k, e, g: np.float64((1 - e) * np.log1p((k - 1) * np.exp(-g))
                                       + e * (np.log(np.exp(g) + k - 1) - g / k)),
        ],
        wrong=[
            (lambda k, e, g: math.log1p((k - 1) * math.exp(-g)), "one-hot loss"),
            (lambda k, e, g: math.log1p((k - 1) * math.exp(-g)) + e * g, "K − 1"),
            (lambda k, e, g: math.log1p((k - 1) * math.exp(-g)) - (k - 1) * e / k * g, "not subtracts"),
            (lambda k, e, g: math.log1p((k - 1) * math.exp(-g)) + e / k * g, "(K − 1)·ε/K·g"),
            (lambda k, e, g: math.log1p(math.exp(-g)) + (k - 1) * e / k * g, "normaliser"),
            (lambda k, e, g: (1 - e / k) * math.log1p((k - 1) * math.exp(-g)) + (k - 1) * e / k * g, "its share"),
            (lambda k, e, g: (1 - e) * math.log1p((k - 1) * math.exp(-g)) + e * math.log(k), "uniform"),
            (lambda k, e, g: math.log1p((k - 1) * math.exp(g)) - (k - 1) * e / k * g, "other way round"),
            (lambda k, e, g: "1.2", "return a number"),
            (lambda k, e, g: 1.1 * smoothed_loss_at_gap(k, e, g), "differs"),
        ],
        mutations={"negated": "not subtracts"},
    ),
    check.distilled_smoothing: Catalogue(
        reference=distilled_smoothing,
        right=[
            # softmax(z/T) of the teacher's optimal logits log q', then ε from the wrong class's share ε/K
            lambda k, e, t: k * torch.softmax(losses.smooth_one_hot(torch.tensor(0), k, e, dtype=torch.float64).log()
                                              / t, 0)[1],
            # p^(1/T) renormalised, as a NumPy scalar: ε = 1 - (p_y - p_k), since p_y - p_k = 1 - ε
            lambda k, e, t: np.float64(1 - (lambda w, o: (w - o) / (w + (k - 1) * o))(
                (1 - e + e / k) ** (1 / t), (e / k) ** (1 / t))),
        ],
        wrong=[
            (lambda k, e, t: e, "temperature changes"),
            (lambda k, e, t: k / (((1 - e + e / k) / (e / k)) ** t + k - 1), "you multiplied"),
            (lambda k, e, t: min(1.0, e * t), "does not scale"),
            (lambda k, e, t: (k - 1) / (((1 - e + e / k) / (e / k)) ** (1 / t) + k - 1), "K − 1"),
            (lambda k, e, t: 1 - (k - 1) * distilled_smoothing(k, e, t) / k, "probability for the true class"),
            (lambda k, e, t: math.log((1 - e + e / k) / (e / k)) / t, "logit gap"),
            (lambda k, e, t: k / (((1 - e + e / k) / (e / k)) ** (1 / t) + k), "its share"),
            (lambda k, e, t: "0.1", "return a number"),
            (lambda k, e, t: 1.1 * distilled_smoothing(k, e, t), "differs"),
        ],
    ),
    check.smoothed_cross_entropy: Catalogue(
        reference=smoothed_cross_entropy,
        right=[losses.label_smoothing_cross_entropy,
               lambda x, t, e: F.cross_entropy(x, t, label_smoothing=e).item()],
        wrong=[
            (_k_minus_one, "K − 1"),
            (lambda x, t, e: F.cross_entropy(x, t) - e * x.log_softmax(1).mean(1).mean(), "weighted by 1 − ε"),
            (lambda x, t, e: smoothed_cross_entropy(x, t, e) - e * math.log(x.shape[1]), "KL"),
            (lambda x, t, e: x.shape[0] * smoothed_cross_entropy(x, t, e), "mean"),
            (lambda x, t, e: F.nll_loss(torch.log((1 - e) * x.softmax(1) + e / x.shape[1]), t),
             "predicted probabilities"),
            (lambda x, t, e: F.cross_entropy(x, t), "plain cross-entropy"),
            (lambda x, t, e: (1 - e) * F.cross_entropy(x, t) - e * x.log_softmax(1).sum(1).mean(), "you summed them"),
            (lambda x, t, e: (1 - e) * F.nll_loss(x.log_softmax(0), t) - e * x.log_softmax(0).mean(1).mean(),
             "dim 1"),
            (lambda x, t, e: torch.zeros(()), "zero"),  # one number: never "a constant factor"
        ],
    ),
    check.expected_calibration_error: Catalogue(
        reference=expected_calibration_error,
        right=[metrics.expected_calibration_error, ece_with_linspace_edges, ece_by_bucketize],
        wrong=[
            (lambda p, y, m: _bins(p, y, m, left_closed=True), "bin edge"),
            (_ece_unweighted, "share of the samples"),
            (_ece_signed, "opposite sign"),
            (_ece_of_label_probability, "largest probability"),
            (lambda p, y, m: _bins(p, y, m, bins=range(1, m)), "first bin"),  # the review's case
            (lambda p, y, m: _bins(p, y, m, bins=range(m - 1), low=lambda i, M: i / (M - 1),
                                   high=lambda i, M: (i + 1) / (M - 1)), "M + 1 edges"),
            (_ece_with_empty_bins, "empty bin"),
            (lambda p, y, m: sum((_bins(p, y, m, bins=[i]) / (((p.max(1).values > i / m)
                                                                & (p.max(1).values <= (i + 1) / m)).double().mean())
                                  for i in range(m) if ((p.max(1).values > i / m)
                                                        & (p.max(1).values <= (i + 1) / m)).any())) / m, "not 1/M"),
        ],
    ),
    check.smoothing_for_confidence: Catalogue(
        reference=smoothing_for_confidence,
        right=[lambda k, c: torch.tensor(1 - c) / (1 - 1 / k),  # a 0-d tensor, and another form: (1 - c) / (1 - 1/K)
               lambda k, c: np.float32(k * (1 - c) / (k - 1))],
        wrong=[
            (lambda k, c: 1 - c, "keeps its share"),
            (lambda k, c: (1 - c) * (k - 1) / k, "not (K − 1)/K"),
            (lambda k, c: (1 - c) * k, "divide 1 − c"),
            (lambda k, c: (1 - c) / (k - 1), "whole mass"),
            (lambda k, c: c * k / (k - 1), "not c"),
            (lambda k, c: math.log(c * (k - 1) / (1 - c)), "logit gap"),
            (lambda k, c: "0.1", "return a number"),
            (lambda k, c: 1.1 * smoothing_for_confidence(k, c), "differs"),
        ],
    ),
}


@pytest.mark.parametrize("answer", [3, 3.0, np.int64(3), np.float32(3.0), torch.tensor(3.0), torch.tensor([3]),
                                    np.array(3.0)])
def test_a_number_is_accepted_in_any_numeric_type(answer):
    result = check.smoothed_loss_at_gap(lambda k, e, g: answer)
    assert not result and "differs" in result.message  # read as a number, and simply wrong


@pytest.mark.parametrize("answer, hint", [(True, "bool"), ("3", "return a number"), (torch.tensor(True), "bool"),
                                          (None, "return a number"), (torch.ones(3), "single number")])
def test_a_bool_or_a_string_is_not_a_number(answer, hint):
    result = check.smoothed_loss_at_gap(lambda k, e, g: answer)
    assert not result and hint in result.message
