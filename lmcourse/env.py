"""The environment every notebook starts from: seeds, device, threads and scale.

One call, :func:`setup`, makes a notebook reproducible. It

1. seeds Python's ``random``, numpy and torch, so a rerun draws the same numbers;
2. picks the device: the CPU by default, CUDA when a GPU is present, Apple's MPS
   only when asked for (it is known to give wrong results for some models);
3. pins torch's thread count when ``LMCOURSE_THREADS`` is set, to at most the
   machine's CPU count (the test configuration sets it: a different thread count
   changes the order of float additions, and so the last digits of a loss);
4. prints the versions and the device on one stable line.

``SCALE`` sizes models and step budgets. ``ci`` (the default) is what the
stored notebook outputs were made with and runs in minutes on a 2-core laptop;
``laptop`` trains longer; ``gpu`` makes models bigger for a GPU. Choose it with
the environment variable ``LMCOURSE_SCALE`` before starting Jupyter, e.g.
``LMCOURSE_SCALE=laptop jupyter lab``.
"""

from __future__ import annotations

import numbers
import os
import platform
import random
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # torch and tqdm are imported lazily: `import lmcourse` stays fast
    import torch
    from tqdm import tqdm

SCALES = ("ci", "laptop", "gpu")
DEVICES = ("auto", "cpu", "cuda", "mps")
T = TypeVar("T")


def scale() -> str:
    """The current scale, read from ``LMCOURSE_SCALE`` (default ``"ci"``)."""
    value = os.environ.get("LMCOURSE_SCALE", "ci").strip().lower() or "ci"
    if value not in SCALES:
        raise ValueError(
            f"LMCOURSE_SCALE={value!r} is not a scale; use one of {', '.join(SCALES)} "
            "(unset it for the default 'ci')."
        )
    return value


def scaled(ci: T, laptop: T, gpu: T) -> T:
    """Pick the value for the current scale, e.g. ``steps = scaled(ci=500, laptop=5000, gpu=20000)``."""
    return {"ci": ci, "laptop": laptop, "gpu": gpu}[scale()]


def _threads() -> int | None:
    """``LMCOURSE_THREADS`` as a whole number from 1 to the machine's CPU count (unset or empty: None).

    2 is always allowed, even on a 1-CPU machine, so that an old two-thread setting still works (the
    test configuration pins 1 thread per notebook, two notebooks at a time). A huge count is refused
    before torch sees it (torch crashes on the first matrix product with, say, a million threads).
    """
    raw = os.environ.get("LMCOURSE_THREADS", "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ValueError(f"LMCOURSE_THREADS={raw!r} must be a positive whole number, e.g. 2.")
    cpus = os.cpu_count() or 1
    if int(raw) > max(cpus, 2):
        raise ValueError(f"LMCOURSE_THREADS={raw!r} is more threads than this machine's {cpus} CPUs "
                         f"(os.cpu_count()); use a number from 1 to {max(cpus, 2)}, or unset it to let torch choose.")
    return int(raw)


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """Choose the device: ``prefer`` or ``LMCOURSE_DEVICE``, else CUDA if present, else CPU.

    ``prefer`` is ``"auto"``, ``"cpu"``, ``"cuda"`` (or ``"cuda:1"`` for a second
    GPU), ``"mps"``, or a ``torch.device``; ``None`` reads ``LMCOURSE_DEVICE``
    (unset or empty: ``"auto"``). An empty string, or a number such as ``0``, is an
    error, not a quiet ``"auto"``: write ``"cuda:0"`` for GPU number 0. MPS is used
    only when asked for by name, and asking for a device that is not there is an
    error rather than a silent fall-back.
    """
    import torch

    if prefer is None:
        want = os.environ.get("LMCOURSE_DEVICE", "").strip().lower() or "auto"
        where = f"LMCOURSE_DEVICE={os.environ.get('LMCOURSE_DEVICE', '')!r}: "
    elif isinstance(prefer, torch.device):
        want, where = str(prefer), ""
    elif isinstance(prefer, str):
        want, where = prefer.strip().lower(), ""
        if not want:
            raise ValueError(f"device {prefer!r} is empty; use 'auto' (or None) to choose automatically, "
                             "or one of 'cpu', 'cuda', 'cuda:0', 'mps'.")
    else:
        gpu = isinstance(prefer, int) and not isinstance(prefer, bool) and prefer >= 0
        hint = f" (for GPU number {prefer}, write 'cuda:{prefer}')" if gpu else ""
        raise TypeError(f"device must be a name or a torch.device, e.g. 'cpu', 'cuda:0' or 'auto'; "
                        f"got {type(prefer).__name__} {prefer!r}{hint}.")
    kind, _, index = want.partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"{where}device {want!r} is not one of {', '.join(DEVICES)} (or cuda:N for GPU number N).")
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but torch sees no CUDA GPU; use 'cpu' or 'auto'.")
    if index and int(index) >= torch.cuda.device_count():
        raise RuntimeError(f"device {want!r} was asked for, but torch sees {torch.cuda.device_count()} GPU(s), "
                           f"numbered 0..{torch.cuda.device_count() - 1}.")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("device 'mps' was asked for, but this machine has no Apple MPS; use 'cpu' or 'auto'.")
    return torch.device(want)


