"""What watching costs a run: step time with no tab, one tab and three tabs on the live Train page.

Starts the studio once, then, for each condition in alternated order (none, one tab, three tabs, none,
...), launches a fresh run exactly as the Start button does (core.launcher.start_run, configs/taaf.toml),
opens the tabs on the Train page (headless Chromium), waits until every chart of every tab has drawn
once and --settle-s more (the steady state of a watched run), and times --steps training steps from the
store's own timestamps. Per condition it also records:
- run-bar lag: for each step the first tab shows, the time it appeared minus the time the trainer logged it;
- age of the newest point of the loss chart, sampled every second (now minus when that step was logged);
- the browser main thread's busy share: DevTools' TaskDuration over the window, and the long tasks' share;
- CPU seconds of the trainer, the studio server and Chromium over the window.
Prints one line per condition and run, then the medians and the ratios against "no tab" of the same pairs.

The condition `cli` is the reference a watched run is held to: the same config trained from the command line
(`python -m core.train`, no niceness) with torch's default thread count and no studio running (the server is
stopped for it and started again after). With `cli` among the conditions the summary also gives each tab
count's step time / CLI-alone, per pair and as the median.

    .venv/bin/python bench/bench_watch.py [--pairs 2] [--steps 150] [--tabs cli 0 1 3] [--niceness N] [--set key=value]

Needs Debian's chromium and playwright (never `playwright install`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import launcher  # noqa: E402
from core.store import RunReader, pid_alive  # noqa: E402
from devtools import devserver  # noqa: E402

# In each page: the run bar's shown step with the wall time it appeared; long tasks.
PAGE_JS = """
window.__shown = [];
window.__long = [];
new PerformanceObserver(l => { for (const e of l.getEntries()) window.__long.push([e.startTime, e.duration]); })
  .observe({type: 'longtask', buffered: true});
const watchHead = () => {
  const head = document.querySelector('.taaf-head');
  if (!head) return setTimeout(watchHead, 100);
  let last = null;
  new MutationObserver(() => {
    const s = head.dataset.step;
    if (s !== last) { last = s; window.__shown.push([Date.now() / 1000, Number(s)]); }
  }).observe(head, {attributes: true, attributeFilter: ['data-step']});
};
watchHead();
window.__lossStep = () => {
  const gd = document.querySelector('.taaf-chart.js-plotly-plot');
  if (!gd || !gd.data) return null;
  let m = -1;
  for (const t of (gd._fullData || gd.data)) {
    const x = t.x; if (x && x.length) m = Math.max(m, Number(x[x.length - 1]));
  }
  return m;
};
"""


def cpu_s(pids: list[int]) -> float:
    """utime + stime of these processes (seconds), skipping any that ended."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / 100.0


def chromium_pids() -> list[int]:
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if "chromium" in (p / "comm").read_text() or "chrome" in (p / "comm").read_text():
                    pids.append(int(p.name))
            except OSError:
                pass
    return pids


def step_times(run: Path) -> dict[int, float]:
    with RunReader(run) as r:
        df = r.scalars("step")
    return dict(zip(df["step"].astype(int), df["time"].astype(float), strict=True))


