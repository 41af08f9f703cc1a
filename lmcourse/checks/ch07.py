"""Checkers of chapter 07 (attention): exercises 07.1-07.4.

The inputs the checkers give are torch tensors (the chapter's attention is torch's); an answer may return numpy
arrays, torch tensors (float32 or float64) or lists. The references are the package's own
``lmcourse.attention.scaled_dot_product_attention`` in float64; the typical mistakes are computed in numpy
(float64) to tell which one an answer makes.
"""

from __future__ import annotations

import math
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
    _unchanged,
    call,
    checker,
    expect_close,
    fail,
    number,
    passed,
)

#: The tolerance of exercises 07.1-07.3: values of a few units at most, computed in float32 through short sums.
RTOL, ATOL = 1e-4, 1e-5



def _softmax(s: Any) -> Any:
    """Softmax over the last axis in numpy; a row of -inf only gives nan, as torch.softmax does."""
    import numpy as np

    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _torch64(*args: Any) -> list[Any]:
    import torch

    return [torch.tensor(_f64(a)) for a in args]


_WRITES = ("x /= ..., x[...] = ..., masked_fill_ (with the underscore) or any method ending in _ writes into the "
           "caller's.")


def _check_unchanged(ex: str, what: str, names: list[str], given: tuple[Any, ...], args: tuple[Any, ...],
                     example: str) -> None:
    changed = [name for name, g, a in zip(names, given, args) if not _unchanged(g, a)]
    if changed:
        fail(ex, f"{what} changed {', '.join(changed)}", Description("the inputs as given"),
             Description(f"changed {', '.join(changed)}"), _changed_hint(changed, example, _WRITES))


def _shape(value: Any) -> Description:
    return Description(f"shape {tuple(value.shape)}")


# --- 07.1 attention for one query --------------------------------------------------------------------------------

def _row(q: Any, K: Any, V: Any, scale: str = "sqrt", norm: str = "softmax", values: str = "V",
         swap: bool = False) -> tuple[Any, Any]:
    """``(weights, out)`` for one query in float64, or one of the typical mistakes: ``scale`` "sqrt", "none" or "d";
    ``norm`` "softmax", "sum" (scores / scores.sum()) or "exp" (exp without normalising); ``values`` "V" or "K"
    (out = weights @ K); ``swap`` returns (out, weights)."""
    import numpy as np

    q, K, V = _f64(q), _f64(K), _f64(V)
    d = q.shape[-1]
    s = K @ q / {"sqrt": math.sqrt(d), "none": 1.0, "d": d}[scale]
    w = {"softmax": _softmax(s), "sum": s / s.sum(), "exp": np.exp(s)}[norm]
    out = w @ (V if values == "V" else K)
    return (out, w) if swap else (w, out)


def _row_reference(q: Any, K: Any, V: Any) -> tuple[Any, Any]:
    """lmcourse.attention.scaled_dot_product_attention in float64, for the one query q[None]."""
    from lmcourse.attention import scaled_dot_product_attention

    q, K, V = _torch64(q, K, V)
    out, weights = scaled_dot_product_attention(q[None], K, V)
    return weights[0].numpy(), out[0].numpy()


_ROW_MISTAKES: dict[str, Callable[..., Any]] = {
    "no scale": lambda *a: _row(*a, scale="none"),
    "by d": lambda *a: _row(*a, scale="d"),
    "sum": lambda *a: _row(*a, norm="sum"),
    "exp": lambda *a: _row(*a, norm="exp"),
    "K": lambda *a: _row(*a, values="K"),
    "swapped": lambda *a: _row(*a, swap=True),
    "no scale, K": lambda *a: _row(*a, scale="none", values="K"),
    "no scale, exp": lambda *a: _row(*a, scale="none", norm="exp"),
}

