"""A decoder-only Transformer language model from scratch, in one readable module (chapter 08).

The model of GPT-2 (Radford et al., 2019), as small as a laptop trains::

    cfg = TransformerConfig(vocab_size=V, block_size=128, n_layer=4, n_head=4, n_embd=128)
    model = TransformerLM(cfg)
    logits, loss = model(idx, targets)                   # idx (B, T) with T <= block_size

    x = tok_emb[idx] + pos[:T]                           # token + position embeddings, (B, T, E)
    for block in blocks:                                 # pre-norm residual blocks
        x = x + attn(ln1(x), causal)                     #   every position reads the ones before it
        x = x + mlp(ln2(x))                              #   then thinks about it alone: E -> 4E -> E, GELU
    logits = ln_f(x) @ tok_emb.T                         # weight tying: the output layer is the embedding

- :class:`TransformerConfig`: every size in one frozen dataclass, with :meth:`~TransformerConfig.n_params`,
  the parameter count by formula (a test checks it against the real count);
- :class:`Block`: one pre-norm block, made of ``lmcourse.attention.MultiHeadAttention`` and ``torch.nn``'s
  ``LayerNorm``, ``Linear`` and ``GELU``;
- :class:`TransformerLM`: the model; ``run(idx, cache)`` carries a key-value cache, so that
  ``lmcourse.models.generate`` samples from it as from a recurrent model, one token at a time, and
  gives exactly the tokens of the cache-less version (``generate(..., cache=False)``);
- :func:`sinusoidal_positions`: the fixed position table of Vaswani et al. (2017), ``positions="sinusoidal"``.

Dropout (``config.dropout``) is applied to the embeddings' sum and to each sublayer's output before it
is added back, as in GPT-2. Weights start as GPT-2's: normal with standard deviation 0.02, and 0.02 /
sqrt(2 n_layer) for the two projections that write into the residual stream in each block.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn

from lmcourse.attention import MultiHeadAttention
from lmcourse.models import _LM, _check_idx, _whole

__all__ = ["POSITIONS", "RECIPES", "Block", "KVCache", "TransformerConfig", "TransformerLM", "sinusoidal_positions"]

POSITIONS = ("learned", "sinusoidal")

#: The course's recipes for Shakespeare's characters, per ``SCALE``: (TransformerConfig keywords without
#: vocab_size, training settings). Chapter 08 trains the one of its scale; ``tools/train_reference.py`` trains
#: the ``laptop`` one into the shipped checkpoint; ``tools/bench_transformer.py`` compares the ``ci`` one with
#: nanoGPT's CPU recipe. ``warmup``: steps of linear warm-up before a cosine decay to ``floor`` x ``lr``
#: (``lmcourse.train.cosine_schedule``; ``floor`` 0.1 when not given); the other training settings are
#: ``lmcourse.train.train``'s.
RECIPES: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    "ci": ({"block_size": 64, "n_layer": 2, "n_head": 4, "n_embd": 96},
           {"steps": 300, "batch_size": 16, "lr": 6e-3, "warmup": 30, "clip": 1.0}),
    "laptop": ({"block_size": 64, "n_layer": 3, "n_head": 4, "n_embd": 128},
               {"steps": 2100, "batch_size": 64, "lr": 6e-3, "warmup": 100, "floor": 0.02, "weight_decay": 0.1,
                "clip": 1.0}),
    "gpu": ({"block_size": 64, "n_layer": 6, "n_head": 6, "n_embd": 384, "dropout": 0.2},
            {"steps": 5000, "batch_size": 64, "lr": 1e-3, "warmup": 200, "weight_decay": 0.1, "clip": 1.0}),
}


def sinusoidal_positions(T: int, E: int) -> torch.Tensor:
    """The sinusoidal position table (T, E), float32: ``PE[p, 2i] = sin(p / 10000**(2i/E))``, ``PE[p, 2i+1]`` the cos.

    Each pair of columns is a clock running at its own speed, from one turn every 2 pi positions (i = 0) to one
    every 2 pi * 10000 (i = E/2); position p is where all the hands point. ``E`` must be even.
    """
    T, E = _whole(T, "T", 1), _whole(E, "E", 2)
    if E % 2:
        raise ValueError(f"E must be even (a sin and a cos column per frequency), got E={E}.")
    pos = torch.arange(T, dtype=torch.float64)[:, None]
    freq = 10000.0 ** (-torch.arange(0, E, 2, dtype=torch.float64) / E)  # (E/2,)
    table = torch.empty(T, E, dtype=torch.float64)
    table[:, 0::2], table[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
    return table.float()


@dataclass(frozen=True)
class TransformerConfig:
    """Every size of a :class:`TransformerLM`; ``dataclasses.asdict(config)`` is what a checkpoint stores.

    - ``vocab_size`` V: how many token ids; ``block_size``: the longest context the model reads;
    - ``n_layer`` blocks of ``n_head`` attention heads each, of width ``n_embd`` E (divisible by ``n_head``);
    - ``dropout``: the probability of zeroing an activation while training (0 turns it off);
    - ``bias``: biases in the linear layers and LayerNorms; ``tie_weights``: the output layer is the
      token embedding (no V x E matrix of its own); ``positions``: ``"learned"`` (a table of block_size x E
      parameters) or ``"sinusoidal"`` (:func:`sinusoidal_positions`, no parameters).
    """

    vocab_size: int
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    tie_weights: bool = True
    positions: str = "learned"

    def __post_init__(self) -> None:
        for name, least in (("vocab_size", 1), ("block_size", 1), ("n_layer", 0), ("n_head", 1), ("n_embd", 1)):
            _whole(getattr(self, name), name, least)
        if self.n_embd % self.n_head:
            heads = [h for h in range(1, self.n_embd + 1) if self.n_embd % h == 0]
            wider = self.n_head * -(-self.n_embd // self.n_head)  # the next multiple of n_head
            raise ValueError(f"n_embd must be divisible by n_head (each head gets n_embd / n_head dimensions), got "
                             f"n_embd={self.n_embd} and n_head={self.n_head}; n_head could be one of {heads}, or "
                             f"n_embd a multiple of {self.n_head}, e.g. {wider}.")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be a probability in [0, 1), e.g. 0.1 (0 for none), got {self.dropout!r}.")
        for name in ("bias", "tie_weights"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        if self.positions not in POSITIONS:
            raise ValueError(f"positions must be one of {', '.join(map(repr, POSITIONS))}, got {self.positions!r}.")
        if self.positions == "sinusoidal" and self.n_embd % 2:
            raise ValueError(f"sinusoidal positions need an even n_embd (a sin and a cos per frequency), got "
                             f"{self.n_embd}.")

    @property
    def head_dim(self) -> int:
        """The width of one attention head, ``n_embd // n_head``."""
        return self.n_embd // self.n_head

    def n_params(self) -> int:
        """The number of parameters, by formula (``sum(p.numel() for p in model.parameters())`` agrees).

        Per block: attention's q, k, v and output projections 4 E^2, the MLP's E x 4E and 4E x E 8 E^2, so
        12 E^2 weights; with biases also 3E + E + 4E + E = 9E biases and two LayerNorms of 2E each, 13E in
        all (without: the LayerNorms' 2E scales only). Outside the blocks: the token embedding V E, learned
        positions block_size E, the final LayerNorm 2E (E without biases), and an output layer V E unless tied.
        """
        V, E, L = self.vocab_size, self.n_embd, self.n_layer
        norm = 2 * E if self.bias else E
        block = 12 * E * E + (9 * E if self.bias else 0) + 2 * norm
        positions = self.block_size * E if self.positions == "learned" else 0
        head = 0 if self.tie_weights else V * E
        return V * E + positions + L * block + norm + head


