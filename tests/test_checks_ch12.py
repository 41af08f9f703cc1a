"""The checkers of chapter 12 (cost, scale and safety) accept every right answer and name each typical mistake."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
import torch
from checker_cases import expect, stub

from lmcourse import checks
from lmcourse.checks import ch12 as ch12_checks


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


@pytest.mark.parametrize("name", ["ch12_flops", "ch12_compute_optimal", "ch12_allreduce", "ch12_exposure",
                                  "ch12_log_odds", "ch12_newline_score"])
def test_a_stub_is_reported_as_still_open(name: str) -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 12.\d \(\w+\): stub is still the stub"):
        getattr(checks, name)(stub)


def test_the_checkers_leave_every_random_stream_alone() -> None:
    torch.manual_seed(0)
    np.random.seed(0)
    before = torch.get_rng_state(), np.random.get_state()[1].copy()
    checks.ch12_newline_score(score_loop)
    checks.ch12_log_odds(log_odds_get)
    with pytest.raises(checks.CheckFailed):
        checks.ch12_newline_score(lambda att, text: float(torch.rand(())))
    assert torch.equal(torch.get_rng_state(), before[0]) and np.array_equal(np.random.get_state()[1], before[1])


def test_every_mistake_differs_from_the_right_answer_and_from_the_others_somewhere() -> None:
    """Each typical mistake gives a wrong result on some case, and no two mistakes agree on every case (else the hint
    could name the wrong one)."""
    tables = [
        (ch12_checks._FLOPS_MISTAKES, ch12_checks._flops, [(c, t) for c, t, _ in ch12_checks._flops_cases()]),
        (ch12_checks._OPTIMAL_MISTAKES, ch12_checks._optimal, [(c,) for c in (1e15, 3.2e17, 5.76e23, 3.14e23)]),
        (ch12_checks._ALLREDUCE_MISTAKES, ch12_checks._allreduce,
         [(237_000, 2, 4), (124_000_000, 8, 2), (70_000_000_000, 1024, 2), (1000, 1, 4)]),
        (ch12_checks._EXPOSURE_MISTAKES, ch12_checks._exposure,
         [(1, 26 ** 4), (26 ** 4, 26 ** 4), (37, 26 ** 4), (5, 26 ** 3), (1000, 10 ** 6)]),
        (ch12_checks._LOG_ODDS_MISTAKES, ch12_checks._log_odds, ch12_checks._log_odds_cases()),
        (ch12_checks._NEWLINE_MISTAKES, ch12_checks._newline_score,
         [(a, t) for a, t, _ in ch12_checks._newline_maps()]),
    ]

    def differ(x: Any, y: Any) -> bool:
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        return x.shape != y.shape or not np.allclose(x, y, rtol=1e-4, atol=1e-6, equal_nan=True)

    for mistakes, right, cases in tables:
        for how, mistake in mistakes.items():
            assert any(differ(mistake(*args), right(*args)) for args in cases), how
        keys = list(mistakes)
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                assert any(differ(mistakes[a](*args), mistakes[b](*args)) for args in cases), (a, b)


# --- 12.1 training FLOPs per token --------------------------------------------------------------------------------


def flops_formula(config: Any, context: int) -> int:
    L, E, V, T = config.n_layer, config.n_embd, config.vocab_size, context
    return 3 * (2 * 12 * L * E ** 2 + 2 * 2 * L * T * E + 2 * V * E)


def flops_by_product(config: Any, context: int) -> float:
    """Every matrix product of one token's forward pass, m x k by k x n = 2 m k n, in floats; backward twice that."""
    E, T = float(config.n_embd), float(context)
    per_layer = sum(2 * k * n for k, n in [(E, 3 * E), (E, E), (E, 4 * E), (4 * E, E)]) + 2 * T * E + 2 * T * E
    forward = config.n_layer * per_layer + 2 * E * config.vocab_size
    return forward + 2 * forward


@pytest.mark.parametrize("right", [
    flops_formula, flops_by_product,
    lambda config, context: np.int64(flops_formula(config, context)),
    lambda config, context: np.float64(flops_formula(config, context)),
    lambda config, context: torch.tensor(float(flops_formula(config, context))),  # a 0-d float32 tensor
    lambda config, context: torch.tensor([flops_formula(config, context)]),  # one element
])
def test_flops_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch12_flops(right)
    assert out_of(capsys).startswith("✓ exercise 12.1 (training_flops) passed: 3 x (2 x 12 L E^2")


