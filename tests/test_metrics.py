"""mlbits_lite.metrics: accuracy, reliability bins and expected calibration error."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbits_lite import metrics


# ------------------------------------------------------------------------------------------------ accuracy
def test_accuracy_from_scores():
    scores = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.1, 0.2, 0.7], [5.0, 0.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 2])
    assert metrics.accuracy(scores, labels) == 0.5
    assert metrics.accuracy(torch.softmax(scores, 1), labels) == 0.5  # probabilities: same argmax


def test_accuracy_from_predicted_labels():
    assert metrics.accuracy(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 2])) == 0.75


def test_accuracy_returns_python_float():
    value = metrics.accuracy(torch.eye(3), torch.arange(3))
    assert type(value) is float and value == 1.0


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), c=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_accuracy_matches_numpy(n, c, seed):
    g = torch.Generator().manual_seed(seed)
    scores, labels = torch.randn(n, c, generator=g), torch.randint(0, c, (n,), generator=g)
    expected = float(np.mean(scores.numpy().argmax(1) == labels.numpy()))
    assert metrics.accuracy(scores, labels) == pytest.approx(expected)


@pytest.mark.parametrize("scores, labels, error, message", [
    ([[1.0, 0.0]], torch.tensor([0]), TypeError, "scores must be a torch.Tensor"),
    (torch.ones(2, 2), [0, 1], TypeError, "labels must be a torch.Tensor"),
    (torch.ones(2, 2), torch.tensor([0.0, 1.0]), TypeError, "labels must be an integer tensor"),
    (torch.ones(2, 2), torch.tensor([True, False]), TypeError, "labels must be an integer tensor"),
    (torch.ones(2), torch.tensor([0, 1]), TypeError, "1-D scores must be integer"),
    (torch.ones(2, 2, 2), torch.tensor([0, 1]), ValueError, "scores must be 1-D or 2-D"),
    (torch.ones(3, 2), torch.tensor([0, 1]), ValueError, "labels must have 3 entries"),
    (torch.ones(2, 2), torch.tensor([[0, 1]]), ValueError, "labels must be 1-D"),
    (torch.ones(2, 2), torch.tensor([0, 2]), ValueError, r"labels must lie in \[0, 2\)"),
    (torch.ones(2, 2), torch.tensor([-1, 0]), ValueError, "labels must lie in"),
    (torch.ones(0, 2), torch.zeros(0, dtype=torch.long), ValueError, "at least one sample"),
    (torch.tensor([[0.0, float("nan")]]), torch.tensor([0]), ValueError, "NaN"),
])
def test_accuracy_bad_inputs(scores, labels, error, message):
    with pytest.raises(error, match=message):
        metrics.accuracy(scores, labels)


# ------------------------------------------------------------------------------------------------ calibration
def _reference_bins(probs, labels, n_bins):
    """A direct loop over Guo et al.'s bins ((m-1)/M, m/M], in NumPy."""
    conf, pred = probs.max(1), probs.argmax(1)
    correct = pred == labels
    out = []
    for m in range(1, n_bins + 1):
        low, high = (m - 1) / n_bins, m / n_bins
        inside = (conf > low) & (conf <= high) if m > 1 else (conf >= 0) & (conf <= high)
        k = inside.sum()
        out.append((conf[inside].mean() if k else math.nan, correct[inside].mean() if k else math.nan, k))
    return [np.array(col) for col in zip(*out)]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 60), c=st.integers(2, 5), n_bins=st.integers(1, 20), seed=st.integers(0, 2**16))
def test_reliability_bins_match_loop(n, c, n_bins, seed):
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(3 * torch.randn(n, c, generator=g, dtype=torch.float64), 1)
    labels = torch.randint(0, c, (n,), generator=g)
    conf, acc, count = metrics.reliability_bins(probs, labels, n_bins)
    ref_conf, ref_acc, ref_count = _reference_bins(probs.numpy(), labels.numpy(), n_bins)
    np.testing.assert_array_equal(count.numpy(), ref_count)
    np.testing.assert_allclose(conf.numpy(), ref_conf)
    np.testing.assert_allclose(acc.numpy(), ref_acc)
    assert count.sum() == n
    expected_ece = np.nansum(ref_count / n * np.abs(ref_acc - ref_conf))
    assert metrics.expected_calibration_error(probs, labels, n_bins) == pytest.approx(expected_ece, abs=1e-12)


