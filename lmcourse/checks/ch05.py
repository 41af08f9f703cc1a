"""Checkers of chapter 05 (recurrent networks and backpropagation through time): exercises 05.1-05.3.

The weights are laid out for ``x @ W``, as in chapter 04's exercise 04.2: W_xh is (D, H) and W_hh (H, H), and one
step is h_t = tanh(x_t @ W_xh + h_{t-1} @ W_hh + b). (torch.nn.RNN and ``lmcourse.models.rnn_cell`` store their
weights the other way, (H, D) and (H, H), and compute x @ W.T.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
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
    _rounded,
    _to_numpy,
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


def _relu(x: Any) -> Any:
    import numpy as np

    return np.maximum(x, 0.0)


def _tanh(x: Any) -> Any:
    import numpy as np

    return np.tanh(x)


def _step(x: Any, h: Any, W_xh: Any, W_hh: Any, b: Any, act: Callable[[Any], Any] = _tanh) -> Any:
    """One RNN step in float64: act(x @ W_xh + h @ W_hh + b)."""
    return act(_f64(x) @ _f64(W_xh) + _f64(h) @ _f64(W_hh) + _f64(b))


def _weights(rng: Any, B: int, D: int, H: int) -> tuple[Any, ...]:
    """x_t (B, D), h (B, H) (a previous state: tanh of something), W_xh (D, H), W_hh (H, H), b (H,): pre-activations
    of about unit size, where tanh bends, and an h @ W_hh term as large as the x_t @ W_xh one."""
    import numpy as np

    return (rng.normal(0.0, 1.0, (B, D)), np.tanh(rng.normal(0.0, 1.2, (B, H))),
            rng.normal(0.0, 1.0 / math.sqrt(D), (D, H)), rng.normal(0.0, 1.4 / math.sqrt(H), (H, H)),
            rng.normal(0.0, 0.3, H))


def _shape_hint(D: int, H: int, layout: str) -> Callable[[Exception], str]:
    """The hint for an exception of the learner's code on inputs of sizes D and H: a matrix product of two shapes
    that don't fit is read (numpy's and torch's messages) to tell which operand was wrong; ``layout`` says what the
    inputs are, for anything else."""

    def hint(err: Exception) -> str:
        text = str(err)
        found = re.search(r"\((\d+)x(\d+) and (\d+)x(\d+)\)", text)  # torch: (left rows x left cols and ...)
        if found:
            left, right = int(found[2]), int(found[3])
        elif found := re.search(r"size (\d+) is different from (\d+)", text):  # numpy: right rows, left cols
            left, right = int(found[2]), int(found[1])
        else:
            return f"{layout} Otherwise run your function on this input yourself and read the traceback above."
        if (left, right) == (D, H):
            return (f"x_t is (B, D) = (B, {D}) and W_xh is (D, H) = ({D}, {H}): x_t @ W_xh, as it is. x_t goes with "
                    "W_xh, h with W_hh, and no transposes: the weights are laid out for x @ W (torch.nn.RNN stores "
                    "its weights the other way and computes x @ W.T).")
        if (left, right) == (H, D):
            return (f"h is (B, H) = (B, {H}): it multiplies W_hh ({H}, {H}), h @ W_hh. x_t goes with W_xh, h with "
                    "W_hh.")
        return f"a matrix product whose shapes don't fit: {layout}"

    return hint


_WRITES = ("h += ..., h[:] = ..., h.tanh_() or np.tanh(pre, out=h) write into the caller's (and h = h0 is not a "
           "copy: it is the caller's array under another name).")


# --- 05.1 one step of the RNN --------------------------------------------------------------------------------


_STEP_MISTAKES: dict[str, Callable[..., Any]] = {
    "W_hh.T": lambda x, h, Wx, Wh, b: _step(x, h, Wx, _f64(Wh).T, b),
    "W_xh.T": lambda x, h, Wx, Wh, b: _step(x, h, _f64(Wx).T, Wh, b),
    "both .T": lambda x, h, Wx, Wh, b: _step(x, h, _f64(Wx).T, _f64(Wh).T, b),
    "swapped": lambda x, h, Wx, Wh, b: _step(x, h, Wh, Wx, b),
    "no tanh": lambda *a: _step(*a, act=lambda z: z),
    "sigmoid": lambda *a: _step(*a, act=_sigmoid),
    "relu": lambda *a: _step(*a, act=_relu),
    "no bias": lambda x, h, Wx, Wh, b: _step(x, h, Wx, Wh, 0.0),
    "no h": lambda x, h, Wx, Wh, b: _tanh(_f64(x) @ _f64(Wx) + _f64(b)),
    "no x": lambda x, h, Wx, Wh, b: _tanh(_f64(h) @ _f64(Wh) + _f64(b)),
    "tanh each": lambda x, h, Wx, Wh, b: _tanh(_f64(x) @ _f64(Wx)) + _tanh(_f64(h) @ _f64(Wh)) + _f64(b),
    "tanh each, b inside": lambda x, h, Wx, Wh, b: _tanh(_f64(x) @ _f64(Wx) + _f64(b)) + _tanh(_f64(h) @ _f64(Wh)),
    "tanh each, b with h": lambda x, h, Wx, Wh, b: _tanh(_f64(x) @ _f64(Wx)) + _tanh(_f64(h) @ _f64(Wh) + _f64(b)),
    "h added": lambda x, h, Wx, Wh, b: _step(x, h, Wx, Wh, b) + _f64(h),
}

_TANH_EACH = ("apply tanh once, to the whole sum: tanh(x_t @ W_xh + h @ W_hh + b), not to each term separately "
              "(tanh(x_t @ W_xh) + tanh(h @ W_hh) + b is not a state in [-1, 1], and not the RNN).")

_STEP_HINTS = {
    "W_hh.T": "h @ W_hh, not h @ W_hh.T: the weights are laid out for x @ W (W_hh is square, so the transpose fits "
              "but gives other numbers; torch.nn.RNN stores weight_hh the other way and computes h @ W.T).",
    "W_xh.T": "x_t @ W_xh, not x_t @ W_xh.T: the weights are laid out for x @ W, no transposes.",
    "both .T": "x_t @ W_xh + h @ W_hh, no transposes: the weights are laid out for x @ W (torch.nn.RNN and "
               "F.linear use the other layout, x @ W.T).",
    "swapped": "x_t goes with W_xh, h with W_hh: tanh(x_t @ W_xh + h @ W_hh + b). Yours multiply x_t by W_hh and h "
               "by W_xh (here D = H, so the shapes fit either way).",
    "no tanh": "apply tanh to the sum: h_new = tanh(x_t @ W_xh + h @ W_hh + b). Without it the state is unbounded and "
               "the RNN is linear.",
    "sigmoid": "the RNN's nonlinearity is tanh (np.tanh, torch.tanh), not the sigmoid: the state lies in [-1, 1].",
    "relu": "the RNN's nonlinearity is tanh (np.tanh, torch.tanh), not relu: the state lies in [-1, 1].",
    "no bias": "add the bias: tanh(x_t @ W_xh + h @ W_hh + b).",
    "no h": "add the previous state's term, h @ W_hh: without h the network has no memory (each step would see "
            "only its own input).",
    "no x": "add the input's term, x_t @ W_xh: the new state reads the input at this step as well as the previous "
            "state.",
    "tanh each": _TANH_EACH,
    "tanh each, b inside": _TANH_EACH,
    "tanh each, b with h": _TANH_EACH,
    "h added": "the new state is tanh(x_t @ W_xh + h @ W_hh + b) alone: don't add the previous h to it (that is a "
               "residual connection, not this RNN).",
}


def _step_cases() -> list[tuple[str, tuple[Any, ...]]]:
    """Three settings: D != H in the first and third (a transposed W_xh, or x_t and h swapped, raise a shape error),
    D == H in the second (they fit: the values tell). W_hh is square, so h @ W_hh.T always fits: the values tell."""
    import numpy as np
    import torch

    rng = np.random.default_rng(50)
    first, second, third = _weights(rng, 8, 5, 12), _weights(rng, 6, 10, 10), _weights(rng, 16, 7, 20)
    return [
        ("rnn_step(x_t (8, 5), h (8, 12), W_xh (5, 12), W_hh (12, 12), b (12,): float64 arrays)", first),
        ("rnn_step(x_t (6, 10), h (6, 10), W_xh (10, 10), W_hh (10, 10), b (10,): torch.float32 tensors)",
         tuple(torch.tensor(a, dtype=torch.float32) for a in second)),
        ("rnn_step(x_t (16, 7), h (16, 20), W_xh (7, 20), W_hh (20, 20), b (20,): torch.float64 tensors)",
         tuple(torch.tensor(a, dtype=torch.float64) for a in third)),
    ]


#: The tolerance of exercises 05.1 and 05.2: states in [-1, 1], computed in float32 through sums of 5 to 20 terms
#: (and, in 05.2, through up to 12 steps).
RNN_RTOL, RNN_ATOL = 1e-4, 1e-5

_STEP_LAYOUT = ("x_t is (B, D), h (B, H), W_xh (D, H), W_hh (H, H), b (H,): tanh(x_t @ W_xh + h @ W_hh + b) is "
                "(B, H). The inputs are numpy arrays or torch tensors (np.tanh or torch.tanh to match).")


@checker
def ch05_rnn_step(rnn_step: Callable[..., Any]) -> None:
    """Exercise 05.1: ``rnn_step(x_t, h, W_xh, W_hh, b)`` = tanh(x_t @ W_xh + h @ W_hh + b), the RNN's new hidden
    state, shape (B, H).

    x_t (B, D), h (B, H) the previous state, W_xh (D, H), W_hh (H, H), b (H,): laid out for x @ W, not
    torch.nn.RNN's W x. Three settings: B, D, H = 8, 5, 12 as float64 numpy arrays, 6, 10, 10 as torch.float32
    tensors (D = H: x_t and h swapped between the weights fit), 16, 7, 20 as torch.float64 tensors. The answer is a
    (B, H) array or tensor (float32 is fine: rtol 1e-4, atol 1e-5), or a list of lists; the inputs must be left as
    they were. A shape error is told which operand was wrong; the hint names the mistake: h @ W_hh.T (W_hh is
    square, so it fits), x_t @ W_xh.T, both transposed, x_t and h swapped, no tanh, sigmoid or relu, no bias, the
    h @ W_hh term (memory) or the x_t @ W_xh term left out, tanh applied to each term separately, h added on top.
    """
    import numpy as np

    ex = "05.1 (rnn_step)"
    cases = _step_cases()
    same = _close(RNN_RTOL, RNN_ATOL)
    probe_rng = np.random.default_rng(51)
    probes = [_weights(probe_rng, 7, 9, 9), _weights(probe_rng, 5, 4, 11)]  # D == H, then D != H
    names = ["x_t", "h", "W_xh", "W_hh", "b"]
    for i, (what, args) in enumerate(cases):
        given = tuple(_copy(a) for a in args)
        D, H = args[2].shape
        with _quiet_numerics():
            got = call(ex, rnn_step, *given, hint=_shape_hint(D, H, _STEP_LAYOUT))
        changed = [name for name, g, a in zip(names, given, args) if not _unchanged(g, a)]
        if changed:
            fail(ex, f"{what} changed {', '.join(changed)}", Description("the inputs as given"),
                 Description(f"changed {', '.join(changed)}"),
                 _changed_hint(changed, "x_t @ W_xh + h @ W_hh + b", _WRITES))
        expected = _step(*args)
        B = expected.shape[0]
        values = _floats(got)
        if values is None or values.shape != (B, H):
            fail(ex, f"{what} should return the new hidden state, shape (B, H) = ({B}, {H})",
                 Description(f"shape ({B}, {H})"), Description(f"shape {values.shape}") if values is not None else got,
                 "return one row of H numbers per row of x_t: tanh(x_t @ W_xh + h @ W_hh + b) is (B, H)"
                 + (f" (this is {_kind(got)})." if values is None else "."))
        if np.allclose(values, expected, rtol=RNN_RTOL, atol=RNN_ATOL):
            continue
        others = [other for j, (_, o) in enumerate(cases) if j != i
                  for other in (tuple(_copy(a) for a in o), tuple(_f64(a) for a in o))] + probes
        mistake = _match_mistake(got, tuple(_f64(a) for a in args), rnn_step, others, _STEP_MISTAKES, same,
                                 confirm=True)
        hint = _STEP_HINTS.get(mistake or "", "the new state is tanh(x_t @ W_xh + h @ W_hh + b): the input times "
                                              "W_xh, plus the previous state times W_hh, plus the bias, through one "
                                              "tanh.")
        if mistake is None and (decimals := _rounded(values, expected)) is not None:
            hint = f"don't round: this is the new state rounded to {decimals} decimals."
        expect_close(ex, what, values, expected, hint, rtol=RNN_RTOL, atol=RNN_ATOL)
    passed(ex, "tanh(x_t @ W_xh + h @ W_hh + b), one step of the RNN")


# --- 05.2 the RNN unrolled over a sequence -----------------------------------------------------------------------


def _run(xs: Any, h0: Any, W_xh: Any, W_hh: Any, b: Any, carry: bool = True, reverse: bool = False,
         act: Callable[[Any], Any] = _tanh) -> Any:
    """All T states (B, T, H) in float64, with h_{-1} = h0; or a typical mistake: the state not carried (h0 at every
    step), the sequence read from its end (the states then stored where their input was)."""
    import numpy as np

    xs, h0 = _f64(xs), _f64(h0)
    steps = range(xs.shape[1] - 1, -1, -1) if reverse else range(xs.shape[1])
    hs = np.empty((*xs.shape[:2], h0.shape[1]))
    h = h0
    for t in steps:
        new = _step(xs[:, t], h if carry else h0, W_xh, W_hh, b, act=act)
        hs[:, t] = new
        h = new
    return hs


def _with_h0(h0: Any, hs: Any) -> Any:
    """h0 (B, H) put before the states hs (B, T, H): (B, T + 1, H)."""
    import numpy as np

    return np.concatenate([_f64(h0)[:, None], hs], axis=1)


def _time_major(xs: Any, h0: Any, W_xh: Any, W_hh: Any, b: Any) -> Any:
    """The states of an RNN that reads xs[t] as step t (as if xs were (T, B, D)), stacked on axis 0: (T', B', H).
    Defined only where xs[t] fits h0 (B == T)."""
    import numpy as np

    xs, h = _f64(xs), _f64(h0)
    out = []
    for t in range(xs.shape[1]):
        h = _step(xs[t], h, W_xh, W_hh, b)
        out.append(h)
    return np.stack(out)


_RUN_MISTAKES: dict[str, Callable[..., Any]] = {
    "transposed": lambda *a: _run(*a).transpose(1, 0, 2),
    "xs[t]": lambda *a: _time_major(*a).transpose(1, 0, 2),
    "xs[t], stacked on 0": _time_major,
    "shifted": lambda xs, h0, *w: _with_h0(h0, _run(xs, h0, *w))[:, :-1],
    "no carry": lambda *a: _run(*a, carry=False),
    "backwards": lambda *a: _run(*a, reverse=True),
    "backwards, reversed": lambda *a: _run(*a, reverse=True)[:, ::-1],
    "zeros": lambda xs, h0, *w: _run(xs, 0.0 * _f64(h0), *w),
    "W_hh.T": lambda xs, h0, Wx, Wh, b: _run(xs, h0, Wx, _f64(Wh).T, b),
    "no tanh": lambda *a: _run(*a, act=lambda z: z),
}

_BACKWARDS = ("process the sequence forwards, t = 0, 1, ..., T-1: the state after step t has read xs[:, 0] .. "
              "xs[:, t], so the order matters (yours starts from the end of the sequence).")
_XS_T = ("xs is (B, T, D), batch first: the input at step t is xs[:, t], shape (B, D), every sequence's t-th "
         "vector; xs[t] is sequence t, all its steps. Return hs with hs[:, t] the state after step t, (B, T, H).")

_RUN_HINTS = {
    "transposed": "return shape (B, T, H), batch first like xs: stack the T states along axis 1 "
                  "(np.stack(hs, axis=1), torch.stack(hs, dim=1)); yours are (T, B, H), time first.",
    "xs[t]": _XS_T,
    "xs[t], stacked on 0": _XS_T,
    "shifted": "store the state after each step: hs[:, t] = tanh(xs[:, t] @ W_xh + h @ W_hh + b), the state that "
               "has read xs[:, t]. Yours are shifted by one: h0 first, the last state missing. h0 is the state "
               "before the sequence, not part of the output.",
    "no carry": "carry the state from step to step: h_t = tanh(xs[:, t] @ W_xh + h_{t-1} @ W_hh + b), with h_{t-1} "
                "the state just computed (h = the new state, inside the loop). Yours use h0 at every step, so each "
                "step forgets the ones before it.",
    "backwards": _BACKWARDS,
    "backwards, reversed": _BACKWARDS,
    "zeros": "start from the given h0 (h_{-1} = h0), not from zeros: the caller passes the state to start from "
             "(in truncated BPTT, the last state of the chunk before).",
    "W_hh.T": "h @ W_hh, not h @ W_hh.T: the weights are laid out for x @ W (W_hh is square, so the transpose fits "
              "but gives other numbers).",
    "no tanh": "each step applies tanh: h_t = tanh(xs[:, t] @ W_xh + h_{t-1} @ W_hh + b).",
}


def _run_cases() -> list[tuple[str, tuple[Any, ...]]]:
    """Three settings. The first has B == T, so that reading xs[t] (a sequence) for step t fits and the values tell;
    in the others B, T, T + 1, D and H all differ, so that shapes tell."""
    import numpy as np
    import torch

    rng = np.random.default_rng(52)

    def sequences(B: int, T: int, D: int, H: int) -> tuple[Any, ...]:
        x, h0, W_xh, W_hh, b = _weights(rng, B, D, H)
        return (rng.normal(0.0, 1.0, (B, T, D)), h0, W_xh, W_hh, b)

    first, second, third = sequences(6, 6, 5, 9), sequences(4, 10, 7, 12), sequences(8, 5, 3, 11)
    return [
        ("run_rnn(xs (6, 6, 5), h0 (6, 9), W_xh (5, 9), W_hh (9, 9), b (9,): float64 arrays)", first),
        ("run_rnn(xs (4, 10, 7), h0 (4, 12), W_xh (7, 12), W_hh (12, 12), b (12,): torch.float32 tensors)",
         tuple(torch.tensor(a, dtype=torch.float32) for a in second)),
        ("run_rnn(xs (8, 5, 3), h0 (8, 11), W_xh (3, 11), W_hh (11, 11), b (11,): torch.float64 tensors)",
         tuple(torch.tensor(a, dtype=torch.float64) for a in third)),
    ]


_RUN_LAYOUT = ("xs is (B, T, D), batch first: the input at step t is xs[:, t], shape (B, D) (xs[t] is sequence t). "
               "h0 is (B, H), W_xh (D, H), W_hh (H, H), b (H,); h = tanh(xs[:, t] @ W_xh + h @ W_hh + b) for "
               "t = 0 .. T-1, starting from h = h0.")


def _run_shape_hint(D: int, H: int) -> Callable[[Exception], str]:
    matmul = _shape_hint(D, H, _RUN_LAYOUT)

    def hint(err: Exception) -> str:
        text = str(err)
        if isinstance(err, IndexError) or "broadcast" in text or "must match the size" in text:
            return _RUN_LAYOUT
        return matmul(err)

    return hint


@checker
def ch05_run_rnn(run_rnn: Callable[..., Any]) -> None:
    """Exercise 05.2: ``run_rnn(xs, h0, W_xh, W_hh, b)`` = all T hidden states of the RNN unrolled over a batch of
    sequences, shape (B, T, H): hs[:, t] = tanh(xs[:, t] @ W_xh + h_{t-1} @ W_hh + b), h_{-1} = h0.

    xs (B, T, D) batch first, h0 (B, H), W_xh (D, H), W_hh (H, H), b (H,). Three settings: B, T, D, H = 6, 6, 5, 9
    as float64 numpy arrays (B == T: reading xs[t] fits, the values tell), 4, 10, 7, 12 as torch.float32 tensors,
    8, 5, 3, 11 as torch.float64 tensors. The answer is a (B, T, H) array or tensor (float32 is fine: rtol 1e-4,
    atol 1e-5); the inputs must be left as they were. The hint names the mistake: only the last state returned, h0
    included as the first state ((B, T + 1, H), or shifted by one), the state not carried (h0 at every step), time
    and batch swapped (xs[t] read as step t, or the states returned (T, B, H)), the sequence processed backwards,
    starting from zeros instead of h0, h @ W_hh.T, no tanh.
    """
    import numpy as np

    ex = "05.2 (run_rnn)"
    cases = _run_cases()
    same = _close(RNN_RTOL, RNN_ATOL)
    probe_rng = np.random.default_rng(53)
    probe = _weights(probe_rng, 5, 3, 7)
    probes = [(probe_rng.normal(0.0, 1.0, (5, 5, 3)), *probe[1:])]  # B == T, like the first case
    names = ["xs", "h0", "W_xh", "W_hh", "b"]
    for i, (what, args) in enumerate(cases):
        given = tuple(_copy(a) for a in args)
        D, H = args[2].shape
        with _quiet_numerics():
            got = call(ex, run_rnn, *given, hint=_run_shape_hint(D, H))
        changed = [name for name, g, a in zip(names, given, args) if not _unchanged(g, a)]
        if changed:
            fail(ex, f"{what} changed {', '.join(changed)}", Description("the inputs as given"),
                 Description(f"changed {', '.join(changed)}"),
                 _changed_hint(changed, "x_t @ W_xh + h @ W_hh + b", _WRITES))
        expected = _run(*args)
        B, T, _ = expected.shape
        values = _floats(got)
        if values is None or values.shape != (B, T, H):
            def close(v: Any, e: Any) -> bool:
                return v is not None and v.shape == e.shape and bool(np.allclose(v, e, rtol=RNN_RTOL, atol=RNN_ATOL))

            with_h0 = _with_h0(args[1], expected)
            if close(values, expected[:, -1]):
                hint = ("return all T states, hs[:, t] for t = 0 .. T-1, shape (B, T, H): this is only the last one, "
                        "hs[:, -1] (collect each step's h in a list and stack them on axis 1).")
            elif close(values, with_h0):
                hint = ("return the T states after each step, (B, T, H): leave out h0, the state before the sequence "
                        "(yours start with it, T + 1 states).")
            elif close(values, expected.transpose(1, 0, 2)):
                hint = _RUN_HINTS["transposed"]
            else:
                hint = ("return one state per sequence and step, shape (B, T, H): np.stack(hs, axis=1) "
                        "(torch.stack(hs, dim=1)) of the T states, each (B, H)"
                        + (f" (this is {_kind(got)})." if values is None else "."))
            fail(ex, f"{what} should return all the hidden states, shape (B, T, H) = ({B}, {T}, {H})",
                 Description(f"shape ({B}, {T}, {H})"),
                 Description(f"shape {values.shape}") if values is not None else got, hint)
        if np.allclose(values, expected, rtol=RNN_RTOL, atol=RNN_ATOL):
            continue
        others = [other for j, (_, o) in enumerate(cases) if j != i
                  for other in (tuple(_copy(a) for a in o), tuple(_f64(a) for a in o))] + probes
        mistake = _match_mistake(got, tuple(_f64(a) for a in args), run_rnn, others, _RUN_MISTAKES, same,
                                 confirm=True)
        hint = _RUN_HINTS.get(mistake or "", "start from h = h0; for t = 0 .. T-1, h = tanh(xs[:, t] @ W_xh + "
                                             "h @ W_hh + b) and keep it; return the T states stacked on axis 1, "
                                             "(B, T, H).")
        if mistake is None and (decimals := _rounded(values, expected)) is not None:
            hint = f"don't round: these are the states rounded to {decimals} decimals."
        expect_close(ex, what, values, expected, hint, rtol=RNN_RTOL, atol=RNN_ATOL)
    passed(ex, "the RNN unrolled over T steps, each state carried to the next, all T states (B, T, H)")


# --- 05.3 clipping the gradients by their total norm ---------------------------------------------------------


def _total_norm(grads: list[Any]) -> float:
    import numpy as np

    return float(np.sqrt(sum(float((_f64(g) ** 2).sum()) for g in grads)))


def _scaled(grads: list[Any], factor: float) -> list[Any]:
    return [_f64(g) * factor for g in grads]


def _clip(grads: list[Any], max_norm: float) -> list[Any]:
    """The reference: every gradient times min(1, max_norm / total_norm), in float64."""
    total = _total_norm(grads)
    return _scaled(grads, min(1.0, max_norm / total) if total > 0 else 1.0)


def _norm_of(kind: str, grads: list[Any]) -> float:
    import numpy as np

    arrays = [_f64(g) for g in grads]
    if kind == "sum of norms":
        return float(sum(np.sqrt((a ** 2).sum()) for a in arrays))
    if kind == "mean squares":
        return float(np.sqrt(sum((a ** 2).sum() for a in arrays) / sum(a.size for a in arrays)))
    if kind == "squared":
        return float(sum((a ** 2).sum() for a in arrays))
    if kind == "max norm":
        return float(max(np.sqrt((a ** 2).sum()) for a in arrays))
    if kind == "last only":
        return float(np.sqrt((arrays[-1] ** 2).sum()))
    raise ValueError(kind)


def _clip_by(kind: str) -> Callable[[list[Any], float], list[Any]]:
    return lambda grads, m: _scaled(grads, min(1.0, m / _norm_of(kind, grads)))


_CLIP_MISTAKES: dict[str, Callable[[list[Any], float], list[Any]]] = {
    "per tensor": lambda grads, m: [_clip([g], m)[0] for g in grads],
    "values": lambda grads, m: [_f64(g).clip(-m, m) for g in grads],
    "max": lambda grads, m: _scaled(grads, max(1.0, m / _total_norm(grads))),
    "always": lambda grads, m: _scaled(grads, m / _total_norm(grads)),
    "sum of norms": _clip_by("sum of norms"),
    "mean squares": _clip_by("mean squares"),
    "squared": _clip_by("squared"),
    "max norm": _clip_by("max norm"),
    "last only": _clip_by("last only"),
    "unchanged": lambda grads, m: [_f64(g) for g in grads],
    "inverted": lambda grads, m: _scaled(grads, min(1.0, _total_norm(grads) / m)),
    "to unit": lambda grads, m: _scaled(grads, min(1.0, 1.0 / _total_norm(grads))),
}

_CLIP_HINTS = {
    "per tensor": "use one norm for all the gradients together, total_norm = sqrt(sum of g**2 over every entry of "
                  "every gradient), and scale them all by the same factor: yours clip each gradient by its own norm, "
                  "which changes the direction of the whole update.",
    "values": "scale by the norm, don't clip the values: np.clip(g, -max_norm, max_norm) (torch's clip_grad_value_) "
              "cuts each entry separately; clipping by the norm multiplies every gradient by one factor, "
              "min(1, max_norm / total_norm), keeping the direction.",
    "max": "scale by min(1, max_norm / total_norm): only scale down, when the total norm is above max_norm. Yours "
           "leave gradients above it unchanged and scale small ones up.",
    "always": "leave the gradients as they are when total_norm <= max_norm: the factor is min(1, max_norm / "
              "total_norm). Yours always multiply by max_norm / total_norm, which scales small gradients up.",
    "sum of norms": "the total norm is the root of the sum of squares of every entry, sqrt(sum of (g**2).sum() over "
                    "the gradients) (the norm of all of them as one long vector), not the sum of the per-gradient "
                    "norms.",
    "mean squares": "the total norm is sqrt of the SUM of g**2 over every entry, not of their mean (that is the RMS, "
                    "much smaller than the norm).",
    "squared": "take the square root: total_norm = sqrt(sum of g**2 over every entry); yours uses the sum of squares "
               "itself.",
    "max norm": "the total norm covers all the gradients together, sqrt(sum of g**2 over every entry of every "
                "gradient), not the largest of their norms.",
    "last only": "add every gradient's squares to the total (total += (g**2).sum() in the loop): yours keeps only "
                 "the last gradient's, as if the total were overwritten at each step.",
    "unchanged": "clip: the total norm is above max_norm here, so multiply every gradient by max_norm / total_norm "
                 "(yours are returned as they came).",
    "inverted": "the factor is max_norm / total_norm (below 1 when the norm is too large), not total_norm / max_norm.",
    "to unit": "scale to max_norm, not to 1: the factor is min(1, max_norm / total_norm).",
}


def _clip_cases() -> list[tuple[str, list[Any], float]]:
    """Gradients shaped like a small RNN's (W_xh (30, 16), b (16,), W_out (64, 30)...), four settings: above the
    threshold, below it (float32), exploding (an RMS above max_norm too, so that the mean of squares clips, at the
    wrong factor), and torch.float64 with four gradients above it, the largest not the last (so that a total of
the last gradient only and one of the largest gradient differ)."""
    import numpy as np
    import torch

    rng = np.random.default_rng(54)
    shapes = [(30, 16), (16,), (64, 30)]
    above = [rng.normal(0.0, s, shape) for s, shape in zip((0.1, 0.05, 0.05), shapes)]  # total norm ~3.1
    below = [rng.normal(0.0, s, shape).astype(np.float32) for s, shape in zip((0.1, 0.05, 0.05), shapes)]
    exploding = [torch.tensor(rng.normal(0.0, s, shape), dtype=torch.float32)
                 for s, shape in zip((3.0, 1.0, 2.0), shapes)]  # total norm ~110, RMS ~2
    four = [torch.tensor(rng.normal(0.0, s, shape), dtype=torch.float64)
            for s, shape in zip((0.02, 0.05, 0.02, 0.1), [(12, 40), (40,), (40, 40), (40,)])]
    described = [(above, "3 float64 arrays (30, 16), (16,), (64, 30)", 1.0),
                 (below, "3 float32 arrays (30, 16), (16,), (64, 30)", 5.0),
                 (exploding, "3 torch.float32 tensors (30, 16), (16,), (64, 30)", 1.0),
                 (four, "4 torch.float64 tensors (12, 40), (40,), (40, 40), (40,)", 0.5)]
    return [(f"clip_grad_norm([{what} of total norm {_total_norm(grads):.4g}], max_norm={max_norm})", grads, max_norm)
            for grads, what, max_norm in described]


#: The tolerance of exercise 05.3: each entry is one product, exact to float32's 6e-8; the factor is the sum of a
#: few thousand squares, good to about 1e-6 in float32. torch's clip_grad_norm_ adds 1e-6 to the norm (2e-7 relative
#: at a norm of 5).
CLIP_RTOL, CLIP_ATOL = 1e-5, 1e-12


def _gradient_list(value: Any, shapes: list[tuple[int, ...]]) -> list[Any] | None:
    """``value`` as a list of float64 arrays if it is a list or tuple of arrays, tensors or (nested) lists of numbers,
    one per gradient, each of that gradient's shape; otherwise None."""
    if not isinstance(value, (list, tuple)) or len(value) != len(shapes):
        return None
    arrays = [_floats(item) for item in value]
    if any(a is None or a.shape != shape for a, shape in zip(arrays, shapes)):
        return None
    return arrays


