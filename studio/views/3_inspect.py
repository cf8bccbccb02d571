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
from studio.live import figures, runs
from studio.ui import inspectable, look, runlist, widgets
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


def has_checkpoint(path: str) -> bool:
    return (Path(path) / "checkpoints").is_dir() and any((Path(path) / "checkpoints").glob("*.pt"))


@st.cache_data(max_entries=256, show_spinner=False)
def run_meta(path: str, updated: float) -> dict[str, Any]:
    """The run's meta ({} when unreadable: then it is taken as ours, and loading it says what is wrong)."""
    try:
        with runlist.reader(path) as r:
            return r.meta()
    except TAAFError:
        return {}


def recorded_rasters(path: str) -> None:
    """What a run the what-if cannot rebuild did record: each modality's spikes at its last probe step."""
    try:
        snap = runs.snapshot(runs.token_for(path))
        view = snap.view if snap is not None else None
        arrays = runs.probe_arrays(path, view.probe_steps[-1]) if view is not None and view.probe_steps else {}
    except TAAFError as e:
        st.error(f"Cannot read this run: {plain(e)}")
        return
    if view is None or not any(k.startswith("spikes/") for k in arrays):
        st.caption("It recorded no spikes to show here either; **Replay** shows everything it recorded.")
        return
    step = view.probe_steps[-1]
    n = next(a.shape[0] for k, a in arrays.items() if k.startswith("spikes/"))
    probe = int(st.number_input(f"probe sample (0–{n - 1})", 0, n - 1, 0, key=f"ins_probe_{n}"))
    st.subheader(f"What it recorded: its probe samples' spikes at step {step}")
    for i, modality in enumerate(view.modalities):
        figs = figures.raster_figures(view, arrays, step, probe, modality, 200, figures.ALL_LAYERS)
        if "raster" in figs:
            st.markdown(f"**{plain(modality)}**")
            widgets.plot(figs["raster"], f"ins_raster_{i}")


st.title("Inspect a sample (what-if)")
look.apply()  # one Stop only (the studio's), no red focus ring on selectors
explain("Pick a test sample, damage one modality (noise, occlusion, or remove it) and watch how the trained "
        "network reacts: which audio and visual neurons fire, **when** TAAF's attention α_u(t) looks at each "
        "modality, and how the fused prediction builds up as timesteps arrive. Audio and visual encoders run at "
        "their own number of timesteps and attention at the common T, so every panel is drawn on a **normalised "
        "time axis** from 0 (first step) to 1 (last step): step i of n covers [i/n, (i+1)/n].")
table = runlist.all_runs_or_stop()
done = table[table["status"].isin(["finished", "stopped", "interrupted"])] if len(table) else table
# our runs with a checkpoint (the what-if rebuilds them), and runs of other loops (their recorded rasters instead)
done = done[[has_checkpoint(p) or not inspectable.ours(run_meta(p, float(u or 0)))
             for p, u in zip(done["path"], done.get("updated", [0] * len(done)), strict=True)]] if len(done) else done
if done.empty:
    st.info("No trained run with a checkpoint yet. Finish a run on **Train & watch** (or use the demo run).")
    st.stop()
rows = {str(r["path"]): r for r in done.to_dict("records")}
rows = {p: rows[p] for p in sorted(rows, key=lambda p: not has_checkpoint(p))}  # what-if runs first (the default)
path = st.selectbox("Trained run", list(rows), format_func=runlist.labeller(rows), key="ins_run")
updated = float(rows[path].get("updated") or 0)
if blocker := inspectable.whatif_blocker(run_meta(path, updated), has_checkpoint(path)):
    st.info(plain(blocker))  # (names from the run folder: shown as text)
    recorded_rasters(path)
    st.stop()
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

events = getattr(test, "events", None)  # AV-Digits-T: where each sample's word and digit really are
event = ((int(events["visual_on"][index]), int(events["visual_off"][index]))
         if isinstance(events, dict) and {"visual_on", "visual_off"} <= set(events) else None)
left, right = st.columns([3, 2])
with left:
    widgets.plot(inspection.inputs_figure(res["audio"], res["visual"], res.get("audio_range"),
                                           res.get("visual_range"), event), "ins_inputs")
    st.caption("The inputs as the network sees them (after the damage chosen in the sidebar)."
               + (" Outlined: the frames where the digit really shows." if event is not None else ""))
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
