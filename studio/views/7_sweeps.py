"""Page 7 — Sweeps: the queue (which ran, which trains, which wait), cancelling run by run, and the results so far:
per strategy mean ± std over distinct seeds and paired verdicts, with the report's statistics (core/sweep.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core import sweep, sweep_queue
from core.errors import TAAFError
from studio.settings import runs_dir
from studio.ui import look, session, sweep_form

st.title("Sweeps")
look.apply()
session.show_flash()
sweep_form.sweep_sidebar()
folder = runs_dir()
queue = sweep_queue.rows(folder)
if not queue:
    st.info("No sweep queued yet. Open **Sweep (many runs)** in the sidebar, or run "
            "`python -m core.sweep --strategies taaf concat --seeds 0-4`.")
    st.stop()
if sweep_queue.ensure_runner(folder):  # runs wait and no runner is alive (a restart): re-attach
    st.toast("Sweep runner started again: it continues the queue.")
names = list(dict.fromkeys(r["sweep"] for r in queue))
opened = st.session_state.pop("sweep_opened", None)
name = st.selectbox("Sweep", names[::-1], index=names[::-1].index(opened) if opened in names else 0, key="sw_view")
rows = [r for r in queue if r["sweep"] == name]
counts = pd.Series([r["state"] for r in rows]).value_counts().to_dict()
st.caption(" · ".join(f"{n} {s}" for s, n in counts.items()) + (" · the runner is alive"
                                                                  if sweep_queue.runner_alive(folder) else ""))
table = pd.DataFrame([{"id": r["id"], "run": r["name"], "state": r["state"],
                       "run folder": Path(r["run_dir"]).name if r["run_dir"] else "",
                       "error": r["error"] or ""} for r in rows])
st.dataframe(table, hide_index=True, width="stretch")


def _cancel(row_id: int) -> None:
    try:
        session.flash(sweep_queue.cancel(folder, row_id), "info")
    except TAAFError as e:
        session.flash(str(e), "error")


open_rows = {r["id"]: r["name"] for r in rows if r["state"] in ("waiting", "training")}
if open_rows:
    c1, c2 = st.columns([3, 1])
    which = c1.selectbox("Cancel a run", list(open_rows), format_func=open_rows.get, key="sw_cancel_pick")
    c2.button("Cancel it", icon=":material/cancel:", on_click=_cancel, args=(which,), key="sw_cancel",
              width="stretch")
    if st.button("Refresh", icon=":material/refresh:", key="sw_refresh"):
        st.rerun()

st.subheader("Results so far")
try:
    groups, verdicts = sweep.results(folder, name)
except TAAFError as e:
    st.error(f"Cannot read the sweep's runs: {e}")
    st.stop()
if not groups:
    st.caption("Results appear when the first run has finished.")
    st.stop()
st.dataframe(pd.DataFrame(groups).rename(columns={"seeds": "distinct seeds", "test_f": "test acc (fused)"}),
             hide_index=True, width="stretch")
if verdicts:
    st.dataframe(pd.DataFrame(verdicts), hide_index=True, width="stretch",
                 column_config={"diff": st.column_config.NumberColumn("mean A − B", format="%.3f"),
                                "ci": "mean A − B [95 % CI]",
                                "p_holm": st.column_config.NumberColumn("p (Holm)", format="%.3g")})
st.caption("Fused test accuracy of the best-on-validation checkpoint; mean ± std over distinct seeds. Verdicts are "
           "paired over the seeds both groups have, against the first group, Holm-adjusted over this sweep: better, "
           "equivalent within ±1 point (TOST) or inconclusive (core/report_stats.py, the report's statistics).")
finished = [r["run_dir"] for r in rows if r["state"] == "finished" and r["run_dir"]]


def _open_compare() -> None:
    st.session_state["cmp_open"] = finished


if st.button("Open these runs in Compare", icon=":material/stacked_line_chart:", on_click=_open_compare,
             key="sw_compare"):
    st.switch_page("views/2_compare.py")
