"""The checkers of chapter 04 (the MLP language model) accept every right answer and name each typical mistake."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lmcourse import checks
from lmcourse.checks import ch04 as ch04_checks


def stub(*args: object) -> None:
    raise NotImplementedError


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


@pytest.mark.parametrize("name", ["ch04_softmax_ce_grad", "ch04_mlp_logits", "ch04_count_model_loss",
                                  "ch04_mlp_parameter_count"])
def test_a_stub_is_reported_as_still_open(name: str) -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 04.\d \(\w+\): stub is still the stub"):
        getattr(checks, name)(stub)


# --- 04.1 softmax_ce_grad --------------------------------------------------------------------------------------


def grad_python(logits: Any, targets: Any) -> list[list[float]]:
    """Plain Python: lists and math, row by row."""
    rows = logits.tolist()
    n = len(rows)
    out = []
    for row, t in zip(rows, targets.tolist()):
        top = max(row)
        exps = [math.exp(z - top) for z in row]
        total = sum(exps)
        out.append([(e / total - (j == t)) / n for j, e in enumerate(exps)])
    return out


def grad_numpy(logits: Any, targets: Any) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(p)), np.asarray(targets)] -= 1
    return p / len(p)


def grad_numpy32(logits: Any, targets: Any) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float32)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p = p / p.sum(axis=1, keepdims=True)
    y = np.zeros_like(p)
    y[np.arange(len(p)), np.asarray(targets)] = 1
    return (p - y) / np.float32(len(p))


def grad_torch(dtype: torch.dtype) -> Any:
    def grad(logits: Any, targets: Any) -> torch.Tensor:
        z = torch.as_tensor(logits).to(dtype)
        t = torch.as_tensor(targets)
        return (torch.softmax(z, dim=1) - F.one_hot(t, z.shape[1]).to(dtype)) / len(t)

    return grad


def grad_autograd(logits: Any, targets: Any) -> torch.Tensor:
    z = torch.as_tensor(logits).clone().requires_grad_(True)
    F.cross_entropy(z, torch.as_tensor(targets)).backward()
    return z.grad  # type: ignore[return-value]


def grad_scipy(logits: Any, targets: Any) -> np.ndarray:
    from scipy.special import softmax

    p = softmax(np.asarray(logits, dtype=np.float64), axis=1)
    p[np.arange(len(p)), np.asarray(targets)] -= 1
    return p / len(p)


def grad_logsumexp_numpy(logits: Any, targets: Any) -> np.ndarray:
    """softmax = exp(z - logsumexp(z)), the log-sum-exp computed with each row's max."""
    z = np.asarray(logits, dtype=np.float64)
    m = z.max(axis=1, keepdims=True)
    p = np.exp(z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))))
    p[np.arange(len(p)), np.asarray(targets)] -= 1
    return p / len(p)


def grad_logsumexp_torch(dtype: torch.dtype) -> Any:
    def grad(logits: Any, targets: Any) -> torch.Tensor:
        z = torch.as_tensor(logits).to(dtype)
        p = torch.exp(z - torch.logsumexp(z, dim=1, keepdim=True))
        return (p - F.one_hot(torch.as_tensor(targets), z.shape[1]).to(dtype)) / len(p)

    return grad


def grad_log_softmax_torch(logits: Any, targets: Any) -> torch.Tensor:
    z = torch.as_tensor(logits).float()
    p = F.log_softmax(z, dim=1).exp()
    p[torch.arange(len(p)), torch.as_tensor(targets)] -= 1
    return p / len(p)


@pytest.mark.parametrize("right", [grad_python, grad_numpy, grad_numpy32, grad_torch(torch.float32),
                                   grad_torch(torch.float64), grad_autograd, grad_scipy, grad_logsumexp_numpy,
                                   grad_logsumexp_torch(torch.float32), grad_logsumexp_torch(torch.float64),
                                   grad_log_softmax_torch])
