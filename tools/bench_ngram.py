"""Benchmark lmcourse.ngram on the course's Shakespeare split: fit time, scoring speed, memory.

Usage::

    python tools/bench_ngram.py [--orders 5 8] [--smoothing modified-kneser-ney] [--repeat 3]
                                [--table [--table-smoothing backoff absolute-discounting ...]]

The corpus is ``lmcourse.data.splits("shakespeare")`` encoded with
``CharTokenizer().fit(train)`` (validation characters unseen in training become
``<unk>``). Issue 9's targets: a character 5-gram modified-Kneser-Ney model fits
in under 1 s and scores the validation split at over 1,000,000 characters per
second (least acceptable: 3 s and 100,000/s). The figures are timings: they
vary by machine and load and are printed, not asserted (speed is a benchmark,
not a test). Each timing is the best of ``--repeat`` runs. ``--table`` adds
validation bits per character for orders 1-8 and every smoother (add-k with
k = 0.1; interpolation weights tuned by EM on the validation split itself, so
that column is slightly optimistic), in the order of ``SMOOTHERS``: MLE, add-k,
interpolated, backoff, absolute discounting, Kneser-Ney, modified Kneser-Ney;
``--table-smoothing`` picks some of those columns.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from lmcourse import data
from lmcourse.ngram import SMOOTHERS, NGramLM
from lmcourse.tokenize import CharTokenizer


def best_time(fn, repeat: int) -> tuple[float, object]:
    """The shortest wall time of ``repeat`` calls of ``fn`` and the last result."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[5, 8])
    parser.add_argument("--smoothing", default="modified-kneser-ney", choices=SMOOTHERS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--table", action="store_true", help="also print validation bits/char by order and method")
    parser.add_argument("--table-smoothing", nargs="+", default=list(SMOOTHERS), choices=SMOOTHERS,
                        help="the smoothers (columns) of --table; all by default")
    args = parser.parse_args()

    parts = data.splits("shakespeare")
    tok = CharTokenizer().fit(parts.train)
    train = np.array(tok.encode(parts.train), dtype=np.int64)
    valid = np.array(tok.encode(parts.valid, unk=True), dtype=np.int64)
    print(f"shakespeare: {len(train):,} training and {len(valid):,} validation characters, "
          f"vocabulary {tok.vocab_size} (with specials)")
    for order in args.orders:
        def fit(order: int = order) -> NGramLM:
            return NGramLM(order, args.smoothing, vocab_size=tok.vocab_size).fit(train)

        fit_s, lm = best_time(fit, args.repeat)
        assert isinstance(lm, NGramLM)
        score_s, bits = best_time(lambda lm=lm: lm.bits_per_token(valid), args.repeat)
        tracemalloc.start()
        fit()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"order {order} {args.smoothing}: fit {fit_s:.3f} s, scoring {len(valid) / score_s:,.0f} chars/s, "
              f"validation {bits:.4f} bits/char; the model holds {lm.nbytes / 2**20:.1f} MiB "
              f"(peak {peak / 2**20:.0f} MiB while fitting)")
    if args.table:
        print("\nvalidation bits per character")
        print("order " + "".join(f"{s:>21}" for s in args.table_smoothing))
        for order in range(1, 9):
            row = []
            for smoothing in args.table_smoothing:
                kw = {"k": 0.1} if smoothing == "add-k" else {}
                lm = NGramLM(order, smoothing, vocab_size=tok.vocab_size, **kw).fit(train)
                if smoothing == "interpolated":
                    lm.tune_weights(valid)
                try:
                    row.append(f"{lm.bits_per_token(valid):21.4f}")
                except ValueError:  # MLE: a validation context never seen in training
                    row.append(f"{'unseen context':>21}")
            print(f"{order:>5} " + "".join(row))


if __name__ == "__main__":
    main()
