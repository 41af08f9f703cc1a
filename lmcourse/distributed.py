"""Distributed data parallel training with PyTorch's own engine (chapter 12): torchrun, gloo or NCCL, DDP.

Data parallelism is the first way to train on more than one processor (Li et al. 2020, "PyTorch Distributed:
Experiences on accelerating data parallel training", VLDB): every process holds a full copy of the model, takes
its own share of each batch, computes the gradient of its share, and the processes then *average* their
gradients (an all-reduce) before each takes the same optimiser step, so the copies stay identical. With equal
shares, the average of the shard-mean gradients is the mean gradient of the whole batch, so W processes with
B/W rows each follow the same loss curve as one process with B rows, up to the order of float additions.

Here that is done with PyTorch's own parts, not a re-implementation:

- ``python -m torch.distributed.run`` (the ``torchrun`` command) starts ``--nproc_per_node`` worker processes and
  gives each its rendezvous in environment variables: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
  ``MASTER_PORT`` (``--standalone``: one machine, a free port chosen for us);
- :func:`torch.distributed.init_process_group` joins the processes over a backend: ``gloo`` for CPU tensors,
  ``nccl`` for CUDA GPUs, one GPU per process;
- :class:`torch.nn.parallel.DistributedDataParallel` (DDP) copies rank 0's weights to every process when it wraps
  the model, and all-reduces (averages) the gradients in buckets during ``backward``.

Two entry points:

- :func:`main` is the worker: ``python -m torch.distributed.run --standalone --nproc_per_node=2 -m
  lmcourse.distributed --out run.json`` trains a small :class:`~lmcourse.transformer.TransformerLM` on characters
  of Shakespeare, every rank drawing the same global batch and training on its contiguous share, and rank 0 writes
  the global loss of every step and the median seconds per step to ``--out`` (JSON, written atomically).
- :func:`launch` runs that command for a notebook or a test, with the thread counts pinned, and returns a
  :class:`Run`; :func:`single` runs the same training in the caller's process without any of the distributed
  machinery, the reference a distributed run must match; :func:`max_difference` compares two loss curves.

``backend="auto"`` takes NCCL when the course's device choice (:func:`lmcourse.env.pick_device`, which reads
``LMCOURSE_DEVICE``) is a CUDA GPU and there is a GPU for every process; otherwise gloo on the CPU. Nothing here
assumes CUDA, and nothing downloads.
"""

from __future__ import annotations

import argparse
import json
import numbers
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lmcourse.batches import _whole

if TYPE_CHECKING:  # torch is imported where it is used: `python -m lmcourse.distributed` checks its start first
    import torch

__all__ = ["BACKENDS", "RENDEZVOUS", "Run", "launch", "main", "max_difference", "single"]

#: The backends a run may ask for: ``auto`` (NCCL on CUDA GPUs, else gloo), ``gloo`` (CPU), ``nccl`` (CUDA).
BACKENDS = ("auto", "gloo", "nccl")
#: The environment variables torchrun gives every worker; without them a worker cannot find the others.
RENDEZVOUS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
#: How long a process waits for the others (joining, all-reduce, barrier) before it gives up.
PROCESS_GROUP_TIMEOUT_S = 60
#: The thread pools pinned in the workers' environment, as the test configuration pins them (tools/nbtools.py).
THREAD_POOLS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "RAYON_NUM_THREADS", "LMCOURSE_THREADS")
#: How many lines of the workers' error output a failed :func:`launch` quotes.
TAIL_LINES = 15
#: A line that torchrun's agent logs (glog style: level, date, time, pid, then the file), e.g.
#: ``W1129 07:55:21.567000 21279 .../torch/distributed/elastic/multiprocessing/api.py:1028] Sending process ...``.
_TORCHRUN_LOG = re.compile(r"[DIWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S*torch/distributed/elastic/")

_START = ("python -m torch.distributed.run --standalone --nproc_per_node=2 -m lmcourse.distributed --out run.json, "
          "or from Python lmcourse.distributed.launch(2)")


# --------------------------------------------------------------------------- checking input


