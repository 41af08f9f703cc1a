"""Checkers of chapter 06 (the LSTM from scratch, checked against torch): exercises 06.1-06.3.

Exercise 06.1 lays the LSTM's weights out for ``x @ W``, as chapters 04-05's exercises do: W is (D, 4H), U (H, 4H),
b (4H,), the 4H columns holding the gates in PyTorch's order i, f, g, o. Exercise 06.2 uses PyTorch's own layout, as
torch.nn.GRUCell stores it: W_ih (3H, D), W_hh (3H, H), so W_ih @ x, i.e. x @ W_ih.T. The reference of each is
torch's own cell (torch.nn.LSTMCell, torch.nn.GRUCell) in float64, with the weights copied in; the typical mistakes
are computed in numpy (float64) to tell which one an answer makes. Exercise 06.3 changes a torch.nn.LSTM in place.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from itertools import permutations
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
    _rounded,
    _unchanged,
    call,
    checker,
    expect_close,
    fail,
    passed,
)


def _sigmoid(x: Any) -> Any:
    import numpy as np

    return 1.0 / (1.0 + np.exp(-x))


def _tanh(x: Any) -> Any:
    import numpy as np

    return np.tanh(x)


_WRITES = ("c *= f, h += ..., h[:] = ..., np.tanh(z, out=z) or x.sigmoid_() on an input (or on a view of one, such as "
           "a slice of a weight) write into the caller's.")


def _matmul_sizes(err: Exception) -> tuple[int, int] | None:
    """The two sizes a failed matrix product could not match, (columns of the left, rows of the right), read from
    torch's or numpy's message; None if ``err`` is not about a matrix product."""
    text = str(err)
    found = re.search(r"\((\d+)x(\d+) and (\d+)x(\d+)\)", text)  # torch: (left rows x left cols and ...)
    if found:
        return int(found[2]), int(found[3])
    if found := re.search(r"size (\d+) is different from (\d+)", text):  # numpy: right rows, left cols
        return int(found[2]), int(found[1])
    return None


#: The tolerance of exercises 06.1 and 06.2: states of a few units at most, computed in float32 through sums of up
#: to 22 terms.
CELL_RTOL, CELL_ATOL = 1e-4, 1e-5


# --- 06.1 one step of the LSTM -----------------------------------------------------------------------------------

def _lstm(x: Any, h: Any, c: Any, W: Any, U: Any, b: Any, order: str = "ifgo", tanh_on: str = "g",
          cell: str = "f*c + i*g", out: str = "o*tanh(c_new)", use_h: bool = True, use_b: bool = True) -> Any:
    """One LSTM step in float64, ``(h_new, c_new)``, or one of the typical mistakes: ``order`` says which gate the
    learner takes each of the four column blocks of z for (PyTorch's: "ifgo"), ``tanh_on`` which of them go through
    tanh (the rest through the sigmoid), ``cell`` and ``out`` the two update rules, ``use_h`` / ``use_b`` whether
    h @ U and b are added."""
    x, h, c, W, U, b = (_f64(a) for a in (x, h, c, W, U, b))
    H = c.shape[1]
    z = x @ W + (h @ U if use_h else 0.0) + (b if use_b else 0.0)
    gate = {name: (_tanh if name in tanh_on else _sigmoid)(z[:, k * H:(k + 1) * H]) for k, name in enumerate(order)}
    i, f, g, o = gate["i"], gate["f"], gate["g"], gate["o"]
    c_new = {"f*c + i*g": f * c + i * g, "i*g": i * g, "f*c + g": f * c + g, "f*h + i*g": f * h + i * g}[cell]
    h_new = {"o*tanh(c_new)": o * _tanh(c_new), "tanh(c_new)": _tanh(c_new), "o*c_new": o * c_new,
             "o*sigmoid(c_new)": o * _sigmoid(c_new), "o*tanh(c)": o * _tanh(c)}[out]
    return h_new, c_new


def _lstm_reference(x: Any, h: Any, c: Any, W: Any, U: Any, b: Any) -> tuple[Any, Any]:
    """torch.nn.LSTMCell in float64 with the weights copied in, transposed to its layout: weight_ih = W.T (4H, D),
    weight_hh = U.T (4H, H), bias_ih = b, bias_hh = 0. It proves the layout: PyTorch's gate order, i, f, g, o."""
    import torch

    x, h, c, W, U, b = (torch.tensor(_f64(a)) for a in (x, h, c, W, U, b))
    with torch.random.fork_rng(devices=[]):  # its random initial weights are overwritten: draw them off the record
        cell = torch.nn.LSTMCell(W.shape[0], U.shape[0], dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(W.T)
        cell.weight_hh.copy_(U.T)
        cell.bias_ih.copy_(b)
        cell.bias_hh.zero_()
        h_new, c_new = cell(x, (h, c))
    return h_new.numpy(), c_new.numpy()


_ORDER_SOURCES = {
    "figo": " (i and f swapped)",
    "igfo": ": TensorFlow 1's LSTMCell order i, j, f, o, with j its candidate",
    "iofg": ": ONNX's order i, o, f, c",
    "ifog": " (g and o swapped)",
}

_LSTM_MISTAKES: dict[str, Callable[..., Any]] = {
    "no forget": lambda *a: _lstm(*a, cell="i*g"),
    "no input": lambda *a: _lstm(*a, cell="f*c + g"),
    "h for c": lambda *a: _lstm(*a, cell="f*h + i*g"),
    "no output": lambda *a: _lstm(*a, out="tanh(c_new)"),
    "no tanh out": lambda *a: _lstm(*a, out="o*c_new"),
    "sigmoid out": lambda *a: _lstm(*a, out="o*sigmoid(c_new)"),
    "old c": lambda *a: _lstm(*a, out="o*tanh(c)"),
    "sigmoid g": lambda *a: _lstm(*a, tanh_on=""),
    "tanh i": lambda *a: _lstm(*a, tanh_on="gi"),
    "tanh f": lambda *a: _lstm(*a, tanh_on="gf"),
    "tanh o": lambda *a: _lstm(*a, tanh_on="go"),
    "tanh all": lambda *a: _lstm(*a, tanh_on="ifgo"),
    "swapped": lambda *a: _lstm(*a)[::-1],
    "no h": lambda *a: _lstm(*a, use_h=False),
    "no b": lambda *a: _lstm(*a, use_b=False),
    **{f"order {''.join(p)}": (lambda order: lambda *a: _lstm(*a, order=order))(''.join(p))
       for p in permutations("ifgo") if ''.join(p) != "ifgo"},
}

_SIGMOID_GATE = ("{gate} is a sigmoid, in (0, 1): a gate scales between shut (0) and open (1). Only the candidate g "
                 "goes through tanh; i, f and o through the sigmoid.")

_LSTM_HINTS = {
    "no forget": "c_new = f * c + i * g: the forget gate f scales the previous cell state c, which carries the "
                 "memory. Yours is i * g, which forgets everything at every step.",
    "no input": "scale the candidate by the input gate: c_new = f * c + i * g, not f * c + g.",
    "h for c": "the forget gate scales the previous CELL state c, not the hidden state h: c_new = f * c + i * g.",
    "no output": "h_new = o * tanh(c_new): the output gate o scales what the cell shows. Yours is tanh(c_new) alone.",
    "no tanh out": "squash the cell state with tanh before the output gate: h_new = o * tanh(c_new), not "
                   "o * c_new.",
    "sigmoid out": "h_new = o * tanh(c_new): the cell state goes through tanh (in (-1, 1)), not the sigmoid.",
    "old c": "h_new = o * tanh(c_new), with the NEW cell state: yours uses the previous one, c.",
    "sigmoid g": "the candidate g goes through tanh, in (-1, 1), so the cell can be written down as well as up: "
                 "g = tanh(z[:, 2H:3H]). Only the gates i, f, o go through the sigmoid.",
    "tanh i": _SIGMOID_GATE.format(gate="The input gate i"),
    "tanh f": _SIGMOID_GATE.format(gate="The forget gate f"),
    "tanh o": _SIGMOID_GATE.format(gate="The output gate o"),
    "tanh all": _SIGMOID_GATE.format(gate="Each gate (i, f, o)"),
    "swapped": "return the pair in the order (h_new, c_new), the hidden state first, as torch.nn.LSTMCell does: "
               "yours is (c_new, h_new).",
    "no h": "add h @ U to z: the gates read the previous hidden state as well as the input, "
            "z = x_t @ W + h @ U + b.",
    "no b": "add the bias: z = x_t @ W + h @ U + b.",
}


def _order_hint(order: str) -> str:
    return ("the 4H columns of z hold the gates in PyTorch's order i, f, g, o: z[:, 0:H] the input gate i, "
            "z[:, H:2H] the forget gate f, z[:, 2H:3H] the candidate g, z[:, 3H:4H] the output gate o (Keras's "
            f"i, f, c, o is the same order). Yours read them as {', '.join(order)}{_ORDER_SOURCES.get(order, '')}.")


def _lstm_inputs(rng: Any, B: int, D: int, H: int) -> tuple[Any, ...]:
    """x_t (B, D), h (B, H) (a previous state: o * tanh(c), in (-1, 1)), c (B, H) (a cell state of a few units),
    W (D, 4H), U (H, 4H), b (4H,): pre-activations of about 2 units, some beyond +-5 (where sigmoid and tanh differ
    clearly), and an h @ U term of about the size of the x_t @ W one."""
    import numpy as np

    h = _sigmoid(rng.normal(0.0, 1.0, (B, H))) * np.tanh(rng.normal(0.0, 1.5, (B, H)))
    return (rng.normal(0.0, 1.0, (B, D)), h, rng.normal(0.0, 1.5, (B, H)),
            rng.normal(0.0, 1.6 / math.sqrt(D), (D, 4 * H)), rng.normal(0.0, 3.5 / math.sqrt(H), (H, 4 * H)),
            rng.normal(0.0, 1.0, 4 * H))


def _lstm_cases() -> list[tuple[str, tuple[Any, ...]]]:
    """Three settings with B, D, H and 4H all distinct (no weight is square, so a transposed one, or x_t and h
    swapped between W and U, raise a shape error): float64 arrays, torch.float32 and torch.float64 tensors."""
    import numpy as np
    import torch

    rng = np.random.default_rng(60)
    first, second, third = _lstm_inputs(rng, 6, 5, 7), _lstm_inputs(rng, 9, 11, 4), _lstm_inputs(rng, 3, 10, 6)
    return [
        ("lstm_step(x_t (6, 5), h (6, 7), c (6, 7), W (5, 28), U (7, 28), b (28,): float64 arrays)", first),
        ("lstm_step(x_t (9, 11), h (9, 4), c (9, 4), W (11, 16), U (4, 16), b (16,): torch.float32 tensors)",
         tuple(torch.tensor(a, dtype=torch.float32) for a in second)),
        ("lstm_step(x_t (3, 10), h (3, 6), c (3, 6), W (10, 24), U (6, 24), b (24,): torch.float64 tensors)",
         tuple(torch.tensor(a, dtype=torch.float64) for a in third)),
    ]


_LSTM_LAYOUT = ("x_t is (B, D), h and c (B, H), W (D, 4H), U (H, 4H), b (4H,): z = x_t @ W + h @ U + b is (B, 4H), "
                "and the four gates are its column blocks, z[:, 0:H], z[:, H:2H], z[:, 2H:3H], z[:, 3H:4H] (split "
                "along axis 1 / dim=1). The inputs are numpy arrays or torch tensors (np.tanh or torch.tanh to "
                "match; in numpy the sigmoid is 1 / (1 + np.exp(-z))).")


def _lstm_shape_hint(D: int, H: int) -> Callable[[Exception], str]:
    """The hint for an exception of the learner's lstm_step on inputs of sizes D and H: a matrix product that
    doesn't fit is told which operand was wrong."""

    def hint(err: Exception) -> str:
        sizes = _matmul_sizes(err)
        if sizes == (D, 4 * H) or sizes == (H, 4 * H):
            name, shape = ("W", f"(D, 4H) = ({D}, {4 * H})") if sizes[0] == D else ("U", f"(H, 4H) = ({H}, {4 * H})")
            return (f"{name} is {shape}, laid out for x @ W: {'x_t @ W' if name == 'W' else 'h @ U'} as it is, no "
                    "transpose (torch.nn.LSTMCell stores its weights the other way, (4H, D) and (4H, H), and "
                    "computes x @ weight_ih.T).")
        if sizes in ((D, H), (H, D)):
            return f"x_t (B, {D}) goes with W ({D}, {4 * H}), h (B, {H}) with U ({H}, {4 * H}): x_t @ W + h @ U + b."
        if sizes is not None:
            return f"a matrix product whose shapes don't fit: {_LSTM_LAYOUT}"
        return f"{_LSTM_LAYOUT} Otherwise run your function on this input yourself and read the traceback above."

    return hint


def _pair_hint(got: Any, expected: tuple[Any, Any], B: int, H: int) -> str:
    """Why ``got`` is not a pair (h_new, c_new) of (B, H) arrays: h_new or c_new alone, the two stacked, or else."""
    import numpy as np

    same = _close(CELL_RTOL, CELL_ATOL)
    values = _floats(got)
    if values is not None and values.shape == (B, H) and same(values, expected[0]):
        return ("that is h_new alone: return the pair (h_new, c_new). The cell state c_new is the LSTM's second "
                "state, carried to the next step with h_new.")
    if values is not None and values.shape == (B, H) and same(values, expected[1]):
        return "that is c_new alone: return the pair (h_new, c_new), the new hidden state first."
    if values is not None and values.shape == (2, B, H) and not isinstance(got, (tuple, list)):
        return "return a tuple of two arrays, (h_new, c_new), not the two stacked into one array."
    if isinstance(got, (tuple, list)):
        return (f"return exactly two things, (h_new, c_new), each (B, H) = ({B}, {H}); this is a {type(got).__name__} "
                f"of {len(got)}.")
    return f"return the pair (h_new, c_new), e.g. `return h_new, c_new` (this is {_kind(got)})." + (
        "" if values is None else f" Its shape is {np.shape(values)}.")


@checker
def ch06_lstm_step(lstm_step: Callable[..., Any]) -> None:
    """Exercise 06.1: ``lstm_step(x_t, h, c, W, U, b)`` = ``(h_new, c_new)``, one step of the LSTM: z = x_t @ W +
    h @ U + b, i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of its four column blocks (PyTorch's order), c_new =
    f * c + i * g, h_new = o * tanh(c_new).

    x_t (B, D), h and c (B, H), W (D, 4H), U (H, 4H), b (4H,): laid out for x @ W (torch.nn.LSTMCell stores the
    transposes). The reference is torch.nn.LSTMCell in float64 with weight_ih = W.T, weight_hh = U.T, bias_ih = b,
    bias_hh = 0. Three settings, B, D, H and 4H all distinct (a transposed weight raises): 6, 5, 7 as float64 numpy
    arrays, 9, 11, 4 as torch.float32 tensors, 3, 10, 6 as torch.float64 tensors; pre-activations of about 2
    units, some beyond 5. The answer is a tuple (or list) of two (B, H) arrays or tensors (float32 is fine: rtol
    1e-4, atol 1e-5); the inputs must be left as they were. A shape error is told which operand was wrong; the
    hint names the mistake: the forget or input gate left out, h where c belongs, no output gate, no tanh (or a
    sigmoid) on the output, the old c in h_new, a sigmoid on the candidate, tanh on a gate, the gates read in
    another order (named: i and f swapped, TensorFlow's i, j, f, o, ONNX's i, o, f, c, ...), (c_new, h_new)
    returned, h_new or c_new alone, h @ U or b left out.
    """
    import numpy as np

    ex = "06.1 (lstm_step)"
    cases = _lstm_cases()
    same = _close(CELL_RTOL, CELL_ATOL)
    probe_rng = np.random.default_rng(61)
    probes = [_lstm_inputs(probe_rng, 5, 3, 8), _lstm_inputs(probe_rng, 4, 9, 5)]
    names = ["x_t", "h", "c", "W", "U", "b"]
    for i, (what, args) in enumerate(cases):
        given = tuple(_copy(a) for a in args)
        D, H = args[0].shape[1], args[1].shape[1]
        with _quiet_numerics():
            got = call(ex, lstm_step, *given, hint=_lstm_shape_hint(D, H))
        changed = [name for name, g, a in zip(names, given, args) if not _unchanged(g, a)]
        if changed:
            fail(ex, f"{what} changed {', '.join(changed)}", Description("the inputs as given"),
                 Description(f"changed {', '.join(changed)}"), _changed_hint(changed, "f * c + i * g", _WRITES))
        expected = _lstm_reference(*args)
        B = expected[0].shape[0]
        parts = [_floats(p) for p in got] if isinstance(got, (tuple, list)) and len(got) == 2 else None
        if parts is None:
            fail(ex, f"{what} should return the pair (h_new, c_new)",
                 Description(f"a tuple (h_new, c_new) of two ({B}, {H}) arrays"), Description(_kind(got)),
                 _pair_hint(got, expected, B, H))
        for name, part, value in zip(("h_new", "c_new"), got, parts):
            if value is None or value.shape != (B, H):
                fail(ex, f"{what}: {name} should have shape (B, H) = ({B}, {H})", Description(f"shape ({B}, {H})"),
                     Description(f"shape {value.shape}") if value is not None else part,
                     f"{name} holds one row of H numbers per row of x_t, like {name[0]}"
                     + (f" (this is {_kind(part)})." if value is None else "."))
        if all(np.allclose(v, e, rtol=CELL_RTOL, atol=CELL_ATOL) for v, e in zip(parts, expected)):
            continue
        others = [other for j, (_, o) in enumerate(cases) if j != i
                  for other in (tuple(_copy(a) for a in o), tuple(_f64(a) for a in o))] + probes
        mistake = _match_mistake(got, tuple(_f64(a) for a in args), lstm_step, others, _LSTM_MISTAKES, same,
                                 confirm=True)
        if mistake is not None and mistake.startswith("order "):
            hint = _order_hint(mistake.removeprefix("order "))
        else:
            hint = _LSTM_HINTS.get(mistake or "", "z = x_t @ W + h @ U + b; i, f, o = sigmoid of z[:, 0:H], "
                                                  "z[:, H:2H], z[:, 3H:4H]; g = tanh(z[:, 2H:3H]); c_new = f * c + "
                                                  "i * g; h_new = o * tanh(c_new); return (h_new, c_new).")
        for name, value, want in zip(("h_new", "c_new"), parts, expected):
            if mistake is None and (decimals := _rounded(value, want)) is not None:
                hint = f"don't round: this is {name} rounded to {decimals} decimals."
            expect_close(ex, f"{what}: {name}", value, want, hint, rtol=CELL_RTOL, atol=CELL_ATOL)
    passed(ex, "(h_new, c_new) match torch.nn.LSTMCell with the weights copied in, gates in the order i, f, g, o")


# --- 06.2 one step of the GRU, in PyTorch's layout ------------------------------------------------------------------


def _gru(x: Any, h: Any, W_ih: Any, W_hh: Any, b_ih: Any, b_hh: Any, order: str = "rzn", tanh_on: str = "n",
         reset: str = "torch", mix: str = "torch", transpose_hh: bool = True, use_b_ih: bool = True,
         use_b_hh: bool = True) -> Any:
    """One GRU step in float64 as torch.nn.GRUCell computes it, or one of the typical mistakes: ``order`` says which
    gate the learner takes each of the three row blocks of the weights for (PyTorch's: "rzn"), ``tanh_on`` which go
    through tanh (the rest through the sigmoid), ``reset`` where r is applied ("torch": r * (W_hn h + b_hn);
    "outside": r * (W_hn h) + b_hn; "cho": W_hn (r * h) + b_hn; "none"), ``mix`` the update ("torch":
    (1 - z) * n + z * h; "swapped": z * n + (1 - z) * h; "n": n alone), ``transpose_hh`` whether the (H, H) blocks
    of W_hh are transposed (h @ W_hr.T, as they should be) or not."""
    x, h, W_ih, W_hh, b_ih, b_hh = (_f64(a) for a in (x, h, W_ih, W_hh, b_ih, b_hh))
    H = h.shape[1]
    b_ih, b_hh = b_ih * use_b_ih, b_hh * use_b_hh
    rows = {name: slice(k * H, (k + 1) * H) for k, name in enumerate(order)}

    def times_hh(name: str, v: Any) -> Any:
        block = W_hh[rows[name]]
        return v @ (block.T if transpose_hh else block)

    act = {name: (_tanh if name in tanh_on else _sigmoid) for name in "rzn"}
    r = act["r"](x @ W_ih[rows["r"]].T + b_ih[rows["r"]] + times_hh("r", h) + b_hh[rows["r"]])
    z = act["z"](x @ W_ih[rows["z"]].T + b_ih[rows["z"]] + times_hh("z", h) + b_hh[rows["z"]])
    hn, bn = times_hh("n", h), b_hh[rows["n"]]
    recurrent = {"torch": r * (hn + bn), "outside": r * hn + bn, "cho": times_hh("n", r * h) + bn,
                 "none": hn + bn}[reset]
    n = act["n"](x @ W_ih[rows["n"]].T + b_ih[rows["n"]] + recurrent)
    return {"torch": (1 - z) * n + z * h, "swapped": z * n + (1 - z) * h, "n": n}[mix]


def _gru_reference(x: Any, h: Any, W_ih: Any, W_hh: Any, b_ih: Any, b_hh: Any) -> Any:
    """torch.nn.GRUCell in float64 with exactly these weights (its own layout)."""
    import torch

    x, h, W_ih, W_hh, b_ih, b_hh = (torch.tensor(_f64(a)) for a in (x, h, W_ih, W_hh, b_ih, b_hh))
    with torch.random.fork_rng(devices=[]):  # its random initial weights are overwritten: draw them off the record
        cell = torch.nn.GRUCell(W_ih.shape[1], h.shape[1], dtype=torch.float64)
    with torch.no_grad():
        for param, value in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), (W_ih, W_hh, b_ih, b_hh)):
            param.copy_(value)
        return cell(x, h).numpy()


