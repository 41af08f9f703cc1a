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

Every tokeniser has ``fit(text) -> self``, ``encode(s) -> list[int]``,
``decode(ids) -> str`` and ``vocab_size``, and guarantees the round trip
``decode(encode(s)) == s`` for any text it covers: for the character and word
tokenisers, text made of symbols seen by ``fit``; for BPE, any text at all.

``tokens_per_char`` measures compression (fewer tokens per character means
shorter sequences for the model), and ``segment_max_match`` shows why splitting
Chinese text into words is a hard problem in its own right.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

#: Special tokens, reserved at the front of every ``Vocab`` in this order, so their
#: ids are the same for every corpus: ``<pad>`` = 0 (zero-filled arrays are padding),
#: ``<unk>`` = 1, ``<bos>`` = 2 (beginning of sequence), ``<eos>`` = 3 (end of sequence).
SPECIALS: tuple[str, ...] = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = SPECIALS


class UnknownTokenError(KeyError, ValueError):
    """A symbol is not in the vocabulary (and no unknown token was asked for).

    It is both a ``KeyError`` (a failed look-up) and a ``ValueError`` (bad input),
    so either ``except`` catches it. ``symbol`` and ``position`` say what and where.
    """

    def __init__(self, message: str, symbol: str, position: int) -> None:
        super().__init__(message)
        self.message, self.symbol, self.position = message, symbol, position

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return self.message


class Tokenizer(Protocol):
    """What every tokeniser here provides (used for type hints only)."""

    @property
    def vocab_size(self) -> int: ...
    def encode(self, s: str) -> list[int]: ...
    def decode(self, ids: Sequence[int]) -> str: ...


# --------------------------------------------------------------------------- vocabulary


class Vocab:
    """A two-way map between tokens (strings) and ids (0, 1, 2, ...).

    The special tokens take the first ids (``SPECIALS``: ``<pad>`` 0, ``<unk>`` 1,
    ``<bos>`` 2, ``<eos>`` 3), then the ordinary tokens follow in sorted order
    (code-point order), so the same text always gives the same ids.
    """

    def __init__(self, itos: Sequence[str], specials: Sequence[str] = SPECIALS,
                 counts: dict[str, int] | None = None) -> None:
        if len(set(itos)) != len(itos):
            dup = next(t for t, c in Counter(itos).items() if c > 1)
            raise ValueError(f"token {dup!r} appears twice in the vocabulary; every token needs one id")
        if list(itos[:len(specials)]) != list(specials):
            raise ValueError(f"the special tokens {list(specials)} must come first, "
                             f"got {list(itos[:len(specials)])}")
        self.itos: list[str] = list(itos)                       # id -> token
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}  # token -> id
        self.specials: tuple[str, ...] = tuple(specials)
        self.counts: dict[str, int] = dict(counts or {})        # training counts, for Zipf plots

    @classmethod
    def build(cls, tokens: Iterable[str], specials: Sequence[str] = SPECIALS, min_count: int = 1) -> Vocab:
        """Count ``tokens`` and keep those seen at least ``min_count`` times, after the specials.

        A cut-off (``min_count`` > 1) shrinks the vocabulary by dropping rare
        tokens; text that contains them then needs ``unk=True`` when encoded.
        """
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be an integer >= 1, got {min_count!r}")
        if len(set(specials)) != len(specials):
            raise ValueError(f"special tokens must be distinct, got {list(specials)}")
        counts = Counter(tokens)
        kept = sorted(t for t, c in counts.items() if c >= min_count and t not in specials)
        return cls([*specials, *kept], specials, counts)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        n = len(self.specials)
        return f"Vocab({len(self)} tokens: {n} special + {len(self) - n} ordinary)"

    def lookup(self, token: str, *, unk: bool = False, position: int = 0, what: str = "token") -> int:
        """The id of ``token``; an unknown token maps to ``<unk>`` if ``unk`` is true, else raises."""
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
        for flag, name in ((bos, BOS), (eos, EOS)):
            if flag and name not in self.stoi:
                raise ValueError(f"asked for {name!r}, but this vocabulary has no such special token; "
                                 f"build it with {name!r} among the specials (the default {SPECIALS})")
        ids = [self.lookup(t, unk=unk, position=p, what=what) for p, t in enumerate(tokens)]
        return [self.stoi[BOS]] * bos + ids + [self.stoi[EOS]] * eos

    def token(self, i: int) -> str:
        """The token with id ``i``."""
        if not 0 <= i < len(self):
            raise IndexError(f"id {i} is out of range: this vocabulary has ids 0..{len(self) - 1}")
        return self.itos[i]


