"""The checkers of chapter 11 (applications) accept every right answer and name each typical mistake."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import torch
from checker_cases import expect, stub

from lmcourse import checks
from lmcourse.checks import ch11 as ch11_checks


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


@pytest.mark.parametrize("name", ["ch11_confusion", "ch11_macro_f1", "ch11_posterior", "ch11_unigram_precision",
                                  "ch11_bm25_weight", "ch11_greedy"])
def test_a_stub_is_reported_as_still_open(name: str) -> None:
    with pytest.raises(NotImplementedError, match=r"exercise 11.\d \(\w+\): stub is still the stub"):
        getattr(checks, name)(stub)


def test_the_checkers_leave_every_random_stream_alone() -> None:
    torch.manual_seed(0)
    np.random.seed(0)
    before = torch.get_rng_state(), np.random.get_state()[1].copy()
    checks.ch11_greedy(greedy_list)
    with pytest.raises(checks.CheckFailed):
        checks.ch11_greedy(greedy_sampling)
    assert torch.equal(torch.get_rng_state(), before[0]) and np.array_equal(np.random.get_state()[1], before[1])


# --- 11.5 unigram precision ---------------------------------------------------------------------------------------


def precision_counter(hypothesis: str, references: list[str]) -> float:
    words = hypothesis.split()
    if not words:
        return 0.0
    refs = [Counter(r.split()) for r in references]
    return sum(min(c, max(r[w] for r in refs)) for w, c in Counter(words).items()) / len(words)


def precision_loops(hypothesis: str, references: list[str]) -> Fraction:
    words = hypothesis.split()
    if len(words) == 0:
        return Fraction(0)
    clipped = 0
    for w in set(words):
        best = max(r.split().count(w) for r in references)
        clipped += min(words.count(w), best)
    return Fraction(clipped, len(words))


def precision_union(hypothesis: str, references: list[str]) -> np.float32:
    """Counter's | is the elementwise maximum, & the minimum: the clip counts in one line."""
    words = Counter(hypothesis.split())
    most = Counter()
    for r in references:
        most |= Counter(r.split())
    total = sum(words.values())
    return np.float32(sum((words & most).values()) / total if total else 0.0)


@pytest.mark.parametrize("right", [precision_counter, precision_loops, precision_union,
                                   lambda h, refs: torch.tensor(precision_counter(h, refs), dtype=torch.float32),
                                   lambda h, refs: np.float64(precision_counter(h, refs))])
def test_unigram_precision_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch11_unigram_precision(right)
    assert out_of(capsys).startswith("✓ exercise 11.5 (unigram_precision) passed: each word counted at most")


def unigram(how: str) -> Any:
    def wrong(hypothesis: str, references: list[str]) -> float:
        return ch11_checks._unigram(hypothesis, references, how)

    return wrong


def precision_unclipped(hypothesis: str, references: list[str]) -> float:
    words = hypothesis.split()
    if not words:
        return 0.0
    ref_words = {w for r in references for w in r.split()}
    return sum(w in ref_words for w in words) / len(words)


def precision_sorting(hypothesis: str, references: list[str]) -> float:
    references.sort()
    return precision_counter(hypothesis, references)


def precision_dividing_by_zero(hypothesis: str, references: list[str]) -> float:
    words = hypothesis.split()
    refs = [Counter(r.split()) for r in references]
    return sum(min(c, max(r[w] for r in refs)) for w, c in Counter(words).items()) / len(words)


def precision_nan_when_empty(hypothesis: str, references: list[str]) -> float:
    words = hypothesis.split()
    refs = [Counter(r.split()) for r in references]
    return float(np.float64(sum(min(c, max(r[w] for r in refs)) for w, c in Counter(words).items())) / len(words))


def precision_least(hypothesis: str, references: list[str]) -> float:
    """Counter's & is the elementwise MINIMUM: the clip counts of the reference that has each word least."""
    words = Counter(hypothesis.split())
    least = Counter(references[0].split())
    for r in references[1:]:
        least &= Counter(r.split())
    total = sum(words.values())
    return sum(min(c, least[w]) for w, c in words.items()) / total if total else 0.0


@pytest.mark.parametrize("wrong,why", [
    (unigram("no clipping"), r"the the the(.|\n)*expected: 0\.285714\n  got:      1\.0\n(.|\n)*clip the counts"),
    (precision_unclipped, r"clip the counts"),
    (unigram("sum"), r"clip by the MAXIMUM count over the references, not their sum"),
    (unigram("min"), r"expected: 0\.285714\n  got:      0\.142857\n(.|\n)*clip by the MAXIMUM count over the "
                     r"references, not the minimum"),
    (precision_least, r"not the minimum(.|\n)*Counter's \| is the elementwise maximum"),
    (unigram("percent"), r"got:      28\.571429\n(.|\n)*the precision is a fraction in \[0, 1\]; yours is 100 "
                         r"times it"),
    (lambda h, refs: 100 * precision_counter(h, refs), r"yours is 100 times it"),
    (unigram("recall"), r"divide by the number of words in the HYPOTHESIS"),
    (lambda h, refs: precision_counter(h, refs) * len(h.split()) / len(refs[0].split()), r"gives recall"),
    (unigram("recall, shortest"), r"gives recall"),
    (unigram("recall, longest"), r"gives recall"),
    (unigram("recall, all"), r"gives recall"),
    (unigram("types"), r"count tokens, not word types"),
    (unigram("types over tokens"), r"count each occurrence \(token\), clipped"),
    (unigram("lower"), r"keep the case: BLEU compares tokens exactly"),
    (lambda h, refs: precision_counter(h.lower(), [r.lower() for r in refs]), r"Don't call \.lower\(\)"),
    (unigram("first reference"), r"Yours\s+reads only references\[0\]"),
    (lambda h, refs: precision_counter(h, refs[:1]), r"reads only references\[0\]"),
    (unigram("best reference"), r"Yours\s+scores each reference alone and keeps the best"),
    (lambda h, refs: max(precision_counter(h, [r]) for r in refs), r"scores each reference alone"),
    (unigram("split(' ')"), r"Y dijo Dios(.|\n)*split on any whitespace with \.split\(\)"),
    (precision_sorting, r"changed references(.|\n)*don't modify them \(references changed\)"),
    (precision_dividing_by_zero, r"\(''(.|\n)*raised ZeroDivisionError(.|\n)*an empty hypothesis "
                                 r"has precision 0"),
    (precision_nan_when_empty, r"unigram_precision\(''(.|\n)*got:      nan\n(.|\n)*an empty hypothesis has "
                               r"precision 0"),
    (lambda h, refs: str(precision_counter(h, refs)), r"the result should be one number"),
    (lambda h, refs: precision_counter(h, refs) + 0.01, r"hint:     tokens = text\.split\(\); for each distinct"),
    (precision_counter, None),
])
def test_unigram_precision_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch11_unigram_precision, wrong, why)