_GRU_MISTAKES: dict[str, Callable[..., Any]] = {
    "z swapped": lambda *a: _gru(*a, mix="swapped"),
    "r outside": lambda *a: _gru(*a, reset="outside"),
    "cho": lambda *a: _gru(*a, reset="cho"),
    "no r": lambda *a: _gru(*a, reset="none"),
    "acts swapped": lambda *a: _gru(*a, tanh_on="rz"),
    "sigmoid n": lambda *a: _gru(*a, tanh_on=""),
    "tanh r": lambda *a: _gru(*a, tanh_on="nr"),
    "tanh z": lambda *a: _gru(*a, tanh_on="nz"),
    "W_hh untransposed": lambda *a: _gru(*a, transpose_hh=False),
    "n only": lambda *a: _gru(*a, mix="n"),
    "no b_hh": lambda *a: _gru(*a, use_b_hh=False),
    "no b_ih": lambda *a: _gru(*a, use_b_ih=False),
    **{f"order {''.join(p)}": (lambda order: lambda *a: _gru(*a, order=order))(''.join(p))
       for p in permutations("rzn") if ''.join(p) != "rzn"},
}

_GRU_HINTS = {
    "z swapped": "PyTorch keeps z of the old state: h_new = (1 - z) * n + z * h. Yours is z * n + (1 - z) * h, "
                 "the other convention found in some texts (the same model with z read as 1 - z), not torch's "
                 "numbers.",
    "r outside": "r multiplies W_hn h + b_hn, bias included, as torch does: n = tanh(W_in x + b_in + r * (W_hn h + "
                 "b_hn)). Yours applies r to W_hn h alone and adds b_hn outside.",
    "cho": "you reset h before the product, W_hn (r * h): that is Cho et al. (2014)'s original GRU (Keras's "
           "reset_after=False), a valid variant, but not PyTorch's. torch.nn.GRUCell applies r after the product, "
           "to the bias too: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).",
    "no r": "apply the reset gate to the candidate's recurrent term: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).",
    "acts swapped": "the gates r and z go through the sigmoid (in (0, 1)), the candidate n through tanh (in (-1, 1)); "
                    "yours are the other way round.",
    "sigmoid n": "the candidate n goes through tanh, in (-1, 1), like the state it replaces: n = tanh(...). Only the "
                 "gates r and z go through the sigmoid.",
    "tanh r": "the reset gate r is a sigmoid, in (0, 1): r = sigmoid(W_ir x + b_ir + W_hr h + b_hr).",
    "tanh z": "the update gate z is a sigmoid, in (0, 1): z = sigmoid(W_iz x + b_iz + W_hz h + b_hz).",
    "W_hh untransposed": "PyTorch's layout: W_hh @ h, i.e. h @ W_hh.T. Each (H, H) block of W_hh (W_hr, W_hz, W_hn, "
                         "rows 0:H, H:2H, 2H:3H) is square, so h @ W_hr fits without the transpose but gives other "
                         "numbers: h @ W_hr.T.",
    "n only": "mix the candidate with the old state: h_new = (1 - z) * n + z * h. Yours returns n alone.",
    "no b_hh": "add both biases: PyTorch's GRU has two, b_ih with W_ih x and b_hh with W_hh h (b_hn inside "
               "r * (W_hn h + b_hn)).",
    "no b_ih": "add both biases: PyTorch's GRU has two, b_ih with W_ih x and b_hh with W_hh h.",
}