def flops(how: str) -> Any:
    return lambda config, context: ch12_checks._flops(config, context, how)


def no_attention(config: Any, context: int) -> int:
    L, E, V = config.n_layer, config.n_embd, config.vocab_size
    return 6 * 12 * L * E ** 2 + 6 * V * E


def head_only_if_untied(config: Any, context: int) -> int:
    L, E, V, T = config.n_layer, config.n_embd, config.vocab_size, context
    return 3 * (24 * L * E ** 2 + 4 * L * T * E + (0 if config.tie_weights else 2 * V * E))


@pytest.mark.parametrize("wrong,why", [
    (flops("forward"), r"vocab_size=70(.|\n)*expected: 3887616\n  got:      1295872\n(.|\n)*the forward pass alone"),
    (lambda c, t: flops_formula(c, t) // 3, r"Multiply the forward FLOPs by 3"),
    (flops("x2"), r"the backward pass costs TWICE the forward"),
    (flops("macs"), r"Yours counts the multiply-adds, half of it"),
    (lambda c, t: flops_formula(c, t) / 2, r"2 FLOPs per multiply-add"),
    (flops("no attention"), r"add the attention's own products"),
    (no_attention, r"the 6N rule of thumb, 6 \* 12 L E\^2 \+ 6 V E, ignores them"),
    (flops("causal half"), r"the causal mask sets half the\s+scores to -inf AFTER"),
    (flops("per sequence"), r"Yours has T \* T, the whole\s+sequence's attention"),
    (flops("no head"), r"add the output layer"),
    (flops("tied no head"), r"even when tie_weights is True: tying shares"),
    (head_only_if_untied, r"tying shares the embedding's PARAMETERS with the head, not its work"),
    (lambda c, t: 6 * c.n_params(), r"6 \* n_params\(\) is a rule of thumb, not the count"),
    (lambda c, t: 6 * 12 * c.n_layer * c.n_embd ** 2, r"Kaplan's 6N with N the non-embedding parameters"),
    (flops("head_dim"), r"Yours uses E \* head_dim"),
    (lambda c, t: 3 * (24 * c.n_layer * c.n_embd * c.head_dim + 4 * c.n_layer * t * c.n_embd
                       + 2 * c.vocab_size * c.n_embd), r"Yours uses E \* head_dim"),
    (flops("one head"), r"not 2 \* 2 \* L \* T \* head_dim"),
    (lambda c, t: flops_formula(c, c.block_size), r"n_layer=4(.|\n)*use context, the T the model reads here"),
    (flops("embedding"), r"the token embedding is a lookup"),
    (lambda c, t: str(flops_formula(c, t)), r"the result should be one number \(int or float\), not str"),
    (lambda c, t: None, r"the result should be one number \(int or float\), not NoneType"),
    (lambda c, t: torch.tensor([flops_formula(c, t)] * 2), r"should be one number \(int or float\), not Tensor"),
    (lambda c, t: flops_formula(c, t) + 1000, r"hint:     with L = config\.n_layer"),
    (lambda c, t: c.n_layr, r"raised AttributeError(.|\n)*TransformerConfig, context an int"),
    (flops_formula, None),
])
def test_flops_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch12_flops, wrong, why)


def test_flops_reference_is_what_torch_counts() -> None:
    """The formula counts every matrix product PyTorch runs in a training step (forward and backward), no more."""
    from torch.utils.flop_counter import FlopCounterMode

    from lmcourse.transformer import TransformerLM

    for config, context, _ in ch12_checks._flops_cases()[1:4:2]:  # one untied, one tied with sinusoidal positions
        model = TransformerLM(config)
        idx = torch.randint(0, config.vocab_size, (2, context), generator=torch.Generator().manual_seed(0))
        with FlopCounterMode(display=False) as counter:
            _, loss = model(idx, idx)
            loss.backward()
        assert counter.get_total_flops() == 2 * context * ch12_checks._flops(config, context)
    gpt2 = ch12_checks._flops_cases()[4][0]
    assert ch12_checks._flops(gpt2, 1024) == 854_438_400  # 0.85 GFLOPs per token


# --- 12.2 compute-optimal -----------------------------------------------------------------------------------------


def optimal(compute: float) -> tuple[float, float]:
    n = math.sqrt(compute / 120)
    return n, 20 * n


