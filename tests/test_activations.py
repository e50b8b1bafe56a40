"""mlbits_lite.activations: GELU (three forms and Monte-Carlo) and Mish, against PyTorch and their identities."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbits_lite import activations
from mlbits_lite.activations import GELU, Mish, gelu, gelu_monte_carlo, mish

F64 = torch.float64
DTYPES = [torch.float32, torch.float64]


def _grid(dtype=F64, low=-8.0, high=8.0, steps=1601):
    return torch.linspace(low, high, steps, dtype=dtype)


def _normal_cdf(x):
    return 0.5 * torch.special.erfc(-x / math.sqrt(2))


# ------------------------------------------------------------------------------------------- against PyTorch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_equals_torch_values_and_gradients(dtype, approximate):
    x = (_grid(dtype) * 1.5).requires_grad_(True)
    ours = gelu(x, approximate)
    (ours_grad,) = torch.autograd.grad(ours.sum(), x)
    theirs = F.gelu(x, approximate=approximate)
    (theirs_grad,) = torch.autograd.grad(theirs.sum(), x)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(ours_grad, theirs_grad)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_in_half_precision_is_as_accurate_as_torch(dtype, approximate):
    # PyTorch computes in float32 and rounds once; so must we: compare both with float64 on the same inputs
    x = _grid(dtype, low=-10.0, high=10.0, steps=4001)
    exact = F.gelu(x.double(), approximate=approximate)
    ours, theirs = gelu(x, approximate), F.gelu(x, approximate=approximate)
    assert ours.dtype == dtype
    assert (ours.double() - exact).abs().max() <= (theirs.double() - exact).abs().max()
    torch.testing.assert_close(ours, theirs)


def test_normal_cdf_keeps_its_relative_accuracy_in_the_left_tail():
    # 1 + erf(x/√2) cancels to 0 (or to noise) for x below about -6 in float32, -9 in float64; erfc does not
    for dtype in DTYPES:
        x = torch.tensor([-5.5, -7.0, -9.0, -12.0], dtype=dtype)
        want = 0.5 * torch.special.erfc(-x.double() / math.sqrt(2))
        got = activations._normal_cdf(x)
        assert (got > 0).all()
        torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=0)
        torch.testing.assert_close(gelu(x).double(), x.double() * want, rtol=1e-5, atol=0)


def test_gelu_sigmoid_form_is_x_sigmoid_1702x():
    x = _grid()
    torch.testing.assert_close(gelu(x, "sigmoid"), x * torch.sigmoid(1.702 * x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_mish_equals_torch_values_and_gradients(dtype):
    x = (_grid(dtype, -30.0, 30.0, 3001)).requires_grad_(True)
    ours = mish(x)
    (ours_grad,) = torch.autograd.grad(ours.sum(), x)
    theirs = F.mish(x)
    (theirs_grad,) = torch.autograd.grad(theirs.sum(), x)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(ours_grad, theirs_grad)


def test_mish_does_not_overflow_for_large_inputs():
    x = torch.tensor([-1e4, -100.0, 100.0, 1e4], dtype=torch.float32)
    torch.testing.assert_close(mish(x), F.mish(x))
    assert torch.isfinite(mish(x)).all()


@pytest.mark.parametrize("approximate", activations.APPROXIMATIONS)
def test_gradcheck_gelu(approximate):
    x = torch.randn(12, dtype=F64, generator=torch.Generator().manual_seed(0)).mul(3).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: gelu(t, approximate), (x,))
    assert torch.autograd.gradgradcheck(lambda t: gelu(t, approximate), (x,))


def test_gradcheck_mish():
    x = torch.randn(12, dtype=F64, generator=torch.Generator().manual_seed(1)).mul(3).requires_grad_(True)
    assert torch.autograd.gradcheck(mish, (x,))
    assert torch.autograd.gradgradcheck(mish, (x,))


# ------------------------------------------------------------------------------------------- identities
@pytest.mark.parametrize("approximate", activations.APPROXIMATIONS)
def test_gelu_minus_mirror_is_identity(approximate):
    # Φ(-x) = 1 - Φ(x) (and tanh is odd, σ(-z) = 1 - σ(z)), so f(x) - f(-x) = x for all three forms
    x = _grid()
    torch.testing.assert_close(gelu(x, approximate) - gelu(-x, approximate), x)


def test_gelu_values_at_known_points():
    x = torch.tensor([0.0, 1.0], dtype=F64, requires_grad=True)
    y = gelu(x)
    (slope,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(y.detach(), torch.tensor([0.0, 0.841345], dtype=F64), atol=1e-6, rtol=0)
    assert slope[0].item() == pytest.approx(0.5, abs=1e-15)  # GELU'(0) = Φ(0) + 0·φ(0) = ½


def test_gelu_minimum_and_non_monotonicity():
    x = torch.linspace(-3, 0, 300001, dtype=F64)
    y = gelu(x)
    i = y.argmin()
    assert x[i].item() == pytest.approx(-0.751792, abs=1e-5)
    assert y[i].item() == pytest.approx(-0.169971, abs=1e-6)
    assert (y[:i].diff() < 0).all() and (y[i:].diff() > 0).all()  # falls, then rises: not monotonic


def test_gelu_derivative_is_cdf_plus_x_pdf():
    x = _grid().requires_grad_(True)
    (slope,) = torch.autograd.grad(gelu(x).sum(), x)
    pdf = torch.exp(-x.detach() ** 2 / 2) / math.sqrt(2 * math.pi)
    torch.testing.assert_close(slope, _normal_cdf(x.detach()) + x.detach() * pdf)


def test_approximation_errors_are_as_documented():
    x = torch.linspace(-20, 20, 400001, dtype=F64)
    exact = gelu(x)
    tanh_error = (gelu(x, "tanh") - exact).abs()
    sigmoid_error = (gelu(x, "sigmoid") - exact).abs()
    assert tanh_error.max().item() == pytest.approx(4.73e-4, abs=1e-6)
    assert abs(x[tanh_error.argmax()].item()) == pytest.approx(2.699, abs=1e-3)
    assert sigmoid_error.max().item() == pytest.approx(2.03e-2, abs=1e-4)
    assert abs(x[sigmoid_error.argmax()].item()) == pytest.approx(2.270, abs=1e-3)


def test_mish_minimum_and_slope_at_zero():
    x = torch.linspace(-3, 0, 300001, dtype=F64)
    y = mish(x)
    assert x[y.argmin()].item() == pytest.approx(-1.1924, abs=1e-4)
    assert y.min().item() == pytest.approx(-0.30884, abs=1e-5)
    zero = torch.zeros(1, dtype=F64, requires_grad=True)
    (slope,) = torch.autograd.grad(mish(zero).sum(), zero)
    assert slope.item() == pytest.approx(0.6, abs=1e-15)  # tanh(ln 2) = 3/5


@given(
    shape=st.lists(st.integers(1, 4), min_size=0, max_size=3),
    scale=st.floats(0.1, 50.0),
    approximate=st.sampled_from(activations.APPROXIMATIONS),
)
@settings(max_examples=30, deadline=None)
def test_shapes_and_bounds(shape, scale, approximate):
    x = torch.randn(shape, dtype=F64, generator=torch.Generator().manual_seed(len(shape))) * scale
    for y in (gelu(x, approximate), mish(x)):
        assert y.shape == x.shape and y.dtype == x.dtype
        assert torch.isfinite(y).all()
        assert (y >= -0.31).all()  # both are bounded below (GELU by -0.17, Mish by -0.309)
    assert (gelu(x) <= F.relu(x) + 1e-12).all()  # x·Φ(x) lies below relu: Φ ≤ 1 for x > 0, ≥ 0 for x < 0


# ------------------------------------------------------------------------------------------- Monte Carlo
def test_monte_carlo_converges_to_gelu():
    x = torch.linspace(-3, 3, 61, dtype=F64)
    g = torch.Generator().manual_seed(0)
    estimate = gelu_monte_carlo(x, 200_000, generator=g)
    std = x.abs() * torch.sqrt(_normal_cdf(x) * (1 - _normal_cdf(x)) / 200_000)  # |x|√(Φ(1 - Φ)/n)
    assert ((estimate - gelu(x)).abs() <= 5 * std + 1e-15).all()
    assert (estimate - gelu(x)).abs().max().item() < 2e-3


def test_monte_carlo_error_shrinks_like_one_over_sqrt_n():
    x = torch.linspace(-3, 3, 2001, dtype=F64)
    g = torch.Generator().manual_seed(1)
    spread = torch.sqrt((x**2 * _normal_cdf(x) * (1 - _normal_cdf(x))).mean())  # RMS of one gate's std
    for n in (10, 1000, 100_000):
        rms = (gelu_monte_carlo(x, n, generator=g) - gelu(x)).pow(2).mean().sqrt()
        assert (rms * math.sqrt(n) / spread).item() == pytest.approx(1.0, rel=0.1)


def test_monte_carlo_single_sample_is_zero_or_x():
    x = torch.randn(1000, generator=torch.Generator().manual_seed(2))
    y = gelu_monte_carlo(x, 1, generator=torch.Generator().manual_seed(3))
    assert ((y == 0) | (y == x)).all()
    assert y.dtype == x.dtype


def test_monte_carlo_is_reproducible_with_a_generator_and_differentiable_in_x():
    x = torch.linspace(-2, 2, 9, dtype=F64, requires_grad=True)
    a = gelu_monte_carlo(x, 50, generator=torch.Generator().manual_seed(4))
    b = gelu_monte_carlo(x, 50, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(a, b)
    (grad,) = torch.autograd.grad(a.sum(), x)
    torch.testing.assert_close(grad * x.detach(), a.detach())  # d/dx (x·k/n) = k/n with the gates held fixed


# ------------------------------------------------------------------------------------------- modules
@pytest.mark.parametrize("approximate", activations.APPROXIMATIONS)
def test_gelu_module_is_the_function(approximate):
    x = torch.randn(3, 5, generator=torch.Generator().manual_seed(5))
    module = GELU(approximate)
    torch.testing.assert_close(module(x), gelu(x, approximate))
    assert repr(module) == f"GELU(approximate={approximate!r})"


def test_mish_module_is_the_function():
    x = torch.randn(3, 5, generator=torch.Generator().manual_seed(6), dtype=F64)
    torch.testing.assert_close(Mish()(x), mish(x))
    torch.testing.assert_close(Mish()(x), torch.nn.Mish()(x))


# ------------------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("bad", ["exact", "Tanh", None, True, 1])
def test_bad_approximate_is_a_clear_error(bad):
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="approximate"):
        gelu(x, bad)
    with pytest.raises(ValueError, match="approximate"):
        GELU(bad)


def test_non_tensor_or_integer_input_is_a_clear_error():
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        gelu([1.0, 2.0])
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        mish(torch.arange(3))
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        gelu_monte_carlo(torch.arange(3), 10)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-5, ValueError), (2.5, TypeError), ("10", TypeError),
                                        (True, TypeError)])
def test_bad_num_samples_is_a_clear_error(bad, error):
    with pytest.raises(error, match="num_samples"):
        gelu_monte_carlo(torch.zeros(3), bad)


def test_bad_generator_is_a_clear_error():
    with pytest.raises(TypeError, match="generator"):
        gelu_monte_carlo(torch.zeros(3), 10, generator=0)