_GRU_ORDER_SOURCES = {"zrn": " (r and z swapped; Keras's order is z, r, h)"}


def _gru_order_hint(order: str) -> str:
    return ("the 3H rows of W_ih, W_hh, b_ih and b_hh hold the gates in PyTorch's order r, z, n: rows 0:H the reset "
            "gate r, H:2H the update gate z, 2H:3H the candidate n. Yours read them as "
            f"{', '.join(order)}{_GRU_ORDER_SOURCES.get(order, '')}.")


def _gru_inputs(rng: Any, B: int, D: int, H: int) -> tuple[Any, ...]:
    """x_t (B, D), h (B, H) in (-1, 1), W_ih (3H, D), W_hh (3H, H), b_ih and b_hh (3H,): pre-activations of about
    2 units, with biases of about 1 (so that where r is applied to b_hn shows)."""
    import numpy as np

    return (rng.normal(0.0, 1.0, (B, D)), np.tanh(rng.normal(0.0, 1.2, (B, H))),
            rng.normal(0.0, 1.5 / math.sqrt(D), (3 * H, D)), rng.normal(0.0, 1.8 / math.sqrt(H), (3 * H, H)),
            rng.normal(0.0, 0.8, 3 * H), rng.normal(0.0, 1.0, 3 * H))


