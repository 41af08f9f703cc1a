"""One training loop for the whole course: batches, loss, gradient, (clipping,) update; evaluation now and then.

Every neural chapter trains with the same calls::

    from lmcourse.train import train

    history = train(model, x, y, steps=500, batch_size=32, lr=3e-3, valid=(x_valid, y_valid), seed=0)
    history.plot()
    plt.show()

``train`` checks its arguments, builds the optimizer and calls :func:`training_loop`,
the loop itself, short enough to read in a notebook with
``print(inspect.getsource(lmcourse.train.training_loop))``.

Chapter 09 (training strategies) reads these:

- :class:`AdamW`, written out one parameter at a time; it gives ``torch.optim.AdamW``'s numbers bit for bit;
- :func:`cosine_schedule`, a warm-up then a cosine decay, passed as ``train(..., schedule=...)``;
- :func:`lr_range_test`, the loss of a short run whose learning rate rises geometrically (on a copy of the model);
- ``train(..., patience=3)``: early stopping on the validation loss, ending with the best evaluation's parameters
  (``History.best_step``, ``History.stopped_at``);
- ``train(..., autocast=torch.bfloat16)``: mixed precision (the forward pass under ``torch.autocast``);
- ``train(..., checkpoint="run.safetensors")``: the whole training state saved every few steps, atomically, and
  the run resumed from it, bit for bit, when the file exists (delete it to start over); the file format is
  :func:`lmcourse.checkpoints.save_state`'s;
- ``python -m lmcourse.train --steps 300 --checkpoint run.safetensors``: a small run to kill and resume (:func:`main`).

How the loop is set up, and why
-------------------------------
- **A fixed number of steps of random batches** (``batches.sample_batch``, rows drawn
  with replacement), as in makemore and nanoGPT, rather than epochs: a run's cost is
  ``steps`` whatever the data size, the ``SCALE`` setting just changes ``steps``, and
  the whole state of the data stream is one ``torch.Generator`` (easy to checkpoint).
- **Step numbers count updates.** At step ``s`` the model has had ``s`` updates:
  ``train_loss[s]`` is the loss of the batch drawn at step ``s``, before its update,
  and a validation loss recorded at step ``s`` is measured on that same model. The
  validation set is scored at steps 0, ``eval_every``, ``2 * eval_every``, ... and once
  more at the end, step ``steps``; step 0 is the untrained model (about ``ln V``).
- **Reproducible.** The batches come from their own generator (``seed=`` or
  ``generator=``), never the global random state, so the same seed gives the same
  losses, bit for bit, on the same machine and thread count. Dropout still draws from
  torch's global generator, which ``lmcourse.setup()`` seeds.
- **Any device.** The batches go to the device of the model's parameters (move the
  model first, or pass ``device=`` and ``train`` moves it); the data may stay on the CPU.
- **An interrupted run resumes.** With ``checkpoint=``, everything the next step depends on is saved: the
  parameters, the optimizer's state, the step (the schedule is a function of it), the batch generator, and the
  global random states that dropout draws from. Resumed, the run makes the very same updates.
- **A diverged run stops.** A loss or gradient that is NaN or infinite raises
  :class:`TrainingDiverged` before the update it would poison: the message names the
  step, the last finite loss and the likely causes; the model keeps the parameters it
  had, and the losses so far are on the exception (``err.history``).
- **Models.** A model maps ids ``x`` to logits with one more axis than the targets
  ``y``: ``(B, T) -> (B, T, V)`` for a sequence model, ``(B, context) -> (B, V)`` for
  the MLP of chapter 04 (``y`` of shape ``(B,)``). A model that also returns its state
  (an RNN) may return a tuple whose first item is the logits. Targets equal to
  ``batches.IGNORE_INDEX`` (padding) count for nothing.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch  # at the top, unlike the other imports of torch here: AdamW below is a torch.optim.Optimizer

from lmcourse.batches import IGNORE_INDEX, _check_generator, sample_batch
from lmcourse.env import _check_seed, pick_device, progress

if TYPE_CHECKING:
    from matplotlib.axes import Axes

OPTIMIZERS = ("adamw", "sgd")

__all__ = ["OPTIMIZERS", "AdamW", "History", "TrainingDiverged", "cosine_schedule", "evaluate", "lr_range_test",
           "train", "training_loop"]


# --------------------------------------------------------------------------- what a run gives back


@dataclass(repr=False)
class History:
    """What a run recorded: one training loss and gradient norm per step, a validation loss now and then.

    - ``train_loss[s]``: the mean cross-entropy (nats per target token) of the batch of step ``s``;
    - ``grad_norm[s]``: the gradient's total norm at step ``s``, before any clipping;
    - ``valid_loss[i]``: the validation loss at step ``eval_steps[i]`` (see :func:`evaluate`);
    - ``seconds``: the wall time of the run, evaluations included (left out of ``repr``, as it varies);
      a resumed run adds its time to the time saved in the checkpoint;
    - ``stopped_at``: the step at which early stopping (``train(..., patience=...)``) ended the run, None if it
      made all its steps;
    - ``best_step``: the step of the lowest validation loss (the first, if two are equal), None without one;
    - ``resumed_from``: the step a run resumed from (``train(..., checkpoint=...)`` found a training state), None
      for a run that started afresh; ``repr`` shows it when there is one.
    """

    train_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    stopped_at: int | None = None
    resumed_from: int | None = None

    @property
    def steps(self) -> int:
        """How many steps (updates) the run made."""
        return len(self.train_loss)

    @property
    def best_step(self) -> int | None:
        """The step of the lowest validation loss (the first of equals; NaN never counts), None without one."""
        best, at = math.inf, None
        for step, loss in zip(self.eval_steps, self.valid_loss):
            if loss < best:
                best, at = loss, step
        return at

    def smoothed(self, window: int = 20) -> list[float]:
        """The training loss averaged over the last ``window`` steps (fewer at the start): one value per step.

        A batch's loss is noisy; the mean of the last few shows the trend. ``window=1`` gives the raw losses.
        """
        window = _count(window, "window", "steps to average over, e.g. 20")
        losses = self.train_loss
        return [sum(losses[max(0, s - window + 1):s + 1]) / min(s + 1, window) for s in range(len(losses))]

    def plot(self, ax: Axes | None = None, window: int = 20, title: str = "", logy: bool = False) -> Axes:
        """Plot the (smoothed) training loss and the validation loss against the step; return the axes."""
        from lmcourse.plot import loss_curves

        label = "train" if window == 1 else f"train (mean of the last {window} steps)"
        curves: dict = {label: (range(self.steps), self.smoothed(window))}
        if self.valid_loss:
            curves["valid"] = (self.eval_steps, self.valid_loss)
        return loss_curves(curves, ax=ax, title=title, logy=logy)

    def plot_grad_norm(self, ax: Axes | None = None, title: str = "") -> Axes:
        """Plot the gradient norm (before clipping) against the step, on a log scale; return the axes."""
        from lmcourse.plot import loss_curves

        return loss_curves({"gradient norm": self.grad_norm}, ax=ax, title=title,
                           ylabel="gradient norm (before clipping)", logy=True)

    def __repr__(self) -> str:
        if not self.steps:
            return "History(steps=0)"
        tail = min(20, self.steps)
        # 4 significant digits, trailing zeros kept (#), so that 2.200 and 2.219 line up as the same precision
        text = f"History(steps={self.steps}, train_loss={self.smoothed(tail)[-1]:#.4g} (mean of the last {tail})"
        if self.valid_loss:
            text += f", valid_loss={self.valid_loss[-1]:#.4g} at step {self.eval_steps[-1]}"
        if self.stopped_at is not None:
            text += f", stopped early at step {self.stopped_at}, best at step {self.best_step}"
        if self.resumed_from is not None:
            text += f", resumed from step {self.resumed_from}"
        return text + ")"


class TrainingDiverged(RuntimeError):
    """The loss or the gradient became NaN or infinite; ``step`` says when, ``history`` holds the run so far."""

    def __init__(self, message: str, step: int, history: History) -> None:
        super().__init__(message)
        self.step = step
        self.history = history


def _diverged(step: int, what: str, value: float, yb: torch.Tensor, optimizer: torch.optim.Optimizer,
              history: History, start: float) -> TrainingDiverged:
    """The error for a non-finite ``what`` (``"loss"`` or ``"gradient norm"``) at ``step``, with likely causes."""
    history.seconds = time.perf_counter() - start
    lr = optimizer.param_groups[0]["lr"]
    losses = history.train_loss
    last = f"the last loss recorded was {losses[-1]:.4g}, at step {step - 1}" if losses else "the first step"
    if what == "loss" and not bool((yb != IGNORE_INDEX).any()):
        cause = ("every target of this batch is IGNORE_INDEX (padding), so the mean loss is 0/0; give every row "
                 "of y at least one real target")
    elif what == "loss" and step == 0:
        cause = ("the untrained model already gives it, so the learning rate is not the cause: look at the model's "
                 "forward pass (the log of zero, a division by zero, an uninitialised parameter)")
    elif what == "loss":
        cause = (f"the learning rate is too high (lr={lr:g}: try lr={lr / 10:g}, or clip=1.0 to cap each update), "
                 "or the model takes the log of zero (give F.cross_entropy raw logits rather than log(softmax(...)), "
                 "or add a small epsilon)")
    else:
        cause = ("the backward pass went through the log or the square root of zero, or a division by zero, in the "
                 "model (the loss itself was finite); clipping cannot repair a NaN gradient")
    kept = "its initial parameters" if step == 0 else f"its parameters after {step} updates"
    return TrainingDiverged(
        f"training diverged: the {what} is {value} at step {step} ({last}). Likely cause: {cause}. "
        f"Training stopped before updating: the model keeps {kept}, and the losses so far are in this error's "
        ".history.", step, history)


# --------------------------------------------------------------------------- checking arguments


def _count(value: object, name: str, what: str) -> int:
    """``value`` if it is a whole number >= 1 (not a bool); else an error naming ``name`` and saying ``what`` it is."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= 1 ({what}), got {type(value).__name__} {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be >= 1 ({what}), got {value}.")
    return int(value)