def _need_text(text: object, what: str = "text") -> str:
    """``text`` itself if it is a ``str``; otherwise a TypeError that says what to pass instead."""
    if not isinstance(text, str):
        hint = (" (for a list of records, join their 'text' fields: '\\n'.join(r['text'] for r in rows))"
                if isinstance(text, (list, tuple)) else "")
        raise TypeError(f"{what} must be a str, got {type(text).__name__}{hint}.")
    return text


def _as_ids(ids: object) -> list[int]:
    """A flat list of Python ints from a list, numpy array or torch tensor of whole numbers."""
    if hasattr(ids, "tolist"):  # numpy arrays and torch tensors
        ids = ids.tolist()  # type: ignore[union-attr]
    if not isinstance(ids, (list, tuple)):
        raise TypeError(f"ids must be a sequence of integers, got {type(ids).__name__}.")
    out = []
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError(f"ids must be whole numbers in one flat sequence, got {i!r} ({type(i).__name__}); "
                            "decode one sequence at a time, e.g. decode(batch[0]).")
        out.append(i)
    return out


# --------------------------------------------------------------------------- characters and words


_T = TypeVar("_T", bound="_VocabTokenizer")


class _VocabTokenizer:
    """Shared machinery of the character and word tokenisers: split, then look up in a ``Vocab``.

    Subclasses say how text is split into symbols (``_split``) and what a symbol
    is called in error messages (``_what``).
    """

    _what = "symbol"

    def __init__(self, min_count: int = 1, unk: bool = False, specials: Sequence[str] = SPECIALS) -> None:
        self.min_count, self.unk, self.specials = min_count, unk, tuple(specials)
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

    def encode(self, s: str, *, bos: bool = False, eos: bool = False, unk: bool | None = None) -> list[int]:
        """Ids of the symbols of ``s``. ``unk`` overrides the tokeniser's own setting for this call."""
        return self._fitted().encode(self._split(_need_text(s)), unk=self.unk if unk is None else unk,
                                     bos=bos, eos=eos, what=self._what)

    def decode(self, ids: Sequence[int], *, keep_specials: bool = False) -> str:
        """Text of ``ids``: the symbols joined back together.

        Special tokens carry no text: by default ``<pad>``, ``<bos>`` and ``<eos>``
        are dropped and ``<unk>`` becomes U+FFFD (the replacement character "\ufffd");
        with ``keep_specials=True`` they are written out by name, e.g. ``<bos>``.
        """
        vocab = self._fitted()
        out = [vocab.token(i) for i in _as_ids(ids)]
        if not keep_specials:
            out = ["\ufffd" if t == UNK else "" if t in vocab.specials else t for t in out]
        return "".join(out)


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
    return WORD_PATTERN.findall(text)


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
    words = set(dictionary)
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


