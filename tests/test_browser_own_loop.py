"""In a real browser: the run of another training loop (examples/own_loop.py) on Train & watch, Replay and Compare,
and every chart's second camera button saving an SVG for papers (white background, black text)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtools import devserver
from tests.support import ARTIFACTS, BROWSER_TESTS, ROOT, launch_chromium

pytestmark = BROWSER_TESTS

SVG_BUTTON = '.taaf-chart .modebar-btn[data-title^="Download plot as SVG"]'


def test_the_example_run_on_every_page_and_svg_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    runs = tmp_path / "runs"
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "own_loop.py"), "--runs-dir", str(runs), "--name",
                          "own-example", "--epochs", "1", "--max-steps", "12"], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    ARTIFACTS.mkdir(exist_ok=True)
    monkeypatch.setenv("TAAF_DEMO_RUN", "")  # no demo: the pages open the example run, the only one
    proc, url = devserver.start(ROOT / "studio" / "app.py", ["--runs-dir", str(runs)],
                                open(tmp_path / "server.log", "w"))
    try:
        with sync_api.sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            for path in ("", "/replay", "/compare"):
                page.goto(url.rstrip("/") + path)
                page.locator(".taaf-chart.js-plotly-plot").first.wait_for(timeout=90_000)
                time.sleep(1.0)
                exc = page.locator('[data-testid="stException"]')
                assert exc.count() == 0, f"{path or '/'}: {exc.first.inner_text()[:1500]}"
                if not path:  # (Replay and Compare name it in a select box and a data grid: no page text)
                    assert "own-example" in page.inner_text("body")
                page.screenshot(path=str(ARTIFACTS / f"own-loop{path.replace('/', '-') or '-train'}.png"))
            chart = page.locator(".taaf-chart.js-plotly-plot").first
            chart.hover()
            with page.expect_download(timeout=30_000) as download:
                chart.locator(".modebar-btn[data-title^='Download plot as SVG']").click()
            svg = Path(download.value.path()).read_text()
            assert download.value.suggested_filename == "taaf-figure.svg"
            assert svg.lstrip().startswith("<svg") and "fill: rgb(255, 255, 255)" in svg
            assert 'class="main-svg"' in svg and "rgb(0, 0, 0)" in svg
            page.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