def _positive(value: object, name: str, example: str, zero: bool = False) -> float:
    """``value`` as a float if it is a finite real number > 0 (>= 0 with ``zero``); else an error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, e.g. {example}, got {type(value).__name__} {value!r}.")
    if not (math.isfinite(value) and (value >= 0 if zero else value > 0)):
        raise ValueError(f"{name} must be a finite number {'>= 0' if zero else '> 0'}, e.g. {example}, got {value}.")
    return float(value)


def _check_model(model: object) -> None:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (ids in, logits out), got {type(model).__name__}.")


def _check_data(x: object, y: object, xname: str, yname: str) -> None:
    """``y`` is ``x``'s shape, or one target per row of ``x``, in int64, with at least one real target."""
    import torch

    for name, t in ((xname, x), (yname, y)):
        if not isinstance(t, torch.Tensor) or t.dim() == 0:
            got = "a 0-D tensor" if isinstance(t, torch.Tensor) else type(t).__name__
            raise TypeError(f"{name} must be a tensor with one row per example (e.g. from batches.windows), got {got}.")
    assert isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"{xname} and {yname} must have one row per example each, and at least one, got shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}.")
    if y.shape != x.shape and y.dim() != 1:
        raise ValueError(f"{yname} must have the shape of {xname} (a target at every position) or one target per row, "
                         f"got {xname} of shape {tuple(x.shape)} and {yname} of shape {tuple(y.shape)}.")
    if y.dtype != torch.long:
        raise TypeError(f"{yname} must hold target ids as torch.long (int64), as F.cross_entropy needs, "
                        f"got {y.dtype}; use {yname}.long() if they are whole numbers.")
    if not bool((y[0] != IGNORE_INDEX).any()) and not bool((y != IGNORE_INDEX).any()):  # the first row decides, mostly
        raise ValueError(f"{yname} has no target to learn from: every value is IGNORE_INDEX ({IGNORE_INDEX}).")


def _device(model: torch.nn.Module, device: str | torch.device | None) -> torch.device:
    """Where the model is (``device=None``), or ``device``, after moving the model there."""
    import torch

    if device is not None:
        dev = pick_device(device)
        model.to(dev)
        return dev
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _logits(model: torch.nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    """The model's logits for ``xb`` (the first item if it returns a tuple), checked against the targets' shape."""
    import torch

    out = model(xb)
    logits = out[0] if isinstance(out, tuple) else out
    if not isinstance(logits, torch.Tensor) or logits.dim() != yb.dim() + 1 or logits.shape[:-1] != yb.shape:
        got = f"shape {tuple(logits.shape)}" if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"the model must return logits of the targets' shape plus a vocabulary axis, "
                         f"{(*yb.shape, 'V')}, for inputs of shape {tuple(xb.shape)} and targets of shape "
                         f"{tuple(yb.shape)}; it returned {got}.")
    return logits