def test_softmax_ce_grad_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch04_softmax_ce_grad(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 04.1 (softmax_ce_grad) passed: ")


def parts(logits: Any, targets: Any) -> tuple[np.ndarray, np.ndarray, int]:
    z = np.asarray(logits.numpy() if isinstance(logits, torch.Tensor) else logits, dtype=np.float64)
    t = np.asarray(targets.numpy() if isinstance(targets, torch.Tensor) else targets)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    y = np.zeros_like(z)
    y[np.arange(len(t)), t] = 1
    return p / p.sum(axis=1, keepdims=True), y, len(t)


def grad_unstable(logits: Any, targets: Any) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)  # no max subtracted: inf / inf, 0 / 0
    return (p - parts(logits, targets)[1]) / len(p)


def grad_one_max(logits: Any, targets: Any) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max())  # one max for the whole array
    return (e / e.sum(axis=1, keepdims=True) - parts(logits, targets)[1]) / len(z)


def grad_shifted(shift: Any, dtype: Any = np.float64) -> Any:
    """Softmax with each row shifted by ``shift(z)`` instead of its max: right on rows near +-1000, not on wide rows."""
    def grad(logits: Any, targets: Any) -> np.ndarray:
        z = np.asarray(logits, dtype=dtype)
        with np.errstate(all="ignore"):
            e = np.exp(z - shift(z))
            return (e / e.sum(axis=1, keepdims=True) - parts(logits, targets)[1]) / len(z)

    return grad


def grad_mean_shift_torch32(logits: Any, targets: Any) -> torch.Tensor:
    z = torch.as_tensor(logits).float()
    e = (z - z.mean(dim=1, keepdim=True)).exp()
    return (e / e.sum(dim=1, keepdim=True) - F.one_hot(torch.as_tensor(targets), z.shape[1])) / len(z)


def test_rows_near_1000_alone_do_not_tell_a_row_shift_from_the_max() -> None:
    """Why the wide rows are there: each wrong shift gives the right gradient on the first three cases."""
    for shift in (lambda z: z.min(axis=1, keepdims=True), lambda z: z.mean(axis=1, keepdims=True),
                  lambda z: z[:, :1]):
        for _, z, t in ch04_checks._grad_cases()[:3]:
            np.testing.assert_allclose(grad_shifted(shift)(z, t), grad_numpy(z, t), rtol=1e-4, atol=1e-7)
    z = np.array([[0.0, 800.0, 1.0]])
    assert np.isnan(grad_shifted(lambda z: z.min(axis=1, keepdims=True))(z, np.array([0]))).any()


def grad_in_place(logits: Any, targets: Any) -> Any:
    logits -= logits.max(axis=1, keepdims=True) if isinstance(logits, np.ndarray) else \
        logits.max(dim=1, keepdim=True).values  # writes into the caller's logits
    return grad_numpy(np.asarray(logits), targets)


def with_parts(f: Any) -> Any:
    return lambda z, t: f(*parts(z, t))


WIDE = (r"span a wide range(.|\n)*entries are nan or inf(.|\n)*subtract each row's max \(shifting by the min or the "
        r"mean still overflows when a row spans a wide range\)")


