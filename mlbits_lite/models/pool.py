"""Pooling a sequence of token vectors into one vector per sequence, with the padding mask.

A batch of sequences of different lengths is padded to a common length T; the attention mask says which positions
are real tokens (1) and which are padding (0). Each mode reads the hidden states h (B, T, D) differently:

    cls         h[:, 0]                                   the first position (BERT's [CLS], CLIP's start token)
    mean        Σ_t m_t h_t / max(Σ_t m_t, 1e-9)          the average of the real tokens (sentence-transformers)
    max         max_t over real tokens of h_t             per feature
    last        h[b, t_b],  t_b = the last real position  (a causal model's only token that has seen the whole text)
    eot_argmax  h[b, argmax_t ids[b, t]]                  CLIP: the end-of-text token has the largest id (49407)

Which mode is right depends on the attention mask the encoder used: under a causal mask token t has seen only the
tokens up to t, so ``cls`` sees nothing of the text after it while ``last`` (or CLIP's end-of-text token) has
seen all of it. Every mode ignores padding, so adding padding never changes the pooled vector of a
padding-aware encoder.
"""
from __future__ import annotations

import torch

from .._validate import require_choice, require_floating_tensor, require_ndim, require_tensor

__all__ = ["POOL_MODES", "pool"]

POOL_MODES = ("cls", "mean", "max", "last", "eot_argmax")
MEAN_CLAMP = 1e-9  # sentence-transformers' clamp on the token count: a guard, never reached with a real token


def _as_bool_mask(mask: object, hidden: torch.Tensor) -> torch.Tensor:
    """Check the attention mask against the hidden states; return it as a bool (B, T) tensor on their device."""
    require_tensor("mask", mask)
    require_ndim("mask", mask, 2)
    if tuple(mask.shape) != tuple(hidden.shape[:2]):
        raise ValueError(f"mask must have shape (B, T) = {tuple(hidden.shape[:2])} to match hidden, "
                         f"got shape {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        if mask.is_complex() or not ((mask == 0) | (mask == 1)).all():
            raise ValueError("mask must hold only 0 (padding) and 1 (real token), or be a bool tensor")
        mask = mask != 0
    empty = (~mask.any(dim=1)).nonzero().flatten()
    if len(empty):
        raise ValueError(f"mask: sequence(s) {empty.tolist()} have no real token (all padding); nothing to pool")
    return mask.to(hidden.device)


def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str, *, token_ids: torch.Tensor | None = None) -> torch.Tensor:
    """One vector per sequence from the hidden states of its real tokens.

    Args:
        hidden: (B, T, D) floating-point token vectors (an encoder's last hidden states).
        mask: (B, T) attention mask, 1 or True for a real token and 0 or False for padding (bool or integer);
            every sequence needs at least one real token.
        mode: one of "cls", "mean", "max", "last", "eot_argmax" (see the module's docstring).
        token_ids: (B, T) integer token ids; required by "eot_argmax" (the position of the largest id is
            pooled), ignored by the other modes.

    Returns:
        (B, D) pooled vectors.

    Raises:
        TypeError: hidden is not a floating-point tensor, mask or token_ids is not a tensor, or token_ids is not
            an integer tensor.
        ValueError: an unknown mode; shapes that do not match; a mask with values other than 0 and 1; a sequence
            that is all padding; "cls" on a sequence whose first position is padding (left padding); "eot_argmax"
            without token_ids, or whose largest id sits on a padding position.
    """
    require_floating_tensor("hidden", hidden)
    require_ndim("hidden", hidden, 3)
    require_choice("mode", mode, POOL_MODES)
    real = _as_bool_mask(mask, hidden)  # (B, T) bool
    B, T, _ = hidden.shape
    rows = torch.arange(B, device=hidden.device)

    if mode == "cls":
        left_padded = (~real[:, 0]).nonzero().flatten()
        if len(left_padded):
            raise ValueError(f"mode='cls' pools the first position, but it is padding in sequence(s) "
                             f"{left_padded.tolist()} (left padding?): pad on the right, or use 'last' or 'mean'")
        return hidden[:, 0]
    if mode == "mean":
        keep = real.unsqueeze(-1)  # (B, T, 1)
        count = keep.sum(dim=1).to(hidden.dtype).clamp_min(MEAN_CLAMP)  # (B, 1): number of real tokens
        total = torch.where(keep, hidden, 0.0).sum(dim=1)  # Σ m_t h_t; `where`, not `*`: a NaN in padding stays out
        return total / count
    if mode == "max":
        return hidden.masked_fill(~real.unsqueeze(-1), float("-inf")).amax(dim=1)  # padding never wins
    if mode == "last":
        positions = torch.arange(T, device=hidden.device).expand(B, T)  # (B, T)
        last = torch.where(real, positions, -1).amax(dim=1)  # the largest real position, left or right padding
        return hidden[rows, last]

    # eot_argmax: CLIP's pooling, hidden at the position of the largest token id
    if token_ids is None:
        raise ValueError("mode='eot_argmax' needs token_ids: the end-of-text token is found as the largest id")
    require_tensor("token_ids", token_ids)
    if token_ids.dtype == torch.bool or token_ids.is_floating_point() or token_ids.is_complex():
        raise TypeError(f"token_ids must be an integer tensor, got dtype {token_ids.dtype}")
    if tuple(token_ids.shape) != (B, T):
        raise ValueError(f"token_ids must have shape (B, T) = {(B, T)} to match hidden, "
                         f"got shape {tuple(token_ids.shape)}")
    eot = token_ids.to(hidden.device).argmax(dim=1)  # the first position of the largest id
    on_padding = (~real[rows, eot]).nonzero().flatten()
    if len(on_padding):
        raise ValueError(f"mode='eot_argmax': the largest token id of sequence(s) {on_padding.tolist()} is on a "
                         "padding position; the end-of-text token must have the largest id of its sequence")
    return hidden[rows, eot]