def _storage_values(t: torch.Tensor) -> torch.Tensor | None:
    """The whole tensor whose memory ``t`` views, when it holds every value of ``t`` in fewer elements (the windows of
    ``batches.windows`` with stride 1 view about 1/T as many ids as they show); else None."""
    base = t._base
    if (base is None or base.dtype != t.dtype or base.device != t.device or not base.is_contiguous()
            or base.storage_offset() != 0 or base.numel() >= t.numel()
            or base.untyped_storage().nbytes() != base.numel() * base.element_size()):
        return None
    return base


def _check_targets(y: torch.Tensor, vocab_size: int, name: str) -> None:
    """Every target in ``y`` is an id 0 .. vocab_size-1 or IGNORE_INDEX; else a ValueError naming the first bad one.

    F.cross_entropy would say only "IndexError: Target 30 is out of bounds" (or fail on the GPU with a device assert).
    A view of windows is checked through the ids it views when they are all good (each window's values are among
    them), which reads ~T times fewer numbers; otherwise every target is checked, to name the first bad one.
    """
    values = _storage_values(y)
    if values is not None and not bool(((values != IGNORE_INDEX) & ((values < 0) | (values >= vocab_size))).any()):
        return
    bad = (y != IGNORE_INDEX) & ((y < 0) | (y >= vocab_size))
    if bool(bad.any()):
        where = tuple(int(i) for i in bad.nonzero()[0])
        many = int(bad.sum())
        raise ValueError(
            f"{name}[{', '.join(map(str, where))}] = {int(y[where])} is not a target id of this model: it returns "
            f"{vocab_size} logits per prediction (a vocabulary of size {vocab_size}), so targets are ids 0 .. "
            f"{vocab_size - 1}, or {IGNORE_INDEX} (batches.IGNORE_INDEX) for a position to skip; {many} target"
            f"{'s are' if many > 1 else ' is'} out of range. Encode {name} with the tokeniser the model was built "
            "for, or build the model with a vocab_size that covers every id.")


def _check_logits_kind(logits: torch.Tensor) -> None:
    """Refuse outputs that are probabilities or log-probabilities: F.cross_entropy wants logits (any real numbers).

    Probabilities train badly and silently (the softmax is applied twice); log-probabilities happen to give the same
    loss, but every other consumer of the output (generate, a temperature) expects logits. Raw logits never look
    like either: all in [0, 1] with each row summing to 1, or all <= 0 with each row's logsumexp 0 (within 1e-3),
    except for a vocabulary of one token, which is left alone.
    """
    import torch

    z = logits.detach().double().flatten(0, -2)
    if z.shape[-1] < 2 or z.numel() == 0 or bool(torch.isnan(z).any()):
        return  # a NaN is the divergence check's to report, with its causes
    if bool(((z >= 0) & (z <= 1)).all()) and bool(((z.sum(-1) - 1).abs() <= 1e-3).all()):
        kind, what, op, last = ("probabilities", "rows sum to 1", "softmax",
                                "softmax (torch.softmax, F.softmax, nn.Softmax)")
    elif bool((z <= 0).all()) and bool((torch.logsumexp(z, -1).abs() <= 1e-3).all()):
        kind, what, op, last = ("log-probabilities", "each row's logsumexp is 0", "log-softmax",
                                "log_softmax (or log of a softmax)")
    else:
        return
    raise ValueError(f"the model returns {kind} ({what}); return logits: F.cross_entropy applies the {op} itself. "
                     f"Leave out the last {last} of the model's forward: its output should be the raw scores of the "
                     "output layer, any real numbers.")


# --------------------------------------------------------------------------- AdamW, written out