def _gru_cases() -> list[tuple[str, tuple[Any, ...]]]:
    """Three settings with B, D, H and 3H all distinct (x @ W_ih, h @ W_hh untransposed raise a shape error):
    float64 arrays, torch.float32 and torch.float64 tensors."""
    import numpy as np
    import torch

    rng = np.random.default_rng(62)
    first, second, third = _gru_inputs(rng, 6, 5, 7), _gru_inputs(rng, 4, 9, 11), _gru_inputs(rng, 10, 3, 8)
    return [
        ("gru_step(x_t (6, 5), h (6, 7), W_ih (21, 5), W_hh (21, 7), b_ih (21,), b_hh (21,): float64 arrays)", first),
        ("gru_step(x_t (4, 9), h (4, 11), W_ih (33, 9), W_hh (33, 11), b_ih (33,), b_hh (33,): torch.float32 "
         "tensors)", tuple(torch.tensor(a, dtype=torch.float32) for a in second)),
        ("gru_step(x_t (10, 3), h (10, 8), W_ih (24, 3), W_hh (24, 8), b_ih (24,), b_hh (24,): torch.float64 "
         "tensors)", tuple(torch.tensor(a, dtype=torch.float64) for a in third)),
    ]


_GRU_LAYOUT = ("x_t is (B, D), h (B, H), W_ih (3H, D), W_hh (3H, H), b_ih and b_hh (3H,), as torch.nn.GRUCell "
               "stores them: W_ih @ x, i.e. x_t @ W_ih.T + b_ih is (B, 3H), and its column blocks 0:H, H:2H, 2H:3H "
               "belong to r, z, n (likewise h @ W_hh.T + b_hh). The inputs are numpy arrays or torch tensors.")


