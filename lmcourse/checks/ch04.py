"""Checkers of chapter 04 (from counts to parameters: the MLP language model): exercises 04.1-04.4."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

from lmcourse.checks.core import (
    Description,
    _copy,
    _f64,
    _kind,
    _match_mistake,
    _numbers,
    _quiet_numerics,
    _real,
    _rounded,
    _to_numpy,
    _unchanged,
    _whole,
    call,
    checker,
    expect_close,
    fail,
    number,
    passed,
)


def _i64(value: Any) -> Any:
    import numpy as np

    return np.array(_to_numpy(value), dtype=np.int64)


def _matrix(value: Any) -> Any:
    """``value`` as a float64 numpy array if it is an array or tensor of numbers or a list of equal-length lists
    of numbers (a 2-D table); otherwise None. Text and bools are not numbers."""
    import numpy as np

    value = _to_numpy(value)
    if isinstance(value, np.ndarray):
        return value.astype(float) if value.dtype.kind in "iuf" else None
    if isinstance(value, (list, tuple)):
        rows = [_numbers(row) for row in value]
        if any(r is None or r.shape != rows[0].shape for r in rows):
            return None
        return np.array(rows, dtype=float).reshape(len(rows), -1) if rows else np.zeros((0, 0))
    return None


def _close_matrix(rtol: float, atol: float) -> Callable[[Any, Any], bool]:
    """A ``same`` for :func:`_match_mistake`: ``got`` is a table of numbers close to ``theirs``, of its shape."""
    import numpy as np

    def same(got: Any, theirs: Any) -> bool:
        values = _matrix(got)
        return values is not None and values.shape == np.shape(theirs) and bool(
            np.allclose(values, theirs, rtol=rtol, atol=atol))

    return same


def _softmax(z: Any, axis: int = 1) -> Any:
    import numpy as np

    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _onehot(targets: Any, V: int) -> Any:
    import numpy as np

    out = np.zeros((len(targets), V))
    out[np.arange(len(targets)), targets] = 1.0
    return out


# --- 04.1 the softmax cross-entropy gradient ----------------------------------------------------------------


def _ce_grad(logits: Any, targets: Any) -> Any:
    """The reference: torch's autograd of F.cross_entropy (the mean over the rows), in float64."""
    import torch

    z = torch.tensor(_f64(logits), dtype=torch.float64, requires_grad=True)
    torch.nn.functional.cross_entropy(z, torch.tensor(_i64(targets))).backward()
    assert z.grad is not None
    return z.grad.numpy()


def _ce_loss(logits: Any, targets: Any) -> float:
    import numpy as np

    z, t = _f64(logits), _i64(targets)
    return float(-_log_softmax(z)[np.arange(len(t)), t].mean())  # not log(softmax): exp(-1000) is 0, log 0 -inf


def _grad_parts(z: Any, t: Any) -> tuple[Any, Any, int]:
    """softmax(z) (rows), onehot(t), N, for the mistakes below."""
    z, t = _f64(z), _i64(t)
    return _softmax(z), _onehot(t, z.shape[1]), len(t)


_GRAD_MISTAKES: dict[str, Callable[[Any, Any], Any]] = {
    "sum": lambda z, t: (lambda p, y, n: p - y)(*_grad_parts(z, t)),
    "sign": lambda z, t: (lambda p, y, n: (y - p) / n)(*_grad_parts(z, t)),
    "sign sum": lambda z, t: (lambda p, y, n: y - p)(*_grad_parts(z, t)),
    "no softmax": lambda z, t: (_f64(z) - _onehot(_i64(t), _f64(z).shape[1])) / len(_i64(t)),
    "no softmax sum": lambda z, t: _f64(z) - _onehot(_i64(t), _f64(z).shape[1]),
    "columns": lambda z, t: (_softmax(_f64(z), axis=0) - _onehot(_i64(t), _f64(z).shape[1])) / len(_i64(t)),
    "argmax": lambda z, t: (_softmax(_f64(z)) - _onehot(_f64(z).argmax(axis=1), _f64(z).shape[1])) / len(_i64(t)),
    "no onehot": lambda z, t: (lambda p, y, n: p / n)(*_grad_parts(z, t)),
    "softmax": lambda z, t: _softmax(_f64(z)),
    "by V": lambda z, t: (lambda p, y, n: (p - y) / p.shape[1])(*_grad_parts(z, t)),
    "log softmax": lambda z, t: (lambda p, y, n: (_log_softmax(_f64(z)) - y) / n)(*_grad_parts(z, t)),
}


def _log_softmax(z: Any) -> Any:
    import numpy as np

    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


