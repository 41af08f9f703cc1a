"""The checkers of chapter 10 (evaluation and decoding) accept every right answer and name each typical mistake."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from checker_cases import expect, stub

from lmcourse import checks
from lmcourse.checks import ch10 as ch10_checks


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


@pytest.mark.parametrize("name", ["ch10_convert", "ch10_top_p", "ch10_ece", "ch10_repetition"])
def test_a_stub_is_reported_as_still_open(name: str) -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 10.\d \(\w+\): stub is still the stub"):
        getattr(checks, name)(stub)


def test_the_checkers_leave_every_random_stream_alone() -> None:
    torch.manual_seed(0)
    np.random.seed(0)
    before = torch.get_rng_state(), np.random.get_state()[1].copy()
    checks.ch10_top_p(top_p_torch)
    checks.ch10_ece(ece_numpy)
    assert torch.equal(torch.get_rng_state(), before[0]) and np.array_equal(np.random.get_state()[1], before[1])


# --- 10.1 convert -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("right", [
    lambda x: (x / math.log(2), math.exp(x)),
    lambda x: [x * math.log2(math.e), 2 ** (x / math.log(2))],
    lambda x: (np.float64(x) / np.log(2), np.exp(np.float64(x))),
    lambda x: (torch.tensor(x) / math.log(2), torch.exp(torch.tensor(x))),  # float32 tensors
    lambda x: np.array([x / np.log(2), np.exp(x)]),
])
def test_convert_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch10_convert(right)
    assert out_of(capsys).startswith("✓ exercise 10.1 (convert) passed: bits = nats / ln 2")


@pytest.mark.parametrize("wrong,why", [
    (lambda x: (x / math.log(10), math.exp(x)), r"Yours divides by ln 10"),
    (lambda x: (math.log10(math.exp(x)), math.exp(x)), r"Yours divides by ln 10"),
    (lambda x: (x * math.log(2), math.exp(x)), r"divide by ln 2, don't multiply"),
    (lambda x: (x / math.log10(2), math.exp(x)), r"math\.log10\(2\) = 0\.301"),
    (lambda x: (x / math.log(2), 2 ** x), r"Yours raises 2 to the nats"),
    (lambda x: (x / math.log(2), math.exp(x / math.log(2))), r"Yours raises e to the bits"),
    (lambda x: (x / math.log(10), 2 ** x), r"Yours divides by ln 10(.|\n)*Also: perplexity = e\^nats"),
    (lambda x: (math.exp(x), x / math.log(2)), r"in this order: the bits first"),
    (lambda x: x / math.log(2), r"should return two numbers, \(bits_per_char, perplexity\)(.|\n)*yours is a float"),
    (lambda x: (str(x / math.log(2)), math.exp(x)), r"should return two numbers"),
    (lambda x: (x / math.log(2), math.exp(x) + 0.5), r"hint:     bits = nats / ln 2 \(math\.log\(2\)\); perplexity"),
    (lambda x: (x / math.log(2), math.exp(x)), None),
])
def test_convert_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch10_convert, wrong, why)


# --- 10.2 top_p ---------------------------------------------------------------------------------------------------


def top_p_torch(probs: torch.Tensor, p: float) -> torch.Tensor:
    sorted_probs, order = torch.sort(probs, descending=True)
    before = torch.cumsum(sorted_probs, 0) - sorted_probs
    kept = torch.where(before < p, sorted_probs, torch.zeros_like(sorted_probs))
    out = torch.zeros_like(probs)
    out[order] = kept
    return out / out.sum()


def top_p_numpy_searchsorted(probs: torch.Tensor, p: float) -> np.ndarray:
    x = probs.numpy()
    order = np.argsort(-x)
    total = np.cumsum(x[order])
    n = min(int(np.searchsorted(total, p)) + 1, len(x))  # the first index where the total reaches p, included
    out = np.zeros_like(x)
    out[order[:n]] = x[order[:n]]
    return out / out.sum()


def top_p_loop(probs: torch.Tensor, p: float) -> list[float]:
    values = probs.tolist()
    total, kept = 0.0, set()
    for i in sorted(range(len(values)), key=lambda i: -values[i]):
        kept.add(i)
        total += values[i]
        if total >= p:  # the smallest set whose total reaches p: > would keep one too many where a total lands on p
            break
    mass = sum(values[i] for i in kept)
    return [v / mass if i in kept else 0.0 for i, v in enumerate(values)]


def top_p_via_package(probs: torch.Tensor, p: float) -> torch.Tensor:
    from lmcourse.sampling import top_p_logits

    return torch.softmax(top_p_logits(probs.log(), p), dim=-1)


def test_top_p_cases_have_no_ties_and_no_total_near_p_but_the_last() -> None:
    from lmcourse.sampling import top_p_logits

    cases = ch10_checks._top_p_cases()
    *random, (_, (exact, p)) = cases
    assert exact.dtype == torch.float64 and p == 0.75 and exact.sum() == 1 and not torch.equal(exact, exact.sort(
        descending=True).values)
    assert float(torch.sort(exact, descending=True).values[:2].sum()) == p  # lands on p, exactly
    kept = torch.softmax(top_p_logits(exact.log(), p), dim=-1)  # the reference: those two tokens, and no third
    assert kept.tolist() == [0.0, 2 / 3, 0.0, 1 / 3, 0.0]
    assert (top_p_torch(exact.float(), p) > 0).sum() == 2  # float32 sums of these are exact too
    for _, (probs, p) in random:
        s = np.sort(probs.double().numpy())[::-1]
        assert len(np.unique(s)) == len(s)
        if p < 1:
            assert np.abs(np.cumsum(s) - p).min() > 1e-4
    assert max(cases[2][1][0]) > cases[2][1][1]  # the most likely token alone exceeds p


@pytest.mark.parametrize("right", [top_p_torch, top_p_numpy_searchsorted, top_p_loop, top_p_via_package,
                                   lambda probs, p: top_p_torch(probs.float(), p)])
def test_top_p_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch10_top_p(right)
    assert out_of(capsys).startswith("✓ exercise 10.2 (top_p_filter) passed: the smallest set of most likely tokens")


def nucleus(how: str) -> Any:
    def wrong(probs: torch.Tensor, p: float) -> Any:
        return ch10_checks._nucleus(probs, p, how)

    return wrong


def top_p_crossing_dropped_torch(probs: torch.Tensor, p: float) -> torch.Tensor:
    sorted_probs, order = torch.sort(probs, descending=True)
    kept = torch.where(torch.cumsum(sorted_probs, 0) < p, sorted_probs, torch.zeros_like(sorted_probs))
    out = torch.zeros_like(probs)
    out[order] = kept
    return out / out.sum()


def top_p_le_torch(probs: torch.Tensor, p: float) -> torch.Tensor:
    """Keeps a token while the mass before it is <= p: right except where a running total lands on p."""
    sorted_probs, order = torch.sort(probs, descending=True)
    before = torch.cumsum(sorted_probs, 0) - sorted_probs
    kept = torch.where(before <= p, sorted_probs, torch.zeros_like(sorted_probs))
    out = torch.zeros_like(probs)
    out[order] = kept
    return out / out.sum()


def top_p_in_place(probs: torch.Tensor, p: float) -> torch.Tensor:
    mask = top_p_torch(probs, p) == 0
    probs[mask] = 0.0
    probs /= probs.sum()
    return probs


@pytest.mark.parametrize("wrong,why", [
    (nucleus("crossing dropped"), r"keep the token that makes the running total reach p too"),
    (top_p_crossing_dropped_torch, r"keep the token that makes the running total reach p too"),
    (nucleus("unnormalised"), r"renormalise the kept probabilities"),
    (lambda probs, p: top_p_torch(probs, p) * probs[top_p_torch(probs, p) > 0].sum(), r"renormalise"),
    (nucleus("ascending"), r"sort the probabilities in DESCENDING order"),
    (nucleus("sorted"), r"put the kept probabilities back in vocabulary order"),
    (nucleus("kept only"), r"wrong shape(.|\n)*return the whole vector of V probabilities"),
    (top_p_in_place, r"changed probs(.|\n)*don't modify them \(probs changed\)"),
    (lambda probs, p: top_p_torch(probs, p if p < 1 else 1 - 2 * float(probs.min())),
     r"p=1\.0\)(.|\n)*with p = 1 every token is kept(.|\n)*Yours drops 1 token"),
    (lambda probs, p: top_p_torch(probs, p).tolist()[:3], r"wrong shape"),
    (nucleus("at most p"), r"5 tokens, float64(.|\n)*with <= you keep one too many when the running total lands "
                           r"exactly on p"),
    (lambda probs, p: top_p_le_torch(probs.float(), p), r"p=0\.75: the running total 0\.5 \+ 0\.25 lands exactly on "
                                                        r"p\)(.|\n)*a token is kept while the mass before it is < p"),
    (lambda probs, p: "nucleus", r"should return an array of probabilities"),
    (lambda probs, p: top_p_torch(probs, min(1.0, p + 0.05)), r"hint:     sort the probabilities in descending order; "
                                                              r"keep a token while"),
    (top_p_torch, None),
])
def test_top_p_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch10_top_p, wrong, why)


# --- 10.3 ece -----------------------------------------------------------------------------------------------------


def ece_numpy(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    b = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for k in range(bins):
        inside = b == k
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return total


def ece_guo(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Guo et al.'s code: bins (lo, hi], in float32 torch."""
    conf, acc = torch.as_tensor(confidence, dtype=torch.float32), torch.as_tensor(correct).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = torch.zeros(1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        share = inside.float().mean()
        if share > 0:
            ece += torch.abs(acc[inside].mean() - conf[inside].mean()) * share
    return ece  # a one-element tensor


def ece_digitize(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> np.float32:
    edges = np.linspace(0, 1, bins + 1)
    b = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(b, minlength=bins)
    conf = np.bincount(b, weights=confidence, minlength=bins)
    hits = np.bincount(b, weights=correct, minlength=bins)
    seen = counts > 0
    return np.float32(np.sum(np.abs(hits[seen] - conf[seen])) / len(confidence))


@pytest.mark.parametrize("right", [ece_numpy, ece_guo, ece_digitize,
                                   lambda c, k, bins=10: __import__("lmcourse.evaluate").evaluate.calibration(
                                       c, k, bins).ece])
def test_ece_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch10_ece(right)
    assert out_of(capsys).startswith("✓ exercise 10.3 (ece) passed: ECE = sum over the bins")


def ece_mistake(how: str) -> Any:
    def wrong(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
        return ch10_checks._ece_by(confidence, correct, bins, how)

    return wrong


def ece_half_open_loop(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence >= lo) & (confidence < hi)  # 1.0 falls in no bin
        if inside.any():
            total += inside.sum() / len(confidence) * abs(correct[inside].mean() - confidence[inside].mean())
    return total


def ece_sorting_in_place(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    confidence.sort()
    return 0.0


@pytest.mark.parametrize("wrong,why", [
    (ece_mistake("unweighted"), r"Yours is the plain mean of the bins' gaps"),
    (ece_mistake("empty as zeros"), r"divides by\s+the number of bins"),
    (ece_mistake("no abs"), r"just mean\(correct\) - mean\(confidence\)"),
    (ece_mistake("no abs, conf - acc"), r"just mean\(confidence\) - mean\(correct\)"),
    (ece_mistake("global"), r"bin the predictions first"),
    (lambda c, k, bins=10: abs(float(np.mean(k)) - float(np.mean(c))), r"bin the predictions first"),
    (ece_mistake("per sample"), r"average within each bin first"),
    (lambda c, k, bins=10: float(np.mean(np.abs(k - c))), r"average within each bin first"),
    (ece_mistake("bins-1"), r"np\.linspace\(0, 1, bins\) gives\s+bins - 1 bins"),
    (ece_mistake("1.0 not binned"), r"With\s+bins \[lo, hi\) the predictions at 1\.0 fall in no bin"),
    (ece_half_open_loop, r"the predictions at 1\.0 fall in no bin"),
    (ece_mistake("1.0 left out"), r"yours\s+leaves those predictions out"),
    (ece_mistake("max"), r"that is the maximum calibration error"),
    (lambda c, k, bins=10: ece_numpy(c, k), r"bins=15\)(.|\n)*your result does not change with bins \(the same for "
                                            r"bins=15 and bins=10\): use the bins\s+argument"),
    (lambda c, k, bins=10: ece_numpy(c, k, 12), r"left at its default, 10\)(.|\n)*your result does not change with "
                                                r"bins \(the same for bins=10 and bins=15\)"),
    (lambda c, k, bins=5: ece_numpy(c, k, bins), r"give bins the default 10"),
    (lambda c, k, bins: ece_numpy(c, k, bins), r"give bins the default 10"),
    (ece_sorting_in_place, r"changed confidence(.|\n)*don't modify them"),
    (lambda c, k, bins=10: [ece_numpy(c, k, bins)] * 2, r"should be one number"),
    (lambda c, k, bins=10: ece_numpy(c, k, bins) * 1.1, r"hint:     bin b = min\(floor\(c \* bins\), bins - 1\)"),
    (ece_numpy, None),
])
def test_ece_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch10_ece, wrong, why)


def test_ece_cases_have_no_confidence_on_an_inner_edge() -> None:
    for _, args in ch10_checks._ece_cases():
        c = np.asarray(args[0], dtype=np.float64)
        inner = c[c < 1]
        for bins in (4, 5, 9, 10, 14, 15):
            assert np.abs(inner * bins - np.round(inner * bins)).min() > 1e-4
        assert ((c > 0) & (c <= 1)).all()


# --- 10.4 repetition penalty --------------------------------------------------------------------------------------


def penalty_loop(logits: torch.Tensor, previous_ids: list[int], penalty: float) -> torch.Tensor:
    out = logits.clone()
    for i in set(previous_ids):
        out[i] = out[i] / penalty if out[i] > 0 else out[i] * penalty
    return out


def penalty_vectorised(logits: torch.Tensor, previous_ids: list[int], penalty: float) -> torch.Tensor:
    idx = torch.tensor(sorted(set(previous_ids)), dtype=torch.long)
    seen = logits[idx]
    return logits.index_put((idx,), torch.where(seen > 0, seen / penalty, seen * penalty))


def penalty_numpy(logits: torch.Tensor, previous_ids: list[int], penalty: float) -> np.ndarray:
    x = logits.numpy().copy()
    ids = np.unique(np.array(previous_ids, dtype=np.int64))
    x[ids] = np.where(x[ids] > 0, x[ids] / penalty, x[ids] * penalty)
    return x


@pytest.mark.parametrize("right", [penalty_loop, penalty_vectorised, penalty_numpy,
                                   lambda logits, ids, penalty: penalty_loop(logits, ids, penalty).tolist()])
def test_repetition_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch10_repetition(right)
    assert out_of(capsys).startswith("✓ exercise 10.4 (apply_penalty) passed: each distinct previous token's logit")


def penalised(how: str) -> Any:
    def wrong(logits: torch.Tensor, previous_ids: list[int], penalty: float) -> Any:
        return ch10_checks._penalised(logits, previous_ids, penalty, how)

    return wrong


def penalty_in_place(logits: torch.Tensor, previous_ids: list[int], penalty: float) -> torch.Tensor:
    for i in set(previous_ids):
        logits[i] = logits[i] / penalty if logits[i] > 0 else logits[i] * penalty
    return logits


def penalty_per_occurrence(logits: torch.Tensor, previous_ids: list[int], penalty: float) -> torch.Tensor:
    out = logits.clone()
    for i in previous_ids:
        out[i] = out[i] / penalty if out[i] > 0 else out[i] * penalty
    return out


def penalty_sorting_ids(logits: torch.Tensor, previous_ids: list[int], penalty: float) -> torch.Tensor:
    previous_ids.sort()
    return penalty_loop(logits, previous_ids, penalty)


@pytest.mark.parametrize("wrong,why", [
    (penalised("divide all"), r"dividing a NEGATIVE logit by the penalty"),
    (lambda logits, ids, penalty: logits.index_put((torch.tensor(sorted(set(ids)), dtype=torch.long),),
                                                   logits[sorted(set(ids))] / penalty), r"dividing a NEGATIVE logit"),
    (penalised("multiply all"), r"multiplying a POSITIVE logit"),
    (penalised("inverted"), r"the other way round"),
    (penalised("per occurrence"), r"penalise each token once(.|\n)*penalty \*\* count"),
    (penalty_per_occurrence, r"penalise each token once"),
    (penalised("per occurrence, divide all"), r"two things: penalise each distinct token once"),
    (penalised("every token"), r"penalise only the tokens in previous_ids"),
    (penalised("subtract log"), r"it does\s+not subtract log\(penalty\)"),
    (penalty_in_place, r"changed logits(.|\n)*don't modify them \(logits changed\)"),
    (penalty_sorting_ids, r"changed previous_ids"),
    (lambda logits, ids, penalty: penalty_loop(logits, ids, penalty)[:-1], r"wrong shape"),
    (lambda logits, ids, penalty: None, r"should return an array of logits"),
    (lambda logits, ids, penalty: penalty_loop(logits, ids, penalty * 1.1),
     r"hint:     for each distinct id in previous_ids: a logit x > 0 becomes x / penalty"),
    (penalty_loop, None),
])
def test_repetition_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch10_repetition, wrong, why)


def test_the_references_are_the_package_s() -> None:
    """The checkers compare with lmcourse.sampling and lmcourse.evaluate: the hand-written right answers above agree
    with them on the checkers' own inputs."""
    from lmcourse.evaluate import calibration
    from lmcourse.sampling import repetition_penalty

    for _, (logits, ids, penalty) in ch10_checks._penalty_cases():
        torch.testing.assert_close(penalty_loop(logits, ids, penalty), repetition_penalty(logits, ids, penalty))
    for _, args in ch10_checks._ece_cases():
        assert ece_numpy(*args) == pytest.approx(calibration(*args).ece, rel=1e-6)
