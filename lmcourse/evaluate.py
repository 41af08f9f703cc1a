"""Evaluating a language model beyond its loss (chapter 10): units, per-token scores, calibration, copying.

- **Units.** A loss in nats per token (the natural log, what ``F.cross_entropy`` and
  ``train.evaluate`` give) converts to bits and to perplexity::

      bits = nats / ln 2          perplexity = e^nats = 2^bits          nats = bits * ln 2

  :func:`bits`, :func:`perplexity` and :func:`nats` do it for a number or a numpy array. Bits per
  character (bpc) is the unit of character-level benchmarks; perplexity is "as unsure as a
  uniform choice among that many tokens".
- **Per-token scores.** :func:`target_log_probs` gives ln P(target) for every target a neural model
  scores (their mean is minus ``train.evaluate``), :func:`top1` each prediction's confidence (its
  largest probability) and whether that most likely token was the target; :func:`ngram_top1` the
  same for an ``lmcourse.ngram.NGramLM``.
- **Calibration.** :func:`calibration` bins predictions by confidence and compares each bin's
  accuracy with its mean confidence: a calibrated model is right 70% of the time when it says 0.7.
  The expected calibration error (ECE, Guo et al. 2017) sums the gaps, weighted by the bins' sizes;
  ``Calibration.plot`` draws the reliability diagram.
- **Copying.** :func:`longest_verbatim` finds the longest piece of a sample that appears word for
  word in the training text: a sample that copies long passages is memorising, not generalising.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lmcourse.batches import IGNORE_INDEX
from lmcourse.train import _check_data, _check_logits_kind, _check_model, _check_targets, _count, _device, _logits

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import torch
    from matplotlib.axes import Axes

    from lmcourse.ngram import NGramLM

__all__ = ["Calibration", "bits", "calibration", "longest_verbatim", "nats", "ngram_top1", "perplexity",
           "target_log_probs", "top1"]

LN2 = math.log(2)


# --------------------------------------------------------------------------- units


def _amount(value: object, name: str, who: str) -> Any:
    """``value`` as a float if it is a real number, as a float64 array if it is a numpy array of numbers."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iuf":
            raise TypeError(f"{who}({name}) needs numbers, got a numpy array of dtype {value.dtype}.")
        return value.astype(np.float64)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        remedy = ""
        if hasattr(value, "detach"):
            remedy = ": use .item() for one number, or .cpu().numpy() for an array"
        elif isinstance(value, (list, tuple)):
            remedy = ": pass np.array(...)"
        elif isinstance(value, str):
            remedy = ": pass the number itself, not its text"
        raise TypeError(f"{who}({name}) needs a number or a numpy array of numbers, got {type(value).__name__} "
                        f"{value!r}{remedy}.")
    return float(value)


def bits(nats: float | np.ndarray) -> float | np.ndarray:
    """A quantity in nats (natural log, e.g. a cross-entropy loss) in bits: ``nats / ln 2``.

    Bits per character, for a character model's loss. A number gives a float, a numpy array a float64 array.
    """
    return _amount(nats, "nats", "bits") / LN2


def nats(bits: float | np.ndarray) -> float | np.ndarray:
    """A quantity in bits (log base 2) in nats: ``bits * ln 2``. The inverse of :func:`bits`."""
    return _amount(bits, "bits", "nats") * LN2


def perplexity(nats: float | np.ndarray) -> float | np.ndarray:
    """The perplexity of a cross-entropy in nats per token: ``e^nats`` (= ``2^bits``).

    A model as unsure as a uniform choice among k tokens has loss ln k and perplexity k.
    """
    value = _amount(nats, "nats", "perplexity")
    if isinstance(value, np.ndarray):
        with np.errstate(over="ignore"):
            return np.exp(value)
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


# --------------------------------------------------------------------------- per-token scores of a neural model