_GRAD_HINTS = {
    "sum": "divide by N, the number of rows: the loss is the MEAN over the N examples, so each row's gradient "
           "softmax - onehot is divided by N. This is the gradient of the sum.",
    "sign": "the sign is flipped: d loss / d logits = softmax - onehot (raising the target's logit lowers the "
            "loss, so its gradient entry is negative). This is onehot - softmax, the direction of descent.",
    "sign sum": "the sign is flipped (d loss / d logits = softmax - onehot, not onehot - softmax), and divide by "
                "N, the number of rows: the loss is the mean over the examples.",
    "no softmax": "take the softmax of each row first: the gradient is (softmax(logits) - onehot) / N, not "
                  "(logits - onehot) / N.",
    "no softmax sum": "take the softmax of each row first, and divide by N: (softmax(logits) - onehot) / N, not "
                      "logits - onehot.",
    "columns": "take the softmax over each row (axis=1, dim=1: the V logits of one example), not over each column "
               "(axis=0): each row of softmax(logits) sums to 1.",
    "argmax": "the one-hot marks each row's target, targets[i], not its largest logit (argmax): "
              "onehot[np.arange(N), targets] = 1.",
    "no onehot": "subtract 1 at each row's target: (softmax - onehot) / N. This is softmax / N, the gradient "
                 "without the target's -log term.",
    "softmax": "this is the softmax itself: subtract the one-hot of the targets and divide by N, "
               "(softmax - onehot) / N.",
    "by V": "divide by N, the number of rows (examples the loss averages over), not by V, the number of classes.",
    "log softmax": "use the probabilities, softmax(logits), not their logarithms: the gradient is "
                   "(softmax - onehot) / N.",
}

_OVERFLOW = ("exp overflowed: exp(1000) is inf (in float32 already exp(89)), and inf / inf is nan; exp(-1000) is 0, "
             "and 0 / 0 is nan. Subtract each row's max before exp, logits - logits.max(axis=1, keepdims=True) "
             "(torch: .max(dim=1, keepdim=True).values): softmax is unchanged by it, and the largest exp becomes 1.")
_ONE_MAX = ("the rows whose logits are near -1000 came out nan: you subtracted one max for the whole array (or per "
            "column), so every exp of such a row underflows to 0 and 0 / 0 is nan. Subtract each ROW's max, "
            "logits - logits.max(axis=1, keepdims=True): softmax is unchanged by it, row by row.")

_WIDE = ("exp overflowed on a row whose logits span a wide range (one logit 1000 above the others, or [0, 800, 1, "
         "...]): subtract each row's max (shifting by the min or the mean still overflows when a row spans a wide "
         "range), logits - logits.max(axis=1, keepdims=True) (torch: .max(dim=1, keepdim=True).values): then the "
         "largest exp of each row is exp(0) = 1 and no exp can overflow; the others may underflow to 0, harmlessly.")


def _grad_cases() -> list[tuple[str, Any, Any]]:
    import numpy as np
    import torch

    rng = np.random.default_rng(40)
    z1, t1 = rng.normal(0.0, 2.0, (64, 30)), rng.integers(0, 30, 64)
    z2, t2 = rng.normal(0.0, 2.0, (48, 30)), rng.integers(0, 30, 48)
    offsets = np.where(np.arange(16) % 2 == 0, 1000.0, -1000.0)[:, None]  # rows near +1000 and rows near -1000
    z3, t3 = rng.normal(0.0, 3.0, (16, 30)) + offsets, rng.integers(0, 30, 16)
    # Rows spanning a wide range, where only the row's max is a safe shift: one logit 1000 above the others,
    # rows like [0, 800, 1, ...] (the max neither first nor last), one logit 1000 below the others. Shifting by
    # the row's min, mean or first logit leaves an exp(700+) that overflows to inf (float64 up to exp(709)).
    z4, t4 = rng.normal(0.0, 1.0, (12, 30)), rng.integers(0, 30, 12)
    top = rng.integers(1, 29, 12)
    z4[0:4][np.arange(4), top[0:4]] += 1000.0
    z4[4:8, 0] = 0.0
    z4[4:8][np.arange(4), top[4:8]] = 800.0
    z4[8:12][np.arange(4), top[8:12]] -= 1000.0
    return [
        ("softmax_ce_grad(logits (64, 30) float64 array, targets (64,) int64 array)", z1, t1),
        ("softmax_ce_grad(logits (48, 30) torch.float32 tensor, targets (48,) torch.int64 tensor)",
         torch.tensor(z2, dtype=torch.float32), torch.tensor(t2)),
        ("softmax_ce_grad(logits (16, 30) float64 array whose rows lie near +1000 and -1000, targets (16,) int64)",
         z3, t3),
        ("softmax_ce_grad(logits (12, 30) float64 array whose rows span a wide range: one logit 1000 above or below "
         "the others, or rows like [0, 800, 1, ...], targets (12,) int64)", z4, t4),
    ]


#: The tolerance of exercise 04.1: float32 softmax is good to about 1e-7 absolute, the entries are about 1 / N.
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-7


