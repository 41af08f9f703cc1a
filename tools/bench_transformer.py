"""Benchmark the course's Transformer: nanoGPT's CPU recipe against the course's own settings, and the price of
writing attention by hand.

Usage::

    python tools/bench_transformer.py [--only recipes|throughput] [--threads 2] [--scale ci]

1. **Recipes.** Trains, through the course's one loop (``lmcourse.train.train``) on the course's Shakespeare
   split and character vocabulary, (a) the configuration of nanoGPT's documented CPU recipe for character-level
   Shakespeare (4 layers, 4 heads, width 128, context 64, batch 12, learning rate 1e-3 with 100 warm-up steps and
   cosine decay to 1e-4, AdamW with betas (0.9, 0.99) and weight decay 0.1 on the matrices, gradients clipped to
   1.0, no dropout, 2,000 steps), (b) the course's own recipe at ``--scale`` (``lmcourse.transformer.RECIPES``,
   exactly as chapter 08 trains it), and (c) the course's choices for a run of a few minutes
   (:data:`SHORT`: 2 layers of width 128 with 2 heads, batch 32, learning rate 5e-3 with 50 warm-up steps and
   cosine decay to 2 % of it, clipping, no weight decay) given the wall time of (a): as many steps as its
   speed (the median of 5 timed rounds of 20 steps) fits into 90 % of (a)'s time, the schedule spanning them.
   Prints, for each, the parameter count, the training wall time and the validation loss (nats per character,
   all of the validation split, on ``batches.scoring_windows(valid, 64)`` as chapter 08 scores every model).
   Issue 11's target: the course's choices at least 0.15 nats lower in no more wall time.
2. **Throughput.** Tokens per second of training steps (forward, backward, AdamW update) of the course's
   ``TransformerLM`` against the same architecture built from ``torch.nn`` built-ins (``nn.TransformerEncoder``
   of pre-norm ``nn.TransformerEncoderLayer`` with a causal mask, which runs PyTorch's fused attention), at the
   course recipe's batch and context. Issue 11's target: within 1.3 times. The two are timed in turns, median of
   ``--repeat`` rounds, so that a burst of load from other processes hits both alike.

Wall times vary with the machine and its load: they are printed, not asserted.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Any

import torch
from torch import nn

from lmcourse import batches, data
from lmcourse import tokenize as tk
from lmcourse.ecosystem import TorchTransformerLM
from lmcourse.train import cosine_schedule, evaluate, train
from lmcourse.transformer import RECIPES, TransformerConfig, TransformerLM

#: nanoGPT's README, "I only have a macbook": config/train_shakespeare_char.py with these overrides.
NANOGPT_CPU = ({"block_size": 64, "n_layer": 4, "n_head": 4, "n_embd": 128, "dropout": 0.0},
               {"steps": 2000, "batch_size": 12, "lr": 1e-3, "warmup": 100, "floor": 0.1, "clip": 1.0,
                "betas": (0.9, 0.99), "weight_decay": 0.1})

#: The course's choices for a few minutes of CPU, found by equal-time runs of this benchmark: in so short a run
#: a shallower model taking more updates of a smaller batch at a higher rate learns more than a deeper one
#: taking few; two heads of 64 run faster on a CPU than four of 32 (fewer, larger matrix products); no dropout
#: or weight decay, as a model this far from fitting its data needs no regularising. ``steps`` is set by the
#: time available.
SHORT = ({"block_size": 64, "n_layer": 2, "n_head": 2, "n_embd": 128},
         {"batch_size": 32, "lr": 5e-3, "warmup": 50, "floor": 0.02, "clip": 1.0})


def optimizer_for(model: nn.Module, fit: dict[str, Any]) -> torch.optim.Optimizer:
    """AdamW as nanoGPT builds it: weight decay on the matrices (2-D and up) only, not on biases and LayerNorms."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": fit.get("weight_decay", 0.0)}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=fit["lr"], betas=fit.get("betas", (0.9, 0.999)))