def _scored(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int,
            ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(logits (N, V) in float32, targets (N,)) of each batch's real targets (IGNORE_INDEX left out), scored as
    ``train.evaluate`` scores: in eval mode, without gradients, on the model's device; modes put back after."""
    import torch

    _check_model(model)
    _check_data(x, y, "x", "y")
    batch_size = _count(batch_size, "batch_size", "rows scored at a time")
    device = _device(model, None)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, x.shape[0], batch_size):
                xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
                logits = _logits(model, xb, yb)
                if start == 0:
                    _check_targets(y, logits.shape[-1], "y")
                    _check_logits_kind(logits)
                keep = (yb != IGNORE_INDEX).flatten()
                yield logits.float().flatten(0, -2)[keep], yb.flatten()[keep]
    finally:
        for m, mode in modes:
            m.train(mode)


def target_log_probs(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 256
                     ) -> np.ndarray:
    """ln P(target) under ``model`` for every real target of ``y``: a flat float64 array, in the order of ``y``.

    ``model``, ``x`` and ``y`` are what ``lmcourse.train.evaluate`` takes (a model returning logits, or a tuple
    whose first item is the logits; targets equal to ``IGNORE_INDEX`` are skipped), scored the same way: in
    eval mode without gradients, ``batch_size`` rows at a time, on the model's device, each module's mode put back
    afterwards. So ``-target_log_probs(...).mean()`` is ``train.evaluate(...)``, and the array shows which
    targets the loss comes from (its histogram, the worst-predicted tokens).
    """
    import torch
    import torch.nn.functional as F

    parts = [-F.cross_entropy(logits, targets, reduction="none")
             for logits, targets in _scored(model, x, y, batch_size)]
    return torch.cat(parts).double().cpu().numpy()


def top1(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 256
         ) -> tuple[np.ndarray, np.ndarray]:
    """``(confidence, correct)`` for every real target of ``y``: the model's largest probability (float64, in
    [0, 1]) and whether its most likely token (ties: the lowest id) is the target (bool). For :func:`calibration`.

    Scored as :func:`target_log_probs` scores (the same arguments, the same order).
    """
    import torch

    conf, hit = [], []
    for logits, targets in _scored(model, x, y, batch_size):
        best, argmax = torch.softmax(logits, dim=-1).max(dim=-1)
        conf.append(best)
        hit.append(argmax == targets)
    return torch.cat(conf).double().cpu().numpy(), torch.cat(hit).cpu().numpy()


# --------------------------------------------------------------------------- the same for an n-gram model