@checker
def ch04_softmax_ce_grad(softmax_ce_grad: Callable[[Any, Any], Any]) -> None:
    """Exercise 04.1: ``softmax_ce_grad(logits, targets)`` = the gradient of the mean cross-entropy
    mean_i -log softmax(logits_i)[targets_i] with respect to the logits, (softmax(logits) - onehot(targets)) / N.

    ``logits`` is (N, V) and ``targets`` (N,) class ids: a float64 array with an int64 array (64 x 30), a
    torch.float32 tensor with a torch.int64 tensor (48 x 30), then a float64 array (16 x 30) whose rows lie near
    +1000 and near -1000, where exp overflows (inf / inf) or underflows (0 / 0) unless each row's max is
    subtracted first, and a float64 array (12 x 30) whose rows span a wide range (one logit 1000 above or below
    the others, rows like [0, 800, 1, ...]), where shifting each row by its min, its mean or its first logit
    still overflows: only the max (or a log-sum-exp computed with it) is safe. The answer is an (N, V) array or
    tensor (float32 is fine: rtol 1e-4, atol 1e-7); the inputs must be left as they were. The reference is torch's
    autograd of F.cross_entropy in float64. The hint names the mistake: the sum's gradient (no / N), the sign
    flipped, no softmax, softmax over the columns, one-hot at the argmax, no one-hot, / V, the log-softmax, nan from
    exp overflowing, from one max for the whole array or from a row shifted by something other than its max, the
    loss returned instead of its gradient.
    """
    import numpy as np

    ex = "04.1 (softmax_ce_grad)"
    cases = _grad_cases()
    same = _close_matrix(GRAD_RTOL, GRAD_ATOL)
    probe_rng = np.random.default_rng(41)
    probe = (probe_rng.normal(0.0, 1.5, (20, 7)), probe_rng.integers(0, 7, 20))
    for i, (what, logits, targets) in enumerate(cases):
        given_z, given_t = _copy(logits), _copy(targets)
        with _quiet_numerics():
            got = call(ex, softmax_ce_grad, given_z, given_t,
                       hint="logits is a numpy array here or a torch tensor; targets holds one class id per row, "
                            "onehot[np.arange(N), targets] = 1 (torch: F.one_hot(targets, V)). Otherwise run your "
                            "function on this input yourself and read the traceback above.")
        if not _unchanged(given_z, logits) or not _unchanged(given_t, targets):
            changed = "logits" if not _unchanged(given_z, logits) else "targets"
            fail(ex, f"{what} changed the {changed} it was given", Description(f"the {changed} as given"),
                 Description(f"changed {changed}"),
                 "leave the inputs as they were: logits - logits.max(...) makes a new array, logits -= ... (or "
                 "np.exp(logits, out=logits), logits.exp_()) writes into the caller's.")
        z, t = _f64(logits), _i64(targets)
        n, V = z.shape
        expected = _ce_grad(z, t)
        loss = _ce_loss(z, t)
        values = _matrix(got)
        if values is None or values.shape != (n, V):
            single = _real(got)
            if single is not None and math.isclose(single, loss, rel_tol=1e-4):
                hint = (f"that is the loss itself, {loss:.4f}: return its gradient with respect to the logits, "
                        "(softmax(logits) - onehot(targets)) / N, an (N, V) array like the logits.")
            elif values is not None and values.shape == (V, n):
                hint = "return shape (N, V), like the logits: one row per example, one column per class."
            else:
                hint = f"return one gradient entry per logit, an (N, V) array or tensor (this is {_kind(got)})."
            fail(ex, f"{what} should return the gradient, shape ({n}, {V}) like the logits",
                 Description(f"shape ({n}, {V})"), Description(f"shape {values.shape}") if values is not None else
                 got, hint)
        if not np.isfinite(values).all():
            bad = ~np.isfinite(values).all(axis=1)
            high = np.asarray(z.max(axis=1) > 500)
            if i == 2 and bad[~high].all() and not bad[high].any():
                hint = _ONE_MAX
            elif i == 2:
                hint = _OVERFLOW
            elif i == 3:
                hint = _WIDE
            else:
                hint = "the gradient has no nan or inf: (softmax(logits) - onehot(targets)) / N, softmax computed " \
                       "with each row's max subtracted first."
            fail(ex, f"{what}: {int((~np.isfinite(values)).sum())} entries are nan or inf", Description(
                "finite numbers"), np.round(values[bad][0], 4).tolist(), hint)
        if np.allclose(values, expected, rtol=GRAD_RTOL, atol=GRAD_ATOL):
            continue
        others = [other for j, (_, oz, ot) in enumerate(cases[:2]) if j != i
                  for other in ((_copy(oz), _copy(ot)), (_f64(oz), _i64(ot)))] + [probe]
        mistake = _match_mistake(got, (z, t), softmax_ce_grad, others, _GRAD_MISTAKES, same, confirm=True)
        hint = _GRAD_HINTS.get(mistake or "", "the gradient of the mean cross-entropy is (softmax(logits) - "
                                              "onehot(targets)) / N: softmax over each row, minus 1 at each row's "
                                              "target, divided by the number of rows N.")
        if mistake is None and (decimals := _rounded(values, expected)) is not None:
            hint = f"don't round: this is the gradient rounded to {decimals} decimals."
        rows = values.sum(axis=1)
        if mistake is None and not np.allclose(rows, 0.0, atol=1e-5):
            hint += (" Each row of the gradient sums to 0 (the softmax sums to 1, the one-hot too); yours sum to "
                     f"{np.round(rows[:3], 4).tolist()} ...")
        expect_close(ex, what, values, expected, hint, rtol=GRAD_RTOL, atol=GRAD_ATOL)
    passed(ex, "(softmax(logits) - onehot(targets)) / N, stable for logits near +-1000")


# --- 04.2 the MLP's forward pass --------------------------------------------------------------------------------


def _mlp(ids: Any, E: Any, W1: Any, b1: Any, W2: Any, b2: Any, act: Callable[[Any], Any] | None = None,
         order: str = "oldest", use_b1: bool = True, use_b2: bool = True) -> Any:
    """The MLP's logits in float64, or one of the typical mistakes (another activation, order, a bias left out)."""
    import numpy as np

    ids, E = _i64(ids), _f64(E)
    W1, b1, W2, b2 = _f64(W1), _f64(b1), _f64(W2), _f64(b2)
    B, k = ids.shape
    if order == "newest":
        ids = ids[:, ::-1]
    x = E[ids].transpose(0, 2, 1).reshape(B, -1) if order == "interleaved" else E[ids].reshape(B, -1)
    pre = x @ W1 + (b1 if use_b1 else 0.0)
    h = np.tanh(pre) if act is None else act(pre)
    return h @ W2 + (b2 if use_b2 else 0.0)


