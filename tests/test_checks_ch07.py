"""The checkers of chapter 07 (attention) accept every right answer and name each typical mistake."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from checker_cases import expect, stub

from lmcourse import checks
from lmcourse.attention import scaled_dot_product_attention
from lmcourse.checks import ch07 as ch07_checks


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


@pytest.mark.parametrize("name", ["ch07_attention_row", "ch07_causal_attention", "ch07_split_heads",
                                  "ch07_score_spread"])
def test_a_stub_is_reported_as_still_open(name: str) -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 07.\d \(\w+\): stub is still the stub"):
        getattr(checks, name)(stub)


# --- 07.1 attention_row -------------------------------------------------------------------------------------------


def row_torch(q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    weights = torch.softmax(K @ q / math.sqrt(q.shape[0]), dim=0)
    return weights, weights @ V


def row_numpy(q: Any, K: Any, V: Any) -> tuple[np.ndarray, np.ndarray]:
    q, K, V = np.asarray(q), np.asarray(K), np.asarray(V)
    s = K @ q / np.sqrt(len(q))
    w = np.exp(s - s.max())
    w = w / w.sum()
    return w, w @ V


def row_numpy_on_tensors(q: Any, K: Any, V: Any) -> tuple[Any, Any]:
    """numpy functions applied to the tensors as they are (no conversion), with q @ K.T for the scores."""
    s = q @ K.T / np.sqrt(q.shape[-1])
    w = np.exp(s) / np.exp(s).sum()
    return w, w @ V


def row_lists(q: Any, K: Any, V: Any) -> list[list[float]]:
    w, out = row_torch(q.double(), K.double(), V.double())
    return [w.tolist(), out.tolist()]


def row_package(q: Any, K: Any, V: Any) -> tuple[torch.Tensor, torch.Tensor]:
    out, w = scaled_dot_product_attention(q[None], K, V)
    return w[0], out[0]


def row_einsum_float32(q: Any, K: Any, V: Any) -> tuple[torch.Tensor, torch.Tensor]:
    q, K, V = q.float(), K.float(), V.float()
    w = F.softmax(torch.einsum("d,td->t", q, K) * q.shape[0] ** -0.5, dim=-1)
    return w, torch.einsum("t,tv->v", w, V)


@pytest.mark.parametrize("right", [row_torch, row_numpy, row_numpy_on_tensors, row_lists, row_package,
                                   row_einsum_float32])
def test_attention_row_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch07_attention_row(right)
    assert out_of(capsys).startswith("✓ exercise 07.1 (attention_row) passed: weights = softmax(K q / sqrt(d))")


def row_wrong(scale: str = "sqrt", norm: str = "softmax", values: str = "V", swap: bool = False) -> Any:
    """A wrong attention_row as a learner writes it, in torch."""

    def attention_row(q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = q.shape[0]
        s = K @ q / {"sqrt": math.sqrt(d), "none": 1.0, "d": d}[scale]
        w = {"softmax": torch.softmax(s, dim=0), "sum": s / s.sum(), "exp": torch.exp(s)}[norm]
        out = w @ (V if values == "V" else K)
        return (out, w) if swap else (w, out)

    return attention_row


def row_in_place(q: torch.Tensor, K: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    q /= math.sqrt(q.shape[0])  # scales the caller's q
    w = torch.softmax(K @ q, dim=0)
    return w, w @ V


@pytest.mark.parametrize(
    "wrong,why",
    [
        (row_wrong(scale="none"), r"weights(.|\n)*divide the scores by sqrt\(d\) before the softmax"),
        (row_wrong(scale="d"), r"divide the scores by sqrt\(d\), not by d"),
        (row_wrong(norm="sum"), r"normalise with the softmax, exp\(s\) / exp\(s\).sum\(\), not s / s.sum\(\)"),
        (row_wrong(norm="exp"), r"normalise the weights(.|\n)*Yours are exp\(s\) alone"),
        (row_wrong(values="K"), r"out: wrong shape(.|\n)*shape \(5,\)(.|\n)*shape \(8,\)(.|\n)*mixes the VALUES"),
        (row_wrong(swap=True), r"weights: wrong shape(.|\n)*in the order \(weights, out\)"),
        (lambda q, K, V: row_torch(q, K, V)[0], r"should return the pair(.|\n)*that is the weights alone"),
        (lambda q, K, V: row_torch(q, K, V)[1], r"that is the output alone"),
        (lambda q, K, V: (*row_torch(q, K, V), 0), r"return exactly two things(.|\n)*a tuple of 3"),
        (lambda q, K, V: (q @ K, None), r"raised RuntimeError(.|\n)*the scores are K @ q"),
        (lambda q, K, V: tuple(torch.round(t.double(), decimals=2) for t in row_torch(q, K, V)),
         "don't round: this is weights rounded to 2 decimals"),
        (lambda q, K, V: (row_torch(q, K, V)[0] * 1.01, row_torch(q, K, V)[1]), r"Yours sum to 1.01"),
        (row_in_place, r"changed q(.|\n)*don't modify them"),
        (lambda q, K, V: row_torch(q, K, V), None),  # right: a control
    ],
)
def test_attention_row_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch07_attention_row, wrong, why)


def test_attention_row_float32_tolerance_is_honest() -> None:
    checks.ch07_attention_row(row_einsum_float32)
    with pytest.raises(checks.CheckFailed):
        checks.ch07_attention_row(lambda q, K, V: tuple(t * (1 + 3e-4) for t in row_torch(q, K, V)))


# --- 07.2 causal_attention ----------------------------------------------------------------------------------------


def causal_masked_fill(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    T, d = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v


def causal_additive(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    T = q.shape[-2]
    bias = torch.full((T, T), float("-inf"), dtype=q.dtype).triu(1)
    return F.softmax(q @ k.mT / q.shape[-1] ** 0.5 + bias, dim=-1) @ v


def causal_renormalised(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> np.ndarray:
    """The mask after the softmax, but the rows renormalised: the same weights, in numpy."""
    q, k, v = (np.asarray(t, dtype=np.float64) for t in (q, k, v))
    w = np.exp(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]))
    w = w * np.tril(np.ones(w.shape[-2:]))
    return (w / w.sum(-1, keepdims=True)) @ v


@pytest.mark.parametrize("right", [
    causal_masked_fill, causal_additive, causal_renormalised,
    lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
    lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True)[0],
    lambda q, k, v: causal_masked_fill(q.float(), k.float(), v.float()).tolist(),
])
def test_causal_attention_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch07_causal_attention(right)
    assert out_of(capsys).startswith("✓ exercise 07.2 (causal_attention) passed: the output matches is_causal=True")


def causal_wrong(keep: str = "tril", fill: float = float("-inf"), after: bool = False, scale: bool = True) -> Any:
    """A wrong causal_attention as a learner writes it: ``keep`` the triangle allowed ("tril", "triu", "triu1",
    "tril-1", "tril+1" or "all"), ``fill`` the value of a blocked score, ``after`` zeroes the weights instead."""

    def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        T, d = q.shape[-2], q.shape[-1]
        scores = q @ k.transpose(-2, -1)
        if scale:
            scores = scores / math.sqrt(d)
        ones = torch.ones(T, T)
        allowed = {"tril": ones.tril(), "triu": ones.triu(), "triu1": ones.triu(1), "tril-1": ones.tril(-1),
                   "tril+1": ones.tril(1), "all": ones}[keep]
        if after:
            return torch.softmax(scores, dim=-1) * allowed @ v
        return torch.softmax(scores.masked_fill(allowed == 0, fill), dim=-1) @ v

    return causal_attention


def causal_the_chapters_bug(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The chapter's buggy causal attention, as shown: the masked scores set to 0."""
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5
    mask = torch.tril(torch.ones(T, T))
    scores = scores * mask  # "removes" the future
    return torch.softmax(scores, dim=-1) @ v