def _positive(value: object, name: str, example: str) -> float:
    """``value`` as a float if it is a real number > 0 (not a bool); else an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < float("inf"):
        raise ValueError(f"{name} must be a number > 0, e.g. {example}, got {value!r}.")
    return float(value)


def _or(values: list[int]) -> str:
    """``[1, 2, 4]`` as ``"1, 2 or 4"``."""
    shown = [str(v) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _check_share(batch_size: int, world_size: int, batch_name: str = "batch_size", world_name: str = "nproc") -> None:
    """Raise unless ``world_size`` processes can each take an equal share of ``batch_size`` rows.

    The message names the two settings as the caller takes them, ``batch_name`` and ``world_name`` (``batch_size``
    and ``nproc`` for :func:`launch`; ``--batch-size`` and torchrun's ``--nproc_per_node`` for a worker), and gives
    both remedies: a batch that is a multiple of the world size, or a world size that divides the batch."""
    if batch_size % world_size:
        lower = batch_size // world_size * world_size
        multiples = [b for b in (lower, lower + world_size) if b > 0]
        divisors = [d for d in range(1, batch_size + 1) if batch_size % d == 0]
        some = f", one of its {len(divisors)}" if len(divisors) > 8 else ""
        if some:  # the 8 nearest the world size asked for
            divisors = sorted(sorted(divisors, key=lambda d: (abs(d - world_size), d))[:8])
        raise ValueError(f"a world size of {world_size} does not divide the batch of {batch_size}: each process "
                         f"trains on an equal share; use {batch_name}={_or(multiples)} (a multiple of "
                         f"{world_name}={world_size}), or {world_name}={_or(divisors)} (a divisor of "
                         f"{batch_name}={batch_size}{some}).")


def _resolve_backend(backend: object, nproc: int) -> str:
    """``gloo`` or ``nccl`` for ``nproc`` processes on this machine; clear errors for what cannot run here."""
    import torch

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))} ('gloo' for CPU processes, "
                         f"'nccl' for one CUDA GPU per process, 'auto' to choose), got {backend!r}.")
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if backend == "auto":
        from lmcourse.env import pick_device

        return "nccl" if pick_device().type == "cuda" and nproc <= gpus else "gloo"
    if backend == "nccl":
        if not gpus:
            raise RuntimeError("backend 'nccl' needs CUDA GPUs, but torch sees none; use backend='gloo' (CPU) or "
                               "'auto'.")
        if nproc > gpus:
            raise ValueError(f"backend 'nccl' runs one process per GPU, but {nproc} processes were asked for and "
                             f"torch sees {gpus} GPU(s); use nproc <= {gpus}, or backend='gloo' (CPU processes).")
        if not torch.distributed.is_nccl_available():
            raise RuntimeError("backend 'nccl' was asked for, but this torch was built without NCCL; use "
                               "backend='gloo'.")
    return str(backend)


# --------------------------------------------------------------------------- the worker


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m torch.distributed.run --standalone --nproc_per_node=N -m "
                                     "lmcourse.distributed",
                                description="One worker of a distributed data parallel run (see lmcourse.distributed).")
    p.add_argument("--steps", type=int, default=30, help="optimiser steps (30; at least 2: the first is a warm-up)")
    p.add_argument("--batch-size", type=int, default=32, help="the GLOBAL batch, shared equally by the processes (32)")
    p.add_argument("--lr", type=float, default=3e-3, help="AdamW's learning rate (3e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the batches (0)")
    p.add_argument("--n-layer", type=int, default=2, help="Transformer blocks (2)")
    p.add_argument("--n-embd", type=int, default=64, help="model width (64)")
    p.add_argument("--n-head", type=int, default=4, help="attention heads (4)")
    p.add_argument("--block-size", type=int, default=64, help="context length in characters (64)")
    p.add_argument("--chars", type=int, default=200_000, help="characters of Shakespeare's training split (200000)")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="auto: nccl on CUDA GPUs, else gloo")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (1)")
    p.add_argument("--out", required=True, help="the JSON file rank 0 writes the results to")
    return p


def _write_json(path: Path, facts: dict[str, object]) -> None:
    """Write ``facts`` to ``path`` atomically: a temporary file in the same folder, then a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(facts, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _train(args: argparse.Namespace, rank: int, world: int, device: torch.device,
           distributed: bool = True) -> tuple[list[float], list[float]]:
    """Train on this rank's share of every batch; return the global loss and the wall seconds of every step.

    ``distributed=False`` (rank 0 of a world of 1, no process group): the same data, weights, batches and updates
    with a plain model, no DDP and no collectives; :func:`single` runs it in the caller's process.
    """
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from lmcourse import batches, data
    from lmcourse.tokenize import CharTokenizer
    from lmcourse.transformer import TransformerConfig, TransformerLM

    train_text = data.splits("shakespeare").train
    chars = CharTokenizer().fit(train_text)  # the whole split: the course's vocabulary
    x, y = batches.windows(chars.encode(train_text[:args.chars]), args.block_size)
    torch.manual_seed(args.seed)  # the same weights on every rank (DDP also broadcasts rank 0's)
    config = TransformerConfig(vocab_size=chars.vocab_size, block_size=args.block_size, n_layer=args.n_layer,
                               n_head=args.n_head, n_embd=args.n_embd, dropout=0.0)
    model = TransformerLM(config).to(device)
    ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None) if distributed else model
    optimizer = torch.optim.AdamW(ddp.parameters(), lr=args.lr)
    g = torch.Generator().manual_seed(args.seed)  # the same global batches on every rank
    share = args.batch_size // world
    mine = slice(rank * share, (rank + 1) * share)
    losses: list[float] = []
    seconds: list[float] = []
    for _ in range(args.steps):
        rows = torch.randint(len(x), (args.batch_size,), generator=g)[mine]
        xb, yb = x[rows].to(device), y[rows].to(device)
        if distributed:
            dist.barrier()
        start = time.perf_counter()
        _, loss = ddp(xb, yb)  # the mean cross-entropy of this rank's share
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # DDP all-reduces the gradients: their mean over ranks, the full batch's mean gradient
        optimizer.step()
        total = loss.detach().clone()
        if distributed:
            dist.all_reduce(total, op=dist.ReduceOp.SUM)  # equal shares: the batch's loss is the mean of the shards'
        losses.append(total.item() / world)
        seconds.append(time.perf_counter() - start)
    return losses, seconds


def main(argv: list[str] | None = None) -> None:
    """The worker that torchrun starts on every process; rank 0 writes ``--out``. Prints nothing when all goes well.

    ``python -m torch.distributed.run --standalone --nproc_per_node=2 -m lmcourse.distributed --out run.json
    [--steps 30 --batch-size 32 --lr 3e-3 --seed 0 --n-layer 2 --n-embd 64 --n-head 4 --block-size 64
    --chars 200000 --backend auto --threads 1]``. Started without torchrun (no rendezvous in the environment), it
    exits with a message that says how to start it.
    """
    args = _parser().parse_args(argv)
    missing = [name for name in RENDEZVOUS if name not in os.environ]
    if missing:
        sys.exit(f"lmcourse.distributed: a missing rendezvous ({', '.join(missing)} not set): this is a worker, one "
                 f"of several processes that torchrun starts and introduces to each other. Start it with {_START}.")
    rank, world, local_rank = (int(os.environ[name]) for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    for name, least in (("steps", 2), ("batch_size", 1), ("seed", 0), ("n_layer", 1), ("chars", 2), ("threads", 1)):
        if getattr(args, name) < least:
            sys.exit(f"lmcourse.distributed: --{name.replace('_', '-')} must be at least {least}, got "
                     f"{getattr(args, name)}.")
    if not args.lr > 0:
        sys.exit(f"lmcourse.distributed: --lr must be > 0, got {args.lr}.")
    if not Path(args.out).parent.is_dir():  # now, not after the training
        sys.exit(f"lmcourse.distributed: --out {args.out} is in a folder that does not exist; create "
                 f"{Path(args.out).parent} first, or write to run.json here.")
    try:
        # before init_process_group: fail here, not in a hung collective; torchrun's --nproc_per_node sets the world
        _check_share(args.batch_size, world, "--batch-size", "--nproc_per_node")
    except ValueError as err:
        sys.exit(f"lmcourse.distributed: {err}")

    import datetime

    import torch
    import torch.distributed as dist

    torch.set_num_threads(args.threads)
    backend = _resolve_backend(args.backend, int(os.environ.get("LOCAL_WORLD_SIZE", world)))
    device = torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=PROCESS_GROUP_TIMEOUT_S),
                            device_id=device if device.type == "cuda" else None)
    try:
        losses, seconds = _train(args, rank, world, device)
        if rank == 0:
            _write_json(Path(args.out), {
                "world_size": world, "backend": backend, "device": str(device), "steps": args.steps,
                "batch_size": args.batch_size, "losses": losses,
                "seconds_per_step": statistics.median(seconds[1:]),  # the first step is a warm-up
                "torch": torch.__version__, "threads": args.threads})
    finally:
        dist.destroy_process_group()


