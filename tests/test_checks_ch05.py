"""The checkers of chapter 05 (recurrent networks, BPTT, clipping) accept every right answer and name each typical
mistake."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from lmcourse import checks
from lmcourse.checks import ch05 as ch05_checks


def stub(*args: object) -> None:
    raise NotImplementedError


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


@pytest.mark.parametrize("name", ["ch05_rnn_step", "ch05_run_rnn", "ch05_clip_grad_norm"])
def test_a_stub_is_reported_as_still_open(name: str) -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 05.\d \(\w+\): stub is still the stub"):
        getattr(checks, name)(stub)


def np_args(*args: Any) -> list[np.ndarray]:
    return [np.asarray(a.numpy() if isinstance(a, torch.Tensor) else a) for a in args]


# --- 05.1 rnn_step -----------------------------------------------------------------------------------------------


def step_numpy(x_t: Any, h: Any, W_xh: Any, W_hh: Any, b: Any) -> np.ndarray:
    x_t, h, W_xh, W_hh, b = np_args(x_t, h, W_xh, W_hh, b)
    return np.tanh(x_t @ W_xh + h @ W_hh + b)


def step_as_written(x_t: Any, h: Any, W_xh: Any, W_hh: Any, b: Any) -> Any:
    """The formula as written, with numpy's tanh, on whatever it is given (numpy arrays or torch tensors)."""
    return np.tanh(x_t @ W_xh + h @ W_hh + b)


def step_torch(dtype: torch.dtype) -> Any:
    def step(x_t: Any, h: Any, W_xh: Any, W_hh: Any, b: Any) -> torch.Tensor:
        x_t, h, W_xh, W_hh, b = (torch.as_tensor(a).to(dtype) for a in (x_t, h, W_xh, W_hh, b))
        return torch.tanh(x_t @ W_xh + h @ W_hh + b)

    return step


def step_linear(x_t: Any, h: Any, W_xh: Any, W_hh: Any, b: Any) -> torch.Tensor:
    """torch's layout, used correctly: F.linear(x, W.T) is x @ W."""
    x_t, h, W_xh, W_hh, b = (torch.as_tensor(a) for a in (x_t, h, W_xh, W_hh, b))
    return torch.tanh(torch.nn.functional.linear(x_t, W_xh.T, b) + torch.nn.functional.linear(h, W_hh.T))


def step_python(x_t: Any, h: Any, W_xh: Any, W_hh: Any, b: Any) -> list[list[float]]:
    """Plain Python loops over lists."""
    x_t, h, W_xh, W_hh, b = (a.tolist() for a in (x_t, h, W_xh, W_hh, b))
    H = len(b)
    return [[math.tanh(sum(x[d] * W_xh[d][j] for d in range(len(x))) + sum(hr[k] * W_hh[k][j] for k in range(H))
                       + b[j]) for j in range(H)] for x, hr in zip(x_t, h)]


@pytest.mark.parametrize("right", [step_numpy, step_as_written, step_torch(torch.float32), step_torch(torch.float64),
                                   step_linear, step_python])
def test_rnn_step_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch05_rnn_step(right)  # type: ignore[arg-type]
    assert out_of(capsys) == ("✓ exercise 05.1 (rnn_step) passed: tanh(x_t @ W_xh + h @ W_hh + b), one step of the "
                              "RNN\n")


def step_variant(pre: Any = None, act: Any = np.tanh) -> Any:
    def step(*args: Any) -> np.ndarray:
        x, h, Wx, Wh, b = np_args(*args)
        return act(pre(x, h, Wx, Wh, b) if pre is not None else x @ Wx + h @ Wh + b)

    return step


def step_in_place(x_t: Any, h: Any, W_xh: Any, W_hh: Any, b: Any) -> Any:
    h[:] = step_as_written(x_t, h, W_xh, W_hh, b)  # the new state written over the caller's h
    return h


