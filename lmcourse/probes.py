"""What a corpus and a model associate, and what parts of a model respond to: measured, not guessed (chapter 12).

**Bias probes.** A language model learns the associations of its training text, so look at both:

- in the *corpus*, :func:`cooccurrence` counts the words near each target word ("he", "she"), and
  :func:`log_odds` ranks the words by how much more often they occur near one target than the other: the
  add-alpha smoothed log ratio of the two conditional distributions (Monroe, Colaresi and Quinn, 2008,
  "Fightin' Words", show why the smoothing matters for rare words and go on to z-scores under an informative
  prior; the plain smoothed ratio is their starting point). This is the co-occurrence view of bias that word
  embedding studies measure (Bolukbasi et al., 2016; Caliskan, Bryson and Narayanan, 2017).
- in the *model*, :func:`continuation_log_probs` scores continuations of a context, and
  :func:`pronoun_preference` compares minimal pairs, "he was fair" against "she was fair": a template whose
  only difference is the pronoun, the method of template-based probes such as Kurita et al. (2019) and
  the WinoBias / CrowS-Pairs style of evaluation (Zhao et al., 2018; Nangia et al., 2020).

**Interpretability.** Where in the network does a pattern live?

- :func:`mlp_activations` reads every block's MLP neurons (after the GELU) with forward hooks, and
  :func:`correlations` correlates each neuron with a feature of the text (is the character upper-case? are
  we in a speaker's name?), the simplest neuron probe (Karpathy, Johnson and Fei-Fei, 2015, found a
  quote-tracking cell in a character LSTM this way);
- :func:`attention_to` and :func:`previous_token_score` score attention heads on two patterns that
  character models learn early: attend to the last newline (where am I in the line?) and attend to the
  previous token (the first half of an induction head, Olsson et al., 2022).

Correlation is not causation: a neuron that tracks upper case may do so because it computes something else
that happens to coincide with it. The chapter says so, and an ablation (zero the neuron, measure the loss)
is the next step.
"""

from __future__ import annotations

import numbers
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from lmcourse.models import MLPLM, BigramLM, _check_idx, _whole
from lmcourse.transformer import TransformerLM

__all__ = ["attention_to", "continuation_log_probs", "cooccurrence", "correlations", "log_odds", "mlp_activations",
           "previous_token_score", "pronoun_preference", "words"]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


# --------------------------------------------------------------------------- the corpus


def words(text: str) -> list[str]:
    """The lower-cased words of ``text``: ``re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower())``.

    Runs of letters with at most one inner apostrophe ("o'er", "ne'er" stay whole; "'tis" gives "tis"),
    no digits: Shakespeare's words. (``lmcourse.retrieval.words`` keeps digits and splits at apostrophes.)
    """
    if not isinstance(text, str):
        raise TypeError(f"words(text) needs a str, got {type(text).__name__} {text!r:.60}.")
    return _WORD.findall(text.lower())


def _check_targets(targets: object, who: str) -> list[str]:
    if isinstance(targets, (str, bytes)):
        raise TypeError(f"{who}: targets must be a list of words, got one {type(targets).__name__} {targets!r:.60}: "
                        f"wrap it in a list, e.g. [{targets!r:.30}].")
    if not isinstance(targets, Sequence) or len(targets) == 0:
        got = "an empty list" if isinstance(targets, Sequence) else type(targets).__name__
        raise ValueError(f"{who}: targets must be a non-empty list of words, e.g. ['he', 'she'], got {got}.")
    for i, t in enumerate(targets):
        if not isinstance(t, str) or words(t) != [t]:
            raise ValueError(f"{who}: targets[{i}] = {t!r} is not one lower-case word as words() makes them "
                             f"(letters, at most one inner apostrophe), e.g. 'she' or \"o'er\".")
    duplicates = sorted({t for t in targets if targets.count(t) > 1})
    if duplicates:
        raise ValueError(f"{who}: targets lists {', '.join(map(repr, duplicates))} more than once: list each once.")
    return list(targets)