def test_bin_edges_are_right_closed():
    probs = torch.tensor([[0.5, 0.5], [0.6, 0.4], [1.0, 0.0]])  # confidences 0.5, 0.6, 1.0
    labels = torch.tensor([0, 0, 1])
    conf, acc, count = metrics.reliability_bins(probs, labels, n_bins=2)  # bins (0, 0.5], (0.5, 1]
    assert count.tolist() == [1, 2]
    torch.testing.assert_close(conf, torch.tensor([0.5, 0.8], dtype=torch.float64))
    torch.testing.assert_close(acc, torch.tensor([1.0, 0.5], dtype=torch.float64))


@pytest.mark.parametrize("n_bins", [3, 5, 10, 15, 20])
def test_confidence_on_an_edge_goes_to_the_lower_bin(n_bins):
    edges = torch.arange(1, n_bins + 1, dtype=torch.float64) / n_bins  # m/M, the right edge of bin m
    edges = edges[edges >= 0.5]  # a max-probability of two classes is >= 1/2
    probs = torch.stack([edges, 1 - edges], dim=1)
    _, _, count = metrics.reliability_bins(probs, torch.zeros(len(edges), dtype=torch.long), n_bins)
    expected = torch.zeros(n_bins, dtype=torch.long)
    expected[(edges * n_bins).round().long() - 1] = 1
    assert count.tolist() == expected.tolist()


def test_empty_bins_are_nan_and_weigh_nothing():
    probs = torch.tensor([[0.95, 0.05], [0.95, 0.05]])
    conf, acc, count = metrics.reliability_bins(probs, torch.tensor([0, 1]), n_bins=10)
    assert count.tolist() == [0] * 9 + [2]
    assert torch.isnan(conf[:9]).all() and torch.isnan(acc[:9]).all()
    assert metrics.expected_calibration_error(probs, torch.tensor([0, 1]), n_bins=10) == pytest.approx(0.45)


def test_perfectly_confident_and_right_has_zero_ece():
    labels = torch.tensor([2, 0, 1, 1])
    probs = torch.nn.functional.one_hot(labels, 3).double()
    assert metrics.expected_calibration_error(probs, labels) == 0.0


def test_default_is_15_bins():
    conf, acc, count = metrics.reliability_bins(torch.full((4, 2), 0.5), torch.zeros(4, dtype=torch.long))
    assert conf.shape == acc.shape == count.shape == (15,)
    assert conf.dtype == acc.dtype == torch.float64 and count.dtype == torch.int64


@pytest.mark.parametrize("fn", [metrics.reliability_bins, metrics.expected_calibration_error])
@pytest.mark.parametrize("probs, labels, n_bins, error, message", [
    (torch.tensor([[1, 0]]), torch.tensor([0]), 15, TypeError, "probs must be a floating-point tensor"),
    (torch.tensor([0.5, 0.5]), torch.tensor([0]), 15, ValueError, "probs must be 2-D"),
    (torch.tensor([[2.0, -1.0]]), torch.tensor([0]), 15, ValueError, "probs must be probabilities"),
    (torch.tensor([[float("nan"), 0.5]]), torch.tensor([0]), 15, ValueError, "probs must be probabilities"),
    (torch.tensor([[0.5, 0.5]]), torch.tensor([0.0]), 15, TypeError, "labels must be an integer tensor"),
    (torch.tensor([[0.5, 0.5]]), torch.tensor([0, 1]), 15, ValueError, "labels must have 1 entries"),
    (torch.tensor([[0.5, 0.5]]), torch.tensor([2]), 15, ValueError, "labels must lie in"),
    (torch.tensor([[0.5, 0.5]]), torch.tensor([0]), 0, ValueError, "n_bins must be a positive int"),
    (torch.tensor([[0.5, 0.5]]), torch.tensor([0]), 1.5, TypeError, "n_bins must be an int"),
    (torch.zeros(0, 2), torch.zeros(0, dtype=torch.long), 15, ValueError, "at least one sample"),
])
def test_calibration_bad_inputs(fn, probs, labels, n_bins, error, message):
    with pytest.raises(error, match=message):
        fn(probs, labels, n_bins)


def test_perfectly_calibrated_predictor_has_ece_near_zero():
    # labels drawn from the predicted distribution itself: P(label = prediction | p) = max p, so ECE -> 0
    g = torch.Generator().manual_seed(0)
    logits = 2 * torch.randn(100_000, 5, generator=g, dtype=torch.float64)
    probs = torch.softmax(logits, 1)
    labels = torch.multinomial(probs, 1, generator=g).squeeze(1)
    assert metrics.expected_calibration_error(probs, labels) < 0.01  # sampling noise only
    overconfident = torch.softmax(2 * logits, 1)  # same argmax, sharper: confidence exceeds accuracy
    assert metrics.expected_calibration_error(overconfident, labels) > 0.05
    conf, acc, count = metrics.reliability_bins(overconfident, labels)
    filled = count > 1000
    assert (conf[filled] >= acc[filled]).all()
