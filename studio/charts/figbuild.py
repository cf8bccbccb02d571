"""A small, fast figure builder: traces and layout as plain dicts, one unvalidated go.Figure at the end.

Why: building through plotly's validated API (make_subplots + add_trace) costs 30-100 ms per figure,
which at one refresh every 1-2 s for ~9 panels is most of the studio's CPU beside a training run.
Plain dicts cost ~2 ms. The subplot grid layout comes from make_subplots once per shape (cached).
Every figure carries STUDIO_TEMPLATE and is shown with `theme=None` (studio/ui/widgets.py: plot): Streamlit's
own plotly theme is re-applied in the browser at every redraw (a merge plus twenty string replacements
over the figure's JSON), about a quarter of what a live redraw cost the browser.
tests/test_charts.py re-validates every builder's output, so a wrong property name still fails a test.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

_TEXT, _GRID = "#31333F", "#e6eaf1"  # Streamlit's light theme: body text and chart grid
STUDIO_TEMPLATE = {"layout": {
    "font": {"family": '"Source Sans", "Source Sans Pro", sans-serif', "color": _TEXT, "size": 12},
    "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
    "colorway": ["#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d", "#7defa1", "#ff8700", "#ffd16a"],
    "xaxis": {"showgrid": False, "zeroline": False, "linecolor": _GRID, "tickcolor": _GRID},
    "yaxis": {"gridcolor": _GRID, "zerolinecolor": _GRID, "linecolor": _GRID, "tickcolor": _GRID},
    "hoverlabel": {"bgcolor": "#ffffff", "bordercolor": _GRID, "font": {"color": _TEXT}},
    "hovermode": "closest",
}}


# plotly draws a subset of HTML in every text it shows (titles, legend names, tick labels, annotations, hover):
# `<a href>` is a link and `<span style>` styles it. Names, class names and layer names come from run folders,
# which may be someone else's, so a figure keeps only the bare tags the studio's own texts use; any other '<'
# shows as '<' (plotly reads entities only in text between tags, so '&lt;a' can never become a tag).
_OWN_TAG = re.compile(r"<(?!(?:br|/?b|/?i|/?em|/?sup|/?sub|/?extra)>|br ?/>)", re.IGNORECASE)


def plotly_text(text: str) -> str:
    """`text` as plotly shows it literally, but for the bare formatting tags <br> <b> <i> <em> <sup> <sub>."""
    return _OWN_TAG.sub("&lt;", text.replace("&", "&amp;"))


def _literal(value: Any) -> Any:
    """Every string of a figure's layout or traces (however deep, arrays of labels included) through plotly_text."""
    if isinstance(value, str):
        return plotly_text(value) if ("<" in value or "&" in value) else value
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        first = next((v for v in value if v is not None), None)  # a column holds one type: numbers are skipped fast
        return [_literal(v) for v in value] if isinstance(first, (str, dict, list, tuple)) else value
    if getattr(getattr(value, "dtype", None), "kind", "") in ("U", "O"):  # numpy / pandas labels
        return [_literal(v) for v in value.tolist()]
    return value


@lru_cache(maxsize=64)
def _grid(rows: int, cols: int, titles: tuple[str, ...], options: tuple[tuple[str, Any], ...]) -> dict:
    kw = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options}
    return make_subplots(rows=rows, cols=cols, subplot_titles=titles or None, **kw).to_dict()["layout"]


class Fig:
    """A subplot grid; `add(trace_dict, row, col)`, axis and line helpers, then `figure(height)`."""

    def __init__(self, rows: int = 1, cols: int = 1, titles: tuple[str, ...] | list[str] = (), **options: Any):
        opts = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))
        self.layout: dict[str, Any] = copy.deepcopy(_grid(rows, cols, tuple(titles), opts))
        self.layout.setdefault("annotations", [])
        self.layout.setdefault("shapes", [])
        self.cols = cols
        self.data: list[dict[str, Any]] = []

    def _idx(self, row: int, col: int) -> str:
        i = (row - 1) * self.cols + col
        return "" if i == 1 else str(i)

    def add(self, trace: dict[str, Any], row: int = 1, col: int = 1) -> None:
        i = self._idx(row, col)
        trace.setdefault("xaxis", f"x{i}")
        trace.setdefault("yaxis", f"y{i}")
        self.data.append(trace)

    def xaxis(self, row: int = 1, col: int = 1, **props: Any) -> None:
        self.layout.setdefault(f"xaxis{self._idx(row, col)}", {}).update(props)

    def yaxis(self, row: int = 1, col: int = 1, **props: Any) -> None:
        self.layout.setdefault(f"yaxis{self._idx(row, col)}", {}).update(props)

    def all_axes(self, axis: str, **props: Any) -> None:
        """Set props on every x or y axis of the grid."""
        for key in [k for k in self.layout if k.startswith(f"{axis}axis")]:
            self.layout[key].update(props)

    def title(self, i: int, text: str) -> None:
        """Replace the text of subplot title i (0-based)."""
        self.layout["annotations"][i]["text"] = text

    def hline(self, y: float, row: int = 1, col: int = 1, text: str | None = None, **line: Any) -> None:
        i = self._idx(row, col)
        self.layout["shapes"].append({"type": "line", "xref": f"x{i} domain", "yref": f"y{i}", "x0": 0, "x1": 1,
                                      "y0": y, "y1": y, "line": line or {"dash": "dash", "color": "gray"}})
        if text:
            self.layout["annotations"].append({"xref": f"x{i} domain", "yref": f"y{i}", "x": 1, "y": y,
                                               "text": text, "showarrow": False, "xanchor": "right",
                                               "yanchor": "bottom", "font": {"size": 11}})

    def note(self, text: str) -> None:
        """A centred message (used while a panel has no data yet)."""
        self.layout["annotations"].append({"text": text, "showarrow": False, "xref": "paper", "yref": "paper",
                                           "x": 0.5, "y": 0.5, "font": {"size": 14}})

    def cell_note(self, row: int, col: int, text: str) -> None:
        """One line in the middle of one cell of the grid, its axes hidden (a metric the run does not record)."""
        i = self._idx(row, col)
        self.layout["annotations"].append({"text": text, "showarrow": False, "xref": f"x{i} domain",
                                           "yref": f"y{i} domain", "x": 0.5, "y": 0.5, "font": {"size": 12}})
        self.xaxis(row, col, visible=False)
        self.yaxis(row, col, visible=False)

    def waiting(self, text: str) -> None:
        """A panel with nothing to draw yet: the message alone, no axes (which would show a dummy range)."""
        self.note(text)
        for key in [k for k in self.layout if k.startswith(("xaxis", "yaxis"))]:
            self.layout[key].update(visible=False)

    def figure(self, height: int, title: str | None = None, legend: bool = True, **layout: Any) -> go.Figure:
        self.layout.update(
            height=height,
            margin={"l": 50, "r": 20, "t": 50 if title else 30, "b": 90 if legend else 40},
            legend={"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0},
            showlegend=legend,
            uirevision="keep",  # live redraws keep the user's zoom
            template=STUDIO_TEMPLATE,  # replaces plotly's default (10 KB per figure) from make_subplots
            **layout,
        )
        if title:
            self.layout["title"] = {"text": title}
        return go.Figure(data=_literal(self.data), layout=_literal(self.layout), _validate=False)
