"""Finding and picking text without a neural model (chapter 11): word tokens, BM25, TF-IDF, sentences, summaries.

Chapter 11 answers questions about the KJV by *retrieval* (find the verse that answers, score the
retriever with recall@k) and summarises Austen chapters *extractively* (pick the most central
sentences, score them with ROUGE from ``lmcourse.scores``). Everything here is counting, vectorised
with numpy:

- :func:`words` the course's word tokens: lower-cased runs of ``[a-z0-9]``, the tokens ROUGE uses by
  default (no stemming). ``lmcourse.scores`` imports it, so retrieval and ROUGE see the same words.
- :class:`BM25` the ranking function of Lucene and Elasticsearch (Robertson and Walker's "best match
  25"): an inverted index built with ``np.unique`` / ``np.bincount``, Lucene's always-positive idf,
  term frequency that saturates (``k1``) and length normalisation (``b``); :func:`bm25_idf` and
  :func:`bm25_weight` are its two formulas, for one term or a whole array of them.
- :class:`TfIdf` documents as L2-normalised tf-idf vectors (scikit-learn's default smooth idf);
  ``scores`` is the cosine similarity of a query with every document.
- :func:`top_k` the k best indices, best first, ties to the lower index; both rankers' ``search``.
- :func:`recall_at_k` the share of questions with a relevant document among their top k.
- :func:`split_sentences` a rule-based sentence splitter for English prose (Austen's paragraphs).
- :func:`centrality` and :func:`extractive_summary` each sentence's mean tf-idf cosine with the
  others (the idea behind LexRank / TextRank, in its simplest form) and the k most central
  sentences, in document order.

A query with no words at all (``"?!"``) is an error in both rankers: it would rank every document
equally, so any "answer" would be the first verse of Genesis. A query whose words are all unknown
to the index is fine: every score is 0.
"""

from __future__ import annotations

import itertools
import numbers
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from lmcourse.batches import _whole

__all__ = ["BM25", "TfIdf", "bm25_idf", "bm25_weight", "centrality", "extractive_summary", "recall_at_k",
           "split_sentences", "top_k", "words"]

# --------------------------------------------------------------------------- words

# Every byte but a-z and 0-9 becomes a space: after lower-casing and UTF-8 encoding, the words are then what
# bytes.split() gives. Each non-ASCII character encodes to bytes >= 0x80, so it separates words exactly as
# re.findall(r"[a-z0-9]+", text.lower()) does (tests/test_retrieval.py proves it), and 3-4 times faster,
# which is what lets BM25 index all 31,102 KJV verses well within a second.
_KEEP = b"abcdefghijklmnopqrstuvwxyz0123456789"
_TO_SPACE = bytes(c if c in _KEEP else ord(" ") for c in range(256))


def _word_bytes(text: str) -> list[bytes]:
    """The words of ``text`` as ASCII bytes (see :func:`words`); no type check, for the indexers' inner loop."""
    return text.lower().encode("utf-8", "surrogatepass").translate(_TO_SPACE).split()


def words(text: str) -> list[str]:
    """The lower-cased words of ``text``: ``re.findall(r"[a-z0-9]+", text.lower())``.

    This is ROUGE's default tokenisation (Lin 2004; Google's ``rouge-score`` without its optional
    Porter stemmer): punctuation and every other character separate words, so "Lord's" gives
    ``["lord", "s"]`` and an accented letter splits a word ("crió" gives ``["cri"]``): English only.
    """
    if not isinstance(text, str):
        raise TypeError(f"words(text) needs a str, got {type(text).__name__} {text!r:.60}.")
    return [w.decode("ascii") for w in _word_bytes(text)]


# --------------------------------------------------------------------------- checking input


def _check_texts(texts: object, name: str, who: str) -> list[str]:
    """``texts`` as a list if it is a non-empty list, tuple or 1-D array of str; else an error naming ``name``."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"{who}: {name} must be a list of strings, got one {type(texts).__name__} "
                        f"{texts!r:.60}: wrap it in a list, [{name}], or split it (text.splitlines()).")
    if isinstance(texts, np.ndarray) and texts.ndim == 1:
        texts = texts.tolist()
    if not isinstance(texts, Sequence):
        raise TypeError(f"{who}: {name} must be a list of strings, got {type(texts).__name__}: pass list(...).")
    if len(texts) == 0:
        raise ValueError(f"{who}: {name} is empty: pass at least one string.")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{who}: {name}[{i}] is {type(text).__name__} {text!r:.60}, not a str: every item "
                            f"must be a string (decode bytes, or str() a number on purpose).")
    return list(texts)


def _check_real(value: object, name: str, low: float, high: float = float("inf")) -> float:
    """``value`` as a float if it is a real number in [low, high]; else an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}.")
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value}.")
    return float(value)


