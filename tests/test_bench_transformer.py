"""The Transformer benchmark's machinery (tools/bench_transformer.py): each recipe trains with the optimizer it
names, a run made in chunks makes exactly the updates of one call of ``train``, and the step timing covers every
recipe. The benchmark's figures themselves are wall times on a given machine: it prints them; nothing here
asserts them.
"""

from __future__ import annotations

import math

import bench_transformer as bench  # tools/ is on the path through pyproject.toml's `pythonpath`
import pytest
import torch

from lmcourse import batches
from lmcourse.train import cosine_schedule, train
from lmcourse.transformer import TransformerConfig, TransformerLM

V = 11
ARCH = {"block_size": 8, "n_layer": 1, "n_head": 2, "n_embd": 16}
FIT = {"steps": 30, "batch_size": 4, "lr": 1e-2, "warmup": 3, "clip": 1.0}
TEXT = torch.arange(600) % V  # a cycle: easy to learn


def test_nanogpt_recipe_decays_matrices_only_with_its_betas() -> None:
    run = bench.Run("nano", ARCH, bench.NANOGPT_CPU[1], V, TEXT)
    decayed, plain = run.optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decayed["params"]) and all(p.dim() < 2 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(run.model.parameters()))
    assert decayed["betas"] == (0.9, 0.99) and decayed["lr"] == 1e-3


def test_short_recipe_uses_nanogpts_betas_without_weight_decay() -> None:
    run = bench.Run("short", ARCH, {**bench.SHORT[1], "steps": 1000}, V, TEXT)
    assert all(g["weight_decay"] == 0.0 and g["betas"] == (0.9, 0.99) for g in run.optimizer.param_groups)
    assert run.optimizer.param_groups[0]["lr"] == bench.SHORT[1]["lr"]


def one_call(arch: dict, fit: dict, nanogpt: bool = False) -> TransformerLM:
    """The recipe trained alone in one call of ``train``, from seed 0: as chapter 08 trains (``train``'s own AdamW),
    or with nanoGPT's optimizer groups."""
    torch.manual_seed(0)
    model = TransformerLM(TransformerConfig(vocab_size=V, **arch))
    x, y = batches.windows(TEXT, arch["block_size"], stride=1)
    how = {"optimizer": bench.optimizer_for(model, fit)} if nanogpt else {"lr": fit["lr"]}
    train(model, x, y, steps=fit["steps"], batch_size=fit["batch_size"], clip=fit["clip"],
          schedule=cosine_schedule(fit["steps"], warmup=fit["warmup"], floor=0.1), seed=0, **how)
    return model


def assert_same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q), name


def test_a_run_in_chunks_makes_the_updates_of_one_call_of_train() -> None:
    """As chapter 08 trains (train's own AdamW, one call), bit for bit, with chunks that do not divide the steps."""
    run = bench.Run("chunks", ARCH, FIT, V, TEXT)
    while run.done < FIT["steps"]:
        run.advance(7)
    assert run.done == FIT["steps"] and run.wall > 0 and run.cpu > 0
    assert_same(one_call(ARCH, FIT), run.model)


def test_runs_taking_turns_each_make_the_updates_of_running_alone() -> None:
    """With dropout (global random draws) and with nanoGPT's optimizer groups, two runs in turns each end exactly
    as one call of ``train`` would."""
    arch = {**ARCH, "dropout": 0.2}
    nano_fit = {**FIT, "betas": (0.9, 0.99), "weight_decay": 0.1}
    nano, short = bench.Run("nano", arch, nano_fit, V, TEXT), bench.Run("short", arch, {**FIT, "steps": 17}, V, TEXT)
    bench.take_turns([nano, short], turns=4)
    assert_same(one_call(arch, nano_fit, nanogpt=True), nano.model)
    assert_same(one_call(arch, {**FIT, "steps": 17}), short.model)


@pytest.mark.parametrize("steps", [1, 19, 20, 21, 381])
def test_take_turns_ends_each_run_at_its_steps(steps: int) -> None:
    class Counter:
        def __init__(self, steps: int) -> None:
            self.fit, self.done, self.chunks = {"steps": steps}, 0, []

        def advance(self, n: int) -> None:
            assert n >= 0
            self.chunks.append(n)
            self.done += n

    runs = [Counter(steps), Counter(2000)]
    bench.take_turns(runs)  # type: ignore[arg-type]
    assert [r.done for r in runs] == [steps, 2000]
    assert runs[1].chunks == [100] * 20 and len(runs[0].chunks) == 20
    assert max(runs[0].chunks) - min(runs[0].chunks) <= 1  # spread evenly over the turns


def test_a_run_learns_and_reports_its_loss() -> None:
    run = bench.Run("tiny", ARCH, FIT, V, TEXT)
    run.advance(FIT["steps"])
    run.advance(5)  # past the end: nothing more
    assert run.done == FIT["steps"]
    loss = run.report(batches.scoring_windows(TEXT[:200], ARCH["block_size"]))
    assert loss < math.log(V) - 0.5  # well below a uniform guess after 30 steps of a cycle


def test_seconds_per_step_times_each_recipe() -> None:
    other = ({**ARCH, "n_layer": 2}, {**FIT, "betas": (0.9, 0.99)})
    times = bench.seconds_per_step([(ARCH, FIT), other], V, TEXT, rounds=2, steps=2)
    assert len(times) == 2 and all(t > 0 and math.isfinite(t) for t in times)
