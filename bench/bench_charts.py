"""Time the studio's chart builders on run-sized inputs (prints ms; target: raster of 3 x 2,000 x T <= 300 ms).

    .venv/bin/python bench/bench_charts.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.charts import attention, imbalance, rasters  # noqa: E402
from studio.charts import curves as charts  # noqa: E402


def _ms(fn, repeat: int = 5) -> float:
    fn()  # warm-up (plotly validators load lazily)
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat * 1e3


def main() -> None:
    rng = np.random.default_rng(0)
    T = 8
    layers = {f"a.lif{i}": (rng.random((T, 2000)) < 0.1).astype(np.uint8) for i in range(1, 4)}
    n = 20_000  # steps of a long run
    s = np.arange(n)
    steps = pd.DataFrame({"step": s, "epoch": s // 500, **{f"{k}_{u}": rng.random(n) for k in ("loss", "acc", "lr")
                                                         for u in "avf"},
                          "k_a": rng.random(n), "k_v": rng.random(n), "rho_a": rng.random(n) + 0.5,
                          "gnorm_a": rng.random(n), "gnorm_v": rng.random(n),
                          **{f"rate/{name}": rng.random(n) for name in ("a.lif1", "a.lif2", "v.lif1", "v.lif2")}})
    epochs = pd.DataFrame({"step": np.arange(40) * 500, "epoch": np.arange(40),
                           **{f"val_acc_{u}": np.linspace(0.1, 0.9, 40) for u in "avf"},
                           "val_loss": np.linspace(2, 0.3, 40), "shapley_a": 0.3, "shapley_v": 0.2,
                           "energy_pj": 2e6, "energy_ann_pj": 1e7})
    alphas = rng.random((2000, 3, T)).astype(np.float32)
    rows = [
        ("raster 3 layers x 2000 neurons x T=8 (all neurons)", lambda: rasters.raster_figure(layers, None)),
        ("raster 3 layers, thinned to 300 neurons", lambda: rasters.raster_figure(layers, 300)),
        ("raster + to_json (what is sent to the browser)", lambda: rasters.raster_figure(layers, None).to_json()),
        ("loss/acc, 20k steps", lambda: charts.loss_acc_figure(steps, epochs)),
        ("learning-rate curves, 20k steps", lambda: charts.lr_figure(steps)),
        ("imbalance diagnostics", lambda: imbalance.imbalance_figure(steps, epochs)),
        ("firing rates", lambda: charts.firing_rate_figure(steps)),
        ("alpha history, 2000 probe steps", lambda: attention.alpha_history_figure(list(range(2000)), alphas)),
        ("membrane traces", lambda: rasters.membrane_figure(rng.random((T, 16)), layers["a.lif1"], 1.0)),
    ]
    for name, fn in rows:
        print(f"{_ms(fn):8.1f} ms  {name}")


if __name__ == "__main__":
    main()