def step_nn_rnn_layout(x_t: Any, h: Any, W_xh: Any, W_hh: Any, b: Any) -> torch.Tensor:
    x_t, h, W_xh, W_hh, b = (torch.as_tensor(a) for a in (x_t, h, W_xh, W_hh, b))
    return torch.tanh(x_t @ W_xh.T + h @ W_hh.T + b)  # torch.nn.RNN's layout


@pytest.mark.parametrize(
    "wrong,why",
    [
        (step_variant(lambda x, h, Wx, Wh, b: x @ Wx + h @ Wh.T + b),
         r"h @ W_hh, not h @ W_hh.T: the weights are laid out for x @ W"),
        (step_variant(lambda x, h, Wx, Wh, b: x @ Wx.T + h @ Wh + b),
         r"raised ValueError(.|\n)*x_t goes with W_xh, h with W_hh(.|\n)*no transposes"),
        (step_nn_rnn_layout, r"raised RuntimeError(.|\n)*W_xh is \(D, H\) = \(5, 12\): x_t @ W_xh, as it is"),
        (step_variant(lambda x, h, Wx, Wh, b: x @ Wh + h @ Wx + b), r"raised ValueError(.|\n)*x_t goes with W_xh"),
        (step_variant(lambda x, h, Wx, Wh, b: h @ Wx + x @ Wh + b),
         r"raised ValueError(.|\n)*h is \(B, H\) = \(B, 12\)(.|\n)*x_t goes with W_xh, h with W_hh"),
        (step_variant(act=lambda z: z), "apply tanh to the sum"),
        (step_variant(act=lambda z: 1 / (1 + np.exp(-z))), "not the sigmoid"),
        (step_variant(act=lambda z: np.maximum(z, 0)), "not relu"),
        (step_variant(lambda x, h, Wx, Wh, b: x @ Wx + h @ Wh), "add the bias"),
        (step_variant(lambda x, h, Wx, Wh, b: x @ Wx + b), "without h the network has no memory"),
        (step_variant(lambda x, h, Wx, Wh, b: h @ Wh + b), "add the input's term"),
        (lambda *a: (lambda x, h, Wx, Wh, b: np.tanh(x @ Wx) + np.tanh(h @ Wh) + b)(*np_args(*a)),
         "apply tanh once, to the whole sum"),
        (lambda *a: (lambda x, h, Wx, Wh, b: np.tanh(x @ Wx + b) + np.tanh(h @ Wh))(*np_args(*a)),
         "not to each term separately"),
        (lambda *a: step_numpy(*a) + np_args(a[1])[0], "don't add the previous h"),
        (step_in_place, r"changed h(.|\n)*h\[:\] = "),
        (lambda x, h, Wx, Wh, b: torch.tanh(x @ Wx + h @ Wh + b),  # torch only: the numpy case raises
         r"raised TypeError(.|\n)*numpy arrays or torch tensors \(np.tanh or torch.tanh to match\)"),
        (lambda *a: step_numpy(*a).T, r"shape \(B, H\) = \(8, 12\)(.|\n)*shape \(12, 8\)"),
        (lambda *a: np.round(step_numpy(*a), 3), "don't round: this is the new state rounded to 3 decimals"),
        (lambda *a: step_numpy(*a) + 1e-3, r"the input times W_xh, plus the previous state times W_hh"),
        (lambda *a: step_numpy(*a) * 1, None),  # right: a control
    ],
)
def test_rnn_step_names_the_mistake(wrong: Any, why: str | None) -> None:
    if why is None:
        checks.ch05_rnn_step(wrong)
        return
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch05_rnn_step(wrong)


