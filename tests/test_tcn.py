"""TCN and its recurrent baselines: causality, receptive field, the k = 1 edge case, shapes, determinism, errors."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mlbits_lite.models import (
    TCN,
    CausalConv1d,
    GRUNet,
    LSTMNet,
    TemporalBlock,
    causal_conv1d,
    receptive_field,
)

DTYPES = [torch.float32, torch.float64]


def conv_and_chomp(x, weight, bias, dilation):
    """The reference implementation's way: pad both sides with nn.Conv1d, then cut (k - 1) d steps off the right."""
    chomp = (weight.shape[-1] - 1) * dilation
    y = F.conv1d(x, weight, bias, padding=chomp, dilation=dilation)
    return y[..., : y.shape[-1] - chomp]  # not y[..., :-chomp]: that is empty when chomp == 0


def input_gradient_support(model, length, out_step=-1, batch=6):
    """Which input steps the output at `out_step` can depend on: the nonzero entries of d out / d x for a copy of the
    model with every parameter made positive, fed positive inputs. No ReLU is then off and no two paths cancel, so
    the support is the architecture's; on a random input a ReLU that is off would hide the paths through it."""
    positive = copy.deepcopy(model)
    with torch.no_grad():
        for p in positive.parameters():
            p.abs_()
    x = (torch.rand(batch, model.input_size, length, dtype=torch.float64) + 0.1).requires_grad_(True)
    positive(x)[..., out_step].sum().backward()
    return x.grad.abs().sum(dim=(0, 1)) > 0  # (length,)


# ------------------------------------------------------------------------------------------------ receptive field
@pytest.mark.parametrize("k, levels, convs, want", [(7, 8, 2, 3061), (2, 1, 2, 3), (3, 4, 2, 61), (2, 3, 1, 8),
                                                     (5, 0, 2, 1), (1, 6, 2, 1)])
def test_receptive_field_formula(k, levels, convs, want):
    assert receptive_field(k, levels, convs) == want


def test_one_random_input_can_hide_part_of_the_receptive_field():
    # why the support is measured on a positive copy: with few channels, ReLUs that are off cut paths
    torch.manual_seed(0)
    model = TCN(2, [4, 4, 6, 6], kernel_size=2, dropout=0.0).double().eval()
    length = model.receptive_field + 5
    full = input_gradient_support(model, length)
    assert full.sum() == model.receptive_field
    hidden = 0
    for _ in range(50):
        x = torch.randn(1, 2, length, dtype=torch.float64, requires_grad=True)
        model(x)[..., -1].sum().backward()
        seen = x.grad.abs().sum(dim=(0, 1)) > 0
        assert not (seen & ~full).any()  # a lower bound, never more than the architecture connects
        hidden += int(seen.sum() < full.sum())
    assert hidden > 0


@pytest.mark.parametrize("k, levels", [(2, 1), (2, 4), (3, 3), (5, 2), (1, 3)])
def test_receptive_field_is_the_measured_gradient_support(k, levels):
    model = TCN(2, [6] * levels, kernel_size=k, dropout=0.0).double().eval()
    rf = receptive_field(k, levels)
    assert model.receptive_field == rf
    length = rf + 5
    support = input_gradient_support(model, length)
    want = torch.zeros(length, dtype=torch.bool)
    want[-rf:] = True  # exactly the last RF inputs
    assert torch.equal(support, want)


@pytest.mark.parametrize("args, match", [((0, 2), "kernel_size"), ((2, -1), "num_levels"), ((2, 2, 0), "convs_per_block"),
                                         ((2.0, 2), "kernel_size"), ((2, True), "num_levels")])
def test_receptive_field_rejects_bad_arguments(args, match):
    with pytest.raises((ValueError, TypeError), match=match):
        receptive_field(*args)


# ------------------------------------------------------------------------------------------------ causal convolution
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k, d", [(1, 1), (2, 1), (3, 2), (5, 4)])
def test_causal_conv_equals_pytorch_conv_with_chomp(dtype, k, d):
    g = torch.Generator().manual_seed(k * 10 + d)
    x = torch.randn(3, 4, 17, dtype=dtype, generator=g, requires_grad=True)
    w = torch.randn(5, 4, k, dtype=dtype, generator=g, requires_grad=True)
    b = torch.randn(5, dtype=dtype, generator=g, requires_grad=True)
    ours = causal_conv1d(x, w, b, dilation=d)
    theirs = conv_and_chomp(x, w, b, d)
    torch.testing.assert_close(ours, theirs)
    v = torch.randn_like(ours)
    torch.testing.assert_close(torch.autograd.grad(ours, (x, w, b), v), torch.autograd.grad(theirs, (x, w, b), v))


