"""Tokenisers written from scratch: characters, words, and byte-pair encoding (BPE).

A language model predicts the next *token*, so before any counting or training
we must decide what a token is. Three answers, from coarse to clever:

- ``CharTokenizer``: one token per Unicode code point. Tiny vocabulary, long
  sequences; works for Chinese as well as English.
- ``WordTokenizer``: one token per word, number, punctuation mark or whitespace
  run (``split_words``). Short sequences, but a huge vocabulary, and any word
  not seen in training is unknown.
- ``BPETokenizer``: start from the 256 byte values and repeatedly merge the most
  frequent adjacent pair into a new token. The vocabulary size is a dial between
  the two extremes, and nothing is ever unknown.

All three have ``fit(text) -> self`` and share one interface (``Tokenizer``),
so code written for one works with any of them. The look-up names follow
Hugging Face ``tokenizers`` (chapter 13 compares with it):

- ``encode(text, *, bos=False, eos=False) -> list[int]``: ids of ``text``,
  optionally wrapped in ``<bos>`` ... ``<eos>`` (the character and word
  tokenisers also take ``unk=``);
- ``decode(ids, *, keep_specials=False) -> str``: special tokens carry no text,
  so by default they are dropped and ``<unk>`` becomes U+FFFD ("\ufffd"); with
  ``keep_specials=True`` their names are written out;
- ``vocab_size``: the number of ids (0 .. vocab_size - 1);
- ``id_to_token(i) -> str`` and ``token_to_id(token) -> int``: the one way to
  look up each direction;
- ``specials``: the names of the special tokens (``SPECIALS`` by default);
  the character and word tokenisers give them the first ids, BPE the last.

Each guarantees the round trip ``decode(encode(s)) == s`` for any text it
covers: for the character and word tokenisers, text made of symbols seen by
``fit``; for BPE, any text at all.

``tokens_per_char`` measures compression (fewer tokens per character means
shorter sequences for the model), and ``segment_max_match`` shows why splitting
Chinese text into words is a hard problem in its own right.
"""

from __future__ import annotations

import functools
import heapq
import operator
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

#: Special tokens, reserved at the front of every ``Vocab`` in this order, so their
#: ids are the same for every corpus: ``<pad>`` = 0 (zero-filled arrays are padding),
#: ``<unk>`` = 1, ``<bos>`` = 2 (beginning of sequence), ``<eos>`` = 3 (end of sequence).
#: (``BPETokenizer`` puts them after its merges instead: see there.)
SPECIALS: tuple[str, ...] = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = SPECIALS


class UnknownTokenError(KeyError, ValueError):
    """A symbol is not in the vocabulary (and no unknown token was asked for).

    It is both a ``KeyError`` (a failed look-up) and a ``ValueError`` (bad input),
    so either ``except`` catches it. ``symbol`` and ``position`` say what and where
    (``position`` is None for a look-up of a single token, ``token_to_id``).
    """

    def __init__(self, message: str, symbol: object, position: int | None) -> None:
        super().__init__(message)
        self.message, self.symbol, self.position = message, symbol, position

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return self.message


class Tokenizer(Protocol):
    """What every tokeniser here provides (used for type hints only): see the module docstring.

    ``fit`` is not part of it: a tokeniser loaded ready-made need not be trainable.
    """

    specials: tuple[str, ...]

    @property
    def vocab_size(self) -> int: ...
    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]: ...
    def decode(self, ids: Sequence[int], *, keep_specials: bool = False) -> str: ...
    def id_to_token(self, i: int) -> str: ...
    def token_to_id(self, token: str) -> int: ...


# --------------------------------------------------------------------------- checking arguments


def _need_text(text: object, what: str = "text") -> str:
    """``text`` itself if it is a ``str``; otherwise a TypeError that says what to pass instead."""
    if not isinstance(text, str):
        if isinstance(text, (list, tuple)):
            hint = " (for a list of records, join their 'text' fields: '\\n'.join(r['text'] for r in rows))"
        elif isinstance(text, (bytes, bytearray)):
            hint = " (decode bytes first: b.decode('utf-8'))"
        else:
            hint = ""
        raise TypeError(f"{what} must be a str, got {type(text).__name__}{hint}.")
    return text


def _need_int(value: object, what: str, minimum: int | None = None) -> int:
    """``value`` as a Python int: an int, a numpy integer or a 0-d integer array/tensor, never a bool or float."""
    shape = getattr(value, "shape", ())
    is_bool = isinstance(value, bool) or str(getattr(value, "dtype", "")) in ("bool", "torch.bool")
    try:
        i = None if is_bool or len(shape) else operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        i = None
    if i is None:
        if len(shape):
            hint = f" of shape {tuple(shape)}; pass a single number, e.g. x[0] or x.item()"
        elif isinstance(value, float) or "float" in str(getattr(value, "dtype", "")):
            hint = "; ids and counts are whole numbers: convert with int(...) if that is what you mean"
        else:
            hint = ""
        raise TypeError(f"{what} must be a whole number (an int), got {value!r} ({type(value).__name__}){hint}.")
    if minimum is not None and i < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {i}.")
    return i


