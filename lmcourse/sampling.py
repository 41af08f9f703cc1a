"""Decoding: how a language model's logits for the next token become the token that is written (chapter 10).

A model gives one logit per token of the vocabulary; a decoder turns them into a choice. The pieces,
each a function of a logits tensor (the vocabulary along the last axis) that returns a new one:

- ``repetition_penalty(logits, previous_ids, penalty)``: CTRL's penalty (Keskar et al. 2019), as
  Hugging Face applies it: each token already in the text gets its positive logit divided by
  ``penalty``, its negative one multiplied by it, so it becomes less likely either way.
- temperature: the logits divided by ``temperature`` (below 1 sharpens, above 1 flattens);
- ``top_k_logits(logits, k)``: only the k most likely tokens keep their logits (Fan et al. 2018);
- ``top_p_logits(logits, p)``: nucleus filtering (Holtzman et al. 2020), only the smallest set of the
  most likely tokens whose probabilities add up to at least ``p`` keeps its logits;
- ``distribution(logits, temperature=, top_k=, top_p=)``: the probabilities a sampler draws from,
  after those three in that order (temperature, top-k, top-p, softmax), as ``models.generate`` does;
- ``greedy(logits)``: the most likely token, no randomness (greedy decoding).

A filtered-out token gets the logit ``-inf``, so that the softmax gives it exactly 0 whatever the
other logits and the temperature. This module needs torch alone (``lmcourse.models`` imports it).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch

__all__ = ["distribution", "greedy", "repetition_penalty", "top_k_logits", "top_p_logits"]


# --------------------------------------------------------------------------- checking arguments


def _whole(value: object, name: str, minimum: int) -> int:
    """``value`` itself if it is an int >= ``minimum`` (not a bool); else an error that names ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= {minimum}, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def _logits(logits: object, who: str) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or logits.dim() == 0 or not logits.is_floating_point():
        got = f"a {logits.dtype} tensor of shape {tuple(logits.shape)}" if isinstance(logits, torch.Tensor) else (
            type(logits).__name__)
        raise TypeError(f"{who} needs a floating-point tensor of logits, the vocabulary along the last axis; got "
                        f"{got}.")
    if logits.shape[-1] == 0:
        raise ValueError(f"{who} needs at least one logit (a vocabulary of one token or more), got shape "
                         f"{tuple(logits.shape)}.")
    return logits


