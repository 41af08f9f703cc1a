"""Benchmark chapter 11's scoring and search code: BM25 and TF-IDF over the KJV, chrF, ROUGE-L.

Usage::

    python tools/bench_retrieval.py [--repeat 3]

Targets (issue 13): BM25 indexes all 31,102 KJV verses in under 1.5 s and answers 100 queries in
under 0.5 s; ROUGE-L of a 3,000-word chapter against a 300-word summary well under 0.5 s. chrF from
scratch is timed beside sacrebleu's on the verse pairs (the two must agree; the tests prove it).
The figures are timings: they vary by machine and load and are printed, not asserted. Each is the
best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import random
import time

from lmcourse import data
from lmcourse.retrieval import BM25, TfIdf, recall_at_k, words
from lmcourse.scores import chrf, rouge_l, sacre_chrf


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
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    verses = data.load_text("kjv").splitlines()
    rng = random.Random(0)
    targets = rng.sample(range(len(verses)), 100)
    queries = [" ".join(rng.sample(words(verses[i]), min(5, len(words(verses[i]))))) for i in targets]
    for ranker in (BM25, TfIdf):
        seconds, index = best_time(lambda ranker=ranker: ranker().fit(verses), args.repeat)
        print(f"{ranker.__name__}: fit {len(verses):,} verses in {seconds:.3f} s", end="; ")
        seconds, ranked = best_time(lambda index=index: [index.search(q, 10) for q in queries], args.repeat)
        recall = recall_at_k(ranked, [{i} for i in targets], 10)
        print(f"100 queries in {seconds:.3f} s (recall@10 of the verse the words came from: {recall:.2f})")

    pairs = data.load_records("kjv_rv1909_pairs")[:1000]
    spanish = [p["es"] for p in pairs]
    shuffled = [" ".join(rng.sample(s.split(), len(s.split()))) for s in spanish]
    ours, score = best_time(lambda: chrf(shuffled, spanish), args.repeat)
    theirs, reference = best_time(lambda: sacre_chrf(shuffled, spanish), args.repeat)
    print(f"chrF of {len(pairs)} shuffled verses: {score:.6f} in {ours:.3f} s; sacrebleu {reference:.6f} "
          f"in {theirs:.3f} s")

    text = " ".join(data.load_text("pride_and_prejudice").split()[:3000])
    summary = " ".join(rng.sample(text.split(), 300))
    seconds, rouge = best_time(lambda: rouge_l(summary, text), args.repeat)
    print(f"ROUGE-L of a 300-word summary against a 3,000-word chapter: recall {rouge.recall:.3f} in {seconds:.4f} s")


if __name__ == "__main__":
    main()
