"""Run the solution notebooks and regenerate the learner's chapters from them.

    python tools/build_notebooks.py            # every notebook
    python tools/build_notebooks.py 00 01      # only chapters whose names start with 00 or 01
    python tools/build_notebooks.py --check    # report chapters that are out of date; change nothing

For each ``solutions/NN_name.ipynb`` it (1) executes the solution in a fresh
kernel and stores its outputs, (2) makes ``chapters/NN_name.ipynb`` with the
solution regions replaced by stubs, (3) executes that too, so both notebooks
store the outputs of one real clean run, and (4) checks the structure rules.
Run times are printed per notebook.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbtools  # noqa: E402


def selected(prefixes: list[str]) -> list[Path]:
    paths = sorted(nbtools.SOLUTIONS.glob("*.ipynb"))
    if prefixes:
        paths = [p for p in paths if any(p.name.startswith(x) for x in prefixes)]
        if not paths:
            sys.exit(f"no solution notebook starts with {', '.join(prefixes)}; "
                     f"there are: {', '.join(p.name for p in sorted(nbtools.SOLUTIONS.glob('*.ipynb')))}")
    return paths


def run_one(path: Path, folder: Path, nb: nbformat.NotebookNode) -> float:
    start = time.perf_counter()
    nbtools.execute(nb, cwd=folder)
    seconds = time.perf_counter() - start
    found = nbtools.problems(nb, f"{folder.name}/{path.name}")
    if found:
        sys.exit("\n".join(found))
    nbformat.write(nb, folder / path.name)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="chapter numbers or name prefixes, e.g. 00 01")
    parser.add_argument("--check", action="store_true", help="only report out-of-date chapters")
    args = parser.parse_args()
    stale = []
    for path in selected(args.prefixes):
        solution = nbformat.read(path, as_version=4)
        chapter = nbtools.make_chapter(solution, path.name)
        target = nbtools.chapter_for(path)
        if args.check:
            if not target.exists() or not nbtools.same_sources(chapter, nbformat.read(target, as_version=4)):
                stale.append(target.name)
            continue
        t_sol = run_one(path, nbtools.SOLUTIONS, solution)
        t_ch = run_one(path, nbtools.CHAPTERS, chapter)
        print(f"{path.name}: solution {t_sol:.1f} s, chapter {t_ch:.1f} s")
    if stale:
        sys.exit("out of date (run python tools/build_notebooks.py): " + ", ".join(stale))


if __name__ == "__main__":
    main()
