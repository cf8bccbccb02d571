"""Train every strategy on every preset over several seeds and write docs/results.md.

    python -m core.report [--quick] [--seeds 3] [--presets clean hard] [--strategies taaf concat]

Runs land in runs/report/<strategy>-<preset>-s<seed>; a finished one is reused, so an interrupted
report continues where it stopped. Model selection uses validation only; test is read once per run.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from core.config import load_config
from core.data.presets import PRESETS
from core.errors import TAAFError
from core.recorder import epochs_to_fraction
from core.store import RunReader
from core.strategies import STRATEGIES
from core.train import train

REPORT_PRESETS = [p for p in PRESETS if p != "custom"]


def run_one(strategy: str, preset: str, seed: int, runs_dir: Path, epochs: int | None,
            train_missing: bool = True) -> dict[str, Any] | None:
    run_dir = runs_dir / f"{strategy}-{preset}-s{seed}"
    if (run_dir / "store.sqlite").exists() and RunReader(run_dir).status()["status"] == "finished":
        return summarise(run_dir)
    if not train_missing:
        return None
    if run_dir.exists():
        shutil.rmtree(run_dir)  # an unfinished report run is simply redone
    overrides = [f'strategy.name="{strategy}"', f'data.avdigits.preset="{preset}"', "data.avdigits.degrade={}",
                 f"train.seed={seed}", "record.progress=false"]
    if epochs:
        overrides.append(f"train.epochs={epochs}")
    cfg = load_config(None, overrides)  # the defaults equal configs/taaf.toml but for its degrade table
    start = time.time()
    train(cfg, run_dir)
    out = summarise(run_dir)
    out["wall_s"] = time.time() - start
    return out


def summarise(run_dir: Path) -> dict[str, Any]:
    r = RunReader(run_dir)
    meta, epochs = r.meta(), r.scalars("epoch")
    steps = r.scalars("step")
    test = meta.get("test", {})
    last = epochs.iloc[-1] if len(epochs) else {}
    return {
        "test_f": test.get("acc_f", math.nan),
        "test_a": test.get("acc_a", math.nan),
        "test_v": test.get("acc_v", math.nan),
        "ep90_a": epochs_to_fraction(list(epochs.get("val_acc_a", []))),
        "ep90_v": epochs_to_fraction(list(epochs.get("val_acc_v", []))),
        "energy_uj": float(last.get("energy_pj", math.nan)) / 1e6 if len(epochs) else math.nan,
        "ann_uj": float(last.get("energy_ann_pj", math.nan)) / 1e6 if len(epochs) else math.nan,
        "wall_s": float(steps["elapsed_s"].iloc[-1]) if "elapsed_s" in steps else math.nan,
    }


def mean_std(values: list[float | None], fmt: str = "{:.3f}") -> str:
    xs = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not xs:
        return "–"
    if len(xs) == 1:
        return fmt.format(xs[0])
    return f"{fmt.format(statistics.mean(xs))} ± {fmt.format(statistics.stdev(xs))}"


def write_markdown(results: dict[tuple[str, str], list[dict]], seeds: int, epochs: str, out: Path,
                   missing: list[str]) -> None:
    lines = [
        "# Results on AV-Digits (bundled)",
        "",
        f"Made by `python -m core.report` ({seeds} seeds per cell, {epochs}). Test accuracy of the checkpoint",
        "with the best validation fused accuracy; mean ± std over seeds. `ep90` = epochs for that modality's",
        "validation accuracy to reach 90 % of its final value. Energy per sample from measured firing rates",
        "(docs/method.md). Nothing here was tuned on test.",
        "",
    ]
    for preset in dict.fromkeys(p for p, _ in results):
        lines += [f"## {preset}", "",
                  "| strategy | fused | audio head | visual head | ep90 audio | ep90 visual "
                  "| energy µJ (ANN µJ) | wall s |",
                  "|---|---|---|---|---|---|---|---|"]
        ranking = []
        for (p, strategy), rows in results.items():
            if p != preset:
                continue
            col = {k: [r[k] for r in rows] for k in rows[0]}
            ranking.append((statistics.mean(col["test_f"]), strategy))
            lines.append(
                f"| {strategy} | {mean_std(col['test_f'])} | {mean_std(col['test_a'])} | {mean_std(col['test_v'])} "
                f"| {mean_std(col['ep90_a'], '{:.1f}')} | {mean_std(col['ep90_v'], '{:.1f}')} "
                f"| {mean_std(col['energy_uj'], '{:.2f}')} ({mean_std(col['ann_uj'], '{:.2f}')}) "
                f"| {mean_std(col['wall_s'], '{:.0f}')} |"
            )
        ranking.sort(reverse=True)
        order = ", ".join(f"{s} {m:.3f}" for m, s in ranking)
        lines += ["", f"Fused test accuracy, best first: {order}.", ""]
    if missing:
        lines += ["## Not run", "", "These runs had not finished when the report was written:", "",
                  *[f"- {m}" for m in missing], ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m core.report", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 epochs per run instead of the config's")
    ap.add_argument("--epochs", type=int, default=0, help="epochs per run (overrides --quick)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--presets", nargs="+", default=REPORT_PRESETS, choices=REPORT_PRESETS)
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    ap.add_argument("--runs-dir", default="runs/report")
    ap.add_argument("--out", default="docs/results.md")
    ap.add_argument("--finished-only", action="store_true",
                    help="train nothing: tabulate the runs already finished (missing cells are listed)")
    args = ap.parse_args(argv)
    epochs = args.epochs or (4 if args.quick else None)
    runs_dir = Path(args.runs_dir) / (f"e{epochs}" if epochs else "full")
    results: dict[tuple[str, str], list[dict]] = {}
    missing: list[str] = []
    try:
        for preset in args.presets:
            for strategy in args.strategies:
                for seed in range(args.seeds):
                    r = run_one(strategy, preset, seed, runs_dir, epochs, train_missing=not args.finished_only)
                    if r is None:
                        missing.append(f"{strategy} on {preset}, seed {seed}")
                        continue
                    results.setdefault((preset, strategy), []).append(r)
                    print(f"{preset:16s} {strategy:16s} seed {seed}: fused {r['test_f']:.3f} "
                          f"audio {r['test_a']:.3f} visual {r['test_v']:.3f}", flush=True)
    except TAAFError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    label = f"{epochs} epochs" if epochs else "the config's epochs"
    write_markdown(results, args.seeds, label, Path(args.out), missing)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