def gpt2_init(model: nn.Module, blocks: list[tuple[tuple[MultiHeadAttention, ...], tuple[nn.Linear, ...]]],
              n_layer: int, std: float = 0.02) -> None:
    """GPT-2's initialisation of ``model``: N(0, ``std``) weights, zero biases, unit LayerNorm scales, and N(0, ``std``
    / sqrt(2 ``n_layer``)) for the projections that add into the residual stream, so that the stream's variance
    does not grow with depth.

    ``blocks`` lists, block by block, its attentions (their fused q, k, v projection is drawn like any weight) and
    its residual projections. The draws come in a fixed order, every Linear and Embedding of ``model.modules()``
    first, then block by block, so that a seed gives the same model every time (the shipped checkpoints depend on
    it). Used by :class:`TransformerLM` and by ``lmcourse.seq2seq.EncoderDecoder``.
    """
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, 0.0, std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.LayerNorm):
            module.reset_parameters()
    for attentions, residual in blocks:
        for attn in attentions:
            nn.init.normal_(attn.in_proj_weight, 0.0, std)
            if attn.in_proj_bias is not None:
                nn.init.zeros_(attn.in_proj_bias)
        for proj in residual:
            nn.init.normal_(proj.weight, 0.0, std / math.sqrt(2 * n_layer))


