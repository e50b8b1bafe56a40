"""mlbits_lite.autograd: vjp, jvp (double-backward trick) and jacobian, against torch.func and torch.autograd."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mlbits_lite import autograd

F64 = torch.float64

# torch.func.jvp (the reference) goes through torch.jit.script internally, which warns in torch 2.13
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def _generator(seed=0):
    return torch.Generator().manual_seed(seed)


def _randn(*shape, seed=0):
    return torch.randn(shape, dtype=F64, generator=_generator(seed))


W43 = _randn(4, 3, seed=1)
W46 = _randn(4, 6, seed=2)
MLP = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).double()
for p in MLP.parameters():  # fixed weights, independent of test order
    p.data = _randn(*p.shape, seed=p.numel())

# name -> (f, input shape)
CASES = {
    "elementwise": (lambda x: x * torch.sin(x), (5,)),
    "matmul": (lambda x: W43 @ x, (3,)),
    "softmax": (lambda x: torch.softmax(x, dim=-1), (5,)),
    "mlp": (MLP, (3,)),
    "mlp_batch": (MLP, (2, 3)),
    "scalar_output": (lambda x: (x**2).sum() + x.prod(), (4,)),
    "scalar_input": (lambda x: torch.stack([x**3, torch.exp(x)]), ()),
    "matrix_in_vector_out": (lambda x: torch.tanh(W46 @ x.reshape(6)), (2, 3)),
    "cast_to_float32": (lambda x: (x * x).float(), (3,)),
}


def _case(name):
    f, shape = CASES[name]
    x = _randn(*shape, seed=10)
    y_shape = f(x).shape
    return f, x, y_shape


@pytest.mark.parametrize("name", CASES)
def test_vjp_matches_torch(name):
    f, x, y_shape = _case(name)
    v = _randn(*y_shape, seed=11)
    ours = autograd.vjp(f, x, v)
    _, vjp_fn = torch.func.vjp(f, x)
    (expected,) = vjp_fn(v.to(f(x).dtype))
    assert ours.shape == x.shape
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(ours, torch.autograd.functional.vjp(f, x, v.to(f(x).dtype))[1])


@pytest.mark.parametrize("name", CASES)
def test_jvp_matches_torch(name):
    f, x, y_shape = _case(name)
    v = _randn(*x.shape, seed=12)
    ours = autograd.jvp(f, x, v)
    _, expected = torch.func.jvp(f, (x,), (v,))
    assert ours.shape == y_shape
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(ours, torch.autograd.functional.jvp(f, x, v)[1])


@pytest.mark.parametrize("name", CASES)
def test_jacobian_matches_torch(name):
    f, x, y_shape = _case(name)
    ours = autograd.jacobian(f, x)
    expected = torch.autograd.functional.jacobian(f, x)
    assert ours.shape == y_shape + x.shape
    torch.testing.assert_close(ours, expected.to(ours.dtype))


def test_products_are_contractions_of_the_jacobian():
    f, x, y_shape = _case("matrix_in_vector_out")
    J = autograd.jacobian(f, x)  # (4, 2, 3)
    u, v = _randn(*y_shape, seed=3), _randn(*x.shape, seed=4)
    torch.testing.assert_close(autograd.vjp(f, x, u), torch.einsum("i,ijk->jk", u, J))  # uᵀJ
    torch.testing.assert_close(autograd.jvp(f, x, v), torch.einsum("ijk,jk->i", J, v))  # J v


def test_scalar_output_vjp_is_the_gradient():
    f, x, _ = _case("scalar_output")
    torch.testing.assert_close(autograd.vjp(f, x, torch.tensor(1.0, dtype=F64)), autograd.jacobian(f, x))
    torch.testing.assert_close(autograd.jacobian(lambda x: (x**2).sum(), x), 2 * x)


def test_linear_function_jvp_is_exact():
    x, v = _randn(3, seed=5), _randn(3, seed=6)
    torch.testing.assert_close(autograd.jvp(lambda x: W43 @ x, x, v), W43 @ v)
    torch.testing.assert_close(autograd.jvp(lambda x: 3 * x, x, v), 3 * v)


# ------------------------------------------------------------------------------------------------ edge cases
@pytest.mark.parametrize("requires_grad", [False, True])
def test_caller_x_is_untouched(requires_grad):
    x = _randn(2, 3, seed=7).requires_grad_(requires_grad)
    before = x.detach().clone()
    f = CASES["matrix_in_vector_out"][0]
    autograd.vjp(f, x, _randn(4, seed=8))
    autograd.jvp(f, x, _randn(2, 3, seed=9))
    autograd.jacobian(f, x)
    assert x.requires_grad is requires_grad
    assert x.grad is None
    assert x.is_leaf
    torch.testing.assert_close(x.detach(), before, rtol=0, atol=0)


def test_results_do_not_require_grad():
    f, x, y_shape = _case("mlp")
    assert not autograd.vjp(f, x, _randn(*y_shape)).requires_grad
    assert not autograd.jvp(f, x, _randn(*x.shape)).requires_grad
    assert not autograd.jacobian(f, x).requires_grad


def test_parameters_get_no_grad():
    MLP.zero_grad(set_to_none=True)
    f, x, y_shape = _case("mlp")
    autograd.vjp(f, x, _randn(*y_shape))
    autograd.jvp(f, x, _randn(*x.shape))
    autograd.jacobian(f, x)
    assert all(p.grad is None for p in MLP.parameters())


def test_works_under_no_grad():
    f, x, y_shape = _case("softmax")
    with torch.no_grad():
        ours = autograd.jvp(f, x, _randn(*x.shape, seed=1))
        jac = autograd.jacobian(f, x)
        back = autograd.vjp(f, x, _randn(*y_shape, seed=2))
    torch.testing.assert_close(ours, torch.func.jvp(f, (x,), (_randn(*x.shape, seed=1),))[1])
    torch.testing.assert_close(jac, torch.autograd.functional.jacobian(f, x))
    torch.testing.assert_close(back, torch.func.vjp(f, x)[1](_randn(*y_shape, seed=2))[0])


@pytest.mark.parametrize("name", ["softmax", "mlp", "matrix_in_vector_out"])
def test_works_under_inference_mode(name):
    # inference mode turns autograd off entirely (no_grad is not enough to undo): the products must still be right
    f, x, y_shape = _case(name)
    u, v = _randn(*y_shape, seed=1), _randn(*x.shape, seed=2)
    with torch.inference_mode():
        back, forward, jac = autograd.vjp(f, x, u), autograd.jvp(f, x, v), autograd.jacobian(f, x)
    torch.testing.assert_close(back, autograd.vjp(f, x, u))
    torch.testing.assert_close(forward, autograd.jvp(f, x, v))
    torch.testing.assert_close(jac, torch.autograd.functional.jacobian(f, x).to(jac.dtype))
    assert back.abs().sum() > 0 and forward.abs().sum() > 0


def test_inference_tensors_are_accepted():
    # x and v made inside inference mode, used outside it (and inside again)
    f, _, y_shape = _case("softmax")
    with torch.inference_mode():
        x, u, v = _randn(5, seed=3), _randn(*y_shape, seed=4), _randn(5, seed=5)
    expected = torch.func.jvp(f, (x.clone(),), (v.clone(),))[1]
    torch.testing.assert_close(autograd.jvp(f, x, v), expected)
    torch.testing.assert_close(autograd.vjp(f, x, u), torch.func.vjp(f, x.clone())[1](u.clone())[0])
    with torch.inference_mode():
        torch.testing.assert_close(autograd.jvp(f, x, v), expected)


def test_a_function_holding_inference_tensors_is_a_clear_error():
    with torch.inference_mode():
        w = _randn(4, 3, seed=6)  # a weight made in inference mode cannot be saved for backward
    for fn, args in ((autograd.vjp, (_randn(4),)), (autograd.jvp, (_randn(3),)), (autograd.jacobian, ())):
        with pytest.raises(ValueError, match="f uses a tensor created under torch.inference_mode"):
            fn(lambda x: torch.tanh(w @ x), _randn(3), *args)


w_param = torch.ones(3, dtype=F64, requires_grad=True)
INDEPENDENT = {
    "constant": lambda x: torch.ones(3, dtype=F64),
    "detached": lambda x: x.detach() * 2,
    "other_leaf": lambda x: w_param * 2,  # requires grad, but not through x
    "partly": lambda x: torch.cat([x[:1] * 0 + 1, w_param[:2]]),  # depends on x with zero derivative
}


@pytest.mark.parametrize("name", INDEPENDENT)
def test_output_independent_of_x_gives_zeros(name):
    f = INDEPENDENT[name]
    x = _randn(3, seed=1)
    assert torch.equal(autograd.vjp(f, x, _randn(3, seed=2)), torch.zeros(3, dtype=F64))
    assert torch.equal(autograd.jvp(f, x, _randn(3, seed=3)), torch.zeros(3, dtype=F64))
    assert torch.equal(autograd.jacobian(f, x), torch.zeros(3, 3, dtype=F64))


def test_empty_output():
    x = _randn(3)
    J = autograd.jacobian(lambda x: x[:0] * 2, x)
    assert J.shape == (0, 3)


def test_v_dtype_is_converted():
    f, x, y_shape = _case("matmul")
    v32 = _randn(*y_shape).float()
    torch.testing.assert_close(autograd.vjp(f, x, v32), autograd.vjp(f, x, v32.double()))


def test_float32_inputs():
    f = CASES["softmax"][0]
    x = _randn(5).float()
    J = autograd.jacobian(f, x)
    assert J.dtype == torch.float32
    torch.testing.assert_close(J, torch.autograd.functional.jacobian(f, x))


# ------------------------------------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("fn", ["vjp", "jvp"])
def test_v_wrong_shape(fn):
    f, x, y_shape = _case("matmul")  # x (3,), y (4,)
    wrong = _randn(3) if fn == "vjp" else _randn(4)
    expected = y_shape if fn == "vjp" else x.shape
    with pytest.raises(ValueError, match=rf"v must have shape \({expected[0]},\), got shape \({wrong.shape[0]},\)"):
        getattr(autograd, fn)(f, x, wrong)


@pytest.mark.parametrize("fn", ["vjp", "jvp"])
@pytest.mark.parametrize("v", [[1.0, 2.0, 3.0, 4.0], torch.ones(4, dtype=torch.int64), None])
def test_v_not_a_float_tensor(fn, v):
    f = lambda x: x * 2  # noqa: E731
    with pytest.raises(TypeError, match="v must be a"):
        getattr(autograd, fn)(f, torch.ones(4), v)


@pytest.mark.parametrize("fn", ["vjp", "jvp", "jacobian"])
@pytest.mark.parametrize("x", [torch.arange(3), torch.ones(3, dtype=torch.bool), [1.0, 2.0], 1.0])
def test_x_not_a_float_tensor(fn, x):
    args = (lambda x: x, x) + ((torch.ones(3),) if fn != "jacobian" else ())
    with pytest.raises(TypeError, match="x must be a"):
        getattr(autograd, fn)(*args)


@pytest.mark.parametrize("fn", ["vjp", "jvp", "jacobian"])
def test_f_not_callable(fn):
    args = ("sin", torch.ones(3)) + ((torch.ones(3),) if fn != "jacobian" else ())
    with pytest.raises(TypeError, match="f must be callable"):
        getattr(autograd, fn)(*args)


@pytest.mark.parametrize("fn", ["vjp", "jvp", "jacobian"])
@pytest.mark.parametrize("f, message", [
    (lambda x: x.tolist(), "f must return a torch.Tensor"),
    (lambda x: (x, x), "f must return a torch.Tensor"),
    (lambda x: x.argmax(), "f must return a floating-point tensor"),
])
def test_f_bad_return(fn, f, message):
    args = (f, torch.ones(3)) + ((torch.ones(3),) if fn != "jacobian" else ())
    with pytest.raises(TypeError, match=message):
        getattr(autograd, fn)(*args)


# ------------------------------------------------------------------------------------------------ hypothesis
shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


@settings(max_examples=25, deadline=None)
@given(x_shape=shapes, keep_last=st.booleans(), seed=st.integers(0, 2**16))
def test_random_shapes_match_torch(x_shape, keep_last, seed):
    """y couples every input (tanh(x)·Σx), optionally summed over x's last dim to change the output shape."""

    def f(x):
        y = torch.tanh(x) * x.sum() + x**2
        return y if keep_last or x.ndim == 0 else y.sum(-1)

    x = _randn(*x_shape, seed=seed)
    y = f(x)
    u, v = _randn(*y.shape, seed=seed + 1), _randn(*x_shape, seed=seed + 2)
    torch.testing.assert_close(autograd.vjp(f, x, u), torch.func.vjp(f, x)[1](u)[0])
    torch.testing.assert_close(autograd.jvp(f, x, v), torch.func.jvp(f, (x,), (v,))[1])
    J = autograd.jacobian(f, x)
    assert J.shape == y.shape + x.shape
    torch.testing.assert_close(J, torch.autograd.functional.jacobian(f, x))
