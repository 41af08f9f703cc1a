"""The instructor guide, INSTRUCTORS.md, tells the truth about the course.

Its run-time table is what tools/instructors.py writes now from the notebooks' recorded run times (so a
rebuild that changes a time fails here until the script is run); every chapter of the course map has its
section; each schedule covers every notebook exactly once, with the course map's minutes; and each
chapter's objectives are the ones its notebook states. The second half proves each check can fail.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import build_notebooks
import instructors
import nbformat
import nbtools
import pytest

from lmcourse.course import CHAPTERS

GUIDE = instructors.INSTRUCTORS
NOTEBOOKS = {slug: minutes for ch in CHAPTERS for slug, minutes in ch.notebooks}
SLUG = re.compile(r"`(\d\d_[a-z0-9_]+)`")


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under the markdown heading ``heading`` (a whole line), up to the next heading of its level or higher."""
    level = len(heading.split(" ")[0])
    match = re.search(rf"^{re.escape(heading)}\n(.*?)(?=^#{{1,{level}}} |\Z)", text, re.M | re.S)
    assert match, f"INSTRUCTORS.md has no heading {heading!r}"
    return match.group(1)


def schedule_rows(text: str) -> list[tuple[str, list[str], int]]:
    """(unit, notebooks, minutes) of each row of a schedule table: | unit | notebooks | minutes | ... |."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 3 and cells[0].isdigit():
            rows.append((cells[0], SLUG.findall(cells[1]), int(cells[2])))
    return rows


def schedule_problems(text: str) -> list[str]:
    """What is wrong with a schedule: a notebook missing or twice, one not in the course map, a wrong sum."""
    rows = schedule_rows(text)
    found = [] if rows else ["no schedule rows"]
    seen = Counter(slug for _, slugs, _ in rows for slug in slugs)
    found += [f"{slug} is missing" for slug in NOTEBOOKS if slug not in seen]
    found += [f"{slug} is there {n} times" for slug, n in seen.items() if n > 1]
    found += [f"{slug} is not a notebook of the course map" for slug in seen if slug not in NOTEBOOKS]
    for unit, slugs, minutes in rows:
        expected = sum(NOTEBOOKS.get(s, 0) for s in slugs)
        if minutes != expected:
            found.append(f"row {unit} says {minutes} min; its notebooks take {expected} min in the course map")
    return found


def objectives(slug: str) -> list[str]:
    """The learning objectives a solution notebook's first cell states, one string per bullet."""
    header = nbformat.read(nbtools.SOLUTIONS / f"{slug}.ipynb", as_version=4).cells[0].source
    part = header.split("**Learning objectives.**")[1].split("**Prerequisites.**")[0]
    return [" ".join(b.split()) for b in re.split(r"\n- ", part)[1:]]


def test_run_time_table_is_what_the_script_writes_now() -> None:
    text = guide()
    assert instructors.render(text) == text, \
        "INSTRUCTORS.md's run-time table is out of date: run python tools/instructors.py"


def test_run_time_table_shows_each_recorded_time() -> None:
    """Independently of the script: each built notebook's two recorded times, as the builder stored them."""
    table = section(guide(), "## Run times")
    for ch in CHAPTERS:
        for slug, minutes in ch.notebooks:
            solution, chapter = (folder / f"{slug}.ipynb" for folder in (nbtools.SOLUTIONS, nbtools.CHAPTERS))
            if solution.exists():
                shown = " | ".join(f"{instructors.recorded_seconds(p):.1f} s" for p in (solution, chapter))
            else:
                shown = "planned | planned"
            row = f"| {ch.number} | `{slug}` | {minutes} min | {shown} | {ch.budget(slug)} s |"
            assert row in table, f"INSTRUCTORS.md should have the row {row!r}"


def test_every_chapter_has_its_section() -> None:
    chapters = section(guide(), "## The chapters")
    for ch in CHAPTERS:
        heading = f"### {ch.number} · {ch.title}"
        body = section(chapters, heading)
        if (nbtools.SOLUTIONS / f"{ch.slug}.ipynb").exists():
            for part in ("**Discussion.**", "**Misconceptions, and what catches them.**", "**Grading.**"):
                assert part in body, f"{heading}: no {part}"
            for slug, _ in ch.notebooks:
                assert f"`{slug}`" in body, f"{heading} does not name its notebook {slug}"
        else:
            assert "planned" in body.lower(), f"{heading}: a chapter not yet written is marked planned"


@pytest.mark.parametrize("heading", ["### Seven weeks", "### Fourteen sessions"])
def test_schedule_covers_every_notebook_once(heading: str) -> None:
    assert schedule_problems(section(guide(), heading)) == []


