"""The report's per-preset tables: learning rate chosen on validation, mean ± std over seeds, per-modality accuracy
from linear probes (comparable across strategies) beside each strategy's own heads, convergence coordination
(core/report.py runs the training; core/report_claims.py writes the comparisons and "What holds")."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from core.report_claims import Design, claims_section, energy_section, pair_sections

COORDINATION = 0.9  # a modality has converged at this fraction of its unimodal-alone best (probe accuracy)
NOT_APPLICABLE = "n/a"  # no probe curve, or no unimodal-alone reference


def finite(values: list[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def mean_std(values: list[float | None], fmt: str = "{:.3f}") -> str:
    xs = finite(values)
    if not xs:
        return "–"
    if len(xs) == 1:
        return fmt.format(xs[0])
    return f"{fmt.format(statistics.mean(xs))} ± {fmt.format(statistics.stdev(xs))}"


def group(results: dict) -> dict[tuple[str, str], dict[float, list[tuple[int, dict]]]]:
    """(preset, label) -> lr factor -> [(seed, summary)] sorted by seed."""
    out: dict = defaultdict(lambda: defaultdict(list))
    for job, r in results.items():
        out[(job.preset, job.entry.label)][job.factor].append((job.seed, r))
    for by_lr in out.values():
        for runs in by_lr.values():
            runs.sort(key=lambda x: x[0])
    return out


def choose_lr(by_lr: dict[float, list[tuple[int, dict]]]) -> float:
    """The learning-rate factor with the best mean validation fused accuracy (most seeds first, so a
    factor still missing runs cannot win on fewer of them); test plays no part."""
    most = max(len(v) for v in by_lr.values())
    complete = {f: runs for f, runs in by_lr.items() if len(runs) == most}
    return max(complete, key=lambda f: (statistics.mean(finite([r["val_f"] for _, r in complete[f]]) or [-1.0]), -f))


def unimodal_best(chosen: dict[tuple[str, str], list[tuple[int, dict]]], preset: str) -> dict[str, float]:
    """Mean over seeds of the best validation probe accuracy of each modality's network trained alone."""
    best = {}
    for u, label in (("a", "unimodal-audio"), ("v", "unimodal-visual")):
        peaks = finite([max(finite(r["curve"][u]), default=math.nan) for _, r in chosen.get((preset, label), [])])
        if peaks:
            best[u] = statistics.mean(peaks)
    return best


def steps_to_reach(curve: list[float], steps: list[int], target: float) -> int | None:
    """Training steps done when the probe accuracy first reaches `target` (None: never)."""
    for acc, step in zip(curve, steps, strict=False):
        if acc == acc and acc >= target:
            return step
    return None


def coordination(run: dict, best: dict[str, float]) -> dict[str, int | str | None]:
    """Steps for each modality's probe to reach 90 % of its unimodal-alone best (None: never), and the gap."""
    out: dict[str, int | str | None] = {}
    for u in "av":
        if u not in best or not finite(run["curve"][u]):
            out[u] = NOT_APPLICABLE
        else:
            out[u] = steps_to_reach(run["curve"][u], run["curve_steps"], COORDINATION * best[u])
    a, v = out["a"], out["v"]
    out["gap"] = NOT_APPLICABLE if NOT_APPLICABLE in (a, v) else (abs(a - v) if a is not None and v is not None
                                                                 else None)
    return out


def reached(values: list[int | str | None]) -> str:
    """mean ± std of the seeds that got there, and (k/n) when some never did."""
    if not values or NOT_APPLICABLE in values:
        return "–"
    got = [v for v in values if v is not None]
    text = mean_std(got, "{:.0f}")
    return text if len(got) == len(values) else f"{text} ({len(got)}/{len(values)})"


def edge_note(by_lr: dict[float, list], chosen: float, design: Design) -> str:
    """'' when the choice is inside its grid; else why the grid stopped there."""
    have = sorted(by_lr)
    if len(have) < 3 or chosen not in (have[0], have[-1]):
        return "" if len(have) > 1 else " (fixed)"
    capped = (chosen == have[0] and have[0] <= design.lowest * 1.0001) or (
        chosen == have[-1] and have[-1] >= design.highest * 0.9999)
    return " (edge: grid capped)" if capped else " (edge: extension not run)"


