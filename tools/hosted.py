"""Colab and Binder badges, and the Colab set-up block, in every notebook and in the README.

    python tools/hosted.py            # write them (running it again changes nothing)
    python tools/hosted.py --check    # list what is missing or stale; change nothing

The course's address is set in one place, ``[project.urls] Repository`` in ``pyproject.toml``
(``https://github.com/OWNER/NAME``). From it this script writes, for every ``solutions/NN_name.ipynb``:

- in the header (the first markdown cell), right after the title, one line with two badges that open the
  learner's copy, ``chapters/NN_name.ipynb``, on Colab and on Binder;
- at the top of the first code cell, :func:`guard`: a block that, on Colab only, clones the course, installs it with
  pip and changes into its ``chapters/`` folder, and does nothing anywhere else.

The chapter notebooks get both from their solution (``tools/build_notebooks.py`` copies every cell), so a
new notebook needs only this script run again, then the builder. In ``README.md`` it writes the course's
badges under the title and the section :data:`SECTION_TITLE`, which says what was and was not tested.
A fork sets its address in ``pyproject.toml``, runs this script, then ``python tools/build_notebooks.py``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
README = ROOT / "README.md"
PYPROJECT = ROOT / "pyproject.toml"

#: Where Colab clones the course to (Colab's working folder is /content).
COLAB_HOME = "/content/lmcourse"
#: How the set-up block begins: the line that tells this script's block from the cell's own code.
GUARD_START = 'import sys\n\nif "google.colab" in sys.modules:'
#: How the badge line begins, in a header and in the README.
BADGE_START = "[![Open In Colab]"
SECTION_TITLE = "## Running on Colab or Binder"
#: The README section goes before this heading when it is not there yet.
SECTION_BEFORE = "## The learning path"
GITHUB = re.compile(r"https://github\.com/([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/([A-Za-z0-9._-]{1,100})")
NOTEBOOK = re.compile(r"\d\d_[a-z0-9_]+\.ipynb")
LINE_LENGTH = 120  # ruff's, in pyproject.toml
#: The address in pyproject.toml until the course is published; the README says so while it is this one.
PLACEHOLDER = ("lmcourse", "lmcourse")


class HostedError(ValueError):
    """The address, a notebook or the README is not in a form this script can write badges into."""


def repository(pyproject: Path = PYPROJECT) -> tuple[str, str]:
    """The course's GitHub ``(owner, name)``, from ``[project.urls] Repository`` in ``pyproject.toml``."""
    import tomllib  # Python 3.11 or later, as the course's reference set-up

    urls = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("urls", {})
    address = urls.get("Repository")
    if not isinstance(address, str):
        raise HostedError(f"{pyproject.name} has no [project.urls] Repository: add the course's address there, "
                          'e.g. Repository = "https://github.com/OWNER/NAME"')
    match = GITHUB.fullmatch(address.removesuffix(".git").rstrip("/"))
    if not match:
        raise HostedError(f"{pyproject.name}: [project.urls] Repository is {address!r}; Colab and Binder open "
                          "notebooks from GitHub, so it must be https://github.com/OWNER/NAME")
    return match.group(1), match.group(2)


def guard(owner: str, name: str) -> str:
    """The set-up block that begins every notebook's first code cell: on Colab only, get and install the course.

    Off Colab it imports nothing but ``sys`` and does nothing. On Colab it clones the course (once per runtime),
    installs it editable, puts it on ``sys.path`` (the running kernel does not read the new install's ``.pth``
    file; later processes, such as chapter 09's ``python -m lmcourse.train``, do) and changes into ``chapters/``,
    the working folder a notebook has in a local JupyterLab. Data and checkpoints are found beside the package.
    """
    return (
        f"{GUARD_START}  # on Colab only: get and install the course; elsewhere this does nothing\n"
        "    import os\n"
        "    import subprocess\n"
        "\n"
        f'    if not os.path.isdir("{COLAB_HOME}"):\n'
        '        subprocess.run(["git", "clone", "-q", "--depth=1",\n'
        f'                        "https://github.com/{owner}/{name}", "{COLAB_HOME}"], check=True)\n'
        f'        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "{COLAB_HOME}"], check=True)\n'
        f'    if "{COLAB_HOME}" not in sys.path:\n'
        f'        sys.path.insert(0, "{COLAB_HOME}")\n'
        f'    os.chdir("{COLAB_HOME}/chapters")'
    )