class Block(nn.Module):
    """One pre-norm Transformer block: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))``, dropout on each branch."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        E = config.n_embd
        self.ln1 = nn.LayerNorm(E, bias=config.bias)
        self.attn = MultiHeadAttention(E, config.n_head, bias=config.bias)
        self.ln2 = nn.LayerNorm(E, bias=config.bias)
        self.mlp = nn.Sequential(nn.Linear(E, 4 * E, bias=config.bias), nn.GELU(),
                                 nn.Linear(4 * E, E, bias=config.bias))
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), is_causal=True)[0])
        return x + self.drop(self.mlp(self.ln2(x)))

    def forward_cached(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None
                       ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``forward`` for positions that follow ``past`` ones (see ``MultiHeadAttention.forward_cached``):
        ``(x, attention weights, kv)``."""
        a, weights, kv = self.attn.forward_cached(self.ln1(x), past)
        x = x + self.drop(a)
        return x + self.drop(self.mlp(self.ln2(x))), weights, kv


@dataclass
class KVCache:
    """What :meth:`TransformerLM.run` carries from one call to the next: the ids read so far (B, P) and, per
    block, their keys and values, each (B, H, P, d)."""

    ids: torch.Tensor
    kv: list[tuple[torch.Tensor, torch.Tensor]]

    @property
    def length(self) -> int:
        """P, the number of positions cached."""
        return int(self.ids.shape[1])