_ROW_HINTS = {
    "no scale": "divide the scores by sqrt(d) before the softmax: weights = softmax(K @ q / sqrt(d)), d = "
                "q.shape[-1]. Unscaled, the scores spread like sqrt(d) and the softmax saturates (exercise 07.4).",
    "by d": "divide the scores by sqrt(d), not by d: softmax(K @ q / math.sqrt(d)). q . k spreads like sqrt(d) "
            "(its standard deviation, exercise 07.4), so dividing by d squashes the scores towards 0 and the "
            "weights towards uniform.",
    "sum": "normalise with the softmax, exp(s) / exp(s).sum(), not s / s.sum(): scores can be negative (a negative "
           "'weight') and their sum can be near 0 (huge weights). The exp makes every weight positive.",
    "exp": "normalise the weights: softmax(s) = exp(s) / exp(s).sum(), so they sum to 1. Yours are exp(s) alone.",
    "K": "the output mixes the VALUES: out = weights @ V (d_v numbers). Yours mixes the keys, weights @ K.",
    "swapped": "return the pair in the order (weights, out): the weights first, then the output.",
    "no scale, K": "two things: divide the scores by sqrt(d) (softmax(K @ q / sqrt(d))), and mix the VALUES, "
                   "out = weights @ V, not the keys.",
    "no scale, exp": "two things: divide the scores by sqrt(d), and normalise with the softmax, exp(s) / "
                     "exp(s).sum(), so the weights sum to 1.",
}

_ROW_RULE = ("weights = softmax(K @ q / sqrt(d)) (T numbers, one per key, summing to 1) and out = weights @ V "
             "(d_v numbers); return (weights, out).")


def _row_inputs(rng: Any, d: int, T: int, d_v: int) -> tuple[Any, Any, Any]:
    """q (d,), K (T, d), V (T, d_v): standard normal entries, so the scores q . k spread like sqrt(d) and the
    1/sqrt(d) matters."""
    return rng.normal(0.0, 1.0, d), rng.normal(0.0, 1.0, (T, d)), rng.normal(0.0, 1.0, (T, d_v))


def _row_cases() -> list[tuple[str, tuple[Any, ...]]]:
    """Three settings, d, T and d_v all distinct (a K used for V, or the pair swapped, shows in the shapes)."""
    import numpy as np
    import torch

    rng = np.random.default_rng(70)
    cases = []
    for d, T, d_v, dtype in ((8, 6, 5, torch.float32), (16, 10, 3, torch.float64), (4, 7, 9, torch.float32)):
        args = tuple(torch.tensor(a, dtype=dtype) for a in _row_inputs(rng, d, T, d_v))
        cases.append((f"attention_row(q ({d},), K ({T}, {d}), V ({T}, {d_v}): {str(dtype).removeprefix('torch.')} "
                      "tensors)", args))
    return cases


def _row_error_hint(d: int, T: int, d_v: int) -> Callable[[Exception], str]:
    def hint(err: Exception) -> str:
        text = str(err)
        if "shape" in text or "size" in text or "dimension" in text or "mismatch" in text:
            return (f"q is ({d},), K ({T}, {d}) (one key per row), V ({T}, {d_v}): the scores are K @ q ({T} numbers; "
                    f"q @ K.T is the same), the output weights @ V ({d_v} numbers). {_ROW_RULE}")
        return (f"q, K and V are torch tensors: torch.softmax(s, dim=-1) (or torch.exp) works on them. {_ROW_RULE} "
                "Otherwise run your function on this input yourself and read the traceback above.")

    return hint


def _pair_hint(got: Any, expected: tuple[Any, Any], T: int, d_v: int) -> str:
    import numpy as np

    values = _floats(got)
    same = _close(RTOL, ATOL)
    if values is not None and same(values, expected[0]):
        return "that is the weights alone: return the pair (weights, out)."
    if values is not None and same(values, expected[1]):
        return "that is the output alone: return the pair (weights, out), the weights first."
    if isinstance(got, (tuple, list)):
        return f"return exactly two things, (weights, out); this is a {type(got).__name__} of {len(got)}."
    return f"return the pair (weights, out), e.g. `return weights, out` (this is {_kind(got)})." + (
        "" if values is None else f" Its shape is {np.shape(values)}.")


