"""mlbits_lite.losses regression part: Huber and Smooth L1 against PyTorch's built-ins, their relation and limits."""
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbits_lite import losses
from mlbits_lite.losses import HuberLoss, SmoothL1Loss, huber_loss, smooth_l1_loss

REDUCTIONS = ("none", "mean", "sum")
DTYPES = (torch.float32, torch.float64)
# per-dtype tolerances: float32 sums of a few hundred terms agree to a few ulps
TOL = {torch.float32: dict(rtol=1e-5, atol=1e-6), torch.float64: dict(rtol=1e-12, atol=1e-14)}


def _pair(shape=(7, 5), dtype=torch.float64, scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)
    y = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
    return x, y


def _value_and_grads(fn, x, y, **kwargs):
    x = x.detach().requires_grad_(True)
    y = y.detach().requires_grad_(True)
    out = fn(x, y, **kwargs)
    weights = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).reshape(out.shape)  # a non-trivial v
    gx, gy = torch.autograd.grad((out * weights).sum(), (x, y))
    return out.detach(), gx, gy


def _assert_same(ours, theirs, dtype):
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape
        torch.testing.assert_close(a, b, **TOL[dtype])


# ------------------------------------------------------------------------------------------- equality with PyTorch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1e-3, 0.5, 1.0, 2.5, 100.0])
def test_huber_matches_torch(dtype, reduction, delta):
    x, y = _pair(dtype=dtype)
    ours = _value_and_grads(huber_loss, x, y, delta=delta, reduction=reduction)
    theirs = _value_and_grads(F.huber_loss, x, y, delta=delta, reduction=reduction)
    _assert_same(ours, theirs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [0.0, 1e-3, 1 / 9, 1.0, 2.5, 100.0])
def test_smooth_l1_matches_torch(dtype, reduction, beta):
    x, y = _pair(dtype=dtype)
    ours = _value_and_grads(smooth_l1_loss, x, y, beta=beta, reduction=reduction)
    theirs = _value_and_grads(F.smooth_l1_loss, x, y, beta=beta, reduction=reduction)
    _assert_same(ours, theirs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threshold", [0.25, 1.0, 2.0])
def test_boundary_and_zero_residual_match_torch(dtype, threshold):
    # |r| == threshold takes the linear branch in PyTorch; r == 0 has gradient 0; values/slopes meet at the boundary
    x = torch.tensor([-threshold, threshold, 0.0, threshold * (1 - 1e-6), -threshold * (1 + 1e-6)], dtype=dtype)
    y = torch.zeros_like(x)
    for ours_fn, torch_fn, kw in ((huber_loss, F.huber_loss, "delta"), (smooth_l1_loss, F.smooth_l1_loss, "beta")):
        ours = _value_and_grads(ours_fn, x, y, **{kw: threshold}, reduction="none")
        theirs = _value_and_grads(torch_fn, x, y, **{kw: threshold}, reduction="none")
        _assert_same(ours, theirs, dtype)
        assert ours[1][2] == 0  # gradient at r = 0


def test_smooth_l1_beta_zero_is_l1_in_value_and_gradient():
    x, y = _pair()
    x[0, 0] = y[0, 0]  # one zero residual: L1's gradient there is 0
    ours = _value_and_grads(smooth_l1_loss, x, y, beta=0.0, reduction="none")
    l1 = _value_and_grads(F.l1_loss, x, y, reduction="none")
    _assert_same(ours, l1, torch.float64)
    assert torch.isfinite(ours[1]).all() and ours[1][0, 0] == 0


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_modules_match_functions(reduction):
    x, y = _pair()
    torch.testing.assert_close(HuberLoss(0.7, reduction)(x, y), huber_loss(x, y, 0.7, reduction))
    torch.testing.assert_close(SmoothL1Loss(0.7, reduction)(x, y), smooth_l1_loss(x, y, 0.7, reduction))
    torch.testing.assert_close(HuberLoss(0.7, reduction)(x, y), torch.nn.HuberLoss(reduction, 0.7)(x, y))
    builtin = torch.nn.SmoothL1Loss(reduction=reduction, beta=0.7)
    torch.testing.assert_close(SmoothL1Loss(0.7, reduction)(x, y), builtin(x, y))
    assert "delta=0.7" in repr(HuberLoss(0.7)) and "beta=0.7" in repr(SmoothL1Loss(0.7))


def test_exported_from_the_package():
    assert {"huber_loss", "smooth_l1_loss", "HuberLoss", "SmoothL1Loss"} <= set(losses.__all__)


# ------------------------------------------------------------------------------------------- invariants
@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=0, max_size=3),
    delta=st.floats(1e-3, 1e3),
    scale=st.floats(1e-2, 1e3),
    seed=st.integers(0, 2**16),
)
def test_huber_is_delta_times_smooth_l1_in_values_and_gradients(shape, delta, scale, seed):
    x, y = _pair(tuple(shape), scale=scale, seed=seed)
    h = _value_and_grads(huber_loss, x, y, delta=delta, reduction="none")
    s = _value_and_grads(smooth_l1_loss, x, y, beta=delta, reduction="none")
    for a, b in zip(h, s):
        torch.testing.assert_close(a, delta * b, rtol=1e-12, atol=1e-12 * delta * max(scale, 1.0))


