"""HTTP routes beside Streamlit that feed the live Train page: the run bar and every chart, polled by the browser.

Why not Streamlit fragments: Streamlit 1.67 mounts a new plotly chart (new DOM node, full `Plotly.newPlot`)
for every changed figure, and every fragment tick is a script run per open tab. Here each chart on the
page (studio/live/livechart.py) asks its own route for its figure with the version it already has; an
unchanged figure answers 204 and costs nothing, a changed one is drawn in place with `Plotly.react`.
Figures come from the process-wide cache (studio/live/runs.py). Paths: studio/live/urls.py.
"""

from __future__ import annotations

import json
import math
import os
import re

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from core.errors import TAAFError
from studio.live import figures, urls
from studio.live.projector import for_projector
from studio.live.rundata import RunView
from studio.live.runs import DEMO, LiveRun, cut, header, live_run, probe_figure, view_figure

PLOTLY_TRACES = ("scatter", "bar", "heatmap", "histogram", "box", "contour", "image")  # what the bundle draws


def _live(request: Request) -> LiveRun | None:
    return live_run(request.query_params.get("run", ""))


def _view(run: LiveRun, request: Request) -> tuple[RunView, bool]:
    """The demo, or any run given a replay start `t0` (the presenter's replay of a finished run), replays in a
    loop; any other run is drawn as it is now."""
    t0 = None
    if request.query_params.get("run") == DEMO or "t0" in request.query_params:
        try:
            t0 = float(request.query_params.get("t0", "0"))
        except ValueError:
            t0 = 0.0
        if not math.isfinite(t0):  # nan, inf, 1e309: no replay time (the demo's step would be nan)
            raise ValueError(f"t0 must be a finite number of seconds, not {request.query_params.get('t0')!r}")
    return cut(run, t0)


def _error(e: Exception, run: LiveRun) -> JSONResponse:
    """503 for a run that cannot be read, in one line naming files by their place in the runs folder: the
    browser learns no absolute path of this machine."""
    line = str(e).splitlines()[0] if str(e) else type(e).__name__
    folder = run.rd.path.parent
    for prefix in {str(folder), str(folder.resolve())}:
        line = line.replace(prefix + os.sep, "")
    line = re.sub(r"(?<![\w.~])/(?:[^/\s'\"]+/)+", "", line)  # any other absolute path: its last part only
    return JSONResponse({"error": line[:300]}, status_code=503, headers={"Cache-Control": "no-store"})


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
    except ValueError as e:
        return JSONResponse({"error": str(e).splitlines()[0][:300]}, status_code=400)
    except TAAFError as e:
        return _error(e, run)
    return JSONResponse({**body, "live": moving}, headers={"Cache-Control": "no-store"})


def _raster_key(request: Request, modalities: list[str]) -> tuple[int, str, int | str, str]:
    """(probe, modality, max neurons, layer) of a raster request; the modality one of the run's (view.modalities)."""
    q = request.query_params
    probe = int(q.get("probe", "0"))
    mod = q.get("mod", "audio")
    max_n: int | str = q.get("maxn", "200")
    max_n = "all" if max_n == "all" else int(max_n)
    if mod not in modalities or max_n not in figures.MAX_NEURONS or probe < 0:
        raise ValueError("bad raster parameters")
    return probe, mod, max_n, q.get("layer", figures.ALL_LAYERS)


def figure_route(request: Request) -> Response:
    name = request.path_params["name"]
    run = _live(request)
    if run is None or (name not in figures.FIGURES and name not in figures.PROBE_FIGURES):
        return JSONResponse({"error": "no such run or figure"}, status_code=404)
    try:
        with run.lock:
            view, moving = _view(run, request)
            if name in figures.FIGURES:
                built = view_figure(run, view, name)
            else:
                built = (probe_figure(run, view, name, _raster_key(request, view.modalities)) if view.probe_steps
                         else None)
    except ValueError as e:
        return JSONResponse({"error": str(e).splitlines()[0][:300]}, status_code=400)
    except TAAFError as e:
        return _error(e, run)
    if built is None:  # nothing to draw yet (no probe step)
        return Response(status_code=204)
    version, fig = built.version, built.json
    if request.query_params.get("big") == "1":  # the presenter: the same figure, restyled (and versioned) for a room
        version = version + "-big"
        if request.query_params.get("v") != version:
            fig = json.dumps(for_projector(json.loads(fig))).encode()
    if request.query_params.get("v") == version:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    body = b'{"v":' + json.dumps(version).encode() + b',"live":' + (b"true" if moving else b"false") + b',"fig":'
    return Response(body + fig + b"}", media_type="application/json", headers={"Cache-Control": "no-store"})


def plotly_route(_request: Request) -> Response:
    return FileResponse(urls.PLOTLY_FILE, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=31536000, immutable"})


ROUTES = [
    Route(urls.PLOTLY_URL, plotly_route),
    Route(urls.HEAD_PATH, head_route),
    Route(urls.FIGURE_PATH, figure_route),
]
