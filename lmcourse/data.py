"""The course's corpora: find them, verify them, load them, and split them the same way everywhere.

Every data file ships in the repository's ``datasets/`` folder, and
``datasets/manifest.json`` records its SHA-256 checksum (the datasheet,
``datasets/README.md``, says where each file came from and under which licence).
Every load recomputes the checksum, so a file that was edited, truncated or
corrupted is caught before a model trains on it.

The splits are defined here, once, so that every chapter scores its model on
the same held-out text:

- running text (``unit`` ``char`` or ``word``): contiguous pieces, 90 % / 5 % / 5 %,
  each cut moved back to the start of the speech or paragraph it falls in
  (after a blank line; in text without blank lines, after a line break).
  Contiguous, because text repeats itself locally: a random split would put
  near-copies of the test lines in the training set.
- one record per line (names, poems, verse pairs): the lines are shuffled with
  a fixed seed, then cut 80 % / 10 % / 10 %. Labelled records are split the same
  way within each label (a *stratified* split), so every part has the same mix
  of labels.
- a lexicon (unit ``lexicon``, e.g. ``vader_lexicon``: words and their ratings) is a
  resource a method looks words up in, not text to learn from: it has no split.
- a test set (unit ``testset``, e.g. ``kjv_questions``, ``austen_summaries``: questions or
  reference summaries written for the course) is used whole to score a method, never to
  train one: it has no split either.

Labelled passages cut from a corpus (``authorship`` from ``shakespeare``, ``pride_and_prejudice`` and
``kjv``) also occur in that corpus, mostly in its training part: :func:`hold_out` removes them from a text
before a model is trained on it, and :func:`occurrences` counts them, so that a classifier is never scored
on passages its language model has read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import numbers
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

PARTS = ("train", "valid", "test")
SPLIT_SEED = 1234
#: Datasets stored as text whose lines are independent records (a name, a poem): split by shuffled lines.
LINE_RECORDS = frozenset({"names", "tang_poems"})
RESTORE_HINT = (
    "Restore it with `git checkout -- datasets/{file}` (or rebuild every file with "
    "`python datasets/build/build_all.py`, see datasets/README.md)."
)


class DatasetError(RuntimeError):
    """A data file is unknown, missing or not the file the datasheet describes."""


UNITS = ("char", "word", "pairs", "labelled", "lexicon", "testset")
#: Units stored as a tab-separated table with a header line, read by load_records.
TABLES = ("pairs", "labelled", "lexicon", "testset")


def data_dir() -> Path:
    """The folder holding the corpora: ``LMCOURSE_DATA`` if set, else the repository's ``datasets/``.

    ``LMCOURSE_DATA`` may start with ``~`` (your home folder); a relative path is taken from the
    current working directory. An empty value counts as unset. The folder must exist.
    """
    override = os.environ.get("LMCOURSE_DATA", "").strip()
    if not override:
        return Path(__file__).resolve().parent.parent / "datasets"
    folder = Path(override).expanduser().absolute()
    if not folder.is_dir():
        raise DatasetError(
            f"LMCOURSE_DATA={override!r} names {folder}, which is not a folder. Point LMCOURSE_DATA at a folder "
            "holding a manifest.json and the data files it lists, or unset it to use the shipped datasets/."
        )
    return folder


def manifest() -> dict[str, dict[str, Any]]:
    """The parsed ``datasets/manifest.json``: one entry per dataset (file, sha256, sizes, licence...)."""
    path = data_dir() / "manifest.json"
    if not path.is_file():
        if os.environ.get("LMCOURSE_DATA", "").strip():
            raise DatasetError(
                f"{path} is missing: LMCOURSE_DATA points to {path.parent}, which has no manifest.json listing "
                "its datasets and their checksums. Add one (see datasets/manifest.json for the format), "
                "or unset LMCOURSE_DATA to use the shipped datasets/."
            )
        raise DatasetError(f"{path} is missing: the dataset manifest lists the corpora and their checksums. "
                           + RESTORE_HINT.format(file="manifest.json"))
    try:
        with path.open(encoding="utf-8") as f:
            entries = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path} is not valid JSON ({err}). "
                           + RESTORE_HINT.format(file="manifest.json")) from None
    if not isinstance(entries, dict) or not all(isinstance(e, dict) for e in entries.values()):
        raise DatasetError(f"{path} must hold one JSON object mapping each dataset name to its entry "
                           f'({{"shakespeare": {{"file": ..., "sha256": ..., "unit": ...}}, ...}}), '
                           f"got {type(entries).__name__}. " + RESTORE_HINT.format(file="manifest.json"))
    return entries


def available() -> list[str]:
    """The names of the shipped datasets, sorted."""
    return sorted(manifest())


def _check_entry(name: str, entry: dict[str, Any]) -> None:
    """Refuse a manifest entry that cannot be loaded safely: a file outside the data folder, no checksum, no unit."""
    file = entry.get("file")
    if not isinstance(file, str) or not file.strip():
        raise DatasetError(f"the manifest entry of dataset {name!r} has no file name (got {file!r}); "
                           "give the file's name inside the data folder, e.g. \"file\": \"shakespeare.txt\".")
    # Read the name both ways, so that neither '/' nor a backslash nor a drive letter can leave the folder.
    readings = (PurePosixPath(file), PureWindowsPath(file))
    if any(p.is_absolute() or p.drive or p.root or ".." in p.parts for p in readings):
        raise DatasetError(
            f"the manifest entry of dataset {name!r} names the file {file!r}, which lies outside the data folder "
            f"{data_dir()}: a data file must be named relative to that folder, without '..' or a leading '/', "
            "e.g. \"shakespeare.txt\"."
        )
    sha = entry.get("sha256")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise DatasetError(f"the manifest entry of dataset {name!r} has no valid sha256 (got {sha!r}); it must be "
                           "the 64 lower-case hex digits of the file's SHA-256, as lmcourse.data.sha256_of gives.")
    if entry.get("unit") not in UNITS:
        raise DatasetError(f"the manifest entry of dataset {name!r} has unit {entry.get('unit')!r}; "
                           f"it must be one of {', '.join(UNITS)}.")


def info(name: str) -> dict[str, Any]:
    """The manifest entry of dataset ``name``; an unknown name lists the known ones.

    The entry is checked first: its file must lie inside the data folder, its sha256 be 64 hex digits and
    its unit one of ``char``, ``word``, ``pairs``, ``labelled``, ``lexicon``, ``testset``.
    """
    if not isinstance(name, str):
        raise TypeError(f"a dataset name is a str such as 'shakespeare' (see data.available()); "
                        f"got {type(name).__name__} {name!r}.")
    entries = manifest()
    if name not in entries:
        import difflib

        close = difflib.get_close_matches(name, entries, n=1)
        guess = f" Did you mean {close[0]!r}?" if close else ""
        raise DatasetError(f"unknown dataset {name!r}; the known datasets are: {', '.join(sorted(entries))}.{guess}")
    _check_entry(name, entries[name])
    return entries[name]


def path(name: str) -> Path:
    """Where the file of dataset ``name`` lives (not verified; see :func:`verify`)."""
    return data_dir() / info(name)["file"]


def sha256_of(file: str | os.PathLike[str]) -> str:
    """The SHA-256 hex digest of a file's bytes (its exact bytes: line ends are not converted)."""
    if not isinstance(file, (str, os.PathLike)):
        raise TypeError(f"sha256_of needs the path of a file (a str or pathlib.Path); "
                        f"got {type(file).__name__} {file!r}.")
    digest = hashlib.sha256()
    with Path(file).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str) -> Path:
    """Check that the file of ``name`` exists and has the checksum in the manifest; return its path."""
    entry = info(name)
    file = data_dir() / entry["file"]
    hint = RESTORE_HINT.format(file=entry["file"])
    if not file.is_file():
        raise DatasetError(f"the file of dataset {name!r}, {file}, is missing. {hint}")
    got = sha256_of(file)
    if got != entry["sha256"]:
        raise DatasetError(
            f"the file of dataset {name!r}, {file}, is corrupt or was changed: its sha256 is {got}, "
            f"but datasets/manifest.json expects {entry['sha256']}. {hint}"
        )
    return file