def badges(owner: str, name: str, notebook: str) -> str:
    """The Colab and Binder badges, one line, opening ``chapters/<notebook>`` of the course's default branch."""
    if not NOTEBOOK.fullmatch(notebook):
        raise HostedError(f"badges: {notebook!r} is not a course notebook's name (NN_name.ipynb)")
    colab = f"https://colab.research.google.com/github/{owner}/{name}/blob/main/chapters/{notebook}"
    binder = f"https://mybinder.org/v2/gh/{owner}/{name}/HEAD?labpath=chapters%2F{notebook}"
    return (f"{BADGE_START}(https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
            f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder})")


def with_badges(text: str, line: str, where: str) -> str:
    """``text`` (a header or the README, starting with its ``# `` title) with ``line`` right after the title,
    in place of any earlier badge line."""
    lines = text.split("\n")
    if not lines[0].startswith("# "):
        raise HostedError(f"{where}: the first line should be the '# ' title, got {lines[0][:60]!r}")
    rest = lines[1:]
    if len(rest) >= 2 and rest[0] == "" and rest[1].startswith(BADGE_START):
        rest = rest[2:]  # the earlier badge line and the blank line before it
    if rest and rest[0] != "":
        rest = ["", *rest]
    return "\n".join([lines[0], "", line, *rest])


def with_guard(source: str, block: str) -> str:
    """A first code cell's source with ``block`` on top, in place of any earlier set-up block."""
    lines = source.split("\n")
    if source.startswith(GUARD_START):
        end = next((i for i, line in enumerate(lines) if i > 2 and line and not line[0].isspace()), len(lines))
        lines = lines[end:]
    while lines and not lines[0].strip():
        lines = lines[1:]
    return block + "\n\n" + "\n".join(lines)


def notebook_text(path: Path, owner: str, name: str) -> str:
    """The notebook at ``path`` as this script writes it (stored outputs and metadata untouched)."""
    nb = nbformat.read(path, as_version=4)
    where = f"{path.parent.name}/{path.name}"
    if not nb.cells or nb.cells[0].cell_type != "markdown":
        raise HostedError(f"{where}: the first cell should be the markdown header")
    nb.cells[0].source = with_badges(nb.cells[0].source, badges(owner, name, path.name), where)
    code = next((c for c in nb.cells if c.cell_type == "code"), None)
    if code is None:
        raise HostedError(f"{where}: no code cell to put the Colab set-up in")
    code.source = with_guard(code.source, guard(owner, name))
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def section(owner: str, name: str) -> str:
    """The README's section on Colab and Binder: how they run the course, and what was and was not tested."""
    address = f"The address, `https://github.com/{owner}/{name}`, "
    address += ("is a placeholder until the course is published: until then the badges and the clone lead nowhere."
                if (owner, name) == PLACEHOLDER else "is taken on trust: no test can reach it.")
    return f"""{SECTION_TITLE}

Without installing anything: the badges under the title open chapter 00, and those in each notebook's header open that
chapter, on [Google Colab](https://colab.research.google.com) or on [Binder](https://mybinder.org). Binder builds
this repository's `environment.yml` (that is, `requirements.txt`, the pinned versions) into a JupyterLab. Colab
keeps its own Python and libraries: there the first code cell of every notebook clones the course into
`{COLAB_HOME}`, installs it with pip (adding what Colab lacks of its few dependencies) and moves into its
`chapters/` folder; anywhere else that block does nothing. It is the only place the course downloads anything while
you learn, and only on Colab. Colab gives each notebook a runtime of its own, so each one installs the course
afresh; if an install breaks off, delete the runtime (*Runtime*, *Disconnect and delete runtime*) and run the cell
again. Work you want to keep on Colab: *File*, *Save a copy in Drive*.

What was tested, and what was not:

- **Tested**, on this repository's own machines, by `python -m pytest`: off Colab the set-up block does nothing: it
  imports nothing but `sys`, starts no process, and leaves the working folder and `sys.path` as they were
  (`tests/test_hosted.py::test_the_guard_does_nothing_off_colab`); with a stand-in for Colab it clones this course's
  address, installs it and moves into `chapters/`, and a second run clones nothing
  (`test_on_colab_the_guard_installs_the_course_once`); every notebook's badges are well-formed and point at its own
  file in `chapters/`, which exists (`test_every_notebook_has_the_guard_and_its_own_badges`).
- **Not tested**: nothing has been run on Colab or on Binder themselves; the machines this course is built and
  tested on cannot reach them. {address}
  Colab's Python and torch are not the pinned 3.11 and 2.13.0, so its outputs may differ from the stored ones.
  Binder installs torch from PyPI, which on Linux is a CUDA build of several GB: the first start after a change to
  the repository is slow (a long build) and may hit Binder's limits; later starts reuse the image.
  The Colab badges name the branch `main`.

A fork sets its own address as `Repository` under `[project.urls]` in `pyproject.toml` and runs
`python tools/hosted.py` (then `python tools/build_notebooks.py`): the badges, the set-up block and this section
follow; `python tools/hosted.py --check` says when they are stale.
"""


