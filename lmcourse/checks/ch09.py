"""Checkers of chapter 09 (training strategies): exercises 09.1-09.4.

The references are PyTorch's and the package's own: ``lmcourse.train.cosine_schedule`` (09.1),
``torch.optim.SGD(momentum=mu)`` (09.2), ``torch.optim.AdamW`` and ``lmcourse.train.AdamW`` (09.3) and
``torch.nn.utils.clip_grad_norm_`` (09.4). The inputs are plain numbers and torch tensors shaped like a model's
(float32, and float64 in one case); an answer may return Python floats, numpy arrays or torch tensors of either
precision, compared at a tolerance honest for float32. The typical mistakes are computed (in float64) to tell which
one an answer makes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lmcourse.checks.core import (
    Description,
    _changed_hint,
    _close,
    _copy,
    _f64,
    _floats,
    _kind,
    _match_mistake,
    _quiet_numerics,
    _real,
    _unchanged,
    call,
    checker,
    fail,
    number,
    passed,
)

#: How an optimizer step writes into its inputs, for the hint of an answer that does (09.2 and 09.3 differ in their
#: states, a velocity or Adam's m and v, so each names its own example of a new tensor).
_WRITES = ("param -= ..., param.sub_(...), .mul_(...), .lerp_(...) or any method ending in _ writes into the caller's "
           "tensor (the optimizer's state, which it may still need).")


# --- 09.1 the learning-rate schedule ------------------------------------------------------------------------------

def _lr(step: int, steps: int, warmup: int, peak: float, floor: float, how: str = "right") -> float:
    """The learning rate of ``step``: warm-up, then cosine decay to ``floor * peak`` (or a typical mistake)."""
    if step < warmup:
        return peak * (step / warmup if how == "warmup_from_zero" else (step + 1) / warmup) * (
            1.0 if how != "no_peak" else 1.0 / peak)
    span = {"decay_over_steps": steps, "decay_from_zero": steps, "floor_at_last": steps - 1 - warmup}.get(
        how, max(1, steps - warmup))
    p = min(1.0, (step if how == "decay_from_zero" else step - warmup) / span)
    wave = 0.5 * (1.0 + math.cos(math.pi * p))
    if how == "cos_alone":
        wave = math.cos(math.pi * p)
    elif how == "no_half":
        wave = 1.0 + math.cos(math.pi * p)
    if how == "decay_to_zero":
        return peak * wave
    if how == "floor_added":
        return peak * (floor + wave)
    if how == "floor_absolute":
        return floor + (peak - floor) * wave
    factor = floor + (1.0 - floor) * wave
    return factor if how == "no_peak" else peak * factor


_LR_MISTAKES = ("warmup_from_zero", "decay_to_zero", "decay_over_steps", "decay_from_zero", "floor_at_last",
                "cos_alone", "no_half", "no_peak", "floor_added", "floor_absolute")

_LR_HINTS = {
    "warmup_from_zero": "the warm-up starts at 0: step 0 gets lr 0, an update that does nothing. Count from 1: "
                        "peak * (step + 1) / warmup, so that the last warm-up step (warmup - 1) reaches the peak.",
    "decay_to_zero": "the rate decays to 0, not to floor * peak: the cosine part goes from 1 to 0, so scale it into "
                     "the range from floor to 1: floor + (1 - floor) * (1 + cos(pi * p)) / 2, times peak.",
    "decay_over_steps": "the decay is measured over all the steps, so it has not reached the floor by the end. It "
                        "starts after the warm-up: p = (step - warmup) / (steps - warmup), from 0 to 1.",
    "decay_from_zero": "your p counts from step 0 over all the steps (p = step / steps), so the decay has already "
                       "begun when the warm-up ends (the rate drops at once below the peak) and has not reached the "
                       "floor by the end. Count from the end of the warm-up: p = (step - warmup) / (steps - warmup), "
                       "0 at step warmup.",
    "floor_at_last": "your decay reaches the floor at the last step, steps - 1 (p = (step - warmup) / (steps - 1 - "
                     "warmup)), a common convention but not this one: here p = (step - warmup) / (steps - warmup), "
                     "as in lmcourse.train.cosine_schedule and nanoGPT, which reaches the floor at step steps, just "
                     "after the run (its last step is a hair above the floor).",
    "cos_alone": "cos(pi * p) alone goes from 1 to -1 (a negative rate by the end): use (1 + cos(pi * p)) / 2, which "
                 "goes from 1 to 0.",
    "no_half": "1 + cos(pi * p) goes from 2 to 0: halve it, (1 + cos(pi * p)) / 2, so the decay starts at the peak.",
    "no_peak": "these are the factors, from 0 to 1: multiply them by peak, the largest learning rate.",
    "floor_added": "adding floor on top lifts the whole curve (it starts at (1 + floor) * peak): the factor is "
                   "floor + (1 - floor) * (1 + cos(pi * p)) / 2, which starts at 1 and ends at floor.",
    "floor_absolute": "floor is a fraction of peak (0.1: the run ends at a tenth of the peak), not a learning rate: "
                      "end at floor * peak, i.e. peak * (floor + (1 - floor) * (1 + cos(pi * p)) / 2).",
}

_LR_RULE = ("for step < warmup: peak * (step + 1) / warmup; after it, with p = (step - warmup) / (steps - warmup): "
            "peak * (floor + (1 - floor) * (1 + cos(pi * p)) / 2), from peak down to floor * peak.")


def _lr_steps(steps: int, warmup: int) -> list[int]:
    """The steps checked: the first ones, both sides of the end of the warm-up, the middle, the last."""
    return sorted({0, 1, warmup - 1, warmup, warmup + 1, (steps + warmup) // 2, steps - 2, steps - 1} - {-1})


@checker
def ch09_schedule(lr_at: Callable[[int, int, int, float, float], Any]) -> None:
    """Exercise 09.1: ``lr_at(step, steps, warmup, peak, floor)`` = ``peak * lmcourse.train.cosine_schedule(steps,
    warmup, floor)(step)``: a linear warm-up from peak / warmup, then a cosine decay to floor * peak.

    Three runs: (steps=100, warmup=10, peak=3e-3, floor=0.1), (steps=2000, warmup=200, peak=6e-4, floor=0.1),
    (steps=60, warmup=1, peak=0.05, floor=0.0), at the steps 0, 1, warmup - 1, warmup, warmup + 1, the middle of the
    decay and the last two. Each answer must be one real number (a Python, numpy or one-element torch number),
    within a relative 1e-5. The hint names the mistake: a warm-up from 0, a decay to 0 (floor ignored), over all the
    steps instead of those after the warm-up (p = (step - warmup) / steps, or step / steps), reaching the floor at
    steps - 1 (p = (step - warmup) / (steps - 1 - warmup)), cos without (1 + cos) / 2 or without the halving,
    factors without peak, floor added on top, floor taken as a learning rate.
    """
    from lmcourse.train import cosine_schedule

    ex = "09.1 (lr_at)"
    cases = [(100, 10, 3e-3, 0.1), (2000, 200, 6e-4, 0.1), (60, 1, 0.05, 0.0)]

    def curve(fn: Callable[..., Any], steps: int, warmup: int, peak: float, floor: float) -> list[Any]:
        return [fn(s, steps, warmup, peak, floor) for s in _lr_steps(steps, warmup)]

    mistakes = {how: (lambda h: lambda *case: curve(lambda *a: _lr(*a, how=h), *case))(how) for how in _LR_MISTAKES}
    same = _close(rtol=1e-5, atol=0.0)
    for steps, warmup, peak, floor in cases:
        factor = cosine_schedule(steps, warmup, floor)
        for step in _lr_steps(steps, warmup):
            what = f"lr_at(step={step}, steps={steps}, warmup={warmup}, peak={peak}, floor={floor})"
            expected = peak * factor(step)
            got = call(ex, lr_at, step, steps, warmup, peak, floor,
                       hint=f"step, steps and warmup are ints, peak and floor floats; {_LR_RULE}")
            value = number(ex, f"{what}: the result", got, expected, "return one number, the learning rate (a "
                                                                      "float).")
            if math.isclose(value, expected, rel_tol=1e-5, abs_tol=0.0):
                continue

            def theirs(*case: Any) -> list[float | None]:
                return [_real(v) for v in curve(lr_at, *case)]

            others = [c for c in cases if c != (steps, warmup, peak, floor)]
            with _quiet_numerics():
                mistake = _match_mistake(theirs(steps, warmup, peak, floor), (steps, warmup, peak, floor), theirs,
                                         others, mistakes, same, confirm=True)
            fail(ex, what, expected, got, _LR_HINTS.get(mistake or "", _LR_RULE))
    passed(ex, "a linear warm-up to peak, then a cosine decay to floor * peak, as lmcourse.train.cosine_schedule")


# --- 09.2 momentum -----------------------------------------------------------------------------------------------

def _momentum(param: Any, grad: Any, velocity: Any, lr: float, mu: float, how: str = "right") -> tuple[Any, Any]:
    """One step of SGD with momentum, torch's way (v = mu v + g; p = p - lr v), or a typical mistake; float64."""
    p, g, v = _f64(param), _f64(grad), _f64(velocity)
    if how == "plain":
        return p - lr * g, v
    if how == "old_velocity":
        return p - lr * v, mu * v + g
    new_v = {"mu_on_grad": v + mu * g, "dampening": mu * v + (1 - mu) * g, "lr_scaled": mu * v + lr * g}.get(
        how, mu * v + g)
    if how == "lr_scaled":
        return p - new_v, new_v
    if how == "sign":
        return p + lr * new_v, new_v
    if how == "nesterov":
        return p - lr * (g + mu * new_v), new_v
    return p - lr * new_v, new_v


