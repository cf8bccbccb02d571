"""End to end in a real browser: the studio server, Debian's chromium driven by Playwright, a real trainer.

Start a run with one click, watch the attention panel move and a chart update in place, Pause / Resume / Stop,
Continue the stopped run and see it move again, open every page.
Screenshots of each page go to test-artifacts/ and the measured latencies to test-artifacts/timings.json.
Skips (with the reason) only when chromium or playwright is missing.
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from core.store import RunReader
from devtools import devserver
from tests.support import ARTIFACTS, BROWSER_TESTS, DEMO_RUN, launch_chromium

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    runs = tmp_path_factory.mktemp("e2e") / "runs"
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "streamlit.log", "w")
    try:
        proc, url = devserver.start("studio/app.py", ["--runs-dir", str(runs)], log)
    except RuntimeError as e:
        pytest.fail(str(e))
    yield {"url": url, "runs": runs, "up": time.time()}
    proc.terminate()
    proc.wait(10)
    log.close()
    for d in runs.glob("*"):  # never leave a trainer behind
        info = d / "launch.json"
        if info.exists():
            pid = json.loads(info.read_text())["pid"]
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


def _shot(page, name: str, height: int = 4200) -> None:
    """The whole page: Streamlit scrolls inside its own container, so grow the viewport instead of full_page."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    time.sleep(1.5)  # plotly re-lays out on resize
    page.screenshot(path=str(ARTIFACTS / name))
    page.set_viewport_size(size)


def _no_exception(page, where: str) -> None:
    exc = page.locator('[data-testid="stException"]')
    assert exc.count() == 0, f"{where}: {exc.first.inner_text()[:1500]}"


def _progress_step(page) -> int:
    """The step the run bar shows (studio/live/livehead.js keeps it in data-step), -1 before it shows one."""
    step = page.locator(".taaf-head").first.get_attribute("data-step", timeout=2000)
    return int(step) if step else -1


def _loss_chart(page) -> dict:
    """The loss chart's DOM node (as a handle), how often it was drawn, and the newest step it shows."""
    handle = page.locator(".taaf-chart.js-plotly-plot").first.element_handle()
    return {"node": handle, **handle.evaluate("""gd => ({draws: Number(gd.dataset.draws || 0),
        newest: Math.max(...gd._fullData.map(t => t.x && t.x.length ? Number(t.x[t.x.length - 1]) : -1))})""")}


def _alpha_step(page) -> int:
    """The step in the 'α now (step N)' panel title, -1 while it has none."""
    titles = page.locator("text=/α now \\(step \\d+\\)/")
    if titles.count() == 0:
        return -1
    return int(re.search(r"step (\d+)", titles.first.text_content()).group(1))


def _button(page, name: str):
    """A Streamlit button by its label (the name also holds the material icon's ligature text)."""
    return page.get_by_role("button", name=re.compile(f"{name}$"))


