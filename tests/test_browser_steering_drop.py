"""In a real browser: drop the visual modality of a live run from the Train page's steering form, and see the visual
raster go silent on the next probe (the page says it is muted). Screenshots on a timeout go to test-artifacts/."""

from __future__ import annotations

import re

import pytest

from core.steering import events_frame
from core.store import RunReader
from tests.support import ARTIFACTS, BROWSER_TESTS, launch_chromium, live_run_in_studio, wait_until

pytestmark = BROWSER_TESTS

# The default network (the tiny one barely fires its visual layers early on), a probe every 5 steps.
LIVE = ["record.every_steps=5", "record.progress=false", "record.shapley=false", "train.threads=1",
        "data.batch_size=128", "train.epochs=300"]

# The visual raster on the page (its subplots are titled by layer, `v.lif1  (...)`): the spikes it draws, and
# whether it says the modality is muted. Scrolled into view: a live chart out of view is not redrawn.
VISUAL_RASTER = """gds => gds.map(gd => {
    const texts = (gd.layout.annotations || []).map(a => String(a.text || ''));
    if (!texts.some(t => t.startsWith('v.lif'))) return null;
    gd.scrollIntoView({block: 'center'});
    let spikes = 0;
    for (const tr of gd._fullData || []) for (const row of tr.z || []) for (const x of row || []) spikes += +x || 0;
    return {muted: texts.some(t => t.includes('visual muted')), spikes: spikes};
}).filter(x => x)"""


def _raster(page) -> dict | None:
    found = page.locator(".taaf-chart.js-plotly-plot").evaluate_all(VISUAL_RASTER)
    return found[0] if found else None


def _choose(page, label: str, option: str, timeout_error: type[Exception]) -> None:
    """Pick `option` in the selectbox labelled `label`. A rerun of the live page can close the list as it
    opens: then open it again (three tries)."""
    box = page.get_by_role("combobox", name=label, exact=True)
    for _ in range(3):
        box.click()
        try:
            page.get_by_role("option").filter(has_text=option).first.click(timeout=5_000)
            wait_until(lambda: box.input_value() == option, f"{option!r} shown in {label!r}", 5, poll=0.2)
            return
        except (timeout_error, AssertionError):
            page.keyboard.press("Escape")
    raise AssertionError(f"could not pick {option!r} in {label!r} (it shows {box.input_value()!r})")


def test_dropping_the_visual_modality_silences_its_raster_on_the_next_probe(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with live_run_in_studio(tmp_path / "runs", LIVE, "streamlit-steering-drop.log") as (run, url):
        with sync_api.sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1600, "height": 1400})
            page.goto(url)
            page.locator(".taaf-head").get_by_text(run.name).first.wait_for(timeout=90_000)
            radio = page.locator('[data-testid="stRadio"]').first
            radio.scroll_into_view_if_needed()
            radio.get_by_text("visual", exact=True).click()
            try:  # before the drop the visual encoder fires (else a silent raster would prove nothing)
                wait_until(lambda: (r := _raster(page)) and r["spikes"] > 0 and not r["muted"],
                           "the visual raster with spikes", 120, poll=0.3)
                page.get_by_text("Steer this run").first.click()
                _choose(page, "drop a modality", "visual", sync_api.TimeoutError)
                page.get_by_role("spinbutton", name="for N steps").fill("100000")
                page.get_by_role("button", name=re.compile("Apply at the next step")).click()
                event = wait_until(lambda: (e := events_frame(RunReader(run).events())).shape[0] and
                                   e.iloc[-1].to_dict(), "the drop event in the store", 60, poll=0.2)
                assert event["key"] == "corrupt.drop_visual" and event["new"] == 100000 and event["source"] == "studio"
                wait_until(lambda: (r := _raster(page)) and r["muted"], "the raster of the next probe", 60, poll=0.3)
            except AssertionError:
                page.screenshot(path=str(ARTIFACTS / "timeout-steering-drop.png"), full_page=True)
                raise
            assert _raster(page)["spikes"] == 0
            reader = RunReader(run)
            newest = reader.array_steps()[-1]
            assert newest > event["step"] and reader.arrays(newest)["dropped"].tolist() == [0, 1]
            browser.close()
