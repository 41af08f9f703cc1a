"""Time ``lmcourse.safety.candidate_log_probs`` on one CPU thread: every 4-letter secret after CANARY_PREFIX.

    python tools/bench_canary.py [--repeats 5]

A 2-layer TransformerLM of width 64 (4 heads, block 64) on Shakespeare's 70 character ids, 26 letters, secrets of
length 4 (456,976 candidates), the 19-character prefix "the secret code is ". Prints each run's wall time and the
best; the first run includes warm-up.
"""

from __future__ import annotations

import argparse
import time

import torch

from lmcourse import data, safety
from lmcourse import tokenize as tk
from lmcourse.transformer import TransformerConfig, TransformerLM


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (default 5)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    tok = tk.CharTokenizer().fit(data.splits("shakespeare").train)
    torch.manual_seed(0)
    model = TransformerLM(TransformerConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=64))
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        log_probs = safety.candidate_log_probs(model, tok, safety.CANARY_PREFIX, length=4)
        times.append(time.perf_counter() - start)
    print(f"{log_probs.size:,} candidates; runs: {', '.join(f'{t:.2f}' for t in times)} s; best {min(times):.2f} s "
          f"on 1 thread")


if __name__ == "__main__":
    main()
