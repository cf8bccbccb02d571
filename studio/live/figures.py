"""Which figure each live panel draws from a cut of a run, and what changes it (no Streamlit here).

Shared by the live cache (studio/live/runs.py: the routes and the pages' static drawing both build through it)
and the server's warm-up (studio/warmup.py), so a panel is drawn the same way wherever it appears.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.diagnostics import imbalance_verdict
from studio.charts import attention, curves, entropy, frames, imbalance, rasters, waiting
from studio.charts.events import mark_events
from studio.charts.streams import run_streams, suffix_of
from studio.live.rundata import RunView


def _alpha_now(view: RunView) -> go.Figure:
    return attention.alpha_bars_figure(view.alphas[-1], f"α now (step {view.probe_steps[-1]})", view.streams)


def _wrap(text: str, width: int = 110) -> str:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join([*lines, line])


def _imbalance(view: RunView) -> go.Figure:
    """The imbalance diagnostics, titled with the researcher's question answered in one sentence (it moves with
    the figure, so a live page keeps it current)."""
    fig = imbalance.imbalance_figure(view.steps, view.epochs, view.streams)
    verdict = _wrap(imbalance_verdict(view.steps, view.epochs, view.meta))
    fig.layout.title = {"text": f"<b>{verdict}</b>", "x": 0, "xanchor": "left", "font": {"size": 14}}
    fig.layout.margin.t = max(int(fig.layout.margin.t or 0), 40 + 18 * verdict.count("<br>") + 40)
    return fig


def _entropy_panel(view: RunView) -> go.Figure:
    """Attention entropy per stream, titled with a plain warning while it has collapsed onto one timestep."""
    T = int(view.meta.get("T") or 0)
    fig = entropy.entropy_figure(view.steps, T, streams=view.streams)
    warning = entropy.collapse_warning(view.steps, T, streams=view.streams)
    if warning:
        fig.layout.title = {"text": f"⚠ {_wrap(warning, 90)}", "x": 0, "xanchor": "left",
                            "font": {"size": 13, "color": "#b45309"}}
        fig.layout.margin.t = 40 + 18 * (warning.count(" ") // 12 + 1)
    return fig


def _write_note(fig: go.Figure, note: str) -> None:
    """The waiting sentence where it covers nothing: over an empty figure, in the empty cells of a grid that
    already draws something (the imbalance row's gradient-norm ratio starts at step 1, its other cells after the
    first epoch), else above the plot."""
    used = {t.xaxis or "x" for t in fig.data}
    if not used:
        fig.add_annotation(text=_wrap(note, 60), xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                           bgcolor="rgba(255,255,255,0.9)", font={"size": 14})
        return
    empty = [k for k in fig.layout.to_plotly_json() if k.startswith("xaxis") and f"x{k[5:]}" not in used]
    for j, k in enumerate(empty):  # the whole sentence once, its first words in the other empty cells
        i = k[5:]
        xd, yd = fig.layout[k].domain or (0, 1), fig.layout[f"yaxis{i}"].domain or (0, 1)
        text = _wrap(note if j == 0 else note.split(":")[0], 24)
        fig.add_annotation(text=text, xref="paper", yref="paper", x=(xd[0] + xd[1]) / 2, y=(yd[0] + yd[1]) / 2,
                           showarrow=False, xanchor="center", yanchor="middle", font={"size": 12})
        fig.layout[k].visible = False
        fig.layout[f"yaxis{i}"].visible = False
    if not empty:
        fig.add_annotation(text=_wrap(note, 110), xref="paper", yref="paper", x=0, y=1, xanchor="left",
                           yanchor="bottom", showarrow=False, font={"size": 12})


def _noted(name: str, build: Callable[[RunView], go.Figure]) -> Callable[[RunView], go.Figure]:
    """`build`, with the sentence saying when the panel fills written over it while it is still empty."""
    def noted(view: RunView) -> go.Figure:
        fig = build(view)
        note = waiting.note_for(name, view.steps, view.epochs, view.meta, view.config)
        if note:
            _write_note(fig, note)
        return fig

    return noted


# name -> (what changes it, builder): a figure is rebuilt (and re-sent) only when its key changed.
FIGURES: dict[str, tuple[Callable[[RunView], Any], Callable[[RunView], go.Figure]]] = {
    "loss": (lambda v: (v.steps_key, v.epochs_key),
             lambda v: curves.loss_acc_figure(v.steps, v.epochs, streams=v.streams)),
    "lr": (lambda v: v.steps_key, lambda v: curves.lr_figure(v.steps, streams=v.streams)),
    "alpha": (lambda v: v.probes_key, lambda v: attention.alpha_history_figure(v.probe_steps, v.alphas, v.streams)),
    "alpha_now": (lambda v: v.probes_key, _alpha_now),
    "entropy": (lambda v: v.steps_key, _entropy_panel),
    "imb": (lambda v: (v.steps_key, v.epochs_key), _imbalance),
    "rates": (lambda v: v.steps_key, lambda v: curves.firing_rate_figure(v.steps, v.layers)),
    "energy": (lambda v: v.epochs_key, lambda v: curves.energy_figure(v.epochs)),
}
FIGURES = {name: (changes, _noted(name, build)) for name, (changes, build) in FIGURES.items()}
STEP_AXIS_FIGURES = ("loss", "lr", "alpha", "entropy", "imb", "rates")  # steering events marked on their step axes


def _marked(changes: Callable[[RunView], Any], build: Callable[[RunView], go.Figure]) -> tuple[Callable, Callable]:
    return (lambda v: (changes(v), v.steer_key)), (lambda v: mark_events(build(v), v.steer))


FIGURES = {name: _marked(*entry) if name in STEP_AXIS_FIGURES else entry for name, entry in FIGURES.items()}
# px: a chart box before its first figure arrives, the height its builder draws at (one source: studio/charts/)
HEIGHTS = {"loss": curves.LOSS_HEIGHT, "lr": curves.LR_HEIGHT, "alpha": attention.ALPHA_HISTORY_HEIGHT,
           "alpha_now": attention.ALPHA_BARS_HEIGHT, "entropy": entropy.ENTROPY_HEIGHT, "imb": curves.IMBALANCE_HEIGHT,
           "rates": curves.RATES_HEIGHT, "energy": curves.ENERGY_HEIGHT, "raster": rasters.RASTER_HEIGHT,
           "membrane": rasters.MEMBRANE_HEIGHT, "strip": frames.STRIP_HEIGHT,
           "probe_alpha": attention.PROBE_ALPHA_HEIGHT}
# The figures of one probe sample (studio/live/routes.py): its rasters and, where the probes recorded them (frame
# sequences, e.g. AV-Digits-T), its video strip and its attention with the events marked
PROBE_FIGURES = ("raster", "membrane", "strip", "probe_alpha")

ALL_LAYERS = "all layers"
MAX_NEURONS = (50, 100, 200, 400, 1000, "all")


def spike_layers(view: RunView, modality: str, arrays: Mapping[str, np.ndarray]) -> list[str]:
    """The spiking layers of `modality` (one of view.modalities: 'audio', 'visual', 'touch' ...) that the probe
    arrays hold: those named '<its short name>.' (all of them where no layer is named so)."""
    layers = rasters.mod_layers(view.layers, suffix_of(view.streams, modality) or modality[:1]) or view.layers
    return [name for name in layers if f"spikes/{name}" in arrays]


def raster_figures(view: RunView, arrays: Mapping[str, np.ndarray], step: int, probe: int, modality: str,
                   max_n: int | str, layer: str) -> dict[str, go.Figure]:
    """The raster of one probe sample (one layer or all of the modality) and its membrane traces."""
    layers = spike_layers(view, modality, arrays)
    shown = layers if layer == ALL_LAYERS or layer not in layers else [layer]
    if not shown:
        return {}
    spikes = {name: arrays[f"spikes/{name}"][probe] for name in shown}
    out = {"raster": rasters.raster_figure(spikes, None if max_n == "all" else int(max_n)),
           **sample_figures(view, arrays, probe)}
    dropped = arrays.get("dropped")  # a steered drop muted this modality's encoder for this probe (docs/steering.md)
    mods = list(view.modalities)  # `dropped` has a flag per modality, in the run's order (core/recorder.py: a, v)
    if dropped is not None and len(dropped) == len(mods) and modality in mods and dropped[mods.index(modality)]:
        out["raster"].add_annotation(text=f"{modality} muted: dropped by steering at this probe", showarrow=False,
                                     xref="paper", yref="paper", x=0.5, y=0.5, font={"size": 15})
    mem = arrays.get(f"membrane/{shown[0]}")
    if mem is not None:
        v_th = float(view.meta.get("v_th", view.config.get("model", {}).get("v_th", 1.0)))
        m = mem[probe].astype(np.float32)
        pre = arrays.get(f"membrane_pre/{shown[0]}")  # runs before it was recorded: after-reset steps only
        ids = arrays.get(f"neurons/{shown[0]}")  # which raster columns were recorded (older runs: the first M)
        z = spikes[shown[0]] if ids is None else spikes[shown[0]][:, np.asarray(ids, dtype=np.int64)]
        which = ("its most active recorded neurons" if z.any()  # early in training a layer may not fire at all
                 else "none of its recorded neurons has spiked on this sample yet")
        out["membrane"] = rasters.membrane_figure(
            m, z, v_th, None, f"Membrane potential · {shown[0]} (step {step}), {which}",
            None if pre is None else pre[probe].astype(np.float32),
            ids=None if ids is None else [int(i) for i in ids])
    return out


def sample_figures(view: RunView, arrays: Mapping[str, np.ndarray], probe: int) -> dict[str, go.Figure]:
    """A probe sample's video strip ('strip', when the probes recorded `frames`) and its attention heatmap with
    where the word and the digit really are ('probe_alpha', when they recorded `events`); {} otherwise."""
    out: dict[str, go.Figure] = {}
    events = arrays.get("events")
    event = None if events is None or probe >= len(events) else [int(x) for x in events[probe]]
    if arrays.get("frames") is not None and probe < len(arrays["frames"]):
        out["strip"] = frames.frame_strip_figure(arrays["frames"][probe], None if event is None else event[2:])
    if event is not None and arrays.get("alpha") is not None and probe < len(arrays["alpha"]):
        alpha = np.asarray(arrays["alpha"][probe], dtype=np.float32)
        sizes = view.meta.get("input_frames") or {}
        spans = (frames.event_timesteps(event, sizes, alpha.shape[1])
                 if {"audio", "visual"} <= set(sizes) else None)  # a run without the frame counts: no markers
        out["probe_alpha"] = attention.probe_alpha_figure(alpha, spans, streams=run_streams(view.meta))
    return out
