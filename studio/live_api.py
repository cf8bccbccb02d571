"""HTTP routes beside Streamlit that feed the live Train page: the run bar and every chart, polled by the browser.

Why not Streamlit fragments: Streamlit 1.67 mounts a new plotly chart (new DOM node, full `Plotly.newPlot`)
for every changed figure, and every fragment tick is a script run per open tab. Here each chart on the
page (studio/livechart.py) asks its own route for its figure with the version it already has; an
unchanged figure answers 204 and costs nothing, a changed one is drawn in place with `Plotly.react`.
Figures are built once per change and shared by every tab (one RunData per run, refreshed at most every
REFRESH_S), so three tabs cost the server about what one does. No Streamlit calls here: these run on the
server's thread pool, outside any session.

Runs are named by their folder name inside the studio's runs folder (or `@demo`); anything else,
including a name that resolves (through a link) outside that folder, is refused with 404.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import plotly.offline
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from core.errors import TAAFError
from core.store import RunReader
from studio import live_figures, state
from studio.rundata import RunData, RunView

# plotly.js's "cartesian" bundle (scatter, bar, heatmap... every trace type the studio draws), from npm's
# plotly.js-cartesian-dist-min at the version the plotly package pins: 1.5 MB against the full 4.8 MB, which
# a first visit's browser spent about a second evaluating before it could draw the first chart.
PLOTLY_FILE = Path(__file__).parent / "static" / f"plotly-cartesian-{plotly.offline.get_plotlyjs_version()}.min.js"
PLOTLY_URL = f"/taaf/{PLOTLY_FILE.name}"  # versioned: cached for good
PLOTLY_TRACES = ("scatter", "bar", "heatmap", "histogram", "box", "contour", "image")  # what the bundle draws
REFRESH_S = 0.25  # a live run is re-read at most this often, whatever the number of tabs and charts
DEMO = "@demo"
DEMO_SPEED_S = 45.0  # the demo replays its whole run in about this many seconds, then loops
MAX_RUNS = 4  # runs held in memory at once (least recently asked dropped first)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")


class LiveRun:
    """One run as the live routes see it: its RunData, a cache of built figures and of probe arrays."""

    def __init__(self, path: Path, immutable: bool) -> None:
        self.rd = RunData(path, immutable=immutable)
        self.lock = threading.Lock()
        self.refreshed = 0.0
        self.figs: OrderedDict[tuple, tuple[str, bytes]] = OrderedDict()
        self.arrays: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()

    def fresh(self, force: bool = False) -> RunData:
        """The run's data, re-read if older than REFRESH_S (or `force`); an immutable run (the demo) once."""
        rd, now = self.rd, time.time()
        if self.refreshed == 0.0 or (not rd.immutable and (force or now - self.refreshed >= REFRESH_S)):
            rd.refresh()
            self.refreshed = now
        return rd

    def figure(self, key: tuple, build: Any) -> tuple[str, bytes]:
        """(version, figure JSON) for `key`, built once; the 32 newest kept."""
        hit = self.figs.get(key)
        if hit is None:
            fig = build()
            hit = (hashlib.blake2s(repr(key).encode(), digest_size=8).hexdigest(), fig.to_json().encode())
            self.figs[key] = hit
            while len(self.figs) > 32:
                self.figs.popitem(last=False)
        else:
            self.figs.move_to_end(key)
        return hit

    def probe_arrays(self, step: int) -> dict[str, np.ndarray]:
        hit = self.arrays.get(step)
        if hit is None:
            with RunReader(self.rd.path, immutable=self.rd.immutable or None) as r:
                hit = self.arrays[step] = r.arrays(step, "probe")
            while len(self.arrays) > 3:
                self.arrays.popitem(last=False)
        return hit


_runs: OrderedDict[Path, LiveRun] = OrderedDict()
_runs_lock = threading.Lock()


def resolve_run(token: str, runs_dir: Path | None = None, demo: Path | None = None) -> Path | None:
    """The run folder a route may read for `token` (a folder name in the runs folder, or '@demo'), else None.

    The folder must resolve to a direct child of the runs folder (or be the runs folder itself, when the
    studio watches one run's own folder): no separators, no '..', no link out."""
    if token == DEMO:
        return demo if demo is not None else state.demo_dir()
    base = (runs_dir or state.runs_dir()).resolve()
    if not _NAME.fullmatch(token) or token in (".", ".."):
        return None
    if (base / "store.sqlite").is_file():  # the studio was pointed at one run's folder
        return base if token == base.name else None
    path = (base / token).resolve()
    return path if path.parent == base and path.is_dir() else None


def live_run(token: str) -> LiveRun | None:
    """The shared LiveRun of `token` (see resolve_run), or None if the token names no readable run folder."""
    path = resolve_run(token)
    if path is None:
        return None
    with _runs_lock:
        run = _runs.get(path)
        if run is None:
            run = _runs[path] = LiveRun(path, immutable=token == DEMO)
            while len(_runs) > MAX_RUNS:
                _runs.popitem(last=False)
        _runs.move_to_end(path)
    return run


def _live(request: Request) -> LiveRun | None:
    return live_run(request.query_params.get("run", ""))


def demo_upto(rd: RunData, t0: float, now: float | None = None) -> int:
    """The step the demo replay shows `now` for a page that started it at `t0` (loops, with a short pause)."""
    frac = (((now or time.time()) - t0) / DEMO_SPEED_S) % 1.05
    return int(min(frac, 1.0) * max(rd.last_step, 0))


