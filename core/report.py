"""Train every strategy on every preset under one protocol, and write the results table.

    python -m core.report [--dry-run] [--quick] [--jobs 2] [--out FILE] [--presets ...] [--strategies ...]

The protocol (docs/method.md, "Report protocol"): every strategy the same epochs and the same learning-rate grid
(its config's lr x LR_FACTORS, extended by one more factor of LR_STEP on a side whose edge was chosen, up to
MAX_EXTENSIONS per side); the factor with the best mean VALIDATION fused accuracy over the seeds is reported; test
is read once per run and chooses nothing. A pre-registered primary family (PRIMARY_PAIRS on HEADLINE_PRESETS,
PRIMARY_SEEDS paired seeds) gets CIs, TOST verdicts and Holm's correction; every other comparison is exploratory.

A run is found again by the hash of its resolved config (core/report_runs.py): rerunning the report trains only
what is missing. New runs land in <runs-dir>/<entry>-<preset>-lr<factor>-s<seed>-<key>. The table goes to
<runs-dir>/results.md unless --out names another file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from core.data.presets import PRESETS
from core.errors import TAAFError
from core.report_claims import Design
from core.report_runs import DATASET_CONFIGS, ROOT, Entry, Job, config_key, finished_index, job_config, summarise
from core.report_tables import choose_lr, write_markdown
from core.store import RunReader

# The strategies compared on every preset. Adding one is one line.
STRATEGY_TABLE = [
    Entry("taaf", "configs/taaf.toml"),
    Entry("taaf-no-balance", "configs/taaf-no-balance.toml"),
    Entry("taaf-uniform", "configs/taaf-uniform.toml"),  # the three losses with uniform alpha (issue 12)
    Entry("concat", "configs/concat.toml"),
    Entry("concat-aux", "configs/concat-aux.toml"),  # concat + the per-modality losses (issue 22)
    Entry("late-fusion", "configs/late-fusion.toml"),  # two unimodal networks, log-probabilities summed
    Entry("concat-balance", "configs/concat-balance.toml"),  # TAAF's balance on concat, no per-modality losses
    Entry("ogm-ge", "configs/ogm-ge.toml"),  # its reference recipe: SGD lr 1e-3, momentum 0.9, wd 1e-4
    Entry("ogm-ge-adam", "configs/ogm-ge-adam.toml"),
    Entry("unimodal-audio", "configs/unimodal-audio.toml"),
    Entry("unimodal-visual", "configs/unimodal-visual.toml"),
]
# The headline presets of the primary family: AV-Digits presets, or dataset names (core/report_runs.py,
# preset_overrides: a dataset's own settings come from DATASET_CONFIGS).
HEADLINE_PRESETS = [
    "audio-dominant",
    "avdigits-t",  # the benchmark where attention, balance and alignment have work to do (sample_data/README.md)
]
BETAS = (0.0, 0.3, 1.0, 3.0)
LONG_EPOCHS = 3  # OGM-GE's longer budget: 3x the epochs (its reference trains 100)
EXTRA_TABLE = [
    # The balance's strength at one matched learning rate (taaf's config lr; beta = 1 is taaf's own run).
    *[Entry(f"taaf beta={b:g}", "configs/taaf.toml", {"strategy.beta": b}, tuple(HEADLINE_PRESETS), (1.0,))
      for b in BETAS],
    Entry(f"ogm-ge x{LONG_EPOCHS} epochs", "configs/ogm-ge.toml", presets=tuple(HEADLINE_PRESETS),
          epochs_scale=LONG_EPOCHS),
]
# The aligner ablation, where there is something to align. "taaf" on that preset is align = learned.
ALIGN_TABLE = [
    Entry("taaf align=fixed", "configs/taaf.toml", {"model.align": "fixed"}, ("misaligned", "avdigits-t")),
    Entry("taaf align=none", "configs/taaf.toml", {"model.align": "none", "model.audio_steps": 4,
                                                   "model.visual_steps": 4, "model.T": 4}, ("misaligned",)),
    # AV-Digits-T already has audio_steps = visual_steps = T = 8; cross: the per-sample aligner (core/align.py)
    Entry("taaf align=none", "configs/taaf.toml", {"model.align": "none"}, ("avdigits-t",)),
    Entry("taaf align=cross", "configs/taaf.toml", {"model.align": "cross"}, ("avdigits-t",)),
]
# Pre-registered (issue 22): what TAAF's gain is made of. Holm runs over these on HEADLINE_PRESETS only.
PRIMARY_PAIRS = [("taaf", b) for b in ("concat", "concat-aux", "late-fusion", "taaf-uniform", "taaf-no-balance")]
# Every other comparison: reported with its CI, marked exploratory, no correction.
EXPLORATORY_PAIRS = [
    *PRIMARY_PAIRS,  # on the other presets
    ("taaf", "ogm-ge"), ("taaf", "ogm-ge-adam"), ("taaf", "unimodal-audio"), ("taaf", "unimodal-visual"),
    ("concat-aux", "concat"), ("late-fusion", "concat-aux"), ("concat-balance", "concat"),
    ("taaf-uniform", "concat-aux"), ("taaf-no-balance", "taaf-uniform"),
    ("ogm-ge", "ogm-ge-adam"), ("ogm-ge", "concat"), (f"ogm-ge x{LONG_EPOCHS} epochs", "ogm-ge"),
    *[(f"taaf beta={b:g}", "taaf beta=0") for b in BETAS[1:]],
    ("taaf", "taaf align=fixed"), ("taaf", "taaf align=none"), ("taaf align=fixed", "taaf align=none"),
    ("taaf align=cross", "taaf"), ("taaf align=cross", "taaf align=fixed"),
]
REPORT_PRESETS = [*(p for p in PRESETS if p != "custom"), *DATASET_CONFIGS]
PRIMARY_SEEDS, SEEDS = 10, 3  # 10: 80 % power for 2 points at SD 0.020 of the paired differences (audit)
LR_FACTORS, LR_STEP, MAX_EXTENSIONS = (1 / 3, 1.0, 3.0), 3.0, 2
QUICK = {"epochs": 1, "seeds": 2, "lr_factors": (1.0, 3.0)}
# Seconds one epoch takes with 1 torch thread, two runs side by side on 2 cores, when no finished run on that
# dataset tells, before the linear probes (which add about PROBE_SHARE). AV-Digits: 34 s a 12-epoch run, measured
# 2026-12-02 (426 runs in 7,192 s); AV-Digits-T: 19 s an epoch, one run alone on a quiet machine, 2026-12-08.
STATED_EPOCH_SECONDS = {"avdigits": (34.0 / 12, "34 s a 12-epoch run, 2026-12-02"),
                        "avdigits-t": (19.0, "19 s an epoch, one run alone, 2026-12-08")}
PROBE_SHARE = 0.33


def entries(names: list[str] | None) -> list[Entry]:
    table = STRATEGY_TABLE + EXTRA_TABLE + ALIGN_TABLE
    return table if not names else [e for e in table if e.label in names or e.label.split()[0] in names]


def grid(entry: Entry, factors: tuple[float, ...]) -> tuple[float, ...]:
    return entry.factors or factors


def plan(table: list[Entry], presets: list[str], seeds: int | None, factors: tuple[float, ...],
         epochs: int | None, extra: dict[tuple[str, str], set[float]] | None = None) -> list[Job]:
    """The jobs of every cell (preset, entry): its grid (plus `extra` factors) x its seeds."""
    jobs = []
    for preset in presets:
        n = seeds or (PRIMARY_SEEDS if preset in HEADLINE_PRESETS else SEEDS)
        for e in table:
            if e.presets is not None and preset not in e.presets:
                continue
            for f in sorted({*grid(e, factors), *(extra or {}).get((preset, e.label), ())}):
                jobs.extend(Job(e, preset, f, s, epochs) for s in range(n))
    return jobs


def extensions(results: dict[Job, dict], jobs: list[Job], factors: tuple[float, ...]) -> dict[tuple[str, str], float]:
    """Cells whose choice landed on an edge of a grid they may still extend: (preset, label) -> the new factor.
    A cell with a run still missing is not decided yet."""
    cells: dict[tuple[str, str], list[Job]] = {}
    for j in jobs:
        cells.setdefault((j.preset, j.entry.label), []).append(j)
    out = {}
    for key, cell in cells.items():
        entry = cell[0].entry
        if entry.factors or len(factors) < 3 or any(j not in results for j in cell):  # a 1-2 factor grid is all edge
            continue
        by_lr: dict[float, list] = {}
        for j in cell:
            by_lr.setdefault(j.factor, []).append((j.seed, results[j]))
        chosen, have = choose_lr(by_lr), sorted(by_lr)
        if chosen == have[0] and have[0] > min(factors) / LR_STEP ** MAX_EXTENSIONS * 1.0001:
            out[key] = have[0] / LR_STEP
        elif chosen == have[-1] and have[-1] < max(factors) * LR_STEP ** MAX_EXTENSIONS * 0.9999:
            out[key] = have[-1] * LR_STEP
    return out


def run_job(args: tuple[Job, Path]) -> dict[str, Any]:
    """Train one run into its folder and summarise it. Runs in a worker process."""
    import shutil

    from core.training_loop import train

    job, run_dir = args
    shutil.rmtree(run_dir, ignore_errors=True)  # an unfinished report run is simply redone
    train(job_config(job), run_dir)
    return summarise(run_dir)


def run_seconds(run_dir: Path) -> float:
    st = RunReader(run_dir).status()
    return float(st["updated"] - st["started"])


class Runner:
    """Finds finished runs by config key, trains the missing ones, and remembers which it did."""

    def __init__(self, runs_dir: Path, workers: int) -> None:
        self.runs_dir, self.workers = runs_dir, workers
        self.index = finished_index(runs_dir)
        self.results: dict[Job, dict] = {}
        self.trained: list[Job] = []
        self.reused: list[Job] = []

    def locate(self, job: Job) -> tuple[str, Path | None]:
        key = config_key(job_config(job))
        return key, self.index.get(key)

    def run(self, jobs: list[Job], train_missing: bool) -> list[Job]:
        """Summaries of `jobs` (reused or trained); returns the jobs still missing."""
        todo: dict[str, tuple[Job, Path]] = {}  # one run per config key, however many jobs resolve to it
        waiting: list[Job] = []
        for job in jobs:
            if job in self.results:
                continue
            key, found = self.locate(job)
            if found is not None:
                self.results[job] = summarise(found)
                self.reused.append(job)
            else:
                todo.setdefault(key, (job, self.runs_dir / f"{job.slug}-{key}"))
                waiting.append(job)
        if not train_missing or not todo:
            return waiting
        todo_list = list(todo.values())
        pool = (ProcessPoolExecutor(max_workers=self.workers, mp_context=get_context("spawn"))
                if self.workers > 1 else None)
        results = pool.map(run_job, todo_list) if pool else map(run_job, todo_list)
        start = time.time()
        for i, ((job, run_dir), r) in enumerate(zip(todo_list, results, strict=True)):
            self.trained.append(job)
            self.index[config_key(job_config(job))] = run_dir
            for other in waiting:  # this job and any other that resolves to the same config
                if other not in self.results and self.locate(other)[1] == run_dir:
                    self.results[other] = r
            print(f"[{i + 1}/{len(todo_list)} {time.time() - start:.0f} s] {job.preset:15s} {job.entry.label:18s} "
                  f"lr x{job.factor:.3g} seed {job.seed}: val {r['val_f']:.3f} test {r['test_f']:.3f}", flush=True)
        if pool:
            pool.shutdown()
        return []

    def seconds_per_epoch(self, dataset: str) -> tuple[float, str]:
        """Seconds of one training epoch of one run on `dataset` (two runs side by side), from finished runs on it
        if any, else the stated figure (AV-Digits' for a dataset without one)."""
        times = []
        for r in self.results.values():
            cfg = RunReader(Path(r["run_dir"])).config()
            if cfg["data"]["dataset"] == dataset:
                times.append(run_seconds(Path(r["run_dir"])) / cfg["train"]["epochs"])
        times = [t for t in times if t > 0]
        if times:
            return statistics.median(times), f"the median of {len(times)} finished runs"
        seconds, source = STATED_EPOCH_SECONDS.get(dataset, STATED_EPOCH_SECONDS["avdigits"])
        return seconds * (1 + PROBE_SHARE), f"stated: {source}, + {PROBE_SHARE:.0%} for the linear probes"


def execute(runner: Runner, table: list[Entry], presets: list[str], seeds: int | None, factors: tuple[float, ...],
            epochs: int | None, train_missing: bool) -> tuple[list[Job], list[Job]]:
    """Plan, reuse, train, extend the grids where the choice sits on an edge, until nothing changes.
    Returns (every planned job, the jobs still missing)."""
    extra: dict[tuple[str, str], set[float]] = {}
    while True:
        jobs = plan(table, presets, seeds, factors, epochs, extra)
        missing = runner.run(jobs, train_missing)
        new = extensions(runner.results, jobs, factors)
        if not new:
            return jobs, missing
        for key, f in new.items():
            extra.setdefault(key, set()).add(f)


def dry_run_text(runner: Runner, jobs: list[Job], missing: list[Job], workers: int,
                 factors: tuple[float, ...]) -> str:
    todo = {runner.locate(j)[0]: j for j in missing}  # jobs resolving to one config train once
    by_dataset: dict[str, int] = {}
    for j in todo.values():
        cfg = job_config(j)
        by_dataset[cfg["data"]["dataset"]] = by_dataset.get(cfg["data"]["dataset"], 0) + cfg["train"]["epochs"]
    rates = {d: runner.seconds_per_epoch(d) for d in by_dataset}
    hours = sum(n * rates[d][0] for d, n in by_dataset.items()) / max(workers, 1) / 3600
    how = "; ".join(f"{d}: {n} epochs at {rates[d][0]:.1f} s ({rates[d][1]})" for d, n in by_dataset.items())
    text = (f"{len(jobs)} runs planned: {len(runner.reused)} finished (reused), {len(todo)} to train "
            f"({sum(by_dataset.values())} epochs); about {hours:.1f} h with --jobs {workers} ({how or 'nothing'}).")
    if len(factors) < 3:
        return text
    open_cells = {(j.preset, j.entry.label): j for j in missing if not j.entry.factors}
    seeds = {(j.preset, j.entry.label): j.seed + 1 for j in jobs}
    more = sum(MAX_EXTENSIONS * seeds[c] for c in open_cells)
    return text + (f" Grids whose choice lands on an edge add runs: at most {more} more for the "
                   f"{len(open_cells)} cells not decided yet.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m core.report", description=__doc__.split("\n")[0],
                                 epilog="--dry-run prints how many runs the report would make (to train, reused) "
                                        "and about how long they would take; it trains nothing.")
    ap.add_argument("--dry-run", action="store_true", help="print the runs (to train, reused) and a time estimate")
    ap.add_argument("--quick", action="store_true", help="CI-sized: 1 epoch, 2 seeds, 2 learning rates")
    ap.add_argument("--epochs", type=int, default=0, help="epochs per run (default: each config's)")
    ap.add_argument("--seeds", type=int, default=0, help=f"seeds per cell (default {PRIMARY_SEEDS} on "
                                                         f"{', '.join(HEADLINE_PRESETS)}, {SEEDS} elsewhere)")
    ap.add_argument("--lr-factors", type=float, nargs="+", help=f"learning-rate grid (default {LR_FACTORS})")
    ap.add_argument("--presets", nargs="+", default=REPORT_PRESETS)
    ap.add_argument("--strategies", nargs="+", help="labels from the tables (default: all)")
    ap.add_argument("--jobs", type=int, default=1, help="training processes side by side (1 torch thread each)")
    ap.add_argument("--runs-dir", default="runs/report")
    ap.add_argument("--out", help="markdown file to write (default <runs-dir>/results.md)")
    ap.add_argument("--finished-only", action="store_true",
                    help="train nothing: tabulate the runs already finished (missing cells are listed)")
    args = ap.parse_args(argv)
    t0 = time.time()
    epochs = args.epochs or (QUICK["epochs"] if args.quick else None)
    seeds = args.seeds or (QUICK["seeds"] if args.quick else None)
    factors = tuple(args.lr_factors or (QUICK["lr_factors"] if args.quick else LR_FACTORS))
    runs_dir = Path(args.runs_dir)
    out = Path(args.out) if args.out else runs_dir / "results.md"
    table = entries(args.strategies)
    missing_configs = [e for e in table if not (ROOT / e.config).is_file()]
    for e in missing_configs:
        print(f"skipped {e.label}: {e.config} not found", file=sys.stderr)
    table = [e for e in table if e not in missing_configs]
    try:
        runner = Runner(runs_dir, args.jobs)
        jobs, missing = execute(runner, table, args.presets, seeds, factors, epochs,
                                train_missing=not (args.finished_only or args.dry_run))
    except TAAFError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(dry_run_text(runner, jobs, missing, args.jobs, factors))
        return 0
    setting = f"{epochs} epoch{'s' if epochs > 1 else ''}" if epochs else "each config's epochs"
    setting += " (--quick)" if args.quick else ""
    command = " ".join(["python -m core.report", *(argv if argv is not None else sys.argv[1:])])
    distinct = {r["run_dir"] for r in runner.results.values()}  # entries with one config share one run
    counts = {"runs": len(runner.results), "distinct": len(distinct), "trained": len(runner.trained),
              "reused": len(runner.reused), "train_h": sum(run_seconds(Path(d)) for d in distinct) / 3600,
              "wall_h": (time.time() - t0) / 3600}
    design = Design(PRIMARY_PAIRS, HEADLINE_PRESETS, EXPLORATORY_PAIRS, min(factors) / LR_STEP ** MAX_EXTENSIONS,
                    max(factors) * LR_STEP ** MAX_EXTENSIONS)
    write_markdown(runner.results, missing, missing_configs, table, design, setting, command, counts, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
