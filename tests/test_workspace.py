"""The learner's workspace: a copy of the chapters that the tests never look at, and that is never overwritten."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from lmcourse import workspace

ROOT = Path(__file__).resolve().parent.parent


def test_copies_every_chapter_and_never_overwrites(tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    copied = workspace.copy_chapters(dest)
    chapters = sorted(p.name for p in (ROOT / "chapters").glob("*.ipynb"))
    assert sorted(p.name for p in copied) == chapters and chapters
    mine = dest / chapters[0]
    mine.write_text("my solved exercises")
    assert workspace.copy_chapters(dest) == []  # nothing new, nothing overwritten
    assert mine.read_text() == "my solved exercises"
    mine.unlink()
    assert [p.name for p in workspace.copy_chapters(dest)] == [chapters[0]]  # a missing one comes back


def test_bad_destination_and_source_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        workspace.copy_chapters(tmp_path / "file")
    with pytest.raises(FileNotFoundError, match="no chapter notebooks"):
        workspace.copy_chapters(tmp_path / "dest", source=tmp_path / "empty")


def test_the_command_runs(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "lmcourse.workspace", str(tmp_path / "w")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("copied ") and (tmp_path / "w" / "00_setup.ipynb").exists()


def test_git_and_the_tests_ignore_the_workspace() -> None:
    assert "/my-work/" in (ROOT / ".gitignore").read_text().splitlines()
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "my-work" in ini["norecursedirs"] and "my-work" not in ini["testpaths"]
    assert workspace.WORKSPACE == ROOT / "my-work"


def test_help_is_help_not_a_folder(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "lmcourse.workspace", "--help"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and "usage: python -m lmcourse.workspace" in result.stdout
    assert not (tmp_path / "--help").exists()
