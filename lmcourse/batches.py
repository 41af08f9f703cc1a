"""From token ids to training examples: shifted input/target pairs, windows, padding, random batches.

A language model learns to predict token ``t+1`` from the tokens up to ``t``.
So a training example is a pair of equal-length rows, the target row being the
input row shifted one place to the left::

    ids:     5  8  2  9  4  7
    x:       5  8  2  9          (what the model reads)
    y:          8  2  9  4       (what it must predict at each position)

Two kinds of data, two functions (``B`` rows, ``T`` positions):

- running text (a novel, a corpus of poems joined together) is one long stream
  of ids, cut into fixed windows by ``windows(ids, context, stride)``: every row
  is full, so no padding is needed. This is what nanoGPT and Raschka's
  *LLMs from scratch* (``GPTDatasetV1``) do.
- records (names, single poems) are short sequences of different lengths, each
  wrapped in ``<bos>`` ... ``<eos>`` so the model learns where a record starts
  and stops. ``pad_sequences`` pads them to one length and marks the padded
  targets so they count for nothing in the loss (makemore, d2l).

Then ``sample_batch`` draws one random batch (makemore, nanoGPT), and
``shuffled_batches`` walks through every row once per epoch in a random order
(d2l). Both draw from an explicit ``torch.Generator`` that the caller passes in,
never from the global random state: the batches of a training loop are then
reproducible from their own seed, and drawing them does not shift any other
random stream (weight initialisation, dropout, sampling).

How padded targets drop out of the loss
---------------------------------------
``pad_sequences`` writes ``IGNORE_INDEX`` (-100) into ``y`` wherever there is no
real target. -100 is the default ``ignore_index`` of PyTorch's cross-entropy, so
the plain call is already the masked loss::

    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())   # (B*T, V) against (B*T,)

It averages over the real targets only, ``mask.sum()`` of them: the loss of
every real token of the batch, summed, divided by their number, exactly as if
each sequence had been scored alone, unpadded, and the per-token losses pooled
(a long name weighs more than a short one, as it has more tokens). We chose this
over a separate mask argument because the models' contract ``forward(idx,
targets)`` (nanoGPT, makemore) has no room for a mask, because a batch is then
just ``(x, y)`` whatever the data, and because forgetting the mask cannot go
unnoticed: -100 is not a token id, so any other use of it as an index fails
loudly, where a pad id in ``y`` would silently teach the model to predict padding.
The returned ``mask`` (``y != IGNORE_INDEX``) is for counting tokens and showing.

The input rows are padded with ``pad_id``, which the caller must pass: the
character and word vocabularies put ``<pad>`` at id 0, but a byte-pair
vocabulary puts its special tokens after the merges, so 0 is never assumed.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

#: The target value that the loss ignores: PyTorch's default ``ignore_index`` for
#: ``F.cross_entropy`` (and Hugging Face's). ``pad_sequences`` puts it in ``y`` at padded positions.
IGNORE_INDEX: int = -100

__all__ = ["IGNORE_INDEX", "pad_sequences", "sample_batch", "scoring_windows", "shuffled_batches", "windows"]


# --------------------------------------------------------------------------- checking input


def _whole(value: object, name: str, minimum: int) -> int:
    """``value`` itself if it is an int >= ``minimum`` (not a bool); else an error that names ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= {minimum}, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def _check_array(ids: np.ndarray | torch.Tensor, what: str) -> None:
    """Raise unless the numpy array or tensor ``ids`` is 1-D and holds whole numbers."""
    import torch

    kind = "tensor" if isinstance(ids, torch.Tensor) else "array"
    if ids.ndim != 1:
        flat = ".flatten()" if kind == "tensor" else ".ravel()"
        raise ValueError(f"{what} must be 1-D (one sequence of token ids), got {'a' if kind == 'tensor' else 'an'} "
                         f"{kind} of shape {tuple(ids.shape)}; flatten a stream with {flat}, "
                         "or pass records to pad_sequences.")
    if isinstance(ids, torch.Tensor):
        bad = ids.dtype == torch.bool or ids.is_floating_point() or ids.is_complex()
    else:
        bad = ids.dtype.kind not in "iu"
    if bad:
        example = "torch.long" if kind == "tensor" else "np.int64"
        raise TypeError(f"{what} must be whole numbers (token ids), got {'a' if kind == 'tensor' else 'an'} "
                        f"{kind} of dtype {ids.dtype}; token ids are integers, e.g. {example}.")


