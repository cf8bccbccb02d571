"""Shared fixtures: synthetic run stores shaped like the trainer's, and one real tiny trained run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.store import RunWriter

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["a.lif1", "a.lif2", "v.lif1", "v.lif2"]
NEURONS = {"a.lif1": 64, "a.lif2": 32, "v.lif1": 48, "v.lif2": 16}


def make_run(run_dir: Path, status: str = "finished", steps: int = 40, steps_per_epoch: int = 20, every: int = 10,
             T: int = 4, P: int = 4, C: int = 10, error: str | None = None, seed: int = 0) -> Path:
    """A run store with every key docs/architecture.md lists, as the trainer would write it."""
    rng = np.random.default_rng(seed)
    cfg = {"strategy": {"name": "taaf"}, "data": {"dataset": "avdigits", "avdigits": {"preset": "hard"}},
           "train": {"seed": seed}, "model": {"T": T, "v_th": 1.0}}
    w = RunWriter.create(run_dir, cfg)
    meta = {"strategy": "taaf", "preset": "hard", "seed": seed, "T": T, "class_names": [str(i) for i in range(C)],
            "layers": LAYERS, "v_th": 1.0, "pid": os.getpid(), "epochs": max(1, steps // steps_per_epoch),
            "steps_per_epoch": steps_per_epoch, "total_steps": max(steps, 1)}
    for k, v in meta.items():
        w.set_meta(k, v)
    for s in range(1, steps + 1):  # like the trainer: step n = n steps done
        e = (s - 1) // steps_per_epoch
        vals = {"loss": 2.3 - s / steps, **{f"loss_{u}": 2.3 - s / steps for u in "avf"},
                **{f"acc_{u}": min(1.0, s / steps + rng.random() * 0.1) for u in "avf"},
                "rho_a": 1.5, "rho_v": 1 / 1.5, "k_a": 0.6, "k_v": 1.0, "lr_a": 1.8e-3, "lr_v": 3e-3, "lr_f": 3e-3,
                "gnorm_a": 2.0, "gnorm_v": 1.0, "samples_per_s": 300.0, **{f"rate/{n}": 0.1 for n in LAYERS}}
        w.log_scalars(s, e, vals, scope="step")
        if s == 1 or s % every == 0:
            alpha = rng.random((P, 3, T)).astype(np.float32)
            arrays = {"alpha": alpha / alpha.sum(-1, keepdims=True),
                      "probs": np.full((P, 3, T, C), 1 / C, np.float32), "labels": np.arange(P) % C}
            for n in LAYERS:
                t_l = 8 if n.startswith("a.") else 4
                arrays[f"spikes/{n}"] = (rng.random((P, t_l, NEURONS[n])) < 0.2).astype(np.uint8)
                arrays[f"membrane/{n}"] = rng.normal(0.5, 0.4, (P, t_l, 16)).astype(np.float16)
            w.log_arrays(s, e, arrays, kind="probe")
        if s % steps_per_epoch == 0:
            f = (e + 1) / max(1, steps // steps_per_epoch)
            w.log_scalars(s, e, {"val_acc_a": 0.8 * f, "val_acc_v": 0.4 * f, "val_acc_f": 0.9 * f, "val_loss": 1.0,
                                 "shapley_a": 0.3, "shapley_v": 0.1, "energy_pj": 1e6, "energy_ann_pj": 5e6,
                                 "sops": 1e4, "epoch_time": 3.0}, scope="epoch")
    if status != "running":
        w.set_status(status, error=error)
    w.close()
    (run_dir / "train.log").write_text("step 1\nstep 2\nTraceback (most recent call last):\nBoom: synthetic\n")
    return run_dir


@pytest.fixture()
def runs_dir(tmp_path: Path) -> Path:
    """A runs folder with a finished run and a second seed of it."""
    d = tmp_path / "runs"
    make_run(d / "taaf-hard-s0", seed=0)
    make_run(d / "taaf-hard-s1", seed=1)
    return d


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run from `python -m core.train` (1 short epoch), trained once per test session (~20 s)."""
    run_dir = tmp_path_factory.mktemp("real") / "tiny"
    cmd = [sys.executable, "-m", "core.train", "--config", str(_config()), "--run-dir", str(run_dir),
           "--set", "train.epochs=1", "--set", "record.every_steps=5", "--set", "record.progress=false",
           "--set", "record.shapley=false", "--set", "data.batch_size=128", "--set", "train.threads=1"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"tiny training run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return run_dir


def _config() -> Path:
    p = REPO / "configs" / "taaf.toml"
    if p.is_file():
        return p
    empty = Path(os.environ.get("TMPDIR", "/tmp")) / "taaf-empty-config.toml"
    empty.write_text("")
    return empty
