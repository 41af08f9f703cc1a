"""lmcourse.distributed: two processes with half the batch each follow one process's loss curve, and every way to
start it wrongly says what was wrong.

The real runs go through torchrun (``python -m torch.distributed.run``) with a tiny model (1 block of width 32,
8 steps, 20,000 characters), one thread per process. Most of their time is start-up: torchrun and each worker
import torch. The errors that :func:`launch` catches before starting anything are checked without starting it.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lmcourse import distributed
from lmcourse.distributed import RENDEZVOUS, Run, launch, max_difference, single

ROOT = Path(__file__).resolve().parent.parent
TINY = {"steps": 8, "n_layer": 1, "n_embd": 32, "chars": 20_000, "backend": "gloo", "timeout": 120}
#: Two processes add up the loss and the gradients in another order than one (the mean of two shard means, not one
#: mean of 32 rows): float32 rounding. Measured on this platform: 4.8e-7 at most, one float32 ulp of a loss near 4
#: (2**-21), both for these 8 steps and for the notebook's 30 steps of the default model (2 x 64); Adam's normalised
#: steps could carry such a difference on and grow it on another platform or BLAS, hence 200 times that. It is
#: still far below a real difference, measured on these 8 steps: training on rank 0's half of each batch alone (as
#: if the gradients were not all-reduced) moves the curve by up to 0.029, a learning rate 10% higher by 0.034.
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def runs() -> tuple[Run, Run, str]:
    """One run with one process and one with two, on the same global batches; and what they printed."""
    printed = io.StringIO()
    with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(printed):
        one, two = launch(1, **TINY), launch(2, **TINY)
    return one, two, printed.getvalue()


# --------------------------------------------------------------------------- the real runs


@pytest.mark.timeout(300)
def test_two_processes_follow_the_loss_curve_of_one(runs: tuple[Run, Run, str]) -> None:
    one, two, _ = runs
    assert len(one.losses) == len(two.losses) == TINY["steps"]
    assert max_difference(one, two) <= TOLERANCE
    # the loss starts near ln(V) (70 characters, near-uniform predictions at initialisation) and falls
    assert one.losses[0] == pytest.approx(math.log(70), abs=0.05)
    assert one.losses[-1] < one.losses[0] - 0.3
    assert all(b < a + 0.02 for a, b in zip(one.losses, one.losses[1:]))


@pytest.mark.timeout(300)
def test_runs_report_what_ran_and_print_nothing(runs: tuple[Run, Run, str]) -> None:
    one, two, printed = runs
    assert (one.world_size, one.backend, one.device) == (1, "gloo", "cpu")
    assert (two.world_size, two.backend, two.device) == (2, "gloo", "cpu")
    for run in (one, two):
        assert 0 < run.seconds_per_step < run.wall_seconds
    assert printed == ""  # the workers (and torchrun) are quiet when all goes well


@pytest.mark.timeout(300)
def test_the_in_process_reference_is_the_same_training(runs: tuple[Run, Run, str]) -> None:
    """single(): no torchrun, no process group, no DDP; the same curve as both launches, and no random stream
    of the caller's touched."""
    one, two, _ = runs
    options = {k: v for k, v in TINY.items() if k not in ("backend", "timeout")}
    before = torch.random.get_rng_state()
    ref = single(**options)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert (ref.world_size, ref.backend, ref.device) == (1, "none", "cpu")
    assert max_difference(ref, one) <= TOLERANCE and max_difference(ref, two) <= TOLERANCE
    assert 0 < ref.seconds_per_step < ref.wall_seconds
    with pytest.raises(ValueError, match="batch_size"):
        single(batch_size=0)


@pytest.mark.timeout(120)
def test_a_failing_worker_raises_with_its_message() -> None:
    with pytest.raises(RuntimeError) as caught:
        launch(1, **{**TINY, "n_embd": 30})  # 30 is not divisible by the 4 heads: TransformerConfig refuses it
    message = str(caught.value)
    assert "ValueError: n_embd must be divisible by n_head" in message  # the worker's own words
    assert "python -m torch.distributed.run --standalone --nproc_per_node=1 -m lmcourse.distributed" in message
    assert "--n-embd=30" in message
    assert "ChildFailedError" not in message  # torchrun's report of the failure is cut off, the worker's kept


