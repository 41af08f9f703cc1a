"""From this course to the tools people use (chapter 13): the course's models in ``torch.nn``'s built-in layers and in
Hugging Face ``transformers``' GPT-2, weight for weight, and the course's BPE beside Hugging Face ``tokenizers``.

- :class:`TorchTransformerLM`: the chapter 08 Transformer rebuilt from ``torch.nn.TransformerEncoder`` (pre-norm,
  GELU, batch first); :meth:`TorchTransformerLM.from_course` copies a ``TransformerLM``'s weights into it, by the
  names in :data:`TORCH_NAMES`. (The LSTM needs no such class: ``RecurrentLM(..., cell="torch-lstm")`` is
  ``torch.nn.LSTM`` inside, with the very parameter names of the course's LSTM, so ``load_state_dict`` copies it.)
- :func:`offline`: Hugging Face's libraries in offline mode and quiet (no progress bars), before they are imported.
- :func:`gpt2_config`, :func:`gpt2_state_dict` and :func:`to_gpt2`: a ``TransformerLM`` as a
  ``transformers.GPT2LMHeadModel``. :data:`GPT2_NAMES` is the mapping, one row per tensor: GPT-2's ``Conv1D``
  layers store their weight as (in, out), the transpose of ``nn.Linear``'s (out, in), so the four weight matrices
  of each block are transposed on the way; the biases, LayerNorms and embeddings copy as they are.
- :func:`hf_bpe` and :func:`hf_merges`: a byte-level BPE trained by Hugging Face ``tokenizers`` the way the course's
  ``BPETokenizer`` trains (GPT-2's pre-tokenisation, no prefix space), and its merges as byte strings, to set
  beside ``BPETokenizer.merges``; :func:`gpt2_byte_to_char` is the printable character GPT-2 spells each byte with.
- :func:`keras_lstm`: Keras's LSTM layer in numpy, with Keras's weight layout (``kernel`` (D, 4H), one ``bias``;
  gates i, f, c, o), so that a Keras model's weights can be checked against ``torch.nn.LSTM`` without TensorFlow.

``transformers`` and ``tokenizers`` are imported only by the functions that need them, so the rest of the course
does not wait for them (``transformers`` takes several seconds to import).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from lmcourse.models import _check_idx
from lmcourse.transformer import TransformerConfig, TransformerLM, sinusoidal_positions

if TYPE_CHECKING:  # imported only for the annotations: importing transformers takes seconds
    import tokenizers
    import transformers

__all__ = ["GPT2_NAMES", "TORCH_NAMES", "TorchTransformerLM", "gpt2_byte_to_char", "gpt2_config", "gpt2_state_dict",
           "hf_bpe", "hf_merges", "keras_lstm", "offline", "to_gpt2"]


def _need_transformer(model: object, who: str) -> TransformerLM:
    if not isinstance(model, TransformerLM):
        raise TypeError(f"{who} needs the course's TransformerLM (chapter 08), e.g. "
                        f"checkpoints.reference('transformer_shakespeare'), got {type(model).__name__}.")
    return model


# --------------------------------------------------------------------------- torch.nn's own Transformer layers

#: Where each tensor of a block of the course's ``TransformerLM`` lives in ``torch.nn.TransformerEncoderLayer``
#: (``{i}`` is the block): the same shapes, since the course's attention uses ``torch.nn.MultiheadAttention``'s
#: layout (one fused ``in_proj_weight`` for queries, keys and values).
TORCH_NAMES: tuple[tuple[str, str], ...] = (
    ("blocks.{i}.ln1", "encoder.layers.{i}.norm1"),
    ("blocks.{i}.attn.in_proj_weight", "encoder.layers.{i}.self_attn.in_proj_weight"),
    ("blocks.{i}.attn.in_proj_bias", "encoder.layers.{i}.self_attn.in_proj_bias"),
    ("blocks.{i}.attn.out_proj", "encoder.layers.{i}.self_attn.out_proj"),
    ("blocks.{i}.ln2", "encoder.layers.{i}.norm2"),
    ("blocks.{i}.mlp.0", "encoder.layers.{i}.linear1"),
    ("blocks.{i}.mlp.2", "encoder.layers.{i}.linear2"),
    ("ln_f", "encoder.norm"),
)


class TorchTransformerLM(nn.Module):
    """The course's decoder-only Transformer made of ``torch.nn``'s built-in layers.

    ``nn.TransformerEncoder`` of ``nn.TransformerEncoderLayer(norm_first=True, activation="gelu")`` with a causal
    mask is exactly a stack of the course's pre-norm blocks; its ``norm`` is the final LayerNorm. The embeddings
    and the (tied) output layer are as in ``TransformerLM``. ``forward(idx)`` returns the logits (B, T, V), as
    ``torch.nn`` models do (no loss).
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise TypeError(f"TorchTransformerLM needs a TransformerConfig (model.config of a TransformerLM), "
                            f"got {type(config).__name__}.")
        self.config = config
        E = config.n_embd
        self.tok_emb = nn.Embedding(config.vocab_size, E)
        if config.positions == "learned":
            self.pos_emb = nn.Parameter(torch.zeros(config.block_size, E))
        else:
            self.register_buffer("pos_emb", sinusoidal_positions(config.block_size, E), persistent=False)
        self.drop = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(E, config.n_head, dim_feedforward=4 * E, dropout=config.dropout,
                                           activation="gelu", batch_first=True, norm_first=True, bias=config.bias)
        # enable_nested_tensor is a fast path for padded batches that a pre-norm stack cannot use anyway
        self.encoder = nn.TransformerEncoder(layer, config.n_layer, norm=nn.LayerNorm(E, bias=config.bias),
                                             enable_nested_tensor=False)
        self.head = None if config.tie_weights else nn.Linear(E, config.vocab_size, bias=False)

    @classmethod
    def from_course(cls, model: TransformerLM) -> TorchTransformerLM:
        """A copy of a ``TransformerLM``'s weights (by :data:`TORCH_NAMES`), on its device and in its dtype."""
        model = _need_transformer(model, "TorchTransformerLM.from_course")
        like = model.tok_emb.weight
        new = cls(model.config).to(device=like.device, dtype=like.dtype)
        ours = model.state_dict()
        renamed = {}
        for name, value in ours.items():
            for i in range(model.config.n_layer):
                for a, b in TORCH_NAMES:
                    a, b = a.format(i=i), b.format(i=i)
                    if name == a or name.startswith(a + "."):
                        name = b + name[len(a):]
                        break
            renamed[name] = value
        new.load_state_dict(renamed, strict=True)
        return new.train(model.training)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        idx = _check_idx(idx, self.config.vocab_size, "TorchTransformerLM")
        T = idx.shape[1]
        if T > self.config.block_size:
            raise ValueError(f"TorchTransformerLM reads at most block_size={self.config.block_size} positions, "
                             f"got {T}; give it idx[:, -{self.config.block_size}:].")
        x = self.drop(self.tok_emb(idx) + self.pos_emb[:T])
        causal = nn.Transformer.generate_square_subsequent_mask(T, device=idx.device, dtype=x.dtype)
        x = self.encoder(x, mask=causal, is_causal=True)
        return x @ self.tok_emb.weight.T if self.head is None else self.head(x)