def cut(run: LiveRun, demo_t0: float | None, force: bool = False) -> tuple[RunView, bool]:
    """The cut of the run to draw now and whether it is still moving (live, or the looping demo, whose
    replay started at `demo_t0`); `force` re-reads the run now. Call with run.lock held."""
    rd = run.fresh(force)
    if demo_t0 is not None:
        return rd.view(upto=demo_upto(rd, demo_t0)), True
    moving = rd.status.get("status") in ("running", "paused") and not rd.status.get("stale")
    return rd.view(), moving


def _view(run: LiveRun, request: Request) -> tuple[RunView, bool]:
    """The demo, or any run given a replay start `t0` (the presenter's replay of a finished run), replays in a
    loop; any other run is drawn as it is now."""
    t0 = None
    if request.query_params.get("run") == DEMO or "t0" in request.query_params:
        try:
            t0 = float(request.query_params.get("t0", "0"))
        except ValueError:
            t0 = 0.0
    return cut(run, t0)


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


def header(view: RunView, status: dict[str, Any], demo: bool) -> dict[str, Any]:
    """What the run bar shows: status, step / total, epoch, fused validation accuracy and its change, speed."""
    meta, steps = view.meta, view.steps
    s = "demo replay" if demo else ("interrupted" if status.get("stale") else status.get("status", "unknown"))
    val = view.epochs["val_acc_f"].dropna() if "val_acc_f" in view.epochs else []
    sps = None
    if s == "running" and "samples_per_s" in steps and len(steps):
        med = float(steps["samples_per_s"].tail(20).median())
        sps = med if math.isfinite(med) else None
    return {"name": view.path.name, "status": s, "step": max(view.step, 0), "total": meta.get("total_steps"),
            "epoch": int(steps["epoch"].iloc[-1]) + 1 if len(steps) else 0, "epochs": meta.get("epochs"),
            "val": float(val.iloc[-1]) if len(val) else None,
            "val_delta": float(val.iloc[-1] - val.iloc[-2]) if len(val) > 1 else None, "sps": sps}


def _error(e: Exception) -> JSONResponse:
    return JSONResponse({"error": str(e).splitlines()[0][:300]}, status_code=503, headers={"Cache-Control": "no-store"})


def head_route(request: Request) -> Response:
    run = _live(request)
    if run is None:
        return JSONResponse({"error": "no such run"}, status_code=404)
    try:
        with run.lock:
            view, moving = _view(run, request)
            body = header(view, run.rd.status, demo=request.query_params.get("run") == DEMO)
            if "t0" in request.query_params and request.query_params.get("run") != DEMO:
                body["status"] = "replay"  # the presenter replaying a finished run
    except TAAFError as e:
        return _error(e)
    return JSONResponse({**body, "live": moving}, headers={"Cache-Control": "no-store"})


def _raster_key(request: Request) -> tuple[int, str, int | str, str]:
    q = request.query_params
    probe = int(q.get("probe", "0"))
    mod = q.get("mod", "audio")
    max_n: int | str = q.get("maxn", "200")
    max_n = "all" if max_n == "all" else int(max_n)
    if mod not in ("audio", "visual") or max_n not in live_figures.MAX_NEURONS or probe < 0:
        raise ValueError("bad raster parameters")
    return probe, mod, max_n, q.get("layer", live_figures.ALL_LAYERS)


def figure_route(request: Request) -> Response:
    name = request.path_params["name"]
    run = _live(request)
    if run is None or (name not in live_figures.FIGURES and name not in ("raster", "membrane")):
        return JSONResponse({"error": "no such run or figure"}, status_code=404)
    try:
        with run.lock:
            view, moving = _view(run, request)
            if name in live_figures.FIGURES:
                changes, build = live_figures.FIGURES[name]
                if name == "alpha_now" and not view.probe_steps:
                    return Response(status_code=204)
                version, fig = run.figure((name, changes(view)), lambda: build(view))
            else:
                if not view.probe_steps:
                    return Response(status_code=204)
                params = _raster_key(request)
                step = view.probe_steps[-1]
                arrays = run.probe_arrays(step)
                if params[0] >= next((a.shape[0] for k, a in arrays.items() if k.startswith("spikes/")), 0):
                    raise ValueError("probe sample out of range")
                figs = {}

                def build_one() -> Any:
                    figs.update(live_figures.raster_figures(view, arrays, step, *params))
                    if name not in figs:
                        raise ValueError(f"no {name} recorded for this modality")
                    return figs[name]

                version, fig = run.figure((name, step, params), build_one)
    except ValueError as e:
        return JSONResponse({"error": str(e)}, status_code=400)
    except TAAFError as e:
        return _error(e)
    if request.query_params.get("big") == "1":  # the presenter: the same figure, restyled (and versioned) for a room
        version = version + "-big"
        if request.query_params.get("v") != version:
            fig = json.dumps(for_projector(json.loads(fig))).encode()
    if request.query_params.get("v") == version:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    body = b'{"v":' + json.dumps(version).encode() + b',"live":' + (b"true" if moving else b"false") + b',"fig":'
    return Response(body + fig + b"}", media_type="application/json", headers={"Cache-Control": "no-store"})


def plotly_route(_request: Request) -> Response:
    return FileResponse(PLOTLY_FILE, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=31536000, immutable"})


ROUTES = [
    Route(PLOTLY_URL, plotly_route),
    Route("/taaf/api/head", head_route),
    Route("/taaf/api/fig/{name}", figure_route),
]
