"""What training costs, and how it grows with scale (chapter 12): FLOPs, speed, scaling laws, parallelism, money.

- **FLOPs.** :func:`flops_per_token` counts a :class:`~lmcourse.transformer.TransformerLM`'s FLOPs per token by
  formula (:class:`Flops`: the blocks' weight matrices, attention's scores and weighted sums, the output layer;
  2 FLOPs per multiply-add). :func:`count_flops` counts them with PyTorch's own
  ``torch.utils.flop_counter.FlopCounterMode``; tests/test_scale.py proves the two agree exactly. Training costs
  3 forward passes (the backward pass computes two products for each forward one: the gradients with respect
  to the input and to the weight), hence :func:`approx_training_flops`, the field's ``C = 6 N D`` (Kaplan et
  al. 2020, "Scaling Laws for Neural Language Models"; Hoffmann et al. 2022).
- **Speed.** :func:`matmul_peak` measures what this machine's matrix product reaches (FLOP/s);
  :func:`seconds_per_step` times a training step; :func:`mfu` is model FLOPs utilisation, the share of the peak
  a training run achieves (Chowdhery et al. 2022, "PaLM", appendix B).
- **Scaling laws.** :func:`fit_power_law` fits ``y = a x**(-b)`` (:class:`PowerLaw`) by least squares in log-log
  space; :func:`frontier` picks the compute-efficient points of a sweep. :data:`CHINCHILLA`,
  :func:`chinchilla_loss` and :func:`chinchilla_optimal` are Hoffmann et al. (2022), "Training Compute-Optimal
  Large Language Models", eq. (10) and its minimum along ``C = 6 N D``; :func:`compute_optimal` is its rule of
  thumb, about 20 tokens per parameter.
- **Parallelism.** :func:`allreduce_bytes`, the traffic of a ring all-reduce of the gradients (Patarasuk and
  Yuan 2009, "Bandwidth optimal all-reduce algorithms for clusters of workstations"; NCCL's documentation), and
  :func:`training_state_bytes`, the memory of mixed-precision Adam per device under ZeRO's stages 0-3
  (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models").
- **Money and energy.** :func:`training_cost`: device-hours, kWh and dollars (:class:`Cost`) for a FLOP budget.

What the FLOP counts leave out, and why the formula still matches PyTorch's count exactly: FlopCounterMode
counts matrix products only (``mm``, ``addmm``, ``bmm``, convolutions, fused attention), so LayerNorm, softmax,
GELU, dropout, the residual additions, the biases (``addmm``'s added term is not counted), the embedding lookup
and the cross-entropy are free in both. They are a few FLOPs per element, small next to E FLOPs per element of a
product.

The module is ``scaling``, not ``scale``: a submodule ``lmcourse.scale`` would replace the function
``lmcourse.scale()`` (the ``SCALE`` setting) as soon as it was imported.
"""

from __future__ import annotations

import copy
import math
import numbers
import statistics
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lmcourse.transformer import TransformerConfig

__all__ = ["CHINCHILLA", "Cost", "Flops", "PowerLaw", "allreduce_bytes", "approx_training_flops", "chinchilla_loss",
           "chinchilla_optimal", "compute_optimal", "count_flops", "fit_power_law", "flops_per_token", "frontier",
           "matmul_peak", "mfu", "seconds_per_step", "training_cost", "training_state_bytes"]


# --------------------------------------------------------------------------- argument checks


def _positive(value: object, name: str, who: str, *, zero: bool = False) -> float:
    """``value`` as a float if it is a finite real number > 0 (>= 0 with ``zero``); else an error naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{who}: {name} must be a number, got {type(value).__name__} {value!r:.60}.")
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        least = "0 or more" if zero else "greater than 0"
        raise ValueError(f"{who}: {name} must be a finite number {least}, got {value}.")
    return float(value)


def _whole(value: object, name: str, who: str, least: int) -> int:
    """``value`` if it is an int >= ``least`` (not a bool, not a float such as 4.0); else an error naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{who}: {name} must be a whole number >= {least}, got {type(value).__name__} {value!r:.60}.")
    if value < least:
        raise ValueError(f"{who}: {name} must be >= {least}, got {value}.")
    return int(value)