def _gru_shape_hint(D: int, H: int) -> Callable[[Exception], str]:
    def hint(err: Exception) -> str:
        sizes = _matmul_sizes(err)
        if sizes in ((D, 3 * H), (H, 3 * H), (D, H)):
            name, vector, shape = ("W_hh", "h", f"({3 * H}, {H})") if sizes == (H, 3 * H) else (
                "W_ih", "x_t", f"({3 * H}, {D})")
            return (f"PyTorch's layout: {name} @ x, i.e. {vector} @ {name}.T. {name} is {shape} (3H rows, as "
                    "torch.nn.GRUCell stores it), and each of its blocks of H rows wants the transpose too.")
        if sizes == (H, D):
            return f"x_t (B, {D}) goes with W_ih, h (B, {H}) with W_hh: x_t @ W_ih.T + b_ih, h @ W_hh.T + b_hh."
        if sizes is not None:
            return f"a matrix product whose shapes don't fit: {_GRU_LAYOUT}"
        return f"{_GRU_LAYOUT} Otherwise run your function on this input yourself and read the traceback above."

    return hint


@checker
def ch06_gru_step(gru_step: Callable[..., Any]) -> None:
    """Exercise 06.2: ``gru_step(x_t, h, W_ih, W_hh, b_ih, b_hh)`` = h_new, one step of PyTorch's GRU:
    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h_new = (1 - z) * n + z * h.

    The weights are in PyTorch's layout, as torch.nn.GRUCell stores them: W_ih (3H, D), W_hh (3H, H), b_ih and b_hh
    (3H,), the row blocks in the order r, z, n. The reference is torch.nn.GRUCell in float64 with exactly these
    weights. Three settings, B, D, H and 3H all distinct: 6, 5, 7 as float64 numpy arrays, 4, 9, 11 as
    torch.float32 tensors, 10, 3, 8 as torch.float64 tensors. The answer is a (B, H) array or tensor (float32 is
    fine: rtol 1e-4, atol 1e-5); the inputs must be left as they were. A shape error from an untransposed weight is
    told PyTorch's layout; the hint names the mistake: z and 1 - z swapped, r applied outside b_hn, Cho et al.'s
    W_hn (r * h) (a valid variant, not torch's), no reset, the gates read in another order (r and z swapped, ...),
    tanh and sigmoid swapped (or either on the wrong part), the square blocks of W_hh untransposed, n returned
    unmixed, a bias vector left out.
    """
    import numpy as np

    ex = "06.2 (gru_step)"
    cases = _gru_cases()
    same = _close(CELL_RTOL, CELL_ATOL)
    probe_rng = np.random.default_rng(63)
    probes = [_gru_inputs(probe_rng, 5, 4, 9), _gru_inputs(probe_rng, 3, 7, 5)]
    names = ["x_t", "h", "W_ih", "W_hh", "b_ih", "b_hh"]
    for i, (what, args) in enumerate(cases):
        given = tuple(_copy(a) for a in args)
        D, H = args[0].shape[1], args[1].shape[1]
        with _quiet_numerics():
            got = call(ex, gru_step, *given, hint=_gru_shape_hint(D, H))
        changed = [name for name, g, a in zip(names, given, args) if not _unchanged(g, a)]
        if changed:
            fail(ex, f"{what} changed {', '.join(changed)}", Description("the inputs as given"),
                 Description(f"changed {', '.join(changed)}"), _changed_hint(changed, "(1 - z) * n + z * h", _WRITES))
        expected = _gru_reference(*args)
        B = expected.shape[0]
        values = _floats(got)
        if values is None or values.shape != (B, H):
            fail(ex, f"{what} should return the new hidden state, shape (B, H) = ({B}, {H})",
                 Description(f"shape ({B}, {H})"), Description(f"shape {values.shape}") if values is not None else got,
                 "return h_new alone, one row of H numbers per row of x_t: (1 - z) * n + z * h is (B, H)"
                 + (f" (this is {_kind(got)})." if values is None else "."))
        if np.allclose(values, expected, rtol=CELL_RTOL, atol=CELL_ATOL):
            continue
        others = [other for j, (_, o) in enumerate(cases) if j != i
                  for other in (tuple(_copy(a) for a in o), tuple(_f64(a) for a in o))] + probes
        mistake = _match_mistake(got, tuple(_f64(a) for a in args), gru_step, others, _GRU_MISTAKES, same,
                                 confirm=True)
        if mistake is not None and mistake.startswith("order "):
            hint = _gru_order_hint(mistake.removeprefix("order "))
        else:
            hint = _GRU_HINTS.get(mistake or "", "r = sigmoid(x W_ir.T + b_ir + h W_hr.T + b_hr), z likewise with "
                                                 "the rows H:2H, n = tanh(x W_in.T + b_in + r * (h W_hn.T + b_hn)), "
                                                 "h_new = (1 - z) * n + z * h.")
        if mistake is None and (decimals := _rounded(values, expected)) is not None:
            hint = f"don't round: this is the new state rounded to {decimals} decimals."
        expect_close(ex, what, values, expected, hint, rtol=CELL_RTOL, atol=CELL_ATOL)
    passed(ex, "h_new matches torch.nn.GRUCell: r * (W_hn h + b_hn) inside the tanh, (1 - z) * n + z * h")