@checker
def ch07_attention_row(attention_row: Callable[[Any, Any, Any], Any]) -> None:
    """Exercise 07.1: ``attention_row(q, K, V)`` = ``(weights, out)``, attention for one query: weights =
    softmax(K q / sqrt(d)) (T,), out = weights @ V (d_v,).

    q (d,), K (T, d), V (T, d_v), torch tensors with standard normal entries, in three settings with d, T, d_v all
    distinct: 8, 6, 5 (float32), 16, 10, 3 (float64), 4, 7, 9 (float32). The reference is
    lmcourse.attention.scaled_dot_product_attention in float64 on q[None]. The answer is a tuple (or list) of two
    arrays, tensors or lists (float32 is fine: rtol 1e-4, atol 1e-5); the inputs must be left as they were. The hint
    names the mistake: no 1/sqrt(d), a division by d instead, the scores normalised by their sum (no exp), exp
    without normalising, the output mixing K instead of V, the pair returned as (out, weights), the weights or the
    output alone.
    """
    import numpy as np

    ex = "07.1 (attention_row)"
    cases = _row_cases()
    same = _close(RTOL, ATOL)
    probe_rng = np.random.default_rng(71)
    probes = [_row_inputs(probe_rng, 6, 5, 11), _row_inputs(probe_rng, 32, 12, 7)]
    for i, (what, args) in enumerate(cases):
        given = tuple(_copy(a) for a in args)
        d, (T, d_v) = args[0].shape[0], tuple(args[2].shape)
        with _quiet_numerics():
            got = call(ex, attention_row, *given, hint=_row_error_hint(d, T, d_v))
        _check_unchanged(ex, what, ["q", "K", "V"], given, args, "s = K @ q / math.sqrt(d)")
        expected = _row_reference(*args)
        parts = [_floats(p) for p in got] if isinstance(got, (tuple, list)) and len(got) == 2 else None
        if parts is not None and all(p is not None and p.shape == e.shape and np.allclose(p, e, rtol=RTOL, atol=ATOL)
                                     for p, e in zip(parts, expected)):
            continue
        others = [other for j, (_, o) in enumerate(cases) if j != i
                  for other in (tuple(_copy(a) for a in o), tuple(_f64(a) for a in o))] + probes
        mistake = _match_mistake(got, tuple(_f64(a) for a in args), attention_row, others, _ROW_MISTAKES, same,
                                 confirm=True)
        if parts is None:
            fail(ex, f"{what} should return the pair (weights, out)",
                 Description(f"a tuple (weights, out): shapes ({T},) and ({d_v},)"), Description(_kind(got)),
                 _ROW_HINTS[mistake] if mistake else _pair_hint(got, expected, T, d_v))
        for name, part, value, want in zip(("weights", "out"), got, parts, expected):
            if mistake is not None:
                hint = _ROW_HINTS[mistake]
            elif value is not None and value.shape == want.shape and (decimals := _rounded(value, want)) is not None:
                hint = f"don't round: this is {name} rounded to {decimals} decimals."
            elif name == "weights" and value is not None and value.shape == want.shape:
                hint = (f"{_ROW_RULE} Yours sum to {value.sum():.4g}." if not np.isclose(value.sum(), 1.0)
                        else _ROW_RULE)
            else:
                hint = _ROW_RULE
            if value is None:
                fail(ex, f"{what}: {name} should be an array of numbers", Description(f"shape {want.shape}"),
                     Description(_kind(part)), hint)
            expect_close(ex, f"{what}: {name}", value, want, hint, rtol=RTOL, atol=ATOL)
    passed(ex, "weights = softmax(K q / sqrt(d)) and out = weights @ V, for d != d_v")


# --- 07.2 causal attention --------------------------------------------------------------------------------------

def _causal(q: Any, k: Any, v: Any, allowed: str = "tril", fill: str = "-inf", when: str = "before",
            scale: bool = True) -> Any:
    """Causal attention's output in float64, or one of the typical mistakes: ``allowed`` the keys each query may
    see ("tril" j <= i, "none" all of them, "triu" j >= i, "triu1" j > i, "tril-1" j < i), ``fill`` the score of a
    blocked key ("-inf" or "0"), ``when`` the mask is applied ("before" the softmax, on the scores; "after", zeroing
    the weights), ``scale`` whether the scores are divided by sqrt(d)."""
    import numpy as np

    q, k, v = _f64(q), _f64(k), _f64(v)
    T, d = q.shape[-2], q.shape[-1]
    s = q @ np.swapaxes(k, -1, -2) / (math.sqrt(d) if scale else 1.0)
    ones = np.ones((T, T))
    mask = {"tril": np.tril(ones), "none": ones, "triu": np.triu(ones), "triu1": np.triu(ones, 1),
            "tril-1": np.tril(ones, -1)}[allowed].astype(bool)
    if when == "before":
        w = _softmax(np.where(mask, s, -np.inf if fill == "-inf" else 0.0))
    else:
        w = _softmax(s) * mask
    return w @ v


