"""How the studio is served and when its pages rerun: the app's navigation, the warm-up at server start, no rerun
on a timer, a rerun when the run bar sees a new status."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from core.store import RunWriter
from tests.support import (
    STUDIO_APP,
    assert_renders,
    make_run,
    open_studio,
    run_bar,
)


def test_app_serves_the_navigation_and_warms_up_at_server_start() -> None:
    # `streamlit run studio/app.py` finds an st.App in it and serves home.py through it.
    import importlib.util

    import streamlit as st
    from streamlit.web.server.app_discovery import discover_asgi_app

    path = STUDIO_APP.with_name("app.py")
    assert discover_asgi_app(path).is_asgi_app
    spec = importlib.util.spec_from_file_location("studio_app_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.app, st.App) and Path(module.app.script_path).resolve() == STUDIO_APP


def test_warm_up_builds_every_live_figure_without_a_session(monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    from studio import warmup
    from studio.ui import panels

    built = []

    def recording(name: str, build):  # noqa: ANN001, ANN202
        return lambda v: built.append(name) or build(v)

    monkeypatch.setattr(panels, "VIEW_FIGURES", {n: (changes, recording(n, build))
                                                 for n, (changes, build) in panels.VIEW_FIGURES.items()})
    with caplog.at_level("WARNING"):
        warmup.warm_up()
    assert built == list(panels.VIEW_FIGURES) and "warm-up failed" not in caplog.text


def test_a_live_page_never_reruns_on_a_timer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # While a run trains or the demo replays, the browser-side components fetch their own updates: no fragment
    # of the page asks Streamlit for timed reruns (each would be a script run per tab beside the training).
    import streamlit as st

    asked = []
    fragment = st.fragment

    def called(every, f):  # noqa: ANN001, ANN202
        return lambda *a, **k: (asked.append(every), f(*a, **k))[1]

    def spy(*args, **kwargs):  # records the run_every of each fragment the page calls
        made = fragment(*args, **kwargs)
        if args and callable(args[0]):
            return called(kwargs.get("run_every"), made)
        return lambda f: called(kwargs.get("run_every"), made(f))

    monkeypatch.setattr(st, "fragment", spy)
    make_run(tmp_path / "runs" / "live-one", status="running")
    at = open_studio(monkeypatch, tmp_path / "runs")
    assert_renders(at)
    assert run_bar(at)["status"] == "running"
    at = open_studio(monkeypatch, tmp_path / "no-runs-yet", make_run(tmp_path / "sample" / "demo_run"))
    assert_renders(at)
    assert run_bar(at)["status"] == "demo replay"
    assert not any(asked), asked
    # The spy does see a timed fragment: a launched run still loading is looked at every second.
    loading = tmp_path / "runs2" / "loading"
    loading.mkdir(parents=True)
    (loading / "launch.json").write_text(json.dumps({"pid": os.getpid(), "time": time.time(), "args": []}))
    open_studio(monkeypatch, tmp_path / "runs2")
    assert 1.0 in asked


def test_a_status_change_seen_by_the_run_bar_reruns_the_page(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs" / "live-one", status="running")
    at = open_studio(monkeypatch, tmp_path / "runs")
    assert at.button(key="pause") is not None
    w = RunWriter.open(run)
    w.set_status("paused")
    w.close()
    at.run()  # what the run bar's trigger asks for
    assert_renders(at)
    assert run_bar(at)["status"] == "paused" and at.button(key="resume") is not None