def _relu(x: Any) -> Any:
    import numpy as np

    return np.maximum(x, 0.0)


def _sigmoid(x: Any) -> Any:
    import numpy as np

    return 1.0 / (1.0 + np.exp(-x))


def _tanh(x: Any) -> Any:
    import numpy as np

    return np.tanh(x)


_MLP_MISTAKES: dict[str, Callable[..., Any]] = {
    "newest first": lambda *a: _mlp(*a, order="newest"),
    "interleaved": lambda *a: _mlp(*a, order="interleaved"),
    "linear": lambda *a: _mlp(*a, act=lambda x: x),
    "relu": lambda *a: _mlp(*a, act=_relu),
    "sigmoid": lambda *a: _mlp(*a, act=_sigmoid),
    "no b1": lambda *a: _mlp(*a, use_b1=False),
    "no b2": lambda *a: _mlp(*a, use_b2=False),
    "no biases": lambda *a: _mlp(*a, use_b1=False, use_b2=False),
    "softmax": lambda *a: _softmax(_mlp(*a)),
    "log softmax": lambda *a: _log_softmax(_mlp(*a)),
    "tanh out": lambda *a: _tanh(_mlp(*a)),
}

_MLP_HINTS = {
    "newest first": "concatenate the embeddings oldest first, E[ids[:, 0]], ..., E[ids[:, k-1]] (that is "
                    "E[ids].reshape(B, k * d)); yours are in reverse order, the newest first.",
    "interleaved": "concatenate whole embeddings, one after the other: E[ids].reshape(B, k * d) (torch: "
                   "E[ids].view(B, -1) or torch.cat([E[ids[:, j]] for j in range(k)], dim=1)). Yours interleave "
                   "their coordinates (stacked on the last axis, then flattened).",
    "linear": "apply tanh to the hidden layer: h = tanh(x @ W1 + b1). Without it the two layers are one linear map.",
    "relu": "the hidden layer is tanh(x @ W1 + b1), not relu: use np.tanh / torch.tanh.",
    "sigmoid": "the hidden layer is tanh(x @ W1 + b1), not the sigmoid: use np.tanh / torch.tanh.",
    "no b1": "add the hidden bias: h = tanh(x @ W1 + b1).",
    "no b2": "add the output bias: logits = h @ W2 + b2.",
    "no biases": "add both biases: h = tanh(x @ W1 + b1), logits = h @ W2 + b2.",
    "softmax": "return logits, not probabilities: leave out the softmax (the loss, F.cross_entropy, applies it "
               "itself).",
    "log softmax": "return the logits themselves, h @ W2 + b2, not their log-softmax (the loss applies it).",
    "tanh out": "the output layer is linear: logits = h @ W2 + b2, with no tanh (logits are any real numbers).",
}


def _mlp_cases() -> list[tuple[str, tuple[Any, ...]]]:
    """Two settings with every size distinct (B, k, d, k * d, H, V), so that a transposed weight or embeddings
    summed instead of concatenated raise a shape error; pre-activations of about unit size, where tanh bends."""
    import numpy as np
    import torch

    rng = np.random.default_rng(42)

    def weights(B: int, k: int, d: int, H: int, V: int) -> tuple[Any, ...]:
        return (rng.integers(0, V, (B, k)), rng.normal(0.0, 1.0, (V, d)),
                rng.normal(0.0, 1.5 / math.sqrt(k * d), (k * d, H)), rng.normal(0.0, 0.5, H),
                rng.normal(0.0, 2.0 / math.sqrt(H), (H, V)), rng.normal(0.0, 0.5, V))

    first = weights(32, 3, 6, 40, 27)
    second = weights(50, 4, 5, 64, 30)
    as_torch = (torch.tensor(second[0]), *(torch.tensor(w, dtype=torch.float32) for w in second[1:]))
    return [
        ("mlp_logits(ids (32, 3) int64, E (27, 6), W1 (18, 40), b1 (40,), W2 (40, 27), b2 (27,): float64 arrays)",
         first),
        ("mlp_logits(ids (50, 4) torch.int64, E (30, 5), W1 (20, 64), b1 (64,), W2 (64, 30), b2 (30,): "
         "torch.float32 tensors)", as_torch),
    ]