def _causal_reference(q: Any, k: Any, v: Any) -> Any:
    """lmcourse.attention.scaled_dot_product_attention(q, k, v, is_causal=True)'s output in float64."""
    from lmcourse.attention import scaled_dot_product_attention

    return scaled_dot_product_attention(*_torch64(q, k, v), is_causal=True)[0].numpy()


_CAUSAL_MISTAKES: dict[str, Callable[..., Any]] = {
    "zero fill": lambda *a: _causal(*a, fill="0"),
    "no mask": lambda *a: _causal(*a, allowed="none"),
    "upper": lambda *a: _causal(*a, allowed="triu"),
    "upper strict": lambda *a: _causal(*a, allowed="triu1"),
    "diagonal": lambda *a: _causal(*a, allowed="tril-1"),
    "after": lambda *a: _causal(*a, when="after"),
    "no scale": lambda *a: _causal(*a, scale=False),
    "zero fill, no scale": lambda *a: _causal(*a, fill="0", scale=False),
}

_CAUSAL_HINTS = {
    "zero fill": "a masked score of 0 is not 'no attention': exp(0) = 1, so every future key still gets a weight "
                 "as large as a key scoring 0, and the future leaks in. Fill the masked scores with -inf "
                 "(float('-inf')): exp(-inf) = 0, exactly no weight.",
    "no mask": "mask the future: query t may attend to keys 0..t only. Set the scores above the diagonal to -inf "
               "before the softmax, e.g. scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), "
               "float('-inf')). Without a mask, every position sees the whole sequence.",
    "upper": "your mask keeps the wrong triangle: each position sees itself and the FUTURE (j >= i) instead of the "
             "past (j <= i). Keep the lower triangle, torch.tril, and block what is above the diagonal.",
    "upper strict": "your mask keeps the wrong triangle: each position sees only the FUTURE (j > i), and the last "
                    "one nothing at all (its row is nan). Keep the lower triangle with the diagonal, torch.tril(...), "
                    "and block what is above it.",
    "diagonal": "the diagonal is masked too, so position t cannot see itself, and the first position sees no key "
                "at all: a row of -inf scores, whose softmax is nan. Keep the diagonal: torch.tril(ones) (diagonal=0), "
                "not torch.tril(ones, diagonal=-1); block only j > i (torch.triu(ones, diagonal=1)).",
    "after": "mask the SCORES before the softmax, not the weights after it: weights zeroed after the softmax no "
             "longer sum to 1 in each row (the future's share is simply lost). Fill the future's scores with -inf, "
             "then softmax.",
    "no scale": "divide the scores by sqrt(d) before masking and the softmax: q @ k.transpose(-2, -1) / "
                "math.sqrt(d), d = q.shape[-1].",
    "zero fill, no scale": "two things: fill the masked scores with -inf, not 0 (exp(0) = 1, so the future still "
                           "gets weight), and divide the scores by sqrt(d).",
}

_CAUSAL_RULE = ("scores = q @ k.transpose(-2, -1) / sqrt(d) (..., T, T); set scores[..., i, j] to -inf where j > i "
                "(e.g. masked_fill with ~torch.ones(T, T, dtype=torch.bool).tril()); weights = softmax over the last "
                "dimension; out = weights @ v. T = q.shape[-2], d = q.shape[-1]: transpose the last two dimensions "
                "(k.T reverses them all on a 4-D tensor).")


def _causal_cases() -> list[tuple[str, tuple[Any, ...]]]:
    """A 2-D setting (T, d) = (6, 8) in float32, a batched one (B, H, T, d) = (2, 3, 5, 4) in float64, and a longer
    one (B, T, d) = (2, 9, 4) in float32 (no mask built for section 4's 6 positions fits it): standard normal
    entries, so every mistake moves the output clearly."""
    import numpy as np
    import torch

    rng = np.random.default_rng(72)
    flat = tuple(torch.tensor(rng.normal(0.0, 1.0, (6, 8)), dtype=torch.float32) for _ in range(3))
    batched = tuple(torch.tensor(rng.normal(0.0, 1.0, (2, 3, 5, 4)), dtype=torch.float64) for _ in range(3))
    longer = tuple(torch.tensor(rng.normal(0.0, 1.0, (2, 9, 4)), dtype=torch.float32) for _ in range(3))
    return [("causal_attention(q, k, v of shape (T, d) = (6, 8): float32 tensors)", flat),
            ("causal_attention(q, k, v of shape (B, H, T, d) = (2, 3, 5, 4): float64 tensors)", batched),
            ("causal_attention(q, k, v of shape (B, T, d) = (2, 9, 4): float32 tensors)", longer)]


