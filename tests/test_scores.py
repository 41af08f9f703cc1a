"""Tests of ``lmcourse.scores``: accuracy, the confusion matrix and macro-F1 by hand; chrF from scratch equal to
sacrebleu's on real and generated sentences; the sacrebleu wrappers; ROUGE-N and ROUGE-L by hand and the LCS
against the plain dynamic programme; and the errors."""

from __future__ import annotations

import random

import numpy as np
import pytest
import sacrebleu
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lmcourse.data import load_records
from lmcourse.scores import (
    Rouge,
    accuracy,
    chrf,
    confusion_matrix,
    f1_per_class,
    lcs_length,
    macro_f1,
    rouge_l,
    rouge_n,
    sacre_bleu,
    sacre_chrf,
)

# --------------------------------------------------------------------------- classification by hand

LABELS = ["austen", "dickens", "shakespeare"]
A, D, S = LABELS
Y_TRUE = [A, A, A, D, D, S]
Y_PRED = [A, A, D, D, S, S]
# rows = true, columns = predicted:   austen: 2 1 0 / dickens: 0 1 1 / shakespeare: 0 0 1
# F1 = 2TP / (2TP + FP + FN):  austen 4 / (4 + 0 + 1) = 4/5;  dickens 2 / (2 + 1 + 1) = 1/2;
#                              shakespeare 2 / (2 + 1 + 0) = 2/3;  macro (4/5 + 1/2 + 2/3) / 3 = 59/90
CONFUSION = [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_classification_scores_by_hand() -> None:
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)
    matrix = confusion_matrix(Y_TRUE, Y_PRED, LABELS)
    assert matrix.dtype == np.int64 and matrix.tolist() == CONFUSION
    assert confusion_matrix(Y_TRUE, Y_PRED, LABELS[::-1]).tolist() == [[1, 0, 0], [1, 1, 0], [0, 1, 2]]
    np.testing.assert_allclose(f1_per_class(matrix), [4 / 5, 1 / 2, 2 / 3])
    assert macro_f1(Y_TRUE, Y_PRED, LABELS) == pytest.approx(59 / 90)
    # a label nobody has nor predicts scores 0 and pulls the mean down: (4/5 + 1/2 + 2/3 + 0) / 4 = 59/120
    assert macro_f1(Y_TRUE, Y_PRED, [*LABELS, "eliot"]) == pytest.approx(59 / 120)
    # the majority-class baseline: accuracy 1/2, but macro-F1 only (2 * 3 / (6 + 3 + 0) + 0 + 0) / 3 = 2/9
    assert accuracy(Y_TRUE, [A] * 6) == 0.5 and macro_f1(Y_TRUE, [A] * 6, LABELS) == pytest.approx(2 / 9)
    # numbers and numpy arrays are labels too
    assert macro_f1(np.array([0, 0, 0, 1, 1, 2]), [0, 0, 1, 1, 2, 2], [0, 1, 2]) == pytest.approx(59 / 90)


def test_classification_scores_against_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 200).tolist(), rng.integers(0, 4, 200).tolist()
    labels = [0, 1, 2, 3]
    assert confusion_matrix(y_true, y_pred, labels).tolist() == metrics.confusion_matrix(y_true, y_pred).tolist()
    assert macro_f1(y_true, y_pred, labels) == pytest.approx(metrics.f1_score(y_true, y_pred, average="macro"))


