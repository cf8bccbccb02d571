"""What the Compare page tabulates, as pure functions (no Streamlit): which runs are the same experiment,
human names for metric columns, and mean ± std over distinct seeds per strategy x preset.

Two runs with the same config and the same seed are bit-identical (tests/test_train.py), so a second copy
is no new evidence: it is counted once, and the page says which runs are copies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

# Keys that only say where and how loudly a run records: they never change what it learns.
NOT_THE_EXPERIMENT = (("record", "runs_dir"), ("record", "progress"))

LABELS = {
    "val_acc_f": "val acc (fused)", "val_acc_a": "val acc (audio head)", "val_acc_v": "val acc (visual head)",
    "val_loss": "val loss", "train_acc_f": "train acc (fused)", "train_acc_a": "train acc (audio head)",
    "train_acc_v": "train acc (visual head)", "shapley_a": "Shapley (audio)", "shapley_v": "Shapley (visual)",
    "energy_uj": "energy (µJ / sample)", "sops": "synaptic ops / sample", "epoch_time": "epoch time (s)",
    "loss": "train loss (total)", "loss_f": "train loss (fused)", "acc_f": "batch acc (fused)",
    "acc_a": "batch acc (audio head)", "acc_v": "batch acc (visual head)", "rho_a": "score ratio ρ_a",
    "k_a": "coefficient k (audio)", "k_v": "coefficient k (visual)", "lr_a": "lr (audio)", "lr_v": "lr (visual)",
    "gnorm_a": "grad norm (audio)", "gnorm_v": "grad norm (visual)", "samples_per_s": "samples / s",
    "last_val_acc_f": "last val acc (fused)", "test_acc_f": "test acc (fused)", "epochs": "epochs",
    "total_steps": "total steps", "strategy": "strategy",
    "preset": "preset", "seed": "seed", "steps": "steps", "status": "status", "name": "run", "problem": "problem",
}
PJ_PER_UJ = 1e6
MISSING = "—"


def label(key: str) -> str:
    """A metric's or column's name for people (the key itself when there is none)."""
    return LABELS.get(key, key)


# Per-modality keys of a modality other than audio and visual (core/runlog.py), by scope, with their labels
MODALITY_KEYS = {"epoch": (("val_acc_{}", "val acc ({} head)"), ("train_acc_{}", "train acc ({} head)")),
                 "step": (("acc_{}", "batch acc ({} head)"), ("loss_{}", "train loss ({})"),
                          ("k_{}", "coefficient k ({})"), ("lr_{}", "lr ({})"))}


def modality_metrics(streams: Sequence[Mapping[str, str]]) -> dict[str, dict[str, str]]:
    """{scope: {key: label}} for the modalities beyond audio and visual that the chosen runs record (each run's
    {suffix: name}, studio/charts/streams.py): a run of three modalities compares its third too."""
    out: dict[str, dict[str, str]] = {"epoch": {}, "step": {}}
    for run in streams:
        for u, name in run.items():
            if u in ("a", "v", "f"):
                continue
            for scope, keys in MODALITY_KEYS.items():
                out[scope].update({key.format(u): text.format(name) for key, text in keys})
    return out


def with_energy_uj(df: pd.DataFrame) -> pd.DataFrame:
    """`energy_uj` (µJ per sample, as the Train page shows it) beside a frame's `energy_pj`."""
    if "energy_pj" not in df.columns:
        return df
    return df.assign(energy_uj=pd.to_numeric(df["energy_pj"], errors="coerce") / PJ_PER_UJ)


def fingerprint(config: Mapping[str, Any]) -> str:
    """A short hash of everything in a run's config that decides its numbers (the seed included)."""
    cfg = json.loads(json.dumps(config, default=str))
    for section, key in NOT_THE_EXPERIMENT:
        if isinstance(cfg.get(section), dict):
            cfg[section].pop(key, None)
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]


def duplicate_groups(finals: pd.DataFrame) -> list[list[str]]:
    """Names of runs that share a fingerprint (same config and seed: bit-identical), two or more per group."""
    if finals.empty or "fingerprint" not in finals.columns:
        return []
    groups = finals.dropna(subset=["fingerprint"]).groupby("fingerprint", sort=False)["run"].apply(list)
    return [names for names in groups if len(names) > 1]


def differing_copies(finals: pd.DataFrame, metrics: Sequence[str]) -> list[list[str]]:
    """Groups of `duplicate_groups` whose finished runs do not agree on every metric: the same config and seed
    should give the same numbers, so something outside the config differed (torch or library versions, the
    machine, or a run from before the CLI and the studio resolved threads alike)."""
    out = []
    for names in duplicate_groups(finals):
        g = finals[finals["run"].isin(names)]
        if "status" in g.columns:
            g = g[g["status"] == "finished"]
        cols = [m for m in metrics if m in g.columns]
        if len(g) > 1 and any(pd.to_numeric(g[m], errors="coerce").nunique(dropna=False) > 1 for m in cols):
            out.append(list(g["run"]))
    return out


def _number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4f}" if abs(x) < 10 else f"{x:.2f}"


def _one_per_experiment(finals: pd.DataFrame) -> pd.DataFrame:
    """The first run of each fingerprint, with `_copies` = how many chosen runs it stands for."""
    if "fingerprint" not in finals.columns:
        return finals.assign(_copies=1)
    known = finals["fingerprint"].notna()
    copies = finals.groupby("fingerprint")["run"].transform("size")
    out = finals.assign(_copies=copies.where(known, 1))
    return out[~known | ~out.duplicated("fingerprint")]


def summary_table(finals: pd.DataFrame, metrics: Sequence[str],
                  by: Sequence[str] = ("strategy", "preset")) -> pd.DataFrame:
    """Mean ± std (sample std over seeds) of each metric per strategy x preset, with human column names.

    `finals` has one row per run: `run`, `seed`, `fingerprint` and the metrics. Copies of a run (same
    fingerprint) count once; `n seeds` is the number of distinct seeds left, `runs` how many runs were
    chosen. A metric that no run of a group has is a dash.
    """
    by = [b for b in by if b in finals.columns]
    cols = [*(label(b) for b in by), "n seeds", "runs", *(label(m) for m in metrics)]
    if finals.empty or not by:
        return pd.DataFrame(columns=cols)
    unique = _one_per_experiment(finals)
    rows = []
    for key, g in unique.groupby(by, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, object] = {label(b): (MISSING if pd.isna(k) else k) for b, k in zip(by, key, strict=True)}
        row["n seeds"] = int(g["seed"].nunique()) if "seed" in g.columns else len(g)
        row["runs"] = int(g["_copies"].sum())
        for m in metrics:
            v = pd.to_numeric(g[m], errors="coerce").dropna() if m in g.columns else pd.Series(dtype=float)
            row[label(m)] = (MISSING if v.empty else _number(v.iloc[0]) if len(v) == 1
                             else f"{_number(v.mean())} ± {_number(v.std(ddof=1))}")
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def readable(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The chosen columns of a run listing, with human names and a dash for anything missing (never "None")."""
    cols = [c for c in columns if c in table.columns]
    out = pd.DataFrame({label(c): [_cell(v) for v in table[c]] for c in cols}, index=table.index)
    return out


def _cell(v: object) -> str:
    """One listing cell as text (a column mixing numbers and dashes cannot go to the browser as numbers)."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return MISSING
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) >= 1 else _number(v)
    return str(v)
