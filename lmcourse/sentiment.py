"""Lexicon-based sentiment: add up the ratings people gave to words, and see where that fails.

A sentiment lexicon lists words with a valence, how positive or negative people judge each one. The
course ships VADER's (``datasets/vader_lexicon.tsv``: 7,520 words, slang and emoticons, each rated from
-4 to +4 by ten people, Hutto & Gilbert 2014). :func:`score` is a simplified VADER:

1. lower-case the text and cut it into tokens: words (letters, with inner apostrophes: ``don't``) and
   simple emoticons (``:)``, ``;-(``, ``:d``);
2. look each token up in the lexicon; tokens it lacks count nothing;
3. negation: a word's valence is multiplied by :data:`N_SCALAR` (-0.74, VADER's value) for each negator
   (``not``, ``no``, ``never``, ``nor``, ``cannot``, any word ending in ``n't``, ...) among the
   :data:`WINDOW` (3) tokens just before it, across commas and full stops as in VADER ("not good :(" negates
   ``:(`` too). Negators are never scored themselves;
4. normalise the sum ``x`` as VADER's compound score does, ``x / sqrt(x**2 + 15)``: a number in (-1, 1).

Left out of VADER, so scores differ from ``vaderSentiment``'s: intensifiers (``very``, ``extremely``,
``kind of``), words in capitals, exclamation and question marks, the "but" rule (VADER weighs what follows
"but" more), ``least``, idioms (``the bomb``, ``kiss of death``), multi-word entries (``can't stand``),
emoji, and VADER's exceptions to negation (``never so``, ``without doubt``, ``no`` scored as a word when no
rated word follows it). What no lexicon method sees at all: irony, archaic or rare words missing from a
lexicon built for social-media text, comparisons (``like``), and who feels what.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from types import MappingProxyType

#: VADER's factor for a negated word (``vaderSentiment.N_SCALAR``): "not good" is good's valence times -0.74.
N_SCALAR = -0.74
#: VADER's normalising constant: ``x / sqrt(x**2 + ALPHA)``.
ALPHA = 15.0
#: A negator acts on the rated words up to this many tokens after it.
WINDOW = 3
#: VADER's negation words (``vaderSentiment.NEGATE``) and ``no``; any token ending in ``n't`` negates too.
NEGATORS = frozenset({
    "aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt", "dont", "hadnt", "hasnt", "havent",
    "isnt", "mightnt", "mustnt", "neither", "neednt", "never", "no", "none", "nope", "nor", "not", "nothing",
    "nowhere", "oughtnt", "shant", "shouldnt", "uhuh", "wasnt", "werent", "without", "wont", "wouldnt", "rarely",
    "seldom", "despite"})
TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*|[:;=][-o*']?[()dp\]\[/\\|]")


class Lexicon:
    """Words and their valence (the mean human rating, -4 to +4). ``Lexicon.load()`` reads VADER's.

    ``Lexicon({"good": 1.9, "bad": -2.5})`` makes one by hand (for tests and exercises); keys are
    looked up lower-cased, as :func:`score` lower-cases the text.
    """

    def __init__(self, valences: Mapping[str, float]) -> None:
        if not isinstance(valences, Mapping):
            raise TypeError(f"Lexicon needs a mapping from word to valence, e.g. Lexicon({{'good': 1.9}}); "
                            f"got {type(valences).__name__}. To read VADER's lexicon, use Lexicon.load().")
        for word, value in valences.items():
            if not isinstance(word, str) or not word or word != word.lower():
                raise ValueError(f"Lexicon words must be non-empty lower-case str (text is lower-cased before lookup); "
                                 f"got {word!r}.")
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise TypeError(f"the valence of {word!r} must be a finite number such as 1.9; got {value!r}.")
        self.valences: Mapping[str, float] = MappingProxyType({w: float(v) for w, v in valences.items()})

    @classmethod
    def load(cls, name: str = "vader_lexicon") -> Lexicon:
        """The lexicon of dataset ``name`` (checksummed), keyed by the lower-cased token, valence = ``mean``.

        As ``vaderSentiment`` does: a token listed twice (14 in VADER's file, which has an emoticon section
        and a word section, e.g. ``d:``) takes its later entry, and the 14 entries with capitals (``:D``,
        ``:P``, ``O.o``) are left out, because text is looked up lower-cased and never matches them (all but
        ``:P``, ``:-Þ`` and ``:Þ`` have a lower-case twin rated the same).
        """
        from lmcourse import data

        valences: dict[str, float] = {}
        for row in data.load_records(name):
            if row["token"] == row["token"].lower():
                valences[row["token"]] = float(row["mean"])
        return cls(valences)

    def valence(self, word: str) -> float | None:
        """The valence of ``word`` (looked up lower-cased), or None if the lexicon lacks it."""
        if not isinstance(word, str):
            raise TypeError(f"valence needs one word as a str, e.g. lexicon.valence('good'); got {type(word).__name__} "
                            f"{word!r}.")
        return self.valences.get(word.lower())

    def __len__(self) -> int:
        return len(self.valences)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word.lower() in self.valences

    def __repr__(self) -> str:
        return f"Lexicon({len(self)} words)"


def tokens(text: str) -> list[str]:
    """The lower-cased words and emoticons of ``text``, as :func:`score` sees them."""
    _check_text(text, "tokens")
    return TOKEN.findall(text.lower())


def is_negator(token: str) -> bool:
    """Whether ``token`` negates the rated words after it (``not``, ``never``, ``don't``, ...)."""
    return token in NEGATORS or token.endswith("n't")


def explain(text: str, lexicon: Lexicon, *, negation: bool = True) -> list[tuple[str, float]]:
    """The tokens of ``text`` that the lexicon rates, in order, each with the valence it adds to the score
    (times :data:`N_SCALAR` per negator among the :data:`WINDOW` tokens before it, if ``negation``)."""
    _check_text(text, "explain")
    _check_lexicon(lexicon, "explain")
    words = TOKEN.findall(text.lower())
    scored = []
    for i, word in enumerate(words):
        value = lexicon.valences.get(word)
        if value is None or is_negator(word):
            continue
        if negation:
            value *= N_SCALAR ** sum(is_negator(w) for w in words[max(0, i - WINDOW):i])
        scored.append((word, value))
    return scored


def normalize(total: float) -> float:
    """VADER's squashing of a sum of valences into (-1, 1): ``total / sqrt(total**2 + 15)``."""
    return total / math.sqrt(total * total + ALPHA)


def score(text: str, lexicon: Lexicon, *, negation: bool = True) -> float:
    """The sentiment of ``text``, from -1 (negative) to +1 (positive): the normalised sum of :func:`explain`'s
    valences. 0.0 when no word of the text is in the lexicon. See the module docstring for what it ignores."""
    _check_text(text, "score")
    _check_lexicon(lexicon, "score")
    return normalize(sum(value for _word, value in explain(text, lexicon, negation=negation)))


def _check_text(text: object, function: str) -> None:
    example = f"{function}('What a lovely day.'{'' if function == 'tokens' else ', lexicon'})"
    if not isinstance(text, str):
        hint = (f" Pass one passage at a time: [{function}(t{'' if function == 'tokens' else ', lexicon'}) "
                "for t in texts]."
                if isinstance(text, (list, tuple)) else "")
        raise TypeError(f"{function} needs the text of one passage as a str; got {type(text).__name__}.{hint}")
    if not text.strip():
        raise ValueError(f"an empty passage has no sentiment to score; {function} got {text!r}. Pass a sentence, "
                         f"e.g. {example}.")


def _check_lexicon(lexicon: object, function: str) -> None:
    if not isinstance(lexicon, Lexicon):
        raise TypeError(f"{function} needs a Lexicon as its second argument, e.g. lexicon = Lexicon.load(); "
                        f"got {type(lexicon).__name__}.")
