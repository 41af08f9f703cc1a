"""The nbgrader course that tools/nbgrader_course.py makes, graded by the real, pinned nbgrader.

The round trip runs nbgrader's Python API (NbGraderAPI) on a course folder under tmp_path, configured
by that folder's own nbgrader_config.py and nothing else (no Jupyter configuration of this machine
takes part), with its own gradebook: it generates the student version of chapter 00,
autogrades a submission that solves every exercise and one that hands the student version back
unchanged, and reads the scores from nbgrader's gradebook. Chapter 00 is the fastest chapter with
exercises (about 11 s a run); the round trip takes about 40 s.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat
import nbgrader_course
import nbtools
import pytest

CHAPTER = "00_setup"
STUDENTS = ("solved", "unsolved")


def _solution(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(nbtools.SOLUTIONS / f"{stem}.ipynb", as_version=4)


def _graded(nb: nbformat.NotebookNode) -> dict[str, dict]:
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata}


@pytest.mark.parametrize("stem", sorted(p.stem for p in nbtools.SOLUTIONS.glob("*.ipynb")))
def test_source_notebook_marks_answers_checks_and_written_answers(stem: str) -> None:
    from nbgrader.nbgraderformat import MetadataValidator

    solution = _solution(stem)
    nb = nbgrader_course.source_notebook(solution, stem, points=2, answer_points=3)
    MetadataValidator().validate_nb(nb)  # nbgrader's own schema check (grade ids, points, cell kinds)
    assert [c.source for c in nb.cells] == [c.source for c in solution.cells], "the sources must stay the solution's"
    checks = [c for c in solution.cells if "check" in nbtools.tags(c)]
    answers = [c for c in solution.cells if c.cell_type == "code" and nbtools.CODE_BEGIN in c.source]
    written = [c for c in solution.cells if c.cell_type == "markdown" and nbtools.MD_BEGIN in c.source]
    meta = _graded(nb)
    tests = {k: m for k, m in meta.items() if m["grade"] and not m["solution"]}
    # Each check cell: an autograded test cell, locked, worth --points, named by its checker.
    assert sorted(tests) == sorted(nbgrader_course.CHECKER_CALL.search(c.source).group(1) for c in checks)
    assert all(m["locked"] and m["points"] == 2 and m["schema_version"] == 3 for m in tests.values()), tests
    # Each solution region in code: a solution cell, not graded itself (its check cell is).
    code_answers = {k: m for k, m in meta.items() if m["solution"] and not m["grade"]}
    assert len(code_answers) == len(answers) and all(not m["locked"] for m in code_answers.values())
    # Each written answer: graded by hand, worth --answer-points.
    by_hand = {k: m for k, m in meta.items() if m["solution"] and m["grade"]}
    assert len(by_hand) == len(written) and all(m["points"] == 3 for m in by_hand.values()), by_hand
    assert len(meta) == len(checks) + len(answers) + len(written), "no other cell is an nbgrader cell"


def test_bad_input_is_refused_with_a_remedy(tmp_path: Path) -> None:
    solution = _solution(CHAPTER)
    with pytest.raises(nbgrader_course.CourseError, match=r"points must be a whole number.*got -1"):
        nbgrader_course.source_notebook(solution, CHAPTER, points=-1)
    with pytest.raises(nbgrader_course.CourseError, match=r"answer_points .*got 1.5"):
        nbgrader_course.source_notebook(solution, CHAPTER, answer_points=1.5)  # type: ignore[arg-type]
    broken = copy.deepcopy(solution)
    check = next(i for i, c in enumerate(broken.cells) if "check" in nbtools.tags(c))
    broken.cells[check].source = "# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n" + broken.cells[check].source
    with pytest.raises(nbgrader_course.CourseError, match=rf"cell {check}: a cell tagged 'check' holds a solution"):
        nbgrader_course.source_notebook(broken, CHAPTER)
    with pytest.raises(nbgrader_course.CourseError, match="inside the repository"):
        nbgrader_course.write_course(nbtools.ROOT / "my-work" / "course", [CHAPTER])
    with pytest.raises(nbgrader_course.CourseError, match=r"starts with 99; known: 00_setup"):
        nbgrader_course.write_course(tmp_path / "course", ["99"])
    assert not (tmp_path / "course").exists() and not (nbtools.ROOT / "my-work" / "course").exists()


@pytest.fixture
def nbgrader_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A function that loads a course folder's own nbgrader_config.py, and only that, into nbgrader's API."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    # The course's config sets the grading kernels' environment in os.environ (tools/nbtools.RUN_ENV):
    # monkeypatch records every variable it may touch and puts it back afterwards.
    for key in nbtools.kernel_env():
        monkeypatch.setenv(key, os.environ.get(key, ""))
    monkeypatch.delenv("LMCOURSE_DATA", raising=False)
    monkeypatch.setenv("LMCOURSE_SCALE", "laptop")  # the course's config must set the `ci` scale

    def load(course: Path) -> NbGraderAPI:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
        config.CourseDirectory.root = str(course)
        config.Exchange.root = str(tmp_path / "exchange")  # not the machine's /srv/nbgrader/exchange
        return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)

    return load


def _ok(result: dict) -> None:
    assert result["success"], f"nbgrader failed:\n{result.get('log', '')}\n{result.get('error', '')}"


def test_nbgrader_round_trip_gives_full_and_zero_marks(tmp_path: Path, nbgrader_api) -> None:  # type: ignore
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text("c = get_config()\n", encoding="utf-8")
    nbgrader_course.write_course(course, [CHAPTER])  # an instructor's own config is kept ...
    assert (course / "nbgrader_config.py").read_text(encoding="utf-8") == "c = get_config()\n"
    (course / "nbgrader_config.py").unlink()
    assert nbgrader_course.write_course(course, [CHAPTER]) == [CHAPTER]  # ... and written where there is none
    api = nbgrader_api(course)
    assert os.environ["LMCOURSE_SCALE"] == "ci" and os.environ["LMCOURSE_THREADS"] == "1", "set by the course's config"
    _ok(api.generate_assignment(CHAPTER))

    source = nbformat.read(course / "source" / CHAPTER / f"{CHAPTER}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / CHAPTER / f"{CHAPTER}.ipynb", as_version=4)
    text = "\n".join(c.source for c in release.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "total = sum(counts)" not in text and "*A model answer.*" not in text, "a solution leaked"
    assert text.count(nbtools.STUB) == 3 and text.count(nbtools.MD_STUB) == 1, "the course's own stubs"

    # A student who solves everything: the release notebook with the solution's answers pasted in.
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    solved = copy.deepcopy(release)
    for cell in solved.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers.pop(grade_id)
    assert not answers, f"answers with no cell in the student version: {sorted(answers)}"
    for student, nb in zip(STUDENTS, (solved, release)):
        folder = course / "submitted" / student / CHAPTER
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{CHAPTER}.ipynb")
    for student in STUDENTS:
        _ok(api.autograde(CHAPTER, student))

    checks = [m["grade_id"] for m in _graded(source).values() if m["grade"] and not m["solution"]]
    assert checks == ["ch00_normalise", "ch00_char_counts", "ch00_reproducible"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in STUDENTS:
            sub = gb.find_submission(CHAPTER, student)
            grades = {g.name: g for g in sub.notebooks[0].grades}
            assert sorted(grades) == sorted([*checks, "written_answer_1"])
            assert (sub.max_code_score, sub.max_written_score, sub.max_score) == (3, 1, 4)
            got = {name: grades[name].score for name in checks}
            if student == "solved":
                assert got == dict.fromkeys(checks, 1.0), f"every check passes: {got}"
                assert sub.code_score == 3
                # The written answer was changed, so it waits for the instructor's grade.
                assert grades["written_answer_1"].needs_manual_grade and grades["written_answer_1"].auto_score is None
            else:
                assert got == dict.fromkeys(checks, 0.0), f"every stub fails its check: {got}"
                assert sub.code_score == 0 and sub.score == 0
                # Left unchanged, nbgrader scores it 0 without asking the instructor.
                assert grades["written_answer_1"].auto_score == 0 and not grades["written_answer_1"].needs_manual_grade
