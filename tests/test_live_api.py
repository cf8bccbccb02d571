"""The live routes that feed the Train page's run bar and charts (studio/live/routes.py), without a browser."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import plotly.offline
import pytest
from starlette.requests import Request

from core.store import RunWriter
from studio.charts import curves as charts
from studio.charts import imbalance
from studio.live import figures as live_figures
from studio.live import routes, urls
from studio.live import runs as live_runs
from studio.live.rundata import RunData
from tests.support import LAYERS, make_run


@pytest.fixture()
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    d = tmp_path / "runs"
    make_run(d / "live-one", status="running")
    monkeypatch.setenv("TAAF_RUNS_DIR", str(d))
    monkeypatch.setenv("TAAF_DEMO_RUN", "")
    live_runs._runs.clear()
    monkeypatch.setattr(live_runs, "REFRESH_S", 0.0)  # every request re-reads the run
    return d


def _get(route, query: dict, name: str | None = None):  # noqa: ANN001, ANN202
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": urlencode(query).encode(),
             "path_params": {"name": name} if name else {}}
    return route(Request(scope))


def _fig(name: str, **query):  # noqa: ANN003, ANN202
    return _get(routes.figure_route, {"run": "live-one", **query}, name)


def _log_step(run: Path, step: int) -> None:
    w = RunWriter.open(run)
    w.log_scalars(step, 2, {"loss": 0.5, **{f"acc_{u}": 0.9 for u in "avf"}, "samples_per_s": 250.0,
                            **{f"rate/{n}": 0.3 for n in LAYERS}}, scope="step")
    w.close()


def test_a_figure_is_sent_once_per_change(runs: Path) -> None:
    first = _fig("loss")
    assert first.status_code == 200
    body = json.loads(first.body)
    assert body["live"] is True and body["fig"]["data"] and body["fig"]["layout"]["uirevision"] == "keep"
    assert _fig("loss", v=body["v"]).status_code == 204  # unchanged: nothing sent, nothing redrawn
    assert _fig("energy", v=json.loads(_fig("energy").body)["v"]).status_code == 204
    _log_step(runs / "live-one", 41)
    again = _fig("loss", v=body["v"])
    assert again.status_code == 200 and json.loads(again.body)["v"] != body["v"]
    assert _fig("energy", v=json.loads(_fig("energy").body)["v"]).status_code == 204  # epochs did not change


def test_every_panel_figure_is_served(runs: Path) -> None:
    for name in live_figures.FIGURES:
        assert _fig(name).status_code == 200, name
    for mod, layer in (("audio", "all layers"), ("visual", "v.lif2")):
        raster = _fig("raster", probe=1, mod=mod, maxn=200, layer=layer)
        assert raster.status_code == 200
        titles = [a["text"] for a in json.loads(raster.body)["fig"]["layout"]["annotations"]]
        assert any(layer.split()[0] in t or t.startswith(mod[0] + ".") for t in titles)
        membrane = _fig("membrane", probe=1, mod=mod, maxn=200, layer=layer)
        assert "Membrane potential" in json.loads(membrane.body)["fig"]["layout"]["title"]["text"]


@pytest.mark.parametrize("query", [{"probe": 99}, {"probe": -1}, {"mod": "smell"}, {"maxn": 7}, {"probe": "x"}])
def test_bad_raster_parameters_are_refused(runs: Path, query: dict) -> None:
    assert _fig("raster", **{"probe": 0, "mod": "audio", "maxn": 200, **query}).status_code == 400


def test_runs_outside_the_runs_folder_are_never_read(runs: Path, tmp_path: Path) -> None:
    outside = make_run(tmp_path / "elsewhere" / "secret", status="running")
    os.symlink(outside, runs / "link-out")
    for token in ("..", "../elsewhere/secret", str(outside), "link-out", ".hidden", "a/b", ""):
        assert live_runs.resolve_run(token) is None, token
        assert _get(routes.head_route, {"run": token}).status_code == 404
        assert _fig("loss", run=token).status_code == 404
    assert _fig("no-such-figure").status_code == 404
    assert live_runs.resolve_run("live-one") == (runs / "live-one").resolve()
    # The studio may watch one run's own folder: then only that run is served.
    assert live_runs.resolve_run("secret", runs_dir=outside) == outside
    assert live_runs.resolve_run("live-one", runs_dir=outside) is None


def test_head_shows_the_run_bar_and_no_speed_while_paused(runs: Path) -> None:
    head = json.loads(_get(routes.head_route, {"run": "live-one"}).body)
    assert head["status"] == "running" and head["step"] == 40 and head["total"] == 40 and head["live"] is True
    assert head["sps"] == pytest.approx(300.0) and head["epoch"] == 2 and head["val"] == pytest.approx(0.9)
    w = RunWriter.open(runs / "live-one")
    w.set_status("paused")
    w.close()
    head = json.loads(_get(routes.head_route, {"run": "live-one"}).body)
    assert head["status"] == "paused" and head["sps"] is None


def test_demo_replay_loops_through_the_run(tmp_path: Path) -> None:
    rd = RunData(make_run(tmp_path / "demo"), immutable=True)
    rd.refresh()
    t0 = 1000.0
    assert live_runs.demo_upto(rd, t0, now=t0) == 0
    assert live_runs.demo_upto(rd, t0, now=t0 + live_runs.DEMO_SPEED_S / 2) == 20
    assert live_runs.demo_upto(rd, t0, now=t0 + live_runs.DEMO_SPEED_S * 1.02) == 40  # a pause on the end
    assert live_runs.demo_upto(rd, t0, now=t0 + live_runs.DEMO_SPEED_S * 1.05 + 1) < 5  # then again


def test_a_long_run_sends_a_bounded_figure_with_its_newest_point(tmp_path: Path) -> None:
    n = 50_000
    steps = pd.DataFrame({"step": np.arange(1, n + 1), "epoch": np.arange(n) // 500, "time": np.arange(n) * 0.05,
                          **{c: np.random.default_rng(0).random(n) for c in
                             ("loss", "loss_a", "loss_v", "loss_f", "acc_a", "acc_v", "acc_f", "rho_a", "k_a",
                              "lr_a", "lr_v", "lr_f", "gnorm_a", "gnorm_v", *(f"rate/{m}" for m in LAYERS))}})
    for fig in (charts.loss_acc_figure(steps), charts.lr_figure(steps), charts.firing_rate_figure(steps, LAYERS),
                imbalance.imbalance_figure(steps, None)):
        for trace in fig.data:
            x = np.asarray(trace.x)
            if len(x) and trace.type == "scatter":
                assert len(x) <= charts.MAX_POINTS + 1 and x[-1] == n, (trace.name, len(x))
        assert len(fig.to_json()) < 600_000


def test_the_served_plotly_bundle_draws_every_studio_figure(tmp_path: Path) -> None:
    # The browser gets plotly.js's cartesian bundle: it must be the version the plotly package writes figures
    # for, and hold every trace type the studio's panels use.
    assert urls.PLOTLY_FILE.is_file(), "a plotly upgrade needs its cartesian bundle in studio/static/"
    assert f"v{plotly.offline.get_plotlyjs_version()}" in urls.PLOTLY_FILE.read_text()[:200]
    run = RunData(make_run(tmp_path / "r"), immutable=True)
    run.refresh()
    view = run.view()
    arrays = live_runs.LiveRun(view.path, True).probe_arrays(view.probe_steps[-1])
    figs = [build(view) for _, build in live_figures.FIGURES.values()]
    figs += live_figures.raster_figures(view, arrays, view.probe_steps[-1], 0, "audio", 200, "all layers").values()
    assert {t.type for f in figs for t in f.data} <= set(routes.PLOTLY_TRACES)


def test_pages_and_routes_share_one_figure_cache(runs: Path) -> None:
    # A page drawing a run once (finished runs, Replay) reads the same cache entries the live routes fill: the
    # figure a route sent is not built again for the page, and a new step makes both see a new version.
    served = json.loads(_fig("loss").body)["v"]
    snap = live_runs.snapshot("live-one")
    built = live_runs.panel_figure(snap.view, "loss")
    assert built is not None and built.version == served and built.height == json.loads(built.json)["layout"]["height"]
    raster = json.loads(_fig("raster", probe=1, mod="audio", maxn=200, layer="all layers").body)["v"]
    assert live_runs.raster_figure(snap.view, "raster", (1, "audio", 200, "all layers")).version == raster
    _log_step(runs / "live-one", 41)
    assert live_runs.panel_figure(live_runs.snapshot("live-one").view, "loss").version != served
    assert live_runs.snapshot("../outside") is None


def test_panel_boxes_are_as_tall_as_the_figures_drawn_in_them(runs: Path) -> None:
    # The chart box a live page reserves before a figure arrives keeps that min-height afterwards: a box taller than
    # its figure left a blank band under the chart (loss: 520 px box, 380 px figure).
    for name in live_figures.FIGURES:
        height = json.loads(_fig(name).body)["fig"]["layout"]["height"]
        assert live_figures.HEIGHTS[name] == height, name
    membrane = json.loads(_fig("membrane", probe=1, mod="audio", maxn=200, layer="all layers").body)["fig"]
    assert live_figures.HEIGHTS["membrane"] == membrane["layout"]["height"]


def test_every_taaf_path_is_written_in_urls_alone() -> None:
    # One place owns the studio's own URLs: the routes are declared with these paths and the pages build theirs with
    # urls.head_src / urls.figure_src.
    root = Path(urls.__file__).resolve().parents[1]
    writers = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in (".py", ".js")
                     and "/taaf/" in p.read_text(encoding="utf-8"))
    assert writers == ["live/urls.py"]
    assert urls.figure_src(urls.DEMO, "loss", t0=1.5) == "/taaf/api/fig/loss?run=%40demo&t0=1.5"
    assert urls.head_src("run-1") == "/taaf/api/head?run=run-1"
    assert {r.path for r in routes.ROUTES} == {urls.PLOTLY_URL, urls.HEAD_PATH, urls.FIGURE_PATH}


def test_a_live_refresh_lists_only_the_probe_steps_it_has_not_read(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # The live cache refreshes a run about 4 times a second all night: listing every probe step each time
    # cost more with every hour of the run. Each refresh lists only the steps past the newest one it holds.
    from core.store import RunReader

    run = make_run(tmp_path / "r", status="running", steps=400)  # probes at 1, 10, 20, ..., 400
    listed: list[int] = []
    query = RunReader._query

    def counting(self: RunReader, sql: str, params: tuple | list = ()) -> list[tuple]:
        rows = query(self, sql, params)
        if sql.startswith("SELECT step FROM arrays"):
            listed.append(len(rows))
        return rows

    monkeypatch.setattr(RunReader, "_query", counting)
    rd = RunData(run)
    rd.refresh()
    assert listed == [41] and rd.probe_steps[-1] == 400
    rd.refresh()
    assert listed == [41, 0]  # nothing new: no probe step listed again
    w = RunWriter.open(run)
    for s in (410, 420):
        w.log_arrays(s, 20, {"alpha": np.full((4, 3, 4), 0.25, np.float32)}, kind="probe")
    w.close()
    assert rd.refresh() and listed == [41, 0, 2] and rd.probe_steps[-3:] == [400, 410, 420]