def run_recipe(name: str, arch: dict[str, Any], fit: dict[str, Any], V: int, train_ids: torch.Tensor,
               valid: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
    """Train one recipe from seed 0; print and return (wall seconds of training, validation loss in nats).

    A recipe with ``betas`` is nanoGPT's, trained with its own optimizer groups; the course's recipes are trained
    exactly as chapter 08 trains them, through ``train``'s own AdamW.
    """
    config = TransformerConfig(vocab_size=V, **arch)
    x, y = batches.windows(train_ids, config.block_size, stride=1)
    torch.manual_seed(0)
    model = TransformerLM(config)
    steps = fit["steps"]
    schedule = cosine_schedule(steps, warmup=fit["warmup"], floor=fit.get("floor", 0.1))
    if "betas" in fit:
        how: dict[str, Any] = {"optimizer": optimizer_for(model, fit)}
    else:
        how = {"lr": fit["lr"], "weight_decay": fit.get("weight_decay", 0.0)}
    start = time.perf_counter()
    train(model, x, y, steps=steps, batch_size=fit["batch_size"], clip=fit.get("clip"), schedule=schedule, seed=0,
          desc=name, **how)
    wall = time.perf_counter() - start
    loss = evaluate(model, *valid)
    print(f"{name:<34} {config.n_params() / 1e6:5.2f} M params  {steps:>5} steps of {fit['batch_size']:>3} x "
          f"{config.block_size}  {wall:6.1f} s  validation {loss:.4f} nats/char ({loss / math.log(2):.4f} bpc)",
          flush=True)
    return wall, loss


def seconds_per_step(arch: dict[str, Any], fit: dict[str, Any], V: int, train_ids: torch.Tensor,
                     rounds: int = 5, steps: int = 20) -> float:
    """The median time of one training step of a recipe over ``rounds`` runs of ``steps`` steps (no evaluation).

    The median, not the mean: a burst of other work on a shared machine slows one round, not all of them.
    """
    config = TransformerConfig(vocab_size=V, **arch)
    x, y = batches.windows(train_ids, config.block_size, stride=1)
    times = []
    for _ in range(rounds):
        torch.manual_seed(0)
        model = TransformerLM(config)
        start = time.perf_counter()
        train(model, x, y, steps=steps, batch_size=fit["batch_size"], lr=fit["lr"], clip=fit.get("clip"), seed=0,
              desc="timing")
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def throughput(config: TransformerConfig, batch_size: int, repeat: int) -> None:
    """Print tokens per second of training steps, from scratch against torch.nn built-ins, timed in turns."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, config.vocab_size, (batch_size, config.block_size), generator=gen)
    y = torch.randint(0, config.vocab_size, (batch_size, config.block_size), generator=gen)
    torch.manual_seed(0)
    models: dict[str, nn.Module] = {"from scratch (lmcourse)": TransformerLM(config),
                                    "torch.nn built-ins": TorchTransformerLM(config)}
    optimizers = {name: torch.optim.AdamW(m.parameters(), lr=1e-4) for name, m in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}

    def step(name: str) -> float:
        model, opt = models[name], optimizers[name]
        start = time.perf_counter()
        out = model(x)
        logits = out[0] if isinstance(out, tuple) else out
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - start

    for round_ in range(repeat + 3):
        for name in models:
            seconds = step(name)
            if round_ >= 3:  # the first rounds warm up the allocator and the kernels
                times[name].append(seconds)
    tokens = batch_size * config.block_size
    rates = {name: tokens / statistics.median(t) for name, t in times.items()}
    for name, rate in rates.items():
        print(f"  {name:<26} {rate:9,.0f} tokens/s")
    ratio = rates["torch.nn built-ins"] / rates["from scratch (lmcourse)"]
    print(f"  the built-ins are {ratio:.2f} times as fast (target: at most 1.3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=("recipes", "throughput"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scale", choices=sorted(RECIPES), default="ci")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sh = data.splits("shakespeare")
    chars = tk.CharTokenizer().fit(sh.train)
    V = chars.vocab_size
    arch, fit = RECIPES[args.scale]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; Shakespeare characters, V = {V}")
    if args.only in (None, "recipes"):
        train_ids = torch.tensor(chars.encode(sh.train))
        valid = batches.scoring_windows(chars.encode(sh.valid), 64)  # as chapter 08 scores every model
        wall_a, loss_a = run_recipe("nanoGPT CPU recipe", *NANOGPT_CPU, V, train_ids, valid)
        wall_b, loss_b = run_recipe(f"course recipe ({args.scale})", arch, fit, V, train_ids, valid)
        arch_c, fit_c = SHORT
        step_s = seconds_per_step(arch_c, fit_c, V, train_ids)
        steps_c = int(0.9 * wall_a / step_s)  # 10 % spare: a long run's steps are slower than the probe's
        print(f"(the short recipe takes {1000 * step_s:.0f} ms a step, the median of 5 rounds of 20)", flush=True)
        wall_c, loss_c = run_recipe(f"short recipe, {steps_c} steps", arch_c,
                                    {**fit_c, "steps": steps_c, "warmup": min(fit_c["warmup"], steps_c // 10)}, V,
                                    train_ids, valid)
        for name, wall, loss in ((f"course recipe ({args.scale})", wall_b, loss_b),
                                 ("short recipe in nanoGPT's time", wall_c, loss_c)):
            print(f"{name}: {loss_a - loss:+.3f} nats/char lower than nanoGPT's recipe (target +0.15) in "
                  f"{wall / wall_a:.2f} times its wall time (target at most 1)")
    if args.only in (None, "throughput"):
        config = TransformerConfig(vocab_size=V, **{**arch, "dropout": 0.0})
        print(f"throughput at the course recipe's sizes, batch {fit['batch_size']} x context {config.block_size}:")
        throughput(config, fit["batch_size"], args.repeat)


if __name__ == "__main__":
    main()
