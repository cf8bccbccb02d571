"""What a new user tripped over (issue 26), in a real browser: the presenter link carries the run you watch and
the presenter has a run picker; selectors tell runs apart (T, epochs, seed, test accuracy) and are not cut off;
the first epoch's waiting sentence covers no drawn line and the threshold label sits on the axis; the presenter's
imbalance verdict stays inside its chart at 1280 x 720; Start training is above the fold at 1440 x 900.
Screenshots go to test-artifacts/new-user-*.png."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.store import RunWriter
from devtools import devserver
from tests.support import ARTIFACTS, BROWSER_TESTS, ROOT, launch_chromium, make_run

pytestmark = BROWSER_TESTS
T4, T16, VERDICT, YOUNG = "taaf-hard-s0-t4", "taaf-hard-s0-t16", "taaf-hard-s1-six", "taaf-hard-s2-young"


def _finished(run: Path, test_acc: float, **kw) -> None:
    make_run(run, **kw)
    w = RunWriter.open(run)
    w.set_meta("test", {"acc_a": 0.5, "acc_v": 0.4, "acc_f": test_acc, "loss": 1.0})
    w.close()


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory):
    runs = tmp_path_factory.mktemp("newuser") / "runs"
    _finished(runs / T4, 0.9, T=4, steps=40, steps_per_epoch=20)
    _finished(runs / T16, 0.95, T=16, steps=40, steps_per_epoch=20)
    _finished(runs / VERDICT, 0.8, steps=120, steps_per_epoch=20, seed=1)
    # one long first epoch: its replay stays in the first epoch for about 20 s
    _finished(runs / YOUNG, 0.7, steps=400, steps_per_epoch=200, every=10, seed=2)
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "new-user-streamlit.log", "w")
    try:
        proc, url = devserver.start(ROOT / "studio" / "app.py", ["--runs-dir", str(runs)], log)
    except RuntimeError as e:
        pytest.fail(str(e))
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        yield url, browser
        browser.close()
    proc.terminate()
    proc.wait(10)
    log.close()


def _pick(page, label: str, contains: str) -> None:
    """Open the selectbox labelled `label` (a combobox) and click the option whose text contains `contains`."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option").filter(has_text=contains).first.click()


def _options(page, label: str) -> list[str]:
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option").first.wait_for(timeout=30_000)
    texts = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return texts


def _run_bar_name(page) -> str:
    return page.locator(".taaf-head .taaf-text b").first.inner_text()


def test_presenter_mode_shows_the_run_you_picked_and_offers_a_picker(studio) -> None:
    url, browser = studio
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(url)
    start = page.get_by_role("button", name="Start training")
    start.wait_for(timeout=60_000)
    box = start.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 900, f"Start training below the fold: {box}"
    options = _options(page, "Run")
    t16 = next(o for o in options if "T 16" in o)
    assert "taaf · hard · T 16 · 2 epochs · seed 0" in t16 and "test 95.0 %" in t16
    assert any("T 4 · 2 epochs · seed 0" in o and "test 90.0 %" in o for o in options)
    _pick(page, "Run", "T 16")
    link = page.locator(f'a[href*="present?run={T16}"]')  # the page link under the title, not the navigation's
    link.wait_for(timeout=30_000)
    link.click()
    page.wait_for_url("**/present**", timeout=30_000)
    page.wait_for_function(f"() => document.querySelector('.taaf-head .taaf-text b')?.textContent === {T16!r}",
                           timeout=30_000)
    assert f"run={T16}" in page.url
    page.screenshot(path=str(ARTIFACTS / "new-user-presenter-own-run.png"))
    page.get_by_role("button", name="Run").click()
    _pick(page, "Run to present", "test 90.0 %")  # the T = 4 run (the others have T = 4 too)
    page.wait_for_function(f"() => document.querySelector('.taaf-head .taaf-text b')?.textContent === {T4!r}",
                           timeout=30_000)
    page.wait_for_function(f"() => location.search.includes('run={T4}')", timeout=30_000)
    page.close()


