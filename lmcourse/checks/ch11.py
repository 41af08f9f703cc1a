"""Checkers of chapter 11 (applications): exercises 11.1-11.3 (in ``11_applications``) and 11.5-11.7
(``11_text_to_text``).

The references are computed here, in a few lines each, not taken from the chapter's modules (``lmcourse.scores``,
``lmcourse.retrieval``, ``lmcourse.seq2seq``): a confusion matrix of the authorship task's labels (11.1), macro-F1 of
a confusion matrix (11.2), the posterior over the labels by Bayes' rule from the language models' log-likelihoods
(11.3), BLEU's clipped unigram precision (11.5), one term's BM25 weight with Lucene's idf (11.6), and greedy decoding
(11.7), which runs the learner's loop on a small deterministic stand-in for an encoder-decoder, :class:`_ReverseModel`.
The inputs are shaped like the chapter's data (the authorship task's three labels shakespeare, austen and kjv, its
classes of 60 passages and their log-likelihoods of hundreds of nats, translations of Genesis into the Spanish of the
Reina-Valera 1909, the KJV's 31102 verses of about 25 words); an answer may return Python, numpy or torch numbers,
float32 or float64. The typical mistakes are computed (in float64) to tell which one an answer makes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from lmcourse.checks.core import (
    Description,
    _changed_hint,
    _copy,
    _f64,
    _floats,
    _kind,
    _match_mistake,
    _numbers,
    _quiet_numerics,
    _real,
    _rng_states,
    _to_numpy,
    _touched,
    _unchanged,
    call,
    checker,
    fail,
    number,
    passed,
)

#: How an answer of this chapter writes into its inputs (lists of strings or ids, a confusion matrix).
_WRITES = ("references.sort(), src.reverse(), .append(...), .pop(), x[...] = ... or x += ... on an input writes into "
           "the caller's.")


def _same_number(rel: float) -> Callable[[Any, Any], bool]:
    """A ``same`` for :func:`_match_mistake`: ``got`` is one real number close to ``theirs`` (nan where it is nan)."""

    def same(got: Any, theirs: Any) -> bool:
        value = _real(got)
        if value is None:
            return False
        if math.isnan(theirs):
            return math.isnan(value)
        return math.isclose(value, theirs, rel_tol=rel, abs_tol=1e-9)

    return same


# --- 11.5 BLEU's clipped unigram precision -------------------------------------------------------------------------

def _unigram(hypothesis: str, references: list[str], how: str = "right") -> float:
    """The clipped unigram precision of ``hypothesis`` against ``references`` (tokens: str.split(), case kept; each
    hypothesis word counted at most as often as the reference that has it most), or one of the typical mistakes, by
    ``how``."""

    def split(text: str) -> list[str]:
        return text.split(" ") if how == "split(' ')" else text.lower().split() if how == "lower" else text.split()

    if how == "best reference":
        return max(_unigram(hypothesis, [r]) for r in references)
    words = split(hypothesis)
    if not words:
        return 0.0
    refs = [Counter(split(r)) for r in (references[:1] if how == "first reference" else references)]
    counts = Counter(words)
    if how == "no clipping":
        matched = sum(c for w, c in counts.items() if any(w in r for r in refs))
    elif how == "sum":
        matched = sum(min(c, sum(r[w] for r in refs)) for w, c in counts.items())
    elif how.startswith("types"):
        matched = sum(1 for w in counts if any(w in r for r in refs))
    elif how == "min":
        matched = sum(min(c, min(r[w] for r in refs)) for w, c in counts.items())
    else:
        matched = sum(min(c, max(r[w] for r in refs)) for w, c in counts.items())
    lengths = [len(split(r)) for r in references]
    denominator = {"types": len(counts), "recall": lengths[0], "recall, shortest": min(lengths),
                   "recall, longest": max(lengths), "recall, all": sum(lengths)}.get(how, len(words))
    return 100 * matched / denominator if how == "percent" else matched / denominator


_UNIGRAM_MISTAKES: dict[str, Callable[[str, list[str]], Any]] = {
    how: (lambda kind: lambda hypothesis, references: _unigram(hypothesis, references, kind))(how)
    for how in ("no clipping", "sum", "min", "recall", "recall, shortest", "recall, longest", "recall, all", "types",
                "types over tokens", "lower", "first reference", "best reference", "split(' ')", "percent")
}

_RECALL_HINT = ("divide by the number of words in the HYPOTHESIS: precision asks how much of what the system wrote is "
                "in a reference. Dividing by a reference's length gives recall, which BLEU leaves to its brevity "
                "penalty.")

_UNIGRAM_HINTS = {
    "no clipping": "clip the counts: a hypothesis word counts at most as many times as it occurs in a reference. "
                   "Yours counts every occurrence of a word that is in a reference, so 'the the the the the the the' "
                   "scores 7/7; clipped it is 2/7 ('the' occurs at most twice in one reference).",
    "sum": "clip by the MAXIMUM count over the references, not their sum: min(count in the hypothesis, max over the "
           "references of the count in that reference). Summing lets a word that each reference has once count "
           "twice.",
    "min": "clip by the MAXIMUM count over the references, not the minimum: a hypothesis word is allowed as many "
           "times as the reference that has it most (Counter's | is the elementwise maximum, & the minimum). Taking "
           "the minimum lets a word count only if EVERY reference has it.",
    "recall": _RECALL_HINT,
    "recall, shortest": _RECALL_HINT,
    "recall, longest": _RECALL_HINT,
    "recall, all": _RECALL_HINT,
    "types": "count tokens, not word types: use Counter(hypothesis.split()) and sum the clipped counts over it; "
             "a set of the words counts a repeated word once and divides by the number of distinct words.",
    "types over tokens": "count each occurrence (token), clipped, not each distinct word once: sum min(count, "
                         "max reference count) over Counter(hypothesis.split()). A set drops the repeats that a "
                         "reference does have.",
    "lower": "keep the case: BLEU compares tokens exactly, so 'en' does not match 'En'. Don't call .lower().",
    "first reference": "use every reference: the clip count of a word is its highest count in ANY reference. Yours "
                       "reads only references[0].",
    "best reference": "clip word by word, over all references at once: each word's clip count is its maximum count "
                      "in any one reference, and different words may take it from different references. Yours "
                      "scores each reference alone and keeps the best.",
    "split(' ')": "split on any whitespace with .split() (no argument): .split(' ') keeps empty strings where two "
                  "spaces meet or the text ends in a space, and counts them as words.",
    "percent": "the precision is a fraction in [0, 1]; yours is 100 times it (a percentage). Return the matched "
               "count over the number of hypothesis tokens, without * 100.",
}

_UNIGRAM_RULE = ("tokens = text.split(); for each distinct hypothesis word, min(its count in the hypothesis, its "
                 "highest count in any one reference); sum these and divide by the number of hypothesis tokens "
                 "(0 for an empty hypothesis).")

_GENESIS_1_1 = "En el principio crió Dios los cielos y la tierra ."


def _unigram_cases() -> list[tuple[str, list[str]]]:
    """Papineni et al.'s example of why counts are clipped; Spanish translations of Genesis 1:1 and 1:3-4 (the chapter
    translates the KJV into the Reina-Valera 1909) against the RV 1909 and a modern wording, with case differences,
    words that occur in only one reference, a better second reference and a double space; Genesis 1:3 in the KJV's
    English against itself (lower case in the hypothesis); the empty hypothesis."""
    return [
        ("the the the the the the the", ["the cat is on the mat", "there is a cat on the mat"]),
        ("en el principio Dios creó los cielos y la tierra y el mar .",
         [_GENESIS_1_1, "Al principio Dios creó el cielo y la tierra ."]),
        ("Y dijo Dios : Sea la luz  y la luz fué buena ; y apartó Dios la luz de las tinieblas .",
         ["Y dijo Dios : Sea la luz : y fué la luz .",
          "Dios dijo : Que exista la luz . Y la luz llegó a existir . Dios consideró que la luz era buena y la "
          "separó de las tinieblas .",
          "Y vió Dios que la luz era buena : y apartó Dios la luz de las tinieblas ."]),
        ("and God said let there be light and there was light",
         ["And God said , Let there be light : and there was light ."]),
        ("", [_GENESIS_1_1]),
    ]


@checker
def ch11_unigram_precision(unigram_precision: Callable[[str, list[str]], Any]) -> None:
    """Exercise 11.5: ``unigram_precision(hypothesis, references)`` = BLEU's clipped unigram precision (Papineni et
    al. 2002): tokens by ``str.split()``, case kept; each hypothesis word counts at most as often as it occurs in the
    reference where it occurs most; the sum over the hypothesis's words divided by its number of tokens; 0 for an
    empty hypothesis.

    Five cases: Papineni's 'the the the the the the the' against two references (2/7); Spanish translations of Genesis
    1:1 and 1:3-4 against two and three references (the RV 1909's wording and modern ones), where a lower-case 'en'
    does not match 'En', some words occur in one reference only and a double space separates two words; the KJV's
    Genesis 1:3 lower-cased against itself; the empty hypothesis. The answer is one number (rel 1e-6); the list of
    references must be left as it was. The hint names the mistake: no clipping, clipping by the sum or the minimum of
    the references' counts, dividing by a reference's length (recall), counting distinct words instead of tokens,
    lower-casing, only the first reference or only the best single one, splitting on ' ' instead of any whitespace, a
    percentage instead of a fraction.
    """
    ex = "11.5 (unigram_precision)"
    cases = _unigram_cases()
    same = _same_number(1e-6)
    for i, (hypothesis, references) in enumerate(cases):
        what = f"unigram_precision({hypothesis!r}, {len(references)} reference{'s' if len(references) > 1 else ''})"
        given = list(references)

        def crash_hint(err: Exception, empty: bool = not hypothesis) -> str:
            if empty and isinstance(err, (ZeroDivisionError, ValueError)):
                return ("an empty hypothesis has precision 0: return 0.0 when hypothesis.split() is empty, before "
                        "dividing by its length.")
            return f"hypothesis is a str, references a list of str; {_UNIGRAM_RULE}"

        with _quiet_numerics():
            got = call(ex, unigram_precision, hypothesis, given, hint=crash_hint)
        if given != references:
            fail(ex, f"{what} changed references", Description("references as given"),
                 Description("changed references"),
                 _changed_hint(["references"], "Counter(r.split()) for each r", _WRITES))
        expected = _unigram(hypothesis, references)
        if same(got, expected):
            continue
        others = [(h, list(r)) for j, (h, r) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (hypothesis, references), unigram_precision, others, _UNIGRAM_MISTAKES, same,
                                 confirm=True)
        hint = _UNIGRAM_HINTS.get(mistake or "", _UNIGRAM_RULE)
        value = number(ex, f"{what}: the result", got, round(expected, 6), hint)
        if not hypothesis and math.isnan(value):
            hint = ("an empty hypothesis has precision 0: return 0.0 when hypothesis.split() is empty (0 / 0 gives "
                    "nan in numpy).")
        fail(ex, what, round(expected, 6), round(value, 6), hint)
    passed(ex, "each word counted at most as often as in the reference that has it most, over the hypothesis's "
               "length: 'the' x 7 scores 2/7")


# --- 11.1 a confusion matrix --------------------------------------------------------------------------------------

def _confusion(y_true: list[str], y_pred: list[str], labels: list[str], how: str = "right") -> Any:
    """The confusion matrix of ``y_pred`` against ``y_true`` (float64 counts; rows: the true label, columns: the
    predicted one, both in the order of ``labels``), or one of the typical mistakes, by ``how``."""
    import numpy as np

    order = {"sorted": sorted(labels), "appearance": list(dict.fromkeys([*y_true, *y_pred]))}.get(how, labels)
    index = {label: i for i, label in enumerate(order)}
    c = np.zeros((len(order), len(order)))
    for t, p in zip(y_true, y_pred):
        c[index[t], index[p]] += 1
    with np.errstate(all="ignore"):
        return {"transposed": c.T, "diagonal": np.diag(np.diag(c)), "errors only": c - np.diag(np.diag(c)),
                "normalised": c / c.sum(axis=1, keepdims=True),
                "normalised, 0": np.where(c.sum(axis=1, keepdims=True) > 0, c / c.sum(axis=1, keepdims=True), 0.0),
                "normalised columns": c / c.sum(axis=0, keepdims=True),
                "fractions": c / c.sum()}.get(how, c)


_CONFUSION_MISTAKES: dict[str, Callable[..., Any]] = {
    how: (lambda kind: lambda y_true, y_pred, labels: _confusion(y_true, y_pred, labels, kind))(how)
    for how in ("transposed", "sorted", "appearance", "diagonal", "errors only", "normalised", "normalised, 0",
                "normalised columns", "fractions")
}

_ORDER_HINT = ("put the rows and the columns in the order of labels as given (index = {label: i for i, label in "
               "enumerate(labels)}), so that row k and column k are labels[k]: ")
_FRACTIONS_HINT = ("count the passages: entry [t, p] is HOW MANY passages of true label t were predicted p, a whole "
                   "number; yours holds fractions. Normalising is a separate step (and the next exercise's macro-F1 "
                   "needs the counts).")

_CONFUSION_HINTS = {
    "transposed": "rows are the TRUE label, columns the PREDICTED one: C[index[t], index[p]] += 1 for each pair (t, "
                  "p) of zip(y_true, y_pred). Yours is the transpose, rows predicted and columns true (sklearn's "
                  "convention is rows true, too).",
    "sorted": _ORDER_HINT + "yours sorts them alphabetically (sorted(...), set(...) or np.unique(...) of the labels).",
    "appearance": _ORDER_HINT + "yours takes them in the order they first occur in y_true and y_pred.",
    "diagonal": "count every passage in the row of its true label and the column of its predicted one: the "
                "misclassified passages go off the diagonal. Yours counts only the right predictions.",
    "errors only": "count the right predictions too: they are the diagonal, C[k, k] = the passages of label k "
                   "predicted k. Yours counts only the errors (its diagonal is 0).",
    "normalised": _FRACTIONS_HINT,
    "normalised, 0": _FRACTIONS_HINT,
    "normalised columns": _FRACTIONS_HINT,
    "fractions": _FRACTIONS_HINT,
}

#: How an answer of 11.1 writes into its lists of labels.
_WRITES_LABELS = ("labels.sort(), y_true.pop(), .append(...), .reverse() or x[...] = ... on an input list writes into "
                  "the caller's list.")

_CONFUSION_RULE = ("index = {label: i for i, label in enumerate(labels)}; C = an L x L array of zeros; for t, p in "
                   "zip(y_true, y_pred): C[index[t], index[p]] += 1 (rows: true label, columns: predicted).")

_AUTHORS = ["shakespeare", "austen", "kjv"]


def _confusion_cases() -> list[tuple[list[str], list[str], list[str], str]]:
    """(y_true, y_pred, labels, what) like the chapter's authorship task: 12 passages whose matrix is not symmetric
    (so its transpose differs) and whose labels are not in alphabetical order; 8 passages where 'kjv' is never the
    true label and 'austen' never predicted (its row and its column still belong in the matrix); 18 passages with the
    labels in another order."""
    s, a, k = _AUTHORS
    return [
        ([k, s, a, s, k, a, s, a, k, a, s, a], [k, s, a, a, k, s, s, a, k, k, s, s], list(_AUTHORS),
         "confusion_matrix(12 passages, labels=['shakespeare', 'austen', 'kjv'])"),
        ([s, a, s, a, s, a, s, a], [s, s, k, k, s, s, s, k], list(_AUTHORS),
         "confusion_matrix(8 passages: 'kjv' never true, 'austen' never predicted, labels=['shakespeare', 'austen', "
         "'kjv'])"),
        ([s, a, k, s, a, k, s, a, k, s, a, k, s, a, k, s, a, k], [s, a, k, s, a, k, a, a, k, s, a, k, s, k, s, a, a, k],
         [k, s, a], "confusion_matrix(18 passages, labels=['kjv', 'shakespeare', 'austen'])"),
    ]


def _counts_close(got: Any, theirs: Any) -> bool:
    """A ``same`` for the confusion matrix: an array of numbers of ``theirs``'s shape, equal to it (nan where it has
    nan; fractions within 1e-6)."""
    import numpy as np

    values = _floats(got)
    return values is not None and values.shape == np.shape(theirs) and bool(
        np.allclose(values, theirs, rtol=0, atol=1e-6, equal_nan=True))


@checker
def ch11_confusion(confusion_matrix: Callable[[list[str], list[str], list[str]], Any]) -> None:
    """Exercise 11.1: ``confusion_matrix(y_true, y_pred, labels)`` = the L x L counts C[i, j] = the number of passages
    whose true label is labels[i] and whose predicted label is labels[j] (rows: true, columns: predicted, both in the
    order of ``labels``); y_true and y_pred are lists of label strings of one length.

    Three cases of the authorship task (shakespeare, austen, kjv): 12 passages with a matrix that is not symmetric and
    labels not in alphabetical order; 8 passages where 'kjv' is never the true label and 'austen' never predicted
    (both keep their row and column); 18 passages with the labels in the order kjv, shakespeare, austen. The answer
    is a list of lists, a numpy array or a torch tensor of ints (or of whole-valued floats); the inputs must be left
    as they were. The hint names the mistake: the transpose (rows predicted), the labels sorted or in their order of
    appearance, only the diagonal, only the errors, fractions (rows, columns or all normalised) instead of counts, a
    row or column missing for a label that never occurs, a crash on such a label.
    """
    import numpy as np

    ex = "11.1 (confusion_matrix)"
    cases = _confusion_cases()
    for i, (y_true, y_pred, labels, what) in enumerate(cases):
        given = (list(y_true), list(y_pred), list(labels))

        def crash_hint(err: Exception, gaps: bool = i == 1) -> str:
            if gaps and isinstance(err, (KeyError, IndexError, ValueError)):
                return ("every label in labels gets its row and its column, even one that never occurs: here 'kjv' "
                        "is never the true label and 'austen' never predicted. Make the matrix len(labels) x "
                        "len(labels) and find a label's row and column by its position in labels, not in the data.")
            return f"y_true and y_pred are lists of str, labels a list of str; {_CONFUSION_RULE}"

        with _quiet_numerics():
            got = call(ex, confusion_matrix, *given, hint=crash_hint)
        changed = [name for name, a, b in zip(("y_true", "y_pred", "labels"), given, (y_true, y_pred, labels))
                   if a != b]
        if changed:
            fail(ex, f"{what} changed {', '.join(changed)}", Description("the inputs as given"),
                 Description(f"changed {', '.join(changed)}"),
                 _changed_hint(changed, "order = sorted(labels) (a new list)", _WRITES_LABELS))
        expected = _confusion(y_true, y_pred, labels)
        shown = expected.astype(int).tolist()
        values = _floats(got)
        if values is not None and values.shape == expected.shape and np.array_equal(values, expected):
            continue
        L = len(labels)
        if values is None:
            fail(ex, f"{what} should return an {L} x {L} matrix of counts", shown, Description(_kind(got)),
                 "return a list of lists, a numpy array or a torch tensor of ints: " + _CONFUSION_RULE)
        if values.shape != expected.shape:
            hint = (f"make the matrix len(labels) x len(labels) = {L} x {L}: every label in labels gets its row and "
                    "its column, in the order of labels, even a label that never occurs in y_true or is never "
                    "predicted (its row or column is then zeros).")
            fail(ex, f"{what}: wrong shape", Description(f"shape {expected.shape}"),
                 Description(f"shape {values.shape}"), hint)
        others = [(list(t), list(p), list(lab)) for j, (t, p, lab, _) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (y_true, y_pred, labels), confusion_matrix, others, _CONFUSION_MISTAKES,
                                 _counts_close, confirm=True)
        hint = _CONFUSION_HINTS.get(mistake or "", _CONFUSION_RULE)
        whole = bool(np.all(np.isfinite(values)) and np.array_equal(values, np.round(values)))
        if mistake is None and not whole:
            hint = _FRACTIONS_HINT
        fail(ex, what, shown, np.round(values, 6).tolist() if not whole else values.astype(int).tolist(), hint)
    passed(ex, "rows the true label, columns the predicted one, in the order of labels, a row and a column for "
               "every label")


# --- 11.2 macro-F1 ------------------------------------------------------------------------------------------------

def _f1s(confusion: Any, how: str = "right") -> Any:
    """Per-class F1 = 2TP / (2TP + FP + FN) of a confusion matrix (rows: true class, columns: predicted), 0 where
    2TP + FP + FN = 0; or, by ``how``, "via P and R" (2PR / (P + R) with P = TP / (TP + FP), R = TP / (TP + FN): nan
    where a division is 0 / 0), "jaccard" (TP / (TP + FP + FN)) or "floor" (2TP // (2TP + FP + FN): 0 below F1 = 1)."""
    import numpy as np

    c = _f64(confusion)
    tp = np.diag(c)
    fp, fn = c.sum(axis=0) - tp, c.sum(axis=1) - tp
    with np.errstate(all="ignore"):
        if how == "via P and R":
            p, r = tp / (tp + fp), tp / (tp + fn)
            return 2 * p * r / (p + r)
        if how == "jaccard":
            return np.where(tp + fp + fn > 0, tp / (tp + fp + fn), 0.0)
        if how == "floor":
            return np.where(2 * tp + fp + fn > 0, (2 * tp) // (2 * tp + fp + fn), 0.0)
        return np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)


def _macro(confusion: Any, how: str = "right") -> float:
    """Macro-F1 of ``confusion``, or one of the typical mistakes, by ``how``."""
    import numpy as np

    c = _f64(confusion)
    tp, predicted, support = np.diag(c), c.sum(axis=0), c.sum(axis=1)
    with np.errstate(all="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        if how == "accuracy":
            return float(tp.sum() / c.sum())
        if how == "weighted":
            return float((_f1s(c) * support).sum() / support.sum())
        if how == "f1 of means":
            p, r = precision.mean(), recall.mean()
            return float(2 * p * r / (p + r))
        if how == "nan":
            return float(_f1s(c, "via P and R").mean())
        if how == "nanmean":
            return float(np.nanmean(_f1s(c, "via P and R")))
        if how == "precision":
            return float(precision.mean())
        if how == "recall":
            return float(recall.mean())
        if how == "predicted only":
            return float(_f1s(c)[predicted > 0].mean())
        if how == "occurring only":
            return float(_f1s(c)[support > 0].mean())
        if how == "floor":
            return float(_f1s(c, "floor").mean())
        if how == "percent":
            return float(100 * _f1s(c).mean())
        if how == "jaccard":
            return float(_f1s(c, "jaccard").mean())
        if how == "sum":
            return float(_f1s(c).sum())
        return float(_f1s(c).mean())


_F1_MISTAKES: dict[str, Callable[[Any], Any]] = {
    how: (lambda kind: lambda confusion: _macro(confusion, kind))(how)
    for how in ("accuracy", "weighted", "f1 of means", "nan", "nanmean", "precision", "recall", "predicted only",
                "occurring only", "jaccard", "sum", "floor", "percent")
}

_F1_HINTS = {
    "accuracy": "that is the accuracy (trace / total, which is also micro-F1 when each passage has one label). "
                "Macro-F1 is the plain mean over the classes of each class's F1 = 2TP / (2TP + FP + FN).",
    "weighted": "average the classes' F1 WITHOUT weights (np.mean): macro-F1 gives a rare class as much say as a "
                "common one. Yours weights each class by its support (the row sums), as sklearn's "
                "average='weighted'.",
    "f1 of means": "compute F1 for EACH class and then average the F1s; yours averages precision and recall first "
                   "and takes the F1 of those two means, which is a different number.",
    "nan": "a class with nothing predicted (TP + FP = 0) or with P = R = 0 makes 0 / 0 = nan in precision or in "
           "2PR / (P + R); give such a class F1 = 0. 2TP / (2TP + FP + FN) is 0 / 0 only for a class that neither "
           "occurs nor is predicted.",
    "nanmean": "a class whose F1 is 0 / 0 (nothing predicted, or P = R = 0) still counts, with F1 = 0: np.nanmean "
               "drops it and averages over fewer classes. Compute 2TP / (2TP + FP + FN), 0 where that is 0 / 0, and "
               "take the plain mean over ALL classes.",
    "precision": "that is the macro-averaged precision, TP / (TP + FP) per class (columns); F1 combines it with "
                 "recall: 2TP / (2TP + FP + FN).",
    "recall": "that is the macro-averaged recall, TP / (TP + FN) per class (rows); F1 combines it with precision: "
              "2TP / (2TP + FP + FN).",
    "predicted only": "average over EVERY class, the ones never predicted too (their F1 is 0): the mean is over "
                      "the rows of the matrix, not over the columns that have predictions. Leaving out a class the "
                      "model never predicts hides exactly the failure macro-F1 is meant to show.",
    "occurring only": "average over EVERY class of the matrix, one that never occurs in the true labels too (an "
                      "all-zero row: its F1 counts as 0): the mean is over all the rows, not only the rows with a "
                      "positive sum (nor only the classes seen in the data). The number of classes is the size of "
                      "the matrix.",
    "jaccard": "F1 = 2TP / (2TP + FP + FN), the harmonic mean of precision and recall; TP / (TP + FP + FN) is the "
               "Jaccard index (intersection over union), which is lower.",
    "sum": "average the per-class F1s (divide their sum by the number of classes): macro-F1 lies between 0 and 1.",
    "floor": "use true division `/`: `//` rounds every F1 below 1 down to 0 (and so does storing the F1s in an "
             "integer array), here every class's. F1 = 2 * tp / (2 * tp + fp + fn), with /.",
    "percent": "macro-F1 is a fraction in [0, 1]; yours is 100 times it (a percentage). Return the mean of the "
               "per-class F1s without * 100.",
}

#: How an answer of 11.2 writes into the caller's confusion matrix.
_WRITES_MATRIX = ("np.asarray(confusion) does not copy a numpy array (nor a torch tensor: it shares its memory), so "
                  "c -= ..., c[...] = ... or np.fill_diagonal(c, 0) on it writes into the caller's matrix.")

_F1_RULE = ("for each class k: TP = C[k, k], FP = column sum - TP, FN = row sum - TP, F1 = 2TP / (2TP + FP + FN) "
            "(0 where that is 0 / 0); macro-F1 = the plain mean over all classes.")


def _f1_cases() -> list[tuple[str, Any]]:
    """Confusion matrices (rows: true class, columns: predicted) shaped like the chapter's authorship task: three
    classes (shakespeare, austen, kjv) of 60 test passages each, as a list of lists; an imbalanced three-class task
    whose third class is never predicted (numpy int64); four classes, one of them empty (neither occurring nor
    predicted: F1 0 by the rule, still in the mean), as a torch int64 tensor; two classes where the second is
    predicted but never right (P = R = 0), as numpy int32."""
    import numpy as np
    import torch

    return [
        ("macro_f1([[55, 3, 2], [4, 54, 2], [1, 0, 59]]) (a list of lists: shakespeare, austen, kjv)",
         [[55, 3, 2], [4, 54, 2], [1, 0, 59]]),
        ("macro_f1(numpy int64 [[40, 12, 0], [10, 35, 0], [8, 15, 0]]: class 2 never predicted)",
         np.array([[40, 12, 0], [10, 35, 0], [8, 15, 0]], dtype=np.int64)),
        ("macro_f1(torch int64 4x4, class 3 empty: a zero row and column)",
         torch.tensor([[20, 3, 1, 0], [2, 15, 4, 0], [0, 5, 30, 0], [0, 0, 0, 0]], dtype=torch.int64)),
        ("macro_f1(numpy int32 [[30, 5], [12, 0]]: class 1 predicted 5 times, never right)",
         np.array([[30, 5], [12, 0]], dtype=np.int32)),
    ]


@checker
def ch11_macro_f1(macro_f1: Callable[[Any], Any]) -> None:
    """Exercise 11.2: ``macro_f1(confusion)`` = the unweighted mean over the classes of F1 = 2TP / (2TP + FP + FN) of
    a square confusion matrix (rows: true class, columns: predicted), a class with 2TP + FP + FN = 0 scoring 0.

    Four matrices: the authorship task's 3 x 3 (60 passages per class) as a list of lists; an imbalanced 3 x 3 whose
    third class is never predicted (numpy int64); a 4 x 4 with an empty class (torch int64); a 2 x 2 whose second
    class is predicted but never right (numpy int32). The answer is one number (rel 1e-6); the matrix must be left as
    it was. The hint names the mistake: accuracy (micro-F1), F1 weighted by support, the F1 of the macro precision and
    recall, nan from a 0 / 0 left in (or dropped with nanmean), macro precision or recall alone, only the classes
    that were predicted or only those that occur, the Jaccard index, the sum instead of the mean, integer division
    (every F1 0), a percentage.
    """
    ex = "11.2 (macro_f1)"
    cases = _f1_cases()
    same = _same_number(1e-6)
    for i, (what, confusion) in enumerate(cases):
        given = _copy(confusion)
        with _quiet_numerics():
            got = call(ex, macro_f1, given, hint="confusion is a list of lists, a numpy array or a torch tensor of "
                                                 "ints: start from np.asarray(confusion) (it takes all three); "
                                                 f"{_F1_RULE}")
        if not _unchanged(given, confusion):
            fail(ex, f"{what} changed confusion", Description("confusion as given"), Description("changed confusion"),
                 _changed_hint(["confusion"], "c = np.array(confusion, dtype=float), which always copies",
                               _WRITES_MATRIX))
        expected = _macro(confusion)
        if same(got, expected):
            continue
        others = [(_copy(o),) for j, (_, o) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (confusion,), macro_f1, others, _F1_MISTAKES, same, confirm=True)
        hint = _F1_HINTS.get(mistake or "", _F1_RULE)
        values = _numbers(got)
        if values is not None and values.shape == (len(_f64(confusion)),):
            hint = ("return one number, the mean of the per-class F1s; yours returns the F1 of each class"
                    + (" (and those are right)" if _same_array(values, _f1s(confusion)) else "") + ".")
        value = number(ex, f"{what}: the result", got, round(expected, 6), hint)
        if mistake is None and math.isnan(value):
            hint = _F1_HINTS["nan"]
        fail(ex, what, round(expected, 6), round(value, 6), hint)
    passed(ex, "the plain mean of 2TP / (2TP + FP + FN) over every class, 0 for a class never predicted")


def _same_array(values: Any, expected: Any) -> bool:
    import numpy as np

    return values.shape == expected.shape and bool(np.allclose(values, expected, rtol=1e-6, atol=1e-9))


# --- 11.3 Bayes' rule over the language models' log-likelihoods ----------------------------------------------------

def _posterior(log_likelihoods: Any, log_priors: Any, how: str = "right") -> Any:
    """p(label | passage) = softmax over the labels (axis 1) of log_likelihoods + log_priors, computed stably in
    float64; or one of the typical mistakes, by ``how``."""
    import numpy as np

    ll, lp = _f64(log_likelihoods), _f64(log_priors)
    s = {"no priors": ll, "plus priors": ll + np.exp(lp), "times log priors": ll * lp}.get(how, ll + lp)
    with np.errstate(all="ignore"):
        if how == "naive exp":
            return np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
        if how in ("sum of logs", "sum of logs, no priors"):
            s = ll if how.endswith("no priors") else s
            return s / s.sum(axis=1, keepdims=True)
        axis = {"axis 0": 0, "all": None}.get(how, 1)
        m = s.max(axis=axis, keepdims=True)
        log_z = m + np.log(np.exp(s - m).sum(axis=axis, keepdims=True))
        if how == "log":
            return s - log_z
        p = np.exp(s - log_z)
        if how == "probabilities times log priors":
            p = np.exp(ll - ll.max(axis=1, keepdims=True)) * lp
            return p / p.sum(axis=1, keepdims=True)
        return p


_POSTERIOR_MISTAKES: dict[str, Callable[..., Any]] = {
    how: (lambda kind: lambda ll, lp: _posterior(ll, lp, kind))(how)
    for how in ("no priors", "naive exp", "axis 0", "all", "log", "plus priors", "times log priors",
                "probabilities times log priors", "sum of logs", "sum of logs, no priors")
}

_UNDERFLOW_HINT = ("exp() of these log-likelihoods underflows: a double cannot hold exp(-746) or less (a float32 not "
                   "even exp(-104)), so exp(-870) is 0.0 and a row of such numbers gives 0 / 0 = nan. Subtract each "
                   "row's maximum before exp() (the log-sum-exp trick): s = log_likelihoods + log_priors; p = "
                   "np.exp(s - s.max(axis=1, keepdims=True)); p / p.sum(axis=1, keepdims=True), the same distribution "
                   "without the underflow (torch.softmax(s, dim=1) does this too).")
_PRIORS_IN_LOGS_HINT = ("add the LOG priors to the log-likelihoods: ln p(y | x) = ln p(x | y) + ln p(y) - ln p(x), "
                        "so the score is log_likelihoods + log_priors (a product of probabilities is a sum of logs). ")

_POSTERIOR_HINTS = {
    "no priors": "add the log priors before normalising: p(y | x) is proportional to p(x | y) p(y), so softmax(log_"
                 "likelihoods + log_priors, axis 1). Yours leaves the priors out, which is right only when they are "
                 "equal.",
    "naive exp": _UNDERFLOW_HINT,
    "axis 0": "normalise over the LABELS, each row (axis=1, dim=1): a passage's posterior sums to 1 over its "
              "labels. Yours normalises each column, over the passages.",
    "all": "normalise each row on its own (axis=1, keepdims=True): a passage's posterior sums to 1 over its labels. "
           "Yours normalises over the whole matrix, so all the passages together sum to 1.",
    "log": "return probabilities, not their logs: exponentiate the log-posterior (log_softmax) or use the softmax "
           "itself. Each row of the result should sum to 1.",
    "plus priors": _PRIORS_IN_LOGS_HINT + "Yours adds the priors themselves, np.exp(log_priors).",
    "times log priors": _PRIORS_IN_LOGS_HINT + "Yours multiplies the log-likelihoods by the log priors.",
    "probabilities times log priors": _PRIORS_IN_LOGS_HINT + "Yours multiplies the likelihoods by the LOG priors, "
                                                             "which are negative, so a rarer label weighs more.",
    "sum of logs": "a log-likelihood is not a probability: divide exp(scores) by their sum, not the scores "
                   "themselves by theirs. s = log_likelihoods + log_priors; p = exp(s - row max); p / p.sum(axis=1, "
                   "keepdims=True).",
    "sum of logs, no priors": "a log-likelihood is not a probability, and the priors belong in the sum: s = "
                              "log_likelihoods + log_priors; p = exp(s - row max); p / p.sum(axis=1, keepdims=True).",
}

_POSTERIOR_RULE = ("s = log_likelihoods + log_priors (the priors broadcast over the rows); p = np.exp(s - "
                   "s.max(axis=1, keepdims=True)); return p / p.sum(axis=1, keepdims=True): softmax over the labels, "
                   "each row summing to 1.")

#: How an answer writes into the caller's arrays.
_WRITES_ARRAYS = ("s = log_likelihoods; s += log_priors, or s -= s.max(...), changes the array itself (a name is not "
                  "a copy), and so does a torch method ending in _ on torch.from_numpy(...), which shares its memory.")


def _posterior_cases() -> list[tuple[Any, Any, str]]:
    """(log_likelihoods (N, L), log_priors (L,), what), numpy float64, labels shakespeare, austen, kjv: the total nats
    of passages of about 300 characters under each label's language model. Four passages with priors 0.5, 0.3, 0.2,
    one of them all below -745 (where exp() underflows to 0); three passages with priors 0.6, 0.25, 0.15 that
    change two of the argmaxes (austen and kjv lead by 0.8 and 0.7 nats, the prior ratios are 0.88 and 1.39); two
    long passages near -10000 nats (exp() underflows everywhere); a single passage (the result is 1 x 3)."""
    import numpy as np

    cases = [
        ([[-412.7, -415.2, -431.9], [-655.3, -653.1, -654.0], [-871.4, -869.8, -880.6], [-530.2, -547.9, -529.4]],
         [0.5, 0.3, 0.2], "4 passages, priors 0.5, 0.3, 0.2"),
        ([[-612.4, -611.6, -618.9], [-788.0, -790.5, -787.3], [-455.9, -470.2, -452.1]], [0.6, 0.25, 0.15],
         "3 passages, priors 0.6, 0.25, 0.15 that change the argmax of two"),
        ([[-10234.5, -10233.0, -10236.25], [-9987.75, -9990.5, -9988.0]], [0.25, 0.25, 0.5],
         "2 passages near -10000 nats, priors 0.25, 0.25, 0.5"),
        ([[-702.3, -699.9, -700.4]], [0.2, 0.5, 0.3], "1 passage, priors 0.2, 0.5, 0.3"),
    ]
    return [(np.array(ll), np.log(np.array(priors)), f"posterior({what})") for ll, priors, what in cases]


def _posterior_close(scale: float) -> Callable[[Any, Any], bool]:
    """A ``same`` for the posterior: an array of numbers of ``theirs``'s shape within 1e-5 of it (nan where it has
    nan); for a float32 answer also within twice float32's spacing at ``scale`` (the largest |score|: a float32
    score near -870 is only known to 6e-5, near -10000 to 1e-3, and the posterior moves by that much at most)."""
    import numpy as np

    def same(got: Any, theirs: Any) -> bool:
        values = _floats(got)
        if values is None or values.shape != np.shape(theirs):
            return False
        raw = _to_numpy(got)
        single = isinstance(raw, np.ndarray) and raw.dtype == np.float32
        atol = 1e-5 + (2 * float(np.spacing(np.float32(scale))) if single else 0.0)
        return bool(np.allclose(values, theirs, rtol=0, atol=atol, equal_nan=True))

    return same


@checker
def ch11_posterior(posterior: Callable[[Any, Any], Any]) -> None:
    """Exercise 11.3: ``posterior(log_likelihoods, log_priors)`` = p(label | passage) by Bayes' rule: softmax over
    the labels (axis 1) of log_likelihoods (N, L) + log_priors (L,), rows summing to 1.

    Four cases (numpy float64 inputs, labels shakespeare, austen, kjv; log-likelihoods the total nats of a passage of
    about 300 characters, -400 to -900): four passages, one with every score below -745 where exp() underflows; three
    where the priors change the argmax of two; two passages near -10000 nats; a single passage (a 1 x 3 result). The
    answer is a numpy array or torch tensor, float32 or float64 (or a list of lists), within 1e-5 (plus float32's
    rounding of the scores for a float32 answer); the inputs must be left as they were. The hint names the mistake:
    the priors left out, exp() before normalising (underflow: nan), the softmax over the passages (axis 0) or over
    the whole matrix, log-probabilities returned, the priors added as probabilities or multiplied in as logs,
    log-likelihoods divided by their sum, the result transposed or reduced to the argmax.
    """
    import numpy as np

    ex = "11.3 (posterior)"
    cases = _posterior_cases()
    for i, (ll, lp, what) in enumerate(cases):
        given = ll.copy(), lp.copy()
        with _quiet_numerics():
            got = call(ex, posterior, *given,
                       hint=f"log_likelihoods is a numpy float64 array (N, L), log_priors one of shape (L,); "
                            f"{_POSTERIOR_RULE}")
        changed = [name for name, a, b in zip(("log_likelihoods", "log_priors"), given, (ll, lp))
                   if not _unchanged(a, b)]
        if changed:
            fail(ex, f"{what} changed {', '.join(changed)}", Description("the inputs as given"),
                 Description(f"changed {', '.join(changed)}"),
                 _changed_hint(changed, "s = log_likelihoods + log_priors (a new array)", _WRITES_ARRAYS))
        expected = _posterior(ll, lp)
        shown = np.round(expected, 6).tolist()
        same = _posterior_close(float(np.abs(ll + lp).max()))
        if same(got, expected):
            continue
        values = _floats(got)
        if values is None:
            fail(ex, f"{what} should return an array of probabilities", shown, Description(_kind(got)),
                 "return a numpy array or a torch tensor of shape (N, L): " + _POSTERIOR_RULE)
        if values.shape != expected.shape:
            n, labels = expected.shape
            hint = {(labels, n): "return one row per passage and one column per label, shape (N, L): yours is "
                                 "transposed.",
                    (n,): "return the whole distribution over the labels for each passage, shape (N, L), not only "
                          "the best label (argmax) or one number per passage.",
                    (labels,): "keep the passage dimension: the result has shape (N, L) even for one passage (no "
                               ".squeeze(), keepdims=True in the sums)."}.get(values.shape, _POSTERIOR_RULE)
            if values.shape == (labels, n) and n == labels:
                hint = _POSTERIOR_RULE
            fail(ex, f"{what}: wrong shape", Description(f"shape {expected.shape}"),
                 Description(f"shape {values.shape}"), hint)
        others = [(o_ll.copy(), o_lp.copy()) for j, (o_ll, o_lp, _) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, (ll, lp), posterior, others, _POSTERIOR_MISTAKES, same, confirm=True)
        hint = _POSTERIOR_HINTS.get(mistake or "", _POSTERIOR_RULE)
        if mistake is None and not np.all(np.isfinite(values)):
            hint = _UNDERFLOW_HINT
        elif mistake is None and values.shape[0] == values.shape[1] and np.allclose(values.T, expected, atol=1e-5):
            hint = "return one row per passage and one column per label, shape (N, L): yours is transposed."
        elif mistake is None and np.allclose(np.exp(values), expected, atol=1e-5):
            hint = _POSTERIOR_HINTS["log"]
        fail(ex, what, shown, np.round(values, 6).tolist(), hint)
    passed(ex, "softmax over the labels of log-likelihood + log prior, the row's maximum subtracted first: no "
               "underflow even at -10000 nats")


# --- 11.6 BM25 ----------------------------------------------------------------------------------------------------

def _bm25(tf: float, df: float, n_docs: float, doc_len: float, avg_len: float, k1: float = 1.5, b: float = 0.75,
          how: str = "right") -> float:
    """One term's BM25 weight in one document, Lucene's idf ln(1 + (N - df + 0.5) / (df + 0.5)); or one of the
    typical mistakes, by ``how``."""
    if how == "defaults":
        k1, b = 1.5, 0.75
    if how == "k1 and b swapped":
        k1, b = b, k1
    ratio = (n_docs - df + 0.5) / (df + 0.5)
    idf = {"robertson": math.log(ratio), "robertson, clamped": max(0.0, math.log(ratio)),
           "log10": math.log10(1 + ratio), "log2": math.log2(1 + ratio), "ln(N/df)": math.log(n_docs / df),
           "ln(1+N/df)": math.log(1 + n_docs / df), "no idf": 1.0}.get(how, math.log(1 + ratio))
    norm = {"no length": 1.0, "inverted length": 1 - b + b * avg_len / doc_len,
            "b swapped": b + (1 - b) * doc_len / avg_len}.get(how, 1 - b + b * doc_len / avg_len)
    boost = 1.0 if how == "no k1+1" else k1 + 1
    return idf * tf * boost / (tf + k1 * norm)


_BM25_MISTAKES: dict[str, Callable[..., Any]] = {
    how: (lambda kind: lambda *args: _bm25(*args, how=kind))(how)
    for how in ("robertson", "robertson, clamped", "log10", "log2", "ln(N/df)", "ln(1+N/df)", "no idf", "no length",
                "inverted length", "b swapped", "no k1+1", "defaults", "k1 and b swapped")
}
# k1 and b taken in the other order (def bm25_weight(..., b=0.75, k1=1.5)): right with the defaults, swapped when
# they are passed by position.
_BM25_MISTAKES["b before k1"] = lambda *args: _bm25(*args[:5], *args[5:][::-1])

_BM25_HINTS = {
    "robertson": "use Lucene's idf, ln(1 + (N - df + 0.5) / (df + 0.5)): the classic ln((N - df + 0.5) / (df + "
                 "0.5)) without the 1 + is NEGATIVE for a term in more than half the documents (here 'and' or "
                 "'the'), so a match would lower a verse's score.",
    "robertson, clamped": "use Lucene's idf, ln(1 + (N - df + 0.5) / (df + 0.5)), which is positive for every term: "
                          "yours clamps the classic ln((N - df + 0.5) / (df + 0.5)) at 0 (max(0, ...)), so a term in "
                          "more than half the documents (here 'and') weighs nothing at all.",
    "log10": "idf uses the natural log, math.log (np.log); yours uses log10, which shrinks every weight by ln 10 = "
             "2.30.",
    "log2": "idf uses the natural log, math.log (np.log); yours uses log2, which scales every weight by 1 / ln 2 = "
            "1.44.",
    "ln(N/df)": "BM25's idf is ln(1 + (N - df + 0.5) / (df + 0.5)) (Lucene's), with the 0.5s and the 1 +; yours is "
                "the TF-IDF idf ln(N / df).",
    "ln(1+N/df)": "BM25's idf is ln(1 + (N - df + 0.5) / (df + 0.5)): the documents WITHOUT the term, N - df, over "
                  "those with it; yours is ln(1 + N / df).",
    "no idf": "multiply by the idf, ln(1 + (n_docs - df + 0.5) / (df + 0.5)): yours is only the term-frequency part, "
              "tf * (k1 + 1) / (tf + k1 * (...)), so a rare name and 'and' weigh the same.",
    "no length": "normalise by the document's length: the denominator is tf + k1 * (1 - b + b * doc_len / "
                 "avg_len). Yours is tf + k1, as if b = 0, so a long verse gets the same weight as a short one.",
    "inverted length": "the length ratio is doc_len / avg_len (a LONGER document gets a larger denominator, a "
                       "smaller weight); yours divides avg_len by doc_len.",
    "b swapped": "the length factor is 1 - b + b * doc_len / avg_len: b multiplies the length ratio; yours has b "
                 "and 1 - b the other way round.",
    "no k1+1": "multiply by (k1 + 1): weight = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avg_len)). "
               "The factor makes a term that occurs once in an average-length document weigh about its idf.",
    "defaults": "use the k1 and b the function is called with: yours gives the same result as with the defaults "
                "k1 = 1.5, b = 0.75 (written as numbers in the formula instead of the parameters?).",
    "k1 and b swapped": "k1 saturates the term frequency (tf + k1 * ...), b weighs the length (1 - b + b * doc_len / "
                        "avg_len); yours uses them the other way round.",
    "b before k1": "the parameters are k1 THEN b: def bm25_weight(tf, df, n_docs, doc_len, avg_len, k1=1.5, b=0.75). "
                   "Called by position, bm25_weight(tf, df, n_docs, doc_len, avg_len, k1, b), yours takes the k1 "
                   "given as b and the b as k1.",
}

_BM25_RULE = ("weight = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avg_len)), with idf = ln(1 + "
              "(n_docs - df + 0.5) / (df + 0.5)) (the natural log).")

#: The KJV as the chapter's retriever sees it: 31102 verses of 25.6 words on average.
_KJV_VERSES, _KJV_AVG = 31102, 25.6


def _bm25_cases() -> list[tuple[tuple[Any, ...], str]]:
    """Terms of the KJV's verses (n_docs 31102, avg_len 25.6): 'and', in about 20000 verses (more than half), once in
    a 40-word verse (k1 and b left at their defaults); a name in 3 verses twice in a 31-word verse; a word in 300
    verses three times in a 12-word verse with k1 = 1.2, b = 0.5; one in 1500 verses once in a 19-word verse with
    k1 = 2.0, b = 1.0; a term absent from the verse (tf = 0: weight 0)."""
    return [
        ((1, 20000, _KJV_VERSES, 40, _KJV_AVG), "bm25_weight(tf=1, df=20000, n_docs=31102, doc_len=40, avg_len=25.6) "
                                                "(k1 and b left at their defaults): a term in most verses"),
        ((2, 3, _KJV_VERSES, 31, _KJV_AVG, 1.5, 0.75),
         "bm25_weight(tf=2, df=3, n_docs=31102, doc_len=31, avg_len=25.6, k1=1.5, b=0.75): a rare name"),
        ((3, 300, _KJV_VERSES, 12, _KJV_AVG, 1.2, 0.5),
         "bm25_weight(tf=3, df=300, n_docs=31102, doc_len=12, avg_len=25.6, k1=1.2, b=0.5)"),
        ((1, 1500, _KJV_VERSES, 19, _KJV_AVG, 2.0, 1.0),
         "bm25_weight(tf=1, df=1500, n_docs=31102, doc_len=19, avg_len=25.6, k1=2.0, b=1.0)"),
        ((0, 95, _KJV_VERSES, 22, _KJV_AVG, 1.5, 0.75),
         "bm25_weight(tf=0, df=95, n_docs=31102, doc_len=22, avg_len=25.6, k1=1.5, b=0.75): the term is not in "
         "the verse"),
    ]


@checker
def ch11_bm25_weight(bm25_weight: Callable[..., Any]) -> None:
    """Exercise 11.6: ``bm25_weight(tf, df, n_docs, doc_len, avg_len, k1=1.5, b=0.75)`` = idf * tf * (k1 + 1) / (tf +
    k1 * (1 - b + b * doc_len / avg_len)) with Lucene's idf = ln(1 + (n_docs - df + 0.5) / (df + 0.5)).

    Five terms of the KJV (31102 verses of 25.6 words on average): 'and', in 20000 verses (more than half: the classic
    Robertson idf is negative there), called without k1 and b (the defaults must be 1.5 and 0.75); a name found in 3
    verses, twice in a long verse; a term with k1 = 1.2, b = 0.5; one with k1 = 2.0, b = 1.0; tf = 0 (weight 0).
    The counts are Python ints, avg_len a float. The answer is one number (rel 1e-5). The hint names the mistake: the
    classic idf without the 1 +, log10 or log2, the TF-IDF idf ln(N / df) or ln(1 + N / df), no length
    normalisation, the length ratio inverted, b and 1 - b swapped, no (k1 + 1), the k1 and b arguments ignored, the
    classic idf clamped at 0, no idf at all, k1 and b swapped (in the formula, or in the signature: b before k1).
    """
    ex = "11.6 (bm25_weight)"
    cases = _bm25_cases()
    same = _same_number(1e-5)
    for i, (args, what) in enumerate(cases):
        def crash_hint(err: Exception, first: bool = i == 0) -> str:
            if first and isinstance(err, TypeError) and "argument" in str(err):
                return ("give k1 and b their defaults: def bm25_weight(tf, df, n_docs, doc_len, avg_len, k1=1.5, "
                        "b=0.75).")
            return f"tf, df, n_docs and doc_len are ints, avg_len, k1 and b floats; {_BM25_RULE}"

        with _quiet_numerics():
            got = call(ex, bm25_weight, *args, hint=crash_hint)
        expected = _bm25(*args)
        if same(got, expected):
            continue
        others = [o for j, (o, _) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, args, bm25_weight, others, _BM25_MISTAKES, same, confirm=True)
        hint = _BM25_HINTS.get(mistake or "", _BM25_RULE)
        if i == 0 and mistake is None:
            with _quiet_numerics():
                again = call(ex, bm25_weight, *args, 1.5, 0.75, hint=crash_hint)
            if same(again, expected):
                hint = "give k1 and b the defaults 1.5 and 0.75: def bm25_weight(..., k1=1.5, b=0.75)."
        value = number(ex, f"{what}: the result", got, round(expected, 6), hint)
        fail(ex, what, round(expected, 6), round(value, 6), hint)
    passed(ex, "idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avg_len)) with Lucene's idf, positive even "
               "for 'and'")


# --- 11.7 greedy decoding -----------------------------------------------------------------------------------------

#: The stand-in model's vocabulary size, and the margin by which the intended token leads each row of its logits.
_V, _MARGIN = 24, 3.0


def _target(source: list[int]) -> list[int]:
    """What the stand-in model translates ``source`` into: the source reversed, each id that is a multiple of 5
    dropped (a word the target language does not need)."""
    return [w for w in reversed(source) if w % 5]


class _ReverseModel:
    """A stand-in for an encoder-decoder, with the two methods greedy decoding uses and nothing to train.

    ``encode(src)``: a LongTensor (1, S) -> memory (1, S, V), the source as one-hot rows. ``decode(memory, src, tgt)``:
    memory, the source again (1, S) and a target prefix (1, T) starting with ``bos`` -> logits (1, T, V), float32.
    The LAST position's logits lead (by a margin of 3 over noise) with the next token of :func:`_target` of the
    source, then ``eos``, then words again; the position it is depends on the whole prefix's length. Every earlier
    position leads with some other word, so reading the wrong position gives another sequence. A prefix that does
    not start with ``bos`` makes it predict the source's words in order instead. Inputs of the wrong kind raise a
    ValueError that says what was expected.
    """

    def __init__(self, bos: int, eos: int) -> None:
        self.bos, self.eos = bos, eos
        self.words = [w for w in range(_V) if w not in (bos, eos)]
        self.training = False

    def eval(self) -> _ReverseModel:
        return self

    def train(self, mode: bool = True) -> _ReverseModel:
        return self

    def parameters(self) -> Any:
        import torch

        return iter([torch.zeros(1)])

    def __repr__(self) -> str:
        return "model"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("this exercise's model is used through its two methods, memory = model.encode(src) and "
                        "logits = model.decode(memory, src, tgt), not model(...)")

    @staticmethod
    def _ids(name: str, value: Any, call: str) -> Any:
        import torch

        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{call}: {name} should be a torch LongTensor of shape (1, length), e.g. "
                             f"torch.tensor(ids)[None]; got {_kind(value)}")
        if value.dtype.is_floating_point or value.dtype == torch.bool or value.dtype.is_complex:
            raise ValueError(f"{call}: {name} should hold token ids, a LongTensor (torch.long); got a {value.dtype} "
                             "tensor")
        if value.dim() != 2 or value.shape[0] != 1 or value.shape[1] == 0:
            raise ValueError(f"{call}: {name} should have shape (1, length): one sentence, with a batch dimension of "
                             f"1 (torch.tensor(ids)[None]); got shape {tuple(value.shape)}")
        if int(value.min()) < 0 or int(value.max()) >= _V:
            bad = int(value.max()) if int(value.max()) >= _V else int(value.min())
            flat = (" An argmax over the whole (1, T, V) logits gives a flat index: take the last position's row, "
                    "logits[0, -1].argmax().") if name == "tgt" else ""
            raise ValueError(f"{call}: {name} holds {bad}, which is not a token id (the vocabulary has {_V} tokens, "
                             f"ids 0-{_V - 1}).{flat}")
        return value

    def encode(self, src: Any) -> Any:
        import torch

        src = self._ids("src", src, "model.encode(src)")
        return torch.nn.functional.one_hot(src.long(), _V).float()

    def decode(self, memory: Any, src: Any, tgt: Any) -> Any:
        import torch

        call_ = "model.decode(memory, src, tgt)"
        src, tgt = self._ids("src", src, call_), self._ids("tgt", tgt, call_)
        if (not isinstance(memory, torch.Tensor) or memory.shape != (1, src.shape[1], _V)
                or not memory.dtype.is_floating_point):
            got = f"shape {tuple(memory.shape)}" if isinstance(memory, torch.Tensor) else _kind(memory)
            raise ValueError(f"{call_}: memory should be what model.encode(src) returned, shape (1, S, {_V}) for this "
                             f"source of S = {src.shape[1]} tokens; got {got}")
        source = memory[0].argmax(-1).tolist()
        prefix = tgt[0].tolist()
        T = len(prefix)
        if prefix[0] == self.bos:
            answer = _target(source)
            k = T - 1
            after = k - len(answer) - 1
            want = answer[k] if k < len(answer) else self.eos if after < 0 else self.words[(7 * after + 3) % len(
                self.words)]
        else:  # a prefix that does not start with bos: the model reads it as something else
            want = self.words[source[(T - 1) % len(source)] % len(self.words)]
        seed = 1_000_003 * T + sum((i + 1) * w for i, w in enumerate(source)) + 7 * sum(prefix)
        logits = 0.5 * torch.randn(T, _V, generator=torch.Generator().manual_seed(seed))
        logits[:, self.eos] -= 0.5  # noise alone never ends a sentence
        for t in range(T - 1):
            other = self.words[(5 * t + 3 * T + 1) % len(self.words)]
            other = other if other != want else self.words[(self.words.index(other) + 1) % len(self.words)]
            logits[t, other] += _MARGIN + 1.0
        logits[T - 1, want] = logits[T - 1].max() + _MARGIN
        return logits[None]


def _greedy(model: Any, src: list[int], bos: int, eos: int, max_len: int, how: str = "right") -> list[int]:
    """Greedy decoding of ``src`` with ``model``, or one of the typical mistakes, by ``how``."""
    import torch

    src_t = torch.tensor(src)[None]
    memory = model.encode(src_t)
    tgt = [bos]
    out: list[int] = []
    limit = {"max_len + 1": max_len + 1, "max_len - 1": max_len - 1}.get(how, max_len)
    stop = 2 if how == "eos 2" else eos  # "eos 2": the eos written into the loop as a number
    while len(out) < limit:
        fed = [bos] if how == "last token only" and not out else [out[-1]] if how == "last token only" else tgt
        logits = model.decode(memory, src_t, torch.tensor(fed)[None])
        if how == "every position":
            tgt = [bos] + logits[0].argmax(-1).tolist()
            out = tgt[1:]
            if out[-1] == eos:
                out = out[:-1]
                break
            continue
        token = int(logits[0, 0 if how == "first position" else -1].argmax())
        if token == stop and how != "no eos stop":
            if how in ("eos included", "bos and eos included"):
                out.append(token)
            break
        out.append(token)
        tgt.append(token)
    return [bos] + out if how in ("bos included", "bos and eos included") else out


_GREEDY_MISTAKES: dict[str, Callable[..., Any]] = {
    how: (lambda kind: lambda *args: _greedy(*args, how=kind))(how)
    for how in ("bos included", "eos included", "bos and eos included", "no eos stop", "max_len + 1", "max_len - 1",
                "first position", "every position", "last token only", "eos 2")
}

_GREEDY_HINTS = {
    "bos included": "leave bos out of the result: it only starts the decoder off and is not part of the "
                    "translation (return tgt[1:], or collect the new tokens in a list of their own).",
    "eos included": "when the argmax is eos, stop WITHOUT appending it: eos marks the end of the translation and is "
                    "not one of its tokens.",
    "bos and eos included": "return only the tokens generated in between: without the bos you started the prefix "
                            "with and without the eos that ended it (tgt[1:-1] when eos came).",
    "no eos stop": "stop as soon as the argmax is eos: yours goes on until max_len, and what a model produces after "
                   "eos is garbage.",
    "max_len + 1": "return at most max_len tokens: yours returns max_len + 1 when eos never comes (a loop that runs "
                   "while len(out) <= max_len, or range(max_len + 1)).",
    "max_len - 1": "return up to max_len tokens: yours stops at max_len - 1 when eos never comes (range(max_len - 1), "
                   "or counting bos in the prefix's length).",
    "first position": "take the argmax of the LAST position, logits[0, -1]: position t predicts the token that "
                      "follows tgt[:t + 1], so the next token comes from the last row. Yours reads position 0 "
                      "(logits[0, 0]).",
    "every position": "add ONE token per step, the argmax of the last position (logits[0, -1].argmax()), to the "
                      "prefix you fed in; yours replaces the prefix with the argmax of every position, which rewrites "
                      "the tokens already chosen.",
    "last token only": "feed the WHOLE prefix each step (bos followed by every token so far): the decoder needs "
                       "all of it to know what it has written. Yours feeds only the latest token.",
    "eos 2": "stop at the eos you are given (here {eos}): yours went past it, as if eos were always 2 (a number "
             "written into the loop, or a global EOS, instead of the argument eos).",
}

_PAST_EOS_HINT = ("stop at the eos you are given (here {eos}): yours went past it (a number written into the loop, "
                  "or a global EOS, instead of the argument eos?).")

_GREEDY_RULE = ("memory = model.encode(src_tensor[None]) once; tgt = [bos]; repeat up to max_len times: logits = "
                "model.decode(memory, src_tensor[None], torch.tensor(tgt)[None]), token = logits[0, -1].argmax(); "
                "stop if it is eos, else append it to tgt; return tgt without bos, as a list of ints.")


def _greedy_cases() -> list[tuple[tuple[Any, ...], str]]:
    """(model, src, bos, eos, max_len) for the stand-in: five words (reversed: 5 tokens, then eos), bos 1, eos 2; seven
    words two of which are dropped, bos 21, eos 0, so that a hard-coded bos or eos shows; twelve words but max_len 6
    (eos never comes: 6 tokens); three dropped words (eos first: nothing); a sentence of exactly max_len tokens."""
    cases = []
    for src, bos, eos, max_len in (([7, 4, 9, 12, 6], 1, 2, 20), ([8, 10, 13, 11, 15, 14, 9], 21, 0, 20),
                                   ([3, 4, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17], 1, 2, 6), ([10, 5, 20], 1, 2, 20),
                                   ([17, 19, 22, 23], 0, 1, 4)):
        cases.append(((_ReverseModel(bos, eos), src, bos, eos, max_len),
                      f"greedy_translate(model, src={src}, bos={bos}, eos={eos}, max_len={max_len})"))
    return cases


def _ids_of(value: Any) -> Any:
    """``value`` as an int64 numpy vector if it is a list or tuple of whole numbers (Python, numpy, 0-d tensors) or a
    1-D integer array or tensor; otherwise None."""
    import numpy as np

    array = _to_numpy(value)
    if isinstance(array, np.ndarray) and array.shape == (0,):  # torch.tensor([]) is float32: still no tokens
        return np.zeros(0, dtype=np.int64)
    values = _numbers(value, whole=True)
    return values if values is not None and values.ndim == 1 else None


@checker
def ch11_greedy(greedy_translate: Callable[..., Any]) -> None:
    """Exercise 11.7: ``greedy_translate(model, src, bos, eos, max_len)`` = greedy decoding with an encoder-decoder:
    ``memory = model.encode(src_tensor[None])``, then from tgt = [bos], ``model.decode(memory, src_tensor[None],
    tgt[None])`` and the argmax of the LAST position's logits appended, until eos (left out) or max_len tokens; the
    result without bos, as a list of ints.

    The model is :class:`_ReverseModel`, a stand-in whose translation is the source reversed (ids that are multiples
    of 5 dropped) and whose earlier positions lead with other words. Five sentences: 5 words; 7 words with bos 21 and
    eos 0; 12 words cut at max_len 6; 3 dropped words (eos first: the result is empty); 4 words with max_len 4. The
    answer is a list or tuple of ints, or a 1-D integer array or tensor; src must be left as it was. The hint names
    the mistake: bos or eos (or both) in the result, not stopping at eos or stopping at a hard-coded one instead of
    the eos given, max_len + 1 or max_len - 1 tokens, the argmax of position 0, the argmax of every position, only the
    latest token fed, sampling instead of the argmax (the result changes between calls), the batch dimension kept.
    """
    ex = "11.7 (greedy_translate)"
    cases = _greedy_cases()

    def same(got: Any, theirs: Any) -> bool:
        ids = _ids_of(got)
        return ids is not None and ids.tolist() == list(theirs)

    for i, (args, what) in enumerate(cases):
        model, src, bos, eos, max_len = args
        given = list(src)
        before = _rng_states()
        with _quiet_numerics():
            got = call(ex, greedy_translate, model, given, bos, eos, max_len,
                       hint=f"src is a list of ints; use only model.encode and model.decode. {_GREEDY_RULE}")
        drew = _touched(before, _rng_states())
        if given != src:
            fail(ex, f"{what} changed src", Description("src as given"), Description("changed src"),
                 _changed_hint(["src"], "torch.tensor(src) or src[::-1]", _WRITES))
        expected = _greedy(*args)
        if same(got, expected):
            continue
        others = [o for j, (o, _) in enumerate(cases) if j != i]
        mistake = _match_mistake(got, args, greedy_translate, others, _GREEDY_MISTAKES, same, confirm=True)
        hint = _GREEDY_HINTS.get(mistake or "", _GREEDY_RULE).replace("{eos}", str(eos))
        ids = _ids_of(got)
        if (mistake is None and ids is not None and len(ids) > len(expected) + 1
                and ids.tolist()[:len(expected) + 1] == [*expected, eos]):
            hint = _PAST_EOS_HINT.replace("{eos}", str(eos))
        elif mistake is None:
            with _quiet_numerics():
                again = call(ex, greedy_translate, model, list(src), bos, eos, max_len)
            first, second = _ids_of(got), _ids_of(again)
            if drew is not None or (first is not None and second is not None and first.tolist() != second.tolist()):
                hint = ("greedy decoding takes the most likely token, logits[0, -1].argmax(); yours draws at random "
                        "(torch.multinomial, torch.distributions.Categorical), so its result changes from call to "
                        "call" + (f" (it used {drew}'s random generator)." if drew else "."))
        if ids is None:
            shape = getattr(_to_numpy(got), "shape", None)
            if shape is not None and len(shape) == 2 and shape[0] == 1:
                hint = f"return a flat list of token ids, without the batch dimension: yours has shape {tuple(shape)}."
            elif isinstance(got, (list, tuple)) and any(getattr(v, "shape", ()) == (1,) for v in got):
                hint = ("return plain ints: each of yours is a one-element tensor; append token.item() (or "
                        "int(token)), or take the argmax of logits[0, -1], a 0-d tensor.")
            shown = _kind(got) + (f" of shape {tuple(shape)}" if shape is not None else "")
            fail(ex, f"{what} should return a list of token ids", expected, Description(shown), hint)
        fail(ex, what, expected, ids.tolist(), hint)
    passed(ex, "the argmax of the last position, one token at a time on the whole prefix, until eos or max_len")