@pytest.mark.timeout(120)
def test_a_run_that_takes_too_long_is_stopped() -> None:
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"longer than timeout=0\.5 s and was stopped"):
        launch(1, **{**TINY, "timeout": 0.5})
    assert time.perf_counter() - start < 30  # torchrun and its workers were stopped, not waited for


# --------------------------------------------------------------------------- the worker started wrongly


def test_the_worker_without_torchrun_says_how_to_start_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in RENDEZVOUS}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-m", "lmcourse.distributed", "--out", "x.json"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "a missing rendezvous" in done.stderr
    assert "python -m torch.distributed.run --standalone --nproc_per_node=2 -m lmcourse.distributed" in done.stderr
    assert "launch(2)" in done.stderr
    assert done.stdout == "" and not (tmp_path / "x.json").exists()


def test_the_worker_refuses_unequal_shares_before_joining(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def joined(*args: object, **kwargs: object) -> None:
        raise AssertionError("init_process_group was called")

    monkeypatch.setattr(torch.distributed, "init_process_group", joined)
    for name, value in {"RANK": "0", "WORLD_SIZE": "3", "LOCAL_RANK": "0", "MASTER_ADDR": "localhost",
                        "MASTER_PORT": "29500"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit, match=r"^lmcourse\.distributed: a world size of 3 does not divide the batch of 32: "
                                         r"each process trains on an equal share; use --batch-size=30 or 33 \(a "
                                         r"multiple of --nproc_per_node=3\), or --nproc_per_node=1, 2, 4, 8, 16 or 32 "
                                         r"\(a divisor of --batch-size=32\)\.$"):
        distributed.main(["--out", str(tmp_path / "x.json")])
    with pytest.raises(SystemExit, match="--out .* is in a folder that does not exist"):
        distributed.main(["--out", str(tmp_path / "no" / "x.json"), "--batch-size", "33"])
    with pytest.raises(SystemExit, match="--steps must be at least 2, got 1"):
        distributed.main(["--out", str(tmp_path / "x.json"), "--steps", "1"])
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- launch's checks, before starting


def test_a_batch_that_the_processes_cannot_share_equally() -> None:
    expected = ("a world size of 3 does not divide the batch of 32: each process trains on an equal share; use "
                "batch_size=30 or 33 (a multiple of nproc=3), or nproc=1, 2, 4, 8, 16 or 32 (a divisor of "
                "batch_size=32).")
    with pytest.raises(ValueError, match="^" + re.escape(expected) + "$"):
        launch(3)
    with pytest.raises(ValueError, match=re.escape("use batch_size=4 (a multiple of nproc=4), or nproc=1 or 2 (a "
                                                   "divisor of batch_size=2).")):
        launch(4, batch_size=2)
    with pytest.raises(ValueError, match=re.escape("use batch_size=714 or 721 (a multiple of nproc=7), or nproc=2, "
                                                   "3, 4, 5, 6, 8, 9 or 10 (a divisor of batch_size=720, one of its "
                                                   "30).")):
        launch(7, batch_size=720)


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"backend": "mpi"}, ValueError, "backend must be one of 'auto', 'gloo', 'nccl'.*got 'mpi'"),
    ({"backend": "NCCL"}, ValueError, "got 'NCCL'"),
    ({"steps": 1}, ValueError, "steps must be >= 2, got 1"),
    ({"steps": 30.0}, TypeError, r"steps must be a whole number >= 2, got 30.0 \(float\)"),
    ({"threads": 0}, ValueError, "threads must be >= 1, got 0"),
    ({"lr": 0}, ValueError, "lr must be a number > 0, e.g. 3e-3, got 0"),
    ({"lr": "3e-3"}, ValueError, "lr must be a number > 0"),
    ({"timeout": -1}, ValueError, "timeout must be a number > 0"),
])
def test_bad_arguments_are_named(kwargs: dict[str, object], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        launch(1, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("nproc", [0, -2, True, 2.0, "2"])
def test_nproc_must_be_a_whole_number_of_processes(nproc: object) -> None:
    with pytest.raises((TypeError, ValueError), match="nproc must be"):
        launch(nproc)  # type: ignore[arg-type]


def _gpus(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: n)


def test_nccl_needs_a_gpu_for_every_process(monkeypatch: pytest.MonkeyPatch) -> None:
    _gpus(monkeypatch, 0)
    with pytest.raises(RuntimeError, match="backend 'nccl' needs CUDA GPUs, but torch sees none; use backend='gloo'"):
        launch(1, backend="nccl")
    _gpus(monkeypatch, 1)
    with pytest.raises(ValueError, match=r"2 processes were asked for and torch sees 1 GPU\(s\); use nproc <= 1"):
        launch(2, backend="nccl")


def test_auto_takes_nccl_only_with_a_gpu_for_every_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LMCOURSE_DEVICE", raising=False)
    _gpus(monkeypatch, 0)
    assert distributed._resolve_backend("auto", 1) == "gloo"
    _gpus(monkeypatch, 1)
    assert distributed._resolve_backend("auto", 1) == "nccl"
    assert distributed._resolve_backend("auto", 2) == "gloo"  # one GPU cannot serve two NCCL processes
    monkeypatch.setenv("LMCOURSE_DEVICE", "cpu")  # the course's device choice (stored outputs are CPU outputs)
    assert distributed._resolve_backend("auto", 1) == "gloo"
    assert distributed._resolve_backend("gloo", 1) == "gloo"


# --------------------------------------------------------------------------- comparing runs


def _run(losses: list[float]) -> Run:
    return Run(world_size=1, backend="gloo", device="cpu", losses=losses, seconds_per_step=0.1, wall_seconds=5.0)


def test_max_difference_is_the_largest_gap_step_by_step() -> None:
    assert max_difference(_run([4.0, 3.5, 3.0]), _run([4.0, 3.25, 3.125])) == 0.25
    assert max_difference(_run([4.0, 3.0]), _run([4.5, 2.0])) == 1.0
    assert max_difference(_run([4.0]), _run([4.0])) == 0.0
    with pytest.raises(ValueError, match=r"different lengths \(3 and 2 steps\)"):
        max_difference(_run([4.0, 3.5, 3.0]), _run([4.0, 3.5]))
    with pytest.raises(TypeError, match="b must be a Run"):
        max_difference(_run([4.0]), [4.0])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- what a failed launch quotes

#: What torchrun 2.13 printed when both workers failed (shortened): the workers' tracebacks, then its own report.
TRANSCRIPT = """\
[rank1]: Traceback (most recent call last):
[rank1]:   File "/work/lmcourse/batches.py", line 215, in windows
[rank1]: ValueError: windows of context 64 need at least 65 ids, got 50; use a smaller context or more text.
W1129 07:55:21.567000 21279 site-packages/torch/distributed/elastic/multiprocessing/api.py:1028] Sending process 21433 \
closing signal SIGTERM
E1129 07:55:21.781000 21279 site-packages/torch/distributed/elastic/multiprocessing/api.py:1002] failed (exitcode: 1) \
local_rank: 1 (pid: 21434) of binary: /usr/bin/python
Traceback (most recent call last):
  File "/usr/lib/python3.11/site-packages/torch/distributed/launcher/api.py", line 383, in launch_agent
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html
============================================================
"""


def test_a_failed_launch_quotes_the_workers_not_torchrun() -> None:
    tail = distributed._tail(TRANSCRIPT)
    assert tail.splitlines()[-1] == ("[rank1]: ValueError: windows of context 64 need at least 65 ids, got 50; use a "
                                     "smaller context or more text.")
    assert len(tail.splitlines()) == 3
    assert distributed._tail(TRANSCRIPT, n=1).startswith("[rank1]: ValueError")
    killed = "E1129 07:55:21.781000 21279 torch/distributed/elastic/api.py:1002] failed (exitcode: -9) local_rank: 0"
    assert distributed._tail(f"{killed}\n  exitcode  : -9\n") == f"{killed}\n  exitcode  : -9"  # nothing else to quote