def _negative(ids: list[int], what: str) -> None:
    if ids and min(ids) < 0:
        p = next(p for p, i in enumerate(ids) if i < 0)
        raise ValueError(f"{what} must be token ids >= 0, got {ids[p]} at position {p}.")


def _id_list(ids: object, what: str = "ids") -> list[int]:
    """``ids`` (a list, tuple, numpy array or tensor of token ids >= 0) as a new list of Python ints."""
    import torch

    if isinstance(ids, (torch.Tensor, np.ndarray)):
        _check_array(ids, what)
        out = ids.tolist()
    elif isinstance(ids, (list, tuple)):
        if not all(type(i) is int for i in ids):  # the fast path; find the culprit only when it fails
            for p, i in enumerate(ids):
                if isinstance(i, (list, tuple, np.ndarray, torch.Tensor)):
                    raise ValueError(f"{what} must be one flat sequence of token ids, but item {p} is itself a "
                                     f"{type(i).__name__}; for many records use pad_sequences.")
                if isinstance(i, bool) or not isinstance(i, numbers.Integral):
                    raise TypeError(f"{what} must be whole numbers (token ids), got {i!r} "
                                    f"({type(i).__name__}) at position {p}.")
        out = [int(i) for i in ids]
    else:
        hint = "; encode the text first, e.g. tok.encode(text)" if isinstance(ids, str) else ""
        raise TypeError(f"{what} must be a list, numpy array or 1-D tensor of token ids, "
                        f"got {type(ids).__name__}{hint}.")
    _negative(out, what)
    return out


def _ids_tensor(ids: object, what: str = "ids") -> torch.Tensor:
    """A fresh 1-D int64 tensor holding ``ids`` (a list, tuple, numpy array or tensor of ids >= 0).

    Always a copy, so that nothing built from it shares memory with the caller's data.
    """
    import torch

    if isinstance(ids, torch.Tensor):
        _check_array(ids, what)
        t = ids.detach().to(torch.long).clone()
    elif isinstance(ids, np.ndarray):
        _check_array(ids, what)
        t = torch.from_numpy(ids.astype(np.int64, copy=True))
    elif isinstance(ids, (list, tuple)) and all(type(i) is int for i in ids) and ids and -2**63 <= min(ids) \
            and max(ids) < 2**63:  # the common case, encoded text: through numpy, 3x faster than torch.tensor(list)
        t = torch.from_numpy(np.array(ids, dtype=np.int64))
    else:
        return torch.tensor(_id_list(ids, what), dtype=torch.long)
    if t.numel() and int(t.min()) < 0:
        p = int((t < 0).nonzero()[0])
        raise ValueError(f"{what} must be token ids >= 0, got {int(t[p])} at position {p}.")
    return t


def _check_generator(generator: object) -> torch.Generator:
    import torch

    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}; pass your own, "
                        "e.g. g = torch.Generator().manual_seed(0). The global random state is never used, so the "
                        "batches are reproducible and do not shift any other random draw.")
    return generator


def _check_pair(x: object, y: object) -> int:
    """The number of rows of the tensors ``x`` and ``y`` (which must agree)."""
    import torch

    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor) or t.dim() == 0:
            got = "a 0-D tensor" if isinstance(t, torch.Tensor) else type(t).__name__
            raise TypeError(f"{name} must be a tensor with one row per example (e.g. from windows or "
                            f"pad_sequences), got {got}.")
    assert isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have one row per example each, got shapes {tuple(x.shape)} and "
                         f"{tuple(y.shape)}: {x.shape[0]} rows against {y.shape[0]}.")
    if x.shape[0] == 0:
        raise ValueError("x and y have no rows: there is nothing to draw a batch from.")
    return int(x.shape[0])


# --------------------------------------------------------------------------- running text


