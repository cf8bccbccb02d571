"""A figure restyled for the presenter (pure; plotly JSON in and out)."""

from __future__ import annotations

from typing import Any

PROJECTOR_FONT = 18  # px: chart text for the back of a room (tick labels >= 16 px at 1280 x 720)


def for_projector(fig: dict[str, Any]) -> dict[str, Any]:
    """A figure (plotly JSON) restyled for the presenter: large text everywhere, its height left to the page."""
    lay = fig.setdefault("layout", {})
    lay.pop("height", None)
    lay["autosize"] = True
    lay["font"] = {**lay.get("font", {}), "size": PROJECTOR_FONT}
    for key, axis in lay.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            axis["tickfont"] = {**axis.get("tickfont", {}), "size": PROJECTOR_FONT}
            if isinstance(axis.get("title"), dict):
                axis["title"]["font"] = {**axis["title"].get("font", {}), "size": PROJECTOR_FONT}
    for a in lay.get("annotations", []):
        a["font"] = {**a.get("font", {}), "size": max(PROJECTOR_FONT, (a.get("font") or {}).get("size", 0))}
    lay["legend"] = {**lay.get("legend", {}), "font": {"size": PROJECTOR_FONT}}
    top = 70
    if isinstance(lay.get("title"), dict):  # a title of several lines (the imbalance verdict) gets room above the plots
        lines = str(lay["title"].get("text", "")).count("<br>") + 1
        lay["title"].update(font={**lay["title"].get("font", {}), "size": PROJECTOR_FONT}, yref="container", y=1,
                            yanchor="top", pad={"t": 8})
        top = 50 + int(PROJECTOR_FONT * 1.4) * lines
    lay["margin"] = {"l": 80, "r": 30, "t": top, "b": 110}
    return fig

