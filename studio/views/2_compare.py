"""Page 2 — Compare runs: overlay metric curves and tabulate final metrics (mean ± std over distinct seeds
per strategy x preset; copies of a run, same config and seed, count once)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.errors import TAAFError
from studio import settings
from studio.charts import curves as charts
from studio.charts.events import mark_events
from studio.charts.streams import run_streams
from studio.live.rundata import MAX_ROWS, thin
from studio.ui import compare, look, runlist, steering, widgets
from studio.ui.text import plain

# Metrics of the run as a whole; each modality's own (val acc of its head, its k, lr ...) come from the chosen
# runs' modality names (compare.modality_metrics), matched by name, never by first letter
EPOCH_METRICS = ["val_acc_f", "val_loss", "train_acc_f", "energy_uj", "sops", "epoch_time"]
STEP_METRICS = ["loss", "loss_f", "acc_f", "rho_a", "lr_f", "samples_per_s"]
FINAL = ["val_acc_f", "energy_uj"]  # around the column group of each modality (compare.final_metrics)
STORED = {"energy_uj": "energy_pj"}  # shown in µJ, stored in pJ


@st.cache_data(max_entries=32, ttl=120, show_spinner=False)
def scalars(path: str, scope: str, keys: tuple[str, ...] | None, updated: float) -> pd.DataFrame:
    """Scalars of one run (thinned for drawing); `updated` in the key refreshes live runs."""
    with runlist.reader(path) as r:
        return compare.with_energy_uj(thin(r.scalars(scope, keys=list(keys) if keys else None), MAX_ROWS))


@st.cache_data(max_entries=64, show_spinner=False)
def fingerprint(path: str, updated: float) -> str | None:
    """What decides a run's numbers (config with its seed), hashed: equal for bit-identical copies."""
    try:
        with runlist.reader(path) as r:
            return compare.fingerprint(r.config())
    except TAAFError:
        return None


@st.cache_data(max_entries=64, show_spinner=False)
def streams(path: str, updated: float) -> dict[str, str]:
    """The run's streams ({suffix: name}: its modalities, then fused); audio and visual when unreadable."""
    try:
        with runlist.reader(path) as r:
            return run_streams(r.meta())
    except TAAFError:
        return run_streams(None)


st.title("Compare runs")
look.apply()  # one Stop only (the studio's), no red focus ring on selectors
table = runlist.all_runs_or_stop()
if table.empty:
    st.info(f"No runs in {plain(settings.runs_dir())} yet. Train some on the **Train & watch** page.")
    st.stop()

with st.expander("All runs", expanded=False):
    cols = [c for c in ("name", "status", "strategy", "preset", "T", "epochs", "seed", "steps", "total_steps",
                        "last_val_acc_f", "test_acc_f", "problem") if c in table.columns]
    st.dataframe(compare.readable(table, cols), hide_index=True, width="stretch")

ok = table[table["status"] != "unknown"]
rows = {str(r["path"]): r for r in ok.to_dict("records")}
default = [p for p, r in rows.items() if r["status"] == "finished" and not r["demo"]][:6] or list(rows)[:3]
if opened := st.session_state.pop("cmp_open", None):  # a sweep's runs (the Sweeps page's button)
    wanted = {Path(o).resolve() for o in opened}
    st.session_state["cmp_runs"] = [p for p in rows if Path(p).resolve() in wanted]
chosen = st.multiselect("Runs", list(rows), default=None if "cmp_runs" in st.session_state else default,
                        format_func=runlist.labeller(rows), key="cmp_runs")
if not chosen:
    st.info("Choose one or more runs above.")
    st.stop()

c1, c2 = st.columns([2, 1])
run_streams_of = {p: streams(p, float(rows[p].get("updated") or 0)) for p in chosen}
more = compare.modality_metrics(list(run_streams_of.values()))
labels = {k: m.label for scope_metrics in more.values() for k, m in scope_metrics.items()}
epoch_metrics = EPOCH_METRICS[:1] + list(more["epoch"]) + EPOCH_METRICS[1:]
metric = c1.selectbox("Metric", epoch_metrics + STEP_METRICS + list(more["step"]), key="cmp_metric",
                      format_func=lambda k: compare.label(k, labels),
                      help="per-epoch metrics (validation, Shapley, energy) or per-step training signals")