def test_unigram_cases_hold_papineni_s_example() -> None:
    hypothesis, references = ch11_checks._unigram_cases()[0]
    assert ch11_checks._unigram(hypothesis, references) == pytest.approx(2 / 7)
    assert ch11_checks._unigram(*ch11_checks._unigram_cases()[1]) == pytest.approx(10 / 14)  # worked by hand


# --- 11.2 macro-F1 ------------------------------------------------------------------------------------------------


def macro_f1_numpy(confusion: Any) -> float:
    c = np.asarray(confusion, dtype=float)
    tp = np.diag(c)
    denominator = c.sum(axis=0) + c.sum(axis=1)  # = 2TP + FP + FN
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return float(f1.mean())


def macro_f1_torch(confusion: Any) -> torch.Tensor:
    c = torch.as_tensor(np.asarray(confusion)).float()
    tp = c.diagonal()
    fp, fn = c.sum(0) - tp, c.sum(1) - tp
    f1 = torch.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), torch.zeros_like(tp))
    return f1.mean()  # a 0-d float32 tensor


def macro_f1_loops(confusion: Any) -> float:
    rows = [[int(x) for x in row] for row in confusion]
    k = len(rows)
    total = 0.0
    for i in range(k):
        tp = rows[i][i]
        fp = sum(rows[j][i] for j in range(k)) - tp
        fn = sum(rows[i]) - tp
        if 2 * tp + fp + fn:
            total += 2 * tp / (2 * tp + fp + fn)
    return total / k


def macro_f1_via_p_and_r_guarded(confusion: Any) -> np.float32:
    """Precision and recall first, 0 where undefined, F1 0 where P + R = 0: the same numbers."""
    c = np.asarray(confusion, dtype=np.float32)
    tp = np.diag(c)
    with np.errstate(all="ignore"):
        p = np.where(c.sum(0) > 0, tp / c.sum(0), 0)
        r = np.where(c.sum(1) > 0, tp / c.sum(1), 0)
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0)
    return np.float32(f1.mean())


@pytest.mark.parametrize("right", [macro_f1_numpy, macro_f1_torch, macro_f1_loops, macro_f1_via_p_and_r_guarded])
def test_macro_f1_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch11_macro_f1(right)
    assert out_of(capsys).startswith("✓ exercise 11.2 (macro_f1) passed: the plain mean of 2TP / (2TP + FP + FN)")


def macro(how: str) -> Any:
    def wrong(confusion: Any) -> float:
        return ch11_checks._macro(confusion, how)

    return wrong


def macro_f1_nan(confusion: Any) -> float:
    c = np.asarray(confusion, dtype=float)
    tp = np.diag(c)
    p, r = tp / c.sum(axis=0), tp / c.sum(axis=1)
    return float(np.mean(2 * p * r / (p + r)))


def macro_f1_nanmean(confusion: Any) -> float:
    c = np.asarray(confusion, dtype=float)
    tp = np.diag(c)
    with np.errstate(all="ignore"):
        p, r = tp / c.sum(axis=0), tp / c.sum(axis=1)
        return float(np.nanmean(2 * p * r / (p + r)))


def macro_f1_in_place(confusion: Any) -> float:
    if isinstance(confusion, np.ndarray):
        confusion += 0  # harmless
        confusion[0, 0] = 0
    return macro_f1_numpy(confusion)