def causal_with_k_T(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    T = q.shape[0]
    scores = (q @ k.T) / math.sqrt(q.shape[-1])
    return torch.softmax(scores.masked_fill(torch.ones(T, T).triu(1).bool(), float("-inf")), -1) @ v


def causal_in_place(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    q.div_(math.sqrt(q.shape[-1]))
    T = q.shape[-2]
    return torch.softmax((q @ k.transpose(-2, -1)).masked_fill(torch.ones(T, T).triu(1).bool(), -math.inf), -1) @ v


@pytest.mark.parametrize(
    "wrong,why",
    [
        (causal_wrong(fill=0.0), r"a masked score of 0 is not 'no attention'(.|\n)*-inf"),
        (causal_the_chapters_bug, r"a masked score of 0 is not 'no attention'"),
        (causal_wrong(keep="all"), r"mask the future: query t may attend to keys 0..t only"),
        (causal_wrong(keep="triu"), r"keeps the wrong triangle: each position sees itself and the FUTURE"),
        (causal_wrong(keep="triu1"), r"each position sees only the FUTURE(.|\n)*nan"),
        (causal_wrong(keep="tril-1"), r"the diagonal is masked too(.|\n)*nan"),
        (causal_wrong(after=True), r"mask the SCORES before the softmax(.|\n)*no\s+longer sum to 1"),
        (causal_wrong(scale=False), r"divide the scores by sqrt\(d\)"),
        (causal_wrong(keep="tril+1"), r"the future leaks: changing q, k and v at the positions after 0 changes your "
                                      r"output at\s+position 0"),
        (lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True),
         r"should return the output only(.|\n)*not \(out, weights\)"),
        (causal_with_k_T, r"raised RuntimeError(.|\n)*\(B, H, T, d\)(.|\n)*k.T reverses them all"),
        (causal_in_place, r"changed q(.|\n)*don't modify them"),
        (lambda q, k, v: torch.round(causal_masked_fill(q, k, v).double(), decimals=3),
         r"don't round(.|\n)*3 decimals"),
        (lambda q, k, v: causal_masked_fill(q, k, v) + 1e-3, r"scores = q @ k.transpose\(-2, -1\) / sqrt\(d\)"),
        (lambda q, k, v: causal_masked_fill(q, k, v).transpose(-2, -1), r"wrong shape|not their layout"),
        (causal_masked_fill, None),  # right: a control
    ],
)
def test_causal_attention_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch07_causal_attention, wrong, why)


