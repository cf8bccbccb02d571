"""Memory of one studio session over a real live run: the server's and the page's, sample by sample.

Starts the studio and a real training run (launched as the studio launches it), keeps the Train &
watch page open in headless Chromium for --minutes while the run trains, and every --every-s records:
the server process's resident memory (/proc), the page's JavaScript heap after a forced garbage
collection and its DOM node count (Chrome DevTools Protocol), and the step the page shows. Prints
each sample, then the change over the second half: a cache that grows with every refresh shows as a
steady rise there (the first minutes include the warm-up and the first figures). The run's own
data grows as it trains, so a slow rise in proportion to its steps is expected; compare with
bench/bench_studio.py, which replays 18,000 steps through AppTest without a browser.

    .venv/bin/python bench/bench_live_memory.py [--minutes 30] [--every-s 60] [--demo]

Needs Debian's chromium and playwright (never `playwright install`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.store import RunReader  # noqa: E402
from devtools import devserver  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--every-s", type=float, default=60.0)
    ap.add_argument("--demo", action="store_true",
                    help="no training run: the page replays the demo run (loops), so the data stays the same size")
    args = ap.parse_args()
    if shutil.which("chromium") is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    rows = []
    with (tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw,
          devserver.studio_and_run(Path(tmp), None if args.demo else 5000) as (proc, url, run)):
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=devserver.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(url)
        page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=60_000)  # (the studio's charts too)
        cdp = page.context.new_cdp_session(page)
        start = time.time()
        print(" min  server MB  page heap MB  DOM nodes  step shown  step logged", flush=True)
        while True:
            cdp.send("HeapProfiler.collectGarbage")
            heap = cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20
            nodes = cdp.send("Memory.getDOMCounters")["nodes"]
            shown = page.locator(".taaf-head").first.get_attribute("data-step") or "-"
            logged = -1
            if run:
                with RunReader(run) as r:
                    logged = r.last_step()
            rows.append(((time.time() - start) / 60, rss_mb(proc.pid), heap, nodes))
            print(f"{rows[-1][0]:4.1f}  {rows[-1][1]:9.0f}  {heap:12.1f}  {nodes:9d}  {shown:>10s}  {logged:11d}",
                  flush=True)
            if time.time() - start >= args.minutes * 60:
                break
            time.sleep(args.every_s)
        browser.close()
    half = [r for r in rows if r[0] >= rows[-1][0] / 2]
    for i, name in ((1, "server MB"), (2, "page heap MB"), (3, "DOM nodes")):
        values = [r[i] for r in half]
        print(f"second half ({len(half)} samples): {name} from {values[0]:.1f} to {values[-1]:.1f} "
              f"(min {min(values):.1f}, max {max(values):.1f})")


if __name__ == "__main__":
    main()
