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
import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
CHAPTERS = ROOT / "chapters"

#: The environment every stored output is made in, and every test runs in. The suite runs two
#: notebooks at a time (pytest-xdist, one per core), each on ONE thread: float reductions depend on
#: the thread count, so it is pinned, for torch and for every other library's thread pool too.
#: Why one thread and two workers rather than one notebook on two threads: see CONTRIBUTING.md.
THREAD_POOLS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "RAYON_NUM_THREADS")  # RAYON: the Rust pool of Hugging Face tokenizers
RUN_ENV = {
    "LMCOURSE_THREADS": "1",
    **{pool: "1" for pool in THREAD_POOLS},
    "TOKENIZERS_PARALLELISM": "false",
    "LMCOURSE_SCALE": "ci",
    "LMCOURSE_DEVICE": "cpu",  # stored outputs are CPU outputs, even on a machine with a GPU
    "LMCOURSE_UNDER_TEST": "1",  # progress bars off: no rates or timings in stored stderr
    "PYTHONHASHSEED": "0",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}

#: One cell may run this long, in the builder and under nbval, before it is stopped as broken.
CELL_TIMEOUT = 300
#: A notebook's run-time budget at the ``ci`` scale, in seconds, unless the course map
#: (``lmcourse.course.CHAPTERS``) gives its chapter another; the builder fails a notebook over it.
DEFAULT_BUDGET = 60
#: The whole suite on 2 cores must stay under this many minutes (CONTRIBUTING.md has the plan).
SUITE_BUDGET_MIN = 20
#: The key under which the builder records its facts in a notebook's metadata.
META = "lmcourse"

CODE_BEGIN, CODE_END = "# BEGIN SOLUTION", "# END SOLUTION"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
STUB = 'raise NotImplementedError("exercise: replace this line with your code")'
MD_STUB = "*Your answer here.*"
HEADER_FIELDS = ("learning objectives", "prerequisites", "reading and exercises", "run time", "solutions")
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


#: Run after the last cell, then removed: which modules of the package did the notebook load?
_LOADED = "import sys\nprint(' '.join(sorted(m for m in sys.modules if m.split('.')[0] == 'lmcourse')))"


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = CELL_TIMEOUT) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh kernel, in :data:`RUN_ENV`; return it with outputs.

    The notebook's metadata then records (under ``lmcourse``) its run time and a
    fingerprint of what its outputs depend on (:func:`fingerprint`), so that
    :func:`stale` can tell later when they are out of date.
    """
    from nbclient import NotebookClient

    saved = {k: os.environ.get(k) for k in RUN_ENV}
    os.environ.update(RUN_ENV)
    nb.cells.append(nbformat.v4.new_code_cell(_LOADED))
    start = time.perf_counter()
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                                record_timing=False)
        client.execute()
    finally:
        seconds = time.perf_counter() - start
        probe = nb.cells.pop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    loaded = "".join(o.get("text", "") for o in probe.outputs).split()
    nb.metadata[META] = {"run_seconds": round(seconds, 1), **fingerprint(nb, loaded)}
    return trim_tracebacks(nb)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _module_file(module: str) -> Path:
    parts = module.split(".")
    path = ROOT.joinpath(*parts)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def fingerprint(nb: nbformat.NotebookNode, loaded: list[str]) -> dict[str, Any]:
    """What a notebook's outputs depend on: its own cells, the package modules it loaded, the data.

    Each is a short sha256 of the bytes: of the cells' sources, of each ``lmcourse``
    module file the kernel had imported, and of each dataset's manifest entry.
    """
    manifest = json.loads((ROOT / "datasets" / "manifest.json").read_text(encoding="utf-8"))
    files = sorted({_module_file(m).relative_to(ROOT).as_posix() for m in loaded} | {"lmcourse/__init__.py"})
    return {
        "cells": _digest(json.dumps([(c.cell_type, c.source) for c in nb.cells]).encode()),
        "package": {f: _digest((ROOT / f).read_bytes()) if (ROOT / f).is_file() else "missing" for f in files},
        "datasets": {name: entry["sha256"][:16] for name, entry in sorted(manifest.items())},
    }


def stale(nb: nbformat.NotebookNode, name: str) -> list[str]:
    """Why the stored outputs of ``nb`` may no longer be what it computes now (empty list: current).

    Compares the fingerprint recorded when the builder ran it with the repository
    as it is: a changed cell, package module or dataset is named.
    """
    meta = nb.metadata.get(META)
    if not meta or "package" not in meta:
        return [f"{name}: no record of the builder's run in its metadata (run python tools/build_notebooks.py)"]
    now = fingerprint(nb, [])
    found = []
    if meta["cells"] != now["cells"]:
        found.append(f"{name}: its cells changed since its outputs were stored")
    for file, digest in meta["package"].items():
        current = _digest((ROOT / file).read_bytes()) if (ROOT / file).is_file() else "missing"
        if current != digest:
            found.append(f"{name}: {file} changed since its outputs were stored")
    for dataset in sorted(set(meta["datasets"]) | set(now["datasets"])):
        if meta["datasets"].get(dataset) != now["datasets"].get(dataset):
            found.append(f"{name}: dataset {dataset!r} changed since its outputs were stored")
    return found


def budget(path: Path) -> int:
    """The run-time budget, in seconds, of the notebook at ``path`` (its chapter's, from the course map)."""
    from lmcourse.course import CHAPTERS

    for ch in CHAPTERS:
        if path.stem == ch.slug:
            return ch.run_budget_s
    return DEFAULT_BUDGET


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
                found.append(f"{name}, cell {i}: stores an error ({out.get('ename')}) "
                             "but is not tagged raises-exception")
            if ABSOLUTE_PATH.search(json.dumps(out)):
                found.append(f"{name}, cell {i}: an output names an absolute path of the author's machine")
        if ABSOLUTE_PATH.search(cell.source):
            found.append(f"{name}, cell {i}: the source names an absolute path of the author's machine")
        if "raises-exception" in tags(cell):
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if cell.get("execution_count") is not None and not errors:
                found.append(f"{name}, cell {i}: tagged raises-exception but stores no exception")
    return found