def _need_flag(value: object, what: str) -> bool:
    """``value`` if it is True or False: a flag such as ``unk="no"`` would silently count as true."""
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be True or False, got {value!r} ({type(value).__name__}).")
    return value


def _need_specials(specials: object) -> tuple[str, ...]:
    """``specials`` as a tuple of distinct, non-empty strings."""
    if isinstance(specials, str):
        raise TypeError(f"specials must be a tuple of token names, got the string {specials!r} (which would make "
                        f"every character a special token); write a tuple: specials=({specials!r},)")
    if not isinstance(specials, Iterable):
        raise TypeError(f"specials must be a tuple of token names, got {type(specials).__name__}")
    out = tuple(specials)
    for s in out:
        if not isinstance(s, str) or not s:
            raise TypeError(f"each special token must be a non-empty str, got {s!r} in specials={out!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"special tokens must be distinct, got {list(out)}")
    return out


def _need_bos_eos(specials: tuple[str, ...], bos: object, eos: object, remedy: str) -> tuple[bool, bool]:
    """The two flags, after checking that the tokens asked for exist."""
    flags = _need_flag(bos, "bos"), _need_flag(eos, "eos")
    for flag, name in zip(flags, (BOS, EOS)):
        if flag and name not in specials:
            raise ValueError(f"asked for {name!r}, but the special tokens are {list(specials)}; {remedy} "
                             f"with {name!r} among the specials (the default {SPECIALS} has it)")
    return flags


def _as_ids(ids: object) -> list[int]:
    """A flat list of Python ints from a list, tuple, range, numpy array or torch tensor of whole numbers."""
    if isinstance(ids, str):
        raise TypeError("ids must be a sequence of integer ids, got a str; to turn text into ids use encode(text).")
    if isinstance(ids, (bytes, bytearray)):
        raise TypeError("ids must be a sequence of integer ids, got bytes; to read UTF-8 bytes as text use "
                        "b.decode('utf-8') (or pass list(b) if each byte really is an id).")
    if hasattr(ids, "tolist"):  # numpy arrays and torch tensors
        ids = ids.tolist()  # type: ignore[union-attr]
    if isinstance(ids, range):
        ids = list(ids)
    if not isinstance(ids, (list, tuple)):
        hint = ("wrap a single id in a list: decode([i])" if isinstance(ids, int)
                else "make it a list first: decode(list(ids))")
        raise TypeError(f"ids must be a sequence of integers, got {type(ids).__name__}; {hint}.")
    if all(type(i) is int for i in ids):
        return list(ids)
    out = []
    for p, i in enumerate(ids):
        try:
            out.append(_need_int(i, "id"))
        except TypeError:
            raise TypeError(f"ids must be whole numbers in one flat sequence, got {i!r} ({type(i).__name__}) "
                            f"at position {p}; decode one sequence at a time, e.g. decode(batch[0]).") from None
    return out


def _shown(token: str, keep_specials: bool) -> str:
    """How ``decode`` writes the special token ``token``: its name, or nothing (U+FFFD for ``<unk>``)."""
    return token if keep_specials else "\ufffd" if token == UNK else ""


# --------------------------------------------------------------------------- vocabulary


class Vocab:
    """A two-way map between tokens (strings) and ids (0, 1, 2, ...).

    The special tokens take the first ids (``SPECIALS``: ``<pad>`` 0, ``<unk>`` 1,
    ``<bos>`` 2, ``<eos>`` 3), then the ordinary tokens follow in sorted order
    (code-point order), so the same text always gives the same ids.
    """

    def __init__(self, itos: Sequence[str], specials: Sequence[str] = SPECIALS,
                 counts: dict[str, int] | None = None) -> None:
        specials = _need_specials(specials)
        if isinstance(itos, str) or not isinstance(itos, Iterable):
            raise TypeError(f"itos must be a list of token strings, got {type(itos).__name__}"
                            + (" (use list(s) for one token per character)" if isinstance(itos, str) else ""))
        itos = list(itos)
        bad = next((t for t in itos if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(f"every token must be a str, got {bad!r} ({type(bad).__name__}) in itos")
        if len(set(itos)) != len(itos):
            dup = next(t for t, c in Counter(itos).items() if c > 1)
            raise ValueError(f"token {dup!r} appears twice in the vocabulary; every token needs one id")
        if list(itos[:len(specials)]) != list(specials):
            raise ValueError(f"the special tokens {list(specials)} must come first, "
                             f"got {list(itos[:len(specials)])}")
        self.itos: list[str] = itos                             # id -> token
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}  # token -> id
        self.specials: tuple[str, ...] = specials
        self.counts: dict[str, int] = dict(counts or {})        # training counts, for Zipf plots

    @classmethod
    def build(cls, tokens: Iterable[str], specials: Sequence[str] = SPECIALS, min_count: int = 1) -> Vocab:
        """Count ``tokens`` and keep those seen at least ``min_count`` times, after the specials.

        A cut-off (``min_count`` > 1) shrinks the vocabulary by dropping rare
        tokens; text that contains them then needs ``unk=True`` when encoded.
        (A ``str`` is an iterable of its characters: ``Vocab.build("abc")`` has
        the tokens "a", "b", "c".)
        """
        min_count = _need_int(min_count, "min_count", 1)
        specials = _need_specials(specials)
        if not isinstance(tokens, Iterable):
            raise TypeError(f"tokens must be an iterable of token strings, got {type(tokens).__name__}")
        counts = Counter(tokens)
        bad = next((t for t in counts if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(f"every token must be a str, got {bad!r} ({type(bad).__name__}) among the tokens")
        kept = sorted(t for t, c in counts.items() if c >= min_count and t not in specials)
        return cls([*specials, *kept], specials, counts)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and token in self.stoi

    def __repr__(self) -> str:
        n = len(self.specials)
        return f"Vocab({len(self)} tokens: {n} special + {len(self) - n} ordinary)"

    def lookup(self, token: str, *, unk: bool = False, position: int = 0, what: str = "token") -> int:
        """The id of ``token``; an unknown token maps to ``<unk>`` if ``unk`` is true, else raises."""
        if not isinstance(token, str):
            raise TypeError(f"a {what} must be a str, got {token!r} ({type(token).__name__})")
        i = self.stoi.get(token)
        if i is not None:
            return i
        if unk:
            if UNK not in self.stoi:
                raise ValueError(f"unk=True needs {UNK!r} in the vocabulary; "
                                 f"build it with {UNK!r} among the specials")
            return self.stoi[UNK]
        raise UnknownTokenError(
            f"{what} {token!r} at position {position} of the input is not in the vocabulary "
            f"({len(self)} tokens). Fit the tokenizer on text that contains it (or lower min_count), "
            f"or pass unk=True to map unknown {what}s to {UNK!r}.", token, position)

    def encode(self, tokens: Sequence[str], *, unk: bool = False, bos: bool = False, eos: bool = False,
               what: str = "token") -> list[int]:
        """Ids of ``tokens``, optionally wrapped in ``<bos>`` ... ``<eos>``."""
        unk = _need_flag(unk, "unk")
        bos, eos = _need_bos_eos(self.specials, bos, eos, "build the vocabulary")
        try:                                              # fast path: every token known
            ids = [self.stoi[t] for t in tokens]
        except (KeyError, TypeError):                     # map to <unk>, or say which token and where
            ids = [self.lookup(t, unk=unk, position=p, what=what) for p, t in enumerate(tokens)]
        return ([self.stoi[BOS]] if bos else []) + ids + ([self.stoi[EOS]] if eos else [])

    def token(self, i: int) -> str:
        """The token with id ``i`` (an int, or a numpy/torch integer scalar)."""
        i = _need_int(i, "id")
        if not 0 <= i < len(self):
            raise IndexError(f"id {i} is out of range: this vocabulary has ids 0..{len(self) - 1}")
        return self.itos[i]


# --------------------------------------------------------------------------- characters and words


_T = TypeVar("_T", bound="_VocabTokenizer")


class _VocabTokenizer:
    """Shared machinery of the character and word tokenisers: split, then look up in a ``Vocab``.

    Subclasses say how text is split into symbols (``_split``) and what a symbol
    is called in error messages (``_what``). The special tokens take ids
    0 .. len(specials) - 1 (``SPECIALS``: ``<pad>`` 0, ``<unk>`` 1, ``<bos>`` 2, ``<eos>`` 3).
    """

    _what = "symbol"

    def __init__(self, min_count: int = 1, unk: bool = False, specials: Sequence[str] = SPECIALS) -> None:
        self.min_count = _need_int(min_count, "min_count", 1)
        self.unk = _need_flag(unk, "unk")
        self.specials: tuple[str, ...] = _need_specials(specials)
        if self.unk and UNK not in self.specials:
            raise ValueError(f"unk=True maps unknown {self._what}s to {UNK!r}, but the special tokens are "
                             f"{list(self.specials)}; add {UNK!r} to the specials, or leave unk=False")
        for s in self.specials:
            if self._split(s) == [s]:
                raise ValueError(
                    f"special token {s!r} is also a single {self._what} of ordinary text, so text containing it "
                    f"would encode as the special token and decode to nothing; give special tokens names that "
                    f"text splits into several {self._what}s, like '<pad>' or '[PAD]'")
        self.vocab: Vocab | None = None

    def _split(self, text: str) -> list[str]:
        raise NotImplementedError

    def fit(self: _T, text: str) -> _T:
        """Build the vocabulary from the symbols of ``text``; returns ``self``."""
        self.vocab = Vocab.build(self._split(_need_text(text)), self.specials, self.min_count)
        return self

    def _fitted(self) -> Vocab:
        if self.vocab is None:
            raise RuntimeError(f"{type(self).__name__} has no vocabulary yet: call .fit(text) first")
        return self.vocab

    @property
    def vocab_size(self) -> int:
        return len(self._fitted())

    def encode(self, text: str, *, bos: bool = False, eos: bool = False, unk: bool | None = None) -> list[int]:
        """Ids of the symbols of ``text``. ``unk`` overrides the tokeniser's own setting for this call.

        A special token's name in the text (say "<bos>") is not a special token:
        it is split into symbols like any other text. ``bos``/``eos`` add them.
        """
        vocab = self._fitted()
        remedy = f"make the tokenizer with {type(self).__name__}(specials=...)"
        bos, eos = _need_bos_eos(self.specials, bos, eos, remedy)
        unk = self.unk if unk is None else _need_flag(unk, "unk")
        return vocab.encode(self._split(_need_text(text)), unk=unk, bos=bos, eos=eos, what=self._what)

    def decode(self, ids: Sequence[int], *, keep_specials: bool = False) -> str:
        """Text of ``ids``: the symbols joined back together.

        Special tokens carry no text: by default ``<pad>``, ``<bos>`` and ``<eos>``
        are dropped and ``<unk>`` becomes U+FFFD (the replacement character "\ufffd");
        with ``keep_specials=True`` they are written out by name, e.g. ``<bos>``.
        """
        vocab = self._fitted()
        keep_specials = _need_flag(keep_specials, "keep_specials")
        ids = _as_ids(ids)
        if ids and (min(ids) < 0 or max(ids) >= len(vocab)):
            p, i = next((p, i) for p, i in enumerate(ids) if not 0 <= i < len(vocab))
            raise IndexError(f"id {i} at position {p} is out of range: this vocabulary has ids 0..{len(vocab) - 1}")
        out = [vocab.itos[i] for i in ids]
        specials = set(vocab.specials)
        return "".join(_shown(t, keep_specials) if t in specials else t for t in out)

    def id_to_token(self, i: int) -> str:
        """The token with id ``i`` (a special token by its name, e.g. ``"<bos>"``)."""
        return self._fitted().token(i)

    def token_to_id(self, token: str) -> int:
        """The id of ``token``: one symbol, or a special token's name. Raises ``UnknownTokenError`` if absent."""
        vocab = self._fitted()
        if not isinstance(token, str):
            raise TypeError(f"token must be a str, got {token!r} ({type(token).__name__})")
        i = vocab.stoi.get(token)
        if i is None:
            raise UnknownTokenError(
                f"{token!r} is not a token of this {type(self).__name__} ({len(vocab)} ids: the specials "
                f"{list(vocab.specials)}, then one per {self._what} seen by fit). Look up one {self._what} "
                f"at a time; to turn longer text into ids use encode(text).", token, None)
        return i


class CharTokenizer(_VocabTokenizer):
    """One token per character (Unicode code point), ids in code-point order after the specials.

    It handles any script: a Chinese character is one code point like "a" is.
    (A few visible characters are several code points, e.g. "é" written as "e"
    plus a combining accent; normalise text to NFC first: every shipped corpus is NFC.)
    """

    _what = "character"

    def _split(self, text: str) -> list[str]:
        return list(text)


#: A word (letters and digits, with internal apostrophes or hyphens: "don't",
#: "well-known"), a number with a decimal point or separators ("3.14", "1,000"),
#: a run of whitespace, or any other single character (each punctuation mark
#: is its own token). Every character matches one branch, so nothing is lost.
WORD_PATTERN = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:['’-][^\W_]+)*|\s+|\S")


def split_words(text: str) -> list[str]:
    """Split ``text`` into words, numbers, punctuation marks and whitespace runs (``WORD_PATTERN``).

    Whitespace runs are tokens too, so ``"".join(split_words(s)) == s`` for every
    string: the word tokeniser's round trip is exact, line breaks included.
    A run of Chinese characters has no spaces to split on and comes out as one
    "word" (see ``segment_max_match`` for why splitting it is hard).
    """
    return WORD_PATTERN.findall(_need_text(text))


class WordTokenizer(_VocabTokenizer):
    """One token per item of ``split_words``: words, numbers, punctuation, whitespace runs.

    ``min_count`` drops words seen fewer times in training (they then need
    ``unk=True`` to encode, and decode as U+FFFD), trading coverage for a smaller vocabulary.
    """

    _what = "word"

    def _split(self, text: str) -> list[str]:
        return split_words(text)


def segment_max_match(text: str, dictionary: Iterable[str]) -> list[str]:
    """Forward maximum matching: split ``text`` greedily into the longest dictionary words.

    At each position take the longest dictionary word that starts there (a
    single character if none does). Simple and often right, but greedy: with the
    dictionary {研究, 研究生, 生命, 的, 起源}, "研究生命的起源" ("study the origin
    of life") comes out as 研究生/命/的/起源 ("graduate student / fate / of / origin"),
    because 研究生 is longer than 研究. Chinese writes no spaces between words,
    so word-level tokenisation of Chinese needs a segmenter, and segmenters err.
    """
    text = _need_text(text)
    if isinstance(dictionary, str) or not isinstance(dictionary, Iterable):
        raise TypeError(f"dictionary must be a collection of words, got {type(dictionary).__name__}"
                        + (f" (a str would be a set of single characters); write [{dictionary!r}] for one word"
                           if isinstance(dictionary, str) else ""))
    words = set(dictionary)
    bad = next((w for w in words if not isinstance(w, str)), None)
    if bad is not None:
        raise TypeError(f"every dictionary word must be a str, got {bad!r} ({type(bad).__name__})")
    longest = max(map(len, words), default=1)
    out: list[str] = []
    i = 0
    while i < len(text):
        for n in range(min(longest, len(text) - i), 0, -1):
            if n == 1 or text[i:i + n] in words:
                out.append(text[i:i + n])
                i += n
                break
    return out


# --------------------------------------------------------------------------- byte-pair encoding

#: GPT-2's pre-tokenisation pattern, written for Python's ``re`` (which lacks
#: ``\p{L}``): English contractions, then an optional space followed by a run of
#: letters, of digits, or of other symbols; then whitespace. A space attaches to
#: the word after it (" the"), so merges never cross a word boundary.
#: ``[^\W\d_]`` stands in for ``\p{L}`` and ``\d`` for ``\p{N}``: identical on
#: ASCII text except the control characters \x1c-\x1f (whitespace to Python, not
#: to GPT-2); elsewhere they differ only for rare characters such as "²" or "Ⅻ".
SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""

# Text on which a split pattern is tried for empty matches when it is given (letters, digits, an
# apostrophe, punctuation, whitespace of three kinds, accents, Chinese, an underscore).
_PROBE = "It's 12 o'clock, ça va?\n\t  研究_x!! end "


def _merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids``, left to right, by ``new_id``."""
    out: list[int] = []
    i, (a, b) = 0, pair
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _split_regex(pattern: object) -> re.Pattern[str] | None:
    """The compiled split pattern (None for no pattern), after checking that it can split text losslessly."""
    if pattern is not None and not isinstance(pattern, (str, re.Pattern)):
        raise TypeError(f"pattern must be a regular expression (a str or re.Pattern) or None, "
                        f"got {type(pattern).__name__}")
    return _compile_split(pattern)


@functools.lru_cache(maxsize=32)
def _compile_split(pattern: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    if isinstance(pattern, str):
        try:
            rx = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {e}") from e
    else:
        rx = pattern
    if not isinstance(rx.pattern, str):
        raise TypeError(f"pattern must match str, not bytes: got {rx.pattern!r}")
    if rx.groups:
        raise ValueError(f"pattern {rx.pattern!r} has {rx.groups} capturing group(s): re.findall would return "
                         "the groups, not the pieces; write groups as (?:...)")
    if rx.match("") is not None or any(m.start() == m.end() for m in rx.finditer(_PROBE)):
        raise ValueError(f"pattern {rx.pattern!r} can match the empty string, which is not a piece of text; "
                         "every branch must match at least one character (use + rather than *)")
    return rx


def _not_covered(rx: re.Pattern[str], text: str) -> ValueError:
    """The error for a pattern whose pieces do not tile ``text``: where the first gap (or empty piece) is."""
    pos = 0
    for m in rx.finditer(text):
        if m.start() == m.end():
            return ValueError(f"pattern {rx.pattern!r} matched the empty string at position {m.start()} of the text; "
                              "every branch must match at least one character (use + rather than *)")
        if m.start() > pos:
            break
        pos = m.end()
    return ValueError(
        f"pattern {rx.pattern!r} does not cover the whole text: it drops {text[pos]!r} at position {pos}, so "
        f"decode(encode(text)) would lose it. Add a catch-all branch at the end, e.g. pattern + r'|\\s+|\\S'.")


def pretokenize(text: str, pattern: str | re.Pattern[str] | None = SPLIT_PATTERN) -> list[str]:
    """Pre-tokenise: the pieces of ``text`` that merges may not cross (all of it if no pattern).

    The pieces must tile the text (``"".join(pieces) == text``): a pattern that
    skips a character (say ``r"\\w+"``, which skips spaces) is an error naming the
    first character it drops, and a pattern that can match the empty string, or
    has capturing groups, is refused. Also checks that ``text`` has a UTF-8 form,
    so that byte-level BPE can read it.
    """
    text = _need_text(text)
    rx = _split_regex(pattern)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"character {text[e.start]!r} at position {e.start} cannot be written as UTF-8 "
                         "(a lone surrogate); clean the text first, "
                         "e.g. s.encode('utf-8', 'replace').decode()") from e
    if rx is None:
        return [text] if text else []
    pieces = rx.findall(text)
    if sum(map(len, pieces)) != len(text) or "" in pieces:
        raise _not_covered(rx, text)
    return pieces


def naive_bpe_merges(text: str, num_merges: int, pattern: str | None = SPLIT_PATTERN) -> list[tuple[int, int]]:
    """The textbook BPE loop, deliberately slow: recount every pair of the whole text after every merge.

    Repeat ``num_merges`` times: count all adjacent pairs of ids in every
    pre-tokenised chunk, take the most frequent (ties: the smallest pair of ids),
    give it the next id (256, 257, ...) and replace it everywhere. Each merge
    costs a pass over the whole text, O(len(text) x num_merges) in total: fine
    for a paragraph, hopeless for a book. ``BPETokenizer.fit`` learns the same merges.
    """
    num_merges = _need_int(num_merges, "num_merges", 0)
    seqs = [list(c.encode("utf-8")) for c in pretokenize(text, pattern)]
    merges: list[tuple[int, int]] = []
    for k in range(num_merges):
        counts = Counter(p for ids in seqs for p in zip(ids, ids[1:]))
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        merges.append(pair)
        seqs = [_merge(ids, pair, 256 + k) for ids in seqs]
    return merges


class BPETokenizer:
    """Byte-level byte-pair encoding, trained from scratch.

    Policy: text is UTF-8 bytes, and the base vocabulary is the 256 byte values
    (ids 0-255), so every string can be encoded: nothing is ever unknown. Merge
    number k creates token 256 + k, the concatenation of the pair's bytes.

    Special tokens (``specials``, by default ``SPECIALS``) come *after* the
    merges, in the order given: with the defaults and ``m`` merges, ``<pad>`` is
    256 + m, ``<unk>`` 257 + m, ``<bos>`` 258 + m and ``<eos>`` 259 + m (GPT-2
    likewise puts its ``<|endoftext|>`` last). So
    ``vocab_size == 256 + len(merges) + len(specials)``, and the specials' ids
    depend on the number of merges (``truncated`` moves them): look them up with
    ``token_to_id("<eos>")`` rather than writing numbers down. ``encode`` never
    produces a special token from text: a literal "<bos>" in the text is encoded
    as its bytes, like any other text (as tiktoken does by default); only
    ``bos=True``/``eos=True`` add them. BPE never emits ``<unk>``, but has it, so
    code written for any tokeniser here works with this one.

    Training (``fit``): pre-tokenise with ``pattern`` (GPT-2's, ``SPLIT_PATTERN``)
    so merges stay inside words, then repeat: merge the most frequent adjacent
    pair. Ties go to the smallest pair of ids (compared as tuples), so training is
    deterministic. Hugging Face ``tokenizers`` uses the same rule, but its
    ``ByteLevel`` numbers the bytes in another order, so an exact tie may go the other way.
    The pattern's pieces must cover the whole text (see ``pretokenize``).

    Training is *incremental*, which is what makes it fast:

    - the text is reduced to its distinct chunks ("word types") with counts, so
      " the" is processed once, weighted by its thousands of occurrences;
    - ``where[pair]`` indexes the word types containing each pair, so a merge only
      revisits those words and adjusts the counts of the pairs they lose and gain;
    - a heap holds (-count, pair); a count that changed since its entry was pushed
      is detected when popped (lazy invalidation) and the entry is re-queued.

    Two different merges can spell the same bytes (say ("a", "bc") and ("ab", "c"));
    each still gets its own id (Hugging Face ``tokenizers`` reuses the first id),
    and ``token_to_id`` of those bytes gives the lowest one.

    Encoding applies the merges in learned order (always the lowest-ranked pair
    present next), chunk by chunk, caching each chunk's ids. Before ``fit`` the
    tokenizer has no merges and encodes plain UTF-8 bytes, a valid tokenizer
    with vocabulary 256 + len(specials).

    ``vocab`` maps the byte and merge ids (0 .. 255 + len(merges)) to their bytes;
    the special tokens have no bytes and are not in it.
    """

    def __init__(self, num_merges: int = 1000, pattern: str | None = SPLIT_PATTERN,
                 specials: Sequence[str] = SPECIALS) -> None:
        self.num_merges = _need_int(num_merges, "num_merges", 0)
        _split_regex(pattern)                             # refuse a bad pattern now, not at fit
        self.pattern = pattern
        self.specials: tuple[str, ...] = _need_specials(specials)
        self._set_merges([])

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges) + len(self.specials)

    def fit(self, text: str) -> BPETokenizer:
        """Learn up to ``num_merges`` merges from ``text`` (fewer if no pair is left); returns ``self``."""
        types = Counter(pretokenize(_need_text(text), self.pattern))
        words = [list(w.encode("utf-8")) for w in types]
        freq = list(types.values())
        counts: defaultdict[tuple[int, int], int] = defaultdict(int)
        where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
        for w, (ids, n) in enumerate(zip(words, freq)):
            for p in zip(ids, ids[1:]):
                counts[p] += n
                where[p].add(w)
        heap = [(-c, p) for p, c in counts.items()]
        heapq.heapify(heap)
        merges: list[tuple[int, int]] = []
        while heap and len(merges) < self.num_merges:
            neg, pair = heapq.heappop(heap)
            if -neg != counts[pair]:                      # stale entry: re-queue with the true count
                if counts[pair] > 0:
                    heapq.heappush(heap, (-counts[pair], pair))
                continue
            new_id = 256 + len(merges)
            merges.append(pair)
            grown: set[tuple[int, int]] = set()
            for w in where.pop(pair):                     # only the word types that contain the pair
                old, n = words[w], freq[w]                # its ids before the merge, and how often it occurs
                new = words[w] = _merge(old, pair, new_id)
                # The word's pairs before and after: subtract the old ones, add the new ones, each
                # weighted by the word's frequency. Pairs that gained count go back on the heap.
                old_pairs, new_pairs = Counter(zip(old, old[1:])), Counter(zip(new, new[1:]))
                for p, c in old_pairs.items():
                    counts[p] -= c * n
                    if p not in new_pairs and p != pair:
                        where[p].discard(w)
                for p, c in new_pairs.items():
                    counts[p] += c * n
                    where[p].add(w)
                    if c > old_pairs[p]:
                        grown.add(p)
            for p in grown:                               # pairs that gained: queue their new count
                heapq.heappush(heap, (-counts[p], p))
        self._set_merges(merges)
        return self

    def truncated(self, num_merges: int) -> BPETokenizer:
        """A new tokenizer with only the first ``num_merges`` merges, and the same pattern and specials.

        Training is greedy, one merge at a time, so this is exactly the tokenizer
        that training with ``num_merges`` would have produced: one fit gives the
        whole curve of vocabulary size against compression. The special tokens
        follow the merges, so their ids are smaller here than in ``self``.
        """
        num_merges = _need_int(num_merges, "num_merges")
        if not 0 <= num_merges <= len(self.merges):
            raise ValueError(f"num_merges must lie in 0..{len(self.merges)} (the merges learned), got {num_merges}")
        small = BPETokenizer(num_merges, self.pattern, self.specials)
        small._set_merges(self.merges[:num_merges])
        return small

    def _set_merges(self, merges: list[tuple[int, int]]) -> None:
        self.merges: list[tuple[int, int]] = list(merges)  # merge k: the pair that became token 256 + k
        self._ranks = {p: k for k, p in enumerate(self.merges)}
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for k, (a, b) in enumerate(self.merges):
            self.vocab[256 + k] = self.vocab[a] + self.vocab[b]
        self._id_of_bytes: dict[bytes, int] = {}
        for i, b in self.vocab.items():                    # ascending ids: the lowest id wins
            self._id_of_bytes.setdefault(b, i)
        n = len(self.vocab)
        self._special_ids = {s: n + j for j, s in enumerate(self.specials)}
        self._cache: dict[str, list[int]] = {}

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = self._cache.get(chunk)
        if ids is None:
            ids = list(chunk.encode("utf-8"))
            while len(ids) > 1:
                pair = min(zip(ids, ids[1:]), key=lambda p: self._ranks.get(p, len(self._ranks)))
                if pair not in self._ranks:
                    break                                 # no learned merge applies any more
                ids = _merge(ids, pair, 256 + self._ranks[pair])
            self._cache[chunk] = ids
        return ids

    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]:
        """Token ids of ``text``: any string works (byte-level, nothing is unknown).

        Special tokens come only from ``bos``/``eos``, never from the text: "<eos>"
        written in the text is encoded as its bytes.
        """
        bos, eos = _need_bos_eos(self.specials, bos, eos, "make the tokenizer with BPETokenizer(specials=...)")
        ids = [i for chunk in pretokenize(_need_text(text), self.pattern) for i in self._encode_chunk(chunk)]
        if bos or eos:
            ids = ([self._special_ids[BOS]] if bos else []) + ids + ([self._special_ids[EOS]] if eos else [])
        return ids

    def decode(self, ids: Sequence[int], *, keep_specials: bool = False) -> str:
        """Text of ``ids``: their bytes joined, read as UTF-8.

        Ids from ``encode`` always give back the exact text. An arbitrary id
        sequence may cut a multi-byte character in half; such bytes become U+FFFD.
        Special tokens are dropped, ``<unk>`` becomes U+FFFD, or with
        ``keep_specials=True`` their names are written out.
        """
        ids = _as_ids(ids)
        keep_specials = _need_flag(keep_specials, "keep_specials")
        if not ids:
            return ""
        if min(ids) < 0 or max(ids) >= self.vocab_size:
            p, i = next((p, i) for p, i in enumerate(ids) if not 0 <= i < self.vocab_size)
            raise IndexError(f"id {i} at position {p} is out of range: this tokenizer has ids "
                             f"0..{self.vocab_size - 1}")
        vocab, n = self.vocab, len(self.vocab)
        if max(ids) < n:                                  # no special tokens: one join
            return b"".join([vocab[i] for i in ids]).decode("utf-8", errors="replace")
        out: list[str] = []
        run: list[bytes] = []
        for i in ids:
            if i < n:
                run.append(vocab[i])
            else:
                out += [b"".join(run).decode("utf-8", errors="replace"), _shown(self.specials[i - n], keep_specials)]
                run = []
        out.append(b"".join(run).decode("utf-8", errors="replace"))
        return "".join(out)

    def id_to_token(self, i: int) -> str:
        """Token ``i`` as readable text: a special token by its name; bytes that are not whole
        UTF-8 characters are shown as ``\\xNN`` (``token_to_id`` reads them back)."""
        i = _need_int(i, "id")
        if not 0 <= i < self.vocab_size:
            raise IndexError(f"id {i} is out of range: this tokenizer has ids 0..{self.vocab_size - 1}")
        if i >= len(self.vocab):
            return self.specials[i - len(self.vocab)]
        return self.vocab[i].decode("utf-8", errors="backslashreplace")

    def token_to_id(self, token: str | bytes) -> int:
        """The id of ``token``: a special token's name, or a str or bytes whose bytes are one token.

        A str is read as its UTF-8 bytes; if those are no token, its ``\\xNN``
        escapes (as ``id_to_token`` writes bytes that are not whole characters)
        are read as bytes. A str equal to a special token's name means the special
        token: pass bytes for an ordinary token spelled the same. If two merges
        spell the same bytes, the lowest id is returned.
        """
        if isinstance(token, str):
            if token in self._special_ids:
                return self._special_ids[token]
            candidates = [token.encode("utf-8", errors="surrogatepass")]
            if "\\x" in token:
                parts = re.split(r"\\x([0-9a-f]{2})", token)
                candidates.append(b"".join(bytes([int(t, 16)]) if k % 2 else t.encode("utf-8", errors="surrogatepass")
                                           for k, t in enumerate(parts)))
        elif isinstance(token, (bytes, bytearray)):
            candidates = [bytes(token)]
        else:
            raise TypeError(f"token must be a str (text or a special token's name) or bytes, "
                            f"got {token!r} ({type(token).__name__})")
        for b in candidates:
            if b in self._id_of_bytes:
                return self._id_of_bytes[b]
        raise UnknownTokenError(
            f"{token!r} is not one token of this BPETokenizer (256 bytes, {len(self.merges)} merges, specials "
            f"{list(self.specials)}); to turn text into ids use encode(text).", token, None)


def tokens_per_char(tokenizer: Tokenizer, text: str) -> float:
    """Compression: tokens produced per character of ``text`` (1.0 for characters; lower is shorter).

    Fewer tokens per character means shorter sequences for the model, at the
    price of a bigger vocabulary (a bigger softmax, rarer tokens).
    """
    if isinstance(tokenizer, type) or not callable(getattr(tokenizer, "encode", None)):
        raise TypeError(f"tokenizer must be a tokenizer object with .encode(text), e.g. CharTokenizer().fit(text), "
                        f"got {tokenizer!r}")
    if not _need_text(text):
        raise ValueError("tokens_per_char needs a non-empty text")
    return len(tokenizer.encode(text)) / len(text)
