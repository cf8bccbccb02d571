"""The report's comparisons: the pre-registered primary family (CIs, TOST verdicts, Holm over the family only,
the power of the design), the exploratory comparisons, "What holds" written from those verdicts, and the energy
section with its parts. The arithmetic is in core/report_stats.py."""

from __future__ import annotations

from dataclasses import dataclass

from core.report_stats import ALPHA, MARGIN, PairedStats, fmt_ci, holm, p_text, paired_stats, seeds_needed, verdict


@dataclass(frozen=True)
class Design:
    """What the report pre-registered, passed in by core/report.py."""

    primary_pairs: list[tuple[str, str]]
    headline_presets: list[str]
    exploratory_pairs: list[tuple[str, str]]
    lowest: float  # the smallest and largest learning-rate factors the grid may extend to
    highest: float


@dataclass(frozen=True)
class Comparison:
    preset: str
    a: str
    b: str
    st: PairedStats
    p_holm: float | None = None  # primary family only
    p_eq_holm: float | None = None

    @property
    def verdict(self) -> str:
        return verdict(self.a, self.b, self.st, self.p_holm, self.p_eq_holm)


def diffs(chosen: dict, preset: str, a: str, b: str) -> list[float]:
    """Per-seed A - B of fused test accuracy over the seeds both have (the same seed = the same data draws)."""
    if (preset, a) not in chosen or (preset, b) not in chosen:
        return []
    rb = dict(chosen[(preset, b)])
    out = [r["test_f"] - rb[s]["test_f"] for s, r in chosen[(preset, a)] if s in rb]
    return [d for d in out if d == d]


def primary(chosen: dict, design: Design) -> list[Comparison]:
    """The primary family, Holm-adjusted over all its comparisons (difference and equivalence p-values each)."""
    rows = [(p, a, b, st) for p in design.headline_presets for a, b in design.primary_pairs
            if (st := paired_stats(diffs(chosen, p, a, b))) is not None]
    q = holm([st.p for *_, st in rows])
    q_eq = holm([st.p_equivalence for *_, st in rows])
    return [Comparison(p, a, b, st, qi, qe) for (p, a, b, st), qi, qe in zip(rows, q, q_eq, strict=True)]


def exploratory(chosen: dict, presets: list[str], design: Design) -> list[Comparison]:
    """Every other comparison that ran, unadjusted."""
    rows = []
    for p in presets:
        for a, b in design.exploratory_pairs:
            if p in design.headline_presets and (a, b) in design.primary_pairs:
                continue
            if (st := paired_stats(diffs(chosen, p, a, b))) is not None:
                rows.append(Comparison(p, a, b, st))
    return rows


def _power(st: PairedStats, effect: float) -> str:
    n = seeds_needed(effect, st.sd)
    return "> 1000" if n is None else str(n)


def pair_sections(chosen: dict, presets: list[str], design: Design) -> list[str]:
    fam = primary(chosen, design)
    lines = ["## Primary comparisons (pre-registered)", "",
             f"Family: {', '.join(f'{a} − {b}' for a, b in design.primary_pairs)} on "
             f"{', '.join(design.headline_presets)} ({len(fam)} tests). Per-seed difference of fused test "
             f"accuracy; 95 % CI from the paired t distribution; p of the two-sided paired t-test and p of the "
             f"equivalence test (TOST, margin ±{MARGIN * 100:g} point), both Holm-adjusted over this family only. "
             f"Verdict: \"A better\" / \"B better\" when p (Holm) < {ALPHA}, \"equivalent\" when the TOST p "
             f"(Holm) < {ALPHA}, else \"inconclusive\" (the data allow a difference of a point or more, and do "
             "not show one). SD = observed SD of the paired differences; seeds needed = paired seeds for 80 % "
             f"power at alpha {ALPHA} (two-sided paired t) if the true difference were 1 or 2 points and the SD "
             "the observed one.", ""]
    if fam:
        lines += ["| preset | A − B | seeds | mean [95 % CI] | SD | p (Holm) | TOST p (Holm) | verdict "
                  "| seeds for 1 pt | seeds for 2 pts |", "|---|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {c.preset} | {c.a} − {c.b} | {c.st.n} | {fmt_ci(c.st)} | {c.st.sd:.3f} | {p_text(c.p_holm)} "
                  f"| {p_text(c.p_eq_holm)} | {c.verdict} | {_power(c.st, 0.01)} | {_power(c.st, 0.02)} |"
                  for c in fam]
    else:
        lines.append("No primary comparison has two paired seeds yet.")
    rows = exploratory(chosen, presets, design)
    lines += ["", "## Exploratory comparisons", "",
              "Not pre-registered and not corrected for multiplicity: read as leads, not findings. Same columns, "
              "with raw p-values.", ""]
    if rows:
        lines += ["| preset | A − B | seeds | mean [95 % CI] | SD | p | TOST p | verdict (exploratory) |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {c.preset} | {c.a} − {c.b} | {c.st.n} | {fmt_ci(c.st)} | {c.st.sd:.3f} | {p_text(c.st.p)} "
                  f"| {p_text(c.st.p_equivalence)} | {c.verdict} |" for c in rows]
    return [*lines, ""]


def claims_section(chosen: dict, presets: list[str], design: Design, edges: list[str]) -> list[str]:
    """"What holds and what does not", from the primary verdicts only; exploratory ones are named as such."""
    fam = primary(chosen, design)
    lines = ["## What holds and what does not", "",
             "Written by the report from the primary table below (pre-registered comparisons, Holm over that "
             "family): each sentence is one row. Anything else in this file is exploratory.", ""]
    if not fam:
        lines.append("- Nothing yet: no primary comparison has two paired seeds.")
    for c in fam:
        lines.append(f"- **{c.a} vs {c.b}** on {c.preset}: {c.verdict} (mean {fmt_ci(c.st)}, {c.st.n} seeds).")
    by_verdict: dict[str, int] = {}
    for c in exploratory(chosen, presets, design):
        kind = "inconclusive" if c.verdict == "inconclusive" else (
            "equivalent" if c.verdict.startswith("equivalent") else "a difference")
        by_verdict[kind] = by_verdict.get(kind, 0) + 1
    if by_verdict:
        lines.append("- Exploratory (not corrected, not claims): "
                     + ", ".join(f"{n} {k}" for k, n in sorted(by_verdict.items())) + ".")
    if edges:
        lines.append("- **Learning rate at the edge of its grid** (column lr): a rate beyond it might score "
                     f"higher, so those rows may understate the strategy: {', '.join(edges)}.")
    return [*lines, ""]


def energy_section(chosen: dict, design: Design) -> list[str]:
    """Per-layer energy of taaf on each headline preset (its first seed's best checkpoint): MACs, SOPs, pJ, and
    the ANN reference at fp32 and int8 (core/energy.py states the pJ per operation and their source)."""
    from core.energy_table import energy_parts

    lines = ["## Energy, by layer", ""]
    for preset in design.headline_presets:
        runs = chosen.get((preset, "taaf"))
        if not runs:
            continue
        try:
            parts = energy_parts(runs[0][1]["run_dir"])
        except Exception as e:  # noqa: BLE001 (a table that cannot be made is said so, the report goes on)
            lines += [f"{preset}: not computed ({type(e).__name__}: {e}).", ""]
            continue
        lines += [f"{preset}, taaf seed {runs[0][0]} (best checkpoint, {parts['samples']} validation samples):", "",
                  *parts["table"], ""]
    return lines if len(lines) > 2 else []

