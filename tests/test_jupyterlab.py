"""The main job, smoke-tested: JupyterLab starts, serves its page and the chapters, and stops cleanly.

The server is started and stopped by tests/lab_server.py (shared with test_browser.py), which says how it
holds on a loaded machine.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from lab_server import START_S, get, log_tail, server_port, start_lab, stop_lab


def test_jupyter_lab_serves_its_page_and_stops_cleanly(tmp_path: Path) -> None:
    token = secrets.token_hex(16)
    deadline = time.monotonic() + START_S
    server, runtime, log = start_lab(tmp_path, token)
    try:
        port = server_port(server, runtime, log, deadline)
        base = f"http://127.0.0.1:{port}"
        page = get(f"{base}/lab?token={token}", deadline, server, log).decode("utf-8", "replace")
        assert "JupyterLab" in page and "jupyter-config-data" in page, f"/lab is not JupyterLab's page:\n{page[:500]}"
        listing = json.loads(get(f"{base}/api/contents/chapters?token={token}", deadline, server, log))
        assert "00_setup.ipynb" in {item["name"] for item in listing["content"]}, listing
    finally:
        took = stop_lab(server, log)
    assert server.returncode == 0, f"jupyter lab exited with code {server.returncode} on SIGTERM:\n{log_tail(log)}"
    left_over = sorted(p.name for p in runtime.glob("jpserver-*"))
    assert not left_over, f"jupyter lab stopped in {took:.1f} s but left its runtime files behind: {left_over}"