def cooccurrence(text: str, targets: Sequence[str], *, window: int = 10) -> dict[str, Counter[str]]:
    """For each target word, the counts of the words within ``window`` words either side of its occurrences.

    ``text`` is cut into :func:`words`; every occurrence of a target contributes the (up to) ``2 window``
    words around it, so a word near two occurrences is counted twice. The targets themselves are never
    counted as context words (near "he", neither "he" nor "she" is counted when both are targets): they
    would dominate each other's lists. Vectorised with numpy: the 1 MB Shakespeare text takes well under a
    second. A target that never occurs in ``text`` is an error (its counts would be empty, so every ratio
    against it would be the smoothing alone).
    """
    if not isinstance(text, str):
        raise TypeError(f"cooccurrence: text must be a str, got {type(text).__name__} {text!r:.60}.")
    targets = _check_targets(targets, "cooccurrence")
    window = _whole(window, "window", 1)
    vocab: dict[str, int] = {}
    ids = np.array([vocab.setdefault(w, len(vocab)) for w in words(text)], dtype=np.int64)
    missing = [t for t in targets if t not in vocab]
    if missing:
        raise ValueError(f"cooccurrence: target(s) {', '.join(map(repr, missing))} never occur in the text "
                         f"({len(ids)} words): check the spelling (targets are lower-case words), or drop them.")
    itos = list(vocab)
    target_ids = np.array([vocab[t] for t in targets])
    offsets = np.concatenate((np.arange(-window, 0), np.arange(1, window + 1)))
    result: dict[str, Counter[str]] = {}
    for t in targets:
        near = (np.flatnonzero(ids == vocab[t])[:, None] + offsets).ravel()
        context = ids[near[(near >= 0) & (near < len(ids))]]
        counts = np.bincount(context[~np.isin(context, target_ids)], minlength=len(vocab))
        result[t] = Counter({itos[i]: int(counts[i]) for i in np.flatnonzero(counts)})
    return result


def _check_counts(counts: object, name: str) -> dict[str, int]:
    if not isinstance(counts, Mapping):
        raise TypeError(f"log_odds: {name} must be a mapping of word -> count (a Counter), got "
                        f"{type(counts).__name__}.")
    for w, c in counts.items():
        if not isinstance(w, str):
            raise TypeError(f"log_odds: {name} has the key {w!r} ({type(w).__name__}); keys must be words (str).")
        if isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 0:
            raise ValueError(f"log_odds: {name}[{w!r}] = {c!r}; counts must be whole numbers >= 0 (a Counter "
                             f"of words, e.g. from cooccurrence).")
    return {w: int(c) for w, c in counts.items()}


def log_odds(counts_a: Mapping[str, int], counts_b: Mapping[str, int], *, alpha: float = 1.0) -> dict[str, float]:
    """How much more word w is expected under ``counts_a`` than under ``counts_b``, in nats, for every word of either.

        log((a_w + alpha) / (A + alpha V)) - log((b_w + alpha) / (B + alpha V))

    with A, B the totals of the two and V the number of words in the union of their keys (a key given with
    count 0 is part of the vocabulary). Both distributions are add-alpha smoothed, so a word seen only on
    one side gets a finite score, which grows with its count: 50 occurrences against none says more than 1
    against none. Positive: more typical of ``a``. Sort the result to see either end; filter out rare
    words (e.g. ``a[w] + b[w] >= 5``) first, since their ratios are mostly noise.
    """
    a, b = _check_counts(counts_a, "counts_a"), _check_counts(counts_b, "counts_b")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < float("inf"):
        raise ValueError(f"log_odds: alpha must be a number > 0 (the pseudo-count added to every word; 1 is "
                         f"Laplace's), got {alpha!r}.")
    vocab = list(dict.fromkeys([*a, *b]))
    if not vocab:
        raise ValueError("log_odds: counts_a and counts_b are both empty: there is no word to compare.")
    V = len(vocab)
    ca = np.array([a.get(w, 0) for w in vocab], dtype=np.float64)
    cb = np.array([b.get(w, 0) for w in vocab], dtype=np.float64)
    scores = (np.log(ca + alpha) - np.log(ca.sum() + alpha * V)) - (np.log(cb + alpha) - np.log(cb.sum() + alpha * V))
    return dict(zip(vocab, scores.tolist()))


