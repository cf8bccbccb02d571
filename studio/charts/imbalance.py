"""The imbalance diagnostics row (pure: DataFrames in, a plotly Figure out; no Streamlit): the validation gap
between the modalities' heads, their gradient-norm ratio, Shapley values and each stream's epochs to 90 %.

Any modalities (studio/charts/streams.py): two are compared with each other, first against second, as our
trainer's audio and visual always were; three or more each against the strongest (the best head's accuracy,
the largest gradient norm at that step), in each modality's colour. A metric the run does not record (Shapley
values: only our trainer computes them) says so in one line instead of an empty cell.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from studio.charts.curves import (
    IMBALANCE_HEIGHT,
    MAX_EPOCH_POINTS,
    _a,
    _epoch_ticks,
    _has,
    _line,
    decimate,
    epochs_to_fraction,
    log_ticks,
    smooth,
)
from studio.charts.figbuild import Fig
from studio.charts.streams import DEFAULT_STREAMS, modality_streams, stream_colors

# Short, because four sit in one row; the panel's "What am I looking at?" box says the rest.
IMBALANCE_TITLES = ("val acc gap (a − v)", "grad-norm ratio a / v", "Shapley (last epoch)",
                    "to 90 % of own latest")  # epochs until the head's own latest accuracy, not 90 % accuracy
AGAINST_BEST_TITLES = ("val acc − best head", "grad norm / largest")  # three or more modalities
TITLE_SIZE = 13
RATIO_COLOR = "#8c564b"
NO_SHAPLEY = "This run records<br>no Shapley values"  # (a cell a quarter of the row wide)


def _titles(mods: Mapping[str, str]) -> tuple[str, ...]:
    if len(mods) > 2:
        return (*AGAINST_BEST_TITLES, *IMBALANCE_TITLES[2:])
    first, second = (list(mods) + ["v"])[:2]
    return (f"val acc gap ({first} − {second})", f"grad-norm ratio {first} / {second}", *IMBALANCE_TITLES[2:])


def _val_gap(fig: Fig, epochs: pd.DataFrame | None, mods: Mapping[str, str], colors: Mapping[str, str]) -> None:
    """Two modalities: first minus second per epoch, coloured by the leader. More: each head minus the best."""
    have = [u for u in mods if _has(epochs, f"val_acc_{u}")]
    if len(have) < 2:
        return
    cols = [f"val_acc_{u}" for u in have]
    e = epochs[["epoch", *cols]].dropna(how="any" if len(mods) == 2 else "all", subset=cols)
    n_epochs, e = len(e), decimate(e, MAX_EPOCH_POINTS)  # a bar (an SVG node) per epoch shown
    if len(mods) == 2:
        first, second = have
        gap = _a(e[f"val_acc_{first}"] - e[f"val_acc_{second}"])
        fig.add({"type": "bar", "x": _a(e["epoch"] + 1), "y": gap, "name": "val gap",
                 "marker": {"color": np.where(gap >= 0, colors[first], colors[second]).tolist()},
                 "hovertemplate": f"epoch %{{x}}: {mods[first]} − {mods[second]} = %{{y:.3f}}<extra></extra>"}, 1, 1)
    else:
        best = e[cols].max(axis=1)
        for u in have:
            fig.add({"type": "bar", "x": _a(e["epoch"] + 1), "y": _a(e[f"val_acc_{u}"] - best), "name": mods[u],
                     "marker": {"color": colors[u]},
                     "hovertemplate": f"epoch %{{x}}: {mods[u]} − best head = %{{y:.3f}}<extra></extra>"}, 1, 1)
        fig.layout["barmode"] = "group"
    fig.xaxis(1, 1, title={"text": "epoch"}, **_epoch_ticks(n_epochs))


def _ratio_axis(fig: Fig, ratios: pd.Series) -> None:
    finite = ratios[np.isfinite(ratios) & (ratios > 0)]
    ticks = log_ticks(min(finite.min(), 1.0), max(finite.max(), 1.0)) if len(finite) else {}
    fig.yaxis(1, 2, type="log", **ticks)
    fig.xaxis(1, 2, title={"text": "training step"})


def _grad_ratio(fig: Fig, steps: pd.DataFrame | None, mods: Mapping[str, str], colors: Mapping[str, str]) -> None:
    """Two modalities: ‖g_first‖ / ‖g_second‖ per step. More: each modality's norm over the largest one."""
    have = [u for u in mods if _has(steps, f"gnorm_{u}")]
    if len(have) < 2:
        return
    cols = [f"gnorm_{u}" for u in have]
    d = steps[["step", *cols]].dropna()
    if len(mods) == 2:
        first, second = have
        d = d.assign(ratio=d[f"gnorm_{first}"] / d[f"gnorm_{second}"].where(d[f"gnorm_{second}"] > 0))
        d = decimate(d.assign(sm=smooth(d["ratio"], 20)))
        fig.add(_line(d["step"], d["ratio"], None, RATIO_COLOR, 1, opacity=0.25, hoverinfo="skip"), 1, 2)
        fig.add(_line(d["step"], d["sm"], f"‖g_{first}‖/‖g_{second}‖", RATIO_COLOR), 1, 2)
        fig.hline(1.0, 1, 2)
        _ratio_axis(fig, d["ratio"])
        return
    largest = d[cols].max(axis=1).where(lambda x: x > 0)
    ratios = [d[c] / largest for c in cols]
    for u, ratio in zip(have, ratios, strict=True):
        r = decimate(pd.DataFrame({"step": d["step"], "sm": smooth(ratio, 20)}))
        fig.add(_line(r["step"], r["sm"], f"‖g_{u}‖/largest", colors[u]), 1, 2)
    _ratio_axis(fig, pd.concat(ratios))


