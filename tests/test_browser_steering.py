"""In a real browser: steer a live run from the Train page's form (β) and see the event marked on the live lr chart.
Screenshots on a timeout go to test-artifacts/."""

from __future__ import annotations

import re

import pytest

from core.steering import events_frame
from core.store import RunReader
from tests.support import ARTIFACTS, BROWSER_TESTS, TINY, launch_chromium, live_run_in_studio, wait_until

pytestmark = BROWSER_TESTS

LR_ANNOTATIONS = """gds => gds.map(gd => (gd.layout.annotations || []).map(a => a.text))
    .find(texts => texts.includes('effective learning rate')) || []"""


def test_beta_changed_in_the_form_is_marked_on_the_live_lr_chart(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with live_run_in_studio(tmp_path / "runs", [*TINY, "train.epochs=300"], "streamlit-steering.log") as (run, url):
        with sync_api.sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1600, "height": 1400})
            page.goto(url)
            page.locator(".taaf-head").get_by_text(run.name).first.wait_for(timeout=90_000)
            page.get_by_text("Steer this run").first.click()
            beta = page.get_by_role("spinbutton", name="β (balance strength)")
            beta.fill("3")
            page.get_by_role("button", name=re.compile("Apply at the next step")).click()
            wait_until(lambda: (e := events_frame(RunReader(run).events())).shape[0] and
                       e["key"].iloc[-1] == "strategy.beta", "the β event in the store", 60, poll=0.2)
            chart = page.locator(".taaf-chart.js-plotly-plot").nth(1)
            chart.scroll_into_view_if_needed()
            try:
                wait_until(lambda: "β 3" in page.locator(".taaf-chart.js-plotly-plot").evaluate_all(LR_ANNOTATIONS),
                           "the event marked on the lr chart", 60, poll=0.3)
            except AssertionError:
                page.screenshot(path=str(ARTIFACTS / "timeout-steering-mark.png"), full_page=True)
                raise
            browser.close()