def _future_leak(fn: Callable[..., Any], args: tuple[Any, ...], got: Any) -> int | None:
    """The first position t whose output changes when q, k and v change at the positions after t (only); None if
    there is none (or the learner's function fails on the changed inputs)."""
    import warnings

    import numpy as np
    import torch

    base = _floats(got)
    if base is None or base.shape != tuple(args[0].shape):
        return None
    gen = torch.Generator().manual_seed(73)
    T = args[0].shape[-2]
    for t in range(T - 1):
        changed = []
        for a in args:
            new = a.clone()
            new[..., t + 1:, :] = torch.randn(new[..., t + 1:, :].shape, generator=gen, dtype=a.dtype)
            changed.append(new)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                theirs = _floats(fn(*changed))
        except Exception:  # noqa: BLE001 - the learner's code failing here tells nothing about a leak
            return None
        if theirs is None or theirs.shape != base.shape:
            return None
        if not np.allclose(theirs[..., :t + 1, :], base[..., :t + 1, :], rtol=RTOL, atol=ATOL, equal_nan=True):
            return t
    return None


def _causal_error_hint(err: Exception) -> str:
    if isinstance(err, RuntimeError) and "size of tensor" in str(err) and "must match" in str(err):
        return ("a size does not match. q, k and v are torch tensors of shape (T, d) or (B, H, T, d) here: build "
                "the mask from this input's length, T = q.shape[-2], not a fixed size (section 4's `allowed` is "
                "6 x 6), e.g. torch.ones(T, T, dtype=torch.bool).tril(); and transpose only the last two dimensions "
                "of k, k.transpose(-2, -1) (k.T reverses them all on a 4-D tensor).")
    return (f"q, k and v are torch tensors of shape (T, d) or (B, H, T, d). {_CAUSAL_RULE} Otherwise run your "
            "function on this input yourself and read the traceback above.")