def _shape_hint(args: tuple[Any, ...]) -> Callable[[Exception], str]:
    """The hint for an exception of the learner's mlp_logits on ``args``: a matrix product of two shapes that don't
    fit is read (numpy's and torch's messages) to tell which operand was wrong."""
    ids, E, W1 = (_to_numpy(a) for a in args[:3])
    k, (V, d), H = ids.shape[1], E.shape, W1.shape[1]

    def hint(err: Exception) -> str:
        text = str(err)
        found = re.search(r"\((\d+)x(\d+) and (\d+)x(\d+)\)", text)  # torch: (left rows x left cols and ...)
        if found:
            left, right = int(found[2]), int(found[3])
        elif found := re.search(r"size (\d+) is different from (\d+)", text):  # numpy: right rows, left cols
            left, right = int(found[2]), int(found[1])
        else:
            return ("ids is (B, k); E[ids] is (B, k, d): concatenate its k embeddings into x = E[ids].reshape(B, "
                    "k * d), then tanh(x @ W1 + b1) @ W2 + b2. Otherwise run your function on this input yourself "
                    "and read the traceback above.")
        if left == d and right == k * d:
            return (f"x must hold the k = {k} embeddings side by side, shape (B, k * d) = (B, {k * d}): "
                    f"E[ids].reshape(B, k * d). E[ids] is (B, k, d); a sum or mean over the context gives (B, {d}).")
        if (left, right) in ((k * d, H), (H, V)):
            name = "W1" if left == k * d else "W2"
            return (f"the weights are laid out for x @ W: {name} is {'(k * d, H)' if name == 'W1' else '(H, V)'}, "
                    f"so x @ {name}, with no transpose (torch.nn.Linear stores its weight the other way and computes "
                    "x @ W.T; F.linear(x, W) does that too).")
        return (f"a matrix product whose shapes don't fit: x is (B, k * d) = (B, {k * d}), W1 ({k * d}, {H}), "
                f"h (B, {H}), W2 ({H}, {V}); x @ W1, then h @ W2, no transposes.")

    return hint


#: The tolerance of exercise 04.2: logits of a few units, computed in float32 through a product of 20 and 64 terms.
MLP_RTOL, MLP_ATOL = 1e-4, 1e-5


@checker
def ch04_mlp_logits(mlp_logits: Callable[..., Any]) -> None:
    """Exercise 04.2: ``mlp_logits(ids, E, W1, b1, W2, b2)`` = tanh(x @ W1 + b1) @ W2 + b2, where
    x = concat(E[ids[:, 0]], ..., E[ids[:, k-1]]) = E[ids].reshape(B, k * d), the embeddings oldest first.

    ids (B, k) ids; E (V, d); W1 (k * d, H), b1 (H,), W2 (H, V), b2 (V,): laid out for x @ W, not
    torch.nn.Linear's W x. Two settings, every size distinct so that a transposed weight or summed embeddings raise:
    B, k, d, H, V = 32, 3, 6, 40, 27 as float64 numpy arrays (ids int64), then 50, 4, 5, 64, 30 as torch.float32
    tensors (ids torch.int64). The answer is (B, V) logits, an array or tensor (float32 is fine: rtol 1e-4, atol
    1e-5); the inputs must be left as they were. A shape error is told which operand was wrong (embeddings summed
    or averaged, a weight transposed); the hint names the mistake: newest first, coordinates interleaved, no tanh,
    relu or sigmoid, a bias left out, probabilities (softmax) or log-probabilities returned, tanh on the output.
    """
    import numpy as np

    ex = "04.2 (mlp_logits)"
    cases = _mlp_cases()
    same = _close_matrix(MLP_RTOL, MLP_ATOL)
    names = ("ids", "E", "W1", "b1", "W2", "b2")
    for i, (what, args) in enumerate(cases):
        given = tuple(_copy(a) for a in args)
        with _quiet_numerics():
            got = call(ex, mlp_logits, *given, hint=_shape_hint(args))
        changed = [name for name, g, a in zip(names, given, args) if not _unchanged(g, a)]
        if changed:
            fail(ex, f"{what} changed {', '.join(changed)}", Description("the inputs as given"),
                 Description(f"changed {', '.join(changed)}"),
                 "read the inputs; don't modify them (x @ W1 + b1 makes a new array, h += b1 or torch.tanh_(h) on a "
                 "view of an input writes into the caller's).")
        expected = _mlp(*args)
        B, V = expected.shape
        values = _matrix(got)
        if values is None or values.shape != (B, V):
            fail(ex, f"{what} should return the logits, shape (B, V) = ({B}, {V})", Description(f"shape ({B}, {V})"),
                 Description(f"shape {values.shape}") if values is not None else got,
                 "return one row of V logits per row of ids: tanh(x @ W1 + b1) @ W2 + b2 is (B, V)"
                 + (f" (this is {_kind(got)})." if values is None else "."))
        if np.allclose(values, expected, rtol=MLP_RTOL, atol=MLP_ATOL):
            continue
        others = [other for j, (_, o) in enumerate(cases) if j != i
                  for other in (tuple(_copy(a) for a in o), (_i64(o[0]), *(_f64(a) for a in o[1:])))]
        mistake = _match_mistake(got, tuple(_to_numpy(a).copy() for a in args), mlp_logits, others, _MLP_MISTAKES,
                                 same, confirm=True)
        if mistake is None and np.isfinite(values).all() and (values >= 0).all() and np.allclose(values.sum(axis=1),
                                                                                                1.0, rtol=1e-4):
            mistake = "softmax"
        hint = _MLP_HINTS.get(mistake or "", "x = E[ids].reshape(B, k * d) (the k embeddings side by side, oldest "
                                             "first), h = tanh(x @ W1 + b1), logits = h @ W2 + b2.")
        if mistake is None and (decimals := _rounded(values, expected)) is not None:
            hint = f"don't round: these are the logits rounded to {decimals} decimals."
        expect_close(ex, what, values, expected, hint, rtol=MLP_RTOL, atol=MLP_ATOL)
    passed(ex, "tanh(concat(E[ids]) @ W1 + b1) @ W2 + b2, the embeddings oldest first")