def ngram_top1(ngram: NGramLM, ids: Sequence[int] | np.ndarray, *, start: int, n: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(confidence, correct)`` of an ``lmcourse.ngram.NGramLM`` for the targets ``ids[start:start + n]``.

    Target ``ids[t]`` is predicted from the up to order-1 tokens before it in ``ids`` (fewer near the start, as
    ``NGramLM.log_probs`` does): ``confidence`` is the largest probability of ``ngram.distribution(...)`` there
    (float64), ``correct`` whether that most likely token (ties: the lowest id) is ``ids[t]`` (bool). The
    distributions are computed together, a few thousand at a time, not one call of ``distribution`` each.
    An MLE model raises ``UnseenContextError`` at a context it never saw, as scoring it does.
    """
    from lmcourse.ngram import NGramLM

    if not isinstance(ngram, NGramLM):
        raise TypeError(f"ngram_top1 needs an lmcourse.ngram.NGramLM, got {type(ngram).__name__}; for a neural model "
                        "use top1(model, x, y).")
    ngram._fitted()
    tokens = ngram._ids(ids, "ids")
    for value, name in ((start, "start"), (n, "n")):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be a whole number, got {type(value).__name__} {value!r}.")
    if start < 0 or n < 1 or start + n > len(tokens):
        raise ValueError(f"the targets ids[start:start + n] must lie inside ids (len {len(tokens)}) and be at least "
                         f"one: need 0 <= start and 1 <= n <= len(ids) - start, got start={start}, n={n}.")
    V, order = ngram.vocab_size, ngram.order
    assert V is not None
    targets = tokens[start:start + n]
    confidence, correct = np.empty(n), np.empty(n, dtype=bool)
    words = np.arange(V, dtype=np.int64)
    chunk = max(1, 2_000_000 // V)  # positions per block: chunk * V queries
    for lo in range(0, n, chunk):
        t = np.arange(start + lo, start + min(n, lo + chunk))
        depth = np.minimum(t + 1, order)  # 1 + the length of each context
        ngrams, ctx = [], np.zeros(len(t), dtype=np.int64)  # ctx: the code of the last m-1 tokens
        for m in range(1, int(depth.max()) + 1):
            if m > 1:
                back = t - (m - 1)
                ctx = ctx + np.where(back >= 0, tokens[np.maximum(back, 0)], 0) * V ** (m - 2)
            ngrams.append((ctx[:, None] * V + words[None, :]).ravel())
        probs = ngram._probs(ngrams, np.repeat(depth, V), sequence=False).reshape(len(t), V)
        best = probs.argmax(axis=1)
        confidence[lo:lo + len(t)] = probs[np.arange(len(t)), best]
        correct[lo:lo + len(t)] = best == targets[lo:lo + len(t)]
    return confidence, correct


# --------------------------------------------------------------------------- calibration


@dataclass(repr=False)
class Calibration:
    """Predictions binned by confidence, from :func:`calibration`.

    - ``bins``: how many equal-width bins over [0, 1]; ``edges`` their ``bins + 1`` edges;
    - ``counts[b]``: the predictions in bin b;
    - ``confidence[b]``, ``accuracy[b]``: their mean confidence and the fraction of them that were right
      (nan for an empty bin);
    - ``ece``: the expected calibration error, sum over the non-empty bins of
      (counts[b] / N) |accuracy[b] - confidence[b]|.
    """

    bins: int
    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    ece: float

    def __repr__(self) -> str:
        return f"Calibration(bins={self.bins}, predictions={int(self.counts.sum())}, ece={self.ece:.4f})"

    def plot(self, ax: Axes | None = None, title: str = "", histogram: bool = False) -> Axes:
        """Draw the reliability diagram: each non-empty bin's accuracy as a bar over the bin, against the diagonal
        of perfect calibration (accuracy = confidence), with the ECE in the legend; return the axes.

        A bar's dot, at (the bin's mean confidence, its accuracy), below the diagonal marks a bin where the model is
        overconfident, above it underconfident.
        ``histogram=True`` adds how many predictions fall in each bin, as a step line on a second y-axis (log
        scale) on the right.
        """
        from lmcourse.plot import _axes, _check_flag

        _check_flag(histogram, "histogram")
        ax = _axes(ax, figsize=(4.8, 4.2))
        seen = self.counts > 0
        width = np.diff(self.edges)
        ax.bar(self.edges[:-1][seen], self.accuracy[seen], width=width[seen], align="edge", edgecolor="black",
               alpha=0.8, label=f"accuracy per bin (ECE {self.ece:.3f})")
        ax.plot([0, 1], [0, 1], linestyle="--", color="gray", zorder=3, label="perfect calibration")
        ax.plot(self.confidence[seen], self.accuracy[seen], "o", color="black", ms=4, zorder=4,
                label="each bin: (mean confidence, accuracy)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (the model's largest probability)")
        ax.set_ylabel("accuracy (fraction of top-1 guesses right)")
        if title:
            ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
        if histogram:
            twin = ax.twinx()
            twin.stairs(self.counts, self.edges, color="tab:orange", label="predictions per bin")
            twin.set_yscale("symlog")
            twin.set_ylabel("predictions per bin", color="tab:orange")
        return ax


def _array(value: object, name: str) -> np.ndarray:
    """``value`` (a numpy array, a torch tensor, a list or tuple) as a 1-D numpy array, its dtype kept."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()  # type: ignore[union-attr]
    if isinstance(value, (list, tuple)):
        value = np.array(value)
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a 1-D array (numpy, torch or a list), got {type(value).__name__}.")
    if value.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one value per prediction, got shape {value.shape}; flatten it.")
    return value