def windows(ids: Sequence[int] | np.ndarray | torch.Tensor, context: int,
            stride: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut one stream of ids into input/target windows: ``x, y``, int64 tensors of shape ``(n, context)``.

    Row ``k`` starts at ``i = k * stride``: ``x[k] = ids[i : i+context]`` and
    ``y[k] = ids[i+1 : i+context+1]``, the same window shifted one place, so
    ``y[k, t]`` is the token that follows ``x[k, :t+1]``. Only full windows are
    kept: ``n = (len(ids) - context - 1) // stride + 1``, and the few ids after
    the last window are left out (as in Raschka's ``GPTDatasetV1``).

    ``stride`` defaults to ``context``: windows that do not overlap, each target
    predicted once per epoch. ``stride=1`` gives every window (nanoGPT samples
    from these); a stride above ``context`` skips ids between windows.

    ``ids``: a list, numpy array or 1-D tensor of token ids (whole numbers >= 0).
    ``x`` and ``y`` are views of one private copy of ``ids`` (no memory shared with
    the caller's data), so they take ``len(ids)`` ids of memory whatever the
    stride; indexing them (``x[rows]``, as the batch functions do) makes copies.
    Call ``.clone()`` before writing into ``x`` or ``y``, since they share that copy.
    With the default stride they are contiguous; overlapping windows are not, so
    flatten those with ``.reshape(-1)`` (not ``.view(-1)``), or index a batch first.
    """
    context = _whole(context, "context", 1)
    stride = context if stride is None else _whole(stride, "stride", 1)
    t = _ids_tensor(ids)
    if len(t) < context + 1:
        raise ValueError(f"windows of context {context} need at least {context + 1} ids (context + 1, for the "
                         f"target after the last input), got {len(t)}; use a smaller context or more text.")
    w = t.unfold(0, context + 1, stride)  # (n, context + 1), a view: row k is ids[k*stride : k*stride + context + 1]
    return w[:, :-1], w[:, 1:]


def scoring_windows(ids: Sequence[int] | np.ndarray | torch.Tensor, context: int,
                    history: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows for scoring running text: each target once, each (after the first few) with ``history`` ids before it.

    Non-overlapping windows (:func:`windows`' default) score the first target of each window with no
    context at all, the second with one id, and so on: a model that could read ``context`` ids is
    judged, on average, as if it read half as many, and worse than a counting model, which looks back
    across the cut. Here the windows overlap instead, every ``stride = context - history`` ids, and in
    each window after the first only the last ``stride`` targets count: the earlier ones, already
    scored, are set to :data:`IGNORE_INDEX` in ``y``, which the loss (and ``lmcourse.train.evaluate``)
    leaves out. So every target is scored exactly once, and every target past the first window with
    at least ``history`` ids of context (the "sliding window" perplexity of Hugging Face's guide to
    perplexity of fixed-length models). The scored targets are ``ids[1 : 1 + n]``, with
    ``n = (y != IGNORE_INDEX).sum()``, in order when ``y`` is flattened: the same targets a counting
    model scores with ``log_probs(ids)[1 : 1 + n]``.

    ``history`` defaults to ``context // 2``; ``history=0`` gives :func:`windows`' non-overlapping
    windows. Returns ``x, y`` of shape ``(n_windows, context)``; ``y`` is a new tensor (``x`` a view,
    as in :func:`windows`). The cost: ``context / stride`` times the work of non-overlapping windows.
    """
    context = _whole(context, "context", 1)
    history = context // 2 if history is None else _whole(history, "history", 0)
    if history >= context:
        raise ValueError(f"history must be below the context (each window must score at least one new "
                         f"target), got history={history} with context={context}; e.g. history={context // 2}.")
    stride = context - history
    x, y = windows(ids, context, stride)
    y = y.clone()
    y[1:, :history] = IGNORE_INDEX  # scored by the window before
    return x, y


# --------------------------------------------------------------------------- records


def pad_sequences(seqs: Sequence[Sequence[int] | np.ndarray | torch.Tensor], *, pad_id: int,
                  bos_id: int | None = None, eos_id: int | None = None,
                  max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Records of different lengths as padded input/target rows: ``x, y, mask``, each of shape ``(B, T)``.

    Each sequence ``s`` is wrapped as ``w = [bos_id] + s + [eos_id]`` (each only if
    given), and gives the pairs ``x = w[:-1]``, ``y = w[1:]``: from ``<bos>`` the
    model learns to predict the first token, and from the last token, ``<eos>``.
    Rows are padded at the end (right), so a causal model's outputs at the real
    positions are the same as for the unpadded sequence.

    - ``x`` (int64): inputs, filled with ``pad_id`` after the end of each sequence.
    - ``y`` (int64): targets, ``IGNORE_INDEX`` (-100) where there is no real target,
      so ``F.cross_entropy(logits.flatten(0, 1), y.flatten())`` is the mean loss over
      the real targets only (see the module docstring).
    - ``mask`` (bool): ``y != IGNORE_INDEX``, True where the target is a real token;
      ``mask.sum()`` is the number of tokens the loss averages over.

    ``T`` is the longest ``len(w) - 1``, or ``max_len`` if given. With ``max_len``,
    shorter rows are padded up to it, and a longer sequence is truncated at its
    end: only the first ``max_len + 1`` tokens of ``w`` are kept (``<bos>`` and
    the start survive; ``<eos>`` is lost). ``pad_id`` is required: ``<pad>`` is
    not id 0 in every vocabulary.
    """
    import torch

    pad_id = _whole(pad_id, "pad_id", 0)
    bos = [] if bos_id is None else [_whole(bos_id, "bos_id", 0)]
    eos = [] if eos_id is None else [_whole(eos_id, "eos_id", 0)]
    if max_len is not None:
        max_len = _whole(max_len, "max_len", 1)
    if isinstance(seqs, (str, torch.Tensor, np.ndarray)) or not isinstance(seqs, Sequence):
        raise TypeError(f"seqs must be a list of sequences of token ids (one per record), got {type(seqs).__name__}.")
    if len(seqs) == 0:
        raise ValueError("seqs is empty: pad_sequences needs at least one sequence.")
    if all(isinstance(s, numbers.Integral) for s in seqs):
        raise TypeError("seqs must be a list of sequences, but it is one flat sequence of ids; "
                        "for a single record pass [ids], for running text use windows(ids, context).")
    wrapped = []
    for k, s in enumerate(seqs):
        w = bos + _id_list(s, what=f"seqs[{k}]") + eos
        if len(w) < 2:
            raise ValueError(f"seqs[{k}] gives no (input, target) pair: it has {len(w)} token(s) after adding "
                             "bos/eos, and a pair needs 2; pass bos_id and/or eos_id, or drop the empty record.")
        wrapped.append(w)
    T = max(len(w) - 1 for w in wrapped) if max_len is None else max_len
    x = np.full((len(wrapped), T), pad_id, dtype=np.int64)
    y = np.full((len(wrapped), T), IGNORE_INDEX, dtype=np.int64)
    for k, w in enumerate(wrapped):
        n = min(len(w) - 1, T)  # truncation keeps the start: w[:T + 1]
        x[k, :n] = w[:n]
        y[k, :n] = w[1:n + 1]
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    return x, y, y != IGNORE_INDEX


# --------------------------------------------------------------------------- batches


def sample_batch(x: torch.Tensor, y: torch.Tensor, batch_size: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One random batch: ``batch_size`` rows drawn uniformly, with replacement, from ``x`` and ``y``.

    Returns ``(x[rows], y[rows])``, shapes ``(batch_size, ...)``, copies on the
    device of ``x``. The rows come from ``generator`` (a ``torch.Generator`` you
    seed yourself), never the global random state: the same seed gives the same
    batches, and other random draws are not disturbed. This is the training
    batch of makemore and nanoGPT (a fixed number of steps, no epochs).
    """
    import torch

    n = _check_pair(x, y)
    batch_size = _whole(batch_size, "batch_size", 1)
    generator = _check_generator(generator)
    rows = torch.randint(n, (batch_size,), generator=generator, device=generator.device).to(x.device)
    return x[rows], y[rows.to(y.device)]


def shuffled_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator,
                     drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch: every row of ``x``, ``y`` exactly once, in a random order, ``batch_size`` rows at a time.

    Yields ``(xb, yb)`` copies of shape ``(batch_size, ...)``; the last batch is
    smaller unless ``drop_last=True`` leaves it out (then some rows are skipped
    this epoch). The order is drawn from ``generator`` when this function is
    called (not when the loop starts), never from the global random state.
    There are ``ceil(n / batch_size)`` batches, or ``n // batch_size`` with ``drop_last``.
    """
    import torch

    n = _check_pair(x, y)
    batch_size = _whole(batch_size, "batch_size", 1)
    generator = _check_generator(generator)
    if not isinstance(drop_last, bool):
        raise TypeError(f"drop_last must be True or False, got {drop_last!r}.")
    if drop_last and batch_size > n:
        raise ValueError(f"drop_last=True with batch_size {batch_size} > {n} rows gives no batch at all; "
                         "use a smaller batch_size or drop_last=False.")
    order = torch.randperm(n, generator=generator, device=generator.device).to(x.device)
    stop = n - n % batch_size if drop_last else n

    def epoch() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, stop, batch_size):
            rows = order[start:start + batch_size]
            yield x[rows], y[rows.to(y.device)]

    return epoch()