# --- 04.3 the loss of the count model ---------------------------------------------------------------------------


@functools.cache
def _names_counts() -> Any:
    """The character bigram counts of the names training split, as chapter 02 builds them: ``CharTokenizer`` fitted
    on the training names without newlines (``<pad>`` 0, ``<unk>`` 1, ``<bos>`` 2, ``<eos>`` 3, then ``a`` ..
    ``z``), each name ``<bos>`` ... ``<eos>``, all in one stream (so ``<eos>`` -> ``<bos>`` is counted too), N by
    np.add.at over its consecutive pairs. A 30 x 30 int64 array, read-only."""
    import numpy as np

    from lmcourse import data
    from lmcourse.tokenize import BOS, EOS, CharTokenizer

    train = data.splits("names").train
    tok = CharTokenizer().fit(train.replace("\n", ""))
    V, bos, eos = tok.vocab_size, tok.token_to_id(BOS), tok.token_to_id(EOS)
    table = np.full(128, -1, dtype=np.int64)
    for ch in sorted(set(train.replace("\n", ""))):
        table[ord(ch)] = tok.token_to_id(ch)
    table[ord("\n")] = eos  # every name ends with "\n": it becomes <eos>, and a <bos> goes before each name
    letters = table[np.frombuffer(train.encode("ascii"), dtype=np.uint8)]
    starts = np.flatnonzero(np.r_[True, letters[:-1] == eos])
    stream = np.insert(letters, starts, bos)
    N = np.zeros((V, V), dtype=np.int64)
    np.add.at(N, (stream[:-1], stream[1:]), 1)
    N.setflags(write=False)
    return N


def _count_loss(N: Any, base: float = math.e) -> float:
    """-sum N[a, b] log(N[a, b] / N[a].sum()) / N.sum(), over the cells with N > 0 (0 log 0 = 0)."""
    import numpy as np

    N = _f64(N)
    rows = N.sum(axis=1, keepdims=True)
    seen = N > 0
    P = N / np.where(rows > 0, rows, 1.0)
    return float(-(N[seen] * np.log(P[seen])).sum() / N.sum() / math.log(base))


def _count_parts(N: Any) -> tuple[Any, Any, Any]:
    """N (float64), the mask of its seen cells, ln P there (the row-conditional MLE)."""
    import numpy as np

    N = _f64(N)
    rows = N.sum(axis=1, keepdims=True)
    seen = N > 0
    return N, seen, np.log((N / np.where(rows > 0, rows, 1.0))[seen])


def _row_average(N: Any) -> float:
    import numpy as np

    N = _f64(N)
    used = N.sum(axis=1) > 0
    return float(np.mean([_count_loss(row[None, :]) for row in N[used]]))


def _joint_entropy(N: Any) -> float:
    """The entropy in nats of the joint distribution N / N.sum() (not the row-conditional model's loss)."""
    import numpy as np

    p = _f64(N) / _f64(N).sum()
    return float(-(p[p > 0] * np.log(p[p > 0])).sum())


def _add_one_loss(N: Any) -> float:
    import numpy as np

    N = _f64(N)
    P = (N + 1) / (N.sum(axis=1, keepdims=True) + N.shape[1])
    return float(-(N * np.log(P)).sum() / N.sum())


_LOSS_MISTAKES: dict[str, Callable[[Any], float]] = {
    "bits": lambda N: _count_loss(N, 2.0),
    "log10": lambda N: _count_loss(N, 10.0),
    "joint": lambda N: _joint_entropy(N),
    "sum": lambda N: _count_loss(N) * float(_f64(N).sum()),
    "cells": lambda N: float(-_count_parts(N)[2].mean()),
    "all cells": lambda N: _count_loss(N) * float(_f64(N).sum()) / _f64(N).size,
    "by V": lambda N: _count_loss(N) * float(_f64(N).sum()) / len(_f64(N)),
    "by rows": lambda N: _count_loss(N) * float(_f64(N).sum()) / int((_f64(N).sum(axis=1) > 0).sum()),
    "row average": _row_average,
    "sign": lambda N: -_count_loss(N),
    "perplexity": lambda N: math.exp(_count_loss(N)),
    "add-one": _add_one_loss,
}

_LOSS_HINTS = {
    "bits": "that is the loss in bits (log2): a network's cross-entropy loss (F.cross_entropy) is in nats, with the "
            "natural log (np.log, torch.log); bits are nats / ln 2.",
    "log10": "use the natural log (np.log, torch.log), not log10: the loss is in nats.",
    "joint": "that is the entropy of the joint distribution N / N.sum(): the model predicts the next token given "
             "the current one, P(b | a) = N[a, b] / N[a].sum(), normalised row by row.",
    "sum": "divide by the number of pairs, N.sum(): the loss is the mean over the pairs counted, not their total.",
    "cells": "weight each cell by its count: a pair seen 1,000 times counts 1,000 times, -sum N ln P / N.sum(), not "
             "the plain mean of ln P over the cells seen.",
    "all cells": "divide by the number of pairs, N.sum(), not by the number of cells V * V.",
    "by V": "divide by the number of pairs, N.sum(), not by V (the number of rows).",
    "by rows": "divide by the number of pairs, N.sum(), not by the number of rows used.",
    "row average": "weight each row by how often it occurs: the mean over all pairs, -sum N ln P / N.sum(), not the "
                   "plain average of each row's mean loss.",
    "sign": "the loss is -sum N ln P / N.sum(), a positive number: ln P is negative.",
    "perplexity": "that is the perplexity, exp(loss): return the loss itself, in nats.",
    "add-one": "use the unsmoothed counts, P = N / N.sum(axis=1, keepdims=True): the best model of the pairs "
               "counted is the maximum-likelihood one; smoothing makes it worse there.",
}


