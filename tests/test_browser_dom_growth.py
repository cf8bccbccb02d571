"""A live page that stays open overnight does not grow (issue 27), in a real browser at a compressed cadence.

The Train page watches a synthetic run that trains 30 times faster than a real one (devtools/fastrun.py) with
`?cadence=30` (its charts poll 30 times as often): hundreds of epochs and redraws in a minute or two. The
presenter steps through its groups, so charts mount and unmount: each one it leaves must let go of the window.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from core.store import RunReader
from devtools import devserver
from devtools.fastrun import STEPS_PER_EPOCH
from tests.support import BROWSER_TESTS, ROOT, launch_chromium, wait_until

pytestmark = BROWSER_TESTS
SPEED = 30
ELEMENTS = "() => document.getElementsByTagName('*').length"
LOSS_DRAWS = "() => Number(document.querySelector('.taaf-chart')?.dataset.draws || 0)"


@contextmanager
def studio_over_fast_run(tmp: Path) -> Iterator[str]:
    """The studio's url, its runs folder holding one run that grows SPEED times faster than a real one."""
    runs = tmp / "runs"
    runs.mkdir()
    writer = subprocess.Popen([sys.executable, "-m", "devtools.fastrun", str(runs / "fast"), "--speed", str(SPEED),
                               "--minutes", "6"], cwd=ROOT)
    proc = None
    try:
        wait_until(lambda: (runs / "fast" / "store.sqlite").exists() and RunReader(runs / "fast").last_step() > 0,
                   "the synthetic run's first step", timeout=60, poll=0.2)
        proc, url = devserver.start(ROOT / "studio" / "app.py", ["--runs-dir", str(runs)],
                                    open(tmp / "server.log", "w"))
        yield url
    finally:
        writer.terminate()
        writer.wait(10)
        if proc is not None:
            proc.terminate()
            proc.wait(10)


def shown_step(page: Any) -> int:
    return int(page.locator(".taaf-head").first.get_attribute("data-step") or -1)


def test_train_page_dom_stays_flat_over_hundreds_of_epochs(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with studio_over_fast_run(tmp_path) as url, sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{url}/?cadence={SPEED}")
        page.locator(".taaf-chart.js-plotly-plot").first.wait_for(timeout=60_000)
        start = 100 * STEPS_PER_EPOCH  # past the epochs drawn with markers (curves.MAX_MARKERS)
        wait_until(lambda: shown_step(page) >= start, f"the run bar at step {start}", timeout=180, poll=0.5)
        page.wait_for_timeout(1000)
        nodes0, draws0 = page.evaluate(ELEMENTS), page.evaluate(LOSS_DRAWS)
        end = start + 400 * STEPS_PER_EPOCH  # before the fix: 4 markers an epoch on the loss chart alone
        wait_until(lambda: shown_step(page) >= end, f"the run bar at step {end}", timeout=240, poll=0.5)
        page.wait_for_timeout(1000)
        nodes1, draws1 = page.evaluate(ELEMENTS), page.evaluate(LOSS_DRAWS)
        browser.close()
    assert draws1 - draws0 >= 20, f"the loss chart redrew only {draws1 - draws0} times: nothing was measured"
    assert nodes1 - nodes0 <= 150, (f"the page grew from {nodes0} to {nodes1} elements over 400 epochs "
                                    f"and {draws1 - draws0} redraws of the loss chart")


def window_resize_listeners(cdp: Any) -> int:
    window = cdp.send("Runtime.evaluate", {"expression": "window"})["result"]["objectId"]
    listeners = cdp.send("DOMDebugger.getEventListeners", {"objectId": window})["listeners"]
    return sum(1 for x in listeners if x["type"] == "resize")


def test_presenter_lets_go_of_the_charts_it_leaves(tmp_path: Path) -> None:
    """Autoplay steps to another group every 12 s all night; plotly's responsive charts hook the window."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    proc, url = devserver.start(ROOT / "studio" / "app.py", ["--runs-dir", str(tmp_path / "runs")],
                                open(tmp_path / "server.log", "w"))
    try:
        with sync_api.sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{url}/present?group=0")  # the demo replay
            page.locator(".taaf-chart.js-plotly-plot").first.wait_for(timeout=60_000)
            cdp = page.context.new_cdp_session(page)
            counts = []
            for _ in range(3):  # one cycle through the groups (7) each time
                for _ in range(7):
                    title = page.locator("h2").first.text_content()
                    page.keyboard.press("ArrowRight")
                    wait_until(lambda t=title: page.locator("h2").first.text_content() != t, "the next group",
                               timeout=30, poll=0.1)
                    page.locator(".taaf-chart.js-plotly-plot").first.wait_for(timeout=30_000)
                    page.wait_for_timeout(300)
                counts.append(window_resize_listeners(cdp))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    assert counts[-1] <= counts[0], f"window resize listeners after each cycle of groups: {counts}"
