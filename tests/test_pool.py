"""mlbits_lite.models.pool: every mode against a hand computation, padding invariance, and clear errors."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbits_lite import models

F64 = torch.float64


def _batch():
    # two sequences of lengths 3 and 1, right-padded to T = 4; D = 2
    hidden = torch.tensor([[[1.0, -2.0], [3.0, 0.0], [-1.0, 5.0], [100.0, 100.0]],
                           [[2.0, -7.0], [50.0, 50.0], [50.0, 50.0], [50.0, 50.0]]], dtype=F64)
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])
    return hidden, mask


@pytest.mark.parametrize("mode, expected", [
    ("cls", [[1.0, -2.0], [2.0, -7.0]]),
    ("mean", [[1.0, 1.0], [2.0, -7.0]]),  # (1 + 3 - 1) / 3, (-2 + 0 + 5) / 3
    ("max", [[3.0, 5.0], [2.0, -7.0]]),  # the padding (100, 50) never wins
    ("last", [[-1.0, 5.0], [2.0, -7.0]]),
])
def test_modes_equal_the_hand_computation(mode, expected):
    hidden, mask = _batch()
    torch.testing.assert_close(models.pool(hidden, mask, mode), torch.tensor(expected, dtype=F64))


def test_eot_argmax_pools_at_the_largest_id_which_is_clip_s_end_of_text():
    hidden, mask = _batch()
    ids = torch.tensor([[49406, 320, 49407, 0], [49407, 0, 0, 0]])
    torch.testing.assert_close(models.pool(hidden, mask, "eot_argmax", token_ids=ids), hidden[[0, 1], [2, 0]])
    # padding with the end-of-text id itself still pools the first one: argmax returns the first maximum
    padded_with_eot = torch.tensor([[49406, 320, 49407, 49407], [49407, 49407, 49407, 49407]])
    torch.testing.assert_close(models.pool(hidden, mask, "eot_argmax", token_ids=padded_with_eot),
                               hidden[[0, 1], [2, 0]])


def test_last_works_with_left_padding_and_bool_masks():
    hidden = torch.arange(2 * 4 * 3, dtype=F64).reshape(2, 4, 3)
    mask = torch.tensor([[False, True, True, True], [False, False, True, False]])
    torch.testing.assert_close(models.pool(hidden, mask, "last"), hidden[[0, 1], [3, 2]])
    torch.testing.assert_close(models.pool(hidden, mask, "mean"), torch.stack([hidden[0, 1:].mean(0), hidden[1, 2]]))


def test_mean_matches_sentence_transformers_formula():
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 6, 5, generator=g, dtype=F64)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0]])
    weights = mask.unsqueeze(-1).to(F64)
    expected = (hidden * weights).sum(1) / torch.clamp(weights.sum(1), min=1e-9)
    torch.testing.assert_close(models.pool(hidden, mask, "mean"), expected)


def test_nan_in_padding_does_not_leak_into_mean_or_max():
    hidden, mask = _batch()
    hidden = hidden.clone()
    hidden[0, 3] = float("nan")
    for mode in ("mean", "max", "last"):
        assert torch.isfinite(models.pool(hidden, mask, mode)).all(), mode


@settings(deadline=None, max_examples=30)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4), extra=st.integers(1, 5),
       mode=st.sampled_from(["cls", "mean", "max", "last", "eot_argmax"]))
def test_extra_padding_never_changes_the_pooled_vector(lengths, extra, mode):
    g = torch.Generator().manual_seed(len(lengths) * 10 + extra)
    T = max(lengths)
    hidden = torch.randn(len(lengths), T + extra, 3, generator=g, dtype=F64)
    mask = (torch.arange(T + extra)[None] < torch.tensor(lengths)[:, None]).long()
    ids = torch.where(mask.bool(), torch.randint(1, 100, mask.shape, generator=g), 0)
    ids[torch.arange(len(lengths)), torch.tensor(lengths) - 1] = 1000  # the end-of-text id, the largest
    short = models.pool(hidden[:, :T], mask[:, :T], mode, token_ids=ids[:, :T])
    long = models.pool(hidden, mask, mode, token_ids=ids)
    exact = mode != "mean"  # a sum over more (zero) terms may round in another order: equal to round-off
    torch.testing.assert_close(long, short, rtol=0 if exact else 1e-14, atol=0 if exact else 1e-15)


def test_gradient_reaches_only_the_pooled_real_tokens():
    hidden, mask = _batch()
    for mode, touched in (("cls", [[0], [0]]), ("last", [[2], [0]]), ("mean", [[0, 1, 2], [0]])):
        h = hidden.clone().requires_grad_(True)
        models.pool(h, mask, mode).sum().backward()
        nonzero = [sorted(set(h.grad[b].abs().sum(-1).nonzero().flatten().tolist())) for b in range(2)]
        assert nonzero == touched, mode


def test_all_padding_rows_raise_a_clear_error():
    hidden, mask = _batch()
    mask = mask.clone()
    mask[1] = 0
    for mode in models.POOL_MODES:
        with pytest.raises(ValueError, match=r"sequence\(s\) \[1\] have no real token"):
            models.pool(hidden, mask, mode, token_ids=torch.ones(2, 4, dtype=torch.long))


def test_bad_arguments_raise_clear_errors():
    hidden, mask = _batch()
    with pytest.raises(ValueError, match="mode must be one of"):
        models.pool(hidden, mask, "average")
    with pytest.raises(TypeError, match="hidden must be a floating-point tensor"):
        models.pool(hidden.long(), mask, "mean")
    with pytest.raises(ValueError, match="hidden must be 3-D"):
        models.pool(hidden[0], mask, "mean")
    with pytest.raises(TypeError, match="mask must be a torch.Tensor"):
        models.pool(hidden, [[1, 1, 1, 0], [1, 0, 0, 0]], "mean")
    with pytest.raises(ValueError, match=r"mask must have shape \(B, T\) = \(2, 4\)"):
        models.pool(hidden, mask[:, :3], "mean")
    with pytest.raises(ValueError, match="mask must hold only 0"):
        models.pool(hidden, mask * 2, "mean")
    with pytest.raises(ValueError, match="needs token_ids"):
        models.pool(hidden, mask, "eot_argmax")
    with pytest.raises(TypeError, match="token_ids must be an integer tensor"):
        models.pool(hidden, mask, "eot_argmax", token_ids=torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"token_ids must have shape \(B, T\)"):
        models.pool(hidden, mask, "eot_argmax", token_ids=torch.ones(2, 3, dtype=torch.long))


def test_cls_refuses_left_padding_and_eot_argmax_refuses_an_id_on_padding():
    hidden, _ = _batch()
    left = torch.tensor([[0, 1, 1, 1], [1, 1, 0, 0]])
    with pytest.raises(ValueError, match=r"padding in sequence\(s\) \[0\] \(left padding\?\)"):
        models.pool(hidden, left, "cls")
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    ids = torch.tensor([[5, 9, 7, 0], [3, 4, 0, 99]])  # row 1: a larger id on a padding position
    with pytest.raises(ValueError, match=r"sequence\(s\) \[1\] is on a padding position"):
        models.pool(hidden, mask, "eot_argmax", token_ids=ids)