def macro_f1_floor(confusion: Any) -> float:
    c = np.asarray(confusion)  # ints
    tp = np.diag(c)
    d = 2 * tp + (c.sum(axis=0) - tp) + (c.sum(axis=1) - tp)
    return float(np.where(d > 0, 2 * tp // np.maximum(d, 1), 0).mean())


def macro_f1_int_array(confusion: Any) -> float:
    c = np.asarray(confusion)
    f1 = np.zeros(len(c), dtype=int)  # the F1s are truncated as they are stored
    for k in range(len(c)):
        d = 2 * c[k, k] + c[:, k].sum() + c[k].sum() - 2 * c[k, k]
        f1[k] = 2 * c[k, k] / d if d else 0
    return float(f1.mean())


def macro_f1_occurring(confusion: Any) -> float:
    c = np.array(confusion, dtype=float)
    tp = np.diag(c)
    with np.errstate(all="ignore"):
        f1 = 2 * tp / (c.sum(axis=0) + c.sum(axis=1))
    return float(f1[c.sum(axis=1) > 0].mean())


def macro_f1_fill_diagonal(confusion: Any) -> float:
    c = np.asarray(confusion)  # no copy for a numpy array
    tp = np.diag(c).copy()
    np.fill_diagonal(c, 0)
    d = 2 * tp + c.sum(axis=0) + c.sum(axis=1)
    return float(np.where(d > 0, 2 * tp / np.maximum(d, 1), 0).mean())


def macro_f1_list_crash(confusion: Any) -> float:
    tp = confusion.diagonal()  # a list of lists has no .diagonal()
    return float(tp.mean())


@pytest.mark.parametrize("wrong,why", [
    (macro("accuracy"), r"\[\[55, 3, 2\], \[4, 54, 2\], \[1, 0, 59\]\](.|\n)*that is the accuracy"),
    (lambda c: float(np.trace(np.asarray(c)) / np.asarray(c).sum()), r"that is the accuracy"),
    (macro("weighted"), r"class 2 never predicted(.|\n)*Yours weights each class by its support"),
    (macro("f1 of means"), r"yours averages precision and recall first"),
    (macro("nan"), r"got:      nan\n(.|\n)*give such a class F1 = 0"),
    (macro_f1_nan, r"give such a class F1 = 0"),
    (macro("nanmean"), r"np\.nanmean\s+drops it"),
    (macro_f1_nanmean, r"np\.nanmean"),
    (macro("precision"), r"that is the macro-averaged precision"),
    (macro("recall"), r"that is the macro-averaged recall"),
    (macro("predicted only"), r"average over EVERY class, the ones never predicted too"),
    (macro("occurring only"), r"class 3 empty(.|\n)*average over EVERY class of the matrix, one that never occurs"),
    (macro_f1_occurring, r"not only the rows with a\s+positive sum"),
    (macro("floor"), r"got:      0\.0\n(.|\n)*use true division `/`: `//` rounds every F1 below 1 down to 0"),
    (macro_f1_floor, r"use true division `/`"),
    (macro_f1_int_array, r"storing the F1s in an\s+integer array"),
    (macro("percent"), r"got:      93\.3031\d\d\n(.|\n)*macro-F1 is a fraction in \[0, 1\]; yours is 100 times it"),
    (lambda c: 100 * macro_f1_numpy(c), r"yours is 100 times it"),
    (macro_f1_fill_diagonal, r"changed confusion(.|\n)*np\.array\(confusion, dtype=float\), which always copies"
                             r"(.|\n)*np\.asarray\(confusion\) does not copy a numpy array"),
    (macro("jaccard"), r"is the\s+Jaccard index"),
    (macro("sum"), r"divide their sum by the number of classes"),
    (lambda c: ch11_checks._f1s(c), r"return one number, the mean of the per-class F1s; yours returns the F1 of each "
                                    r"class \(and those are right\)"),
    (macro_f1_in_place, r"changed confusion(.|\n)*don't modify them \(confusion changed\)"),
    (macro_f1_list_crash, r"raised AttributeError(.|\n)*start from np\.asarray\(confusion\)"),
    (lambda c: macro_f1_numpy(c) * 0.9, r"hint:     for each class k: TP = C\[k, k\]"),
    (macro_f1_numpy, None),
])
def test_macro_f1_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch11_macro_f1, wrong, why)


def test_macro_f1_cases_are_worked_by_hand() -> None:
    cases = [c for _, c in ch11_checks._f1_cases()]
    # authorship: F1 = 2TP / (2TP + FP + FN) = 110/120, 108/117, 118/123
    assert ch11_checks._macro(cases[0]) == pytest.approx((110 / 120 + 108 / 117 + 118 / 123) / 3)
    assert ch11_checks._macro(cases[3]) == pytest.approx((60 / 77 + 0) / 2)  # class 1: 2TP = 0
    assert ch11_checks._macro(cases[2]) == pytest.approx((40 / 46 + 30 / 44 + 60 / 70 + 0) / 4)  # the empty class: 0


# --- 11.1 a confusion matrix --------------------------------------------------------------------------------------


def confusion_numpy(y_true: list[str], y_pred: list[str], labels: list[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    c = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        c[index[t], index[p]] += 1
    return c


def confusion_torch(y_true: list[str], y_pred: list[str], labels: list[str]) -> torch.Tensor:
    L = len(labels)
    t = torch.tensor([labels.index(y) for y in y_true])
    p = torch.tensor([labels.index(y) for y in y_pred])
    return torch.bincount(t * L + p, minlength=L * L).reshape(L, L)


def confusion_lists(y_true: list[str], y_pred: list[str], labels: list[str]) -> list[list[int]]:
    pairs = Counter(zip(y_true, y_pred))
    return [[pairs[(t, p)] for p in labels] for t in labels]


def confusion_floats(y_true: list[str], y_pred: list[str], labels: list[str]) -> np.ndarray:
    c = np.zeros((len(labels), len(labels)))  # float64 counts: whole numbers, accepted
    np.add.at(c, ([labels.index(t) for t in y_true], [labels.index(p) for p in y_pred]), 1)
    return c


@pytest.mark.parametrize("right", [confusion_numpy, confusion_torch, confusion_lists, confusion_floats,
                                   lambda t, p, labels: torch.from_numpy(confusion_numpy(t, p, labels)).float()])
def test_confusion_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch11_confusion(right)
    assert out_of(capsys).startswith("✓ exercise 11.1 (confusion_matrix) passed: rows the true label, columns the "
                                     "predicted one")


def confusion(how: str) -> Any:
    def wrong(y_true: list[str], y_pred: list[str], labels: list[str]) -> Any:
        return ch11_checks._confusion(y_true, y_pred, labels, how)

    return wrong


def confusion_transposed(y_true: list[str], y_pred: list[str], labels: list[str]) -> np.ndarray:
    return confusion_numpy(y_pred, y_true, labels)


def confusion_from_the_data(y_true: list[str], y_pred: list[str], labels: list[str]) -> np.ndarray:
    return confusion_numpy(y_true, y_pred, sorted(set(y_true) | set(y_pred)))


def confusion_unique(y_true: list[str], y_pred: list[str], labels: list[str]) -> np.ndarray:
    return confusion_numpy(y_true, y_pred, list(np.unique(labels)))


def confusion_sorting_labels(y_true: list[str], y_pred: list[str], labels: list[str]) -> np.ndarray:
    labels.sort()
    return confusion_numpy(y_true, y_pred, labels)


def confusion_row_fractions(y_true: list[str], y_pred: list[str], labels: list[str]) -> np.ndarray:
    c = confusion_numpy(y_true, y_pred, labels)
    return c / c.sum(axis=1, keepdims=True)


def confusion_predicted_columns_only(y_true: list[str], y_pred: list[str], labels: list[str]) -> list[list[int]]:
    pairs = Counter(zip(y_true, y_pred))
    return [[pairs[(t, p)] for p in labels if p in y_pred] for t in labels]


def confusion_sized_by_predictions(y_true: list[str], y_pred: list[str], labels: list[str]) -> np.ndarray:
    L = len(set(y_pred))
    c = np.zeros((L, L), dtype=int)
    for t, p in zip(y_true, y_pred):
        c[labels.index(t), labels.index(p)] += 1
    return c


def confusion_indexed_by_the_truth(y_true: list[str], y_pred: list[str], labels: list[str]) -> np.ndarray:
    index = {label: labels.index(label) for label in set(y_true)}  # a label never true has no entry
    c = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(y_true, y_pred):
        c[index[t], index[p]] += 1
    return c


@pytest.mark.parametrize("wrong,why", [
    (confusion("transposed"), r"12 passages(.|\n)*expected: \[\[3, 1, 0\], \[2, 2, 1\], \[0, 0, 3\]\]\n  got:      "
                              r"\[\[3, 2, 0\], \[1, 2, 0\], \[0, 1, 3\]\](.|\n)*Yours is the transpose"),
    (confusion_transposed, r"rows are the TRUE label, columns the PREDICTED one"),
    (confusion("sorted"), r"in the order of labels as given(.|\n)*yours sorts them alphabetically"),
    (confusion_from_the_data, r"yours sorts them alphabetically"),
    (confusion_unique, r"yours sorts them alphabetically"),
    (confusion("appearance"), r"yours takes them in the order they first occur"),
    (confusion("diagonal"), r"Yours counts only the right predictions"),
    (lambda t, p, labels: np.diag(np.diag(confusion_numpy(t, p, labels))), r"counts only the right predictions"),
    (confusion("errors only"), r"Yours counts only the errors"),
    (confusion("normalised"), r"count the passages(.|\n)*yours holds fractions"),
    (confusion_row_fractions, r"yours holds fractions"),
    (confusion("normalised columns"), r"yours holds fractions"),
    (confusion("fractions"), r"yours holds fractions"),
    (confusion_predicted_columns_only, r"'austen' never predicted(.|\n)*wrong shape\n  expected: shape \(3, 3\)\n"
                                       r"  got:      shape \(3, 2\)(.|\n)*every label in labels gets its row and its "
                                       r"column"),
    (lambda t, p, labels: confusion_numpy(t, p, labels)[:2, :2], r"wrong shape(.|\n)*make the matrix len\(labels\)"),
    (confusion_sized_by_predictions, r"raised IndexError(.|\n)*here 'kjv' is never the true label and 'austen' never "
                                     r"predicted"),
    (confusion_indexed_by_the_truth, r"raised KeyError(.|\n)*find a label's row and column by its position in labels"),
    (confusion_sorting_labels, r"changed labels(.|\n)*don't modify them \(labels changed\)(.|\n)*labels\.sort\(\), "
                               r"y_true\.pop\(\)(.|\n)*writes into\s+the caller's list"),
    (lambda t, p, labels: {(a, b): 1 for a, b in zip(t, p)}, r"should return an 3 x 3 matrix of counts(.|\n)*a dict"),
    (lambda t, p, labels: confusion_numpy(t, p, labels) + np.eye(3, dtype=int), r"hint:     index = \{label: i"),
    (confusion_numpy, None),
])
def test_confusion_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch11_confusion, wrong, why)


def test_confusion_cases_tell_the_mistakes_apart() -> None:
    cases = [(t, p, labels) for t, p, labels, _ in ch11_checks._confusion_cases()]
    right = [ch11_checks._confusion(*args) for args in cases]
    assert not np.array_equal(right[0], right[0].T)  # the transpose differs
    assert right[1][2].sum() == 0 and right[1][:, 1].sum() == 0  # 'kjv' never true, 'austen' never predicted
    for how, mistake in ch11_checks._CONFUSION_MISTAKES.items():
        assert not all(np.array_equal(mistake(*args), r, equal_nan=True) for args, r in zip(cases, right)), how
    assert right[2].tolist() == [[5, 1, 0], [0, 4, 2], [1, 0, 5]]  # labels kjv, shakespeare, austen: worked by hand


# --- 11.3 the posterior over the labels -----------------------------------------------------------------------------


def posterior_numpy(log_likelihoods: np.ndarray, log_priors: np.ndarray) -> np.ndarray:
    s = log_likelihoods + log_priors
    p = np.exp(s - s.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def posterior_float32(log_likelihoods: np.ndarray, log_priors: np.ndarray) -> torch.Tensor:
    s = torch.tensor(log_likelihoods.tolist()) + torch.tensor(log_priors.tolist())  # float32 from lists
    return torch.softmax(s, dim=1)


def posterior_logsumexp(log_likelihoods: np.ndarray, log_priors: np.ndarray) -> list[list[float]]:
    s = torch.as_tensor(log_likelihoods) + torch.as_tensor(log_priors)
    return (s - torch.logsumexp(s, dim=1, keepdim=True)).exp().tolist()


def posterior_priors_after(log_likelihoods: np.ndarray, log_priors: np.ndarray) -> np.ndarray:
    """A stable softmax of the likelihoods, then the priors as probabilities, renormalised: the same numbers."""
    p = posterior_numpy(log_likelihoods, np.zeros_like(log_priors)) * np.exp(log_priors)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("right", [posterior_numpy, posterior_float32, posterior_logsumexp, posterior_priors_after,
                                   lambda ll, lp: torch.softmax(torch.from_numpy(ll + lp), dim=-1)])
def test_posterior_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch11_posterior(right)
    assert out_of(capsys).startswith("✓ exercise 11.3 (posterior) passed: softmax over the labels of log-likelihood")


def posterior(how: str) -> Any:
    def wrong(log_likelihoods: np.ndarray, log_priors: np.ndarray) -> Any:
        return ch11_checks._posterior(log_likelihoods, log_priors, how)

    return wrong


def posterior_naive(log_likelihoods: np.ndarray, log_priors: np.ndarray) -> np.ndarray:
    p = np.exp(log_likelihoods + log_priors)
    return p / p.sum(axis=1, keepdims=True)


def posterior_naive_float32(log_likelihoods: np.ndarray, log_priors: np.ndarray) -> torch.Tensor:
    p = torch.exp(torch.tensor(log_likelihoods.tolist()) + torch.tensor(log_priors.tolist()))
    return p / p.sum(dim=1, keepdim=True)


def posterior_in_place(log_likelihoods: np.ndarray, log_priors: np.ndarray) -> np.ndarray:
    s = log_likelihoods
    s += log_priors
    return posterior_numpy(s, np.zeros_like(log_priors))


def posterior_squeezed(log_likelihoods: np.ndarray, log_priors: np.ndarray) -> np.ndarray:
    return posterior_numpy(log_likelihoods, log_priors).squeeze()


@pytest.mark.parametrize("wrong,why", [
    (posterior("no priors"), r"4 passages(.|\n)*Yours leaves the priors out"),
    (lambda ll, lp: torch.softmax(torch.from_numpy(ll), dim=1), r"add the log priors before normalising"),
    (posterior("naive exp"), r"got:      (.|\n)*nan(.|\n)*exp\(-870\)(.|\n)*Subtract each row's maximum"),
    (posterior_naive, r"underflows(.|\n)*log-sum-exp"),
    (posterior_naive_float32, r"underflows(.|\n)*log-sum-exp"),
    (posterior("axis 0"), r"Yours normalises each column"),
    (lambda ll, lp: torch.softmax(torch.from_numpy(ll + lp), dim=0), r"normalise over the LABELS"),
    (posterior("all"), r"Yours normalises over the whole matrix"),
    (posterior("log"), r"return probabilities, not their logs"),
    (lambda ll, lp: torch.log_softmax(torch.from_numpy(ll + lp), dim=1), r"not their logs"),
    (posterior("plus priors"), r"Yours adds the priors themselves"),
    (posterior("times log priors"), r"Yours multiplies the log-likelihoods by the log priors"),
    (posterior("probabilities times log priors"), r"Yours multiplies the likelihoods by the LOG priors"),
    (posterior("sum of logs"), r"a log-likelihood is not a probability: divide exp"),
    (lambda ll, lp: (ll + lp) / (ll + lp).sum(axis=1, keepdims=True), r"not a probability"),
    (posterior("sum of logs, no priors"), r"the priors belong in the sum"),
    (posterior_in_place, r"changed log_likelihoods(.|\n)*don't modify them \(log_likelihoods changed\)"),
    (lambda ll, lp: posterior_numpy(ll, lp).T, r"wrong shape(.|\n)*yours is\s+transposed"),
    (lambda ll, lp: (ll + lp).argmax(axis=1), r"wrong shape(.|\n)*not only\s+the best label"),
    (posterior_squeezed, r"1 passage(.|\n)*wrong shape(.|\n)*keep the passage dimension"),
    (lambda ll, lp: "shakespeare", r"should return an array of probabilities"),
    (lambda ll, lp: posterior_numpy(ll, lp) * 0.99, r"hint:     s = log_likelihoods \+ log_priors"),
    (posterior_numpy, None),
])
def test_posterior_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch11_posterior, wrong, why)


def test_posterior_cases_underflow_and_let_the_priors_decide() -> None:
    cases = [(ll, lp) for ll, lp, _ in ch11_checks._posterior_cases()]
    with np.errstate(all="ignore"):
        assert np.isnan(posterior_naive(*cases[0])).any() and np.isnan(posterior_naive(*cases[2])).all()
    ll, lp = cases[1]
    assert ((ll + lp).argmax(axis=1) != ll.argmax(axis=1)).sum() == 2  # the priors change two argmaxes
    for ll, lp in cases:
        assert np.allclose(ch11_checks._posterior(ll, lp).sum(axis=1), 1)
        assert np.allclose(ch11_checks._posterior(ll, lp), torch.softmax(torch.from_numpy(ll + lp), dim=1).numpy())
    for how, mistake in ch11_checks._POSTERIOR_MISTAKES.items():
        assert any(not np.allclose(mistake(*args), ch11_checks._posterior(*args), atol=1e-4, equal_nan=True)
                   for args in cases), how


# --- 11.6 BM25 ----------------------------------------------------------------------------------------------------


def bm25_math(tf: int, df: int, n_docs: int, doc_len: int, avg_len: float, k1: float = 1.5, b: float = 0.75) -> float:
    idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avg_len))


