"""JupyterLab started and stopped for a test: shared by test_jupyterlab.py and test_browser.py.

Written to hold on a loaded machine (two notebooks running beside it, other jobs on the same cores):

- JupyterLab picks its own port (``--port=0``) and the test reads it from the server's runtime file, so no
  port chosen here can be taken by another process while the server starts (which can take 20 s under load).
- The server's output goes to a file, never to a pipe nobody reads.
- Every request is retried while the server is not yet listening, and waits as long as the deadline allows
  once it is: a slow answer is not a failure, only no answer by the deadline is.
- Requests bypass any ``http_proxy`` setting: the server is on this machine.
- The server's configuration, settings and runtime files live under the test's ``tmp_path``, never in the
  repository or the learner's own Jupyter folders, and it looks for no updates or news (no network at run time).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_S = 120  # from launch to the page served; about 3 s on an idle laptop, 20 s with every core busy
STOP_S = 30  # from SIGTERM to exit; under 1 s idle, 5 s with every core busy
NOT_LISTENING = (ConnectionRefusedError, ConnectionResetError)
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy for 127.0.0.1


def log_tail(log: Path, n: int = 40) -> str:
    """The last ``n`` lines of the server's log, for a failure message."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-n:]) if log.exists() else "(no log)"


def start_lab(tmp_path: Path, token: str, root_dir: Path = ROOT,
              env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """Start ``jupyter lab`` serving ``root_dir`` on a port of its own choosing; return the process, its
    runtime dir and log. ``env`` replaces the whole environment (default: this process's)."""
    runtime, log = tmp_path / "runtime", tmp_path / "jupyter.log"
    env = dict(os.environ if env is None else env, JUPYTER_RUNTIME_DIR=str(runtime),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", "--port=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root; jupyter refuses unless told
        cmd.append("--allow-root")
    with log.open("wb") as out:  # the child keeps its own copy of the file descriptor
        server = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return server, runtime, log


def server_port(server: subprocess.Popen[bytes], runtime: Path, log: Path, deadline: float) -> int:
    """The port from the server's runtime file ``jpserver-<pid>.json``, written once the port is chosen."""
    while time.monotonic() < deadline and server.poll() is None:
        for info_file in runtime.glob("jpserver-*.json"):
            try:
                return int(json.loads(info_file.read_text())["port"])
            except (OSError, ValueError, KeyError):
                pass  # caught half-written; read it again
        time.sleep(0.05)
    assert server.poll() is None, f"jupyter lab exited with code {server.returncode} before serving:\n{log_tail(log)}"
    raise AssertionError(f"jupyter lab wrote no runtime file within {START_S} s:\n{log_tail(log)}")


def get(url: str, deadline: float, server: subprocess.Popen[bytes], log: Path) -> bytes:
    """GET ``url``: retried while the server is not listening yet; an HTTP error status fails at once."""
    while True:
        left = deadline - time.monotonic()
        try:
            with LOCAL.open(url, timeout=max(left, 1.0)) as reply:
                return bytes(reply.read())
        except urllib.error.HTTPError as err:
            raise AssertionError(f"GET {url.split('?')[0]} answered {err.code} {err.reason}:\n{log_tail(log)}") from err
        except OSError as err:
            reason = err.reason if isinstance(err, urllib.error.URLError) else err
            if not isinstance(reason, NOT_LISTENING) or left <= 0 or server.poll() is not None:
                raise AssertionError(f"GET {url.split('?')[0]} failed after {START_S - left:.0f} s: {err!r} "
                                     f"(server exit code: {server.poll()}):\n{log_tail(log)}") from err
            time.sleep(0.05)


def stop_lab(server: subprocess.Popen[bytes], log: Path) -> float:
    """SIGTERM the server and wait for it; return the seconds it took. Killed, and a failure, past ``STOP_S``."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    try:
        server.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        raise AssertionError(f"jupyter lab still running {STOP_S} s after SIGTERM; killed:\n{log_tail(log)}") from None
    return time.monotonic() - sent
