"""The set-up files agree with each other and with the README, so the two commands keep working."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETUP = "python -m pip install -r requirements.txt"
TESTS = "python -m pytest"
# The one other command of .ci/run and the workflow: Debian's Chromium, for tests/test_browser.py, when missing.
CHROMIUM = ('command -v chromium >/dev/null || command -v chromium-browser >/dev/null || '
            '{ sudo=$([ "$(id -u)" = 0 ] || echo sudo); $sudo apt-get update -qq && $sudo apt-get install -y -qq '
            'chromium; } || echo "Chromium could not be installed (no apt-get, or not root and no sudo), so '
            'tests/test_browser.py will skip"')


def requirement_lines() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_requirements_are_exact_pins() -> None:
    lines = requirement_lines()
    assert "-e ." in lines
    pins = [line for line in lines if line != "-e ."]
    loose = [line for line in pins if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.]+", line)]
    assert loose == [], f"requirements.txt must pin exactly (name==version): {loose}"
    assert "torch==2.13.0" in pins
    names = {line.split("==")[0].lower() for line in pins}
    for needed in ("numpy", "matplotlib", "jupyterlab", "ipykernel", "ipywidgets", "nbval", "pytest", "tqdm"):
        assert needed in names, f"requirements.txt does not pin {needed}"


def test_environment_yml_installs_the_same_file() -> None:
    env = (ROOT / "environment.yml").read_text(encoding="utf-8")
    body = [line.strip() for line in env.splitlines() if line.strip() and not line.strip().startswith("#")]
    deps = body[body.index("dependencies:") + 1:]
    # conda supplies only Python and pip; everything else comes from requirements.txt, so nothing can drift.
    assert deps == ["- python=3.11", "- pip", "- pip:", "- -r requirements.txt"], deps


def test_package_dependencies_are_in_the_requirements() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    deps = re.search(r"dependencies = \[(.*?)\]", pyproject, re.S)
    assert deps is not None
    declared = re.findall(r'"([A-Za-z0-9_\-]+)', deps.group(1))
    pinned = {line.split("==")[0].lower() for line in requirement_lines() if "==" in line}
    assert declared and set(d.lower() for d in declared) <= pinned


def test_readme_gives_the_two_commands_and_ci_runs_them() -> None:
    """CI runs the README's set-up, then its tests; the one other command installs Chromium when it is missing."""
    assert SETUP in README and TESTS in README and "jupyter lab" in README
    assert "conda env create -f environment.yml" in README
    assert "--nbval-lax" in README
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert ci == [CHROMIUM, SETUP, TESTS], ci
    workflow = (ROOT / ".github" / "workflows" / "tests.yml").read_text()
    runs = [line.strip().removeprefix("run: ") for line in workflow.splitlines() if line.strip().startswith("run: ")]
    assert runs == [CHROMIUM, SETUP, TESTS], runs


def test_readme_learning_path_lists_every_chapter() -> None:
    from lmcourse.course import CHAPTERS

    for ch in CHAPTERS:
        for slug, minutes in ch.notebooks:
            row = re.search(rf"^\| {ch.number} \| `{slug}` \|.*\| {minutes} min \|", README, re.M)
            assert row, f"the README's learning path has no row for notebook {slug} with {minutes} min"


def test_time_outs_agree_with_the_budget() -> None:
    """One cell time-out (builder and nbval), pytest-timeout just above it, and CI's time-out just above
    the suite's budget."""
    import nbtools
    import tomllib

    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert int(ini["timeout"]) == nbtools.CELL_TIMEOUT + 60
    assert "-n auto" in ini["addopts"] and "--dist loadfile" in ini["addopts"]
    workflow = (ROOT / ".github" / "workflows" / "tests.yml").read_text()
    minutes = int(re.search(r"timeout-minutes: (\d+)", workflow).group(1))  # type: ignore[union-attr]
    assert nbtools.SUITE_BUDGET_MIN < minutes <= 2 * nbtools.SUITE_BUDGET_MIN