@checker
def ch07_causal_attention(causal_attention: Callable[[Any, Any, Any], Any]) -> None:
    """Exercise 07.2: ``causal_attention(q, k, v)`` = out (..., T, d): scaled dot-product attention in which query t
    sees keys 0..t only (the scores of later keys set to -inf before the softmax).

    q, k, v are torch tensors of shape (T, d) = (6, 8) in float32, then (B, H, T, d) = (2, 3, 5, 4) in float64,
    standard normal entries. The reference is lmcourse.attention.scaled_dot_product_attention(q, k, v,
    is_causal=True)[0] in float64. The answer is an array, tensor or nested list of the inputs' shape (float32 is
    fine: rtol 1e-4, atol 1e-5); the inputs must be left as they were. The hint names the mistake: masked scores
    filled with 0 instead of -inf (the chapter's bug), no mask, the upper triangle kept (with or without the
    diagonal), the diagonal masked too (a nan first row), the mask applied to the weights after the softmax, no
    1/sqrt(d), (out, weights) returned; otherwise, if changing q, k, v after position t changes the output at t,
    it says the future leaks, at which position.
    """
    import numpy as np

    ex = "07.2 (causal_attention)"
    cases = _causal_cases()
    same = _close(RTOL, ATOL)
    probe_rng = np.random.default_rng(74)
    probes = [tuple(probe_rng.normal(0.0, 1.0, (7, 5)) for _ in range(3))]
    for i, (what, args) in enumerate(cases):
        given = tuple(_copy(a) for a in args)
        with _quiet_numerics():
            got = call(ex, causal_attention, *given, hint=_causal_error_hint)
        _check_unchanged(ex, what, ["q", "k", "v"], given, args, "scores.masked_fill(mask, float('-inf'))")
        expected = _causal_reference(*args)
        values = _floats(got)
        if values is not None and values.shape == expected.shape and np.allclose(values, expected, rtol=RTOL,
                                                                                  atol=ATOL):
            continue
        if isinstance(got, (tuple, list)) and len(got) == 2 and (first := _floats(got[0])) is not None \
                and first.shape == expected.shape and np.allclose(first, expected, rtol=RTOL, atol=ATOL):
            fail(ex, f"{what} should return the output only", Description(f"one tensor of shape {expected.shape}"),
                 Description(f"a {type(got).__name__} of 2"),
                 "your output is right, but return it alone, not (out, weights): causal_attention returns out.")
        others = [other for j, (_, o) in enumerate(cases) if j != i
                  for other in (tuple(_copy(a) for a in o), tuple(_f64(a) for a in o))]
        others += [tuple(_f64(a) for a in p) for p in probes]
        mistake = _match_mistake(got, tuple(_f64(a) for a in args), causal_attention, others, _CAUSAL_MISTAKES,
                                 same, confirm=True)
        hint = _CAUSAL_HINTS.get(mistake or "")
        if hint is None and (t := _future_leak(causal_attention, tuple(_copy(a) for a in args), got)) is not None:
            hint = (f"the future leaks: changing q, k and v at the positions after {t} changes your output at "
                    f"position {t}, which may only see {'itself' if t == 0 else f'positions 0..{t}'}. "
                    f"{_CAUSAL_RULE}")
        if hint is None and values is not None and values.shape == expected.shape and np.isnan(values).any():
            rows = sorted(set(np.argwhere(np.isnan(values))[:, -2].tolist()))
            hint = (f"your output has nan at position(s) {rows}: a row of scores that is all -inf (a query that sees "
                    "no key) gives a nan softmax. Every query must see at least itself: block only j > i. "
                    f"{_CAUSAL_RULE}")
        if hint is None and values is not None and values.shape == expected.shape \
                and (decimals := _rounded(values, expected)) is not None:
            hint = f"don't round: this is the output rounded to {decimals} decimals."
        if values is None:
            fail(ex, f"{what} should return an array of numbers", Description(f"shape {expected.shape}"),
                 Description(_kind(got)), hint or f"return out, one tensor of the shape of q. {_CAUSAL_RULE}")
        if mistake is None and values.shape != expected.shape and values.size == expected.size:
            hint = hint or f"the numbers may be right, but not their layout: return out, of q's shape. {_CAUSAL_RULE}"
        hint = hint or _CAUSAL_RULE
        if values.shape == expected.shape:
            T, D = expected.shape[-2:]
            flat_v, flat_e = values.reshape(-1, T, D), expected.reshape(-1, T, D)
            n, t = next((n, t) for n in range(len(flat_e)) for t in range(T)
                        if not np.allclose(flat_v[n, t], flat_e[n, t], rtol=RTOL, atol=ATOL))
            lead = np.unravel_index(n, expected.shape[:-2]) if expected.ndim > 2 else ()
            where = f"out[{', '.join(map(str, (*lead, t)))}], the output at position {t}" + (
                f" of sequence {lead[0]}, head {lead[1]}" if len(lead) == 2 else "")
            fail(ex, f"{what}: {where}", np.round(flat_e[n, t], 6).tolist(), np.round(flat_v[n, t], 6).tolist(), hint)
        expect_close(ex, what, values, expected, hint, rtol=RTOL, atol=ATOL)
    passed(ex, "the output matches is_causal=True in 2-D and batched, each position seeing itself and the past only")


# --- 07.3 splitting into heads ----------------------------------------------------------------------------------

def _split(x: Any, H: int, how: str = "right") -> Any:
    """x (B, T, E) split into H heads in float64 numpy, or one of the typical mistakes: "reshape" x.reshape(B, H, T,
    d) (no transpose), "no transpose" x.view(B, T, H, d) as it is, "strided" x.view(B, T, d, H).permute(0, 3, 1, 2),
    "T and d" x.view(B, T, H, d).permute(0, 2, 3, 1) (B, H, d, T)."""
    x = _f64(x)
    B, T, E = x.shape
    d = E // H
    return {"right": lambda: x.reshape(B, T, H, d).transpose(0, 2, 1, 3),
            "reshape": lambda: x.reshape(B, H, T, d),
            "no transpose": lambda: x.reshape(B, T, H, d),
            "strided": lambda: x.reshape(B, T, d, H).transpose(0, 3, 1, 2),
            "T and d": lambda: x.reshape(B, T, H, d).transpose(0, 2, 3, 1)}[how]()