@pytest.mark.parametrize("call, error, message", [
    (lambda: accuracy([A, D], [A]), ValueError, r"y_true has 2 labels but y_pred has 1"),
    (lambda: accuracy([], []), ValueError, r"y_true and y_pred are empty"),
    (lambda: accuracy("abc", "abd"), TypeError, r"y_true must be a list of labels, got str"),
    (lambda: accuracy(np.zeros((2, 2)), np.zeros((2, 2))), ValueError, r"y_true must be 1-D .* shape \(2, 2\)"),
    (lambda: confusion_matrix(Y_TRUE, [A, A, D, D, S, "eliot"], LABELS), ValueError,
     r"y_pred\[5\] is 'eliot', a label the classifier never saw: labels are \['austen'"),
    (lambda: confusion_matrix(["eliot", *Y_TRUE[1:]], Y_PRED, LABELS), ValueError, r"y_true\[0\] is 'eliot'"),
    (lambda: confusion_matrix(Y_TRUE, Y_PRED, [A, D, S, A]), ValueError, r"lists \['austen'\] more than once"),
    (lambda: confusion_matrix(Y_TRUE, Y_PRED, []), ValueError, r"labels is empty"),
    (lambda: f1_per_class(np.ones((2, 3), dtype=np.int64)), ValueError, r"square .* shape \(2, 3\)"),
    (lambda: f1_per_class(np.ones((2, 2))), ValueError, r"needs counts .* dtype float64"),
    (lambda: f1_per_class([[1, 0], [0, 1]]), ValueError, r"square numpy array .* got list"),
])
def test_classification_errors(call, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_a_tensor_of_labels_is_refused_with_a_remedy() -> None:
    import torch

    with pytest.raises(TypeError, match=r"y_pred is a torch tensor: pass y_pred.tolist\(\)"):
        accuracy([0, 1], torch.tensor([0, 1]))


# --------------------------------------------------------------------------- chrF against sacrebleu


def sacrebleu_chrf(hypotheses: list[str], references: list[str], **kwargs) -> float:
    return sacrebleu.metrics.CHRF(**kwargs).corpus_score(hypotheses, [references]).score


def test_chrf_by_hand() -> None:
    # "ab" against "abc", whitespace gone. n=1: 2 hyp, 3 ref, 2 matches -> P = 1, R = 2/3;
    # n=2: "ab" vs "ab","bc": P = 1, R = 1/2; n=3..6: the hypothesis has no n-grams, so those orders don't count.
    # P = 1, R = (2/3 + 1/2) / 2 = 7/12;  F2 = (1 + 4) P R / (4 P + R) = (35/12) / (55/12) = 7/11
    assert chrf(["a b"], ["abc"]) == pytest.approx(700 / 11, abs=1e-12)
    assert chrf(["a b"], ["abc"], char_order=1, beta=1.0) == pytest.approx(100 * 2 * (2 / 3) / (1 + 2 / 3))
    assert chrf(["En el principio"], ["En el principio"]) == 100.0
    assert chrf(["abc", "xyz"], ["xyz", "abc"]) == 0.0  # each hypothesis meets only its own reference
    assert chrf(["abc"], ["xyz"]) == 0.0 and chrf([""], ["xyz"]) == 0.0 and chrf(["  "], ["x"]) == 0.0
    for blank in ("", "  \t"):  # an empty reference would lower the corpus score silently: an error naming it
        with pytest.raises(ValueError, match=r"chrf: references\[1\] is empty, so nothing in it can be matched"):
            chrf(["a", "b"], ["a", blank])
        with pytest.raises(ValueError, match=r"sacre_bleu: references\[1\] is empty"):
            sacre_bleu(["a", "b"], ["a", blank])


VERSES = load_records("kjv_rv1909_pairs")


def mangle(sentence: str, rng: random.Random, others: list[str]) -> str:
    """A plausible bad translation: shuffled, cut, with a word dropped or changed case, or another verse."""
    tokens = sentence.split()
    way = rng.randrange(6)
    if way == 0:
        rng.shuffle(tokens)
    elif way == 1:
        tokens = tokens[: rng.randrange(len(tokens) + 1)]
    elif way == 2 and tokens:
        del tokens[rng.randrange(len(tokens))]
    elif way == 3:
        return rng.choice(others)
    elif way == 4:
        return sentence.upper()
    return " ".join(tokens)


def test_chrf_equals_sacrebleu_on_verses() -> None:
    rng = random.Random(11)
    pairs = rng.sample(VERSES, 300)
    spanish = [p["es"] for p in pairs]
    hyps = [mangle(s, rng, spanish) for s in spanish]
    assert chrf(hyps, spanish) == pytest.approx(sacrebleu_chrf(hyps, spanish), abs=1e-9)
    english = [p["en"] for p in pairs]  # the "translation" that forgot to translate
    assert chrf(english, spanish) == pytest.approx(sacrebleu_chrf(english, spanish), abs=1e-9)
    for hyp, ref in zip(hyps[:60], spanish[:60]):  # each sentence as a corpus of one
        assert chrf([hyp], [ref]) == pytest.approx(sacrebleu.sentence_chrf(hyp, [ref]).score, abs=1e-9)
    assert chrf(hyps, spanish, char_order=3, beta=1.0) == pytest.approx(
        sacrebleu_chrf(hyps, spanish, char_order=3, beta=1), abs=1e-9)
    assert sacre_chrf(hyps, spanish) == sacrebleu_chrf(hyps, spanish)


SHORT = ["", " ", "a", "ab", "á", "y", "Sea la luz", "fué", "luz luz", "ñandú", "abcdefg", "abcdefgh"]


def test_chrf_equals_sacrebleu_on_short_strings() -> None:
    # every pair of short strings, alone and as corpora in which short references leave orders out
    for hyp in SHORT:
        for ref in (r for r in SHORT if r.strip()):  # an empty reference is an error here (test_chrf_by_hand)
            assert chrf([hyp], [ref]) == pytest.approx(sacrebleu_chrf([hyp], [ref]), abs=1e-9), (hyp, ref)
    kept = [s for s in SHORT if s.strip()]
    assert chrf(SHORT[::-1][:len(kept)], kept) == pytest.approx(sacrebleu_chrf(SHORT[::-1][:len(kept)], kept), abs=1e-9)
    assert chrf(kept, kept) == 100.0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="ab cñé\tÁ", max_size=12), st.text(alphabet="ab cñé\tÁ", max_size=12)),
                min_size=1, max_size=6),
       st.integers(1, 7), st.sampled_from([1, 2, 3]))