def pretokenize(text: str, pattern: str | None = SPLIT_PATTERN) -> list[str]:
    """Pre-tokenise: the pieces of ``text`` that merges may not cross (all of it if no pattern).

    Also checks that ``text`` has a UTF-8 form, so that byte-level BPE can read it.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"character {text[e.start]!r} at position {e.start} cannot be written as UTF-8 "
                         "(a lone surrogate); clean the text first, "
                         "e.g. s.encode('utf-8', 'replace').decode()") from e
    return re.findall(pattern, text) if pattern is not None else ([text] if text else [])


def naive_bpe_merges(text: str, num_merges: int, pattern: str | None = SPLIT_PATTERN) -> list[tuple[int, int]]:
    """The textbook BPE loop, deliberately slow: recount every pair of the whole text after every merge.

    Repeat ``num_merges`` times: count all adjacent pairs of ids in every
    pre-tokenised chunk, take the most frequent (ties: the smallest pair of ids),
    give it the next id (256, 257, ...) and replace it everywhere. Each merge
    costs a pass over the whole text, O(len(text) x num_merges) in total: fine
    for a paragraph, hopeless for a book. ``BPETokenizer.fit`` learns the same merges.
    """
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

    Training (``fit``): pre-tokenise with ``pattern`` (GPT-2's, ``SPLIT_PATTERN``)
    so merges stay inside words, then repeat: merge the most frequent adjacent
    pair. Ties go to the smallest pair of ids (compared as tuples), so training is
    deterministic. Hugging Face ``tokenizers`` uses the same rule, but its
    ``ByteLevel`` numbers the bytes in another order, so an exact tie may go the other way.

    Training is *incremental*, which is what makes it fast:

    - the text is reduced to its distinct chunks ("word types") with counts, so
      " the" is processed once, weighted by its thousands of occurrences;
    - ``where[pair]`` indexes the word types containing each pair, so a merge only
      revisits those words and adjusts the counts of the pairs they lose and gain;
    - a heap holds (-count, pair); a count that changed since its entry was pushed
      is detected when popped (lazy invalidation) and the entry is re-queued.

    Two different merges can spell the same bytes (say ("a", "bc") and ("ab", "c"));
    each still gets its own id (Hugging Face ``tokenizers`` reuses the first id).

    Encoding applies the merges in learned order (always the lowest-ranked pair
    present next), chunk by chunk, caching each chunk's ids. Before ``fit`` the
    tokenizer has no merges and encodes plain UTF-8 bytes, a valid tokenizer
    with vocabulary 256.
    """

    def __init__(self, num_merges: int = 1000, pattern: str | None = SPLIT_PATTERN) -> None:
        if isinstance(num_merges, bool) or not isinstance(num_merges, int) or num_merges < 0:
            raise ValueError(f"num_merges must be an integer >= 0, got {num_merges!r}")
        self.num_merges, self.pattern = num_merges, pattern
        self.merges: list[tuple[int, int]] = []          # merge k: the pair that became token 256 + k
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        self._ranks: dict[tuple[int, int], int] = {}
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges)

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
        """A new tokenizer with only the first ``num_merges`` merges.

        Training is greedy, one merge at a time, so this is exactly the tokenizer
        that training with ``num_merges`` would have produced: one fit gives the
        whole curve of vocabulary size against compression.
        """
        if not 0 <= num_merges <= len(self.merges):
            raise ValueError(f"num_merges must lie in 0..{len(self.merges)} (the merges learned), got {num_merges}")
        small = BPETokenizer(num_merges, self.pattern)
        small._set_merges(self.merges[:num_merges])
        return small

    def _set_merges(self, merges: list[tuple[int, int]]) -> None:
        self.merges = list(merges)
        self._ranks = {p: k for k, p in enumerate(self.merges)}
        self.vocab = {i: bytes([i]) for i in range(256)}
        for k, (a, b) in enumerate(self.merges):
            self.vocab[256 + k] = self.vocab[a] + self.vocab[b]
        self._cache = {}

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

    def encode(self, s: str) -> list[int]:
        """Token ids of ``s``: any string works (byte-level, nothing is unknown)."""
        return [i for chunk in pretokenize(_need_text(s), self.pattern) for i in self._encode_chunk(chunk)]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``: their bytes joined, read as UTF-8.

        Ids from ``encode`` always give back the exact text. An arbitrary id
        sequence may cut a multi-byte character in half; such bytes become U+FFFD.
        """
        ids = _as_ids(ids)
        for i in ids:
            if i not in self.vocab:
                raise IndexError(f"id {i} is out of range: this tokenizer has ids 0..{self.vocab_size - 1}")
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

    def token_str(self, i: int) -> str:
        """Token ``i`` as readable text; bytes that are not whole UTF-8 characters are shown as ``\\xNN``."""
        i = int(i)
        if i not in self.vocab:
            raise IndexError(f"id {i} is out of range: this tokenizer has ids 0..{self.vocab_size - 1}")
        return self.vocab[i].decode("utf-8", errors="backslashreplace")


def tokens_per_char(tokenizer: Tokenizer, text: str) -> float:
    """Compression: tokens produced per character of ``text`` (1.0 for characters; lower is shorter).

    Fewer tokens per character means shorter sequences for the model, at the
    price of a bigger vocabulary (a bigger softmax, rarer tokens).
    """
    if not text:
        raise ValueError("tokens_per_char needs a non-empty text")
    return len(tokenizer.encode(text)) / len(text)