def _shapley(fig: Fig, epochs: pd.DataFrame | None, mods: Mapping[str, str], colors: Mapping[str, str]) -> None:
    have = [u for u in mods if _has(epochs, f"shapley_{u}")]
    if not have:
        if epochs is not None and len(epochs):  # after the first epoch: say it, rather than leave a blank cell
            fig.cell_note(1, 3, NO_SHAPLEY)
        return
    last = epochs[[f"shapley_{u}" for u in have]].ffill().iloc[-1]
    fig.add({"type": "bar", "x": [mods[u] for u in have], "y": [float(last[f"shapley_{u}"]) for u in have],
             "name": "Shapley", "marker": {"color": [colors[u] for u in have]}}, 1, 3)


def imbalance_figure(steps: pd.DataFrame, epochs: pd.DataFrame | None,
                     streams: Mapping[str, str] | None = None) -> go.Figure:
    """Head accuracy gap, gradient-norm ratio, Shapley values (of the run's modalities: two against each other,
    more each against the strongest) and each stream's epochs-to-90 %, in one 1x4 row."""
    streams = streams or DEFAULT_STREAMS
    mods, colors = modality_streams(streams), stream_colors(streams)
    titles = _titles(mods)
    fig = Fig(1, 4, titles, horizontal_spacing=0.07)
    for a in fig.layout["annotations"]:  # four titles in a row: small enough to keep apart at 1280 px
        a["font"] = {"size": TITLE_SIZE}
    _val_gap(fig, epochs, mods, colors)
    _grad_ratio(fig, steps, mods, colors)
    _shapley(fig, epochs, mods, colors)
    reach = {u: epochs_to_fraction(epochs, f"val_acc_{u}") for u in streams} if epochs is not None else {}
    reach = {u: v for u, v in reach.items() if v is not None}
    if reach:
        fig.add({"type": "bar", "x": [streams[u] for u in reach], "y": list(reach.values()),
                 "name": titles[3], "marker": {"color": [colors[u] for u in reach]},
                 "hovertemplate": "%{x}: %{y} epochs to 90 % of its own latest val acc<extra></extra>"}, 1, 4)
        fig.yaxis(1, 4, title={"text": "epochs"})
    if not fig.data and not any(a.get("text") == NO_SHAPLEY for a in fig.layout["annotations"]):
        fig.waiting("diagnostics appear after the first epoch")
    return fig.figure(IMBALANCE_HEIGHT, legend=False)
