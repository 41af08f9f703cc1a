"""Safety tools of chapter 12: canaries and exposure, model cards, and why a pickle checkpoint can run code.

- **Canaries and exposure** (Carlini et al. 2019, "The Secret Sharer: Evaluating and Testing Unintended
  Memorization in Neural Networks", USENIX Security). Plant a line ``CANARY_PREFIX + secret`` (a random
  secret, :func:`canaries`) a few times into the training text (:func:`insert`), train, then ask how much more
  likely the model finds the planted secret than the other secrets it could have been.
  :func:`candidate_log_probs` scores *every* possible secret of the same length and alphabet exactly (no
  sampling), :func:`rank` places the planted one among them, and :func:`exposure` is
  ``log2(number of candidates) - log2(rank)``: 0 bits for a secret ranked last, ``log2(n)`` bits (the most
  there is) for one ranked first. A model that never saw the canary gives its secret an exposure of about 1 bit
  on average; a model that memorised it, close to the maximum.
- **Model cards** (Mitchell et al. 2019, "Model Cards for Model Reporting", FAT*). :func:`model_card` writes
  a reference model's card in Markdown from recorded facts only: its entry in ``checkpoints/manifest.json``
  (how it was trained, its scores, and a hand-written ``card`` entry: intended use, out of scope, limitations,
  authors), the datasheet entries of its datasets in ``datasets/manifest.json``, and the metrics the caller
  measured. A required fact that is not recorded is a :class:`ModelCardError`, never a guess.
- **Pickle checkpoints run code.** ``torch.save`` writes a pickle (inside a zip archive), and unpickling calls
  whatever callables the file names: an object's ``__reduce__`` decides what. :func:`crafted_checkpoint` writes a
  harmless demonstration (its payload only creates one empty file), :func:`pickle_globals` lists what a pickle
  would import without loading it (``pickletools``), and :func:`load_in_subprocess` loads a file in a fresh
  Python process, the only place the course ever lets ``torch.load(..., weights_only=False)`` run. PyTorch's
  ``weights_only=True`` (the default since torch 2.6) refuses every global outside an allow-list, safetensors
  stores no code at all, and ``lmcourse.checkpoints.load`` reads safetensors only.
"""

from __future__ import annotations

import io
import math
import numbers
import os
import pickletools
import string
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lmcourse.batches import _whole

if TYPE_CHECKING:
    import torch

__all__ = ["CANARY_PREFIX", "ModelCardError", "candidate_log_probs", "canaries", "crafted_checkpoint", "exposure",
           "insert", "load_in_subprocess", "model_card", "pickle_globals", "rank", "secret_index"]

#: The text before each secret in the course's canary lines: ``CANARY_PREFIX + secret``.
CANARY_PREFIX = "the secret code is "
#: The most candidates :func:`candidate_log_probs` enumerates (26**5 = 11,881,376 fits; a minute or so on a CPU).
MAX_CANDIDATES = 2 ** 24


# --------------------------------------------------------------------------- checks


def _alphabet(alphabet: object) -> str:
    """``alphabet`` if it is a non-empty str of distinct characters without a line break."""
    if not isinstance(alphabet, str):
        raise TypeError(f"alphabet must be a str of the characters a secret is made of, e.g. "
                        f"string.ascii_lowercase, got {type(alphabet).__name__} {alphabet!r:.60}.")
    if not alphabet:
        raise ValueError("alphabet is empty: give the characters a secret is made of, e.g. string.ascii_lowercase.")
    twice = sorted({c for c in alphabet if alphabet.count(c) > 1})
    if twice:
        raise ValueError(f"alphabet must list each character once, got {''.join(twice)!r} more than once in "
                         f"{alphabet!r:.60}; write ''.join(dict.fromkeys(alphabet)).")
    if "\n" in alphabet or "\r" in alphabet:
        raise ValueError(f"alphabet must not hold a line break (a secret is part of one line), got {alphabet!r:.60}.")
    return alphabet


def _secret(index: int, length: int, alphabet: str) -> str:
    """The secret whose base-|A| number is ``index`` (first character most significant)."""
    chars = []
    for _ in range(length):
        index, digit = divmod(index, len(alphabet))
        chars.append(alphabet[digit])
    return "".join(reversed(chars))


# --------------------------------------------------------------------------- canaries and exposure


