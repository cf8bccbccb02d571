"""Axis ranges that stand still between redraws of a growing run (issue 27: a live page open overnight).

Why: plotly.js caches the text box of every tick label keyed by the label's pixel position
(`Drawing.savedBBoxes`, emptied only at 10,000 entries). A live panel's autoranged axes moved every label a
pixel or two at each redraw (the x axis ends at the newest step; a y axis follows the extremes of noisy, thinned
curves), so a page open overnight filled that cache again and again: its heap sawed up by megabytes. Here each
axis drawn by lines alone (or one heatmap) ends at round values just past its data, so its ticks stay put until
the data crosses the next round value. The user's zoom still wins (figures carry `uirevision`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

X_STEPS = 20  # the x axis's end moves in steps of about 1/20 of its span (~20 jumps per doubling of a run)
Y_STEPS = 10  # a y axis's in steps of about 1/10: a noisy curve's extremes cross them rarely
Y_PAD = 0.05  # plotly pads an autoranged y axis of lines by 5 % of the span on each side


def round_unit(span: float, steps: int) -> float:
    """The 1-2-5 value nearest above span / steps."""
    unit = 10 ** np.floor(np.log10(span / steps))
    return float(next(m * unit for m in (1, 2, 5, 10) if m * unit >= span / steps))


def _values(traces: list[Any], letter: str) -> np.ndarray:
    """The finite x or y values of lines alone, or the x edges of one heatmap's cells; ValueError for anything
    else (plotly pads bars, markers, text and a heatmap's y in ways only it knows)."""
    kinds = {t.type for t in traces}
    if kinds == {"scatter"} and not any(t[letter] is None or "markers" in (t.mode or "") or t.fill for t in traces):
        v = np.concatenate([np.asarray(t[letter], dtype=float).ravel() for t in traces])
        return v[np.isfinite(v)]
    if kinds == {"heatmap"} and letter == "x" and len(traces) == 1 and traces[0].x is not None:
        v = np.asarray(traces[0].x, dtype=float)
        if v.ndim != 1 or len(v) < 2 or not (np.diff(v) > 0).all():
            raise ValueError("heatmap cells are not ascending")
        return np.array([v[0] - (v[1] - v[0]) / 2, v[-1] + (v[-1] - v[-2]) / 2])
    raise ValueError(f"traces {sorted(kinds)}")


def _marks(fig: go.Figure, letter: str, ref: str) -> list[float]:
    """Where shapes and annotations drawn on axis `ref` sit: plotly's autorange makes room for them."""
    out: list[float] = []
    for s in fig.layout.shapes:
        if s[f"{letter}ref"] == ref:
            out += [float(v) for v in (s[f"{letter}0"], s[f"{letter}1"]) if isinstance(v, (int, float))]
    for a in fig.layout.annotations:
        if a[f"{letter}ref"] == ref and isinstance(a[letter], (int, float)):
            out.append(float(a[letter]))
    return out


def _steady_range(axis: Any, values: np.ndarray, letter: str) -> list[float] | None:
    if len(values) < 2 or values.max() <= values.min():
        return None
    lo, hi = float(values.min()), float(values.max())
    if letter == "x":  # lines and heatmaps: plotly's autorange ends at the data; only the end grows
        unit = round_unit(hi - lo, X_STEPS)
        return [lo, float(np.ceil(hi / unit) * unit)]
    pad = Y_PAD * (hi - lo)
    if axis.rangemode == "tozero":
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    lo, hi = (lo if lo == 0.0 else lo - pad), (hi if hi == 0.0 else hi + pad)
    if axis.rangemode == "nonnegative":
        lo = max(lo, 0.0)
    unit = round_unit(hi - lo, Y_STEPS)
    return [float(np.floor(lo / unit) * unit), float(np.ceil(hi / unit) * unit)]


def steady_axes(fig: go.Figure) -> go.Figure:
    """Give each autoranged linear axis of lines (or of one heatmap) a round range around its data, in place."""
    for letter in ("x", "y"):
        traces: dict[str, list[Any]] = {}
        for t in fig.data:
            traces.setdefault(t[f"{letter}axis"] or letter, []).append(t)
        for ref, ts in traces.items():
            axis = fig.layout[f"{letter}axis{ref[1:]}"]
            if (axis.range is not None or axis.autorange is not None or axis.matches or axis.overlaying
                    or axis.scaleanchor or axis.type not in (None, "linear") or axis.visible is False):
                continue
            try:
                values = np.concatenate([_values(ts, letter), _marks(fig, letter, ref)])
            except (TypeError, ValueError):
                continue
            steady = _steady_range(axis, values, letter)
            if steady is not None:
                axis.range = steady
    return fig