def test_chrf_equals_sacrebleu_on_generated_strings(pairs: list[tuple[str, str]], order: int, beta: int) -> None:
    hyps, refs = [h for h, _ in pairs], [r for _, r in pairs]
    assume(all(r.strip() for r in refs))  # an empty reference is an error (test_chrf_by_hand)
    assert chrf(hyps, refs, char_order=order, beta=beta) == pytest.approx(
        sacrebleu_chrf(hyps, refs, char_order=order, beta=beta), abs=1e-9)


def test_sacre_bleu() -> None:
    hyps = ["the cat sat on the mat", "a dog ran in the park today"]
    refs = ["the cat sat on the mat", "the dog ran in the park"]
    assert sacre_bleu(hyps[:1], refs[:1]) == pytest.approx(100.0)
    assert sacre_bleu(hyps, refs) == sacrebleu.metrics.BLEU().corpus_score(hyps, [refs]).score
    assert 0 < sacre_bleu(hyps, refs) < 100 and isinstance(sacre_bleu(hyps, refs), float)


@pytest.mark.parametrize("score", [chrf, sacre_bleu, sacre_chrf])
def test_translation_score_errors(score) -> None:
    name = score.__name__
    with pytest.raises(ValueError, match=rf"{name}: hypotheses has 2 sentences but references has 3: pass one"):
        score(["a", "b"], ["a", "b", "c"])
    with pytest.raises(ValueError, match=rf"{name}: hypotheses is empty"):
        score([], [])
    with pytest.raises(TypeError, match=rf"{name}: references\[1\] is NoneType None, not a str"):
        score(["a", "b"], ["a", None])
    with pytest.raises(TypeError, match=r"hypotheses must be a list of strings, got one str 'la luz'"):
        score("la luz", ["la luz"])


def test_chrf_argument_errors() -> None:
    with pytest.raises(ValueError, match=r"chrf\(char_order\) must be >= 1, got 0"):
        chrf(["a"], ["a"], char_order=0)
    with pytest.raises(ValueError, match=r"chrf\(beta\) must lie in \[0.0, inf\], got -1"):
        chrf(["a"], ["a"], beta=-1)


# --------------------------------------------------------------------------- ROUGE by hand

CAT_SUMMARY = "The cat sat on the mat."
CAT_REFERENCE = "the cat was on the mat"


