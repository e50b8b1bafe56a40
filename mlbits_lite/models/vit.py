"""The Vision Transformer (ViT, Dosovitskiy et al. 2021) in plain PyTorch, with timm's parameter names.

An image becomes a sequence: cut it into P×P patches, flatten and embed each one linearly (a Conv2d with
kernel = stride = P), put a learned class token in front and add learned position embeddings. Then pre-norm
transformer blocks, a final LayerNorm, and a linear head on the class token:

    z_0  = [x_cls; x_1 E; ...; x_N E] + E_pos              N = HW / P²  patches
    z'_l = z_{l-1} + MSA(LN(z_{l-1}))                       multi-head self-attention
    z_l  = z'_l + MLP(LN(z'_l))                             MLP = Linear, exact GELU, Linear
    y    = head(LN(z_L)[:, 0])                              the class token after the final norm

Names and semantics follow timm's `VisionTransformer` (LayerNorm eps 1e-6, a bias on the fused qkv projection,
exact GELU, class-token pooling), so a timm ViT/DeiT state dict loads with `strict=True` and gives timm's logits:

    model = vit_tiny_patch16_224()
    model.load_state_dict(timm.create_model("deit_tiny_patch16_224", pretrained=True).state_dict())

`model.attention_maps(x)` returns every layer's attention weights (B, heads, T, T), computed explicitly even when
the forward pass uses PyTorch's fused `scaled_dot_product_attention` (which never forms them).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import (
    require_bool,
    require_floating_tensor,
    require_ndim,
    require_non_negative_int,
    require_positive_int,
    require_positive_number,
    require_tensor,
)

__all__ = ["patchify", "attention", "resize_pos_embed", "PatchEmbed", "ConvStem", "Attention", "Mlp", "Block", "ViT",
           "vit_tiny_patch16_224"]

LAYER_NORM_EPS = 1e-6  # timm's ViT; PyTorch's default 1e-5 gives (slightly) different logits


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping P×P patches and flatten each one.

    Patches are numbered row by row; each is flattened in (C, P, P) order, the order of a Conv2d weight, so
    `patchify(x, P) @ conv.weight.flatten(1).T + conv.bias` equals a Conv2d with kernel = stride = P.

    Args:
        images: (B, C, H, W) tensor with H and W divisible by ``patch_size``.
        patch_size: side P of the square patches.

    Returns:
        (B, N, C·P·P) with N = (H/P)·(W/P).
    """
    require_tensor("images", images)
    require_ndim("images", images, 4)
    P = require_positive_int("patch_size", patch_size)
    B, C, H, W = images.shape
    if H % P or W % P:
        raise ValueError(f"images must have height and width divisible by patch_size={P}, got {H}x{W}")
    patches = images.reshape(B, C, H // P, P, W // P, P)  # (B, C, rows, P, cols, P)
    patches = patches.permute(0, 2, 4, 1, 3, 5)  # (B, rows, cols, C, P, P)
    return patches.reshape(B, (H // P) * (W // P), C * P * P)  # (B, N, C·P·P)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention, with the weights: softmax(q kᵀ / √d) v.

    Args:
        q: (..., T, d) queries.
        k: (..., S, d) keys.
        v: (..., S, e) values.

    Returns:
        (output (..., T, e), weights (..., T, S)); each row of the weights sums to 1.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        require_floating_tensor(name, t)
        if t.ndim < 2:
            raise ValueError(f"{name} must be at least 2-D (..., tokens, dim), got shape {tuple(t.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"q and k must share their last dimension and k and v their token count, got shapes "
                         f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # q kᵀ / √d: (..., T, S)
    weights = scores.softmax(dim=-1)  # each query's weights over the keys sum to 1
    return weights @ v, weights  # (..., T, e), (..., T, S)


def resize_pos_embed(pos_embed: torch.Tensor, grid_size: int, num_prefix_tokens: int = 1) -> torch.Tensor:
    """Interpolate learned position embeddings to a new square patch grid (to run at a new image size).

    The prefix tokens (the class token) keep their embedding; the grid part is reshaped to an image of
    D channels and resized bicubically, as when a ViT is fine-tuned at a higher resolution.

    Args:
        pos_embed: (1, prefix + g·g, D) position embeddings of a square g×g grid.
        grid_size: the new grid side (image size / patch size).
        num_prefix_tokens: how many tokens in front of the patches (1: the class token).

    Returns:
        (1, prefix + grid_size², D).
    """
    require_floating_tensor("pos_embed", pos_embed)
    require_ndim("pos_embed", pos_embed, 3)
    new = require_positive_int("grid_size", grid_size)
    prefix_count = require_non_negative_int("num_prefix_tokens", num_prefix_tokens)
    n = pos_embed.shape[1] - prefix_count
    old = math.isqrt(max(n, 0))
    if pos_embed.shape[0] != 1 or n < 1 or old * old != n:
        raise ValueError(f"pos_embed must have shape (1, num_prefix_tokens + g*g, D) for a square grid, got shape "
                         f"{tuple(pos_embed.shape)} with num_prefix_tokens={prefix_count}")
    if new == old:
        return pos_embed
    prefix, grid = pos_embed[:, :prefix_count], pos_embed[:, prefix_count:]
    D = grid.shape[-1]
    grid = grid.reshape(1, old, old, D).permute(0, 3, 1, 2)  # (1, D, g, g)
    grid = F.interpolate(grid, size=(new, new), mode="bicubic", align_corners=False)  # (1, D, g', g')
    grid = grid.permute(0, 2, 3, 1).reshape(1, new * new, D)  # (1, g'·g', D)
    return torch.cat([prefix, grid], dim=1)


class PatchEmbed(nn.Module):
    """Patch embedding: a Conv2d with kernel = stride = P is a linear map of each flattened patch.

    Args:
        img_size: side of the square input images.
        patch_size: side P of the patches; must divide ``img_size``.
        in_chans: input channels.
        embed_dim: width D of the tokens.
    """

    def __init__(self, img_size: int, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.img_size = require_positive_int("img_size", img_size)
        self.patch_size = require_positive_int("patch_size", patch_size)
        require_positive_int("in_chans", in_chans)
        require_positive_int("embed_dim", embed_dim)
        if img_size % patch_size:
            raise ValueError(f"img_size must be divisible by patch_size, got img_size={img_size}, "
                             f"patch_size={patch_size}")
        self.grid_size = img_size // patch_size
        self.num_patches = self.grid_size**2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)  # (B, D, H/P, W/P): one embedding per patch
        return x.flatten(2).transpose(1, 2)  # (B, N, D), patches row by row


class ConvStem(nn.Module):
    """A convolutional stem in place of the patch embedding (Xiao et al. 2021, "Early convolutions help
    transformers see better"): stride-2 3×3 convolutions, each with batch norm and ReLU, then a 1×1 convolution
    to the token width. k such convolutions give one token per P×P cell with P = 2^k, the grid of a
    P×P patch embedding, but each token is built from local features of its cell and a border of a few pixels.

    Args:
        img_size: side of the square input images.
        patch_size: side P of the cells; must be 2 ** len(channels) and divide ``img_size``.
        in_chans: input channels.
        embed_dim: width D of the tokens.
        channels: output channels of each stride-2 convolution.
    """

    def __init__(self, img_size: int, patch_size: int, in_chans: int, embed_dim: int,
                 channels: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        self.img_size = require_positive_int("img_size", img_size)
        self.patch_size = require_positive_int("patch_size", patch_size)
        require_positive_int("in_chans", in_chans)
        require_positive_int("embed_dim", embed_dim)
        if not isinstance(channels, (tuple, list)) or not channels:
            raise TypeError(f"channels must be a non-empty tuple or list of ints, got {channels!r}")
        for i, c in enumerate(channels):
            require_positive_int(f"channels[{i}]", c)
        if patch_size != 2 ** len(channels):
            raise ValueError(f"patch_size must be 2 ** len(channels) = {2 ** len(channels)} (one stride-2 "
                             f"convolution per halving), got patch_size={patch_size}")
        if img_size % patch_size:
            raise ValueError(f"img_size must be divisible by patch_size, got img_size={img_size}, "
                             f"patch_size={patch_size}")
        self.grid_size = img_size // patch_size
        self.num_patches = self.grid_size**2
        layers: list[nn.Module] = []
        c_in = in_chans
        for c_out in channels:
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
            c_in = c_out
        self.convs = nn.Sequential(*layers)
        self.proj = nn.Conv2d(c_in, embed_dim, kernel_size=1)  # 1×1: features -> token width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(self.convs(x))  # (B, D, H/P, W/P): one token per cell
        return x.flatten(2).transpose(1, 2)  # (B, N, D), cells row by row


class Attention(nn.Module):
    """Multi-head self-attention with one fused qkv projection, as in timm.

    Args:
        dim: token width D.
        num_heads: number of heads h; must divide ``dim`` (head width d = D / h).
        qkv_bias: give the qkv projection a bias (timm's ViT and DeiT do).
        fused_attn: compute the forward pass with `F.scaled_dot_product_attention`, which never forms the
            attention weights (``attn_drop`` is then not called); `forward(x, need_weights=True)` always forms them.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, fused_attn: bool = True) -> None:
        super().__init__()
        require_positive_int("dim", dim)
        require_positive_int("num_heads", num_heads)
        require_bool("qkv_bias", qkv_bias)
        self.fused_attn = require_bool("fused_attn", fused_attn)
        if dim % num_heads:
            raise ValueError(f"dim must be divisible by num_heads, got dim={dim}, num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(0.0)  # applied to the weights on the explicit path (where people hook)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, need_weights: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        B, T, D = x.shape
        qkv = self.qkv(x).reshape(B, T, 3, self.num_heads, self.head_dim)  # (B, T, 3, heads, d)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, T, d)
        if self.fused_attn and not need_weights:
            out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, T, d)
            weights = None
        else:
            scores = q @ k.transpose(-2, -1) * self.head_dim**-0.5  # q kᵀ / √d: (B, heads, T, T)
            weights = scores.softmax(dim=-1)
            out = self.attn_drop(weights) @ v  # (B, heads, T, d)
        out = self.proj(out.transpose(1, 2).reshape(B, T, D))  # heads concatenated, then projected: (B, T, D)
        return (out, weights) if need_weights else out


class Mlp(nn.Module):
    """The transformer's MLP: Linear, exact GELU, Linear (hidden width = mlp_ratio · D).

    Args:
        dim: token width D.
        hidden_dim: hidden width.
    """

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()  # exact: x Φ(x)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """A pre-norm transformer block: x + MSA(LN(x)), then x + MLP(LN(x)).

    Args:
        dim: token width D.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width / D.
        qkv_bias: bias on the qkv projection.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True) -> None:
        super().__init__()
        require_positive_number("mlp_ratio", mlp_ratio)
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, need_weights: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if need_weights:
            update, weights = self.attn(self.norm1(x), need_weights=True)
        else:
            update, weights = self.attn(self.norm1(x)), None
        x = x + update  # z' = z + MSA(LN(z))
        x = x + self.mlp(self.norm2(x))  # z = z' + MLP(LN(z'))
        return (x, weights) if need_weights else x


class ViT(nn.Module):
    """Vision Transformer with a class token, learned position embeddings and timm's parameter names.

    Args:
        img_size: side of the square input images.
        patch_size: side P of the square patches; must divide ``img_size``.
        in_chans: input channels.
        num_classes: output logits; 0 gives no head (``forward`` returns the final class-token features).
        embed_dim: token width D.
        depth: number of transformer blocks.
        num_heads: attention heads per block; must divide ``embed_dim``.
        mlp_ratio: MLP hidden width / D.
        qkv_bias: bias on the qkv projections.
        stem_channels: None for the linear patch embedding (timm's ViT); a tuple of channels for a
            convolutional stem (`ConvStem`), with patch_size = 2 ** len(stem_channels).
    """

    def __init__(self, img_size: int = 224, patch_size: int = 16, in_chans: int = 3, num_classes: int = 1000,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, stem_channels: tuple[int, ...] | list[int] | None = None) -> None:
        super().__init__()
        require_positive_int("embed_dim", embed_dim)
        require_positive_int("depth", depth)
        require_positive_int("num_heads", num_heads)
        require_non_negative_int("num_classes", num_classes)
        require_positive_number("mlp_ratio", mlp_ratio)
        require_bool("qkv_bias", qkv_bias)
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim must be divisible by num_heads, got embed_dim={embed_dim}, "
                             f"num_heads={num_heads}")
        self.in_chans = require_positive_int("in_chans", in_chans)
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        if stem_channels is None:
            self.patch_embed: PatchEmbed | ConvStem = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        else:
            self.patch_embed = ConvStem(img_size, patch_size, in_chans, embed_dim, stem_channels)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.patch_embed.num_patches, embed_dim))
        self.blocks = nn.ModuleList(Block(embed_dim, num_heads, mlp_ratio, qkv_bias) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=LAYER_NORM_EPS)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """timm's initialisation: truncated normal (std 0.02) for linear weights and position embeddings."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    @property
    def img_size(self) -> int:
        return self.patch_embed.img_size

    @property
    def patch_size(self) -> int:
        return self.patch_embed.patch_size

    @property
    def num_tokens(self) -> int:
        """Sequence length T: the class token plus one token per patch."""
        return 1 + self.patch_embed.num_patches

    def set_img_size(self, img_size: int) -> None:
        """Run at a new image size: interpolate the position embeddings to the new patch grid (in place).

        ``pos_embed`` becomes a new parameter: build the optimizer after calling this.

        Args:
            img_size: the new side of the square images; must be divisible by the patch size.
        """
        require_positive_int("img_size", img_size)
        if img_size % self.patch_size:
            raise ValueError(f"img_size must be divisible by patch_size={self.patch_size}, got {img_size}")
        grid = img_size // self.patch_size
        with torch.no_grad():
            self.pos_embed = nn.Parameter(resize_pos_embed(self.pos_embed.detach(), grid))
        self.patch_embed.img_size, self.patch_embed.grid_size, self.patch_embed.num_patches = img_size, grid, grid**2

    def _check_input(self, x: torch.Tensor) -> None:
        require_floating_tensor("x", x)
        require_ndim("x", x, 4)
        if x.shape[1] != self.in_chans:
            raise ValueError(f"x must have {self.in_chans} channels (B, {self.in_chans}, H, W), "
                             f"got shape {tuple(x.shape)}")
        if tuple(x.shape[2:]) != (self.img_size, self.img_size):
            raise ValueError(f"x must be {self.img_size}x{self.img_size} images, got {x.shape[2]}x{x.shape[3]}; "
                             "for another size call model.set_img_size(size) to interpolate the position embeddings")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens entering the first block: [class token; patch embeddings] + position embeddings, (B, T, D)."""
        self._check_input(x)
        patches = self.patch_embed(x)  # (B, N, D)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (B, 1, D)
        return torch.cat([cls, patches], dim=1) + self.pos_embed  # z_0: (B, T, D)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """All tokens after the last block and the final LayerNorm, (B, T, D)."""
        z = self.embed(x)
        for block in self.blocks:
            z = block(z)
        return self.norm(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x)[:, 0])  # class-token pooling: (B, num_classes)

    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each block's attention weights on images x, computed explicitly.

        Args:
            x: (B, in_chans, img_size, img_size) images.

        Returns:
            A list of ``depth`` tensors of shape (B, heads, T, T); row i of a map holds how token i weighs every
            token (token 0 is the class token, then the patches row by row) and sums to 1.
        """
        z = self.embed(x)
        maps = []
        for block in self.blocks:
            z, weights = block(z, need_weights=True)
            maps.append(weights)
        return maps


def vit_tiny_patch16_224(num_classes: int = 1000) -> ViT:
    """DeiT-Tiny / ViT-Ti/16: patch 16, width 192, depth 12, 3 heads; 5,717,416 parameters with 1000 classes.

    Args:
        num_classes: output logits (1000 for ImageNet weights).
    """
    return ViT(img_size=224, patch_size=16, in_chans=3, num_classes=num_classes, embed_dim=192, depth=12,
               num_heads=3, mlp_ratio=4.0, qkv_bias=True)