@pytest.mark.parametrize("right", [
    optimal,
    lambda c: list(optimal(c)),
    lambda c: ((c / 6 / 20) ** 0.5, c / (6 * (c / 6 / 20) ** 0.5)),
    lambda c: (int(optimal(c)[0]), 20 * int(optimal(c)[0])),  # whole parameters and tokens
    lambda c: np.array(optimal(c)),
    lambda c: torch.tensor(optimal(c)),  # float32
    lambda c: (torch.tensor(optimal(c)[0], dtype=torch.float64), np.float32(optimal(c)[1])),
])
def test_compute_optimal_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch12_compute_optimal(right)
    assert out_of(capsys).startswith("✓ exercise 12.2 (compute_optimal) passed: N = sqrt(C / 120), D = 20 N")


def optimal_wrong(how: str) -> Any:
    return lambda compute: ch12_checks._optimal(compute, how)


@pytest.mark.parametrize("wrong,why", [
    (optimal_wrong("swapped"), r"compute_optimal\(1e\+15\)(.|\n)*expected: \(2886751\.0, 57735030\.0\)\n  got:      "
                               r"\(57735030\.0, 2886751\.0\)(.|\n)*Yours are swapped"),
    (lambda c: optimal(c)[::-1], r"the parameters first"),
    (optimal_wrong("no sqrt"), r"take the square root"),
    (optimal_wrong("no 6"), r"Yours divides by 20 only \(the 6 is missing\)"),
    (optimal_wrong("2N"), r"2N FLOPs per token is the forward pass only; training costs 6N per token, so C = 6ND"),
    (lambda c: (math.sqrt(c / 2 / 20), 20 * math.sqrt(c / 2 / 20)), r"Yours takes C = 2 N D"),
    (optimal_wrong("no ratio"), r"as many tokens as parameters"),
    (optimal_wrong("no ratio, 20N"), r"Yours solves C = 6 N\^2"),
    (lambda c: (c / 120 ** 0.5, 20 * c / 120 ** 0.5), r"mind the brackets"),
    (optimal_wrong("D = C/6"), r"Yours is C / 6"),
    (lambda c: (optimal(c)[0], optimal(c)[0] / 20), r"20 tokens PER PARAMETER"),
    (lambda c: optimal(c)[0], r"should return two numbers, \(n_params, tokens\)(.|\n)*yours is n_params alone"),
    (lambda c: optimal(c)[1], r"yours is tokens alone"),
    (lambda c: (*optimal(c), 6 * c), r"should return two numbers(.|\n)*got:      a tuple of float"),
    (lambda c: str(optimal(c)), r"should return two numbers(.|\n)*got:      a str"),
    (lambda c: (optimal(c)[0], None), r"got:      a tuple of float and NoneType"),
    (lambda c: (optimal(c)[0] * 1.01, optimal(c)[1]), r"hint:     C = 6 N D and D = 20 N give C = 120 N\^2"),
    (optimal, None),
])
def test_compute_optimal_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch12_compute_optimal, wrong, why)


def test_compute_optimal_gives_chinchilla_s_numbers() -> None:
    n, d = ch12_checks._optimal(5.76e23)
    assert n == pytest.approx(6.93e10, rel=1e-3) and d == pytest.approx(1.386e12, rel=1e-3)
    assert 6 * n * d == pytest.approx(5.76e23)


# --- 12.3 all-reduce bytes ----------------------------------------------------------------------------------------


def ring(n_params: int, world_size: int, bytes_per_value: int) -> float:
    return 2 * (world_size - 1) / world_size * n_params * bytes_per_value


@pytest.mark.parametrize("right", [
    ring,
    lambda n, p, b: 2 * (p - 1) * n * b // p,  # exact in ints here
    lambda n, p, b: np.float64(ring(n, p, b)),
    lambda n, p, b: torch.tensor(ring(n, p, b)),  # float32: 2.797e11 to 7 digits
    lambda n, p, b: 0 if p == 1 else 2 * (p - 1) * (n * b / p),
])
def test_allreduce_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch12_allreduce(right)
    assert out_of(capsys).startswith("✓ exercise 12.3 (allreduce_bytes) passed: 2 (p - 1) / p N b per worker")


def allreduce(how: str) -> Any:
    return lambda *args: ch12_checks._allreduce(*args, how=how)


