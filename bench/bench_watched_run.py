"""One whole run launched as the Start button launches it, watched from start to finish by one live tab.

Prints the run's training time (the trainer's own `elapsed_s` at its last step), the wall time from Start to
"finished" (trainer start-up and the final evaluation included) and the test accuracy from its log.

    .venv/bin/python bench/bench_watched_run.py [--config configs/taaf-t16.toml]

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

from core import launcher  # noqa: E402
from core.store import RunReader  # noqa: E402
from devtools import devserver  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/taaf-t16.toml")
    ap.add_argument("--timeout-s", type=float, default=900.0)
    args = ap.parse_args()
    if shutil.which("chromium") is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        runs = Path(tmp) / "runs"
        proc, url = devserver.start(ROOT / "studio" / "app.py", ["--runs-dir", str(runs)],
                                    open(Path(tmp) / "server.log", "w"))
        try:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=devserver.CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            t0 = time.time()
            run = launcher.start_run(runs, ROOT / args.config, {})
            page.goto(url)
            while time.time() - t0 < args.timeout_s:
                if (run / "store.sqlite").exists() and RunReader(run).status()["status"] in ("finished", "failed"):
                    break
                time.sleep(1.0)
            wall = time.time() - t0
            with RunReader(run) as r:
                status, elapsed = r.status()["status"], float(r.scalars("step")["elapsed_s"].iloc[-1])
            test = [ln for ln in (run / "train.log").read_text().splitlines() if ln.startswith("test accuracy")]
            print(f"{args.config}: {status}; training {elapsed:.1f} s, Start to finished {wall:.1f} s; "
                  f"{test[-1] if test else 'no test line'}")
            browser.close()
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
