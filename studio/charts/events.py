"""Steering events on a chart: one labelled vertical line per event on every training-step axis of a figure.

One helper for every builder (live panels, Replay, Compare, presenter): it takes the figure as built and the run's
steering events (`core.steering.events_frame`: step, key, new), so no builder has to know about steering.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from core.steering import event_label

STEP_AXIS_TITLE = "training step"  # every builder titles its step axes so
EVENT_COLOR = "#7c3aed"
MAX_MARKED = 60  # a run steered more often shows its latest events (the lines would merge anyway)


def step_axes(fig: go.Figure) -> list[str]:
    """Plotly's short names (x, x2, ...) of the figure's x axes titled 'training step'."""
    layout = fig.layout.to_plotly_json()
    names = []
    for key, axis in layout.items():
        if key.startswith("xaxis") and isinstance(axis, dict):
            title = axis.get("title")
            text = title.get("text") if isinstance(title, dict) else title
            if text == STEP_AXIS_TITLE and axis.get("visible", True):
                names.append("x" + key[5:])
    return names


def event_marks(events: pd.DataFrame | None, axes: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(shapes, annotations) marking each event between its step and the next, where it takes effect."""
    if events is None or len(events) == 0 or not axes:
        return [], []
    shapes, notes = [], []
    rows = events.tail(MAX_MARKED)
    for x in axes:
        y = "y" + x[1:]
        for i, ev in enumerate(rows.itertuples(index=False)):
            at = float(ev.step) + 0.5  # trained up to `step` with the old value, from step + 1 with the new
            shapes.append({"type": "line", "xref": x, "yref": f"{y} domain", "x0": at, "x1": at, "y0": 0, "y1": 1,
                           "line": {"color": EVENT_COLOR, "width": 1, "dash": "dot"}, "layer": "above"})
            run = f"{ev.run}: " if "run" in rows.columns else ""  # Compare: several runs on one axis
            notes.append({"xref": x, "yref": f"{y} domain", "x": at, "y": 1 - 0.09 * (i % 3), "showarrow": False,
                          "text": run + event_label(str(ev.key), ev.new), "xanchor": "left", "yanchor": "top",
                          "font": {"size": 10, "color": EVENT_COLOR}, "bgcolor": "rgba(255,255,255,0.7)",
                          "hovertext": f"step {ev.step}: {ev.key} {ev.old} → {ev.new} ({ev.source})"})
    return shapes, notes


def mark_events(fig: go.Figure, events: pd.DataFrame | None, axes: list[str] | None = None) -> go.Figure:
    """`fig` with every steering event drawn on each of its training-step axes, or on `axes` (the same figure,
    changed). A `run` column prefixes each label with its run (Compare)."""
    if events is None or len(events) == 0:  # most runs: no layout walk at all
        return fig
    shapes, notes = event_marks(events, axes if axes is not None else step_axes(fig))
    if shapes:
        fig.layout.shapes = (*fig.layout.shapes, *shapes)
        fig.layout.annotations = (*fig.layout.annotations, *notes)
    return fig