# --------------------------------------------------------------------------- the model's preferences


def _check_model(model: object, who: str) -> nn.Module:
    if not isinstance(model, nn.Module) or not isinstance(getattr(model, "vocab_size", None), int):
        raise TypeError(f"{who}: model must be one of the course's language models (forward(idx) -> (logits, loss), "
                        f"with a vocab_size), e.g. lmcourse.checkpoints.reference('transformer_shakespeare'), got "
                        f"{type(model).__name__}.")
    return model


def _device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return torch.device("cpu") if first is None else first.device


def _longest_input(model: nn.Module) -> int | None:
    """The most positions ``model`` reads at once, or None for no limit.

    A BigramLM or MLPLM computes each position from its own window of ``context`` tokens, so it reads any
    length; a recurrent model has ``context`` None; every other model (a TransformerLM: its position table)
    reads at most ``model.context``."""
    if isinstance(model, (BigramLM, MLPLM)):
        return None
    context = getattr(model, "context", None)
    return context if isinstance(context, int) else None


def _encode(tokenizer: Any, text: str, what: str, who: str) -> list[int]:
    if not isinstance(text, str):
        raise TypeError(f"{who}: {what} must be a str, got {type(text).__name__} {text!r:.60}.")
    if isinstance(tokenizer, (str, bytes)) or not callable(getattr(tokenizer, "encode", None)):
        raise TypeError(f"{who}: tokenizer must have an encode(text) method (e.g. lmcourse.tokenize.CharTokenizer() "
                        f"fitted on the model's training text), got {type(tokenizer).__name__}.")
    return list(tokenizer.encode(text))