def canaries(n: int, *, length: int = 4, alphabet: str = string.ascii_lowercase, seed: int) -> list[str]:
    """``n`` distinct random secrets, each ``length`` characters of ``alphabet``, drawn without replacement.

    Deterministic for a ``seed`` (``numpy.random.default_rng(seed)``). Plant ``CANARY_PREFIX + secret`` lines
    into a training text with :func:`insert`. There are ``len(alphabet) ** length`` possible secrets: asking for
    more distinct ones is an error.
    """
    n, length, alphabet = _whole(n, "n", 1), _whole(length, "length", 1), _alphabet(alphabet)
    seed = _whole(seed, "seed", 0)
    space = len(alphabet) ** length
    if n > space:
        raise ValueError(f"n={n} distinct secrets of length {length} from an alphabet of {len(alphabet)} characters "
                         f"are more than exist ({len(alphabet)}**{length} = {space:,}); ask for at most {space:,}, "
                         "or make the secrets longer.")
    if space > 2 ** 62:
        raise ValueError(f"secrets of length {length} from {len(alphabet)} characters make {space:.3g} candidates, "
                         "more than this function draws from (2**62); use shorter secrets.")
    rng = np.random.default_rng(seed)
    indices = rng.choice(space, size=n, replace=False)
    return [_secret(int(i), length, alphabet) for i in indices]