def test_rnn_step_names_what_only_fits_when_D_equals_H() -> None:
    """x_t and h swapped, or W_xh transposed, fit only where D == H (the second case): the values name them there.
    A learner's code that handles the first case some other way reaches it."""

    def swapped_where_it_fits(*a: Any) -> np.ndarray:
        x, h, Wx, Wh, b = np_args(*a)
        return np.tanh(x @ Wh + h @ Wx + b) if Wx.shape[0] == Wx.shape[1] else step_numpy(*a)

    def transposed_where_it_fits(*a: Any) -> np.ndarray:
        x, h, Wx, Wh, b = np_args(*a)
        return np.tanh(x @ Wx.T + h @ Wh + b) if Wx.shape[0] == Wx.shape[1] else step_numpy(*a)

    with pytest.raises(checks.CheckFailed, match=r"torch.float32(.|\n)*x_t goes with W_xh, h with W_hh(.|\n)*D = H"):
        checks.ch05_rnn_step(swapped_where_it_fits)
    with pytest.raises(checks.CheckFailed, match=r"x_t @ W_xh, not x_t @ W_xh.T"):
        checks.ch05_rnn_step(transposed_where_it_fits)


def test_rnn_step_cases_are_shaped_to_tell_the_mistakes() -> None:
    cases = ch05_checks._step_cases()
    D_equals_H = 0
    for _, (x_t, h, W_xh, W_hh, b) in cases:
        (B, D), H = tuple(x_t.shape), W_hh.shape[0]
        assert tuple(h.shape) == (B, H) and tuple(W_xh.shape) == (D, H) and tuple(b.shape) == (H,)
        assert B not in (D, H)
        D_equals_H += D == H
        pre = x_t.numpy() @ W_xh.numpy() if isinstance(x_t, torch.Tensor) else x_t @ W_xh
        assert 0.6 < float(np.std(np.asarray(pre))) < 2.0  # where tanh bends
        assert not np.allclose(np.asarray(W_hh), np.asarray(W_hh).T, atol=0.1)  # h @ W_hh.T differs clearly
    assert D_equals_H == 1 and cases[0][1][2].shape[0] != cases[0][1][2].shape[1]


# --- 05.2 run_rnn ------------------------------------------------------------------------------------------------


def run_numpy(xs: Any, h0: Any, W_xh: Any, W_hh: Any, b: Any) -> np.ndarray:
    xs, h, W_xh, W_hh, b = np_args(xs, h0, W_xh, W_hh, b)
    hs = []
    for t in range(xs.shape[1]):
        h = np.tanh(xs[:, t] @ W_xh + h @ W_hh + b)
        hs.append(h)
    return np.stack(hs, axis=1)


def run_torch(dtype: torch.dtype) -> Any:
    def run(xs: Any, h0: Any, W_xh: Any, W_hh: Any, b: Any) -> torch.Tensor:
        xs, h, W_xh, W_hh, b = (torch.as_tensor(a).to(dtype) for a in (xs, h0, W_xh, W_hh, b))
        hs = torch.empty(xs.shape[0], xs.shape[1], h.shape[1], dtype=dtype)
        for t in range(xs.shape[1]):
            h = torch.tanh(xs[:, t] @ W_xh + h @ W_hh + b)
            hs[:, t] = h
        return hs

    return run