def bm25_torch(tf: int, df: int, n_docs: int, doc_len: int, avg_len: float, k1: float = 1.5,
               b: float = 0.75) -> torch.Tensor:
    tf_, df_ = torch.tensor(float(tf)), torch.tensor(float(df))  # float32
    idf = torch.log1p((n_docs - df_ + 0.5) / (df_ + 0.5))
    return idf * tf_ * (k1 + 1) / (tf_ + k1 * (1 - b + b * doc_len / avg_len))


@pytest.mark.parametrize("right", [
    bm25_math, bm25_torch,
    lambda tf, df, n, dl, avg, k1=1.5, b=0.75: np.float32(bm25_math(tf, df, n, dl, avg, k1, b)),
    lambda tf, df, n, dl, avg, k1=1.5, b=0.75: np.log((n + 1) / (df + 0.5)) * tf * (k1 + 1) / (
        tf + k1 * (1 - b + b * dl / avg)),  # the same idf: 1 + (N - df + 0.5) / (df + 0.5) = (N + 1) / (df + 0.5)
])
def test_bm25_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch11_bm25_weight(right)
    assert out_of(capsys).startswith("✓ exercise 11.6 (bm25_weight) passed: idf * tf * (k1 + 1)")


def bm25(how: str) -> Any:
    def wrong(tf: int, df: int, n_docs: int, doc_len: int, avg_len: float, k1: float = 1.5, b: float = 0.75) -> float:
        return ch11_checks._bm25(tf, df, n_docs, doc_len, avg_len, k1, b, how=how)

    return wrong