def _wait(cond, timeout: float, what: str, page=None, poll: float = 0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(poll)
    if page is not None:
        page.screenshot(path=str(ARTIFACTS / f"timeout-{what.replace(' ', '_')}.png"), full_page=True)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _see(page, locator, timeout_ms: int, what: str) -> None:
    """locator.wait_for, with a screenshot of the whole page (and the server log's tail) when it times out."""
    try:
        locator.wait_for(timeout=timeout_ms)
    except Exception as e:  # playwright's TimeoutError
        page.screenshot(path=str(ARTIFACTS / f"timeout-{what.replace(' ', '_')}.png"), full_page=True)
        raise AssertionError(f"timed out after {timeout_ms / 1000:.0f} s waiting for {what}: {e}") from None


def test_train_watch_control_and_every_page(server: dict) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    timings: dict[str, float | list[float]] = {}
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.add_init_script(devserver.IN_PAGE_JS)  # for the timed selector clicks below
        t0 = time.time()
        page.goto(server["url"])
        page.get_by_role("button", name=re.compile("Start training")).wait_for(timeout=30_000)
        page.locator(".js-plotly-plot, [data-testid='stAlert']").first.wait_for(timeout=30_000)
        timings["first_paint_s"] = time.time() - t0
        _no_exception(page, "first paint")
        page.screenshot(path=str(ARTIFACTS / "0-first-launch.png"))
        if (DEMO_RUN / "store.sqlite").exists():  # first launch: the demo moves
            page.get_by_text("Demo replay").first.wait_for(timeout=10_000)
        t0 = time.time()
        page.reload()
        page.get_by_role("button", name=re.compile("Start training")).wait_for(timeout=30_000)
        page.locator(".js-plotly-plot, [data-testid='stAlert']").first.wait_for(timeout=30_000)
        timings["reload_paint_s"] = time.time() - t0

        # One click with defaults, except a short run.
        epochs = page.get_by_label("epochs")  # AV-Digits (the default dataset)
        epochs.fill("40")  # long enough to still run at Pause / Stop: watched runs train at nearly full speed
        epochs.press("Enter")
        time.sleep(0.5)
        page.get_by_role("button", name=re.compile("Start training")).click()
        page.get_by_text("Started").first.wait_for(timeout=15_000)
        _no_exception(page, "after Start")
        run = _wait(lambda: next(iter(server["runs"].glob("*/launch.json")), None), 10, "run folder").parent
        # The trainer imports torch and loads data before its first step: on a busy machine that takes a while,
        # and until then the page may still show the demo replay.
        _wait(lambda: (run / "store.sqlite").exists() and RunReader(run).last_step() >= 1, 180, "trainer's first step",
              page)
        _see(page, page.locator(".taaf-head").get_by_text(run.name).first, 60_000, "the run bar")

        # Live: the attention panel shows a newer step, and steps appear in the browser within ~1 s.
        first = _wait(lambda: _alpha_step(page) >= 0 and _alpha_step(page) + 1, 180, "first attention step", page) - 1
        # Charts out of view keep their first figure (nobody sees them redraw): look at the attention panel.
        page.locator("text=/α now \\(step \\d+\\)/").first.scroll_into_view_if_needed()
        _wait(lambda: _alpha_step(page) > first, 120, "a newer attention step", page)
        lat = []
        for _ in range(8):
            seen = _progress_step(page)
            s = _wait(lambda seen=seen: (v := _progress_step(page)) > seen and v, 30, "next step", page, poll=0.02)
            t_seen = time.time()
            steps = RunReader(run).scalars("step", since_step=s - 1)
            logged = steps.loc[steps["step"] == s, "time"]
            if len(logged):
                lat.append(t_seen - float(logged.iloc[0]))
        if not lat:
            page.screenshot(path=str(ARTIFACTS / "timeout-latency.png"), full_page=True)
        assert lat, f"the page's step {s} never matched a logged step of {run.name} (last {RunReader(run).last_step()})"
        timings["step_to_visible_s_median"] = sorted(lat)[len(lat) // 2]
        timings["step_to_visible_s_max"] = max(lat)
        _no_exception(page, "live")

        # A live chart is updated in place: the same DOM node, drawn again with more data (not remounted).
        page.locator(".taaf-chart.js-plotly-plot").first.scroll_into_view_if_needed()
        before = _loss_chart(page)
        _wait(lambda: (now := _loss_chart(page))["draws"] >= before["draws"] + 2 and now["newest"] > before["newest"],
              60, "the loss chart drawn twice more", page)
        assert before["node"].evaluate("gd => gd.isConnected")
        assert page.locator(".taaf-chart.js-plotly-plot").first.element_handle().evaluate(
            "(gd, old) => gd === old", before["node"])
        # Let it learn a little before the screenshots (attention and rasters take shape after ~40 steps).
        try:
            _wait(lambda: _progress_step(page) >= 45, 150, "step 45")
        except AssertionError:
            pass  # a slow machine: screenshots of an earlier step are still fine
        time.sleep(2)
        page.screenshot(path=str(ARTIFACTS / "1-live-top.png"))
        _shot(page, "1-live.png")
        _shot(page, "1-live-readme.png", 2100)

        # A selector inside the live panels redraws quickly (while the trainer keeps both cores busy).
        # Timed from the click's input event to the frame that shows it (bench/bench_selector.py clicks more).
        radio = page.locator('[data-testid="stRadio"]')
        radio.scroll_into_view_if_needed()
        redraw, wall = [], []
        for mod, layer in (("visual", "v"), ("audio", "a"), ("visual", "v")):
            in_page, outside = devserver.timed_click(page, radio.get_by_text(mod, exact=True).first, f"{layer}.lif1 ")
            redraw.append(in_page)
            wall.append(outside)
        timings["selector_redraw_s_median"] = sorted(redraw)[1]
        timings["selector_redraw_s"] = redraw
        timings["selector_redraw_wall_s"] = wall

        _button(page, "Pause").click()
        _see(page, _button(page, "Resume"), 60_000, "Resume")
        assert RunReader(run).status()["status"] == "paused"
        _button(page, "Resume").click()
        _see(page, _button(page, "Pause"), 60_000, "Pause")
        _button(page, "Stop").click()
        _wait(lambda: RunReader(run).status()["status"] == "stopped", 60, "stopped", page)
        _see(page, page.locator(".taaf-head[data-status='stopped']"), 30_000, "stopped")
        _no_exception(page, "after Stop")

        # Continue: the page watches the resumed run live again (it used to stay on the stopped one).
        _button(page, "Continue").click()
        _see(page, page.locator(".taaf-head[data-status='running']"), 180_000, "the continued run")
        resumed = _progress_step(page)
        _wait(lambda: _progress_step(page) > resumed, 60, "the continued run's step advancing", page)
        _button(page, "Stop").click()
        _wait(lambda: RunReader(run).status()["status"] == "stopped", 60, "stopped again", page)
        _no_exception(page, "after Continue")

        for i, (title, check) in enumerate([("Compare runs", "Final metrics"), ("Inspect a sample", "true class"),
                                            ("Replay", "recorded steps")], start=2):
            t1 = time.time()
            page.get_by_role("link", name=title).click()
            page.get_by_text(check).first.wait_for(timeout=60_000)
            page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
            time.sleep(1.0)
            timings[f"page_{i}_s"] = time.time() - t1
            _no_exception(page, title)
            _shot(page, f"{i}-{title.split()[0].lower()}.png", 2600)
        # a page opened by its URL (a bookmark) goes through the app's own navigation: its title, wide layout
        # and sidebar, not the bare page (Streamlit runs pages of a folder named pages/ without the entrypoint)
        page.goto(server["url"].rstrip("/") + "/inspect")
        page.get_by_text("true class").first.wait_for(timeout=60_000)
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert "TAAF Studio" in sidebar.inner_text() and "Inspect a sample" in sidebar.inner_text()
        assert page.title() == "TAAF Studio"
        _no_exception(page, "/inspect by URL")
        browser.close()
    (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=2))
    print("\nstudio timings:", json.dumps(timings, indent=2))