# --------------------------------------------------------------------------- the inverted index


@dataclass(frozen=True)
class _Postings:
    """An inverted index in a CSR-like layout: term ``t`` occurs in documents ``doc_ids[indptr[t]:indptr[t + 1]]``
    (ascending), ``tf[...]`` times in each. ``doc_len`` counts every document's words."""

    vocabulary: dict[str, int]
    indptr: np.ndarray
    doc_ids: np.ndarray
    tf: np.ndarray
    doc_len: np.ndarray

    @property
    def n_docs(self) -> int:
        return len(self.doc_len)

    @property
    def df(self) -> np.ndarray:
        """How many documents hold each term."""
        return np.diff(self.indptr)

    @property
    def posting_terms(self) -> np.ndarray:
        """The term id of every posting (the row of the CSR layout)."""
        return np.repeat(np.arange(len(self.vocabulary)), self.df)

    def query(self, query: object, who: str) -> tuple[np.ndarray, np.ndarray]:
        """The known terms of ``query`` (ids, ascending) and how often each occurs in it."""
        if not isinstance(query, str):
            raise TypeError(f"{who}(query) needs a str, got {type(query).__name__} {query!r:.60}.")
        tokens = words(query)
        if not tokens:
            raise ValueError(f"{who}(query): the query {query!r:.60} has no words (runs of a-z, 0-9 after "
                             f"lower-casing), so it would rank every document equally: ask with words.")
        ids = [self.vocabulary[w] for w in tokens if w in self.vocabulary]
        return np.unique(np.array(ids, dtype=np.int64), return_counts=True)


def _index(docs: list[str], who: str) -> _Postings:
    """Build the inverted index of ``docs``: one term id per token, then tf per (term, document) with ``np.unique``."""
    per_doc = [_word_bytes(doc) for doc in docs]
    doc_len = np.fromiter(map(len, per_doc), dtype=np.int64, count=len(per_doc))
    tokens = list(itertools.chain.from_iterable(per_doc))
    if not tokens:
        raise ValueError(f"{who}: none of the {len(docs)} documents has a word (a run of a-z, 0-9 after "
                         f"lower-casing), so there is nothing to index: pass the texts themselves.")
    ids = {w: i for i, w in enumerate(dict.fromkeys(tokens))}  # term ids in order of first occurrence
    term = np.fromiter(map(ids.__getitem__, tokens), dtype=np.int64, count=len(tokens))
    doc = np.repeat(np.arange(len(docs), dtype=np.int64), doc_len)
    # One key per (term, document), sorted by term then document: the postings lists, back to back.
    keys, tf = np.unique(term * len(docs) + doc, return_counts=True)
    indptr = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys // len(docs), minlength=len(ids)), out=indptr[1:])
    vocabulary = {w.decode("ascii"): i for w, i in ids.items()}
    return _Postings(vocabulary, indptr, keys % len(docs), tf, doc_len)


def top_k(scores: np.ndarray, k: int, what: str = "top_k", items: str = "scores") -> np.ndarray:
    """The indices of the ``k`` largest ``scores``, best first; equal scores go to the lower index.

    ``np.argpartition`` finds the k-th largest score in linear time; only the scores at least that
    large are then sorted (by score, then index), so ties at the cut are broken the same way too.
    """
    if not isinstance(scores, np.ndarray) or scores.ndim != 1:
        raise TypeError(f"top_k(scores) needs a 1-D numpy array, got {type(scores).__name__} "
                        f"{getattr(scores, 'shape', '')}.")
    k = _whole(k, "k", 1)
    if k > len(scores):
        raise ValueError(f"{what}: k={k} but there are only {len(scores)} {items}: pass k <= {len(scores)}.")
    kth = scores[np.argpartition(scores, len(scores) - k)[len(scores) - k]]
    candidates = np.flatnonzero(scores >= kth)
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order[:k]]


_R = TypeVar("_R", bound="_Ranker")


