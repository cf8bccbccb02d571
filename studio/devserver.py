"""Start `streamlit run` on a free local port and wait until it answers: for the browser test and the benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parents[1]
# Headless Chromium for the browser test and the benches: no sandbox (root in CI), nothing fetched from outside.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(script: Path | str, script_args: list[str], log: IO, timeout_s: float = 60.0) -> tuple[subprocess.Popen, str]:
    """(process, url) of a headless server for `script`, once /_stcore/health answers 200.

    Raises RuntimeError (after killing the process) when it does not within `timeout_s`.
    """
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false", "--",
                             *script_args],
                            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://localhost:{port}"
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"streamlit did not become healthy in {timeout_s:.0f} s (see {getattr(log, 'name', 'its log')})")