scope = "epoch" if metric in epoch_metrics else "step"
x = c2.radio("x axis", ["epoch", "step"] if scope == "epoch" else ["step"], horizontal=True, key="cmp_x")
curves, problems = {}, []
for p in chosen:
    column = compare.run_column(metric, more[scope], run_streams_of[p])
    if column is None:  # the run does not record this modality
        continue
    try:
        df = scalars(p, scope, (STORED.get(column, column),), float(rows[p].get("updated") or 0))
        curves[rows[p]["name"]] = df.rename(columns={column: metric})
    except TAAFError as e:
        problems.append(f"{rows[p]['name']}: {e}")
for msg in problems:
    st.error(plain(msg))
if scope == "step":
    curves = {k: v.assign(**{metric: charts.smooth(v[metric], 20)}) if metric in v else v for k, v in curves.items()}
figure = charts.compare_figure(curves, metric, x, compare.label(metric, labels))
if x == "step":  # steering events of the chosen runs, on the step axis
    named = {rows[p]["name"]: p for p in chosen}
    events = steering.compare_events(named, {n: float(rows[p].get("updated") or 0) for n, p in named.items()})
    figure = mark_events(figure, events, axes=["x"])
widgets.plot(figure, "cmp_fig")
if scope == "step":
    st.caption("Per-step signals are smoothed (moving average over about 20 steps).")

st.subheader("Final metrics")
st.caption("Last recorded epoch of each chosen run; mean ± std (sample std) over the distinct seeds of each "
           "strategy and preset. Runs with the same config and seed are bit-identical: they count once.")
per_modality = compare.final_metrics(compare.modalities_of(list(run_streams_of.values())))
finals = []
for p in chosen:
    updated = float(rows[p].get("updated") or 0)
    try:
        ep = scalars(p, "epoch", None, updated)
    except TAAFError:
        continue
    last = ep.dropna(subset=["val_acc_f"]).iloc[-1] if "val_acc_f" in ep and ep["val_acc_f"].notna().any() else None
    columns = {m: m for m in FINAL} | {k: metric.column(run_streams_of[p]) for k, metric in per_modality.items()}
    finals.append({"run": rows[p]["name"], "strategy": rows[p].get("strategy"), "preset": rows[p].get("preset"),
                   "seed": rows[p].get("seed"), "status": rows[p]["status"], "fingerprint": fingerprint(p, updated),
                   **{k: (last[c] if last is not None and c in last else None) for k, c in columns.items()}})
finals_df = pd.DataFrame(finals)
# a column group per modality the chosen runs record, by its own name; a Shapley column only where one has it
shown = [k for k, metric in per_modality.items() if metric.prefix == "val_acc" or
         (k in finals_df and pd.to_numeric(finals_df[k], errors="coerce").notna().any())]
final = [*FINAL[:1], *shown, *FINAL[1:]]
final_labels = {k: metric.label for k, metric in per_modality.items()}
differ = compare.differing_copies(finals_df, final)
for names in compare.duplicate_groups(finals_df):
    st.warning(f"{plain(', '.join(names))} have the same config and seed, so the same numbers (bit-identical): "
               "counted once in the table, and drawn as one line in the chart. Use another seed "
               "(train.seed) for a second sample.")
for names in differ:
    st.warning(f"{', '.join(names)} have the same config and seed but different final numbers: something "
               "outside the config differed (torch version, machine, or a run older than the rule that makes "
               "the command line and Start train alike). The table shows the first of them only.")
if len(finals_df):
    st.dataframe(compare.summary_table(finals_df, final, labels=final_labels), hide_index=True, width="stretch")
    with st.expander("Per run"):
        st.dataframe(compare.readable(finals_df, ["run", "strategy", "preset", "seed", "status", *final], final_labels),
                     hide_index=True, width="stretch")

st.subheader("Export")
which = st.selectbox("Run to export", chosen, format_func=lambda p: rows[p]["name"], key="cmp_export")
widgets.download_buttons(which, "cmp_dl")
st.caption("Every figure has plotly's camera button (top right of the chart) to save it as PNG, "
           "and a button beside it for SVG (vector, for papers).")