_SPLIT_MISTAKES: dict[str, Callable[..., Any]] = {
    how: (lambda kind: lambda x, H: _split(x, H, kind))(how)
    for how in ("reshape", "no transpose", "strided", "T and d")
}

_SPLIT_HINTS = {
    "reshape": "x.reshape(B, H, T, d) has the right shape but not the right numbers: a reshape only re-reads the "
               "memory in order, so 'head 0' gets the first T*d numbers of the sequence, positions mixed across "
               "heads. Split the last dimension first, x.view(B, T, H, d), then swap T and H: .transpose(1, 2).",
    "no transpose": "x.view(B, T, H, d) splits each position's E numbers into H heads of d, right, but the heads "
                    "must come before the positions, (B, H, T, d), so that each head attends over T: add "
                    ".transpose(1, 2).",
    "strided": "head h takes the d CONSECUTIVE columns h*d:(h+1)*d of x, as torch.nn.MultiheadAttention does; yours "
               "takes every H-th column (x.view(B, T, d, H) puts the head index last). Use x.view(B, T, H, d)"
               ".transpose(1, 2).",
    "T and d": "the result is (B, H, T, d): each head's T positions, each a vector of d. Yours is (B, H, d, T); swap "
               "only T and H of x.view(B, T, H, d): .transpose(1, 2).",
}

_SPLIT_RULE = ("with d = E // num_heads, head h takes the columns h*d:(h+1)*d of every position: "
               "x.view(B, T, num_heads, d).transpose(1, 2), shape (B, H, T, d).")


def _split_cases() -> list[tuple[str, tuple[Any, int]]]:
    """Three settings, B, T, H and d all distinct in each (a shape mistake shows): (2, 5, 12) into 3 heads of 4
    (float32), (3, 7, 8) into 4 of 2 (float64), (1, 6, 10) into 2 of 5 (float32); standard normal entries."""
    import torch

    gen = torch.Generator().manual_seed(75)
    cases = []
    for (B, T, E), H, dtype in (((2, 5, 12), 3, torch.float32), ((3, 7, 8), 4, torch.float64),
                                ((1, 6, 10), 2, torch.float32)):
        x = torch.randn(B, T, E, generator=gen, dtype=dtype)
        cases.append((f"split_heads(x of shape (B, T, E) = ({B}, {T}, {E}), num_heads={H}): "
                      f"{str(dtype).removeprefix('torch.')}", (x, H)))
    return cases


@checker
def ch07_split_heads(split_heads: Callable[[Any, int], Any]) -> None:
    """Exercise 07.3: ``split_heads(x, num_heads)``: x (B, T, E) -> (B, H, T, E // H), head h taking the columns
    h*d:(h+1)*d (as torch.nn.MultiheadAttention and lmcourse.attention.MultiHeadAttention do): x.view(B, T, H,
    d).transpose(1, 2).

    Three torch tensors, B, T, H and d all distinct in each: (2, 5, 12) into 3 heads (float32), (3, 7, 8) into 4
    (float64), (1, 6, 10) into 2 (float32). The answer is an array, tensor or nested list (a view or a copy); the
    input must be left as it was. The hint names the mistake: x.reshape(B, H, T, d) (no transpose: positions
    mixed across heads), x.view(B, T, H, d) without the transpose, strided heads (every H-th column), (B, H, d, T).
    """
    import numpy as np

    ex = "07.3 (split_heads)"
    cases = _split_cases()
    same = _close(rtol=0.0, atol=1e-6)
    for i, (what, (x, H)) in enumerate(cases):
        given = _copy(x)
        got = call(ex, split_heads, given, H,
                   hint=f"x is a torch tensor (B, T, E); {_SPLIT_RULE} Otherwise run your function on this input "
                        "yourself and read the traceback above.")
        _check_unchanged(ex, what, ["x"], (given,), (x,), "x.view(B, T, H, d).transpose(1, 2)")
        expected = _split(x, H)
        values = _floats(got)
        if values is not None and values.shape == expected.shape and np.allclose(values, expected, rtol=0, atol=1e-6):
            continue
        others = [(_copy(o), h) for j, (_, (o, h)) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (_f64(x), H), split_heads, others, _SPLIT_MISTAKES, same, confirm=True)
        hint = _SPLIT_HINTS.get(mistake or "", _SPLIT_RULE)
        if values is None:
            fail(ex, f"{what} should return an array of numbers", Description(f"shape {expected.shape}"),
                 Description(_kind(got)), hint)
        if values.shape != expected.shape:
            fail(ex, f"{what}: wrong shape", Description(f"shape {expected.shape} = (B, H, T, d)"),
                 Description(f"shape {values.shape}"), hint)
        B, T, E = x.shape
        d = E // H
        for h in range(H):
            for t in range(T):
                if not np.allclose(values[0, h, t], expected[0, h, t], rtol=0, atol=1e-6):
                    fail(ex, f"{what}: head {h} at position {t} of the first sequence",
                         Description(f"x[0, {t}, {h * d}:{(h + 1) * d}] = {np.round(expected[0, h, t], 4).tolist()}"),
                         np.round(values[0, h, t], 4).tolist(), hint)
        expect_close(ex, what, values, expected, hint, rtol=0, atol=1e-6)
    passed(ex, "head h holds the columns h*d:(h+1)*d of every position, shape (B, H, T, d)")