def run_nn_rnn(xs: Any, h0: Any, W_xh: Any, W_hh: Any, b: Any) -> torch.Tensor:
    """torch.nn.RNN (batch_first) with the exercise's weights put in its layout."""
    xs, h0, W_xh, W_hh, b = (torch.as_tensor(a).double() for a in (xs, h0, W_xh, W_hh, b))
    rnn = torch.nn.RNN(W_xh.shape[0], W_xh.shape[1], batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(W_xh.T)
        rnn.weight_hh_l0.copy_(W_hh.T)
        rnn.bias_ih_l0.copy_(b)
        rnn.bias_hh_l0.zero_()
        return rnn(xs, h0[None])[0]


def run_python(xs: Any, h0: Any, W_xh: Any, W_hh: Any, b: Any) -> list[list[list[float]]]:
    xs, h0, W_xh, W_hh, b = (a.tolist() for a in (xs, h0, W_xh, W_hh, b))
    out = []
    for seq, h in zip(xs, h0):
        states = []
        for x in seq:
            h = [math.tanh(sum(x[d] * W_xh[d][j] for d in range(len(x))) + sum(h[k] * W_hh[k][j]
                                                                          for k in range(len(h))) + b[j])
                 for j in range(len(b))]
            states.append(h)
        out.append(states)
    return out


@pytest.mark.parametrize("right", [run_numpy, run_torch(torch.float32), run_torch(torch.float64), run_nn_rnn,
                                   run_python])
def test_run_rnn_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch05_run_rnn(right)  # type: ignore[arg-type]
    assert out_of(capsys) == ("✓ exercise 05.2 (run_rnn) passed: the RNN unrolled over T steps, each state carried "
                              "to the next, all T states (B, T, H)\n")


def run_variant(carry: bool = True, reverse: bool = False, flip_back: bool = True, start: str = "h0",
                stack_axis: int = 1, read: str = "xs[:, t]", keep: str = "new", act: Any = np.tanh,
                hh_t: bool = False) -> Any:
    def run(*args: Any) -> np.ndarray:
        xs, h0, Wx, Wh, b = np_args(*args)
        Wh = Wh.T if hh_t else Wh
        h = np.zeros_like(h0) if start == "zeros" else h0
        steps = range(xs.shape[1])[::-1] if reverse else range(xs.shape[1])
        hs = []
        for t in steps:
            x_t = xs[t] if read == "xs[t]" else xs[:, t]
            new = act(x_t @ Wx + (h if carry else h0) @ Wh + b)
            hs.append(h if keep == "old" else new)
            h = new
        if reverse and flip_back:
            hs = hs[::-1]
        return np.stack(hs, axis=stack_axis)

    return run


def run_in_place(xs: Any, h0: Any, W_xh: Any, W_hh: Any, b: Any) -> Any:
    h = h0  # not a copy
    hs = []
    for t in range(xs.shape[1]):
        h[:] = np.tanh(xs[:, t] @ W_xh + h @ W_hh + b)  # writes into the caller's h0
        hs.append(np.array(h))
    return np.stack(hs, axis=1)


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda *a: run_numpy(*a)[:, -1], r"shape \(B, T, H\) = \(6, 6, 9\)(.|\n)*only the last one"),
        (lambda *a: np.concatenate([np_args(a[1])[0][:, None], run_numpy(*a)], axis=1),
         r"leave out h0(.|\n)*T \+ 1 states"),
        (run_variant(keep="old"), "shifted by one: h0 first, the last state missing"),
        (run_variant(carry=False), "carry the state from step to step(.|\n)*use h0 at every step"),
        (run_variant(stack_axis=0), r"stack the T states along axis 1(.|\n)*yours are \(T, B, H\)"),
        (lambda *a: [h for h in np.moveaxis(run_numpy(*a), 1, 0)], r"yours are \(T, B, H\), time first"),
        (run_variant(read="xs[t]"), r"batch first: the input at step t is xs\[:, t\](.|\n)*xs\[t\] is sequence t"),
        (run_variant(read="xs[t]", stack_axis=0), r"the input at step t is xs\[:, t\]"),
        (run_variant(reverse=True), "process the sequence forwards"),
        (run_variant(reverse=True, flip_back=False), "yours starts from the end of the sequence"),
        (run_variant(start="zeros"), "start from the given h0"),
        (run_variant(hh_t=True), r"h @ W_hh, not h @ W_hh.T"),
        (run_variant(act=lambda z: z), "each step applies tanh"),
        (run_in_place, r"changed h0(.|\n)*h = h0 is not a copy"),
        (lambda *a: np.round(run_numpy(*a), 2), "don't round: these are the states rounded to 2 decimals"),
        (lambda *a: run_numpy(*a) * 1.01, r"start from h = h0; for t = 0 .. T-1"),
        (lambda *a: run_numpy(*a) * 1, None),  # right: a control
    ],
)
def test_run_rnn_names_the_mistake(wrong: Any, why: str | None) -> None:
    if why is None:
        checks.ch05_run_rnn(wrong)
        return
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch05_run_rnn(wrong)


