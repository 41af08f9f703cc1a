"""Benchmark the from-scratch BPE: incremental training, encoding, and the naive loop for contrast.

Usage::

    python tools/bench_bpe.py [TEXT_FILE] [--merges 1000] [--naive-chars 20000] [--naive-merges 100]

``TEXT_FILE`` defaults to ``datasets/shakespeare.txt``. If that file is not
there, the script builds about 1.1 MB of English from text every Python
install carries (the help topics of ``pydoc_data``), repeated as needed, and
says so. The figures are timings: they vary by machine and are printed, not
asserted (speed is a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lmcourse.tokenize import BPETokenizer, naive_bpe_merges, tokens_per_char

DEFAULT = Path(__file__).resolve().parent.parent / "datasets" / "shakespeare.txt"
TARGET_BYTES = 1_100_000


def load_text(path: Path | None) -> tuple[str, str]:
    """The benchmark text and a line saying where it came from."""
    path = path or DEFAULT
    if path.is_file():
        return path.read_text(encoding="utf-8"), f"{path} ({path.stat().st_size:,} bytes)"
    if path != DEFAULT:
        raise SystemExit(f"{path} does not exist; give a UTF-8 text file, or no argument for the default")
    import pydoc_data.topics

    base = "\n\n".join(pydoc_data.topics.topics[k] for k in sorted(pydoc_data.topics.topics))
    text = (base * (TARGET_BYTES // len(base.encode()) + 1))
    text = text.encode()[:TARGET_BYTES].decode("utf-8", errors="ignore")
    return text, (f"{DEFAULT.name} not found; synthesised {len(text.encode()):,} bytes from Python's "
                  f"pydoc_data help topics ({len(base.encode()):,} distinct bytes, repeated)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("text", nargs="?", type=Path, default=None)
    ap.add_argument("--merges", type=int, default=1000)
    ap.add_argument("--naive-chars", type=int, default=20_000)
    ap.add_argument("--naive-merges", type=int, default=100)
    args = ap.parse_args()

    text, source = load_text(args.text)
    print(f"text: {source}")

    t0 = time.perf_counter()
    bpe = BPETokenizer(args.merges).fit(text)
    t_fit = time.perf_counter() - t0
    print(f"incremental fit: {len(bpe.merges)} merges on {len(text.encode()):,} bytes in {t_fit:.2f} s")

    t0 = time.perf_counter()
    ids = bpe.encode(text)                               # fit left the chunk cache empty: cold
    t_cold = time.perf_counter() - t0
    assert bpe.decode(ids) == text, "round trip failed"
    t0 = time.perf_counter()
    bpe.encode(text)                                     # every chunk now cached: warm
    t_warm = time.perf_counter() - t0
    mb = len(text.encode()) / 1e6
    print(f"encode: {len(ids):,} tokens ({tokens_per_char(bpe, text):.3f} tokens/char); "
          f"cold cache {mb / t_cold:.2f} MB/s, warm cache {mb / t_warm:.2f} MB/s")

    small = text[:args.naive_chars]
    t0 = time.perf_counter()
    naive = naive_bpe_merges(small, args.naive_merges)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = BPETokenizer(args.naive_merges).fit(small)
    t_fast = time.perf_counter() - t0
    same = "identical" if naive == fast.merges else "DIFFERENT"
    print(f"on the first {len(small):,} characters, {args.naive_merges} merges: naive {t_naive:.2f} s, "
          f"incremental {t_fast:.3f} s ({t_naive / t_fast:.0f}x faster); merges {same}")


if __name__ == "__main__":
    main()
