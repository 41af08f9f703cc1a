"""Checkers of chapter 12 (cost, scale and safety): exercises 12.1-12.3 (in ``12_cost_scale``) and 12.4-12.6
(``12_safety``).

The references are computed here, in a few lines each, not taken from the chapter's modules (``lmcourse.scaling``,
``lmcourse.safety``, ``lmcourse.probes``): a TransformerLM's training FLOPs per token (12.1: 2 FLOPs per multiply-add,
matrix products only, backward = 2 x forward: what ``torch.utils.flop_counter`` counts for a training step), the
compute-optimal split of a budget by the rule of thumb of Hoffmann et al. 2022 (12.2: C = 6 N D and 20 tokens per
parameter), the bytes a worker sends in a ring all-reduce (12.3: 2 (p - 1) / p N b, Patarasuk and Yuan 2009), a
canary's exposure (12.4: Carlini et al. 2019, log2 of the candidates minus log2 of the rank), the add-alpha smoothed
log-odds of a word between two sets of co-occurrence counts (12.5, as in Monroe et al. 2008 without the prior's
weighting) and a head's "previous newline" score (12.6: the mean attention a query puts on the most recent newline at
or before it).

The inputs are shaped like the chapter's: TransformerConfigs like the course's (V 70-76, contexts up to 64, 1-4
layers) and GPT-2 small's; the compute budgets of Chinchilla and GPT-3; data-parallel runs of 2 to 1024 workers; a
canary among 26^4 candidates; the words that follow "he" and "she" in the course's Shakespeare; attention maps over
64 characters of a play. An answer may return Python, numpy or torch numbers, float32 or float64, ints where the
result is a whole number or floats where it is a count. The typical mistakes are computed (in float64) to tell which
one an answer makes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from lmcourse.checks.core import (
    Description,
    _changed_hint,
    _copy,
    _f64,
    _floats,
    _kind,
    _match_mistake,
    _quiet_numerics,
    _real,
    _to_numpy,
    _unchanged,
    call,
    checker,
    fail,
    number,
    passed,
)

#: How an answer of 12.5 writes into its dicts of counts.
_WRITES_DICTS = ("counts_a[word] = ..., counts_a.setdefault(word, 0), .pop(...), .update(...) or del on an input dict "
                 "writes into the caller's.")

#: How an answer of 12.6 writes into the attention map.
_WRITES_MAP = ("att[...] = ..., att *= ..., att.masked_fill_(...) or any torch method ending in _ writes into the "
               "caller's map (so does np.asarray(att), which shares the tensor's memory, followed by a write).")


def _same_number(rel: float, abs_tol: float = 1e-9) -> Callable[[Any, Any], bool]:
    """A ``same`` for :func:`_match_mistake`: ``got`` is one real number close to ``theirs`` (nan where it is nan,
    the same infinity where it is one)."""

    def same(got: Any, theirs: Any) -> bool:
        value = _real(got)
        if value is None:
            return False
        if math.isnan(theirs):
            return math.isnan(value)
        if math.isinf(theirs) or math.isinf(value):
            return value == theirs
        return math.isclose(value, theirs, rel_tol=rel, abs_tol=abs_tol)

    return same


def _shown(value: float) -> float | int:
    """A number as the failure message shows it: an int if it is a whole number (a count of FLOPs or bytes), else
    rounded to 6 decimals."""
    if math.isfinite(value) and value == round(value) and abs(value) < 2 ** 63:
        return int(value)
    return round(value, 6)


# --- 12.1 training FLOPs per token --------------------------------------------------------------------------------

def _flops(config: Any, context: int, how: str = "right") -> float:
    """Training FLOPs per token of a TransformerLM of ``config`` reading ``context`` tokens: 3 * (2 * 12 L E^2 + 2 * 2
    L T E + 2 V E), or one of the typical mistakes, by ``how``."""
    V, L, E, H = config.vocab_size, config.n_layer, config.n_embd, config.n_head
    if how == "6N":
        return 6 * config.n_params()
    if how == "6N non-embedding":
        return 6 * 12 * L * E * E
    T = config.block_size if how == "block_size" else context
    d = E // H
    dense = 2 * 12 * L * (E * d if how == "head_dim" else E * E)
    attention = {"no attention": 0, "causal half": 2 * L * T * E, "per sequence": 4 * L * T * T * E,
                 "one head": 4 * L * T * d}.get(how, 4 * L * T * E)
    head = 0 if how == "no head" or (how == "tied no head" and config.tie_weights) else 2 * V * E
    embedding = 2 * V * E if how == "embedding" else 0
    factor = {"forward": 1.0, "x2": 2.0, "macs": 1.5}.get(how, 3.0)
    return factor * (dense + attention + head + embedding)


_FLOPS_MISTAKES: dict[str, Callable[..., Any]] = {
    how: (lambda kind: lambda config, context: _flops(config, context, kind))(how)
    for how in ("forward", "x2", "macs", "no attention", "causal half", "per sequence", "no head", "tied no head",
                "6N", "6N non-embedding", "head_dim", "one head", "block_size", "embedding")
}

_FLOPS_HINTS = {
    "forward": "that is the forward pass alone: training also runs the backward pass, which costs two matrix "
               "products per forward one (the gradient with respect to the input and with respect to the weights). "
               "Multiply the forward FLOPs by 3.",
    "x2": "the backward pass costs TWICE the forward (two products per forward one: the input's gradient and the "
          "weights'), so training is forward + 2 x forward = 3 x forward, not 2 x.",
    "macs": "count 2 FLOPs per multiply-add (one multiply, one add): an (m x k) by (k x n) product is 2 m k n FLOPs. "
            "Yours counts the multiply-adds, half of it.",
    "no attention": "add the attention's own products: each layer compares the query with every one of the T keys "
                    "(q.k, T E multiply-adds) and mixes T values (T E more), 2 * 2 * L * T * E FLOPs per token "
                    "forward. Yours leaves them out (the 6N rule of thumb, 6 * 12 L E^2 + 6 V E, ignores them).",
    "causal half": "count every query against all T keys, as the model computes them: the causal mask sets half the "
                   "scores to -inf AFTER they are computed, it does not save the work. The attention term is 2 * 2 * "
                   "L * T * E, not half of it.",
    "per sequence": "count FLOPs per TOKEN: one query meets T keys, 2 * 2 * L * T * E. Yours has T * T, the whole "
                    "sequence's attention, which is T times one token's.",
    "no head": "add the output layer: the (E x V) product that turns each position's vector into V logits, 2 * V * E "
               "FLOPs per token forward (with V = 50257 it is a third of GPT-2 small's cost).",
    "tied no head": "the output layer costs 2 * V * E FLOPs per token even when tie_weights is True: tying shares the "
                    "embedding's PARAMETERS with the head, not its work. The product with the V x E matrix still "
                    "runs.",
    "6N": "6 * n_params() is a rule of thumb, not the count: it counts the embeddings (a lookup, no product), leaves "
          "out the attention's T-dependent products and, with tied weights, the output layer. Count the matrix "
          "products: 2 * 12 * L * E^2 + 2 * 2 * L * T * E + 2 * V * E per token forward, times 3.",
    "6N non-embedding": "6 * 12 L E^2 is Kaplan's 6N with N the non-embedding parameters: it leaves out the "
                        "attention's products (2 * 2 * L * T * E forward) and the output layer (2 * V * E). Add both "
                        "before multiplying by 3.",
    "head_dim": "the weight matrices are E x E (q, k, v and the output projection) and E x 4E, 4E x E (the MLP): 12 "
                "E^2 per layer, E = n_embd. Yours uses E * head_dim, as if each matrix were as wide as one head; the "
                "n_head heads together span all E dimensions.",
    "one head": "every head compares its queries with the T keys: together the n_head heads of width head_dim span "
                "E, so the attention term is 2 * 2 * L * T * E (n_embd), not 2 * 2 * L * T * head_dim.",
    "block_size": "use context, the T the model reads here, not config.block_size (the longest it could read): the "
                  "attention term grows with the context actually used.",
    "embedding": "the token embedding is a lookup (a row of the table), not a matrix product: it costs no FLOPs. "
                 "Count the output layer's 2 * V * E once.",
}

_FLOPS_RULE = ("with L = config.n_layer, E = config.n_embd, V = config.vocab_size and T = context: forward = 2 * 12 * "
               "L * E**2 (the blocks' weights) + 2 * 2 * L * T * E (scores and weighted values) + 2 * V * E (the "
               "output layer); training = 3 * forward.")


def _flops_cases() -> list[tuple[Any, int, str]]:
    """(config, context, what): the chapter 08 reference model (V 70, 3 x 128, 4 heads, tied); one layer of 32 with an
    untied head; 4 x 256 untied read at a context of 32 of its 64; 2 x 64 tied, sinusoidal, at 16 of 32; GPT-2 small
    (V 50257, 12 x 768, 12 heads, tied) at its full context of 1024."""
    from lmcourse.transformer import TransformerConfig

    cases = []
    for kwargs, context in (
            (dict(vocab_size=70, block_size=64, n_layer=3, n_head=4, n_embd=128, tie_weights=True), 64),
            (dict(vocab_size=76, block_size=64, n_layer=1, n_head=2, n_embd=32, tie_weights=False), 64),
            (dict(vocab_size=72, block_size=64, n_layer=4, n_head=8, n_embd=256, tie_weights=False), 32),
            (dict(vocab_size=70, block_size=32, n_layer=2, n_head=4, n_embd=64, tie_weights=True,
                  positions="sinusoidal"), 16),
            (dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768, tie_weights=True), 1024)):
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        cases.append((TransformerConfig(**kwargs), context, f"training_flops(TransformerConfig({shown}), {context})"))
    return cases


@checker
def ch12_flops(training_flops: Callable[[Any, int], Any]) -> None:
    """Exercise 12.1: ``training_flops(config, context)`` = the training FLOPs per token of a TransformerLM of
    ``config`` reading ``context`` tokens: 3 * (2 * 12 L E^2 + 2 * 2 L T E + 2 V E), 2 FLOPs per multiply-add, matrix
    products only, the backward pass costing twice the forward, every query scored against all T keys.

    Five configurations: the chapter 08 reference model (V 70, 3 layers of 128, tied); one layer of 32 (untied); 4 x
    256 (untied) read at a context of 32 of its 64; 2 x 64 (tied, sinusoidal positions) at 16; GPT-2 small (V 50257,
    12 x 768, T 1024). The answer is one number, int or float (rel 1e-6). The hint names the mistake: the forward
    pass only, 2 x instead of 3 x, multiply-adds instead of FLOPs, the attention left out or halved for the causal
    mask or counted per sequence (T^2), the output layer left out (always, or when tied), 6 * n_params() or 6 * 12 L
    E^2, head_dim in place of E, config.block_size in place of the context, the embedding counted as a product.
    """
    ex = "12.1 (training_flops)"
    cases = _flops_cases()
    same = _same_number(1e-6)
    for i, (config, context, what) in enumerate(cases):
        with _quiet_numerics():
            got = call(ex, training_flops, config, context,
                       hint=f"config is a lmcourse.transformer.TransformerConfig, context an int; {_FLOPS_RULE}")
        expected = _flops(config, context)
        if same(got, expected):
            continue
        others = [(c, t) for j, (c, t, _) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (config, context), training_flops, others, _FLOPS_MISTAKES, same, confirm=True)
        hint = _FLOPS_HINTS.get(mistake or "", _FLOPS_RULE)
        value = number(ex, f"{what}: the result", got, _shown(expected), hint)
        fail(ex, what, _shown(expected), _shown(value), hint)
    passed(ex, "3 x (2 x 12 L E^2 + 2 x 2 L T E + 2 V E) per token: GPT-2 small costs 0.85 GFLOPs per token to "
               "train, 27% of it in the output layer")


# --- 12.2 compute-optimal model size and data --------------------------------------------------------------------

def _optimal(compute: float, how: str = "right") -> tuple[float, float]:
    """(N, D) = (sqrt(C / 120), 20 N): C = 6 N D with D = 20 N (Hoffmann et al. 2022's rule of thumb); or one of the
    typical mistakes, by ``how``."""
    n = {"no sqrt": compute / 120, "no 6": math.sqrt(compute / 20), "2N": math.sqrt(compute / 40),
         "no ratio": math.sqrt(compute / 6),
         "no ratio, 20N": math.sqrt(compute / 6), "precedence": compute / math.sqrt(120)}.get(
        how, math.sqrt(compute / 120))
    d = {"no ratio": n, "D = C/6": compute / 6, "D = N/20": n / 20}.get(how, 20 * n)
    return (d, n) if how == "swapped" else (n, d)


_OPTIMAL_MISTAKES: dict[str, Callable[[float], Any]] = {
    how: (lambda kind: lambda compute: _optimal(compute, kind))(how)
    for how in ("swapped", "no sqrt", "no 6", "2N", "no ratio", "no ratio, 20N", "precedence", "D = C/6", "D = N/20")
}

_OPTIMAL_HINTS = {
    "swapped": "return (n_params, tokens) in this order: the parameters first, the tokens (20 times more) second. "
               "Yours are swapped.",
    "no sqrt": "take the square root: C = 6 N D with D = 20 N is C = 120 N^2, so N = sqrt(C / 120). Yours is C / "
               "120, as if the compute grew linearly with N.",
    "no 6": "each parameter costs 6 FLOPs per token in training (2 forward, 4 backward): C = 6 N D = 6 N (20 N) = "
            "120 N^2, so N = sqrt(C / 120). Yours divides by 20 only (the 6 is missing).",
    "2N": "2N FLOPs per token is the forward pass only; training costs 6N per token, so C = 6ND: with D = 20 N, "
          "C = 120 N^2 and N = sqrt(C / 120). Yours takes C = 2 N D (N = sqrt(C / 40)).",
    "no ratio": "the rule is 20 tokens per parameter, D = 20 N: C = 6 N D = 120 N^2, so N = sqrt(C / 120) and D = "
                "20 N. Yours spends the budget on as many tokens as parameters (N = D = sqrt(C / 6)).",
    "no ratio, 20N": "put the 20 tokens per parameter into the budget too: C = 6 N D = 6 N (20 N) = 120 N^2, so N = "
                     "sqrt(C / 120). Yours solves C = 6 N^2 (N = sqrt(C / 6)) and only then sets D = 20 N, which "
                     "spends 20 times the budget.",
    "precedence": "mind the brackets: N = (C / 120) ** 0.5. Yours computes C / 120 ** 0.5 (** binds tighter than /), "
                  "which divides by sqrt(120) and takes no square root of C.",
    "D = C/6": "the tokens are what is left of the budget after the model: D = C / (6 N) (= 20 N). Yours is C / 6, "
               "as if the model had a single parameter.",
    "D = N/20": "20 tokens PER PARAMETER: D = 20 * N, many more tokens than parameters. Yours divides N by 20.",
}

_OPTIMAL_RULE = ("C = 6 N D and D = 20 N give C = 120 N^2: n_params = sqrt(compute / 120), tokens = 20 * n_params; "
                 "return the pair (n_params, tokens).")


@checker
def ch12_compute_optimal(compute_optimal: Callable[[float], Any]) -> None:
    """Exercise 12.2: ``compute_optimal(compute)`` = ``(n_params, tokens)`` by Hoffmann et al. 2022's rule of thumb,
    20 tokens per parameter with C = 6 N D: N = sqrt(C / 120), D = 20 N.

    Four budgets, Python floats: 1e15 FLOPs (a laptop's afternoon), 3.2e17, 5.76e23 (Chinchilla's: N = 6.9e10, D =
    1.4e12) and 3.14e23 (GPT-3's). The answer is a tuple, list, numpy array or tensor of two numbers, ints or floats
    (rel 1e-6). The hint names the mistake: N and D swapped, no square root, the 6 or the 20 left out of the budget,
    C = 2 N D (the forward pass only), C / 120 ** 0.5, D = C / 6, D = N / 20, one number instead of two.
    """
    import numpy as np

    ex = "12.2 (compute_optimal)"
    cases = [1e15, 3.2e17, 5.76e23, 3.14e23]

    def pair(value: Any) -> Any:
        values = _floats(value)
        return values if values is not None and values.shape == (2,) else None

    def same(got: Any, theirs: Any) -> bool:
        values = pair(got)
        return values is not None and bool(np.allclose(values, theirs, rtol=1e-6, atol=0))

    for i, compute in enumerate(cases):
        what = f"compute_optimal({compute:g})"
        with _quiet_numerics():
            got = call(ex, compute_optimal, compute, hint=f"compute is a Python float (FLOPs); {_OPTIMAL_RULE}")
        expected = _optimal(compute)
        if same(got, expected):
            continue
        shown = tuple(float(f"{v:.7g}") for v in expected)
        values = pair(got)
        if values is None:
            one = _real(got)
            if one is not None:
                which = ("n_params alone" if math.isclose(one, expected[0], rel_tol=1e-6) else
                         "tokens alone" if math.isclose(one, expected[1], rel_tol=1e-6) else "one number")
                fail(ex, f"{what} should return two numbers, (n_params, tokens)", shown, got,
                     f"return both, e.g. `return n_params, tokens`; yours is {which}. {_OPTIMAL_RULE}")
            fail(ex, f"{what} should return two numbers, (n_params, tokens)", shown, Description(_kind(got)),
                 f"return a tuple of two numbers, e.g. `return n_params, tokens`. {_OPTIMAL_RULE}")
        others = [(c,) for j, c in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (compute,), compute_optimal, others, _OPTIMAL_MISTAKES, same, confirm=True)
        fail(ex, what, shown, tuple(float(f"{v:.7g}") for v in values), _OPTIMAL_HINTS.get(mistake or "",
                                                                                           _OPTIMAL_RULE))
    passed(ex, "N = sqrt(C / 120), D = 20 N: Chinchilla's 5.76e23 FLOPs buy 69 billion parameters and 1.4 trillion "
               "tokens")


# --- 12.3 bytes sent in a ring all-reduce -------------------------------------------------------------------------

def _allreduce(n_params: int, world_size: int, bytes_per_value: int, how: str = "right") -> float:
    """Bytes each of ``world_size`` workers sends in a ring all-reduce of ``n_params`` values: 2 (p - 1) / p N b
    (reduce-scatter, then all-gather, each (p - 1) / p of the data); or one of the typical mistakes, by ``how``."""
    N, p, b = n_params, world_size, bytes_per_value
    return {"half": (p - 1) / p * N * b, "N b": N * b, "2 N b": 2 * N * b, "bits": 8 * 2 * (p - 1) / p * N * b,
            "naive": (p - 1) * N * b, "not divided": 2 * (p - 1) * N * b, "values": 2 * (p - 1) / p * N,
            "sent and received": 4 * (p - 1) / p * N * b}.get(how, 2 * (p - 1) / p * N * b)


_ALLREDUCE_MISTAKES: dict[str, Callable[..., Any]] = {
    how: (lambda kind: lambda *args: _allreduce(*args, how=kind))(how)
    for how in ("half", "N b", "2 N b", "bits", "naive", "not divided", "values", "sent and received")
}

_ALLREDUCE_HINTS = {
    "half": "that is the reduce-scatter alone, (p - 1) / p of the gradients: each worker then holds the sum of one "
            "p-th, and an all-gather sends those sums round the ring, (p - 1) / p more. Together 2 (p - 1) / p N b.",
    "N b": "a ring all-reduce does not send the gradients once: reduce-scatter and all-gather each send (p - 1) / p "
           "of them, 2 (p - 1) / p N b in all. That is N b only for p = 2 (and tends to 2 N b for many workers).",
    "2 N b": "2 N b is the limit for many workers; with p workers each sends 2 (p - 1) / p N b: the p-th of the "
             "gradients it is responsible for never leaves it.",
    "bits": "count BYTES: N values of bytes_per_value bytes each are N * bytes_per_value bytes. Yours is 8 times "
            "that, the bits.",
    "naive": "that is the naive exchange (every worker sends all its gradients to each of the p - 1 others), which "
             "grows with p. A ring sends 2 (p - 1) / p N b per worker, less than 2 N b however many workers.",
    "not divided": "divide by p: in a ring each of the 2 (p - 1) steps sends one CHUNK, a p-th of the gradients, so "
                   "a worker sends 2 (p - 1) / p N b, not 2 (p - 1) N b.",
    "values": "multiply by bytes_per_value: the answer is in bytes, not values. Yours is 2 (p - 1) / p N, the "
              "number of values a worker sends.",
    "sent and received": "count what one worker sends; it receives as much again. Yours is 4 (p - 1) / p N b, what "
                         "it sends and receives together.",
}

_ALLREDUCE_RULE = ("each worker sends 2 * (world_size - 1) / world_size * n_params * bytes_per_value bytes: (p - 1) / "
                   "p of the data in the reduce-scatter and as much in the all-gather; 0 for one worker.")

_ONE_WORKER_HINT = ("with world_size = 1 there is no one to exchange gradients with: nothing is sent, 0 bytes (the "
                    "formula 2 (p - 1) / p N b gives 0 by itself; don't special-case p = 1 to anything else).")


@checker
def ch12_allreduce(allreduce_bytes: Callable[[int, int, int], Any]) -> None:
    """Exercise 12.3: ``allreduce_bytes(n_params, world_size, bytes_per_value)`` = the bytes each worker sends per
    step in a ring all-reduce of the gradients: 2 (p - 1) / p N b, 0 for p = 1.

    Four runs, Python ints: the chapter's model (237,000 parameters) on 2 CPU processes in float32; GPT-2 small (124
    million) on 8 GPUs in bf16; 70 billion parameters on 1024 GPUs in bf16; 1000 parameters on one worker (0 bytes).
    The answer is one number, int or float (rel 1e-6). The hint names the mistake: the reduce-scatter only, N b, 2 N
    b, bits instead of bytes, values instead of bytes (no bytes_per_value), the bytes sent and received (4 (p - 1) / p
    N b), the naive (p - 1) N b, 2 (p - 1) N b (not divided by p), one worker not giving 0.
    """
    ex = "12.3 (allreduce_bytes)"
    cases = [(237_000, 2, 4), (124_000_000, 8, 2), (70_000_000_000, 1024, 2), (1000, 1, 4)]
    same = _same_number(1e-6)
    for i, args in enumerate(cases):
        what = "allreduce_bytes(n_params={}, world_size={}, bytes_per_value={})".format(*args)
        one = args[1] == 1

        def crash_hint(err: Exception, one: bool = one) -> str:
            if one and isinstance(err, (ZeroDivisionError, ValueError)):
                return _ONE_WORKER_HINT
            return f"n_params, world_size and bytes_per_value are ints; {_ALLREDUCE_RULE}"

        with _quiet_numerics():
            got = call(ex, allreduce_bytes, *args, hint=crash_hint)
        expected = _allreduce(*args)
        if same(got, expected):
            continue
        others = [o for j, o in enumerate(cases) if j != i]
        mistake = _match_mistake(got, args, allreduce_bytes, others, _ALLREDUCE_MISTAKES, same, confirm=True)
        hint = _ONE_WORKER_HINT if one and mistake is None else _ALLREDUCE_HINTS.get(mistake or "", _ALLREDUCE_RULE)
        value = number(ex, f"{what}: the result", got, _shown(expected), hint)
        fail(ex, what, _shown(expected), _shown(value), hint)
    passed(ex, "2 (p - 1) / p N b per worker: never more than twice the gradients, however many workers")


# --- 12.4 a canary's exposure -------------------------------------------------------------------------------------

def _exposure(rank: int, n_candidates: int, how: str = "right") -> float:
    """Exposure in bits, log2(n_candidates) - log2(rank) with rank 1 for the most likely candidate (Carlini et al.
    2019); or one of the typical mistakes, by ``how``. Computed with numpy: log 0 is -inf, not an error."""
    import numpy as np

    with np.errstate(all="ignore"):
        r, n = np.float64(rank), np.float64(n_candidates)
        value = float({"ln": np.log(n) - np.log(r), "log10": np.log10(n) - np.log10(r),
                       "rank + 1": np.log2(n) - np.log2(r + 1), "rank - 1": np.log2(n) - np.log2(r - 1),
                       "sign": np.log2(r) - np.log2(n), "log2(rank)": np.log2(r), "log2(n)": np.log2(n),
                       "n / rank": n / r}.get(how, np.log2(n) - np.log2(r)))
    rounded = {"int": lambda x: int(x), "round": lambda x: round(x), "round 1": lambda x: round(x, 1),
               "round 2": lambda x: round(x, 2)}.get(how)
    return float(rounded(value)) if rounded is not None else value


_EXPOSURE_MISTAKES: dict[str, Callable[[int, int], Any]] = {
    how: (lambda kind: lambda rank, n: _exposure(rank, n, kind))(how)
    for how in ("ln", "log10", "rank + 1", "rank - 1", "sign", "log2(rank)", "log2(n)", "n / rank", "int", "round",
                "round 1", "round 2")
}

_EXPOSURE_HINTS = {
    "ln": "exposure is in BITS: use log2 (math.log2). Yours uses the natural log, which gives nats (ln 2 = 0.69 "
          "times the bits).",
    "log10": "exposure is in BITS: use log2 (math.log2). Yours uses log10 (0.30 times the bits).",
    "rank + 1": "the rank is already 1-based: the most likely candidate has rank 1 (exposure log2(n), the most "
                "there is). Don't add 1 to it.",
    "rank - 1": "the rank is 1-based: the most likely candidate has rank 1, and log2(1) = 0. Use the rank as it is; "
                "subtracting 1 makes rank 1 a log of 0.",
    "sign": "exposure is log2(n_candidates) - log2(rank), positive: the better the canary's rank (the smaller), the "
            "more exposed it is. Yours has the sign flipped.",
    "log2(rank)": "exposure is log2(n_candidates) - log2(rank): how many bits better than a random guess among the "
                  "candidates. Yours is log2(rank) alone.",
    "log2(n)": "subtract log2(rank): a canary ranked last of the n candidates is not exposed at all (exposure 0), "
               "one ranked first has log2(n). Yours ignores the rank.",
    "n / rank": "take the log base 2: exposure = log2(n_candidates / rank), in bits. Yours is the ratio itself.",
    **dict.fromkeys(("int", "round", "round 1", "round 2"),
                    "return the float itself, unrounded: yours is rounded (int(...) or round(...)), and the check "
                    "compares to 1e-5. Round only where you print it, e.g. f\"{exposure:.2f}\"."),
}

_EXPOSURE_RULE = "exposure = log2(n_candidates) - log2(rank) bits, rank 1 for the most likely candidate."


@checker
def ch12_exposure(exposure: Callable[[int, int], Any]) -> None:
    """Exercise 12.4: ``exposure(rank, n_candidates)`` = log2(n_candidates) - log2(rank) bits (Carlini et al. 2019),
    rank 1-based.

    Five cases, Python ints: a 4-letter canary among 26^4 candidates ranked first (18.8 bits), last (0), and 37th; a
    3-letter one among 26^3 ranked 5th; the 1000th of a million. The answer is one number (rel 1e-5, abs 1e-5: a
    float32 log is that good). The hint names the mistake: the natural log or log10, the rank taken as 0-based (+ 1
    or - 1), the sign flipped, log2(rank) or log2(n) alone, the ratio without the log, the result rounded (int(...),
    round(x), round(x, 1) or round(x, 2)).
    """
    ex = "12.4 (exposure)"
    cases = [(1, 26 ** 4), (26 ** 4, 26 ** 4), (37, 26 ** 4), (5, 26 ** 3), (1000, 10 ** 6)]
    same = _same_number(1e-5, 1e-5)
    for i, (rank, n) in enumerate(cases):
        what = f"exposure(rank={rank}, n_candidates={n})"

        def crash_hint(err: Exception, first: bool = rank == 1) -> str:
            if first and isinstance(err, (ZeroDivisionError, ValueError)):
                return _EXPOSURE_HINTS["rank - 1"]
            return f"rank and n_candidates are ints; {_EXPOSURE_RULE}"

        with _quiet_numerics():
            got = call(ex, exposure, rank, n, hint=crash_hint)
        expected = _exposure(rank, n)
        if same(got, expected):
            continue
        others = [o for j, o in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (rank, n), exposure, others, _EXPOSURE_MISTAKES, same, confirm=True)
        hint = _EXPOSURE_HINTS.get(mistake or "", _EXPOSURE_RULE)
        value = number(ex, f"{what}: the result", got, round(expected, 6), hint)
        fail(ex, what, round(expected, 6), round(value, 6), hint)
    passed(ex, "log2(n_candidates) - log2(rank): a canary ranked first among 26^4 is exposed by 18.8 bits, one "
               "ranked last by 0")


# --- 12.5 smoothed log-odds ---------------------------------------------------------------------------------------

def _log_odds(counts_a: dict[str, int], counts_b: dict[str, int], word: str, alpha: float,
              how: str = "right") -> float:
    """log((a_w + alpha) / (A + alpha V)) - log((b_w + alpha) / (B + alpha V)) in nats, V the size of the union of the
    two dicts' words; or one of the typical mistakes, by ``how``. Computed with numpy: log 0 is -inf, not an error."""
    import numpy as np

    if how == "alpha 1":
        alpha = 1.0
    a, b = counts_a.get(word, 0), counts_b.get(word, 0)
    A, B = sum(counts_a.values()), sum(counts_b.values())
    V = {"V of a": len(counts_a), "V of b": len(counts_b), "V sum": len(counts_a) + len(counts_b),
         "V common": len(set(counts_a) & set(counts_b)),
         "V with word": len(set(counts_a) | set(counts_b) | {word})}.get(how, len(set(counts_a) | set(counts_b)))
    Va, Vb = (len(counts_a), len(counts_b)) if how == "own V" else (V, V)
    with np.errstate(all="ignore"):
        if how == "no smoothing":
            return float(np.log(np.float64(a) / A) - np.log(np.float64(b) / B))
        if how == "no totals":
            return float(np.log((a + alpha) / (b + alpha)))
        pa, pb = (a + alpha) / (A + (0 if how == "no alpha V" else alpha * Va)), \
            (b + alpha) / (B + (0 if how == "no alpha V" else alpha * Vb))
        log = {"log2": np.log2, "log10": np.log10}.get(how, np.log)
        if how == "no log":
            return float(pa / pb)
        return float(log(pb) - log(pa)) if how == "sign" else float(log(pa) - log(pb))


_LOG_ODDS_MISTAKES: dict[str, Callable[..., Any]] = {
    how: (lambda kind: lambda *args: _log_odds(*args, how=kind))(how)
    for how in ("no smoothing", "no totals", "sign", "log2", "log10", "no log", "V of a", "V of b", "V sum",
                "V common", "V with word", "own V", "no alpha V", "alpha 1")
}

_V_HINT = ("V is the number of distinct words in the two dicts together, len(set(counts_a) | set(counts_b)): each "
           "of them gets alpha, on both sides. ")

_LOG_ODDS_HINTS = {
    "no smoothing": "smooth: add alpha to the word's count on each side and alpha * V to each total, "
                    "(a_w + alpha) / (A + alpha * V). Without it a word one side never saw has probability 0 and a "
                    "log-odds of +-inf.",
    "no totals": "compare the two conditional PROBABILITIES, not the counts: divide each smoothed count by its own "
                 "smoothed total, (a_w + alpha) / (A + alpha * V), so that a side with more text does not win every "
                 "word.",
    "sign": "the log-odds of a over b: log(p_a(word)) - log(p_b(word)), positive when the word is more likely with "
            "a. Yours is b over a (the sign flipped).",
    "log2": "use the natural log (math.log, np.log): the result is in nats. Yours uses log2 (bits, 1.44 times the "
            "nats).",
    "log10": "use the natural log (math.log, np.log): the result is in nats. Yours uses log10.",
    "no log": "take the log of the ratio: log(p_a) - log(p_b), in nats. Yours returns the ratio p_a / p_b itself.",
    "V of a": _V_HINT + "Yours counts the words of counts_a only.",
    "V of b": _V_HINT + "Yours counts the words of counts_b only.",
    "V sum": _V_HINT + "Yours adds the two dicts' lengths, counting a word in both twice.",
    "V common": _V_HINT + "Yours counts only the words the two dicts share (the intersection, &, not the union, |).",
    "V with word": _V_HINT + "Yours adds the word asked about when neither dict has it; V is the dicts' words only.",
    "own V": "V is the number of distinct words of both dicts together, the same V on both sides: "
             "len(set(counts_a) | set(counts_b)). Yours gives each side its own, len(counts_a) in a's total and "
             "len(counts_b) in b's.",
    "no alpha V": "add alpha * V to each total: each of the V words gets alpha extra, so the smoothed probabilities "
                  "(a_w + alpha) / (A + alpha * V) still sum to 1. Yours divides by A alone.",
    "alpha 1": "use the alpha you are given (here 0.5): yours gives the same result as alpha = 1 (a 1 written into "
               "the formula instead of alpha?).",
}

_LOG_ODDS_RULE = ("a_w = counts_a.get(word, 0), A = sum(counts_a.values()) (the same for b), V = len(set(counts_a) | "
                  "set(counts_b)); log-odds = log((a_w + alpha) / (A + alpha * V)) - log((b_w + alpha) / (B + alpha * "
                  "V)), natural log.")

_ABSENT_HINT = ("a word absent from a dict has count 0 there: read it with counts_a.get(word, 0) (counts_a[word] "
                "raises KeyError). With the smoothing its probability is alpha / (A + alpha * V), not 0.")


@functools.lru_cache(maxsize=1)
def _pronoun_counts() -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    """The counts of the word that follows "he" and the word that follows "she" in the course's Shakespeare (words as
    lmcourse.probes reads them: lower case, letters with an inner apostrophe): 441 words in 1368 occurrences after
    "he", 219 in 555 after "she", 542 in the union."""
    import re
    from collections import Counter

    from lmcourse.data import load_text

    words = re.findall(r"[a-z]+(?:'[a-z]+)?", load_text("shakespeare").lower())
    follow = {w: Counter(words[i + 1] for i in range(len(words) - 1) if words[i] == w) for w in ("he", "she")}
    return tuple(sorted(follow["he"].items())), tuple(sorted(follow["she"].items()))


def _log_odds_cases() -> list[tuple[dict[str, int], dict[str, int], str, float]]:
    """(he_counts, she_counts, word, alpha): 'is' (135 after he, 63 after she) and 'speaks' (8 and 7) with alpha 1.0
    and 0.5; 'gave', only after she, and 'bears', only after he; 'sword', after neither."""
    he, she = (dict(items) for items in _pronoun_counts())
    return [(dict(he), dict(she), word, alpha)
            for word, alpha in (("is", 1.0), ("speaks", 0.5), ("gave", 1.0), ("bears", 0.5), ("sword", 1.0))]


@checker
def ch12_log_odds(log_odds: Callable[[dict[str, int], dict[str, int], str, float], Any]) -> None:
    """Exercise 12.5: ``log_odds(counts_a, counts_b, word, alpha)`` = log((a_w + alpha) / (A + alpha V)) - log((b_w +
    alpha) / (B + alpha V)) nats, A and B the totals, V the number of distinct words of the two dicts together, a_w =
    0 for a word counts_a does not have.

    Five cases on the words that follow "he" (counts_a: 441 words, 1368 in all) and "she" (counts_b: 219 words, 555)
    in the course's Shakespeare, plain dicts: 'is' with alpha 1.0, 'speaks' with 0.5, 'gave' (after she only) with
    1.0, 'bears' (after he only) with 0.5, 'sword' (after neither: log((B + alpha V) / (A + alpha V))) with 1.0. The
    answer is one number (rel 1e-5, abs 1e-6: a float32 log is that good); the dicts must be left as they were. The
    hint names the mistake: no smoothing (an infinity, or a KeyError for a missing word), the counts' ratio without
    the totals, the sign flipped, log2 or log10, the ratio without the log, V from one dict, their lengths summed,
    their intersection or with the word added, each dict's own V on its side, alpha left out of the totals, alpha
    taken as 1.
    """
    ex = "12.5 (log_odds)"
    cases = _log_odds_cases()
    same = _same_number(1e-5, 1e-6)
    for i, (counts_a, counts_b, word, alpha) in enumerate(cases):
        where = [name for name, c in (("counts_a", counts_a), ("counts_b", counts_b)) if word not in c]
        what = (f"log_odds(counts_a ({len(counts_a)} words after 'he'), counts_b ({len(counts_b)} words after 'she'), "
                f"{word!r}, alpha={alpha})")
        given = (dict(counts_a), dict(counts_b))

        def crash_hint(err: Exception, where: list[str] = where, word: str = word) -> str:
            if where and isinstance(err, KeyError):
                return _ABSENT_HINT.replace("counts_a", where[0])
            if where and isinstance(err, (ZeroDivisionError, ValueError)):
                return f"{word!r} is not in {' nor '.join(where)}: " + _LOG_ODDS_HINTS["no smoothing"]
            return f"counts_a and counts_b are dicts of str to int, word a str, alpha a float; {_LOG_ODDS_RULE}"

        with _quiet_numerics():
            got = call(ex, log_odds, *given, word, alpha, hint=crash_hint)
        changed = [name for name, a, b in zip(("counts_a", "counts_b"), given, (counts_a, counts_b)) if a != b]
        if changed:
            fail(ex, f"{what} changed {' and '.join(changed)}", Description("the dicts as given"),
                 Description(f"changed {' and '.join(changed)}"),
                 _changed_hint(changed, "a_w = counts_a.get(word, 0) (reads without adding the word)", _WRITES_DICTS))
        expected = _log_odds(counts_a, counts_b, word, alpha)
        if same(got, expected):
            continue
        others = [(dict(a), dict(b), w, al) for j, (a, b, w, al) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (counts_a, counts_b, word, alpha), log_odds, others, _LOG_ODDS_MISTAKES, same,
                                 confirm=True)
        hint = _LOG_ODDS_HINTS.get(mistake or "", _LOG_ODDS_RULE)
        value = number(ex, f"{what}: the result", got, round(expected, 6), hint)
        if mistake is None and not math.isfinite(value):
            hint = _LOG_ODDS_HINTS["no smoothing"]
        elif mistake is None and where and value == 0:
            hint = (f"{word!r} is not in {' nor '.join(where)}, but its smoothed probability is not 0 and its log-odds "
                    f"is computed like any other word's: " + _LOG_ODDS_RULE)
        fail(ex, what, round(expected, 6), round(value, 6), hint)
    passed(ex, "add-alpha smoothed log-odds in nats, V the words of both dicts: finite even for a word one side "
               "never saw")


# --- 12.6 the previous-newline head -------------------------------------------------------------------------------

def _newline_score(att: Any, text: str, how: str = "right") -> Any:
    """The mean over the queries t that have a newline at or before them of att[t, j] with j the most recent one; or
    one of the typical mistakes, by ``how``."""
    import numpy as np

    a = _f64(att)
    newlines = [j for j, c in enumerate(text) if c == "\n"]
    values = []
    for t in range(len(text)):
        before = [j for j in newlines if (j < t if how == "strictly before" else j <= t)]
        if not before:
            if how == "zeros":
                values.append(0.0)
            continue
        j = before[0] if how == "first" else before[-1]
        values.append(a[j, t] if how == "transposed" else a[t, before].sum() if how == "all" else a[t, j])
    if how == "per query":
        return np.array(values)
    return float({"max": np.max, "sum": np.sum}.get(how, np.mean)(values))


_NEWLINE_MISTAKES: dict[str, Callable[..., Any]] = {
    how: (lambda kind: lambda att, text: _newline_score(att, text, kind))(how)
    for how in ("transposed", "first", "strictly before", "zeros", "all", "max", "sum", "per query")
}

_NEWLINE_HINTS = {
    "transposed": "rows are queries, columns keys: the weight query t puts on position j is att[t, j]. Yours reads "
                  "att[j, t] (what the newline's row puts on t, which a causal map makes 0 for t > j).",
    "first": "take the MOST RECENT newline at or before t (the last one, max of the indices <= t), not the first in "
             "the text: a previous-newline head looks back to the start of the current line.",
    "strictly before": "include t itself: a query that IS a newline has its most recent newline at j = t (use j <= "
                       "t, not j < t).",
    "zeros": "average over the queries that HAVE a newline at or before them: a query before the first newline has "
             "no previous newline to attend to and is left out, not counted as 0.",
    "all": "take the weight on ONE key, the most recent newline: yours sums the weights on every newline at or "
           "before t.",
    "max": "average over the queries (the mean): yours takes the largest of their weights.",
    "sum": "average over the queries (divide by how many have a newline at or before them): yours sums their "
           "weights.",
    "per query": "return one number, the MEAN over the queries: yours returns each query's weight.",
}

_NEWLINE_RULE = ("for each query t (a row of att) with a '\\n' at some j <= t, take att[t, j] with j the largest such "
                 "index; return the mean of these weights over those queries, as one number.")


def _newline_texts() -> list[str]:
    """Three stretches of a play, 64 characters each, and a shorter one of 48: a speaker's line then verse; two
    newlines in a row (an empty line); one that starts with a newline (every query has one)."""
    texts = [
        "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east",
        "First Citizen:\nBefore we proceed any further.\n\nAll:\nSpeak, speak.\n",
        "\nJULIET:\nO Romeo, Romeo!\nwherefore art thou Romeo?\nDeny thy father",
        "KING:\nWhat say you?\nHAMLET:\nNot so, my lord; I am too much",
    ]
    texts = [t[:n] for t, n in zip(texts, (64, 64, 64, 48))]
    return texts


def _newline_maps() -> list[tuple[Any, str, str]]:
    """(att, text, what): causal softmaxes (torch float32, rows summing to 1, zeros above the diagonal) of scores drawn
    from a generator of their own (N(0, 2^2)); the third peaked on the previous newline (+6 on its score)."""
    import torch

    cases = []
    for k, text in enumerate(_newline_texts()):
        T = len(text)
        scores = 2.0 * torch.randn(T, T, generator=torch.Generator().manual_seed(1200 + k), dtype=torch.float64)
        if k == 2:
            last = -1
            for t, c in enumerate(text):
                last = t if c == "\n" else last
                if last >= 0:
                    scores[t, last] += 6.0
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        att = torch.softmax(scores, dim=-1).float()
        kind = "peaked on the previous newline" if k == 2 else "a random causal softmax"
        cases.append((att, text, f"newline_score(att ({T} x {T}, {kind}), text={text[:20]!r}...)"))
    return cases


@checker
def ch12_newline_score(newline_score: Callable[[Any, str], Any]) -> None:
    """Exercise 12.6: ``newline_score(att, text)`` = the mean, over the queries t that have a "\\n" at some j <= t, of
    att[t, j*] with j* the most recent such j: how much a head attends to the start of the current line.

    Four maps (torch float32 (T, T), rows = queries, summing to 1, zero above the diagonal) over stretches of a play:
    three of 64 characters (a speaker's line; an empty line, two newlines in a row; a text that starts with a
    newline, its map peaked on the previous newline) and one of 48. The answer is one number (rel 1e-5, abs 1e-6);
    the map must be left as it was. The hint names the mistake: the map transposed, the first newline instead of the
    most recent, only newlines strictly before t, queries without a newline counted as 0, the sum of the weights on
    all newlines, the max or the sum over the queries instead of the mean, one weight per query returned.
    """
    import numpy as np

    ex = "12.6 (newline_score)"
    cases = _newline_maps()
    number_same = _same_number(1e-5, 1e-6)

    def same(got: Any, theirs: Any) -> bool:
        if isinstance(theirs, np.ndarray):
            values = _floats(got)
            return values is not None and values.shape == theirs.shape and bool(
                np.allclose(values, theirs, rtol=1e-5, atol=1e-6))
        return number_same(got, theirs)

    for i, (att, text, what) in enumerate(cases):
        given = _copy(att)
        with _quiet_numerics():
            got = call(ex, newline_score, given, text,
                       hint=f"att is a torch float32 tensor (T, T), text a str of length T; {_NEWLINE_RULE}")
        if not _unchanged(given, att):
            fail(ex, f"{what} changed att", Description("att as given"), Description("changed att"),
                 _changed_hint(["att"], "att[t, j] read into a new list, or att.clone()", _WRITES_MAP))
        expected = _newline_score(att, text)
        if same(got, expected):
            continue
        others = [(_copy(a), s) for j, (a, s, _) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (att, text), newline_score, others, _NEWLINE_MISTAKES, same, confirm=True)
        hint = _NEWLINE_HINTS.get(mistake or "", _NEWLINE_RULE)
        if _real(got) is None and _floats(got) is not None and _floats(got).size > 1:
            shape = tuple(np.shape(_to_numpy(got)))
            fail(ex, f"{what} should return one number, the mean", round(expected, 6),
                 Description(f"{_kind(got)} of shape {shape}"), _NEWLINE_HINTS["per query"] if mistake is None
                 else hint)
        value = number(ex, f"{what}: the result", got, round(expected, 6), hint)
        fail(ex, what, round(expected, 6), round(value, 6), hint)
    passed(ex, "the mean over the queries of the weight on the most recent newline at or before each: 0.61 for the "
               "map peaked on it, under 0.1 for the random ones")
