"""A tiny AV-Digits-T run through every studio page (AppTest, no browser): Train draws the probe sample's video
strip and its attention with the events marked beside its rasters, Inspect draws the frame sequence as a strip,
Replay and Compare render."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import CONFIGS, ROOT, TINY, assert_renders, open_studio, sets, small_avdigits_t, studio_chart_data

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def temporal_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("avdt_studio")
    data = small_avdigits_t(root / "small.npz")
    run = root / "runs" / "taaf-avdigits-t-tiny"
    over = [*TINY, "train.epochs=1", f"data.path={data}", "model.T=4", "model.audio_steps=8",
            "model.visual_steps=8", "data.batch_size=32"]
    subprocess.run([sys.executable, "-m", "core.train", "--config", str(CONFIGS / "taaf-temporal.toml"),
                    *sets(over), "--run-dir", str(run)], cwd=ROOT, check=True, capture_output=True, timeout=600)
    return run


def test_train_page_draws_the_sample_strip_and_its_event_markers(monkeypatch: pytest.MonkeyPatch,
                                                                    temporal_run: Path) -> None:
    at = open_studio(monkeypatch, temporal_run.parent)
    assert_renders(at)
    charts = studio_chart_data(at)
    strip = next(json.loads(c["fig"]) for k, c in charts.items() if k.endswith("_strip"))
    alpha = next(json.loads(c["fig"]) for k, c in charts.items() if k.endswith("_probe_alpha"))
    assert len(strip["layout"]["xaxis"]["ticktext"]) == 16 and strip["layout"]["shapes"]  # event frames outlined
    assert len(alpha["layout"]["shapes"]) == 2  # the word's and the digit's timesteps


@pytest.mark.parametrize("page", ["views/4_replay.py", "views/3_inspect.py", "views/2_compare.py"])
def test_other_pages_render_a_temporal_run(monkeypatch: pytest.MonkeyPatch, temporal_run: Path, page: str) -> None:
    at = open_studio(monkeypatch, temporal_run.parent, page=page)
    assert_renders(at)
    if page.endswith("inspect.py"):
        inputs = json.loads(studio_chart_data(at)["ins_inputs"]["fig"])
        assert len(inputs["layout"]["xaxis2"]["ticktext"]) == 16 and inputs["layout"]["shapes"]


def test_live_routes_serve_the_sample_figures(monkeypatch: pytest.MonkeyPatch, temporal_run: Path) -> None:
    from urllib.parse import urlencode

    from starlette.requests import Request

    from studio.live import routes
    from studio.live import runs as live_runs

    monkeypatch.setenv("TAAF_RUNS_DIR", str(temporal_run.parent))
    monkeypatch.setenv("TAAF_DEMO_RUN", "")
    live_runs._runs.clear()
    query = urlencode({"run": temporal_run.name, "probe": 0, "mod": "visual", "maxn": 200, "layer": "all layers"})
    for name, boxes in (("strip", range(1, 6)), ("probe_alpha", (2,))):
        scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": query.encode(),
                 "path_params": {"name": name}}
        res = routes.figure_route(Request(scope))
        assert res.status_code == 200, (name, res.body)
        assert len(json.loads(res.body)["fig"]["layout"]["shapes"]) in boxes  # the digit's frames; word and digit
