"""The property tests leave no ``.hypothesis/`` folder in the repository (set up in ``tests/conftest.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

CONFTEST = Path(__file__).resolve().parent / "conftest.py"

# A property in a file of its own: Hypothesis caches the file's constants (LIMIT) in .hypothesis/constants.
# (Text strategies also cache Unicode tables there, by the same route, but building them costs 2 s a run.)
PROPERTY = """
from hypothesis import given, strategies as st

LIMIT = 12345


@given(st.integers())
def check(n):
    assert n != LIMIT or n % 5 == 0


check()
"""


def run_property(cwd: Path, *, with_conftest: bool) -> str:
    """Run ``PROPERTY`` in a fresh interpreter in ``cwd``, set up by ``tests/conftest.py`` or not; return stdout."""
    setup = f"import runpy\nHOME = runpy.run_path({str(CONFTEST)!r})['HYPOTHESIS_HOME']\nprint(HOME)\n"
    script = cwd / "property.py"
    script.write_text((setup if with_conftest else "") + PROPERTY, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_STORAGE_DIRECTORY"}
    done = subprocess.run([sys.executable, str(script)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_example_database_is_off() -> None:
    assert settings().database is None, f"expected no example database, got {settings().database!r}"


def test_hypothesis_writes_into_a_temporary_folder_not_the_working_directory(tmp_path: Path) -> None:
    bare, set_up = tmp_path / "bare", tmp_path / "set_up"
    bare.mkdir()
    set_up.mkdir()
    run_property(bare, with_conftest=False)
    # the control: without tests/conftest.py Hypothesis does write here, so the check below can fail
    assert (bare / ".hypothesis").is_dir(), "Hypothesis no longer writes .hypothesis/ unasked: revisit this test"
    home = Path(run_property(set_up, with_conftest=True).strip())
    assert not (set_up / ".hypothesis").exists(), sorted(p.name for p in (set_up / ".hypothesis").iterdir())
    assert home.is_absolute() and not home.exists(), f"{home} was not removed when the run ended"