def bm25_clamped(tf: int, df: int, n_docs: int, doc_len: int, avg_len: float, k1: float = 1.5,
                 b: float = 0.75) -> float:
    idf = max(0.0, math.log((n_docs - df + 0.5) / (df + 0.5)))
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avg_len))


def bm25_b_first(tf: int, df: int, n_docs: int, doc_len: int, avg_len: float, b: float = 0.75,
                 k1: float = 1.5) -> float:
    return bm25_math(tf, df, n_docs, doc_len, avg_len, k1, b)


@pytest.mark.parametrize("wrong,why", [
    (bm25("robertson"), r"df=20000(.|\n)*got:      -0\.469(.|\n)*the classic ln\(\(N - df \+ 0\.5\) / \(df \+ 0\.5\)\) "
                        r"without the 1 \+ is NEGATIVE"),
    (lambda tf, df, n, dl, avg, k1=1.5, b=0.75: math.log((n - df + 0.5) / (df + 0.5)) * tf * (k1 + 1) / (
        tf + k1 * (1 - b + b * dl / avg)), r"is NEGATIVE"),
    (bm25("robertson, clamped"), r"df=20000(.|\n)*got:      0\.0\n(.|\n)*yours clamps the classic"),
    (bm25_clamped, r"clamps the classic ln\(\(N - df \+ 0\.5\) / \(df \+ 0\.5\)\) at 0"),
    (bm25("no idf"), r"got:      0\.798005(.|\n)*multiply by the idf(.|\n)*yours is only the term-frequency part"),
    (lambda tf, df, n, dl, avg, k1=1.5, b=0.75: tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avg)),
     r"yours is only the term-frequency part"),
    (bm25("k1 and b swapped"), r"df=20000(.|\n)*yours uses them the other way round"),
    (lambda tf, df, n, dl, avg, k1=1.5, b=0.75: bm25_math(tf, df, n, dl, avg, b, k1), r"the other way round"),
    (bm25_b_first, r"df=3,(.|\n)*the parameters are k1 THEN b(.|\n)*yours takes the k1\s+given as b"),
    (bm25("log10"), r"yours uses log10"),
    (bm25("log2"), r"yours uses log2"),
    (bm25("ln(N/df)"), r"yours is\s+the TF-IDF idf ln\(N / df\)"),
    (bm25("ln(1+N/df)"), r"yours is ln\(1 \+ N / df\)"),
    (bm25("no length"), r"Yours is tf \+ k1, as if b = 0"),
    (bm25("inverted length"), r"yours divides avg_len by doc_len"),
    (bm25("b swapped"), r"yours has b\s+and 1 - b the other way round"),
    (bm25("no k1+1"), r"multiply by \(k1 \+ 1\)"),
    (bm25("defaults"), r"k1=1\.2, b=0\.5\)(.|\n)*use the k1 and b the function is called with"),
    (lambda tf, df, n, dl, avg, k1, b: bm25_math(tf, df, n, dl, avg, k1, b),
     r"raised TypeError(.|\n)*give k1 and b their defaults"),
    (lambda tf, df, n, dl, avg, k1=1.2, b=0.75: bm25_math(tf, df, n, dl, avg, k1, b),
     r"give k1 and b the defaults 1\.5 and 0\.75"),
    (lambda *args: [bm25_math(*args)], r"the result should be one number"),
    (lambda *args: bm25_math(*args) * 1.01, r"hint:     weight = idf \* tf \* \(k1 \+ 1\)"),
    (bm25_math, None),
])
def test_bm25_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch11_bm25_weight, wrong, why)


