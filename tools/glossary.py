"""The glossary's rules: which bold spans of a notebook are terms, how a span matches an entry, where it is introduced.

``GLOSSARY.md`` lists every technical term of the course with its Chinese rendering, a one-line definition and the
notebook that introduces it. ``tests/test_glossary.py`` holds it to the notebooks with the rules below, so a new term
put in **bold** in any chapter (chapter 13 included, once it exists) must be added to the glossary.

What counts as a term. The markdown cells of ``solutions/*.ipynb`` are read (the chapter copies have the same prose,
less the written model answers); code (fenced blocks and inline backticks) is removed first; every ``**...**`` span
is a bold span. A bold span is a *term* unless one of these rules says it is not:

1. it is a structural label: ``Exercise NN.N ...``, ``Question NN.N ...``, or one of :data:`LABELS`
   (``Learning objectives``, ``Summary``, ...);
2. it ends with ``.``, ``:``, ``?`` or ``!`` (a run-in heading or a stressed sentence, e.g. **A clean run.**);
3. it has six or more words (a stressed clause, e.g. **in the order they were learned**);
4. it contains ``$`` (a formula or a stated figure, e.g. **training costs $6N$ FLOPs per token**);
5. it is in :data:`EMPHASIS`, words bolded only for stress (e.g. "the model **cannot** show").

How a span matches an entry. Both sides are normalised by :func:`normalise`: whitespace collapsed, case folded,
surrounding punctuation and a leading article (a, an, the) removed, and the last word made singular (so **canaries**
matches "canary" and **Jacobians** matches "Jacobian"). An entry's English cell is its main form, optionally followed by
variant forms in parentheses, separated by commas: ``key-value cache (KV cache)``.

Where a term is introduced. The first notebook, in the course's reading order (:data:`lmcourse.course.CHAPTERS`), that
bolds any form of the entry; for an entry no notebook bolds, the first notebook whose markdown mentions one of its forms
as a whole word (plural allowed).

Run ``python tools/glossary.py`` to print what the glossary lacks or gets wrong (the test says the same).
"""

from __future__ import annotations

import functools
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "GLOSSARY.md"

#: Structural labels (compared after :func:`normalise`), whatever punctuation follows them.
LABELS: frozenset[str] = frozenset({
    "learning objective", "prerequisite", "estimated time", "solution", "summary",
})
#: Words bolded only for stress, not terms (compared after :func:`normalise`). Keep it short: a test fails when an entry
#: here is no longer bolded anywhere, so it cannot go stale.
EMPHASIS: frozenset[str] = frozenset({
    "cannot", "function with parameter", "infinite", "once", "run itself", "same character", "training part only",
})
_EXERCISE = re.compile(r"^(exercise|question)\s+\d+\.\d+\b", re.IGNORECASE)
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_PUNCT = " \t\n.,;:!?\"'()[]*_`"


@dataclass(frozen=True)
class Bold:
    """One bold span: its text as written, and where (folder, notebook slug and cell index)."""

    text: str
    folder: str
    slug: str
    cell: int

    @property
    def where(self) -> str:
        return f"{self.folder}/{self.slug}.ipynb, cell {self.cell}"


@dataclass(frozen=True)
class Entry:
    """One row of the glossary."""

    english: str
    forms: tuple[str, ...]
    chinese: str
    definition: str
    link: str  # the link target as written, e.g. chapters/03_ngram_smoothing.ipynb
    letter: str  # the heading of the group it sits in
    line: int