# --------------------------------------------------------------------------- Hugging Face transformers' GPT-2


def offline() -> None:
    """Put Hugging Face's libraries in offline mode and make them quiet: nothing they do may reach the network.

    Sets ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` (read when ``huggingface_hub`` is imported, so call
    this first; if it was imported already, its setting is changed too), and turns off ``transformers``' progress
    bars and its informational messages, which would otherwise differ from run to run.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    hub = sys.modules.get("huggingface_hub.constants")
    if hub is not None:
        hub.HF_HUB_OFFLINE = True  # type: ignore[attr-defined]
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


#: Each tensor of the course's ``TransformerLM`` and its name in ``transformers``' ``GPT2LMHeadModel`` (``{i}``: the
#: block), with how it is copied. GPT-2's ``Conv1D`` computes ``x @ weight + bias`` with weight (in, out), the
#: transpose of ``nn.Linear``'s (out, in): its four matrices are transposed. The fused query-key-value projection
#: keeps its order (queries, keys, values) in both, and both split heads the same way.
GPT2_NAMES: tuple[tuple[str, str, str], ...] = (
    ("tok_emb.weight", "transformer.wte.weight", "as is"),
    ("pos_emb", "transformer.wpe.weight", "as is"),
    ("blocks.{i}.ln1.weight", "transformer.h.{i}.ln_1.weight", "as is"),
    ("blocks.{i}.ln1.bias", "transformer.h.{i}.ln_1.bias", "as is"),
    ("blocks.{i}.attn.in_proj_weight", "transformer.h.{i}.attn.c_attn.weight", "transposed"),
    ("blocks.{i}.attn.in_proj_bias", "transformer.h.{i}.attn.c_attn.bias", "as is"),
    ("blocks.{i}.attn.out_proj.weight", "transformer.h.{i}.attn.c_proj.weight", "transposed"),
    ("blocks.{i}.attn.out_proj.bias", "transformer.h.{i}.attn.c_proj.bias", "as is"),
    ("blocks.{i}.ln2.weight", "transformer.h.{i}.ln_2.weight", "as is"),
    ("blocks.{i}.ln2.bias", "transformer.h.{i}.ln_2.bias", "as is"),
    ("blocks.{i}.mlp.0.weight", "transformer.h.{i}.mlp.c_fc.weight", "transposed"),
    ("blocks.{i}.mlp.0.bias", "transformer.h.{i}.mlp.c_fc.bias", "as is"),
    ("blocks.{i}.mlp.2.weight", "transformer.h.{i}.mlp.c_proj.weight", "transposed"),
    ("blocks.{i}.mlp.2.bias", "transformer.h.{i}.mlp.c_proj.bias", "as is"),
    ("ln_f.weight", "transformer.ln_f.weight", "as is"),
    ("ln_f.bias", "transformer.ln_f.bias", "as is"),
    ("tok_emb.weight", "lm_head.weight", "as is (tied)"),
)


def gpt2_config(config: TransformerConfig) -> transformers.GPT2Config:
    """GPT-2's configuration for a model of the course's sizes, with what the two architectures differ in set to
    the course's choice: exact (erf) GELU where GPT-2 uses the tanh approximation ("gelu_new"), LayerNorm epsilon
    1e-5 where GPT-2 uses the same but writes it down, dropout as the course's (none inside the attention weights),
    no beginning- or end-of-text token (the course's character vocabulary has none), and the output layer tied.

    Refused, with the reason: sinusoidal positions (GPT-2 learns its positions), no biases (GPT-2's layers all have
    them) and an untied output layer (``GPT2LMHeadModel`` ties its ``lm_head`` to the embedding).
    """
    if not isinstance(config, TransformerConfig):
        raise TypeError(f"gpt2_config needs a TransformerConfig (model.config), got {type(config).__name__}.")
    if config.positions != "learned":
        raise ValueError("GPT-2 learns its position embeddings; this model has positions='sinusoidal'. Map a model "
                         "trained with positions='learned'.")
    if not config.bias:
        raise ValueError("GPT-2's layers all have biases; this model has bias=False. Map a model with bias=True.")
    if not config.tie_weights:
        raise ValueError("GPT2LMHeadModel ties its output layer to the token embedding; this model has "
                         "tie_weights=False. Map a model trained with tie_weights=True.")
    from transformers import GPT2Config

    return GPT2Config(vocab_size=config.vocab_size, n_positions=config.block_size, n_embd=config.n_embd,
                      n_layer=config.n_layer, n_head=config.n_head, n_inner=4 * config.n_embd,
                      activation_function="gelu", layer_norm_epsilon=1e-5, resid_pdrop=config.dropout,
                      embd_pdrop=config.dropout, attn_pdrop=0.0, tie_word_embeddings=True,
                      bos_token_id=None, eos_token_id=None, pad_token_id=None)


def gpt2_state_dict(model: TransformerLM) -> dict[str, torch.Tensor]:
    """The course model's weights under GPT-2's names (:data:`GPT2_NAMES`), as new tensors (transposed where
    ``Conv1D`` wants them so), ready for ``GPT2LMHeadModel.load_state_dict``."""
    model = _need_transformer(model, "gpt2_state_dict")
    gpt2_config(model.config)  # refuses what GPT-2 cannot hold, with the reason
    ours = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for i in range(model.config.n_layer):
        for a, b, how in GPT2_NAMES:
            value = ours[a.format(i=i)].detach()
            out[b.format(i=i)] = (value.T if how == "transposed" else value).clone()
    return out


def to_gpt2(model: TransformerLM) -> transformers.GPT2LMHeadModel:
    """A ``transformers.GPT2LMHeadModel`` holding the course model's weights, in eval mode, on its device and in its
    dtype. Every one of GPT-2's tensors is filled (``load_state_dict(strict=True)``), so nothing is left at its
    random initial value."""
    from transformers import GPT2LMHeadModel

    model = _need_transformer(model, "to_gpt2")
    weights = gpt2_state_dict(model)
    hf = GPT2LMHeadModel(gpt2_config(model.config))
    like = model.tok_emb.weight
    hf.to(device=like.device, dtype=like.dtype)
    hf.load_state_dict(weights, strict=True)
    return hf.eval()


# --------------------------------------------------------------------------- Hugging Face tokenizers


def gpt2_byte_to_char() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte, which ``tokenizers``' ``ByteLevel`` writes tokens with: the printable
    bytes stand for themselves, the others (space, newline, control bytes ...) for characters from U+0100 on, in
    order; so " the" is spelled "Ġthe" and a newline "Ċ"."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    moved = [b for b in range(256) if b not in keep]
    return {**{b: chr(b) for b in keep}, **{b: chr(256 + k) for k, b in enumerate(moved)}}


def hf_bpe(text: str, num_merges: int) -> tokenizers.Tokenizer:
    """A byte-level BPE trained by Hugging Face ``tokenizers`` on ``text``, set up as the course's ``BPETokenizer``
    trains: GPT-2's pre-tokenisation with no prefix space, the 256 bytes as the first tokens, then up to
    ``num_merges`` merges, and no special tokens."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}.")
    if isinstance(num_merges, bool) or not isinstance(num_merges, int) or num_merges < 0:
        raise ValueError(f"num_merges must be a whole number >= 0, got {num_merges!r}.")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    alphabet = list(gpt2_byte_to_char().values())
    trainer = trainers.BpeTrainer(vocab_size=256 + num_merges, initial_alphabet=alphabet, show_progress=False)
    tok.train_from_iterator([text], trainer=trainer)
    return tok