def _top_p_value(p: object, name: str) -> float:
    """``p`` as a float if it is a real number in (0, 1]; else an error naming ``name`` that says what p=1 means."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{name} must be a number in (0, 1], the probability mass to keep, e.g. {name}=0.9; got "
                        f"{type(p).__name__} {p!r}.")
    if not 0 < p <= 1:  # False for nan too
        raise ValueError(f"{name} must be in (0, 1], the probability mass of the most likely tokens to keep (e.g. "
                         f"{name}=0.9; {name}=1 keeps every token), got {p}.")
    return float(p)


def _penalty_value(penalty: object, name: str) -> float:
    """``penalty`` as a float if it is a finite real number >= 1; else an error naming ``name``."""
    if isinstance(penalty, bool) or not isinstance(penalty, numbers.Real):
        raise TypeError(f"{name} must be a number >= 1, e.g. {name}=1.2 (1 changes nothing); got "
                        f"{type(penalty).__name__} {penalty!r}.")
    if not (math.isfinite(penalty) and penalty >= 1):
        raise ValueError(f"{name} must be a finite number >= 1 (1 changes nothing, 1.2 is a common choice; below 1 "
                         f"would make repeated tokens MORE likely), got {penalty}.")
    return float(penalty)


def _temperature_value(temperature: object) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not (
            math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}; 1 samples the model's own "
                         "distribution, smaller values sharpen it.")
    return float(temperature)


# --------------------------------------------------------------------------- the filters


def top_k_logits(logits: torch.Tensor, k: int) -> torch.Tensor:
    """``logits`` with all but the ``k`` largest of each row (the last axis) set to ``-inf``, so that a softmax
    gives them probability 0; ties with the k-th largest are kept. ``k`` is a whole number 1 .. V."""
    if not isinstance(logits, torch.Tensor) or logits.dim() == 0 or not logits.is_floating_point():
        raise TypeError("top_k_logits needs a floating-point tensor of logits, the vocabulary along the last axis.")
    V = logits.shape[-1]
    k = _whole(k, "top_k", 1)
    if k > V:
        raise ValueError(f"top_k={k} is larger than the vocabulary ({V} tokens): pick 1 .. {V} (top_k={V} keeps "
                         "every token, as top_k=None does).")
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_logits(logits: torch.Tensor, p: float) -> torch.Tensor:
    """``logits`` with all but the nucleus of each row (the last axis) set to ``-inf`` (Holtzman et al. 2020).

    The nucleus is the smallest set of the most likely tokens whose probabilities (the softmax of the row)
    add up to at least ``p``: the tokens in order of probability, down to and including the one whose
    probability makes the running total reach ``p``. So the most likely token is always kept, and ``p=1``
    keeps every token (the logits are returned unchanged, as a new tensor). ``p`` is a number in (0, 1].

    Ties: a token as likely as the last one kept is kept too (as ``top_k_logits`` keeps ties), so the result
    does not depend on the order of the vocabulary. The running total is summed in float64 from the
    softmax of the logits in float64, whatever their dtype; a total that lands on ``p`` within rounding
    may keep one token more or less than exact arithmetic would.
    """
    logits = _logits(logits, "top_p_logits")
    p = _top_p_value(p, "p")
    if p == 1:
        return logits.clone()
    ordered = torch.sort(logits, dim=-1, descending=True).values
    probs = torch.softmax(ordered.double(), dim=-1)
    total = torch.cumsum(probs, dim=-1)
    before = torch.cat((torch.zeros_like(total[..., :1]), total[..., :-1]), dim=-1)  # the mass of the tokens above
    kept = (before < p).sum(dim=-1, keepdim=True)  # >= 1: nothing comes before the most likely token
    last = torch.gather(ordered, -1, kept - 1)  # the smallest logit kept
    return logits.masked_fill(logits < last, float("-inf"))


def repetition_penalty(logits: torch.Tensor, previous_ids: Sequence[int] | torch.Tensor,
                       penalty: float) -> torch.Tensor:
    """``logits`` with every token of ``previous_ids`` made less likely, as CTRL does (Keskar et al. 2019).

    For each DISTINCT id among ``previous_ids`` (a token seen five times is penalised once, as in Hugging
    Face's ``RepetitionPenaltyLogitsProcessor``), its logit x becomes x / ``penalty`` if x > 0 and
    x * ``penalty`` otherwise: either way it moves down (dividing a negative logit would raise it). The
    same ids are penalised in every row of ``logits`` (the vocabulary along the last axis).
    ``penalty`` is a number >= 1 (1 changes nothing; CTRL used 1.2). ``previous_ids``: a list or 1-D
    integer tensor of ids 0 .. V-1 (the prompt and the tokens generated so far). Returns a new tensor;
    ``logits`` is left as it was.
    """
    logits = _logits(logits, "repetition_penalty")
    penalty = _penalty_value(penalty, "penalty")
    V = logits.shape[-1]
    if isinstance(previous_ids, torch.Tensor):
        if previous_ids.dim() != 1 or previous_ids.is_floating_point() or previous_ids.dtype == torch.bool:
            raise TypeError(f"previous_ids must be a list or 1-D integer tensor of token ids, got a "
                            f"{previous_ids.dtype} tensor of shape {tuple(previous_ids.shape)}.")
        ids = previous_ids.tolist()
    elif isinstance(previous_ids, (list, tuple)):
        ids = list(previous_ids)
    else:
        raise TypeError(f"previous_ids must be a list or 1-D integer tensor of token ids, got "
                        f"{type(previous_ids).__name__}.")
    for i, t in enumerate(ids):
        if isinstance(t, bool) or not isinstance(t, numbers.Integral):
            raise TypeError(f"previous_ids[{i}] = {t!r} is not a token id (an int).")
        if not 0 <= t < V:
            raise ValueError(f"previous_ids[{i}] = {t} is not a token id of a vocabulary of {V} tokens (ids 0 .. "
                             f"{V - 1}); pass the ids of the text so far, encoded with the model's tokeniser.")
    out = logits.clone()
    if not ids or penalty == 1:
        return out
    index = torch.tensor(sorted(set(int(t) for t in ids)), dtype=torch.long, device=logits.device)
    seen = out[..., index]
    out[..., index] = torch.where(seen > 0, seen / penalty, seen * penalty)
    return out


# --------------------------------------------------------------------------- from logits to a token


def distribution(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None) -> torch.Tensor:
    """The probabilities a sampler draws the next token from, given one row of logits (1-D, V).

    In this order: the logits divided by ``temperature``, then ``top_k_logits`` (None: all), then
    ``top_p_logits`` (None: all), then the softmax. The result has the logits' dtype and sums to 1;
    a filtered-out token has probability exactly 0. ``models.generate`` draws from this (in float32).

    The max is subtracted before dividing by the temperature: a tiny temperature then sends every other
    logit to -inf (greedy, ties shared) where logits / temperature would overflow to inf and the softmax
    give nan. The division is done in float64, so that no temperature > 0 rounds to 0; at temperature 1
    the result is bit for bit logits - max.
    """
    logits = _logits(logits, "distribution")
    if logits.dim() != 1:
        raise ValueError(f"distribution takes one row of logits (1-D, one per token of the vocabulary), got shape "
                         f"{tuple(logits.shape)}; e.g. logits[0, -1] for the last position of the first sequence.")
    temperature = _temperature_value(temperature)
    scaled = ((logits - logits.max()).double() / temperature).to(logits.dtype)
    if top_k is not None:
        scaled = top_k_logits(scaled, top_k)
    if top_p is not None:
        scaled = top_p_logits(scaled, top_p)
    return torch.softmax(scaled, dim=-1)


def greedy(logits: torch.Tensor) -> int:
    """The id of the largest of one row of logits (1-D): greedy decoding. Ties go to the lowest id."""
    logits = _logits(logits, "greedy")
    if logits.dim() != 1:
        raise ValueError(f"greedy takes one row of logits (1-D, one per token of the vocabulary), got shape "
                         f"{tuple(logits.shape)}; e.g. logits[0, -1] for the last position of the first sequence.")
    return int(torch.argmax(logits))
