"""Authoring tools for the course notebooks: make a chapter from its solution, run it, check it.

A solution notebook in ``solutions/`` is the single source. Its exercise answers
sit between marker lines::

    def normalise(counts):
        # BEGIN SOLUTION
        total = sum(counts)
        return [c / total for c in counts]
        # END SOLUTION

:func:`make_chapter` replaces each marked region with a stub,
``raise NotImplementedError(...)`` at the marker's indentation, and adds the
tag ``raises-exception`` to every cell the author tagged ``check`` (the cell
that calls the exercise's checker), so nbval expects the stub's exception there.
In markdown cells, ``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->``
becomes *"Your answer here."*.

The same module holds the structure checks that ``tests/test_notebooks.py``
applies to every notebook, so the builder and the tests cannot disagree.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
CHAPTERS = ROOT / "chapters"

#: The environment every stored output is made in, and every test runs in.
RUN_ENV = {
    "LMCOURSE_THREADS": "2",  # float reductions depend on the thread count
    "LMCOURSE_SCALE": "ci",
    "LMCOURSE_DEVICE": "cpu",  # stored outputs are CPU outputs, even on a machine with a GPU
    "LMCOURSE_UNDER_TEST": "1",  # progress bars off: no rates or timings in stored stderr
    "PYTHONHASHSEED": "0",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}

CODE_BEGIN, CODE_END = "# BEGIN SOLUTION", "# END SOLUTION"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
STUB = 'raise NotImplementedError("exercise: replace this line with your code")'
MD_STUB = "*Your answer here.*"
HEADER_FIELDS = ("learning objectives", "prerequisites", "reading time", "run time", "solutions")
ABSOLUTE_PATH = re.compile(r"(/home/|/Users/|/root/|/work/|/tmp/|[A-Za-z]:\\\\Users\\\\)")


class NotebookError(ValueError):
    """A notebook breaks one of the course's authoring rules."""


def strip_code(source: str, where: str = "cell") -> str:
    """Replace each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` region with an indented stub."""
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        marker = line.strip()
        if marker == CODE_BEGIN:
            if inside:
                raise NotebookError(f"{where}: a second '{CODE_BEGIN}' before '{CODE_END}'.")
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
        elif marker == CODE_END:
            if not inside:
                raise NotebookError(f"{where}: '{CODE_END}' without a '{CODE_BEGIN}' before it.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise NotebookError(f"{where}: '{CODE_BEGIN}' is never closed by '{CODE_END}'.")
    return "\n".join(out)


def strip_markdown(source: str, where: str = "cell") -> str:
    """Replace each markdown solution region with *Your answer here.*"""
    pattern = re.compile(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END), re.S)
    stripped = pattern.sub(MD_STUB, source)
    if MD_BEGIN in stripped or MD_END in stripped:
        raise NotebookError(f"{where}: unbalanced '{MD_BEGIN}' / '{MD_END}' markers.")
    return stripped


def tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def make_chapter(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The learner's notebook made from a solution notebook: stubs in, outputs out, check cells tagged."""
    chapter = copy.deepcopy(solution)
    stubs = 0
    for i, cell in enumerate(chapter.cells):
        where = f"{name}, cell {i}"
        if cell.cell_type == "code":
            new = strip_code(cell.source, where)
            stubs += new != cell.source
            cell.source = new
            cell.outputs = []
            cell.execution_count = None
            if "check" in tags(cell) and "raises-exception" not in tags(cell):
                cell.metadata["tags"] = tags(cell) + ["raises-exception"]
        elif cell.cell_type == "markdown":
            cell.source = strip_markdown(cell.source, where)
    checks = sum("check" in tags(c) for c in chapter.cells)
    if stubs and not checks:
        raise NotebookError(f"{name}: it has solution regions but no cell tagged 'check' to test them.")
    return chapter


def chapter_for(solution_path: Path) -> Path:
    return CHAPTERS / solution_path.name


def same_sources(a: nbformat.NotebookNode, b: nbformat.NotebookNode) -> bool:
    """True when two notebooks have the same cells (type, source, tags), whatever their outputs."""
    def key(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
        return [(c.cell_type, c.source, tags(c)) for c in nb.cells]

    return key(a) == key(b)


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 900) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh kernel, in :data:`RUN_ENV`, and return it with outputs."""
    from nbclient import NotebookClient

    saved = {k: os.environ.get(k) for k in RUN_ENV}
    os.environ.update(RUN_ENV)
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                                record_timing=False)
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return trim_tracebacks(nb)


def trim_tracebacks(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Keep only the last line (``Name: message``) of each stored traceback.

    The frames above it name files on the author's machine (the kernel's temp
    folder, site-packages); the last line is what a learner needs and what
    nbval compares (the exception's name and message).
    """
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and out.get("traceback"):
                out["traceback"] = out["traceback"][-1:]
    return nb


def problems(nb: nbformat.NotebookNode, name: str) -> list[str]:
    """Every way the notebook breaks the course's structure rules (empty list: none)."""
    found: list[str] = []
    cells = nb.cells
    if not cells or cells[0].cell_type != "markdown":
        found.append(f"{name}: the first cell must be a markdown header")
    else:
        header = cells[0].source.lower()
        if not header.lstrip().startswith("# "):
            found.append(f"{name}: the header cell must start with a '# ' title")
        for field in HEADER_FIELDS:
            if field not in header:
                found.append(f"{name}: the header cell does not mention '{field}'")
    code = [c for c in cells if c.cell_type == "code"]
    if not code or "import lmcourse" not in code[0].source or "lmcourse.setup(" not in code[0].source:
        found.append(f"{name}: the first code cell must `import lmcourse` and call `lmcourse.setup(...)`")
    counts = [c.execution_count for c in code]
    if counts != list(range(1, len(code) + 1)):
        found.append(f"{name}: execution counts are {counts}, not 1..{len(code)} in order: "
                     "store the outputs of one clean top-to-bottom run (python tools/build_notebooks.py)")
    for i, cell in enumerate(cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and "raises-exception" not in tags(cell):
                found.append(f"{name}, cell {i}: stores an error ({out.get('ename')}) but is not tagged raises-exception")
            if ABSOLUTE_PATH.search(json.dumps(out)):
                found.append(f"{name}, cell {i}: an output names an absolute path of the author's machine")
        if ABSOLUTE_PATH.search(cell.source):
            found.append(f"{name}, cell {i}: the source names an absolute path of the author's machine")
        if "raises-exception" in tags(cell):
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if cell.get("execution_count") is not None and not errors:
                found.append(f"{name}, cell {i}: tagged raises-exception but stores no exception")
    return found
