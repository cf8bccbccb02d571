"""A run's warning naming an image or a link, in a real browser: the page shows the text, and the browser fetches
nothing (a tiny HTTP server on a free port stands for the pixel and must receive no request)."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from core.store import RunWriter
from devtools import devserver
from tests.support import BROWSER_TESTS, ROOT, launch_chromium, make_run

pytestmark = BROWSER_TESTS


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_browser_fetches_no_pixel_named_by_a_run(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    pixel = http.server.ThreadingHTTPServer(("127.0.0.1", devserver.free_port()), _Counter)
    threading.Thread(target=pixel.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{pixel.server_address[1]}"
    runs = tmp_path / "runs"
    live = make_run(runs / "watched", status="running")
    w = RunWriter.open(live)
    w.set_meta("warnings", [f"![]({url}/warning.png) and [x]({url}/link)"])
    w.close()
    with open(tmp_path / "server.log", "w") as log:
        proc, studio = devserver.start(ROOT / "studio" / "app.py", ["--runs-dir", str(runs)], log, timeout_s=90)
    try:
        with sync_api.sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page()
            page.goto(studio)
            page.locator("[data-testid='stAlert']").filter(has_text=" and ").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            alerts = " ".join(page.locator("[data-testid='stAlert']").all_inner_texts())
            assert "warning.png" in alerts  # shown, as text
            found = page.locator(f"img[src^='{url}'], a[href^='{url}']")
            assert found.count() == 0, [found.nth(i).evaluate("e => e.parentElement.parentElement.outerHTML")
                                        for i in range(found.count())]
            browser.close()
    finally:
        proc.terminate()
        proc.wait(30)
        pixel.shutdown()
    assert _Counter.hits == []
