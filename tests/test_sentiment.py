"""lmcourse.sentiment: hand-computed scores, negation and its window, unknown words, VADER's lexicon, bad input."""

from __future__ import annotations

import math

import pytest

from lmcourse.sentiment import ALPHA, N_SCALAR, NEGATORS, WINDOW, Lexicon, explain, normalize, score, tokens

# Valences chosen so that the sums give round scores: x / sqrt(x**2 + 15) is 1/4 at x = 1 and 7/8 at x = 7.
TOY = Lexicon({"good": 2.0, "bad": -1.0, "great": 5.0, ":)": 1.0})


@pytest.fixture(scope="module")
def vader() -> Lexicon:
    return Lexicon.load()


def test_vader_constants() -> None:
    # vaderSentiment 3.3.2: N_SCALAR = -0.74, normalize(score, alpha=15)
    assert (N_SCALAR, ALPHA, WINDOW) == (-0.74, 15.0, 3)
    assert {"not", "no", "never", "nor", "cannot", "without", "nothing"} <= NEGATORS


@pytest.mark.parametrize("text,total,expected", [
    ("good bad", 2.0 - 1.0, 0.25),                         # 1 / sqrt(1 + 15) = 1/4
    ("a great, good film", 5.0 + 2.0, 0.875),               # 7 / sqrt(49 + 15) = 7/8
    ("bad", -1.0, -0.25),                                   # -1 / sqrt(1 + 15)
    ("not great", 5.0 * -0.74, -0.6907747429922022),        # -3.7 / sqrt(13.69 + 15) = -3.7 / 5.35631...
    ("It was good :)", 2.0 + 1.0, 3 / math.sqrt(24)),       # 3 / sqrt(9 + 15) = 0.61237...
])
def test_hand_computed_scores(text: str, total: float, expected: float) -> None:
    assert sum(v for _w, v in explain(text, TOY)) == pytest.approx(total, abs=1e-12)
    assert score(text, TOY) == pytest.approx(expected, abs=1e-12)
    assert normalize(total) == pytest.approx(expected, abs=1e-12)


def test_a_real_lexicon_score_by_hand(vader: Lexicon) -> None:
    # "lovely" is rated 2.8 (ten raters: 3 3 3 3 2 3 3 2 3 3); no other word of the sentence is in the lexicon.
    assert explain("What a lovely day.", vader) == [("lovely", 2.8)]
    assert score("What a lovely day.", vader) == pytest.approx(2.8 / math.sqrt(2.8 ** 2 + 15), abs=1e-12)  # 0.58588


def test_negation_flips_the_sign() -> None:
    assert score("good", TOY) > 0 > score("not good", TOY)
    assert explain("not good", TOY) == [("good", pytest.approx(2.0 * -0.74))]
    assert explain("This isn't bad", TOY) == [("bad", pytest.approx(-1.0 * -0.74))]  # any word ending in n't
    assert explain("never, ever good", TOY) == [("good", pytest.approx(-1.48))]
    assert score("not good", TOY, negation=False) == score("good", TOY)


def test_negation_reaches_three_tokens_and_no_further() -> None:
    assert explain("not a very good", TOY) == [("good", pytest.approx(-1.48))]  # good is the 3rd token after not
    assert explain("not a very very good", TOY) == [("good", 2.0)]  # the 4th: not negated
    # one factor per negator in the window: two negators flip twice
    assert explain("not never good", TOY) == [("good", pytest.approx(2.0 * 0.74 * 0.74))]


def test_negators_are_not_scored_themselves(vader: Lexicon) -> None:
    assert vader.valence("no") == -1.2  # in the lexicon, but here only a negator
    assert explain("no", vader) == [] and score("no", vader) == 0.0
    assert explain("no good", vader) == [("good", pytest.approx(1.9 * -0.74))]


def test_unknown_words_are_ignored() -> None:
    assert score("the table was good, said the carpenter", TOY) == score("good", TOY)
    assert explain("wherefore art thou", TOY) == [] and score("wherefore art thou", TOY) == 0.0


def test_tokens_are_lower_cased_words_and_emoticons() -> None:
    assert tokens("I LOVED it :) but ;-( and :D don't") == ["i", "loved", "it", ":)", "but", ";-(", "and", ":d",
                                                            "don't"]
    assert explain("GOOD", TOY) == [("good", 2.0)]


def test_vader_lexicon_loads(vader: Lexicon) -> None:
    assert len(vader) == 7492  # 7,520 entries - 14 tokens listed twice - 14 entries with capitals
    assert vader.valence("good") == vader.valence("GOOD") == 1.9
    assert vader.valence(":)") == 2.0 and ":)" in vader
    assert vader.valence("wherefore") is None and "wherefore" not in vader
    assert vader.valence("d:") == 1.2  # listed twice (-2.9, then 1.2): the later entry wins, as in vaderSentiment
    assert vader.valence(":P") == vader.valence(":p") == 1.0  # ':P' (1.4) is unreachable, as in vaderSentiment
    assert repr(vader) == "Lexicon(7492 words)"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_passage_is_an_error(text: str) -> None:
    for function in (score, explain):
        with pytest.raises(ValueError, match=r"an empty passage has no sentiment to score; .* Pass a sentence"):
            function(text, TOY)
    with pytest.raises(ValueError, match="an empty passage"):
        tokens(text)


@pytest.mark.parametrize("text,why", [
    (None, r"score needs the text of one passage as a str; got NoneType\.$"),
    (b"good", r"got bytes"),
    (["good", "bad"], r"got list\. Pass one passage at a time: \[score\(t, lexicon\) for t in texts\]"),
])
def test_text_must_be_a_str(text: object, why: str) -> None:
    with pytest.raises(TypeError, match=why):
        score(text, TOY)  # type: ignore[arg-type]


def test_bad_lexicons_are_refused() -> None:
    with pytest.raises(TypeError, match=r"score needs a Lexicon as its second argument, .* got dict"):
        score("good", {"good": 2.0})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Lexicon needs a mapping from word to valence"):
        Lexicon([("good", 2.0)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"non-empty lower-case str .* got 'Good'"):
        Lexicon({"Good": 2.0})
    with pytest.raises(TypeError, match=r"the valence of 'good' must be a finite number such as 1\.9; got '2'"):
        Lexicon({"good": "2"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="finite number"):
        Lexicon({"good": math.nan})
    with pytest.raises(TypeError, match=r"valence needs one word as a str"):
        TOY.valence(3)  # type: ignore[arg-type]
