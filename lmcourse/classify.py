"""Text classification three ways (chapter 11): by language models, by a bag of n-grams, by a fine-tuned Transformer.

The task is the shipped ``authorship`` set: passages of Shakespeare, Austen and the King James Bible, each
labelled with where it comes from (``data.splits("authorship")``: 480 / 60 / 60 per label).

- :class:`NgramClassifier`: one character n-gram model per label; a passage goes to the label whose model
  gives it the highest likelihood (Bayes' rule with equal priors).
- :class:`BagOfNgrams`: counts of word or character n-grams as features, for a logistic regression
  written with torch in the notebook.
- :class:`PassageClassifier`: a pre-trained character Transformer (``TransformerLM.features``), mean-pooled
  over each passage, with a linear head: the pre-train / fine-tune idea at a laptop's size.

The passages also occur in the corpora they were cut from, mostly in the training parts: a model trained
on those parts has read most validation and test passages. :func:`pretraining_corpus` is the text the
reference ``transformer_english`` was pre-trained on, with every validation and test passage held out
(:func:`lmcourse.data.hold_out`); fit the n-gram classifier on held-out text too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch  # at the top: PassageClassifier is a torch.nn.Module, as in lmcourse.transformer
from torch import nn

from lmcourse import data
from lmcourse import tokenize as tk
from lmcourse.models import _check_idx
from lmcourse.ngram import SMOOTHERS, NGramLM, _need_int

if TYPE_CHECKING:
    from lmcourse.transformer import TransformerLM

__all__ = ["SOURCES", "BagOfNgrams", "NgramClassifier", "PassageClassifier", "encode_passages", "heldout_passages",
           "label_ids", "pretraining_corpus", "source_texts"]

#: Each authorship label and the corpus its passages were cut from.
SOURCES = {"shakespeare": "shakespeare", "austen": "pride_and_prejudice", "kjv": "kjv"}
#: Characters per contiguous piece when a corpus is thinned to the shared size (see :func:`pretraining_corpus`).
PIECE = 20_000


def heldout_passages() -> list[str]:
    """The texts of the authorship validation and test passages (360): what no pre-training text may hold."""
    parts = data.splits("authorship")
    return [record["text"] for part in ("valid", "test") for record in parts[part]]


def _thin(text: str, size: int, piece: int = PIECE) -> str:
    """About ``size`` characters of ``text``: evenly spaced contiguous pieces of about ``piece`` characters, each
    starting and ending at a speech or paragraph start (``data._cut_back``), joined by newlines. A text no
    longer than ``size`` is returned whole."""
    if len(text) <= size:
        return text
    count = -(-size // piece)
    starts = np.linspace(0, len(text) - size / count, count).astype(int)
    out = []
    for start in starts.tolist():
        a = data._cut_back(text, start)
        b = data._cut_back(text, a + size // count)
        out.append(text[a:b] if b > a else text[a:a + size // count])
    return "\n".join(out)


def source_texts(part: str = "train", balanced: bool = True) -> dict[str, str]:
    """Each authorship label's source corpus (:data:`SOURCES`), its ``part`` of ``data.splits``, with every
    authorship validation and test passage held out (``data.hold_out(..., missing="ignore")``: a passage lies
    in one corpus and one part only): ``{"shakespeare": ..., "austen": ..., "kjv": ...}``.

    ``balanced=True`` thins each to the length of the shortest of the three (for ``"train"``, Pride and
    Prejudice's, about 590,000 characters), keeping evenly spaced contiguous pieces of about 20,000 characters
    cut at speech or paragraph starts: each author then weighs the same, and the KJV's share comes from the
    whole Bible, not only Genesis. The authorship training passages stay in: a classifier trains on them anyway.
    What the n-gram classifier of chapter 11 is fitted on, and what :func:`pretraining_corpus` joins.
    """
    if part not in data.PARTS:
        raise ValueError(f"part must be one of {', '.join(map(repr, data.PARTS))}, got {part!r}.")
    if not isinstance(balanced, bool):
        raise TypeError(f"balanced must be True or False, got {balanced!r}.")
    passages = heldout_passages()
    texts = {label: data.hold_out(data.splits(name)[part], passages, missing="ignore")
             for label, name in SOURCES.items()}
    if balanced:
        size = min(map(len, texts.values()))
        texts = {label: _thin(text, size) for label, text in texts.items()}
    return texts


def pretraining_corpus() -> data.Splits:
    """The three source corpora as one English text per part, with the authorship passages held out, balanced.

    Each part (train, valid, test) is ``source_texts(part)`` (shakespeare, austen, kjv, in that order, each
    with every authorship validation and test passage held out and thinned to the same length) joined by
    blank lines. ``transformer_english`` (``checkpoints.reference``) was pre-trained on ``.train`` (1,771,264
    characters), with the tokeniser ``CharTokenizer(unk=True).fit(pretraining_corpus().train)``.
    """
    return data.Splits(*("\n\n".join(source_texts(part).values()) for part in data.PARTS))


# --------------------------------------------------------------------------- checking arguments


def _check_passages(passages: object, who: str) -> list[str]:
    """``passages`` as a list of non-empty strings; a single str, a non-str item or an empty one is an error."""
    if isinstance(passages, (str, bytes)):
        raise TypeError(f"{who}: passages must be a list of str, not a single {type(passages).__name__} (which "
                        "would be read as single characters); for one passage write [passage].")
    if isinstance(passages, Mapping) or not isinstance(passages, Sequence):
        got = type(passages).__name__
        remedy = "" if passages is None else f" (or list(...) of the {got})"
        raise TypeError(f"{who}: passages must be a list of str, got {got}; e.g. [r['text'] for r in "
                        f"data.splits('authorship').valid]{remedy}.")
    out = list(passages)
    for i, passage in enumerate(out):
        if not isinstance(passage, str):
            hint = " (a record: pass its 'text')" if isinstance(passage, Mapping) else ""
            raise TypeError(f"{who}: passage {i} is {type(passage).__name__} {passage!r:.60}{hint}; every passage "
                            "must be a str.")
        if not passage.strip():
            raise ValueError(f"{who}: passage {i} is {passage!r}, empty or only whitespace: there is nothing to "
                             "classify. Leave it out.")
    if not out:
        raise ValueError(f"{who}: got no passages; pass at least one.")
    return out


def label_ids(labels: Sequence[str], classes: Sequence[str]) -> torch.Tensor:
    """The index in ``classes`` of each label, as a LongTensor (N,): the targets ``train`` needs.

    A label that is not one of ``classes`` (a label the classifier never saw) is a ValueError naming it.
    """
    if isinstance(labels, str) or isinstance(classes, str):
        raise TypeError("label_ids needs lists of labels and of classes, not a single str; e.g. "
                        "label_ids([r['label'] for r in rows], ['austen', 'kjv', 'shakespeare']).")
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(label) for label in labels if label not in index})
    if unknown:
        raise ValueError(f"label_ids: the labels {unknown} are not among the classes {list(classes)} the classifier "
                         "knows; train it on examples of every label, or leave these out.")
    return torch.tensor([index[label] for label in labels], dtype=torch.long)


# --------------------------------------------------------------------------- (1) a language model per label


class NgramClassifier:
    """Classification by language models: one character n-gram model per label; a passage goes to the label
    whose model gives it the highest likelihood (Bayes' rule with equal priors: argmax_y P(passage | y)).

    - ``order``, ``smoothing``: each label's ``lmcourse.ngram.NGramLM`` (default: a 5-gram with modified
      Kneser-Ney, Chen & Goodman's best smoother; fitting three such models on ~600,000 characters each takes
      about a second).
    - One vocabulary for all labels: the likelihoods of different models are comparable only over the same
      events. ``fit`` builds ``CharTokenizer(unk=True)`` on all the labels' texts together (or takes yours);
      a character none of them holds is scored as ``<unk>``, which no model has seen: each model gives it the
      little probability its smoothing keeps for unseen characters (no error, but no evidence either).
    - Each passage is scored on its own, as if it began a line: the characters of ``"\\n" + passage`` after the
      newline, with the newline's context cut off (``<bos>`` ids, never seen in training, stand between
      passages, and a context holding one is unseen: the model falls back to the shorter context, as
      ``NGramLM.log_probs`` does at the start of a sequence). So a passage's score never depends on its
      neighbours, and all passages are scored in one ``log_probs`` call per label.
    """

    def __init__(self, order: int = 5, smoothing: str = "modified-kneser-ney") -> None:
        self.order = _need_int(order, "order", 1)
        if smoothing not in SMOOTHERS or smoothing == "mle":
            raise ValueError(f"smoothing must be one of {', '.join(repr(s) for s in SMOOTHERS if s != 'mle')} "
                             f"(MLE gives an unseen character probability 0 and a passage likelihood 0 under "
                             f"every label), got {smoothing!r}.")
        self.smoothing = smoothing
        self.labels: list[str] = []
        self.tokenizer: Any = None
        self.models: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"NgramClassifier(order={self.order}, smoothing={self.smoothing!r}, labels={self.labels})"

    def fit(self, texts_by_label: Mapping[str, str], tokenizer: Any = None) -> NgramClassifier:
        """Fit one n-gram model per label on that label's text (one str each); returns self.

        ``tokenizer``: a fitted tokeniser with ``<unk>`` and ``<bos>`` among its specials, shared by all labels
        (None: ``CharTokenizer(unk=True).fit`` of all the texts).
        """
        if not isinstance(texts_by_label, Mapping) or not texts_by_label:
            raise TypeError(f"fit needs a dict from each label to its training text, e.g. {{'austen': text_a, "
                            f"'kjv': text_b}}, with two labels or more; got {type(texts_by_label).__name__}.")
        for label, text in texts_by_label.items():
            if not isinstance(label, str) or not isinstance(text, str):
                raise TypeError(f"fit: each label must be a str and its text a str (join passages with "
                                f"'\\n'.join(...)); got {label!r}: {type(text).__name__}.")
            if not text.strip():
                raise ValueError(f"fit: the text of label {label!r} is empty: a model needs text to count.")
        if len(texts_by_label) < 2:
            raise ValueError(f"fit: a classifier needs two labels or more, got only {list(texts_by_label)}.")
        if tokenizer is None:
            tokenizer = tk.CharTokenizer(unk=True).fit("".join(texts_by_label.values()))
        for special in (tk.UNK, tk.BOS):
            if special not in getattr(tokenizer, "specials", ()):
                raise ValueError(f"fit: the tokenizer needs the special token {special!r} (a CharTokenizer has it); "
                                 f"its specials are {list(getattr(tokenizer, 'specials', ()))}.")
        V = tokenizer.vocab_size
        self.tokenizer, self.labels = tokenizer, list(texts_by_label)
        unk = tokenizer.token_to_id(tk.UNK)
        self.models = {label: NGramLM(self.order, self.smoothing, vocab_size=V, unk=unk).fit(
            self._encode(text)) for label, text in texts_by_label.items()}
        return self

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, unk=True) if isinstance(self.tokenizer, tk._VocabTokenizer)
                    else self.tokenizer.encode(text))

    def log_likelihoods(self, passages: Sequence[str], per_char: bool = False) -> np.ndarray:
        """ln P(passage | label) for every passage and label: an array (N, L), columns in the order of ``labels``.

        ``per_char=True`` divides each row by the passage's length in characters (tokens), which makes
        passages of different lengths comparable (the margin between two labels per character).
        """
        if not self.models:
            raise RuntimeError("this NgramClassifier is not fitted yet: call .fit({label: text, ...}) first.")
        passages = _check_passages(passages, "NgramClassifier.log_likelihoods")
        bos = self.tokenizer.token_to_id(tk.BOS)
        newline = self._encode("\n")
        pad = [bos] * max(self.order - 1, 1)
        encoded = [self._encode(p) for p in passages]
        lengths = np.array([len(ids) for ids in encoded])
        stream = np.concatenate([np.array(pad + newline + ids, dtype=np.int64) for ids in encoded])
        lead = len(pad) + len(newline)
        starts = np.cumsum(np.r_[0, lengths[:-1] + lead])
        scored = np.ones(len(stream), dtype=bool)  # the passages' own characters, not their lead-in
        scored[(starts[:, None] + np.arange(lead)).ravel()] = False
        out = np.empty((len(passages), len(self.labels)))
        for j, label in enumerate(self.labels):
            lp = self.models[label].log_probs(stream)[scored]
            out[:, j] = np.add.reduceat(lp, np.r_[0, np.cumsum(lengths[:-1])])
        return out / lengths[:, None] if per_char else out

    def predict(self, passages: Sequence[str]) -> list[str]:
        """The most likely label of each passage (the first label in ``labels`` order, if two tie)."""
        scores = self.log_likelihoods(passages)
        return [self.labels[i] for i in scores.argmax(axis=1)]


# --------------------------------------------------------------------------- (2) a bag of n-grams

#: A word (letters, digits, inner apostrophes) or a single punctuation mark: what the word analyzer counts.
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]")
ANALYZERS = ("word", "char")


class BagOfNgrams:
    """Features for a linear classifier: which n-grams a passage holds, and how often.

    - ``analyzer="word"``: n-grams of words and punctuation marks (``WORD``), case kept (a capital in mid
      sentence is a clue: Shakespeare's verse lines start with one); ``"char"``: n-grams of characters,
      spaces included, whitespace runs squeezed to one space.
    - ``n=(1, 2)``: every n from 1 to 2; ``min_count``: keep an n-gram only if that many training passages
      hold it (rarer ones fit noise); ``max_features``: then keep at most that many, the most frequent.
    - ``transform`` gives (N, F) float32: log(1 + count) of each n-gram (sublinear: the tenth "the" says less
      than the first), each row scaled to length 1 (L2), so a long passage does not get larger scores.
      (Weighting by inverse document frequency as well changed nothing measurable on the authorship set.)
    - ``features``: the n-gram of each column, joined by spaces (``"my lord"``; ``"th"`` for characters), to
      read off a trained model's largest weights.
    """

    def __init__(self, n: tuple[int, int] = (1, 2), min_count: int = 2, analyzer: str = "word",
                 max_features: int | None = 50_000) -> None:
        if (not isinstance(n, tuple) or len(n) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in n)
                or not 1 <= n[0] <= n[1]):
            raise ValueError(f"n must be a pair (smallest, largest) of whole numbers with 1 <= smallest <= largest, "
                             f"e.g. n=(1, 2) for words and word pairs; got {n!r}.")
        if analyzer not in ANALYZERS:
            raise ValueError(f"analyzer must be one of {', '.join(map(repr, ANALYZERS))}, got {analyzer!r}.")
        self.n, self.analyzer = n, analyzer
        self.min_count = _need_int(min_count, "min_count", 1)
        self.max_features = None if max_features is None else _need_int(max_features, "max_features", 1)
        self.features: list[str] = []
        self._index: dict[str, int] = {}

    def __repr__(self) -> str:
        return (f"BagOfNgrams(n={self.n}, min_count={self.min_count}, analyzer={self.analyzer!r}, "
                f"features={len(self.features)})")

    def _units(self, text: str) -> list[str]:
        return WORD.findall(text) if self.analyzer == "word" else list(" ".join(text.split()))

    def ngrams(self, text: str) -> list[str]:
        """Every n-gram of ``text`` for n in ``self.n``, as strings (word n-grams joined by spaces)."""
        units = self._units(text)
        glue = " " if self.analyzer == "word" else ""
        return [glue.join(units[i:i + m]) for m in range(self.n[0], self.n[1] + 1) for i in range(len(units) - m + 1)]

    def fit(self, texts: Sequence[str]) -> BagOfNgrams:
        """Choose the features: the n-grams held by at least ``min_count`` of ``texts``; returns self."""
        texts = _check_passages(texts, "BagOfNgrams.fit")
        held = Counter(g for text in texts for g in set(self.ngrams(text)))
        kept = sorted((g for g, c in held.items() if c >= self.min_count), key=lambda g: (-held[g], g))
        if not kept:
            raise ValueError(f"BagOfNgrams.fit: no n-gram is held by min_count={self.min_count} of the "
                             f"{len(texts)} texts; lower min_count or give more text.")
        self.features = kept[:self.max_features]
        self._index = {g: i for i, g in enumerate(self.features)}
        return self

    def transform(self, texts: Sequence[str]) -> torch.Tensor:
        """(N, F) float32: log(1 + count) of each feature n-gram in each text, rows scaled to L2 norm 1 (a text
        with none of the features is a row of zeros)."""

        if not self.features:
            raise RuntimeError("this BagOfNgrams is not fitted yet: call .fit(train_texts) first.")
        texts = _check_passages(texts, "BagOfNgrams.transform")
        rows, cols = [], []
        for i, text in enumerate(texts):
            found = [self._index[g] for g in self.ngrams(text) if g in self._index]
            rows.append(np.full(len(found), i, dtype=np.int64))
            cols.append(np.array(found, dtype=np.int64))
        flat = np.concatenate(rows) * len(self.features) + np.concatenate(cols)
        counts = np.bincount(flat, minlength=len(texts) * len(self.features)).reshape(len(texts), -1)
        x = torch.from_numpy(np.log1p(counts).astype(np.float32))
        return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


# --------------------------------------------------------------------------- (3) a pre-trained Transformer


def encode_passages(passages: Sequence[str], tokenizer: Any, pad_id: int | None = None,
                    max_len: int | None = None) -> torch.Tensor:
    """The passages' ids as one LongTensor (N, L), each row padded on the right with ``pad_id`` (default: the
    tokeniser's ``<pad>``), L the longest passage's length or ``max_len`` (longer passages are cut to it)."""

    passages = _check_passages(passages, "encode_passages")
    pad = tokenizer.token_to_id(tk.PAD) if pad_id is None else pad_id
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise ValueError(f"pad_id must be a token id (an int >= 0), e.g. tokenizer.token_to_id('<pad>'); got {pad!r}.")
    encoded = [list(tokenizer.encode(p)) for p in passages]
    if pad in {i for ids in encoded for i in ids}:
        raise ValueError(f"pad_id={pad} is the id of a character in the passages: padding must be an id no text "
                         "encodes to, such as the tokeniser's '<pad>'.")
    if max_len is not None:
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
            raise ValueError(f"max_len must be a whole number >= 1 (or None for the longest passage), got {max_len!r}.")
        encoded = [ids[:max_len] for ids in encoded]
    length = max(map(len, encoded))
    out = torch.full((len(encoded), length), pad, dtype=torch.long)
    for i, ids in enumerate(encoded):
        out[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out


class PassageClassifier(nn.Module):
    """A pre-trained Transformer LM with a linear head: passage in, one logit per label out.

    ``forward(x, targets=None) -> (logits (B, n_labels), loss)`` for ``x`` (B, L): each row a passage's ids,
    padded on the right with ``pad_id`` (``encode_passages``), L any length. The row is cut into chunks of
    ``lm.config.block_size``; the LM's ``features`` run on each chunk that holds any text (causal: a position
    reads only the positions before it in its chunk, so the padding after the text changes nothing); the
    features of the passage's positions are averaged (mean pooling over non-pad positions), and a linear
    layer maps the average to the logits. ``loss`` is the cross-entropy against ``targets`` (B,) label ids.

    ``freeze=True`` keeps the LM's weights fixed (``requires_grad=False``): only the head trains, a *linear
    probe* of what pre-training put in the features. ``freeze=False`` fine-tunes everything. Either trains
    with ``lmcourse.train.train(model, x, y, ...)`` with y (N,) label ids: ``train`` takes one target per row
    and reads the number of labels from the logits, so no vocab_size is needed.
    """

    def __init__(self, lm: TransformerLM, n_labels: int, pad_id: int, freeze: bool = False) -> None:
        super().__init__()
        from lmcourse.transformer import TransformerLM

        if not isinstance(lm, TransformerLM):
            raise TypeError(f"lm must be a TransformerLM (e.g. checkpoints.reference('transformer_english')), got "
                            f"{type(lm).__name__}.")
        self.n_labels = _need_int(n_labels, "n_labels", 2)
        self.pad_id = _need_int(pad_id, "pad_id", 0)
        if self.pad_id >= lm.vocab_size:
            raise ValueError(f"pad_id={pad_id} is not an id of the LM's vocabulary 0 .. {lm.vocab_size - 1}; pass "
                             "tokenizer.token_to_id('<pad>').")
        if not isinstance(freeze, bool):
            raise TypeError(f"freeze must be True or False, got {freeze!r}.")
        self.lm, self.freeze = lm, freeze
        self.head = nn.Linear(lm.config.n_embd, self.n_labels)
        for p in lm.parameters():
            p.requires_grad_(not freeze)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of the LM's features over each passage's positions: (B, E) for ``x`` (B, L)."""

        x = _check_idx(x, self.lm.vocab_size, "PassageClassifier", "x")
        B, L = x.shape
        T = self.lm.config.block_size
        n = -(-L // T)
        padded = nn.functional.pad(x, (0, n * T - L), value=self.pad_id)
        chunks = padded.reshape(B * n, T)
        real = chunks != self.pad_id
        used = real.any(dim=1)  # chunks holding text: only these are run
        if not bool(used.any()):
            raise ValueError(f"PassageClassifier: every position of x is padding (pad_id={self.pad_id}); each row "
                             "needs a passage.")
        empty = ~real.reshape(B, -1).any(dim=1)
        if bool(empty.any()):
            raise ValueError(f"PassageClassifier: row {int(empty.nonzero()[0])} of x is all padding (pad_id="
                             f"{self.pad_id}); every row must hold a passage.")
        features = torch.zeros(B * n, T, self.lm.config.n_embd, device=x.device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            features = features.index_put((used.nonzero()[:, 0],), self.lm.features(chunks[used]))
        weights = real.reshape(B, n * T, 1).to(features.dtype)
        return (features.reshape(B, n * T, -1) * weights).sum(1) / weights.sum(1)

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits = self.head(self.pooled(x))
        return logits, None if targets is None else nn.functional.cross_entropy(logits, targets)