def test_run_rnn_reading_xs_t_where_B_differs_from_T_raises_with_the_layout_hint() -> None:
    """In the second case B = 4 and T = 10: xs[t] is (10, D), rows that do not fit h's 4 (and xs[4] is out of
    range): the call's hint says the layout."""

    def skip_first(read: str) -> Any:
        inner = run_variant(read=read)
        return lambda *a: run_numpy(*a) if a[0].shape[0] == a[0].shape[1] else inner(*a)

    with pytest.raises(checks.CheckFailed, match=r"raised ValueError: operands could not be broadcast(.|\n)*"
                                                 r"the input at step t is xs\[:, t\]"):
        checks.ch05_run_rnn(skip_first("xs[t]"))


def test_run_rnn_cases_are_shaped_to_tell_the_mistakes() -> None:
    cases = ch05_checks._run_cases()
    (xs0, *_), *rest = [args for _, args in cases]
    assert xs0.shape[0] == xs0.shape[1]  # B == T: xs[t] fits, the values tell
    for xs, h0, W_xh, W_hh, b in rest:
        B, T, D = xs.shape
        H = W_hh.shape[0]
        assert len({B, T, T + 1, D, H}) == 5
        assert tuple(h0.shape) == (B, H) and tuple(W_xh.shape) == (D, H) and tuple(b.shape) == (H,)
        assert np.abs(np.asarray(h0)).mean() > 0.3  # h0 is far from zeros: starting from zeros shows


# --- 05.3 clip_grad_norm -----------------------------------------------------------------------------------------


def clip_numpy(grads: list[Any], max_norm: float) -> list[np.ndarray]:
    arrays = np_args(*grads)
    total = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in arrays))
    return [g * min(1.0, max_norm / total) for g in arrays]


def clip_as_written(grads: list[Any], max_norm: float) -> list[Any]:
    """On whatever it is given (numpy arrays or torch tensors), in their own dtype."""
    total = sum((g ** 2).sum() for g in grads) ** 0.5
    factor = min(1.0, max_norm / float(total))
    return [g * factor for g in grads]


def clip_torch(dtype: torch.dtype) -> Any:
    def clip(grads: list[Any], max_norm: float) -> list[torch.Tensor]:
        ts = [torch.as_tensor(g).to(dtype) for g in grads]
        total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in ts]))
        return [t * torch.clamp(max_norm / total, max=1.0) for t in ts]

    return clip


def clip_by_torch(grads: list[Any], max_norm: float) -> list[torch.Tensor]:
    """torch.nn.utils.clip_grad_norm_ itself (with its 1e-6), on parameters holding copies of the gradients."""
    params = []
    for g in grads:
        p = torch.nn.Parameter(torch.zeros(np.shape(g), dtype=torch.float64))
        p.grad = torch.as_tensor(g).double().clone()
        params.append(p)
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params]  # type: ignore[misc]


def clip_python(grads: list[Any], max_norm: float) -> list[Any]:
    """Plain Python: nested lists, math.sqrt."""
    lists = [g.tolist() for g in grads]

    def squares(v: Any) -> float:
        return sum(squares(x) for x in v) if isinstance(v, list) else v * v

    def scale(v: Any, f: float) -> Any:
        return [scale(x, f) for x in v] if isinstance(v, list) else v * f

    total = math.sqrt(sum(squares(g) for g in lists))
    return tuple(scale(g, min(1.0, max_norm / total)) for g in lists)


@pytest.mark.parametrize("right", [clip_numpy, clip_as_written, clip_torch(torch.float32), clip_torch(torch.float64),
                                   clip_by_torch, clip_python])
def test_clip_grad_norm_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch05_clip_grad_norm(right)  # type: ignore[arg-type]
    assert out_of(capsys) == ("✓ exercise 05.3 (clip_grad_norm) passed: every gradient times min(1, max_norm / "
                              "total_norm), one norm over all of them\n")


