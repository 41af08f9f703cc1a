"""Every notebook follows the course's structure rules, and every chapter is generated from its solution.

The rules live in tools/nbtools.py (the builder applies them too). The second
half of this file proves that each rule can fail, on small notebooks made here.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import nbtools
import pytest

SOLUTIONS = sorted(nbtools.SOLUTIONS.glob("*.ipynb"))
CHAPTERS = sorted(nbtools.CHAPTERS.glob("*.ipynb"))
ALL = SOLUTIONS + CHAPTERS


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_chapters_and_solutions_pair_up() -> None:
    assert SOLUTIONS, "no solution notebooks found"
    assert [p.name for p in SOLUTIONS] == [p.name for p in CHAPTERS]


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_structure(path: Path) -> None:
    assert nbtools.problems(read(path), f"{path.parent.name}/{path.name}") == []


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_chapter_is_up_to_date_with_its_solution(path: Path) -> None:
    expected = nbtools.make_chapter(read(path), path.name)
    chapter = nbtools.chapter_for(path)
    assert chapter.exists(), f"{chapter.name} is missing: run python tools/build_notebooks.py {path.name[:2]}"
    assert nbtools.same_sources(expected, read(chapter)), (
        f"chapters/{chapter.name} is out of date with solutions/{path.name}: "
        f"run python tools/build_notebooks.py {path.name[:2]} (never edit a chapter by hand)"
    )


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_stored_outputs_are_not_stale(path: Path) -> None:
    """The outputs were made from these cells, this package and these data (else: rebuild, as it says)."""
    assert nbtools.stale(read(path), f"{path.parent.name}/{path.name}") == []


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recorded_run_time_is_within_the_chapters_budget(path: Path) -> None:
    seconds = read(path).metadata[nbtools.META]["run_seconds"]
    assert 0 < seconds <= nbtools.budget(path), f"{path.name} ran {seconds} s; its budget is {nbtools.budget(path)} s"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_header_states_the_chapters_budget(path: Path) -> None:
    """One wording for the times in every header: the course map's reading time, and the budget as run time."""
    from lmcourse.course import CHAPTERS

    header = read(path).cells[0].source
    nbtools.budget(path)  # a clear error for a notebook outside the course map
    minutes = next(m for ch in CHAPTERS for slug, m in ch.notebooks if slug == path.stem)
    assert f"**Estimated time.** Reading and exercises: {minutes} minutes. " in header, header
    assert f"CPU run time: under {nbtools.budget(path)} seconds" in header, header


def test_readme_run_times_are_the_recorded_ones() -> None:
    """The README's learning path shows each built chapter's recorded run time, and the budget of the others."""
    import re

    import build_notebooks

    from lmcourse.course import CHAPTERS

    readme = build_notebooks.README.read_text(encoding="utf-8")
    for chapter, slug in ((c, s) for c in CHAPTERS for s, _ in c.notebooks):
        copies = [folder / f"{slug}.ipynb" for folder in (nbtools.SOLUTIONS, nbtools.CHAPTERS)]
        if copies[0].exists():
            shown = build_notebooks.readme_run_time(max(read(p).metadata[nbtools.META]["run_seconds"] for p in copies))
            status = "ready"
        else:
            shown, status = f"≤ {chapter.budget(slug)} s", "planned"
        row = rf"^\| {chapter.number} \| `{slug}` \|(?:[^|\n]*\|){{3}} {shown} \| {status} \|$"
        assert re.search(row, readme, re.M), (
            f"README.md's row for {slug} should show the run time {shown!r} and the status {status!r} "
            "(python tools/build_notebooks.py writes them)")


def test_the_plan_keeps_the_suite_under_its_budget() -> None:
    """Every chapter's two copies at their full budget, two at a time, fit the suite's budget with room to spare."""
    from lmcourse.course import CHAPTERS

    notebooks = 2 * sum(ch.budget(slug) for ch in CHAPTERS for slug, _ in ch.notebooks) / 2  # 2 copies, 2 workers
    assert notebooks <= 0.6 * nbtools.SUITE_BUDGET_MIN * 60, f"{notebooks / 60:.1f} min of notebooks"
    assert all(0 < ch.run_budget_s <= nbtools.DEFAULT_BUDGET for ch in CHAPTERS)


