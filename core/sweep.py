"""Sweep strategies x seeds (x one setting's values): queue the runs on disk and train them one after another.

    python -m core.sweep --strategies taaf concat --seeds 0-4 [--preset hard] [--set KEY=VALUE ...]
                         [--vary optim.lr=0.001,0.003] [--config FILE] [--runs-dir runs] [--name NAME] [--no-start]
    python -m core.sweep --list [--runs-dir runs]
    python -m core.sweep --cancel ID [--runs-dir runs]

Every planned run is checked like a config file before anything is queued; each queued run is an ordinary run
(`runs/<sweep>-<strategy>-s<seed>...`). The queue and its runner: core/sweep_queue.py. The results, per strategy
mean ± std over distinct seeds and paired verdicts, use the report's statistics (core/report_stats.py).
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from core import sweep_queue
from core.config import load_config, parse_value
from core.errors import TAAFError
from core.store import RunReader, list_runs

DEFAULT_EPOCH_S = 20.0  # a guess for the time estimate when the runs folder has no finished run yet


def parse_seeds(text: list[str]) -> list[int]:
    """`0-4` or `0 1 2` -> [0, 1, 2, 3, 4]; one line naming the bad item."""
    seeds: list[int] = []
    for item in text:
        lo, sep, hi = item.partition("-")
        try:
            seeds += list(range(int(lo), int(hi) + 1)) if sep else [int(item)]
        except ValueError:
            raise TAAFError(f"--seeds {item!r}: expected a seed (3) or a range (0-4)") from None
    return sorted(set(seeds))


def plan(strategies: list[str], seeds: list[int], preset: str | None = None, sets: list[str] | None = None,
         vary: str | None = None, config: str | None = None, sweep: str = "sweep") -> list[dict[str, Any]]:
    """The runs of a sweep, each {"name", "overrides"}, every one checked as a config (ConfigError names it)."""
    base: dict[str, Any] = {}
    if preset:
        base["data.avdigits.preset"] = preset
    for text in sets or []:
        key, sep, value = text.partition("=")
        if not sep:
            raise TAAFError(f"--set {text!r}: expected KEY=VALUE")
        base[key.strip()] = parse_value(value)
    vary_key, values = None, [None]
    if vary:
        vary_key, sep, listed = vary.partition("=")
        if not sep or not listed:
            raise TAAFError(f"--vary {vary!r}: expected KEY=V1,V2,...")
        values = [parse_value(v) for v in listed.split(",")]
    runs = []
    for strategy, value, seed in itertools.product(strategies, values, seeds):
        overrides = {**base, "strategy.name": strategy, "train.seed": seed}
        suffix = ""
        if vary_key:
            overrides[vary_key] = value
            suffix = f"-{vary_key.split('.')[-1]}{value}"
        load_config(config, overrides)  # refused here, before anything is queued
        runs.append({"name": f"{sweep}-{strategy}{suffix}-s{seed}", "overrides": overrides,
                     "group": f"{strategy}{suffix}", "seed": seed})
    return runs


def epoch_seconds(runs_dir: str | Path) -> float:
    """Seconds per epoch of the newest finished runs here (median of up to 5), else DEFAULT_EPOCH_S."""
    per_epoch = []
    table = list_runs(runs_dir) if Path(runs_dir).is_dir() else None
    if table is not None and len(table):
        for path in table[table["status"] == "finished"]["path"].tail(5):
            try:
                r = RunReader(path)
                steps = r.scalars("step", keys=["elapsed_s"])
                epochs = int(r.meta().get("epochs") or 0)
                if epochs and len(steps):
                    per_epoch.append(float(steps["elapsed_s"].iloc[-1]) / epochs)
            except (TAAFError, KeyError, ValueError):
                continue
    return statistics.median(per_epoch) if per_epoch else DEFAULT_EPOCH_S


def estimate_seconds(runs_dir: str | Path, planned: list[dict[str, Any]], config: str | None = None,
                     epoch_s: float | None = None) -> float:
    """A rough time for the whole sweep: epochs x the seconds per epoch of the newest finished runs here."""
    epoch_s = epoch_seconds(runs_dir) if epoch_s is None else epoch_s
    return sum(load_config(config, p["overrides"])["train"]["epochs"] * epoch_s for p in planned)


def results(runs_dir: str | Path, sweep: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The sweep's finished runs per group (strategy, and the varied value): mean ± std of the fused test accuracy
    over distinct seeds, and paired verdicts of every group against the first, with the report's statistics
    (core/report_stats.py: the 95 % CI of the mean difference, Holm over this sweep's comparisons for both the
    difference and the equivalence test). ([{group, seeds, test_f}], [{a, b, seeds, diff, ci, p_holm, verdict}])."""
    from core.report_claims import diffs
    from core.report_runs import summarise
    from core.report_stats import fmt_ci, holm, paired_stats, verdict
    from core.report_tables import mean_std

    groups: dict[str, list[tuple[int, dict]]] = {}
    for row in sweep_queue.rows(runs_dir, sweep):
        if row["state"] != "finished" or not row["run_dir"]:
            continue
        group = row["name"][len(sweep) + 1:].rsplit("-s", 1)[0]
        seeds = groups.setdefault(group, [])
        if row["overrides"]["train.seed"] not in dict(seeds):  # distinct seeds: a copy counts once
            seeds.append((row["overrides"]["train.seed"], summarise(Path(row["run_dir"]))))
    table = [{"group": g, "seeds": len(s), "test_f": mean_std([r["test_f"] for _, r in s])} for g, s in groups.items()]
    chosen = {(sweep, g): sorted(s, key=lambda x: x[0]) for g, s in groups.items()}  # the report's shape
    names = list(groups)
    rows = [(names[0], b, st) for b in names[1:] if (st := paired_stats(diffs(chosen, sweep, names[0], b)))]
    q, q_eq = holm([st.p for *_, st in rows]), holm([st.p_equivalence for *_, st in rows])
    verdicts = [{"a": a, "b": b, "seeds": st.n, "diff": st.mean, "ci": fmt_ci(st), "p_holm": qi,
                 "verdict": verdict(a, b, st, qi, qe)} for (a, b, st), qi, qe in zip(rows, q, q_eq, strict=True)]
    return table, verdicts


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m core.sweep", description=__doc__.split("\n")[0])
    ap.add_argument("--strategies", nargs="+", default=["taaf"])
    ap.add_argument("--seeds", nargs="+", default=["0"], help="seeds or ranges: 0-4, or 0 1 2")
    ap.add_argument("--preset", help="data.avdigits.preset for every run")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting for every run")
    ap.add_argument("--vary", metavar="KEY=V1,V2", help="one setting's values: a run per value")
    ap.add_argument("--config", help="TOML config every run starts from (default: the defaults)")
    ap.add_argument("--runs-dir", default="runs")
    ap.add_argument("--name", help="the sweep's name (default sweep-<time>)")
    ap.add_argument("--no-start", action="store_true", help="queue only; a runner starts later (studio, or again)")
    ap.add_argument("--list", action="store_true", help="the queue: which ran, which trains, which wait")
    ap.add_argument("--cancel", type=int, metavar="ID", help="cancel one queued run (stop it if it trains)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.list:
            for r in sweep_queue.rows(args.runs_dir):
                print(f"{r['id']:>4}  {r['state']:<9}  {r['sweep']}  {r['name']}  {r['error'] or ''}")
            return 0
        if args.cancel is not None:
            print(sweep_queue.cancel(args.runs_dir, args.cancel))
            return 0
        sweep = args.name or time.strftime("sweep-%Y%m%d-%H%M%S")
        planned = plan(args.strategies, parse_seeds(args.seeds), args.preset, args.set, args.vary, args.config, sweep)
        minutes = math.ceil(estimate_seconds(args.runs_dir, planned, args.config) / 60)
        sweep_queue.enqueue(args.runs_dir, sweep, planned, args.config)
        print(f"queued {len(planned)} runs as sweep {sweep} in {args.runs_dir} (about {minutes} min, one at a time)")
        if not args.no_start and sweep_queue.ensure_runner(args.runs_dir):
            print(f"runner started; its log: {Path(args.runs_dir) / 'sweep-runner.log'}")
        return 0
    except TAAFError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
