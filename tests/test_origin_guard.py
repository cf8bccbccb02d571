"""The studio answers only its own page: another origin of this machine (any port), a DNS-rebinding Host or a
request a browser marks as another site's cannot open the websocket or read the live routes (studio/netguard.py).

Against a real server, with raw HTTP over a socket: the headers are exactly those a hostile page's browser
sends, which urllib would rewrite (Host) or leave out (the websocket upgrade)."""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools import devserver
from studio import netguard
from tests.support import make_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """(port, server log) of a real studio over a runs folder holding the run 'good'."""
    tmp = tmp_path_factory.mktemp("origin")
    make_run(tmp / "runs" / "good", status="running")
    log = tmp / "server.log"
    with open(log, "w") as fh:
        proc, url = devserver.start(ROOT / "studio" / "app.py", ["--runs-dir", str(tmp / "runs")], fh, timeout_s=90)
    try:
        yield int(url.rsplit(":", 1)[1]), log
    finally:
        proc.terminate()
        proc.wait(30)


def _raw(port: int, path: str, headers: dict[str, str], websocket: bool = False) -> tuple[int, bytes]:
    """(status, body) of one request to 127.0.0.1:port sent with exactly `headers` (a websocket upgrade if asked)."""
    lines = [f"GET {path} HTTP/1.1"]
    if websocket:
        headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                   "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(), **headers}
    else:
        headers = {"Connection": "close", **headers}
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := s.recv(65536):  # to the end (Connection: close), or the end of an upgrade's head
            data += chunk
            if websocket and b"\r\n\r\n" in data:
                break
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.integration  # a real studio server
def test_websocket_from_another_local_port_is_refused_and_its_own_page_is_not(studio: tuple[int, Path]) -> None:
    port, log = studio
    own = f"localhost:{port}"
    assert _raw(port, "/_stcore/stream", {"Host": own, "Origin": f"http://{own}"}, websocket=True)[0] == 101
    for origin in (f"http://localhost:{port + 1}", f"http://127.0.0.1:{port + 1}", "http://evil.example", "null",
                   f"https://localhost:{port}"):
        assert _raw(port, "/_stcore/stream", {"Host": own, "Origin": origin}, websocket=True)[0] == 403, origin
    # Streamlit's own origin check, had it run, would have asked a web service for this machine's external IP
    assert "external IP" not in log.read_text()


@pytest.mark.integration  # a real studio server
@pytest.mark.parametrize("path", ["/", "/taaf/api/head?run=good", "/_stcore/health", "/_stcore/host-config"])
def test_a_dns_rebinding_host_is_refused_in_one_line(studio: tuple[int, Path], path: str) -> None:
    port, _ = studio
    status, body = _raw(port, path, {"Host": f"evil.example:{port}"})
    assert status == 403 and body.decode().count("\n") == 1 and body == netguard.FOREIGN
    assert _raw(port, "/_stcore/stream", {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"},
                websocket=True)[0] == 403


@pytest.mark.integration  # a real studio server
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "[::1]"])
def test_the_page_and_live_routes_answer_every_loopback_name(studio: tuple[int, Path], host: str) -> None:
    port, _ = studio
    status, body = _raw(port, "/", {"Host": f"{host}:{port}"})
    assert status == 200 and b"<html" in body.lower()
    assert _raw(port, "/taaf/api/head?run=good", {"Host": f"{host}:{port}", "Sec-Fetch-Site": "same-origin",
                                                  "Sec-Fetch-Mode": "cors"})[0] == 200


@pytest.mark.integration  # a real studio server
def test_another_site_cannot_fetch_the_routes_but_can_link_to_the_studio(studio: tuple[int, Path]) -> None:
    port, _ = studio
    own = f"localhost:{port}"
    for site in ("cross-site", "same-site"):  # same-site: a page on another port of localhost
        fetch = {"Host": own, "Sec-Fetch-Site": site, "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
        assert _raw(port, "/taaf/api/head?run=good", fetch)[0] == 403
        frame = {"Host": own, "Sec-Fetch-Site": site, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}
        assert _raw(port, "/", frame)[0] == 403  # framed by another page: its clicks could be the user's
        link = {"Host": own, "Sec-Fetch-Site": site, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
        assert _raw(port, "/", link)[0] == 200
    assert _raw(port, "/taaf/api/head?run=good", {"Host": own, "Origin": f"http://localhost:{port + 1}"})[0] == 403


def _scope(headers: dict[str, str], kind: str = "http") -> dict:
    return {"type": kind, "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}


@pytest.mark.unit
def test_shared_on_purpose_accepts_any_host_but_still_only_its_own_origin() -> None:
    host = {"Host": "studio.lan:8501"}
    assert not netguard.foreign_request(_scope(host), shared=True)
    assert netguard.foreign_request(_scope(host), shared=False)
    assert not netguard.foreign_request(_scope({**host, "Origin": "http://studio.lan:8501"}, "websocket"), True)
    assert netguard.foreign_request(_scope({**host, "Origin": "http://other.lan:8501"}, "websocket"), True)
    assert netguard.foreign_request(_scope({**host, "Sec-Fetch-Site": "cross-site"}, "websocket"), True)
    assert netguard.foreign_request(_scope({"Host": "bad host:x"}), True)  # malformed Host
