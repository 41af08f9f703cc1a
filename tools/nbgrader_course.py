"""Turn ``solutions/`` into an nbgrader *source* course, for teaching with nbgrader's autograder.

    python tools/nbgrader_course.py ~/teaching/lm-course            # every chapter
    python tools/nbgrader_course.py ~/teaching/lm-course 00 07      # chapters whose names start with 00 or 07
    python tools/nbgrader_course.py ~/teaching/lm-course --points 2 --answer-points 3

nbgrader (https://nbgrader.readthedocs.io) keeps a course in one folder: the instructor's notebooks
in ``source/<assignment>/``, the student version it generates in ``release/<assignment>/``, the
students' work in ``submitted/<student>/<assignment>/``, the graded copies in
``autograded/<student>/<assignment>/``, and the scores in ``gradebook.db``. This script writes the
first part: one assignment per solution notebook (named by its stem, e.g. ``00_setup``), plus an
``nbgrader_config.py`` that grades the way the course's tests run the notebooks (written only when
the folder has none, so an instructor's own settings survive a rerun; the notebooks are rewritten).

Each notebook is the solution notebook with nbgrader's cell metadata added:

- a code cell with a ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` region is an nbgrader *solution
  cell* (nbgrader uses the same markers: ``generate_assignment`` replaces the region with a stub);
- a cell tagged ``check`` (it calls ``checks.chNN_what(fn)``) is an *autograded test cell* worth
  ``--points``, locked, its ``grade_id`` the checker's name: it passes when the check raises nothing;
- a markdown cell with a ``<!-- BEGIN SOLUTION -->`` region (an open question's model answer) is a
  *manually graded answer* worth ``--answer-points``: nbgrader requires a written solution to be graded
  by hand, and gives 0 without asking when the student left it unchanged.

The course's own generator (``tools/build_notebooks.py``) is untouched by this: ``chapters/`` stays
what it is.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat
import nbtools

#: nbgrader's cell-metadata schema that this script writes (nbgrader 0.9's current one).
SCHEMA_VERSION = 3
CHECKER_CALL = re.compile(r"\bchecks\.(ch\d+\w*)\s*\(")
FUNCTION = re.compile(r"^(?:class|def)\s+(\w+)\b", re.M)  # the top-level class or function the learner writes

CONFIG = '''"""nbgrader's configuration for this course, written by the course's tools/nbgrader_course.py.

