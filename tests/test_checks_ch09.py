"""The checkers of chapter 09 (training strategies) accept every right answer and name each typical mistake."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from checker_cases import expect, stub

from lmcourse import checks
from lmcourse.train import cosine_schedule


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


@pytest.mark.parametrize("name", ["ch09_schedule", "ch09_momentum", "ch09_adamw", "ch09_clip"])
def test_a_stub_is_reported_as_still_open(name: str) -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 09.\d \(\w+\): stub is still the stub"):
        getattr(checks, name)(stub)


def test_the_checkers_leave_the_random_state_alone() -> None:
    torch.manual_seed(3)
    before = torch.get_rng_state()
    checks.ch09_momentum(lambda p, g, v, lr, mu: (p - lr * (mu * v + g), mu * v + g))
    assert torch.equal(before, torch.get_rng_state())


# --- 09.1 the schedule -------------------------------------------------------------------------------------------


def lr_plain(step: int, steps: int, warmup: int, peak: float, floor: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    p = (step - warmup) / (steps - warmup)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


@pytest.mark.parametrize("right", [
    lr_plain,
    lambda s, n, w, peak, floor: peak * cosine_schedule(n, w, floor)(s),
    lambda s, n, w, peak, floor: np.float32(lr_plain(s, n, w, peak, floor)),
    lambda s, n, w, peak, floor: torch.tensor(lr_plain(s, n, w, peak, floor), dtype=torch.float32),
    lambda s, n, w, peak, floor: torch.tensor([lr_plain(s, n, w, peak, floor)], dtype=torch.float64),
    lambda s, n, w, peak, floor: np.float64(peak) * (np.float64(floor) + (1 - floor) * (1 + np.cos(np.pi * (
        s - w) / (n - w))) / 2) if s >= w else peak * (s + 1) / w,
])
def test_schedule_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch09_schedule(right)
    assert out_of(capsys).startswith("✓ exercise 09.1 (lr_at) passed: a linear warm-up to peak")


def lr_wrong(how: str) -> Any:
    def lr_at(step: int, steps: int, warmup: int, peak: float, floor: float) -> float:
        if step < warmup:
            return (1 if how == "no_peak" else peak) * (step / warmup if how == "zero" else (step + 1) / warmup)
        span = {"over_steps": steps, "from_zero": steps, "at_last": steps - 1 - warmup}.get(how, steps - warmup)
        p = min(1.0, (step if how == "from_zero" else step - warmup) / span)
        wave = {"cos": math.cos(math.pi * p), "nohalf": 1 + math.cos(math.pi * p)}.get(how, (1 + math.cos(math.pi * p))
                                                                                      / 2)
        if how == "to_zero":
            return peak * wave
        if how == "added":
            return peak * floor + peak * wave
        if how == "absolute":
            return floor + (peak - floor) * wave
        factor = floor + (1 - floor) * wave
        return factor if how == "no_peak" else peak * factor

    return lr_at


@pytest.mark.parametrize("wrong,why", [
    (lr_wrong("zero"), r"lr_at\(step=0, steps=100, warmup=10(.|\n)*the warm-up starts at 0"),
    (lr_wrong("to_zero"), r"decays to 0, not to floor \* peak"),
    (lr_wrong("over_steps"), r"measured over all the steps"),
    (lr_wrong("from_zero"), r"your p counts from step 0 over all the steps \(p = step / steps\)"),
    (lr_wrong("at_last"), r"your decay reaches the floor at the last step, steps - 1 \(p = \(step - warmup\) / "
                          r"\(steps - 1 - warmup\)\)"),
    (lr_wrong("cos"), r"cos\(pi \* p\) alone goes from 1 to -1"),
    (lr_wrong("nohalf"), r"goes from 2 to 0: halve it"),
    (lr_wrong("no_peak"), r"these are the factors, from 0 to 1: multiply them by peak"),
    (lr_wrong("added"), r"adding floor on top lifts the whole curve"),
    (lr_wrong("absolute"), r"floor is a fraction of peak"),
    (lambda s, n, w, peak, floor: lr_plain(s, n, w, peak, floor) * 1.01, r"for step < warmup: peak \* \(step \+ 1\)"),
    (lambda s, n, w, peak, floor: str(lr_plain(s, n, w, peak, floor)), r"the result should be one number"),
    (lambda s, n, w, peak, floor: [lr_plain(s, n, w, peak, floor)] * 2, r"the result should be one number"),
    (lr_plain, None),
])
def test_schedule_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch09_schedule, wrong, why)


# --- 09.2 momentum -----------------------------------------------------------------------------------------------


def momentum_torch(p: torch.Tensor, g: torch.Tensor, v: torch.Tensor, lr: float, mu: float) -> tuple[Any, Any]:
    new_v = mu * v + g
    return p - lr * new_v, new_v


def momentum_by_sgd(p: torch.Tensor, g: torch.Tensor, v: torch.Tensor, lr: float, mu: float) -> tuple[Any, Any]:
    """With torch.optim.SGD itself, its buffer seeded with the velocity."""
    param = torch.nn.Parameter(p.clone())
    param.grad = g.clone()
    opt = torch.optim.SGD([param], lr=lr, momentum=mu)
    opt.state[param]["momentum_buffer"] = v.clone()
    opt.step()
    return param.detach(), opt.state[param]["momentum_buffer"]


@pytest.mark.parametrize("right", [
    momentum_torch, momentum_by_sgd,
    lambda p, g, v, lr, mu: tuple(x.numpy() for x in momentum_torch(p.double(), g.double(), v.double(), lr, mu)),
    lambda p, g, v, lr, mu: [x.float() for x in momentum_torch(p, g, v, lr, mu)],
])
def test_momentum_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch09_momentum(right)
    assert out_of(capsys).startswith("✓ exercise 09.2 (momentum_step) passed")


def momentum_wrong(how: str) -> Any:
    def step(p: torch.Tensor, g: torch.Tensor, v: torch.Tensor, lr: float, mu: float) -> tuple[Any, Any]:
        if how == "plain":
            return p - lr * g, v
        if how == "in_place":
            v.mul_(mu).add_(g)
            return p - lr * v, v
        if how == "old":
            return p - lr * v, mu * v + g
        new_v = {"mu_grad": v + mu * g, "damp": mu * v + (1 - mu) * g, "lr": mu * v + lr * g}.get(how, mu * v + g)
        if how == "lr":
            return p - new_v, new_v
        if how == "sign":
            return p + lr * new_v, new_v
        if how == "nesterov":
            return p - lr * (g + mu * new_v), new_v
        if how == "velocity_only":
            return p - lr * new_v, v
        return p - lr * new_v, new_v

    return step


@pytest.mark.parametrize("wrong,why", [
    (momentum_wrong("sign"), r"step 1 of float32 \(4, 3\) \(lr=0\.1, mu=0\.9\): new_param(.|\n)*the step goes uphill"),
    (momentum_wrong("plain"), r"that is plain SGD"),
    (momentum_wrong("mu_grad"), r"mu weighs the PAST velocity"),
    (momentum_wrong("damp"), r"momentum with dampening"),
    (momentum_wrong("nesterov"), r"that is Nesterov's momentum"),
    (momentum_wrong("lr"), r"your velocity has lr folded in"),
    (momentum_wrong("old"), r"you step with the old velocity"),
    (momentum_wrong("in_place"), r"momentum_step changed velocity(.|\n)*don't modify them \(velocity changed\): "
                                 r"make new ones, e\.g\. new_velocity = mu \* velocity \+ grad"),
    (momentum_wrong("velocity_only"), r"step 1 of float32 \(4, 3\) \(lr=0\.1, mu=0\.9\): new_velocity"),
    (lambda p, g, v, lr, mu: momentum_torch(p, g, v, lr, mu)[0], r"should return \(new_param, new_velocity\)"),
    (momentum_torch, None),
])
def test_momentum_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch09_momentum, wrong, why)


# --- 09.3 AdamW --------------------------------------------------------------------------------------------------


def adamw_torch(p: Any, g: Any, m: Any, v: Any, t: int, lr: float, betas: Any, eps: float, wd: float) -> Any:
    b1, b2 = betas
    p = p * (1 - lr * wd)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    return p - lr * m_hat / (v_hat.sqrt() + eps), m, v


def adamw_package(p: Any, g: Any, m: Any, v: Any, t: int, lr: float, betas: Any, eps: float, wd: float) -> Any:
    """With lmcourse.train.AdamW itself, its state seeded."""
    from lmcourse.train import AdamW

    param = torch.nn.Parameter(p.clone())
    param.grad = g.clone()
    opt = AdamW([param], lr=lr, betas=betas, eps=eps, weight_decay=wd)
    opt.state[param].update(step=t - 1, exp_avg=m.clone(), exp_avg_sq=v.clone())
    opt.step()
    return param.detach(), opt.state[param]["exp_avg"], opt.state[param]["exp_avg_sq"]


@pytest.mark.parametrize("right", [
    adamw_torch, adamw_package,
    lambda p, g, m, v, t, lr, betas, eps, wd: tuple(
        x.numpy() for x in adamw_torch(p.double(), g.double(), m.double(), v.double(), t, lr, betas, eps, wd)),
    lambda p, g, m, v, t, lr, betas, eps, wd: list(adamw_torch(p.float(), g.float(), m.float(), v.float(), t, lr,
                                                                betas, eps, wd)),
])
def test_adamw_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch09_adamw(right)
    assert out_of(capsys).startswith("✓ exercise 09.3 (adamw_step) passed")


def adamw_wrong(how: str) -> Any:
    def step(p: Any, g: Any, m: Any, v: Any, t: int, lr: float, betas: Any, eps: float, wd: float) -> Any:
        b1, b2 = betas
        if how == "coupled":
            g = g + wd * p
        elif how == "wd_after":
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
            return (p - lr * m_hat / (v_hat.sqrt() + eps)) * (1 - lr * wd), m, v
        else:
            p = p * (1 - (wd if how == "wd_no_lr" else lr * wd))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * (g.abs() if how == "abs" else g * g)
        tt = t - 1 if how == "t0" else t
        m_hat, v_hat = (m, v) if how == "no_bias" else (m / (1 - b1 ** tt), v / (1 - b2 ** tt))
        if how == "eps_inside":
            return p - lr * m_hat / (v_hat + eps).sqrt(), m, v
        if how == "no_sqrt":
            return p - lr * m_hat / (v_hat + eps), m, v
        if how == "hats":
            return p - lr * m_hat / (v_hat.sqrt() + eps), m_hat, v_hat
        return p - lr * m_hat / (v_hat.sqrt() + eps), m, v

    return step


@pytest.mark.parametrize("wrong,why", [
    (adamw_wrong("no_bias"), r"step t=1 of a float32 \(5, 4\) parameter \(lr=0\.01, .*\): new_param(.|\n)*no bias "
                             r"correction"),
    (adamw_wrong("t0"), r"t counts from 1 here"),
    (adamw_wrong("coupled"), r"that is Adam with L2 regularisation"),
    (adamw_wrong("wd_no_lr"), r"the decay is multiplied by the learning rate too"),
    (adamw_wrong("eps_inside"), r"eps goes outside the square root"),
    (adamw_wrong("abs"), r"running mean of the gradient's SQUARE"),
    (adamw_wrong("no_sqrt"), r"divide by the square root of v_hat"),
    (adamw_wrong("hats"), r"new_m \(its first values\)(.|\n)*return the running means m and v, not the bias-corrected "
                          r"m_hat and v_hat: the next step needs the uncorrected ones"),
    (adamw_wrong("wd_after"), r"new_param(.|\n)*the weight decay is applied after the Adam step here"),
    (lambda p, g, m, v, t, lr, betas, eps, wd: (p.mul_(1 - lr * wd), m.mul_(betas[0]).add_((1 - betas[0]) * g), v),
     r"(?s)\A(?!.*velocity).*adamw_step changed param, m.*e\.g\. new_m = beta1 \* m \+ \(1 - beta1\) \* grad"),
    (lambda p, g, m, v, *rest: (lambda r: (r[0], r[1], v))(adamw_torch(p, g, m, v, *rest)),
     r"step t=1 .*: new_v \(its first values\)(.|\n)*param = param \* \(1 - lr \* weight_decay\)"),
    (lambda p, g, m, v, *rest: (p.sub_(1.0), m, v), r"adamw_step changed param"),
    (lambda *args: adamw_torch(*args)[:2], r"should return \(new_param, new_m, new_v\)"),
    (adamw_torch, None),
])
def test_adamw_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch09_adamw, wrong, why)


# --- 09.4 clipping -----------------------------------------------------------------------------------------------


def clip_torch(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    scale = min(1.0, max_norm / (float(norm) + 1e-6))
    return [g * scale for g in grads]


def clip_by_torch(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params]


@pytest.mark.parametrize("right", [
    clip_torch, clip_by_torch,
    lambda grads, m: [g * min(1.0, m / math.sqrt(sum(float((g ** 2).sum()) for g in grads))) for g in grads],
    lambda grads, m: tuple(g.double().numpy() * min(1.0, m / float(torch.cat([g.flatten() for g in grads]).norm()))
                           for g in grads),
])
def test_clip_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch09_clip(right)
    assert out_of(capsys).startswith("✓ exercise 09.4 (clip_global) passed")


def clip_wrong(how: str) -> Any:
    def clip(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
        if how == "clamp":
            return [g.clamp(-max_norm, max_norm) for g in grads]
        if how == "per_tensor":
            return [g * min(1.0, max_norm / float(g.norm())) for g in grads]
        if how == "in_place":
            total = float(torch.cat([g.flatten() for g in grads]).norm())
            return [g.mul_(min(1.0, max_norm / total)) for g in grads]
        squares = sum(float((g ** 2).sum()) for g in grads)
        norm = {"no_sqrt": squares, "max_abs": max(float(g.abs().max()) for g in grads)}.get(how, math.sqrt(squares))
        scale = max_norm / norm if how == "scale_up" else min(1.0, max_norm / norm)
        return [g * scale for g in grads]

    return clip


@pytest.mark.parametrize("wrong,why", [
    (clip_wrong("per_tensor"), r"total norm 4\.\d+\): tensor 0(.|\n)*each tensor is clipped by its own norm"),
    (clip_wrong("scale_up"), r"max_norm=10\.0: below the limit(.|\n)*scaled UP"),
    (clip_wrong("no_sqrt"), r"yours is the sum of squares"),
    (clip_wrong("max_abs"), r"not the largest element"),
    (clip_wrong("clamp"), r"clamps each element"),
    (clip_wrong("in_place"), r"changed the gradients it was given(.|\n)*return new tensors"),
    (lambda grads, m: torch.cat([g.flatten() for g in clip_torch(grads, m)]), r"should return a list of tensors"),
    (clip_torch, None),
])
def test_clip_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch09_clip, wrong, why)
