"""Self-checks for chapter 10: pooling a sequence into one vector."""
from __future__ import annotations

from typing import Callable

import torch

from ._framework import NOT_ATTEMPTED, Case, CheckResult, _hidden_generator, require_function, run

__all__ = ["pooled_dependence", "eos_pool", "attention_pool"]


# ----------------------------------------------------------------------------------------------- dependence
def _dependence(mask: torch.Tensor, causal: bool, mode: str, *, flip: bool = False, padding_seen: bool = False,
                self_seen: bool = True, last_position: bool = False, cls_first_real: bool = False) -> torch.Tensor:
    """Which inputs each pooled vector depends on; the keyword arguments switch on one known mistake each."""
    real = mask.bool()
    B, T = real.shape
    s = torch.arange(T)
    keys = torch.ones_like(real) if padding_seen else real
    sees = keys[:, None, :].expand(B, T, T)  # [b, t, s]
    if causal:
        sees = sees & ((s[None, :, None] <= s[None, None, :]) if flip else (s[None, :, None] >= s[None, None, :]))
    if self_seen:
        sees = sees | torch.eye(T, dtype=torch.bool)
    if mode == "cls":
        first = real.int().argmax(dim=1) if cls_first_real else torch.zeros(B, dtype=torch.long)
        return sees[torch.arange(B), first]
    if mode == "last":
        last = torch.full((B,), T - 1) if last_position else torch.where(real, s, -1).amax(dim=1)
        return sees[torch.arange(B), last]
    readers = torch.ones_like(real) if padding_seen else real
    return (sees & readers[:, :, None]).any(dim=1)


def pooled_dependence(learner: Callable[[torch.Tensor, bool, str], torch.Tensor]) -> CheckResult:
    """Exercise: predict which input tokens a pooled vector can depend on, from the mask alone.

    Args:
        learner: `f(mask, causal, mode)` for a (B, T) 0/1 padding mask, a bool and a mode in "cls", "mean", "max",
            "last", returning a (B, T) bool tensor.
    """
    require_function("pooled_dependence", learner)
    right = torch.tensor([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0, 0]])
    left = torch.tensor([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1]])
    cases = [(m, c, mode) for mode in ("last", "cls", "mean", "max") for c in (True, False) for m in (right, left)]
    mistakes = {  # hint -> the mistake's switches (tried in this order)
        "under a causal mask a token sees the tokens up to itself (s <= t), not the ones after it": dict(flip=True),
        "no real token attends to padding: a padding position is in no one's dependence set but its own":
            dict(padding_seen=True),
        "a token always depends on itself (the residual connection), even a padding token": dict(self_seen=False),
        "`last` reads the last real token, not the last position (which may be padding)": dict(last_position=True),
        "`cls` reads position 0 even when it is padding": dict(cls_first_real=True),
    }
    for i, (mask, causal, mode) in enumerate(cases, start=1):
        want = _dependence(mask, causal, mode)
        try:
            got = learner(mask.clone(), causal, mode)
        except NotImplementedError:
            return CheckResult("pooled_dependence", False, NOT_ATTEMPTED, attempted=False)
        except Exception as exc:
            return CheckResult("pooled_dependence", False,
                               f"case {i} of {len(cases)}: your function raised {type(exc).__name__}: {exc}")
        where, which = f"case {i} of {len(cases)}: ", f" ({'causal' if causal else 'bidirectional'}, {mode})"
        if not isinstance(got, torch.Tensor):
            return CheckResult("pooled_dependence", False,
                               f"{where}your function returned a {type(got).__name__}; return a torch.Tensor")
        if tuple(got.shape) != tuple(mask.shape):
            return CheckResult("pooled_dependence", False,
                               f"{where}your result has shape {tuple(got.shape)}; return (B, T), one row per sequence")
        if got.is_floating_point() and torch.isnan(got).any():
            return CheckResult("pooled_dependence", False, f"{where}your result contains NaN")
        if got.dtype != torch.bool and not ((got == 0) | (got == 1)).all():
            return CheckResult("pooled_dependence", False, f"{where}every entry must be either 0 or 1 (or a bool)")
        got = got.bool()
        if torch.equal(got, want):
            continue
        hint = "the values differ from the reference on a hidden input"
        if causal and mode == "cls" and torch.equal(got, _dependence(mask, False, mode)):
            hint = "under a causal mask the first token has seen only what comes before it"
        else:
            for text, switches in mistakes.items():
                if torch.equal(got, _dependence(mask, causal, mode, **switches)):
                    hint = text
                    break
        return CheckResult("pooled_dependence", False, f"{where}{hint}{which}")
    return CheckResult("pooled_dependence", True, f"pass ({len(cases)} hidden cases)")


