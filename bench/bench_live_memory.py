"""Memory of one studio session over a live run: the server's and the page's, sample by sample.

Starts the studio and a run, keeps one page open in headless Chromium for --minutes while the run trains, and
every --every-s records: the server process's resident memory (/proc), the page's JavaScript heap after a
forced garbage collection and its DOM node count (Chrome DevTools Protocol), and the step the page shows.
Prints each sample, then the change over the second half: what grows with every refresh shows as a steady
rise there (the first minutes include the warm-up and the first figures).

Two kinds of run:
- real (default): a real training run launched as the studio launches it (configs/taaf.toml), at its own pace.
- `--speed N`: time-compressed. A synthetic run (devtools/fastrun.py) logs steps, epochs and probes N times
  faster than the real one, and the page is opened with `?cadence=N`, so its charts and run bar poll and
  redraw N times as often: `--minutes 5 --speed 12` lives through an hour of a live page in five minutes.

Pages (`--page`): `train` (Train & watch, the run's live panels) or `present` (presenter mode in autoplay,
which steps to another panel group every 12 s: charts mount and unmount all night). The presenter is sampled
once a cycle of its seven groups (84 s, not compressed), each time on its first group; --every-s is ignored.

    .venv/bin/python bench/bench_live_memory.py [--minutes 20] [--every-s 60]            # real run
    .venv/bin/python bench/bench_live_memory.py --speed 12 --minutes 5 --every-s 15 [--page present]

Needs Debian's chromium and playwright (never `playwright install`).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.store import RunReader  # noqa: E402
from devtools import devserver  # noqa: E402

TARGETS = {"dom": 0.02, "heap": 0.02, "server_mb": 10.0}  # over the second half (docs/performance.md)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@contextmanager
def studio_and_fast_run(tmp: Path, speed: float, minutes: float) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    """(server, url, run): the studio over a runs folder holding one synthetic run growing `speed` times faster
    than a real one (devtools/fastrun.py) for a little longer than `minutes`."""
    runs = tmp / "runs"
    runs.mkdir()
    run = runs / "fast"
    writer = subprocess.Popen([sys.executable, "-m", "devtools.fastrun", str(run), "--speed", str(speed),
                               "--minutes", str(minutes + 2)], cwd=ROOT)
    try:
        while not ((run / "store.sqlite").exists() and RunReader(run).last_step() >= 1):
            if writer.poll() is not None:
                raise RuntimeError(f"devtools.fastrun exited with {writer.returncode}")
            time.sleep(0.2)
        log = open(tmp / "server.log", "w")
        proc, url = devserver.start(ROOT / "studio" / "app.py", ["--runs-dir", str(runs)], log)
        try:
            yield proc, url, run
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        writer.terminate()
        writer.wait(10)


def at_first_group(page: Any) -> None:
    """Wait for the presenter's autoplay to come back to its first group (samples compare the same charts)."""
    first = "Loss & accuracy per modality"  # studio/views/6_present.py GROUPS[0]
    heading = "() => document.querySelector('h2')?.textContent || ''"
    page.wait_for_function(f"() => ({heading})() !== {first!r}", timeout=120_000, polling=200)
    page.wait_for_function(f"() => ({heading})() === {first!r}", timeout=120_000, polling=200)
    page.locator(".taaf-chart.js-plotly-plot").first.wait_for(timeout=30_000)
    page.wait_for_timeout(3000)


def page_path(page: str, run: Path | None, speed: float) -> str:
    query = f"cadence={speed:g}" if speed else ""
    if page == "present":
        name = run.name if run else ""
        return f"/present?run={name}&autoplay=1" + (f"&{query}" if query else "")
    return f"/?{query}" if query else "/"


def second_half(rows: list[tuple[float, float, float, int]]) -> dict[str, float]:
    """Change over the second half of the samples: server MB (absolute), page heap and DOM nodes (relative), from
    the median of its first three samples to the median of its last three (one sample's garbage-collection
    timing moves the heap by a few %)."""
    half = [r for r in rows if r[0] >= rows[-1][0] / 2]
    out = {}
    for i, name in ((1, "server_mb"), (2, "heap"), (3, "dom")):
        values = [r[i] for r in half]
        change = statistics.median(values[-3:]) - statistics.median(values[:3])
        out[name] = change if name == "server_mb" else change / statistics.median(values[:3])
        shown = f"{change:+.1f} MB" if name == "server_mb" else f"{100 * out[name]:+.1f} %"
        ok = abs(out[name]) <= TARGETS[name]
        print(f"second half ({len(half)} samples): {name} median of the first 3 {statistics.median(values[:3]):.1f}, "
              f"of the last 3 {statistics.median(values[-3:]):.1f}: {shown} "
              f"(min {min(values):.1f}, max {max(values):.1f}) {'ok' if ok else 'OVER TARGET'}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--every-s", type=float, default=60.0)
    ap.add_argument("--speed", type=float, default=0.0,
                    help="time-compressed: a synthetic run this many times faster, the page polling as much faster")
    ap.add_argument("--page", choices=("train", "present"), default="train")
    ap.add_argument("--demo", action="store_true",
                    help="no training run: the page replays the demo run (loops), so the data stays the same size")
    args = ap.parse_args()
    if shutil.which("chromium") is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        if args.speed:
            serving = studio_and_fast_run(Path(tmp), args.speed, args.minutes)
        else:
            serving = devserver.studio_and_run(Path(tmp), None if args.demo else 5000)
        with serving as (proc, url, run):
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=devserver.CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url + page_path(args.page, run, args.speed))
            page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=60_000)  # (the studio's charts too)
            cdp = page.context.new_cdp_session(page)
            start = time.time()
            print(" min  server MB  page heap MB  DOM nodes  step shown  step logged  redraws", flush=True)
            while True:
                if args.page == "present":
                    at_first_group(page)
                cdp.send("HeapProfiler.collectGarbage")
                heap = cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20
                nodes = cdp.send("Memory.getDOMCounters")["nodes"]
                shown = page.locator(".taaf-head").first.get_attribute("data-step") or "-"
                draws = page.evaluate("() => [...document.querySelectorAll('.taaf-chart')]"
                                      ".reduce((n, d) => n + Number(d.dataset.draws || 0), 0)")
                logged = -1
                if run:
                    with RunReader(run) as r:
                        logged = r.last_step()
                rows.append(((time.time() - start) / 60, rss_mb(proc.pid), heap, nodes))
                print(f"{rows[-1][0]:4.1f}  {rows[-1][1]:9.1f}  {heap:12.2f}  {nodes:9d}  {shown:>10s}  {logged:11d}"
                      f"  {draws:7d}", flush=True)
                if time.time() - start >= args.minutes * 60:
                    break
                if args.page == "train":
                    time.sleep(args.every_s)
            browser.close()
    second_half(rows)


if __name__ == "__main__":
    main()