def singular(word: str) -> str:
    """A plain-English singular of ``word``, good enough to match a plural span to its entry (both sides use it)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def normalise(text: str) -> str:
    """The comparable form of a term or span: see the module docstring."""
    words = " ".join(text.split()).casefold().strip(_PUNCT)
    words = re.sub(r"^(a|an|the)\s+", "", words)
    head, _, last = words.rpartition(" ")
    return f"{head} {singular(last)}".strip()


def is_term(span: str) -> bool:
    """Whether a bold span is a term the glossary must hold (rules 1-5 of the module docstring)."""
    text = " ".join(span.split())
    if _EXERCISE.match(text) or normalise(text) in LABELS:
        return False
    if text.endswith((".", ":", "?", "!")) or len(text.split()) >= 6 or "$" in text:
        return False
    return normalise(text) not in EMPHASIS


def reading_order(folder: Path) -> list[str]:
    """The slugs of the notebooks in ``folder``, in the course's reading order; a notebook not in the course map is an
    error (add it to ``lmcourse.course.CHAPTERS``)."""
    from lmcourse.course import CHAPTERS

    order = [slug for ch in CHAPTERS for slug, _ in ch.notebooks]
    present = sorted(p.stem for p in folder.glob("*.ipynb"))
    unknown = [s for s in present if s not in order]
    if unknown:
        raise ValueError(f"{folder}: notebooks {unknown} are not in lmcourse.course.CHAPTERS; add them to the course "
                         f"map so the glossary knows their reading order.")
    return [s for s in order if s in present]


def markdown_cells(path: Path) -> list[tuple[int, str]]:
    """(index, source without code) of each markdown cell of the notebook at ``path``."""
    return list(_markdown_cells(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _markdown_cells(path: Path, mtime_ns: int) -> tuple[tuple[int, str], ...]:  # read each notebook once per change
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    out = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "markdown":
            src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            out.append((i, _INLINE_CODE.sub("", _FENCE.sub("", src))))
    return tuple(out)


def bold_spans(folder: Path) -> list[Bold]:
    """Every bold span of every notebook in ``folder``, in reading order."""
    return [Bold(" ".join(m.group(1).split()), folder.name, slug, i)
            for slug in reading_order(folder)
            for i, src in markdown_cells(folder / f"{slug}.ipynb")
            for m in _BOLD.finditer(src)]


def parse(path: Path = GLOSSARY) -> list[Entry]:
    """The entries of the glossary at ``path``, in file order. A table row that does not have four cells, or whose
    last cell is not a Markdown link, is an error naming the line."""
    entries: list[Entry] = []
    letter = ""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("## "):
            letter = line[3:].strip()
            continue
        if not line.startswith("|") or line.startswith("| ---") or line.startswith("| English"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        link = re.fullmatch(r"\[[^\]]+\]\(([^)]+)\)", cells[-1]) if len(cells) == 4 else None
        if link is None:
            raise ValueError(f"{path.name} line {n}: a row needs four cells (English | 中文 | definition | "
                             f"[NN_slug](chapters/NN_slug.ipynb)), got {line!r}.")
        english = cells[0]
        found = re.fullmatch(r"(.+?)\s*\(([^()]+)\)", english)
        forms = (found.group(1), *[v.strip() for v in found.group(2).split(",")]) if found else (english,)
        entries.append(Entry(english, forms, cells[1], cells[2], link.group(1), letter, n))
    return entries


def mentions(form: str, text: str) -> bool:
    """Whether ``text`` (case-folded) uses ``form`` as a whole word or phrase, singular or plural."""
    stem = re.escape(form.casefold())
    plural = f"|{re.escape(form.casefold()[:-1])}ies" if form.endswith("y") else ""
    return re.search(rf"(?<![\w-])(?:{stem}(?:s|es)?{plural})(?![\w-])", text) is not None


def introduced_in(entry: Entry, bolds: list[Bold], folder: Path) -> str | None:
    """The slug of the notebook that introduces ``entry`` (see the module docstring), or None if no notebook uses it."""
    keys = {normalise(f) for f in entry.forms}
    for bold in bolds:
        if is_term(bold.text) and normalise(bold.text) in keys:
            return bold.slug
    for slug in reading_order(folder):
        text = " ".join(src for _, src in markdown_cells(folder / f"{slug}.ipynb")).replace("**", "")
        text = " ".join(text.split()).casefold()
        if any(mentions(f, text) for f in entry.forms):
            return slug
    return None


def problems(glossary: Path = GLOSSARY, folder: Path = ROOT / "solutions") -> list[str]:
    """Everything wrong between the glossary and the notebooks, one line each (empty when they agree)."""
    entries = parse(glossary)
    bolds = bold_spans(folder)
    out: list[str] = []
    known = {normalise(f): e for e in entries for f in e.forms}
    for bold in bolds:
        if is_term(bold.text) and normalise(bold.text) not in known:
            out.append(f"missing term {bold.text!r} (bold in {bold.where})")
    for e in entries:
        slug = introduced_in(e, bolds, folder)
        target = f"chapters/{slug}.ipynb"
        if slug is None:
            out.append(f"{glossary.name} line {e.line}: {e.english!r} is used by no notebook")
        elif e.link != target:
            out.append(f"{glossary.name} line {e.line}: {e.english!r} links {e.link}, but the notebook that introduces "
                       f"it is {target}")
    return out


if __name__ == "__main__":
    found = problems()
    print("\n".join(found) or "GLOSSARY.md agrees with the notebooks.")
    sys.exit(1 if found else 0)
