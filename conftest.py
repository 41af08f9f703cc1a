"""Test configuration for `python -m pytest`: unit tests, structure tests and nbval, in one run.

nbval is switched on here (strict: every stored output is compared), so the
README's one command runs everything. On a GPU or another OS, where floats
differ in the last digits, run `python -m pytest --nbval-lax` instead.

The kernels nbval starts inherit this process's environment, so the pinned
thread count, scale and device (tools/nbtools.RUN_ENV, the same values the
notebook builder uses) hold inside every notebook too. In strict mode they are
forced, since the stored outputs were made with them; in lax mode your own
settings win, e.g. `LMCOURSE_SCALE=gpu LMCOURSE_DEVICE=cuda python -m pytest --nbval-lax`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tools"))

import nbtools  # noqa: E402


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    opt = config.option
    if getattr(opt, "nbval_lax", False):
        for key, value in nbtools.RUN_ENV.items():
            os.environ.setdefault(key, value)
    else:
        os.environ.update(nbtools.RUN_ENV)
    if not config.pluginmanager.hasplugin("nbval"):  # e.g. `-p no:nbval`: unit tests only
        return
    if not getattr(opt, "nbval_lax", False):
        opt.nbval = True
    opt.nbval_current_env = True
    if not opt.nbval_sanitize_with:
        # nbval opens this file relative to the working directory: give it an absolute path.
        opt.nbval_sanitize_with = str(ROOT / "tests" / "nbval_sanitize.cfg")
    if opt.nbval_cell_timeout == 2000:  # nbval's default; a cell that runs 10 minutes is broken
        opt.nbval_cell_timeout = 600
