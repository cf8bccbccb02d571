"""Every studio page through streamlit.testing.v1.AppTest on small recorded runs (no browser)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import launcher
from core.store import RunReader, RunWriter
from studio.ui.runlist import run_table
from tests.support import STUDIO_APP, make_run, wait_until

APP = str(STUDIO_APP)


def _app(monkeypatch: pytest.MonkeyPatch, runs: Path, demo: Path | str = "", page: str | None = None) -> AppTest:
    monkeypatch.setenv("TAAF_RUNS_DIR", str(runs))
    monkeypatch.setenv("TAAF_DEMO_RUN", str(demo))
    at = AppTest.from_file(APP, default_timeout=60).run()
    if page:
        at.switch_page(page).run()
    return at


def _text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "success", "info", "warning", "error", "caption", "code")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def _chart_data(at: AppTest) -> dict[str, dict]:
    """Every chart on the page (studio/live/livechart.py): key -> its data (`fig` JSON drawn now, or a live `src`)."""
    return {c.proto.id.rsplit("-", 1)[1]: json.loads(c.proto.json) for c in at.get("bidi_component")
            if c.proto.component_name == "taaf_chart"}


def _charts(at: AppTest) -> list[dict]:
    return list(_chart_data(at).values())


def _specs(at: AppTest) -> list[str]:
    """The figure JSON of every chart drawn now (static charts)."""
    return [c["fig"] for c in _charts(at) if "fig" in c]


def _head(at: AppTest) -> dict:
    """The run bar's data: status, the header it starts with, and the route it polls (None when static)."""
    return next(json.loads(c.proto.json) for c in at.get("bidi_component") if c.proto.component_name == "taaf_head")


def _raster_panels(at: AppTest) -> list[str]:
    """The layers drawn by the spike raster, from its panel titles ("<layer>  (<n> neurons, rate ...)")."""
    spec = next(s for s in _specs(at) if "neurons, rate" in s)
    return [a["text"].split()[0] for a in json.loads(spec)["layout"]["annotations"] if "neurons, rate" in a["text"]]


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_first_launch_replays_the_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    demo = make_run(tmp_path / "sample" / "demo_run")
    for f in demo.glob("store.sqlite-*"):
        f.unlink()
    before = sorted(p.name for p in demo.rglob("*"))
    at = _app(monkeypatch, tmp_path / "no-runs-yet", demo)
    _ok(at)
    assert sorted(p.name for p in demo.rglob("*")) == before  # the shipped demo folder is never written to
    assert "Demo replay" in _text(at)
    assert "does not exist yet" in _text(at)
    live = [c["src"] for c in _charts(at) if "src" in c]  # every panel fetches its own updates
    assert len(live) >= 9 and all("run=%40demo" in src and "t0=" in src for src in live)
    assert _head(at)["status"] == "demo replay" and _head(at)["src"].startswith("/taaf/api/head?run=%40demo")
    assert at.button(key="start") is not None


def test_runs_dir_may_be_one_run_folder(monkeypatch: pytest.MonkeyPatch, runs_dir: Path) -> None:
    at = _app(monkeypatch, runs_dir / "taaf-hard-s1")  # a run trained elsewhere, pointed at directly
    _ok(at)
    assert at.selectbox(key="live_run").options == ["taaf-hard-s1"]
    assert len(_charts(at)) >= 8


def test_nothing_at_all_still_renders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = _app(monkeypatch, tmp_path / "missing")
    _ok(at)
    assert "No runs yet" in _text(at)