# --- 06.3 the forget gate's bias ---------------------------------------------------------------------------------

_SLICE_GATES = ("the input gate i", "the forget gate f", "the candidate g", "the output gate o")

#: The tolerance of exercise 06.3 on the forget gate's total bias (float32 parameters; value - b_hh in float32 is
#: within a few 1e-8 of it).
FORGET_ATOL = 1e-6


def _set_forget_hint(err: Exception) -> str:
    text = str(err)
    if "leaf Variable that requires grad" in text:
        return ("wrap the assignment in torch.no_grad(): a parameter requires grad, and autograd refuses to write "
                "into it in place while it is recording. with torch.no_grad(): lstm.bias_ih_l0[H:2H] = value (or "
                ".fill_(value)), and likewise for every layer.")
    if "cannot assign" in text:
        return ("don't replace a parameter by a plain tensor (lstm.bias_ih_l0 = torch.tensor(...)): change its values "
                "in place, with torch.no_grad(): lstm.bias_ih_l0[H:2H] = value.")
    return ("lstm is a torch.nn.LSTM; its biases are lstm.bias_ih_l{k} and lstm.bias_hh_l{k} for k in "
            "range(lstm.num_layers), each (4H,) with H = lstm.hidden_size. Otherwise run your function on this input "
            "yourself and read the traceback above.")