def measure(browser, url: str, runs: Path, server_pid: int, tabs: int, steps: int, over: dict,
            settle_s: float) -> dict:
    run = launcher.start_run(runs, ROOT / "configs" / "taaf.toml", over)
    pid = launcher.launch_info(run)["pid"]
    try:
        while not ((run / "store.sqlite").exists() and RunReader(run).last_step() >= 5):
            time.sleep(0.2)
        pages = []
        for _ in range(tabs):
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.add_init_script(PAGE_JS)
            page.goto(url)
            pages.append(page)
        for page in pages:
            page.locator(".taaf-chart.js-plotly-plot").first.wait_for(timeout=60_000)
            page.locator(".taaf-head[data-status='running']").wait_for(timeout=60_000)
        # Steady state: every chart drawn once (a first draw is plotly's newPlot, the costly one), then a moment.
        deadline = time.time() + 30
        for page in pages:
            while time.time() < deadline and not page.evaluate(
                    "[...document.querySelectorAll('.taaf-chart')].every(d => Number(d.dataset.draws || 0) > 0)"):
                time.sleep(0.2)
        time.sleep(settle_s)
        cdp = pages[0].context.new_cdp_session(pages[0]) if pages else None
        if cdp:
            cdp.send("Performance.enable")
            task0 = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}["TaskDuration"]
        with RunReader(run) as r:
            s0 = r.last_step()
        t0, cpu0 = time.time(), (cpu_s([pid]), cpu_s([server_pid]), cpu_s(chromium_pids()))
        ages = []
        while True:
            with RunReader(run) as r:
                now_step = r.last_step()
            if now_step >= s0 + steps:
                break
            if pages:
                shown = pages[0].evaluate("window.__lossStep()")
                if shown is not None and shown >= 0:
                    ages.append((time.time(), int(shown)))
            time.sleep(1.0)
        t1, cpu1 = time.time(), (cpu_s([pid]), cpu_s([server_pid]), cpu_s(chromium_pids()))
        out = {"tabs": tabs}
        if cdp:
            task1 = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}["TaskDuration"]
            out["busy"] = (task1 - task0) / (t1 - t0)
            longs = pages[0].evaluate("window.__long")
            p_t0 = pages[0].evaluate("performance.timeOrigin") / 1000
            out["long"] = sum(d for s, d in longs if t0 <= p_t0 + s / 1000 <= t1) / 1000 / (t1 - t0)
        times = step_times(run)
        window = [s for s in range(s0, s0 + steps + 1) if s in times]
        out["step_ms"] = 1000 * (times[window[-1]] - times[window[0]]) / (len(window) - 1)
        if pages:
            shown = [(t, s) for t, s in pages[0].evaluate("window.__shown") if t0 <= t <= t1 and s in times]
            lags = [t - times[s] for t, s in shown]
            out["lag_med"], out["lag_max"] = statistics.median(lags), max(lags)
            age = [t - times[s] for t, s in ages if s in times] or [float("nan")]
            out["age_max"], out["age_med"] = max(age), statistics.median(age)
        out["cpu"] = tuple((b - a) / (t1 - t0) for a, b in zip(cpu0, cpu1, strict=True))
        for page in pages:
            page.close()
        return out
    finally:
        launcher.stop(run)
        deadline = time.time() + 30
        while pid_alive(pid) and time.time() < deadline:
            time.sleep(0.2)


