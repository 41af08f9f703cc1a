"""Tests of ``lmcourse.retrieval``: words against the regular expression, BM25 on a hand-computed three-document
example, its idf and its two knobs, TF-IDF cosines, top-k ties, recall@k, the sentence splitter on Austen's own
paragraphs, centrality against the n x n similarity matrix, and the errors."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmcourse.data import load_text
from lmcourse.retrieval import (
    BM25,
    TfIdf,
    bm25_idf,
    bm25_weight,
    centrality,
    extractive_summary,
    recall_at_k,
    split_sentences,
    top_k,
    words,
)

# --------------------------------------------------------------------------- words


# ASCII letters, digits and punctuation, accents, a ligature, the Kelvin sign and dotted capital I (which
# lower-case to ASCII "k" and to "i" + a combining dot), other scripts, an emoji, a lone surrogate.
TRICKY = "aZz09 .,'-\t\néÉçñßﬁ\u212a\u0130ЖΩ中😀\ud800"


@given(st.text(alphabet=TRICKY, max_size=80))
def test_words_are_the_regular_expression(text: str) -> None:
    assert words(text) == re.findall(r"[a-z0-9]+", text.lower())


def test_words_by_hand() -> None:
    assert words("The LORD's 12 tribes--and\tJudah!") == ["the", "lord", "s", "12", "tribes", "and", "judah"]
    assert words("En el principio crió Dios") == ["en", "el", "principio", "cri", "dios"]  # English only
    assert words("") == [] and words("?!") == []
    with pytest.raises(TypeError, match=r"words\(text\) needs a str, got list"):
        words(["a"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- BM25 by hand

DOCS = ["The cat sat.", "The cat sat on the mat.", "Dogs run!"]
# N = 3 documents of 3, 6 and 2 words: avgdl = 11/3. df: the, cat, sat = 2; on, mat, dogs, run = 1.
# idf(df=2) = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln(1.6);  idf(df=1) = ln(1 + 2.5 / 1.5) = ln(8/3).
# With k1 = 1.5, b = 0.75, the length factor k1 * (1 - b + b * dl / avgdl) is
#   doc 0 (dl 3): 1.5 * (1/4 + 3/4 * 9/11) = 1.5 * 19/22 = 57/44
#   doc 1 (dl 6): 1.5 * (1/4 + 3/4 * 18/11) = 1.5 * 65/44 = 195/88
LN16, LN83 = math.log(1.6), math.log(8 / 3)
CAT = [LN16 * 2.5 / (1 + 57 / 44), LN16 * 2.5 / (1 + 195 / 88), 0.0]  # = ln 1.6 * 110/101, ln 1.6 * 220/283
THE_IN_1 = LN16 * 2 * 2.5 / (2 + 195 / 88)  # tf 2: ln 1.6 * 440/371
MAT_IN_1 = LN83 * 2.5 / (1 + 195 / 88)  # ln(8/3) * 220/283


def test_bm25_scores_by_hand() -> None:
    bm25 = BM25().fit(DOCS)
    assert bm25.n_docs == 3 and bm25.avgdl == pytest.approx(11 / 3)
    np.testing.assert_allclose(bm25.scores("cat"), CAT, rtol=1e-12)
    assert CAT[0] == pytest.approx(LN16 * 110 / 101) and CAT[1] == pytest.approx(LN16 * 220 / 283)
    np.testing.assert_allclose(bm25.scores("the mat"), [CAT[0], THE_IN_1 + MAT_IN_1, 0.0], rtol=1e-12)
    np.testing.assert_allclose(bm25.scores("Dogs"), [0, 0, LN83 * 2.5 / (1 + 1.5 * (0.25 + 0.75 * 6 / 11))])
    assert bm25.weight("the", 1) == pytest.approx(THE_IN_1, rel=1e-12)
    assert bm25.weight("mat", 1) == pytest.approx(MAT_IN_1, rel=1e-12)
    assert bm25.weight("mat", 0) == 0.0 and bm25.weight("zebra", 0) == 0.0
    idf = bm25.idf
    assert idf[bm25.vocabulary["the"]] == pytest.approx(LN16) and idf[bm25.vocabulary["run"]] == pytest.approx(LN83)


def test_bm25_scores_are_the_sum_of_weights() -> None:
    docs = load_text("kjv").splitlines()[:300]
    bm25 = BM25(k1=1.2, b=0.6).fit(docs)
    query = "and the LORD said unto Moses the light"
    by_weight = [sum(bm25.weight(w, d) for w in words(query)) for d in range(len(docs))]
    np.testing.assert_allclose(bm25.scores(query), by_weight, rtol=1e-12)


def test_bm25_idf_is_lucenes_and_stays_positive() -> None:
    assert bm25_idf(1, 10) == pytest.approx(math.log(1 + 9.5 / 1.5))
    df = np.arange(1, 11)
    idf = bm25_idf(df, 10)
    assert (idf > 0).all() and (np.diff(idf) < 0).all()  # rarer terms weigh more; all positive
    robertson = np.log((10 - df + 0.5) / (df + 0.5))
    assert (robertson[df > 5] < 0).all()  # the classic formula: negative for terms in over half the documents


def test_bm25_knobs() -> None:
    # b = 0: no length normalisation, "cat" (tf 1) weighs the same in the 3-word and the 6-word document
    flat = BM25(b=0).fit(DOCS).scores("cat")
    assert flat[0] == pytest.approx(flat[1]) and flat[0] == pytest.approx(LN16)  # tf (k1+1)/(tf+k1) = 1 at tf 1
    # k1 = 0: tf is irrelevant, "the" twice in doc 1 counts as once in doc 0: both weigh idf
    once = BM25(k1=0).fit(DOCS).scores("the")
    np.testing.assert_allclose(once, [LN16, LN16, 0])
    # and bm25_weight saturates towards idf * (k1 + 1) as tf grows
    assert bm25_weight(10**6, 2.0, 5, 5.0, k1=1.5, b=0.75) == pytest.approx(2.0 * 2.5, rel=1e-5)


def test_bm25_query_words() -> None:
    bm25 = BM25().fit(DOCS)
    np.testing.assert_allclose(bm25.scores("cat cat"), 2 * bm25.scores("cat"))  # once per occurrence
    np.testing.assert_array_equal(bm25.scores("zebra"), np.zeros(3))  # unknown words add nothing
    np.testing.assert_array_equal(bm25.scores("cat zebra"), bm25.scores("CAT!"))
    with pytest.raises(ValueError, match=r"has no words .* ask with words"):
        bm25.scores("?!")


def test_search_order_and_ties() -> None:
    bm25 = BM25().fit(DOCS)
    assert bm25.search("cat", 3).tolist() == [0, 1, 2]  # the shorter document first; the tie at 0 stays in order
    assert bm25.search("the mat", 1).tolist() == [1]
    same = BM25().fit(["a b", "c", "a b", "a b"])
    assert same.search("a", 2).tolist() == [0, 2] and same.search("a", 4).tolist() == [0, 2, 3, 1]
    assert top_k(np.array([1.0, 2.0, 2.0, 2.0, 0.0]), 2).tolist() == [1, 2]


@given(st.lists(st.integers(0, 3), min_size=1, max_size=30), st.data())
def test_top_k_is_a_stable_sort(values: list[int], data: st.DataObject) -> None:
    k = data.draw(st.integers(1, len(values)))
    scores = np.array(values, dtype=np.float64)
    assert top_k(scores, k).tolist() == sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]


# --------------------------------------------------------------------------- TF-IDF


def test_tfidf_by_hand() -> None:
    tfidf = TfIdf().fit(DOCS)
    # smooth idf: ln((1 + 3) / (1 + df)) + 1
    assert tfidf.idf[tfidf.vocabulary["cat"]] == pytest.approx(math.log(4 / 3) + 1)
    assert tfidf.idf[tfidf.vocabulary["mat"]] == pytest.approx(math.log(2) + 1)
    x = tfidf.transform(DOCS)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0)
    # "the cat sat": three words with one idf each, so each weighs 1/sqrt(3)
    np.testing.assert_allclose(x[0][x[0] > 0], [3**-0.5] * 3)
    # doc 1: the x2, cat, sat (idf a = ln(4/3) + 1), on, mat (idf c = ln 2 + 1): "cat" weighs a / |v|
    a, c = math.log(4 / 3) + 1, math.log(2) + 1
    assert x[1, tfidf.vocabulary["cat"]] == pytest.approx(a / math.sqrt(4 * a * a + a * a + a * a + 2 * c * c))
    assert tfidf.transform(["zebra"]).tolist() == [[0.0] * len(tfidf.vocabulary)]  # no known word: zeros


def test_tfidf_cosines() -> None:
    tfidf = TfIdf().fit(["a b c", "c b a", "d e", "a a b"])
    np.testing.assert_allclose(tfidf.scores("a b c"), [1.0, 1.0, 0.0, tfidf.scores("a b c")[3]])
    assert 0 < tfidf.scores("a b c")[3] < 1
    docs = load_text("kjv").splitlines()[:200]
    tfidf = TfIdf().fit(docs)
    x = tfidf.transform(docs)
    for query in ("light and darkness", "the waters of the deep", "Abram Abram went"):
        np.testing.assert_allclose(tfidf.scores(query), x @ tfidf.transform([query])[0], atol=1e-12)
    assert tfidf.search("the light of day", 1).tolist() == [int(np.argmax(tfidf.scores("the light of day")))]


def test_tfidf_against_scikit_learn() -> None:
    text = pytest.importorskip("sklearn.feature_extraction.text")
    docs = load_text("kjv").splitlines()[:300]
    theirs = text.TfidfVectorizer(token_pattern=r"[a-z0-9]+").fit(docs)
    ours = TfIdf().fit(docs)
    columns = [theirs.vocabulary_[w] for w in ours.vocabulary]  # ours in order of first occurrence, theirs sorted
    np.testing.assert_allclose(ours.transform(docs), theirs.transform(docs).toarray()[:, columns], atol=1e-12)


# --------------------------------------------------------------------------- recall@k


def test_recall_at_k() -> None:
    ranked = [[3, 1, 2], np.array([0, 5]), [7, 8, 9]]
    relevant = [{1}, [9], (9, 4)]
    assert recall_at_k(ranked, relevant, 1) == 0.0
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(1 / 3)  # query 0 finds doc 1 second
    with pytest.raises(ValueError, match=r"k=3 but ranked\[1\] has only 2 documents, so this would be recall@2"):
        recall_at_k(ranked, relevant, 3)
    ranked[1] = [0, 5, 6]
    assert recall_at_k(ranked, relevant, 3) == pytest.approx(2 / 3)  # query 2 finds doc 9 third; query 1 never


@pytest.mark.parametrize("args, error, message", [
    (([[1]], [{1}, {2}], 1), ValueError, r"ranked has 1 queries but relevant has 2"),
    (([], [], 1), ValueError, r"no queries"),
    (([[1]], [{1}], 0), ValueError, r"recall_at_k\(k\) must be >= 1, got 0"),
    (([[1]], [{1}], 1.0), TypeError, r"recall_at_k\(k\) must be a whole number"),
    (([[1], [2]], [{1}, set()], 1), ValueError, r"relevant\[1\] is empty"),
    (([[1]], [1], 1), TypeError, r"relevant\[0\] is int 1, .* wrap one index in a set"),
    (([5], [{1}], 1), TypeError, r"ranked\[0\] is int 5"),
    (("abc", [{1}], 1), TypeError, r"recall_at_k\(ranked\) must be a list"),
])
def test_recall_at_k_errors(args: tuple, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        recall_at_k(*args)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("ranker", [BM25, TfIdf])
def test_ranker_errors(ranker: type) -> None:
    with pytest.raises(TypeError, match=r"docs must be a list of strings, got one str .*text.splitlines\(\)"):
        ranker().fit("In the beginning")
    with pytest.raises(ValueError, match=r"docs is empty"):
        ranker().fit([])
    with pytest.raises(TypeError, match=r"docs\[1\] is int 3, not a str"):
        ranker().fit(["a", 3])
    with pytest.raises(ValueError, match=r"none of the 2 documents has a word"):
        ranker().fit(["", "--!"])
    with pytest.raises(RuntimeError, match=r"no documents yet: call .*\(\)\.fit\(docs\) first"):
        ranker().scores("cat")
    fitted = ranker().fit(DOCS)
    with pytest.raises(TypeError, match=r"needs a str, got list"):
        fitted.scores(["cat"])
    with pytest.raises(ValueError, match=r"search: k=4 but there are only 3 documents in the index"):
        fitted.search("cat", 4)
    with pytest.raises(ValueError, match=r"k must be >= 1, got 0"):
        fitted.search("cat", 0)
    fitted.fit(np.array(["x y", "y z"]))  # a 1-D numpy array of strings is a list of strings
    assert fitted.n_docs == 2


def test_bm25_argument_errors() -> None:
    with pytest.raises(ValueError, match=r"BM25\(k1\) must lie in \[0.0, inf\], got -1"):
        BM25(k1=-1)
    with pytest.raises(ValueError, match=r"BM25\(b\) must lie in \[0.0, 1.0\], got 2"):
        BM25(b=2)
    with pytest.raises(TypeError, match=r"BM25\(b\) must be a number, got str"):
        BM25(b="0.75")  # type: ignore[arg-type]
    bm25 = BM25().fit(DOCS)
    with pytest.raises(ValueError, match=r"needs one lower-case word"):
        bm25.weight("the cat", 0)
    with pytest.raises(ValueError, match=r"needs one lower-case word"):
        bm25.weight("Cat", 0)
    with pytest.raises(ValueError, match=r"the index holds documents 0 to 2"):
        bm25.weight("cat", 3)


# --------------------------------------------------------------------------- sentences and summaries

PRIDE = load_text("pride_and_prejudice").splitlines()


def test_split_sentences_on_austen() -> None:
    assert PRIDE[0].startswith("It is a truth universally acknowledged")
    assert split_sentences(PRIDE[0]) == [PRIDE[0]]
    # titles do not end a sentence; a question inside a quotation that the narrative continues stays whole
    assert PRIDE[2].startswith('"My dear Mr. Bennet,"') and split_sentences(PRIDE[2]) == [PRIDE[2]]
    assert split_sentences('"Oh! Single, my dear, to be sure! A single man of large fortune; four or five thousand '
                           'a year. What a fine thing for our girls!"') == [
        '"Oh!', "Single, my dear, to be sure!", "A single man of large fortune; four or five thousand a year.",
        'What a fine thing for our girls!"']
    paragraph = next(p for p in PRIDE if p.startswith("Not all that Mrs. Bennet"))
    got = split_sentences(paragraph)
    assert len(got) == 7 and got[0].endswith("any satisfactory description of Mr. Bingley.")
    assert got[1].startswith("They attacked him in various ways--with barefaced questions")
    assert got[5] == "Nothing could be more delightful!"


def test_split_sentences_rules() -> None:
    text = 'He comes soon." "I see. Dr. Jones lives in St. Ives? He does! "Is he married?" said she. (Yes.) Fine'
    assert split_sentences(text) == ['He comes soon."', '"I see.', "Dr. Jones lives in St. Ives?", "He does!",
                                     '"Is he married?" said she.', "(Yes.)", "Fine"]
    assert split_sentences("  ") == [] and split_sentences("no full stop") == ["no full stop"]
    with pytest.raises(TypeError, match=r"split_sentences\(text\) needs a str, got list"):
        split_sentences(["A. B."])  # type: ignore[arg-type]


def test_split_sentences_keeps_every_character() -> None:
    for paragraph in PRIDE[:400]:
        assert "".join("".join(split_sentences(paragraph)).split()) == "".join(paragraph.split())


def test_centrality_by_hand_and_against_the_matrix() -> None:
    # "a b" twice and "c": the two copies have cosine 1 with each other and 0 with "c"
    np.testing.assert_allclose(centrality(["a b", "a b", "c"]), [0.5, 0.5, 0.0])
    sentences = split_sentences(" ".join(PRIDE[40:60]))
    x = TfIdf().fit(sentences).transform(sentences)
    similarity = x @ x.T
    expected = (similarity.sum(axis=1) - np.diag(similarity)) / (len(sentences) - 1)
    np.testing.assert_allclose(centrality(sentences), expected, atol=1e-12)


def test_extractive_summary() -> None:
    sentences = ["Dogs bark.", "The cat sat on the mat.", "A cat and a mat.", "The cat sat."]
    c = centrality(sentences)
    assert c[0] == 0.0 and np.argmax(c) in (1, 2, 3)
    summary = extractive_summary(sentences, 2)
    assert summary == sorted(summary) and 0 not in summary
    assert summary == sorted(np.argsort(-c, kind="stable")[:2].tolist())
    with pytest.raises(ValueError, match=r"needs at least 2 sentences"):
        centrality(["One sentence."])
    with pytest.raises(ValueError, match=r"extractive_summary: k=5 but there are only 4 sentences"):
        extractive_summary(sentences, 5)
