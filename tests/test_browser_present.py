"""Presenter mode in a real browser at projector sizes: every panel group fits the window without scrolling,
chart text is large, titles do not overlap, the keys step through the groups. Screenshots go to test-artifacts/
(docs/presenter-*.png are copies of them)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devtools import devserver
from tests.support import ARTIFACTS, BROWSER_TESTS, ROOT, launch_chromium

pytestmark = BROWSER_TESTS
N_GROUPS = 7

MEASURE = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const ticks = [...document.querySelectorAll('.taaf-chart .xtick text, .taaf-chart .ytick text')]
    .map(t => parseFloat(getComputedStyle(t).fontSize));
  const boxes = [...document.querySelectorAll('.taaf-chart .annotation-text, .taaf-chart .gtitle')]
    .map(t => t.getBoundingClientRect()).filter(r => r.width > 0);
  let overlaps = 0;
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) overlaps++;
  }
  const title = document.querySelector('[data-testid="stMarkdownContainer"] h2');
  return {scroll: main.scrollHeight, client: main.clientHeight, minTick: Math.min(...ticks), ticks: ticks.length,
          overlaps, title: title ? title.textContent : null,
          sidebar: !!document.querySelector('[data-testid="stSidebar"]')?.offsetWidth};
}"""


def test_every_group_fits_a_projector(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    ARTIFACTS.mkdir(exist_ok=True)
    proc, url = devserver.start(ROOT / "studio" / "app.py", ["--runs-dir", str(tmp_path / "runs")],
                                open(tmp_path / "server.log", "w"))
    try:
        with sync_api.sync_playwright() as pw:
            browser = launch_chromium(pw)
            for width, height in ((1280, 720), (1920, 1080)):
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(f"{url}/present?group=0")  # a bookmark: no run named, so the demo replay
                page.locator(".taaf-chart.js-plotly-plot").first.wait_for(timeout=60_000)
                titles = []
                for group in range(N_GROUPS):
                    page.wait_for_function("() => [...document.querySelectorAll('.taaf-chart')].every("
                                           "d => d.classList.contains('js-plotly-plot'))", timeout=30_000)
                    # a panel of per-epoch data waits for the replay's first epoch (the AV-Digits-T demo: about
                    # half of its 45 s loop), showing a note and no axes until then
                    deadline = time.time() + 60
                    while True:
                        time.sleep(1.0)  # plotly's relayout to the window
                        m = page.evaluate(MEASURE)
                        if m["ticks"] or time.time() > deadline:
                            break
                    where = f"{width}x{height} group {group} ({m['title']})"
                    assert m["scroll"] <= m["client"] + 1, f"{where}: scrolls ({m['scroll']} > {m['client']} px)"
                    assert m["ticks"] and m["minTick"] >= 16, f"{where}: tick labels {m['minTick']} px"
                    assert m["overlaps"] == 0, f"{where}: {m['overlaps']} overlapping titles"
                    assert not m["sidebar"], f"{where}: the sidebar shows"
                    if group in (0, 2, 4):  # loss, attention, membrane
                        page.screenshot(path=str(ARTIFACTS / f"presenter-{width}-{group}.png"))
                    titles.append(m["title"])
                    page.keyboard.press("ArrowRight")
                    page.wait_for_function(f"() => document.querySelector('h2')?.textContent !== {m['title']!r}",
                                           timeout=30_000)
                assert len(set(titles)) == N_GROUPS  # the keys stepped through every group
                assert page.evaluate(MEASURE)["title"] == titles[0]  # and wrapped around
                page.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