def test_finished_run_draws_every_panel(monkeypatch: pytest.MonkeyPatch, runs_dir: Path) -> None:
    at = _app(monkeypatch, runs_dir)
    _ok(at)
    assert Path(at.selectbox(key="live_run").value).name in ("taaf-hard-s0", "taaf-hard-s1")
    assert len(_charts(at)) >= 8
    assert _head(at)["status"] == "finished" and _head(at)["src"] is None  # drawn once, nothing polled
    assert all("fig" in c for c in _charts(at))
    at.radio(key="live_mod").set_value("visual").run()  # a selector inside the panel fragment
    _ok(at)
    assert "v.lif1" in at.selectbox(key="live_layer").options
    assert _raster_panels(at) == ["v.lif1", "v.lif2"]  # all layers of the modality by default
    at.selectbox(key="live_layer").set_value("v.lif2").run()
    _ok(at)
    assert _raster_panels(at) == ["v.lif2"]
    assert any("Membrane potential" in spec and "v.lif2 (step" in spec for spec in _specs(at))
    at.radio(key="live_mod").set_value("audio").run()  # v.lif2 is not an audio layer: back to all of them
    _ok(at)
    assert _raster_panels(at) == ["a.lif1", "a.lif2"]


def test_running_run_is_live_and_its_buttons_reach_the_trainer(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs" / "live-one", status="running")  # its writer pid (this process) is alive
    at = _app(monkeypatch, tmp_path / "runs")
    _ok(at)
    total = RunReader(run).meta()["total_steps"]
    head = _head(at)
    assert head["status"] == "running" and head["initial"]["total"] == total and "run=live-one" in head["src"]
    assert all("src" in c and "run=live-one" in c["src"] for c in _charts(at))
    at.button(key="pause").click().run()
    _ok(at)
    at.button(key="stop").click().run()
    w = RunWriter.open(run)
    assert [w.poll_command(), w.poll_command(), w.poll_command()] == ["pause", "stop", None]
    w.close()


@pytest.mark.integration
def test_failed_stale_and_corrupt_runs_are_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs / "a-failed", status="failed", error="RuntimeError: loss is nan at step 7")
    stale = make_run(runs / "b-stale", status="running")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import sqlite3

    con = sqlite3.connect(stale / "store.sqlite")
    con.execute("UPDATE status SET pid = ?", (dead.pid,))
    con.commit()
    con.close()
    (runs / "c-corrupt").mkdir()
    (runs / "c-corrupt" / "store.sqlite").write_bytes(b"not a database at all" * 100)
    (runs / "c-corrupt" / "config.json").write_text("{}")

    at = _app(monkeypatch, runs)
    for path, expect in ((runs / "a-failed", "loss is nan"), (stale, "interrupted"), (runs / "c-corrupt", "cannot")):
        at.selectbox(key="live_run").set_value(str(path)).run()
        _ok(at)
        assert expect in _text(at), (path.name, _text(at)[:500])
    at.selectbox(key="live_run").set_value(str(runs / "a-failed")).run()
    assert "Boom: synthetic" in _text(at)  # tail of train.log
    at.selectbox(key="live_run").set_value(str(stale)).run()
    assert at.button(key="resume_int") is not None


@pytest.mark.integration
def test_start_launches_once_and_a_second_start_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    procs = []

    def fake_spawn(args: list[str], log_path: Path) -> subprocess.Popen:  # a trainer that only waits
        procs.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
        return procs[-1]

    monkeypatch.setattr(launcher, "_spawn", fake_spawn)
    runs = tmp_path / "runs"
    try:
        at = _app(monkeypatch, runs)
        at.button(key="start").click().run()
        _ok(at)
        assert "Started" in _text(at) and len(procs) == 1
        assert "Starting" in _text(at)
        at.button(key="start").click().run()
        _ok(at)
        assert "already starting" in _text(at) and len(procs) == 1
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.mark.integration
def test_trainer_crashing_at_start_shows_its_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def crashing(args: list[str], log_path: Path) -> subprocess.Popen:
        with open(log_path, "a") as log:
            return subprocess.Popen([sys.executable, "-c", "import sys; sys.exit('error: data.path: corrupt npz')"],
                                    stdout=log, stderr=log)

    monkeypatch.setattr(launcher, "_spawn", crashing)
    at = _app(monkeypatch, tmp_path / "runs")
    at.button(key="start").click().run()
    run = next((tmp_path / "runs").glob("*/launch.json")).parent
    info = launcher.launch_info(run)
    wait_until(lambda: not launcher.pid_alive(info["pid"]), "the crashing trainer to exit", timeout=30)
    at.run()
    _ok(at)
    assert "exited before creating its run store" in _text(at) and "corrupt npz" in _text(at)
    at.button(key="start").click().run()  # a crashed start does not block the next one
    _ok(at)
    assert "already" not in _text(at)


