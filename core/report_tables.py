"""The report's arithmetic and its markdown: learning rate chosen on validation, mean ± std over seeds,
convergence coordination, paired tests over seeds (core/report.py runs the training)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from scipy import stats

ALPHA = 0.05  # significance level of the paired tests
COORDINATION = 0.9  # a head has converged at this fraction of its modality's unimodal-alone best


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
    """Mean over seeds of the best validation accuracy of each modality's network trained alone."""
    best = {}
    for u, label in (("a", "unimodal-audio"), ("v", "unimodal-visual")):
        runs = chosen.get((preset, label), [])
        peaks = finite([max(finite(r["curve"][u]), default=math.nan) for _, r in runs])
        if peaks:
            best[u] = statistics.mean(peaks)
    return best


def steps_to_reach(curve: list[float], steps: list[int], target: float) -> int | None:
    """Training steps done when the validation accuracy first reaches `target` (None: never)."""
    for acc, step in zip(curve, steps, strict=False):
        if acc == acc and acc >= target:
            return step
    return None


NOT_APPLICABLE = "n/a"  # the run has no such head, or there is no unimodal-alone reference for it


def coordination(run: dict, best: dict[str, float]) -> dict[str, int | str | None]:
    """Steps for each head to reach 90 % of its modality's unimodal-alone best (None: never), and the gap
    between the two heads."""
    out: dict[str, int | str | None] = {}
    for u in "av":
        if u not in best or not finite(run["curve"][u]):
            out[u] = NOT_APPLICABLE
        else:
            out[u] = steps_to_reach(run["curve"][u], run["epoch_steps"], COORDINATION * best[u])
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


def paired(a: list[tuple[int, dict]], b: list[tuple[int, dict]]) -> tuple[int, float, float] | None:
    """Seeds both have -> (n, mean of A - B fused test accuracy, two-sided paired t-test p)."""
    rb = dict(b)
    diffs = [r["test_f"] - rb[s]["test_f"] for s, r in a if s in rb]
    diffs = finite(diffs)
    if len(diffs) < 2:
        return None
    mean = statistics.mean(diffs)
    if max(diffs) == min(diffs):  # no spread: the t statistic is undefined
        return len(diffs), mean, (0.0 if mean != 0 else 1.0)
    xa = [r["test_f"] for s, r in a if s in rb]
    xb = [rb[s]["test_f"] for s, r in a if s in rb]
    return len(diffs), mean, float(stats.ttest_rel(xa, xb).pvalue)