def _like(matrix: list[list[int]], case: Any) -> Any:
    """``matrix`` in the container of ``case``: a list of lists, a numpy array or a torch tensor of its dtype."""
    import numpy as np

    if hasattr(case, "clone"):
        import torch

        return torch.tensor(matrix, dtype=case.dtype)
    if isinstance(case, np.ndarray):
        return np.array(matrix, dtype=case.dtype)
    return [list(row) for row in matrix]


@checker
def ch04_count_model_loss(count_model_loss: Callable[[Any], Any]) -> None:
    """Exercise 04.3: ``count_model_loss(N)`` = -sum_{a,b} N[a, b] ln(N[a, b] / N[a].sum()) / N.sum(), with
    0 ln 0 = 0: the mean cross-entropy in nats per pair of the MLE bigram model on the pairs it counted (the loss a
    bigram network converges to on its training pairs).

    N is a V x V table of counts: a hand-made 4 x 4 list of lists (an empty row, zero cells), the names training
    split's character bigram counts as chapter 02 builds them (30 x 30, int64 array: two rows empty, 288 zero
    cells) and the same as a torch.int64 tensor. The answer is one number (float32 is fine: rtol 1e-5); N must be
    left as it was. A nan is told whether it came from 0 ln 0 or from dividing an empty row by 0 (the learner's
    function is run on two small tables to tell). The hint names the mistake: bits or log10, the joint entropy, the
    sum instead of the mean, the mean over cells or rows instead of weighting by counts, / V, / V^2, / rows used,
    the sign, the perplexity, add-one smoothing.
    """
    import numpy as np
    import torch

    ex = "04.3 (count_model_loss)"
    names_N = _names_counts()
    hand = [[0, 6, 2, 0], [0, 0, 0, 0], [5, 1, 0, 2], [1, 0, 9, 0]]
    cases: list[tuple[str, Any]] = [
        (f"count_model_loss({hand})", hand),
        ("count_model_loss(the character bigram counts of the names training split, a 30 x 30 int64 array)",
         np.array(names_N)),
        ("count_model_loss(the same counts as a torch.int64 tensor)", torch.tensor(names_N)),
    ]

    def same(got: Any, theirs: float) -> bool:
        value = _real(got)
        return value is not None and math.isclose(value, theirs, rel_tol=1e-5)

    for i, (what, N) in enumerate(cases):
        given = _copy(N)
        with _quiet_numerics():
            got = call(ex, count_model_loss, given,
                       hint="N may be a list of lists, a numpy array or a torch tensor: np.asarray(N, dtype=float) "
                            "(torch: N.double()) makes either a float array. Otherwise run your function on this "
                            "input yourself and read the traceback above.")
        if not _unchanged(given, N):
            fail(ex, f"{what} changed the counts it was given", Description("the counts as given"),
                 Description("changed counts"),
                 "read N; don't modify it (N / N.sum(...) makes a new array, N[N == 0] = 1 or N += 1 write into "
                 "the caller's).")
        expected = _count_loss(N)
        value = number(ex, f"{what}: the result", got, round(expected, 6),
                       "return one number, the mean loss in nats per pair (a float).")
        if math.isnan(value):
            with _quiet_numerics():
                zero_cell = _nan_on(count_model_loss, _like([[2, 0, 1], [1, 3, 2], [1, 1, 1]], N))
                empty_row = _nan_on(count_model_loss, _like([[2, 1, 1], [0, 0, 0], [1, 3, 2]], N))
            hint = ("0 ln 0 came out nan (0 * -inf): a cell never seen contributes nothing, 0 ln 0 = 0. Sum over the "
                    "seen cells only, N[N > 0] (or np.where(N > 0, ..., 0), torch.xlogy)." if zero_cell else
                    "a row of zeros (a token never followed by anything) divides 0 by 0: normalise only the rows "
                    "with a total above 0 (np.maximum(N.sum(axis=1, keepdims=True), 1)), and skip the zero cells."
                    if empty_row else
                    "nan comes from 0 / 0 or 0 * log 0: skip the cells with N = 0 (0 ln 0 = 0), and divide only "
                    "rows whose total is above 0.")
            fail(ex, what, round(expected, 6), value, hint)
        if math.isclose(value, expected, rel_tol=1e-5):
            continue
        others = [(_like(hand, np.zeros(0, dtype=np.int64)),), (np.array(names_N),)]
        others = [o for j, o in enumerate(others) if j != min(i, 1)]
        mistake = _match_mistake(got, (_i64(N),), count_model_loss, others, _LOSS_MISTAKES, same, confirm=True)
        hint = _LOSS_HINTS.get(mistake or "", "P(b | a) = N[a, b] / N[a].sum(), row by row; the loss is "
                                              "-sum N[a, b] ln P(b | a) over the cells with N > 0, divided by the "
                                              "number of pairs N.sum().")
        if mistake is None and (decimals := _rounded(value, expected)) is not None:
            hint = f"don't round: this is the loss rounded to {decimals} decimals."
        expect_close(ex, what, value, expected, hint, rtol=1e-5, atol=0.0)
    passed(ex, f"the MLE bigram model's loss on its own pairs, {_count_loss(names_N):.4f} nats per pair on the names")


