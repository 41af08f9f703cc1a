"""Run the solution notebooks and regenerate the learner's chapters from them.

    python tools/build_notebooks.py            # every notebook
    python tools/build_notebooks.py 00 01      # only chapters whose names start with 00 or 01
    python tools/build_notebooks.py --check    # report out-of-date chapters and stale outputs; change nothing

For each ``solutions/NN_name.ipynb`` it (1) makes ``chapters/NN_name.ipynb`` with
the solution regions replaced by stubs, (2) executes both in fresh kernels, two
at a time, as the test suite does (one thread each, see ``nbtools.RUN_ENV``), so
both store the outputs of one real clean run, (3) records in each notebook's
metadata its run time and what its outputs depend on (``nbtools.fingerprint``),
(4) checks the structure rules and the chapter's run-time budget (the course
map's ``run_budget_s``), and (5) writes the measured run times into the
README's learning path and the run-time table of INSTRUCTORS.md (``tools/instructors.py``). A notebook
that breaks a rule or its budget is not written.
"""

from __future__ import annotations

import argparse
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import instructors
import nbformat
import nbtools

README = nbtools.ROOT / "README.md"


def selected(prefixes: list[str]) -> list[Path]:
    paths = sorted(nbtools.SOLUTIONS.glob("*.ipynb"))
    for path in paths:
        nbtools.budget(path)  # a notebook outside the course map is refused before anything runs
    if prefixes:
        paths = [p for p in paths if any(p.name.startswith(x) for x in prefixes)]
        if not paths:
            sys.exit(f"no solution notebook starts with {', '.join(prefixes)}; "
                     f"there are: {', '.join(p.name for p in sorted(nbtools.SOLUTIONS.glob('*.ipynb')))}")
    return paths


def run_one(job: tuple[str, Path, str]) -> tuple[str, float, list[str]]:
    """Execute one notebook (given as JSON) in ``folder``; return it as JSON, its run time and its problems."""
    text, folder, name = job
    nb = nbformat.reads(text, as_version=4)
    try:
        nbtools.execute(nb, cwd=folder)
    except nbtools.NotebookRunError as err:
        hint = " (a chapter cell must not depend on an exercise: in the chapter it is a stub)" \
            if folder == nbtools.CHAPTERS else ""
        return text, 0.0, [f"{folder.name}/{name}: {err}{hint}"]
    seconds = nb.metadata[nbtools.META]["run_seconds"]
    found = nbtools.problems(nb, f"{folder.name}/{name}")
    limit = nbtools.budget(folder / name)
    if seconds > limit:
        found.append(f"{folder.name}/{name}: ran {seconds:.1f} s, over its budget of {limit} s at the ci scale "
                     "(shrink it with lmcourse.scaled(...), or change the plan in CONTRIBUTING.md and course.py)")
    return nbformat.writes(nb), seconds, found


def readme_run_time(seconds: float) -> str:
    """How the README shows a notebook's run time."""
    return f"{max(1, round(seconds))} s"


def update_readme(times: dict[str, float]) -> None:
    """Write each chapter's run time (the slower of its two copies) into the README's learning path,
    and mark the chapter ready."""
    text = README.read_text(encoding="utf-8")
    for slug, seconds in times.items():
        row = re.compile(rf"^(\| \d\d \| `{re.escape(slug)}` \|(?:[^|\n]*\|){{3}}) [^|\n]* \| [^|\n]* \|", re.M)
        shown = readme_run_time(seconds)
        text, n = row.subn(lambda m, shown=shown: f"{m.group(1)} {shown} | ready |", text)
        if n != 1:
            sys.exit(f"README.md: no learning-path row for {slug} with a run-time column")
    README.write_text(text, encoding="utf-8")


def write_times(times: dict[str, float]) -> None:
    """After a build: the measured run times into the README's learning path and the instructor guide's table."""
    update_readme(times)
    instructors.update(instructors.INSTRUCTORS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="chapter numbers or name prefixes, e.g. 00 01")
    parser.add_argument("--check", action="store_true", help="only report out-of-date chapters and stale outputs")
    args = parser.parse_args()
    paths = selected(args.prefixes)
    if args.check:
        found = []
        for path in paths:
            solution = nbformat.read(path, as_version=4)
            target = nbtools.chapter_for(path)
            if not target.exists() or not nbtools.same_sources(nbtools.make_chapter(solution, path.name),
                                                               nbformat.read(target, as_version=4)):
                found.append(f"chapters/{target.name}: out of date with solutions/{path.name}")
            for nb_path in (path, target):
                if nb_path.exists():
                    found += nbtools.stale(nbformat.read(nb_path, as_version=4),
                                           f"{nb_path.parent.name}/{nb_path.name}")
        if found:
            sys.exit("\n".join(found) + "\nrun python tools/build_notebooks.py " + " ".join(sorted({
                Path(line.split(":")[0]).name[:2] for line in found})))
        print(f"{len(paths)} chapter(s) and their solutions are up to date")
        return
    jobs = []
    for path in paths:
        solution = nbformat.read(path, as_version=4)
        chapter = nbtools.make_chapter(solution, path.name)
        jobs += [(nbformat.writes(solution), nbtools.SOLUTIONS, path.name),
                 (nbformat.writes(chapter), nbtools.CHAPTERS, path.name)]
    with ProcessPoolExecutor(max_workers=2) as pool:  # two at a time, as the test suite runs them
        results = list(pool.map(run_one, jobs))
    problems = [p for _, _, found in results for p in found]
    if problems:
        sys.exit("\n".join(problems) + "\nnothing was written.")
    times: dict[str, float] = {}
    for (_, folder, name), (text, seconds, _) in zip(jobs, results):
        (folder / name).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        times[Path(name).stem] = max(times.get(Path(name).stem, 0.0), seconds)
        print(f"{folder.name}/{name}: {seconds:.1f} s (budget {nbtools.budget(folder / name)} s)")
    write_times(times)


if __name__ == "__main__":
    main()
