"""A synthetic run that trains `speed` times faster than the real one: the live page's long-run benches and tests
watch it grow an hour's worth of steps, epochs and probes in minutes, without torch.

It writes what the trainer writes (the same step and epoch scalars, probe arrays every `probe_every` steps, a
heartbeat) at the real run's pace times `speed`: configs/taaf.toml on this machine logs about 14 steps a second,
38 steps an epoch. Run as a process (its pid is the run's writer, so the studio sees it live):

    python -m devtools.fastrun RUN_DIR [--speed 12] [--minutes 10]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from core.store import RunWriter

REAL_STEPS_PER_S = 14.0  # bench_live_memory's real run: 16,800 steps in 20 minutes
STEPS_PER_EPOCH = 38  # the AV-digits preset at batch 32
PROBE_EVERY = 20  # record.every_steps' default
LAYERS = {"a.lif1": 512, "a.lif2": 256, "v.lif1": 256, "v.lif2": 128}  # narrower than the real ones: less disk
T, PROBES, CLASSES = 4, 8, 10


def _step_values(s: int, rng: np.random.Generator) -> dict[str, float]:
    x = 1.0 - np.exp(-s / 3000)
    return {"loss": 2.3 * (1 - x) + 0.1, **{f"loss_{u}": 2.3 * (1 - x) + 0.1 + rng.random() * 0.2 for u in "avf"},
            **{f"acc_{u}": min(1.0, x * 0.95 + rng.random() * 0.05) for u in "avf"},
            **{f"alpha_entropy_{u}": 1.2 + rng.random() * 0.1 for u in "avf"},
            "rho_a": 1.5 + rng.random() * 0.1, "rho_v": 0.66, "k_a": 0.6, "k_v": 1.0, "gnorm_a": 2.0, "gnorm_v": 1.0,
            "lr_a": 1.8e-3, "lr_v": 3e-3, "lr_f": 3e-3, "samples_per_s": 450.0 + rng.random() * 10,
            "elapsed_s": s / REAL_STEPS_PER_S, **{f"rate/{n}": 0.1 + rng.random() * 0.01 for n in LAYERS}}


def _probe(rng: np.random.Generator) -> dict[str, np.ndarray]:
    alpha = rng.random((PROBES, 3, T)).astype(np.float32)
    out: dict[str, np.ndarray] = {"alpha": alpha / alpha.sum(-1, keepdims=True),
                                  "probs": np.full((PROBES, 3, T, CLASSES), 1 / CLASSES, np.float32),
                                  "labels": np.arange(PROBES) % CLASSES}
    for name, width in LAYERS.items():
        out[f"spikes/{name}"] = (rng.random((PROBES, T, width)) < 0.1).astype(np.uint8)
        for kind in ("membrane", "membrane_pre", "current"):
            out[f"{kind}/{name}"] = rng.normal(0.3, 0.3, (PROBES, T, 16)).astype(np.float16)
    return out


def run(run_dir: Path, speed: float, minutes: float, total_steps: int = 1_000_000) -> None:
    """Write steps at REAL_STEPS_PER_S * `speed` for `minutes` (then finish the run)."""
    rng = np.random.default_rng(0)
    cfg = {"strategy": {"name": "taaf"}, "data": {"dataset": "avdigits", "avdigits": {"preset": "hard"}},
           "train": {"seed": 0, "epochs": total_steps // STEPS_PER_EPOCH}, "model": {"T": T, "v_th": 0.5},
           "record": {"probes": PROBES, "every_steps": PROBE_EVERY}}
    w = RunWriter.create(run_dir, cfg)
    meta = {"strategy": "taaf", "preset": "hard", "seed": 0, "T": T, "class_names": [str(i) for i in range(CLASSES)],
            "layers": list(LAYERS), "v_th": 0.5, "pid": os.getpid(), "epochs": total_steps // STEPS_PER_EPOCH,
            "steps_per_epoch": STEPS_PER_EPOCH, "total_steps": total_steps}
    for k, v in meta.items():
        w.set_meta(k, v)
    start, s = time.time(), 0
    while time.time() - start < minutes * 60 and s < total_steps:
        due = int((time.time() - start) * REAL_STEPS_PER_S * speed)
        while s < due:
            s += 1
            e = (s - 1) // STEPS_PER_EPOCH
            w.log_scalars(s, e, _step_values(s, rng), scope="step")
            if s == 1 or s % PROBE_EVERY == 0:
                w.log_arrays(s, e, _probe(rng), kind="probe")
            if s % STEPS_PER_EPOCH == 0:
                f = 1.0 - np.exp(-s / 3000)
                w.log_scalars(s, e, {"val_acc_a": 0.85 * f, "val_acc_v": 0.5 * f, "val_acc_f": 0.95 * f,
                                     "val_loss": 2.0 * (1 - f) + 0.2, "shapley_a": 0.3, "shapley_v": 0.1,
                                     "energy_pj": 1e6, "energy_ann_pj": 5e6, "sops": 1e4, "epoch_time": 2.7,
                                     **{f"val_alpha_entropy_{u}": 1.2 for u in "avf"}}, scope="epoch")
        w.heartbeat()
        time.sleep(0.1)
    w.set_status("finished")
    w.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--speed", type=float, default=12.0, help="times the real run's pace (12: an hour in 5 minutes)")
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    run(args.run_dir, args.speed, args.minutes)


if __name__ == "__main__":
    main()