@pytest.mark.parametrize(
    "wrong,why",
    [
        (with_parts(lambda p, y, n: p - y), r"divide by N, the number of rows(.|\n)*gradient of the sum"),
        (with_parts(lambda p, y, n: (y - p) / n), "the sign is flipped"),
        (lambda z, t: (np.asarray(z, dtype=float) - parts(z, t)[1]) / len(t), "take the softmax of each row first"),
        (lambda z, t: (F.softmax(torch.as_tensor(np.asarray(z, dtype=float)), dim=0).numpy() - parts(z, t)[1])
         / len(t), r"over each row \(axis=1"),
        (lambda z, t: grad_numpy(z, np.asarray(z).argmax(axis=1)), "not its largest logit"),
        (with_parts(lambda p, y, n: p / n), "subtract 1 at each row's target"),
        (with_parts(lambda p, y, n: p), "this is the softmax itself"),
        (with_parts(lambda p, y, n: (p - y) / p.shape[1]), "not by V, the number of classes"),
        (lambda z, t: (F.log_softmax(torch.as_tensor(np.asarray(z, dtype=float)), 1).numpy() - parts(z, t)[1])
         / len(t), "not their logarithms"),
        (grad_unstable, r"near \+1000 and -1000(.|\n)*exp overflowed(.|\n)*Subtract each row's max"),
        (grad_one_max, r"near -1000 came out nan: you subtracted one max for the whole array"),
        (grad_shifted(lambda z: z.min(axis=1, keepdims=True)), WIDE),
        (grad_shifted(lambda z: z.mean(axis=1, keepdims=True)), WIDE),
        (grad_shifted(lambda z: z[:, :1]), WIDE),
        (grad_shifted(lambda z: np.median(z, axis=1, keepdims=True)), WIDE),
        (grad_mean_shift_torch32, WIDE),
        (lambda z, t: F.cross_entropy(torch.as_tensor(np.asarray(z)), torch.as_tensor(np.asarray(t))).item(),
         r"shape \(64, 30\)(.|\n)*that is the loss itself"),
        (lambda z, t: grad_numpy(z, t).T, r"return shape \(N, V\), like the logits"),
        (grad_in_place, r"changed the logits it was given(.|\n)*logits -= "),
        (lambda z, t: np.round(grad_numpy(z, t), 3), "don't round: this is the gradient rounded to 3 decimals"),
        (lambda z, t: grad_numpy(z, t) + 1e-3, r"each row's target, divided by the number of rows N(.|\n)*sums to 0"),
        (lambda z, t: grad_numpy(z, t) * 1, None),  # right: a control
    ],
)
def test_softmax_ce_grad_names_the_mistake(wrong: Any, why: str | None) -> None:
    if why is None:
        checks.ch04_softmax_ce_grad(wrong)
        return
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch04_softmax_ce_grad(wrong)


def test_softmax_ce_grad_float32_tolerance_is_honest() -> None:
    """float32 arithmetic passes; an error of 1e-6 on entries of about 1 / 64 (1e-4 relative and more) fails."""
    checks.ch04_softmax_ce_grad(grad_torch(torch.float32))
    with pytest.raises(checks.CheckFailed):
        checks.ch04_softmax_ce_grad(lambda z, t: grad_numpy(z, t) * (1 + 3e-4))


# --- 04.2 mlp_logits ---------------------------------------------------------------------------------------------


def mlp_numpy(ids: Any, E: Any, W1: Any, b1: Any, W2: Any, b2: Any) -> np.ndarray:
    a = [np.asarray(x.numpy() if isinstance(x, torch.Tensor) else x) for x in (ids, E, W1, b1, W2, b2)]
    ids, E, W1, b1, W2, b2 = a
    x = E[ids].reshape(len(ids), -1)
    return np.tanh(x @ W1 + b1) @ W2 + b2


def mlp_torch(ids: Any, E: Any, W1: Any, b1: Any, W2: Any, b2: Any) -> torch.Tensor:
    t = [torch.as_tensor(x) for x in (ids, E, W1, b1, W2, b2)]
    ids, E, W1, b1, W2, b2 = t
    x = torch.cat([E[ids[:, j]] for j in range(ids.shape[1])], dim=1)
    return torch.tanh(x @ W1 + b1) @ W2 + b2


def mlp_torch32(ids: Any, E: Any, W1: Any, b1: Any, W2: Any, b2: Any) -> torch.Tensor:
    f = [torch.as_tensor(x).float() for x in (E, W1, b1, W2, b2)]
    E, W1, b1, W2, b2 = f
    x = F.embedding(torch.as_tensor(ids), E).flatten(1)
    return F.linear(torch.tanh(F.linear(x, W1.T, b1)), W2.T, b2)


def mlp_python(ids: Any, E: Any, W1: Any, b1: Any, W2: Any, b2: Any) -> list[list[float]]:
    """Plain Python loops over lists (slow, but the inputs are small)."""
    ids, E, W1, b1, W2, b2 = (x.tolist() for x in (ids, E, W1, b1, W2, b2))
    out = []
    for row in ids:
        x = [v for i in row for v in E[i]]
        h = [math.tanh(sum(x[a] * W1[a][j] for a in range(len(x))) + b1[j]) for j in range(len(b1))]
        out.append([sum(h[j] * W2[j][v] for j in range(len(h))) + b2[v] for v in range(len(b2))])
    return out


