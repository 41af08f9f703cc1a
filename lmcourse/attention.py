"""Attention from scratch, with PyTorch's conventions (so weights copy from ``torch.nn``).

- ``scaled_dot_product_attention(q, k, v, is_causal=..., mask=...)``: the equation of Vaswani et
  al. (2017), returning the output *and* the attention weights (which PyTorch's fused function
  does not return), so a chapter can draw them.
- ``MultiHeadAttention(embed_dim, num_heads)``: multi-head self-attention, batch first, with the
  parameters of ``torch.nn.MultiheadAttention`` (one fused input projection ``in_proj_weight``,
  ``in_proj_bias`` and an ``out_proj`` linear layer); ``from_torch`` copies a torch module's weights.

Masks here are boolean with True = "may attend", as in ``torch.nn.functional.scaled_dot_product_attention``.
Beware: ``torch.nn.MultiheadAttention``'s boolean ``attn_mask`` means the opposite (True = blocked).

Everything is device-agnostic and works in float32 and float64.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lmcourse.models import _check_input, _flag, _whole

__all__ = ["MultiHeadAttention", "scaled_dot_product_attention"]


def _check_qkv(q: object, k: object, v: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    who = "scaled_dot_product_attention"
    shapes = "q (..., T_q, d), k (..., T_k, d), v (..., T_k, d_v)"
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{who} needs tensors {shapes}; {name} is a {type(t).__name__}.")
        if t.dim() < 2:
            raise ValueError(f"{who} needs tensors {shapes} with at least 2 dimensions; {name} has shape "
                             f"{tuple(t.shape)}; for a single vector use {name}[None].")
        if not t.is_floating_point():
            raise TypeError(f"{who} needs floating-point tensors; {name} is {t.dtype}; convert it, "
                            f"e.g. {name}.float().")
    assert isinstance(q, torch.Tensor) and isinstance(k, torch.Tensor) and isinstance(v, torch.Tensor)
    got = f"got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{who}: q and k must share their last dimension d (q k^T sums over it); expected {shapes}, "
                         f"{got}.")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{who}: k and v must have the same number of positions T_k (one value per key); "
                         f"expected {shapes}, {got}.")
    if q.shape[-2] == 0 or k.shape[-2] == 0 or q.shape[-1] == 0:
        raise ValueError(f"{who} needs T_q, T_k and d of at least 1, {got}.")
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(f"{who}: the leading (batch, head) dimensions of q, k and v must be equal or "
                         f"broadcastable, {got}.") from None
    if not (q.dtype == k.dtype == v.dtype) or not (q.device == k.device == v.device):
        raise TypeError(f"{who} needs q, k and v of one dtype on one device, got q {q.dtype} on {q.device}, "
                        f"k {k.dtype} on {k.device}, v {v.dtype} on {v.device}; convert them, e.g. k.to(q).")
    return q, k, v


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, is_causal: bool = False,
                                 mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention: ``(out, weights)``, out (..., T_q, d_v), weights (..., T_q, T_k).

        weights = softmax(q k^T / sqrt(d) + M)      (softmax over the last dimension, the keys)
        out     = weights v

    where M is 0 where query i may attend to key j and -inf where it may not, so a blocked key gets
    weight exactly 0 and each row of ``weights`` sums to 1. The 1/sqrt(d) keeps the scores' spread
    near 1 whatever the head size d, so the softmax does not saturate.

    ``q`` (..., T_q, d), ``k`` (..., T_k, d), ``v`` (..., T_k, d_v); the leading dimensions (batch,
    heads, ...) must be equal or broadcastable. ``is_causal=True`` lets position i see only
    positions j <= i (needs T_q == T_k; for any other pattern pass ``mask``). ``mask``: a boolean
    tensor broadcastable to (..., T_q, T_k), True where query i *may* attend to key j (as in
    ``torch.nn.functional.scaled_dot_product_attention``). ``mask`` and ``is_causal`` together are
    refused; combine them yourself, e.g. ``mask & torch.ones(T, T, dtype=torch.bool).tril()``.
    A query row that may attend to no key at all is an error (its softmax is undefined; PyTorch's
    fused function silently returns zeros there).
    """
    q, k, v = _check_qkv(q, k, v)
    _flag(is_causal, "is_causal")
    T_q, T_k = q.shape[-2], k.shape[-2]
    if is_causal:
        if mask is not None:
            raise ValueError("scaled_dot_product_attention takes is_causal=True or a mask, not both; fold the "
                             "causal pattern into the mask: mask & torch.ones(T, T, dtype=torch.bool).tril().")
        if T_q != T_k:
            raise ValueError(f"scaled_dot_product_attention: is_causal=True needs as many queries as keys, got "
                             f"T_q={T_q} and T_k={T_k}; for another alignment pass a boolean mask instead.")
        mask = torch.ones(T_q, T_k, dtype=torch.bool, device=q.device).tril()
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (..., T_q, T_k)
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            what = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise TypeError(f"scaled_dot_product_attention: mask must be a boolean tensor (True = may attend), got "
                            f"{what}; for 0/1 values use mask.bool(), for an additive float mask use mask == 0.")
        if mask.device != q.device:
            raise TypeError(f"scaled_dot_product_attention: mask is on {mask.device} but q is on {q.device}; "
                            "use mask.to(q.device).")
        try:
            torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError:
            raise ValueError(f"scaled_dot_product_attention: mask of shape {tuple(mask.shape)} does not broadcast "
                             f"to the scores' shape (..., T_q, T_k) = {tuple(scores.shape)}.") from None
        if not bool(mask.any(dim=-1).all()):
            raise ValueError("scaled_dot_product_attention: some query may attend to no key at all (a mask row "
                             "that is all False), so its softmax is undefined; allow at least one key per query.")
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention, from scratch, with ``torch.nn.MultiheadAttention``'s parameters.

    For x (B, T, E), batch first, with H heads of size d = E / H::

        q, k, v = split(x W_in^T + b_in)              W_in = in_proj_weight (3E, E), rows W_q, W_k, W_v
        head_h  = attention(q_h, k_h, v_h)            q_h = the h-th d columns of q, likewise k_h, v_h
        out     = concat(head_1, ..., head_H) W_out^T + b_out      the out_proj linear layer (E -> E)

    ``forward(x, *, is_causal=False)`` returns ``(out, weights)``: out (B, T, E) and every head's
    attention weights (B, H, T, T) (``scaled_dot_product_attention``; ``is_causal=True`` lets
    position i see positions j <= i only). Parameters ``in_proj_weight`` (3E, E), ``in_proj_bias``
    (3E,), ``out_proj.weight`` (E, E), ``out_proj.bias`` (E,) (no biases with ``bias=False``),
    initialised as PyTorch does, so one seed gives the same weights as ``torch.nn.MultiheadAttention``.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True) -> None:
        super().__init__()
        self.embed_dim = _whole(embed_dim, "embed_dim", 1)
        self.num_heads = _whole(num_heads, "num_heads", 1)
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim must be divisible by num_heads (each head gets embed_dim / num_heads "
                             f"dimensions), got embed_dim={embed_dim} and num_heads={num_heads}; divisors of "
                             f"{embed_dim}: {[h for h in range(1, self.embed_dim + 1) if self.embed_dim % h == 0]}.")
        self.head_dim = self.embed_dim // self.num_heads
        self.bias = _flag(bias, "bias")
        E = self.embed_dim
        self.in_proj_weight = nn.Parameter(torch.empty(3 * E, E))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * E)) if bias else None
        self.out_proj = nn.Linear(E, E, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: Xavier-uniform input projection, zero biases (after out_proj's own init)."""
        nn.init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, bias={self.bias}"

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q, k, v for x (B, T, E), each split into heads: (B, H, T, d)."""
        B, T, _ = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)  # each (B, T, E)
        return tuple(t.reshape(B, T, self.num_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))  # type: ignore

    def _merge(self, heads: torch.Tensor) -> torch.Tensor:
        """The heads (B, H, T, d) side by side again, (B, T, E), through the output projection."""
        B, _, T, _ = heads.shape
        return self.out_proj(heads.transpose(1, 2).reshape(B, T, self.embed_dim))

    def forward(self, x: torch.Tensor, *, is_causal: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        x = _check_input(x, self.embed_dim, self.in_proj_weight, "MultiHeadAttention")
        _flag(is_causal, "is_causal")
        q, k, v = self._heads(x)  # each (B, H, T, d)
        heads, weights = scaled_dot_product_attention(q, k, v, is_causal=is_causal)  # (B, H, T, d), (B, H, T, T)
        return self._merge(heads), weights

    def forward_cached(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Causal self-attention for new positions ``x`` (B, T, E) that follow ``past`` ones: ``(out, weights, kv)``.

        ``past`` is the ``kv`` this method returned for the earlier positions: their keys and values,
        each (B, H, P, d) (None: there are none, P = 0). The new queries attend causally to the P + T
        keys (new position i sees all past ones and new ones up to i), so running a sequence in pieces
        gives the outputs of one causal ``forward`` over the whole of it: the key-value cache of
        generation, which computes each position's keys and values once. ``kv`` holds all P + T keys
        and values, to pass as ``past`` next time; ``weights`` is (B, H, T, P + T).
        """
        x = _check_input(x, self.embed_dim, self.in_proj_weight, "MultiHeadAttention")
        q, k, v = self._heads(x)
        if past is None:
            heads, weights = scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            if (not isinstance(past, tuple) or len(past) != 2
                    or any(not isinstance(t, torch.Tensor) or t.shape[:2] != k.shape[:2] or t.shape[3] != k.shape[3]
                           for t in past)):
                raise ValueError(f"past must be the kv pair an earlier forward_cached call returned: keys and values "
                                 f"of shape (B, H, P, d) = ({k.shape[0]}, {k.shape[1]}, P, {k.shape[3]}).")
            k, v = torch.cat((past[0], k), dim=2), torch.cat((past[1], v), dim=2)
            P, T = past[0].shape[2], q.shape[2]
            # new query i is position P + i: it may see keys 0 .. P + i; one new query (generation) sees them all
            mask = None if T == 1 else (torch.arange(P + T, device=x.device)[None, :]
                                        <= torch.arange(P, P + T, device=x.device)[:, None])
            heads, weights = scaled_dot_product_attention(q, k, v, mask=mask)
        return self._merge(heads), weights, (k, v)

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """A copy of a ``torch.nn.MultiheadAttention``'s weights, on its device and in its dtype.

        Refused: kdim or vdim other than embed_dim (separate q, k, v projections), ``add_bias_kv``,
        ``add_zero_attn`` and ``dropout > 0``, which this module does not have. Any ``batch_first``
        is accepted, since it does not change the weights, but this module is always batch first.
        """
        if not isinstance(module, nn.MultiheadAttention):
            raise TypeError(f"MultiHeadAttention.from_torch needs a torch.nn.MultiheadAttention, "
                            f"got {type(module).__name__}.")
        who = "MultiHeadAttention.from_torch: the torch.nn.MultiheadAttention"
        if not module._qkv_same_embed_dim:
            raise ValueError(f"{who} has kdim={module.kdim}, vdim={module.vdim} different from "
                             f"embed_dim={module.embed_dim} (separate q, k, v projections); this module does "
                             f"self-attention with one fused projection: use kdim=vdim=embed_dim.")
        if module.bias_k is not None:
            raise ValueError(f"{who} has add_bias_kv=True (a learnt extra key and value), which this module does "
                             "not have; use add_bias_kv=False.")
        if module.add_zero_attn:
            raise ValueError(f"{who} has add_zero_attn=True (an extra all-zero key and value), which this module "
                             "does not have; use add_zero_attn=False.")
        if module.dropout > 0:
            raise ValueError(f"{who} has dropout={module.dropout} on the attention weights, which this module "
                             "does not do; use dropout=0.0.")
        ref = module.in_proj_weight
        new = cls(module.embed_dim, module.num_heads, bias=module.in_proj_bias is not None)
        new.to(device=ref.device, dtype=ref.dtype)
        theirs = dict(module.named_parameters())
        with torch.no_grad():
            for name, p in new.named_parameters():
                p.copy_(theirs[name])
        return new