def test_causal_cases_are_2d_then_batched() -> None:
    shapes = [tuple(args[0].shape) for _, args in ch07_checks._causal_cases()]
    assert shapes == [(6, 8), (2, 3, 5, 4), (2, 9, 4)]


# --- 07.3 split_heads ---------------------------------------------------------------------------------------------


def split_view(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    B, T, E = x.shape
    return x.view(B, T, num_heads, E // num_heads).transpose(1, 2)


def split_chunks(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    return torch.stack(x.chunk(num_heads, dim=-1), dim=1)


def split_numpy(x: Any, num_heads: int) -> np.ndarray:
    a = np.asarray(x)
    B, T, E = a.shape
    return a.reshape(B, T, num_heads, E // num_heads).transpose(0, 2, 1, 3)


@pytest.mark.parametrize("right", [
    split_view, split_chunks, split_numpy,
    lambda x, H: x.unflatten(-1, (H, -1)).permute(0, 2, 1, 3).contiguous(),
    lambda x, H: split_view(x, H).tolist(),
])
def test_split_heads_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch07_split_heads(right)
    assert out_of(capsys).startswith("✓ exercise 07.3 (split_heads) passed: head h holds the columns h*d:(h+1)*d")


def split_in_place(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    out = split_view(x, num_heads).clone()
    x.zero_()
    return out


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda x, H: x.reshape(x.shape[0], H, x.shape[1], x.shape[2] // H),
         r"head 0 at position 1(.|\n)*a reshape only re-reads the\s+memory in order"),
        (lambda x, H: x.view(x.shape[0], x.shape[1], H, x.shape[2] // H),
         r"wrong shape(.|\n)*\(2, 3, 5, 4\) = \(B, H, T, d\)(.|\n)*\(2, 5, 3, 4\)(.|\n)*add\s+.transpose\(1, 2\)"),
        (lambda x, H: x.view(x.shape[0], x.shape[1], x.shape[2] // H, H).permute(0, 3, 1, 2),
         r"head 0 at position 0(.|\n)*every H-th column"),
        (lambda x, H: split_view(x, H).transpose(2, 3), r"wrong shape(.|\n)*Yours is \(B, H, d, T\)"),
        (split_in_place, r"changed x(.|\n)*don't modify them"),
        (lambda x, H: split_view(x, H).tolist()[0], r"wrong shape"),
        (lambda x, H: "heads", r"should return an array of numbers"),
        (split_view, None),  # right: a control
    ],
)
def test_split_heads_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch07_split_heads, wrong, why)


def test_split_cases_have_distinct_sizes() -> None:
    for _, (x, H) in ch07_checks._split_cases():
        B, T, E = x.shape
        assert len({B, T, H, E // H}) == 4 and E % H == 0


# --- 07.4 score_spread --------------------------------------------------------------------------------------------


def spread_by_sampling(d: int) -> float:
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(40_000, d, generator=gen), torch.randn(40_000, d, generator=gen)
    return (q * k).sum(dim=1).std().item()


def spread_numpy_sampling(d: int) -> np.float64:
    rng = np.random.default_rng(1)
    return np.std(np.einsum("nd,nd->n", rng.standard_normal((30_000, d)), rng.standard_normal((30_000, d))))


@pytest.mark.parametrize("right", [math.sqrt, lambda d: d ** 0.5, lambda d: torch.tensor(float(d)).sqrt(),
                                   spread_by_sampling, spread_numpy_sampling, lambda d: np.sqrt(d)])
def test_score_spread_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch07_score_spread(right)
    assert out_of(capsys).startswith("✓ exercise 07.4 (score_std) passed: the scores q . k spread like sqrt(d)")


@pytest.mark.parametrize(
    "wrong,why",
    [
        (lambda d: d, r"score_std\(16\)(.|\n)*expected: 4.0\n  got:      16.0(.|\n)*that is the variance"),
        (lambda d: float((torch.randn(20_000, d) * torch.randn(20_000, d)).sum(1).var()), "that is the variance"),
        (lambda d: 1.0, r"the spread of ONE product"),
        (lambda d: 1 / math.sqrt(d), r"that is 1/sqrt\(d\)"),
        (lambda d: 1.08 * math.sqrt(d), r"close, but not within 3%(.|\n)*draw more pairs"),
        (lambda d: float((torch.randn(20_000, d) * torch.randn(20_000, d)).sum(1).mean()), r"Var\(q . k\) = d"),
        (lambda d: str(math.sqrt(d)), "should be one number"),
        (lambda d: math.sqrt(d), None),  # right: a control
    ],
)
def test_score_spread_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch07_score_spread, wrong, why)


# --- all four -----------------------------------------------------------------------------------------------------


def test_mistakes_made_in_float64_numpy_are_named_too() -> None:
    def unscaled_numpy(q: Any, K: Any, V: Any) -> tuple[np.ndarray, np.ndarray]:
        q, K, V = np.asarray(q, dtype=np.float64), np.asarray(K, dtype=np.float64), np.asarray(V, dtype=np.float64)
        w = np.exp(K @ q) / np.exp(K @ q).sum()
        return w, w @ V

    def zero_fill_numpy(q: Any, k: Any, v: Any) -> np.ndarray:
        q, k, v = np.asarray(q), np.asarray(k), np.asarray(v)
        s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
        s = np.where(np.tril(np.ones(s.shape[-2:])) == 1, s, 0.0)
        e = np.exp(s)
        return e / e.sum(-1, keepdims=True) @ v

    with pytest.raises(checks.CheckFailed, match="divide the scores by sqrt"):
        checks.ch07_attention_row(unscaled_numpy)
    with pytest.raises(checks.CheckFailed, match="a masked score of 0"):
        checks.ch07_causal_attention(zero_fill_numpy)


def test_the_checkers_are_fast() -> None:
    import time

    for check, right in ((checks.ch07_attention_row, row_torch), (checks.ch07_causal_attention, causal_masked_fill),
                         (checks.ch07_split_heads, split_view), (checks.ch07_score_spread, math.sqrt)):
        start = time.perf_counter()
        check(right)
        assert time.perf_counter() - start < 1.0
    start = time.perf_counter()
    with pytest.raises(checks.CheckFailed):
        checks.ch07_causal_attention(causal_wrong(keep="tril+1"))  # the leak search calls the answer T - 1 more times
    assert time.perf_counter() - start < 1.0


def test_a_mask_of_a_fixed_size_is_caught_and_named() -> None:
    allowed = torch.ones(6, 6, dtype=torch.bool).tril()  # section 4's mask, reused

    def fixed_size(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        T = q.shape[-2]
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        return torch.softmax(scores.masked_fill(~allowed[:T, :T], float("-inf")), dim=-1) @ v

    with pytest.raises(checks.CheckFailed, match=r"T = q.shape\[-2\], not a fixed size"):
        checks.ch07_causal_attention(fixed_size)