def test_bm25_cases_make_the_classic_idf_negative_and_tf_0_zero() -> None:
    cases = [args for args, _ in ch11_checks._bm25_cases()]
    assert any(args[1] > args[2] / 2 and ch11_checks._bm25(*args, how="robertson") < 0 for args in cases)
    assert any(args[0] == 0 and ch11_checks._bm25(*args) == 0 for args in cases)
    assert len(cases[0]) == 5  # one case leaves k1 and b at their defaults
    assert bm25_math(1, 1, 3, 4, 4.0) == pytest.approx(math.log(1 + 2.5 / 1.5))  # average length, tf 1: the idf


# --- 11.7 greedy decoding -----------------------------------------------------------------------------------------


def greedy_list(model: Any, src: list[int], bos: int, eos: int, max_len: int) -> list[int]:
    """The reference implementation, as the chapter writes it."""
    src_t = torch.tensor(src)
    memory = model.encode(src_t[None])
    tgt = [bos]
    for _ in range(max_len):
        logits = model.decode(memory, src_t[None], torch.tensor(tgt)[None])
        token = int(logits[0, -1].argmax())
        if token == eos:
            break
        tgt.append(token)
    return tgt[1:]


def greedy_tensor(model: Any, src: list[int], bos: int, eos: int, max_len: int) -> torch.Tensor:
    """Grows a LongTensor, encodes at every step (wasteful, not wrong), returns a 1-D tensor (empty: float32)."""
    src_t = torch.tensor(src, dtype=torch.long)[None]
    tgt = torch.tensor([[bos]])
    with torch.no_grad():
        model.eval()
        while tgt.shape[1] <= max_len:
            next_id = model.decode(model.encode(src_t), src_t, tgt)[:, -1].argmax(-1)
            if next_id.item() == eos:
                break
            tgt = torch.cat([tgt, next_id[:, None]], dim=1)
    out = tgt[0, 1:]
    return out if len(out) else torch.tensor([])