# --------------------------------------------------------------------------- the launcher


@dataclass(frozen=True)
class Run:
    """What one :func:`launch` measured: the global loss of every step, its median seconds per step (the first
    step, a warm-up, left out) and the wall time of the whole launch, start-up of the processes included."""

    world_size: int
    backend: str
    device: str
    losses: list[float]
    seconds_per_step: float
    wall_seconds: float


def _env(threads: int) -> dict[str, str]:
    """The workers' environment: ours, every thread pool pinned to ``threads``, and this lmcourse first on the path
    (the workers must run the code the caller imported, not another checkout's)."""
    import lmcourse

    here = str(Path(lmcourse.__file__).resolve().parent.parent)
    path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != here]
    return {**os.environ, **{pool: str(threads) for pool in THREAD_POOLS},
            "PYTHONPATH": os.pathsep.join([here, *path]), "PYTHONUNBUFFERED": "1"}


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stop torchrun and its workers (its whole process group on POSIX), politely first."""
    if hasattr(os, "killpg"):
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, None)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
    proc.kill()
    proc.wait()


def _tail(text: str, n: int = TAIL_LINES) -> str:
    """The last ``n`` non-blank lines of the workers' output, without torchrun's own report of their failure."""
    lines = [line for line in text.splitlines() if line.strip()]
    # torchrun reports a failure after the workers' own output: a logged line "... failed (exitcode: 1) local_rank:
    # 0 ...", then its traceback and a summary that says "To enable traceback see ...". The workers' lines are what
    # says why; if there are none (a worker killed by a signal), torchrun's report is all there is.
    ends = [k for k, line in enumerate(lines) if "failed (exitcode:" in line]
    if ends and ends[0] > 0:
        lines = [line for line in lines[:ends[0]] if not _TORCHRUN_LOG.match(line)]  # e.g. "Sending ... SIGTERM"
    return "\n".join(lines[-n:])


def launch(nproc: int, *, steps: int = 30, batch_size: int = 32, lr: float = 3e-3, seed: int = 0, n_layer: int = 2,
           n_embd: int = 64, n_head: int = 4, block_size: int = 64, chars: int = 200_000, backend: str = "auto",
           threads: int = 1, timeout: float = 300) -> Run:
    """Train with ``nproc`` processes under torchrun (see :func:`main`) and return what rank 0 measured.

    ``batch_size`` is the global batch: each process trains on ``batch_size // nproc`` rows of it, so it must be a
    multiple of ``nproc``. ``threads`` pins every thread pool of every process (``OMP_NUM_THREADS`` and the rest);
    ``timeout`` (seconds) stops the whole run if it takes longer. A worker that fails raises a RuntimeError quoting
    the last lines of the workers' error output and the command, to run again in a terminal. The workers print
    nothing when all goes well; if they did print something (a new warning, say), it is passed on to ``sys.stderr``
    rather than hidden.
    """
    nproc = _whole(nproc, "nproc", 1)
    ints = {"steps": (steps, 2), "batch_size": (batch_size, 1), "seed": (seed, 0), "n_layer": (n_layer, 1),
            "n_embd": (n_embd, 1), "n_head": (n_head, 1), "block_size": (block_size, 1), "chars": (chars, 2),
            "threads": (threads, 1)}
    for name, (value, least) in ints.items():
        _whole(value, name, least)
    lr = _positive(lr, "lr", "3e-3")
    timeout = _positive(timeout, "timeout", "300 (seconds)")
    _check_share(batch_size, nproc)
    resolved = _resolve_backend(backend, nproc)
    options = [f"--{name.replace('_', '-')}={value}" for name, (value, _) in ints.items()]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lmcourse-ddp-") as tmp:
        out = Path(tmp) / "run.json"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                   "-m", "lmcourse.distributed", *options, f"--lr={lr!r}", f"--backend={resolved}", f"--out={out}"]
        shown = " ".join(command[1:]).replace(str(out), "run.json")
        proc = subprocess.Popen(command, cwd=tmp, env=_env(threads), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=hasattr(os, "killpg"))
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            raise TimeoutError(f"the {nproc}-process run took longer than timeout={timeout:g} s and was stopped; "
                               f"give it more time (timeout=...) or fewer steps or characters. The command: "
                               f"python {shown}") from None
        except BaseException:  # Ctrl-C in a notebook: leave no workers behind
            _stop(proc)
            raise
        if proc.returncode != 0:
            raise RuntimeError(f"the {nproc}-process run failed (exit status {proc.returncode}); the workers' last "
                               f"lines:\n{_tail(output)}\nThe command, to run in a terminal: python {shown}")
        if not out.is_file():
            raise RuntimeError(f"the {nproc}-process run ended without writing its results; its output:\n"
                               f"{_tail(output)}\nThe command: python {shown}")
        if output.strip():  # a worker (or torchrun) had something to say although all went well: show it, hide nothing
            print(output, end="" if output.endswith("\n") else "\n", file=sys.stderr)
        facts = json.loads(out.read_text(encoding="utf-8"))
    return Run(world_size=int(facts["world_size"]), backend=str(facts["backend"]), device=str(facts["device"]),
               losses=[float(v) for v in facts["losses"]], seconds_per_step=float(facts["seconds_per_step"]),
               wall_seconds=time.perf_counter() - start)


def single(*, steps: int = 30, batch_size: int = 32, lr: float = 3e-3, seed: int = 0, n_layer: int = 2,
           n_embd: int = 64, n_head: int = 4, block_size: int = 64, chars: int = 200_000) -> Run:
    """The reference for :func:`launch`: the same training in *this* process, on the CPU, without torchrun,
    a process group or DDP: one plain model, the whole batch, the same weights, batches and updates.

    It uses this process's torch threads (``lmcourse.setup`` pins them under test) and leaves its random streams as
    they were. ``backend`` is ``"none"``; ``wall_seconds`` is the training's, no start-up to pay.
    """
    import torch

    values = {"steps": (steps, 2), "batch_size": (batch_size, 1), "seed": (seed, 0), "n_layer": (n_layer, 1),
              "n_embd": (n_embd, 1), "n_head": (n_head, 1), "block_size": (block_size, 1), "chars": (chars, 2)}
    for name, (value, least) in values.items():
        _whole(value, name, least)
    lr = _positive(lr, "lr", "3e-3")
    args = argparse.Namespace(**{name: value for name, (value, _) in values.items()}, lr=lr)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        losses, seconds = _train(args, 0, 1, torch.device("cpu"), distributed=False)
    return Run(world_size=1, backend="none", device="cpu", losses=losses,
               seconds_per_step=statistics.median(seconds[1:]), wall_seconds=time.perf_counter() - start)


def max_difference(a: Run, b: Run) -> float:
    """The largest absolute difference between the loss curves of two runs, step by step."""
    for name, run in (("a", a), ("b", b)):
        if not isinstance(run, Run):
            raise TypeError(f"{name} must be a Run, such as launch(2) returns; got {type(run).__name__}.")
    if len(a.losses) != len(b.losses):
        raise ValueError(f"the two runs have loss curves of different lengths ({len(a.losses)} and {len(b.losses)} "
                         "steps); compare runs made with the same steps.")
    return max((abs(p - q) for p, q in zip(a.losses, b.losses)), default=0.0)


if __name__ == "__main__":
    main()