def test_schedules_have_seven_weeks_and_fourteen_sessions() -> None:
    text = guide()
    assert [u for u, _, _ in schedule_rows(section(text, "### Seven weeks"))] == [str(i) for i in range(1, 8)]
    assert [u for u, _, _ in schedule_rows(section(text, "### Fourteen sessions"))] == [str(i) for i in range(1, 15)]


def missing_objectives(text: str, slug: str) -> list[str]:
    """The objectives of notebook ``slug`` that ``text`` does not state word for word (as a bullet)."""
    flat = " ".join(text.split())
    return [bullet for bullet in objectives(slug) if f"- {bullet}" not in flat]


@pytest.mark.parametrize("slug", [s for s in NOTEBOOKS if (nbtools.SOLUTIONS / f"{s}.ipynb").exists()])
def test_objectives_are_the_notebooks_own(slug: str) -> None:
    assert objectives(slug), f"{slug}: no objectives found in its header"
    assert missing_objectives(guide(), slug) == [], \
        f"INSTRUCTORS.md should state {slug}'s objectives as its header does"


def test_builder_writes_the_guide_after_the_readme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """build_notebooks.write_times (called at the end of a build) rewrites both the README and the guide."""
    readme, copy = tmp_path / "README.md", tmp_path / "INSTRUCTORS.md"
    readme.write_text(build_notebooks.README.read_text(encoding="utf-8"), encoding="utf-8")
    stale = re.sub(r"\| \d+\.\d s \| \d+\.\d s \|", "| 0.0 s | 0.0 s |", guide())
    copy.write_text(stale, encoding="utf-8")
    monkeypatch.setattr(build_notebooks, "README", readme)
    monkeypatch.setattr(instructors, "INSTRUCTORS", copy)
    build_notebooks.write_times({"00_setup": 99.4})
    assert "| `00_setup` |" in readme.read_text(encoding="utf-8")
    assert re.search(r"^\| 00 \| `00_setup` \|(?:[^|\n]*\|){3} 99 s \| ready \|$", readme.read_text(encoding="utf-8"),
                     re.M)
    assert copy.read_text(encoding="utf-8") == guide()


# The checks above can fail: each helper rejects a broken guide.

def test_a_changed_run_time_is_caught(tmp_path: Path) -> None:
    text = re.sub(r"\| (\d+)\.(\d) s \|", lambda m: f"| {int(m.group(1)) + 1}.{m.group(2)} s |", guide(), count=1)
    assert text != guide() and instructors.render(text) != text
    path = tmp_path / "INSTRUCTORS.md"
    path.write_text(text, encoding="utf-8")
    assert instructors.update(path) is True
    assert path.read_text(encoding="utf-8") == guide()
    assert instructors.update(path) is False


def test_missing_markers_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="run-times:start"):
        instructors.render(guide().replace(instructors.END, ""))
    with pytest.raises(ValueError, match="exactly one"):
        instructors.render(guide() + instructors.START)


def test_a_notebook_without_a_recorded_time_is_named(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    path = tmp_path / "07_attention.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match=r"07_attention.ipynb has no recorded run time.*build_notebooks.py 07"):
        instructors.recorded_seconds(path)


def test_schedule_problems_are_found() -> None:
    good = section(guide(), "### Seven weeks")
    assert schedule_problems(good) == []
    twice = good.replace("`02_ngram_counting`, `03_ngram_smoothing` | 120",
                         "`02_ngram_counting`, `03_ngram_smoothing`, `00_setup` | 140")
    assert schedule_problems(twice) == ["00_setup is there 2 times"]
    missing = good.replace("`02_ngram_counting`, `03_ngram_smoothing` | 120", "`02_ngram_counting` | 60")
    assert schedule_problems(missing) == ["03_ngram_smoothing is missing"]
    wrong_sum = good.replace("`02_ngram_counting`, `03_ngram_smoothing` | 120", "`02_ngram_counting`, "
                             "`03_ngram_smoothing` | 100")
    assert schedule_problems(wrong_sum) == ["row 2 says 100 min; its notebooks take 120 min in the course map"]
    unknown = good.replace("`00_setup`, ", "`00_setup`, `99_extra`, ")
    assert schedule_problems(unknown) == ["99_extra is not a notebook of the course map"]


def test_a_missing_section_or_objective_is_found() -> None:
    text, title = guide(), next(c.title for c in CHAPTERS if c.number == "05")
    with pytest.raises(AssertionError, match="no heading"):
        section(text.replace("### 05 · ", "### 05 - "), f"### 05 · {title}")
    first = objectives("03_ngram_smoothing")[0]
    changed = " ".join(text.split()).replace(f"- {first}", "- " + first.replace(" ", "  x ", 1))
    assert missing_objectives(changed, "03_ngram_smoothing") == [first]