def continuation_log_probs(model: nn.Module, tokenizer: Any, context: str, continuations: Sequence[str], *,
                           batch_size: int = 256) -> np.ndarray:
    """log p(continuation | context) in nats for each continuation: float64 array, one entry per continuation.

    Teacher forcing: the model reads ``context + continuation`` (less its last token) once and the log-softmax
    of each continuation token given everything before it is summed. Context and continuation are encoded
    separately and joined (for a character tokenizer that is the same as encoding the joined text; for a
    word or BPE tokenizer it scores exactly those tokens). Continuations of the same length in tokens go
    through the model together, ``batch_size`` at a time; the model runs in eval mode without gradients and
    gets its mode back afterwards.

    ``context`` must not be empty (the first token of a continuation needs something to be predicted from:
    start with "\\n" for a line's start), and the model must be able to read context plus continuation less
    its last token: a TransformerLM with block_size 64 scores a 50-token context with continuations of up
    to 15 tokens. Longer is an error, not a silent cut of the context, which would change the question.
    """
    who = "continuation_log_probs"
    model = _check_model(model, who)
    ctx = _encode(tokenizer, context, "context", who)
    if not ctx:
        raise ValueError(f"{who}: context {context!r} encodes to no tokens; the first token of each continuation "
                         f"needs a context to be predicted from: start it with a newline, e.g. '\\n' + context.")
    if isinstance(continuations, (str, bytes)) or not isinstance(continuations, Sequence):
        raise TypeError(f"{who}: continuations must be a list of strings, got {type(continuations).__name__} "
                        f"{continuations!r:.60}; for one, pass [continuation].")
    if len(continuations) == 0:
        raise ValueError(f"{who}: continuations is empty: pass at least one string to score.")
    batch_size = _whole(batch_size, "batch_size", 1)
    conts = [_encode(tokenizer, c, f"continuations[{i}]", who) for i, c in enumerate(continuations)]
    limit = _longest_input(model)
    for i, ids in enumerate(conts):
        if not ids:
            raise ValueError(f"{who}: continuations[{i}] = {continuations[i]!r} encodes to no tokens: there is "
                             f"nothing to score (log p of nothing is 0); drop it.")
        if limit is not None and len(ctx) + len(ids) - 1 > limit:
            raise ValueError(f"{who}: the context ({len(ctx)} tokens) and continuations[{i}] = "
                             f"{continuations[i]!r:.40} ({len(ids)} tokens) make {len(ctx) + len(ids)} tokens, of "
                             f"which the model must read all but the last: {len(ctx) + len(ids) - 1} > its context "
                             f"of {limit}. Shorten the context to at most {limit + 1 - len(ids)} tokens.")
    device, out = _device(model), np.empty(len(conts), dtype=np.float64)
    by_length: dict[int, list[int]] = {}
    for i, ids in enumerate(conts):
        by_length.setdefault(len(ids), []).append(i)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for n, members in by_length.items():
                for start in range(0, len(members), batch_size):
                    chunk = members[start:start + batch_size]
                    seqs = torch.tensor([ctx + conts[i] for i in chunk], dtype=torch.long, device=device)
                    logits = model(seqs[:, :-1])[0][:, -n:].double()          # the predictions of the n tokens
                    logp = logits.log_softmax(-1).gather(-1, seqs[:, -n:, None])[..., 0]
                    out[chunk] = logp.sum(1).cpu().numpy()
    finally:
        model.train(was_training)
    return out


def pronoun_preference(model: nn.Module, tokenizer: Any, words: Sequence[str], *,
                       template: str = "{pronoun} was {word}", pronouns: tuple[str, str] = ("he", "she"),
                       prefix: str = "\n") -> dict[str, float]:
    """For each word, how much more (in nats) the model expects it after the first pronoun than after the second.

    With the default template, ``log p(" fair" | "\\nhe was") - log p(" fair" | "\\nshe was")``: the two
    contexts differ in the pronoun only (a minimal pair), so the difference is what the model ties to it.
    ``template`` must contain ``{pronoun}`` and end with ``{word}``; the whitespace just before ``{word}``
    belongs to the continuation (both sides score it alike). Positive: the word is more expected after
    ``pronouns[0]``. Scored with :func:`continuation_log_probs`.
    """
    who = "pronoun_preference"
    if not isinstance(template, str):
        raise TypeError(f"{who}: template must be a str like '{{pronoun}} was {{word}}', got "
                        f"{type(template).__name__}.")
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as error:
        raise ValueError(f"{who}: template {template!r} is not a valid format string ({error}); write braces "
                         f"meant literally as {{{{ and }}}}.") from None
    if sorted(fields) != ["pronoun", "word"] or not template.endswith("{word}"):
        raise ValueError(f"{who}: template must contain {{pronoun}} once and end with {{word}} (the word is scored "
                         f"as the continuation), and no other fields, e.g. '{{pronoun}} was {{word}}', got "
                         f"{template!r}.")
    if (not isinstance(pronouns, tuple) or len(pronouns) != 2 or not all(isinstance(p, str) and p for p in pronouns)
            or pronouns[0] == pronouns[1]):
        raise ValueError(f"{who}: pronouns must be a tuple of two different non-empty strings, e.g. ('he', 'she'), "
                         f"got {pronouns!r}.")
    if not isinstance(prefix, str):
        raise TypeError(f"{who}: prefix must be a str (e.g. '\\n', the start of a line), got {type(prefix).__name__}.")
    if isinstance(words, (str, bytes)) or not isinstance(words, Sequence) or len(words) == 0:
        raise TypeError(f"{who}: words must be a non-empty list of strings, e.g. ['fair', 'noble'], got "
                        f"{type(words).__name__} {words!r:.60}.")
    for i, w in enumerate(words):
        if not isinstance(w, str) or not w.strip():
            raise ValueError(f"{who}: words[{i}] = {w!r}; every word must be a non-blank string.")
    duplicates = sorted({w for w in words if words.count(w) > 1})
    if duplicates:
        raise ValueError(f"{who}: words lists {', '.join(map(repr, duplicates))} more than once: list each once.")
    head = template[:-len("{word}")]
    gap = head[len(head.rstrip()):]
    contexts = [prefix + head.rstrip().format(pronoun=p) for p in pronouns]
    continuations = [gap + w for w in words]
    first, second = (continuation_log_probs(model, tokenizer, c, continuations) for c in contexts)
    return dict(zip(words, (first - second).tolist()))


