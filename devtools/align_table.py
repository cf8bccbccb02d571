"""The aligner comparison on AV-Digits-T (docs/method.md, "Time alignment on AV-Digits-T") as a markdown table.

    python -m devtools.align_table RUNS_DIR [--base learned]

Reads runs named `avdt-align-<align>-s<seed>` under RUNS_DIR (the loop in docs/method.md writes them), and prints
per aligner the fused test accuracy over seeds, the best validation accuracy, and how well each probe's attention
follows its own events (core/attention_events.py, last snapshot); then each aligner against `--base`, paired by
seed, with the report's statistics (core/report_stats.py: 95 % CI, verdict, seeds needed for 80 % power).
Exploratory: no correction over the three comparisons.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

import numpy as np

from core.attention_events import correlations
from core.report_stats import paired_stats, seeds_needed, verdict
from core.store import RunReader

NAME = re.compile(r"avdt-align-(?P<align>[a-z]+)-s(?P<seed>\d+)$")
ORDER = ("learned", "fixed", "none", "cross")


def read_run(run: Path) -> dict[str, float]:
    r = RunReader(run)
    if r.status()["status"] != "finished":
        raise SystemExit(f"error: {run}: not finished ({r.status()['status']})")
    meta = r.meta()
    val = r.scalars("epoch", keys=["val_acc_f"])["val_acc_f"].dropna()
    probe = r.arrays(r.array_steps()[-1])
    corr = correlations(probe["alpha"], probe["events"], meta["input_frames"])
    return {"test": float(meta["test"]["acc_f"]), "val": float(val.max()),
            **{f"corr_{k}": float(np.nanmean(v)) for k, v in corr.items()}}


def table(runs_dir: Path, base: str) -> str:
    found: dict[str, dict[int, dict[str, float]]] = {}
    for run in sorted(runs_dir.iterdir()):
        if (m := NAME.match(run.name)) and run.is_dir():
            found.setdefault(m["align"], {})[int(m["seed"])] = read_run(run)
    if base not in found:
        raise SystemExit(f"error: {runs_dir}: no avdt-align-{base}-s<seed> runs")
    aligns = [a for a in ORDER if a in found] + sorted(set(found) - set(ORDER))
    lines = ["| `model.align` | seeds | fused test, mean ± SD (min - max) | best validation | attention vs the "
             "word / the digit (mean r) |", "|---|---|---|---|---|"]
    for a in aligns:
        rows = [found[a][s] for s in sorted(found[a])]
        test = [r["test"] for r in rows]
        sd = statistics.stdev(test) if len(test) > 1 else 0.0
        lines.append(f"| {a} | {len(rows)} | {statistics.mean(test):.3f} ± {sd:.3f} ({min(test):.3f} - "
                     f"{max(test):.3f}) | {statistics.mean(r['val'] for r in rows):.3f} | "
                     f"{statistics.mean(r['corr_audio'] for r in rows):+.2f} / "
                     f"{statistics.mean(r['corr_visual'] for r in rows):+.2f} |")
    lines += ["", "| A - B (paired by seed) | n | mean, 95 % CI (points) | verdict | SD (points) | seeds for 80 % "
                  "power at 1 / 2 points |", "|---|---|---|---|---|---|"]
    for a in aligns:
        if a == base:
            continue
        seeds = sorted(set(found[a]) & set(found[base]))
        st = paired_stats([found[a][s]["test"] - found[base][s]["test"] for s in seeds])
        if st is None:
            lines.append(f"| {a} - {base} | {len(seeds)} | fewer than two paired seeds | | | |")
            continue
        need = [seeds_needed(e, st.sd) for e in (0.01, 0.02)]
        ci = f"{100 * st.mean:+.1f} [{100 * st.ci_low:+.1f}, {100 * st.ci_high:+.1f}]"
        lines.append(f"| {a} - {base} | {st.n} | {ci} | {verdict(a, base, st)} | {100 * st.sd:.2f} | "
                     f"{' / '.join(str(n) if n else '>1000' for n in need)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devtools.align_table", description=__doc__.split("\n\n")[0])
    ap.add_argument("runs_dir", type=Path)
    ap.add_argument("--base", default="learned", help="the aligner the others are compared with")
    args = ap.parse_args(argv)
    print(table(args.runs_dir, args.base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