def _model_device(model: object, who: str) -> torch.device:
    """The device of ``model``'s first parameter; an error if it is not a module with parameters."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"{who} needs a torch.nn.Module, e.g. a TransformerLM, got {type(model).__name__}.")
    first = next(model.parameters(), None)
    if first is None:
        raise ValueError(f"{who}: the model {type(model).__name__} has no parameters: there is nothing to train.")
    return first.device


def _check_batch(t: object, name: str, device: torch.device, who: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{who}: {name} must be a tensor of token ids (B, T), got {type(t).__name__}.")
    if t.dim() != 2:
        raise ValueError(f"{who}: {name} must be a tensor of token ids (B, T), got shape {tuple(t.shape)}.")
    if t.device != device:
        raise ValueError(f"{who}: {name} is on {t.device} but the model is on {device}; "
                         f"use {name}.to({str(device)!r}).")
    return t


def _fork_rng(device: torch.device) -> AbstractContextManager:
    """Fork torch's global random streams (the CPU's, and this GPU's), so that dropout inside draws nothing
    from the caller's streams."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return torch.random.fork_rng(devices=[index])
    return torch.random.fork_rng(devices=[])


def _sync(device: torch.device) -> None:
    """Wait for the device's queued work: GPUs run asynchronously, so a timer read without it times nothing."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


# --------------------------------------------------------------------------- FLOPs


@dataclass(frozen=True)
class Flops:
    """FLOPs per token of a TransformerLM (2 per multiply-add; matrix products only: LayerNorm, softmax, GELU are
    a few per element and left out, as ``torch.utils.flop_counter`` leaves them out; so are the biases, the
    embedding lookup and the cross-entropy).

    - ``dense``: the blocks' weight matrices, ``2 * 12 * L * E**2`` (q, k, v and the output projection 4 E^2,
      the MLP's E x 4E and 4E x E 8 E^2);
    - ``attention``: the scores q.k and the weighted sum of the values, ``2 * 2 * L * T * E``: every query
      against all T keys, as computed (the causal mask wastes half of it, it does not save it);
    - ``head``: the output layer, ``2 * V * E``, tied to the embedding or not (the lookup at the input is free).
    """

    dense: int
    attention: int
    head: int

    @property
    def forward(self) -> int:
        """FLOPs per token of a forward pass: ``dense + attention + head``."""
        return self.dense + self.attention + self.head

    @property
    def training(self) -> int:
        """FLOPs per token of a training step, ``3 * forward``: the backward pass computes two products for each
        forward one, the gradient with respect to its input and the one with respect to its weight (or, in
        attention, to its other input). The first block's input gradient is computed too, since the embeddings
        below it learn."""
        return 3 * self.forward


def flops_per_token(config: TransformerConfig, context: int | None = None) -> Flops:
    """The FLOPs per token of a :class:`~lmcourse.transformer.TransformerLM` with ``config``, reading ``context``
    tokens at a time (T; None: ``config.block_size``).

    ``B * T * flops_per_token(config, T).forward`` is exactly what ``count_flops`` counts for a batch (B, T), and
    ``.training`` the forward and backward passes together. Dropout, biases and the kind of positions change
    nothing: they cost no matrix product.
    """
    who = "flops_per_token"
    if not isinstance(config, TransformerConfig):
        raise TypeError(f"{who} needs a TransformerConfig, e.g. model.config, got {type(config).__name__}.")
    T = config.block_size if context is None else _whole(context, "context", who, 1)
    if T > config.block_size:
        raise ValueError(f"{who}: context must be at most the model's block_size={config.block_size} (it reads no "
                         f"more), got {T}; pass context=None for block_size.")
    L, E, V = config.n_layer, config.n_embd, config.vocab_size
    return Flops(dense=2 * 12 * L * E * E, attention=2 * 2 * L * T * E, head=2 * V * E)


def approx_training_flops(n_params: float, tokens: float) -> float:
    """``6 N D``: the FLOPs of training a model of ``n_params`` N parameters on ``tokens`` D tokens (Kaplan et al.
    2020; Hoffmann et al. 2022). 2 FLOPs per parameter per token forward (one multiply-add), 4 backward.

    N counts the parameters that take part in matrix products: for a Transformer the blocks' 12 L E^2 weights
    (plus the output layer's V E if its cost matters), not the embedding table, whose lookup is free. It leaves
    out attention's ``4 L T E`` per token, small while T is below about 6 E.
    """
    who = "approx_training_flops"
    return 6.0 * _positive(n_params, "n_params", who) * _positive(tokens, "tokens", who)


def count_flops(model: nn.Module, idx: torch.Tensor, targets: torch.Tensor) -> tuple[int, int]:
    """``(forward, backward)``: the FLOPs that ``torch.utils.flop_counter.FlopCounterMode`` counts for one batch.

    The forward pass ``model(idx, targets) -> (logits, loss)`` runs under the counter, then ``loss.backward()``
    under a second one. The model's ``.grad`` are left as they were found (the backward pass writes into fresh
    ones, which are dropped), and dropout draws nothing from the global random streams (they are forked).
    The first call in a process takes a few seconds more: the counter makes PyTorch import its compiler
    (``torch._dynamo``, about 5 s on a 2-core laptop); later calls cost little more than the passes themselves.
    """
    who = "count_flops"
    device = _model_device(model, who)
    idx, targets = _check_batch(idx, "idx", device, who), _check_batch(targets, "targets", device, who)
    from torch.utils.flop_counter import FlopCounterMode

    saved = {p: p.grad for p in model.parameters()}
    try:
        with _fork_rng(device):
            for p in saved:
                p.grad = None  # backward would add into an existing .grad in place
            with FlopCounterMode(display=False) as counter:
                out = model(idx, targets)
                if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], torch.Tensor)
                        and out[1].dim() == 0):
                    raise TypeError(f"{who}: model(idx, targets) must return (logits, loss) with a scalar loss, as "
                                    f"every model of the course does; got {type(out).__name__}.")
                loss = out[1]
                if not loss.requires_grad:
                    raise ValueError(f"{who}: the loss does not require a gradient (was the model frozen, or run "
                                     f"under torch.no_grad()?), so there is no backward pass to count.")
            forward = counter.get_total_flops()
            with FlopCounterMode(display=False) as counter:
                loss.backward()
            backward = counter.get_total_flops()
    finally:
        for p, grad in saved.items():
            p.grad = grad
    return int(forward), int(backward)


# --------------------------------------------------------------------------- speed


def matmul_peak(n: int = 1024, repeats: int = 5, *, dtype: torch.dtype = torch.float32,
                device: str | torch.device | None = None) -> float:
    """The FLOP/s of the fastest of ``repeats`` products of two n x n matrices (2 n^3 FLOPs each), after one
    warm-up product: what this machine's matrix product actually reaches, the denominator of :func:`mfu`.

    ``device``: a name or ``torch.device`` (None: ``LMCOURSE_DEVICE``, else CUDA if present, else the CPU, as
    ``lmcourse.setup`` picks). On a GPU the timer waits for the device before and after each product. The CPU's
    figure depends on torch's current thread count (``torch.get_num_threads()``). The matrices come from a
    private generator: the global random streams are untouched.
    """
    from lmcourse.env import pick_device

    who = "matmul_peak"
    n, repeats = _whole(n, "n", who, 1), _whole(repeats, "repeats", who, 1)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{who}: dtype must be a floating-point torch.dtype, e.g. torch.float32 or torch.bfloat16, "
                        f"got {dtype!r}.")
    where = pick_device(device)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(where, dtype)
    b = torch.randn(n, n, generator=g).to(where, dtype)
    c = torch.empty(n, n, device=where, dtype=dtype)
    torch.mm(a, b, out=c)  # warm-up: the first call pays for allocation and kernel choice
    best = math.inf
    for _ in range(repeats):
        _sync(where)
        start = time.perf_counter()
        torch.mm(a, b, out=c)
        _sync(where)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 / max(best, 1e-9)


def seconds_per_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, steps: int = 5,
                     lr: float = 1e-3) -> float:
    """The median wall time, in seconds, of one AdamW training step (zero_grad, forward, backward, step) on the
    fixed batch ``x[:batch_size]``, ``y[:batch_size]``, over ``steps`` steps after one warm-up step.

    It trains a copy of the model (``copy.deepcopy``), in the model's mode (train or eval): the caller's model
    is not changed, and dropout draws nothing from the global random streams (they are forked). ``x`` and ``y``
    are token ids (N, T) on the model's device; ``model(x, y)`` must return ``(logits, loss)``.
    """
    who = "seconds_per_step"
    device = _model_device(model, who)
    x, y = _check_batch(x, "x", device, who), _check_batch(y, "y", device, who)
    if x.shape != y.shape:
        raise ValueError(f"{who}: x and y must have the same shape (a target per input token), got x "
                         f"{tuple(x.shape)} and y {tuple(y.shape)}.")
    batch_size = _whole(batch_size, "batch_size", who, 1)
    if batch_size > x.shape[0]:
        raise ValueError(f"{who}: batch_size={batch_size} is more than the {x.shape[0]} rows of x; pass at most "
                         f"{x.shape[0]}, or more rows.")
    steps, lr = _whole(steps, "steps", who, 1), _positive(lr, "lr", who)
    xb, yb = x[:batch_size], y[:batch_size]
    with _fork_rng(device):
        twin = copy.deepcopy(model)
        optimiser = torch.optim.AdamW(twin.parameters(), lr=lr)

        def step() -> None:
            optimiser.zero_grad(set_to_none=True)
            _, loss = twin(xb, yb)
            loss.backward()
            optimiser.step()

        step()  # warm-up: allocations, AdamW's state
        times = []
        for _ in range(steps):
            _sync(device)
            start = time.perf_counter()
            step()
            _sync(device)
            times.append(time.perf_counter() - start)
    return float(statistics.median(times))


def mfu(flops_per_step: float, seconds_per_step: float, peak_flops: float) -> float:
    """Model FLOPs utilisation: the FLOP/s a training run achieves (``flops_per_step / seconds_per_step``) as a
    fraction of ``peak_flops`` (Chowdhery et al. 2022). Large runs reach 0.3 to 0.6 of a GPU's peak."""
    who = "mfu"
    achieved = _positive(flops_per_step, "flops_per_step", who) / _positive(seconds_per_step, "seconds_per_step", who)
    return achieved / _positive(peak_flops, "peak_flops", who)


