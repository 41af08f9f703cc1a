"""The field's scores for chapter 11's tasks: classification, translation, summarisation.

- **Classification** (authorship, sentiment): :func:`accuracy`; :func:`confusion_matrix` (rows: the
  true label, columns: the predicted one); :func:`f1_per_class` and :func:`macro_f1`, the mean F1
  over the labels, which a majority-class baseline cannot game the way it games accuracy.
- **Translation**: :func:`chrf`, corpus-level chrF (Popović 2015) written from scratch and equal to
  ``sacrebleu``'s ``CHRF()`` (tests/test_scores.py proves it); :func:`sacre_bleu` and
  :func:`sacre_chrf`, sacrebleu's own corpus BLEU and chrF, the figures papers report.
- **Summarisation**: :func:`rouge_n` and :func:`rouge_l` (Lin 2004), written from scratch, on
  ``lmcourse.retrieval.words`` tokens: lower-cased ``[a-z0-9]+`` runs, ROUGE's default tokenisation
  without stemming. :func:`lcs_length` is ROUGE-L's longest common subsequence.

All scores of a set of hypotheses take one reference per hypothesis, in two lists of equal length.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lmcourse.batches import _whole
from lmcourse.retrieval import _check_real, _check_texts, words

__all__ = ["Rouge", "accuracy", "chrf", "confusion_matrix", "f1_per_class", "lcs_length", "macro_f1", "rouge_l",
           "rouge_n", "sacre_bleu", "sacre_chrf"]


# --------------------------------------------------------------------------- classification


def _check_labels(y: object, name: str, who: str) -> list:
    """``y`` as a list if it is a list, tuple or 1-D numpy array of labels; else an error naming ``name``."""
    if hasattr(y, "detach"):
        raise TypeError(f"{who}: {name} is a torch tensor: pass {name}.tolist().")
    if isinstance(y, np.ndarray):
        if y.ndim != 1:
            raise ValueError(f"{who}: {name} must be 1-D (one label per item), got shape {y.shape}.")
        return y.tolist()
    if isinstance(y, (str, bytes)) or not isinstance(y, Sequence):
        raise TypeError(f"{who}: {name} must be a list of labels, got {type(y).__name__} {y!r:.60}.")
    return list(y)


def _check_label_pair(y_true: object, y_pred: object, who: str) -> tuple[list, list]:
    true, pred = _check_labels(y_true, "y_true", who), _check_labels(y_pred, "y_pred", who)
    if len(true) != len(pred):
        raise ValueError(f"{who}: y_true has {len(true)} labels but y_pred has {len(pred)}: pass one prediction "
                         f"per item.")
    if not true:
        raise ValueError(f"{who}: y_true and y_pred are empty: there is nothing to score.")
    return true, pred


def accuracy(y_true: Sequence, y_pred: Sequence) -> float:
    """The share of items whose predicted label equals the true one."""
    true, pred = _check_label_pair(y_true, y_pred, "accuracy")
    return sum(t == p for t, p in zip(true, pred)) / len(true)


def confusion_matrix(y_true: Sequence, y_pred: Sequence, labels: Sequence) -> np.ndarray:
    """Counts of (true, predicted) label pairs: int64 (L, L), row = true label, column = predicted, in ``labels`` order.

    A label in ``y_true`` or ``y_pred`` that is not in ``labels`` is an error, not a silently dropped item.
    """
    true, pred = _check_label_pair(y_true, y_pred, "confusion_matrix")
    labels = _check_labels(labels, "labels", "confusion_matrix")
    if not labels:
        raise ValueError("confusion_matrix: labels is empty: list every label, e.g. sorted(set(y_true)).")
    column = {label: i for i, label in enumerate(labels)}
    if len(column) != len(labels):
        twice = [label for label, n in Counter(labels).items() if n > 1]
        raise ValueError(f"confusion_matrix: labels lists {twice!r:.80} more than once: list each label once.")
    ids = []
    for name, ys in (("y_true", true), ("y_pred", pred)):
        for i, y in enumerate(ys):
            if y not in column:
                raise ValueError(f"confusion_matrix: {name}[{i}] is {y!r}, a label the classifier never saw: labels "
                                 f"are {labels!r:.120}; add it to labels or fix the data.")
        ids.append(np.array([column[y] for y in ys], dtype=np.int64))
    n = len(labels)
    return np.bincount(ids[0] * n + ids[1], minlength=n * n).reshape(n, n)


def f1_per_class(confusion: np.ndarray) -> np.ndarray:
    """Each class's F1 from a :func:`confusion_matrix`: ``2 TP / (2 TP + FP + FN)``, float64 (L,).

    TP is the diagonal, FP the rest of the class's column (predicted, wrongly), FN the rest of its
    row (missed). A class with no true and no predicted items has F1 0 (scikit-learn's
    ``zero_division=0``), so listing a label nobody uses lowers the macro mean: list only real labels.
    """
    if not isinstance(confusion, np.ndarray) or confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"f1_per_class needs a square numpy array (a confusion matrix), got "
                         f"{type(confusion).__name__} of shape {getattr(confusion, 'shape', None)}.")
    if confusion.dtype.kind not in "iu" or (confusion < 0).any():
        raise ValueError(f"f1_per_class needs counts (whole numbers >= 0), got dtype {confusion.dtype}: pass "
                         f"confusion_matrix(y_true, y_pred, labels).")
    tp = np.diag(confusion).astype(np.float64)
    fp = confusion.sum(axis=0) - tp
    fn = confusion.sum(axis=1) - tp
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def macro_f1(y_true: Sequence, y_pred: Sequence, labels: Sequence) -> float:
    """The mean of :func:`f1_per_class` over ``labels``: every label counts the same, however rare."""
    return float(f1_per_class(confusion_matrix(y_true, y_pred, labels)).mean())


# --------------------------------------------------------------------------- translation


def _check_pairs(hypotheses: object, references: object, who: str) -> tuple[list[str], list[str]]:
    hyps = _check_texts(hypotheses, "hypotheses", who)
    refs = _check_texts(references, "references", who)
    if len(hyps) != len(refs):
        raise ValueError(f"{who}: hypotheses has {len(hyps)} sentences but references has {len(refs)}: pass one "
                         f"reference per hypothesis, in the same order.")
    blank = next((i for i, r in enumerate(refs) if not r.strip()), None)
    if blank is not None:
        raise ValueError(f"{who}: references[{blank}] is empty, so nothing in it can be matched and the corpus score "
                         f"would drop silently (often an empty line from splitlines() that shifted the list): drop "
                         f"the pair, or align the lists.")
    return hyps, refs


def _char_ngrams(text: str, n: int) -> Counter[str]:
    """How often each run of ``n`` characters occurs in ``text``."""
    return Counter([text[i:i + n] for i in range(len(text) - n + 1)])


def chrf(hypotheses: Sequence[str], references: Sequence[str], char_order: int = 6, beta: float = 2.0) -> float:
    """Corpus-level chrF on 0..100: the F-score of character n-gram precision and recall, n = 1..char_order.

    Exactly sacrebleu's ``CHRF()`` default (chrF2, sacrebleu >= 2.0), step by step:

    1. Whitespace is removed from each sentence (``"".join(s.split())``): chrF compares characters.
    2. For every sentence and order n, count the hypothesis's n-grams, the reference's, and the
       matches (each n-gram matched at most as often as the reference holds it). A sentence whose
       reference is shorter than n adds nothing for that order, not even its hypothesis's n-grams.
    3. Sum the counts over the corpus, per order (the corpus is one big sentence, not a mean of
       sentence scores).
    4. Per order, precision = matches / hypothesis n-grams and recall = matches / reference n-grams;
       average both over the orders where both counts are positive (sacrebleu's "effective order").
    5. ``F_beta = (1 + beta^2) P R / (beta^2 P + R)``, times 100; 0 if nothing matched. beta = 2 makes
       recall count twice as much as precision.
    """
    hyps, refs = _check_pairs(hypotheses, references, "chrf")
    char_order = _whole(char_order, "chrf(char_order)", 1)
    factor = _check_real(beta, "chrf(beta)", 0.0) ** 2
    counts = [[0, 0, 0] for _ in range(char_order)]  # per order: hypothesis n-grams, reference n-grams, matches
    for hyp, ref in zip(hyps, refs):
        hyp, ref = "".join(hyp.split()), "".join(ref.split())
        for n in range(1, min(char_order, len(ref)) + 1):
            ref_grams = _char_ngrams(ref, n)
            matches = sum(min(k, ref_grams[g]) for g, k in _char_ngrams(hyp, n).items() if g in ref_grams)
            order = counts[n - 1]
            order[0] += max(len(hyp) - n + 1, 0)
            order[1] += len(ref) - n + 1
            order[2] += matches
    precision = recall = 0.0
    orders = 0
    for n_hyp, n_ref, n_match in counts:
        if n_hyp > 0 and n_ref > 0:
            precision += n_match / n_hyp
            recall += n_match / n_ref
            orders += 1
    if orders == 0:
        return 0.0
    precision, recall = precision / orders, recall / orders
    if precision + recall == 0:
        return 0.0
    score = (1 + factor) * precision * recall / (factor * precision + recall)
    return 100 * score


def sacre_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu's corpus BLEU (0..100, its default 13a tokenisation, one reference each): the figure papers report."""
    import sacrebleu

    hyps, refs = _check_pairs(hypotheses, references, "sacre_bleu")
    return float(sacrebleu.corpus_bleu(hyps, [refs]).score)


def sacre_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu's corpus chrF (0..100, its defaults, one reference each): what :func:`chrf` computes by hand."""
    import sacrebleu

    hyps, refs = _check_pairs(hypotheses, references, "sacre_chrf")
    return float(sacrebleu.corpus_chrf(hyps, [refs]).score)


# --------------------------------------------------------------------------- summarisation


@dataclass(frozen=True)
class Rouge:
    """A ROUGE score: ``precision`` (share of the summary's units found in the reference), ``recall``
    (share of the reference's units found in the summary) and their harmonic mean ``f1``; each 0..1."""

    precision: float
    recall: float
    f1: float


def _rouge(overlap: int, n_summary: int, n_reference: int) -> Rouge:
    """Precision, recall and F1 from counts; an empty side gives 0, as Google's ``rouge-score`` does."""
    precision = overlap / max(n_summary, 1)
    recall = overlap / max(n_reference, 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return Rouge(precision, recall, f1)


def _summary_words(summary: object, reference: object, who: str) -> tuple[list[str], list[str]]:
    for name, text in (("summary", summary), ("reference", reference)):
        if not isinstance(text, str):
            remedy = ": join the sentences, ' '.join(...)" if isinstance(text, (list, tuple)) else ""
            raise TypeError(f"{who}({name}) needs a str, got {type(text).__name__} {text!r:.60}{remedy}.")
    summary_words, reference_words = words(summary), words(reference)
    if not reference_words:
        raise ValueError(f"{who}(reference): the reference {reference!r:.60} has no words (runs of a-z, 0-9 after "
                         f"lower-casing), so nothing can be recalled from it: pass the reference text.")
    return summary_words, reference_words


def rouge_n(summary: str, reference: str, n: int = 1) -> Rouge:
    """ROUGE-N: the overlap of the two texts' word n-grams, each n-gram matched at most as often as the other holds it.

    Tokens are :func:`lmcourse.retrieval.words` (ROUGE's default, no stemming). A summary with fewer
    than n words scores 0; a reference with no words at all is an error.
    """
    n = _whole(n, "rouge_n(n)", 1)
    summary_words, reference_words = _summary_words(summary, reference, "rouge_n")
    grams = [Counter(zip(*(ws[i:] for i in range(n)))) for ws in (summary_words, reference_words)]
    return _rouge((grams[0] & grams[1]).total(), grams[0].total(), grams[1].total())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """The length of the longest common subsequence of two token lists (in order, not necessarily adjacent).

    The dynamic programme ``L[i][j] = L[i-1][j-1] + 1 if a[j] == b[i] else max(L[i-1][j], L[i][j-1])``,
    one row per token of the shorter list, vectorised along the longer: the row is
    ``max(prev[j], prev[j-1] + match[j])`` followed by a running maximum (which supplies ``L[i][j-1]``).
    A 3,000-word chapter against a 300-word summary takes milliseconds.
    """
    if len(a) < len(b):
        a, b = b, a
    ids = {w: i for i, w in enumerate(dict.fromkeys(a))}
    long = np.array([ids[w] for w in a], dtype=np.int64)
    row = np.zeros(len(a) + 1, dtype=np.int64)
    for w in b:
        if w not in ids:
            continue  # no match anywhere: the row stays as it was
        new = np.zeros_like(row)
        np.maximum(row[1:], row[:-1] + (long == ids[w]), out=new[1:])
        row = np.maximum.accumulate(new)
    return int(row[-1])


def rouge_l(summary: str, reference: str) -> Rouge:
    """ROUGE-L: precision and recall of the longest common subsequence of words (LCS / summary length and
    LCS / reference length). Rewards words in the reference's order without requiring them adjacent."""
    summary_words, reference_words = _summary_words(summary, reference, "rouge_l")
    return _rouge(lcs_length(summary_words, reference_words), len(summary_words), len(reference_words))
