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

from lmcourse import data

__all__ = ["SOURCES", "pretraining_corpus"]

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
    import numpy as np

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


def pretraining_corpus() -> data.Splits:
    """The three source corpora as one English text per part, with the authorship passages held out, balanced.

    For each part (train, valid, test) and each corpus of :data:`SOURCES` (``shakespeare``,
    ``pride_and_prejudice``, ``kjv``, in that order): the corpus's part of ``data.splits``, with every
    authorship validation and test passage removed (``data.hold_out(..., missing="ignore")``: a passage
    lies in one corpus and one part only); then each is thinned to the length of the shortest of the three
    (in the training part, Pride and Prejudice's), by keeping evenly spaced contiguous pieces of about
    20,000 characters cut at speech or paragraph starts, so that each author gives a third of the text
    and the KJV's third comes from the whole Bible, not only Genesis; the three are joined by blank lines.
    The authorship training passages stay in: a classifier trains on them anyway.

    ``transformer_english`` (``checkpoints.reference``) was pre-trained on ``.train`` with the tokeniser
    ``CharTokenizer(unk=True).fit(pretraining_corpus().train)``.
    """
    passages = heldout_passages()
    parts = {name: data.splits(name) for name in SOURCES.values()}
    out = []
    for part in data.PARTS:
        texts = [data.hold_out(parts[name][part], passages, missing="ignore") for name in SOURCES.values()]
        size = min(map(len, texts))
        out.append("\n\n".join(_thin(text, size) for text in texts))
    return data.Splits(*out)