class AdamW(torch.optim.Optimizer):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), one parameter at a time: the numbers of
    ``torch.optim.AdamW`` (to the bit, on the CPU), in a loop short enough to read.

    For each parameter ``p`` with gradient ``g``, at step ``t`` (1, 2, ...)::

        p = p * (1 - lr * weight_decay)           # decay the weight itself, not through the gradient
        m = beta1 * m + (1 - beta1) * g           # a running mean of the gradient ...
        v = beta2 * v + (1 - beta2) * g**2        # ... and of its square (both start at 0)
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)   # undo the pull towards that 0
        p = p - lr * m_hat / (sqrt(v_hat) + eps)  # a step of about lr per coordinate, whatever g's scale

    The state of each parameter is ``step`` (an int), ``exp_avg`` (m) and ``exp_avg_sq`` (v), the names torch
    uses, so a checkpoint or ``state_dict`` reads the same. ``train`` sets ``group["lr"]`` at every step when
    it follows a schedule.
    """

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2) -> None:
        lr = _positive(lr, "lr", "lr=1e-3", zero=True)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), e.g. (0.9, 0.999), got {betas!r}.")
        for i, beta in enumerate(betas):
            beta = _positive(beta, f"betas[{i}]", "betas=(0.9, 0.999)", zero=True)
            if beta >= 1:
                raise ValueError(f"betas[{i}] must be in [0, 1) (the weight of the past in a running mean), "
                                 f"got {beta}.")
        eps = _positive(eps, "eps", "eps=1e-8", zero=True)
        weight_decay = _positive(weight_decay, "weight_decay", "weight_decay=0.01", zero=True)
        defaults = {"lr": lr, "betas": (float(betas[0]), float(betas[1])), "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Update every parameter that has a gradient; ``closure`` (optional) recomputes the loss first."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("AdamW does not support sparse gradients (an nn.Embedding with sparse=True).")
                g, state = p.grad, self.state[p]
                if not state:  # the first step: both running means start at zero
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                p.mul_(1 - lr * wd)                            # decoupled weight decay
                m.lerp_(g, 1 - beta1)                          # m = beta1 m + (1 - beta1) g, as m + (1 - beta1)(g - m)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v = beta2 v + (1 - beta2) g^2
                bias1, bias2 = 1 - beta1 ** t, 1 - beta2 ** t  # the bias corrections
                denom = (v.sqrt() / bias2 ** 0.5).add_(eps)    # sqrt(v_hat) + eps
                p.addcdiv_(m, denom, value=-lr / bias1)        # p -= lr * m_hat / (sqrt(v_hat) + eps)
        return loss


# --------------------------------------------------------------------------- evaluation


def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 256,
             device: str | torch.device | None = None) -> float:
    """The mean cross-entropy of ``model`` on all of ``x``, ``y``: nats per target token (``exp`` of it: perplexity).

    Scored ``batch_size`` rows at a time, without gradients and in evaluation mode
    (dropout off); each module's previous mode is restored afterwards. Targets equal
    to ``IGNORE_INDEX`` are skipped, and every real target weighs the same: the losses
    are summed over all batches and divided by the number of targets, which is not
    the mean of the batch means when batches hold different numbers of targets.
    ``device=None`` scores on the model's device; a device given moves the model there. A target outside
    0 .. V-1 (other than ``IGNORE_INDEX``), or a model returning probabilities or log-probabilities
    instead of logits, is a ValueError.
    """
    import torch
    import torch.nn.functional as F

    _check_model(model)
    _check_data(x, y, "x", "y")
    batch_size = _count(batch_size, "batch_size", "rows scored at a time")
    device = _device(model, device)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for start in range(0, x.shape[0], batch_size):
                xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
                logits = _logits(model, xb, yb)
                if start == 0:  # once, now that the number of logits V is known
                    _check_targets(y, logits.shape[-1], "y")
                    _check_logits_kind(logits)
                logits = logits.float()
                total += F.cross_entropy(logits.flatten(0, -2), yb.flatten(), reduction="sum").item()
                count += int((yb != IGNORE_INDEX).sum())
    finally:
        for m, mode in modes:  # parents first, so a child's own mode is put back after its parent's
            m.train(mode)
    return total / count


# --------------------------------------------------------------------------- training


def cosine_schedule(steps: int, warmup: int = 0, floor: float = 0.1) -> Callable[[int], float]:
    """A learning-rate factor for each step: a linear warm-up, then a cosine decay to ``floor`` at ``steps``.

    ``factor(s) = (s + 1) / warmup`` for the first ``warmup`` steps, then
    ``floor + (1 - floor) * (1 + cos(pi * p)) / 2`` with ``p = (s - warmup) / (steps - warmup)`` going from 0
    to 1, as nanoGPT and most small-model recipes do: small steps while Adam's statistics settle, then
    ever smaller ones, so that the run ends in a minimum rather than bouncing around it.
    Pass it as ``train(..., schedule=cosine_schedule(steps, warmup=100))``. The function returned keeps the run
    length it was built for as its attribute ``steps``, and ``train`` refuses it for a run of another length (past
    ``steps`` it would stay at the floor, silently).
    """
    steps = _count(steps, "steps", "the length of the run the schedule spans")
    if isinstance(warmup, bool) or not isinstance(warmup, numbers.Integral) or not 0 <= warmup < steps:
        raise ValueError(f"warmup must be a whole number of steps from 0 to steps - 1 = {steps - 1} (a warm-up as "
                         f"long as the run would leave nothing to decay), got {warmup!r}.")
    floor = _positive(floor, "floor", "floor=0.1 (the final rate as a fraction of lr)", zero=True)
    if floor > 1:
        raise ValueError(f"floor is the final learning rate as a fraction of lr, from 0 to 1, got {floor}.")

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        p = min(1.0, (step - warmup) / max(1, steps - warmup))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * p))

    factor.steps = steps  # type: ignore[attr-defined]  # the run length, which train() checks against its own
    return factor


def lr_range_test(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, lr_min: float = 1e-5,
                  lr_max: float = 1.0, steps: int = 100, batch_size: int = 32, seed: int = 0,
                  optimizer: str = "adamw") -> tuple[list[float], list[float]]:
    """The learning-rate range test (Smith 2017, fastai's ``lr_find``): the loss of a short run whose learning rate
    rises geometrically from ``lr_min`` to ``lr_max``; returns ``(lrs, losses)``, one pair per step.

    A deep copy of ``model`` is trained (``model`` itself is never changed, and the global random state is left as
    it was), ``steps`` updates of ``batch_size`` random rows (``seed``) with ``optimizer`` (``"adamw"`` without
    weight decay, or ``"sgd"``). ``losses[i]`` is the loss of the batch of step ``i``, measured before its update
    at ``lrs[i]``. The run stops early once a loss is more than 4 times the lowest so far (that loss is the last
    one returned) or is not finite (left out): the lists are then shorter than ``steps``. Plot the loss against
    the rate on a log axis; a good rate is well below the one where the loss is lowest (a tenth of it, say), on
    the part of the curve that still falls steeply.
    """
    import copy

    import torch.nn.functional as F

    _check_model(model)
    _check_data(x, y, "x", "y")
    lr_min = _positive(lr_min, "lr_min", "lr_min=1e-5")
    lr_max = _positive(lr_max, "lr_max", "lr_max=1.0")
    if lr_min >= lr_max:
        raise ValueError(f"lr_min must be below lr_max (the rate rises from one to the other), got lr_min={lr_min:g} "
                         f"and lr_max={lr_max:g}; e.g. lr_min=1e-5, lr_max=1.0.")
    steps = _count(steps, "steps", "the number of rates to try, e.g. 100")
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (the rate goes from lr_min at the first step to lr_max at the "
                         f"last), got {steps}.")
    batch_size = _count(batch_size, "batch_size", "rows per batch")
    generator = torch.Generator().manual_seed(_check_seed(seed, "seed=0"))
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}, got {optimizer!r}.")
    probe = copy.deepcopy(model)
    params = [p for p in probe.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"model {type(model).__name__} has no parameters to train (none with requires_grad=True).")
    device = _device(probe, None)
    _check_first_output(probe, x, y, None, batch_size, device)
    opt = (torch.optim.AdamW(params, lr=lr_min, weight_decay=0.0) if optimizer == "adamw"
           else torch.optim.SGD(params, lr=lr_min))
    lrs: list[float] = []
    losses: list[float] = []
    best = math.inf
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    probe.train()
    with torch.random.fork_rng(devices=devices):  # dropout's draws leave the caller's random numbers as they were
        for i in progress(range(steps), desc="lr range test"):
            lr = lr_max if i == steps - 1 else lr_min * (lr_max / lr_min) ** (i / (steps - 1))
            for group in opt.param_groups:
                group["lr"] = lr
            xb, yb = sample_batch(x, y, batch_size, generator)
            xb, yb = xb.to(device), yb.to(device)
            loss = F.cross_entropy(_logits(probe, xb, yb).float().flatten(0, -2), yb.flatten())
            if not math.isfinite(loss.item()):
                break
            lrs.append(lr)
            losses.append(loss.item())
            if loss.item() > 4 * best:
                break
            best = min(best, loss.item())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return lrs, losses


# --------------------------------------------------------------------------- early stopping, mixed precision, resuming


class _EarlyStopping:
    """The bookkeeping of ``train(..., patience=...)``: the best validation loss, its step, a CPU copy of the
    parameters it was measured on, and how many evaluations in a row have not beaten it."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_loss, self.best_step, self.bad = math.inf, None, 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def stop(self, step: int, loss: float, model: torch.nn.Module) -> bool:
        """Record the evaluation of ``step``; True once ``patience`` evaluations in a row brought no new best."""
        if loss < self.best_loss:  # strictly below: an equal loss is no improvement
            self.best_loss, self.best_step, self.bad = loss, step, 0
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            return False
        self.bad += 1
        return self.bad >= self.patience

    def restore(self, model: torch.nn.Module) -> None:
        """Give ``model`` the parameters of the best evaluation back."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)

    def to_json(self) -> dict[str, Any]:
        return {"best_loss": self.best_loss, "best_step": self.best_step, "bad": self.bad}


def _check_autocast(autocast: object, device: torch.device) -> None:
    """``autocast`` is None, torch.bfloat16, or torch.float16 off CUDA, and torch can autocast to it on ``device``."""
    import warnings

    if autocast is None:
        return
    if autocast not in (torch.bfloat16, torch.float16):
        shown = f"{type(autocast).__name__} {autocast!r}" if not isinstance(autocast, torch.dtype) else autocast
        raise ValueError(f"autocast must be None (float32 throughout) or torch.bfloat16 (mixed precision; or "
                         f"torch.float16 on the CPU), got {shown}.")
    if autocast == torch.float16 and device.type == "cuda":
        raise ValueError("autocast=torch.float16 on a GPU needs a gradient scaler (torch.amp.GradScaler: small "
                         "gradients underflow to 0 in float16), which this loop does not have; use "
                         "autocast=torch.bfloat16, which has float32's range and needs none.")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch only warns, and trains in float32, for a dtype it cannot use
        try:
            torch.autocast(device_type=device.type, dtype=autocast)
        except (RuntimeError, UserWarning) as err:
            raise ValueError(f"torch cannot autocast to {autocast} on {device.type} ({err}); use "
                             "autocast=torch.bfloat16, or None.") from None


def _mixed_precision(device: torch.device, autocast: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` to ``autocast`` on ``device``'s type, or nothing at all for None."""
    if autocast is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=autocast)


