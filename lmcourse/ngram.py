"""Count-based n-gram language models: maximum likelihood, add-k, interpolation, backoff, Kneser-Ney.

An n-gram model predicts token w from the n-1 tokens before it (its *context* h):

    P(w_1 .. w_T) = prod_i P(w_i | w_1 .. w_{i-1})  ~=  prod_i P(w_i | w_{i-n+1} .. w_{i-1})

``NGramLM(order, smoothing=...)`` fits one from a sequence of integer token ids
(any of chapter 01's tokenisers) and scores, compares and samples from it.
Below, c(h w) is how often the n-gram h w occurs in the training tokens, and
c(h) = sum_w c(h w) is how often the context h is *followed by a token* (so a
context at the very end of the training tokens counts only where something
follows it; that makes every distribution sum to 1). V is ``vocab_size``.

Smoothers (``smoothing=``):

- ``"mle"``: P(w | h) = c(h w) / c(h). A context never seen in training has no
  distribution: scoring it raises ``UnseenContextError``, naming the context. A
  seen context with an unseen token gives probability 0 (log-probability -inf,
  perplexity inf): that is the lesson of chapter 02, not an error.
- ``"add-k"``: P(w | h) = (c(h w) + k) / (c(h) + k V), k > 0 (k = 1 is Laplace).
  An unseen context gets the uniform 1/V.
- ``"interpolated"``: P(w | h) = sum_m lambda_m P_mle,m(w | last m-1 tokens of h),
  m = 0 .. order, where P_mle,0 = 1/V (uniform) and the weights ``weights=``
  (lambda_0 .. lambda_order, non-negative, summing to 1, lambda_0 > 0) default
  to equal weights; ``tune_weights(heldout)`` sets them by EM on held-out
  tokens. An order whose context was never seen drops out and the remaining
  weights are renormalised (their sum divides).
- ``"backoff"`` (Katz-style backoff with absolute discounting, Katz 1987 / Ney et al. 1994; not
  interpolated): for m = 1 .. order, with raw counts c at every order,
      P_m(w | h) = (c(h w) - D_m) / c(h)             if c(h w) > 0
                 = alpha(h) P_{m-1}(w | h')           otherwise,
      alpha(h)   = (D_m N1+(h .) / c(h)) / (1 - sum_{v: c(h v) > 0} P_{m-1}(v | h'))
  where h' is h without its first token, N1+(h .) the number of distinct tokens
  seen after h and P_0(w) = 1/V (so order 1 backs off to the uniform distribution
  the same way). alpha(h) hands the discounted mass D_m N1+(h .) / c(h) to the
  tokens never seen after h, in proportion to the lower order, and the sum over
  seen followers (computed once per context at ``fit``) renormalises it. A
  context with c(h) = 0 passes P_{m-1}(. | h') through. A context followed by
  every one of the V tokens has no unseen token to give mass to: it gets no
  discount (D = 0 there, its MLE). D_m = n1 / (n1 + 2 n2) from order m's raw
  count-of-counts, clipped into [``MIN_DISCOUNT``, 1 - ``MIN_DISCOUNT``] (not 1:
  with D = 1 a seen n-gram of count 1 would get probability 0, since nothing is
  mixed in). The denominator is kept >= machine epsilon against round-off.
  Backoff versus interpolation: backoff consults the lower order only for
  tokens never seen after h; interpolation (``"interpolated"`` above and the three
  below) always mixes it in, for seen tokens too.
- ``"absolute-discounting"`` (interpolated absolute discounting, Ney, Essen & Kneser 1994): exactly
  the Kneser-Ney recursion below, but with raw counts c at every order (no
  continuation counts) and D_m from each order's raw count-of-counts. The
  lesson of chapter 03: Kneser-Ney = absolute discounting + continuation counts.
- ``"kneser-ney"`` (interpolated Kneser-Ney, one discount D per order):
      P_m(w | h) = max(c_m(h w) - D_m, 0) / c_m(h) + D_m N1+(h .) / c_m(h) * P_{m-1}(w | h')
  where h' is h without its first token, N1+(h .) the number of distinct tokens
  seen after h, and P_0(w) = 1/V. At the highest order c_m are the raw counts;
  at every lower order they are *continuation counts*, c_m(h w) = N1+(. h w), the
  number of distinct tokens seen before h w ("Francisco" is frequent but follows
  almost only "San", so it is a poor guess after a new word). A context with
  c_m(h) = 0 passes the lower order's distribution through unchanged.
  D_m = n1 / (n1 + 2 n2), with n_r the number of m-grams whose (raw or
  continuation) count is exactly r.
- ``"modified-kneser-ney"`` (Chen & Goodman 1998): the same with three
  discounts per order, D(1) for counts of 1, D(2) for 2, D(3+) for 3 or more,
      Y = n1 / (n1 + 2 n2),  D(1) = 1 - 2 Y n2 / n1,  D(2) = 2 - 3 Y n3 / n2,  D(3+) = 3 - 4 Y n4 / n3,
  and back-off weight (D(1) N1(h .) + D(2) N2(h .) + D(3+) N3+(h .)) / c_m(h).

Discounts on tiny or odd corpora: where a formula divides by zero it takes
the middle value (D = 0.5, D(1) = 0.5, D(2) = 1, D(3+) = 1.5; Y = 0.5), and each
discount is clipped into [``MIN_DISCOUNT``, r] (r = 1, 2, 3; for backoff r =
1 - ``MIN_DISCOUNT``): never negative, never more than the count it discounts,
and never 0, so that every token of the vocabulary keeps a probability above 0.
``lm.discounts`` lists them per order (m = 1 .. order) for every discounting smoother.

Decisions, documented once:

- Vocabulary: ``vocab_size=`` given to the constructor, or taken at ``fit`` as
  the largest id + 1. Ids must lie in 0 .. V-1. An id outside the vocabulary at
  scoring time is an error, unless ``unk=`` names an id to score it as.
- Boundaries: the model sees one flat sequence. For sentences or records, put
  the tokeniser's ``<bos>`` / ``<eos>`` ids between them before calling ``fit``.
- The first positions of a scored sequence have fewer than order-1 tokens
  before them: they are scored with the model's own lower-order distribution of
  that shorter context (no padding is invented). For Kneser-Ney that is the
  continuation-count distribution the recursion uses; for backoff, the lower
  order's backoff distribution.
- Counting is vectorised: each m-gram is one int64, sum_j w_j V^(m-1-j), so
  V^order must stay below 2^63 (V = 100 allows order 9; V = 10,000 order 4;
  V = 50,000 order 4). A larger model raises ``ValueError`` saying so.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

SMOOTHERS = ("mle", "add-k", "interpolated", "backoff", "absolute-discounting", "kneser-ney", "modified-kneser-ney")
MIN_DISCOUNT = 0.05
_INT64_MAX = np.iinfo(np.int64).max


class UnseenContextError(ValueError):
    """An MLE model was asked for the distribution after a context it never saw (it has none)."""

    def __init__(self, message: str, context: tuple[int, ...]) -> None:
        super().__init__(message)
        self.context = context


# --------------------------------------------------------------------------- checking arguments


def _need_int(value: object, what: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``; a bool, float or array is a TypeError that says so."""
    try:
        i = None if isinstance(value, bool) or getattr(value, "shape", ()) else operator.index(value)
    except TypeError:
        i = None
    if i is None:
        raise TypeError(f"{what} must be a whole number (an int), got {value!r} ({type(value).__name__}).")
    if i < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {i}.")
    return i