def test_causal_conv_formula_tap_by_tap():
    # y_t = b + sum_j w_j x_{t - (k-1-j) d}, with x = 0 before the start
    x = torch.randn(2, 3, 11, dtype=torch.float64)
    w = torch.randn(4, 3, 3, dtype=torch.float64)
    d = 2
    want = torch.zeros(2, 4, 11, dtype=torch.float64)
    for j in range(3):
        shift = (2 - j) * d
        shifted = F.pad(x, (shift, 0))[..., :11]  # x_{t - shift}
        want += torch.einsum("oc,ncl->nol", w[:, :, j], shifted)
    torch.testing.assert_close(causal_conv1d(x, w, dilation=d), want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_module_and_function_twins_agree(dtype):
    conv = CausalConv1d(3, 4, kernel_size=3, dilation=2).to(dtype)
    x = torch.randn(2, 3, 9, dtype=dtype)
    torch.testing.assert_close(conv(x), causal_conv1d(x, conv.weight, conv.bias, dilation=2))
    no_bias = CausalConv1d(3, 4, kernel_size=2, bias=False).to(dtype)
    torch.testing.assert_close(no_bias(x), causal_conv1d(x, no_bias.weight, dilation=1))


def test_the_chomp_by_zero_bug_is_avoided():
    x = torch.randn(2, 3, 8)
    w = torch.randn(4, 3, 1)
    assert x[:, :, :-0].shape[-1] == 0  # what `Chomp1d(0)` returns
    assert causal_conv1d(x, w).shape == (2, 4, 8)
    torch.testing.assert_close(causal_conv1d(x, w), F.conv1d(x, w))  # k = 1 is a pointwise map


def test_causal_conv_rejects_bad_inputs():
    x, w = torch.randn(2, 3, 8), torch.randn(4, 3, 2)
    with pytest.raises(ValueError, match="x"):
        causal_conv1d(x[0], w)
    with pytest.raises(TypeError, match="x"):
        causal_conv1d(x.long(), w)
    with pytest.raises(ValueError, match="weight"):
        causal_conv1d(x, torch.randn(4, 2, 2))
    with pytest.raises(ValueError, match="bias"):
        causal_conv1d(x, w, torch.randn(3))
    with pytest.raises(ValueError, match="dilation"):
        causal_conv1d(x, w, dilation=0)
    with pytest.raises(ValueError, match="kernel_size"):
        CausalConv1d(3, 4, kernel_size=0)


# ------------------------------------------------------------------------------------------------ causality
@pytest.mark.parametrize("make", [lambda: TCN(3, [8, 8, 8], kernel_size=3, dropout=0.0),
                                  lambda: LSTMNet(3, 8), lambda: GRUNet(3, 8, num_layers=2)],
                         ids=["tcn", "lstm", "gru"])
def test_no_output_sees_the_future(make):
    torch.manual_seed(0)
    model = make().double().eval()
    x = torch.randn(4, 3, 30, dtype=torch.float64)
    t = 12
    changed = x.clone()
    changed[..., t + 1:] = torch.randn_like(changed[..., t + 1:]) * 10  # perturb only the future
    torch.testing.assert_close(model(changed)[..., : t + 1], model(x)[..., : t + 1], rtol=0, atol=0)
    assert not torch.allclose(model(changed)[..., t + 1:], model(x)[..., t + 1:])
    support = input_gradient_support(model, 30, out_step=t)
    assert not support[t + 1:].any() and support[t]


# ------------------------------------------------------------------------------------------------ the TCN itself
@settings(deadline=None, max_examples=20)
@given(n=st.integers(1, 3), c=st.integers(1, 4), length=st.integers(1, 40),
       channels=st.lists(st.integers(1, 6), min_size=1, max_size=4), k=st.integers(1, 4))
def test_output_shapes(n, c, length, channels, k):
    model = TCN(c, channels, kernel_size=k)
    assert model(torch.randn(n, c, length)).shape == (n, channels[-1], length)


def test_block_structure_and_weight_norm():
    model = TCN(2, [4, 4, 6], kernel_size=3)
    blocks = list(model.network)
    assert [b.conv1.dilation[0] for b in blocks] == [1, 2, 4]  # d = 2^i
    assert [b.downsample is not None for b in blocks] == [True, False, True]  # 1x1 conv only when channels change
    for block in blocks:
        for conv in (block.conv1, block.conv2):
            assert nn.utils.parametrize.is_parametrized(conv, "weight")
            v, g = conv.parametrizations.weight.original1, conv.parametrizations.weight.original0
            w = g * v / v.norm(dim=(1, 2), keepdim=True)  # w = g v / ||v||, one norm per output channel
            torch.testing.assert_close(conv.weight, w)


def test_reference_parameter_count():
    # the paper's permuted-MNIST configuration: k = 7, 8 levels of 25 channels, a linear head to 10 classes
    model = nn.Sequential(TCN(1, [25] * 8, kernel_size=7), nn.Flatten(0, -1))  # head counted below
    assert sum(p.numel() for p in model.parameters()) + 25 * 10 + 10 == 66_910


def test_setting_weight_data_has_no_effect_under_weight_norm():
    # the reference's init_weights writes to conv.weight.data: with weight norm, that is a recomputed copy
    torch.manual_seed(0)
    block = TemporalBlock(3, 3, kernel_size=2, dilation=1, dropout=0.0).eval()
    x = torch.randn(2, 3, 10)
    before = block(x)
    block.conv1.weight.data.normal_(0, 0.01)
    torch.testing.assert_close(block(x), before)


def test_determinism():
    x = torch.randn(2, 3, 20)
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        model = TCN(3, [5, 5], kernel_size=3, dropout=0.5)
        outs.append(model.eval()(x))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)
    torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)  # eval: dropout off