def test_rouge_n_by_hand() -> None:
    # words: summary the cat sat on the mat, reference the cat was on the mat (6 each)
    # unigrams: the 2 / 2, cat, on, mat 1 / 1, sat 1 / 0: overlap 2 + 1 + 1 + 1 = 5: P = R = F1 = 5/6
    one = rouge_n(CAT_SUMMARY, CAT_REFERENCE)
    assert isinstance(one, Rouge) and one.precision == one.recall == pytest.approx(5 / 6)
    assert one.f1 == pytest.approx(5 / 6)
    # bigrams (5 each): the-cat, on-the, the-mat shared; cat-sat, sat-on vs cat-was, was-on not: 3/5
    two = rouge_n(CAT_SUMMARY, CAT_REFERENCE, n=2)
    assert (two.precision, two.recall, two.f1) == pytest.approx((3 / 5, 3 / 5, 3 / 5))
    # a short summary: 2 of its 2 words are in the reference (P = 1), 2 of 6 reference words recalled (R = 1/3),
    # F1 = 2 P R / (P + R) = (2/3) / (4/3) = 1/2
    assert rouge_n("the cat", CAT_REFERENCE) == Rouge(1.0, 1 / 3, pytest.approx(0.5))
    # clipping: "the" four times matches the reference's one "the" once: P = 1/4, R = 1/2, F1 = (1/4) / (3/4) = 1/3
    clipped = rouge_n("the the the the", "the cat")
    assert (clipped.precision, clipped.recall, clipped.f1) == pytest.approx((1 / 4, 1 / 2, 1 / 3))
    # too short for the order: no bigrams in the summary, so everything is 0
    assert rouge_n("cat", CAT_REFERENCE, n=2) == Rouge(0.0, 0.0, 0.0)
    assert rouge_n("", CAT_REFERENCE) == Rouge(0.0, 0.0, 0.0)


def test_rouge_l_by_hand() -> None:
    # the longest common subsequence: the cat . on the mat = 5 of 6 words each: P = R = F1 = 5/6
    lcs = rouge_l(CAT_SUMMARY, CAT_REFERENCE)
    assert (lcs.precision, lcs.recall, lcs.f1) == pytest.approx((5 / 6, 5 / 6, 5 / 6))
    # the same words in reverse order: ROUGE-1 is perfect, but the longest subsequence in order is 3 words
    # ("the on the", "the sat the" or "the cat the"): P = R = 3/6
    backwards = "mat the on sat cat the"
    assert rouge_n(backwards, "the cat sat on the mat").f1 == pytest.approx(1.0)
    assert rouge_l(backwards, "the cat sat on the mat") == Rouge(0.5, 0.5, 0.5)
    assert lcs_length("the cat sat on the mat".split(), backwards.split()) == 3
    # a summary inside the reference: LCS 2: P = 2/2, R = 2/6
    assert rouge_l("cat mat", CAT_REFERENCE) == Rouge(1.0, 1 / 3, pytest.approx(0.5))


def plain_lcs(a: list[str], b: list[str]) -> int:
    """The textbook O(mn) dynamic programme."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a, 1):
        for j, y in enumerate(b, 1):
            table[i][j] = table[i - 1][j - 1] + 1 if x == y else max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


@given(st.lists(st.sampled_from("abcde"), max_size=25), st.lists(st.sampled_from("abcdef"), max_size=25))
def test_lcs_length_is_the_dynamic_programme(a: list[str], b: list[str]) -> None:
    assert lcs_length(a, b) == plain_lcs(a, b) == lcs_length(b, a)


def test_lcs_length_on_a_chapter() -> None:
    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(60)]
    chapter, summary = rng.choice(vocabulary, 600).tolist(), rng.choice(vocabulary, 80).tolist()
    assert lcs_length(chapter, summary) == plain_lcs(chapter, summary)


def test_rouge_errors() -> None:
    with pytest.raises(ValueError, match=r"rouge_n\(n\) must be >= 1, got 0"):
        rouge_n("a", "a", n=0)
    with pytest.raises(TypeError, match=r"rouge_n\(n\) must be a whole number >= 1, got 2.0"):
        rouge_n("a", "a", n=2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"rouge_l\(summary\) needs a str, got list .*: join the sentences"):
        rouge_l(["The cat.", "The mat."], CAT_REFERENCE)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"rouge_n\(reference\) needs a str, got NoneType"):
        rouge_n(CAT_SUMMARY, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"rouge_l\(reference\): the reference '--!' has no words"):
        rouge_l(CAT_SUMMARY, "--!")
