"""Checkers of chapter 10 (evaluation and decoding): exercises 10.1-10.4.

The references are the package's own: the units of ``lmcourse.evaluate`` (``bits``, ``perplexity``),
``lmcourse.sampling.top_p_logits``, ``lmcourse.evaluate.calibration`` and ``lmcourse.sampling.repetition_penalty``.
The inputs are shaped like the chapter's data (a character model's losses, its next-token distributions over 65
characters, a few thousand top-1 confidences, a prompt's ids); an answer may return Python, numpy or torch
numbers, float32 or float64. The typical mistakes are computed (in float64) to tell which one an answer makes.
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
    _unchanged,
    call,
    checker,
    fail,
    number,
    passed,
)

LN2, LN10 = math.log(2), math.log(10)


# --- 10.1 nats, bits and perplexity -------------------------------------------------------------------------------

_BITS = {
    "right": lambda x: x / LN2,
    "log10": lambda x: x / LN10,
    "times ln 2": lambda x: x * LN2,
    "log10(2)": lambda x: x / math.log10(2),
}
_PPL = {
    "right": lambda x: math.exp(x),
    "2**nats": lambda x: 2.0 ** x,
    "e**bits": lambda x: math.exp(x / LN2),
}

_CONVERT_MISTAKES: dict[str, Callable[[float], Any]] = {
    **{f"{b}|{p}": (lambda fb, fp: lambda x: (fb(x), fp(x)))(_BITS[b], _PPL[p])
       for b in _BITS for p in _PPL if (b, p) != ("right", "right")},
    "swapped": lambda x: (math.exp(x), x / LN2),
}

_CONVERT_HINTS = {
    "log10": "bits are log base 2: bits = nats / ln 2 (math.log(2) = 0.693). Yours divides by ln 10 = 2.303 "
             "(math.log(10)), which gives decimal digits (bans), not bits.",
    "times ln 2": "divide by ln 2, don't multiply: log2(x) = ln(x) / ln 2, so bits = nats / ln 2 (more bits than "
                  "nats, since a bit is the smaller unit: 1 nat = 1.443 bits).",
    "log10(2)": "bits = nats / ln 2 with the NATURAL log of 2, math.log(2) = 0.693; yours divides by "
                "math.log10(2) = 0.301.",
    "2**nats": "perplexity = e^nats (math.exp(nats)) = 2^bits: the base of the power must match the unit of the "
               "exponent. Yours raises 2 to the nats.",
    "e**bits": "perplexity = e^nats = 2^bits: the base must match the unit. Yours raises e to the bits.",
    "swapped": "return (bits_per_char, perplexity) in this order: the bits first (the small number), then the "
               "perplexity. Yours are swapped.",
}

_CONVERT_RULE = "bits = nats / ln 2 (math.log(2)); perplexity = e^nats (math.exp(nats)) = 2^bits."


def _pair(value: Any) -> Any:
    """``value`` as a float64 array of 2 if it is a tuple or list of two real numbers (or a numpy array / tensor of
    two); otherwise None."""
    import numpy as np

    if isinstance(value, (tuple, list)):
        items = [_real(v) for v in value]
        return None if len(items) != 2 or any(v is None for v in items) else np.array(items)
    values = _floats(value)
    return values if values is not None and values.shape == (2,) else None


@checker
def ch10_convert(convert: Callable[[float], Any]) -> None:
    """Exercise 10.1: ``convert(nats_per_char)`` = ``(bits_per_char, perplexity)``: nats / ln 2 and e^nats.

    Four losses a character model has (1.48, 2.07, ln 65 = 4.17 for a uniform guess among 65 characters, 0.93),
    as Python floats. The answer is a tuple (or list) of two numbers, Python, numpy or 0-d torch (rtol 1e-5).
    The hint names the mistake: dividing by ln 10 (or by log10(2)) instead of ln 2, multiplying by ln 2,
    perplexity as 2^nats or e^bits, the two swapped.
    """
    import numpy as np

    ex = "10.1 (convert)"
    cases = [1.48, 2.07, math.log(65), 0.93]

    def same(got: Any, theirs: Any) -> bool:
        values = _pair(got)
        return values is not None and bool(np.allclose(values, theirs, rtol=1e-5, atol=1e-9))

    for i, x in enumerate(cases):
        what = f"convert({x!r})"
        got = call(ex, convert, x, hint=f"nats_per_char is a Python float; {_CONVERT_RULE}")
        expected = (x / LN2, math.exp(x))
        if same(got, expected):
            continue
        others = [(o,) for j, o in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (x,), convert, others, _CONVERT_MISTAKES, same, confirm=True)
        if mistake is None:
            hint = _CONVERT_RULE
        elif mistake == "swapped":
            hint = _CONVERT_HINTS["swapped"]
        else:
            hint = " Also: ".join(_CONVERT_HINTS[part] for part in mistake.split("|") if part != "right")
        shown = tuple(round(v, 6) for v in expected)
        if _pair(got) is None:
            fail(ex, f"{what} should return two numbers, (bits_per_char, perplexity)", shown, got,
                 f"return a tuple, e.g. `return bits, ppl`; yours is {_kind(got)}. {_CONVERT_RULE}")
        fail(ex, what, shown, tuple(round(float(v), 6) for v in _pair(got)), hint)
    passed(ex, "bits = nats / ln 2 and perplexity = e^nats = 2^bits; 4.17 nats per character (a uniform guess "
               "among 65) is 6.02 bits, perplexity 65")


# --- 10.2 top-p (nucleus) filtering -------------------------------------------------------------------------------

def _nucleus(probs: Any, p: float, how: str = "right") -> Any:
    """The nucleus of ``probs`` (float64 numpy), renormalised, in vocabulary order; or one of the typical mistakes,
    by ``how``: "crossing dropped" (kept while the running total including the token is < p), "at most p" (kept
    while the mass before it is <= p: one token too many where a running total lands exactly on p), "unnormalised",
    "ascending" (the least likely tokens first), "sorted" (the result left in sorted order), "kept only" (only the
    kept probabilities, sorted)."""
    import numpy as np

    x = _f64(probs)
    order = np.argsort(x if how == "ascending" else -x, kind="stable")
    s = x[order]
    total = np.cumsum(s)
    before = np.concatenate(([0.0], total[:-1]))
    keep = total < p if how == "crossing dropped" else before <= p if how == "at most p" else before < p
    kept = np.where(keep, s, 0.0)
    if how != "unnormalised":
        kept = kept / kept.sum()
    if how == "sorted":
        return kept
    if how == "kept only":
        return kept[keep]
    out = np.zeros_like(x)
    out[order] = kept
    return out


_TOP_P_MISTAKES: dict[str, Callable[[Any, float], Any]] = {
    how: (lambda kind: lambda probs, p: _nucleus(probs, p, kind))(how)
    for how in ("crossing dropped", "at most p", "unnormalised", "ascending", "sorted", "kept only")
}

_TOP_P_HINTS = {
    "crossing dropped": "keep the token that makes the running total reach p too: the nucleus is the SMALLEST set "
                        "whose total is >= p, so a token is kept while the mass of the tokens BEFORE it is < p "
                        "(cumsum - sorted_probs < p). Yours stops before the crossing token, so its total is < p "
                        "(and with a most likely token above p it keeps nothing).",
    "at most p": "a token is kept while the mass before it is < p; with <= you keep one too many when the running "
                 "total lands exactly on p (here 0.5 + 0.25 = 0.75 = p: those two tokens are the nucleus, the "
                 "smallest set whose total is >= p, and the next one is not needed).",
    "unnormalised": "renormalise the kept probabilities: divide them by their sum, so that the result sums to 1 "
                    "(it is the distribution the sampler draws from).",
    "ascending": "sort the probabilities in DESCENDING order (torch.sort(probs, descending=True)): the nucleus is "
                 "the most likely tokens; yours collects the least likely ones.",
    "sorted": "put the kept probabilities back in vocabulary order (position j is token j): sorting gives the "
              "indices, torch.sort(...).indices; scatter the sorted result back, e.g. out[indices] = kept, or build "
              "a mask in sorted order and move it back the same way.",
    "kept only": "return the whole vector of V probabilities in vocabulary order, 0 for the tokens left out, not "
                 "only the kept ones.",
}

_TOP_P_RULE = ("sort the probabilities in descending order; keep a token while the total of the tokens before it is "
               "< p (the most likely is always kept, the token that crosses p too); set the others to 0, put the "
               "result back in vocabulary order and divide by its sum.")


def _top_p_cases() -> list[tuple[str, tuple[Any, float]]]:
    """Next-character distributions of 65 tokens (like a character model's softmax) with p = 0.9 (float32) and
    p = 0.5 (float64); 30 tokens, so peaked that the most likely alone exceeds p = 0.3; 20 tokens with p = 0.75;
    12 with p = 1 (float32): no ties, and no running total within 1e-4 of p. Last, 5 tokens of probabilities exact
    in binary, 1/2, 1/4, 1/8, 1/16, 1/16 in float64 (shuffled), with p = 0.75 = 1/2 + 1/4: the running total lands
    exactly on p (in float32 too), so only the tokens before it count (< p, not <= p): 2 are kept."""
    import torch

    gen = torch.Generator().manual_seed(1002)
    cases = []
    for V, p, dtype, scale in ((65, 0.9, torch.float32, 2.5), (65, 0.5, torch.float64, 2.0),
                               (30, 0.3, torch.float32, 4.0), (20, 0.75, torch.float32, 1.5),
                               (12, 1.0, torch.float32, 1.0)):
        probs = torch.softmax(scale * torch.randn(V, generator=gen, dtype=dtype), dim=-1)
        cases.append((f"top_p_filter(probs of {V} tokens, {str(dtype).removeprefix('torch.')}, p={p})",
                      (probs, p)))
    exact = torch.tensor([0.125, 0.5, 0.0625, 0.25, 0.0625], dtype=torch.float64)
    cases.append(("top_p_filter(probs of 5 tokens, float64, [0.125, 0.5, 0.0625, 0.25, 0.0625], p=0.75: the running "
                  "total 0.5 + 0.25 lands exactly on p)", (exact, 0.75)))
    return cases


@checker
def ch10_top_p(top_p_filter: Callable[[Any, float], Any]) -> None:
    """Exercise 10.2: ``top_p_filter(probs, p)`` = the nucleus of the probability vector ``probs`` (1-D), renormalised,
    in vocabulary order (lmcourse.sampling.top_p_logits, then the softmax).

    Six torch tensors: 65 tokens with p = 0.9 (float32) and p = 0.5 (float64), 30 tokens whose most likely alone
    exceeds p = 0.3, 20 tokens with p = 0.75, 12 tokens with p = 1 (every token kept), where no running total lands
    within 1e-4 of p; and 5 tokens of probabilities exact in binary (1/2, 1/4, 1/8, 1/16, 1/16, float64) with
    p = 0.75, where the total of the first two lands exactly on p: the nucleus is those two (the mass before a
    token kept is < p, not <= p). The answer is an array, tensor or list of V probabilities (rtol 1e-5, atol
    1e-6); probs must be left as it was. The hint names the mistake: the crossing token dropped, one token too
    many where the total lands on p (<= p), not renormalised, sorted ascending (the least likely kept),
    the result left in sorted order or only the kept values returned, tokens lost at p = 1, probs changed in
    place.
    """
    import numpy as np
    import torch

    from lmcourse.sampling import top_p_logits

    ex = "10.2 (top_p_filter)"
    cases = _top_p_cases()
    same = _close(rtol=1e-5, atol=1e-6)
    for i, (what, (probs, p)) in enumerate(cases):
        given = _copy(probs)
        with _quiet_numerics():
            got = call(ex, top_p_filter, given, p, hint=f"probs is a 1-D torch tensor summing to 1, p a float; "
                                                        f"{_TOP_P_RULE}")
        if not _unchanged(given, probs):
            fail(ex, f"{what} changed probs", Description("probs as given"), Description("changed probs"),
                 _changed_hint(["probs"], "probs.clone(), torch.where(...) or probs * mask"))
        expected = _f64(torch.softmax(top_p_logits(probs.double().log(), p), dim=-1))
        values = _floats(got)
        if values is not None and same(values, expected):
            continue
        others = [(_copy(o), pp) for j, (_, (o, pp)) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (_f64(probs), p), top_p_filter, others, _TOP_P_MISTAKES, same, confirm=True)
        hint = _TOP_P_HINTS.get(mistake or "", _TOP_P_RULE)
        if values is None:
            fail(ex, f"{what} should return an array of probabilities", Description(f"shape {expected.shape}"),
                 Description(_kind(got)), hint)
        if values.shape != expected.shape:
            fail(ex, f"{what}: wrong shape", Description(f"shape {expected.shape}, the probs' (one per token)"),
                 Description(f"shape {values.shape}"), hint)
        lost = (expected > 0) & (values == 0)
        if mistake is None and p == 1 and lost.any():
            hint = (f"with p = 1 every token is kept: the result is probs itself. Yours drops {int(lost.sum())} "
                    "token(s): a running total summed in float32 can end a hair above 1 before the last tokens. "
                    "Keep a token while the mass BEFORE it is < p, or return probs unchanged when p >= 1.")
        wrong = np.flatnonzero(~np.isclose(values, expected, rtol=1e-5, atol=1e-6))
        wrong = sorted(wrong, key=lambda j: (not lost[j], -expected[j]))[:8]  # tokens left out first, likeliest first
        fail(ex, f"{what}: the probabilities of tokens {[int(j) for j in wrong]} (where yours differ; kept tokens "
                 "that yours leaves out first)", np.round(expected[wrong], 5).tolist(),
             np.round(values[wrong], 5).tolist(), hint)
    passed(ex, "the smallest set of most likely tokens with probability >= p, the crossing token included, "
               "renormalised in vocabulary order, as lmcourse.sampling.top_p_logits")


# --- 10.3 expected calibration error ------------------------------------------------------------------------------

def _ece_by(conf: Any, correct: Any, bins: int, how: str) -> float:
    """One of the typical wrong ECEs of ``conf`` (float64) and ``correct`` (bool), by ``how``."""
    import numpy as np

    from lmcourse.evaluate import calibration

    conf, correct = _f64(conf), np.asarray(correct, dtype=bool)
    if how == "bins-1":
        return calibration(conf, correct, bins - 1).ece
    if how == "global":
        return float(abs(correct.mean() - conf.mean()))
    if how == "per sample":
        return float(np.abs(correct - conf).mean())
    if how == "1.0 left out":
        return calibration(conf[conf < 1], correct[conf < 1], bins).ece
    cal = calibration(conf, correct, bins)
    seen = cal.counts > 0
    gap = cal.accuracy[seen] - cal.confidence[seen]
    weight = cal.counts[seen] / len(conf)
    if how == "1.0 not binned":  # left out of the bins, still counted in N
        one = calibration(conf[conf < 1], correct[conf < 1], bins)
        seen1 = one.counts > 0
        return float(np.sum(one.counts[seen1] / len(conf) * np.abs(one.accuracy[seen1] - one.confidence[seen1])))
    return float({"unweighted": np.abs(gap).mean(), "empty as zeros": np.abs(gap).sum() / bins,
                  "no abs": np.sum(weight * gap), "no abs, conf - acc": -np.sum(weight * gap),
                  "max": np.abs(gap).max()}[how])


_ECE_MISTAKES: dict[str, Callable[..., Any]] = {
    how: (lambda kind: lambda conf, correct, bins=10: _ece_by(conf, correct, bins, kind))(how)
    for how in ("unweighted", "empty as zeros", "no abs", "no abs, conf - acc", "global", "per sample", "bins-1",
                "1.0 not binned", "1.0 left out", "max")
}

_ECE_HINTS = {
    "unweighted": "weight each bin by its share of the predictions, n_b / N: ECE = sum_b (n_b / N) |acc_b - conf_b|. "
                  "Yours is the plain mean of the bins' gaps, so a bin of 3 predictions counts as much as one of "
                  "2000.",
    "empty as zeros": "weight each bin by n_b / N (an empty bin then weighs 0): yours sums the gaps and divides by "
                      "the number of bins, which is neither the weighted sum nor the mean of the non-empty bins.",
    "no abs": "take the absolute value of each bin's gap, |acc_b - conf_b|: without it, the over- and "
              "underconfident bins cancel, and the weighted sum is just mean(correct) - mean(confidence).",
    "no abs, conf - acc": "take the absolute value of each bin's gap, |acc_b - conf_b|: without it, the over- and "
                          "underconfident bins cancel, and the sum is just mean(confidence) - mean(correct).",
    "global": "bin the predictions first: ECE compares accuracy and confidence WITHIN each confidence bin, then "
              "sums (n_b / N) |acc_b - conf_b|. Yours is |mean(correct) - mean(confidence)| over all predictions, "
              "which is 0 for a model that is overconfident on some predictions and underconfident on others.",
    "per sample": "average within each bin first, then take the gap: |acc_b - conf_b| with acc_b the bin's fraction "
                  "correct and conf_b its mean confidence. Yours averages each prediction's own |correct - "
                  "confidence|, which is large even for a perfectly calibrated model.",
    "bins-1": "use `bins` bins, i.e. bins + 1 edges: np.linspace(0, 1, bins + 1). np.linspace(0, 1, bins) gives "
              "bins - 1 bins, each too wide.",
    "1.0 not binned": "put a confidence of exactly 1.0 in the LAST bin: bin = min(floor(c * bins), bins - 1). With "
                      "bins [lo, hi) the predictions at 1.0 fall in no bin (a saturated softmax gives 1.0).",
    "1.0 left out": "put a confidence of exactly 1.0 in the LAST bin: bin = min(floor(c * bins), bins - 1); yours "
                    "leaves those predictions out (a saturated softmax gives 1.0 often).",
    "max": "that is the maximum calibration error (the largest gap); ECE is the weighted sum, "
           "sum_b (n_b / N) |acc_b - conf_b|.",
}

_ECE_RULE = ("bin b = min(floor(c * bins), bins - 1) (equal widths over [0, 1]); for each non-empty bin, acc_b = "
             "mean(correct), conf_b = mean(confidence); ECE = sum_b (n_b / N) |acc_b - conf_b|.")


def _ece_cases() -> list[tuple[str, tuple[Any, ...]]]:
    """Top-1 confidences and hits of a few thousand predictions, numpy as evaluate.top1 returns them: 3000, 60 of
    them exactly 1.0, with the default 10 bins; 2000 in float32, all above 0.35 (so the low bins are empty), in 15
    bins; 1500 in 5 bins. Each model is over- and underconfident in different bins. No confidence lies within
    1e-4 (relative) of an inner edge of 4, 5, 9, 10, 14 or 15 bins."""
    import numpy as np

    rng = np.random.default_rng(1003)

    def off_edges(c: Any) -> Any:
        for bins in (4, 5, 9, 10, 14, 15):
            near = (c < 1) & (np.abs(c * bins - np.round(c * bins)) < 1e-4 * bins)
            c = np.where(near, c + 3e-4, c)
        return np.minimum(c, 0.9999)

    # how often each model is right at confidence c: underconfident below 0.75 and overconfident above (case 1),
    # the other way round around 0.66 (case 2), by turns (case 3): the bins' gaps have both signs
    over = off_edges(rng.beta(4.0, 1.5, 3000))
    over[rng.choice(3000, 60, replace=False)] = 1.0
    under = off_edges(rng.uniform(0.35, 0.97, 2000)).astype(np.float32)
    third = off_edges(rng.beta(2.0, 2.0, 1500))
    return [
        ("ece(confidence of 3000 predictions, correct) (bins left at its default, 10)",
         (over, rng.random(3000) < np.where(over < 0.75, over + 0.1, over - 0.12))),
        ("ece(confidence of 2000 predictions in float32, correct, bins=15)",
         (under, rng.random(2000) < np.clip(0.66 + 1.5 * (under - 0.66), 0, 1), 15)),
        ("ece(confidence of 1500 predictions, correct, bins=5)",
         (third, rng.random(1500) < third + np.select([third < 0.5, third < 0.8], [0.12, -0.06], 0.05), 5)),
    ]


def _ignores_bins(ece: Callable[..., Any], args: tuple[Any, ...], other: int, got: Any,
                  same: Callable[[Any, Any], bool]) -> bool:
    """Whether ``ece`` gives ``got`` again with ``other`` bins on ``args`` (whose bins, or the default 10, is another
    number), where the right ECEs differ: a bin count fixed inside the function. What the call raises or warns is
    ignored."""
    from lmcourse.evaluate import calibration

    value = _real(got)
    if value is None or math.isclose(calibration(args[0], args[1], other).ece, calibration(*args).ece, rel_tol=1e-4):
        return False
    try:
        with _quiet_numerics():
            again = ece(_copy(args[0]), _copy(args[1]), other)
    except Exception:  # noqa: BLE001 - an answer that fails with 10 bins does not show this mistake
        return False
    return same(again, value)


@checker
def ch10_ece(ece: Callable[..., Any]) -> None:
    """Exercise 10.3: ``ece(confidence, correct, bins=10)`` = the expected calibration error (Guo et al. 2017), as
    lmcourse.evaluate.calibration(...).ece: equal-width bins over [0, 1], a confidence c in bin
    min(floor(c * bins), bins - 1), ECE = sum over non-empty bins of (n_b / N) |accuracy_b - mean confidence_b|.

    Three cases shaped like evaluate.top1's output (numpy confidences, numpy bools): 3000 predictions of an
    overconfident model, 60 of them at exactly 1.0, called without ``bins`` (the default must be 10); 2000 in
    float32 of an underconfident model (the low bins empty) with bins=15; 1500 with bins=5. No confidence lies on
    an inner bin edge, so [lo, hi) and (lo, hi] bins agree. The answer is one number (rtol 1e-4); the inputs must
    be left as they were. The hint names the mistake: the bins unweighted, empty bins counted, no absolute value,
    |mean accuracy - mean confidence| without bins, each prediction's own gap, bins - 1 bins
    (np.linspace(0, 1, bins)), the predictions at 1.0 in no bin, the maximum gap instead of the weighted sum, the
    bins argument ignored (the same result for bins=15 and bins=10).
    """
    from lmcourse.evaluate import calibration

    ex = "10.3 (ece)"
    cases = _ece_cases()

    def same(got: Any, theirs: Any) -> bool:
        value = _real(got)
        return value is not None and math.isclose(value, theirs, rel_tol=1e-4, abs_tol=1e-7)

    for i, (what, args) in enumerate(cases):
        given = tuple(_copy(a) if not isinstance(a, int) else a for a in args)
        def crash_hint(err: Exception, first: bool = i == 0) -> str:
            if first and isinstance(err, TypeError) and "bins" in str(err):
                return "give bins the default 10: def ece(confidence, correct, bins=10)."
            return f"confidence is a numpy float array, correct a numpy bool array; {_ECE_RULE}"

        with _quiet_numerics():
            got = call(ex, ece, *given, hint=crash_hint)
        changed = [name for name, g, a in zip(("confidence", "correct"), given, args) if not _unchanged(g, a)]
        if changed:
            fail(ex, f"{what} changed {' and '.join(changed)}", Description("the inputs as given"),
                 Description(f"changed {' and '.join(changed)}"), _changed_hint(changed, "np.sort(c) or c.copy()"))
        expected = calibration(*args).ece
        if same(got, expected):
            continue
        others = [o for j, (_, o) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, args, ece, others, _ECE_MISTAKES, same, confirm=True)
        hint = _ECE_HINTS.get(mistake or "", _ECE_RULE)
        if i == 0 and mistake is None and same(call(ex, ece, *given, 10), expected):
            hint = "give bins the default 10: def ece(confidence, correct, bins=10)."
        bins, other = (args[2] if len(args) == 3 else 10), (15 if len(args) == 2 or args[2] == 10 else 10)
        if mistake is None and _ignores_bins(ece, args, other, got, same):
            hint = (f"your result does not change with bins (the same for bins={bins} and bins={other}): use the "
                    "bins argument, e.g. edges = np.linspace(0, 1, bins + 1), b = min(floor(c * bins), bins - 1).")
        value = number(ex, f"{what}: the result", got, round(expected, 6), hint)
        fail(ex, what, round(expected, 6), round(value, 6), hint)
    passed(ex, "ECE = sum over the bins of (n_b / N) |accuracy_b - confidence_b|, as lmcourse.evaluate.calibration")


# --- 10.4 repetition penalty --------------------------------------------------------------------------------------

def _penalised(logits: Any, ids: list[int], penalty: float, how: str = "right") -> Any:
    """``logits`` (float64 numpy) with the repetition penalty, or one of the typical mistakes, by ``how``: "divide
    all" (every previous logit divided), "multiply all", "inverted" (positive ones multiplied, negative divided),
    "per occurrence" (the penalty once per occurrence, penalty ** count), "per occurrence, divide all", "every
    token" (the whole vocabulary penalised), "subtract log" (log(penalty) subtracted)."""
    import numpy as np

    x = _f64(logits)
    out = x.copy()
    targets = (range(len(x)) if how == "every token" else ids if how.startswith("per occurrence")
               else sorted(set(ids)))
    for t in targets:
        v = out[t]
        if how in ("divide all", "per occurrence, divide all"):
            out[t] = v / penalty
        elif how == "multiply all":
            out[t] = v * penalty
        elif how == "inverted":
            out[t] = v * penalty if v > 0 else v / penalty
        elif how == "subtract log":
            out[t] = v - np.log(penalty)
        else:
            out[t] = v / penalty if v > 0 else v * penalty
    return out


_PENALTY_MISTAKES: dict[str, Callable[[Any, list[int], float], Any]] = {
    how: (lambda kind: lambda logits, ids, penalty: _penalised(logits, ids, penalty, kind))(how)
    for how in ("divide all", "multiply all", "inverted", "per occurrence", "per occurrence, divide all",
                "every token", "subtract log")
}

_PENALTY_HINTS = {
    "divide all": "look at the sign: dividing a NEGATIVE logit by the penalty brings it closer to 0, so the token "
                  "becomes MORE likely. Divide a positive logit, multiply a negative one: both move down.",
    "multiply all": "look at the sign: multiplying a POSITIVE logit by the penalty makes the token more likely. "
                    "Divide a positive logit by the penalty, multiply a negative one.",
    "inverted": "the other way round: divide a POSITIVE logit by the penalty and multiply a NEGATIVE one, so that "
                "both move down. Yours makes every repeated token more likely.",
    "per occurrence": "penalise each token once, however often it occurred: loop over set(previous_ids) (the "
                      "distinct ids). Yours applies the penalty once per occurrence (penalty ** count).",
    "per occurrence, divide all": "two things: penalise each distinct token once (set(previous_ids)), and look at the "
                                  "sign (divide a positive logit, multiply a negative one; dividing a negative "
                                  "logit raises it).",
    "every token": "penalise only the tokens in previous_ids, not the whole vocabulary (scaling every logit is just "
                   "a change of temperature).",
    "subtract log": "CTRL's penalty divides a positive logit by the penalty and multiplies a negative one; it does "
                    "not subtract log(penalty) (that would be a fixed shift in probability, the same for every "
                    "token).",
}

_PENALTY_RULE = ("for each distinct id in previous_ids: a logit x > 0 becomes x / penalty, otherwise x * penalty; "
                 "every other logit stays; return a new tensor.")


def _penalty_cases() -> list[tuple[str, tuple[Any, list[int], float]]]:
    """Next-character logits of 65 tokens (both signs) after a 40-token prompt drawn with repeats, penalty 1.2
    (float32); 65 tokens after 25 ids, penalty 2.0 (float64); 30 tokens, one logit exactly 0, penalty 1.5
    (float32); 20 tokens and no previous ids (nothing changes)."""
    import torch

    gen = torch.Generator().manual_seed(1004)
    weights = 1.0 / torch.arange(1, 66, dtype=torch.float64)  # Zipf-like: some ids repeat many times
    cases = []
    for V, n_ids, penalty, dtype in ((65, 40, 1.2, torch.float32), (65, 25, 2.0, torch.float64),
                                     (30, 12, 1.5, torch.float32), (20, 0, 1.3, torch.float32)):
        logits = 2.0 * torch.randn(V, generator=gen, dtype=dtype) - 0.3
        ids = torch.multinomial(weights[:V], n_ids, replacement=True, generator=gen).tolist() if n_ids else []
        if V == 30:
            logits[ids[0]] = 0.0
        cases.append((f"apply_penalty(logits of {V} tokens, {str(dtype).removeprefix('torch.')}, previous_ids of "
                      f"{n_ids}, penalty={penalty})", (logits, ids, penalty)))
    return cases


@checker
def ch10_repetition(apply_penalty: Callable[[Any, list[int], float], Any]) -> None:
    """Exercise 10.4: ``apply_penalty(logits, previous_ids, penalty)`` = CTRL's repetition penalty on a 1-D torch
    tensor of logits (lmcourse.sampling.repetition_penalty): for each DISTINCT id in the list ``previous_ids``, a
    positive logit divided by ``penalty``, a negative one multiplied by it.

    Four cases: 65 logits of both signs after 40 ids with repeats (penalty 1.2, float32), 65 after 25 ids (penalty
    2.0, float64), 30 with one logit exactly 0 (penalty 1.5), 20 and no previous ids. The answer is an array,
    tensor or list of the logits' shape (rtol 1e-6, atol 1e-6); logits and previous_ids must be left as they were.
    The hint names the mistake: every previous logit divided (the negative ones rise) or multiplied, the rule
    inverted, the penalty applied once per occurrence (penalty ** count), every token penalised, log(penalty)
    subtracted, logits changed in place.
    """
    import numpy as np

    from lmcourse.sampling import repetition_penalty

    ex = "10.4 (apply_penalty)"
    cases = _penalty_cases()
    same = _close(rtol=1e-6, atol=1e-6)
    for i, (what, (logits, ids, penalty)) in enumerate(cases):
        given, given_ids = _copy(logits), list(ids)
        with _quiet_numerics():
            got = call(ex, apply_penalty, given, given_ids, penalty,
                       hint=f"logits is a 1-D torch tensor, previous_ids a list of ints, penalty a float; "
                            f"{_PENALTY_RULE}")
        changed = [n for n, ok in (("logits", _unchanged(given, logits)), ("previous_ids", given_ids == ids))
                   if not ok]
        if changed:
            fail(ex, f"{what} changed {' and '.join(changed)}", Description("the inputs as given"),
                 Description(f"changed {' and '.join(changed)}"),
                 _changed_hint(changed, "logits.clone() (then change the copy) or torch.where(...)"))
        expected = _f64(repetition_penalty(logits, ids, penalty))
        values = _floats(got)
        if values is not None and same(values, expected):
            continue
        others = [(_copy(o), list(oi), op) for j, (_, (o, oi, op)) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (_f64(logits), ids, penalty), apply_penalty, others, _PENALTY_MISTAKES, same,
                                 confirm=True)
        hint = _PENALTY_HINTS.get(mistake or "", _PENALTY_RULE)
        if values is None:
            fail(ex, f"{what} should return an array of logits", Description(f"shape {expected.shape}"),
                 Description(_kind(got)), hint)
        if values.shape != expected.shape:
            fail(ex, f"{what}: wrong shape", Description(f"shape {expected.shape}, the logits'"),
                 Description(f"shape {values.shape}"), hint)
        bad = np.flatnonzero(~np.isclose(values, expected, rtol=1e-6, atol=1e-6))[:6]
        fail(ex, f"{what}: the logits of tokens {bad.tolist()}", np.round(expected[bad], 5).tolist(),
             np.round(values[bad], 5).tolist(), hint)
    passed(ex, "each distinct previous token's logit divided by the penalty if positive, multiplied if negative, as "
               "lmcourse.sampling.repetition_penalty")