def holm(ps: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order): one preset's comparisons are many tests at once, and
    at p < 0.05 each, one in twenty true nulls would read as a win."""
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    adjusted, running = [1.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


def pair_results(chosen: dict, preset: str, pairs: list[tuple[str, str]]) -> list[tuple[str, str, int, float, float,
                                                                                       float]]:
    """(A, B, seeds, mean A - B, p, Holm-adjusted p over this preset's comparisons) for each pair that ran."""
    rows = []
    for a, b in pairs:
        if (preset, a) in chosen and (preset, b) in chosen and (res := paired(chosen[(preset, a)],
                                                                          chosen[(preset, b)])) is not None:
            rows.append((a, b, *res))
    return [(*row, q) for row, q in zip(rows, holm([r[4] for r in rows]), strict=True)]


def verdict(a: str, b: str, diff: float, p: float) -> str:
    if p < ALPHA:
        win, lose = (a, b) if diff > 0 else (b, a)
        return f"{win} beats {lose}"
    return "no difference shown"


def write_markdown(results: dict, missing: list, missing_configs: list, table: list, pairs: list,
                   factors: tuple[float, ...], setting: str, command: str, out: Path) -> None:
    grouped = group(results)
    chosen_lr = {key: choose_lr(by_lr) for key, by_lr in grouped.items()}
    chosen = {key: grouped[key][f] for key, f in chosen_lr.items()}
    order = [e.label for e in table]
    presets = list(dict.fromkeys(job.preset for job in results))
    lines = [
        "# Results on AV-Digits (bundled)",
        "",
        f"Made by `{command}` ({setting}; protocol in docs/method.md, \"Report protocol\"). Each strategy "
        "runs from its own config with its "
        f"reference optimizer; its learning rate is the config's x {', '.join(f'{f:.3g}' for f in factors)}, "
        "whichever has the best mean **validation** fused accuracy over the seeds. Test accuracy of the "
        "checkpoint with the best validation fused accuracy; mean ± std over seeds. `steps to 90 %` = training "
        "steps until that head's validation accuracy first reaches 90 % of the same modality's unimodal-alone "
        "best (mean over seeds; (k/n) = only k of n seeds ever did), `gap` = |audio - visual|. Energy per "
        "sample from measured firing rates, against the same network as an ANN (docs/method.md). Nothing "
        "here was chosen on test.",
        "",
    ]
    edges = [f"{label} on {preset}" for (preset, label), f in chosen_lr.items() if at_edge(f, factors)]
    lines += _claims(chosen, presets, pairs, edges)
    for preset in presets:
        best = unimodal_best(chosen, preset)
        lines += [f"## {preset}", "",
                  "| strategy | lr | val fused | test fused | audio head | visual head | steps to 90 % audio "
                  "| steps to 90 % visual | gap | energy µJ (ANN µJ) | SNN / ANN | seeds | wall s |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for label in order:
            if (preset, label) not in chosen:
                continue
            runs = [r for _, r in chosen[(preset, label)]]
            col = {k: [r[k] for r in runs] for k in ("val_f", "test_f", "test_a", "test_v", "energy_uj", "ann_uj",
                                                      "wall_s")}
            coord = [coordination(r, best) for r in runs]
            lr = _lr_text(results, preset, label, chosen_lr[(preset, label)])
            if at_edge(chosen_lr[(preset, label)], factors):
                lr += " (edge)"
            lines.append(
                f"| {label} | {lr} | {mean_std(col['val_f'])} | {mean_std(col['test_f'])} "
                f"| {mean_std(col['test_a'])} | {mean_std(col['test_v'])} "
                f"| {reached([c['a'] for c in coord])} | {reached([c['v'] for c in coord])} "
                f"| {reached([c['gap'] for c in coord])} "
                f"| {mean_std(col['energy_uj'], '{:.2f}')} ({mean_std(col['ann_uj'], '{:.2f}')}) "
                f"| {mean_std([e / a for e, a in zip(col['energy_uj'], col['ann_uj'], strict=True)], '{:.3f}')} "
                f"| {len(runs)} | {mean_std(col['wall_s'], '{:.0f}')} |")
        lines += ["", *_lr_table(grouped, preset, order, factors), *_pair_table(chosen, preset, pairs)]
    if missing or missing_configs:
        lines += ["## Not run", ""]
        lines += [f"- {e.label}: `{e.config}` not found" for e in missing_configs]
        lines += [f"- {j.entry.label} on {j.preset}, lr x{j.factor:.3g}, seed {j.seed}" for j in missing]
        lines.append("")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


def at_edge(factor: float, factors: tuple[float, ...]) -> bool:
    """Chosen at the smallest or largest learning rate of a budget of three or more."""
    return len(factors) >= 3 and factor in (min(factors), max(factors))


def _lr_text(results: dict, preset: str, label: str, factor: float) -> str:
    for job in results:
        if job.preset == preset and job.entry.label == label and job.factor == factor:
            lr = results[job].get("lr")
            return f"x{factor:.3g}" if lr is None else f"{lr:.2g}"
    return f"x{factor:.3g}"


def _lr_table(grouped: dict, preset: str, order: list[str], factors: tuple[float, ...]) -> list[str]:
    head = " | ".join(f"lr x{f:.3g}" for f in factors)
    lines = [f"Validation fused accuracy per learning rate (mean over seeds; **bold** = chosen), {preset}:", "",
             f"| strategy | {head} |", "|---|" + "---|" * len(factors)]
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


def _pair_table(chosen: dict, preset: str, pairs: list[tuple[str, str]]) -> list[str]:
    rows = [f"| {a} − {b} | {diff:+.3f} | {p_text(p)} | {p_text(q)} | {n} | {verdict(a, b, diff, q)} |"
            for a, b, n, diff, p, q in pair_results(chosen, preset, pairs)]
    if not rows:
        return []
    return [f"Paired over seeds (fused test accuracy, two-sided paired t-test; the verdict uses p adjusted by Holm "
            f"over this preset's comparisons, < {ALPHA}), {preset}:", "",
            "| A − B | mean difference | p | p (Holm) | seeds | verdict |", "|---|---|---|---|---|---|", *rows, ""]


def _claims(chosen: dict, presets: list[str], pairs: list[tuple[str, str]],
            edges: list[str] | None = None) -> list[str]:
    """"What holds and what does not": the cells whose learning rate is at the edge of the budget (`edges`), one
    sentence per comparison naming the presets where each verdict of the paired tables below came out (so every
    sentence is a set of rows), then energy and coordination."""
    by_pair: dict[tuple[str, str], dict[str, list[str]]] = {}
    for preset in presets:
        for a, b, _, diff, _, q in pair_results(chosen, preset, pairs):
            v = verdict(a, b, diff, q)
            by_pair.setdefault((a, b), {}).setdefault(v, []).append(f"{preset} ({diff:+.3f})")
    if not by_pair:
        return []
    lines = ["## What holds and what does not", "",
             "Written by the report from the tables below, so it says no more than they do: for each comparison, "
             f"the presets where the paired test over seeds (Holm-adjusted p < {ALPHA}, row \"A − B\" of that "
             "preset's paired table) shows a winner, and where it shows none (mean difference of fused test "
             "accuracy in brackets).", ""]
    if edges:
        lines.append("- **Learning rate at the edge of the budget** (column lr, \"(edge)\"): the best validation "
                     "score came at the smallest or the largest rate tried, so a rate beyond it might score higher "
                     f"and those rows may understate the strategy: {', '.join(edges)}.")
    for (a, b), verdicts in by_pair.items():
        parts = [f"{v} on {', '.join(where)}" for v, where in verdicts.items()]
        lines.append(f"- **{a} vs {b}**: {'; '.join(parts)}.")
    ratios = {preset: [r["energy_uj"] / r["ann_uj"] for _, r in chosen[(preset, "taaf")]]
              for preset in presets if (preset, "taaf") in chosen}
    ratios = {k: finite(v) for k, v in ratios.items() if finite(v)}
    if ratios:
        means = [statistics.mean(v) for v in ratios.values()]
        lines.append(f"- **Energy** (row taaf, column SNN / ANN): the spiking network's estimated energy per sample "
                     f"is {_span(means)} of the same network run as an ANN, on "
                     f"{len(means)} preset{'s' if len(means) > 1 else ''} (an estimate from counted operations, "
                     "not a measurement; docs/method.md).")
    gaps = []
    for preset in presets:
        best = unimodal_best(chosen, preset)
        cells = [f"{label} {reached([coordination(r, best)['gap'] for _, r in chosen[(preset, label)]])}"
                 for label in ("taaf", "concat") if (preset, label) in chosen]
        if cells:
            gaps.append(f"{preset}: {', '.join(cells)}")
    if gaps:
        lines.append("- **Coordination** (column gap: steps between the audio and visual heads reaching 90 % of "
                     "their unimodal-alone best; not a tested claim): " + "; ".join(gaps) + ".")
    return [*lines, ""]


def p_text(p: float) -> str:
    """A p-value to three decimals, with a fourth where rounding would put it on the other side of ALPHA."""
    if p < 0.001:
        return "< 0.001"
    text = f"{p:.3f}"
    return text if (float(text) < ALPHA) == (p < ALPHA) else f"{p:.4f}"


def _span(xs: list[float]) -> str:
    lo, hi = f"{min(xs):.3f}", f"{max(xs):.3f}"
    return lo if lo == hi else f"{lo}-{hi}"
