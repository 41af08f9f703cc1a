"""Your own copy of the chapters, where solving the exercises cannot turn the tests red.

The notebooks in ``chapters/`` are the course as published: ``python -m pytest``
re-runs them and compares every output with the stored one, so a solved
exercise there makes the tests fail (as it should). Work in a copy instead::

    python -m lmcourse.workspace            # copies chapters/*.ipynb into my-work/

``my-work/`` is ignored by git and by the tests. Running the command again adds
chapters that are new since, and never overwrites a notebook you already have.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = ROOT / "my-work"


def copy_chapters(dest: Path | str = WORKSPACE, source: Path | str = ROOT / "chapters") -> list[Path]:
    """Copy every chapter notebook from ``source`` that ``dest`` does not have yet; return the new copies.

    A notebook already in ``dest`` is left exactly as it is: your work is never overwritten.
    """
    source, dest = Path(source).expanduser(), Path(dest).expanduser()
    notebooks = sorted(source.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no chapter notebooks in {source}: run this from a clone of the course "
                                "repository, where lmcourse is installed with `pip install -e .`.")
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"{dest} exists and is not a folder; pass another destination.")
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for nb in notebooks:
        target = dest / nb.name
        if not target.exists():
            shutil.copy2(nb, target)
            copied.append(target)
    return copied


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lmcourse.workspace", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", nargs="?", type=Path, default=WORKSPACE,
                        help="the folder for your copies (default: my-work/ at the top of the repository)")
    dest = parser.parse_args(argv).dest
    try:
        copied = copy_chapters(dest)
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    kept = len(list(dest.glob("*.ipynb"))) - len(copied)
    print(f"copied {len(copied)} chapter(s) into {dest}" + (f"; kept your {kept} existing one(s)" if kept else "")
          + f". Open them with: jupyter lab {dest.name if dest.parent == Path.cwd() else dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
