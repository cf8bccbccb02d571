"""First paint of the studio in a fresh headless Chromium, milestone by milestone (ms from navigation start).

Starts `streamlit run studio/app.py` on a free port with an empty runs folder (so the Train & watch
page replays the shipped demo run, as on a first launch), waits for /_stcore/health, then opens the
page N times, each in a newly launched browser (cold HTTP cache). The first visit is the first
session of a cold server (its script run also imports the studio's modules); later visits hit a
warm server. The server is then restarted for more first visits (--cold-starts). Prints each
visit and the medians, with a reference: the same browser painting a bare Streamlit page with one
plotly chart, served the same way (the floor set by Streamlit's and plotly's JavaScript here).

    .venv/bin/python bench/bench_first_paint.py [--visits 4] [--cold-starts 3] [--runs-dir DIR]

Needs Debian's chromium and playwright (never `playwright install`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools import devserver  # noqa: E402

ARGS = devserver.CHROMIUM_ARGS
# Milestones, recorded by a MutationObserver installed before the page's own scripts run.
MILESTONES = {
    "title": "h1",
    "metrics": ".taaf-head .taaf-value",
    "start_button": '[data-testid="stSidebar"] [data-testid="stBaseButton-primary"]',
    "first_chart": ".js-plotly-plot .main-svg",
}
INIT = """
window.__t = {};
const sels = %s;
const obs = new MutationObserver(() => {
  for (const [k, s] of Object.entries(sels))
    if (!(k in window.__t) && document.querySelector(s)) window.__t[k] = performance.now();
});
document.addEventListener('DOMContentLoaded', () =>
  obs.observe(document.documentElement, {childList: true, subtree: true}));
"""
BARE_APP = """
import numpy as np
import plotly.graph_objects as go
import streamlit as st
st.title("bare")
st.metric("x", 1)
st.plotly_chart(go.Figure(go.Scatter(x=np.arange(500), y=np.sin(np.arange(500) / 20))))
"""


def start_server(script: Path, extra: list[str], log: Path) -> tuple[subprocess.Popen, str]:
    try:
        return devserver.start(script, extra, open(log, "w"))
    except RuntimeError as e:
        raise SystemExit(str(e)) from None


def visit(pw, url: str, settle_s: float) -> dict[str, float]:
    """One visit in a newly launched browser: milestone -> ms from navigation start (and FCP)."""
    browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
    try:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.add_init_script(INIT % json.dumps(MILESTONES))
        page.goto(url)
        page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=60_000)
        time.sleep(settle_s)
        t = page.evaluate("window.__t")
        fcp = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime")
        return {"fcp": fcp, **t}
    finally:
        browser.close()


def summary(rows: list[dict[str, float]], keys: list[str]) -> str:
    return "  ".join(f"{k} {statistics.median(r[k] for r in rows if k in r) / 1e3:.2f} s"
                     for k in keys if any(k in r for r in rows))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--visits", type=int, default=4)
    ap.add_argument("--cold-starts", type=int, default=3, help="servers started; each one's first visit is cold")
    ap.add_argument("--runs-dir", default="", help="default: an empty folder, so the demo run replays")
    args = ap.parse_args()
    if shutil.which("chromium") is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    keys = ["fcp", *MILESTONES]
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        runs = args.runs_dir or str(Path(tmp) / "runs")
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP)
        results = {}
        for name, script, extra in (("studio", ROOT / "studio" / "app.py", ["--runs-dir", runs]),
                                    ("bare page (reference)", bare, [])):
            rows = []
            for cold in range(args.cold_starts):  # each: a new server, then its first and later visits
                proc, url = start_server(script, extra, Path(tmp) / "server.log")
                try:
                    for i in range(args.visits if cold == 0 else 1):
                        rows.append(dict(visit(pw, url, settle_s=2.0), cold=i == 0))
                        label = "cold server" if i == 0 else "warm server"
                        print(f"{name:22s} visit {i} ({label}): "
                              + "  ".join(f"{k} {rows[-1][k] / 1e3:.2f}" for k in keys if k in rows[-1]), flush=True)
                finally:
                    proc.terminate()
                    proc.wait(10)
            results[name] = rows
        print()
        for name, rows in results.items():
            for cold, label in ((True, "first visit to a cold server"), (False, "later visits (warm server)")):
                part = [r for r in rows if r["cold"] == cold]
                print(f"{name}: {label}, median of {len(part)}: {summary(part, keys)}")
        for cold, label in ((True, "cold"), (False, "warm")):
            s, b = ([r["first_chart"] for r in results[n] if r["cold"] == cold] for n in results)
            print(f"first chart, studio / bare page ({label} server medians): "
                  f"{statistics.median(s) / statistics.median(b):.2f}x")


if __name__ == "__main__":
    main()