def _bar(start: int, steps: int, desc: str) -> Iterator[int]:
    """The progress bar over steps ``start .. steps - 1``, counting from ``start`` (a resumed run's first step)."""
    if start == 0:
        return progress(range(steps), desc=desc)
    from tqdm.auto import tqdm

    from lmcourse.env import under_test

    return tqdm(range(start, steps), initial=start, total=steps, desc=desc, disable=under_test(), leave=True)


def _check_path(checkpoint: object) -> Path:
    if not isinstance(checkpoint, (str, os.PathLike)) or not str(checkpoint):
        raise TypeError(f"checkpoint must be a file path (str or pathlib.Path), e.g. 'run.safetensors', or None; got "
                        f"{type(checkpoint).__name__} {checkpoint!r}.")
    path = Path(checkpoint)
    if path.is_dir():
        raise ValueError(f"checkpoint={str(path)!r} is a folder; give a file in it, e.g. "
                         f"{str(path / 'run.safetensors')!r}.")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder of checkpoint={str(path)!r}, {path.parent}, does not exist; create it "
                                "first (path.parent.mkdir(parents=True)).")
    return path


def _run_settings(optimizer: torch.optim.Optimizer, schedule: Callable[[int], float] | None,
                  **settings: Any) -> dict[str, Any]:
    """What a resumed run must share with the run that wrote its checkpoint, as JSON: the settings (the seed
    among them: None when a generator was passed), the optimizer's hyperparameters, the schedule's factors at a
    few steps (a function cannot be compared, its values can), and the data's fingerprint (``data``, see
    :func:`_data_fingerprint`), under the name a refusal shows."""
    from lmcourse.checkpoints import _json_value

    settings[_DATA] = settings.pop("data")
    steps = settings["steps"]
    groups = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
    probe = None if schedule is None else [float(schedule(s)) for s in sorted({0, steps // 2, steps - 1})]
    autocast = settings.pop("autocast")
    return _json_value({**settings, "autocast": None if autocast is None else str(autocast),
                        "optimizer": groups, "schedule": probe}, "the optimizer's hyperparameters")


_DATA = "the training data (x, y)"  # the name of the data's fingerprint among a run's settings, as a refusal shows it


def _data_fingerprint(x: torch.Tensor, y: torch.Tensor) -> str:
    """A cheap fingerprint of the training data: the shapes and dtypes of ``x`` and ``y`` and the SHA-256 of 64 of
    their rows, evenly spaced from the first to the last (the first, the middle and the last among them).

    Reading 64 rows costs microseconds whatever the data's size (a full hash of a million windows would not), and
    other data (another text, x and y swapped, a slice) almost surely differs in a shape or in one of them.
    """
    import hashlib

    def kind(t: torch.Tensor) -> str:
        return f"{tuple(t.shape)} {str(t.dtype).removeprefix('torch.')}"

    digest = hashlib.sha256()
    rows = torch.linspace(0, x.shape[0] - 1, min(64, x.shape[0])).round().long()
    for t in (x, y):
        sample = t[rows.to(t.device)].detach().to("cpu").contiguous()
        digest.update(sample.view(torch.uint8).numpy().tobytes())
    return f"x {kind(x)}, y {kind(y)}, sha256 of 64 rows {digest.hexdigest()[:16]}"


def _resume(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator,
            stopper: _EarlyStopping | None, run: dict[str, Any], steps: int) -> tuple[History, int]:
    """Restore the training state at ``path`` (refusing another run's); return its history and step."""
    from lmcourse.checkpoints import CheckpointError, load_state

    state = load_state(path, model, optimizer, expect={"run": run})
    if state.step > steps:  # cannot happen with the same steps; a hand-made file could say so
        raise CheckpointError(f"{path} is at step {state.step}, past this run's steps={steps}.")
    generator.set_state(state.generator.get_state())
    state.history.resumed_from = state.step
    if stopper is not None:
        early = state.extra.get("early_stopping") or {}
        stopper.best_loss, stopper.best_step, stopper.bad = early["best_loss"], early["best_step"], early["bad"]
        stopper.best_state = state.best
    return state.history, state.step


class _Checkpointer:
    """Writes the training state of ``train(..., checkpoint=path)`` every ``every`` steps and at the end."""

    def __init__(self, path: Path, every: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 generator: torch.Generator, stopper: _EarlyStopping | None, run: dict[str, Any],
                 history: History | None) -> None:
        self.path, self.every, self.model, self.optimizer = path, every, model, optimizer
        self.generator, self.stopper, self.run = generator, stopper, run
        self.began = time.perf_counter() - (history.seconds if history is not None else 0.0)

    def save(self, step: int, history: History, base_lrs: list[float]) -> None:
        from lmcourse.checkpoints import save_state

        for group, base in zip(self.optimizer.param_groups, base_lrs):
            group["lr"] = base  # the file keeps the run's own rate; the next step sets the scheduled one again
        if history.stopped_at is None and step < self.run["steps"]:
            history.seconds = time.perf_counter() - self.began
        extra: dict[str, Any] = {"run": self.run}
        if self.stopper is not None:
            extra["early_stopping"] = self.stopper.to_json()
        save_state(self.path, self.model, self.optimizer, step=step, generator=self.generator, history=history,
                   extra=extra, best=self.stopper.best_state if self.stopper is not None else None)


def _check_first_output(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                        valid: tuple[torch.Tensor, torch.Tensor] | None, batch_size: int, device: torch.device) -> None:
    """Before the first update: the model's output on the first rows of ``x`` is logits of the right shape, and
    every target of ``y`` (and of ``valid``) is one of its ids.

    The model runs in eval mode without gradients, so this draws no random numbers (no dropout) and changes
    nothing; each module's mode is put back afterwards.
    """
    import torch

    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            logits = _logits(model, x[:batch_size].to(device), y[:batch_size].to(device))
    finally:
        for m, mode in modes:
            m.train(mode)
    _check_targets(y, logits.shape[-1], "y")
    if valid is not None:
        _check_targets(valid[1], logits.shape[-1], "y_valid")
    _check_logits_kind(logits)


def train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, steps: int, batch_size: int,
          lr: float | None = None, valid: tuple[torch.Tensor, torch.Tensor] | None = None,
          eval_every: int | None = None, optimizer: str | torch.optim.Optimizer = "adamw",
          weight_decay: float = 0.0, clip: float | None = None, schedule: Callable[[int], float] | None = None,
          seed: int | None = None, generator: torch.Generator | None = None,
          device: str | torch.device | None = None, desc: str = "training", patience: int | None = None,
          autocast: torch.dtype | None = None, checkpoint: str | os.PathLike[str] | None = None,
          checkpoint_every: int | None = None) -> History:
    """Train ``model`` for ``steps`` updates on random batches of ``x``, ``y``; return the :class:`History`.

    - ``steps``, ``batch_size``: updates to make, rows per batch (drawn with replacement).
    - ``lr``: the learning rate, a number > 0, for ``optimizer="adamw"`` (the default;
      ``weight_decay`` defaults to 0 here, not to AdamW's 0.01) or ``"sgd"`` (plain SGD).
      Or pass a ``torch.optim.Optimizer`` you built over the model's parameters, and leave
      ``lr`` and ``weight_decay`` out: they are set on it.
    - ``valid=(x_valid, y_valid)``: scored with :func:`evaluate` at steps 0, ``eval_every``,
      ``2 * eval_every``, ... and at the end (``eval_every`` defaults to ``steps // 10``).
    - ``clip``: the largest gradient norm allowed; a larger gradient is scaled down to it.
      The history records the norm before clipping.
    - ``schedule``: a function of the step giving a factor for the learning rate, e.g.
      ``cosine_schedule(steps, warmup=steps // 10)`` (None: the rate stays ``lr``). Step ``s`` updates with
      ``lr * schedule(s)``; the optimizer's rate is put back to ``lr`` at the end. A schedule whose ``steps``
      attribute (:func:`cosine_schedule` sets it) is not this run's ``steps`` is refused, and so is
      ``cosine_schedule`` itself, uncalled.
    - ``seed`` or ``generator`` (exactly one): where the batches come from.
    - ``device``: ``None`` trains where the model's parameters are; a device given moves the model there.
    - ``desc``: the progress bar's label (the bar is silent under test).
    - ``patience``: early stopping (needs ``valid``). The run stops once the validation loss has not gone
      below its best for ``patience`` evaluations in a row (``history.stopped_at`` says at which step), and
      the model gets back the parameters of its best evaluation (``history.best_step``); with patience, a run
      that makes all its steps also ends with the best evaluation's parameters. A copy of the parameters is
      kept on the CPU at each new best.
    - ``autocast``: ``torch.bfloat16`` (or ``torch.float16``, on the CPU only) runs the forward pass in mixed
      precision, ``torch.autocast``: matrix products in 16 bits, the parameters, their gradients, the update and
      the loss (cross-entropy of the logits cast to float32) in float32. ``evaluate`` stays in float32. On a GPU,
      float16 would need a gradient scaler, which this loop does not have: use bfloat16. ``None``: float32.
    - ``checkpoint``: a file (``.safetensors``) that the whole training state is written to, atomically, every
      ``checkpoint_every`` steps (default: ``eval_every``) and at the end: model, optimizer, step, the batch
      generator, the global random states (dropout), the history. **If the file exists when ``train`` starts, the
      run resumes from it** and makes exactly the same updates as a run never interrupted would (bit for bit on
      the CPU at the same thread count); the progress bar starts at the step resumed, and ``history.resumed_from``
      says which (``train`` prints nothing). **Delete the file to start over.** A file written by a different run
      (model, optimizer and its hyperparameters, steps, batch_size, eval_every, clip, patience, autocast, schedule,
      seed, or other data: the shapes, dtypes and 64 sampled rows of ``x`` and ``y``) is refused, and so is a
      damaged one, with a message naming the previous state ``<stem>.prev.safetensors``, which each save keeps
      (see :func:`lmcourse.checkpoints.save_state`). A finished run's file gives its history back at once.

    Before the first update the model is run once on the first rows of ``x`` (in eval mode, without
    gradients: nothing is drawn or changed) to check its output: logits of the targets' shape plus a
    vocabulary axis of size V, not probabilities or log-probabilities; and every target of ``y`` and
    ``y_valid`` must be an id 0 .. V-1 or ``IGNORE_INDEX``. Each is a ValueError that says what to change.

    A NaN or infinite loss or gradient raises :class:`TrainingDiverged`, which names the
    step and the likely cause, and carries the history so far. The model is left in
    training mode (call ``model.eval()`` before sampling from it).
    """
    import torch

    _check_model(model)
    _check_data(x, y, "x", "y")
    if valid is not None:
        if not isinstance(valid, (tuple, list)) or len(valid) != 2:
            raise TypeError(f"valid must be a pair (x_valid, y_valid) of tensors, or None; got {type(valid).__name__}.")
        _check_data(valid[0], valid[1], "x_valid", "y_valid")
    steps = _count(steps, "steps", "the number of updates to make")
    batch_size = _count(batch_size, "batch_size", "rows per batch")
    eval_every = max(1, steps // 10) if eval_every is None else _count(eval_every, "eval_every", "steps between "
                                                                        "evaluations of valid")
    if clip is not None:
        clip = _positive(clip, "clip", "clip=1.0 (or None for no clipping)")
    if (seed is None) == (generator is None):
        raise TypeError("pass exactly one of seed (e.g. seed=0) and generator (e.g. torch.Generator().manual_seed(0)), "
                        f"which draws the batches; got {'both' if seed is not None else 'neither'}.")
    generator = torch.Generator().manual_seed(_check_seed(seed, "seed=0")) if seed is not None else generator
    generator = _check_generator(generator)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"model {type(model).__name__} has no parameters to train (none with requires_grad=True).")
    if isinstance(optimizer, torch.optim.Optimizer):
        given = {name: value for name, value in (("lr", lr), ("weight_decay", weight_decay))
                 if value is not None and not (name == "weight_decay" and value == 0.0)}  # 0.0: the default
        if given:
            names = " and ".join(given)
            raise ValueError(f"{names} {'are' if len(given) > 1 else 'is'} set on the optimizer you passed; leave "
                             f"{'them' if len(given) > 1 else 'it'} out of train() (or pass optimizer='adamw' or "
                             f"'sgd' to have train() build one), got "
                             f"{', '.join(f'{name}={value!r}' for name, value in given.items())}.")
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        if not any(id(p) in held for p in params):
            raise ValueError("the optimizer holds none of this model's parameters; was it built for another model "
                             "(or before the model was re-created)? Build it with model.parameters().")
    elif optimizer in OPTIMIZERS:
        if lr is None:
            raise TypeError(f"lr (the learning rate) is required with optimizer={optimizer!r}, e.g. lr=3e-3.")
        lr = _positive(lr, "lr", "lr=3e-3")
        weight_decay = _positive(weight_decay, "weight_decay", "weight_decay=0.1", zero=True)
        kind = torch.optim.AdamW if optimizer == "adamw" else torch.optim.SGD
        optimizer = kind(params, lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))} or a torch.optim.Optimizer, "
                         f"got {optimizer!r}.")
    if schedule is cosine_schedule:  # the factory, not a schedule: calling it with a step would say "steps >= 1"
        raise TypeError(f"schedule=cosine_schedule is the function that builds a schedule, not a schedule: call it, "
                        f"schedule=cosine_schedule({steps}, warmup={steps // 10}) (the run's steps, a warm-up).")
    if schedule is not None and not callable(schedule):
        raise TypeError(f"schedule must be a function of the step giving a learning-rate factor, e.g. "
                        f"cosine_schedule(steps={steps}, warmup=100), or None; got {type(schedule).__name__}.")
    built = getattr(schedule, "steps", None)  # cosine_schedule records the run length it was built for
    if isinstance(built, int) and built != steps:
        raise ValueError(f"the schedule was built for {built} steps, this run has {steps}: build it with "
                         f"cosine_schedule({steps}, ...) (past its {built} steps it would stay at its floor).")
    if not isinstance(desc, str):
        raise TypeError(f"desc is the progress bar's label, a str such as 'training'; got {type(desc).__name__}.")
    if patience is not None:
        patience = _count(patience, "patience", "evaluations without a new best before stopping, e.g. 3")
        if valid is None:
            raise ValueError(f"patience={patience} stops on the validation loss: pass valid=(x_valid, y_valid) too "
                             "(or leave patience out).")
    device = _device(model, device)
    _check_autocast(autocast, device)
    _check_first_output(model, x, y, valid, batch_size, device)
    stopper = _EarlyStopping(patience) if patience is not None else None
    history, start, saver = None, 0, None
    if checkpoint is not None:
        path = _check_path(checkpoint)
        every = eval_every if checkpoint_every is None else _count(checkpoint_every, "checkpoint_every",
                                                                   "steps between checkpoints")
        run = _run_settings(optimizer, schedule, steps=steps, batch_size=batch_size, eval_every=eval_every,
                            clip=clip, patience=patience, autocast=autocast, seed=seed,
                            data=_data_fingerprint(x, y))
        if path.exists():  # resume: a damaged file or another run's is refused, and nothing is deleted
            history, start = _resume(path, model, optimizer, generator, stopper, run, steps)
            if start == steps or history.stopped_at is not None:
                return history  # that run had finished: its model and history are restored as they ended
        saver = _Checkpointer(path, every, model, optimizer, generator, stopper, run, history)
    elif checkpoint_every is not None:
        raise ValueError(f"checkpoint_every={checkpoint_every!r} needs checkpoint=PATH, the file to write to.")
    return training_loop(model, optimizer, x, y, steps=steps, batch_size=batch_size, generator=generator,
                         valid=valid, eval_every=eval_every, clip=clip, schedule=schedule, device=device, desc=desc,
                         autocast=autocast, stopper=stopper, saver=saver, history=history, start=start)


