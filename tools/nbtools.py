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
applies to every notebook, so the builder and the tests cannot disagree. (The Colab and
Binder badges and the Colab set-up block they require are written by ``tools/hosted.py``.)
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

import hosted
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
#: The most any chapter's run-time budget may be, in seconds at the ``ci`` scale; each chapter's own
#: is in the course map (``lmcourse.course.CHAPTERS``), and the builder fails a notebook over it.
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
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # terminal colours in tracebacks
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


#: Run after the last cell, then removed: where did the kernel's lmcourse come from, and which of its
#: modules did the notebook load?
_LOADED = ("import sys, lmcourse\nprint(lmcourse.__file__)\n"
           "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] == 'lmcourse')))")


class NotebookRunError(RuntimeError):
    """A notebook could not be run to the end, or ran against another checkout's package."""


def kernel_env() -> dict[str, str]:
    """:data:`RUN_ENV`, plus this checkout first on ``PYTHONPATH`` (the kernel must import *this*
    lmcourse, not the one an editable install points to), and no ``LMCOURSE_DATA``."""
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(ROOT)]
    return {**RUN_ENV, "PYTHONPATH": os.pathsep.join([str(ROOT), *parts])}


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = CELL_TIMEOUT) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh kernel, in :data:`RUN_ENV`; return it with outputs.

    The notebook's metadata then records (under ``lmcourse``) its run time and a
    fingerprint of what its outputs depend on (:func:`fingerprint`), so that
    :func:`stale` can tell later when they are out of date.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    env = kernel_env()
    saved = {k: os.environ.get(k) for k in [*env, "LMCOURSE_DATA"]}
    os.environ.update(env)
    os.environ.pop("LMCOURSE_DATA", None)  # the stored outputs are those of the shipped data
    nb.cells.append(nbformat.v4.new_code_cell(_LOADED))
    start = time.perf_counter()
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                                record_timing=False)
        client.execute()
    except CellExecutionError as err:
        ran = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count")]
        where = f"cell {ran[-1]}" if ran else "its first code cell"
        last = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise NotebookRunError(f"{where} raised {ANSI.sub('', last)}") from None
    finally:
        seconds = time.perf_counter() - start
        probe = nb.cells.pop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    lines = "".join(o.get("text", "") for o in probe.outputs).splitlines()
    package, loaded = Path(lines[0]).resolve(), lines[1].split() if len(lines) > 1 else []
    if ROOT not in package.parents:
        raise NotebookRunError(f"the kernel imported lmcourse from {package.parent}, not from this checkout ({ROOT}); "
                               "its outputs would not be this package's")
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

    Each is a short sha256: of the cells' sources, of each ``lmcourse`` module file the
    kernel had imported, and of each dataset's whole manifest entry (checksum, unit, title...).
    """
    manifest = json.loads((ROOT / "datasets" / "manifest.json").read_text(encoding="utf-8"))
    files = sorted({_module_file(m).relative_to(ROOT).as_posix() for m in loaded} | {"lmcourse/__init__.py"})
    return {
        "cells": _digest(json.dumps([(c.cell_type, c.source) for c in nb.cells]).encode()),
        "package": {f: _digest((ROOT / f).read_bytes()) if (ROOT / f).is_file() else "missing" for f in files},
        "datasets": {name: _digest(json.dumps(entry, sort_keys=True).encode())
                     for name, entry in sorted(manifest.items())},
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
        before, after = meta["datasets"].get(dataset), now["datasets"].get(dataset)
        if before != after:
            how = "was added" if before is None else "was removed" if after is None else "changed"
            found.append(f"{name}: dataset {dataset!r} {how} since its outputs were stored")
    return found


def budget(path: Path) -> int:
    """The run-time budget, in seconds, of the notebook at ``path`` (its chapter's, from the course map)."""
    from lmcourse.course import CHAPTERS

    for ch in CHAPTERS:
        if path.stem in dict(ch.notebooks):
            return ch.budget(path.stem)
    raise NotebookError(f"{path.name} is not a chapter of the course map (lmcourse.course.CHAPTERS): "
                        f"name it after one ({', '.join(s for c in CHAPTERS for s, _ in c.notebooks)}), or add it "
                        "there with its budget")


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
        if hosted.BADGE_START not in cells[0].source:
            found.append(f"{name}: the header has no Colab and Binder badges (run python tools/hosted.py)")
    code = [c for c in cells if c.cell_type == "code"]
    if not code or "import lmcourse" not in code[0].source or "lmcourse.setup(" not in code[0].source:
        found.append(f"{name}: the first code cell must `import lmcourse` and call `lmcourse.setup(...)`")
    elif not code[0].source.startswith(hosted.GUARD_START):
        found.append(f"{name}: the first code cell must begin with the Colab set-up (run python tools/hosted.py)")
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
    found += _exercise_problems(nb, name)
    return found


def _exercise_problems(nb: nbformat.NotebookNode, name: str) -> list[str]:
    """A solution closes with 3-5 checked exercises that pass; in its chapter each check meets the stub."""
    found: list[str] = []
    checks = [(i, c) for i, c in enumerate(nb.cells) if "check" in tags(c)]
    if name.startswith("solutions/"):
        if not 3 <= len(checks) <= 5:
            found.append(f"{name}: {len(checks)} cells tagged 'check'; a chapter closes with 3-5 checked exercises")
        for i, cell in checks:
            text = "".join(o.get("text", "") for o in cell.get("outputs", []))
            if cell.get("execution_count") is not None and not text.startswith("✓ exercise"):
                found.append(f"{name}, cell {i}: the solution's check does not pass (it printed {text[:80]!r})")
    elif name.startswith("chapters/"):
        for i, cell in checks:
            names = [o.get("ename") for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if cell.get("execution_count") is not None and names != ["ExerciseNotDone"]:
                found.append(f"{name}, cell {i}: the check should meet the exercise's stub (ExerciseNotDone), "
                             f"got {names or 'no error'}")
    return found