class _Ranker:
    """What BM25 and TF-IDF share: the index, scoring by postings, search. A subclass gives the weights."""

    _postings: _Postings | None = None
    _weights: np.ndarray  # one weight per posting: the term's contribution to that document's score

    def fit(self: _R, docs: Sequence[str]) -> _R:
        """Index ``docs`` (a list of strings, one per document); returns the ranker itself."""
        who = f"{type(self).__name__}.fit"
        self._postings = _index(_check_texts(docs, "docs", who), who)
        self._weights = self._posting_weights(self._postings)
        return self

    def _posting_weights(self, index: _Postings) -> np.ndarray:
        raise NotImplementedError

    def _query_weights(self, ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _fitted(self, method: str) -> _Postings:
        if self._postings is None:
            name = type(self).__name__
            raise RuntimeError(f"{name}.{method}: the ranker has no documents yet: call {name}().fit(docs) first.")
        return self._postings

    @property
    def vocabulary(self) -> dict[str, int]:
        """Word -> term id, the column of ``idf`` (in order of first occurrence)."""
        return self._fitted("vocabulary").vocabulary

    @property
    def n_docs(self) -> int:
        return self._fitted("n_docs").n_docs

    def scores(self, query: str) -> np.ndarray:
        """Every document's score for ``query``: float64, shape (n_docs,)."""
        index = self._fitted("scores")
        ids, counts = index.query(query, f"{type(self).__name__}.scores")
        out = np.zeros(index.n_docs)
        for term, weight in zip(ids, self._query_weights(ids, counts)):
            postings = slice(index.indptr[term], index.indptr[term + 1])
            out[index.doc_ids[postings]] += weight * self._weights[postings]
        return out

    def search(self, query: str, k: int = 10) -> np.ndarray:
        """The indices of the ``k`` best documents for ``query``, best first (ties: the lower index)."""
        return top_k(self.scores(query), k, f"{type(self).__name__}.search", "documents in the index")


# --------------------------------------------------------------------------- BM25


def bm25_idf(df: np.ndarray | int, n_docs: int) -> np.ndarray | float:
    """Lucene's BM25 idf, ``ln(1 + (N - df + 0.5) / (df + 0.5))``, for a term in ``df`` of ``n_docs`` documents.

    Robertson's original ``ln((N - df + 0.5) / (df + 0.5))`` is negative for a term in more than
    half the documents ("and", "the" in the KJV), so a verse would *lose* score for holding it; the
    ``1 +`` keeps every idf positive and changes the rare terms' weights hardly at all.
    """
    return np.log(1 + (n_docs - np.asarray(df, dtype=np.float64) + 0.5) / (np.asarray(df) + 0.5))


def bm25_weight(tf: np.ndarray | int, idf: np.ndarray | float, doc_len: np.ndarray | int, avgdl: float,
                k1: float = 1.5, b: float = 0.75) -> np.ndarray | float:
    """One term's BM25 score in one document: ``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avgdl))``.

    ``tf`` is how often the term occurs in the document, ``doc_len`` the document's length in words,
    ``avgdl`` the mean length. The weight grows with tf but saturates at ``idf * (k1 + 1)`` (``k1 = 0``:
    one occurrence counts as much as ten); ``b`` scales how much a long document is discounted (``b =
    0``: not at all). Works elementwise on arrays.
    """
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * np.asarray(doc_len) / avgdl))