def device_name(device: torch.device) -> str:
    """A short, stable name: ``cpu``, ``cuda (NVIDIA H200)`` or ``mps``."""
    import torch

    if not isinstance(device, torch.device):
        raise TypeError(f"device_name needs a torch.device, such as the one lmcourse.setup() returns or "
                        f"torch.device('cpu'); got {type(device).__name__} {device!r}.")
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def _check_seed(seed: object, example: str) -> int:
    """A seed every generator takes: a whole number from 0 to 2**32 - 1 (numpy's legacy generator's limit)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be a whole number from 0 to 2**32 - 1, e.g. {example}, got {seed!r}.")
    return int(seed)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's legacy global generator and torch (all devices)."""
    import numpy as np
    import torch

    seed = _check_seed(seed, "seed_everything(0)")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def under_test() -> bool:
    """True when the test configuration or the notebook builder runs us (``LMCOURSE_UNDER_TEST=1``)."""
    return os.environ.get("LMCOURSE_UNDER_TEST", "") == "1"


def progress(iterable: Iterable[T] | None = None, total: int | None = None, desc: str = "") -> tqdm[T]:
    """A progress bar for loops longer than a few seconds; silent under test.

    Under test the bar is disabled, so the stored notebook output holds no
    timings and rates that would differ on every run.
    """
    from tqdm.auto import tqdm

    if iterable is not None and not isinstance(iterable, Iterable):
        example = f"range({iterable})" if isinstance(iterable, int) and not isinstance(iterable, bool) else "batches"
        raise TypeError(f"progress needs something to loop over, e.g. progress({example}); "
                        f"got {type(iterable).__name__} {iterable!r}.")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
        raise ValueError(f"total must be a whole number of steps >= 0 (or None to take len(iterable)); got {total!r}.")
    if not isinstance(desc, str):
        raise TypeError(f"desc is the bar's label, a str such as 'training'; got {type(desc).__name__} {desc!r}.")
    return tqdm(iterable, total=total, desc=desc, disable=under_test(), leave=True)


def _sharp_inline_figures() -> None:
    """In a notebook, store figures as PNG at twice their pixel size ("retina"), so they stay sharp on a
    high-density screen; at 80 dpi and 6.4 x 3.6 inches a line plot stays a few tens of kilobytes."""
    import sys

    if "IPython" not in sys.modules:  # plain Python (a script, python -m lmcourse.train): no notebook to configure
        return
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def setup(seed: int = 0, device: str | torch.device | None = None, quiet: bool = False) -> torch.device:
    """Seed every generator, pin threads if asked, pick the device, print one line; return the device.

    Call it once, in the first code cell of a notebook::

        device = lmcourse.setup()

    ``seed`` is a whole number from 0 to 2**32 - 1; ``device`` is as for :func:`pick_device`
    (``None``: ``LMCOURSE_DEVICE``, else automatic); ``quiet=True`` skips the printed line.
    """
    import matplotlib
    import numpy as np
    import torch

    import lmcourse

    seed = _check_seed(seed, "setup(seed=0)")
    scale()  # a misspelt LMCOURSE_SCALE is an error now, even with quiet=True, not at the first scaled(...)
    if not isinstance(quiet, bool):
        raise TypeError(f"quiet must be True or False, got {type(quiet).__name__} {quiet!r}.")
    threads = _threads()
    if threads is not None:
        torch.set_num_threads(threads)
    seed_everything(seed)
    dev = pick_device(device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    # Figures small enough that a notebook with a dozen plots stays light to store.
    matplotlib.rcParams.update({"figure.dpi": 80, "figure.figsize": (6.4, 3.6)})
    _sharp_inline_figures()
    if not quiet:
        py = ".".join(platform.python_version_tuple()[:2])
        print(
            f"lmcourse {lmcourse.__version__} | python {py} | torch {torch.__version__.split('+')[0]}"
            f" | numpy {np.__version__} | device {device_name(dev)} | scale {scale()} | seed {seed}"
        )
    return dev
