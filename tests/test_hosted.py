"""The Colab and Binder badges and the Colab set-up block (tools/hosted.py): present, pointing where they should,
and the block does nothing off Colab.

Nothing here reaches Colab, Binder or the network: Colab is stood in for by a fake ``google.colab`` module, and
every process the block would start is recorded instead of run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import hosted
import nbformat
import pytest

ROOT = hosted.ROOT
OWNER, NAME = hosted.repository()
GUARD = hosted.guard(OWNER, NAME)
NOTEBOOKS = sorted((ROOT / "solutions").glob("*.ipynb")) + sorted((ROOT / "chapters").glob("*.ipynb"))
BADGES = re.compile(
    r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
    r"\(https://colab\.research\.google\.com/github/(?P<colab_repo>[^/]+/[^/]+)/blob/main/(?P<colab_path>[^)]+)\) "
    r"\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]"
    r"\(https://mybinder\.org/v2/gh/(?P<binder_repo>[^/]+/[^/]+)/HEAD\?labpath=(?P<binder_path>[^)]+)\)$")


def check_badges(line: str, notebook: str) -> None:
    """``line`` is the two badges, both opening ``chapters/<notebook>`` of this course's address, which exists."""
    found = BADGES.fullmatch(line)
    assert found, f"not a Colab and a Binder badge: {line!r}"
    assert found["colab_repo"] == found["binder_repo"] == f"{OWNER}/{NAME}"
    assert found["colab_path"] == f"chapters/{notebook}"
    assert found["binder_path"] == f"chapters%2F{notebook}"
    assert (ROOT / "chapters" / notebook).is_file(), f"the badges open chapters/{notebook}, which does not exist"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_notebook_has_the_guard_and_its_own_badges(path: Path) -> None:
    """The chapters get both from their solutions when the builder regenerates them."""
    nb = nbformat.read(path, as_version=4)
    header = nb.cells[0].source.split("\n")
    assert header[0].startswith("# ") and header[1] == "" and header[3] == "", header[:4]
    check_badges(header[2], path.name)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.source.startswith(GUARD + "\n\nimport lmcourse\n"), (
        f"{path.parent.name}/{path.name}: its first code cell should begin with the Colab set-up "
        "(python tools/hosted.py, then python tools/build_notebooks.py)")
    assert "tags" not in first.metadata or first.metadata["tags"] == []


def test_the_readme_has_the_courses_badges_and_says_what_was_tested() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    check_badges(readme.split("\n")[2], "00_setup.ipynb")
    section = readme.split(hosted.SECTION_TITLE)[1].split("\n## ")[0]
    assert "**Not tested**" in section and "nothing has been run on Colab or on Binder themselves" in section
    named = set(re.findall(r"`(?:tests/test_hosted\.py::)?(test_\w+)`", section))
    assert named and named <= set(globals()), f"the README names tests that do not exist: {named - set(globals())}"


#: Runs in a fresh interpreter: the guard given as argv[1], with every way to start a process or change folder
#: made to fail, and every import recorded; prints what changed.
OFF_COLAB = r"""
import builtins, json, os, subprocess, sys

def refuse(*args, **kwargs):
    raise AssertionError(f"the guard tried to run or change something: {args}")

for module, names in ((subprocess, ("run", "Popen", "call", "check_call", "check_output")),
                      (os, ("chdir", "system", "execv", "execvp", "spawnv", "fork"))):
    for name in names:
        setattr(module, name, refuse)
imported = []
real_import = builtins.__import__

def spy(name, *args, **kwargs):
    imported.append(name)
    return real_import(name, *args, **kwargs)

cwd, path, modules = os.getcwd(), list(sys.path), set(sys.modules)
namespace = {}
builtins.__import__ = spy
try:
    exec(sys.argv[1], namespace)
finally:
    builtins.__import__ = real_import
print(json.dumps({"colab": "google.colab" in modules, "imported": imported,
                  "names": sorted(k for k in namespace if k != "__builtins__"),
                  "cwd": os.getcwd() == cwd, "path": sys.path == path,
                  "new_modules": sorted(set(sys.modules) - modules)}))
"""


