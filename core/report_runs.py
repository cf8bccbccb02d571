"""The report's runs: what each one is (an entry of the report on a preset, a learning-rate factor and a seed), the
resolved config it trains, the key that finds it again (a hash of that config), and what the tables read from it.

A finished run is reused whenever a job's resolved config hashes the same, wherever it lies under the runs folder
and whatever its folder is called: rerunning the report trains only what is missing, and two entries that resolve
to the same config (e.g. beta = 1 of the beta sweep and taaf itself) share their runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import dotted_settings, load_config
from core.data.presets import PRESET_MODEL, PRESETS
from core.errors import TAAFError
from core.store import RunReader

ROOT = Path(__file__).resolve().parents[1]
# Settings that change how a run is watched, not what it computes: left out of the key.
UNKEYED = (("record", "progress"), ("record", "runs_dir"))
# Set on every report run: one torch thread (runs go side by side), no progress bar, and two linear probes an
# epoch, so the coordination metric resolves half an epoch (19 steps on AV-Digits; about a third more time than
# no probes, docs/method.md).
REPORT_SETTINGS = {"record.progress": False, "train.threads": 1, "record.linear_probes_per_epoch": 2}
# A dataset that needs more than its name (a file, a frame sequence's steps, its epochs) takes its data, model and
# train settings from one config file: every strategy then trains on it as `python -m core.train` on that file does.
DATASET_CONFIGS = {"avdigits-t": "configs/taaf-temporal.toml"}
DATASET_TABLES = ("data", "model", "train")


@dataclass(frozen=True, eq=False)  # compared by identity: the rows of the tables
class Entry:
    """One row of the report: a config file, plus settings that make it an ablation or a longer budget."""

    label: str
    config: str
    overrides: dict[str, Any] = field(default_factory=dict)
    presets: tuple[str, ...] | None = None  # None = every report preset
    factors: tuple[float, ...] | None = None  # None = the report's learning-rate grid (extended at its edges)
    epochs_scale: int = 1  # a longer budget: this many times the config's (or --epochs) epochs


@dataclass(frozen=True)
class Job:
    entry: Entry
    preset: str
    factor: float
    seed: int
    epochs: int | None = None

    @property
    def slug(self) -> str:
        label = self.entry.label.replace(" ", "_").replace("=", "-")
        return f"{label}-{self.preset}-lr{self.factor:.3g}-s{self.seed}"


def preset_overrides(preset: str) -> dict[str, Any]:
    """The settings a report preset stands for: an AV-Digits imbalance preset (with its model settings), or any
    other name read as a dataset (data.dataset = name), so a new dataset joins the report by its name alone."""
    if preset in PRESETS:
        return {"data.avdigits.preset": preset, **{f"model.{k}": v for k, v in PRESET_MODEL.get(preset, {}).items()}}
    if preset in DATASET_CONFIGS:
        with open(ROOT / DATASET_CONFIGS[preset], "rb") as f:
            raw = tomllib.load(f)
        return dotted_settings({k: v for k, v in raw.items() if k in DATASET_TABLES})
    return {"data.dataset": preset}


def job_config(job: Job) -> dict[str, Any]:
    """The entry's config on the job's preset, learning rate and seed, with REPORT_SETTINGS."""
    on_preset = preset_overrides(job.preset)
    base = load_config(ROOT / job.entry.config, on_preset)  # the preset's epochs are what a longer budget scales
    overrides = {**on_preset, **REPORT_SETTINGS, "train.seed": job.seed,
                 "optim.lr": base["optim"]["lr"] * job.factor, **job.entry.overrides}
    if job.epochs or job.entry.epochs_scale != 1:
        overrides["train.epochs"] = (job.epochs or base["train"]["epochs"]) * job.entry.epochs_scale
    cfg = load_config(ROOT / job.entry.config, overrides)
    if cfg["data"]["dataset"] == "avdigits":
        cfg["data"]["avdigits"]["degrade"] = {}  # the preset's own knobs, not the config file's table
    return cfg


def config_key(cfg: dict[str, Any]) -> str:
    """sha256 (16 hex digits) of the resolved config as JSON with sorted keys, without UNKEYED settings."""
    c = copy.deepcopy(json.loads(json.dumps(cfg)))  # what config.json holds: tuples become lists
    for table, key in UNKEYED:
        c.get(table, {}).pop(key, None)
    return hashlib.sha256(json.dumps(c, sort_keys=True).encode()).hexdigest()[:16]


def finished_index(runs_dir: Path) -> dict[str, Path]:
    """config key -> a finished run anywhere under `runs_dir` (an unreadable or unfinished store is skipped)."""
    index: dict[str, Path] = {}
    for db in sorted(runs_dir.glob("**/store.sqlite")) if runs_dir.is_dir() else []:
        run = db.parent
        try:
            reader = RunReader(run)
            if reader.status()["status"] == "finished":
                index.setdefault(config_key(reader.config()), run)
        except (TAAFError, OSError, ValueError):
            continue
    return index


def summarise(run_dir: Path) -> dict[str, Any]:
    """What the tables read from a finished run."""
    r = RunReader(run_dir)
    meta, epochs, steps = r.meta(), r.scalars("epoch"), r.scalars("step")
    test = meta.get("test", {})
    last = epochs.iloc[-1] if len(epochs) else {}
    heads = {u: [float(v) for v in epochs.get(f"val_acc_{u}", [])] for u in "afv"}
    probed = steps.dropna(subset=["probe_acc_a"]) if "probe_acc_a" in steps else steps.iloc[0:0]

    def last_value(key: str) -> float:
        return float(last.get(key, math.nan)) if len(epochs) else math.nan

    return {
        "test_f": test.get("acc_f", math.nan), "head_a": test.get("acc_a", math.nan),
        "head_v": test.get("acc_v", math.nan),
        "probe_a": test.get("probe_acc_a", math.nan), "probe_v": test.get("probe_acc_v", math.nan),
        "val_f": max((v for v in heads["f"] if v == v), default=math.nan),
        "curve": {u: [float(v) for v in probed.get(f"probe_acc_{u}", [])] for u in "av"},
        "curve_steps": [int(s) for s in probed.get("step", [])],
        "energy_uj": last_value("energy_pj") / 1e6, "ann_uj": last_value("energy_ann_pj") / 1e6,
        "ann_int8_uj": last_value("energy_ann_int8_pj") / 1e6,
        "wall_s": float(steps["elapsed_s"].iloc[-1]) if "elapsed_s" in steps and len(steps) else math.nan,
        "probe_s": float(steps["linear_probe_s"].sum()) if "linear_probe_s" in steps else math.nan,
        "lr": float(r.config()["optim"]["lr"]),
        "run_dir": str(run_dir),
    }
