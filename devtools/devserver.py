"""Start `streamlit run` on a free local port and wait until it answers (with a training run beside it if asked),
and time clicks in the page: for the browser test and the benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[1]
# Headless Chromium for the browser test and the benches: no sandbox (root in CI), nothing fetched from outside.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(script: Path | str, script_args: list[str], log: IO, timeout_s: float = 60.0) -> tuple[subprocess.Popen, str]:
    """(process, url) of a headless server for `script`, once /_stcore/health answers 200.

    Raises RuntimeError (after killing the process) when it does not within `timeout_s`.
    """
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false", "--",
                             *script_args],
                            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://localhost:{port}"
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"streamlit did not become healthy in {timeout_s:.0f} s (see {getattr(log, 'name', 'its log')})")


@contextmanager
def studio_and_run(tmp: Path, epochs: int | None,
                   first_step: int = 1) -> Iterator[tuple[subprocess.Popen, str, Path | None]]:
    """(server process, url, run) for the benches: the studio over an empty runs folder in `tmp` and, unless
    `epochs` is None (the page then replays the demo run), a real run started as the studio starts it
    (configs/taaf.toml), yielded once it has logged `first_step`. Stops the run and the server on exit."""
    from core import launcher
    from core.store import RunReader

    runs = tmp / "runs"
    proc, url = start(REPO_ROOT / "studio" / "app.py", ["--runs-dir", str(runs)], open(tmp / "server.log", "w"))
    run = None
    try:
        if epochs is not None:
            run = launcher.start_run(runs, REPO_ROOT / "configs" / "taaf.toml", {"train.epochs": epochs})
            while not ((run / "store.sqlite").exists() and RunReader(run).last_step() >= first_step):
                time.sleep(0.5)
        yield proc, url, run
    finally:
        if run:
            launcher.stop(run)
        proc.terminate()
        proc.wait(10)


# Added to a page before it loads (page.add_init_script): the browser's long tasks, the time of the last
# pointerdown as the input reached the page, and a promise for the first frame showing a text.
IN_PAGE_JS = """
window.__long = [];
new PerformanceObserver(l => { for (const e of l.getEntries()) window.__long.push([e.startTime, e.duration]); })
  .observe({type: 'longtask', buffered: true});
window.__down = null;
addEventListener('pointerdown', e => { window.__down = e.timeStamp; }, true);
window.__drawn = prefix => new Promise((done, fail) => {
  const until = performance.now() + 15000;
  const look = () => [...document.querySelectorAll('text')].some(t => t.textContent.startsWith(prefix))
    ? done(performance.now()) : performance.now() > until ? fail(Error('not drawn: ' + prefix))
    : requestAnimationFrame(look);
  requestAnimationFrame(look);
});
"""


def timed_click(page: Any, target: Any, drawn_prefix: str, actionable: bool = False) -> tuple[float, float]:
    """Click `target` (a Playwright locator, scrolled into view) at its position, as a user would, and wait
    for an SVG text starting with `drawn_prefix`. Returns (seconds from the click's input event to the first
    frame showing it, measured in the page; seconds around the Playwright calls). Needs IN_PAGE_JS.

    A position click skips Playwright's actionability checks (scroll, two stable frames, hit test), each of
    which would wait once more for a busy main thread; `event.timeStamp` is taken when the input reaches the
    browser, so the wait for a busy main thread is still counted. `actionable=True` clicks through
    `target.click()` with those checks instead (how the selector bench clicked before 2026-11-23 pm).
    """
    box = None if actionable else target.bounding_box()
    start = time.time()
    if box is None:
        target.click()
    else:
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    drawn = page.evaluate(f"window.__drawn({drawn_prefix!r})")
    wall = time.time() - start
    return (drawn - page.evaluate("window.__down")) / 1000, wall