@checker
def ch05_clip_grad_norm(clip_grad_norm: Callable[[list[Any], float], Any]) -> None:
    """Exercise 05.3: ``clip_grad_norm(grads, max_norm)`` = a new list of the gradients, every one multiplied by the
    same factor min(1, max_norm / total_norm), where total_norm = sqrt(sum of g**2 over every entry of every
    gradient): torch.nn.utils.clip_grad_norm_'s rule (without its 1e-6 added to the norm), returning new arrays.

    ``grads`` is a list of arrays or tensors shaped like a small RNN's gradients: three float64 arrays (30, 16),
    (16,), (64, 30) of total norm 3.1 with max_norm 1.0 (clipped), three float32 arrays with max_norm 5.0 (below:
    returned unchanged), three exploding torch.float32 tensors (norm 110) with max_norm 1.0, four torch.float64
    tensors with max_norm 1.0. The answer is a list (or tuple) of as many arrays, tensors or lists, each the shape of
    its gradient (rtol 1e-5); the gradients and the list must be left as they were. The hint names the mistake: each
    gradient clipped by its own norm, the values clipped (clip_grad_value_), scaled up below the threshold (always
    max_norm / total, or max(1, ...)), the total norm as the sum or the largest of the per-gradient norms, the mean
    of squares, no square root, no clipping, the factor inverted or to 1, the total norm returned instead of the
    gradients (or along with them), the inputs modified in place.
    """
    import numpy as np

    ex = "05.3 (clip_grad_norm)"
    cases = _clip_cases()

    def same(got: Any, theirs: list[Any]) -> bool:
        arrays = _gradient_list(got, [np.shape(t) for t in theirs])
        return arrays is not None and all(np.allclose(a, t, rtol=CLIP_RTOL, atol=CLIP_ATOL)
                                          for a, t in zip(arrays, theirs))

    for i, (what, grads, max_norm) in enumerate(cases):
        given = [_copy(g) for g in grads]
        items = list(given)
        with _quiet_numerics():
            got = call(ex, clip_grad_norm, given, max_norm,
                       hint="grads is a list of numpy arrays here or of torch tensors: (g ** 2).sum() works on "
                            "both. Otherwise run your function on this input yourself and read the traceback above.")
        changed = [k for k, (g, a) in enumerate(zip(items, grads)) if not _unchanged(g, a)]
        if changed or len(given) != len(items) or any(g is not item for g, item in zip(given, items)):
            fail(ex, f"{what} changed the gradients it was given" if changed else
                 f"{what} changed the list it was given", Description("the gradients as given"),
                 Description(f"changed gradients {changed}") if changed else Description("a changed list"),
                 "return new arrays and a new list; leave the caller's as they were: [g * factor for g in grads] "
                 "makes new ones, g *= factor (g.mul_(factor)) or grads[i] = ... write into the caller's. (torch's "
                 "clip_grad_norm_ clips the parameters' .grad in place; this exercise returns new gradients.)")
        total = _total_norm(grads)
        expected = _clip(grads, max_norm)
        shapes = [tuple(np.shape(_to_numpy(g))) for g in grads]
        arrays = _gradient_list(got, shapes)
        if arrays is None:
            single = _real(got)
            if single is not None and math.isclose(single, total, rel_tol=1e-4):
                hint = (f"that is the total norm, {total:.4f}: return the clipped gradients, a list of "
                        f"{len(grads)} arrays like grads (torch's clip_grad_norm_ returns the norm because it clips "
                        "in place; this function returns new gradients).")
            elif isinstance(got, (list, tuple)) and len(got) == 2 and _gradient_list(got[0], shapes) is not None:
                hint = ("return the list of clipped gradients alone, not a pair (gradients, norm): "
                        f"a list of {len(grads)} arrays like grads.")
            else:
                hint = (f"return a list of {len(grads)} gradients, each the shape of its input "
                        f"({', '.join(str(s) for s in shapes)}): [g * factor for g in grads] (this is {_kind(got)}"
                        + (f" of length {len(got)})." if isinstance(got, (list, tuple)) else ")."))
            fail(ex, f"{what} should return the clipped gradients", Description(
                f"a list of {len(grads)} arrays of shapes {', '.join(str(s) for s in shapes)}"),
                 got if _real(got) is not None else Description(_kind(got)), hint)
        if same(arrays, expected):
            continue
        others = [other for j, (_, o, m) in enumerate(cases) if j != i
                  for other in (([_copy(g) for g in o], m), ([_f64(g) for g in o], m))]
        mistake = _match_mistake(got, ([_f64(g) for g in grads], max_norm), clip_grad_norm, others, _CLIP_MISTAKES,
                                 same, confirm=True)
        factor = min(1.0, max_norm / total)
        hint = _CLIP_HINTS.get(mistake or "", f"total_norm = sqrt(sum of g**2 over every entry of every gradient) = "
                                              f"{total:.4f} here; multiply every gradient by min(1, max_norm / "
                                              f"total_norm) = {factor:.6g}.")
        flat_got = np.concatenate([a.ravel() for a in arrays])
        flat_expected = np.concatenate([e.ravel() for e in expected])
        if mistake is None and (decimals := _rounded(flat_got, flat_expected)) is not None:
            hint = f"don't round: these are the clipped gradients rounded to {decimals} decimals."
        k = next(k for k, (a, e) in enumerate(zip(arrays, expected))
                 if not np.allclose(a, e, rtol=CLIP_RTOL, atol=CLIP_ATOL))
        expect_close(ex, f"{what}: gradient {k}, shape {shapes[k]}", arrays[k], expected[k], hint, rtol=CLIP_RTOL,
                     atol=CLIP_ATOL)
    passed(ex, "every gradient times min(1, max_norm / total_norm), one norm over all of them")
