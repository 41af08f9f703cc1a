"""Write the measured run times into the instructor guide, INSTRUCTORS.md.

    python tools/instructors.py            # rewrite the run-time table from the notebooks' metadata
    python tools/instructors.py --check    # exit 1, changing nothing, if the table is out of date

The guide's run-time table sits between ``<!-- run-times:start -->`` and
``<!-- run-times:end -->``. Its numbers are never typed: each is the run time the
notebook builder (tools/build_notebooks.py) recorded in the notebook's metadata
(``lmcourse.run_seconds``) for one clean run at the ``ci`` scale, for the solution and
for the learner's chapter copy. A chapter of the course map with no solution notebook
yet shows its budget and the word "planned". The builder calls :func:`update` after
each build; ``tests/test_instructors.py`` fails when the table differs from what this
script would write now.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import nbtools

INSTRUCTORS = nbtools.ROOT / "INSTRUCTORS.md"
START, END = "<!-- run-times:start -->", "<!-- run-times:end -->"


def recorded_seconds(path: Path) -> float:
    """The run time the builder recorded in the notebook at ``path``, in seconds."""
    meta = nbformat.read(path, as_version=4).metadata.get(nbtools.META, {})
    if "run_seconds" not in meta:
        raise ValueError(f"{path.parent.name}/{path.name} has no recorded run time (metadata "
                         f"{nbtools.META}.run_seconds): build it with python tools/build_notebooks.py {path.name[:2]}")
    return float(meta["run_seconds"])


def run_time_table() -> str:
    """The markdown table of every notebook of the course map with its reading minutes and recorded run times."""
    from lmcourse.course import CHAPTERS

    rows = ["| chapter | notebook | reading and exercises | solution run time | chapter run time | budget per copy |",
            "| --- | --- | --- | --- | --- | --- |"]
    for ch in CHAPTERS:
        for slug, minutes in ch.notebooks:
            solution, chapter = (folder / f"{slug}.ipynb" for folder in (nbtools.SOLUTIONS, nbtools.CHAPTERS))
            if solution.exists():
                times = f"{recorded_seconds(solution):.1f} s | {recorded_seconds(chapter):.1f} s"
            else:
                times = "planned | planned"
            rows.append(f"| {ch.number} | `{slug}` | {minutes} min | {times} | {ch.budget(slug)} s |")
    total = sum(minutes for ch in CHAPTERS for _, minutes in ch.notebooks)
    return "\n".join(rows) + f"\n\nReading and exercises, all chapters: {total} min ({total / 60:.1f} h)."


def render(text: str, where: str = "INSTRUCTORS.md") -> str:
    """``text`` with the part between the run-time markers replaced by the current table."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"{where}: needs exactly one {START!r} followed by one {END!r} around the run-time "
                         f"table; found {text.count(START)} start and {text.count(END)} end marker(s)")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{run_time_table()}\n{END}{tail}"


def update(path: Path = INSTRUCTORS) -> bool:
    """Rewrite the run-time table in ``path``; return whether anything changed."""
    text = path.read_text(encoding="utf-8")
    new = render(text, path.name)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report whether the table is out of date")
    args = parser.parse_args()
    if args.check:
        text = INSTRUCTORS.read_text(encoding="utf-8")
        if render(text) != text:
            sys.exit("INSTRUCTORS.md: the run-time table is out of date; run python tools/instructors.py")
        print("INSTRUCTORS.md: the run-time table is up to date")
        return
    print("INSTRUCTORS.md: run-time table " + ("rewritten" if update() else "already up to date"))


if __name__ == "__main__":
    main()
