"""Selector redraw while a run trains: many clicks, and how busy the live panels keep the browser.

Starts the studio and a real training run (launched as the studio launches it), opens the live page in
headless Chromium, then clicks the raster's modality radio N times at random moments and times each
click until the other modality's first layer is drawn. Two clocks per click:
- in the page: from the click's input event (`event.timeStamp`, taken when the input reaches the
  browser, before the busy main thread handles it) to the first animation frame that shows the new
  layer: what a user sees;
- around Playwright: from sending the click to Playwright's seeing the new layer (adds its own
  round trips to a busy page).
The click goes to the radio's screen position (`page.mouse.click`), as a user's would, not through
Playwright's actionability checks (scroll, two stable frames, hit test), each of which waits for the
busy main thread once more (`--actionable` clicks that way, as this bench did before 2026-11-23 pm).

The live charts redraw on their own in the browser (studio/live/livechart.js), so a click can land behind a
chart's redraw; `--gap 5 8` spaces the clicks out. In the same run it records the
browser's long tasks (main-thread work over 50 ms) for a stretch without clicks: the share of time the
live panels' redraws keep the main thread busy, which is what a click can land behind.

    .venv/bin/python bench/bench_selector.py [--clicks 15] [--gap 5 8] [--demo]

Needs Debian's chromium and playwright (never `playwright install`).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools import devserver  # noqa: E402

ARGS = devserver.CHROMIUM_ARGS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clicks", type=int, default=15)
    ap.add_argument("--gap", type=float, nargs=2, default=(0.5, 7.0), metavar=("MIN", "MAX"),
                    help="seconds between clicks, drawn uniformly: gaps over 5 s start each click from live panels")
    ap.add_argument("--actionable", action="store_true",
                    help="click through Playwright's locator.click (scroll, stable frames, hit test), as before")
    ap.add_argument("--demo", action="store_true", help="no training run: click on the demo replay (first launch)")
    ap.add_argument("--quiet-s", type=float, default=12.0, help="stretch without clicks for the long-task share")
    args = ap.parse_args()
    if shutil.which("chromium") is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with (tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw,
          devserver.studio_and_run(Path(tmp), None if args.demo else 200, first_step=30) as (_, url, _run)):
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.add_init_script(devserver.IN_PAGE_JS)
        page.goto(url)
        page.locator("text=/^a\\.lif1 /").first.wait_for(timeout=60_000)
        time.sleep(4.0)
        t0 = page.evaluate("performance.now()")
        time.sleep(args.quiet_s)
        t1 = page.evaluate("performance.now()")
        busy = sum(d for s, d in page.evaluate("window.__long") if t0 <= s < t1)
        radio = page.locator('[data-testid="stRadio"]')
        radio.scroll_into_view_if_needed()  # as a user scrolls to the rasters; clicks then go to its position
        seen, wall, layer = [], [], "a"
        rng = random.Random(0)
        for _ in range(args.clicks):
            mod, layer = ("visual", "v") if layer == "a" else ("audio", "a")
            target = radio.get_by_text(mod, exact=True).first
            time.sleep(rng.uniform(*args.gap))
            in_page, outside = devserver.timed_click(page, target, f"{layer}.lif1 ", args.actionable)
            seen.append(in_page)
            wall.append(outside)
        browser.close()
    print(f"live panels (a redraw every studio.settings.PANELS_S): the browser's main thread was busy with long tasks "
          f"{busy / (t1 - t0):.0%} of {args.quiet_s:g} s")
    for name, times in (("click to the frame that shows it (in the page)", seen),
                        ("around Playwright's click and check", wall)):
        times = sorted(times)
        print(f"{name}, {len(times)} clicks, s: " + " ".join(f"{t:.2f}" for t in times))
        print(f"  median {statistics.median(times):.2f} s, over 1 s: {sum(t > 1 for t in times)} of {len(times)}, "
              f"max {times[-1]:.2f} s  [target: a selector redraws in <= 1 s]")


if __name__ == "__main__":
    main()