def readme_text(text: str, owner: str, name: str) -> str:
    """The README with the course's badges (chapter 00) under its title and the Colab and Binder section."""
    text = with_badges(text, badges(owner, name, "00_setup.ipynb"), "README.md")
    new = section(owner, name)
    start = text.find("\n" + SECTION_TITLE + "\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        return text[:start + 1] + new + (text[end:] if end >= 0 else "")
    anchor = text.find("\n" + SECTION_BEFORE + "\n")
    if anchor < 0:
        raise HostedError(f"README.md: no '{SECTION_TITLE}' section, and no '{SECTION_BEFORE}' heading to put it "
                          "before; add either")
    return text[:anchor + 1] + new + text[anchor:]


def targets(root: Path = ROOT) -> dict[Path, str]:
    """Every file this script writes, with the text it should have."""
    owner, name = repository(root / "pyproject.toml")
    for line in guard(owner, name).split("\n"):
        if len(line) > LINE_LENGTH:
            raise HostedError(f"the Colab set-up line {line.strip()!r} is longer than {LINE_LENGTH} characters with "
                              f"the address github.com/{owner}/{name}; shorten the address or wrap the line here")
    notebooks = sorted((root / "solutions").glob("*.ipynb"))
    if not notebooks:
        raise HostedError(f"no notebook in {root / 'solutions'}: is {root} the course's repository?")
    found = {path: notebook_text(path, owner, name) for path in notebooks}
    readme = root / "README.md"
    found[readme] = readme_text(readme.read_text(encoding="utf-8"), owner, name)
    return found


def stale(root: Path = ROOT) -> list[str]:
    """The files whose badges, set-up block or README section are missing or not what :func:`targets` makes."""
    return [path.relative_to(root).as_posix() for path, text in targets(root).items()
            if path.read_text(encoding="utf-8") != text]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="list files whose badges or set-up are stale")
    args = parser.parse_args()
    try:
        wanted = targets()
    except HostedError as err:
        sys.exit(str(err))
    changed = [path for path, text in wanted.items() if path.read_text(encoding="utf-8") != text]
    names = [path.relative_to(ROOT).as_posix() for path in changed]
    if args.check:
        if names:
            sys.exit("badges or Colab set-up missing or stale in:\n  " + "\n  ".join(names)
                     + "\nrun python tools/hosted.py (then python tools/build_notebooks.py for the chapters)")
        print(f"{len(wanted) - 1} notebook(s) and README.md have current badges and Colab set-up")
        return
    for path in changed:
        path.write_text(wanted[path], encoding="utf-8")
    print("\n".join(f"wrote {n}" for n in names) or "nothing to change")
    if any(p.suffix == ".ipynb" for p in changed):
        print("now run python tools/build_notebooks.py to regenerate the chapters and their outputs")


if __name__ == "__main__":
    main()
