"""What a new user saw in a terminal (issue 26): a second studio on the default port says where it went, and a
trainer writing to a file prints one plain line per epoch (not tqdm's carriage-return redraws)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import ROOT, TAAF_CONFIG, TINY, sets

pytestmark = pytest.mark.integration
DEFAULT_PORT = 8501


def test_a_trainer_writing_to_a_file_prints_one_line_per_epoch(tmp_path: Path) -> None:
    log = tmp_path / "train.out"
    with open(log, "wb") as out:  # not a terminal: what `... > log` and a CI job get
        done = subprocess.run([sys.executable, "-m", "core.train", "--config", str(TAAF_CONFIG),
                               *sets([*TINY, "record.progress=true"]), "--run-dir", str(tmp_path / "run")],
                              cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=600)
    text = log.read_text()
    assert done.returncode == 0, text[-2000:]
    assert "\r" not in text  # tqdm's redraws would be one giant line in a file
    lines = [ln for ln in text.splitlines() if ln.startswith("epoch ")]
    assert [ln.split(":")[0] for ln in lines] == ["epoch 1/2", "epoch 2/2"], text[-2000:]
    assert "best fused val acc" in lines[-1]


def _taken(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_second_studio_on_the_default_port_says_where_it_is(tmp_path: Path) -> None:
    holder = None
    if not _taken(DEFAULT_PORT):  # stand in for the first studio
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", DEFAULT_PORT))
        holder.listen(1)
    log = tmp_path / "studio.log"
    env = {k: v for k, v in os.environ.items() if k != "STREAMLIT_SERVER_PORT"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "studio", "--", "--runs-dir", str(tmp_path / "runs")],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and "TAAF Studio: port" not in log.read_text() and proc.poll() is None:
            time.sleep(0.2)
        text = log.read_text()
        line = next((ln for ln in text.splitlines() if ln.startswith("TAAF Studio: port")), None)
        assert line is not None, text
        assert f"port {DEFAULT_PORT} is taken" in line and f"not http://localhost:{DEFAULT_PORT}" in line
        moved = int(line.split("this one is at http://localhost:")[1].split(",")[0])
        assert moved != DEFAULT_PORT and _taken(moved)
        assert "No runtime found" not in text
    finally:
        proc.terminate()
        proc.wait(20)
        if holder is not None:
            holder.close()
