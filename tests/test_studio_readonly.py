"""A read-only runs folder (a colleague's results, a read-only mount): Start and Pause say so in one line.

The studio runs in a subprocess without the right to ignore file permissions (capsh drops root's
CAP_DAC_OVERRIDE; another user needs nothing), so the folder is read-only as it would be for a user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import STUDIO_APP, make_run

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.integration  # the studio runs in a subprocess
# AppTest of the Train page over TAAF_RUNS_DIR, pressing one button; prints the page's messages and exceptions
PRESS = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=60).run()
at.button(key=sys.argv[2]).click().run()
print(json.dumps({"error": [e.value for e in at.error], "exception": [e.value for e in at.exception]}))
"""


def _press_without_override(runs: Path, button: str) -> dict:
    cmd = [sys.executable, "-c", PRESS, str(STUDIO_APP), button]
    if os.geteuid() == 0:
        if not shutil.which("capsh"):
            pytest.skip("root can write a read-only folder and capsh is not here to drop that right")
        cmd = ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c", 'exec "$0" "$@"', *cmd]
    env = dict(os.environ, TAAF_RUNS_DIR=str(runs), TAAF_DEMO_RUN="", PYTHONPATH=str(ROOT))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _read_only(folder: Path) -> None:
    for p in [folder, *folder.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)


def _writable_again(folder: Path) -> None:
    for p in [folder, *folder.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)


def test_start_in_a_read_only_runs_folder_is_one_line_naming_it(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    _read_only(runs)
    try:
        page = _press_without_override(runs, "start")
    finally:
        _writable_again(runs)
    assert page["exception"] == []  # no traceback in the page
    assert len(page["error"]) == 1 and "\n" not in page["error"][0]
    shown = page["error"][0].replace("\\", "")  # the message is escaped markdown
    assert "Not started" in shown and str(runs) in shown and "cannot be written" in shown


def test_pause_in_a_read_only_run_folder_says_read_only_not_corrupt(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs / "theirs", status="running")  # its writer pid (this process) is alive
    _read_only(runs)
    try:
        page = _press_without_override(runs, "pause")
    finally:
        _writable_again(runs)
    assert page["exception"] == []
    shown = [e.replace("\\", "") for e in page["error"]]
    assert len(shown) == 1 and "read-only" in shown[0] and "theirs" in shown[0] and "corrupt" not in shown[0]
