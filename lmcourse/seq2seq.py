"""Translation with an encoder-decoder Transformer, from scratch (chapter 11), and what it is measured against.

The Transformer of Vaswani et al. (2017) as it was first built, for translation: an *encoder* reads the whole
source sentence (every position sees every other one), a *decoder* writes the translation one token at a time
(each position sees the tokens before it, as in chapter 08's language model) and, in every block, looks up the
source through *cross-attention*: its queries come from the target side, its keys and values from the encoder's
output, the *memory*::

    memory = encode(src)                                  # (B, S, E): source tokens + positions, n_layer blocks
    for block in decoder:                                 # pre-norm residual blocks, as in lmcourse.transformer
        y = y + self_attn(ln1(y), causal)                 #   the translation so far
        y = y + cross_attn(ln_c(y), memory, src != pad)   #   what in the source is relevant now
        y = y + mlp(ln2(y))
    logits = ln_f(y) @ tgt_emb.T                          # tied: the output layer is the target embedding

Padding: sources of different lengths are padded with ``config.pad_id`` to one width, and no attention ever
reads a padded source position (a *key-padding mask*, ``src != pad_id``, in the encoder's self-attention and in
every cross-attention), so a source's translation does not depend on how much padding it got.

- :class:`Seq2SeqConfig`, :class:`EncoderDecoder`: the model. ``forward(x, targets)`` follows the course's
  contract, so ``lmcourse.train.train`` and ``lmcourse.train.evaluate`` train and score it unchanged: ``x`` is
  the source and the decoder's input side by side, ``torch.cat([src, tgt_in], dim=1)``, as :func:`pack` builds it;
- :class:`CrossAttention`: multi-head attention whose queries and keys come from two sequences, with the
  parameters of ``torch.nn.MultiheadAttention`` (a test compares them);
- :func:`pack`: (source ids, target ids) pairs -> ``(x, y)``; :func:`greedy`: batched greedy translation;
- :func:`dates`: a synthetic task that trains in seconds, spelled-out dates -> ISO 8601 ("1987-03-23");
- :class:`WordDictionary`: the baseline, a word-for-word dictionary learned from the training pairs.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lmcourse.attention import MultiHeadAttention, scaled_dot_product_attention
from lmcourse.batches import IGNORE_INDEX
from lmcourse.models import _check_idx, _check_input, _whole, lm_loss
from lmcourse.transformer import Block, TransformerConfig, gpt2_init

__all__ = ["DATE_FORMS", "MONTHS", "CrossAttention", "DecoderBlock", "EncoderBlock", "EncoderDecoder", "Seq2SeqConfig",
           "WordDictionary", "dates", "greedy", "pack", "spell_date"]


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Seq2SeqConfig:
    """Every size of an :class:`EncoderDecoder`.

    - ``src_vocab``, ``tgt_vocab``: how many source and target token ids (one tokeniser for both sides
      gives the same number twice);
    - ``src_len``: the longest source, in tokens; ``tgt_len``: the longest decoder input, ``<bos>`` included
      (a target of ``tgt_len - 1`` tokens plus ``<eos>`` fills it);
    - ``n_layer`` blocks in the encoder and ``n_layer`` in the decoder, each with ``n_head`` heads, of width
      ``n_embd`` (divisible by ``n_head``); ``dropout``: as in :class:`lmcourse.transformer.TransformerConfig`;
    - ``pad_id``: the padding id of both sides (an id of both vocabularies). Source positions holding it are
      never attended to.
    """

    src_vocab: int
    tgt_vocab: int
    src_len: int
    tgt_len: int
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    pad_id: int = 0

    def __post_init__(self) -> None:
        for name, least in (("src_vocab", 2), ("tgt_vocab", 2), ("src_len", 1), ("tgt_len", 1), ("pad_id", 0)):
            _whole(getattr(self, name), name, least)
        self.block_config()  # n_layer, n_head, n_embd and dropout are checked as TransformerConfig checks them
        smaller = min(self.src_vocab, self.tgt_vocab)
        if self.pad_id >= smaller:
            side = "src_vocab" if self.src_vocab <= self.tgt_vocab else "tgt_vocab"
            raise ValueError(f"pad_id must be an id of both vocabularies (0 .. {smaller - 1}), got "
                             f"pad_id={self.pad_id} with {side}={smaller}; pass the tokeniser's "
                             "token_to_id('<pad>'), and one tokeniser for both sides if their pad ids differ.")

    def block_config(self) -> TransformerConfig:
        """The sizes of a block as a :class:`~lmcourse.transformer.TransformerConfig`, which ``Block`` is built from."""
        return TransformerConfig(vocab_size=self.tgt_vocab, block_size=self.tgt_len, n_layer=self.n_layer,
                                 n_head=self.n_head, n_embd=self.n_embd, dropout=self.dropout)

    def n_params(self) -> int:
        """The number of parameters, by formula (a test checks it against the real count).

        An encoder block is chapter 08's block, 12 E^2 + 13 E; a decoder block adds a cross-attention (4 E^2 + 4 E)
        and its LayerNorm (2 E). Outside the blocks: the two token embeddings and two position tables, and a final
        LayerNorm on each side; the output layer is the target embedding (tied).
        """
        E, L = self.n_embd, self.n_layer
        block = 12 * E * E + 13 * E
        return ((self.src_vocab + self.tgt_vocab + self.src_len + self.tgt_len) * E + L * block
                + L * (block + 4 * E * E + 6 * E) + 2 * 2 * E)


class CrossAttention(MultiHeadAttention):
    """Multi-head attention from a sequence ``x`` (B, T, E) to another, ``memory`` (B, S, E): ``(out, weights)``.

    The parameters are those of ``torch.nn.MultiheadAttention`` (and of :class:`MultiHeadAttention`): the rows
    W_q, W_k, W_v of ``in_proj_weight`` make the queries from ``x`` and the keys and values from ``memory``::

        q = x W_q^T + b_q,   k = memory W_k^T + b_k,   v = memory W_v^T + b_v,   split into H heads
        out = concat_h(attention(q_h, k_h, v_h, mask)) W_out^T + b_out

    so ``torch.nn.MultiheadAttention(E, H, batch_first=True)(x, memory, memory, key_padding_mask=~keep)`` gives
    the same output (``from_torch`` copies one). ``keep`` (B, S), boolean: True for the memory positions that may
    be attended to (False: padding); None lets every query see every position. ``weights`` is (B, H, T, S).
    With ``memory = x`` this is self-attention without a causal mask: the encoder's.
    """

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        B, T, _ = t.shape
        return t.reshape(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, T, d)

    def forward(self, x: torch.Tensor, memory: torch.Tensor,  # type: ignore[override]
                keep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x = _check_input(x, self.embed_dim, self.in_proj_weight, "CrossAttention (x)")
        memory = _check_input(memory, self.embed_dim, self.in_proj_weight, "CrossAttention (memory)")
        B, S = memory.shape[:2]
        if x.shape[0] != B:
            raise ValueError(f"CrossAttention: x and memory must have one row per example each, got x of shape "
                             f"{tuple(x.shape)} and memory of shape {tuple(memory.shape)}.")
        E, w, b = self.embed_dim, self.in_proj_weight, self.in_proj_bias
        q = F.linear(x, w[:E], None if b is None else b[:E])
        k, v = F.linear(memory, w[E:], None if b is None else b[E:]).chunk(2, dim=-1)
        mask = None
        if keep is not None:
            if not isinstance(keep, torch.Tensor) or keep.dtype != torch.bool or tuple(keep.shape) != (B, S):
                got = f"{keep.dtype} {tuple(keep.shape)}" if isinstance(keep, torch.Tensor) else type(keep).__name__
                raise ValueError(f"CrossAttention: keep must be a boolean tensor (B, S) = ({B}, {S}), True where "
                                 f"memory may be attended to, e.g. src != pad_id; got {got}.")
            mask = keep[:, None, None, :]  # (B, 1, 1, S): the same keys for every head and every query
        heads, weights = scaled_dot_product_attention(self._split(q), self._split(k), self._split(v), mask=mask)
        return self._merge(heads), weights


class EncoderBlock(Block):
    """Chapter 08's pre-norm block with bidirectional self-attention: every source position reads every other
    one that is not padding (``keep``), before and after it. Its parameters are named as ``Block``'s."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__(config)
        self.attn = CrossAttention(config.n_embd, config.n_head, bias=config.bias)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        h = self.ln1(x)
        x = x + self.drop(self.attn(h, h, keep)[0])
        return x + self.drop(self.mlp(self.ln2(x)))