_MOMENTUM_MISTAKES = {how: (lambda h: lambda *a: _momentum(*a, how=h))(how)
                      for how in ("sign", "plain", "mu_on_grad", "dampening", "nesterov", "lr_scaled",
                                  "old_velocity")}

_MOMENTUM_HINTS = {
    "sign": "the step goes uphill: subtract, new_param = param - lr * new_velocity (the velocity points where the "
            "loss rises, like the gradient).",
    "plain": "that is plain SGD: the velocity is never used. First update it, new_velocity = mu * velocity + grad "
             "(a running sum of past gradients), then step along it: new_param = param - lr * new_velocity.",
    "mu_on_grad": "mu weighs the PAST velocity, not the new gradient: new_velocity = mu * velocity + grad (yours "
                  "adds mu * grad, so the past never fades).",
    "dampening": "that is momentum with dampening (1 - mu) * grad, an exponential average; torch's SGD (dampening=0) "
                 "adds the whole gradient: new_velocity = mu * velocity + grad.",
    "nesterov": "that is Nesterov's momentum (a look-ahead: grad + mu * new_velocity); this exercise asks for the "
                "classical one: new_param = param - lr * new_velocity.",
    "lr_scaled": "your velocity has lr folded in (v = mu * v + lr * grad, p = p - v), which gives the same steps "
                 "while lr stays constant, but not with a schedule, and the velocity you keep is lr times torch's. "
                 "Use torch's convention: new_velocity = mu * velocity + grad; new_param = param - lr * new_velocity.",
    "old_velocity": "you step with the old velocity and update it afterwards: update it first, new_velocity = mu * "
                    "velocity + grad, then new_param = param - lr * new_velocity (this step's gradient counts now).",
}