# --- 07.4 the spread of the scores ------------------------------------------------------------------------------

#: How far a standard deviation may be from sqrt(d) (relative): an estimate from 100,000 samples is within 1%.
SPREAD_RTOL = 0.03

_SPREAD_MISTAKES: dict[str, Callable[[int], float]] = {
    "variance": lambda d: float(d),
    "one": lambda d: 1.0,
    "inverse": lambda d: 1.0 / math.sqrt(d),
}

_SPREAD_HINTS = {
    "variance": "that is the variance, d: q . k is a sum of d independent products q_i k_i, each of variance 1, so "
                "the variance is d and the standard deviation its square root, sqrt(d).",
    "one": "that is the spread of ONE product q_i k_i (variance 1 * 1 = 1). q . k sums d of them, independent: "
           "variances add, so Var(q . k) = d, and the standard deviation is sqrt(d).",
    "inverse": "that is 1/sqrt(d), the factor attention multiplies the scores by to bring their spread BACK to 1. "
               "The spread of q . k itself is sqrt(d).",
}


@checker
def ch07_score_spread(score_std: Callable[[int], Any]) -> None:
    """Exercise 07.4: ``score_std(d)`` = the standard deviation of q . k when q and k have d independent entries
    of mean 0 and variance 1: sqrt(d).

    Checked for d = 16, 64, 256, then 1, within 3% (so an estimate by sampling passes: from 100,000 samples it is
    within about 1%). The answer is one number (Python, numpy, or a one-element tensor). The hint names the mistake:
    d (the variance), 1 (one product's spread), 1/sqrt(d) (the scaling factor); an estimate within 15% is told to
    draw more samples.
    """
    ex = "07.4 (score_std)"
    cases = [16, 64, 256, 1]

    def same(got: Any, theirs: float) -> bool:
        value = _real(got)
        return value is not None and abs(value - theirs) <= SPREAD_RTOL * abs(theirs)

    for i, d in enumerate(cases):
        what = f"score_std({d})"
        with _quiet_numerics():
            got = call(ex, score_std, d)
        expected = math.sqrt(d)
        value = number(ex, what, got, expected, "return one number, the standard deviation (a float).")
        if abs(value - expected) <= SPREAD_RTOL * expected:
            continue
        others = [(o,) for j, o in enumerate(cases) if j != i]
        with _quiet_numerics():
            mistake = _match_mistake(got, (d,), score_std, others, _SPREAD_MISTAKES, same)
        if mistake is not None:
            hint = _SPREAD_HINTS[mistake]
        elif abs(value - expected) <= 0.15 * expected:
            hint = ("close, but not within 3%: if you estimate by sampling, draw more pairs (100,000 or more, e.g. "
                    "torch.randn(100_000, d)), and take the standard deviation of the dot products, not their mean.")
        else:
            hint = ("q . k = sum of d products q_i k_i; each has mean 0 and variance 1, and independent variances "
                    "add: Var(q . k) = d. Return the standard deviation, its square root.")
        fail(ex, what, round(expected, 4), round(value, 4) if math.isfinite(value) else value, hint)
    passed(ex, "the scores q . k spread like sqrt(d): 4, 8, 16 for d = 16, 64, 256 (hence the 1/sqrt(d))")