@pytest.mark.parametrize("wrong,why", [
    (allreduce("half"), r"world_size=2(.|\n)*expected: 948000\n  got:      474000\n(.|\n)*the reduce-scatter alone"),
    (allreduce("N b"), r"world_size=8(.|\n)*That is N b only for p = 2"),
    (lambda n, p, b: n * b, r"reduce-scatter and all-gather each send"),
    (allreduce("2 N b"), r"2 N b is the limit for many workers"),
    (allreduce("bits"), r"count BYTES(.|\n)*Yours is 8 times\s+that"),
    (lambda n, p, b: 8 * ring(n, p, b), r"the bits"),
    (allreduce("naive"), r"the naive exchange"),
    (allreduce("not divided"), r"divide by p: in a ring"),
    (allreduce("values"), r"world_size=2(.|\n)*expected: 948000\n  got:      237000\n(.|\n)*multiply by "
                          r"bytes_per_value: the answer is in bytes, not values"),
    (lambda n, p, b: 2 * (p - 1) / p * n, r"multiply by bytes_per_value"),
    (allreduce("sent and received"), r"count what one worker sends; it receives as much again"),
    (lambda n, p, b: 2 * ring(n, p, b), r"Yours is 4 \(p - 1\) / p N b, what\s+it sends and receives"),
    (lambda n, p, b: n * b if p == 1 else ring(n, p, b),
     r"world_size=1(.|\n)*expected: 0\n  got:      4000\n(.|\n)*with world_size = 1 there is no one"),
    (lambda n, p, b: 2 * (p - 1) / p * n * b / (p - 1) * (p - 1),
     r"raised ZeroDivisionError(.|\n)*with world_size = 1"),
    (lambda n, p, b: f"{ring(n, p, b)} bytes", r"should be one number \(int or float\), not str"),
    (lambda n, p, b: ring(n, p, b) * 1.001, r"hint:     each worker sends 2 \* \(world_size - 1\)"),
    (ring, None),
])
def test_allreduce_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch12_allreduce, wrong, why)


# --- 12.4 exposure ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("right", [
    lambda rank, n: math.log2(n) - math.log2(rank),
    lambda rank, n: math.log2(n / rank),
    lambda rank, n: -math.log(rank / n, 2),
    lambda rank, n: np.log2(n) - np.log2(rank),
    lambda rank, n: torch.log2(torch.tensor(n / rank)),  # float32
    lambda rank, n: torch.log2(torch.tensor(float(n))) - torch.log2(torch.tensor(float(rank))),  # float32 twice
])
def test_exposure_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch12_exposure(right)
    assert out_of(capsys).startswith("✓ exercise 12.4 (exposure) passed: log2(n_candidates) - log2(rank)")


def exposure(how: str) -> Any:
    return lambda rank, n: ch12_checks._exposure(rank, n, how)


@pytest.mark.parametrize("wrong,why", [
    (exposure("ln"), r"rank=1, n_candidates=456976(.|\n)*expected: 18\.801759\n  got:      13\.032\d+\n(.|\n)*"
                     r"Yours uses the natural log"),
    (lambda rank, n: math.log(n / rank), r"which gives nats"),
    (exposure("log10"), r"Yours uses log10"),
    (exposure("rank + 1"), r"Don't add 1 to it"),
    (lambda rank, n: math.log2(n) - math.log2(rank + 1), r"the rank is already 1-based"),
    (exposure("rank - 1"), r"got:      inf\n(.|\n)*subtracting 1 makes rank 1 a log of 0"),
    (lambda rank, n: math.log2(n) - math.log2(rank - 1), r"raised ValueError(.|\n)*the rank is 1-based"),
    (lambda rank, n: math.log2(n / (rank - 1)), r"raised ZeroDivisionError(.|\n)*the rank is 1-based"),
    (exposure("sign"), r"Yours has the sign flipped"),
    (lambda rank, n: math.log2(rank / n), r"the sign flipped"),
    (exposure("log2(rank)"), r"Yours is log2\(rank\) alone"),
    (exposure("log2(n)"), r"rank=456976(.|\n)*expected: 0\.0\n(.|\n)*Yours ignores the rank"),
    (exposure("n / rank"), r"Yours is the ratio itself"),
    (lambda rank, n: int(math.log2(n / rank)), r"expected: 18\.801759\n  got:      18\.0\n(.|\n)*return the float "
                                               r"itself, unrounded"),
    (lambda rank, n: round(math.log2(n / rank)), r"return the float itself, unrounded"),
    (lambda rank, n: round(math.log2(n / rank), 1), r"return the float itself, unrounded"),
    (lambda rank, n: round(math.log2(n) - math.log2(rank), 2), r"got:      18\.8\n(.|\n)*return the float itself"),
    (lambda rank, n: np.round(np.log2(n / rank), 2), r"return the float itself, unrounded"),
    (lambda rank, n: str(math.log2(n / rank)), r"should be one number \(int or float\), not str"),
    (lambda rank, n: torch.tensor([math.log2(n), math.log2(rank)]), r"should be one number"),
    (lambda rank, n: math.log2(n / rank) + 0.01, r"hint:     exposure = log2\(n_candidates\) - log2\(rank\) bits"),
    (lambda rank, n: math.log2(n / rank), None),
])
def test_exposure_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch12_exposure, wrong, why)


