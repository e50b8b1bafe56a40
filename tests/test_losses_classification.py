"""mlbits_lite.losses (classification): smoothed targets, label-smoothing and soft-target cross-entropy."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbits_lite import losses

DTYPES = [torch.float32, torch.float64]
REDUCTIONS = ["mean", "sum", "none"]


def _problem(shape, dtype, seed=0, ignore_every=None):
    """Logits of `shape` ((C,), (N, C) or (N, C, d...)), matching integer targets, some set to -100."""
    g = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(*shape, generator=g, dtype=torch.float64)).to(dtype).requires_grad_(True)
    num_classes = shape[0] if len(shape) == 1 else shape[1]
    target_shape = () if len(shape) == 1 else shape[:1] + shape[2:]
    target = torch.randint(0, num_classes, target_shape, generator=g)
    if ignore_every and target.ndim:
        target.view(-1)[::ignore_every] = -100
    weight = (0.1 + torch.rand(num_classes, generator=g, dtype=torch.float64)).to(dtype)
    return logits, target, weight


def _value_and_grad(loss_fn, logits):
    loss = loss_fn(logits)
    (grad,) = torch.autograd.grad(loss.sum(), logits)
    return loss, grad


# ------------------------------------------------------------------------------------------------ smooth_one_hot
def test_smooth_one_hot_values():
    q = losses.smooth_one_hot(torch.tensor([2, 0]), num_classes=4, epsilon=0.2)
    expected = torch.tensor([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]])
    torch.testing.assert_close(q, expected)
    assert q.dtype == torch.float32


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 12), eps=st.floats(0, 1), batch=st.lists(st.integers(0, 4), min_size=0, max_size=3),
       seed=st.integers(0, 2**16))
def test_smooth_one_hot_is_a_distribution_mixing_one_hot_and_uniform(k, eps, batch, seed):
    target = torch.randint(0, k, tuple(batch), generator=torch.Generator().manual_seed(seed))
    q = losses.smooth_one_hot(target, k, eps, dtype=torch.float64)
    assert q.shape == (*batch, k)
    torch.testing.assert_close(q.sum(-1), torch.ones(batch, dtype=torch.float64))
    expected = (1 - eps) * F.one_hot(target, k).double() + eps / k  # q' = (1 - ε) onehot + ε/K
    torch.testing.assert_close(q, expected)
    if target.numel():
        assert (q.argmax(-1) == target).all() or eps == 1 or k == 1


def test_smooth_one_hot_ends():
    target = torch.tensor([1, 3])
    torch.testing.assert_close(losses.smooth_one_hot(target, 5, 0.0), F.one_hot(target, 5).float())
    torch.testing.assert_close(losses.smooth_one_hot(target, 5, 1.0), torch.full((2, 5), 0.2))


# ------------------------------------------------------------------------------------------------ equality with PyTorch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 2, 3), (6,)])
def test_matches_pytorch_label_smoothing(dtype, reduction, use_weight, shape):
    logits, target, weight = _problem(shape, dtype, ignore_every=3)
    weight = weight if use_weight else None
    ours, our_grad = _value_and_grad(
        lambda x: losses.label_smoothing_cross_entropy(x, target, 0.3, weight, -100, reduction), logits)
    theirs, their_grad = _value_and_grad(
        lambda x: F.cross_entropy(x, target, weight=weight, label_smoothing=0.3, reduction=reduction), logits)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(our_grad, their_grad)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 12), k=st.integers(1, 8), eps=st.floats(0, 1), ignore=st.sampled_from([-100, 0, 2]),
       use_weight=st.booleans(), reduction=st.sampled_from(REDUCTIONS), seed=st.integers(0, 2**16))
def test_matches_pytorch_on_random_problems(n, k, eps, ignore, use_weight, reduction, seed):
    logits, target, weight = _problem((n, k), torch.float64, seed)
    if ignore >= 0:
        target = torch.where(torch.arange(n) % 2 == 0, torch.tensor(ignore), target)
    weight = weight if use_weight else None
    ours = losses.label_smoothing_cross_entropy(logits, target, eps, weight, ignore, reduction)
    theirs = F.cross_entropy(logits, target, weight=weight, ignore_index=ignore, label_smoothing=eps,
                             reduction=reduction)
    torch.testing.assert_close(ours, theirs, equal_nan=True)  # all ignored with "mean": 0/0 in both


def test_module_twin_matches_function_and_pytorch_module():
    logits, target, weight = _problem((10, 4), torch.float32, ignore_every=4)
    module = losses.LabelSmoothingCrossEntropy(epsilon=0.2, weight=weight, reduction="sum")
    torch.testing.assert_close(module(logits, target),
                               losses.label_smoothing_cross_entropy(logits, target, 0.2, weight, reduction="sum"))
    torch.testing.assert_close(module(logits, target),
                               torch.nn.CrossEntropyLoss(weight, label_smoothing=0.2, reduction="sum")(logits, target))
    assert "weight" in dict(module.named_buffers())  # follows .to(device)
    assert "epsilon=0.2" in repr(module)


def test_epsilon_zero_is_plain_cross_entropy():
    logits, target, weight = _problem((9, 6), torch.float64, ignore_every=4)
    torch.testing.assert_close(losses.label_smoothing_cross_entropy(logits, target, 0.0, weight),
                               F.cross_entropy(logits, target, weight=weight))


def test_default_epsilon_is_point_one():
    logits, target, _ = _problem((5, 3), torch.float64)
    torch.testing.assert_close(losses.label_smoothing_cross_entropy(logits, target),
                               F.cross_entropy(logits, target, label_smoothing=0.1))


# ------------------------------------------------------------------------------------------------ invariants
@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 10), k=st.integers(2, 9), eps=st.floats(0, 1), seed=st.integers(0, 2**16))
def test_decomposition(n, k, eps, seed):
    # H(q', p) = (1 - ε) H(q, p) + ε H(u, p), and H(u, p) = KL(u ‖ p) + log K
    logits, target, _ = _problem((n, k), torch.float64, seed)
    log_p = logits.log_softmax(1)
    h_qp = F.nll_loss(log_p, target, reduction="none")
    h_up = -log_p.mean(1)
    kl_up = (torch.log(torch.tensor(1 / k, dtype=torch.float64)) - log_p).mean(1)  # Σ u (log u - log p)
    torch.testing.assert_close(h_up, kl_up + math.log(k))
    ours = losses.label_smoothing_cross_entropy(logits, target, eps, reduction="none")
    torch.testing.assert_close(ours, (1 - eps) * h_qp + eps * h_up)
    smoothed = losses.smooth_one_hot(target, k, eps, dtype=torch.float64)
    torch.testing.assert_close(ours, losses.soft_target_cross_entropy(logits, smoothed, reduction="none"))


@pytest.mark.parametrize("k, eps", [(10, 0.1), (100, 0.1), (7, 0.1), (3, 0.4)])
def test_minimum_is_the_entropy_of_the_smoothed_target_at_a_finite_gap(k, eps):
    # optimum: p = q', logit gap log((1 - ε + ε/K) / (ε/K)), loss H(q') > 0
    gap = math.log((1 - eps + eps / k) / (eps / k))
    logits = torch.zeros(1, k, dtype=torch.float64)
    logits[0, 0] = gap
    target = torch.tensor([0])
    q = losses.smooth_one_hot(target, k, eps, dtype=torch.float64)
    entropy = -(q * q.log()).sum()
    loss = losses.label_smoothing_cross_entropy(logits.requires_grad_(True), target, eps)
    torch.testing.assert_close(loss, entropy)
    (grad,) = torch.autograd.grad(loss, logits)
    torch.testing.assert_close(grad, torch.zeros_like(grad), atol=1e-12, rtol=0)  # a stationary point
    for delta in (-0.5, 0.5):  # and a minimum along the gap
        moved = logits.detach().clone()
        moved[0, 0] += delta
        assert losses.label_smoothing_cross_entropy(moved, target, eps) > loss


def test_minimum_loss_reference_value():
    # references.md: K = 7, ε = 0.1 -> H(q') = 0.44609
    q = losses.smooth_one_hot(torch.tensor([0]), 7, 0.1, dtype=torch.float64)
    assert -(q * q.log()).sum().item() == pytest.approx(0.44609, abs=1e-5)


def test_ignored_samples_get_no_gradient_even_with_infinite_logits():
    logits = torch.tensor([[0.0, 1.0], [float("-inf"), 0.0]], requires_grad=True)
    target = torch.tensor([1, -100])
    loss = losses.label_smoothing_cross_entropy(logits, target, 0.1)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert (logits.grad[1] == 0).all()


# ------------------------------------------------------------------------------------------------ soft targets
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
def test_epsilon_zero_with_a_class_masked_by_minus_infinity_matches_pytorch(reduction, use_weight):
    # a -inf logit masks a class: without smoothing its -log p = inf must not enter as 0·inf = NaN
    logits, target, weight = _problem((6, 4), torch.float64, seed=3)
    logits = logits.detach().clone()
    logits[:, 3] = -math.inf
    target = target % 3  # no target is the masked class
    w = weight if use_weight else None
    ours = losses.label_smoothing_cross_entropy(logits, target, 0.0, weight=w, reduction=reduction)
    expected = F.cross_entropy(logits, target, weight=w, label_smoothing=0.0, reduction=reduction)
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours, expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
def test_uint8_targets_are_accepted_like_pytorch(reduction, use_weight):
    logits, target, weight = _problem((8, 5), torch.float64, seed=4)
    w = weight if use_weight else None
    ours = losses.label_smoothing_cross_entropy(logits, target.to(torch.uint8), 0.2, weight=w, reduction=reduction)
    torch.testing.assert_close(ours, F.cross_entropy(logits, target, weight=w, label_smoothing=0.2,
                                                     reduction=reduction))
    if not use_weight:  # F itself takes uint8 targets here (with weights and the mean it fails in its own gather)
        torch.testing.assert_close(ours, F.cross_entropy(logits, target.to(torch.uint8), label_smoothing=0.2,
                                                         reduction=reduction))


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 1.0])
def test_mean_over_zero_total_weight_is_nan_like_pytorch(epsilon):
    # every target's class weighs 0 while other classes do not: the weighted mean divides by 0 and is undefined
    logits, _, _ = _problem((5, 3), torch.float64, seed=5)
    target = torch.zeros(5, dtype=torch.int64)
    weight = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    ours = losses.label_smoothing_cross_entropy(logits, target, epsilon, weight=weight)
    expected = F.cross_entropy(logits, target, weight=weight, label_smoothing=epsilon)
    assert torch.isnan(expected) and torch.isnan(ours)
    all_ignored = torch.full((5,), -100)
    assert torch.isnan(losses.label_smoothing_cross_entropy(logits, all_ignored, epsilon))
    assert torch.isnan(F.cross_entropy(logits, all_ignored, label_smoothing=epsilon))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(8, 5), (3, 4, 2, 2), (6,)])
def test_soft_target_matches_pytorch_probability_targets(dtype, reduction, shape):
    logits, _, _ = _problem(shape, dtype, seed=1)
    class_dim = 0 if len(shape) == 1 else 1
    soft = torch.softmax(torch.randn(shape, generator=torch.Generator().manual_seed(2)), class_dim).to(dtype)
    ours, our_grad = _value_and_grad(lambda x: losses.soft_target_cross_entropy(x, soft, reduction), logits)
    theirs, their_grad = _value_and_grad(lambda x: F.cross_entropy(x, soft, reduction=reduction), logits)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(our_grad, their_grad)
    module = losses.SoftTargetCrossEntropy(reduction)
    torch.testing.assert_close(module(logits, soft), ours)


def test_probability_path_with_smoothing_is_soft_target_on_smoothed_targets():
    logits, target, weight = _problem((7, 4), torch.float64)
    one_hot = F.one_hot(target, 4).double()
    smoothed = losses.smooth_one_hot(target, 4, 0.2, dtype=torch.float64)
    torch.testing.assert_close(F.cross_entropy(logits, one_hot, label_smoothing=0.2),
                               losses.soft_target_cross_entropy(logits, smoothed))
    # without weights the two PyTorch paths agree; with weights they normalise differently
    torch.testing.assert_close(F.cross_entropy(logits, one_hot, label_smoothing=0.2),
                               losses.label_smoothing_cross_entropy(logits, target, 0.2))
    index_path = losses.label_smoothing_cross_entropy(logits, target, 0.2, weight)
    probability_path = F.cross_entropy(logits, one_hot, weight=weight, label_smoothing=0.2)
    assert not torch.isclose(index_path, probability_path)
    torch.testing.assert_close(index_path * weight[target].sum() / 7, probability_path)  # mean over N vs Σ w_y


# ------------------------------------------------------------------------------------------------ bad inputs
LOGITS, TARGET = torch.zeros(3, 4), torch.tensor([0, 1, 3])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"logits": [[0.0]]}, TypeError, "logits"),
    ({"logits": torch.zeros(3, 4, dtype=torch.long)}, TypeError, "logits"),
    ({"logits": torch.tensor(1.0)}, ValueError, "logits"),
    ({"target": TARGET.float()}, TypeError, "target"),
    ({"target": torch.tensor([0, 1])}, ValueError, "target must have shape"),
    ({"target": torch.tensor([0, 1, 4])}, ValueError, "target must hold class indices"),
    ({"target": torch.tensor([0, -1, 2])}, ValueError, "target must hold class indices"),
    ({"epsilon": 1.5}, ValueError, "epsilon"),
    ({"epsilon": -0.1}, ValueError, "epsilon"),
    ({"epsilon": "0.1"}, TypeError, "epsilon"),
    ({"weight": torch.ones(3)}, ValueError, "weight"),
    ({"weight": torch.ones(4, dtype=torch.long)}, TypeError, "weight"),
    ({"weight": torch.ones(2, 2)}, ValueError, "weight"),
    ({"ignore_index": 1.0}, TypeError, "ignore_index"),
    ({"reduction": "avg"}, ValueError, "reduction"),
])
def test_label_smoothing_bad_inputs(kwargs, error, match):
    args = {"logits": LOGITS, "target": TARGET} | kwargs
    with pytest.raises(error, match=match):
        losses.label_smoothing_cross_entropy(**args)


@pytest.mark.parametrize("args, error, match", [
    ((torch.tensor([1, 3]), 3, 0.1), ValueError, "target must hold class indices"),
    ((torch.tensor([-1]), 3, 0.1), ValueError, "target"),
    ((torch.tensor([1.0]), 3, 0.1), TypeError, "target"),
    ((torch.tensor([1]), 0, 0.1), ValueError, "num_classes"),
    ((torch.tensor([1]), 3.0, 0.1), TypeError, "num_classes"),
    ((torch.tensor([1]), 3, 1.01), ValueError, "epsilon"),
    ((torch.tensor([1]), 3, float("nan")), ValueError, "epsilon"),
])
def test_smooth_one_hot_bad_inputs(args, error, match):
    with pytest.raises(error, match=match):
        losses.smooth_one_hot(*args)


def test_smooth_one_hot_bad_dtype():
    with pytest.raises(TypeError, match="dtype"):
        losses.smooth_one_hot(torch.tensor([1]), 3, 0.1, dtype=torch.int64)


@pytest.mark.parametrize("logits, soft, reduction, error, match", [
    (torch.zeros(2, 3), torch.zeros(2, 4), "mean", ValueError, "soft_targets must have the shape"),
    (torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long), "mean", TypeError, "soft_targets"),
    (torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3), "mean", TypeError, "logits"),
    (torch.zeros(2, 3), torch.zeros(2, 3), "max", ValueError, "reduction"),
])
def test_soft_target_bad_inputs(logits, soft, reduction, error, match):
    with pytest.raises(error, match=match):
        losses.soft_target_cross_entropy(logits, soft, reduction)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"epsilon": 2.0}, ValueError, "epsilon"),
    ({"weight": torch.ones(2, 2)}, ValueError, "weight"),
    ({"weight": [1.0, 2.0]}, TypeError, "weight"),
    ({"reduction": "avg"}, ValueError, "reduction"),
])
def test_modules_validate_at_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        losses.LabelSmoothingCrossEntropy(**kwargs)
    if "reduction" in kwargs:
        with pytest.raises(error, match=match):
            losses.SoftTargetCrossEntropy(**kwargs)
