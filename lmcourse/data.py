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
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
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


def data_dir() -> Path:
    """The folder holding the corpora: ``LMCOURSE_DATA`` if set, else the repository's ``datasets/``."""
    override = os.environ.get("LMCOURSE_DATA")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "datasets"


def manifest() -> dict[str, dict[str, Any]]:
    """The parsed ``datasets/manifest.json``: one entry per dataset (file, sha256, sizes, licence...)."""
    path = data_dir() / "manifest.json"
    if not path.is_file():
        raise DatasetError(f"{path} is missing: the dataset manifest lists the corpora and their checksums. "
                           + RESTORE_HINT.format(file="manifest.json"))
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def available() -> list[str]:
    """The names of the shipped datasets, sorted."""
    return sorted(manifest())


def info(name: str) -> dict[str, Any]:
    """The manifest entry of dataset ``name``; an unknown name lists the known ones."""
    entries = manifest()
    if name not in entries:
        raise DatasetError(f"unknown dataset {name!r}; the known datasets are: {', '.join(sorted(entries))}.")
    return entries[name]


def path(name: str) -> Path:
    """Where the file of dataset ``name`` lives (not verified; see :func:`verify`)."""
    return data_dir() / info(name)["file"]


def sha256_of(file: Path) -> str:
    """The SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with file.open("rb") as f:
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
    """The whole verified text of dataset ``name`` (UTF-8, ``\\n`` line ends)."""
    return verify(name).read_bytes().decode("utf-8")


def load_records(name: str) -> list[dict[str, str]]:
    """The rows of a tab-separated dataset (``unit`` ``pairs`` or ``labelled``) as dicts keyed by its header."""
    unit = info(name)["unit"]
    if unit not in ("pairs", "labelled"):
        raise DatasetError(f"dataset {name!r} is running text (unit {unit!r}), not a table; use load_text({name!r}).")
    reader = csv.DictReader(io.StringIO(load_text(name)), delimiter="\t", quoting=csv.QUOTE_NONE)
    return list(reader)


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


def split_text(text: str, fractions: tuple[float, float] = (0.9, 0.05)) -> Splits:
    """Cut running text into contiguous train / valid / test pieces at speech or paragraph starts."""
    a = _cut_back(text, int(len(text) * fractions[0]))
    b = _cut_back(text, int(len(text) * (fractions[0] + fractions[1])))
    return Splits(text[:a], text[a:b], text[b:])


def split_records(records: list[Any], fractions: tuple[float, float] = (0.8, 0.1), seed: int = SPLIT_SEED) -> Splits:
    """Shuffle records with a fixed seed, then cut them into train / valid / test lists."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(records))
    shuffled = [records[i] for i in order]
    a = int(len(shuffled) * fractions[0])
    b = int(len(shuffled) * (fractions[0] + fractions[1]))
    return Splits(shuffled[:a], shuffled[a:b], shuffled[b:])


def split_labelled(records: list[dict[str, str]], seed: int = SPLIT_SEED) -> Splits:
    """A stratified split: each label's records are split 80 / 10 / 10 on their own, then the parts
    are joined (in the order of the records' first appearance of each label) and shuffled."""
    import numpy as np

    by_label: dict[str, list[dict[str, str]]] = {}
    for record in records:
        by_label.setdefault(record["label"], []).append(record)
    parts: dict[str, list[dict[str, str]]] = {p: [] for p in PARTS}
    for group in by_label.values():
        for p, piece in zip(PARTS, split_records(group, seed=seed)):
            parts[p].extend(piece)
    rng = np.random.default_rng(seed)
    return Splits(*([parts[p][i] for i in rng.permutation(len(parts[p]))] for p in PARTS))


def splits(name: str) -> Splits:
    """The course-wide train / valid / test split of dataset ``name`` (see the module docstring)."""
    unit = info(name)["unit"]
    if unit in ("char", "word"):
        if name in LINE_RECORDS:
            lines = load_text(name).splitlines()
            parts = split_records(lines)
            return Splits(*("".join(line + "\n" for line in parts[p]) for p in PARTS))
        return split_text(load_text(name))
    if unit == "labelled":
        return split_labelled(load_records(name))
    return split_records(load_records(name))