def calibration(confidence: np.ndarray | Sequence[float], correct: np.ndarray | Sequence[bool],
                bins: int = 10) -> Calibration:
    """Bin predictions by ``confidence`` and compare each bin's accuracy with its mean confidence (Guo et al. 2017).

    ``confidence``: each prediction's probability for its top guess, in [0, 1]; ``correct``: whether that guess
    was right (bools, or 0 / 1), one per prediction (what :func:`top1` returns). ``bins`` equal-width bins over
    [0, 1]: confidence c falls in bin ``min(floor(c * bins), bins - 1)``, so each bin holds [b/bins, (b+1)/bins)
    and the last one includes 1.0.

        ECE = sum over non-empty bins b of (n_b / N) |accuracy_b - mean confidence_b|

    A numpy array, torch tensor or list each; the two of the same length, at least one prediction.
    """
    if isinstance(bins, bool) or not isinstance(bins, numbers.Integral):
        raise TypeError(f"bins must be a whole number >= 1, e.g. bins=10, got {type(bins).__name__} {bins!r}.")
    if bins < 1:
        raise ValueError(f"bins must be >= 1 (how many equal-width bins over [0, 1]), e.g. bins=10, got {bins}.")
    bins = int(bins)
    conf, hit = _array(confidence, "confidence"), _array(correct, "correct")
    if len(conf) != len(hit):
        raise ValueError(f"confidence and correct must have one value per prediction each, got {len(conf)} and "
                         f"{len(hit)} values.")
    if len(conf) == 0:
        raise ValueError("calibration needs at least one prediction, got empty confidence and correct.")
    if conf.dtype.kind not in "iuf":
        raise TypeError(f"confidence must be numbers (probabilities), got an array of dtype {conf.dtype}.")
    conf = conf.astype(np.float64)
    bad = ~((conf >= 0) & (conf <= 1))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"confidence[{i}] = {conf[i]} is not a probability: every confidence must be in [0, 1] (the "
                         "softmax's largest value, not a logit or a log-probability).")
    if hit.dtype != bool:
        if hit.dtype.kind not in "iuf" or not np.isin(hit, (0, 1)).all():
            raise TypeError(f"correct must be True/False (or 0/1) per prediction, got an array of dtype {hit.dtype}"
                            f"{' with values other than 0 and 1' if hit.dtype.kind in 'iuf' else ''}.")
        hit = hit == 1
    index = np.minimum(np.floor(conf * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=conf, minlength=bins) / counts
        accuracy = np.bincount(index, weights=hit.astype(np.float64), minlength=bins) / counts
    seen = counts > 0
    ece = float(np.sum(counts[seen] / len(conf) * np.abs(accuracy[seen] - mean_conf[seen])))
    return Calibration(bins=bins, edges=np.linspace(0.0, 1.0, bins + 1), counts=counts, confidence=mean_conf,
                       accuracy=accuracy, ece=ece)


# --------------------------------------------------------------------------- copying


def longest_verbatim(sample: str, corpus: str) -> tuple[int, str]:
    """The length and text of the longest substring of ``sample`` that occurs word for word in ``corpus``.

    One pass over the start positions of ``sample`` with a best length L so far: a substring starting at i can
    beat L only if ``sample[i:i + L + 1]`` is in ``corpus`` (every longer one starts with it), so each start
    costs one search, and each success grows L by one: at most 2 len(sample) substring searches (``in``).
    Of several longest substrings, the first in ``sample`` is returned. ``(0, "")`` when ``sample`` or
    ``corpus`` is empty or no character of ``sample`` occurs in ``corpus``.
    """
    for value, name in ((sample, "sample"), (corpus, "corpus")):
        if not isinstance(value, str):
            raise TypeError(f"longest_verbatim compares text: {name} must be a str, got {type(value).__name__}; "
                            "decode token ids first (tok.decode(ids)).")
    best, where = 0, 0
    for i in range(len(sample)):
        if i + best >= len(sample):
            break  # no room left for a longer one
        while i + best < len(sample) and sample[i:i + best + 1] in corpus:
            best, where = best + 1, i
    return best, sample[where:where + best]