# --- 12.5 log-odds ------------------------------------------------------------------------------------------------


def log_odds_get(counts_a: dict[str, int], counts_b: dict[str, int], word: str, alpha: float) -> float:
    V = len(set(counts_a) | set(counts_b))
    A, B = sum(counts_a.values()), sum(counts_b.values())
    pa = (counts_a.get(word, 0) + alpha) / (A + alpha * V)
    pb = (counts_b.get(word, 0) + alpha) / (B + alpha * V)
    return math.log(pa) - math.log(pb)


def log_odds_counter(counts_a: dict[str, int], counts_b: dict[str, int], word: str, alpha: float) -> np.float64:
    a, b = Counter(counts_a), Counter(counts_b)
    V = len(a | b)  # | keeps every word with a positive count: all of them here
    return np.log(a[word] + alpha) - np.log(a.total() + alpha * V) - np.log(b[word] + alpha) + np.log(
        b.total() + alpha * V)


def log_odds_float32(counts_a: dict[str, int], counts_b: dict[str, int], word: str, alpha: float) -> torch.Tensor:
    vocab = sorted(set(counts_a) | set(counts_b))
    a = torch.tensor([counts_a.get(w, 0) for w in vocab], dtype=torch.float32) + alpha
    b = torch.tensor([counts_b.get(w, 0) for w in vocab], dtype=torch.float32) + alpha
    if word not in vocab:
        return torch.log(torch.tensor(alpha) / a.sum()) - torch.log(torch.tensor(alpha) / b.sum())
    i = vocab.index(word)
    return torch.log(a[i] / a.sum()) - torch.log(b[i] / b.sum())


@pytest.mark.parametrize("right", [log_odds_get, log_odds_counter, log_odds_float32,
                                   lambda a, b, w, al: math.log(
                                       (a.get(w, 0) + al) * (sum(b.values()) + al * len({*a, *b}))
                                       / ((b.get(w, 0) + al) * (sum(a.values()) + al * len({*a, *b}))))])
def test_log_odds_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch12_log_odds(right)
    assert out_of(capsys).startswith("✓ exercise 12.5 (log_odds) passed: add-alpha smoothed log-odds in nats")


def odds(how: str) -> Any:
    return lambda *args: ch12_checks._log_odds(*args, how=how)


def no_smoothing_keyerror(counts_a: dict[str, int], counts_b: dict[str, int], word: str, alpha: float) -> float:
    return math.log(counts_a[word] / sum(counts_a.values())) - math.log(counts_b[word] / sum(counts_b.values()))


def smoothed_keyerror(counts_a: dict[str, int], counts_b: dict[str, int], word: str, alpha: float) -> float:
    V = len(set(counts_a) | set(counts_b))
    A, B = sum(counts_a.values()), sum(counts_b.values())
    return math.log((counts_a[word] + alpha) / (A + alpha * V)) - math.log((counts_b[word] + alpha) / (B + alpha * V))


def adds_the_word(counts_a: dict[str, int], counts_b: dict[str, int], word: str, alpha: float) -> float:
    counts_a.setdefault(word, 0)
    counts_b.setdefault(word, 0)
    return log_odds_get(counts_a, counts_b, word, alpha)


def zero_when_unseen(counts_a: dict[str, int], counts_b: dict[str, int], word: str, alpha: float) -> float:
    return 0.0 if word not in counts_a and word not in counts_b else log_odds_get(counts_a, counts_b, word, alpha)