def clip_with(factor: Any) -> Any:
    """Every gradient times factor(arrays, max_norm) (float64 arrays)."""
    def clip(grads: list[Any], max_norm: float) -> list[np.ndarray]:
        arrays = [g.astype(np.float64) for g in np_args(*grads)]
        return [g * factor(arrays, max_norm) for g in arrays]

    return clip


def norm(arrays: list[np.ndarray]) -> float:
    return float(np.sqrt(sum((g ** 2).sum() for g in arrays)))


def clip_in_place(grads: list[Any], max_norm: float) -> list[Any]:
    factor = min(1.0, max_norm / norm([np.asarray(g, dtype=np.float64) for g in np_args(*grads)]))
    for g in grads:
        g *= factor  # the caller's arrays change
    return grads


def clip_into_list(grads: list[Any], max_norm: float) -> list[Any]:
    clipped = clip_numpy(grads, max_norm)
    for i, g in enumerate(clipped):
        grads[i] = g  # the caller's list now holds other arrays
    return grads


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda grads, m: [clip_numpy([g], m)[0] for g in grads], "clip each gradient by its own norm"),
        (lambda grads, m: [np.clip(g, -m, m) for g in np_args(*grads)],
         r"don't clip the values(.|\n)*clip_grad_value_"),
        (clip_with(lambda a, m: m / norm(a)), r"leave the gradients as they are when total_norm <= max_norm"),
        (clip_with(lambda a, m: max(1.0, m / norm(a))), "only scale down"),
        (clip_with(lambda a, m: min(1.0, m / sum(np.sqrt((g ** 2).sum()) for g in a))),
         "not the sum of the per-gradient norms"),
        (clip_with(lambda a, m: min(1.0, m / np.sqrt(np.mean(np.concatenate([g.ravel() for g in a]) ** 2)))),
         "not of their mean"),
        (clip_with(lambda a, m: min(1.0, m / norm(a) ** 2)), "take the square root"),
        (clip_with(lambda a, m: min(1.0, m / max(np.sqrt((g ** 2).sum()) for g in a))), "not the largest"),
        (lambda grads, m: [np.array(g) for g in np_args(*grads)], r"yours are returned as they came"),
        (clip_with(lambda a, m: min(1.0, norm(a) / m)), "not total_norm / max_norm"),
        (clip_with(lambda a, m: min(1.0, 1.0 / norm(a))), r"scale to max_norm, not to 1"),
        (lambda grads, m: norm(np_args(*grads)), r"that is the total norm, 3.08"),
        (lambda grads, m: torch.tensor(norm(np_args(*grads))), r"that is the total norm"),
        (lambda grads, m: (clip_numpy(grads, m), norm(np_args(*grads))), r"not a pair \(gradients, norm\)"),
        (lambda grads, m: np.concatenate([g.ravel() for g in clip_numpy(grads, m)]),
         r"return a list of 3 gradients(.|\n)*a numpy float64 array"),
        (lambda grads, m: (g for g in clip_numpy(grads, m)), r"return a list of 3 gradients(.|\n)*a generator"),
        (lambda grads, m: clip_numpy(grads, m)[:2], r"of length 2"),
        (lambda grads, m: [g.T for g in clip_numpy(grads, m)], r"return a list of 3 gradients"),
        (clip_in_place, r"changed the gradients it was given(.|\n)*g \*= factor"),
        (clip_into_list, r"changed the list it was given(.|\n)*grads\[i\] = "),
        (lambda grads, m: [np.round(g, 4) for g in clip_numpy(grads, m)],
         "don't round: these are the clipped gradients rounded to 4 decimals"),
        (clip_with(lambda a, m: min(1.0, m / norm(a)) * 1.001), r"= 3.08\d+ here; multiply every gradient by"),
        (clip_with(lambda a, m: min(1.0, m / (norm(a) + 1e-6))), None),  # torch's epsilon: right
    ],
)
def test_clip_grad_norm_names_the_mistake(wrong: Any, why: str | None) -> None:
    if why is None:
        checks.ch05_clip_grad_norm(wrong)
        return
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch05_clip_grad_norm(wrong)