def test_kernel_size_one_is_pointwise():
    model = TCN(3, [4, 4], kernel_size=1, dropout=0.0).double().eval()
    assert model.receptive_field == 1
    x = torch.randn(2, 3, 9, dtype=torch.float64)
    y = model(x)
    assert y.shape == (2, 4, 9)
    torch.testing.assert_close(y[..., 4], model(x[..., 4:5])[..., 0])  # step t sees x_t only


@pytest.mark.parametrize("kwargs, match", [
    (dict(input_size=2, num_channels=[4], kernel_size=0), "kernel_size"),
    (dict(input_size=2, num_channels=[]), "num_channels"),
    (dict(input_size=2, num_channels=4), "num_channels"),
    (dict(input_size=2, num_channels=[4, 0]), r"num_channels\[1\]"),
    (dict(input_size=0, num_channels=[4]), "input_size"),
    (dict(input_size=2, num_channels=[4], dropout=1.0), "dropout"),
])
def test_tcn_rejects_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TCN(**kwargs)


@pytest.mark.parametrize("model", [TCN(3, [4]), LSTMNet(3, 4), GRUNet(3, 4)], ids=["tcn", "lstm", "gru"])
def test_wrong_input_rank_or_channels_is_a_clear_error(model):
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3, L\)"):
        model(torch.randn(3, 10))  # forgot the batch dimension
    with pytest.raises(ValueError, match="x must have shape"):
        model(torch.randn(2, 10, 3))  # (N, L, C): channels last
    with pytest.raises(TypeError, match="x"):
        model([1.0, 2.0])


def test_empty_sequence_is_a_clear_error():
    with pytest.raises(ValueError, match=r"x must have at least one time step \(L >= 1\), got shape \(2, 3, 0\)"):
        TCN(3, [4, 4])(torch.randn(2, 3, 0))


# ------------------------------------------------------------------------------------------------ recurrent baselines
@pytest.mark.parametrize("cls, cell", [(LSTMNet, nn.LSTM), (GRUNet, nn.GRU)])
def test_recurrent_baselines_equal_pytorch_on_transposed_input(cls, cell):
    torch.manual_seed(0)
    model = cls(3, 5, num_layers=2).double()
    reference = cell(3, 5, 2, batch_first=True).double()
    reference.load_state_dict(model.rnn.state_dict())
    x = torch.randn(4, 3, 7, dtype=torch.float64)
    torch.testing.assert_close(model(x), reference(x.transpose(1, 2))[0].transpose(1, 2))


@pytest.mark.parametrize("kwargs, match", [(dict(input_size=0, hidden_size=4), "input_size"),
                                           (dict(input_size=2, hidden_size=0), "hidden_size"),
                                           (dict(input_size=2, hidden_size=4, num_layers=0), "num_layers"),
                                           (dict(input_size=2, hidden_size=4, dropout=-0.1), "dropout")])
def test_recurrent_baselines_reject_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        LSTMNet(**kwargs)