def _nan_on(fn: Callable[[Any], Any], N: Any) -> bool:
    """Whether ``fn(N)`` is one number and nan (an exception or anything else: False)."""
    try:
        value = _real(fn(N))
    except Exception:  # noqa: BLE001 - the learner's code failing here tells nothing about the nan
        return False
    return value is not None and math.isnan(value)


# --- 04.4 counting the parameters -----------------------------------------------------------------------------


def _params(V: int, c: int, d: int, h: int) -> int:
    return V * d + c * d * h + h + h * V + V


_PARAM_MISTAKES: dict[str, Callable[[int, int, int, int], int]] = {
    "padding row": lambda V, c, d, h: _params(V, c, d, h) + d,
    "no biases": lambda V, c, d, h: _params(V, c, d, h) - h - V,
    "no b1": lambda V, c, d, h: _params(V, c, d, h) - h,
    "no b2": lambda V, c, d, h: _params(V, c, d, h) - V,
    "per position": lambda V, c, d, h: _params(V, c, d, h) + (c - 1) * V * d,
    "input d": lambda V, c, d, h: _params(V, c, d, h) - (c - 1) * d * h,
    "output twice": lambda V, c, d, h: _params(V, c, d, h) + h * V,
    "no embedding": lambda V, c, d, h: _params(V, c, d, h) - V * d,
    "direct": lambda V, c, d, h: _params(V, c, d, h) + c * d * V,
    "padding, no biases": lambda V, c, d, h: _params(V, c, d, h) + d - h - V,
}

_PARAM_HINTS = {
    "padding row": "the exercise counts V rows of the embedding table, V * d: lmcourse.models.MLPLM adds one more "
                   "row, (V + 1) * d, for its 'before the start' padding token, which this model does not have.",
    "no biases": "count the biases too: b1 has H entries and b2 has V.",
    "no b1": "count the hidden layer's bias b1 too: H entries.",
    "no b2": "count the output layer's bias b2 too: V entries.",
    "per position": "there is one embedding table, V * d, shared by all the context positions, not one per "
                    "position (context * V * d).",
    "input d": "the hidden layer reads the context's embeddings concatenated, context * d numbers: its weight is "
               "(context * d) x H, not d x H.",
    "output twice": "count the output layer's weight once: H * V (the hidden and output layers are two matrices, "
                    "(context * d) x H and H x V).",
    "no embedding": "count the embedding table too: V * d trainable numbers.",
    "direct": "this model has no direct connection from the embeddings to the output (Bengio et al.'s optional "
              "W): leave out the context * d * V.",
    "padding, no biases": "count the biases b1 (H) and b2 (V); and the embedding table has V rows, V * d (the "
                          "package's MLPLM adds a padding row, the exercise does not).",
}


@checker
def ch04_mlp_parameter_count(mlp_parameter_count: Callable[[int, int, int, int], Any]) -> None:
    """Exercise 04.4: ``mlp_parameter_count(V, context, d, hidden)`` = V * d + (context * d) * hidden + hidden
    + hidden * V + V, the trainable parameters of the MLP language model (embedding table, hidden layer with its
    bias, output layer with its bias), as an int.

    Four settings, all ints: (30, 3, 10, 200), (70, 8, 24, 512), (27, 5, 2, 100), (1000, 4, 64, 300). The answer
    must be one int (Python's, numpy's, or a 0-d integer tensor): a float such as 1234.0 is told to return an int.
    The hint names the mistake: a bias forgotten (either or both), one embedding table per position, the hidden
    layer reading d inputs instead of context * d, the output weight counted twice, the embedding table left out,
    Bengio's direct connection added, and the package's MLPLM's extra padding row, (V + 1) * d.
    """
    ex = "04.4 (mlp_parameter_count)"
    cases = [(30, 3, 10, 200), (70, 8, 24, 512), (27, 5, 2, 100), (1000, 4, 64, 300)]

    def same(got: Any, theirs: int) -> bool:
        value = _real(got)
        return value is not None and value == theirs

    for i, args in enumerate(cases):
        what = "mlp_parameter_count(V={}, context={}, d={}, hidden={})".format(*args)
        got = call(ex, mlp_parameter_count, *args)
        expected = _params(*args)
        value = number(ex, f"{what}: the result", got, expected, "return one whole number, the count (an int).")
        if value != expected:
            others = [o for j, o in enumerate(cases) if j != i]
            mistake = _match_mistake(got, args, mlp_parameter_count, others, _PARAM_MISTAKES, same, confirm=True)
            V, c, d, h = args
            hint = _PARAM_HINTS.get(mistake or "", f"add the embedding table V * d = {V * d}, the hidden layer "
                                                   f"(context * d) * hidden + hidden = {c * d * h + h} and the "
                                                   f"output layer hidden * V + V = {h * V + V}.")
            fail(ex, what, expected, got, hint)
        if _whole(got) is None:
            fail(ex, f"{what} should be an int", expected, got,
                 f"the count is right, but {_kind(got)}: return an int (int(...), or compute with ints only: "
                 "/ makes a float, // or * keep an int). A parameter count is a whole number.")
    passed(ex, "V d + (context d) hidden + hidden + hidden V + V, as an int")