class BM25(_Ranker):
    """Okapi BM25 over a fixed set of documents: ``BM25().fit(verses).search("who slew goliath", k=5)``.

    A document's score is the sum, over the query's words, of :func:`bm25_weight`. A word that occurs
    twice in the query counts twice (as in ``rank_bm25`` and a Lucene query that lists the term twice):
    the question says it twice, so it matters more. Words the index never saw add nothing.
    """

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = _check_real(k1, "BM25(k1)", 0.0)
        self.b = _check_real(b, "BM25(b)", 0.0, 1.0)

    def __repr__(self) -> str:
        fitted = f", {self.n_docs} documents" if self._postings is not None else ""
        return f"BM25(k1={self.k1}, b={self.b}{fitted})"

    @property
    def idf(self) -> np.ndarray:
        """Every term's :func:`bm25_idf`, indexed by the term ids of ``vocabulary``."""
        index = self._fitted("idf")
        return bm25_idf(index.df, index.n_docs)

    @property
    def avgdl(self) -> float:
        """The mean document length in words."""
        return float(self._fitted("avgdl").doc_len.mean())

    def _posting_weights(self, index: _Postings) -> np.ndarray:
        idf = bm25_idf(index.df, index.n_docs)[index.posting_terms]
        return bm25_weight(index.tf, idf, index.doc_len[index.doc_ids], float(index.doc_len.mean()), self.k1, self.b)

    def _query_weights(self, ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
        return counts.astype(np.float64)  # once per occurrence in the query

    def weight(self, term: str, doc: int) -> float:
        """:func:`bm25_weight` of the word ``term`` in document number ``doc`` (0 if the document lacks it)."""
        index = self._fitted("weight")
        if not isinstance(term, str) or words(term) != [term]:
            raise ValueError(f"BM25.weight(term) needs one lower-case word (a run of a-z, 0-9), got {term!r:.60}: "
                             f"pass words(text)[i].")
        doc = _whole(doc, "BM25.weight(doc)", 0)
        if doc >= index.n_docs:
            raise ValueError(f"BM25.weight(doc={doc}): the index holds documents 0 to {index.n_docs - 1}.")
        if term not in index.vocabulary:
            return 0.0
        t = index.vocabulary[term]
        docs = index.doc_ids[index.indptr[t]:index.indptr[t + 1]]
        at = np.searchsorted(docs, doc)
        if at == len(docs) or docs[at] != doc:
            return 0.0
        tf = int(index.tf[index.indptr[t] + at])
        idf = bm25_idf(int(index.df[t]), index.n_docs)
        return float(bm25_weight(tf, idf, int(index.doc_len[doc]), self.avgdl, self.k1, self.b))


# --------------------------------------------------------------------------- TF-IDF


class TfIdf(_Ranker):
    """Documents as tf-idf vectors scaled to length 1; a query's score is its cosine with each document.

    tf is the raw count; idf is scikit-learn's default *smooth* idf, ``ln((1 + N) / (1 + df)) + 1``
    (as if one extra document held every word once: no division by zero, and a word in every document
    keeps weight 1 instead of 0). ``TfIdf().fit(docs).transform(docs)`` equals scikit-learn's
    ``TfidfVectorizer(token_pattern=r"[a-z0-9]+")`` up to the order of the columns.
    """

    def __repr__(self) -> str:
        fitted = f"{self.n_docs} documents, {len(self.vocabulary)} words" if self._postings is not None else ""
        return f"TfIdf({fitted})"

    @property
    def idf(self) -> np.ndarray:
        """Every term's smooth idf, indexed by the term ids of ``vocabulary``."""
        index = self._fitted("idf")
        return np.log((1 + index.n_docs) / (1 + index.df)) + 1

    def _posting_weights(self, index: _Postings) -> np.ndarray:
        weights = index.tf * (np.log((1 + index.n_docs) / (1 + index.df)) + 1)[index.posting_terms]
        norms = np.sqrt(np.bincount(index.doc_ids, weights=weights**2, minlength=index.n_docs))
        return weights / norms[index.doc_ids]

    def _query_weights(self, ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
        weights = counts * self.idf[ids]
        norm = np.sqrt((weights**2).sum())
        return weights / norm if norm > 0 else weights

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """``texts`` as rows of tf-idf weights over ``vocabulary``, each of length 1: float64 (len(texts), V).

        Dense, for a few texts (a chapter's sentences, a handful of queries). Words outside the
        vocabulary are dropped; a text with none of its words gets a row of zeros.
        """
        index = self._fitted("transform")
        texts = _check_texts(texts, "texts", "TfIdf.transform")
        out = np.zeros((len(texts), len(index.vocabulary)))
        idf = self.idf
        for row, text in zip(out, texts):
            ids = [index.vocabulary[w] for w in words(text) if w in index.vocabulary]
            np.add.at(row, ids, idf[ids])
            norm = np.sqrt(row @ row)
            if norm > 0:
                row /= norm
        return out


# --------------------------------------------------------------------------- scoring a retriever


def recall_at_k(ranked: Sequence[Sequence[int]], relevant: Sequence[Collection[int]], k: int) -> float:
    """The share of queries with at least one relevant document among their first ``k`` ranked ones.

    ``ranked[q]`` lists query q's documents best first (e.g. ``bm25.search(question, k)``);
    ``relevant[q]`` is the set of documents that answer it.
    """
    k = _whole(k, "recall_at_k(k)", 1)
    for name, value in (("ranked", ranked), ("relevant", relevant)):
        if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
            raise TypeError(f"recall_at_k({name}) must be a list with one entry per query, got "
                            f"{type(value).__name__}.")
    if len(ranked) != len(relevant):
        raise ValueError(f"recall_at_k: ranked has {len(ranked)} queries but relevant has {len(relevant)}: "
                         f"pass one ranking and one set of relevant documents per query.")
    if len(ranked) == 0:
        raise ValueError("recall_at_k: no queries: pass at least one ranking and its relevant documents.")
    hits = 0
    for q, (ranking, answers) in enumerate(zip(ranked, relevant)):
        if isinstance(ranking, (str, bytes)) or not isinstance(ranking, (Sequence, np.ndarray)):
            raise TypeError(f"recall_at_k: ranked[{q}] is {type(ranking).__name__} {ranking!r:.40}, not a list "
                            f"of document indices.")
        if isinstance(answers, (str, bytes)) or not isinstance(answers, (Collection, np.ndarray)):
            raise TypeError(f"recall_at_k: relevant[{q}] is {type(answers).__name__} {answers!r:.40}, not a "
                            f"collection of document indices: wrap one index in a set, {{{answers!r:.20}}}.")
        if len(answers) == 0:
            raise ValueError(f"recall_at_k: relevant[{q}] is empty: a query with no relevant document can never "
                             f"be answered; drop it or name the documents that answer it.")
        if len(ranking) < k:
            raise ValueError(f"recall_at_k: k={k} but ranked[{q}] has only {len(ranking)} documents, so this would "
                             f"be recall@{len(ranking)}: search with k >= {k}, or ask for recall_at_k(..., "
                             f"k={len(ranking)}).")
        hits += not set(answers).isdisjoint(list(ranking)[:k])
    return hits / len(ranked)


# --------------------------------------------------------------------------- sentences and summaries

# A sentence ends at . ! or ? (and any closing quotes or brackets) when whitespace and then a capital
# letter, perhaps after an opening quote or bracket, follow; but not after a title such as "Mr.".
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s+[\"'(\[]?[A-Z])")
_TITLES = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St)$")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (English prose), by rule: each ends at . ! or ? followed by space and a capital.

    Closing quotes stay with their sentence; "Mr. Bennet", "Mrs. Long", "Dr.", "St." do not end one.
    Made for Austen's paragraphs (``--`` dashes, double quotes); a lower-case word after "?" inside
    dialogue (``"Is he married?" said she``) rightly continues the sentence. Blank text gives ``[]``.
    """
    if not isinstance(text, str):
        raise TypeError(f"split_sentences(text) needs a str, got {type(text).__name__} {text!r:.60}.")
    sentences, start = [], 0
    for end in _SENTENCE_END.finditer(text):
        if _TITLES.search(text, 0, end.start()):
            continue
        sentences.append(text[start:end.end()].strip())
        start = end.end()
    last = text[start:].strip()
    return sentences + [last] if last else sentences


def centrality(sentences: Sequence[str]) -> np.ndarray:
    """Each sentence's mean tf-idf cosine similarity with the *other* sentences: float64, shape (n,).

    The idf comes from the sentences themselves (each one a document). A central sentence shares
    the passage's frequent content words, which is what a summary should keep (LexRank and TextRank
    refine this by a random walk). The mean of dot products is the dot product with the sum, so no
    n x n matrix is built: ``c_i = (x_i . sum_j x_j - x_i . x_i) / (n - 1)``.
    """
    sentences = _check_texts(sentences, "sentences", "centrality")
    if len(sentences) < 2:
        raise ValueError(f"centrality needs at least 2 sentences to compare, got {len(sentences)}: split the "
                         f"passage with split_sentences(text).")
    tfidf = TfIdf().fit(sentences)
    index, weights = tfidf._fitted("centrality"), tfidf._weights
    terms = index.posting_terms
    total = np.bincount(terms, weights=weights, minlength=len(index.vocabulary))  # sum_j x_j
    with_all = np.bincount(index.doc_ids, weights=weights * total[terms], minlength=index.n_docs)
    with_self = np.bincount(index.doc_ids, weights=weights**2, minlength=index.n_docs)
    return (with_all - with_self) / (len(sentences) - 1)


def extractive_summary(sentences: Sequence[str], k: int) -> list[int]:
    """The indices of the ``k`` most :func:`central <centrality>` sentences, in document order."""
    return sorted(top_k(centrality(sentences), k, "extractive_summary", "sentences").tolist())