# --------------------------------------------------------------------------- scaling laws


def _points(values: object, name: str, who: str) -> np.ndarray:
    """``values`` as a 1-D float64 array of finite numbers; else an error naming ``name``."""
    if isinstance(values, torch.Tensor):
        raise TypeError(f"{who}: {name} is a torch tensor: pass {name}.tolist() or {name}.numpy().")
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{who}: {name} must be a list or 1-D array of numbers, got {type(values).__name__}.")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: {name} must hold numbers only, got {values!r:.80}.") from None
    if arr.ndim != 1:
        raise ValueError(f"{who}: {name} must be 1-D (one number per point), got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise ValueError(f"{who}: {name} holds a nan or an infinity at index {int(np.argmin(np.isfinite(arr)))}.")
    return arr


@dataclass(frozen=True)
class PowerLaw:
    """``y = a * x ** (-b)``: a straight line of slope -b on log-log axes. ``a`` > 0; ``b`` > 0 means y falls as x
    grows (loss against compute, parameters or data)."""

    a: float
    b: float

    def __post_init__(self) -> None:
        _positive(self.a, "a", "PowerLaw")
        if isinstance(self.b, bool) or not isinstance(self.b, numbers.Real):
            raise TypeError(f"PowerLaw: b must be a number, got {type(self.b).__name__} {self.b!r:.60}.")
        if not math.isfinite(self.b):
            raise ValueError(f"PowerLaw: b must be a finite number, got {self.b}.")

    def __call__(self, x: float | np.ndarray) -> float | np.ndarray:
        """The law at ``x`` (> 0): a float for a number, an array for an array."""
        if isinstance(x, np.ndarray):
            arr = _points(x.ravel(), "x", "PowerLaw").reshape(x.shape)
            if (arr <= 0).any():
                raise ValueError(f"PowerLaw: x must be greater than 0 (a power law lives on the positive axis), "
                                 f"got {arr[arr <= 0].flat[0]}.")
            return self.a * arr ** (-self.b)
        return self.a * _positive(x, "x", "PowerLaw") ** (-self.b)


def fit_power_law(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> PowerLaw:
    """The power law ``y = a x**(-b)`` that fits the points best by least squares of ``log y`` on ``log x``.

    Exact for points on a power law. ``x`` and ``y`` of the same length, at least 2 points, all > 0 (a log of
    0 is minus infinity), and at least two different x (else the slope is undefined).
    """
    who = "fit_power_law"
    xs, ys = _points(x, "x", who), _points(y, "y", who)
    if len(xs) != len(ys):
        raise ValueError(f"{who}: x has {len(xs)} points but y has {len(ys)}: pass one y per x.")
    if len(xs) < 2:
        raise ValueError(f"{who} needs at least 2 points to fit a line in log-log space, got {len(xs)}.")
    for name, arr in (("x", xs), ("y", ys)):
        if (arr <= 0).any():
            i = int(np.argmax(arr <= 0))
            raise ValueError(f"{who}: every {name} must be greater than 0 (the fit takes logs), got {name}[{i}] = "
                             f"{arr[i]}.")
    lx, ly = np.log(xs), np.log(ys)
    dx = lx - lx.mean()
    spread = float(dx @ dx)
    if spread == 0:
        raise ValueError(f"{who}: every x is {xs[0]}: a slope needs at least two different x.")
    slope = float(dx @ (ly - ly.mean())) / spread
    return PowerLaw(a=float(np.exp(ly.mean() - slope * lx.mean())), b=-slope)


def frontier(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> np.ndarray:
    """The indices (int64) of the points on the lower envelope, in order of increasing x: each has a y below
    that of every other point whose x is smaller or equal. In a sweep of (compute, loss) points, the
    compute-efficient frontier: the runs that no cheaper run beats.

    Of points with the same x only the lowest can be on it; of exact duplicates only the first.
    """
    who = "frontier"
    xs, ys = _points(x, "x", who), _points(y, "y", who)
    if len(xs) != len(ys):
        raise ValueError(f"{who}: x has {len(xs)} points but y has {len(ys)}: pass one y per x.")
    if len(xs) == 0:
        raise ValueError(f"{who}: x and y are empty: pass at least one point.")
    keep, best = [], math.inf
    for i in np.lexsort((ys, xs)):  # by x, then by y: of equal x the lowest comes first
        if ys[i] < best:
            keep.append(int(i))
            best = float(ys[i])
    return np.array(keep, dtype=np.int64)


#: Hoffmann et al. (2022), "Training Compute-Optimal Large Language Models", eq. (10), approach 3's fit.
CHINCHILLA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def chinchilla_loss(n_params: float, tokens: float) -> float:
    """``E + A / N**alpha + B / D**beta`` (nats per token) with :data:`CHINCHILLA`'s constants: the loss that
    Hoffmann et al. (2022) fitted for a model of N parameters trained on D tokens. E is the text's own entropy,
    the two other terms what a finite model and finite data add to it."""
    who = "chinchilla_loss"
    N, D = _positive(n_params, "n_params", who), _positive(tokens, "tokens", who)
    c = CHINCHILLA
    return c["E"] + c["A"] / N ** c["alpha"] + c["B"] / D ** c["beta"]


def chinchilla_optimal(compute: float) -> tuple[float, float]:
    """``(N, D)``, the parameters and tokens that minimise :func:`chinchilla_loss` at a budget of ``compute``
    FLOPs, ``C = 6 N D``: setting the loss's derivative along the budget to 0 gives

        N = G * (C/6)**(beta/(alpha+beta)),  G = (alpha*A / (beta*B))**(1/(alpha+beta)),  D = C / (6 N)

    With eq. (10)'s published constants this is not the 20 tokens per parameter of :func:`compute_optimal` (which
    comes from the paper's approaches 1 and 2): Chinchilla's budget, 5.76e23 FLOPs, gives N = 3.2e10 and D =
    3.0e12, about 93 tokens per parameter. Besiroglu et al. (2024), "Chinchilla Scaling: A replication attempt",
    found that fit inconsistent with the paper's approaches 1 and 2 (its optimiser stopped early, and the printed
    constants are rounded); a lesson in how far a small change of fitted exponents moves the optimum.
    """
    C = _positive(compute, "compute", "chinchilla_optimal")
    c = CHINCHILLA
    G = (c["alpha"] * c["A"] / (c["beta"] * c["B"])) ** (1 / (c["alpha"] + c["beta"]))
    N = G * (C / 6) ** (c["beta"] / (c["alpha"] + c["beta"]))
    return N, C / (6 * N)


def compute_optimal(compute: float, tokens_per_param: float = 20.0) -> tuple[float, float]:
    """``(N, D)`` by the rule of thumb from Hoffmann et al. (2022): ``D = r N`` tokens for N parameters (r = 20)
    and ``C = 6 N D``, so ``N = sqrt(C / (6 r))`` and ``D = r N``. Chinchilla: C = 5.76e23 gives 69 billion
    parameters and 1.4 trillion tokens."""
    who = "compute_optimal"
    C, r = _positive(compute, "compute", who), _positive(tokens_per_param, "tokens_per_param", who)
    N = math.sqrt(C / (6 * r))
    return N, r * N


# --------------------------------------------------------------------------- many devices


def allreduce_bytes(n_params: float, world_size: int, bytes_per_value: int = 4) -> float:
    """The bytes each of ``world_size`` workers sends (and as many it receives) per step in a ring all-reduce of
    the gradients of ``n_params`` parameters: ``2 (p-1)/p * N * b`` (a reduce-scatter, then an all-gather, each
    passing p-1 chunks of N/p values). Nearly 2 N b whatever p: the ring is bandwidth-optimal (Patarasuk and
    Yuan 2009; NCCL's documentation). ``world_size`` 1: nothing to send, 0.0."""
    who = "allreduce_bytes"
    N, p = _positive(n_params, "n_params", who), _whole(world_size, "world_size", who, 1)
    b = _whole(bytes_per_value, "bytes_per_value", who, 1)
    return 2.0 * (p - 1) / p * N * b


def training_state_bytes(n_params: float, world_size: int = 1, zero_stage: int = 0) -> float:
    """The bytes per device of training ``n_params`` parameters with mixed-precision Adam, as in ZeRO
    (Rajbhandari et al. 2020): 2 (bf16/fp16 weights) + 2 (their gradients) + 12 (fp32 master weights, Adam's m
    and v) = 16 bytes per parameter, all on every device at stage 0 (plain data parallelism). Stage 1 shards the
    12 across the ``world_size`` devices, stage 2 the gradients too, stage 3 the weights too (16 N / p).
    Activations and buffers come on top."""
    who = "training_state_bytes"
    N, p = _positive(n_params, "n_params", who), _whole(world_size, "world_size", who, 1)
    stage = _whole(zero_stage, "zero_stage", who, 0)
    if stage > 3:
        raise ValueError(f"{who}: zero_stage must be 0, 1, 2 or 3 (ZeRO has three stages; 0 is none), got {stage}.")
    weights, grads, optimiser = 2.0, 2.0, 12.0
    per_param = ((weights / p if stage >= 3 else weights) + (grads / p if stage >= 2 else grads)
                 + (optimiser / p if stage >= 1 else optimiser))
    return N * per_param


# --------------------------------------------------------------------------- money and energy


@dataclass(frozen=True)
class Cost:
    """What a training run costs: ``device_hours`` (of one accelerator), ``kwh`` of electricity drawn by the
    devices alone (no cooling, no host), and ``dollars`` at a rental price."""

    device_hours: float
    kwh: float
    dollars: float


def training_cost(flops: float, *, peak_flops: float, utilisation: float, price_per_hour: float,
                  watts: float) -> Cost:
    """The :class:`Cost` of ``flops`` FLOPs on devices of ``peak_flops`` FLOP/s each running at ``utilisation``
    (the MFU, in (0, 1]), rented at ``price_per_hour`` dollars per device-hour and drawing ``watts`` each:

        device_hours = flops / (peak_flops * utilisation) / 3600
        kwh          = device_hours * watts / 1000
        dollars      = device_hours * price_per_hour

    A price or power of 0 is allowed (your own machine; energy left out).
    """
    who = "training_cost"
    flops, peak = _positive(flops, "flops", who), _positive(peak_flops, "peak_flops", who)
    u = _positive(utilisation, "utilisation", who)
    if u > 1:
        raise ValueError(f"{who}: utilisation is a fraction of the peak in (0, 1], e.g. 0.4, got {u}; for a "
                         f"percentage divide by 100.")
    price = _positive(price_per_hour, "price_per_hour", who, zero=True)
    power = _positive(watts, "watts", who, zero=True)
    hours = flops / (peak * u) / 3600
    return Cost(device_hours=hours, kwh=hours * power / 1000, dollars=hours * price)
