"""mlbits_lite.models.vit: the ViT against PyTorch's own pieces, timm's names and counts, and its invariants."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mlbits_lite import explain, models
from mlbits_lite.models import vit as vit_module

F64 = torch.float64


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def small_vit(**overrides) -> models.ViT:
    config = dict(img_size=16, patch_size=4, in_chans=3, num_classes=5, embed_dim=24, depth=2, num_heads=3)
    torch.manual_seed(0)
    return models.ViT(**(config | overrides))


def _images(model: models.ViT, batch: int = 2, dtype: torch.dtype = torch.float32, seed: int = 1) -> torch.Tensor:
    shape = (batch, model.in_chans, model.img_size, model.img_size)
    return torch.rand(shape, generator=_generator(seed), dtype=dtype)


# ------------------------------------------------------------------------------------------------ patches
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_linear_patch_embedding_equals_the_strided_conv(dtype):
    embed = vit_module.PatchEmbed(img_size=12, patch_size=4, in_chans=3, embed_dim=7).to(dtype)
    x = torch.randn(2, 3, 12, 12, generator=_generator(), dtype=dtype)
    by_matmul = models.patchify(x, 4) @ embed.proj.weight.flatten(1).T + embed.proj.bias  # (B, N, D)
    torch.testing.assert_close(embed(x), by_matmul)
    assert embed(x).shape == (2, 9, 7) and embed.num_patches == 9 and embed.grid_size == 3


def test_patchify_equals_unfold_and_numbers_patches_row_by_row():
    x = torch.arange(2 * 3 * 8 * 12, dtype=F64).reshape(2, 3, 8, 12)
    patches = models.patchify(x, 4)  # (2, 6, 48)
    torch.testing.assert_close(patches, F.unfold(x, kernel_size=4, stride=4).transpose(1, 2))
    torch.testing.assert_close(patches[1, 4], x[1, :, 4:8, 4:8].flatten())  # row 1, column 1 of a 2x3 grid


@settings(deadline=None, max_examples=25)
@given(batch=st.integers(1, 3), channels=st.integers(1, 4), rows=st.integers(1, 4), cols=st.integers(1, 4),
       patch=st.integers(1, 5))
def test_patchify_shapes_and_round_trip(batch, channels, rows, cols, patch):
    x = torch.randn(batch, channels, rows * patch, cols * patch, generator=_generator())
    patches = models.patchify(x, patch)
    assert patches.shape == (batch, rows * cols, channels * patch * patch)
    back = F.fold(patches.transpose(1, 2), (rows * patch, cols * patch), kernel_size=patch, stride=patch)
    torch.testing.assert_close(back, x)  # every pixel lands in exactly one patch


def test_patchify_rejects_bad_input():
    with pytest.raises(ValueError, match="patch_size"):
        models.patchify(torch.zeros(1, 3, 10, 10), 4)
    with pytest.raises(ValueError, match="images"):
        models.patchify(torch.zeros(3, 8, 8), 4)
    with pytest.raises(TypeError, match="images"):
        models.patchify([[0.0]], 4)
    with pytest.raises(ValueError, match="patch_size"):
        models.patchify(torch.zeros(1, 3, 8, 8), 0)


# ------------------------------------------------------------------------------------------------ attention
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_attention_equals_scaled_dot_product_attention_values_and_gradients(dtype):
    g = _generator(2)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=g, dtype=dtype, requires_grad=True) for _ in range(3))
    out, weights = vit_module.attention(q, k, v)
    reference = F.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, reference)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5, dtype=dtype))
    upstream = torch.randn(out.shape, generator=g, dtype=dtype)
    ours = torch.autograd.grad(out, (q, k, v), upstream)
    theirs = torch.autograd.grad(reference, (q, k, v), upstream)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)


@settings(deadline=None, max_examples=20)
@given(tokens=st.integers(1, 9), keys=st.integers(1, 9), dim=st.integers(1, 16), scale=st.floats(0.1, 30.0))
def test_attention_rows_are_probabilities(tokens, keys, dim, scale):
    g = _generator(3)
    q = scale * torch.randn(tokens, dim, generator=g, dtype=F64)
    k, v = torch.randn(keys, dim, generator=g, dtype=F64), torch.randn(keys, 4, generator=g, dtype=F64)
    out, weights = vit_module.attention(q, k, v)
    assert out.shape == (tokens, 4) and weights.shape == (tokens, keys)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(tokens, dtype=F64))


def test_attention_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="q and k"):
        vit_module.attention(torch.zeros(3, 4), torch.zeros(3, 5), torch.zeros(3, 5))
    with pytest.raises(TypeError, match="v"):
        vit_module.attention(torch.zeros(3, 4), torch.zeros(3, 4), torch.zeros(3, 4, dtype=torch.int64))


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_fused_and_explicit_attention_paths_agree(dtype):
    torch.manual_seed(0)
    attn = vit_module.Attention(dim=12, num_heads=3).to(dtype)
    x = torch.randn(2, 7, 12, generator=_generator(), dtype=dtype)
    fused = attn(x)
    explicit, weights = attn(x, need_weights=True)
    torch.testing.assert_close(fused, explicit)
    assert weights.shape == (2, 3, 7, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 7, dtype=dtype))
    attn.fused_attn = False
    torch.testing.assert_close(attn(x), explicit)


def test_fused_attention_skips_the_hooks_on_attn_drop():
    attn = vit_module.Attention(dim=8, num_heads=2)
    seen = []
    attn.attn_drop.register_forward_hook(lambda module, args, output: seen.append(output.shape))
    x = torch.randn(1, 5, 8)
    attn(x)
    assert seen == []  # the fused kernel never forms the weights
    attn(x, need_weights=True)
    assert seen == [torch.Size([1, 2, 5, 5])]


def test_multi_head_attention_equals_torch_multihead_attention():
    torch.manual_seed(0)
    attn = vit_module.Attention(dim=12, num_heads=4).double()
    mha = nn.MultiheadAttention(12, 4, batch_first=True).double()
    with torch.no_grad():
        mha.in_proj_weight.copy_(attn.qkv.weight)
        mha.in_proj_bias.copy_(attn.qkv.bias)
        mha.out_proj.weight.copy_(attn.proj.weight)
        mha.out_proj.bias.copy_(attn.proj.bias)
    x = torch.randn(3, 6, 12, generator=_generator(), dtype=F64)
    ours, weights = attn(x, need_weights=True)
    theirs, their_weights = mha(x, x, x, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(weights, their_weights)


# ------------------------------------------------------------------------------------------------ the model
def _reference_forward(model: models.ViT, x: torch.Tensor) -> torch.Tensor:
    """The same network assembled from torch.nn.TransformerEncoderLayer (pre-norm, exact GELU, eps 1e-6)."""
    D = model.embed_dim
    layers = []
    for block in model.blocks:
        layer = nn.TransformerEncoderLayer(D, model.num_heads, dim_feedforward=block.mlp.fc1.out_features,
                                           dropout=0.0, activation="gelu", layer_norm_eps=1e-6, batch_first=True,
                                           norm_first=True).to(x.dtype)
        with torch.no_grad():
            layer.self_attn.in_proj_weight.copy_(block.attn.qkv.weight)
            layer.self_attn.in_proj_bias.copy_(block.attn.qkv.bias)
            layer.self_attn.out_proj.weight.copy_(block.attn.proj.weight)
            layer.self_attn.out_proj.bias.copy_(block.attn.proj.bias)
            for ours, theirs in ((block.norm1, layer.norm1), (block.norm2, layer.norm2),
                                 (block.mlp.fc1, layer.linear1), (block.mlp.fc2, layer.linear2)):
                theirs.weight.copy_(ours.weight)
                theirs.bias.copy_(ours.bias)
        layers.append(layer.eval())
    P = model.patch_size
    tokens = models.patchify(x, P) @ model.patch_embed.proj.weight.flatten(1).T + model.patch_embed.proj.bias
    z = torch.cat([model.cls_token.expand(len(x), -1, -1), tokens], dim=1) + model.pos_embed
    for layer in layers:
        z = layer(z)
    z = F.layer_norm(z, (D,), model.norm.weight, model.norm.bias, eps=1e-6)
    return model.head(z[:, 0])


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_forward_equals_a_transformer_encoder_built_from_torch_nn(dtype):
    model = small_vit().to(dtype)
    with torch.no_grad():  # non-trivial norms and biases, so that every parameter matters
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=_generator(p.numel()), dtype=dtype))
    x = _images(model, dtype=dtype)
    torch.testing.assert_close(model(x), _reference_forward(model, x))


def test_deit_tiny_has_timms_parameter_count_and_names():
    with torch.device("meta"):  # shapes only: no memory, no time
        tiny = models.vit_tiny_patch16_224()
        headless = models.vit_tiny_patch16_224(num_classes=0)
        base = models.ViT(embed_dim=768, depth=12, num_heads=12)
    assert sum(p.numel() for p in tiny.parameters()) == 5_717_416
    assert sum(p.numel() for p in headless.parameters()) == 5_524_416
    assert sum(p.numel() for p in base.parameters()) == 86_567_656
    keys = list(tiny.state_dict())
    assert len(keys) == 152
    expected = ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"]
    for i in range(12):
        expected += [f"blocks.{i}.{name}.{kind}" for name in ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1",
                                                              "mlp.fc2") for kind in ("weight", "bias")]
    expected += ["norm.weight", "norm.bias", "head.weight", "head.bias"]
    assert keys == expected
    shapes = {k: tuple(v.shape) for k, v in tiny.state_dict().items()}
    assert shapes["pos_embed"] == (1, 197, 192) and shapes["cls_token"] == (1, 1, 192)
    assert shapes["patch_embed.proj.weight"] == (192, 3, 16, 16) and shapes["blocks.0.attn.qkv.weight"] == (576, 192)
    assert tiny.blocks[0].norm1.eps == 1e-6 and tiny.norm.eps == 1e-6
    assert tiny.blocks[0].attn.head_dim == 64 and tiny.num_tokens == 197
    assert isinstance(tiny.blocks[0].mlp.act, nn.GELU) and tiny.blocks[0].mlp.act.approximate == "none"


def test_state_dict_round_trip_is_strict_and_gives_the_same_logits():
    source, target = small_vit(), small_vit()
    with torch.no_grad():
        for p in target.parameters():
            p.zero_()
    target.load_state_dict(source.state_dict(), strict=True)
    x = _images(source)
    torch.testing.assert_close(target(x), source(x))


def test_headless_model_returns_the_class_token_features():
    model = small_vit(num_classes=0)
    x = _images(model)
    torch.testing.assert_close(model(x), model.forward_features(x)[:, 0])
    assert model(x).shape == (2, 24)


def test_attention_maps_are_row_stochastic_and_match_the_forward_pass():
    model = small_vit(depth=3)
    x = _images(model, batch=4)
    maps = model.attention_maps(x)
    assert len(maps) == 3
    for weights in maps:
        assert weights.shape == (4, 3, 17, 17) and (weights >= 0).all()
        torch.testing.assert_close(weights.sum(-1), torch.ones(4, 3, 17))
    # the last block's weights, recomputed by hand from its input, agree
    z = model.embed(x)
    for block in model.blocks[:-1]:
        z = block(z)
    block = model.blocks[-1]
    qkv = block.attn.qkv(block.norm1(z)).reshape(4, 17, 3, 3, 8).permute(2, 0, 3, 1, 4)  # (3, B, heads, T, d)
    _, weights = vit_module.attention(qkv[0], qkv[1], qkv[2])
    torch.testing.assert_close(maps[-1], weights)


def test_attention_rollout_of_the_model_has_stochastic_rows():
    model = small_vit(depth=3)
    rollout = explain.attention_rollout(model.attention_maps(_images(model)))
    assert rollout.shape == (2, 17, 17)
    torch.testing.assert_close(rollout.sum(-1), torch.ones(2, 17))


def test_rollout_of_zero_attention_is_the_identity():
    zeros = [torch.zeros(2, 3, 5, 5) for _ in range(4)]
    torch.testing.assert_close(explain.attention_rollout(zeros), torch.eye(5).expand(2, 5, 5))


def test_model_trains_one_step_and_every_parameter_gets_a_gradient():
    model = small_vit()
    loss = F.cross_entropy(model(_images(model)), torch.tensor([0, 3]))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.pos_embed.grad.abs().sum() > 0 and model.cls_token.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------------ position embeddings
def test_resize_pos_embed_keeps_the_original_grid_and_the_class_token():
    pos = torch.randn(1, 1 + 16, 6, generator=_generator(), dtype=F64)
    assert models.resize_pos_embed(pos, 4) is pos
    bigger = models.resize_pos_embed(pos, 7)
    assert bigger.shape == (1, 1 + 49, 6)
    torch.testing.assert_close(bigger[:, 0], pos[:, 0])
    grid = pos[:, 1:].reshape(1, 4, 4, 6).permute(0, 3, 1, 2)  # (1, D, 4, 4)
    same = F.interpolate(grid, size=(4, 4), mode="bicubic", align_corners=False)
    torch.testing.assert_close(same, grid)  # bicubic resampling onto the same grid is the identity
    constant = torch.ones(1, 1 + 9, 3, dtype=F64)
    torch.testing.assert_close(models.resize_pos_embed(constant, 5), torch.ones(1, 1 + 25, 3, dtype=F64))


def test_set_img_size_runs_at_a_new_resolution_and_back():
    model = small_vit()
    x = _images(model)
    before = model(x)
    model.set_img_size(28)
    assert model.pos_embed.shape == (1, 1 + 49, 24) and model.img_size == 28 and model.num_tokens == 50
    assert model(torch.rand(2, 3, 28, 28)).shape == (2, 5)
    assert len(model.attention_maps(torch.rand(1, 3, 28, 28))) == 2
    model.set_img_size(16)
    torch.testing.assert_close(model(x), before, atol=0.05, rtol=0)  # down and back: close, not exact


def test_resize_pos_embed_rejects_bad_input():
    with pytest.raises(ValueError, match="pos_embed"):
        models.resize_pos_embed(torch.zeros(1, 1 + 15, 4), 4)  # 15 patches: not a square grid
    with pytest.raises(ValueError, match="grid_size"):
        models.resize_pos_embed(torch.zeros(1, 17, 4), 0)
    with pytest.raises(TypeError, match="pos_embed"):
        models.resize_pos_embed(torch.zeros(1, 17, 4, dtype=torch.int64), 4)


# ------------------------------------------------------------------------------------------------ errors
def test_constructor_errors_name_the_argument():
    with pytest.raises(ValueError, match="img_size must be divisible by patch_size"):
        models.ViT(img_size=30, patch_size=4)
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        models.ViT(img_size=32, patch_size=4, embed_dim=50, num_heads=3)
    with pytest.raises(ValueError, match="depth"):
        models.ViT(img_size=32, patch_size=4, embed_dim=48, depth=0, num_heads=3)
    with pytest.raises(TypeError, match="qkv_bias"):
        models.ViT(img_size=32, patch_size=4, embed_dim=48, num_heads=3, qkv_bias=1)
    with pytest.raises(ValueError, match="mlp_ratio"):
        models.ViT(img_size=32, patch_size=4, embed_dim=48, num_heads=3, mlp_ratio=0)
    with pytest.raises(TypeError, match="patch_size"):
        models.ViT(img_size=32, patch_size=4.0)


def test_forward_errors_name_the_problem():
    model = small_vit()
    with pytest.raises(ValueError, match="3 channels"):
        model(torch.rand(2, 1, 16, 16))
    with pytest.raises(ValueError, match="set_img_size"):
        model(torch.rand(2, 3, 20, 20))
    with pytest.raises(ValueError, match="x must be 4-D"):
        model(torch.rand(3, 16, 16))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.zeros(2, 3, 16, 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match="img_size must be divisible"):
        model.set_img_size(18)


def test_device_agnostic():
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = small_vit().to(device)
    x = _images(model).to(device)
    assert model(x).device.type == device and model.attention_maps(x)[0].device.type == device


# ------------------------------------------------------------------------------------------------ convolutional stem
def test_conv_stem_gives_the_patch_grid_and_local_tokens():
    stem = vit_module.ConvStem(img_size=32, patch_size=8, in_chans=3, embed_dim=10, channels=(4, 6, 8)).double().eval()
    x = torch.randn(16, 3, 32, 32, generator=_generator(), dtype=F64, requires_grad=True)
    tokens = stem(x)  # in eval mode: batch norm in training mode would mix every pixel through its statistics
    assert tokens.shape == (16, 16, 10) and stem.grid_size == 4 and stem.num_patches == 16
    row, col = 2, 1
    (grad,) = torch.autograd.grad(tokens[:, row * 4 + col].sum(), x)  # token (2, 1): which pixels reach it
    seen = grad.abs().sum((0, 1)) > 0  # (32, 32), over 16 images (a ReLU can be off in one of them)
    rows, cols = seen.any(1).nonzero().flatten(), seen.any(0).nonzero().flatten()
    # three 3x3 stride-2 convolutions (padding 1): output r sees input rows 8r - 7 .. 8r + 7, a 15x15 window
    assert rows.min() >= 8 * row - 7 and rows.max() <= 8 * row + 7
    assert cols.min() >= max(0, 8 * col - 7) and cols.max() <= 8 * col + 7
    assert seen[8 * row : 8 * row + 8, 8 * col : 8 * col + 8].all()  # its own cell, every pixel


def test_vit_with_a_conv_stem_trains_and_changes_resolution():
    torch.manual_seed(0)
    model = models.ViT(img_size=16, patch_size=4, in_chans=3, num_classes=5, embed_dim=24, depth=2, num_heads=3,
                       stem_channels=(8, 12))
    assert isinstance(model.patch_embed, vit_module.ConvStem) and model.num_tokens == 17
    loss = F.cross_entropy(model(_images(model)), torch.tensor([0, 3]))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval().set_img_size(24)
    assert model(torch.rand(2, 3, 24, 24)).shape == (2, 5) and model.num_tokens == 37


def test_conv_stem_errors_name_the_argument():
    with pytest.raises(ValueError, match="patch_size must be 2 \\*\\* len\\(channels\\) = 4"):
        vit_module.ConvStem(img_size=32, patch_size=8, in_chans=3, embed_dim=8, channels=(4, 4))
    with pytest.raises(TypeError, match="channels must be a non-empty tuple"):
        vit_module.ConvStem(img_size=32, patch_size=8, in_chans=3, embed_dim=8, channels=())
    with pytest.raises(TypeError, match="channels must be a non-empty tuple"):
        models.ViT(img_size=32, patch_size=8, embed_dim=8, num_heads=2, stem_channels=8)
    with pytest.raises(ValueError, match=r"channels\[1\]"):
        vit_module.ConvStem(img_size=32, patch_size=4, in_chans=3, embed_dim=8, channels=(4, 0))
    with pytest.raises(ValueError, match="img_size must be divisible by patch_size"):
        vit_module.ConvStem(img_size=20, patch_size=8, in_chans=3, embed_dim=8, channels=(4, 4, 4))
