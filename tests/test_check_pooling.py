"""Chapter 10's self-checks: a catalogue per check of right answers that pass, the mistakes people make with the
hint each one must get, and generic mutations that must never pass nor get a specific hint."""
from __future__ import annotations

import re

import pytest
import torch

from catalogue import Catalogue
from mlbits_lite import check
from mlbits_lite.models import allowed_attention


def _numbers(text: str) -> list[str]:
    return re.findall(r"-?\d+\.\d+", text)


# --------------------------------------------------------------------------------------- reference solutions
def pooled_dependence(mask, causal, mode):
    real = mask.bool()
    sees = allowed_attention(mask, causal)  # [b, t, s]
    if mode == "cls":
        return sees[:, 0]
    if mode == "last":
        last = torch.where(real, torch.arange(real.shape[1]), -1).amax(dim=1)
        return sees[torch.arange(real.shape[0]), last]
    return (sees & real[:, :, None]).any(dim=1)


def eos_pool(hidden, ids, eot_id):
    is_eot = ids == eot_id
    if not is_eot.any(dim=1).all():
        raise ValueError("a sequence has no end-of-text token")
    return hidden[torch.arange(hidden.shape[0]), is_eot.int().argmax(dim=1)]


def attention_pool(hidden, mask, w):
    scores = (hidden @ w / hidden.shape[-1] ** 0.5).masked_fill(mask == 0, float("-inf"))
    return torch.einsum("bt,btd->bd", scores.softmax(dim=1), hidden)


CASES = [
    (check.pooled_dependence, pooled_dependence),
    (check.eos_pool, eos_pool),
    (check.attention_pool, attention_pool),
]
IDS = ["pooled_dependence", "eos_pool", "attention_pool"]


# --------------------------------------------------------------------------------------- other right answers
def dependence_by_loops(mask, causal, mode):
    B, T = mask.shape
    out = torch.zeros(B, T, dtype=torch.long)
    for b in range(B):
        real = [s for s in range(T) if mask[b, s]]
        readers = {"cls": [0], "last": [real[-1]]}.get(mode, real)
        for t in readers:
            for s in range(T):
                if s == t or (mask[b, s] and (not causal or s <= t)):
                    out[b, s] = 1
    return out  # 0/1 integers are accepted


def eos_pool_by_cumsum(hidden, ids, eot_id):
    seen = (ids == eot_id).cumsum(dim=1)
    first = (seen == 1) & (ids == eot_id)
    if (first.sum(dim=1) != 1).any():
        raise ValueError("no end-of-text token")
    return (hidden * first.unsqueeze(-1)).sum(dim=1)


def attention_pool_by_exp(hidden, mask, w):
    scores = hidden @ w / hidden.shape[-1] ** 0.5
    weights = torch.exp(scores - scores.max(dim=1, keepdim=True).values) * mask
    return (weights / weights.sum(dim=1, keepdim=True)).unsqueeze(-1).mul(hidden).sum(dim=1)


@pytest.mark.parametrize("run_check, answer", [
    (check.pooled_dependence, dependence_by_loops),
    (check.eos_pool, eos_pool_by_cumsum),
    (check.attention_pool, attention_pool_by_exp),
], ids=IDS)
def test_other_right_answers_pass(run_check, answer):
    result = run_check(answer)
    assert result.passed, result.message


# --------------------------------------------------------------------------------------- realistic mistakes
def _dependence_with(**mistake):
    def answer(mask, causal, mode):
        real = mask.bool()
        B, T = real.shape
        s = torch.arange(T)
        keys = torch.ones_like(real) if mistake.get("padding") else real
        sees = keys[:, None, :].expand(B, T, T)
        if causal and not mistake.get("no_causality"):
            later = s[None, :, None] <= s[None, None, :]
            sees = sees & (later if mistake.get("flip") else ~later | torch.eye(T, dtype=torch.bool))
        if not mistake.get("no_self"):
            sees = sees | torch.eye(T, dtype=torch.bool)
        if mode == "cls":
            first = real.int().argmax(dim=1) if mistake.get("cls_first_real") else torch.zeros(B, dtype=torch.long)
            return sees[torch.arange(B), first]
        if mode == "last":
            last = torch.full((B,), T - 1) if mistake.get("last_position") else torch.where(real, s, -1).amax(dim=1)
            return sees[torch.arange(B), last]
        readers = torch.ones_like(real) if mistake.get("padding") else real
        return (sees & readers[:, :, None]).any(dim=1)
    return answer


DEPENDENCE_MISTAKES = [
    (_dependence_with(no_causality=True), "under a causal mask the first token has seen only"),
    (_dependence_with(flip=True), "sees the tokens up to itself (s <= t), not the ones after it"),
    (_dependence_with(padding=True), "no real token attends to padding"),
    (_dependence_with(no_self=True), "a token always depends on itself"),
    (_dependence_with(last_position=True), "`last` reads the last real token, not the last position"),
    (_dependence_with(cls_first_real=True), "`cls` reads position 0 even when it is padding"),
]