def _as_ids(tokens: object, what: str) -> np.ndarray:
    """``tokens`` as a 1-D int64 array of non-negative ids; floats, bools and nesting are refused."""
    if isinstance(tokens, (str, bytes)):
        raise TypeError(f"{what} must be a sequence of integer token ids, got a {type(tokens).__name__}; "
                        "encode the text first, e.g. CharTokenizer().fit(text).encode(text).")
    if isinstance(tokens, Iterator):
        raise TypeError(f"{what} must be a list or array of token ids, got a {type(tokens).__name__} (an iterator, "
                        "which can be read only once); pass list(...) of it.")
    try:
        arr = np.asarray(tokens)
    except ValueError:  # numpy refuses ragged nesting
        raise ValueError(f"{what} must be a flat (1-D) sequence of token ids, got nested lists of different lengths; "
                         "for several records, join them into one list with <bos>/<eos> ids between them.") from None
    if arr.ndim == 0:
        example = f"[{tokens!r}]" if isinstance(tokens, (int, np.integer)) else "[5, 2]"
        raise TypeError(f"{what} must be a sequence of token ids (a list or 1-D array), got {type(tokens).__name__} "
                        f"{tokens!r}; even one id goes in a list, e.g. {example}.")
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a flat (1-D) sequence of token ids, got shape {arr.shape}; "
                         "for several records, join them into one list with <bos>/<eos> ids between them.")
    if arr.size and (arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{what} must hold integer token ids, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        pos = int(np.argmax(arr < 0))
        raise ValueError(f"{what} holds the negative id {int(arr[pos])} at position {pos}; ids are 0 .. vocab_size-1.")
    return arr


def ngram_codes(ids: Sequence[int] | np.ndarray, n: int, vocab_size: int) -> np.ndarray:
    """Every n-gram of ``ids`` as one int64: sum_j ids[i+j] * V^(n-1-j), the n ids as the digits of a number in base V.

    Returns len(ids) - n + 1 codes (none if ``ids`` is shorter than ``n``). Two n-grams are equal exactly when
    their codes are, so counting n-grams is counting integers (``np.unique``) and finding one is a binary search
    (``np.searchsorted``): how ``NGramLM`` counts, and what chapters 02-03 use to count and look up n-grams.
    The ids must lie in 0 .. V-1 and V^n must stay below 2^63.
    """
    n, V = _need_int(n, "n", 1), _need_int(vocab_size, "vocab_size", 1)
    arr = _as_ids(ids, "ids")
    if arr.size and arr.max() >= V:
        raise ValueError(f"ids holds {int(arr.max())}, outside vocab_size={V} (ids 0 .. {V - 1}).")
    if V ** n > _INT64_MAX:
        raise ValueError(f"{n}-grams over {V} ids need V^n = {V ** n:.3g} codes, more than an int64 holds (2^63); "
                         "use a smaller n or vocabulary.")
    return _codes(arr, n, V) if len(arr) >= n else np.zeros(0, dtype=np.int64)


def _codes(ids: np.ndarray, m: int, base: int) -> np.ndarray:
    """The int64 code of every m-gram of ``ids`` (len(ids) - m + 1 of them): sum_j ids[i+j] * base^(m-1-j)."""
    out = np.zeros(len(ids) - m + 1, dtype=np.int64)
    for j in range(m):  # a loop over the m positions of an n-gram, not over the corpus
        out = out * base + ids[j:len(ids) - m + 1 + j]
    return out


def _lookup(keys: np.ndarray, queries: np.ndarray, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each query: its index in the sorted ``keys`` and whether it is there.

    ``order``, if given, is ``np.argsort(queries)``: searching sorted queries is about twice as fast
    (each search starts where the last one ended), which pays when one sort serves several look-ups.
    """
    if len(keys) == 0:
        return np.zeros(len(queries), dtype=np.int64), np.zeros(len(queries), dtype=bool)
    if order is None:
        idx = np.searchsorted(keys, queries)
    else:
        idx = np.empty(len(queries), dtype=np.intp)
        idx[order] = np.searchsorted(keys, queries[order])
    idx = np.minimum(idx, len(keys) - 1)
    return idx, keys[idx] == queries


# --------------------------------------------------------------------------- counting


@dataclass
class _Table:
    """The counts of one order m: sorted m-gram codes (base V) with their counts, and per-context sums.

    Per distinct context h (code // V), in sorted order: ``ctx_total`` = c(h) and, for the discounting
    smoothers, ``ctx_n1``, ``ctx_n2``, ``ctx_n3`` = the number of distinct followers of h with count 1, 2,
    >= 3; for backoff, ``ctx_alpha`` = alpha(h), set by ``NGramLM.fit``. ``ctx_of`` gives each m-gram's
    context index in those arrays.
    """

    base: int
    keys: np.ndarray
    counts: np.ndarray
    ctx_of: np.ndarray
    ctx_total: np.ndarray
    ctx_n1: np.ndarray | None = None
    ctx_n2: np.ndarray | None = None
    ctx_n3: np.ndarray | None = None
    ctx_alpha: np.ndarray | None = None

    @classmethod
    def build(cls, keys: np.ndarray, counts: np.ndarray, base: int, follower_stats: bool) -> _Table:
        ctx = keys // base  # sorted, because keys are
        starts = np.flatnonzero(np.r_[True, ctx[1:] != ctx[:-1]]) if len(ctx) else np.zeros(0, dtype=np.int64)

        def per_context(values: np.ndarray) -> np.ndarray:
            return np.add.reduceat(values, starts) if len(starts) else np.zeros(0, dtype=np.int64)

        ends = np.r_[starts[1:], len(ctx)] if len(starts) else starts
        ctx_of = np.repeat(np.arange(len(starts), dtype=np.int32 if len(starts) < 2**31 else np.int64), ends - starts)
        table = cls(base, keys, counts, ctx_of, per_context(counts))
        if follower_stats:
            table.ctx_n1 = per_context((counts == 1).astype(np.int64))
            table.ctx_n2 = per_context((counts == 2).astype(np.int64))
            table.ctx_n3 = per_context((counts >= 3).astype(np.int64))
        return table

    def find(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For m-gram codes h w: their index here and whether they are here; their context's index and whether h
        is here. One binary search serves both: the m-grams after h lie next to each other, so h is here iff the
        m-gram at the search position (clipped to the last one), or the one before it, starts with h."""
        if len(self.keys) == 0:
            none = np.zeros(len(queries), dtype=np.int64)
            return none, none.astype(bool), none, none.astype(bool)
        idx, found = _lookup(self.keys, queries, np.argsort(queries) if len(queries) > 1000 else None)
        h = queries // self.base
        before = np.maximum(idx - 1, 0)
        at, prev = self.keys[idx] // self.base == h, self.keys[before] // self.base == h
        return idx, found, np.where(at, self.ctx_of[idx], self.ctx_of[before]), at | prev

    def find_block(self, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``find`` for the ``base`` queries h w, w = 0 .. base-1 (one context, every next token), from two binary
        searches: the m-grams after h are one run of the sorted keys. What ``distribution`` and sampling need."""
        V = self.base
        ni, nfound = np.zeros(V, dtype=np.int64), np.zeros(V, dtype=bool)
        lo, hi = (int(i) for i in np.searchsorted(self.keys, [h * V, (h + 1) * V])) if len(self.keys) else (0, 0)
        ni[self.keys[lo:hi] - h * V] = np.arange(lo, hi)
        nfound[self.keys[lo:hi] - h * V] = True
        ci = np.full(V, self.ctx_of[lo] if hi > lo else 0, dtype=np.int64)
        return ni, nfound, ci, np.full(V, hi > lo)

    def count_of_counts(self) -> tuple[int, int, int, int]:
        """n1 .. n4: how many m-grams have count exactly 1, 2, 3, 4."""
        n = np.bincount(np.minimum(self.counts, 5), minlength=6)
        return int(n[1]), int(n[2]), int(n[3]), int(n[4])

    @property
    def nbytes(self) -> int:
        arrays = (self.keys, self.counts, self.ctx_of, self.ctx_total, self.ctx_n1, self.ctx_n2, self.ctx_n3,
                  self.ctx_alpha)
        return sum(a.nbytes for a in arrays if a is not None)


def _ratio(num: float, den: float, fallback: float) -> float:
    return num / den if den else fallback


def kn_discount(n1: int, n2: int) -> float:
    """Kneser-Ney's single discount D = n1 / (n1 + 2 n2), 0.5 if both are 0, clipped into [MIN_DISCOUNT, 1]."""
    return min(max(_ratio(n1, n1 + 2 * n2, 0.5), MIN_DISCOUNT), 1.0)


def backoff_discount(n1: int, n2: int) -> float:
    """Backoff's discount: n1 / (n1 + 2 n2), 0.5 if both are 0, clipped into [MIN_DISCOUNT, 1 - MIN_DISCOUNT].

    Below 1 (unlike Kneser-Ney's), because backoff mixes nothing into a seen n-gram: with D = 1 an n-gram seen
    once would get probability 0."""
    return min(max(_ratio(n1, n1 + 2 * n2, 0.5), MIN_DISCOUNT), 1.0 - MIN_DISCOUNT)


def modified_kn_discounts(n1: int, n2: int, n3: int, n4: int) -> tuple[float, float, float]:
    """Chen & Goodman's D(1), D(2), D(3+) from the count-of-counts n1 .. n4 (see the module docstring)."""
    y = _ratio(n1, n1 + 2 * n2, 0.5)
    d1 = 1 - 2 * y * n2 / n1 if n1 else 0.5
    d2 = 2 - 3 * y * n3 / n2 if n2 else 1.0
    d3 = 3 - 4 * y * n4 / n3 if n3 else 1.5
    return tuple(min(max(d, MIN_DISCOUNT), float(r)) for r, d in ((1, d1), (2, d2), (3, d3)))  # type: ignore[return-value]


# --------------------------------------------------------------------------- the model


class NGramLM:
    """An n-gram language model over integer token ids (see the module docstring for the formulas).

    >>> lm = NGramLM(3, smoothing="modified-kneser-ney").fit(ids)   # doctest: +SKIP
    >>> lm.perplexity(valid_ids), lm.bits_per_token(valid_ids)      # doctest: +SKIP
    """

    def __init__(self, order: int, smoothing: str = "mle", k: float = 1.0, *, vocab_size: int | None = None,
                 weights: Sequence[float] | None = None, unk: int | None = None) -> None:
        self.order = _need_int(order, "order", 1)
        if smoothing not in SMOOTHERS:
            raise ValueError(f"smoothing must be one of {', '.join(map(repr, SMOOTHERS))}; got {smoothing!r}.")
        self.smoothing = smoothing
        if isinstance(k, bool) or not isinstance(k, (int, float, np.integer, np.floating)):
            raise TypeError(f"k must be a number > 0, got {k!r} ({type(k).__name__}).")
        if smoothing == "add-k" and not (k > 0 and math.isfinite(k)):
            raise ValueError(f"k must be a finite number > 0 for add-k smoothing (k = 1 is Laplace), got k={k}.")
        if smoothing != "add-k" and k != 1.0:
            raise ValueError(f"k= is for smoothing='add-k' only, got k={k} with smoothing={smoothing!r} (backoff, "
                             "absolute discounting and Kneser-Ney estimate their discounts from the counts; "
                             "see the module docstring).")
        self.k = float(k)
        self.vocab_size = None if vocab_size is None else _need_int(vocab_size, "vocab_size", 1)
        if self.vocab_size is not None:
            self._check_fits(self.vocab_size)
        self.unk = None if unk is None else _need_int(unk, "unk", 0)
        if self.unk is not None and self.vocab_size is not None and self.unk >= self.vocab_size:
            raise ValueError(f"unk={self.unk} must be an id inside the vocabulary 0 .. {self.vocab_size - 1}.")
        self.weights = None if weights is None else self._check_weights(weights)
        if weights is not None and smoothing != "interpolated":
            raise ValueError(f"weights= is for smoothing='interpolated' only, got smoothing={smoothing!r}.")
        self._tables: list[_Table] | None = None  # index m - 1 for order m
        self.discounts: list[tuple[float, ...]] = []  # per order m = 1 .. order (discounting smoothers only)

    def __repr__(self) -> str:
        extra = f", k={self.k}" if self.smoothing == "add-k" else ""
        return f"NGramLM({self.order}, smoothing={self.smoothing!r}{extra}, vocab_size={self.vocab_size})"

    # ----------------------------------------------------------------------- checks

    def _check_fits(self, vocab_size: int) -> None:
        if vocab_size ** self.order > _INT64_MAX:
            raise ValueError(
                f"an order-{self.order} model over vocab_size={vocab_size} needs codes up to {vocab_size}^{self.order}"
                f", more than int64 holds (2^63 - 1); lower the order (at most "
                f"{int(math.log(_INT64_MAX) / math.log(vocab_size)) if vocab_size > 1 else 'any'}) or the vocabulary.")

    def _check_weights(self, weights: Sequence[float]) -> np.ndarray:
        w = np.asarray(weights, dtype=float)
        if w.shape != (self.order + 1,):
            raise ValueError(f"weights must hold order + 1 = {self.order + 1} numbers (uniform, unigram, ..., "
                             f"{self.order}-gram), got {len(w) if w.ndim == 1 else w.shape}.")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or abs(w.sum() - 1) > 1e-9 or w[0] <= 0:
            raise ValueError(f"weights must be non-negative, sum to 1 and give the uniform distribution (the first) "
                             f"a weight > 0; got {w.tolist()} (sum {w.sum():.6g}).")
        return w

    def _fitted(self) -> list[_Table]:
        if self._tables is None:
            raise RuntimeError(f"this {self!r} is not fitted yet: call .fit(tokens) before scoring or sampling.")
        return self._tables

    def _ids(self, tokens: object, what: str) -> np.ndarray:
        """Scored ids, checked against the vocabulary (ids >= V become ``unk`` if it is set)."""
        self._fitted()
        ids = _as_ids(tokens, what)
        assert self.vocab_size is not None
        bad = ids >= self.vocab_size
        if bad.any():
            if self.unk is None:
                pos = int(np.argmax(bad))
                raise ValueError(f"{what} holds the id {int(ids[pos])} at position {pos}, outside the vocabulary "
                                 f"0 .. {self.vocab_size - 1}; encode with the model's tokeniser (unk=True), or "
                                 f"build the model with unk=<id> to score unknown ids as that token.")
            ids = np.where(bad, self.unk, ids)
        return ids

    # ----------------------------------------------------------------------- fitting

    def fit(self, tokens: Sequence[int] | np.ndarray) -> NGramLM:
        """Count every m-gram (m = 1 .. order) of ``tokens``, one flat sequence of ids; returns self."""
        ids = _as_ids(tokens, "tokens")
        if len(ids) == 0:
            raise ValueError("cannot fit an n-gram model on an empty sequence of tokens; pass at least one id.")
        if self.vocab_size is None:
            self.vocab_size = int(ids.max()) + 1
            self._check_fits(self.vocab_size)
        elif ids.max() >= self.vocab_size:
            pos = int(np.argmax(ids >= self.vocab_size))
            raise ValueError(f"tokens holds the id {int(ids[pos])} at position {pos}, outside vocab_size="
                             f"{self.vocab_size} (ids 0 .. {self.vocab_size - 1}); give the tokeniser's vocab_size.")
        if self.unk is not None and self.unk >= self.vocab_size:
            raise ValueError(f"unk={self.unk} must be an id inside the vocabulary 0 .. {self.vocab_size - 1}.")
        V = self.vocab_size
        continuation = self.smoothing in ("kneser-ney", "modified-kneser-ney")
        discounting = continuation or self.smoothing in ("absolute-discounting", "backoff")
        raw = [np.unique(_codes(ids, m, V), return_counts=True) for m in range(1, min(self.order, len(ids)) + 1)]
        raw += [(np.zeros(0, np.int64), np.zeros(0, np.int64))] * (self.order - len(raw))
        tables: list[_Table] = []
        self.discounts = []
        for m in range(1, self.order + 1):
            keys, counts = raw[m - 1]
            if continuation and m < self.order:  # continuation counts: distinct tokens seen before each m-gram
                keys, counts = np.unique(raw[m][0] % V ** m, return_counts=True)
            table = _Table.build(keys, counts.astype(np.int64), V, follower_stats=discounting)
            if discounting:
                n = table.count_of_counts()
                self.discounts.append(modified_kn_discounts(*n) if self.smoothing == "modified-kneser-ney"
                                      else (backoff_discount(n[0], n[1]),) if self.smoothing == "backoff"
                                      else (kn_discount(n[0], n[1]),))
            if self.smoothing == "backoff":
                table.ctx_alpha = self._backoff_weights(table, m, tables)
            tables.append(table)
        self._tables = tables
        if self.smoothing == "interpolated" and self.weights is None:
            self.weights = np.full(self.order + 1, 1 / (self.order + 1))
        return self

    def _backoff_weights(self, table: _Table, m: int, lower: list[_Table]) -> np.ndarray:
        """alpha(h) for every context h of order m, given the fitted tables of orders 1 .. m-1 (``lower``).

        The sum over h's seen followers of P_{m-1}(w | h') is vectorised. No recursion is needed: the suffix h' w
        of a seen m-gram h w is itself a seen (m-1)-gram (same raw counts), and backoff gives a seen (m-1)-gram
        its discounted count, (c(h' w) - d(h')) / c(h'). One binary search per key finds it; np.bincount sums
        the results per context.
        """
        V = self.vocab_size
        assert V is not None and table.ctx_n1 is not None and table.ctx_n2 is not None and table.ctx_n3 is not None
        if m == 1:
            lower_p = np.full(len(table.keys), 1.0 / V)
        else:
            below = lower[m - 2]
            assert below.ctx_n1 is not None and below.ctx_n2 is not None and below.ctx_n3 is not None
            idx = np.searchsorted(below.keys, table.keys % V ** (m - 1))
            ci = below.ctx_of[idx]
            full = below.ctx_n1[ci] + below.ctx_n2[ci] + below.ctx_n3[ci] >= V
            d_below = np.where(full, 0.0, self.discounts[m - 2][0])
            lower_p = (below.counts[idx] - d_below) / below.ctx_total[ci]
        seen_mass = np.bincount(table.ctx_of, weights=lower_p, minlength=len(table.ctx_total))
        followers = (table.ctx_n1 + table.ctx_n2 + table.ctx_n3).astype(float)
        d = np.where(followers < V, self.discounts[m - 1][0], 0.0)  # every token seen after h: no discount, no mass
        unseen_mass = np.maximum(1.0 - seen_mass, np.finfo(float).eps)  # > 0, whatever the round-off
        return d * followers / np.maximum(table.ctx_total, 1) / unseen_mass

    @property
    def nbytes(self) -> int:
        """The memory the fitted count tables hold, in bytes."""
        return sum(t.nbytes for t in self._fitted())

    # ----------------------------------------------------------------------- scoring

    def _context(self, context: Sequence[int] | np.ndarray) -> np.ndarray:
        ctx = self._ids(context, "context")
        if len(ctx) > self.order - 1:
            remedy = ("it uses no context: pass ()" if self.order == 1
                      else f"pass the last {self.order - 1}, e.g. context[-{self.order - 1}:]")
            raise ValueError(f"context has {len(ctx)} tokens, but an order-{self.order} model looks at most "
                             f"order - 1 = {self.order - 1} back; {remedy}.")
        return ctx

    def _unseen(self, code: int, length: int, position: int | None) -> UnseenContextError:
        """The MLE error for the context whose code is ``code`` (``length`` ids), at ``position`` if known."""
        V = self.vocab_size
        assert V is not None
        ctx = tuple(int((code // V ** j) % V) for j in reversed(range(length)))
        at = "" if position is None else f" (the context of position {position})"
        return UnseenContextError(
            f"the MLE model has no distribution after the context {ctx}{at}: it never occurs in the training "
            "tokens followed by a token, so c(h) = 0. Use a smoothed model (smoothing="
            f"{', '.join(repr(s) for s in SMOOTHERS if s != 'mle')}) to score unseen contexts.", ctx)

    def _probs(self, ngrams: list[np.ndarray], depth: np.ndarray, sequence: bool,
               blocks: list[int] | None = None) -> np.ndarray:
        """P(w | h) for Q queries: ``ngrams[m-1]`` holds each query's m-gram code (context h, then w),
        ``depth`` the longest order usable (1 + the length of the context it has). ``blocks``, when the queries
        are one context followed by every w = 0 .. V-1, holds that context's code at each order (faster look-up)."""
        tables, V = self._fitted(), self.vocab_size
        assert V is not None
        p = np.full(len(depth), 1.0 / V)
        num, den = p * (self.weights[0] if self.weights is not None else 1.0), np.zeros(len(depth))
        for m, table in enumerate(tables[: int(depth.max(initial=0))], start=1):
            use, q = depth >= m, ngrams[m - 1]
            if self.smoothing in ("mle", "add-k") and not (depth == m).any():
                continue  # these two read only the longest usable order
            ni, nfound, ci, cfound = table.find(q) if blocks is None else table.find_block(blocks[m - 1])
            c = np.where(nfound, table.counts[ni] if len(table.keys) else 0, 0).astype(float)
            total = np.where(cfound, table.ctx_total[ci] if len(table.keys) else 0, 0).astype(float)
            safe = np.maximum(total, 1.0)
            if self.smoothing == "mle":
                top = depth == m
                unseen = top & ~cfound
                if unseen.any():
                    i = int(np.argmax(unseen))
                    raise self._unseen(int(q[i] // V), m - 1, i if sequence else None)
                p = np.where(top, c / safe, p)
            elif self.smoothing == "add-k":
                p = np.where(depth == m, (c + self.k) / (total + self.k * V), p)
            elif self.smoothing == "interpolated":
                assert self.weights is not None
                ok = use & cfound
                num += np.where(ok, self.weights[m] * c / safe, 0.0)
                den += np.where(ok, self.weights[m], 0.0)
            elif self.smoothing == "backoff":
                p = np.where(use & cfound, self._backoff_step(table, m, c, ci, p, safe), p)
            else:
                p = np.where(use & cfound, self._kn_step(table, m, c, ci, p) / safe, p)
        if self.smoothing == "interpolated":
            assert self.weights is not None
            return num / (den + self.weights[0])
        return p

    def _kn_step(self, table: _Table, m: int, c: np.ndarray, ci: np.ndarray, lower: np.ndarray) -> np.ndarray:
        """The numerator max(c - D(c), 0) + gamma_num(h) * P_{m-1}(w | h') of Kneser-Ney at order m."""
        assert table.ctx_n1 is not None and table.ctx_n2 is not None and table.ctx_n3 is not None
        empty = len(table.keys) == 0
        n1, n2, n3 = ((np.zeros(len(ci)) if empty else a[ci]) for a in (table.ctx_n1, table.ctx_n2, table.ctx_n3))
        d = self.discounts[m - 1]
        if len(d) == 1:
            dc = np.where(c > 0, d[0], 0.0)
            gamma = d[0] * (n1 + n2 + n3)
        else:
            dc = np.select([c == 1, c == 2, c >= 3], list(d), 0.0)
            gamma = d[0] * n1 + d[1] * n2 + d[2] * n3
        return np.maximum(c - dc, 0.0) + gamma * lower

    def _backoff_step(self, table: _Table, m: int, c: np.ndarray, ci: np.ndarray, lower: np.ndarray,
                      total: np.ndarray) -> np.ndarray:
        """Backoff at order m for queries whose context was seen: (c - D) / c(h) if c > 0, else alpha(h) P_{m-1}."""
        assert self.vocab_size is not None
        if len(table.keys) == 0:
            return lower
        assert table.ctx_n1 is not None and table.ctx_n2 is not None and table.ctx_n3 is not None
        assert table.ctx_alpha is not None
        full = table.ctx_n1[ci] + table.ctx_n2[ci] + table.ctx_n3[ci] >= self.vocab_size
        d = np.where(full, 0.0, self.discounts[m - 1][0])
        return np.where(c > 0, (c - d) / total, table.ctx_alpha[ci] * lower)

    def log_probs(self, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
        """ln P(w_i | the up to order-1 tokens before it) for every position i of ``tokens``.

        Position i < order - 1 has only i tokens before it and is scored with that shorter context.
        """
        ids = self._ids(tokens, "tokens")
        V = self.vocab_size
        assert V is not None
        positions = np.arange(len(ids))
        depth = np.minimum(positions + 1, self.order)
        ngrams, code = [], ids.copy()
        for m in range(1, min(self.order, len(ids)) + 1):
            if m > 1:
                code[m - 1:] += ids[: len(ids) - m + 1] * V ** (m - 1)
            ngrams.append(code.copy())
        with np.errstate(divide="ignore"):
            return np.log(self._probs(ngrams, depth, sequence=True)) if len(ids) else np.zeros(0)

    def distribution(self, context: Sequence[int] | np.ndarray = ()) -> np.ndarray:
        """P(w | context) for every w = 0 .. V-1, as a float array summing to 1 (context: at most order-1 ids)."""
        self._fitted()
        ctx = self._context(context)
        V = self.vocab_size
        assert V is not None
        ngrams, blocks, code = [], [], 0
        for m in range(1, len(ctx) + 2):
            ngrams.append(np.arange(V, dtype=np.int64) + code * V)
            blocks.append(code)
            if m <= len(ctx):
                code += int(ctx[len(ctx) - m]) * V ** (m - 1)
        return self._probs(ngrams, np.full(V, len(ctx) + 1), sequence=False, blocks=blocks)

    def prob(self, token: int, context: Sequence[int] | np.ndarray = ()) -> float:
        """P(token | context), the context being at most order-1 ids (fewer: a lower-order estimate)."""
        self._fitted()
        tok = int(self._ids([_need_int(token, "token", 0)], "token")[0])
        return float(self.distribution(context)[tok])

    def logprob(self, token: int, context: Sequence[int] | np.ndarray = ()) -> float:
        """ln P(token | context); -inf where the probability is 0 (MLE only)."""
        p = self.prob(token, context)
        return math.log(p) if p > 0 else -math.inf

    def perplexity(self, tokens: Sequence[int] | np.ndarray) -> float:
        """exp(-mean_i ln P(w_i | history)): the vocabulary size for a uniform model, inf if any P is 0."""
        return float(np.exp(self._cross_entropy(tokens)))

    def bits_per_token(self, tokens: Sequence[int] | np.ndarray) -> float:
        """-mean_i log2 P(w_i | history) = log2(perplexity); bits per character for a character model."""
        return float(self._cross_entropy(tokens) / math.log(2))

    def _cross_entropy(self, tokens: Sequence[int] | np.ndarray) -> float:
        lp = self.log_probs(tokens)
        if len(lp) == 0:
            raise ValueError("cannot score an empty sequence of tokens (its perplexity is undefined).")
        return float(-lp.mean())

    # ----------------------------------------------------------------------- sampling and tuning

    def generate(self, n: int, context: Sequence[int] | np.ndarray = (), *,
                 generator: np.random.Generator, stop: int | None = None) -> list[int]:
        """Sample up to ``n`` tokens one at a time, each from ``distribution`` of the order-1 tokens before it.

        ``context`` (any length; its last order-1 ids are used) starts the history; ``generator`` is an
        explicit ``np.random.default_rng(seed)``, so samples are reproducible. ``stop``, an id of the
        vocabulary (e.g. the tokeniser's ``<eos>``), ends the sample right after it is drawn; it is the last
        token returned (``n`` stays the most drawn). An MLE model can reach a context that only ends the
        training tokens (never followed by anything): that raises ``UnseenContextError``, as scoring it
        would; smoothed models never do.
        """
        n = _need_int(n, "n", 0)
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"generator must be a numpy Generator, e.g. np.random.default_rng(0); got "
                            f"{type(generator).__name__}.")
        self._fitted()
        if stop is not None:
            V = self.vocab_size
            assert V is not None
            stop = _need_int(stop, "stop", 0)
            if stop >= V:
                raise ValueError(f"stop={stop} is not an id of the vocabulary 0 .. {V - 1}; pass the id of the token "
                                 "that ends a sample, e.g. tok.token_to_id('<eos>'), or stop=None.")
        history = [int(t) for t in self._ids(context, "context")]
        out: list[int] = []
        for _ in range(n):
            h = history[len(history) - self.order + 1:] if self.order > 1 else []
            p = self.distribution(h)
            token = int(np.searchsorted(np.cumsum(p), generator.random() * p.sum(), side="right"))
            token = min(token, len(p) - 1)
            out.append(token)
            history.append(token)
            if token == stop:
                break
        return out

    def tune_weights(self, heldout: Sequence[int] | np.ndarray, iterations: int = 100, tol: float = 1e-9) -> NGramLM:
        """Set the interpolation weights that maximise the likelihood of ``heldout`` tokens (EM); returns self.

        E step: each position's probability splits into the parts lambda_m P_m / sum_j lambda_j P_j contributed
        by each usable order; M step: lambda_m = the mean part of order m. (Exact EM where every order is usable;
        positions whose long contexts are unseen only share their mass among the orders they have.)
        """
        if self.smoothing != "interpolated":
            raise ValueError(f"tune_weights is for smoothing='interpolated', this model uses {self.smoothing!r} "
                             "(the discounting smoothers estimate their discounts from the counts at fit; add-k "
                             "takes k=).")
        self._fitted()
        ids = self._ids(heldout, "heldout")
        if len(ids) == 0:
            raise ValueError("cannot tune weights on an empty heldout sequence; pass the validation tokens.")
        parts = np.stack([self._order_estimates(ids, m) for m in range(self.order + 1)])  # (order+1, T), nan = absent
        parts = np.nan_to_num(parts)
        w = np.asarray(self.weights, dtype=float)
        for _ in range(_need_int(iterations, "iterations", 1)):
            share = w[:, None] * parts  # lambda_m P_m, 0 where order m is not usable
            new = (share / share.sum(axis=0)).mean(axis=1)  # the mean responsibility of each order
            done = np.abs(new - w).max() < tol
            w = new
            if done:
                break
        self.weights = w / w.sum()
        return self

    def _order_estimates(self, ids: np.ndarray, m: int) -> np.ndarray:
        """P_mle,m(w_i | its last m-1 tokens) for every position, nan where that order is not usable."""
        if m == 0:
            return np.full(len(ids), 1.0 / self.vocab_size)  # type: ignore[operator]
        table, V = self._fitted()[m - 1], self.vocab_size
        assert V is not None
        code = _codes(ids, m, V) if len(ids) >= m else np.zeros(0, np.int64)
        ni, nfound, ci, cfound = table.find(code)
        c = np.where(nfound, table.counts[ni] if len(table.keys) else 0, 0)
        total = np.where(cfound, table.ctx_total[ci] if len(table.keys) else 0, 0)
        est = np.full(len(ids), np.nan)
        est[m - 1:] = np.where(cfound, c / np.maximum(total, 1), np.nan)
        return est