@pytest.mark.parametrize("wrong,why", [
    (odds("no smoothing"), r"'is', alpha=1\.0\)\n  expected: 0\.199248\n  got:      -0\.139997\n(.|\n)*smooth: add "
                           r"alpha"),
    (no_smoothing_keyerror, r"'is'(.|\n)*smooth: add alpha"),
    (lambda a, b, w, al: np.log(np.float64(a.get(w, 0)) / sum(a.values())) - np.log(np.float64(b.get(w, 0))
                                                                                      / sum(b.values())),
     r"smooth: add alpha"),
    (smoothed_keyerror, r"'gave'(.|\n)*raised KeyError(.|\n)*has count 0 there: read it with counts_a\.get\(word, 0\)"),
    (odds("no totals"), r"compare the two conditional PROBABILITIES"),
    (lambda a, b, w, al: math.log((a.get(w, 0) + al) / (b.get(w, 0) + al)), r"not the counts"),
    (odds("sign"), r"Yours is b over a \(the sign flipped\)"),
    (lambda a, b, w, al: -log_odds_get(a, b, w, al), r"the sign flipped"),
    (odds("log2"), r"Yours uses log2"),
    (lambda a, b, w, al: log_odds_get(a, b, w, al) / math.log(2), r"bits, 1\.44 times"),
    (odds("log10"), r"Yours uses log10"),
    (odds("no log"), r"Yours returns the ratio p_a / p_b itself"),
    (odds("V of a"), r"Yours counts the words of counts_a only"),
    (odds("V of b"), r"Yours counts the words of counts_b only"),
    (odds("V sum"), r"counting a word in both twice"),
    (odds("V common"), r"the intersection"),
    (odds("V with word"), r"'sword'(.|\n)*Yours adds the word asked about"),
    (odds("own V"), r"V is the number of distinct words of both dicts together, the same V on both sides"),
    (lambda a, b, w, al: math.log((a.get(w, 0) + al) / (sum(a.values()) + al * len(a)))
     - math.log((b.get(w, 0) + al) / (sum(b.values()) + al * len(b))), r"Yours gives each side its own"),
    (odds("no alpha V"), r"add alpha \* V to each total"),
    (odds("alpha 1"), r"'speaks', alpha=0\.5(.|\n)*use the alpha you are given \(here 0\.5\)"),
    (lambda a, b, w, al: log_odds_get(a, b, w, 1.0), r"a 1 written"),
    (adds_the_word, r"'gave'(.|\n)*changed counts_a(.|\n)*don't modify them \(counts_a changed\)"),
    (zero_when_unseen, r"'sword'(.|\n)*got:      0\.0\n(.|\n)*'sword' is not in counts_a nor counts_b, but its "
                       r"smoothed"),
    (lambda a, b, w, al: [log_odds_get(a, b, w, al)] * 2, r"should be one number \(int or float\), not list"),
    (lambda a, b, w, al: log_odds_get(a, b, w, al) + 0.01, r"hint:     a_w = counts_a\.get\(word, 0\)"),
    (log_odds_get, None),
])
def test_log_odds_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch12_log_odds, wrong, why)


def test_log_odds_cases_hold_words_of_one_side_and_of_neither() -> None:
    cases = ch12_checks._log_odds_cases()
    he, she = cases[0][0], cases[0][1]
    assert (len(he), sum(he.values()), len(she), sum(she.values()), len({*he, *she})) == (441, 1368, 219, 555, 542)
    assert [(w in he, w in she) for _, _, w, _ in cases] == [(True, True), (True, True), (False, True), (True, False),
                                                             (False, False)]
    a, b = 1368 + 542, 555 + 542  # the absent word: log(alpha / (A + alpha V)) - log(alpha / (B + alpha V))
    assert ch12_checks._log_odds(he, she, "sword", 1.0) == pytest.approx(math.log(b / a))


# --- 12.6 the previous-newline score ------------------------------------------------------------------------------


def score_loop(att: torch.Tensor, text: str) -> float:
    weights, last = [], None
    for t, c in enumerate(text):
        if c == "\n":
            last = t
        if last is not None:
            weights.append(att[t, last].item())
    return sum(weights) / len(weights)


def score_numpy(att: Any, text: str) -> np.float64:
    a = np.asarray(att, dtype=np.float64)
    is_newline = np.array([c == "\n" for c in text])
    last = np.maximum.accumulate(np.where(is_newline, np.arange(len(text)), -1))
    rows = np.nonzero(last >= 0)[0]
    return a[rows, last[rows]].mean()


