"""Has TAAF's attention collapsed? Entropy of alpha over training, and a plain warning (no Streamlit here).

Reads the per-step scalars `alpha_entropy_a / _v / _f` (batch mean, nats) of a steps frame as
`RunReader.scalars("step")` returns it. Uniform attention over T timesteps has entropy ln T; one-hot has 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from studio.charts.curves import _curve, _has
from studio.charts.figbuild import Fig
from studio.charts.streams import DEFAULT_STREAMS, stream_colors

COLLAPSE_FRACTION = 0.1  # entropy below this fraction of ln T counts as collapsed
COLLAPSE_STEPS = 20  # ... for this many consecutive most recent steps
ENTROPY_HEIGHT = 260  # px (studio/live/figures.py HEIGHTS)


def entropy_key(u: str) -> str:
    return f"alpha_entropy_{u}"


def entropy_figure(steps: pd.DataFrame | None, T: int, window: int = 20,
                   streams: Mapping[str, str] | None = None) -> go.Figure:
    """Attention entropy of each stream ({suffix: name}, default audio, visual, fused) over training steps, with
    uniform (ln T) and the collapse line."""
    streams = streams or DEFAULT_STREAMS
    colors = stream_colors(streams)
    fig = Fig()
    if steps is None or not any(_has(steps, entropy_key(u)) for u in streams):
        fig.note("attention entropy appears with the first training step…")
        return fig.figure(ENTROPY_HEIGHT, "Attention entropy", legend=False)
    for u, name in streams.items():
        if _has(steps, entropy_key(u)):
            _curve(fig, steps, entropy_key(u), name, colors[u], window, 1, 1)
    top = math.log(T) if T > 1 else 1.0
    fig.hline(top, text=f"uniform ln T = {top:.2f}", dash="dot", color="gray")
    fig.hline(COLLAPSE_FRACTION * top, text="collapsed", dash="dash", color="#b2182b")
    fig.xaxis(title={"text": "training step"})
    fig.yaxis(title={"text": "entropy of α (nats)"}, range=[0, top * 1.08])
    return fig.figure(ENTROPY_HEIGHT, "Attention entropy")


def collapse_warning(steps: pd.DataFrame | None, T: int, last: int = COLLAPSE_STEPS,
                     fraction: float = COLLAPSE_FRACTION, streams: Mapping[str, str] | None = None) -> str | None:
    """A plain sentence when some stream's entropy stayed below `fraction` x ln T for the `last` steps; else None."""
    streams = streams or DEFAULT_STREAMS
    if steps is None or T <= 1 or "step" not in steps:
        return None
    limit = fraction * math.log(T)
    collapsed = []
    for u, name in streams.items():
        if entropy_key(u) not in steps:
            continue
        recent = steps[["step", entropy_key(u)]].dropna().sort_values("step").tail(last)[entropy_key(u)]
        if len(recent) >= last and bool((recent < limit).all()):
            collapsed.append(name)
    if not collapsed:
        return None
    who = collapsed[0] if len(collapsed) == 1 else ", ".join(collapsed[:-1]) + " and " + collapsed[-1]
    their = "its" if len(collapsed) == 1 else "their"
    return (f"Attention has collapsed for {who}: {their} entropy stayed below {limit:.2f} nats "
            f"({fraction:.0%} of uniform, ln {T} = {math.log(T):.2f}) for the last {last} steps, so α puts "
            "nearly all its weight on one timestep and the heatmap shows which one, not how the evidence "
            "builds up over time.")