def insert(text: str, lines: dict[str, int], *, seed: int) -> str:
    """``text`` with each key of ``lines`` inserted ``lines[key]`` times, each copy as a line of its own.

    Each copy goes in at a line boundary (just after a ``"\\n"`` of ``text``) drawn at random with
    ``numpy.random.default_rng(seed)``, so the result is the same for the same seed; copies at the same boundary
    keep the order of ``lines`` (dicts keep insertion order). The original lines are all there, in their order::

        planted = insert(train_text, {CANARY_PREFIX + secret: 10}, seed=0)

    A repeat count of 0 inserts nothing: a line planted 0 times is a control canary, a secret the model never saw,
    whose exposure shows what chance alone gives. A line holding a line break, an empty line, a repeat count that
    is not a whole number >= 0, or a text without a ``"\\n"`` (it has no line boundary to insert at) is an error.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}.")
    if not isinstance(lines, Mapping):
        raise TypeError(f"lines must be a dict from each line to insert to its number of copies, e.g. "
                        f"{{CANARY_PREFIX + 'qzkf': 10}}, got {type(lines).__name__} {lines!r:.60}.")
    seed = _whole(seed, "seed", 0)
    copies: list[str] = []
    for line, repeats in lines.items():
        if not isinstance(line, str) or not line:
            raise TypeError(f"each line to insert must be a non-empty str, got {line!r:.60}.")
        if "\n" in line or "\r" in line:
            raise ValueError(f"the line {line!r:.60} holds a line break: each key of lines is one line, inserted as "
                             "a line of its own; split it into several keys.")
        if isinstance(repeats, bool) or not isinstance(repeats, numbers.Integral):
            raise TypeError(f"the repeat count of {line!r:.60} must be a whole number >= 0, got {repeats!r} "
                            f"({type(repeats).__name__}).")
        if repeats < 0:
            raise ValueError(f"the repeat count of {line!r:.60} must be >= 0, got {repeats}.")
        copies += [line] * int(repeats)
    boundaries = [i + 1 for i, c in enumerate(text) if c == "\n"]
    if not boundaries:
        raise ValueError(f"text has no line boundary (no '\\n') to insert lines at: got {len(text)} characters "
                         f"{text!r:.40}; give text of several lines (end it with '\\n').")
    rng = np.random.default_rng(seed)
    at = rng.integers(0, len(boundaries), size=len(copies))
    order = sorted(range(len(copies)), key=lambda k: (int(at[k]), k))  # stable: same boundary, order of lines
    pieces, start = [], 0
    for k in order:
        cut = boundaries[int(at[k])]
        pieces += [text[start:cut], copies[k], "\n"]
        start = cut
    pieces.append(text[start:])
    return "".join(pieces)


def secret_index(secret: str, alphabet: str = string.ascii_lowercase) -> int:
    """The index of ``secret`` among all secrets of its length: the secret read as a base-``len(alphabet)``
    number, its first character the most significant (``"aa..a"`` is 0, the last one ``len(alphabet)**length -
    1``): the order of :func:`candidate_log_probs`. A character outside ``alphabet`` is an error naming it."""
    alphabet = _alphabet(alphabet)
    if not isinstance(secret, str) or not secret:
        raise TypeError(f"secret must be a non-empty str, got {secret!r:.60}.")
    digit = {c: i for i, c in enumerate(alphabet)}
    index = 0
    for position, c in enumerate(secret):
        if c not in digit:
            raise ValueError(f"character {c!r} at position {position} of secret {secret!r} is not in the alphabet "
                             f"{alphabet!r:.60}; pass the alphabet the secrets were drawn from.")
        index = index * len(alphabet) + digit[c]
    return index


def _knows(tokenizer: Any, text: str) -> bool:
    """Whether ``tokenizer`` encodes ``text`` without an unknown character (and decodes it back)."""
    try:
        ids = list(tokenizer.encode(text))
    except (KeyError, ValueError):
        return False
    decode = getattr(tokenizer, "decode", None)
    return decode is None or decode(ids) == text


def _ids(tokenizer: Any, text: str, what: str) -> list[int]:
    """``tokenizer.encode(text)``, checked to decode back to ``text`` (no ``<unk>`` standing in for a character).

    ``what`` is ``"prefix"`` or ``"alphabet character"``: a character the tokenizer does not know is a ValueError
    naming that argument and the character (not the tokenizer's own UnknownTokenError, whose remedies are about
    refitting it)."""
    from lmcourse.tokenize import UnknownTokenError

    try:
        ids = list(tokenizer.encode(text))
    except UnknownTokenError as err:
        vocab_size = getattr(tokenizer, "vocab_size", None)
        fitted = ("" if vocab_size is None else
                  f" (the {vocab_size - len(getattr(tokenizer, 'specials', ()))} characters it was fitted on)")
        if what == "prefix":
            where = f"prefix character {err.symbol!r} at position {err.position} of {text!r:.60}"
            example = ", e.g. CANARY_PREFIX" if _knows(tokenizer, CANARY_PREFIX) else ""
            remedy = f"use a prefix of characters it knows{example}"
        else:
            where = f"alphabet character {err.symbol!r}"
            example = ", e.g. string.ascii_lowercase" if _knows(tokenizer, string.ascii_lowercase) else ""
            remedy = f"use characters it knows{example}"
        raise ValueError(f"{where} is not in the tokenizer's vocabulary{fitted}; {remedy}.") from None
    decode = getattr(tokenizer, "decode", None)
    if decode is not None and decode(ids) != text:
        raise ValueError(f"the tokenizer does not know every character of the {what} {text!r:.60} (it encodes "
                         f"and decodes back as {decode(ids)!r:.60}): use the model's own tokenizer, and characters "
                         "it was fitted on.")
    return ids


def candidate_log_probs(model: torch.nn.Module, tokenizer: Any, prefix: str, *, length: int,
                        alphabet: str = string.ascii_lowercase, batch_size: int = 4096) -> np.ndarray:
    """``log p(secret | prefix)`` in nats for every possible secret of ``length`` characters of ``alphabet``.

    Returns a float64 array of shape ``(len(alphabet) ** length,)`` in lexicographic order: entry ``i`` is the
    secret whose :func:`secret_index` is ``i``. The sum runs exactly, level by level, with no sampling: level
    ``k`` runs the model once on all ``len(alphabet) ** k`` partial secrets after the prefix (in batches of
    ``batch_size`` rows) and reads the last position's logits, so that ``log p(s_1..s_k+1) = log p(s_1..s_k) +
    log p(s_k+1 | prefix s_1..s_k)``. The probabilities are the model's own, over its whole vocabulary: summed
    over all candidates they give the probability that the next ``length`` characters are all from ``alphabet``,
    1 only when the alphabet is the whole vocabulary.

    The prefix is read once: a TransformerLM carries its key-value cache (``run``) from a partial secret to its
    children, a RecurrentLM its state; any other model re-reads each whole row. The levels are walked depth
    first, a batch of children at a time, so memory stays at about ``length x batch_size`` rows of cache. For a
    2-layer TransformerLM of width 64, 26 letters, length 4 and a 19-character prefix (456,976 candidates) it
    takes about 2 s on one CPU thread (``tools/bench_canary.py``).

    ``model``: a course language model, ``model(idx)`` returning ``(logits, loss)``; it is put in eval mode and
    given back in the mode it was in. ``tokenizer``: its tokenizer (one token per alphabet character). The prefix
    and a partial secret, ``len(prefix) + length - 1`` positions, must fit the model's context
    (``model.config.block_size``, else ``model.context``; a recurrent model has no limit).
    """
    import torch

    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a non-empty str (the model predicts the secret's first character from it), "
                         f"got {prefix!r:.60}; e.g. CANARY_PREFIX.")
    length, alphabet = _whole(length, "length", 1), _alphabet(alphabet)
    batch_size = _whole(batch_size, "batch_size", 1)
    n_candidates = len(alphabet) ** length
    if n_candidates > MAX_CANDIDATES:
        raise ValueError(f"{len(alphabet)}**{length} = {n_candidates:,} candidate secrets are more than "
                         f"candidate_log_probs enumerates ({MAX_CANDIDATES:,}: it runs the model on each); use "
                         "shorter secrets or a smaller alphabet.")
    prefix_ids = _ids(tokenizer, prefix, "prefix")
    letter_ids = []
    for c in alphabet:
        ids = _ids(tokenizer, c, "alphabet character")
        if len(ids) != 1:
            raise ValueError(f"the alphabet character {c!r} is {len(ids)} tokens of this tokenizer, not one: "
                             "candidate_log_probs needs a character-level tokenizer (CharTokenizer).")
        letter_ids.append(ids[0])
    config = getattr(model, "config", None)
    limit = getattr(config, "block_size", None) or getattr(model, "context", None)
    needed = len(prefix_ids) + length - 1
    if limit is not None and needed > limit:
        raise ValueError(f"a canary longer than the context: the prefix's {len(prefix_ids)} tokens and a secret of "
                         f"length {length} need {needed} positions, but the model reads at most {limit}; use a "
                         f"prefix of at most {limit - length + 1} characters, or shorter secrets.")
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    A = len(alphabet)
    letters = torch.tensor(letter_ids, dtype=torch.long, device=device)
    advance, take = _stepper(model)
    out = torch.empty(n_candidates, dtype=torch.float64, device=device)

    def visit(k: int, first: int, logits: torch.Tensor, state: Any, log_p: torch.Tensor) -> None:
        """Rows ``first`` .. ``first + len(log_p) - 1`` of level ``k``: their log-probs, the logits of the character
        after each, and the model's state after reading it; writes their children (recursively, in chunks)."""
        children = (log_p[:, None] + logits.double().log_softmax(-1)[:, letters]).reshape(-1)
        if k + 1 == length:
            out[first * A:first * A + children.numel()] = children
            return
        for lo in range(0, children.numel(), batch_size):
            rows = torch.arange(lo, min(lo + batch_size, children.numel()), device=device)
            step_logits, step_state = advance(letters[rows % A][:, None], take(state, rows // A))
            visit(k + 1, first * A + lo, step_logits, step_state, children[rows])

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits, state = advance(torch.tensor([prefix_ids], dtype=torch.long, device=device), None)
            visit(0, 0, logits, state, torch.zeros(1, dtype=torch.float64, device=device))
    finally:
        model.train(was_training)
    return out.cpu().numpy()


def _stepper(model: torch.nn.Module) -> tuple[Any, Any]:
    """How :func:`candidate_log_probs` feeds ``model`` one more token per row: ``advance(ids (n, T), state)`` gives
    the logits (n, V) after the last of ``ids`` and the state after it; ``take(state, rows)`` selects rows.

    A TransformerLM carries its key-value cache (``run``) and a RecurrentLM its state, so that the prefix is read
    once, not once per candidate; any other model re-reads the whole row (the state is its ids)."""
    import torch

    from lmcourse.models import RecurrentLM
    from lmcourse.transformer import KVCache, TransformerLM

    if isinstance(model, TransformerLM):
        def advance_cached(ids: torch.Tensor, cache: KVCache | None) -> tuple[torch.Tensor, KVCache]:
            logits, cache = model.run(ids, cache)
            return logits[:, -1], cache

        def take_cached(cache: KVCache, rows: torch.Tensor) -> KVCache:
            return KVCache(cache.ids[rows], [(k[rows], v[rows]) for k, v in cache.kv])

        return advance_cached, take_cached
    if isinstance(model, RecurrentLM):
        def advance_recurrent(ids: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
            logits, state = model.run(ids, state)
            return logits[:, -1], state

        def take_recurrent(state: Any, rows: torch.Tensor) -> Any:  # (num_layers, B, hidden), or a pair of them
            return state[:, rows] if isinstance(state, torch.Tensor) else (state[0][:, rows], state[1][:, rows])

        return advance_recurrent, take_recurrent

    def advance_plain(ids: torch.Tensor, seen: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        ids = ids if seen is None else torch.cat((seen, ids), dim=1)
        result = model(ids)
        logits = result[0] if isinstance(result, tuple) else result
        return logits[:, -1], ids

    return advance_plain, lambda seen, rows: seen[rows]


def rank(log_probs: np.ndarray, index: int) -> int:
    """The 1-based rank of candidate ``index`` when the candidates are sorted by log-probability, most likely first.

    Ties: the rank is 1 + the number of candidates *strictly* more likely, so tied candidates share the best
    rank among them (the canary is given the benefit of the doubt, and its exposure is not understated).
    """
    if not isinstance(log_probs, np.ndarray):
        hint = " (a torch tensor: pass .numpy())" if hasattr(log_probs, "detach") else ""
        raise TypeError(f"log_probs must be a numpy array{hint}, got {type(log_probs).__name__}.")
    if log_probs.ndim != 1 or log_probs.size == 0:
        raise ValueError(f"log_probs must be 1-D and non-empty (one log-probability per candidate), got shape "
                         f"{log_probs.shape}.")
    if np.isnan(log_probs).any():
        raise ValueError(f"log_probs holds NaN at {np.flatnonzero(np.isnan(log_probs))[:5].tolist()}: a NaN has no "
                         "rank; check the model's outputs.")
    index = _whole(index, "index", 0)
    if index >= log_probs.size:
        raise ValueError(f"index must be in 0..{log_probs.size - 1} (one of the {log_probs.size:,} candidates), got "
                         f"{index}.")
    return 1 + int(np.count_nonzero(log_probs > log_probs[index]))


def exposure(rank: int, n_candidates: int) -> float:
    """Exposure in bits, ``log2(n_candidates) - log2(rank)`` (Carlini et al. 2019): 0 for the least likely
    candidate, ``log2(n_candidates)`` for the most likely one. ``1 <= rank <= n_candidates``, else an error."""
    n_candidates = _whole(n_candidates, "n_candidates", 1)
    rank = _whole(rank, "rank", 1)
    if rank > n_candidates:
        raise ValueError(f"rank must be in 1..n_candidates={n_candidates}, got {rank}.")
    return math.log2(n_candidates) - math.log2(rank)


# --------------------------------------------------------------------------- model cards


class ModelCardError(ValueError):
    """A fact a model card needs is not recorded (or not of the right kind) in the manifests."""


#: The facts of a manifest entry every card needs (``card`` is written by hand, the rest by train_reference.py).
REQUIRED = ("class", "config", "dataset", "dataset_sha256", "tokenizer", "training", "steps", "seed", "command",
            "machine", "threads", "wall_seconds", "torch", "valid_loss_nats", "valid_bits_per_char", "file",
            "sha256", "card")
#: The hand-written entries of ``card``.
CARD_FIELDS = ("intended_use", "out_of_scope", "limitations", "authors")


def _missing(name: str, field: str, what: str) -> ModelCardError:
    return ModelCardError(f"the record of model {name!r} has no {field!r} ({what}), which its model card needs: add "
                          f"it to the entry {name!r} of checkpoints/manifest.json (train_reference.py records the "
                          "training facts; the 'card' entry, {\"intended_use\": str, \"out_of_scope\": str, "
                          "\"limitations\": [str, ...], \"authors\": str}, is written by hand).")


def _card_facts(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The ``card`` entry of ``entry``, checked."""
    for field in REQUIRED:
        if field not in entry:
            raise _missing(name, field, "a recorded fact")
    card = entry["card"]
    if not isinstance(card, dict):
        raise ModelCardError(f"the 'card' entry of model {name!r} in checkpoints/manifest.json must be a dict with "
                             f"{', '.join(CARD_FIELDS)}; got {type(card).__name__}.")
    for field in CARD_FIELDS:
        if field not in card:
            raise _missing(name, f"card.{field}", "a hand-written part of its 'card' entry")
    for field in ("intended_use", "out_of_scope", "authors"):
        if not isinstance(card[field], str) or not card[field].strip():
            raise ModelCardError(f"card.{field} of model {name!r} in checkpoints/manifest.json must be a non-empty "
                                 f"str, got {card[field]!r:.60}.")
    limits = card["limitations"]
    if not isinstance(limits, list) or not limits or not all(isinstance(x, str) and x.strip() for x in limits):
        raise ModelCardError(f"card.limitations of model {name!r} in checkpoints/manifest.json must be a non-empty "
                             f"list of str, got {limits!r:.60}.")
    return card


def _parameters(entry: dict[str, Any]) -> int:
    """The parameter count of the recorded class and configuration, by building the model (no weights loaded).

    Built inside a forked random state: building draws the initial weights, and a card must not move the
    caller's random streams."""
    import torch

    from lmcourse.checkpoints import _build

    with torch.random.fork_rng(devices=[]):
        model = _build(entry["class"], dict(entry["config"]))
    return sum(p.numel() for p in model.parameters())


def _metrics(metrics: object) -> dict[str, float]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a dict from a metric's name to its value, e.g. {{'test bits per char': "
                        f"2.46}}, got {type(metrics).__name__}.")
    out = {}
    for key, value in metrics.items():
        if not isinstance(key, str) or not key.strip():
            raise TypeError(f"each metric's name must be a non-empty str, got {key!r}.")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise TypeError(f"metric {key!r} must be a finite number (float or int), got {value!r} "
                            f"({type(value).__name__}); pass float(...) of a measured value.")
        out[key] = float(value)
    return out


def model_card(name: str, *, metrics: dict[str, float] | None = None) -> str:
    """The model card of reference model ``name`` in Markdown, generated from recorded facts only.

    Sources: ``lmcourse.checkpoints.reference_info(name)`` (class, configuration, datasets and their sha256,
    tokenizer, training settings, steps, seed, command, machine, threads, wall time, torch version, validation
    loss; held-out facts where recorded; its hand-written ``card`` entry), ``lmcourse.data.info`` of each dataset
    (title, source, licence), the parameter count (the recorded class built from its configuration), and
    ``metrics``: further measured figures the caller passes, e.g. ``{"test bits per char": 2.46}``. Sections
    after Mitchell et al. (2019): Model details, Intended use, Out of scope, Training data, Evaluation,
    Limitations and biases, How it was made, Provenance. A missing fact is a :class:`ModelCardError` naming it;
    an unknown name is ``checkpoints``' own error, which lists the known names.
    """
    from lmcourse import checkpoints, data

    entry = checkpoints.reference_info(name)
    card = _card_facts(name, entry)
    measured = _metrics(metrics)
    sha = entry["dataset_sha256"]
    recorded_sha = dict(sha) if isinstance(sha, dict) else {entry["dataset"]: sha}
    trained_on = entry["dataset"].split("+")
    for dataset in trained_on:
        if dataset not in recorded_sha:
            raise _missing(name, f"dataset_sha256.{dataset}", f"the checksum of its training dataset {dataset!r}")
    datasets = list(dict.fromkeys([*trained_on, *recorded_sha]))
    sheets = {}
    for dataset in datasets:
        info = data.info(dataset)
        for field in ("title", "source", "licence"):
            if field not in info:
                raise ModelCardError(f"the datasheet of dataset {dataset!r} (used by model {name!r}) has no "
                                     f"{field!r}: add it to datasets/manifest.json.")
        sheets[dataset] = info
    config = entry["config"]
    settings = ", ".join(f"{k} {v}" for k, v in sorted(entry["training"].items()))
    lines = [
        f"# Model card: {name}",
        "",
        f"*Generated by `lmcourse.safety.model_card({name!r})` from `checkpoints/manifest.json` and "
        "`datasets/manifest.json` (after Mitchell et al. 2019, \"Model Cards for Model Reporting\").*",
        "",
        "## Model details",
        "",
        f"- **Model:** `{entry['class']}`, {_parameters(entry):,} parameters",
        "- **Configuration:** " + ", ".join(f"{k}={v!r}" for k, v in sorted(config.items())),
        f"- **Tokenizer:** `{entry['tokenizer']}`"
        + (f" ({config['vocab_size']} ids)" if "vocab_size" in config else ""),
        f"- **Authors:** {card['authors']}",
        "",
        "## Intended use",
        "",
        card["intended_use"],
        "",
        "## Out of scope",
        "",
        card["out_of_scope"],
        "",
        "## Training data",
        "",
    ]
    for dataset in datasets:
        sheet = sheets[dataset]
        role = "trained on" if dataset in trained_on else "held out from the training text"
        lines.append(f"- **{dataset}** ({role}): {sheet['title']}. Source: {sheet['source']}. "
                     f"Licence: {sheet['licence']}.")
    if "corpus_chars" in entry:
        lines.append("- **Characters:** " + ", ".join(f"{k} {v:,}" for k, v in entry["corpus_chars"].items()))
    if "held_out" in entry:
        lines.append("- **Held out:** " + ", ".join(f"{k.replace('_', ' ')}: {v}"
                                                   for k, v in entry["held_out"].items()))
    lines += [
        "",
        "## Evaluation",
        "",
        "| metric | value |",
        "|---|---:|",
        f"| validation loss (nats per token) | {entry['valid_loss_nats']} |",
        f"| validation bits per character | {entry['valid_bits_per_char']} |",
    ]
    if "train_loss_nats_last_100_steps" in entry:
        lines.append(f"| training loss, last 100 steps (nats per token) | {entry['train_loss_nats_last_100_steps']} |")
    lines += [f"| {key} (measured by the caller) | {value:.6g} |" for key, value in measured.items()]
    if "valid_scoring" in entry:  # how the validation text was cut into windows and scored
        windows = f", scored on {entry['valid_scoring']}"
    else:
        windows = f", windows of {entry['windows']} characters" if "windows" in entry else ""
    lines += [
        "",
        f"Validation: the validation part of its training text, held out of training{windows}.",
        "",
        "## Limitations and biases",
        "",
        *[f"- {limit}" for limit in card["limitations"]],
        "",
        "## How it was made",
        "",
        f"- **Command:** `{entry['command']}`",
        f"- **Training:** {entry['steps']} steps; {settings}; seed {entry['seed']}"
        + (f"; scale {entry['scale']}" if "scale" in entry else ""),
        f"- **Machine:** {entry['machine']}, {entry['threads']} thread(s), torch {entry['torch']}",
        f"- **Wall time:** {entry['wall_seconds']} s",
        "",
        "## Provenance",
        "",
        f"- **Weights:** `checkpoints/{entry['file']}`, sha256 `{entry['sha256']}` (checked on every load)",
    ]
    for dataset, digest in recorded_sha.items():
        now = sheets[dataset]["sha256"]
        same = "the same as datasets/manifest.json today" if now == digest else \
            f"datasets/manifest.json now records {now}: the data changed after training"
        lines.append(f"- **{dataset}:** sha256 `{digest}` when trained ({same})")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- pickle checkpoints


class _CreateEmptyFile:
    """Unpickles as ``open(marker, "a")``: creates ``marker`` if absent, empty; writes nothing to it otherwise."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.marker, "a"))


def crafted_checkpoint(path: str | os.PathLike[str], marker: str | os.PathLike[str]) -> Path:
    """Write a ``torch.save`` file at ``path`` that, when unpickled, creates the empty file ``marker``.

    The file holds ``{"weight": torch.zeros(3), "extra": ...}``; the extra object's ``__reduce__`` tells the
    unpickler to call ``open(marker, "a")`` (the standard library's ``io.open``), which creates an empty file and
    writes nothing. Harmless by design, and enough to show that loading a pickle runs whatever the file says.
    ``marker`` is stored as an absolute path; it must not exist yet, so that its appearance proves the load.
    Returns ``path`` as a :class:`~pathlib.Path`.
    """
    import torch

    target, mark = Path(path), Path(marker).absolute()
    if mark.exists():
        raise FileExistsError(f"the marker {mark} exists already, so its appearance would prove nothing: delete it, "
                              "or pass another marker path.")
    torch.save({"weight": torch.zeros(3), "extra": _CreateEmptyFile(str(mark))}, target)
    return target


_STRINGS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"}
_GETS = {"GET", "BINGET", "LONG_BINGET"}
_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}


def _globals_of_one(stream: io.BytesIO) -> list[tuple[str, str]]:
    """The globals of the pickle at the position of ``stream``, which is left just after its STOP.

    A small model of the unpickler's stack follows every opcode (``pickletools`` knows each one's stack effect)
    and tracks only strings, through the memo, so that STACK_GLOBAL's module and name are found wherever they
    came from. A name that is not a plain string is reported as ``"?"``.
    """
    found: list[tuple[str, str]] = []
    stack: list[object] = []
    marks: list[int] = []
    memo: dict[int, object] = {}
    for op, arg, _ in pickletools.genops(stream):
        name = op.name
        if name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            found.append((module, attr))
        elif name == "STACK_GLOBAL":
            module, attr = stack[-2], stack[-1]
            found.append((module if isinstance(module, str) else "?", attr if isinstance(attr, str) else "?"))
        if name in _PUTS:
            memo[int(arg)] = stack[-1]  # type: ignore[arg-type]
            continue
        if name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
            continue
        if name == "MARK":
            marks.append(len(stack))
            continue
        before = op.stack_before
        if pickletools.markobject in before:
            below = before.index(pickletools.markobject)
            del stack[marks.pop() - below:]
        elif before:
            del stack[len(stack) - len(before):]
        if name in _STRINGS:
            stack.append(arg.decode("latin-1") if isinstance(arg, bytes) else arg)
        elif name in _GETS:
            stack.append(memo.get(int(arg)))  # type: ignore[arg-type]
        elif name == "DUP":
            stack += [stack[-1]] * 2 if stack else [None, None]
        else:
            stack += [None] * len(op.stack_after)
    return found


def pickle_globals(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Every ``(module, name)`` the pickle in ``path`` would import when loaded, in order, without loading it.

    Reads the opcodes with ``pickletools.genops`` (nothing is unpickled, nothing imported): GLOBAL and INST name
    theirs, STACK_GLOBAL takes its two strings from the stack, which may have come from the memo (BINPUT,
    MEMOIZE, BINGET, ... are followed). A torch.save zip archive is read at its ``*/data.pkl``; any other file
    as one or more pickles one after another (torch's old format holds several, then raw tensor bytes, where
    the scan stops). Every callable listed runs when the file is loaded with ``torch.load(...,
    weights_only=False)`` or ``pickle.load``: anything beyond torch's tensor rebuilding and ``collections
    OrderedDict`` deserves suspicion.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no file at {file}; pass the path of a torch.save or pickle file.")
    if zipfile.is_zipfile(file):
        with zipfile.ZipFile(file) as archive:
            names = [n for n in archive.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
            if not names:
                raise ValueError(f"{file} is a zip archive without a data.pkl: not a torch.save file "
                                 f"(it holds {archive.namelist()[:5]}).")
            return [g for n in names for g in _globals_of_one(io.BytesIO(archive.read(n)))]
    stream = io.BytesIO(file.read_bytes())
    try:
        found = _globals_of_one(stream)
    except ValueError as err:  # pickletools' error for bytes that are not a pickle
        raise ValueError(f"{file} is neither a zip archive (torch.save) nor a pickle: {err}") from None
    while stream.tell() < len(stream.getbuffer()):
        start = stream.tell()
        try:
            found += _globals_of_one(stream)
        except (ValueError, IndexError):  # raw bytes after the pickles (torch's old format): stop there
            break
        if stream.tell() == start:
            break
    return found


#: What :func:`load_in_subprocess` runs in the child process (the path and the flag come as arguments).
_LOAD_SCRIPT = """\
import sys
import torch
obj = torch.load(sys.argv[1], weights_only=sys.argv[2] == "True", map_location="cpu")
keys = ", ".join(map(str, obj)) if isinstance(obj, dict) else ""
print(f"loaded a {type(obj).__name__}: {keys}")
"""


def load_in_subprocess(path: str | os.PathLike[str], *, weights_only: bool,
                       timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``torch.load(path, weights_only=weights_only)`` in a fresh Python process and return it, finished.

    Never in the caller's process: whatever an unsafe load runs, it runs in the child, which then exits.
    The result's ``returncode`` is 0 if the load succeeded (``stdout`` names what it loaded), and 1 if it was
    refused (``stderr`` holds the child's traceback). ``timeout`` (seconds) bounds the child's run: past it,
    ``subprocess.TimeoutExpired``. Still, loading a file with ``weights_only=False`` runs its code with your
    user's rights: do it only with files you made yourself, as the course's demonstration does.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no file at {file}; pass the path of a torch.save file.")
    if not isinstance(weights_only, bool):
        raise TypeError(f"weights_only must be True or False, got {weights_only!r}.")
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}.")
    return subprocess.run([sys.executable, "-c", _LOAD_SCRIPT, str(file.absolute()), str(weights_only)],
                          capture_output=True, text=True, timeout=float(timeout), check=False)
