"""Test configuration for `python -m pytest`: unit tests, structure tests and nbval, in one run.

nbval is switched on here (strict: every stored output is compared), so the
README's one command runs everything. On a GPU or another OS, where floats
differ in the last digits, run `python -m pytest --nbval-lax` instead.

Two notebooks run at a time (pytest-xdist, `-n auto --dist loadfile` in
pyproject.toml: one notebook per worker), each on one thread. The kernels nbval
starts inherit this process's environment, so the pinned thread counts, scale
and device (tools/nbtools.RUN_ENV, the same values the notebook builder uses)
hold inside every notebook too. In strict mode they are forced, since the
stored outputs were made with them; in lax mode your own settings win, e.g.
`LMCOURSE_SCALE=gpu LMCOURSE_DEVICE=cuda python -m pytest --nbval-lax`.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbtools  # tools/ is on the path through pyproject.toml's `pythonpath`

ROOT = Path(__file__).resolve().parent

# Every library's thread pool is pinned before any of them is imported (numpy's BLAS, torch, the
# Rust pool of Hugging Face tokenizers): a test that runs beside a notebook must not oversubscribe.
for _pool in nbtools.THREAD_POOLS:
    os.environ[_pool] = nbtools.RUN_ENV[_pool]
os.environ["TOKENIZERS_PARALLELISM"] = nbtools.RUN_ENV["TOKENIZERS_PARALLELISM"]


def _lax(config) -> bool:  # type: ignore[no-untyped-def]
    return bool(getattr(config.option, "nbval_lax", False))


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    opt = config.option
    # The kernels import this checkout's lmcourse, whatever an editable install points to.
    os.environ["PYTHONPATH"] = nbtools.kernel_env()["PYTHONPATH"]
    if _lax(config):
        for key, value in nbtools.RUN_ENV.items():
            os.environ.setdefault(key, value)
    else:
        os.environ.update(nbtools.RUN_ENV)
        os.environ.pop("LMCOURSE_DATA", None)  # the stored outputs are those of the shipped data
    if not config.pluginmanager.hasplugin("nbval"):  # e.g. `-p no:nbval`: unit tests only
        return
    if not _lax(config):
        opt.nbval = True
    opt.nbval_current_env = True
    if not opt.nbval_sanitize_with:
        # nbval opens this file relative to the working directory: give it an absolute path.
        opt.nbval_sanitize_with = str(ROOT / "tests" / "nbval_sanitize.cfg")
    if opt.nbval_cell_timeout == 2000:  # nbval's default; ours is the builder's, nbtools.CELL_TIMEOUT
        opt.nbval_cell_timeout = nbtools.CELL_TIMEOUT