def training_loop(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, *,
                  steps: int, batch_size: int, generator: torch.Generator,
                  valid: tuple[torch.Tensor, torch.Tensor] | None, eval_every: int, clip: float | None,
                  device: torch.device, schedule: Callable[[int], float] | None = None,
                  desc: str = "training", autocast: torch.dtype | None = None, stopper: _EarlyStopping | None = None,
                  saver: _Checkpointer | None = None, history: History | None = None, start: int = 0) -> History:
    """The loop itself, without the checks: :func:`train` checks its arguments, builds the optimizer, calls this."""
    import torch.nn.functional as F

    params = [p for p in model.parameters() if p.requires_grad]
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    history = History() if history is None else history  # a resumed run goes on with its history so far
    began = time.perf_counter() - history.seconds
    model.train()  # dropout on; evaluate() switches it off and back on
    bar = _bar(start, steps, desc)
    for step in bar:  # at step s the model has had s updates
        if valid is not None and step % eval_every == 0:
            history.eval_steps.append(step)
            history.valid_loss.append(evaluate(model, *valid, batch_size=batch_size))
            if stopper is not None and stopper.stop(step, history.valid_loss[-1], model):
                history.stopped_at = step  # no new best for `patience` evaluations: stop here
                break
        xb, yb = sample_batch(x, y, batch_size, generator)
        xb, yb = xb.to(device), yb.to(device)
        with _mixed_precision(device, autocast):  # float32 unless autocast=torch.bfloat16
            logits = _logits(model, xb, yb)  # (B, T, V), or (B, V) when y is (B,)
        loss = F.cross_entropy(logits.float().flatten(0, -2), yb.flatten())  # mean over targets != IGNORE_INDEX
        if not math.isfinite(loss.item()):  # stop before a NaN reaches the parameters
            raise _diverged(step, "loss", loss.item(), yb, optimizer, history, began)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # The gradient's total norm, before clipping; with clip=None (max_norm inf) nothing is scaled.
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm=clip if clip is not None else math.inf)
        if not math.isfinite(norm.item()):
            raise _diverged(step, "gradient norm", norm.item(), yb, optimizer, history, began)
        for group, base in zip(optimizer.param_groups, base_lrs):  # this step's learning rate
            group["lr"] = base * (schedule(step) if schedule is not None else 1.0)
        optimizer.step()
        history.train_loss.append(loss.item())
        history.grad_norm.append(norm.item())
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        if saver is not None and (step + 1) % saver.every == 0 and step + 1 < steps:
            saver.save(step + 1, history, base_lrs)  # the whole state after step + 1 updates
    if valid is not None and history.stopped_at is None:  # and once more at the end, on the trained model
        history.eval_steps.append(steps)
        history.valid_loss.append(evaluate(model, *valid, batch_size=batch_size))
        if stopper is not None:
            stopper.stop(steps, history.valid_loss[-1], model)
    if stopper is not None:
        stopper.restore(model)  # the parameters of the best evaluation
    for group, base in zip(optimizer.param_groups, base_lrs):
        group["lr"] = base
    history.seconds = time.perf_counter() - began
    if saver is not None:
        saver.save(history.steps, history, base_lrs)
    return history


