"""Benchmark the course's LSTM against ``torch.nn.LSTM``: one forward and backward pass, in milliseconds.

Usage::

    python tools/bench_lstm.py [--batch 32] [--steps 64] [--input 64] [--hidden 256] [--layers 1]
                               [--threads 2] [--repeat 15] [--warmup 3] [--device cpu]

Times ``output.sum()``-style training work (forward, then backward of a weighted sum of the output,
with the input and every weight needing gradients) for

1. ``torch.nn.LSTM`` (on the CPU: oneDNN's fused kernels);
2. the textbook loop: ``lstm_cell`` step by step, autograd doing the backward pass (``impl="cell"``);
3. ``lmcourse.models.LSTM`` (``impl="fused"``): one matrix product for all the input projections,
   one per step for all four gates, and the hand-written backward through time.

Issue 10's target: the fused LSTM within 2x of ``torch.nn.LSTM`` (1.3x if possible) at batch 32,
64 steps, input 64, hidden 256, on 2 CPU threads. Each figure is the median of ``--repeat`` runs
after ``--warmup`` runs; the three are timed in turns (torch, cell, fused, torch, ...), so that a
burst of load from other processes hits all of them alike. The figures are timings: they vary
with the machine and its load, and are printed, not asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    from lmcourse.models import LSTM

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    ref = torch.nn.LSTM(args.input, args.hidden, args.layers, batch_first=True).to(device)
    models = {
        "torch.nn.LSTM": ref,
        "lstm_cell loop (autograd)": LSTM.from_torch(ref, impl="cell"),
        "LSTM fused (hand-written backward)": LSTM.from_torch(ref, impl="fused"),
    }
    x = torch.randn(args.batch, args.steps, args.input, device=device, requires_grad=True)
    weight = torch.randn(args.batch, args.steps, args.hidden, device=device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def run(model: torch.nn.Module) -> float:
        sync()
        start = time.perf_counter()
        out, _ = model(x)
        (out * weight).sum().backward()
        sync()
        return time.perf_counter() - start

    times: dict[str, list[float]] = {name: [] for name in models}
    for k in range(args.warmup + args.repeat):
        for name, model in models.items():
            model.zero_grad(set_to_none=True)
            x.grad = None
            t = run(model)
            if k >= args.warmup:
                times[name].append(t)

    print(f"forward + backward, batch {args.batch}, {args.steps} steps, input {args.input}, hidden {args.hidden}, "
          f"{args.layers} layer(s), {args.device}, {torch.get_num_threads()} thread(s), torch {torch.__version__}; "
          f"median of {args.repeat} runs")
    base = statistics.median(times["torch.nn.LSTM"])
    for name, ts in times.items():
        ms = statistics.median(ts) * 1000
        print(f"  {name:<36} {ms:8.2f} ms   {ms / 1000 / base:5.2f} x torch   "
              f"(min {min(ts) * 1000:.2f}, max {max(ts) * 1000:.2f})")


if __name__ == "__main__":
    main()