Run nbgrader from this folder (python -m nbgrader ...): it reads this file from the working directory.
"""

import os

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = {course_id!r}
# The student version gets the course's own stubs, as in chapters/.
c.ClearSolutions.code_stub = {{"python": {stub!r}}}
c.ClearSolutions.text_stub = {md_stub!r}
# A cell may run as long as it may in the course's tests (nbgrader's default is 30 s).
c.Execute.timeout = {timeout}
# The grading kernels run as the course's tests run the notebooks: one thread, the `ci` scale, CPU,
# progress bars off, and the course's package first on the path.
os.environ.update({env!r})
'''


class CourseError(ValueError):
    """A solution notebook cannot be made into an nbgrader assignment, or an argument is wrong."""


def _meta(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: int | None) -> dict:
    meta: dict = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
                  "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def _unique(grade_id: str, taken: set[str], index: int) -> str:
    if grade_id in taken:
        grade_id = f"{grade_id}_cell{index}"
    taken.add(grade_id)
    return grade_id


def source_notebook(solution: nbformat.NotebookNode, name: str, points: int = 1,
                    answer_points: int = 1) -> nbformat.NotebookNode:
    """The nbgrader source version of one solution notebook: the same cells, with nbgrader's metadata.

    ``points`` is what each check cell is worth, ``answer_points`` each written answer (graded by hand).
    """
    for arg, value in (("points", points), ("answer_points", answer_points)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CourseError(f"{arg} must be a whole number of points, 0 or more; got {value!r}.")
    nb = copy.deepcopy(solution)
    taken: set[str] = set()
    checks = written = 0
    for i, cell in enumerate(nb.cells):
        where = f"{name}, cell {i}"
        cell.metadata.pop("nbgrader", None)  # this script is the one source of nbgrader's metadata
        is_check = "check" in nbtools.tags(cell)
        if cell.cell_type == "code":
            has_solution = nbtools.strip_code(cell.source, where) != cell.source  # also checks the markers
            if is_check and has_solution:
                raise CourseError(f"{where}: a cell tagged 'check' holds a solution region; nbgrader needs the "
                                  "answer and its test in separate cells. Move the check call into a cell of its own.")
            if is_check:
                found = CHECKER_CALL.findall(cell.source)
                grade_id = _unique(found[0] if found else f"check_cell{i}", taken, i)
                cell.metadata["nbgrader"] = _meta(grade_id, solution=False, grade=True, locked=True, points=points)
                checks += 1
            elif has_solution:
                found = FUNCTION.findall(cell.source)
                grade_id = _unique(f"{found[0]}_answer" if found else f"answer_cell{i}", taken, i)
                cell.metadata["nbgrader"] = _meta(grade_id, solution=True, grade=False, locked=False, points=None)
        elif cell.cell_type == "markdown":
            if nbtools.strip_markdown(cell.source, where) != cell.source:
                if is_check:
                    raise CourseError(f"{where}: a markdown cell is tagged 'check'; only code cells can be checked.")
                written += 1
                grade_id = _unique(f"written_answer_{written}", taken, i)
                cell.metadata["nbgrader"] = _meta(grade_id, solution=True, grade=True, locked=False,
                                                  points=answer_points)
    if not checks and not written:
        raise CourseError(f"{name}: no cell tagged 'check' and no written answer: nothing for nbgrader to grade.")
    return nb


def write_course(course: Path, names: list[str] | None = None, points: int = 1, answer_points: int = 1,
                 course_id: str = "lmcourse") -> list[str]:
    """Write ``course/source/<stem>/<stem>.ipynb`` for each chosen solution notebook, and the course's
    ``nbgrader_config.py`` if it has none; return the assignment names. ``names`` are prefixes like ``"00"``."""
    course = Path(course).expanduser().resolve()
    if course == nbtools.ROOT or nbtools.ROOT in course.parents:
        raise CourseError(f"course={str(course)!r} is inside the repository; nbgrader would write students' work "
                          "and a gradebook among the course's files. Choose a folder outside it, e.g. ~/lm-course.")
    solutions = sorted(nbtools.SOLUTIONS.glob("*.ipynb"))
    chosen = [p for p in solutions if not names or any(p.stem.startswith(n) for n in names)]
    if not chosen:
        known = ", ".join(p.stem for p in solutions)
        raise CourseError(f"no solution notebook's name starts with {' or '.join(names or [])}; known: {known}.")
    made = []
    for path in chosen:
        nb = source_notebook(nbformat.read(path, as_version=4), path.name, points, answer_points)
        folder = course / "source" / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / path.name)
        made.append(path.stem)
    config = course / "nbgrader_config.py"
    if not config.exists():  # an instructor's own settings (students, late penalties...) are kept
        config.write_text(CONFIG.format(course_id=course_id, stub=nbtools.STUB, md_stub=nbtools.MD_STUB,
                                        timeout=nbtools.CELL_TIMEOUT, env=nbtools.kernel_env()), encoding="utf-8")
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("course", type=Path, help="the course folder to write (outside this repository)")
    parser.add_argument("chapters", nargs="*", help="chapter prefixes such as 00 07 (default: every notebook)")
    parser.add_argument("--points", type=int, default=1, help="points per check cell (default 1)")
    parser.add_argument("--answer-points", type=int, default=1,
                        help="points per written answer, graded by hand (default 1)")
    parser.add_argument("--course-id", default="lmcourse", help="nbgrader's course id (default lmcourse)")
    args = parser.parse_args(argv)
    try:
        made = write_course(args.course, args.chapters, args.points, args.answer_points, args.course_id)
    except (CourseError, nbtools.NotebookError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    course = args.course.expanduser().resolve()
    print(f"wrote {len(made)} assignments to {course / 'source'}: {' '.join(made)}")
    print(f"next: cd {course} && python -m nbgrader generate_assignment {made[0]}  (the student version: release/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
