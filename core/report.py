"""Train every strategy on every preset under one protocol, and write the results table.

    python -m core.report [--quick] [--jobs 2] [--out docs/results.md] [--presets ...] [--strategies ...]

The protocol (docs/method.md, "Report protocol"): each strategy runs from its own config, with its
reference optimizer where it has one (OGM-GE: SGD); every strategy gets the same budget of learning rates
(its config's lr x LR_FACTORS), and the one with the best mean VALIDATION fused accuracy over the seeds
is reported; test is read once per run and chooses nothing. Mean ± std over seeds (HEADLINE_SEEDS on the
headline preset), a paired t-test over seeds for every comparison in PAIRS.

Runs land in <runs-dir>/<budget>/<strategy>-<preset>-lr<factor>-s<seed>; a finished one is reused, so an
interrupted report continues where it stopped. The table goes to <runs-dir>/results.md unless --out names
another file: docs/results.md is only written when asked for.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from core.config import load_config
from core.data.presets import PRESET_MODEL, PRESETS
from core.errors import TAAFError
from core.report_tables import write_markdown
from core.store import RunReader

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, eq=False)  # compared by identity: the rows of the tables below
class Entry:
    """One row of the report: a config file, plus settings that make it an ablation."""

    label: str
    config: str
    overrides: dict[str, Any] = field(default_factory=dict)
    presets: tuple[str, ...] | None = None  # None = every report preset


# The strategies compared on every preset. Adding one is one line.
STRATEGY_TABLE = [
    Entry("taaf", "configs/taaf.toml"),
    Entry("taaf-no-balance", "configs/taaf-no-balance.toml"),
    Entry("taaf-uniform", "configs/taaf-uniform.toml"),  # the three losses with uniform alpha (issue 12)
    Entry("concat", "configs/concat.toml"),
    Entry("ogm-ge", "configs/ogm-ge.toml"),  # its reference recipe: SGD lr 1e-3, momentum 0.9, wd 1e-4
    Entry("ogm-ge-adam", "configs/ogm-ge-adam.toml"),
    Entry("unimodal-audio", "configs/unimodal-audio.toml"),
    Entry("unimodal-visual", "configs/unimodal-visual.toml"),
]
# The aligner ablation, where there is something to align. "taaf" on that preset is align = learned.
# align = none needs audio_steps = T, so its audio is sliced into T steps directly.
ALIGN_TABLE = [
    Entry("taaf align=fixed", "configs/taaf.toml", {"model.align": "fixed"}, ("misaligned",)),
    Entry("taaf align=none", "configs/taaf.toml", {"model.align": "none", "model.audio_steps": 4,
                                                   "model.visual_steps": 4, "model.T": 4}, ("misaligned",)),
]
# Paired comparisons (A, B): A - B of fused test accuracy per seed, with a paired t-test.
PAIRS = [
    *[("taaf", e.label) for e in STRATEGY_TABLE if e.label != "taaf"],
    ("taaf-uniform", "concat"),
    ("taaf-no-balance", "taaf-uniform"),
    ("ogm-ge", "ogm-ge-adam"),
    ("ogm-ge", "concat"),
    ("taaf", "taaf align=fixed"),
    ("taaf", "taaf align=none"),
    ("taaf align=fixed", "taaf align=none"),
]
REPORT_PRESETS = [p for p in PRESETS if p != "custom"]
HEADLINE = "audio-dominant"
HEADLINE_SEEDS, SEEDS = 5, 3
LR_FACTORS = (1 / 3, 1.0, 3.0)
QUICK = {"epochs": 1, "seeds": 2, "lr_factors": (1.0, 3.0)}
SECONDS_PER_RUN = 34  # one run with 1 torch thread, two side by side on 2 cores: 426 runs took 7,192 s (2026-12-02)


@dataclass(frozen=True)
class Job:
    entry: Entry
    preset: str
    factor: float
    seed: int
    run_dir: Path
    epochs: int | None


def entries(names: list[str] | None) -> list[Entry]:
    table = STRATEGY_TABLE + ALIGN_TABLE
    return table if not names else [e for e in table if e.label in names or e.label.split()[0] in names]


def plan(table: list[Entry], presets: list[str], seeds: int | None, factors: tuple[float, ...],
         runs_dir: Path, epochs: int | None) -> list[Job]:
    jobs = []
    for preset in presets:
        n = seeds or (HEADLINE_SEEDS if preset == HEADLINE else SEEDS)
        for e in table:
            if e.presets is not None and preset not in e.presets:
                continue
            for f in factors:
                for s in range(n):
                    name = f"{e.label.replace(' ', '_').replace('=', '-')}-{preset}-lr{f:.3g}-s{s}"
                    jobs.append(Job(e, preset, f, s, runs_dir / name, epochs))
    return jobs


def job_config(job: Job) -> dict[str, Any]:
    """The entry's config on the job's preset, learning rate and seed (one torch thread: runs go side by side)."""
    base = load_config(ROOT / job.entry.config)
    overrides = {"data.avdigits.preset": job.preset, "train.seed": job.seed, "record.progress": False,
                 "train.threads": 1, "optim.lr": base["optim"]["lr"] * job.factor,
                 **{f"model.{k}": v for k, v in PRESET_MODEL.get(job.preset, {}).items()},
                 **job.entry.overrides}
    if job.epochs:
        overrides["train.epochs"] = job.epochs
    cfg = load_config(ROOT / job.entry.config, overrides)
    cfg["data"]["avdigits"]["degrade"] = {}  # the preset's own knobs, not the config file's table
    return cfg


def finished(run_dir: Path) -> bool:
    return (run_dir / "store.sqlite").exists() and RunReader(run_dir).status()["status"] == "finished"


def run_job(job: Job) -> dict[str, Any]:
    """Train one run (or reuse it when finished) and summarise it. Runs in a worker process."""
    if not finished(job.run_dir):
        from core.training_loop import train

        shutil.rmtree(job.run_dir, ignore_errors=True)  # an unfinished report run is simply redone
        train(job_config(job), job.run_dir)
    return summarise(job.run_dir)


def summarise(run_dir: Path) -> dict[str, Any]:
    r = RunReader(run_dir)
    meta, epochs = r.meta(), r.scalars("epoch")
    steps = r.scalars("step")
    test = meta.get("test", {})
    last = epochs.iloc[-1] if len(epochs) else {}
    curve = {u: [float(v) for v in epochs.get(f"val_acc_{u}", [])] for u in "afv"}
    return {
        "test_f": test.get("acc_f", math.nan), "test_a": test.get("acc_a", math.nan),
        "test_v": test.get("acc_v", math.nan),
        "val_f": max((v for v in curve["f"] if v == v), default=math.nan),
        "curve": curve, "epoch_steps": [int(s) for s in epochs.get("step", [])],
        "energy_uj": float(last.get("energy_pj", math.nan)) / 1e6 if len(epochs) else math.nan,
        "ann_uj": float(last.get("energy_ann_pj", math.nan)) / 1e6 if len(epochs) else math.nan,
        "wall_s": float(steps["elapsed_s"].iloc[-1]) if "elapsed_s" in steps else math.nan,
        "lr": float(r.config()["optim"]["lr"]),
    }


def run_all(jobs: list[Job], workers: int, train_missing: bool) -> tuple[dict[Job, dict], list[Job]]:
    done: dict[Job, dict] = {}
    todo = []
    for job in jobs:
        if finished(job.run_dir):
            done[job] = summarise(job.run_dir)
        else:
            todo.append(job)
    if not train_missing:
        return done, todo
    if workers <= 1:
        results = map(run_job, todo)
    else:  # spawned workers: each trains with one torch thread
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
        results = pool.map(run_job, todo)
    start = time.time()
    for i, (job, r) in enumerate(zip(todo, results, strict=True)):
        done[job] = r
        print(f"[{i + 1}/{len(todo)} {time.time() - start:.0f} s] {job.preset:15s} {job.entry.label:18s} "
              f"lr x{job.factor:.3g} seed {job.seed}: val {r['val_f']:.3f} test {r['test_f']:.3f}", flush=True)
    if workers > 1:
        pool.shutdown()
    return done, []


def describe_budget() -> str:
    n_default = len(plan(STRATEGY_TABLE + ALIGN_TABLE, REPORT_PRESETS, None, LR_FACTORS, Path("."), None))
    hours = n_default * SECONDS_PER_RUN / 2 / 3600
    return (f"The default report makes {n_default} training runs ({len(STRATEGY_TABLE)} strategies x "
            f"{len(REPORT_PRESETS)} presets x {len(LR_FACTORS)} learning rates x {HEADLINE_SEEDS} seeds on "
            f"{HEADLINE}, {SEEDS} elsewhere, plus the aligner ablation): about {hours:.1f} h on 2 cores with "
            f"--jobs 2 (~{SECONDS_PER_RUN} s a run). --quick: {QUICK['epochs']} epoch, {QUICK['seeds']} seeds, "
            f"{len(QUICK['lr_factors'])} learning rates (a smoke test, not results).")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m core.report", description=__doc__.split("\n")[0],
                                 epilog=describe_budget())
    ap.add_argument("--quick", action="store_true", help="CI-sized: 1 epoch, 2 seeds, 2 learning rates")
    ap.add_argument("--epochs", type=int, default=0, help="epochs per run (default: each config's)")
    ap.add_argument("--seeds", type=int, default=0, help=f"seeds per cell (default {HEADLINE_SEEDS} on "
                                                         f"{HEADLINE}, {SEEDS} elsewhere)")
    ap.add_argument("--lr-factors", type=float, nargs="+", help=f"learning-rate budget (default {LR_FACTORS})")
    ap.add_argument("--presets", nargs="+", default=REPORT_PRESETS, choices=REPORT_PRESETS)
    ap.add_argument("--strategies", nargs="+", help="labels from the strategy table (default: all)",
                    choices=[e.label.split()[0] for e in STRATEGY_TABLE])
    ap.add_argument("--jobs", type=int, default=1, help="training processes side by side (1 torch thread each)")
    ap.add_argument("--runs-dir", default="runs/report")
    ap.add_argument("--out", help="markdown file to write (default <runs-dir>/results.md)")
    ap.add_argument("--finished-only", action="store_true",
                    help="train nothing: tabulate the runs already finished (missing cells are listed)")
    args = ap.parse_args(argv)
    epochs = args.epochs or (QUICK["epochs"] if args.quick else None)
    seeds = args.seeds or (QUICK["seeds"] if args.quick else None)
    factors = tuple(args.lr_factors or (QUICK["lr_factors"] if args.quick else LR_FACTORS))
    runs_dir = Path(args.runs_dir) / (f"e{epochs}" if epochs else "full")
    out = Path(args.out) if args.out else Path(args.runs_dir) / "results.md"
    table = entries(args.strategies)
    missing_configs = [e for e in table if not (ROOT / e.config).is_file()]
    for e in missing_configs:
        print(f"skipped {e.label}: {e.config} not found", file=sys.stderr)
    table = [e for e in table if e not in missing_configs]
    jobs = plan(table, args.presets, seeds, factors, runs_dir, epochs)
    try:
        results, missing = run_all(jobs, args.jobs, train_missing=not args.finished_only)
    except TAAFError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    setting = f"{epochs} epoch{'s' if epochs > 1 else ''}" if epochs else "each config's epochs"
    setting += " (--quick)" if args.quick else ""
    command = " ".join(["python -m core.report", *(argv if argv is not None else sys.argv[1:])])
    write_markdown(results, missing, missing_configs, table, PAIRS, factors, setting, command, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
