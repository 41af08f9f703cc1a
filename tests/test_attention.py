"""Tests of ``lmcourse.attention``: scaled dot-product attention against PyTorch's fused function,
multi-head self-attention against ``torch.nn.MultiheadAttention`` (outputs, per-head weights and
the gradients of every parameter and the input), and every refusal's message.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmcourse.attention import MultiHeadAttention, scaled_dot_product_attention

ATOL = 1e-5  # float32, through two projections and a backward pass


def weighted_sum(*outs: torch.Tensor) -> torch.Tensor:
    """A scalar that gives every output element its own gradient (a plain sum would hide a transposition)."""
    g = torch.Generator().manual_seed(123)
    return sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)  # type: ignore[return-value]


def qkv(lead: tuple[int, ...], T_q: int, T_k: int, d: int, d_v: int, dtype: torch.dtype = torch.float32,
        seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*lead, T_q, d, generator=g, dtype=dtype), torch.randn(*lead, T_k, d, generator=g, dtype=dtype),
            torch.randn(*lead, T_k, d_v, generator=g, dtype=dtype))


# --------------------------------------------------------------------------- scaled_dot_product_attention


SHAPES = [((), 5, 5, 4, 4), ((3,), 6, 6, 8, 5), ((2, 4), 7, 7, 16, 16), ((2, 3), 1, 1, 2, 3)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_sdpa_matches_torch(shape: tuple, is_causal: bool, dtype: torch.dtype) -> None:
    lead, T_q, T_k, d, d_v = shape
    q, k, v = qkv(lead, T_q, T_k, d, d_v, dtype)
    out, weights = scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    assert out.shape == (*lead, T_q, d_v) and weights.shape == (*lead, T_q, T_k)
    assert out.dtype == weights.dtype == dtype
    atol = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(out, expected, atol=atol, rtol=1e-5 if dtype == torch.float32 else 1e-10)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1], dtype=dtype), atol=atol, rtol=0)
    assert (weights >= 0).all()
    if is_causal:
        above = torch.ones(T_q, T_k, dtype=torch.bool).triu(1)
        assert (weights[..., above] == 0).all()
        assert (weights[..., ~above] > 0).all()


@pytest.mark.parametrize("shape", [((), 4, 6, 3, 5), ((2, 3), 5, 7, 4, 2)], ids=str)
@pytest.mark.parametrize("mask_shape", ["full", "keys", "per-batch"])
def test_sdpa_with_a_boolean_mask_matches_torch(shape: tuple, mask_shape: str) -> None:
    lead, T_q, T_k, d, d_v = shape
    q, k, v = qkv(lead, T_q, T_k, d, d_v, seed=1)
    g = torch.Generator().manual_seed(2)
    full = {"full": (T_q, T_k), "keys": (T_k,), "per-batch": (*lead, T_q, T_k)}[mask_shape]
    mask = torch.rand(full, generator=g) < 0.6
    mask[..., 0] = True  # every query may attend to at least one key
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    full_mask = mask.expand(weights.shape)  # torch's function does not broadcast a 1-d mask over 4-d scores
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=full_mask), atol=1e-6, rtol=1e-5)
    blocked = ~full_mask
    assert blocked.any() and (weights[blocked] == 0).all() and (weights[~blocked] > 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]), atol=1e-6, rtol=0)


def test_sdpa_causal_equals_a_lower_triangular_mask_and_differs_from_none() -> None:
    q, k, v = qkv((2,), 6, 6, 4, 4, seed=3)
    causal, w_c = scaled_dot_product_attention(q, k, v, is_causal=True)
    masked, w_m = scaled_dot_product_attention(q, k, v, mask=torch.ones(6, 6, dtype=torch.bool).tril())
    plain, _ = scaled_dot_product_attention(q, k, v)
    assert torch.equal(causal, masked) and torch.equal(w_c, w_m)
    assert not torch.allclose(causal, plain, atol=1e-3)
    torch.testing.assert_close(causal[:, -1], plain[:, -1])  # the last position sees everything either way
    torch.testing.assert_close(causal[:, 0], v[:, 0])  # the first sees only itself


def test_sdpa_scales_by_sqrt_d() -> None:
    """With one key the scale cancels; with two the weights are softmax(q.k / sqrt(d)) by hand."""
    q = torch.tensor([[1.0, 2.0, 0.0, 1.0]])
    k = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    _, w = scaled_dot_product_attention(q, k, torch.eye(2))
    expected = torch.softmax(torch.tensor([1.0, 2.0]) / 2.0, dim=0)
    torch.testing.assert_close(w[0], expected)


def test_sdpa_gradients_match_torch() -> None:
    q, k, v = (t.requires_grad_() for t in qkv((2, 3), 5, 5, 4, 6, torch.float64, seed=4))
    ours, _ = scaled_dot_product_attention(q, k, v, is_causal=True)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    g_o = torch.autograd.grad(weighted_sum(ours), (q, k, v))
    g_r = torch.autograd.grad(weighted_sum(ref), (q, k, v))
    for a, b in zip(g_o, g_r):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


def sdpa_error(match: str, *args: object, exc: type[Exception] = ValueError, **kwargs: object) -> None:
    with pytest.raises(exc, match=match):
        scaled_dot_product_attention(*args, **kwargs)  # type: ignore[arg-type]


def test_sdpa_refuses_bad_input() -> None:
    q, k, v = qkv((2,), 4, 4, 3, 5)
    sdpa_error(r"q is a list", q.tolist(), k, v, exc=TypeError)
    sdpa_error(r"at least 2 dimensions; k has shape \(3,\); for a single vector use k\[None\]", q, k[0, 0], v)
    sdpa_error(r"floating-point tensors; v is torch.int64", q, k, v.long(), exc=TypeError)
    sdpa_error(r"q and k must share their last dimension d .*got q \(2, 4, 3\), k \(2, 4, 2\), v \(2, 4, 5\)",
               q, k[..., :2], v)
    sdpa_error(r"k and v must have the same number of positions T_k .*k \(2, 4, 3\), v \(2, 3, 5\)", q, k, v[:, :3])
    sdpa_error(r"T_q, T_k and d of at least 1, got q \(2, 0, 3\)", q[:, :0], k, v)
    sdpa_error(r"leading \(batch, head\) dimensions .* broadcastable, got q \(2, 4, 3\), k \(3, 4, 3\)",
               q, torch.randn(3, 4, 3), torch.randn(3, 4, 5))
    sdpa_error(r"one dtype on one device, got q torch.float32 on cpu, k torch.float64", q, k.double(), v,
               exc=TypeError)
    sdpa_error(r"is_causal must be True or False, got 1", q, k, v, is_causal=1, exc=TypeError)
    sdpa_error(r"is_causal=True or a mask, not both", q, k, v, is_causal=True, mask=torch.ones(4, 4, dtype=torch.bool))
    sdpa_error(r"is_causal=True needs as many queries as keys, got T_q=2 and T_k=4", q[:, :2], k, v, is_causal=True)
    sdpa_error(r"mask must be a boolean tensor \(True = may attend\), got torch.float32; .*mask.bool\(\)",
               q, k, v, mask=torch.ones(4, 4), exc=TypeError)
    sdpa_error(r"mask must be a boolean tensor .*got list", q, k, v, mask=[[True] * 4] * 4, exc=TypeError)
    sdpa_error(r"mask of shape \(3, 4\) does not broadcast to the scores' shape \(..., T_q, T_k\) = \(2, 4, 4\)",
               q, k, v, mask=torch.ones(3, 4, dtype=torch.bool))
    no_key = torch.ones(4, 4, dtype=torch.bool)
    no_key[2] = False
    sdpa_error(r"some query may attend to no key at all", q, k, v, mask=no_key)


# --------------------------------------------------------------------------- MultiHeadAttention


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("num_heads", [1, 4])
def test_mha_matches_torch(num_heads: int, is_causal: bool, bias: bool) -> None:
    torch.manual_seed(0)
    B, T, E = 3, 7, 8
    ref = nn.MultiheadAttention(E, num_heads, bias=bias, batch_first=True)
    with torch.no_grad():  # nonzero biases, so that a bias in the wrong place shows
        for p in ref.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ours = MultiHeadAttention.from_torch(ref)
    names = [n for n, _ in ref.named_parameters()]
    assert names == [n for n, _ in ours.named_parameters()]
    assert [p.shape for p in ref.parameters()] == [p.shape for p in ours.parameters()]
    x = torch.randn(B, T, E, requires_grad=True)
    attn_mask = torch.ones(T, T, dtype=torch.bool).triu(1) if is_causal else None  # torch's: True = blocked
    out_r, w_r = ref(x, x, x, need_weights=True, average_attn_weights=False, attn_mask=attn_mask)
    out_o, w_o = ours(x, is_causal=is_causal)
    assert out_o.shape == (B, T, E) and w_o.shape == (B, num_heads, T, T)
    torch.testing.assert_close(out_o, out_r, atol=ATOL, rtol=1e-5)
    torch.testing.assert_close(w_o, w_r, atol=ATOL, rtol=1e-5)
    if is_causal:
        assert (w_o[..., torch.ones(T, T, dtype=torch.bool).triu(1)] == 0).all()
    g_r = torch.autograd.grad(weighted_sum(out_r, w_r), [x, *ref.parameters()])
    g_o = torch.autograd.grad(weighted_sum(out_o, w_o), [x, *ours.parameters()])
    for name, a, b in zip(["x", *names], g_o, g_r):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=1e-5, msg=lambda m, name=name: f"gradient of {name}: {m}")


def test_mha_heads_are_separate() -> None:
    """4 heads are not 1 head: the same weights give other outputs (a reshape that mixed heads would too)."""
    torch.manual_seed(1)
    one = MultiHeadAttention(8, 1)
    four = MultiHeadAttention(8, 4)
    four.load_state_dict(one.state_dict())
    x = torch.randn(2, 5, 8)
    assert not torch.allclose(one(x)[0], four(x)[0], atol=1e-3)


def test_mha_initialises_like_torch_and_runs_in_float64() -> None:
    torch.manual_seed(5)
    ref = nn.MultiheadAttention(12, 3, batch_first=True)
    torch.manual_seed(5)
    ours = MultiHeadAttention(12, 3)
    for (name, a), b in zip(ours.named_parameters(), ref.parameters()):
        assert torch.equal(a, b), name
    ref64 = ref.double()
    ours64 = MultiHeadAttention.from_torch(ref64)
    assert ours64.in_proj_weight.dtype == torch.float64
    x = torch.randn(2, 4, 12, dtype=torch.float64)
    out, w = ours64(x)
    out_r, w_r = ref64(x, x, x, average_attn_weights=False)
    torch.testing.assert_close(out, out_r, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(w, w_r, atol=1e-12, rtol=1e-10)
    assert "embed_dim=12, num_heads=3, bias=True" in repr(ours)


def test_mha_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"embed_dim must be divisible by num_heads .*got embed_dim=10 and "
                                         r"num_heads=4; divisors of 10: \[1, 2, 5, 10\]"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match=r"num_heads must be >= 1, got 0"):
        MultiHeadAttention(8, 0)
    with pytest.raises(TypeError, match=r"embed_dim must be a whole number >= 1, got 8.0"):
        MultiHeadAttention(8.0, 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"bias must be True or False, got 1"):
        MultiHeadAttention(8, 2, bias=1)  # type: ignore[arg-type]
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"x of shape .* = \(B, T, 8\) \(batch first\), got shape \(5, 8\); "
                                         r"for one sequence use x\[None\]"):
        mha(torch.randn(5, 8))
    with pytest.raises(ValueError, match=r"got shape \(2, 5, 6\)"):
        mha(torch.randn(2, 5, 6))
    with pytest.raises(TypeError, match=r"torch.float32 weights on cpu, got x of dtype torch.float64"):
        mha(torch.randn(2, 5, 8, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"is_causal must be True or False, got None"):
        mha(torch.randn(2, 5, 8), is_causal=None)  # type: ignore[arg-type]


def test_mha_from_torch_refuses_what_it_cannot_copy() -> None:
    with pytest.raises(TypeError, match=r"needs a torch.nn.MultiheadAttention, got Linear"):
        MultiHeadAttention.from_torch(nn.Linear(4, 4))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"kdim=6, vdim=8 different from embed_dim=8 .*use kdim=vdim=embed_dim"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, kdim=6, batch_first=True))
    with pytest.raises(ValueError, match=r"add_bias_kv=True .*use add_bias_kv=False"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, add_bias_kv=True, batch_first=True))
    with pytest.raises(ValueError, match=r"add_zero_attn=True .*use add_zero_attn=False"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, add_zero_attn=True, batch_first=True))
    with pytest.raises(ValueError, match=r"dropout=0.1 on the attention weights.*use dropout=0.0"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, dropout=0.1, batch_first=True))