def test_the_neuron_labs_run_selector_shows_the_whole_label(studio) -> None:
    url, browser = studio
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{url}/neuron_lab")
    page.get_by_text("a neuron of a run").click()
    _pick(page, "run", "T 16")
    select = page.get_by_role("combobox", name="run", exact=True)
    page.wait_for_function("() => document.querySelector('input[aria-label=\"run\"]')?.value.includes('T 16')",
                           timeout=30_000)
    cut = select.evaluate("e => e.scrollWidth > e.clientWidth + 1")
    page.screenshot(path=str(ARTIFACTS / "new-user-neuron-lab.png"))
    assert not cut, "the run's label is cut off"
    page.close()


OVERLAP = """(cell) => {
  const drag = document.querySelector(`.taaf-chart .nsewdrag[data-subplot="${cell}"]`).getBoundingClientRect();
  const notes = [...document.querySelectorAll('.taaf-chart .annotation')].filter(a => a.textContent.includes('Fills'))
    .map(a => a.getBoundingClientRect());
  const hit = notes.filter(r => r.left < drag.right && drag.left < r.right
                                && r.top < drag.bottom && drag.top < r.bottom);
  return {notes: notes.length, hit: hit.length};
}"""


def test_the_first_epoch_covers_nothing_and_names_the_threshold_on_the_axis(studio) -> None:
    url, browser = studio
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{url}/present?run={YOUNG}&group=5")  # imbalance: grad-norm from step 1, the rest after epoch 1
    page.wait_for_function("() => [...document.querySelectorAll('.taaf-chart .annotation')]"
                           ".some(a => a.textContent.includes('Fills'))", timeout=60_000)
    time.sleep(1.0)
    got = page.evaluate(OVERLAP, "x2y2")
    page.screenshot(path=str(ARTIFACTS / "new-user-first-epoch-imbalance.png"))
    assert got["notes"] >= 1 and got["hit"] == 0, got
    page.goto(f"{url}/present?run={YOUNG}&group=4")  # the membrane panel
    page.locator(".taaf-chart .ytitle").first.wait_for(timeout=60_000)
    texts = "sel => [...document.querySelectorAll(sel)].map(e => e.textContent)"  # SVG text: no innerText
    titles = page.evaluate(texts, ".taaf-chart .ytitle")
    assert any("v_th = 1" in t for t in titles), titles
    assert not [t for t in page.evaluate(texts, ".taaf-chart .annotation") if "v_th" in t]
    page.close()


def test_the_presenters_imbalance_verdict_stays_inside_its_chart(studio) -> None:
    url, browser = studio
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{url}/present?run={VERDICT}&group=5")
    verdict = """() => [...document.querySelectorAll('.taaf-chart .annotation')]
      .find(a => a.textContent.length > 60 && !a.textContent.includes('Fills'))"""
    page.wait_for_function(f"() => !!({verdict})() && !({verdict})().textContent.startsWith('No verdict')",
                           timeout=60_000)
    time.sleep(1.0)
    m = page.evaluate(f"""() => {{
      const v = ({verdict})().getBoundingClientRect();
      const chart = document.querySelector('.taaf-chart').getBoundingClientRect();
      const stats = document.querySelector('.taaf-metrics').getBoundingClientRect();
      const titles = [...document.querySelectorAll('.taaf-chart .annotation')].filter(a => a.textContent.length < 40)
        .map(a => a.getBoundingClientRect());
      return {{top: v.top, bottom: v.bottom, chart: chart.top, stats: stats.bottom,
               subtitle: Math.min(...titles.map(r => r.top))}};
    }}""")
    page.screenshot(path=str(ARTIFACTS / "new-user-presenter-verdict.png"))
    assert m["top"] >= m["chart"] and m["top"] >= m["stats"], m  # not cut under the stats row
    assert m["bottom"] <= m["subtitle"] + 1, m  # nor over the subplot titles
    page.close()