_MOMENTUM_RULE = "new_velocity = mu * velocity + grad; new_param = param - lr * new_velocity (torch.optim.SGD's way)."


def _sgd_states(shape: tuple[int, ...], dtype: Any, lr: float, mu: float, seed: int) -> list[tuple[Any, ...]]:
    """Five steps of torch.optim.SGD(momentum=mu) on a quadratic loss: (param, grad, velocity, new_param,
    new_velocity) before and after each step."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    target = torch.randn(shape, generator=gen, dtype=dtype)
    weight = torch.rand(shape, generator=gen, dtype=dtype) + 0.5
    p = torch.nn.Parameter(torch.randn(shape, generator=gen, dtype=dtype))
    opt = torch.optim.SGD([p], lr=lr, momentum=mu)
    states = []
    for _ in range(5):
        opt.zero_grad()
        (0.5 * (weight * (p - target) ** 2).sum()).backward()
        assert p.grad is not None
        buf = opt.state[p].get("momentum_buffer")
        velocity = torch.zeros_like(p) if buf is None else buf.clone()
        before, grad = p.detach().clone(), p.grad.clone()
        opt.step()
        states.append((before, grad, velocity, p.detach().clone(), opt.state[p]["momentum_buffer"].clone()))
    return states


def _pair(value: Any, shape: tuple[int, ...]) -> tuple[Any, Any] | None:
    """``value`` as two float64 arrays of ``shape`` if it is a pair (tuple or list) of arrays or tensors."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return None
    a, b = _floats(value[0]), _floats(value[1])
    return (a, b) if a is not None and b is not None and a.shape == b.shape == shape else None


