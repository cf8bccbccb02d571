"""What the Compare page tabulates, as pure functions (no Streamlit): which runs are the same experiment,
human names for metric columns, and mean ± std over distinct seeds per strategy x preset.

Two runs with the same config and the same seed are bit-identical (tests/test_train.py), so a second copy
is no new evidence: it is counted once, and the page says which runs are copies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from studio.charts.streams import modality_streams, suffix_of

# Keys that only say where and how loudly a run records: they never change what it learns.
NOT_THE_EXPERIMENT = (("record", "runs_dir"), ("record", "progress"))

LABELS = {  # per-modality metrics are labelled from each run's own modality names (modality_metrics)
    "val_acc_f": "val acc (fused)", "val_loss": "val loss", "train_acc_f": "train acc (fused)",
    "energy_uj": "energy (µJ / sample)", "sops": "synaptic ops / sample", "epoch_time": "epoch time (s)",
    "loss": "train loss (total)", "loss_f": "train loss (fused)", "acc_f": "batch acc (fused)",
    "rho_a": "score ratio ρ_a", "lr_f": "lr (fused)", "samples_per_s": "samples / s",
    "last_val_acc_f": "last val acc (fused)", "test_acc_f": "test acc (fused)", "epochs": "epochs",
    "total_steps": "total steps", "strategy": "strategy",
    "preset": "preset", "seed": "seed", "steps": "steps", "status": "status", "name": "run", "problem": "problem",
}
PJ_PER_UJ = 1e6
MISSING = "—"


def label(key: str, labels: Mapping[str, str] | None = None) -> str:
    """A metric's or column's name for people: from `labels`, else LABELS, else the key itself."""
    return (labels or {}).get(key) or LABELS.get(key, key)


# Metrics of each modality, by scope: (column prefix, label). A run's column is <prefix>_<its short name for the
# modality> (core/runlog.py): the modality is matched by its full name, so "vision" is never taken for "visual".
PER_MODALITY = {"epoch": (("val_acc", "val acc ({} head)"), ("train_acc", "train acc ({} head)"),
                          ("shapley", "Shapley ({})")),
                "step": (("acc", "batch acc ({} head)"), ("loss", "train loss ({})"), ("k", "coefficient k ({})"),
                         ("lr", "lr ({})"), ("gnorm", "grad norm ({})"))}
FINAL_PER_MODALITY = ("val_acc", "shapley")  # the final table's column group per modality


@dataclass(frozen=True)
class ModalityMetric:
    """One metric of one modality, named as the runs name it; `column` finds it in a given run."""
    prefix: str
    modality: str
    label: str

    def column(self, streams: Mapping[str, str]) -> str | None:
        """The run's column for it ({suffix: name} of the run, studio/charts/streams.py); None: no such modality."""
        suffix = suffix_of(streams, self.modality)
        return None if suffix is None else f"{self.prefix}_{suffix}"


def modalities_of(streams: Sequence[Mapping[str, str]]) -> list[str]:
    """Every modality the chosen runs record, by name, in the order they first appear."""
    return list(dict.fromkeys(name for run in streams for u, name in modality_streams(run).items()))


def modality_metrics(streams: Sequence[Mapping[str, str]]) -> dict[str, dict[str, ModalityMetric]]:
    """{scope: {option: metric}} for each modality the chosen runs record (each run's {suffix: name}); an option
    is "<prefix>@<modality>" ("val_acc@audio", "val_acc@touch"): unambiguous whatever the modalities are called."""
    mods = modalities_of(streams)
    return {scope: {f"{prefix}@{m}": ModalityMetric(prefix, m, text.format(m)) for prefix, text in keys for m in mods}
            for scope, keys in PER_MODALITY.items()}


def final_metrics(modalities: Sequence[str]) -> dict[str, ModalityMetric]:
    """The final table's column group per modality (val acc of its head, its Shapley value), modality by modality."""
    texts = dict(PER_MODALITY["epoch"])
    return {f"{p}@{m}": ModalityMetric(p, m, texts[p].format(m)) for m in modalities for p in FINAL_PER_MODALITY}


def run_column(option: str, metrics: Mapping[str, ModalityMetric], streams: Mapping[str, str]) -> str | None:
    """The column of one run that a metric option reads: its own column for a per-modality option (None when the run
    lacks the modality), else the option itself."""
    return metrics[option].column(streams) if option in metrics else option


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


def summary_table(finals: pd.DataFrame, metrics: Sequence[str], by: Sequence[str] = ("strategy", "preset"),
                  labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Mean ± std (sample std over seeds) of each metric per strategy x preset, with human column names.

    `finals` has one row per run: `run`, `seed`, `fingerprint` and the metrics. Copies of a run (same
    fingerprint) count once; `n seeds` is the number of distinct seeds left, `runs` how many runs were
    chosen. A metric that no run of a group has is a dash. `labels` names columns LABELS does not.
    """
    by = [b for b in by if b in finals.columns]
    cols = [*(label(b) for b in by), "n seeds", "runs", *(label(m, labels) for m in metrics)]
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
            row[label(m, labels)] = (MISSING if v.empty else _number(v.iloc[0]) if len(v) == 1
                             else f"{_number(v.mean())} ± {_number(v.std(ddof=1))}")
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def readable(table: pd.DataFrame, columns: Sequence[str], labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The chosen columns of a run listing, with human names and a dash for anything missing (never "None")."""
    cols = [c for c in columns if c in table.columns]
    out = pd.DataFrame({label(c, labels): [_cell(v) for v in table[c]] for c in cols}, index=table.index)
    return out


def _cell(v: object) -> str:
    """One listing cell as text (a column mixing numbers and dashes cannot go to the browser as numbers)."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return MISSING
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) >= 1 else _number(v)
    return str(v)
