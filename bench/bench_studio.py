"""Studio server cost per live refresh and memory over a long live run (prints ms and MB).

A fake trainer writes steps (and a probe every 10 steps) into a run store while the Train & watch
page is rerun through AppTest, as its live fragment would be (each rerun moves one panel group).
Default: 600 refreshes x 30 steps = 18,000 steps (30 min at 10 steps/s). The browser-side numbers
(first paint, step-to-visible, selector redraw) come from tests/test_browser_e2e.py (test-artifacts/timings.json).

    .venv/bin/python bench/bench_studio.py [--ticks 600] [--steps-per-tick 30]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from core.store import RunWriter  # noqa: E402

LAYERS = {"a.lif1": (8, 512), "a.lif2": (8, 256), "v.lif1": (4, 256), "v.lif2": (4, 128)}


def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def write_steps(w: RunWriter, start: int, n: int, rng: np.random.Generator, per_epoch: int = 200) -> None:
    for s in range(start, start + n):
        e = s // per_epoch
        vals = {k: float(rng.random()) for k in ("loss", "loss_a", "loss_v", "loss_f", "acc_a", "acc_v", "acc_f",
                                                  "rho_a", "rho_v", "k_a", "k_v", "gnorm_a", "gnorm_v")}
        vals.update(lr_a=3e-3, lr_v=3e-3, lr_f=3e-3, samples_per_s=500.0, **{f"rate/{n}": 0.1 for n in LAYERS})
        w.log_scalars(s, e, vals)
        if s % 10 == 0:
            a = rng.random((8, 3, 4)).astype(np.float32)
            arrays = {"alpha": a / a.sum(-1, keepdims=True), "probs": np.full((8, 3, 4, 10), 0.1, np.float32),
                      "labels": np.arange(8)}
            for name, (t, n_) in LAYERS.items():
                arrays[f"spikes/{name}"] = (rng.random((8, t, n_)) < 0.1).astype(np.uint8)
                arrays[f"membrane/{name}"] = rng.random((8, t, 16)).astype(np.float16)
            w.log_arrays(s, e, arrays)
        if (s + 1) % per_epoch == 0:
            w.log_scalars(s, e, {"val_acc_a": 0.5, "val_acc_v": 0.4, "val_acc_f": 0.6, "val_loss": 1.0,
                                 "shapley_a": 0.2, "shapley_v": 0.1, "energy_pj": 1e6, "energy_ann_pj": 5e6},
                          scope="epoch")
    w.heartbeat()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=600)
    ap.add_argument("--steps-per-tick", type=int, default=30)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        w = RunWriter.create(runs / "live", {"strategy": {"name": "taaf"}})
        total = args.ticks * args.steps_per_tick
        for k, v in {"strategy": "taaf", "preset": "hard", "seed": 0, "T": 4, "layers": list(LAYERS), "v_th": 1.0,
                     "class_names": [str(i) for i in range(10)], "total_steps": total, "epochs": total // 200,
                     "steps_per_epoch": 200}.items():
            w.set_meta(k, v)
        os.environ.update(TAAF_RUNS_DIR=str(runs), TAAF_DEMO_RUN="")
        at = AppTest.from_file(str(ROOT / "studio" / "home.py"), default_timeout=120)
        times, mem, step = [], {}, 0
        for tick in range(args.ticks):
            write_steps(w, step, args.steps_per_tick, rng)
            step += args.steps_per_tick
            t0 = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t0)
            assert not at.exception, at.exception[0].value
            if tick in (0, 9, 49) or (tick + 1) % 100 == 0:
                gc.collect()
                mem[tick + 1] = rss_mb()
                print(f"refresh {tick + 1:4d}: step {step:6d}  page rerun {times[-1] * 1e3:6.0f} ms  "
                      f"RSS {mem[tick + 1]:6.0f} MB", flush=True)
        w.close()
    t = np.array(times[1:]) * 1e3
    print(f"\npage rerun (full script = upper bound of a fragment tick): median {np.median(t):.0f} ms, "
          f"p90 {np.percentile(t, 90):.0f} ms, max {t.max():.0f} ms")
    later = [v for k, v in mem.items() if k >= 50]
    print(f"RSS after 50 refreshes {mem.get(50, float('nan')):.0f} MB, at the end {later[-1]:.0f} MB "
          f"(growth {later[-1] - mem.get(50, later[-1]):+.0f} MB over {args.ticks - 50} refreshes, "
          f"{step} steps)")


if __name__ == "__main__":
    main()