# ----------------------------------------------------------------------------------------------- EOS pooling
def eos_pool(learner: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Exercise: pool at the first end-of-text token, robust to added tokens and to end-of-text padding.

    Args:
        learner: `f(hidden, ids, eot_id)` for hidden (B, T, D) and ids (B, T), returning (B, D); it raises a
            ValueError when a sequence has no `eot_id`.
    """
    require_function("eos_pool", learner)
    g = _hidden_generator("eos_pool")
    eot = 49407
    rows = torch.arange(3)
    layouts = {
        "plain": torch.tensor([[49406, 320, 1929, eot, 0, 0], [49406, 5, eot, 0, 0, 0], [49406, 7, 8, 9, 10, eot]]),
        "added tokens": torch.tensor([[49406, 49408, 1929, eot, 0, 0], [49406, 5, eot, 0, 0, 0],
                                      [49406, 7, 49409, 9, 10, eot]]),
        "end-of-text padding": torch.tensor([[49406, 320, 1929, eot, eot, eot], [49406, 5, eot, eot, eot, eot],
                                             [49406, 7, 8, 9, 10, eot]]),
    }
    cases = []
    for layout, ids in layouts.items():
        hidden = torch.randn(3, 6, 4, generator=g, dtype=torch.float64)
        first = (ids == eot).int().argmax(dim=1)
        last = torch.where(ids == eot, torch.arange(6), -1).amax(dim=1)
        wrong = {
            "argmax of the ids finds the largest id, which here is an added token: compare the ids with eot_id":
                hidden[rows, ids.argmax(dim=1)],
            "take the first end-of-text token: here the padding is eot_id too": hidden[rows, last],
            "off by one: that is the token after the end-of-text token": hidden[rows, (first + 1).clamp_max(5)],
            "off by one: that is the token before the end-of-text token": hidden[rows, first - 1],
        }
        if layout != "end-of-text padding":  # there the last position holds the last end-of-text token
            wrong["the last position is padding in shorter sequences: find the end-of-text token"] = hidden[:, -1]
        cases.append(Case((hidden, ids.clone(), eot), hidden[rows, first], wrong))
    result = run("eos_pool", learner, cases)
    if not result.passed:
        return result
    truncated = torch.tensor([[49406, 320, 1929, eot], [49406, 7, 8, 9]])  # the second text lost its end of text
    hidden = torch.randn(2, 4, 4, generator=g, dtype=torch.float64)
    try:
        learner(hidden, truncated, eot)
    except ValueError:
        return result
    except Exception as exc:
        return CheckResult("eos_pool", False, f"a truncated text: raise a ValueError, not {type(exc).__name__}")
    return CheckResult("eos_pool", False, "a sequence without eot_id must raise a ValueError; `argmax` of an all-False "
                                          "comparison is 0, which silently pools the start token")


# ----------------------------------------------------------------------------------------------- attention pooling
def _attention_pool(hidden: torch.Tensor, mask: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    scores = (hidden @ w / hidden.shape[-1] ** 0.5).masked_fill(mask == 0, float("-inf"))
    return torch.einsum("bt,btd->bd", scores.softmax(dim=1), hidden)


def attention_pool(learner: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Exercise: attention pooling with a learned query, over the real tokens only.

    Args:
        learner: `f(hidden, mask, w)` for hidden (B, T, D), a 0/1 mask (B, T) and w (D,), returning (B, D):
            Σ_t β_t h_t with β = softmax over the real tokens of h_t · w / √D.
    """
    g = _hidden_generator("attention_pool")
    cases = []
    for B, T, D, lengths in ((2, 5, 4, (5, 3)), (3, 7, 6, (2, 7, 4)), (1, 4, 9, (1,))):
        hidden = torch.randn(B, T, D, generator=g, dtype=torch.float64)
        mask = (torch.arange(T)[None] < torch.tensor(lengths)[:, None]).long()
        hidden = torch.where(mask.bool()[..., None], hidden, 3.0 + hidden.abs())  # padding: large, positive
        w = torch.randn(D, generator=g, dtype=torch.float64)
        scores = hidden @ w / D**0.5
        unmasked = torch.einsum("bt,btd->bd", scores.softmax(dim=1), hidden)
        zero_score = torch.einsum("bt,btd->bd", (scores * mask).softmax(dim=1), hidden)
        after = scores.softmax(dim=1) * mask
        wrong = {
            "padding gets weight: mask the scores before the softmax": unmasked,
            "a padding score of 0 still has weight e^0 = 1: fill the padding scores with -inf": zero_score,
            "zeroing padding after the softmax leaves weights that no longer sum to 1":
                torch.einsum("bt,btd->bd", after, hidden),
            "scale the scores by 1/√D": _attention_pool(hidden, mask, w * D**0.5),
            "that is mean pooling: weight the tokens by softmax(h · w / √D)":
                (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True),
        }
        cases.append(Case((hidden.clone(), mask.clone(), w.clone()), _attention_pool(hidden, mask, w), wrong))
    return run("attention_pool", learner, cases)