@pytest.mark.parametrize("right", [mlp_numpy, mlp_torch, mlp_torch32, mlp_python])
def test_mlp_logits_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch04_mlp_logits(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 04.2 (mlp_logits) passed: ")


def np_args(*args: Any) -> list[np.ndarray]:
    return [np.asarray(x.numpy() if isinstance(x, torch.Tensor) else x) for x in args]


def mlp_variant(order: str = "oldest", act: Any = np.tanh, b1_on: bool = True, b2_on: bool = True,
                out: Any = None) -> Any:
    def mlp(*args: Any) -> np.ndarray:
        ids, E, W1, b1, W2, b2 = np_args(*args)
        B, k = ids.shape
        if order == "newest":
            ids = ids[:, ::-1]
        x = np.stack([E[ids[:, j]] for j in range(k)], axis=2).reshape(B, -1) if order == "stacked" else \
            E[ids].reshape(B, -1)
        logits = act(x @ W1 + (b1 if b1_on else 0)) @ W2 + (b2 if b2_on else 0)
        return out(logits) if out is not None else logits

    return mlp


def softmax_rows(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mlp_summed(*args: Any) -> np.ndarray:
    ids, E, W1, b1, W2, b2 = np_args(*args)
    return np.tanh(E[ids].sum(axis=1) @ W1 + b1) @ W2 + b2  # (B, d) @ (k d, H): a shape error


def mlp_transposed(*args: Any) -> Any:
    ids, E, W1, b1, W2, b2 = (torch.as_tensor(x) for x in args)
    x = E[ids].flatten(1)
    return F.linear(torch.tanh(F.linear(x, W1, b1)), W2, b2)  # nn.Linear's layout: x @ W1.T


def mlp_torch_summed(*args: Any) -> Any:
    ids, E, W1, b1, W2, b2 = (torch.as_tensor(x) for x in args)
    return torch.tanh(E[ids].mean(dim=1) @ W1 + b1) @ W2 + b2


def mlp_w2_transposed(*args: Any) -> np.ndarray:
    ids, E, W1, b1, W2, b2 = np_args(*args)
    return np.tanh(E[ids].reshape(len(ids), -1) @ W1 + b1) @ W2.T + b2


def mlp_in_place(ids: Any, E: Any, W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
    b1 *= 1.0000001  # writes into the caller's b1 (harmlessly small, but a change)
    return mlp_numpy(ids, E, W1, b1, W2, b2)


@pytest.mark.parametrize(
    "wrong,why",
    [
        (mlp_variant(order="newest"), "oldest first(.|\n)*the newest first"),
        (mlp_variant(order="stacked"), "interleave their coordinates"),
        (mlp_variant(act=lambda x: x), "apply tanh to the hidden layer"),
        (mlp_variant(act=lambda x: np.maximum(x, 0)), "not relu"),
        (mlp_variant(act=lambda x: 1 / (1 + np.exp(-x))), "not the sigmoid"),
        (mlp_variant(b1_on=False), "add the hidden bias"),
        (mlp_variant(b2_on=False), "add the output bias"),
        (mlp_variant(b1_on=False, b2_on=False), "add both biases"),
        (mlp_variant(out=softmax_rows), "return logits, not probabilities"),
        (mlp_variant(out=lambda z: np.log(softmax_rows(z))), "not their log-softmax"),
        (mlp_variant(out=np.tanh), "the output layer is linear"),
        (mlp_summed, r"raised ValueError(.|\n)*side by side, shape \(B, k \* d\) = \(B, 18\)(.|\n)*sum or mean"),
        (mlp_torch_summed, r"raised RuntimeError(.|\n)*side by side(.|\n)*\(B, 6\)"),
        (mlp_transposed, r"raised RuntimeError(.|\n)*laid out for x @ W: W1 is \(k \* d, H\)(.|\n)*F.linear"),
        (mlp_w2_transposed, r"raised ValueError(.|\n)*W2 is \(H, V\), so x @ W2, with no transpose"),
        (lambda *a: mlp_numpy(*a)[:, None, :], r"shape \(B, V\) = \(32, 27\)(.|\n)*shape \(32, 1, 27\)"),
        (mlp_in_place, r"changed b1"),
        (lambda *a: np.round(mlp_numpy(*a), 2), "don't round: these are the logits rounded to 2 decimals"),
        (lambda *a: mlp_numpy(*a) * 1, None),  # right: a control
    ],
)
def test_mlp_logits_names_the_mistake(wrong: Any, why: str | None) -> None:
    if why is None:
        checks.ch04_mlp_logits(wrong)
        return
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch04_mlp_logits(wrong)


def test_mlp_logits_case_sizes_are_all_distinct() -> None:
    """Every size differs within a case, so that a transposed weight or summed embeddings cannot fit by chance."""
    for _, (ids, E, W1, b1, W2, b2) in ch04_checks._mlp_cases():
        (B, k), (V, d), H = tuple(ids.shape), tuple(E.shape), W1.shape[1]
        assert len({B, k, d, k * d, H, V}) == 6
        assert tuple(W1.shape) == (k * d, H) and tuple(W2.shape) == (H, V)
        assert tuple(b1.shape) == (H,) and tuple(b2.shape) == (V,)
        pre = np.asarray(E)[np.asarray(ids)].reshape(B, -1) @ np.asarray(W1) + np.asarray(b1)
        assert 0.6 < float(np.std(pre)) < 2.0  # where tanh bends: tanh and linear differ clearly


# --- 04.3 count_model_loss ------------------------------------------------------------------------------------


def loss_python(N: Any) -> float:
    rows = N.tolist() if hasattr(N, "tolist") else N
    total = sum(map(sum, rows))
    nats = 0.0
    for row in rows:
        s = sum(row)
        nats -= sum(c * math.log(c / s) for c in row if c > 0)
    return nats / total


def loss_numpy(N: Any) -> np.float64:
    N = np.asarray(N, dtype=np.float64)
    P = N / np.maximum(N.sum(axis=1, keepdims=True), 1)
    seen = N > 0
    return -(N[seen] * np.log(P[seen])).sum() / N.sum()


def loss_torch(dtype: torch.dtype) -> Any:
    def loss(N: Any) -> torch.Tensor:
        N = torch.as_tensor(np.asarray(N)).to(dtype)
        P = N / N.sum(dim=1, keepdim=True).clamp(min=1)
        return -torch.xlogy(N, P).sum() / N.sum()

    return loss


def loss_cross_entropy(N: Any) -> float:
    """The loss of a network that outputs log P, scored with F.cross_entropy on every counted pair."""
    N = torch.as_tensor(np.asarray(N), dtype=torch.float64)
    a, b = N.nonzero(as_tuple=True)
    P = N / N.sum(dim=1, keepdim=True)
    weights = N[a, b]
    return float((F.cross_entropy(torch.log(P[a]), b, reduction="none") * weights).sum() / weights.sum())


@pytest.mark.parametrize("right", [loss_python, loss_numpy, loss_torch(torch.float32), loss_torch(torch.float64),
                                   loss_cross_entropy])
def test_count_model_loss_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch04_count_model_loss(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 04.3 (count_model_loss) passed: the MLE bigram model's loss on "
                                     "its own pairs, 2.1538 nats per pair on the names")


def test_the_names_counts_are_chapter_02s() -> None:
    from lmcourse import data
    from lmcourse import tokenize as tk

    names = data.splits("names")
    tok = tk.CharTokenizer().fit(names.train.replace("\n", ""))
    stream = np.concatenate([tok.encode(name, bos=True, eos=True) for name in names.train.split()])
    N = np.zeros((tok.vocab_size, tok.vocab_size), dtype=np.int64)
    np.add.at(N, (stream[:-1], stream[1:]), 1)
    assert np.array_equal(ch04_checks._names_counts(), N)
    assert (N.sum(axis=1) == 0).sum() == 2 and (N == 0).sum() > 200


def arr(N: Any) -> np.ndarray:
    return np.asarray(N.numpy() if isinstance(N, torch.Tensor) else N, dtype=np.float64)


def loss_zero_cells_nan(N: Any) -> float:
    N = arr(N)
    P = N / np.maximum(N.sum(axis=1, keepdims=True), 1)
    return float(-(N * np.log(P)).sum() / N.sum())  # 0 * log 0 = 0 * -inf = nan


def loss_empty_rows_nan(N: Any) -> torch.Tensor:
    N = torch.as_tensor(arr(N))
    P = N / N.sum(dim=1, keepdim=True)  # 0 / 0 = nan in an empty row, and xlogy(0, nan) is nan
    return -torch.xlogy(N, P).sum() / N.sum()


def loss_with(f: Any) -> Any:
    def loss(N: Any) -> float:
        N = arr(N)
        P = N / np.maximum(N.sum(axis=1, keepdims=True), 1)
        return float(f(N, P, N > 0))

    return loss


def loss_in_place(N: Any) -> float:
    value = float(loss_numpy(N))
    if isinstance(N, list):
        N[0][0] += 1  # writes into the caller's list
    else:
        N[N == 0] = 1  # writes into the caller's table
    return value


@pytest.mark.parametrize(
    "wrong,why",
    [
        (loss_zero_cells_nan, r"0 ln 0 came out nan(.|\n)*N\[N > 0\]"),
        (loss_empty_rows_nan, r"a row of zeros(.|\n)*divides 0 by 0"),
        (loss_with(lambda N, P, s: -(N[s] * np.log2(P[s])).sum() / N.sum()), "that is the loss in bits"),
        (loss_with(lambda N, P, s: -(N[s] * np.log10(P[s])).sum() / N.sum()), "not log10"),
        (loss_with(lambda N, P, s: -((N / N.sum())[s] * np.log((N / N.sum())[s])).sum()), "entropy of the joint"),
        (loss_with(lambda N, P, s: -(N[s] * np.log(P[s])).sum()), "not their total"),
        (loss_with(lambda N, P, s: -np.log(P[s]).mean()), "weight each cell by its count"),
        (loss_with(lambda N, P, s: -(N[s] * np.log(P[s])).sum() / N.size), "not by the number of cells V \\* V"),
        (loss_with(lambda N, P, s: -(N[s] * np.log(P[s])).sum() / len(N)), r"not by V \(the number of rows\)"),
        (loss_with(lambda N, P, s: -(N[s] * np.log(P[s])).sum() / (N.sum(axis=1) > 0).sum()), "rows used"),
        (loss_with(lambda N, P, s: np.mean([-(r[r > 0] * np.log(r[r > 0] / r.sum())).sum() / r.sum()
                                            for r in N if r.sum() > 0])), "weight each row by how often"),
        (loss_with(lambda N, P, s: (N[s] * np.log(P[s])).sum() / N.sum()), "a positive number"),
        (loss_with(lambda N, P, s: np.exp(-(N[s] * np.log(P[s])).sum() / N.sum())), "that is the perplexity"),
        (loss_with(lambda N, P, s: -(N * np.log((N + 1) / (N.sum(axis=1, keepdims=True) + len(N)))).sum() / N.sum()),
         "use the unsmoothed counts"),
        (loss_in_place, "changed the counts it was given"),
        (lambda N: str(loss_numpy(N)), "should be one number"),
        (lambda N: round(float(loss_numpy(N)), 3), "rounded to 3 decimals"),
        (lambda N: float(loss_numpy(N)) * 1, None),  # right: a control
    ],
)
def test_count_model_loss_names_the_mistake(wrong: Any, why: str | None) -> None:
    if why is None:
        checks.ch04_count_model_loss(wrong)
        return
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch04_count_model_loss(wrong)


# --- 04.4 mlp_parameter_count -------------------------------------------------------------------------------


def count_by_torch(V: int, context: int, d: int, hidden: int) -> int:
    """Count the parameters of a model built the exercise's way."""
    layers = [torch.nn.Embedding(V, d), torch.nn.Linear(context * d, hidden), torch.nn.Linear(hidden, V)]
    return sum(p.numel() for layer in layers for p in layer.parameters())


@pytest.mark.parametrize("right", [
    lambda V, c, d, h: V * d + c * d * h + h + h * V + V,
    lambda V, c, d, h: np.int64(V * d + (c * d + 1) * h + (h + 1) * V),
    lambda V, c, d, h: torch.tensor(V * d + (c * d + 1) * h + (h + 1) * V),
    count_by_torch,
])
def test_mlp_parameter_count_accepts_right_answers(right: object, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch04_mlp_parameter_count(right)  # type: ignore[arg-type]
    assert out_of(capsys).startswith("✓ exercise 04.4 (mlp_parameter_count) passed: ")


def count_package(V: int, context: int, d: int, hidden: int) -> int:
    from lmcourse.models import MLPLM

    return sum(p.numel() for p in MLPLM(V, context, d, hidden).parameters())


def right_count(V: int, c: int, d: int, h: int) -> int:
    return V * d + c * d * h + h + h * V + V


@pytest.mark.parametrize(
    "wrong,why",
    [
        (count_package, r"counts V rows of the embedding table(.|\n)*MLPLM adds one more row"),
        (lambda V, c, d, h: V * d + c * d * h + h * V, "count the biases too"),
        (lambda V, c, d, h: right_count(V, c, d, h) - h, "hidden layer's bias b1"),
        (lambda V, c, d, h: right_count(V, c, d, h) - V, "output layer's bias b2"),
        (lambda V, c, d, h: c * V * d + c * d * h + h + h * V + V, "one embedding table, V \\* d, shared"),
        (lambda V, c, d, h: V * d + d * h + h + h * V + V, r"not d x H"),
        (lambda V, c, d, h: right_count(V, c, d, h) + h * V, "count the output layer's weight once"),
        (lambda V, c, d, h: right_count(V, c, d, h) - V * d, "count the embedding table too"),
        (lambda V, c, d, h: right_count(V, c, d, h) + c * d * V, "no direct connection"),
        (lambda V, c, d, h: float(right_count(V, c, d, h)), r"should be an int(.|\n)*a float: return an int"),
        (lambda V, c, d, h: np.float64(right_count(V, c, d, h)), r"a float64: return an int"),
        (lambda V, c, d, h: right_count(V, c, d, h) + 1, r"add the embedding table V \* d = 300"),
        (lambda V, c, d, h: str(right_count(V, c, d, h)), "should be one number"),
        (lambda V, c, d, h: right_count(V, c, d, h) * 1, None),  # right: a control
    ],
)
def test_mlp_parameter_count_names_the_mistake(wrong: Any, why: str | None) -> None:
    if why is None:
        checks.ch04_mlp_parameter_count(wrong)
        return
    with pytest.raises(checks.CheckFailed, match=why):
        checks.ch04_mlp_parameter_count(wrong)


# --- all four ------------------------------------------------------------------------------------------------


def test_mistakes_made_in_float32_are_named_too() -> None:
    def sign_flipped32(z: Any, t: Any) -> torch.Tensor:
        z32, t64 = torch.as_tensor(z).float(), torch.as_tensor(t)
        return (F.one_hot(t64, z32.shape[1]).float() - torch.softmax(z32, 1)) / len(t64)

    def relu32(ids: Any, *weights: Any) -> torch.Tensor:
        E, W1, b1, W2, b2 = (torch.as_tensor(w).float() for w in weights)
        return torch.relu(E[torch.as_tensor(ids)].flatten(1) @ W1 + b1) @ W2 + b2

    def bits32(N: Any) -> torch.Tensor:
        n = torch.as_tensor(np.asarray(N)).float()
        return -torch.xlogy(n, n / n.sum(1, keepdim=True).clamp(min=1)).sum() / n.sum() / math.log(2)

    with pytest.raises(checks.CheckFailed, match="the sign is flipped"):
        checks.ch04_softmax_ce_grad(sign_flipped32)
    with pytest.raises(checks.CheckFailed, match="not relu"):
        checks.ch04_mlp_logits(relu32)
    with pytest.raises(checks.CheckFailed, match="that is the loss in bits"):
        checks.ch04_count_model_loss(bits32)