# --- each rule can fail ---------------------------------------------------------------


def good_notebook() -> nbformat.NotebookNode:
    import hosted

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "# 99 · Demo\n\n" + hosted.badges("lm", "course", "99_demo.ipynb") + "\n\n**Learning objectives** ... "
            "**Prerequisites** ... reading and exercises 5 min, run time 1 s. **Solutions** in solutions/."
        ),
        nbformat.v4.new_code_cell(hosted.guard("lm", "course") + "\n\nimport lmcourse\ndevice = lmcourse.setup()",
                                  execution_count=1),
        nbformat.v4.new_code_cell("def f(x):\n    # BEGIN SOLUTION\n    return x + 1\n    # END SOLUTION",
                                  execution_count=2),
        nbformat.v4.new_code_cell("check(f)", execution_count=3, metadata={"tags": ["check"]}),
    ]
    return nb


def test_a_good_notebook_passes() -> None:
    assert nbtools.problems(good_notebook(), "demo") == []


def test_out_of_order_execution_counts_fail() -> None:
    nb = good_notebook()
    nb.cells[2].execution_count = 5
    assert any("not 1..3 in order" in p for p in nbtools.problems(nb, "demo"))
    nb.cells[2].execution_count = None  # never run: nbval would not compare it
    assert any("not 1..3 in order" in p for p in nbtools.problems(nb, "demo"))


def test_an_untagged_stored_error_fails() -> None:
    nb = good_notebook()
    nb.cells[2].outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="boom", traceback=[])]
    assert any("stores an error (ValueError)" in p for p in nbtools.problems(nb, "demo"))
    nb.cells[2].metadata["tags"] = ["raises-exception"]
    assert nbtools.problems(nb, "demo") == []


def test_a_tagged_cell_that_did_not_raise_fails() -> None:
    nb = good_notebook()
    nb.cells[3].metadata["tags"] = ["raises-exception"]
    assert any("stores no exception" in p for p in nbtools.problems(nb, "demo"))


def test_an_absolute_path_fails() -> None:
    nb = good_notebook()
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="saved to /home/ada/lm/model.pt\n")]
    assert any("absolute path" in p for p in nbtools.problems(nb, "demo"))


def test_a_missing_header_field_or_setup_call_fails() -> None:
    nb = good_notebook()
    nb.cells[0].source = "# 99 · Demo\nno objectives here"
    nb.cells[1].source = "import numpy"
    found = " ".join(nbtools.problems(nb, "demo"))
    assert "'learning objectives'" in found and "'run time'" in found and "lmcourse.setup" in found
    assert "no Colab and Binder badges" in found


def test_a_first_code_cell_without_the_colab_set_up_fails() -> None:
    nb = good_notebook()
    nb.cells[1].source = "import lmcourse\ndevice = lmcourse.setup()"
    assert nbtools.problems(nb, "demo") == [
        "demo: the first code cell must begin with the Colab set-up (run python tools/hosted.py)"]


def test_make_chapter_stubs_solutions_and_tags_checks() -> None:
    chapter = nbtools.make_chapter(good_notebook(), "demo")
    assert chapter.cells[2].source == "def f(x):\n    " + nbtools.STUB
    assert nbtools.tags(chapter.cells[3]) == ["check", "raises-exception"]
    code = [c for c in chapter.cells if c.cell_type == "code"]
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None for c in code)


def test_an_out_of_date_chapter_is_detected() -> None:
    solution = good_notebook()
    chapter = nbtools.make_chapter(solution, "demo")
    assert nbtools.same_sources(nbtools.make_chapter(solution, "demo"), chapter)
    solution.cells[2].source = solution.cells[2].source.replace("x + 1", "x + 2")
    solution.cells[1].source += "\nprint('new line')"
    assert not nbtools.same_sources(nbtools.make_chapter(solution, "demo"), chapter)


