"""The tour's screenshots (docs/tour.md): open a running studio's front page, then each page through its
navigation link (a page opened by its own URL runs without the studio's navigation), wait for the page's
content and for its script to finish, and save the top 1400 px at 1280 px wide in 256 colours.

    python docs/tour/take_screenshots.py http://localhost:PORT/ docs/tour [train compare ... present]

The optional names retake only those pages (default: all six).

Needs the playwright Python package (never `playwright install`) and Debian's chromium.
"""

import shutil
import sys
import time

from PIL import Image
from playwright.sync_api import Page, sync_playwright

CHART = ".taaf-chart.js-plotly-plot"  # every studio chart (studio/live/livechart.py), once plotly has drawn it
PAGES = [("Train & watch", "train", 12), ("Compare runs", "compare", 6), ("Inspect a sample", "inspect", 8),
         ("Replay", "replay", 8), ("Neuron lab", "neuron_lab", 4),
         ("Presenter mode", "present", 8)]  # link text, file name, seconds to let live panels draw


def settle(page: Page, quiet_s: float = 2.0, limit_s: float = 60.0) -> None:
    """Wait until no script has run and no skeleton has shown for `quiet_s`."""
    t0 = calm = time.time()
    while time.time() - t0 < limit_s:
        busy = '[data-testid="stStatusWidgetRunningIcon"], [data-testid="stSkeleton"]'
        if page.query_selector(busy):
            calm = time.time()
        elif time.time() - calm > quiet_s:
            return
        page.wait_for_timeout(100)


def main(base: str, out: str, only: list[str]) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(base, wait_until="domcontentloaded")
        for link, name, extra_s in PAGES:
            if only and name not in only:
                continue
            if name == "present":  # the presenter hides the navigation: last, and at a projector's size
                page.set_viewport_size({"width": 1280, "height": 720})
            if name != "train":
                page.get_by_role("link", name=link).first.click()
            page.wait_for_selector(CHART, timeout=60000)
            page.wait_for_timeout(extra_s * 1000)
            settle(page)
            path = f"{out}/tour-{name}.png"
            page.screenshot(path=path)
            Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
            print("wrote", path, len(page.query_selector_all('[data-testid="stException"]')), "exception box(es)")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