def load_text(name: str) -> str:
    """The whole verified text of dataset ``name``, decoded from UTF-8, with ``\\n`` line ends.

    The checksum is of the file's exact bytes; after the check, Windows (``\\r\\n``) and old Mac
    (lone ``\\r``) line ends are turned into ``\\n``, so a data folder of your own (``LMCOURSE_DATA``)
    written on Windows loads the same as one written on Linux. (The shipped files hold no ``\\r``.)
    """
    file = verify(name)
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise DatasetError(f"the file of dataset {name!r}, {file}, is not UTF-8 text: byte {err.start} "
                           f"({err.object[err.start:err.start + 1]!r}) cannot be decoded. Save it as UTF-8.") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_records(name: str) -> list[dict[str, str]]:
    """The rows of a tab-separated dataset (``unit`` ``pairs``, ``labelled``, ``lexicon`` or ``testset``) as dicts
    keyed by its header, every cell a str.

    Every row must have as many cells as the header; a short or long row is an error naming its line.
    Blank lines are skipped (as :class:`csv.DictReader` does).
    """
    unit = info(name)["unit"]
    if unit not in TABLES:
        raise DatasetError(f"dataset {name!r} is running text (unit {unit!r}), not a table; use load_text({name!r}).")
    reader = csv.reader(io.StringIO(load_text(name)), delimiter="\t", quoting=csv.QUOTE_NONE)
    numbered = [(number, row) for number, row in enumerate(reader, start=1) if row]
    if not numbered:
        raise DatasetError(f"dataset {name!r} is a table, but its file {path(name)} is empty: it needs a header line.")
    (_, header), body = numbered[0], numbered[1:]
    for number, row in body:
        if len(row) != len(header):
            raise DatasetError(f"dataset {name!r}: line {number} of {path(name)} has {len(row)} tab-separated "
                               f"cells, but the header has {len(header)} ({', '.join(header)}).")
    return [dict(zip(header, row)) for _, row in body]