@settings(max_examples=40, deadline=None)
@given(threshold=st.floats(1e-3, 1e2), scale=st.floats(1e-2, 1e3), seed=st.integers(0, 2**16))
def test_gradients_are_clamped_residuals(threshold, scale, seed):
    x, y = _pair((50,), scale=scale, seed=seed)
    r = x - y
    x = x.requires_grad_(True)
    (gh,) = torch.autograd.grad(huber_loss(x, y, threshold, "sum"), x)
    (gs,) = torch.autograd.grad(smooth_l1_loss(x, y, threshold, "sum"), x)
    torch.testing.assert_close(gh, r.clamp(-threshold, threshold))  # Huber: clip the residual at ±δ
    torch.testing.assert_close(gs, (r / threshold).clamp(-1, 1))  # Smooth L1: clip r / β at ±1
    assert gh.abs().max() <= threshold and gs.abs().max() <= 1


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_mean_is_sum_over_numel(shape, seed):
    x, y = _pair(tuple(shape), seed=seed)
    n = x.numel()
    torch.testing.assert_close(huber_loss(x, y, 0.8, "mean"), huber_loss(x, y, 0.8, "sum") / n)
    torch.testing.assert_close(smooth_l1_loss(x, y, 0.8, "mean"), smooth_l1_loss(x, y, 0.8, "none").sum() / n)


def test_limits_in_beta():
    x, y = _pair(scale=2.0)
    r = x - y
    # beta -> 0: Smooth L1 -> L1 (within beta / 2) and Huber -> 0
    assert (smooth_l1_loss(x, y, 1e-6, "none") - r.abs()).abs().max() <= 0.5e-6 * (1 + 1e-9)
    assert huber_loss(x, y, 1e-6, "none").max() <= 1e-6 * r.abs().max()
    # beta -> inf: Smooth L1 -> 0 and Huber -> ½ r² (exactly, once delta exceeds every |r|)
    assert smooth_l1_loss(x, y, 1e6, "none").max() <= 0.5 * r.pow(2).max() / 1e6
    torch.testing.assert_close(huber_loss(x, y, 1e6, "none"), 0.5 * r**2)


def test_nonnegative_and_zero_only_at_zero_residual():
    x, y = _pair()
    assert (huber_loss(x, y, reduction="none") > 0).all() and (smooth_l1_loss(x, y, reduction="none") > 0).all()
    assert huber_loss(y, y) == 0 and smooth_l1_loss(y, y, beta=0.0) == 0


# ------------------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("delta", [0, 0.0, -1.0])
def test_non_positive_delta_raises(delta):
    x, y = _pair()
    with pytest.raises(ValueError, match="delta"):
        huber_loss(x, y, delta=delta)
    with pytest.raises(ValueError, match="delta"):
        HuberLoss(delta=delta)


def test_negative_beta_raises():
    x, y = _pair()
    with pytest.raises(ValueError, match="beta must be >= 0"):
        smooth_l1_loss(x, y, beta=-0.1)
    with pytest.raises(ValueError, match="beta"):
        SmoothL1Loss(beta=-1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_threshold_raises(bad):
    x, y = _pair()
    with pytest.raises(ValueError, match="delta"):
        huber_loss(x, y, delta=bad)
    with pytest.raises(ValueError, match="beta"):
        smooth_l1_loss(x, y, beta=bad)


@pytest.mark.parametrize("bad", ["1.0", None, True, torch.tensor(1.0)])
def test_threshold_of_wrong_type_raises(bad):
    x, y = _pair()
    with pytest.raises(TypeError, match="delta"):
        huber_loss(x, y, delta=bad)
    with pytest.raises(TypeError, match="beta"):
        smooth_l1_loss(x, y, beta=bad)


@pytest.mark.parametrize("reduction", ["avg", "Mean", None, "batchmean"])
def test_unknown_reduction_raises(reduction):
    x, y = _pair()
    for fn in (huber_loss, smooth_l1_loss):
        with pytest.raises(ValueError, match="reduction"):
            fn(x, y, 1.0, reduction)
    with pytest.raises(ValueError, match="reduction"):
        HuberLoss(reduction=reduction)
    with pytest.raises(ValueError, match="reduction"):
        SmoothL1Loss(reduction=reduction)


def test_shape_mismatch_raises_where_torch_only_warns():
    x = torch.randn(8, 1)
    y = torch.randn(8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.huber_loss(x, y)  # broadcasts (8, 1) against (8,) to (8, 8)
    assert any("different to the input size" in str(w.message) for w in caught)
    for fn in (huber_loss, smooth_l1_loss):
        with pytest.raises(ValueError, match=r"target must have shape \(8, 1\)"):
            fn(x, y)


def test_non_tensor_and_integer_inputs_raise():
    y = torch.randn(3)
    for fn in (huber_loss, smooth_l1_loss):
        with pytest.raises(TypeError, match="input"):
            fn([1.0, 2.0, 3.0], y)
        with pytest.raises(TypeError, match="target"):
            fn(y, torch.tensor([1, 2, 3]))
        with pytest.raises(TypeError, match="target must have the dtype"):
            fn(y, y.double())


def test_empty_mean_is_nan_like_torch():
    e = torch.zeros(0)
    assert torch.isnan(huber_loss(e, e)) and torch.isnan(F.huber_loss(e, e))
    assert smooth_l1_loss(e, e, reduction="sum") == 0