@pytest.mark.integration
def test_started_run_stays_selected_and_starting_until_its_store_exists(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    def slow_trainer(args: list[str], log_path: Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    monkeypatch.setattr(launcher, "_spawn", slow_trainer)
    at = _app(monkeypatch, tmp_path / "runs")
    try:
        at.button(key="start").click().run()
        _ok(at)
        run = next((tmp_path / "runs").glob("*/launch.json")).parent
        # A new selector (new key) carries the app's choice: a stale browser value for the old one cannot undo it.
        select = [s for s in at.selectbox if (s.key or "").startswith("live_run")]
        assert [(s.key, s.value) for s in select] == [("live_run_1", str(run))]
        # The trainer has written config.json but not yet its store: still starting, not "cannot be read".
        (run / "config.json").write_text("{}")
        run_table.clear()  # the run table is cached for 2 s: read the folder again now
        at.run()
        _ok(at)
        assert "Starting" in _text(at) and "cannot be read" not in _text(at)
        assert at.selectbox(key="live_run_1").value == str(run)
    finally:
        info = launcher.launch_info(run)
        os.kill(info["pid"], 9)


def test_compare_page(monkeypatch: pytest.MonkeyPatch, runs_dir: Path) -> None:
    make_run(runs_dir / "broken-half-written")  # then remove its store: config.json only
    (runs_dir / "broken-half-written" / "store.sqlite").unlink()
    at = _app(monkeypatch, runs_dir, page="views/2_compare.py")
    _ok(at)
    assert len(at.multiselect(key="cmp_runs").value) == 2
    listing = at.dataframe[0].value.set_index("run")
    assert listing.loc["broken-half-written", "status"] == "unknown" and listing.loc["broken-half-written", "problem"]
    assert len(_specs(at)) == 1
    summary = next(d.value for d in at.dataframe if "n seeds" in d.value.columns)
    assert summary["n seeds"].iloc[0] == 2 and "±" in summary["val acc (fused)"].iloc[0]
    at.selectbox(key="cmp_metric").set_value("rho_a").run()
    _ok(at)
    assert len(at.get("download_button")) == 2
    from studio.ui.runlist import metrics_csv

    steps = metrics_csv(runs_dir / "taaf-hard-s0", "step").decode().splitlines()
    assert len(steps) == 41 and "rho_a" in steps[0].split(",")  # header + every step, unthinned
    assert "val_acc_f" in metrics_csv(runs_dir / "taaf-hard-s0", "epoch").decode().splitlines()[0]


def test_replay_page_scrubs_and_plays(monkeypatch: pytest.MonkeyPatch, runs_dir: Path) -> None:
    at = _app(monkeypatch, runs_dir, page="views/4_replay.py")
    _ok(at)
    slider = at.select_slider(key="rp_step")
    assert list(slider.options) == ["1", "10", "20", "30", "40"] and slider.value == 40
    slider.set_value(10).run()
    _ok(at)
    assert at.select_slider(key="rp_step").value == 10
    assert len(_charts(at)) >= 6
    at.button(key="rp_play").click().run()
    _ok(at)
    assert at.session_state["rp_playing"] is True


def test_inspect_without_trained_runs(monkeypatch: pytest.MonkeyPatch, runs_dir: Path) -> None:
    at = _app(monkeypatch, runs_dir, page="views/3_inspect.py")
    _ok(at)
    assert "No trained run" in _text(at)


@pytest.mark.integration
def test_inspect_page_on_a_real_run(monkeypatch: pytest.MonkeyPatch, tiny_run: Path) -> None:
    assert RunReader(tiny_run).status()["status"] == "finished"
    at = _app(monkeypatch, tiny_run.parent, page="views/3_inspect.py")
    _ok(at)
    assert len(_specs(at)) == 3  # inputs, build-up, aligned rasters + attention
    at.checkbox(key="ins_drop_a").check().run()
    _ok(at)
    at.slider(key="ins_occ").set_value(4).run()
    _ok(at)
    assert "normalised time" in _text(at)


@pytest.mark.integration
def test_live_page_on_a_real_run(monkeypatch: pytest.MonkeyPatch, tiny_run: Path) -> None:
    at = _app(monkeypatch, tiny_run.parent)
    _ok(at)
    assert len(_charts(at)) >= 8


def test_missing_dataset_folder_is_a_message_not_a_crash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = _app(monkeypatch, tmp_path / "runs")
    at.selectbox(key="cfg_dataset").set_value("cremad").run()
    assert at.number_input(key="cfg_epochs_cremad").value == 100  # that dataset's config defaults
    at.text_input(key="cfg_path_cremad").input("").run()
    at.button(key="start").click().run()
    _ok(at)
    assert "dataset folder" in _text(at)  # nothing entered
    at.text_input(key="cfg_path_cremad").input("/nonexistent/CREMA-D").run()
    at.button(key="start").click().run()
    _ok(at)
    assert "Not started" in _text(at) and "/nonexistent/CREMA-D" in _text(at)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_app_serves_the_navigation_and_warms_up_at_server_start() -> None:
    # `streamlit run studio/app.py` finds an st.App in it and serves home.py through it.
    import importlib.util

    import streamlit as st
    from streamlit.web.server.app_discovery import discover_asgi_app

    path = Path(APP).with_name("app.py")
    assert discover_asgi_app(path).is_asgi_app
    spec = importlib.util.spec_from_file_location("studio_app_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.app, st.App) and Path(module.app.script_path).resolve() == Path(APP)


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
    at = _app(monkeypatch, tmp_path / "runs")
    _ok(at)
    assert _head(at)["status"] == "running"
    at = _app(monkeypatch, tmp_path / "no-runs-yet", make_run(tmp_path / "sample" / "demo_run"))
    _ok(at)
    assert _head(at)["status"] == "demo replay"
    assert not any(asked), asked
    # The spy does see a timed fragment: a launched run still loading is looked at every second.
    loading = tmp_path / "runs2" / "loading"
    loading.mkdir(parents=True)
    (loading / "launch.json").write_text(json.dumps({"pid": os.getpid(), "time": time.time(), "args": []}))
    _app(monkeypatch, tmp_path / "runs2")
    assert 1.0 in asked


def test_a_status_change_seen_by_the_run_bar_reruns_the_page(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs" / "live-one", status="running")
    at = _app(monkeypatch, tmp_path / "runs")
    assert at.button(key="pause") is not None
    w = RunWriter.open(run)
    w.set_status("paused")
    w.close()
    at.run()  # what the run bar's trigger asks for
    _ok(at)
    assert _head(at)["status"] == "paused" and at.button(key="resume") is not None


def test_presenter_mode_shows_one_group_and_steps_through(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    demo = make_run(tmp_path / "sample" / "demo_run")
    at = _app(monkeypatch, tmp_path / "no-runs-yet", demo, page="views/6_present.py")
    _ok(at)
    first = {k for k in _chart_data(at)}
    assert first == {"pres_0_loss"} and all("big=1" in c["src"] and "fill" in c for c in _charts(at))
    at.button(key="pres_next").click().run()
    _ok(at)
    assert set(_chart_data(at)) == {"pres_1_lr"} and at.query_params["group"] == "1"
    at.button(key="pres_prev").click().run()
    at.button(key="pres_prev").click().run()
    assert set(_chart_data(at)) == {"pres_6_rates", "pres_6_energy"}  # wraps around
    run = make_run(tmp_path / "runs" / "done-one")  # a finished run named in the URL replays in a loop
    at = _app(monkeypatch, tmp_path / "runs", demo, page="views/6_present.py")
    at.query_params["run"] = "done-one"
    at.run()
    _ok(at)
    assert _head(at)["status"] == "replay" and "t0=" in _head(at)["src"] and run.name in _head(at)["src"]