@dataclass(frozen=True)
class Splits:
    """The three parts of a dataset. For running text each is a string; for records, a list."""

    train: Any
    valid: Any
    test: Any

    def __iter__(self) -> Iterator[Any]:
        """``train, valid, test = splits(name)`` unpacks the three parts."""
        return iter((self.train, self.valid, self.test))

    def __getitem__(self, part: str) -> Any:
        if part not in PARTS:
            raise KeyError(f"no part {part!r}; the parts are {', '.join(PARTS)}.")
        return getattr(self, part)


def _cut_back(text: str, at: int) -> int:
    """The start of the speech or paragraph holding index ``at``: just after the last blank line
    before it, or, in text without blank lines, just after the last line break before it."""
    boundary = "\n\n" if "\n\n" in text else "\n"
    found = text.rfind(boundary, 0, at)
    return 0 if found < 0 else found + len(boundary)


def _check_fractions(fractions: Any, default: tuple[float, float]) -> tuple[float, float]:
    """``fractions`` as (train, valid): two numbers, each between 0 and 1, summing to less than 1."""
    example = f"fractions={default}"
    if (not isinstance(fractions, (tuple, list)) or len(fractions) != 2
            or any(isinstance(f, bool) or not isinstance(f, numbers.Real) for f in fractions)):
        raise TypeError(f"fractions must be two numbers (train, valid), e.g. {example}: the test part gets the rest, "
                        f"1 - train - valid. Got {fractions!r}.")
    train, valid = (float(f) for f in fractions)
    if not (0 < train < 1 and 0 < valid < 1 and train + valid < 1):  # also refuses NaN
        raise ValueError(f"fractions={tuple(fractions)!r} cannot split: train and valid must each lie between 0 and 1, "
                         f"and sum to less than 1 so that the test part gets the rest; e.g. {example}.")
    return train, valid