@checker
def ch09_momentum(momentum_step: Callable[[Any, Any, Any, float, float], Any]) -> None:
    """Exercise 09.2: ``momentum_step(param, grad, velocity, lr, mu)`` = ``(new_param, new_velocity)`` of SGD with
    momentum as torch.optim.SGD(momentum=mu) computes it: new_velocity = mu * velocity + grad, new_param = param -
    lr * new_velocity.

    The inputs are the states of five real steps of torch.optim.SGD(lr, momentum=mu) on a quadratic loss: a (4, 3)
    float32 parameter (lr=0.1, mu=0.9) and a (6,) float64 one (lr=0.05, mu=0.8), the velocity zero at the first
    step. The answer is a pair of arrays or tensors of the parameter's shape (rtol 1e-5, atol 1e-6); the inputs must
    be left as they were. The hint names the mistake: the sign, plain SGD, mu on the gradient, dampening, Nesterov,
    lr folded into the velocity, the old velocity used, the inputs changed in place.
    """
    import numpy as np
    import torch

    ex = "09.2 (momentum_step)"
    cases = [((4, 3), torch.float32, 0.1, 0.9, 91), ((6,), torch.float64, 0.05, 0.8, 92)]
    calls = [(f"step {k + 1} of {str(dtype).removeprefix('torch.')} {shape}", (p, g, v, lr, mu), (np_, nv))
             for shape, dtype, lr, mu, seed in cases
             for k, (p, g, v, np_, nv) in enumerate(_sgd_states(shape, dtype, lr, mu, seed))]
    close = _close(rtol=1e-5, atol=1e-6)

    def same(got: Any, theirs: tuple[Any, Any]) -> bool:  # the new parameter tells the mistakes apart
        return isinstance(got, (tuple, list)) and len(got) == 2 and close(got[0], theirs[0])

    for i, (what, args, (exp_p, exp_v)) in enumerate(calls):
        given = tuple(_copy(a) for a in args[:3]) + args[3:]
        with _quiet_numerics():
            got = call(ex, momentum_step, *given, hint=f"param, grad and velocity are torch tensors; {_MOMENTUM_RULE}")
        changed = [name for name, a, b in zip(("param", "grad", "velocity"), given, args) if not _unchanged(a, b)]
        if changed:
            fail(ex, f"{what}: momentum_step changed {', '.join(changed)}", Description("the inputs as given"),
                 Description(f"changed {', '.join(changed)}"),
                 _changed_hint(changed, "new_velocity = mu * velocity + grad, then new_param = param - lr * "
                                        "new_velocity", _WRITES))
        shape = tuple(args[0].shape)
        pair = _pair(got, shape)
        expected = (_f64(exp_p), _f64(exp_v))
        if pair is not None and all(np.allclose(a, e, rtol=1e-5, atol=1e-6) for a, e in zip(pair, expected)):
            continue
        others = [c[1] for j, c in enumerate(calls) if j != i and j % 5 != 0]  # the first step can't tell most apart
        f64 = tuple(_f64(a) for a in args[:3]) + args[3:]
        mistake = _match_mistake(got, f64, momentum_step, others, _MOMENTUM_MISTAKES, same, confirm=True)
        hint = _MOMENTUM_HINTS.get(mistake or "", _MOMENTUM_RULE)
        lr, mu = args[3], args[4]
        if pair is None:
            fail(ex, f"{what} (lr={lr}, mu={mu}) should return (new_param, new_velocity)",
                 Description(f"a pair of tensors of shape {shape}"), Description(_kind(got)), hint)
        name = "new_param" if not np.allclose(pair[0], expected[0], rtol=1e-5, atol=1e-6) else "new_velocity"
        k = 0 if name == "new_param" else 1
        fail(ex, f"{what} (lr={lr}, mu={mu}): {name} (its first values)", np.round(expected[k].ravel()[:4], 6).tolist(),
             np.round(pair[k].ravel()[:4], 6).tolist(), hint)
    passed(ex, "new_velocity = mu * velocity + grad, new_param = param - lr * new_velocity: torch.optim.SGD's "
               "momentum, step for step")


