"""Can a sweep train two runs at once without slowing each below one run alone? Step time of a run trained alone
vs two runs trained at the same time, each started as the sweep queue starts them (core.launcher.start_run: its
own detached trainer, the launcher's thread count and niceness), in alternated order (alone, pair, alone, pair...).

Per condition it times --steps training steps after --skip warm-up steps from the store's own step timestamps
(the median gap between consecutive steps: epoch-end validation gaps do not count), then stops the trainers.
Prints one line per run, then per pair of conditions: the per-step time ratio (two at once / alone; above 1 each
run is slower than alone) and the total throughput ratio (steps per second of both runs / of one alone; above 1 two
at once finish a sweep sooner).

    .venv/bin/python bench/bench_sweep_parallel.py [--pairs 2] [--steps 40] [--skip 5] [--config configs/taaf.toml]
                                                   [--set key=value ...]

The machine's load changes these numbers: quote `uptime` beside them, and run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import launcher  # noqa: E402
from core.config import parse_value  # noqa: E402
from core.errors import TAAFError  # noqa: E402
from core.store import RunReader  # noqa: E402


def step_time(run: Path, skip: int, steps: int) -> float:
    """Median seconds between consecutive logged steps skip+1 .. skip+steps."""
    times = RunReader(run).scalars("step", keys=["loss"]).set_index("step")["time"]
    window = times.loc[skip:skip + steps].diff().dropna()
    return float(statistics.median(window))


def steps_done(run: Path) -> int:
    try:
        return RunReader(run).last_step()
    except TAAFError:  # the trainer has not created its store yet
        return -1


def train_at_once(n: int, config: Path, overrides: dict, skip: int, steps: int, timeout_s: float) -> list[float]:
    """Start n runs at once (each in its own runs folder: the launcher allows one active run per folder), wait
    until each has logged skip + steps steps, stop them; each run's median step time."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    runs: list[Path] = []
    try:
        for i in range(n):
            runs.append(launcher.start_run(scratch / f"runs{i}", config, overrides, name=f"r{i}"))
        end = time.time() + timeout_s
        while min(steps_done(r) for r in runs) < skip + steps:
            ended = [r.name for r in runs if launcher.run_state(r)["status"] in ("failed", "finished", "stopped")]
            if ended or time.time() > end:
                raise SystemExit(f"runs {ended or 'timed out'}: see train.log in {scratch}")
            time.sleep(0.5)
        return [step_time(r, skip, steps) for r in runs]
    finally:
        for r in runs:  # every trainer goes before the next condition starts (or the bench exits)
            info = launcher.launch_info(r)
            if info and launcher.pid_alive(info["pid"]):
                os.kill(info["pid"], signal.SIGTERM)
        for r in runs:
            info, waited = launcher.launch_info(r), time.time() + 30
            while info and launcher.pid_alive(info["pid"]):
                if time.time() > waited:
                    os.kill(info["pid"], signal.SIGKILL)
                time.sleep(0.2)
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=2, help="alternated (alone, two at once) pairs")
    ap.add_argument("--steps", type=int, default=40, help="steps timed per run")
    ap.add_argument("--skip", type=int, default=5, help="warm-up steps not timed")
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "taaf.toml")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides")
    ap.add_argument("--timeout-s", type=float, default=900, help="per condition")
    a = ap.parse_args()
    overrides = {"train.epochs": 1000, "record.progress": False}
    overrides.update({k: parse_value(v) for k, _, v in (s.partition("=") for s in a.set)})
    print(f"cores {os.cpu_count()}, launcher threads per run {launcher.launched_threads()}, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    pairs = []
    for i in range(a.pairs):
        alone = train_at_once(1, a.config, overrides, a.skip, a.steps, a.timeout_s)[0]
        print(f"pair {i + 1}: alone {alone:.3f} s/step (load {os.getloadavg()[0]:.2f})", flush=True)
        both = train_at_once(2, a.config, overrides, a.skip, a.steps, a.timeout_s)
        print(f"pair {i + 1}: two at once {both[0]:.3f}, {both[1]:.3f} s/step (load {os.getloadavg()[0]:.2f})",
              flush=True)
        step_ratio = statistics.mean(both) / alone
        throughput = (1 / both[0] + 1 / both[1]) / (1 / alone)
        pairs.append((step_ratio, throughput))
        print(f"pair {i + 1}: step time two at once / alone {step_ratio:.2f}x, throughput {throughput:.2f}x",
              flush=True)
    print(f"median over {len(pairs)} pairs: step time two at once / alone "
          f"{statistics.median(p[0] for p in pairs):.2f}x, total throughput "
          f"{statistics.median(p[1] for p in pairs):.2f}x")


if __name__ == "__main__":
    main()