def write_markdown(results: dict, missing: list, missing_configs: list, table: list, design: Design, setting: str,
                   command: str, counts: dict[str, float], out: Path) -> None:
    grouped = group(results)
    chosen_lr = {key: choose_lr(by_lr) for key, by_lr in grouped.items()}
    chosen = {key: grouped[key][f] for key, f in chosen_lr.items()}
    order = [e.label for e in table]
    presets = list(dict.fromkeys(job.preset for job in results))
    lines = [
        "# Results on AV-Digits (bundled)",
        "",
        f"Made by `{command}` ({setting}; protocol in docs/method.md, \"Report protocol\"): {counts['runs']} runs "
        f"in the tables, {counts['distinct']} distinct configs ({counts['trained']} trained by this invocation, "
        f"{counts['reused']} reused: found by the hash of their resolved config; entries that resolve to one "
        f"config share its run), {counts['train_h']:.1f} h of training summed over the distinct runs, "
        f"{counts['wall_h']:.1f} h of wall time for this invocation. Every strategy gets the same epochs and the "
        "same learning-rate grid (its config's lr x the factors, extended by one factor on a side whose edge was "
        "chosen); the factor with the "
        "best mean **validation** fused accuracy over the seeds is reported. Test accuracy of the checkpoint with "
        "the best validation fused accuracy; mean ± std over seeds. `probe audio / visual`: a linear probe on each "
        "frozen encoder's time-averaged features (fitted on a fixed train subset, scored on test): comparable "
        "across strategies. `head audio / visual`: each strategy's own unimodal output (trained heads for TAAF, "
        "concat-aux, late-fusion; weight slices of the fused layer for concat, concat-balance and OGM-GE): not "
        "comparable across those groups. `steps to 90 %` = training steps until that modality's probe (on "
        "validation) first reaches 90 % of the same modality's unimodal-alone best ((k/n) = only k of n seeds "
        "did), `gap` = |audio - visual|. Nothing here was chosen on test.",
        "",
    ]
    lines += claims_section(chosen, presets, design, [f"{label} on {preset}" for (preset, label), f in chosen_lr.items()
                                                       if edge_note(grouped[(preset, label)], f, design).startswith(
                                                           " (edge")])
    lines += pair_sections(chosen, presets, design)
    lines += energy_section(chosen, design)
    for preset in presets:
        lines += preset_table(grouped, chosen_lr, chosen, preset, order, design)
    if missing or missing_configs:
        lines += ["## Not run", ""]
        lines += [f"- {e.label}: `{e.config}` not found" for e in missing_configs]
        lines += [f"- {j.entry.label} on {j.preset}, lr x{j.factor:.3g}, seed {j.seed}" for j in missing]
        lines.append("")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


def preset_table(grouped: dict, chosen_lr: dict, chosen: dict, preset: str, order: list[str],
                 design: Design) -> list[str]:
    best = unimodal_best(chosen, preset)
    lines = [f"## {preset}", "",
             "| strategy | lr | val fused | test fused | probe audio | probe visual | head audio | head visual "
             "| steps to 90 % audio | steps to 90 % visual | gap | energy µJ (ANN fp32 / int8 µJ) | seeds | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label in order:
        if (preset, label) not in chosen:
            continue
        runs = [r for _, r in chosen[(preset, label)]]
        col = {k: [r.get(k) for r in runs] for k in ("val_f", "test_f", "probe_a", "probe_v", "head_a", "head_v",
                                                      "energy_uj", "ann_uj", "ann_int8_uj", "wall_s", "lr")}
        coord = [coordination(r, best) for r in runs]
        f = chosen_lr[(preset, label)]
        lr = f"{col['lr'][0]:.2g}" + edge_note(grouped[(preset, label)], f, design)
        lines.append(
            f"| {label} | {lr} | {mean_std(col['val_f'])} | {mean_std(col['test_f'])} "
            f"| {mean_std(col['probe_a'])} | {mean_std(col['probe_v'])} "
            f"| {mean_std(col['head_a'])} | {mean_std(col['head_v'])} "
            f"| {reached([c['a'] for c in coord])} | {reached([c['v'] for c in coord])} "
            f"| {reached([c['gap'] for c in coord])} "
            f"| {mean_std(col['energy_uj'], '{:.2f}')} ({mean_std(col['ann_uj'], '{:.2f}')} / "
            f"{mean_std(col['ann_int8_uj'], '{:.2f}')}) | {len(runs)} | {mean_std(col['wall_s'], '{:.0f}')} |")
    return ["", *lines, "", *lr_table(grouped, preset, order)]


def lr_table(grouped: dict, preset: str, order: list[str]) -> list[str]:
    factors = sorted({f for (p, _), by_lr in grouped.items() if p == preset for f in by_lr})
    lines = [f"Validation fused accuracy per learning-rate factor (mean over seeds; **bold** = chosen; – = not in "
             f"that row's grid), {preset}:", "",
             f"| strategy | {' | '.join(f'lr x{f:.3g}' for f in factors)} |", "|---|" + "---|" * len(factors)]
    for label in order:
        by_lr = grouped.get((preset, label))
        if not by_lr:
            continue
        pick = choose_lr(by_lr)
        cells = []
        for f in factors:
            vals = finite([r["val_f"] for _, r in by_lr.get(f, [])])
            text = f"{statistics.mean(vals):.3f}" if vals else "–"
            cells.append(f"**{text}**" if f == pick and vals else text)
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return [*lines, ""]
