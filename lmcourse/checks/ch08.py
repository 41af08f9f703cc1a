"""Checkers of chapter 08 (the Transformer): exercises 08.1-08.4.

The references are the package's own: ``lmcourse.transformer`` (``TransformerConfig.n_params`` and a real
``TransformerLM``'s parameters, ``sinusoidal_positions``, a ``Block``'s forward) and
``lmcourse.models.top_k_logits``. The inputs the checkers give are ints or torch tensors; an answer may return numpy
arrays, torch tensors (float32 or float64) or lists. The typical mistakes are computed (in float64) to tell which
one an answer makes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from lmcourse.checks.core import (
    Description,
    _changed_hint,
    _close,
    _copy,
    _f64,
    _floats,
    _kind,
    _match_mistake,
    _quiet_numerics,
    _real,
    _unchanged,
    _whole,
    call,
    checker,
    fail,
    number,
    passed,
)

_WRITES = ("x += ..., x[...] = ..., masked_fill_ (with the underscore) or any method ending in _ writes into the "
           "caller's.")


# --- 08.1 counting the parameters ------------------------------------------------------------------------------

def _count(V: int, block_size: int, L: int, E: int, biases: bool = True, norms: bool = True, norm_bias: bool = True,
           tied: bool = True, final_norm: bool = True, positions: bool = True, mlp: int = 4, attn: int = 4) -> int:
    """The parameters of a TransformerLM, or one of the typical mistakes: ``biases`` of the linear layers counted,
    ``norms`` (the LayerNorms) counted, each as 2E (``norm_bias``) or E, the output layer ``tied``, the
    ``final_norm`` counted, the learned ``positions`` counted, the MLP's hidden width ``mlp`` * E, ``attn`` E x E
    matrices in the attention (4: q, k, v and the output projection)."""
    norm = (2 * E if norm_bias else E) if norms else 0
    block = attn * E * E + 2 * mlp * E * E + ((attn + mlp + 1) * E if biases else 0) + 2 * norm
    return V * E + (block_size * E if positions else 0) + L * block + (norm if final_norm else 0) + (
        0 if tied else V * E)


_PARAM_MISTAKES: dict[str, Callable[[int, int, int, int], int]] = {
    "no biases": lambda *a: _count(*a, biases=False),
    "no biases at all": lambda *a: _count(*a, biases=False, norm_bias=False),
    "no norms": lambda *a: _count(*a, norms=False),
    "norm scale only": lambda *a: _count(*a, norm_bias=False),
    "untied": lambda *a: _count(*a, tied=False),
    "no final norm": lambda *a: _count(*a, final_norm=False),
    "no positions": lambda *a: _count(*a, positions=False),
    "mlp E": lambda *a: _count(*a, mlp=1),
    "one attention matrix": lambda *a: _count(*a, attn=1),
    "three attention matrices": lambda *a: _count(*a, attn=3),
    "untied, no final norm": lambda *a: _count(*a, tied=False, final_norm=False),
}

_PARAM_HINTS = {
    "no biases": "count the biases of the linear layers too: in each block the attention's q, k, v and output "
                 "projections have E each (4E), the MLP's two layers 4E and E: 9E per block.",
    "no biases at all": "count the biases: 9E per block in the linear layers (attention 4E, MLP 4E + E), and a "
                        "LayerNorm has a bias of E besides its scale of E.",
    "no norms": "count the LayerNorms: each has a scale and a bias of E numbers (2E); there are two per block "
                "(ln1, ln2) and a final one before the output layer.",
    "norm scale only": "a LayerNorm has two vectors of E, its scale (weight) and its bias: 2E each, two per block "
                       "and the final one.",
    "untied": "the output layer is tied to the token embedding (weight tying): logits = ln_f(x) @ tok_emb.T uses "
              "the same V x E matrix, so it is counted once, not twice. Leave out the extra V * E.",
    "no final norm": "count the final LayerNorm too (2E), the one between the last block and the output layer.",
    "no positions": "count the learned position embeddings too: a table of block_size x E parameters.",
    "mlp E": "the MLP's hidden layer is 4E wide: Linear(E, 4E) and Linear(4E, E), 8E^2 weights and 4E + E biases "
             "per block.",
    "one attention matrix": "attention has four E x E matrices, for the queries, keys, values and the output "
                            "projection: 4E^2 weights and 4E biases per block.",
    "three attention matrices": "attention has four E x E matrices: the queries, keys and values, AND the output "
                                "projection (out_proj) that mixes the heads: 4E^2 weights and 4E biases per block.",
    "untied, no final norm": "two things: the output layer is tied to the token embedding (count the V x E matrix "
                             "once), and the final LayerNorm has 2E parameters.",
}


def _param_cases() -> list[tuple[int, int, int, int, int]]:
    """(vocab_size, block_size, n_layer, n_embd, n_head): a small model (checked against a real TransformerLM),
    GPT-2 small (124,439,808 parameters), and two more whose sizes tell the mistakes apart."""
    return [(65, 64, 2, 32, 4), (50257, 1024, 12, 768, 12), (27, 16, 3, 48, 4), (1000, 256, 6, 192, 6)]


@checker
def ch08_param_count(n_params: Callable[[int, int, int, int], Any]) -> None:
    """Exercise 08.1: ``n_params(vocab_size, block_size, n_layer, n_embd)`` = the parameters of a TransformerLM with
    biases, tied weights and learned positions: V E + block_size E + n_layer (12 E^2 + 13 E) + 2E, as an int.

    Four settings: (65, 64, 2, 32), checked against sum(p.numel()) of a real lmcourse.transformer.TransformerLM;
    GPT-2 small (50257, 1024, 12, 768) = 124,439,808; (27, 16, 3, 48); (1000, 256, 6, 192), each against
    TransformerConfig(...).n_params(). The answer must be one int (Python's, numpy's or a 0-d integer tensor). The
    hint names the mistake: the linear layers' biases (or all biases) left out, the LayerNorms left out or counted as
    E, the tied output layer counted again, the final LayerNorm or the position table left out, an MLP of width E
    instead of 4E, one (or three) attention matrices instead of four.
    """
    from lmcourse.transformer import TransformerConfig, TransformerLM

    ex = "08.1 (n_params)"
    cases = _param_cases()

    def same(got: Any, theirs: int) -> bool:
        value = _real(got)
        return value is not None and value == theirs

    for i, (V, block_size, L, E, heads) in enumerate(cases):
        what = f"n_params(vocab_size={V}, block_size={block_size}, n_layer={L}, n_embd={E})"
        config = TransformerConfig(vocab_size=V, block_size=block_size, n_layer=L, n_head=heads, n_embd=E)
        if i == 0:
            expected = sum(p.numel() for p in TransformerLM(config).parameters())
            what += f" (a real TransformerLM of these sizes, with {heads} heads, has {expected:,} parameters)"
        else:
            expected = config.n_params()
        got = call(ex, n_params, V, block_size, L, E)
        value = number(ex, f"{what}: the result", got, expected, "return one whole number, the count (an int).")
        if value != expected:
            others = [case[:4] for j, case in enumerate(cases) if j != i]
            mistake = _match_mistake(got, (V, block_size, L, E), n_params, others, _PARAM_MISTAKES, same,
                                     confirm=True)
            off = f"{int(value - expected) if float(value).is_integer() else value - expected:+,}"
            hint = _PARAM_HINTS.get(mistake or "", f"your count is off by {off}. Count the parts one by one: the "
                                                   "token embedding, the position table, and per block the "
                                                   "attention's projections and their biases, the MLP's two layers "
                                                   "and their biases, the two LayerNorms (a scale and a shift each); "
                                                   "then the final LayerNorm. The output layer is tied: it has no "
                                                   "parameters of its own.")
            fail(ex, what, expected, got, hint)
        if _whole(got) is None:
            fail(ex, f"{what} should be an int", expected, got,
                 f"the count is right, but {_kind(got)}: return an int (int(...), or compute with ints only: / makes "
                 "a float, // or * keep an int). A parameter count is a whole number.")
    passed(ex, "V E + block_size E + n_layer (12 E^2 + 13 E) + 2E, as a real TransformerLM has; GPT-2 small has "
               "124,439,808")


# --- 08.2 sinusoidal positions -----------------------------------------------------------------------------------

def _pe(T: int, E: int, layout: str = "interleaved", swap: bool = False, exponent: str = "2i/E", start: int = 0,
        base: float = 10000.0, transpose: bool = False) -> Any:
    """The sinusoidal table (T, E) in float64 numpy, or one of the typical mistakes: ``layout`` "interleaved" (sin
    in the even columns, cos in the odd) or "concatenated" ([sin | cos]), ``swap`` cos where sin belongs,
    ``exponent`` "2i/E", "i/E" (the pair index without the 2) or "own" (each column its own index j: the cos
    columns at (2i + 1)/E), positions from ``start``, ``base`` 10000 or another, ``transpose`` (E, T)."""
    import numpy as np

    p = np.arange(start, start + T, dtype=np.float64)[:, None]
    i = np.arange(E // 2, dtype=np.float64)
    power = {"2i/E": 2 * i / E, "i/E": i / E, "own": 2 * i / E}[exponent]
    sin, cos = np.sin(p / base ** power), np.cos(p / base ** (power + (1 / E if exponent == "own" else 0.0)))
    if swap:
        sin, cos = cos, sin
    if layout == "interleaved":
        table = np.empty((T, E))
        table[:, 0::2], table[:, 1::2] = sin, cos
    else:
        table = np.concatenate([sin, cos], axis=1)
    return table.T if transpose else table


_PE_VARIANTS = {
    "swapped": {"swap": True},
    "i/E": {"exponent": "i/E"},
    "from 1": {"start": 1},
    "base 1000": {"base": 1000.0},
    "transposed": {"transpose": True},
}

_PE_MISTAKES: dict[str, Callable[[int, int], Any]] = {
    **{f"{key} {layout}": partial(_pe, layout=layout, **kw)
       for layout in ("interleaved", "concatenated") for key, kw in _PE_VARIANTS.items()},
    "own interleaved": lambda T, E: _pe(T, E, exponent="own"),
    "transposed swapped interleaved": lambda T, E: _pe(T, E, swap=True, transpose=True),
}

_PE_HINTS = {
    "swapped": "sin and cos are swapped: PE[p, 2i] = sin(p / 10000^(2i/E)) (the even columns, or the first half), "
               "PE[p, 2i+1] = cos(...). At position 0 the sines are 0 and the cosines 1.",
    "i/E": "the exponent is 2i/E, with i the index of the PAIR of columns (0 .. E/2 - 1): 10000 ** (2i / E), i.e. "
           "10000 ** (torch.arange(0, E, 2) / E). Yours is i/E, so the slowest clock turns only 100 times slower "
           "than the fastest, not 10000.",
    "own": "both columns of a pair share one frequency: PE[p, 2i] = sin(p w_i) and PE[p, 2i+1] = cos(p w_i), with "
           "w_i = 1 / 10000^(2i/E). Yours gives the cos column 2i+1 its own exponent (2i+1)/E.",
    "from 1": "positions count from 0: the first row is position 0 (sin 0 = 0, cos 0 = 1), p = torch.arange(T).",
    "base 1000": "the base is 10000: w_i = 1 / 10000^(2i/E), not 1000.",
    "transposed": "return the table as (T, E): one row per position, one column per dimension (it is added to the "
                  "token embeddings, (B, T, E)). Yours is (E, T).",
}


def _pe_hint(mistake: str) -> str:
    words = mistake.split()
    hints = [_PE_HINTS[w] for w in ("transposed", "swapped") if w in words]
    return " ".join(hints) if hints else _PE_HINTS[mistake.rsplit(" ", 1)[0]]


_PE_RULE = ("PE[p, 2i] = sin(p / 10000^(2i/E)), PE[p, 2i+1] = cos(p / 10000^(2i/E)), for positions p = 0 .. T-1 "
            "and pairs i = 0 .. E/2 - 1; shape (T, E).")


@checker
def ch08_sinusoidal(sinusoidal: Callable[[int, int], Any]) -> None:
    """Exercise 08.2: ``sinusoidal(T, E)`` = the sinusoidal position table (T, E) of Vaswani et al. (2017):
    PE[p, 2i] = sin(p / 10000^(2i/E)), PE[p, 2i+1] = cos(p / 10000^(2i/E)).

    Three settings (T, E) = (24, 16), (50, 64), (7, 10), against lmcourse.transformer.sinusoidal_positions; the
    answer is an array, tensor or nested list (float32 is fine: atol 1e-4). The concatenated layout [sin ... |
    cos ...] (the first E/2 columns the sines) passes too, with a note that the package interleaves. The hint names
    the mistake: sin and cos swapped, the exponent i/E instead of 2i/E, the cos column at its own exponent
    (2i+1)/E, positions counted from 1, base 1000, the table transposed (E, T).
    """
    import numpy as np

    from lmcourse.transformer import sinusoidal_positions

    ex = "08.2 (sinusoidal)"
    cases = [(24, 16), (50, 64), (7, 10)]
    atol = 1e-4
    same = _close(rtol=0.0, atol=atol)
    layouts = set()
    for i, (T, E) in enumerate(cases):
        what = f"sinusoidal(T={T}, E={E})"
        with _quiet_numerics():
            got = call(ex, sinusoidal, T, E, hint=f"T and E are ints; {_PE_RULE} Otherwise run your function on this "
                                                  "input yourself and read the traceback above.")
        expected = _f64(sinusoidal_positions(T, E))
        concatenated = np.concatenate([expected[:, 0::2], expected[:, 1::2]], axis=1)
        values = _floats(got)
        if values is not None and values.shape == expected.shape:
            if np.allclose(values, expected, rtol=0, atol=atol):
                layouts.add("interleaved")
                continue
            if np.allclose(values, concatenated, rtol=0, atol=atol):
                layouts.add("concatenated")
                continue
        others = [o for j, o in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (T, E), sinusoidal, others, _PE_MISTAKES, same, confirm=True)
        hint = _pe_hint(mistake) if mistake else _PE_RULE
        if values is None:
            fail(ex, f"{what} should return an array of numbers", Description(f"shape ({T}, {E})"),
                 Description(_kind(got)), hint)
        if values.shape != expected.shape:
            if values.shape == (1, T, E) and mistake is None:
                hint = f"return the table itself, (T, E) = ({T}, {E}), without a batch dimension in front."
            fail(ex, f"{what}: wrong shape", Description(f"shape ({T}, {E}) = (T, E)"),
                 Description(f"shape {values.shape}"), hint)
        want = concatenated if mistake is not None and mistake.endswith("concatenated") else expected
        p, j = np.argwhere(~np.isclose(values, want, rtol=0, atol=atol))[0]
        lo = j - j % 2
        fail(ex, f"{what}: position {p}, columns {lo}:{lo + 4}", np.round(want[p, lo:lo + 4], 5).tolist(),
             np.round(values[p, lo:lo + 4], 5).tolist(), hint)
    note = ("" if layouts == {"interleaved"} else
            " (yours is [sin | cos], the sines in the first E/2 columns: a right variant, the same columns in "
            "another order; the package, as Vaswani et al., interleaves them, PE[p, 2i] = sin, PE[p, 2i+1] = cos)")
    passed(ex, "PE[p, 2i] = sin(p / 10000^(2i/E)), PE[p, 2i+1] = cos(...), as sinusoidal_positions" + note)


# --- 08.3 a Block's forward --------------------------------------------------------------------------------------

def _block_run(block: Any, x: Any, how: str = "right") -> Any:
    """A Block's forward from its parts (no grad), or one of the typical mistakes, by ``how``: "post" (post-norm,
    x = ln1(x + attn(x)), then ln2(x + mlp(x))), "no attn residual", "no mlp residual", "not causal", "ln1 twice",
    "parallel" (x + attn(ln1 x) + mlp(ln2 x): the MLP reads the block's input), "no norms",
    "tanh gelu" (the MLP with GELU's tanh approximation)."""
    import torch
    import torch.nn.functional as F

    def attn(h: Any, causal: bool = True) -> Any:
        return block.attn(h, is_causal=causal)[0]

    def mlp(h: Any) -> Any:
        if how == "tanh gelu":
            return block.mlp[2](F.gelu(block.mlp[0](h), approximate="tanh"))
        return block.mlp(h)

    ln1, ln2 = block.ln1, block.ln2
    with torch.no_grad():
        if how == "post":
            h = ln1(x + attn(x))
            return ln2(h + mlp(h))
        if how == "parallel":
            return x + attn(ln1(x)) + mlp(ln2(x))
        if how == "no norms":
            h = x + attn(x)
            return h + mlp(h)
        a = attn(ln1(x), causal=how != "not causal")
        h = a if how == "no attn residual" else x + a
        m = mlp((ln1 if how == "ln1 twice" else ln2)(h))
        return m if how == "no mlp residual" else h + m


_BLOCK_MISTAKES: dict[str, Callable[[Any, Any], Any]] = {
    how: (lambda kind: lambda block, x: _block_run(block, x, kind).numpy())(how)
    for how in ("post", "no attn residual", "no mlp residual", "not causal", "ln1 twice", "parallel", "no norms",
                "tanh gelu")
}

_BLOCK_HINTS = {
    "post": "that is the post-norm block of the original Transformer, x = ln1(x + attn(x)): the Block is pre-norm, "
            "as GPT-2: normalise the sublayer's INPUT and add its output to the un-normalised x, x = x + "
            "attn(ln1(x)), then x = x + mlp(ln2(x)).",
    "no attn residual": "add the attention's output to x (the residual connection): x = x + attn(ln1(x)), not "
                        "x = attn(ln1(x)).",
    "no mlp residual": "add the MLP's output to x (the residual connection): x = x + mlp(ln2(x)), not "
                       "x = mlp(ln2(x)).",
    "not causal": "the attention must be causal, block.attn(h, is_causal=True): without it each position reads the "
                  "positions after it, the very tokens a language model must predict.",
    "ln1 twice": "each sublayer has its own LayerNorm: ln1 before the attention, ln2 before the MLP.",
    "parallel": "the two sublayers run one after the other: the MLP reads x AFTER the attention was added, x = x + "
                "attn(ln1(x)); then x = x + mlp(ln2(x)). Yours feeds the MLP the block's input x, so the two run "
                "side by side (GPT-J's parallel block, another model).",
    "no norms": "normalise each sublayer's input: x + attn(ln1(x)), then x + mlp(ln2(x)); yours skips ln1 and ln2.",
    "tanh gelu": "call block.mlp(h) as it is: its GELU is the exact one (nn.GELU(), with erf), not the tanh "
                 "approximation.",
}

_BLOCK_RULE = ("pre-norm, with the block's own parts: h = block.ln1(x); x = x + block.drop(block.attn(h, "
               "is_causal=True)[0]); then x = x + block.drop(block.mlp(block.ln2(x))); return x.")


def _block_cases() -> list[tuple[str, tuple[Any, Any]]]:
    """Two Blocks of the checker's own, in eval mode, every parameter moved off its initial value (so a LayerNorm
    is not the identity and a bias is not 0): E = 32 with 4 heads in float32, x (2, 7, 32); E = 24 with 2 heads in
    float64, x (1, 9, 24)."""
    import torch

    from lmcourse.transformer import Block, TransformerConfig

    cases = []
    gen = torch.Generator().manual_seed(80)
    for E, heads, dtype, shape in ((32, 4, torch.float32, (2, 7)), (24, 2, torch.float64, (1, 9))):
        torch.manual_seed(80 + E)  # the Block's initial weights; the checker runs in a forked RNG
        block = Block(TransformerConfig(vocab_size=10, block_size=16, n_layer=1, n_head=heads, n_embd=E,
                                        dropout=0.1)).to(dtype).eval()
        with torch.no_grad():
            for p in block.parameters():
                p.add_(0.2 * torch.randn(p.shape, generator=gen, dtype=dtype))
        x = torch.randn(*shape, E, generator=gen, dtype=dtype)
        cases.append((f"block_forward(block (n_embd={E}, n_head={heads}, eval mode), x of shape {tuple(x.shape)}: "
                      f"{str(dtype).removeprefix('torch.')})", (block, x)))
    return cases


def _as64(block: Any, x: Any) -> tuple[Any, Any]:
    import copy

    return copy.deepcopy(block).double(), x.double()


def _block_error_hint(err: Exception) -> str:
    text = str(err)
    if "tuple" in text:
        return ("block.attn(h, is_causal=True) returns a pair (out, weights), as MultiHeadAttention does: add its "
                f"first element, block.attn(h, is_causal=True)[0]. {_BLOCK_RULE}")
    if "positional argument" in text:
        return f"is_causal is a keyword argument: block.attn(h, is_causal=True). {_BLOCK_RULE}"
    return (f"block is an lmcourse.transformer.Block with parts ln1, attn, ln2, mlp and drop; {_BLOCK_RULE} "
            "Otherwise run your function on this input yourself and read the traceback above.")


def _block_leak(fn: Callable[..., Any], block: Any, x: Any, got: Any) -> int | None:
    """The first position t whose output changes when x changes at the positions after t; None if none does."""
    import warnings

    import numpy as np
    import torch

    base = _floats(got)
    if base is None or base.shape != tuple(x.shape):
        return None
    gen = torch.Generator().manual_seed(81)
    for t in range(x.shape[1] - 1):
        changed = x.clone()
        changed[:, t + 1:] = torch.randn(changed[:, t + 1:].shape, generator=gen, dtype=x.dtype)
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                theirs = _floats(fn(block, changed))
        except Exception:  # noqa: BLE001 - the learner's code failing here tells nothing about a leak
            return None
        if theirs is None or theirs.shape != base.shape:
            return None
        if not np.allclose(theirs[:, :t + 1], base[:, :t + 1], rtol=1e-4, atol=1e-5):
            return t
    return None


@checker
def ch08_block_forward(block_forward: Callable[[Any, Any], Any]) -> None:
    """Exercise 08.3: ``block_forward(block, x)`` = what ``block(x)`` computes, written with the block's parts
    (ln1, attn, ln2, mlp, drop): x = x + drop(attn(ln1(x), is_causal=True)[0]); x = x + drop(mlp(ln2(x))).

    Two lmcourse.transformer.Block of the checker's own, in eval mode (dropout 0.1, off), every parameter moved off
    its initial value: E = 32, 4 heads, float32, x (2, 7, 32); E = 24, 2 heads, float64, x (1, 9, 24). The
    reference is the block's own forward in float64. The answer is an array or tensor of x's shape (float32 is
    fine: rtol 1e-4, atol 1e-5); x and the block (its parameters and its mode) must be left as they were. The
    hint names the mistake: post-norm, the attention's or the MLP's residual missing, is_causal left False, ln1 for
    both sublayers, the MLP reading the block's input (the sublayers side by side, parallel), no LayerNorms, GELU's
    tanh approximation; otherwise a leak from the future (the output at t changing with x after t), at which
    position; (out, weights) not unpacked.
    """
    import numpy as np
    import torch

    ex = "08.3 (block_forward)"
    cases = _block_cases()
    same = _close(rtol=1e-4, atol=1e-5)
    for i, (what, (block, x)) in enumerate(cases):
        given = _copy(x)
        state = {name: t.clone() for name, t in block.state_dict().items()}
        whole_calls: list[int] = []
        handle = block.register_forward_pre_hook(lambda module, inputs, calls=whole_calls: calls.append(1))
        try:
            with _quiet_numerics():
                got = call(ex, block_forward, block, given, hint=_block_error_hint)
        finally:
            handle.remove()
        if whole_calls:
            fail(ex, f"{what} called block(x) itself", Description("the forward pass written from the block's parts"),
                 Description("block(x)"), "don't call block(x) (or block.forward): write what it computes from "
                                           "block.ln1, block.attn, block.ln2 and block.mlp.")
        if not _unchanged(given, x):
            fail(ex, f"{what} changed x", Description("x as given"), Description("changed x"),
                 _changed_hint(["x"], "x = x + ...", _WRITES))
        changed = [name for name, t in block.state_dict().items() if not torch.equal(t, state[name])]
        if changed:
            fail(ex, f"{what} changed the block's parameters ({', '.join(changed[:3])}"
                     f"{', ...' if len(changed) > 3 else ''})", Description("the block as given"),
                 Description(f"changed {', '.join(changed[:3])}"), "only read the block's parts; don't change them.")
        if block.training or any(m.training for m in block.modules()):
            fail(ex, f"{what} switched the block to training mode", Description("the block in eval mode"),
                 Description("training mode"), "leave the block's mode as it was: block.train() turns dropout on "
                                               "(random outputs), and the caller's block stays changed.")
        block64, x64 = _as64(block, x)
        with torch.no_grad():
            expected = block64(x64).numpy()
        values = _floats(got.detach() if isinstance(got, torch.Tensor) else got)
        if values is not None and values.shape == expected.shape and np.allclose(values, expected, rtol=1e-4,
                                                                                  atol=1e-5):
            continue
        others = []
        for j, (_, (b, o)) in enumerate(cases):
            if j != i:
                others += [(b, _copy(o)), _as64(b, o)]
        with torch.no_grad():
            mistake = _match_mistake(got, (block64, x64), block_forward, others, _BLOCK_MISTAKES, same, confirm=True)
        hint = _BLOCK_HINTS.get(mistake or "")
        if hint is None and (t := _block_leak(block_forward, block, _copy(x), got)) is not None:
            hint = (f"the future leaks: changing x at the positions after {t} changes your output at position {t}. "
                    f"Is the attention causal? {_BLOCK_RULE}")
        hint = hint or _BLOCK_RULE
        if values is None:
            fail(ex, f"{what} should return a tensor", Description(f"shape {expected.shape}"), Description(_kind(got)),
                 hint)
        if values.shape != expected.shape:
            fail(ex, f"{what}: wrong shape", Description(f"shape {expected.shape}, x's"),
                 Description(f"shape {values.shape}"), hint)
        b, t = next((b, t) for b in range(expected.shape[0]) for t in range(expected.shape[1])
                    if not np.allclose(values[b, t], expected[b, t], rtol=1e-4, atol=1e-5))
        fail(ex, f"{what}: the output at sequence {b}, position {t} (its first 5 of {expected.shape[2]})",
             np.round(expected[b, t, :5], 5).tolist(), np.round(values[b, t, :5], 5).tolist(), hint)
    passed(ex, "x + attn(ln1(x), causal), then x + mlp(ln2(x)): the Block's pre-norm forward")


# --- 08.4 top-k ---------------------------------------------------------------------------------------------------

def _top(logits: Any, k: int, how: str = "right") -> Any:
    """``logits`` (float64 numpy) with all but the k largest of each row set to -inf, or one of the typical
    mistakes, by ``how``: "zero" (the others set to 0), "smallest" (the k smallest kept), "k-1", "k+1", "probs"
    (softmax of the result), "sorted" (the top-k values, sorted), "indices" (the top-k indices), "global" (one
    threshold for the whole array)."""
    import numpy as np

    x = _f64(logits)
    order = -np.sort(-x, axis=-1)
    if how in ("sorted", "indices"):
        return order[..., :k] if how == "sorted" else np.argsort(-x, axis=-1, kind="stable")[..., :k].astype(float)
    if how == "smallest":
        return np.where(x <= np.sort(x, axis=-1)[..., k - 1:k], x, -np.inf)
    if how == "global":
        return np.where(x >= np.sort(x, axis=None)[::-1][k - 1], x, -np.inf)
    kk = {"k-1": k - 1, "k+1": k + 1}.get(how, k)
    if kk < 1:
        return np.full_like(x, -np.inf)
    kept = np.where(x >= order[..., kk - 1:kk], x, -np.inf if how != "zero" else 0.0)
    if how == "probs":
        e = np.exp(kept - kept.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return kept


_TOP_MISTAKES: dict[str, Callable[[Any, int], Any]] = {
    how: (lambda kind: lambda logits, k: _top(logits, k, kind))(how)
    for how in ("zero", "smallest", "k-1", "k+1", "probs", "sorted", "indices", "global")
}

_TOP_HINTS = {
    "zero": "set the others to -inf (float('-inf')), not 0: a logit of 0 is an ordinary score, exp(0) = 1, so the "
            "softmax would still give those tokens probability (more than to any negative logit kept). -inf gives "
            "exactly 0.",
    "smallest": "keep the k LARGEST logits (the k most likely tokens): torch.topk(logits, k) gives them; yours keeps "
                "the k smallest.",
    "k-1": "you keep k - 1 logits per row: keep all k largest, including the k-th (logits >= the k-th largest, or "
           "torch.topk(logits, k).values[..., -1:] as the threshold).",
    "k+1": "you keep k + 1 logits per row: the threshold is the k-th largest (topk(...).values[..., -1:], index "
           "k - 1 of the sorted values), and only logits below it are set to -inf.",
    "probs": "return the logits (the k largest as they were, the others -inf), not probabilities: the sampler "
             "applies the softmax (and the temperature) afterwards.",
    "sorted": "return the whole row of V logits, in vocabulary order (position j is token j), with the others set to "
              "-inf: torch.topk's values are only the k largest, sorted, and lose which token each belongs to.",
    "indices": "return the logits themselves, a whole row of V with all but the k largest set to -inf, not the "
               "indices of the k largest.",
    "global": "keep the k largest of EACH ROW (the last axis, one row per sequence): yours keeps the k largest of the "
              "whole array. Take the threshold per row, torch.topk(logits, k, dim=-1).values[..., -1:].",
}

_TOP_RULE = ("kth = torch.topk(logits, k, dim=-1).values[..., -1:] (each row's k-th largest, kept as a column); "
             "return logits.masked_fill(logits < kth, float('-inf')): the same shape as logits, a new tensor.")


def _top_cases() -> list[tuple[str, tuple[Any, int]]]:
    """A 1-D row of 10 logits with k = 3 (float32); 4 rows of 12 with k = 5 (float64); 3 rows of 7 with k = 1
    (float32). Standard normal times 2: no ties."""
    import torch

    gen = torch.Generator().manual_seed(82)
    cases = []
    for shape, k, dtype in (((10,), 3, torch.float32), ((4, 12), 5, torch.float64), ((3, 7), 1, torch.float32)):
        logits = 2 * torch.randn(shape, generator=gen, dtype=dtype)
        cases.append((f"top_k(logits of shape {shape}: {str(dtype).removeprefix('torch.')}, k={k})", (logits, k)))
    return cases


@checker
def ch08_top_k(top_k: Callable[[Any, int], Any]) -> None:
    """Exercise 08.4: ``top_k(logits, k)`` = ``logits`` with all but the k largest of each row (the last axis) set
    to -inf, in vocabulary order, a new tensor (lmcourse.models.top_k_logits).

    Three torch tensors without ties: 1-D (10,) with k = 3 (float32), 2-D (4, 12) with k = 5 (float64), 2-D (3, 7)
    with k = 1 (float32). The answer is an array, tensor or nested list of the logits' shape, -inf exactly where
    the reference has it, the kept logits unchanged; the input must be left as it was. The hint names the mistake:
    the others set to 0, or to a large negative number instead of -inf, the k smallest kept, k - 1 or k + 1 kept,
    probabilities returned, the sorted top-k values (or their indices) returned, one threshold for the whole array
    instead of one per row, logits changed in place.
    """
    import numpy as np

    from lmcourse.models import top_k_logits

    ex = "08.4 (top_k)"
    cases = _top_cases()
    same = _close(rtol=1e-6, atol=1e-6)
    for i, (what, (logits, k)) in enumerate(cases):
        given = _copy(logits)
        with _quiet_numerics():
            got = call(ex, top_k, given, k, hint=f"logits is a torch tensor, its rows along the last axis; {_TOP_RULE}"
                                                 " Otherwise run your function on this input yourself and read the "
                                                 "traceback above.")
        if not _unchanged(given, logits):
            fail(ex, f"{what} changed logits", Description("logits as given"), Description("changed logits"),
                 "work on a copy: logits[...] = float('-inf') or masked_fill_ writes into the caller's logits (the "
                 "model's output, which it may use again). Use logits.masked_fill(...) (no underscore), "
                 "torch.where(...), or logits.clone() first.")
        expected = _f64(top_k_logits(logits.double(), k))
        values = _floats(got)
        if values is not None and values.shape == expected.shape and np.allclose(values, expected, rtol=1e-6,
                                                                                  atol=1e-6):
            continue
        others = [(_copy(o), kk) for j, (_, (o, kk)) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (_f64(logits), k), top_k, others, _TOP_MISTAKES, same, confirm=True)
        hint = _TOP_HINTS.get(mistake or "", _TOP_RULE)
        if values is None:
            fail(ex, f"{what} should return an array of numbers", Description(f"shape {expected.shape}"),
                 Description(_kind(got)), hint)
        if values.shape != expected.shape:
            fail(ex, f"{what}: wrong shape", Description(f"shape {expected.shape}, the logits'"),
                 Description(f"shape {values.shape}"), hint)
        dropped = np.isinf(expected)
        if mistake is None and np.allclose(values[~dropped], expected[~dropped], rtol=1e-6, atol=1e-6) \
                and np.isfinite(values[dropped]).all() and (values[dropped] <= -1e4).all():
            hint = (f"use -inf (float('-inf')), not a large negative number ({values[dropped].max():g}): -inf says "
                    "'impossible' exactly, whatever the temperature or the other logits, and is what top_k_logits "
                    "and the sampler expect.")
        rows = expected.reshape(-1, expected.shape[-1])
        got_rows = values.reshape(rows.shape)
        r = next(r for r in range(len(rows)) if not np.allclose(got_rows[r], rows[r], rtol=1e-6, atol=1e-6))
        where = f"row {r}" if expected.ndim > 1 else "the row"
        fail(ex, f"{what}: {where}", np.round(rows[r], 4).tolist(), np.round(got_rows[r], 4).tolist(), hint)
    passed(ex, "the k largest logits of each row kept in place, the rest -inf, as lmcourse.models.top_k_logits")
