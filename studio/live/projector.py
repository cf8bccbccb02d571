"""A figure restyled for the presenter (pure; plotly JSON in and out)."""

from __future__ import annotations

from typing import Any

PROJECTOR_FONT = 18  # px: chart text for the back of a room (tick labels >= 16 px at 1280 x 720)
TITLE_GAP = 34  # px between the plots' top and a figure title's last line: room for the subplot titles


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
    title = lay.get("title")
    if isinstance(title, dict) and title.get("text"):  # a title of several lines (the imbalance verdict)
        # As an annotation above the subplot titles: plotly places a several-line *title* anchored at its top as if
        # it had one line, so at 18 px the first line of the verdict rose out of the chart, under the stats row.
        lines = str(title["text"]).count("<br>") + 1
        lay["annotations"] = [*lay.get("annotations", []), {
            "text": title["text"], "xref": "paper", "yref": "paper", "x": 0, "y": 1, "xanchor": "left",
            "yanchor": "bottom", "yshift": TITLE_GAP, "align": "left", "showarrow": False,
            "font": {**title.get("font", {}), "size": PROJECTOR_FONT}}]
        lay.pop("title")
        top = TITLE_GAP + int(PROJECTOR_FONT * 1.4) * lines + 12
    lay["margin"] = {"l": 80, "r": 30, "t": top, "b": 110}
    return fig