def test_markdown_solutions_are_hidden() -> None:
    assert nbtools.strip_markdown("Why? <!-- BEGIN SOLUTION -->Because.<!-- END SOLUTION --> Next.") == (
        "Why? " + nbtools.MD_STUB + " Next.")


@pytest.mark.parametrize(
    "source,why",
    [
        ("# BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n# END SOLUTION", "without a"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "a second"),
    ],
)
def test_unbalanced_markers_are_errors(source: str, why: str) -> None:
    with pytest.raises(nbtools.NotebookError, match=why):
        nbtools.strip_code(source)


def test_stale_outputs_are_named() -> None:
    nb = good_notebook()
    loaded = ["lmcourse", "lmcourse.checks", "lmcourse.checks.core"]
    nb.metadata[nbtools.META] = {"run_seconds": 1.0, **nbtools.fingerprint(nb, loaded)}
    assert nbtools.stale(nb, "demo") == []
    nb.metadata[nbtools.META]["package"]["lmcourse/checks/core.py"] = "0" * 16
    nb.metadata[nbtools.META]["datasets"]["names"] = "0" * 16
    nb.cells[2].source += "\n"
    assert nbtools.stale(nb, "demo") == [
        "demo: its cells changed since its outputs were stored",
        "demo: lmcourse/checks/core.py changed since its outputs were stored",
        "demo: dataset 'names' changed since its outputs were stored",
    ]
    del nb.metadata[nbtools.META]
    assert "no record of the builder's run" in nbtools.stale(nb, "demo")[0]


def test_solution_regions_need_a_check_cell() -> None:
    nb = good_notebook()
    nb.cells[3].metadata["tags"] = []
    with pytest.raises(nbtools.NotebookError, match="no cell tagged 'check'"):
        nbtools.make_chapter(nb, "demo")


def test_exercise_rules_fail_where_they_should() -> None:
    nb = good_notebook()  # one check cell, run, but it printed nothing and raised nothing
    solution = " ".join(nbtools.problems(nb, "solutions/demo.ipynb"))
    assert "1 cells tagged 'check'; a chapter closes with 3-5" in solution and "check does not pass" in solution
    chapter = " ".join(nbtools.problems(nb, "chapters/demo.ipynb"))
    assert "should meet the exercise's stub (ExerciseNotDone), got no error" in chapter
    nb.cells[3].outputs = [nbformat.v4.new_output("error", ename="ExerciseNotDone", evalue="stub", traceback=[])]
    nb.cells[3].metadata["tags"] = ["check", "raises-exception"]
    assert nbtools.problems(nb, "chapters/demo.ipynb") == []


def test_a_notebook_outside_the_course_map_is_refused() -> None:
    with pytest.raises(nbtools.NotebookError, match="02_ngrams.ipynb is not a chapter of the course map"):
        nbtools.budget(Path("solutions/02_ngrams.ipynb"))


def test_kernels_import_this_checkout() -> None:
    env = nbtools.kernel_env()
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(nbtools.ROOT)
    assert nbtools.kernel_env()["PYTHONPATH"].count(str(nbtools.ROOT)) == 1  # not added twice


def test_a_chapter_in_parts_can_give_each_part_its_budget() -> None:
    """Chapter 12's parts have budgets of their own; a chapter without part budgets gives every notebook its own."""
    from lmcourse.course import Chapter, chapter

    twelve = chapter("12")
    assert [twelve.budget(s) for s, _ in twelve.notebooks] == list(twelve.part_budgets_s)
    assert {chapter("11").budget(s) for s, _ in chapter("11").notebooks} == {chapter("11").run_budget_s}
    with pytest.raises(KeyError, match="no notebook"):
        twelve.budget("11_applications")
    for budgets in ((30,), (30, 70), (0, 30)):  # one per part, each within the chapter's run_budget_s
        with pytest.raises(ValueError, match="part_budgets_s"):
            Chapter("99", "99_a", "t", (), 10, run_budget_s=60, parts=(("99_a", 5), ("99_b", 5)),
                    part_budgets_s=budgets)