def _forget_cases() -> list[tuple[str, dict[str, Any], float]]:
    return [
        ("set_forget_bias(torch.nn.LSTM(8, 16, num_layers=2), 1.0)",
         {"input_size": 8, "hidden_size": 16, "num_layers": 2}, 1.0),
        ("set_forget_bias(torch.nn.LSTM(5, 12, num_layers=1, batch_first=True), 2.5)",
         {"input_size": 5, "hidden_size": 12, "num_layers": 1, "batch_first": True}, 2.5),
    ]


def _forget_totals(module: Any, layers: int, H: int) -> list[Any]:
    """bias_ih_l{k}[H:2H] + bias_hh_l{k}[H:2H] of each layer k, float64 numpy arrays."""
    return [_f64(getattr(module, f"bias_ih_l{k}"))[H:2 * H] + _f64(getattr(module, f"bias_hh_l{k}"))[H:2 * H]
            for k in range(layers)]


def _bias_changes(before: dict[str, Any], module: Any, layers: int, H: int) -> dict[str, list[int]]:
    """Which of the four H-slices (gates i, f, g, o) of each bias vector changed: {"bias_ih_l0": [1], ...}."""
    import numpy as np

    changes = {}
    for k in range(layers):
        for kind in ("ih", "hh"):
            name = f"bias_{kind}_l{k}"
            old, new = _f64(before[name]), _f64(getattr(module, name))
            changes[name] = [q for q in range(4) if not np.array_equal(old[q * H:(q + 1) * H], new[q * H:(q + 1) * H])]
    return changes


def _forget_hint(before: dict[str, Any], module: Any, layers: int, H: int, value: float) -> str:
    """The hint for an LSTM whose forget biases don't total ``value``: which slice, layer or vector went wrong."""
    import numpy as np

    changes = _bias_changes(before, module, layers, H)
    totals = _forget_totals(module, layers, H)
    good = [bool(np.allclose(t, value, rtol=0, atol=FORGET_ATOL)) for t in totals]
    untouched = [not changes[f"bias_ih_l{k}"] and not changes[f"bias_hh_l{k}"] for k in range(layers)]
    if not any(changes.values()):
        return ("the LSTM's biases did not change: change the module's own parameters, in place (with "
                "torch.no_grad(): lstm.bias_ih_l0[H:2H] = value ...). A copy (p.detach().clone(), p.clone(), "
                "torch.tensor(p), copy.deepcopy(lstm)) changes nothing in the module given.")
    if any(good) and all(g or u for g, u in zip(good, untouched)):
        done = [k for k in range(layers) if good[k]]
        return (f"only layer{'s' if len(done) > 1 else ''} {', '.join(map(str, done))} changed: every layer has its "
                f"own biases, bias_ih_l0 ... bias_ih_l{layers - 1} (and bias_hh_l...): loop over "
                "range(lstm.num_layers).")
    if all(np.allclose(t, 2 * value, rtol=0, atol=FORGET_ATOL) for t in totals):
        return ("both bias vectors are set to value, so the gate's total bias is 2 * value: PyTorch adds the two, "
                "b_ih + b_hh. Set bias_ih's forget slice to value and bias_hh's to 0.")
    for kind, other in (("ih", "hh"), ("hh", "ih")):
        set_one = all(np.allclose(_f64(getattr(module, f"bias_{kind}_l{k}"))[H:2 * H], value, rtol=0,
                                  atol=FORGET_ATOL) and 1 not in changes[f"bias_{other}_l{k}"] for k in range(layers))
        if set_one:
            return (f"PyTorch has two bias vectors per layer, and the forget gate's total bias is their sum, "
                    f"bias_ih[H:2H] + bias_hh[H:2H]: you set bias_{kind}'s slice to value but left bias_{other}'s "
                    f"(random) as it was. Set bias_{other}'s forget slice to 0 too.")
    wrong = sorted({q for name, qs in changes.items() for q in qs if q != 1})
    if wrong and all(1 not in qs for qs in changes.values()):
        slices = ", ".join(f"{q * H}:{(q + 1) * H} ({_SLICE_GATES[q]})" for q in wrong)
        return (f"wrong slice: you changed {slices}. The forget gate is the second block of H, H:2H = {H}:{2 * H} "
                "(PyTorch's order i, f, g, o).")
    return (f"the forget gate's total bias in layer k is bias_ih_l{{k}}[H:2H] + bias_hh_l{{k}}[H:2H] (H = {H}): set it "
            "to value in every layer, e.g. bias_ih's slice to value and bias_hh's to 0.")