def score_torch(att: torch.Tensor, text: str) -> torch.Tensor:
    positions = torch.tensor([t if c == "\n" else -1 for t, c in enumerate(text)])
    last = torch.cummax(positions, dim=0).values
    rows = torch.nonzero(last >= 0).squeeze(1)
    return att[rows, last[rows]].mean()  # a 0-d float32 tensor


@pytest.mark.parametrize("right", [score_loop, score_numpy, score_torch,
                                   lambda att, text: score_numpy(att.double().numpy(), text)])
def test_newline_score_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch12_newline_score(right)
    assert out_of(capsys).startswith("✓ exercise 12.6 (newline_score) passed: the mean over the queries")


def test_newline_score_answers_agree_on_a_float64_numpy_map() -> None:
    """A map given as numpy float64 (not only the notebook's torch float32) gets the same score from the numpy answer
    and from the reference."""
    for att, text, _ in ch12_checks._newline_maps():
        a64 = att.double().numpy()
        assert score_numpy(a64, text) == pytest.approx(ch12_checks._newline_score(a64, text), rel=1e-12)
        assert score_loop(torch.from_numpy(a64), text) == pytest.approx(ch12_checks._newline_score(att, text),
                                                                        rel=1e-6)


def newline(how: str) -> Any:
    return lambda att, text: ch12_checks._newline_score(att, text, how)


def score_strictly_before(att: torch.Tensor, text: str) -> float:
    weights, last = [], None
    for t, c in enumerate(text):
        if last is not None:
            weights.append(float(att[t, last]))
        if c == "\n":
            last = t
    return float(np.mean(weights))


def score_zeroing_att(att: torch.Tensor, text: str) -> float:
    value = score_loop(att, text)
    att.masked_fill_(att < 1e-3, 0.0)
    return value


@pytest.mark.parametrize("wrong,why", [
    (newline("transposed"), r"random causal softmax\), text='ROMEO:\\nBut soft, wha'\.\.\.\)\n  expected: 0\.030589\n"
                            r"(.|\n)*Yours reads\s+att\[j, t\]"),
    (lambda att, text: score_loop(att.T, text), r"rows are queries, columns keys"),
    (newline("first"), r"take the MOST RECENT newline"),
    (lambda att, text: float(np.mean([float(att[t, text.index("\n")]) for t in range(len(text))
                                      if "\n" in text[:t + 1]])), r"not the first in\s+the text"),
    (newline("strictly before"), r"include t itself"),
    (score_strictly_before, r"use j <=\s+t, not j < t"),
    (newline("zeros"), r"left out, not counted as 0"),
    (newline("all"), r"yours sums the weights on every newline"),
    (newline("max"), r"yours takes the largest of their weights"),
    (newline("sum"), r"yours sums their\s+weights"),
    (newline("per query"), r"should return one number, the mean(.|\n)*got:      a numpy float64 array of shape \(58,\)"
                           r"(.|\n)*yours returns each query's weight"),
    (score_zeroing_att, r"changed att(.|\n)*don't modify them \(att changed\)"),
    (lambda att, text: str(score_loop(att, text)), r"should be one number \(int or float\), not str"),
    (lambda att, text: None, r"should be one number \(int or float\), not NoneType"),
    (lambda att, text: score_loop(att, text) + 0.01, r"hint:     for each query t \(a row of att\)"),
    (lambda att, text: att[text.index("\n")], r"raised|should return one number"),
    (score_loop, None),
])
def test_newline_score_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch12_newline_score, wrong, why)


def test_newline_maps_are_causal_softmaxes_over_texts_with_newlines() -> None:
    cases = ch12_checks._newline_maps()
    assert [len(text) for _, text, _ in cases] == [64, 64, 64, 48]
    for att, text, _ in cases:
        assert att.dtype == torch.float32 and att.shape == (len(text), len(text))
        assert torch.allclose(att.sum(-1), torch.ones(len(text))) and not att.triu(1).any()
        assert text.count("\n") >= 2
    assert "\n\n" in cases[1][1] and cases[2][1].startswith("\n")
    assert ch12_checks._newline_score(*cases[2][:2]) > 0.5 > 0.1 > ch12_checks._newline_score(*cases[0][:2])