# --- 09.3 AdamW ---------------------------------------------------------------------------------------------------

def _adamw(param: Any, grad: Any, m: Any, v: Any, t: int, lr: float, betas: tuple[float, float], eps: float,
           weight_decay: float, how: str = "right") -> tuple[Any, Any, Any]:
    """One AdamW step (or a typical mistake) in float64: (new_param, new_m, new_v)."""
    import numpy as np

    p, g, m, v = _f64(param), _f64(grad), _f64(m), _f64(v)
    b1, b2 = betas
    if how == "coupled":
        g = g + weight_decay * p
    elif how != "wd_after":
        p = p * (1 - (weight_decay if how == "wd_no_lr" else lr * weight_decay))
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * (np.abs(g) if how == "abs" else g * g)
    tt = t - 1 if how == "t0" else t
    m_hat, v_hat = (m, v) if how == "no_bias" else (m / (1 - b1 ** tt), v / (1 - b2 ** tt))
    if how == "eps_inside":
        step = m_hat / np.sqrt(v_hat + eps)
    elif how == "no_sqrt":
        step = m_hat / (v_hat + eps)
    else:
        step = m_hat / (np.sqrt(v_hat) + eps)
    p = p - lr * step
    if how == "wd_after":  # the updated parameter decayed, not the one the step started from
        p = p * (1 - lr * weight_decay)
    return (p, m_hat, v_hat) if how == "hats" else (p, m, v)


_ADAMW_MISTAKES = {how: (lambda h: lambda *a: _adamw(*a, how=h))(how)
                   for how in ("no_bias", "t0", "coupled", "wd_no_lr", "eps_inside", "abs", "no_sqrt", "hats",
                               "wd_after")}

_ADAMW_HINTS = {
    "no_bias": "no bias correction: m and v start at 0, so early on they are too small; divide by (1 - beta1**t) "
               "and (1 - beta2**t) before the step: m_hat = new_m / (1 - beta1**t), v_hat = new_v / (1 - beta2**t).",
    "t0": "t counts from 1 here (the first step is t = 1); your bias correction uses t - 1 (at t = 1 that divides "
          "by 1 - beta**0 = 0). Use beta1**t and beta2**t.",
    "coupled": "that is Adam with L2 regularisation: weight_decay * param added to the gradient goes through m and "
               "v and gets rescaled. AdamW decouples it: shrink the parameter itself first, param * (1 - lr * "
               "weight_decay), and leave the gradient alone.",
    "wd_no_lr": "the decay is multiplied by the learning rate too: param * (1 - lr * weight_decay), not (1 - "
                "weight_decay) (which would shrink every weight by a whole weight_decay per step).",
    "eps_inside": "eps goes outside the square root: m_hat / (sqrt(v_hat) + eps) (inside, it changes the step "
                  "wherever v_hat is small).",
    "abs": "v is the running mean of the gradient's SQUARE: new_v = beta2 * v + (1 - beta2) * grad**2, not of |grad|.",
    "hats": "return the running means m and v, not the bias-corrected m_hat and v_hat: the next step needs the "
            "uncorrected ones (it updates them with beta1 and beta2 and corrects them afresh with beta1**t and "
            "beta2**t); your new_param is right.",
    "wd_after": "the weight decay is applied after the Adam step here, to the updated parameter: (param - lr * "
                "step) * (1 - lr * weight_decay). Decay the parameter the step starts from, first: param = param * "
                "(1 - lr * weight_decay), then param = param - lr * m_hat / (sqrt(v_hat) + eps), as "
                "torch.optim.AdamW does (the two differ by lr**2 * weight_decay * step).",
    "no_sqrt": "divide by the square root of v_hat: m_hat / (sqrt(v_hat) + eps), so that the step is about lr "
               "whatever the gradient's scale (v_hat is a squared scale).",
}

_ADAMW_RULE = ("param = param * (1 - lr * weight_decay); m = beta1 m + (1 - beta1) grad; v = beta2 v + (1 - beta2) "
               "grad^2; m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t); param = param - lr m_hat / "
               "(sqrt(v_hat) + eps); return (param, m, v).")