def _extra_hint(before: dict[str, Any], module: Any, layers: int, H: int, value: float) -> str | None:
    """Where the forget biases are right: the other entries that changed too, named; None if none did."""
    import numpy as np

    changes = _bias_changes(before, module, layers, H)
    extra = {name: [q for q in qs if q != 1] for name, qs in changes.items()}
    extra = {name: qs for name, qs in extra.items() if qs}
    if not extra:
        return None
    whole = [name for name, qs in extra.items() if len(qs) == 3]
    if whole:
        new = _f64(getattr(module, whole[0]))
        what = f"the whole of {whole[0]} is {new[0]:g}" if np.all(new == new[0]) else f"all of {whole[0]} changed"
        return (f"set only the forget gate's slice H:2H = {H}:{2 * H}, not the whole bias vector ({what}): the other "
                "gates' biases stay as they were.")
    slices = "; ".join(f"{name}[{q * H}:{(q + 1) * H}] ({_SLICE_GATES[q]})" for name, qs in extra.items() for q in qs)
    return (f"the forget biases are right, but you also changed {slices}: only the forget gate's slice H:2H = "
            f"{H}:{2 * H} should change.")


@checker
def ch06_set_forget_bias(set_forget_bias: Callable[[Any, float], Any]) -> None:
    """Exercise 06.3: ``set_forget_bias(lstm, value)`` sets, in place, the forget gate's bias of every layer of the
    torch.nn.LSTM ``lstm`` so that bias_ih_l{k}[H:2H] + bias_hh_l{k}[H:2H] = value (PyTorch adds its two bias
    vectors), leaving every other parameter and entry unchanged; it returns the module or None.

    Two modules of the checker's own (seeded): torch.nn.LSTM(8, 16, num_layers=2) with value 1.0, and
    torch.nn.LSTM(5, 12, num_layers=1, batch_first=True) with value 2.5. Any split of the value between the two
    vectors passes (atol 1e-6). The parameters must be the same Parameter objects afterwards (an optimizer made
    before holds them), still requiring grad. The hint names the mistake: the RuntimeError of writing into a
    parameter without torch.no_grad(), a plain tensor assigned to a parameter, a parameter replaced or no longer
    requiring grad, a new module (or a copy) returned, the wrong slice (named: 0:H the input gate, 2H:3H the
    candidate, 3H:4H the output gate), only the first layer, both vectors set to value (2 * value in total), one
    set and the other left random, the whole bias vector set, a weight changed, nothing changed at all.
    """
    import torch
    from torch import nn

    ex = "06.3 (set_forget_bias)"
    for i, (what, sizes, value) in enumerate(_forget_cases()):
        torch.manual_seed(60 + i)
        lstm = nn.LSTM(**sizes)
        H, layers = lstm.hidden_size, lstm.num_layers
        params = dict(lstm.named_parameters())
        before = {name: p.detach().clone() for name, p in params.items()}
        got = call(ex, set_forget_bias, lstm, value, hint=_set_forget_hint)
        if got is not None and got is not lstm:
            if isinstance(got, nn.Module):
                fresh = any(not torch.equal(p.detach(), before[name]) for name, p in got.named_parameters()
                            if "weight" in name and name in before)
                hint = (("you returned a new LSTM, with fresh random weights: " if fresh else
                         "you returned a copy of the LSTM: ") + "change the one given, in place (it is the caller's "
                        "module, perhaps already trained or handed to an optimizer); return it, or nothing.")
            else:
                hint = f"change the LSTM in place and return it (or nothing, None); this is {_kind(got)}."
            fail(ex, f"{what} should change the module given, in place", Description("None, or the same LSTM"),
                 Description(f"a new {type(got).__name__}" if isinstance(got, nn.Module) else _kind(got)), hint)
        for name, param in params.items():
            now = getattr(lstm, name, None)
            if now is not param:
                kind = "a plain tensor" if isinstance(now, torch.Tensor) and not isinstance(now, nn.Parameter) else \
                    "a new Parameter" if isinstance(now, nn.Parameter) else _kind(now)
                fail(ex, f"{what} replaced the parameter {name}", Description(f"the same nn.Parameter {name}"),
                     Description(kind),
                     "change the values of the existing parameter, in place (with torch.no_grad(): "
                     f"lstm.{name}[H:2H] = ...): an optimizer made before holds the Parameter objects, and a new "
                     "one would not be trained.")
            if not param.requires_grad:
                fail(ex, f"{what}: {name} no longer requires grad", Description("requires_grad=True"),
                     Description("requires_grad=False"),
                     "leave requires_grad as it was: torch.no_grad() around the assignment is enough, and a parameter "
                     "that does not require grad is no longer trained.")
        for name, param in params.items():
            if "weight" in name and not torch.equal(param.detach(), before[name]):
                fail(ex, f"{what} changed the weight {name}", Description(f"{name} as it was"),
                     Description(f"changed {name}"), "leave the weights as they were: only the forget gate's biases, "
                                                     "the slice H:2H of bias_ih_l{k} and bias_hh_l{k}, change.")
        totals = _forget_totals(lstm, layers, H)
        for k, total in enumerate(totals):
            if (abs(total - value) > FORGET_ATOL).any():
                fail(ex, f"{what}: the forget gate's total bias in layer {k}, bias_ih_l{k}[{H}:{2 * H}] + "
                         f"bias_hh_l{k}[{H}:{2 * H}]", Description(f"{value} in every entry"),
                     [round(float(t), 4) for t in total[:6]] + (["..."] if H > 6 else []),
                     _forget_hint(before, lstm, layers, H, value))
        extra = _extra_hint(before, lstm, layers, H, value)
        if extra is not None:
            fail(ex, f"{what} changed other biases too", Description("only the forget slices H:2H changed"),
                 Description("other slices changed too"), extra)
    passed(ex, "every layer's forget gate starts at the total bias asked (1.0, 2.5), everything else unchanged, "
               "in place")