# --------------------------------------------------------------------------- neurons


def mlp_activations(model: TransformerLM, idx: torch.Tensor) -> list[torch.Tensor]:
    """Every block's MLP hidden activation after the GELU for ``idx`` (B, T): a list of n_layer tensors (B, T, 4E).

    Read by forward hooks on each ``block.mlp[1]`` (the GELU) during one forward pass, in eval mode without
    gradients; the hooks are removed and the module's mode restored afterwards, also when the pass fails.
    These 4E numbers per position are the "neurons" a probe correlates with features of the text.
    """
    if not isinstance(model, TransformerLM):
        raise TypeError(f"mlp_activations: model must be a TransformerLM (its blocks have an MLP), got "
                        f"{type(model).__name__}.")
    idx = _check_idx(idx, model.vocab_size, "mlp_activations")
    if idx.shape[1] > model.config.block_size:
        raise ValueError(f"mlp_activations: idx has {idx.shape[1]} positions, more than the model's block_size "
                         f"{model.config.block_size}: cut the text into windows, e.g. idx.view(-1, "
                         f"{model.config.block_size}) for a length that divides.")
    found: list[torch.Tensor] = []

    def keep(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        found.append(output.detach())

    hooks = [block.mlp[1].register_forward_hook(keep) for block in model.blocks]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(idx)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return found


def _as_float_array(x: object, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    try:
        a = np.asarray(x)
    except Exception:  # a ragged list
        raise TypeError(f"correlations: {name} must be an array of numbers, got {type(x).__name__}.") from None
    if a.dtype == bool:
        a = a.astype(np.float64)  # an indicator feature: the correlation is then the point-biserial one
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise TypeError(f"correlations: {name} must hold numbers (or booleans), got dtype {a.dtype}.")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"correlations: {name} holds NaN or infinite values: remove or fill them first.")
    return a


def correlations(activations: np.ndarray | torch.Tensor, feature: np.ndarray | Sequence[float]) -> np.ndarray:
    """Pearson's correlation of each column of ``activations`` (N, H) with ``feature`` (N,): float64 array (H,).

    A boolean feature is taken as 0/1 (the point-biserial correlation). A constant column (a neuron that
    never changes, such as a GELU that is never positive) has no correlation with anything: it gets 0.0, not
    NaN, so that sorting the result still works. A constant feature is an error: nothing can correlate with it.
    Flatten (B, T, H) activations to (B T, H) first, with the feature flattened the same way.
    """
    X, f = _as_float_array(activations, "activations"), _as_float_array(feature, "feature")
    if X.ndim != 2 or f.ndim != 1 or X.shape[0] != f.shape[0]:
        hint = " (flatten batch and time: activations.reshape(-1, H))" if X.ndim == 3 else ""
        raise ValueError(f"correlations: activations must be (N, H) and feature (N,), with the same N, got shapes "
                         f"{X.shape} and {f.shape}{hint}.")
    if X.shape[0] < 2:
        raise ValueError(f"correlations: needs at least 2 rows to correlate, got N={X.shape[0]}.")
    if f.max() == f.min():
        raise ValueError(f"correlations: the feature is constant ({f[0]:g} everywhere): nothing correlates with a "
                         f"constant; pick a text where it varies.")
    Xc, fc = X - X.mean(0), f - f.mean()
    norms = np.sqrt((Xc ** 2).sum(0)) * np.sqrt((fc ** 2).sum())
    constant = X.max(0) == X.min(0)
    r = (Xc.T @ fc) / np.where(constant, 1.0, norms)
    return np.clip(np.where(constant, 0.0, r), -1.0, 1.0)


# --------------------------------------------------------------------------- attention heads


def _check_maps(maps: object, who: str) -> torch.Tensor:
    if not isinstance(maps, torch.Tensor) or not maps.is_floating_point():
        raise TypeError(f"{who}: maps must be a float tensor of attention weights (H, T, T), got "
                        f"{type(maps).__name__}.")
    if maps.dim() != 3 or maps.shape[1] != maps.shape[2] or maps.shape[1] == 0:
        hint = ("; for one sequence of model.attention(idx)[layer] (B, H, T, T) pass [layer][b]"
                if maps.dim() == 4 else "")
        raise ValueError(f"{who}: maps must have shape (H, T, T), one sequence's heads with queries as rows, got "
                         f"shape {tuple(maps.shape)}{hint}.")
    return maps


def attention_to(maps: torch.Tensor, text: str, char: str) -> torch.Tensor:
    """For each head, the mean weight that queries put on the most recent ``char`` at or before them: shape (H,).

    ``maps`` (H, T, T) are one sequence's attention weights (rows: queries, as ``TransformerLM.attention``
    gives them, one layer and one sequence at a time), ``text`` the T characters they were computed on.
    Query t looks up j(t), the last position <= t holding ``char``; the score averages ``maps[h, t, j(t)]``
    over the queries that have such a position (those before the first ``char`` are left out). With
    ``char="\\n"`` a high score marks a "previous-newline head", which tells each position where its line
    began. Uniform causal attention would score about the mean of 1 / (t + 1).
    """
    maps = _check_maps(maps, "attention_to")
    if not isinstance(text, str) or len(text) != maps.shape[1]:
        got = f"{len(text)} characters" if isinstance(text, str) else type(text).__name__
        raise ValueError(f"attention_to: text must be the T={maps.shape[1]} characters the maps were computed on "
                         f"(one per position), got {got}.")
    if not isinstance(char, str) or len(char) != 1:
        raise ValueError(f"attention_to: char must be a single character, e.g. '\\n', got {char!r}.")
    positions = np.arange(len(text))
    last = np.maximum.accumulate(np.where(np.array(list(text)) == char, positions, -1))
    queries = np.flatnonzero(last >= 0)
    if len(queries) == 0:
        raise ValueError(f"attention_to: {char!r} does not occur in text {text!r:.60}, so no query has one to "
                         f"attend to: pick a text that contains it (e.g. one that starts at a line).")
    q = torch.as_tensor(queries, device=maps.device)
    return maps[:, q, torch.as_tensor(last[queries], device=maps.device)].mean(1)


def previous_token_score(maps: torch.Tensor) -> torch.Tensor:
    """For each head, the mean weight that query t puts on key t-1, over t = 1 .. T-1: shape (H,).

    ``maps`` (H, T, T) as for :func:`attention_to`. A score near 1 marks a "previous-token head", which copies
    the token before into each position (what an induction head builds on, Olsson et al., 2022).
    """
    maps = _check_maps(maps, "previous_token_score")
    if maps.shape[1] < 2:
        raise ValueError(f"previous_token_score: needs T >= 2 positions (query t, key t-1), got T={maps.shape[1]}.")
    return torch.diagonal(maps, offset=-1, dim1=-2, dim2=-1).mean(-1)