def test_clip_grad_norm_modifying_torch_gradients_in_place_is_named() -> None:
    def clip_mul_(grads: list[Any], max_norm: float) -> list[Any]:
        if not isinstance(grads[0], torch.Tensor):
            return clip_numpy(grads, max_norm)
        factor = min(1.0, max_norm / norm(np_args(*grads)))
        return [g.mul_(factor) for g in grads]

    with pytest.raises(checks.CheckFailed, match=r"torch.float32 tensors(.|\n)*changed the gradients(.|\n)*"
                                                 r"g.mul_\(factor\)"):
        checks.ch05_clip_grad_norm(clip_mul_)


def test_clip_grad_norm_cases_are_above_below_and_exploding() -> None:
    cases = ch05_checks._clip_cases()
    totals = [ch05_checks._total_norm(grads) for _, grads, _ in cases]
    limits = [m for _, _, m in cases]
    assert totals[0] > limits[0] and totals[1] < limits[1] and totals[2] > 50 * limits[2] and totals[3] > limits[3]
    assert any(isinstance(grads[0], torch.Tensor) for _, grads, _ in cases)
    # the exploding case's RMS is above max_norm too: the mean of squares clips there, at the wrong factor
    _, grads, m = cases[2]
    entries = np.concatenate([g.numpy().ravel() for g in grads]).astype(np.float64)
    assert np.sqrt(np.mean(entries ** 2)) > m


def test_clip_grad_norm_tolerance_is_float32_honest() -> None:
    """Clipping in float32 passes; a factor 1e-4 off fails."""
    checks.ch05_clip_grad_norm(clip_torch(torch.float32))
    with pytest.raises(checks.CheckFailed):
        checks.ch05_clip_grad_norm(clip_with(lambda a, m: min(1.0, m / norm(a)) * (1 + 1e-4)))


# --- all three ------------------------------------------------------------------------------------------------


def test_mistakes_made_in_float32_are_named_too() -> None:
    def hh_transposed32(*a: Any) -> torch.Tensor:
        x, h, Wx, Wh, b = (torch.as_tensor(v).float() for v in a)
        return torch.tanh(x @ Wx + h @ Wh.T + b)

    def no_carry32(xs: Any, h0: Any, *w: Any) -> torch.Tensor:
        xs, h0 = torch.as_tensor(xs).float(), torch.as_tensor(h0).float()
        Wx, Wh, b = (torch.as_tensor(v).float() for v in w)
        return torch.stack([torch.tanh(xs[:, t] @ Wx + h0 @ Wh + b) for t in range(xs.shape[1])], dim=1)

    def per_tensor32(grads: list[Any], m: float) -> list[torch.Tensor]:
        ts = [torch.as_tensor(g).float() for g in grads]
        return [t * min(1.0, m / float(t.norm())) for t in ts]

    with pytest.raises(checks.CheckFailed, match="not h @ W_hh.T"):
        checks.ch05_rnn_step(hh_transposed32)
    with pytest.raises(checks.CheckFailed, match="carry the state"):
        checks.ch05_run_rnn(no_carry32)
    with pytest.raises(checks.CheckFailed, match="by its own norm"):
        checks.ch05_clip_grad_norm(per_tensor32)


def test_clip_total_overwritten_by_the_last_gradient_is_named() -> None:
    def clip_grad_norm(grads, max_norm):
        total = 0.0
        for g in grads:
            total = float((np.asarray(g, dtype=np.float64) ** 2).sum())  # = instead of +=
        factor = min(1.0, max_norm / total ** 0.5)
        return [g * factor for g in grads]

    with pytest.raises(checks.CheckFailed, match="keeps only the last gradient's"):
        checks.ch05_clip_grad_norm(clip_grad_norm)
