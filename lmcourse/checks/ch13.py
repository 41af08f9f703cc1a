"""Checkers of chapter 13 (from this course to the ecosystem): exercises 13.1-13.4.

- 13.1: the Keras model Embedding -> LSTM -> Dense(softmax) as a PyTorch module that returns logits;
- 13.2: a Keras LSTM layer's weights (``kernel``, ``recurrent_kernel``, ``bias``) in a ``torch.nn.LSTM``;
- 13.3: one block of the course's Transformer under GPT-2's names, transposed where ``Conv1D`` wants it;
- 13.4: greedy decoding with ``transformers``' ``generate``, the new tokens only.

The references: Keras's LSTM in numpy (``lmcourse.ecosystem.keras_lstm``, itself tested against ``torch.nn.LSTM``),
the course's own ``TransformerLM`` (13.3: the logits the mapped model must give; the mapping of each tensor is judged
by its values, so any way of writing it that gives the right tensors passes) and the course's greedy decoder
``lmcourse.models.generate(..., greedy=True)`` (13.4). Each uses small models of its own, made here with fixed seeds.
The typical mistakes are recognised and named: a softmax kept at the end, batch_first forgotten, weights not
transposed or transposed where they should not be, the bias counted twice, the prompt returned with the new tokens,
``max_length`` (which counts the prompt) in place of ``max_new_tokens``, sampling instead of greedy decoding.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from lmcourse.checks.core import Description, call, checker, fail, passed

# --- 13.1 the Keras model in PyTorch -------------------------------------------------------------------------------

_KERAS_MODEL = ("Embedding(V, embed_dim) -> LSTM(units, return_sequences=True) -> Dense(V): nn.Embedding(vocab_size, "
                "embed_dim), nn.LSTM(embed_dim, units, batch_first=True) and nn.Linear(units, vocab_size), the "
                "forward returning the logits (B, T, V)")


def keras_param_count(vocab_size: int, embed_dim: int, units: int) -> int:
    """The parameters Keras's ``model.summary()`` reports for Embedding(V, E) -> LSTM(H) -> Dense(V): the LSTM has
    one bias of 4H, the Dense layer a bias of V."""
    return vocab_size * embed_dim + 4 * (units * (embed_dim + units) + units) + units * vocab_size + vocab_size


@checker
def ch13_keras_model(make: Callable[[int, int, int], Any]) -> None:
    """Exercise 13.1: ``make(vocab_size, embed_dim, units)`` (a class or a function) gives an ``nn.Module`` that maps
    ids (B, T) to logits (B, T, V), as Keras's Embedding -> LSTM(return_sequences=True) -> Dense(softmax) does to
    probabilities.

    Checked on (V, E, H) = (11, 4, 6) and (70, 32, 64): the output's shape; that it is logits (rows of probabilities
    summing to 1 mean the softmax was kept); that sequence b's outputs depend on sequence b alone (a forgotten
    ``batch_first=True`` mixes the batch) and each position only on the positions up to it; and the parameter count,
    Keras's plus 4H (``torch.nn.LSTM`` keeps two biases, b_ih and b_hh) or exactly Keras's (one bias turned off).
    """
    ex = "13.1 (the Keras model in PyTorch)"
    for V, E, H in ((11, 4, 6), (70, 32, 64)):
        what = f"model = {getattr(make, '__name__', 'make')}({V}, {E}, {H})"
        model = call(ex, make, V, E, H, hint=f"make(vocab_size, embed_dim, units) builds {_KERAS_MODEL}.")
        if not isinstance(model, nn.Module):
            fail(ex, f"{what} should be a torch.nn.Module", Description("an nn.Module"),
                 Description(type(model).__name__),
                 "subclass nn.Module, build the layers in __init__ and use them in forward.")
        model.eval()
        gen = torch.Generator().manual_seed(13)
        idx = torch.randint(0, V, (3, 7), generator=gen)
        with torch.no_grad():
            out = call(ex, model, idx, hint=f"the model takes ids (B, T) = (3, 7); {_KERAS_MODEL}.")
        if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
            first = tuple(out[0].shape)
            hint = (f"return only the logits, not a {type(out).__name__}: torch.nn models return one tensor, and the "
                    "loss is computed outside." if first == (3, 7, V) else
                    "nn.LSTM returns (output, (h, c)): keep the output, output, _ = self.lstm(x), and give it to the "
                    "Dense layer's nn.Linear.")
            fail(ex, f"{what}: model(idx) returned a {type(out).__name__}, not one tensor",
                 Description(f"logits of shape (3, 7, {V})"), Description(f"a {type(out).__name__} of {len(out)}"),
                 hint)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (3, 7, V):
            fail(ex, f"{what}: the output of model(idx) for idx of shape (3, 7)", Description(f"shape (3, 7, {V})"),
                 Description(f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__),
                 f"return_sequences=True keeps every position: {_KERAS_MODEL}.")
        sums = out.double().sum(-1)
        if bool((out >= 0).all()) and torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
            fail(ex, f"{what}: the output is probabilities (each row sums to 1), not logits",
                 Description("logits (any real numbers)"), Description("rows that sum to 1"),
                 "drop the softmax: nn.CrossEntropyLoss (and lmcourse's lm_loss) apply log-softmax themselves, so a "
                 "softmax in the model is applied twice in training; take torch.softmax(logits, -1) where you need "
                 "probabilities.")
        if bool((out >= 0).all()):
            fail(ex, f"{what}: the output is never negative, so it is not logits",
                 Description("logits (any real numbers, some negative)"), Description("only values >= 0"),
                 "the Dense layer's activation must go (sigmoid, relu or softmax alike): return self.dense(out), "
                 "the scores before any activation.")
        changed = idx.clone()
        changed[0, 3] = (changed[0, 3] + 1) % V
        with torch.no_grad():
            out2 = model(changed)
        moved = (out2 - out).abs().amax(dim=-1) > 1e-6  # (B, T): which outputs changed
        if bool(moved[1:].any()):
            fail(ex, f"{what}: changing sequence 0's token at position 3 changed the outputs of other sequences",
                 Description("only sequence 0's outputs change"), Description("sequences 1 and 2 changed too"),
                 "nn.LSTM reads (T, B, features) unless it is made with batch_first=True; Keras is always batch "
                 "first, and so are the ids here: nn.LSTM(embed_dim, units, batch_first=True).")
        if bool(moved[0, :3].any()) or not bool(moved[0, 3:].all()):
            fail(ex, f"{what}: changing position 3 should change the outputs at positions 3-6 and no earlier ones",
                 Description("positions 3, 4, 5, 6 change"),
                 Description(f"positions {[t for t in range(7) if moved[0, t]]} changed"),
                 "a left-to-right LSTM (not bidirectional) reads each position after the ones before it.")
        n = sum(p.numel() for p in model.parameters())
        keras = keras_param_count(V, E, H)
        if n not in (keras, keras + 4 * H):
            layers = ", ".join(f"{name}: {sum(p.numel() for p in child.parameters())}"
                               for name, child in model.named_children())
            fail(ex, f"{what}: the number of parameters", Description(f"{keras + 4 * H} (Keras's {keras} plus 4H = "
                 f"{4 * H}: torch.nn.LSTM has two biases)"), Description(f"{n} ({layers})"),
                 f"{_KERAS_MODEL}. The Embedding has V x E = {V * E}, nn.LSTM 4H x (E + H) + 8H = "
                 f"{4 * H * (E + H) + 8 * H}, the Linear layer H x V + V = {H * V + V}.")
    why = (f"the difference, 4H = {4 * H}, is nn.LSTM's second bias" if n == keras + 4 * H else
           "exactly Keras's: your LSTM has one bias")
    passed(ex, f"Embedding -> LSTM -> Linear gives logits; for V=70, E=32, H=64 it has {n} parameters, Keras "
               f"{keras}: {why}")


# --- 13.2 a Keras LSTM's weights in torch.nn.LSTM --------------------------------------------------------------


def _keras_weights(D: int, H: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 0.5, (D, 4 * H)).astype(np.float32), rng.normal(0, 0.5, (H, 4 * H)).astype(np.float32),
            rng.normal(0, 0.5, 4 * H).astype(np.float32))


def _gates_swapped(a: np.ndarray, order: tuple[int, int, int, int]) -> np.ndarray:
    H = a.shape[-1] // 4
    return np.concatenate([a[..., k * H:(k + 1) * H] for k in order], axis=-1)


_FROM_KERAS = ("weight_ih_l0 = kernel.T (4H, D), weight_hh_l0 = recurrent_kernel.T (4H, H), bias_ih_l0 = bias and "
               "bias_hh_l0 = 0 (torch adds the two biases), in nn.LSTM(D, H, batch_first=True), copied under "
               "torch.no_grad() with .copy_(torch.from_numpy(...))")


@checker
def ch13_keras_lstm(from_keras: Callable[[np.ndarray, np.ndarray, np.ndarray], Any]) -> None:
    """Exercise 13.2: ``from_keras(kernel, recurrent_kernel, bias)`` gives a ``torch.nn.LSTM`` (batch first) that
    computes what Keras's LSTM layer with those weights computes.

    Keras's ``kernel`` is (D, 4H), ``recurrent_kernel`` (H, 4H), one ``bias`` (4H,), gates i, f, c, o; the arrays are
    float32 numpy arrays, D = 5 and H = 3, then D = H = 4. The module's
    output on x (2, 6, D) is compared with :func:`lmcourse.ecosystem.keras_lstm` (rtol 1e-4). The hint names the
    mistake: the weights not transposed, the bias in both of torch's biases, the gates reordered, batch_first left
    False, an input array changed.
    """
    from lmcourse.ecosystem import keras_lstm

    ex = "13.2 (from_keras)"
    for D, H, seed in ((5, 3, 0), (4, 4, 1)):
        W, U, b = _keras_weights(D, H, seed)
        given = (W.copy(), U.copy(), b.copy())
        what = f"from_keras(kernel {W.shape}, recurrent_kernel {U.shape}, bias {b.shape})"
        lstm = call(ex, from_keras, *given, hint=f"build the module and copy the weights: {_FROM_KERAS}.")
        if not all(np.array_equal(g, o) for g, o in zip(given, (W, U, b))):
            fail(ex, f"{what} changed an input array", Description("kernel, recurrent_kernel and bias unchanged"),
                 Description("an array changed in place"), "copy the weights (kernel.T.copy(), np.array(...)) rather "
                 "than writing into the arrays you were given.")
        if not isinstance(lstm, nn.LSTM):
            kind = f"{type(lstm).__module__}.{type(lstm).__qualname__}"
            fail(ex, f"{what} should return a torch.nn.LSTM", Description("torch.nn.LSTM"), Description(kind),
                 f"the exercise asks for torch.nn.LSTM itself: {_FROM_KERAS}")
        shapes = (tuple(lstm.weight_ih_l0.shape), tuple(lstm.weight_hh_l0.shape))
        if shapes != ((4 * H, D), (4 * H, H)):
            hint = ("Keras's kernel is (D, 4H) and multiplies from the right (x @ kernel); torch's weight_ih is "
                    "(4H, D) and multiplies from the left (weight_ih @ x): copy kernel.T and recurrent_kernel.T."
                    if shapes == ((D, 4 * H), (H, 4 * H)) else _FROM_KERAS)
            fail(ex, f"{what}: the shapes of weight_ih_l0 and weight_hh_l0", Description(f"{(4 * H, D)}, {(4 * H, H)}"),
                 Description(f"{shapes[0]}, {shapes[1]}"), hint)
        x = np.random.default_rng(seed + 10).normal(0, 1, (2, 6, D)).astype(np.float32)
        expected = keras_lstm(x, W, U, b)
        dtype = lstm.weight_ih_l0.dtype
        with torch.no_grad():
            xt = torch.from_numpy(x).to(dtype)
            out = lstm(xt if lstm.batch_first else xt.transpose(0, 1))[0]
            out = out if lstm.batch_first else out.transpose(0, 1)
        got = out.double().numpy()
        if np.allclose(got, expected, rtol=1e-4, atol=1e-5):
            if not lstm.batch_first:
                fail(ex, f"{what}: the module reads (T, B, D), but the course's (and Keras's) inputs are (B, T, D)",
                     Description("nn.LSTM(..., batch_first=True)"), Description("batch_first=False"),
                     "make the module with batch_first=True: the weights are the same, only the input's layout "
                     "changes.")
            continue
        bias_sum = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().double().numpy() if lstm.bias else None
        hint = _FROM_KERAS
        if bias_sum is not None and np.allclose(bias_sum, 2 * b, rtol=1e-5):
            hint = ("the bias is counted twice: torch adds bias_ih and bias_hh, so put Keras's bias in one and zeros "
                    "in the other.")
        elif np.allclose(lstm.weight_ih_l0.detach().double().numpy(), W.reshape(4 * H, D).astype(float)):
            hint = ("weight_ih_l0 holds kernel.reshape(4H, D) (or .view): that gives the right shape but mixes the "
                    "numbers up; a transpose, kernel.T, swaps the axes.")
        else:
            swaps = (((0, 1, 3, 2), "i, f, o, c"), ((1, 0, 2, 3), "f, i, c, o"), ((0, 2, 1, 3), "i, c, f, o"))
            for order, name in swaps:
                if np.allclose(keras_lstm(x, _gates_swapped(W, order), _gates_swapped(U, order),
                                          _gates_swapped(b, order)), got, rtol=1e-4, atol=1e-5):
                    hint = (f"the gates are in the order {name}: Keras and torch both keep i, f, c (torch's g), o, "
                            "so the blocks of 4H stay where they are; only transpose.")
                    break
        worst = float(np.abs(got - expected).max())
        fail(ex, f"{what}: the LSTM's outputs on x of shape (2, 6, {D}) differ from Keras's",
             Description("Keras's outputs (within 1e-4)"), Description(f"largest difference {worst:.3g}"), hint)
    passed(ex, "a Keras LSTM's kernel, recurrent_kernel and bias run in torch.nn.LSTM: transposed, and one of "
               "torch's two biases set to zero")


# --- 13.3 one block under GPT-2's names ---------------------------------------------------------------------------


def _small_transformer(seed: int) -> Any:
    from lmcourse.transformer import TransformerConfig, TransformerLM

    torch.manual_seed(seed)
    model = TransformerLM(TransformerConfig(vocab_size=17, block_size=16, n_layer=2, n_head=2, n_embd=8))
    with torch.no_grad():  # biases and LayerNorm weights away from their initial 0 and 1, so each copy shows
        for name, p in model.named_parameters():
            if "ln" in name or name.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.3)
    return model.eval()


@checker
def ch13_block_to_gpt2(block_to_gpt2: Callable[[Any, int], Any]) -> None:
    """Exercise 13.3: ``block_to_gpt2(block, i)`` gives the 12 tensors of the course's ``Block`` number ``i`` under
    GPT-2's names (``transformer.h.{i}.ln_1.weight`` ... ``transformer.h.{i}.mlp.c_proj.bias``), as a dict.

    Checked on both blocks of a 2-layer model (E = 8, 2 heads, V = 17) whose biases and LayerNorm weights are not
    at their initial values: the names (missing and extra ones listed), each tensor's shape and values (any
    tensor that equals the right one passes: a view, a copy, ``.T`` or ``.t()`` or ``.transpose(0, 1)``), then the
    logits of a ``GPT2LMHeadModel`` holding them beside the rest of the model against the course model's. The hint
    names the tensor and the mistake: a ``Conv1D`` weight not transposed (the square c_proj of the attention keeps
    its shape), or which of the model's tensors the answer holds instead (a LayerNorm's weight and bias swapped,
    ln1 for ln2, another block's tensor).
    """
    from lmcourse.ecosystem import gpt2_state_dict, offline, to_gpt2

    offline()  # nothing here may reach the network, whatever the notebook did before
    ex = "13.3 (block_to_gpt2)"
    model = _small_transformer(3)
    reference = gpt2_state_dict(model)
    hf = to_gpt2(model)
    for i, block in enumerate(model.blocks):
        prefix = f"transformer.h.{i}."
        want = {k: v for k, v in reference.items() if k.startswith(prefix)}
        got = call(ex, block_to_gpt2, block, i, hint="block is the course's Block (block.ln1, block.attn, block.ln2, "
                   "block.mlp); i the block's number, used in the names.")
        if not isinstance(got, dict):
            fail(ex, f"block_to_gpt2(model.blocks[{i}], {i}) should return a dict of name -> tensor",
                 Description("a dict"), Description(type(got).__name__), "return {f'transformer.h.{i}.ln_1.weight': "
                 "block.ln1.weight, ...}.")
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
        if missing and len(extra) == len(missing) and all(k.startswith("transformer.h.") for k in extra):
            others = sorted({k.split(".")[2] for k in extra})
            fail(ex, f"block_to_gpt2(model.blocks[{i}], {i}): the names are block {', '.join(others)}'s",
                 Description(f"names starting {prefix!r}"), Description(f"names such as {extra[0]!r}"),
                 "put the block's number i in each name: f'transformer.h.{i}.ln_1.weight', not a fixed number.")
        if missing or extra:
            fail(ex, f"block_to_gpt2(model.blocks[{i}], {i}): the names", Description(f"the 12 names {prefix}..."),
                 Description("; ".join(part for part in (
                     f"missing {[k[len(prefix):] for k in missing]}" if missing else "",
                     f"extra names {extra}" if extra else "") if part)),
                 f"GPT-2 names block {i}'s tensors transformer.h.{i}.ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc "
                 "and mlp.c_proj, each with .weight and .bias; print(hf.state_dict().keys()) lists them.")
        for name, right in want.items():
            value = got[name]
            if not isinstance(value, torch.Tensor):
                fail(ex, f"block_to_gpt2(model.blocks[{i}], {i})[{name!r}] should be a tensor",
                     Description(f"a tensor of shape {tuple(right.shape)}"), Description(type(value).__name__),
                     "give the block's tensor itself (or its .T where Conv1D wants it).")
            value = value.detach()
            if tuple(value.shape) == tuple(right.shape) and torch.equal(value.to(right.dtype), right):
                continue
            hint = f"{name} is block {i}'s {_ours_of(name)}"
            if right.ndim == 2 and tuple(value.shape) == tuple(right.shape) and torch.equal(value, right.T):
                hint += ("; yours is not transposed: the shapes agree because the matrix is square, but Conv1D "
                         "computes x @ weight, so it needs the .T of nn.Linear's weight.")
            elif right.ndim == 2 and tuple(value.shape) == tuple(right.T.shape) and torch.equal(value, right.T):
                hint += (": Conv1D stores its weight as (in, out) and computes x @ weight, the transpose of "
                         "nn.Linear's (out, in): give its .T.")
            else:
                hint += f"; {_whose(value, model, i)}"
            fail(ex, f"block_to_gpt2(model.blocks[{i}], {i})[{name!r}]", Description(
                f"shape {tuple(right.shape)}, the values of {_ours_of(name)}"),
                Description(f"shape {tuple(value.shape)}, other values"), hint)
    weights = {**reference, **{k: v for i, b in enumerate(model.blocks) for k, v in block_to_gpt2(b, i).items()}}
    hf.load_state_dict(weights, strict=True)
    idx = torch.randint(0, 17, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = float((hf(idx).logits - model(idx)[0]).abs().max())
    if diff > 1e-4:
        fail(ex, "the GPT2LMHeadModel holding your tensors gives other logits than the course model",
             Description("the same logits (within 1e-4)"), Description(f"largest difference {diff:.3g}"),
             "each tensor matched on its own, so check that your dict does not share a tensor between names.")
    passed(ex, f"both blocks mapped by name and orientation; GPT-2's logits equal the course model's (largest "
               f"difference {diff:.1e})")


def _whose(value: torch.Tensor, model: Any, i: int) -> str:
    """What the learner's tensor for a GPT-2 name holds, in words: another of the course model's tensors (as it is or
    transposed, in block ``i`` or another block), or none of them."""
    for name, p in model.named_parameters():
        p = p.detach()
        for shown, candidate in (("", p), (" transposed", p.T if p.ndim == 2 else None)):
            if candidate is not None and tuple(candidate.shape) == tuple(value.shape) and torch.equal(candidate,
                                                                                                     value):
                where = name if not name.startswith("blocks.") else (
                    f"block {name.split('.')[1]}'s {name.split('.', 2)[2]}")
                hint = f"yours holds {where}{shown}"
                if name.startswith(f"blocks.{i}.ln") and name.endswith(("weight", "bias")):
                    hint += " (a LayerNorm's weight and bias, or ln1 and ln2, swapped?)"
                elif name.startswith("blocks.") and name.split(".")[1] != str(i):
                    hint += ": the tensor of another block; use the block you were given"
                return hint + "."
    return "yours is none of the model's tensors (see the table above: which tensor, and whether it is transposed)."


def _ours_of(name: str) -> str:
    """The course's tensor that GPT-2's ``name`` holds, in words, e.g. 'attn.out_proj.weight (transposed)'."""
    from lmcourse.ecosystem import GPT2_NAMES

    tail = name.split(".", 3)[3]
    for a, b, how in GPT2_NAMES:
        if b.endswith(tail) and "{i}" in b:
            return f"{a.split('.', 2)[2]} ({how})"
    return name


# --- 13.4 greedy decoding with generate ----------------------------------------------------------------------------


@checker
def ch13_greedy(hf_greedy: Callable[[Any, list[int], int], Any]) -> None:
    """Exercise 13.4: ``hf_greedy(hf_model, prompt_ids, n)`` returns the ``n`` tokens that ``transformers``'
    ``generate`` picks greedily after ``prompt_ids``, as a list of ints (the new tokens only).

    Checked on the course's reference Transformer for Shakespeare mapped into a GPT2LMHeadModel
    (``lmcourse.ecosystem.to_gpt2``), prompts of 1, 10 and 20 characters, n = 12 and 8, against
    ``lmcourse.models.generate(..., greedy=True)`` on the course model (its top two logits are at least 0.02 apart
    all along, so float32 rounding cannot change a choice). A
    tensor of shape (n,) or (1, n) is accepted. The hint names the mistake: the prompt returned too, ``max_length``
    (which counts the prompt) in place of ``max_new_tokens``, sampling (``do_sample=True``).
    """
    from lmcourse import checkpoints, data
    from lmcourse.ecosystem import offline, to_gpt2
    from lmcourse.models import generate
    from lmcourse.tokenize import CharTokenizer

    offline()
    ex = "13.4 (hf_greedy)"
    model = checkpoints.reference("transformer_shakespeare").eval()
    chars = CharTokenizer().fit(data.splits("shakespeare").train)
    hf = to_gpt2(model)
    for text, n in (("R", 12), ("KING HENRY", 12), ("O, what a noble mind", 8)):
        prompt = chars.encode(text)
        expected = generate(model, prompt, n, greedy=True)
        what = f"hf_greedy(hf_model, chars.encode({text!r}), {n})"
        got = call(ex, hf_greedy, hf, list(prompt), n, hint="call hf_model.generate(torch.tensor([prompt_ids]), "
                   "max_new_tokens=n, do_sample=False) and keep the new tokens, out[0, len(prompt_ids):].tolist().")
        if isinstance(got, torch.Tensor):
            got = got.reshape(-1).tolist() if got.ndim == 1 or (got.ndim == 2 and got.shape[0] == 1) else got
        if isinstance(got, (list, tuple)):  # numpy or 0-d torch integers count as ints
            got = [int(t) if isinstance(t, numbers.Integral) and not isinstance(t, bool) else
                   int(t.item()) if isinstance(t, torch.Tensor) and t.ndim == 0 and not t.is_floating_point() else t
                   for t in got]
        if not isinstance(got, (list, tuple)) or not all(isinstance(t, int) for t in got):
            fail(ex, f"{what} should be a list of ints", expected, got, "out[0, len(prompt_ids):].tolist() turns "
                 "generate's (1, P + n) tensor into the new tokens as ints.")
        got = list(got)
        if got == expected:
            continue
        if got == prompt + expected:
            hint = "generate returns the prompt followed by the new tokens: keep out[0, len(prompt_ids):]."
        elif got == expected[1:]:
            hint = ("the first new token is missing: the new tokens start at out[0, len(prompt_ids)], so slice "
                    "out[0, len(prompt_ids):].")
        elif got == expected[:n - len(prompt)] or got == prompt + expected[:n - len(prompt)] or len(got) < n:
            hint = ("max_length counts the prompt's tokens too (and max_length=n leaves n - len(prompt) new ones); "
                    "ask for max_new_tokens=n.")
        elif len(got) == n:
            hint = ("the tokens differ from greedy decoding's: pass do_sample=False (a model's generation_config may "
                    "turn sampling on), num_beams=1 (beam search keeps several candidates, so it is not greedy), and "
                    "no temperature, top_k or top_p.")
        else:
            hint = "return exactly n new tokens: max_new_tokens=n, and drop the prompt."
        fail(ex, what, expected, got, hint)
    passed(ex, "generate(max_new_tokens=n, do_sample=False) gives the course's greedy tokens")
