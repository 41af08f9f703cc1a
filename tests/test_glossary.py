"""GLOSSARY.md agrees with the notebooks: every bolded term is in it, and each entry links the notebook introducing it.

The rules (what a bold span counts as, how it matches an entry, which notebook introduces a term) live in
``tools/glossary.py``, whose docstring states them; ``python tools/glossary.py`` prints the same findings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import glossary  # tools/ is on the path through pyproject.toml's `pythonpath`
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def entries() -> list[glossary.Entry]:
    return glossary.parse(ROOT / "GLOSSARY.md")


@pytest.fixture(scope="module")
def bolds() -> list[glossary.Bold]:
    return glossary.bold_spans(SOLUTIONS)


def test_every_bolded_term_is_in_the_glossary(entries: list[glossary.Entry], bolds: list[glossary.Bold]) -> None:
    known = {glossary.normalise(f) for e in entries for f in e.forms}
    missing = [f"{b.text!r} (bold in {b.where})" for b in bolds
               if glossary.is_term(b.text) and glossary.normalise(b.text) not in known]
    assert missing == [], ("GLOSSARY.md lacks these bolded terms; add each (English | 中文 | definition | link to the "
                           "notebook), or, if it is not a term, see the rules in tools/glossary.py:\n  "
                           + "\n  ".join(missing))


def test_each_entry_links_an_existing_notebook(entries: list[glossary.Entry]) -> None:
    bad = [f"line {e.line}: {e.english!r} links {e.link!r}" for e in entries
           if not re.fullmatch(r"chapters/\d\d_\w+\.ipynb", e.link) or not (ROOT / e.link).is_file()]
    assert bad == [], "these glossary links are not a notebook in chapters/:\n  " + "\n  ".join(bad)


def test_each_entry_links_the_notebook_that_introduces_it(entries: list[glossary.Entry],
                                                         bolds: list[glossary.Bold]) -> None:
    wrong = []
    for e in entries:
        slug = glossary.introduced_in(e, bolds, SOLUTIONS)
        if slug is None:
            wrong.append(f"line {e.line}: {e.english!r} is bolded or used by no notebook")
        elif e.link != f"chapters/{slug}.ipynb":
            wrong.append(f"line {e.line}: {e.english!r} links {e.link}, but it is introduced in chapters/{slug}.ipynb")
    assert wrong == [], "GLOSSARY.md's 'introduced in' is wrong for:\n  " + "\n  ".join(wrong)


def test_every_notebook_is_read(bolds: list[glossary.Bold]) -> None:
    # All of solutions/ (chapter 13 too, once it lands) is parsed: every header bolds its labels at least, so a notebook
    # with no bold span at all means the parser missed it, and the checks above would pass on nothing.
    present = sorted(p.stem for p in SOLUTIONS.glob("*.ipynb"))
    assert len(present) >= 15
    assert sorted({b.slug for b in bolds}) == present


def test_entries_are_sorted_grouped_and_complete(entries: list[glossary.Entry]) -> None:
    names = [e.english.casefold() for e in entries]
    assert names == sorted(names), "GLOSSARY.md's entries must be in English alphabetical order"
    misplaced = [e.english for e in entries if e.letter != e.english[0].upper()]
    assert misplaced == [], f"entries under another letter's heading: {misplaced}"
    forms = [glossary.normalise(f) for e in entries for f in e.forms]
    assert sorted({f for f in forms if forms.count(f) > 1}) == [], "a form belongs to two entries"
    no_chinese = [e.english for e in entries if not CJK.search(e.chinese)]
    assert no_chinese == [], f"entries without a Chinese rendering: {no_chinese}"
    no_definition = [e.english for e in entries if len(e.definition.split()) < 3]
    assert no_definition == [], f"entries without a one-line definition: {no_definition}"


def test_every_emphasis_exception_is_still_bolded(bolds: list[glossary.Bold]) -> None:
    # The list of words bolded only for stress must not outlive the prose that needed it.
    bolded = {glossary.normalise(b.text) for b in bolds}
    assert sorted(glossary.EMPHASIS - bolded) == []


def test_readme_links_the_glossary() -> None:
    assert "](GLOSSARY.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("span", [
    "Learning objectives.", "Prerequisites.", "Estimated time.", "Solutions.", "Summary",
    "Exercise 12.1 — training FLOPs per token.", "Question 00.4 — open, no check",
    "A clean run.", "Why the naive version is slow:", "Does each sampler draw from the distribution it claims?",
    "in the order they were learned", "training costs $6N$ FLOPs per token", "cannot", "once",
])
def test_labels_sentences_long_phrases_formulas_and_emphasis_are_not_terms(span: str) -> None:
    assert not glossary.is_term(span)


@pytest.mark.parametrize("span", ["canaries", "key-value cache", "Backpropagation through time", "top-k", "bfloat16",
                                  "vanishing and exploding gradient problem", "A range test", "Zipf's law"])
def test_terms_are_terms(span: str) -> None:
    assert glossary.is_term(span)


@pytest.mark.parametrize(("span", "form"), [
    ("canaries", "canary"), ("Jacobians", "Jacobian"), ("Residual connections", "residual connection"),
    ("Linear\ninterpolation", "linear interpolation"), ("A range test", "range test"), ("**Smoothing**,", "smoothing"),
])
def test_case_plurals_articles_and_punctuation_are_normalised(span: str, form: str) -> None:
    assert glossary.normalise(span) == glossary.normalise(form)


def test_different_terms_stay_different() -> None:
    assert glossary.normalise("key") != glossary.normalise("key-value cache")
    assert glossary.normalise("test") != glossary.normalise("test split")


# A small course in a temporary folder: the checks find what they should, so the tests above can fail.

def _notebook(folder: Path, slug: str, *markdown: str) -> None:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": m} for m in markdown]
    (folder / f"{slug}.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                                      "nbformat_minor": 5}), encoding="utf-8")


def _glossary(path: Path, *rows: str) -> Path:
    table = "| English | 中文 | definition | introduced in |\n| --- | --- | --- | --- |\n"
    path.write_text("# Glossary\n\n## A\n\n" + table + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_missing_terms_wrong_chapters_and_unused_entries_are_named(tmp_path: Path) -> None:
    _notebook(tmp_path, "00_setup", "**Learning objectives.** Count **canaries**; `**kwargs` is code, not bold.")
    _notebook(tmp_path, "01_text_data", "Now **canary** again, an **attention** map,\nand the **KV cache**.")
    link = "[{0}](chapters/{0}.ipynb)"
    path = _glossary(tmp_path / "GLOSSARY.md",
                     f"| canary | 金丝雀 | A planted secret string. | {link.format('01_text_data')} |",
                     f"| key-value cache (KV cache) | 键值缓存 | Cached K, V. | {link.format('01_text_data')} |",
                     f"| zebra | 斑马 | Not in any notebook. | {link.format('00_setup')} |")
    assert glossary.problems(path, tmp_path) == [
        f"missing term 'attention' (bold in {tmp_path.name}/01_text_data.ipynb, cell 0)",
        "GLOSSARY.md line 7: 'canary' links chapters/01_text_data.ipynb, but the notebook that introduces it is "
        "chapters/00_setup.ipynb",
        "GLOSSARY.md line 9: 'zebra' is used by no notebook",
    ]


def test_an_unbolded_entry_is_introduced_where_first_mentioned(tmp_path: Path) -> None:
    _notebook(tmp_path, "00_setup", "Nothing here about the topic.")
    _notebook(tmp_path, "01_text_data", "Two language models.")
    entry = glossary.parse(_glossary(tmp_path / "G.md", "| language model | 语言模型 | A distribution over text. | "
                                                          "[01_text_data](chapters/01_text_data.ipynb) |"))[0]
    assert glossary.introduced_in(entry, glossary.bold_spans(tmp_path), tmp_path) == "01_text_data"


def test_a_row_without_a_link_is_an_error(tmp_path: Path) -> None:
    path = _glossary(tmp_path / "G.md", "| perplexity | 困惑度 | exp of the cross-entropy. | 02 |")
    with pytest.raises(ValueError, match=r"G.md line 7: a row needs four cells"):
        glossary.parse(path)


def test_a_notebook_outside_the_course_map_is_an_error(tmp_path: Path) -> None:
    _notebook(tmp_path, "99_unknown", "**term**")
    with pytest.raises(ValueError, match=r"99_unknown.*lmcourse.course.CHAPTERS"):
        glossary.reading_order(tmp_path)
