"""Run-store speed: per-step scalar logging vs an in-memory dict append, and reader `scalars()`.

    .venv/bin/python bench/bench_store.py [--steps 2000] [--keys 25] [--read-steps 10000]

Target: log_scalars <= 1 ms per step. Prints figures only; nothing asserts on time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.store import RunReader, RunWriter, list_runs, send_command


def _values(step: int, keys: list[str]) -> dict[str, float]:
    return {k: step * 1e-3 + i for i, k in enumerate(keys)}


def _stats(ts: list[float]) -> str:
    a = np.asarray(ts) * 1e3
    return f"mean {a.mean():.4f} ms  p95 {np.percentile(a, 95):.4f} ms  max {a.max():.3f} ms"


def bench_write(root: Path, steps: int, keys: list[str]) -> None:
    hist: dict[str, list[float]] = defaultdict(list)
    ref = []
    for s in range(steps):  # the reference: what a trainer keeping history in memory pays
        vals = _values(s, keys)
        t = time.perf_counter()
        for k, v in vals.items():
            hist[k].append(v)
        ref.append(time.perf_counter() - t)
    w = RunWriter.create(root / "write", {"bench": True})
    log, step_all = [], []
    for s in range(steps):
        vals = _values(s, keys)
        t = time.perf_counter()
        w.log_scalars(s, s // 100, vals)
        t1 = time.perf_counter()
        w.heartbeat()
        w.poll_command()
        log.append(t1 - t)
        step_all.append(time.perf_counter() - t)
    probe = {f"spikes/{m}.lif{i}": (np.random.rand(8, 4, 2048) < 0.1).astype(np.uint8) for m in "av" for i in (1, 2)}
    probe.update(alpha=np.random.rand(8, 3, 4).astype(np.float32), probs=np.random.rand(8, 3, 4, 10).astype(np.float32))
    ta = []
    for s in range(20):
        t = time.perf_counter()
        w.log_arrays(s, 0, probe)
        ta.append(time.perf_counter() - t)
    send_command(root / "write", "pause")
    t = time.perf_counter()
    w.poll_command()
    w.close()
    print(f"write, {steps} steps x {len(keys)} keys")
    print(f"  dict append (reference)       : {_stats(ref)}")
    print(f"  log_scalars                   : {_stats(log)}")
    print(f"  log_scalars+heartbeat+poll    : {_stats(step_all)}")
    print(f"  ratio log_scalars / dict mean : {np.mean(log) / np.mean(ref):.0f}x   "
          f"(target <= 1 ms/step: {'met' if np.mean(log) * 1e3 <= 1 else 'MISSED'})")
    print(f"  log_arrays (4x8x4x2048 u8 spikes + alpha/probs, {sum(a.nbytes for a in probe.values()) // 1024} KiB):"
          f" {_stats(ta)}")


def bench_read(root: Path, steps: int, keys: list[str]) -> None:
    w = RunWriter.create(root / "read", {"bench": True})
    t = time.perf_counter()
    for s in range(steps):
        w.log_scalars(s, s // 100, _values(s, keys))
    fill = time.perf_counter() - t
    w.close()
    r = RunReader(root / "read")
    for name, fn in [("scalars() all steps", lambda: r.scalars()),
                     ("scalars(since_step=last-100)", lambda: r.scalars(since_step=steps - 101)),
                     ("scalars(keys=[3 keys])", lambda: r.scalars(keys=keys[:3])),
                     ("status()+last_step()", lambda: (r.status(), r.last_step())),
                     ("list_runs(2 runs)", lambda: list_runs(root))]:
        ts = []
        for _ in range(5):
            t = time.perf_counter()
            df = fn()
            ts.append(time.perf_counter() - t)
        shape = getattr(df, "shape", "")
        print(f"  {name:30s}: best {min(ts) * 1e3:8.1f} ms  median {np.median(ts) * 1e3:8.1f} ms  {shape}")
    # irregular keys take the general (non-reshape) path
    w = RunWriter.open(root / "read")
    w.log_scalars(steps, steps // 100, {"only_here": 1.0})
    w.close()
    t = time.perf_counter()
    df = r.scalars()
    print(f"  {'scalars() irregular keys':30s}: {(time.perf_counter() - t) * 1e3:8.1f} ms  {df.shape}")
    print(f"  (filling {steps} steps took {fill:.1f} s, {fill / steps * 1e3:.3f} ms/step)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--keys", type=int, default=25)
    ap.add_argument("--read-steps", type=int, default=10_000)
    args = ap.parse_args()
    keys = [f"k{i:02d}" for i in range(args.keys - 4)] + ["rate/a.lif1", "rate/a.lif2", "rate/v.lif1", "rate/v.lif2"]
    with tempfile.TemporaryDirectory() as tmp:
        bench_write(Path(tmp), args.steps, keys)
        print(f"read, {args.read_steps} steps x {len(keys)} keys")
        bench_read(Path(tmp), args.read_steps, keys)


if __name__ == "__main__":
    main()