def greedy_numpy(model: Any, src: list[int], bos: int, eos: int, max_len: int) -> tuple[np.int64, ...]:
    src_t = torch.as_tensor(np.array(src))[None]
    memory = model.encode(src_t)
    out: list[np.int64] = []
    while len(out) < max_len:
        logits = model.decode(memory, src_t, torch.tensor([bos, *out])[None]).numpy()
        token = np.argmax(logits[0, -1])
        if token == eos:
            break
        out.append(token)
    return tuple(out)


@pytest.mark.parametrize("right", [greedy_list, greedy_tensor, greedy_numpy,
                                   lambda *args: np.array(greedy_list(*args), dtype=np.int32)])
def test_greedy_accepts_right_answers(right: Any, capsys: pytest.CaptureFixture[str]) -> None:
    checks.ch11_greedy(right)
    assert out_of(capsys).startswith("✓ exercise 11.7 (greedy_translate) passed: the argmax of the last position")


def greedy(how: str) -> Any:
    def wrong(model: Any, src: list[int], bos: int, eos: int, max_len: int) -> list[int]:
        return ch11_checks._greedy(model, src, bos, eos, max_len, how=how)

    return wrong


def greedy_with_eos(model: Any, src: list[int], bos: int, eos: int, max_len: int) -> list[int]:
    src_t = torch.tensor(src)[None]
    memory = model.encode(src_t)
    tgt = [bos]
    for _ in range(max_len):
        token = int(model.decode(memory, src_t, torch.tensor(tgt)[None])[0, -1].argmax())
        tgt.append(token)
        if token == eos:
            break
    return tgt  # bos and eos both kept


def greedy_first_row(model: Any, src: list[int], bos: int, eos: int, max_len: int) -> list[int]:
    src_t = torch.tensor(src)[None]
    memory = model.encode(src_t)
    tgt = [bos]
    for _ in range(max_len):
        token = int(model.decode(memory, src_t, torch.tensor(tgt)[None])[0].argmax(-1)[0])
        if token == eos:
            break
        tgt.append(token)
    return tgt[1:]


def greedy_flat_argmax(model: Any, src: list[int], bos: int, eos: int, max_len: int) -> list[int]:
    src_t = torch.tensor(src)[None]
    memory = model.encode(src_t)
    tgt = [bos]
    for _ in range(max_len):
        token = int(model.decode(memory, src_t, torch.tensor(tgt)[None]).argmax())
        if token == eos:
            break
        tgt.append(token)
    return tgt[1:]


def greedy_sampling(model: Any, src: list[int], bos: int, eos: int, max_len: int) -> list[int]:
    src_t = torch.tensor(src)[None]
    memory = model.encode(src_t)
    tgt = [bos]
    for _ in range(max_len):
        probs = torch.softmax(model.decode(memory, src_t, torch.tensor(tgt)[None])[0, -1], dim=-1)
        token = int(torch.multinomial(probs, 1))
        if token == eos:
            break
        tgt.append(token)
    return tgt[1:]


def greedy_own_generator(model: Any, src: list[int], bos: int, eos: int, max_len: int) -> list[int]:
    """Samples from a generator of its own, seeded from the clock: the global streams are untouched."""
    import time

    gen = torch.Generator().manual_seed(time.perf_counter_ns())
    src_t = torch.tensor(src)[None]
    memory = model.encode(src_t)
    tgt = [bos]
    for _ in range(max_len):
        probs = torch.softmax(model.decode(memory, src_t, torch.tensor(tgt)[None])[0, -1], dim=-1)
        token = int(torch.multinomial(probs, 1, generator=gen))
        if token == eos:
            break
        tgt.append(token)
    return tgt[1:]