def measure_cli(runs: Path, steps: int, over: dict, threads: int, index: int) -> dict:
    """The same config trained from the command line with torch's thread count, nothing else running."""
    run = runs / f"cli-{index}"
    sets = [a for k, v in {**over, "record.progress": "false", "train.threads": threads}.items()
            for a in ("--set", f"{k}={v}")]
    with open(runs / f"cli-{index}.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "core.train", "--config", str(ROOT / "configs" / "taaf.toml"),
                                 "--run-dir", str(run), *sets], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        while not ((run / "store.sqlite").exists() and RunReader(run).last_step() >= 5):
            if proc.poll() is not None:
                raise SystemExit(f"the CLI run ended early (see {runs / f'cli-{index}.log'})")
            time.sleep(0.2)
        with RunReader(run) as r:
            s0 = r.last_step()
        t0, cpu0 = time.time(), cpu_s([proc.pid])
        while RunReader(run).last_step() < s0 + steps:
            time.sleep(0.5)
        t1, cpu1 = time.time(), cpu_s([proc.pid])
        times = step_times(run)
        window = [s for s in range(s0, s0 + steps + 1) if s in times]
        return {"tabs": "cli", "step_ms": 1000 * (times[window[-1]] - times[window[0]]) / (len(window) - 1),
                "cpu": ((cpu1 - cpu0) / (t1 - t0), 0.0, 0.0)}
    finally:
        launcher.stop(run)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _fmt(r: dict) -> str:
    s = f"{'CLI alone' if r['tabs'] == 'cli' else 'tabs ' + str(r['tabs'])}  step {r['step_ms']:6.1f} ms"
    if "busy" in r:
        s += (f"  run-bar lag med {r['lag_med']:.2f} max {r['lag_max']:.2f} s  newest point age med "
              f"{r['age_med']:.1f} max {r['age_max']:.1f} s  browser busy {r['busy']:.0%} (long tasks {r['long']:.0%})")
    s += "  cpu (cores) trainer {:.2f} server {:.2f} chromium {:.2f}".format(*r["cpu"])
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=2, help="rounds of the alternated conditions")
    ap.add_argument("--steps", type=int, default=150, help="training steps timed per condition")
    ap.add_argument("--tabs", nargs="+", default=["0", "1", "3"],
                    help="conditions to alternate: tab counts (0 = no tab) and `cli` (the command line alone)")
    ap.add_argument("--settle-s", type=float, default=3.0,
                    help="seconds after every chart of every tab has drawn once before the timing starts")
    ap.add_argument("--niceness", type=int, default=None,
                    help="launch the trainers this much nicer than the studio (default: launcher.TRAINER_NICENESS)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override of the runs")
    args = ap.parse_args()
    args.tabs = [t if t == "cli" else int(t) for t in args.tabs]
    if shutil.which("chromium") is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    if args.niceness is not None:
        launcher.TRAINER_NICENESS = args.niceness
    over = {"train.epochs": 30}
    for kv in args.set:
        k, v = kv.split("=", 1)
        over[k] = float(v) if v.replace(".", "", 1).isdigit() and "." in v else int(v) if v.isdigit() else v
    import torch  # only for its default thread count (the CLI-alone reference's)

    torch_threads = torch.get_num_threads()
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        def studio() -> tuple[subprocess.Popen, str]:
            return devserver.start(ROOT / "studio" / "app.py", ["--runs-dir", str(Path(tmp) / "runs")],
                                   open(Path(tmp) / "server.log", "a"))

        proc, url = studio()
        try:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=devserver.CHROMIUM_ARGS)
            for i in range(args.pairs):
                for tabs in args.tabs:
                    if tabs == "cli":  # no studio running: stopped for the reference, started again after
                        proc.terminate()
                        proc.wait(10)
                        (Path(tmp) / "runs").mkdir(exist_ok=True)
                        results.append(measure_cli(Path(tmp) / "runs", args.steps, over, torch_threads, i))
                        proc, url = studio()
                    else:
                        results.append(measure(browser, url, Path(tmp) / "runs", proc.pid, tabs, args.steps, over,
                                               args.settle_s if tabs else 0.0))
                    results[-1]["pair"] = i
                    print(_fmt(results[-1]), flush=True)
            browser.close()
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (1 min); CLI reference: {torch_threads} threads")
    base = statistics.median(r["step_ms"] for r in results if r["tabs"] == 0) if 0 in args.tabs else None
    print("\nmedians:")
    for tabs in args.tabs:
        rs = [r for r in results if r["tabs"] == tabs]
        med = statistics.median(r["step_ms"] for r in rs)
        line = f"tabs {tabs}: step {med:.1f} ms" + (f" = {med / base:.2f} x no tab" if base else "")
        if tabs and tabs != "cli":
            line += (f"; run-bar lag med {statistics.median(r['lag_med'] for r in rs):.2f} s, max "
                     f"{max(r['lag_max'] for r in rs):.2f} s; newest point age max "
                     f"{max(r['age_max'] for r in rs):.1f} s; "
                     f"browser busy {statistics.median(r['busy'] for r in rs):.0%}")
        print(line)
    if "cli" in args.tabs:
        cli = {r["pair"]: r["step_ms"] for r in results if r["tabs"] == "cli"}
        for tabs in (t for t in args.tabs if t != "cli"):
            per = [r["step_ms"] / cli[r["pair"]] for r in results if r["tabs"] == tabs]
            print(f"launched, tabs {tabs} / CLI alone: median {statistics.median(per):.2f} "
                  f"(pairs {', '.join(f'{x:.2f}' for x in per)})")


if __name__ == "__main__":
    main()
