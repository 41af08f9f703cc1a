"""The main job, smoke-tested: JupyterLab starts, serves its page, and stops."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_jupyter_lab_serves_its_page(tmp_path: Path) -> None:
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={ROOT}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root; jupyter refuses unless told
        cmd.append("--allow-root")
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page, last_error = time.monotonic() + 90, "", None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=5) as reply:
                    assert reply.status == 200
                    page = reply.read().decode("utf-8", "replace")
                    break
            except OSError as err:
                last_error = err
                time.sleep(0.5)
        assert server.poll() is None, f"jupyter lab exited early:\n{server.stdout.read() if server.stdout else ''}"
        assert page, f"no /lab page within 90 s (last error: {last_error})"
        assert "JupyterLab" in page and "jupyter-config-data" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/chapters?token={token}", timeout=5) as reply:
            assert b"00_setup.ipynb" in reply.read()
    finally:
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, signal.SIGKILL)
            server.wait()
    assert server.returncode is not None