def greedy_eos_2(model: Any, src: list[int], bos: int, eos: int, max_len: int) -> list[int]:
    """Stops at 2, the eos of the first case, whatever eos it is given."""
    src_t = torch.tensor(src)[None]
    memory = model.encode(src_t)
    tgt = [bos]
    for _ in range(max_len):
        token = int(model.decode(memory, src_t, torch.tensor(tgt)[None])[0, -1].argmax())
        if token == 2:
            break
        tgt.append(token)
    return tgt[1:]


def greedy_eos_3(model: Any, src: list[int], bos: int, eos: int, max_len: int) -> list[int]:
    """Stops at 3, an eos no case has: right only where the sentence runs to max_len."""
    src_t = torch.tensor(src)[None]
    memory = model.encode(src_t)
    tgt = [bos]
    for _ in range(max_len):
        token = int(model.decode(memory, src_t, torch.tensor(tgt)[None])[0, -1].argmax())
        if token == 3:
            break
        tgt.append(token)
    return tgt[1:]


def greedy_reversing_src(model: Any, src: list[int], bos: int, eos: int, max_len: int) -> list[int]:
    result = greedy_list(model, src, bos, eos, max_len)
    src.reverse()
    return result


def greedy_unbatched(model: Any, src: list[int], bos: int, eos: int, max_len: int) -> list[int]:
    memory = model.encode(torch.tensor(src))  # no batch dimension
    return [int(memory.sum())]


@pytest.mark.parametrize("wrong,why", [
    (greedy("bos included"), r"leave bos out of the result"),
    (lambda *args: [args[2], *greedy_list(*args)], r"leave bos out of the result"),
    (greedy("eos included"), r"stop WITHOUT appending it"),
    (greedy("bos and eos included"), r"without the bos you started the prefix with and without the eos"),
    (greedy_with_eos, r"without the bos you started the prefix with and without the eos"),
    (greedy("no eos stop"), r"yours goes on until max_len"),
    (greedy("max_len + 1"), r"max_len=6\)(.|\n)*yours returns max_len \+ 1"),
    (greedy("max_len - 1"), r"yours stops at max_len - 1"),
    (greedy("first position"), r"Yours reads position 0"),
    (greedy_first_row, r"Yours reads position 0"),
    (greedy("every position"), r"yours replaces the prefix with the argmax of every position"),
    (greedy("last token only"), r"Yours feeds only the latest token"),
    (greedy("eos 2"), r"eos=0,(.|\n)*stop at the eos you are given \(here 0\): yours went past it, as if eos were "
                      r"always 2"),
    (greedy_eos_2, r"stop at the eos you are given \(here 0\): yours went past it, as if eos were always 2"),
    (greedy_eos_3, r"eos=2,(.|\n)*stop at the eos you are given \(here 2\): yours went past it \(a number"),
    (greedy_flat_argmax, r"An argmax over the whole \(1, T, V\) logits gives a flat index"),
    (greedy_sampling, r"yours draws at random(.|\n)*\(it used torch's random generator\)"),
    (greedy_own_generator, r"yours draws at random"),
    (lambda *args: torch.tensor(greedy_list(*args))[None], r"without the batch dimension: yours has shape \(1, 5\)"),
    (lambda *args: [torch.tensor([t]) for t in greedy_list(*args)], r"each of yours is a one-element tensor"),
    (lambda *args: [float(t) for t in greedy_list(*args)], r"should return a list of token ids(.|\n)*a list of float"),
    (greedy_reversing_src, r"changed src(.|\n)*don't modify them \(src changed\)"),
    (greedy_unbatched, r"model\.encode\(src\): src should have shape \(1, length\)(.|\n)*got shape \(5,\)"),
    (lambda model, *rest: model(torch.tensor([rest[0]]), torch.tensor([[rest[1]]])),
     r"used through its two methods"),
    (lambda *args: greedy_list(*args)[::-1], r"hint:     memory = model\.encode\(src_tensor\[None\]\) once"),
    (greedy_list, None),
])
def test_greedy_names_the_mistake(wrong: Any, why: str | None) -> None:
    expect(checks.ch11_greedy, wrong, why)


def test_the_stand_in_model_leads_with_another_word_before_the_last_position() -> None:
    """Every position but the last leads with a word that is not the next token, and the next token depends on the
    whole prefix: reading the wrong row or feeding a shorter prefix gives another sequence."""
    model = ch11_checks._ReverseModel(bos=1, eos=2)
    src = torch.tensor([[7, 4, 9, 12, 6]])
    memory = model.encode(src)
    assert memory.shape == (1, 5, ch11_checks._V)
    prefix = [1]
    for expected in [6, 12, 9, 4, 7, 2]:
        logits = model.decode(memory, src, torch.tensor([prefix]))
        assert logits.shape == (1, len(prefix), ch11_checks._V)
        rows = logits[0].argmax(-1).tolist()
        assert rows[-1] == expected and expected not in rows[:-1]
        prefix.append(expected)
    assert torch.equal(model.decode(memory, src, torch.tensor([prefix[:3]])),
                       model.decode(memory, src, torch.tensor([prefix[:3]])))  # deterministic


def test_every_greedy_mistake_differs_from_the_right_answer_somewhere() -> None:
    cases = [args for args, _ in ch11_checks._greedy_cases()]
    for how, mistake in ch11_checks._GREEDY_MISTAKES.items():
        assert any(mistake(*args) != ch11_checks._greedy(*args) for args in cases), how
    assert [ch11_checks._greedy(*args) for args in cases][3] == []  # eos first
    assert len(ch11_checks._greedy(*cases[2])) == cases[2][4]  # cut by max_len
