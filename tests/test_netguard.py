"""The studio listens on this machine only and sends no usage statistics, from whatever folder it is started."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devtools.devserver import free_port
from tests.support import ROOT


def own_non_loopback_addresses() -> list[str]:
    """This machine's own addresses other than loopback (hostname -I), IPv4 and IPv6."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout.split()
    except (OSError, subprocess.SubprocessError):
        out = []
    return [a for a in out if not a.startswith(("127.", "::1", "fe80"))]


def _wait_healthy(port: int, proc: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        assert proc.poll() is None, "the studio exited"
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the studio did not answer on 127.0.0.1")


def _refused_or_403(addr: str, port: int) -> str:
    """'refused' if nothing listens on addr:port, 'forbidden' if it answered 403, else what it answered."""
    try:
        with socket.create_connection((addr, port), timeout=2):
            pass
    except OSError:
        return "refused"
    host = f"[{addr}]" if ":" in addr else addr
    try:
        urllib.request.urlopen(f"http://{host}:{port}/", timeout=5)
    except urllib.error.HTTPError as e:
        return "forbidden" if e.code == 403 else f"HTTP {e.code}"
    return "served"


@pytest.mark.integration
@pytest.mark.parametrize("launch", ["readme", "python-m-studio"])
def test_studio_started_elsewhere_serves_loopback_only(tmp_path: Path, launch: str) -> None:
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1", HOME=str(tmp_path))  # no ~/.streamlit settings of this user
    env.pop("STREAMLIT_SERVER_ADDRESS", None)
    if launch == "readme":  # the README's command, but from another folder
        cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "studio" / "app.py"), "--server.port", str(port),
               "--server.headless", "true"]
    else:
        env["PYTHONPATH"] = str(ROOT)
        cmd = [sys.executable, "-m", "studio", "--server.port", str(port), "--server.headless", "true"]
    log = tmp_path / "studio.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd + ["--", "--runs-dir", str(tmp_path / "runs")], cwd=tmp_path, env=env,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_healthy(port, proc)
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status == 200 and b"<html" in page.read().lower()
        for addr in own_non_loopback_addresses():
            assert _refused_or_403(addr, port) == "refused", addr
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    assert "Collecting usage statistics" not in text, text  # printed when gatherUsageStats is left on
    assert "warning: TAAF Studio is serving" not in text
    assert "external IP" not in text  # a wildcard bind made streamlit ask a web service for this machine's address


def _call(app, client: tuple[str, int] | None, kind: str = "http") -> list[dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""} if kind == "http" else {"type": "websocket.connect"}

    async def send(msg: dict) -> None:
        sent.append(msg)

    asyncio.run(app({"type": kind, "client": client, "path": "/", "headers": []}, receive, send))
    return sent


async def _ok_app(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"page"})


@pytest.mark.parametrize("address, manually, shared", [("localhost", True, False), ("0.0.0.0", True, True),
                                                       ("0.0.0.0", False, False), ("127.0.0.1", True, False)])
def test_middleware_refuses_other_machines_unless_shared_on_purpose(monkeypatch, address, manually, shared) -> None:
    from studio import netguard

    monkeypatch.setattr(netguard.config, "get_option", lambda key: {"server.address": address}[key])
    monkeypatch.setattr(netguard.config, "is_manually_set", lambda key: manually)
    monkeypatch.setattr(netguard.config, "get_where_defined", lambda key: "command-line flag")
    for peer, allowed in ((("127.0.0.1", 5), True), (("::1", 5), True), (("::ffff:127.0.0.1", 5), True),
                          (("192.0.2.7", 5), shared), (("fd00::9", 5), shared), (None, True)):
        sent = _call(netguard.LoopbackOnly(_ok_app), peer)
        assert sent[0]["status"] == (200 if allowed else 403), (peer, address)
        if not allowed:
            assert sent[1]["body"].decode().count("\n") == 1  # one line of text
        ws = _call(netguard.LoopbackOnly(_ok_app), peer, "websocket")
        assert (ws[0]["type"] == "websocket.close") == (not allowed)


def test_at_start_turns_usage_statistics_off_and_warns_when_shared(monkeypatch, capsys) -> None:
    from streamlit import config

    from studio import netguard

    config.set_option("browser.gatherUsageStats", True)
    config.set_option("server.address", "localhost")
    netguard.at_start()
    assert config.get_option("browser.gatherUsageStats") is False
    assert capsys.readouterr().err == ""
    config.set_option("server.address", "0.0.0.0")
    try:
        netguard.at_start()
    finally:
        config.set_option("server.address", "localhost")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning:") and "0.0.0.0" in err[0]


def test_python_m_studio_passes_localhost_and_no_statistics() -> None:
    from studio.__main__ import command

    cmd = command(["--server.port", "9000", "--", "--runs-dir", "x"])
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"] and cmd[4] == str(ROOT / "studio" / "app.py")
    flags = cmd[5:]
    assert flags[flags.index("--server.address") + 1] == "localhost"
    assert flags[flags.index("--browser.gatherUsageStats") + 1] == "false"
    assert flags[-5:] == ["--server.port", "9000", "--", "--runs-dir", "x"]  # the user's flags come last: they win