def _eos_argmax(hidden, ids, eot_id):
    return hidden[torch.arange(hidden.shape[0]), ids.argmax(dim=1)]


def _eos_last(hidden, ids, eot_id):
    last = torch.where(ids == eot_id, torch.arange(ids.shape[1]), -1).amax(dim=1)
    return hidden[torch.arange(hidden.shape[0]), last]


def _eos_shift(offset):
    def answer(hidden, ids, eot_id):
        first = (ids == eot_id).int().argmax(dim=1) + offset
        return hidden[torch.arange(hidden.shape[0]), first.clamp(0, ids.shape[1] - 1)]
    return answer


def _eos_no_raise(hidden, ids, eot_id):
    return hidden[torch.arange(hidden.shape[0]), (ids == eot_id).int().argmax(dim=1)]


EOS_MISTAKES = [
    (_eos_argmax, "argmax of the ids finds the largest id"),
    (_eos_last, "take the first end-of-text token"),
    (_eos_shift(1), "off by one: that is the token after"),
    (_eos_shift(-1), "off by one: that is the token before"),
    (lambda hidden, ids, eot_id: hidden[:, -1], "the last position is padding"),
    (_eos_no_raise, "a sequence without eot_id must raise a ValueError"),
]


def _attention_unmasked(hidden, mask, w):
    return torch.einsum("bt,btd->bd", (hidden @ w / hidden.shape[-1] ** 0.5).softmax(dim=1), hidden)


def _attention_zero_score(hidden, mask, w):
    scores = hidden @ w / hidden.shape[-1] ** 0.5 * mask
    return torch.einsum("bt,btd->bd", scores.softmax(dim=1), hidden)


def _attention_after_softmax(hidden, mask, w):
    beta = (hidden @ w / hidden.shape[-1] ** 0.5).softmax(dim=1) * mask
    return torch.einsum("bt,btd->bd", beta, hidden)


def _attention_unscaled(hidden, mask, w):
    return attention_pool(hidden, mask, w * hidden.shape[-1] ** 0.5)


def _attention_mean(hidden, mask, w):
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1)


ATTENTION_MISTAKES = [
    (_attention_unmasked, "padding gets weight: mask the scores before the softmax"),
    (_attention_zero_score, "a padding score of 0 still has weight"),
    (_attention_after_softmax, "zeroing padding after the softmax"),
    (_attention_unscaled, "scale the scores by 1/√D"),
    (_attention_mean, "that is mean pooling"),
]

MISTAKES = [(check.pooled_dependence, f, hint) for f, hint in DEPENDENCE_MISTAKES] \
    + [(check.eos_pool, f, hint) for f, hint in EOS_MISTAKES] \
    + [(check.attention_pool, f, hint) for f, hint in ATTENTION_MISTAKES]


@pytest.mark.parametrize("run_check, answer, hint", MISTAKES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(MISTAKES)])
def test_each_mistake_fails_with_its_hint(run_check, answer, hint):
    result = run_check(answer)
    assert not result.passed and result.attempted
    assert hint in result.message, result.message
    assert not _numbers(result.message.split(":", 1)[-1]), "a hint never shows a value"


# --------------------------------------------------------------------------------------- generic mutations
SPECIFIC_HINTS = [hint for _, _, hint in MISTAKES]


def _mutations(solution):
    def mutate(transform):
        def answer(*args):
            return transform(solution(*args))
        return answer

    return {
        "zeros": mutate(lambda r: torch.zeros_like(r)),
        "doubled": mutate(lambda r: r * 2 if r.is_floating_point() else r.long() * 2),
        "negated": mutate(lambda r: -r if r.is_floating_point() else ~r),
        "shifted": mutate(lambda r: r + 1e-3 if r.is_floating_point() else r.double() + 1e-3),
        "transposed": mutate(lambda r: r.T.contiguous()),
        "reshaped": mutate(lambda r: r.reshape(-1)),
        "nan": mutate(lambda r: torch.full_like(r.double(), float("nan"))),
    }


@pytest.mark.parametrize("run_check, solution", CASES, ids=IDS)
def test_generic_mutations_never_pass_nor_get_a_specific_hint(run_check, solution):
    for name, answer in _mutations(solution).items():
        result = run_check(answer)
        assert not result.passed, f"{name} passed"
        assert not any(hint in result.message for hint in SPECIFIC_HINTS), f"{name}: {result.message}"


@pytest.mark.parametrize("run_check", [c for c, _ in CASES], ids=IDS)
def test_a_non_function_is_refused(run_check):
    with pytest.raises(TypeError, match="expected your function"):
        run_check(42)


# --------------------------------------------------------------------------------------- the catalogue
CATALOGUE = {
    check.pooled_dependence: Catalogue(reference=pooled_dependence, right=[dependence_by_loops],
                                       wrong=DEPENDENCE_MISTAKES),
    check.eos_pool: Catalogue(reference=eos_pool, right=[eos_pool_by_cumsum], wrong=EOS_MISTAKES),
    check.attention_pool: Catalogue(reference=attention_pool, right=[attention_pool_by_exp], wrong=ATTENTION_MISTAKES),
}