def hf_merges(tok: tokenizers.Tokenizer) -> list[tuple[bytes, bytes]]:
    """The merges of a byte-level BPE ``tokenizers.Tokenizer`` (see :func:`hf_bpe`) in training order, each pair
    spelled as bytes, as ``[(tok.vocab[a], tok.vocab[b]) for a, b in bpe.merges]`` spells the course's."""
    import json

    to_byte = {c: b for b, c in gpt2_byte_to_char().items()}
    merges = json.loads(tok.to_str())["model"]["merges"]
    return [(bytes(to_byte[c] for c in a), bytes(to_byte[c] for c in b)) for a, b in merges]


# --------------------------------------------------------------------------- Keras's LSTM, in numpy


def keras_lstm(x: Any, kernel: Any, recurrent_kernel: Any, bias: Any) -> np.ndarray:
    """Keras's ``LSTM(units, return_sequences=True)`` on ``x`` (B, T, D) from a zero state: the hidden states
    (B, T, H), in float64.

    Keras's layout: ``kernel`` (D, 4H) multiplies the input from the right (``x @ kernel``), ``recurrent_kernel``
    (H, 4H) the previous hidden state, and there is one ``bias`` (4H,); the four blocks of columns are the gates
    i, f, c (the candidate, PyTorch's g) and o, in that order, as PyTorch's rows are. The gates use the logistic
    sigmoid, Keras's default since version 2.4 (before it, ``recurrent_activation="hard_sigmoid"``, a piecewise
    linear stand-in that gives slightly different numbers). ``torch.nn.LSTM`` stores the
    transposes (``weight_ih`` (4H, D)) and two biases that are added, so a Keras layer's weights go into one as
    ``weight_ih = kernel.T``, ``weight_hh = recurrent_kernel.T``, ``bias_ih = bias``, ``bias_hh = 0``.
    """
    x, W, U, b = (np.asarray(a, dtype=np.float64) for a in (x, kernel, recurrent_kernel, bias))
    if x.ndim != 3 or W.ndim != 2 or U.ndim != 2 or b.ndim != 1:
        raise ValueError(f"keras_lstm needs x (B, T, D), kernel (D, 4H), recurrent_kernel (H, 4H) and bias (4H,); "
                         f"got shapes {x.shape}, {W.shape}, {U.shape}, {b.shape}.")
    if U.shape[1] != 4 * U.shape[0]:
        raise ValueError(f"recurrent_kernel must be (H, 4H), got {U.shape}; is it transposed (torch's weight_hh is "
                         f"(4H, H))?")
    H = U.shape[0]
    if W.shape != (x.shape[2], 4 * H) or U.shape != (H, 4 * H) or b.shape != (4 * H,):
        raise ValueError(f"with x of shape {x.shape} and recurrent_kernel of shape {U.shape} (H = {H}), kernel must "
                         f"be {(x.shape[2], 4 * H)} and bias {(4 * H,)}; got {W.shape} and {b.shape}.")

    def sigmoid(z: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-z))

    B, T, _ = x.shape
    h, c, out = np.zeros((B, H)), np.zeros((B, H)), np.zeros((B, T, H))
    for t in range(T):
        z = x[:, t] @ W + h @ U + b
        i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out[:, t] = h
    return out