def run_off_colab(source: str, tmp_path: Path) -> dict[str, object] | str:
    """What running ``source`` changed, as :data:`OFF_COLAB` prints it; or its error, if it tried to act."""
    result = subprocess.run([sys.executable, "-c", OFF_COLAB, source], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    return json.loads(result.stdout) if result.returncode == 0 else result.stderr.strip().splitlines()[-1]


def test_the_guard_does_nothing_off_colab(tmp_path: Path) -> None:
    """Off Colab: no import but sys, no process, no change of folder, of sys.path or of the loaded modules."""
    assert run_off_colab(GUARD, tmp_path) == {"colab": False, "imported": ["sys"], "names": ["sys"], "cwd": True,
                                              "path": True, "new_modules": []}


def test_the_off_colab_probe_sees_a_guard_that_acts(tmp_path: Path) -> None:
    """The probe above would notice a block that runs whether or not it is on Colab, or that imports more."""
    acts = run_off_colab(GUARD.replace('if "google.colab" in sys.modules:', "if True:"), tmp_path)
    assert isinstance(acts, str) and "tried to run or change something: (['git', 'clone'" in acts
    imports = run_off_colab("import json\n" + GUARD, tmp_path)
    assert isinstance(imports, dict) and imports["imported"] == ["json", "sys"] and imports["names"] == ["json", "sys"]
    moves = run_off_colab(GUARD + "\nimport os\nos.chdir('..')", tmp_path)
    assert isinstance(moves, str) and "tried to run or change something: ('..',)" in moves


def test_on_colab_the_guard_installs_the_course_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a stand-in for Colab: clone this course's address, pip-install it, put it on sys.path, move into
    chapters/; run again (a re-run of the cell): no second clone or install, sys.path not stacked."""
    ran: list[list[str]] = []
    moved: list[str] = []
    real_isdir = os.path.isdir

    def fake_run(args: list[str], check: bool = False) -> subprocess.CompletedProcess[str]:
        assert check, "a failed clone or install must stop the cell"
        ran.append(list(args))
        return subprocess.CompletedProcess(args, 0)

    def fake_isdir(path: str) -> bool:
        if path == hosted.COLAB_HOME:
            return any(args[:2] == ["git", "clone"] for args in ran)
        return real_isdir(path)

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(os.path, "isdir", fake_isdir)
    monkeypatch.setattr(os, "chdir", moved.append)
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(GUARD, {})
    assert ran == [["git", "clone", "-q", "--depth=1", f"https://github.com/{OWNER}/{NAME}", "/content/lmcourse"],
                   [sys.executable, "-m", "pip", "install", "-q", "-e", "/content/lmcourse"]]
    assert moved == ["/content/lmcourse/chapters"]
    assert sys.path[0] == "/content/lmcourse"
    exec(GUARD, {})
    assert len(ran) == 2, f"a second run should not clone or install again: {ran[2:]}"
    assert moved == ["/content/lmcourse/chapters"] * 2
    assert sys.path.count("/content/lmcourse") == 1


def test_the_check_passes_on_the_repository() -> None:
    result = subprocess.run([sys.executable, "tools/hosted.py", "--check"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def course_copy(tmp_path: Path, address: str) -> Path:
    """A small course in tmp_path: pyproject with ``address``, the README, and two solution notebooks."""
    (tmp_path / "solutions").mkdir()
    for name in ("00_setup.ipynb", "05_rnn.ipynb"):
        shutil.copy(ROOT / "solutions" / name, tmp_path / "solutions" / name)
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\n[project.urls]\nRepository = "{address}"\n')
    return tmp_path


def test_a_new_address_makes_everything_stale_and_one_run_mends_it(tmp_path: Path) -> None:
    """After the address changes, --check's list names every file; writing once replaces (never stacks) the badges
    and the guard, and a second run changes nothing."""
    root = course_copy(tmp_path, "https://github.com/a-fork/course")
    assert hosted.stale(root) == ["solutions/00_setup.ipynb", "solutions/05_rnn.ipynb", "README.md"]
    for _ in range(2):
        for path, text in hosted.targets(root).items():
            path.write_text(text, encoding="utf-8")
    assert hosted.stale(root) == []
    nb = nbformat.read(root / "solutions" / "05_rnn.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code").source
    assert first.count("google.colab") == 1 and "https://github.com/a-fork/course" in first
    assert first.endswith("\n\nimport lmcourse\n\ndevice = lmcourse.setup(seed=0)")
    assert nb.cells[0].source.count("Open In Colab") == 1 and "v2/gh/a-fork/course/HEAD" in nb.cells[0].source
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert readme.count(hosted.SECTION_TITLE) == 1 and readme.count("Open In Colab") == 1
    assert "`https://github.com/a-fork/course`, is taken on trust" in readme and "placeholder" not in readme


def test_the_outputs_are_left_as_they_were(tmp_path: Path) -> None:
    """Only the two sources change: outputs, counts and the builder's metadata stay (the builder re-stores them)."""
    root = course_copy(tmp_path, "https://github.com/a-fork/course")
    before = nbformat.read(root / "solutions" / "05_rnn.ipynb", as_version=4)
    after = nbformat.reads(hosted.targets(root)[root / "solutions" / "05_rnn.ipynb"], as_version=4)
    assert before.metadata == after.metadata
    changed = [i for i, (a, b) in enumerate(zip(before.cells, after.cells)) if a != b]
    assert changed == [0, 1] and [c.get("outputs") for c in before.cells] == [c.get("outputs") for c in after.cells]


@pytest.mark.parametrize("address", ["https://gitlab.com/a/b", "github.com/a/b", "https://github.com/a", ""])
def test_an_address_that_is_not_on_github_is_refused(tmp_path: Path, address: str) -> None:
    root = course_copy(tmp_path, address)
    with pytest.raises(hosted.HostedError, match="must be https://github.com/OWNER/NAME"):
        hosted.repository(root / "pyproject.toml")
