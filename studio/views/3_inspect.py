"""Page 3 — Inspect a sample: corrupt one test input and see each modality's spikes, TAAF's attention
on them, time-aligned, and the fused prediction building up over the timesteps."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from core.errors import TAAFError
from studio.charts import inspection, rasters
from studio.ui import look, runlist, widgets
from studio.ui.text import plain
from studio.ui.widgets import explain


@st.cache_resource(max_entries=2, show_spinner="Loading the trained network…")
def trained(path: str, updated: float) -> Any:
    """The run's best checkpoint and its data (two runs kept: a model is a few MB)."""
    from core.whatif import load_trained  # torch import: only when this page is used

    return load_trained(path)


@st.cache_data(max_entries=32, show_spinner=False)
def what_if(path: str, updated: float, index: int, knobs: tuple, seed: int) -> dict[str, Any]:
    from core.whatif import what_if as run_what_if

    return run_what_if(trained(path, updated), index, dict(knobs), seed)


st.title("Inspect a sample (what-if)")
look.apply()  # one Stop only (the studio's), no red focus ring on selectors
explain("Pick a test sample, damage one modality (noise, occlusion, or remove it) and watch how the trained "
        "network reacts: which audio and visual neurons fire, **when** TAAF's attention α_u(t) looks at each "
        "modality, and how the fused prediction builds up as timesteps arrive. Audio and visual encoders run at "
        "their own number of timesteps and attention at the common T, so every panel is drawn on a **normalised "
        "time axis** from 0 (first step) to 1 (last step): step i of n covers [i/n, (i+1)/n].")
table = runlist.all_runs_or_stop()
done = table[table["status"].isin(["finished", "stopped", "interrupted"])] if len(table) else table
done = done[[(Path(p) / "checkpoints").is_dir() and any((Path(p) / "checkpoints").glob("*.pt"))
             for p in done["path"]]] if len(done) else done
if done.empty:
    st.info("No trained run with a checkpoint yet. Finish a run on **Train & watch** (or use the demo run).")
    st.stop()
rows = {str(r["path"]): r for r in done.to_dict("records")}
path = st.selectbox("Trained run", list(rows), format_func=runlist.labeller(rows), key="ins_run")
updated = float(rows[path].get("updated") or 0)
try:
    tr = trained(path, updated)
except (TAAFError, OSError, RuntimeError) as e:
    st.error(f"Cannot load this run's network: {plain(e)}")
    st.stop()
test, names = tr.bundle.test, list(tr.bundle.class_names)

with st.sidebar:
    st.header("Sample & damage")
    index = st.number_input(f"test sample (0–{len(test) - 1})", 0, len(test) - 1, 0, key="ins_index")
    noisy = st.checkbox("add audio noise", key="ins_noisy")
    snr = st.slider("audio SNR (dB)", -30.0, 30.0, 0.0, 1.0, key="ins_snr", disabled=not noisy)
    vnoise = st.slider("visual noise (0..16 pixel units)", 0.0, 16.0, 0.0, 0.5, key="ins_vnoise")
    occ = st.slider("occlusion (square side, px)", 0, int(min(tr.bundle.visual_shape[-2:])), 0, key="ins_occ")
    drop_a = st.checkbox("drop audio (silence)", key="ins_drop_a")
    drop_v = st.checkbox("drop visual (blank frame)", key="ins_drop_v")
    seed = st.number_input("noise seed", 0, 10_000, 0, key="ins_seed")

# Both spellings: the preset knobs (inf = off, dropout probabilities) and the what-if flags.
knobs = {"audio_snr_db": snr if noisy else math.inf, "visual_noise": vnoise, "occlusion": occ,
         "audio_dropout": 1.0 if drop_a else 0.0, "visual_dropout": 1.0 if drop_v else 0.0,
         "drop_audio": drop_a, "drop_visual": drop_v}
try:
    res = what_if(path, updated, int(index), tuple(sorted(knobs.items())), int(seed))
except (TAAFError, ValueError, IndexError, RuntimeError) as e:
    st.error(f"What-if failed: {plain(e)}")
    st.stop()

label, pred = int(res["label"]), int(res["pred"])
c = st.columns(4)
c[0].metric("true class", names[label] if label < len(names) else label)
# Right or wrong is not a change: coloured words, no up/down arrow (an arrow beside "wrong" read as "better").
c[1].metric("fused prediction", names[pred] if pred < len(names) else pred,
            delta="correct" if pred == label else "wrong", delta_color="normal" if pred == label else "inverse",
            delta_arrow="off")
probs = np.asarray(res.get("probs")) if res.get("probs") is not None else None
if probs is not None and probs.ndim == 3:
    for j, (u, col) in enumerate(zip(("audio", "visual"), c[2:], strict=True)):
        p_final = probs[j].mean(axis=0)
        col.metric(f"{u} head alone", names[int(p_final.argmax())] if names else int(p_final.argmax()))
        col.caption(f"p(true class) = {p_final[label]:.2f}")  # a probability, not a delta: no arrow

left, right = st.columns([3, 2])
with left:
    widgets.plot(inspection.inputs_figure(res["audio"], res["visual"], res.get("audio_range"),
                                           res.get("visual_range")), "ins_inputs")
    st.caption("The inputs as the network sees them (after the damage chosen in the sidebar).")
with right:
    widgets.plot(inspection.buildup_figure(res["build_up"], names, label), "ins_buildup")

st.subheader("Spikes and attention, aligned in time")
a_layers = rasters.mod_layers(tr.layers, "a") or tr.layers
v_layers = rasters.mod_layers(tr.layers, "v") or tr.layers
c1, c2 = st.columns(2)
al = c1.selectbox("audio layer", a_layers, index=len(a_layers) - 1, key="ins_al")
vl = c2.selectbox("visual layer", v_layers, index=len(v_layers) - 1, key="ins_vl")
widgets.plot(inspection.whatif_figure(res, al, vl), "ins_whatif")
ta = res[f"spikes/{al}"].shape[0] if f"spikes/{al}" in res else "?"
tv = res[f"spikes/{vl}"].shape[0] if f"spikes/{vl}" in res else "?"
st.caption(f"Audio layer: {ta} timesteps · visual layer: {tv} timesteps · attention: {tr.T} timesteps — "
           "all on normalised time [0, 1].")