def _check_seed(seed: Any, example: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, e.g. {example}, got {seed!r}.")
    return int(seed)


def _check_cuts(n: int, a: int, b: int, what: str, fractions: tuple[float, float], remedy: str) -> None:
    """Refuse a split that would leave a part empty (a model scored on nothing gets no score, or a wrong one)."""
    for part, size in zip(PARTS, (a, b - a, n - b)):
        if size <= 0:
            raise ValueError(f"{what} cannot be split with fractions={fractions}: the {part} part would be empty "
                             f"(train {a}, valid {b - a}, test {n - b}). {remedy}")


def split_text(text: str, fractions: tuple[float, float] = (0.9, 0.05)) -> Splits:
    """Cut running text into contiguous train / valid / test pieces at speech or paragraph starts.

    ``fractions`` are the shares of train and valid, each between 0 and 1 and summing to less than 1;
    the test part gets the rest. Each cut moves back to the start of its speech or paragraph, so a text
    too short, or without line breaks, to give three non-empty parts is an error.
    """
    if not isinstance(text, str):
        remedy = {"bytes": "decode it first, text.decode('utf-8')", "list": "join the lines first, ''.join(lines)"}
        raise TypeError(f"split_text needs a str of running text; got {type(text).__name__}"
                        + (f": {remedy[type(text).__name__]}" if type(text).__name__ in remedy else "")
                        + ". To split a list of records, use split_records.")
    fractions = _check_fractions(fractions, (0.9, 0.05))
    a = _cut_back(text, int(len(text) * fractions[0]))
    b = _cut_back(text, int(len(text) * (fractions[0] + fractions[1])))
    breaks = text.count("\n")
    _check_cuts(len(text), a, b, f"a text of {len(text)} characters and {breaks} line breaks", fractions,
                "Each cut moves back to a line start: give a longer text, with line breaks.")
    return Splits(text[:a], text[a:b], text[b:])


def _check_records(records: Any, function: str) -> None:
    if isinstance(records, (str, bytes)):
        raise TypeError(f"{function} needs a list of records, not a {type(records).__name__} (which would be split "
                        "into single characters); for one record per line, pass text.splitlines().")
    if isinstance(records, Mapping):
        raise TypeError(f"{function} needs a list of records, not a {type(records).__name__}; "
                        "pass list(d.items()) or list(d.values()).")
    if not (hasattr(records, "__len__") and hasattr(records, "__getitem__")):
        raise TypeError(f"{function} needs a list of records; got {type(records).__name__}"
                        + ("" if records is None else ": pass list(records)") + ".")


def split_records(records: list[Any], fractions: tuple[float, float] = (0.8, 0.1), seed: int = SPLIT_SEED) -> Splits:
    """Shuffle records with a fixed seed, then cut them into train / valid / test lists.

    ``records`` is a list (or other sequence) of records, not a str: ``text.splitlines()`` gives one
    record per line. ``fractions`` are the shares of train and valid (the test part gets the rest);
    too few records to give every part at least one is an error.
    """
    import numpy as np

    _check_records(records, "split_records")
    fractions = _check_fractions(fractions, (0.8, 0.1))
    seed = _check_seed(seed, "seed=1234")
    order = np.random.default_rng(seed).permutation(len(records))
    shuffled = [records[i] for i in order]
    a = int(len(shuffled) * fractions[0])
    b = int(len(shuffled) * (fractions[0] + fractions[1]))
    _check_cuts(len(shuffled), a, b, f"{len(shuffled)} records", fractions, "Give more records, or larger fractions.")
    return Splits(shuffled[:a], shuffled[a:b], shuffled[b:])


def split_labelled(records: list[dict[str, str]], seed: int = SPLIT_SEED) -> Splits:
    """A stratified split: each label's records are split 80 / 10 / 10 on their own, then the parts
    are joined (in the order of the records' first appearance of each label) and shuffled.

    Each record is a dict with a ``"label"`` (as :func:`load_records` gives); every label needs enough
    records to give each part at least one (6 or more for 80 / 10 / 10).
    """
    import numpy as np

    _check_records(records, "split_labelled")
    seed = _check_seed(seed, "seed=1234")
    by_label: dict[str, list[dict[str, str]]] = {}
    for i, record in enumerate(records):
        if not isinstance(record, Mapping) or "label" not in record:
            raise TypeError(f"split_labelled needs records that are dicts with a 'label', as load_records gives; "
                            f"record {i} is {record!r}.")
        if not isinstance(record["label"], str):
            raise TypeError(f"record {i} has label {record['label']!r}: a label is a str, e.g. 'austen'.")
        by_label.setdefault(record["label"], []).append(record)
    if not by_label:
        raise ValueError("split_labelled got no records: nothing to split.")
    parts: dict[str, list[dict[str, str]]] = {p: [] for p in PARTS}
    for label, group in by_label.items():
        n = len(group)
        _check_cuts(n, int(n * 0.8), int(n * (0.8 + 0.1)), f"the {n} records of label {label!r}", (0.8, 0.1),
                    "Every label needs at least 6 records.")
        for p, piece in zip(PARTS, split_records(group, seed=seed)):
            parts[p].extend(piece)
    rng = np.random.default_rng(seed)
    return Splits(*([parts[p][i] for i in rng.permutation(len(parts[p]))] for p in PARTS))


def splits(name: str) -> Splits:
    """The course-wide train / valid / test split of dataset ``name`` (see the module docstring).

    A lexicon (unit ``lexicon``) and a test set (unit ``testset``) have no split: it is an error naming the
    dataset; use ``load_records``.
    """
    unit = info(name)["unit"]
    if unit == "lexicon":
        raise DatasetError(f"dataset {name!r} is a lexicon (a table of words and their ratings that a method looks "
                           f"words up in), so it has no train / valid / test split; use load_records({name!r}) "
                           "for all of it.")
    if unit == "testset":
        raise DatasetError(f"dataset {name!r} is a test set (written to score a method, never to train one), so it "
                           f"has no train / valid / test split; use load_records({name!r}) for all of it.")
    if unit in ("char", "word"):
        if name in LINE_RECORDS:
            lines = load_text(name).splitlines()
            parts = split_records(lines)
            return Splits(*("".join(line + "\n" for line in parts[p]) for p in PARTS))
        return split_text(load_text(name))
    if unit == "labelled":
        return split_labelled(load_records(name))
    return split_records(load_records(name))


# --------------------------------------------------------------------------- holding passages out of a text

#: Every character ``str.isspace`` calls whitespace (all lie below U+3001): what ``str.split()`` splits on.
_WHITESPACE = [c for c in range(0x3001) if chr(c).isspace()]
HOLD_OUT_MISSING = ("error", "ignore")
_ANCHOR = 32  # characters of each passage's start that are hashed to find where it may occur
_HASH_BASE = 1_000_003  # any odd multiplier: the hash of K codes is sum_j c_j B^(K-1-j) mod 2^64


def _squeeze(text: str) -> tuple[str, Any, Any]:
    """``text`` with every run of whitespace turned into one space, its code points (uint32), and for each of
    its characters the index of that character in ``text`` (for a space: the run's first character)."""
    import numpy as np

    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    table = np.zeros(0x3001, dtype=bool)
    table[_WHITESPACE] = True
    space = table[np.minimum(codes, 0x3000)] & (codes <= 0x3000)
    keep = ~space
    keep[1:] |= space[1:] & ~space[:-1]  # the first character of each whitespace run stays, as one space
    keep[:1] |= space[:1]
    where = np.flatnonzero(keep)
    kept = np.where(space[where], 32, codes[where]).astype("<u4")
    return kept.tobytes().decode("utf-32-le"), kept, where


def _hashes(codes: Any, k: int) -> Any:
    """The hash of every run of ``k`` consecutive code points (len(codes) - k + 1 of them), ``k`` a power of 2:
    sum_j c_j B^(k-1-j) mod 2^64, built by doubling (the hash of 2m codes is hash(first m) B^m + hash(last m)),
    so log2(k) passes over the text."""
    import numpy as np

    if k & (k - 1):
        raise ValueError(f"k must be a power of 2, got {k}.")
    h, m = codes.astype(np.uint64), 1
    with np.errstate(over="ignore"):
        while m < k:
            h = h[:len(h) - m] * np.uint64(pow(_HASH_BASE, m, 2**64)) + h[m:]
            m *= 2
    return h


def _passages(passages: Any, function: str) -> list[str]:
    """``passages`` as a list of whitespace-squeezed strings; a str, a non-str item or an empty one is an error."""
    if isinstance(passages, (str, bytes)):
        raise TypeError(f"{function} needs a list of passages, not a single {type(passages).__name__} (which would "
                        "be read as single characters); for one passage write [passage].")
    if isinstance(passages, Mapping) or not isinstance(passages, Iterable):
        raise TypeError(f"{function} needs a list of passages (str), got {type(passages).__name__}; e.g. "
                        "[r['text'] for r in data.splits('authorship').valid].")
    out = []
    for i, passage in enumerate(passages):
        if not isinstance(passage, str):
            hint = " (a record: pass its 'text')" if isinstance(passage, Mapping) else ""
            raise TypeError(f"{function}: passage {i} is {type(passage).__name__} {passage!r:.60}{hint}; every "
                            "passage must be a str.")
        words = passage.split()
        if not words:
            raise ValueError(f"{function}: passage {i} is {passage!r}, empty or only whitespace: it would match "
                             "everywhere. Leave it out.")
        out.append(" ".join(words))
    return out


def _spans(text: str, passages: Any, function: str) -> list[list[tuple[int, int]]]:
    """For each passage, the (start, end) in ``text`` of each of its occurrences (overlapping ones included),
    whitespace runs in either matching each other whatever their length or kind.

    Vectorised: the text's whitespace is squeezed once; the hash of every window of K characters (K = 32, or
    the largest power of 2 no longer than the shortest passage) is compared with the hashes of the passages'
    first K characters, and only the few windows that agree are checked with ``str.startswith``.
    """
    import numpy as np

    if not isinstance(text, str):
        raise TypeError(f"{function} needs the text as a str, got {type(text).__name__}; e.g. "
                        "data.splits('shakespeare').train.")
    wanted = _passages(passages, function)
    found: list[list[tuple[int, int]]] = [[] for _ in wanted]
    if not wanted or not text:
        return found
    squeezed, codes, where = _squeeze(text)
    k = 1 << (min(_ANCHOR, *map(len, wanted)).bit_length() - 1)  # a power of 2, no longer than any passage
    heads = np.array([_hashes(np.frombuffer(p[:k].encode("utf-32-le"), dtype="<u4"), k)[0] for p in wanted])
    keys = np.unique(heads)
    windows = _hashes(codes, k)
    sieve = np.zeros(1 << 20, dtype=bool)  # a cheap first filter on the hashes' top 20 bits
    sieve[keys >> np.uint64(44)] = True
    maybe = np.flatnonzero(sieve[windows >> np.uint64(44)])
    at = np.minimum(np.searchsorted(keys, windows[maybe]), len(keys) - 1)
    candidates = maybe[keys[at] == windows[maybe]]
    by_head: dict[int, list[int]] = {}
    for i, head in enumerate(heads.tolist()):
        by_head.setdefault(head, []).append(i)
    for pos, head in zip(candidates.tolist(), windows[candidates].tolist()):
        for i in by_head[head]:
            passage = wanted[i]
            if squeezed.startswith(passage, pos):  # the passage ends in a non-space: its end maps back exactly
                found[i].append((int(where[pos]), int(where[pos + len(passage) - 1]) + 1))
    return found


def occurrences(text: str, passages: Iterable[str]) -> list[int]:
    """How many times each passage occurs in ``text`` (overlapping occurrences counted), runs of whitespace in
    either counting as equal: a Shakespeare passage whose verse lines were joined by spaces matches the speech
    with its line breaks. ``sum(n > 0 for n in occurrences(train, passages))`` counts the passages a model
    trained on ``train`` has read."""
    return [len(spans) for spans in _spans(text, passages, "occurrences")]


def hold_out(text: str, passages: Iterable[str], *, missing: str = "error") -> str:
    """``text`` with every occurrence of each passage removed, each removed stretch replaced by one newline.

    Runs of whitespace in the text and in a passage match each other whatever their length or kind (a space
    matches a line break), so a passage is found however the corpus broke its lines. A passage is matched as a
    plain substring (no word boundaries needed): in doubt, more is removed, never less. Occurrences that overlap
    or touch are removed as one stretch; the newline that replaces a stretch keeps the words on either side
    apart. The text is squeezed once and every passage looked for at once (see ``_spans``): hundreds of
    passages over megabytes of text take a fraction of a second.

    ``missing``: ``"error"`` (the default) refuses passages found nowhere in ``text`` (a ValueError naming
    them and how many), since a passage that was meant to be held out but is not found often means the wrong
    text; ``"ignore"`` removes what is there and skips the rest. A passage that is not a str, or is empty (or
    only whitespace), is an error.
    """
    if missing not in HOLD_OUT_MISSING:
        raise ValueError(f"missing must be one of {', '.join(map(repr, HOLD_OUT_MISSING))}, got {missing!r}.")
    passages = list(passages) if isinstance(passages, Iterator) else passages
    found = _spans(text, passages, "hold_out")
    absent = [i for i, spans in enumerate(found) if not spans]
    if absent and missing == "error":
        listed = "; ".join(f"{i}: {' '.join(list(passages)[i].split())!r:.70}" for i in absent[:3])
        raise ValueError(f"hold_out: {len(absent)} of {len(found)} passages occur nowhere in the text ({listed}"
                         f"{'; ...' if len(absent) > 3 else ''}). Is it the text they were cut from? Pass "
                         "missing='ignore' to remove those that are there.")
    spans = sorted(span for per in found for span in per)
    pieces, last = [], 0
    for start, end in spans:
        if start > last or not pieces:  # a new stretch (the first one, or one after a gap)
            pieces.append(text[last:start])
        last = max(last, end)
    pieces.append(text[last:])
    return "\n".join(pieces)
