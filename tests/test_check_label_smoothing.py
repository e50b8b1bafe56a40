"""Self-checks of chapter 4: right answers pass, typical mistakes get their hint, no hint leaks the answer."""
from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F

from mlbits_lite import check, losses, metrics


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d+\.\d+", text)


# --------------------------------------------------------------------------------------- reference solutions
def smooth_one_hot(target, num_classes, epsilon):
    return (1 - epsilon) * F.one_hot(target, num_classes).double() + epsilon / num_classes


def optimal_logit_gap(num_classes, epsilon):
    return math.log((1 - epsilon + epsilon / num_classes) / (epsilon / num_classes))


def smoothed_cross_entropy(logits, target, epsilon):
    log_p = logits.log_softmax(dim=1)
    return (1 - epsilon) * F.nll_loss(log_p, target) - epsilon * log_p.mean(dim=1).mean()


def expected_calibration_error(probs, labels, n_bins):
    confidence, prediction = probs.max(dim=1)
    correct = (prediction == labels).double()
    ece = 0.0
    for m in range(n_bins):
        in_bin = (confidence > m / n_bins) & (confidence <= (m + 1) / n_bins)
        if in_bin.any():
            ece += in_bin.double().mean() * (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
    return float(ece)


CASES = [
    (check.smooth_one_hot, smooth_one_hot),
    (check.optimal_logit_gap, optimal_logit_gap),
    (check.smoothed_cross_entropy, smoothed_cross_entropy),
    (check.expected_calibration_error, expected_calibration_error),
]
IDS = ["smooth_one_hot", "optimal_logit_gap", "smoothed_cross_entropy", "expected_calibration_error"]


def test_library_functions_pass_too():
    assert check.smooth_one_hot(lambda t, k, e: losses.smooth_one_hot(t, k, e, dtype=torch.float64))
    assert check.smoothed_cross_entropy(losses.label_smoothing_cross_entropy)
    assert check.expected_calibration_error(metrics.expected_calibration_error)


def test_float32_and_tensor_answers_pass():
    assert check.smooth_one_hot(lambda t, k, e: smooth_one_hot(t, k, e).float())
    assert check.optimal_logit_gap(lambda k, e: torch.tensor(optimal_logit_gap(k, e)))
    assert check.expected_calibration_error(lambda p, y, m: torch.tensor(expected_calibration_error(p, y, m)))


def test_ece_with_linspace_edges_passes():
    def ece(probs, labels, n_bins):
        confidence, prediction = probs.max(dim=1)
        correct = (prediction == labels).double()
        edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
        total = torch.zeros((), dtype=torch.float64)
        for low, high in zip(edges[:-1], edges[1:]):
            in_bin = (confidence > low) & (confidence <= high)
            if in_bin.any():
                total += in_bin.double().mean() * (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
        return total

    assert check.expected_calibration_error(ece)


@pytest.mark.parametrize("wrong, hint", [
    (lambda t, k, e: (1 - e) * F.one_hot(t, k).double() + e / (k - 1) * (1 - F.one_hot(t, k).double()), "K − 1"),
    (lambda t, k, e: F.one_hot(t, k).double() + e / k, "give up a share"),
    (lambda t, k, e: e * F.one_hot(t, k).double() + (1 - e) / k, "swapped"),
    (lambda t, k, e: F.one_hot(t, k).double(), "smoothing is missing"),
    (lambda t, k, e: (1 - e) * F.one_hot(t, k).double() + e / k * (1 - F.one_hot(t, k).double()), "its share"),
    (lambda t, k, e: F.one_hot(t, k).long(), "floating-point"),
    (lambda t, k, e: smooth_one_hot(t, k, e).reshape(-1), "shape"),
])
def test_smooth_one_hot_mistakes_get_their_hint(wrong, hint):
    result = check.smooth_one_hot(wrong)
    assert not result and hint in result.message, result.message


@pytest.mark.parametrize("wrong, hint", [
    (lambda k, e: (1 - e + e / k) / (e / k), "logarithm"),
    (lambda k, e: math.log((1 - e) / (e / k)), "also receives"),
    (lambda k, e: math.log((1 - e) / (e / (k - 1))), "K − 1"),
    (lambda k, e: math.log((1 - e + e / k) / e), "not ε"),
    (lambda k, e: -optimal_logit_gap(k, e), "sign"),
    (lambda k, e: math.inf, "infinite"),
    (lambda k, e: "4.5", "return a number"),
    (lambda k, e: torch.ones(2), "single number"),
    (lambda k, e: 1.1 * optimal_logit_gap(k, e), "differs"),
])
def test_optimal_logit_gap_mistakes_get_their_hint(wrong, hint):
    result = check.optimal_logit_gap(wrong)
    assert not result and hint in result.message, result.message


def _k_minus_one_loss(logits, target, e):
    k = logits.shape[1]
    one_hot = F.one_hot(target, k).double()
    q = (1 - e) * one_hot + e / (k - 1) * (1 - one_hot)
    return -(q * logits.log_softmax(1)).sum(1).mean()


@pytest.mark.parametrize("wrong, hint", [
    (_k_minus_one_loss, "K − 1"),
    (lambda x, t, e: F.cross_entropy(x, t) - e * x.log_softmax(1).mean(1).mean(), "weighted by 1 − ε"),
    (lambda x, t, e: smoothed_cross_entropy(x, t, e) - e * math.log(x.shape[1]), "KL"),
    (lambda x, t, e: x.shape[0] * smoothed_cross_entropy(x, t, e), "mean"),
    (lambda x, t, e: F.nll_loss(torch.log((1 - e) * x.softmax(1) + e / x.shape[1]), t), "predicted probabilities"),
    (lambda x, t, e: F.cross_entropy(x, t), "plain cross-entropy"),
])
def test_smoothed_cross_entropy_mistakes_get_their_hint(wrong, hint):
    result = check.smoothed_cross_entropy(wrong)
    assert not result and hint in result.message, result.message


def _ece_left_closed(probs, labels, n_bins):
    confidence, prediction = probs.max(dim=1)
    correct = (prediction == labels).double()
    ece = 0.0
    for m in range(n_bins):
        in_bin = (confidence >= m / n_bins) & ((confidence < (m + 1) / n_bins) | (m == n_bins - 1))
        if in_bin.any():
            ece += in_bin.double().mean() * (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
    return float(ece)


def _ece_unweighted(probs, labels, n_bins):
    confidence, prediction = probs.max(dim=1)
    correct = (prediction == labels).double()
    gaps = [(correct[b].mean() - confidence[b].mean()).abs() for m in range(n_bins)
            if (b := (confidence > m / n_bins) & (confidence <= (m + 1) / n_bins)).any()]
    return float(sum(gaps) / len(gaps))


def _ece_signed(probs, labels, n_bins):
    confidence, prediction = probs.max(dim=1)
    return float(((prediction == labels).double().mean() - confidence.mean()).abs())


def _ece_label_probability(probs, labels, n_bins):
    confidence = probs.gather(1, labels[:, None]).squeeze(1)  # the label's probability, not the largest
    correct = (probs.argmax(1) == labels).double()
    ece = 0.0
    for m in range(n_bins):
        in_bin = (confidence > m / n_bins) & (confidence <= (m + 1) / n_bins)
        if in_bin.any():
            ece += in_bin.double().mean() * (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
    return float(ece)


@pytest.mark.parametrize("wrong, hint", [
    (_ece_left_closed, "bin edge"),
    (_ece_unweighted, "share of the samples"),
    (_ece_signed, "opposite sign"),
    (_ece_label_probability, "largest probability"),
])
def test_ece_mistakes_get_their_hint(wrong, hint):
    result = check.expected_calibration_error(wrong)
    assert not result and hint in result.message, result.message


def test_no_message_contains_a_number_from_the_reference():
    for run_check, solution in CASES:
        for wrong in (lambda *a, s=solution: 1.5 * s(*a), lambda *a, s=solution: s(*a) + 0.25):
            message = run_check(wrong).message
            assert _numbers(message) == [], message


def test_hidden_cases_are_deterministic():
    wrong = lambda t, k, e: 1.1 * smooth_one_hot(t, k, e)  # noqa: E731
    assert check.smooth_one_hot(wrong).message == check.smooth_one_hot(wrong).message