class DecoderBlock(Block):
    """Chapter 08's pre-norm block (causal self-attention, MLP) with a cross-attention to the encoder's memory
    between the two: ``forward(y, memory, keep) -> (y, cross-attention weights (B, H, T, S))``."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__(config)
        self.ln_c = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.cross = CrossAttention(config.n_embd, config.n_head, bias=config.bias)

    def forward(self, y: torch.Tensor, memory: torch.Tensor,  # type: ignore[override]
                keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = y + self.drop(self.attn(self.ln1(y), is_causal=True)[0])
        c, weights = self.cross(self.ln_c(y), memory, keep)
        y = y + self.drop(c)
        return y + self.drop(self.mlp(self.ln2(y))), weights


class EncoderDecoder(nn.Module):
    """An encoder-decoder Transformer built from a :class:`Seq2SeqConfig`.

    - ``encode(src)``: source ids (B, S), S <= ``src_len``, padded with ``pad_id`` -> memory (B, S, E);
    - ``decode(memory, src, tgt_in)``: the decoder's input (B, T), ``<bos>`` first, T <= ``tgt_len`` -> logits
      (B, T, tgt_vocab) of the token after each position (``src`` gives the padding mask);
    - ``forward(x, targets=None) -> (logits, loss)``, the course's contract, for ``x = torch.cat([src, tgt_in],
      dim=1)`` of shape (B, src_len + T) and ``targets`` of the same shape (:func:`pack` builds both). The logits
      are (B, src_len + T, tgt_vocab) so that ``lmcourse.train.train`` and ``evaluate`` (which check that logits
      match the targets' shape) work unchanged: ``logits[:, src_len:]`` are the decoder's, and the source
      positions, where the decoder predicts nothing and every target is ``IGNORE_INDEX``, hold zeros (the price:
      ``train``'s softmax also runs over those rows, about a fifth of a step with a vocabulary of 1,000 tokens and
      as many source as target positions). The loss is the mean cross-entropy over the targets that are not
      ``IGNORE_INDEX``: the target side's only;
    - ``cross_attention(src, tgt_in)``: every decoder block's cross-attention weights (B, H, T, S), to draw.

    Initialised as GPT-2 (``TransformerLM.reset_parameters``): N(0, 0.02) weights, zero biases, and N(0, 0.02 /
    sqrt(2 n_layer)) for the projections that write into the residual stream.
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        if not isinstance(config, Seq2SeqConfig):
            raise TypeError(f"EncoderDecoder needs a Seq2SeqConfig, e.g. EncoderDecoder(Seq2SeqConfig(src_vocab=40, "
                            f"tgt_vocab=20, src_len=64, tgt_len=12)), got {type(config).__name__}.")
        self.config = config
        E, blocks = config.n_embd, config.block_config()
        self.src_emb = nn.Embedding(config.src_vocab, E)
        self.src_pos = nn.Parameter(torch.empty(config.src_len, E))
        self.tgt_emb = nn.Embedding(config.tgt_vocab, E)
        self.tgt_pos = nn.Parameter(torch.empty(config.tgt_len, E))
        self.drop = nn.Dropout(config.dropout)
        self.encoder = nn.ModuleList(EncoderBlock(blocks) for _ in range(config.n_layer))
        self.ln_enc = nn.LayerNorm(E)
        self.decoder = nn.ModuleList(DecoderBlock(blocks) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(E)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's initialisation (``lmcourse.transformer.gpt2_init``), as chapter 08's model: each block's attentions
        (a decoder block's cross-attention too) and its projections into the residual stream; then the positions."""
        blocks = [((b.attn,), (b.attn.out_proj, b.mlp[2])) for b in self.encoder]
        blocks += [((b.attn, b.cross), (b.attn.out_proj, b.cross.out_proj, b.mlp[2])) for b in self.decoder]
        gpt2_init(self, blocks, self.config.n_layer)
        nn.init.normal_(self.src_pos, 0.0, 0.02)
        nn.init.normal_(self.tgt_pos, 0.0, 0.02)

    def extra_repr(self) -> str:
        return ", ".join(f"{f.name}={getattr(self.config, f.name)!r}" for f in dataclasses.fields(self.config))

    # ---- checking input

    def _check_src(self, src: object, who: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``src`` checked (ids of the source vocabulary, at most src_len of them, a real token in every row) and
        its padding mask ``keep`` = ``src != pad_id``."""
        src = _check_idx(src, self.config.src_vocab, who, "src")
        if src.shape[1] > self.config.src_len:
            raise ValueError(f"{who}: src has {src.shape[1]} positions, but the model reads at most src_len="
                             f"{self.config.src_len} (it has a position embedding for each); build the model with a "
                             "larger src_len, or shorten the source.")
        keep = src != self.config.pad_id
        empty = ~keep.any(dim=1)
        if bool(empty.any()):
            b = int(empty.nonzero()[0])
            raise ValueError(f"{who}: src row {b} is all padding (pad_id={self.config.pad_id}): an empty source "
                             "leaves cross-attention nothing to attend to; give every source at least one token.")
        return src, keep

    def _check_tgt(self, tgt_in: object, batch: int, who: str) -> torch.Tensor:
        tgt_in = _check_idx(tgt_in, self.config.tgt_vocab, who, "tgt_in")
        if tgt_in.shape[1] > self.config.tgt_len:
            raise ValueError(f"{who}: tgt_in has {tgt_in.shape[1]} positions, but the decoder reads at most tgt_len="
                             f"{self.config.tgt_len} (<bos> included); build the model with a larger tgt_len.")
        if tgt_in.shape[0] != batch:
            raise ValueError(f"{who}: src and tgt_in must have one row per example each, got {batch} and "
                             f"{tgt_in.shape[0]} rows.")
        return tgt_in

    # ---- the two halves

    def _encode(self, src: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.src_emb(src) + self.src_pos[:src.shape[1]])
        for block in self.encoder:
            x = block(x, keep)
        return self.ln_enc(x)

    def _decode(self, memory: torch.Tensor, keep: torch.Tensor, tgt_in: torch.Tensor
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        y, maps = self.drop(self.tgt_emb(tgt_in) + self.tgt_pos[:tgt_in.shape[1]]), []
        for block in self.decoder:
            y, weights = block(y, memory, keep)
            maps.append(weights)
        return self.ln_f(y) @ self.tgt_emb.weight.T, maps

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        """The memory (B, S, n_embd) of source ids ``src`` (B, S), padded with ``pad_id``."""
        src, keep = self._check_src(src, "EncoderDecoder.encode")
        return self._encode(src, keep)

    def decode(self, memory: torch.Tensor, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """The logits (B, T, tgt_vocab) of the token after each position of ``tgt_in`` (B, T), reading the memory
        (B, S, n_embd) that ``encode(src)`` gave (``src`` (B, S) is passed for its padding mask)."""
        src, keep = self._check_src(src, "EncoderDecoder.decode")
        tgt_in = self._check_tgt(tgt_in, src.shape[0], "EncoderDecoder.decode")
        E = self.config.n_embd
        if not isinstance(memory, torch.Tensor) or tuple(memory.shape) != (*src.shape, E):
            got = f"shape {tuple(memory.shape)}" if isinstance(memory, torch.Tensor) else type(memory).__name__
            raise ValueError(f"EncoderDecoder.decode: memory must be what encode(src) returns, of shape (B, S, E) = "
                             f"{(*src.shape, E)} for src of shape {tuple(src.shape)}; got {got}.")
        return self._decode(memory, keep, tgt_in)[0]

    def _split_x(self, x: object, who: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x`` = cat([src, tgt_in], 1) -> src, its padding mask, tgt_in."""
        S, T_max = self.config.src_len, self.config.tgt_len
        if isinstance(x, torch.Tensor) and x.dim() == 2 and not S < x.shape[1] <= S + T_max:
            raise ValueError(f"{who}: x must be torch.cat([src, tgt_in], dim=1) of shape (B, src_len + T) with "
                             f"src_len={S} and 1 <= T <= tgt_len={T_max}, so {S + 1} to {S + T_max} columns; got "
                             f"shape {tuple(x.shape)}. Build x with lmcourse.seq2seq.pack, or call encode and decode.")
        x = _check_idx(x, max(self.config.src_vocab, self.config.tgt_vocab), who, "x")
        src, keep = self._check_src(x[:, :S], who)
        return src, keep, self._check_tgt(x[:, S:], x.shape[0], who)

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(logits, loss)`` for ``x = torch.cat([src, tgt_in], dim=1)`` (B, src_len + T): see the class docstring."""
        src, keep, tgt_in = self._split_x(x, "EncoderDecoder")
        logits, _ = self._decode(self._encode(src, keep), keep, tgt_in)
        B, S = src.shape
        logits = torch.cat((logits.new_zeros(B, S, logits.shape[-1]), logits), dim=1)
        if targets is None:
            return logits, None
        if isinstance(targets, torch.Tensor) and targets.shape == x.shape and bool(
                (targets[:, :S] != IGNORE_INDEX).any()):
            raise ValueError(f"EncoderDecoder: targets[:, :src_len] must all be IGNORE_INDEX ({IGNORE_INDEX}): the "
                             "decoder predicts nothing at the source positions; build (x, y) with "
                             "lmcourse.seq2seq.pack.")
        return logits, lm_loss(logits, targets)

    def cross_attention(self, src: torch.Tensor, tgt_in: torch.Tensor) -> list[torch.Tensor]:
        """Every decoder block's cross-attention weights for ``src`` (B, S) and ``tgt_in`` (B, T): a list of
        n_layer tensors (B, H, T, S), row t saying which source positions the decoder read to predict the token
        after position t. Without gradients, in eval mode (the module's mode is restored afterwards)."""
        src, keep = self._check_src(src, "EncoderDecoder.cross_attention")
        tgt_in = self._check_tgt(tgt_in, src.shape[0], "EncoderDecoder.cross_attention")
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return self._decode(self._encode(src, keep), keep, tgt_in)[1]
        finally:
            self.train(was_training)


# --------------------------------------------------------------------------- data for it


def _pair_ids(ids: object, what: str) -> list[int]:
    if isinstance(ids, torch.Tensor) or isinstance(ids, np.ndarray):
        ids = ids.tolist()
    if not isinstance(ids, (list, tuple)) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise TypeError(f"{what} must be a list of token ids (ints), got {ids!r:.80}; encode the text first, "
                        "e.g. tok.encode(text).")
    return list(ids)


def pack(pairs_ids: Sequence[tuple[Sequence[int], Sequence[int]]], config: Seq2SeqConfig, bos: int,
         eos: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs of (source ids, target ids) as ``(x, y)`` for :class:`EncoderDecoder` and ``lmcourse.train.train``.

    Each row of ``x`` (N, src_len + tgt_len) is the source padded with ``config.pad_id`` to ``src_len``, then the
    decoder's input ``[bos] + target``, padded to ``tgt_len``. ``y`` has the same shape: ``IGNORE_INDEX`` under the
    source, then ``target + [eos]`` (what each decoder position must predict), then ``IGNORE_INDEX``::

        x:  s1 s2 s3 <pad> | <bos> t1  t2  <pad>
        y:  -100 ...  -100 | t1    t2  <eos> -100

    A pair whose source is longer than ``src_len``, or whose target is longer than ``tgt_len - 1``, is an error
    that names the pair (build the config from the longest pair); so is an empty source, a source holding
    ``pad_id`` (it would be masked out), and an id outside its vocabulary.
    """
    if not isinstance(config, Seq2SeqConfig):
        raise TypeError(f"pack needs the model's Seq2SeqConfig, got {type(config).__name__}.")
    if isinstance(pairs_ids, (str, dict)) or not isinstance(pairs_ids, Sequence) or not len(pairs_ids):
        raise TypeError(f"pairs_ids must be a non-empty list of (source ids, target ids) pairs, got {pairs_ids!r:.80}.")
    S, T, pad = config.src_len, config.tgt_len, config.pad_id
    for name, value in (("bos", bos), ("eos", eos)):
        if _whole(value, name, 0) >= config.tgt_vocab:
            raise ValueError(f"{name}={value} is not an id of the target vocabulary (0 .. {config.tgt_vocab - 1}).")
    x = np.full((len(pairs_ids), S + T), pad, dtype=np.int64)
    y = np.full((len(pairs_ids), S + T), IGNORE_INDEX, dtype=np.int64)
    for k, pair in enumerate(pairs_ids):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"pairs_ids[{k}] must be a pair (source ids, target ids), got {pair!r:.80}.")
        src, tgt = _pair_ids(pair[0], f"pairs_ids[{k}][0] (the source)"), _pair_ids(pair[1], f"pairs_ids[{k}][1]")
        if not src:
            raise ValueError(f"pairs_ids[{k}] has an empty source: there is nothing to translate; drop the pair.")
        if len(src) > S:
            longest = max(len(p[0]) for p in pairs_ids)
            raise ValueError(f"pairs_ids[{k}]: its source has {len(src)} tokens, more than src_len={S}; build the "
                             f"config with src_len >= {longest} (the longest source here), or drop the pair.")
        if len(tgt) + 1 > T:
            longest = max(len(p[1]) for p in pairs_ids)
            raise ValueError(f"pairs_ids[{k}]: its target has {len(tgt)} tokens, and with <bos> the decoder input "
                             f"would have {len(tgt) + 1}, more than tgt_len={T}; build the config with tgt_len >= "
                             f"{longest + 1} (the longest target here plus one), or drop the pair.")
        for side, ids, vocab in (("source", src, config.src_vocab), ("target", tgt, config.tgt_vocab)):
            bad = [i for i in ids if not 0 <= i < vocab]
            if bad:
                raise ValueError(f"pairs_ids[{k}]: its {side} holds id {bad[0]}, outside 0 .. {vocab - 1}; encode it "
                                 "with the tokeniser the config was built for.")
        if pad in src:
            raise ValueError(f"pairs_ids[{k}]: its source holds pad_id={pad} at position {src.index(pad)}, which the "
                             "model would ignore (masked as padding); encode the source without padding.")
        x[k, :len(src)] = src
        x[k, S:S + len(tgt) + 1] = [bos, *tgt]
        y[k, S:S + len(tgt) + 1] = [*tgt, eos]
    return torch.from_numpy(x), torch.from_numpy(y)


def greedy(model: EncoderDecoder, src_ids: Sequence[int] | Sequence[Sequence[int]] | torch.Tensor, bos: int,
           eos: int, max_len: int) -> list[list[int]]:
    """Greedy translation of one source or a batch: a list of target id lists, without ``<bos>`` and ``<eos>``.

    ``src_ids``: one source (a list of ids, or a 1-D tensor), several of any lengths (a list of lists, padded here
    with ``pad_id``), or a padded batch (B, S). The memory is computed once; then at each step the decoder
    re-reads the whole prefix and every row appends its most likely next token. A row stops at ``<eos>`` (not
    included in its result); the loop stops when every row has, or after ``max_len`` tokens (at most
    ``tgt_len``, the decoder's longest input). No key-value cache: each step redoes the earlier positions'
    work, which is simple and exact. Runs in eval mode without gradients; the model's mode is restored.
    """
    if not isinstance(model, EncoderDecoder):
        raise TypeError(f"greedy needs an EncoderDecoder, got {type(model).__name__}.")
    cfg = model.config
    max_len = _whole(max_len, "max_len", 1)
    if max_len > cfg.tgt_len:
        raise ValueError(f"max_len={max_len} is more than tgt_len={cfg.tgt_len}: the decoder reads at most tgt_len "
                         f"positions (<bos> and the tokens so far); use max_len <= {cfg.tgt_len}.")
    for name, value in (("bos", bos), ("eos", eos)):
        if _whole(value, name, 0) >= cfg.tgt_vocab:
            raise ValueError(f"{name}={value} is not an id of the target vocabulary (0 .. {cfg.tgt_vocab - 1}).")
    device = model.src_pos.device
    if isinstance(src_ids, torch.Tensor):
        src = src_ids[None] if src_ids.dim() == 1 else src_ids
    elif isinstance(src_ids, (list, tuple)) and src_ids and all(isinstance(s, (list, tuple, torch.Tensor))
                                                                for s in src_ids):
        rows = [_pair_ids(s, f"src_ids[{k}]") for k, s in enumerate(src_ids)]
        width = max(len(r) for r in rows)
        src = torch.tensor([r + [cfg.pad_id] * (width - len(r)) for r in rows], dtype=torch.long)
    else:
        src = torch.tensor([_pair_ids(src_ids, "src_ids")], dtype=torch.long)
    src, keep = model._check_src(src.to(device), "greedy")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            memory = model._encode(src, keep)
            tgt = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=device)
            done = torch.zeros(src.shape[0], dtype=torch.bool, device=device)
            for _ in range(max_len):
                nxt = model._decode(memory, keep, tgt)[0][:, -1].argmax(dim=-1)
                nxt = nxt.masked_fill(done, eos)  # a finished row only repeats <eos>
                tgt = torch.cat((tgt, nxt[:, None]), dim=1)
                done |= nxt == eos
                if bool(done.all()):
                    break
    finally:
        model.train(was_training)
    out = []
    for row in tgt[:, 1:].tolist():
        out.append(row[:row.index(eos)] if eos in row else row)
    return out


# --------------------------------------------------------------------------- the synthetic task: dates


MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
            "twelve": "twelfth"}
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2099, 12, 31)
#: How :func:`spell_date` may write a date (a day spelled out or in digits, a year in words or digits).
DATE_FORMS = ("the {dth} of {month}, {year}",   # the twenty-third of march, nineteen eighty-seven
              "{dth} of {month} {year}",         # twenty-third of march nineteen eighty-seven
              "{month} the {dth}, {year}",       # march the twenty-third, nineteen eighty-seven
              "{month} {dth}, {year}",           # march twenty-third, nineteen eighty-seven
              "{Month} {d}{suffix} {yyyy}",      # March 23rd 1987
              "the {d}{suffix} of {month} {year}")  # the 23rd of march nineteen eighty-seven


def _cardinal(n: int) -> str:
    """0 .. 99 in words: 'seven', 'forty', 'eighty-seven'."""
    if n < 20:
        return _ONES[n]
    return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])


def _ordinal(n: int) -> str:
    """1 .. 99 as an ordinal in words: 'first', 'twentieth', 'twenty-third'."""
    words = _cardinal(n)
    head, _, last = words.rpartition("-")
    if last in _ORDINAL:
        last = _ORDINAL[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head}-{last}" if head else last


def _suffix(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _year(y: int, rng: random.Random | None) -> str:
    """A year 1900 .. 2099 in words, one of the ways people say it (drawn from ``rng`` where there are several;
    None: the first)."""
    century, yy = divmod(y, 100)
    if century == 19:
        return "nineteen hundred" if yy == 0 else "nineteen " + ("oh " + _ONES[yy] if yy < 10 else _cardinal(yy))
    if yy == 0:
        return "two thousand"
    ways = ["two thousand and " + _cardinal(yy), "two thousand " + _cardinal(yy),
            "twenty " + ("oh " + _ONES[yy] if yy < 10 else _cardinal(yy))]
    return ways[0] if rng is None else rng.choice(ways)


def spell_date(day: date, form: int, rng: random.Random | None = None) -> str:
    """``day`` written in ``DATE_FORMS[form]``; a year of this century has several spoken forms, drawn from ``rng``
    (None: the first, "two thousand and five")."""
    if not isinstance(day, date) or not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"day must be a datetime.date from {FIRST_DAY} to {LAST_DAY}, got {day!r}.")
    if isinstance(form, bool) or not isinstance(form, int) or not 0 <= form < len(DATE_FORMS):
        raise ValueError(f"form must be 0 .. {len(DATE_FORMS) - 1} (an index of DATE_FORMS), got {form!r}.")
    year, month = _year(day.year, rng), MONTHS[day.month - 1]
    return DATE_FORMS[form].format(dth=_ordinal(day.day), month=month, Month=month.capitalize(), year=year,
                                   d=day.day, suffix=_suffix(day.day), yyyy=day.year)


def dates(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` distinct dates from 1900-01-01 to 2099-12-31, each as (words, ISO 8601): ``("the twenty-third of
    march, nineteen eighty-seven", "1987-03-23")``.

    Drawn uniformly without replacement (so every one is a real calendar day, 29 February in leap years only,
    and no date occurs twice: cut one list into training and held-out parts and no held-out date was seen in
    training), each written in one of :data:`DATE_FORMS` drawn at random, with the year in words or digits.
    The same ``n`` and ``seed`` give the same list; the first k dates of ``dates(n, seed)`` depend on n.
    """
    n = _whole(n, "n", 1)
    seed = _whole(seed, "seed", 0)
    days = LAST_DAY.toordinal() - FIRST_DAY.toordinal() + 1
    if n > days:
        raise ValueError(f"n={n} is more than the {days} days from {FIRST_DAY} to {LAST_DAY}; ask for fewer dates.")
    rng = random.Random(seed)
    out = []
    for k in rng.sample(range(days), n):
        day = date.fromordinal(FIRST_DAY.toordinal() + k)
        out.append((spell_date(day, rng.randrange(len(DATE_FORMS)), rng), day.isoformat()))
    return out


# --------------------------------------------------------------------------- the baseline: a word-for-word dictionary


_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class WordDictionary:
    """Word-for-word translation with a dictionary learned from sentence pairs: the baseline of chapter 11.

    ``fit(pairs)`` reads (source, target) sentences as lower-cased words (``re.findall(r"\\w+", ...)``, so an
    accented letter is part of a word) and gives each source word s the target word t with the highest Dice
    coefficient over the training pairs::

        dice(s, t) = 2 c(s, t) / (c(s) + c(t))

    where c(s) counts the pairs whose source holds s, c(t) the pairs whose target holds t, and c(s, t) the
    pairs holding both (each pair counts once, however often a word repeats in it). Dice, not the raw count
    c(s, t), so that "the" is not every word's translation. Ties go to the more frequent target word, then to
    the first in alphabetical order. ``translation`` holds the dictionary, ``score`` each entry's Dice.

    ``translate(sentence)`` replaces each word by its entry, keeps punctuation marks, copies a word with no
    entry (a name never seen, a number) through unchanged, and capitalises a translation whose source word was
    capitalised. The word order and the number of words stay the source's: no reordering, no word dropped or
    added, which is why it is a baseline.
    """

    def __init__(self) -> None:
        self.translation: dict[str, str] = {}
        self.score: dict[str, float] = {}

    def fit(self, pairs: Sequence[tuple[str, str]]) -> WordDictionary:
        """Learn the dictionary from ``pairs`` of (source sentence, target sentence); returns ``self``."""
        if isinstance(pairs, (str, dict)) or not isinstance(pairs, Sequence) or not len(pairs):
            raise TypeError(f"pairs must be a non-empty list of (source, target) sentence pairs, got {pairs!r:.80}.")
        src_docs, tgt_docs = [], []
        for k, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(isinstance(s, str) for s in pair):
                raise TypeError(f"pairs[{k}] must be a pair of str (source, target), got {pair!r:.80}; for the "
                                "course's records use [(r['en'], r['es']) for r in records].")
            src_docs.append(sorted(set(_words(pair[0]))))
            tgt_docs.append(sorted(set(_words(pair[1]))))
        src_vocab, src_inc = _incidence(src_docs)  # word ids and (pair, word) incidence, each pair once
        tgt_vocab, tgt_inc = _incidence(tgt_docs)
        if not len(src_vocab) or not len(tgt_vocab):
            raise ValueError("pairs hold no words on one side (re.findall(r'\\w+') found none): nothing to learn.")
        c_s = np.bincount(src_inc[1], minlength=len(src_vocab))
        c_t = np.bincount(tgt_inc[1], minlength=len(tgt_vocab))
        # every (source word, target word) of each pair: join the two incidence lists on the pair
        n_t = np.bincount(tgt_inc[0], minlength=len(pairs))             # target words per pair
        start_t = np.concatenate(([0], np.cumsum(n_t)[:-1]))           # where each pair's target words begin
        reps = n_t[src_inc[0]]                                           # each source word meets this many
        first = np.repeat(start_t[src_inc[0]], reps)
        offset = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
        s_ids, t_ids = np.repeat(src_inc[1], reps), tgt_inc[1][first + offset]
        codes, c_st = np.unique(s_ids.astype(np.int64) * len(tgt_vocab) + t_ids, return_counts=True)
        s, t = np.divmod(codes, len(tgt_vocab))
        dice = 2 * c_st / (c_s[s] + c_t[t])
        # best per source word: sort by source word, then Dice down, then target count down, then target word
        order = np.lexsort((t, -c_t[t], -dice, s))
        best = order[np.r_[True, s[order][1:] != s[order][:-1]]]
        self.translation = {str(src_vocab[i]): str(tgt_vocab[j]) for i, j in zip(s[best], t[best])}
        self.score = {str(src_vocab[i]): float(d) for i, d in zip(s[best], dice[best])}
        return self

    def translate(self, sentence: str) -> str:
        """``sentence`` translated word by word (see the class docstring)."""
        if not isinstance(sentence, str):
            raise TypeError(f"sentence must be a str, got {type(sentence).__name__}.")
        if not self.translation:
            raise ValueError("this WordDictionary has no entries yet: call fit(pairs) first.")
        out = []
        for token in _TOKEN.findall(sentence):
            word = self.translation.get(token.lower(), token)
            out.append(word[:1].upper() + word[1:] if token[:1].isupper() else word)
        return re.sub(r" ([,.;:!?)])", r"\1", " ".join(out))


def _incidence(docs: list[list[str]]) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The sorted vocabulary of ``docs`` (lists of distinct words) and their (doc, word id) pairs, by doc."""
    flat = np.array([w for doc in docs for w in doc], dtype=object)
    doc_ids = np.repeat(np.arange(len(docs)), [len(doc) for doc in docs])
    if not len(flat):
        return np.array([], dtype=object), (doc_ids, np.array([], dtype=np.int64))
    vocab, word_ids = np.unique(flat.astype(str), return_inverse=True)
    return vocab, (doc_ids, word_ids.astype(np.int64))
