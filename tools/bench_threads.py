"""How should two CPU cores be shared: one notebook on two threads, or two notebooks on one thread each?

    python tools/bench_threads.py [--steps 30]

Times one training step (forward, backward, AdamW) of two small models of the
sizes the course trains at the ``ci`` scale, a 3-layer width-128 Transformer and
a 2-layer width-128 LSTM (batch 32, 128 tokens), in three arrangements:

1. one process with 2 threads (one notebook at a time, as the suite ran before);
2. one process with 1 thread;
3. two 1-thread processes at the same time (two notebooks at a time: pytest-xdist).

The figure that decides is the time per step *per notebook* in arrangement 3,
halved (two steps are done in it), against arrangement 1. The figures are
timings: printed, not asserted (CONTRIBUTING.md, "Time", records the decision).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def step_ms(model: str, threads: int, steps: int) -> float:
    """Median milliseconds of one training step of ``model`` on ``threads`` threads."""
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    vocab, batch, length, width = 70, 32, 128, 128
    emb, head = nn.Embedding(vocab, width), nn.Linear(width, vocab)
    if model == "transformer":
        layer = nn.TransformerEncoderLayer(width, 4, 4 * width, dropout=0.0, batch_first=True, norm_first=True)
        body: nn.Module = nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
        mask = nn.Transformer.generate_square_subsequent_mask(length)

        def run(h: torch.Tensor) -> torch.Tensor:
            return body(h, mask=mask, is_causal=True)
    else:
        body = nn.LSTM(width, width, num_layers=2, batch_first=True)

        def run(h: torch.Tensor) -> torch.Tensor:
            return body(h)[0]
    params = [*emb.parameters(), *body.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-3)
    x = torch.randint(0, vocab, (batch, length))
    y = torch.randint(0, vocab, (batch, length))
    times = []
    for i in range(steps + 3):
        start = time.perf_counter()
        loss = nn.functional.cross_entropy(head(run(emb(x))).reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 3:  # the first steps warm up the allocator and the kernels
            times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def in_subprocess(model: str, threads: int, steps: int) -> subprocess.Popen[str]:
    code = f"import bench_threads as b; print(b.step_ms({model!r}, {threads}, {steps}))"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env,
                            cwd=os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    results = {}
    for model in ("transformer", "lstm"):
        two = float(in_subprocess(model, 2, args.steps).communicate()[0])
        one = float(in_subprocess(model, 1, args.steps).communicate()[0])
        pair = [in_subprocess(model, 1, args.steps) for _ in range(2)]
        side = [float(p.communicate()[0]) for p in pair]
        per_step = sum(side) / 2 / 2  # two processes each took ~side ms per step: 2 steps per ~side ms
        results[model] = {"2 threads": two, "1 thread": one, "two 1-thread side by side": side,
                          "gain": 1 - per_step / two}
        print(f"{model:<12} 2 threads {two:6.0f} ms | 1 thread {one:6.0f} ms | two 1-thread processes "
              f"{side[0]:.0f} and {side[1]:.0f} ms each -> {per_step:.0f} ms per step of work, "
              f"{100 * (1 - per_step / two):+.0f} % against 2 threads")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