class TransformerLM(_LM):
    """A decoder-only Transformer language model built from a :class:`TransformerConfig`.

    ``forward(idx, targets=None) -> (logits, loss)`` as every model of the course, for ``idx`` (B, T)
    with T <= ``config.block_size``: the logits (B, T, V) of the token after each position, each
    reading only the positions up to it. ``run(idx, cache)`` does the same for tokens that follow the
    cached ones; ``attention(idx)`` returns every block's attention weights, to draw.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise TypeError(f"TransformerLM needs a TransformerConfig, e.g. TransformerLM(TransformerConfig("
                            f"vocab_size=65)), got {type(config).__name__}.")
        self.config = config
        self.vocab_size, self.context = config.vocab_size, config.block_size
        E = config.n_embd
        self.tok_emb = nn.Embedding(config.vocab_size, E)
        if config.positions == "learned":
            self.pos_emb = nn.Parameter(torch.empty(config.block_size, E))
        else:
            self.register_buffer("pos_emb", sinusoidal_positions(config.block_size, E), persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(E, bias=config.bias)
        self.head = None if config.tie_weights else nn.Linear(E, config.vocab_size, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's initialisation (:func:`gpt2_init`): each block's attention, and its two projections into the
        residual stream; then the learned positions, N(0, 0.02)."""
        gpt2_init(self, [((b.attn,), (b.attn.out_proj, b.mlp[2])) for b in self.blocks], self.config.n_layer)
        if isinstance(self.pos_emb, nn.Parameter):
            nn.init.normal_(self.pos_emb, 0.0, 0.02)

    def extra_repr(self) -> str:
        return ", ".join(f"{f.name}={getattr(self.config, f.name)!r}" for f in dataclasses.fields(self.config))

    def _check_length(self, T: int, start: int = 0) -> None:
        if start + T > self.config.block_size:
            where = f"{start} cached positions and {T} new ones" if start else f"{T} positions"
            raise ValueError(f"TransformerLM reads at most block_size={self.config.block_size} positions (it has a "
                             f"position embedding for each), got {where}; give it the last "
                             f"{self.config.block_size} tokens, e.g. idx[:, -{self.config.block_size}:].")

    def _embed(self, idx: torch.Tensor, start: int = 0) -> torch.Tensor:
        return self.drop(self.tok_emb(idx) + self.pos_emb[start:start + idx.shape[1]])

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ln_f(x)
        return x @ self.tok_emb.weight.T if self.head is None else self.head(x)

    def _features(self, idx: torch.Tensor) -> torch.Tensor:
        """The last block's output (B, T, E) for ``idx`` (B, T), before the final LayerNorm."""
        self._check_length(idx.shape[1])
        x = self._embed(idx)
        for block in self.blocks:
            x = block(x)
        return x

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        """What the model knows at each position: the final LayerNorm's output (B, T, E) for ``idx`` (B, T).

        The logits are these features times the token embedding (or the untied head): ``features`` is the
        model without its output layer, the part a classifier reuses (chapter 11 mean-pools it over a passage
        and puts a linear head on top). Position t reads only positions up to t.
        """
        idx = _check_idx(idx, self.vocab_size, "TransformerLM.features")
        return self.ln_f(self._features(idx))

    def logits(self, idx: torch.Tensor) -> torch.Tensor:
        return self._logits(self._features(idx))

    def run(self, idx: torch.Tensor, cache: KVCache | None = None) -> tuple[torch.Tensor, KVCache]:
        """The logits (B, T, V) for tokens ``idx`` (B, T) that follow those in ``cache``, and the cache grown by them.

        Each block computes keys and values for the new positions only and reuses the cached ones, so
        generating one token costs one position's work, not a whole context's. When the cached and new
        positions together pass ``block_size``, the model re-reads the last ``block_size`` ids from scratch
        (the positions shift, so no key can be reused): exactly what the cache-less model computes then.
        """
        idx = _check_idx(idx, self.vocab_size, "TransformerLM.run")
        if cache is not None and (not isinstance(cache, KVCache) or cache.ids.shape[0] != idx.shape[0]):
            raise ValueError("cache must be the KVCache that run() returned for the same batch, or None to start.")
        new = idx.shape[1]
        if cache is not None and cache.length + new > self.config.block_size:
            idx, cache = torch.cat((cache.ids, idx), dim=1)[:, -self.config.block_size:], None
        self._check_length(idx.shape[1])
        start = 0 if cache is None else cache.length
        x, kvs = self._embed(idx, start), []
        for i, block in enumerate(self.blocks):
            x, _, kv = block.forward_cached(x, None if cache is None else cache.kv[i])
            kvs.append(kv)
        ids = idx if cache is None else torch.cat((cache.ids, idx), dim=1)
        return self._logits(x[:, -new:]), KVCache(ids, kvs)

    def attention(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """Every block's attention weights for ``idx`` (B, T): a list of n_layer tensors (B, H, T, T), without
        gradients, in eval mode (the module's mode is restored afterwards)."""
        idx = _check_idx(idx, self.vocab_size, "TransformerLM.attention")
        self._check_length(idx.shape[1])
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                x, maps = self._embed(idx), []
                for block in self.blocks:
                    x, weights, _ = block.forward_cached(x, None)
                    maps.append(weights)
        finally:
            self.train(was_training)
        return maps