# --------------------------------------------------------------------------- a command line to kill and resume


def _interrupted(path: Path, every: int) -> str:
    """The line :func:`main` prints when Ctrl-C stops it: the step whose training state ``path`` holds, and what to
    run next."""
    from lmcourse.checkpoints import CheckpointError, state_step

    if not path.is_file():
        return (f"interrupted; no checkpoint was written yet (the first is written at step {every}): run the same "
                "command again to start over")
    try:
        kept = f"the training state of step {state_step(path)} is in {path}"
    except CheckpointError as err:
        return f"interrupted; {err}"
    return f"interrupted; {kept}: run the same command again to resume (delete the file to start over)"


def main(argv: list[str] | None = None) -> None:
    """``python -m lmcourse.train --steps 300 --checkpoint run.safetensors [--every 20] [--history h.json]``.

    Trains a small fixed Transformer (2 layers, 2 heads, width 48, context 32, dropout 0.1) on Shakespeare's
    characters with AdamW, a cosine schedule with warm-up and clipping, writing its training state to
    ``--checkpoint`` every ``--every`` steps; if that file exists, it resumes from it. Kill it at any moment and
    run the same command again: the run ends exactly as an uninterrupted one (the same losses, bit for bit, on the
    same machine and thread count). ``--history`` gets the losses as JSON; one line is printed at the end, and a
    resumed run also prints ``resumed from step N of run.safetensors`` (the file's name), before its last line.
    Ctrl-C prints to stderr the step whose state the file holds, and exits with status 130.
    """
    import argparse
    import json

    import lmcourse
    from lmcourse import batches, data
    from lmcourse import tokenize as tk
    from lmcourse import train as this  # run as `python -m`, this file is __main__: use the package's own copy
    from lmcourse.transformer import TransformerConfig, TransformerLM

    parser = argparse.ArgumentParser(prog="python -m lmcourse.train", description=main.__doc__.split("\n\n")[1])
    parser.add_argument("--steps", type=int, default=300, help="updates to make (default 300)")
    parser.add_argument("--checkpoint", required=True, help="the training state's file; resumed from if it exists")
    parser.add_argument("--every", type=int, default=20, help="steps between checkpoints and evaluations (20)")
    parser.add_argument("--history", help="write the history (losses, gradient norms) to this JSON file")
    parser.add_argument("--seed", type=int, default=0, help="the seed of lmcourse.setup and the batches (0)")
    args = parser.parse_args(argv)
    if args.steps < 2 or args.every < 1:
        parser.error(f"--steps must be at least 2 and --every at least 1, got {args.steps} and {args.every}")
    device = lmcourse.setup(args.seed, quiet=True)
    sh = data.splits("shakespeare")
    chars = tk.CharTokenizer().fit(sh.train)
    x, y = batches.windows(chars.encode(sh.train), 32)
    x_valid, y_valid = batches.windows(chars.encode(sh.valid[:20_000]), 32)
    model = TransformerLM(TransformerConfig(vocab_size=chars.vocab_size, block_size=32, n_layer=2, n_head=2,
                                            n_embd=48, dropout=0.1)).to(device)
    optimizer = this.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    path = Path(args.checkpoint)
    try:
        history = this.train(model, x, y, steps=args.steps, batch_size=16, optimizer=optimizer, clip=1.0,
                             schedule=this.cosine_schedule(args.steps, warmup=max(1, args.steps // 10)),
                             valid=(x_valid[:64], y_valid[:64]), eval_every=args.every, seed=args.seed,
                             checkpoint=args.checkpoint, checkpoint_every=args.every, desc="python -m lmcourse.train")
    except KeyboardInterrupt:  # Ctrl-C: say what was kept and how to go on, not a traceback through torch
        print(_interrupted(path, args.every), file=sys.stderr, flush=True)
        sys.exit(130)  # 128 + SIGINT, as a shell reports a run stopped by Ctrl-C
    if args.history:
        out = Path(args.history)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps({"train_loss": history.train_loss, "grad_norm": history.grad_norm,
                                   "eval_steps": history.eval_steps, "valid_loss": history.valid_loss}) + "\n",
                       encoding="utf-8")
        os.replace(tmp, out)
    if history.resumed_from is not None:  # after train() accepted the file: a refused one raised instead
        print(f"resumed from step {history.resumed_from} of {path.name}")
    print(f"step {history.steps}: train loss {history.smoothed()[-1]:.3f} (mean of the last 20 steps), "
          f"valid loss {history.valid_loss[-1]:.3f}")


if __name__ == "__main__":
    main()