def _adamw_states(shape: tuple[int, ...], dtype: Any, lr: float, betas: tuple[float, float], eps: float, wd: float,
                  seed: int) -> list[tuple[Any, ...]]:
    """Five steps of torch.optim.AdamW on a quadratic loss: the inputs of each and torch's result."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    target = torch.randn(shape, generator=gen, dtype=dtype)
    scale = torch.rand(shape, generator=gen, dtype=dtype) * 3 + 0.01  # gradients of very different sizes
    p = torch.nn.Parameter(torch.randn(shape, generator=gen, dtype=dtype))
    opt = torch.optim.AdamW([p], lr=lr, betas=betas, eps=eps, weight_decay=wd, foreach=False)
    states = []
    for t in range(1, 6):
        opt.zero_grad()
        (0.5 * (scale * (p - target) ** 2).sum()).backward()
        assert p.grad is not None
        s = opt.state[p]
        m = s["exp_avg"].clone() if s else torch.zeros_like(p)
        v = s["exp_avg_sq"].clone() if s else torch.zeros_like(p)
        before, grad = p.detach().clone(), p.grad.clone()
        opt.step()
        states.append(((before, grad, m.detach(), v.detach(), t, lr, betas, eps, wd),
                       (p.detach().clone(), s["exp_avg"].clone(), s["exp_avg_sq"].clone())))
    return states


@checker
def ch09_adamw(adamw_step: Callable[..., Any]) -> None:
    """Exercise 09.3: ``adamw_step(param, grad, m, v, t, lr, betas, eps, weight_decay)`` = ``(new_param, new_m,
    new_v)``, one step of AdamW at step t (1, 2, ...), as torch.optim.AdamW and lmcourse.train.AdamW compute it.

    The inputs are the states of five real steps of torch.optim.AdamW on a quadratic loss with gradients of very
    different sizes: a (5, 4) float32 parameter (lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1) and a
    (7,) float64 one (lr=0.003, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.5). The answer is three arrays or
    tensors of the parameter's shape (rtol 1e-5, atol 1e-7); the inputs must be left as they were. The hint names
    the mistake: no bias correction, t counted from 0, Adam's coupled L2 (weight decay through the gradient), the
    decay not multiplied by lr, eps inside the square root, |grad| instead of grad^2, no square root, m_hat and v_hat
    returned instead of m and v, the decay applied after the Adam step.
    """
    import numpy as np
    import torch

    ex = "09.3 (adamw_step)"
    cases = [((5, 4), torch.float32, 0.01, (0.9, 0.999), 1e-8, 0.1, 93),
             ((7,), torch.float64, 0.003, (0.8, 0.95), 1e-6, 0.5, 94)]
    calls = [(f"step t={args[4]} of a {str(case[1]).removeprefix('torch.')} {case[0]} parameter", args, result)
             for case in cases for args, result in _adamw_states(*case)]
    close = _close(rtol=1e-5, atol=1e-7)

    def same(got: Any, theirs: tuple[Any, Any, Any]) -> bool:  # all three: m_hat returned for m shows in m only
        return isinstance(got, (tuple, list)) and len(got) == 3 and all(map(close, got, theirs))

    names = ("new_param", "new_m", "new_v")
    for i, (what, args, result) in enumerate(calls):
        given = tuple(_copy(a) for a in args[:4]) + args[4:]
        with _quiet_numerics():
            got = call(ex, adamw_step, *given, hint=f"param, grad, m and v are torch tensors, t an int from 1, betas a "
                                                    f"pair; {_ADAMW_RULE}")
        changed = [n for n, a, b in zip(("param", "grad", "m", "v"), given, args) if not _unchanged(a, b)]
        if changed:
            fail(ex, f"{what}: adamw_step changed {', '.join(changed)}", Description("the inputs as given"),
                 Description(f"changed {', '.join(changed)}"),
                 _changed_hint(changed, "new_m = beta1 * m + (1 - beta1) * grad, and new_param = param * (1 - lr * "
                                        "weight_decay) before the Adam step", _WRITES))
        shape = tuple(args[0].shape)
        expected = _adamw(*args)
        torch_result = tuple(_f64(r) for r in result)
        assert all(np.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in zip(expected, torch_result))  # the same
        values = [_floats(g) for g in got] if isinstance(got, (tuple, list)) and len(got) == 3 else None
        if values is not None and all(v is not None and v.shape == shape and np.allclose(v, e, rtol=1e-5, atol=1e-7)
                                      for v, e in zip(values, expected)):
            continue
        others = [c[1] for j, c in enumerate(calls) if j != i]
        f64 = tuple(_f64(a) for a in args[:4]) + args[4:]
        mistake = _match_mistake(got, f64, adamw_step, others, _ADAMW_MISTAKES, same, confirm=True)
        hint = _ADAMW_HINTS.get(mistake or "", _ADAMW_RULE)
        lr, betas, eps, wd = args[5:]
        setting = f"(lr={lr}, betas={betas}, eps={eps}, weight_decay={wd})"
        if values is None or any(v is None or v.shape != shape for v in values):
            fail(ex, f"{what} {setting} should return (new_param, new_m, new_v)",
                 Description(f"three tensors of shape {shape}"), Description(_kind(got)), hint)
        k = next(k for k in range(3) if not np.allclose(values[k], expected[k], rtol=1e-5, atol=1e-7))
        fail(ex, f"{what} {setting}: {names[k]} (its first values)", np.round(expected[k].ravel()[:4], 7).tolist(),
             np.round(values[k].ravel()[:4], 7).tolist(), hint)
    passed(ex, "decoupled weight decay, both running means, bias correction, lr m_hat / (sqrt(v_hat) + eps): "
               "torch.optim.AdamW's step, five times over")


# --- 09.4 clipping the gradient's norm ----------------------------------------------------------------------------

def _clip(grads: list[Any], max_norm: float, how: str = "right") -> tuple[Any, ...]:
    """The gradients clipped to a total norm of ``max_norm`` (or a typical mistake), float64."""
    import numpy as np

    gs = [_f64(g) for g in grads]
    if how == "clamp":
        return tuple(np.clip(g, -max_norm, max_norm) for g in gs)
    if how == "per_tensor":
        return tuple(g * min(1.0, max_norm / (np.sqrt((g * g).sum()) + 1e-6)) for g in gs)
    squares = sum(float((g * g).sum()) for g in gs)
    norm = {"no_sqrt": squares, "max_abs": max(float(np.abs(g).max()) for g in gs)}.get(how, math.sqrt(squares))
    scale = max_norm / (norm + 1e-6)
    if how != "scale_up":
        scale = min(1.0, scale)
    return tuple(g * scale for g in gs)


_CLIP_MISTAKES = {how: (lambda h: lambda grads, max_norm: _clip(grads, max_norm, how=h))(how)
                  for how in ("per_tensor", "scale_up", "no_sqrt", "max_abs", "clamp")}

_CLIP_HINTS = {
    "per_tensor": "each tensor is clipped by its own norm: the norm is ONE number for all the gradients together, "
                  "sqrt of the sum of the squares of every element of every tensor, and every tensor is scaled by "
                  "the same factor (the direction of the whole gradient stays the same).",
    "scale_up": "a gradient already below max_norm is scaled UP to it: clip only when the norm is larger, i.e. "
                "scale by min(1, max_norm / (norm + 1e-6)).",
    "no_sqrt": "the norm is the square root of the sum of squares: sqrt(sum of g**2); yours is the sum of squares.",
    "max_abs": "the norm is sqrt(sum of the squares of all elements), not the largest element (the max-norm).",
    "clamp": "that clamps each element to [-max_norm, max_norm], which changes the gradient's direction. Scale all "
             "the gradients by one factor, max_norm / total norm, when the total norm is above max_norm.",
}

_CLIP_RULE = ("norm = sqrt(sum over every tensor of (g ** 2).sum()); scale = min(1, max_norm / (norm + 1e-6)); "
              "return [g * scale for g in grads] (new tensors), as torch.nn.utils.clip_grad_norm_ does in place.")


def _clip_cases() -> list[tuple[str, tuple[list[Any], float]]]:
    """A model's gradients: (4, 3), (3,) and (2, 2, 2) float32 of total norm about 4, max_norm 1.0; the same
    below the limit (max_norm 10); float64 (5, 2) and (2,) with one small tensor, max_norm 0.5."""
    import torch

    gen = torch.Generator().manual_seed(95)
    big = [torch.randn(s, generator=gen) * k for s, k in (((4, 3), 1.0), ((3,), 0.3), ((2, 2, 2), 0.7))]
    mixed = [torch.randn((5, 2), generator=gen, dtype=torch.float64), 0.01 * torch.randn(2, generator=gen,
                                                                                         dtype=torch.float64)]
    return [("clip_global(gradients of shapes (4, 3), (3,), (2, 2, 2): float32, max_norm=1.0)", (big, 1.0)),
            ("clip_global(the same gradients, max_norm=10.0: below the limit)", ([g.clone() for g in big], 10.0)),
            ("clip_global(gradients of shapes (5, 2), (2,): float64, max_norm=0.5)", (mixed, 0.5))]


@checker
def ch09_clip(clip_global: Callable[[list[Any], float], Any]) -> None:
    """Exercise 09.4: ``clip_global(grads, max_norm)`` = the gradients scaled by ``min(1, max_norm / (norm + 1e-6))``,
    ``norm`` their total norm over all tensors, as new tensors (``torch.nn.utils.clip_grad_norm_`` does the same in
    place). Without the 1e-6 is fine too.

    Three calls: three float32 tensors of total norm about 4 with max_norm 1.0; the same with max_norm 10 (nothing to
    clip: the same values back); two float64 tensors, one tiny, max_norm 0.5. The answer is a list (or tuple) of
    arrays or tensors of the gradients' shapes (rtol 1e-5, atol 1e-7), the inputs left as they were. The hint names
    the mistake: each tensor clipped by its own norm, a gradient below the limit scaled up, the sum of squares or the
    largest element as the norm, elements clamped, the gradients changed in place.
    """
    import numpy as np
    import torch

    ex = "09.4 (clip_global)"
    cases = _clip_cases()
    same = _close(rtol=1e-5, atol=1e-7)
    for i, (what, (grads, max_norm)) in enumerate(cases):
        given = [g.clone() for g in grads]
        with _quiet_numerics():
            got = call(ex, clip_global, given, max_norm, hint=f"grads is a list of torch tensors; {_CLIP_RULE}")
        changed = [k for k, (a, b) in enumerate(zip(given, grads)) if not _unchanged(a, b)]
        if changed or len(given) != len(grads):
            fail(ex, f"{what} changed the gradients it was given", Description("grads as given"),
                 Description(f"changed grads[{changed[0] if changed else '...'}]"),
                 "return new tensors, g * scale, rather than g.mul_(scale) or g *= scale: the caller's gradients stay "
                 "as they were (torch's clip_grad_norm_ is the in-place version).")
        clones = [g.clone().requires_grad_(False) for g in grads]
        params = [torch.nn.Parameter(torch.zeros_like(g)) for g in clones]
        for p, g in zip(params, clones):
            p.grad = g
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        expected = [_f64(p.grad) for p in params]
        shapes = [tuple(g.shape) for g in grads]
        values = [_floats(g) for g in got] if isinstance(got, (list, tuple)) else None
        if values is not None and len(values) == len(expected) and all(
                v is not None and v.shape == e.shape and np.allclose(v, e, rtol=1e-5, atol=1e-7)
                for v, e in zip(values, expected)):
            continue
        others = [(list(g.clone() for g in c[1][0]), c[1][1]) for j, c in enumerate(cases) if j != i]
        mistake = _match_mistake(tuple(got) if isinstance(got, list) else got, (grads, max_norm), clip_global, others,
                                 _CLIP_MISTAKES, same, confirm=True)
        hint = _CLIP_HINTS.get(mistake or "", _CLIP_RULE)
        if values is None or len(values) != len(expected) or any(
                v is None or v.shape != e.shape for v, e in zip(values, expected)):
            fail(ex, f"{what} should return a list of tensors of the gradients' shapes",
                 Description(f"a list of {len(shapes)} tensors of shapes {shapes}"), Description(_kind(got)), hint)
        k = next(k for k in range(len(expected)) if not np.allclose(values[k], expected[k], rtol=1e-5, atol=1e-7))
        total = math.sqrt(sum(float((_f64(g) ** 2).sum()) for g in grads))
        fail(ex, f"{what} (total norm {total:.4g}): tensor {k} (its first values)",
             np.round(expected[k].ravel()[:4], 6).tolist(), np.round(values[k].ravel()[:4], 6).tolist(), hint)
    passed(ex, "one total norm over all the gradients, scaled by min(1, max_norm / norm): torch's clip_grad_norm_")
