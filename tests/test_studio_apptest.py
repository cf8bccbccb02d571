"""Every studio page through streamlit.testing.v1.AppTest on small recorded runs (no browser). Starting runs from the
page: test_studio_launch.py; serving and reruns: test_studio_serving.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.store import RunReader, RunWriter
from tests.support import (
    assert_renders,
    figure_specs,
    make_run,
    open_studio,
    page_text,
    run_bar,
    studio_chart_data,
    studio_charts,
)


def _raster_panels(at: AppTest) -> list[str]:
    """The layers drawn by the spike raster, from its panel titles ("<layer>  (<n> neurons, rate ...)")."""
    spec = next(s for s in figure_specs(at) if "neurons, rate" in s)
    return [a["text"].split()[0] for a in json.loads(spec)["layout"]["annotations"] if "neurons, rate" in a["text"]]


def test_first_launch_replays_the_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    demo = make_run(tmp_path / "sample" / "demo_run")
    for f in demo.glob("store.sqlite-*"):
        f.unlink()
    before = sorted(p.name for p in demo.rglob("*"))
    at = open_studio(monkeypatch, tmp_path / "no-runs-yet", demo)
    assert_renders(at)
    assert sorted(p.name for p in demo.rglob("*")) == before  # the shipped demo folder is never written to
    assert "Demo replay" in page_text(at)
    assert "does not exist yet" in page_text(at)
    live = [c["src"] for c in studio_charts(at) if "src" in c]  # every panel fetches its own updates
    assert len(live) >= 9 and all("run=%40demo" in src and "t0=" in src for src in live)
    assert run_bar(at)["status"] == "demo replay" and run_bar(at)["src"].startswith("/taaf/api/head?run=%40demo")
    assert at.button(key="start") is not None


def test_runs_dir_may_be_one_run_folder(monkeypatch: pytest.MonkeyPatch, runs_dir: Path) -> None:
    at = open_studio(monkeypatch, runs_dir / "taaf-hard-s1")  # a run trained elsewhere, pointed at directly
    assert_renders(at)
    [only] = at.selectbox(key="live_run").options  # the run, by what it is (runlist.label)
    assert only.startswith("taaf · hard · T 4 · 2 epochs · seed 1")
    assert len(studio_charts(at)) >= 8


def test_nothing_at_all_still_renders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = open_studio(monkeypatch, tmp_path / "missing")
    assert_renders(at)
    assert "No runs yet" in page_text(at)


def test_finished_run_draws_every_panel(monkeypatch: pytest.MonkeyPatch, runs_dir: Path) -> None:
    at = open_studio(monkeypatch, runs_dir)
    assert_renders(at)
    assert Path(at.selectbox(key="live_run").value).name in ("taaf-hard-s0", "taaf-hard-s1")
    assert len(studio_charts(at)) >= 8
    assert run_bar(at)["status"] == "finished" and run_bar(at)["src"] is None  # drawn once, nothing polled
    assert all("fig" in c for c in studio_charts(at))
    at.radio(key="live_mod").set_value("visual").run()  # a selector inside the panel fragment
    assert_renders(at)
    assert "v.lif1" in at.selectbox(key="live_layer").options
    assert _raster_panels(at) == ["v.lif1", "v.lif2"]  # all layers of the modality by default
    at.selectbox(key="live_layer").set_value("v.lif2").run()
    assert_renders(at)
    assert _raster_panels(at) == ["v.lif2"]
    assert any("Membrane potential" in spec and "v.lif2 (step" in spec for spec in figure_specs(at))
    at.radio(key="live_mod").set_value("audio").run()  # v.lif2 is not an audio layer: back to all of them
    assert_renders(at)
    assert _raster_panels(at) == ["a.lif1", "a.lif2"]


def test_running_run_is_live_and_its_buttons_reach_the_trainer(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs" / "live-one", status="running")  # its writer pid (this process) is alive
    at = open_studio(monkeypatch, tmp_path / "runs")
    assert_renders(at)
    total = RunReader(run).meta()["total_steps"]
    head = run_bar(at)
    assert head["status"] == "running" and head["initial"]["total"] == total and "run=live-one" in head["src"]
    assert all("src" in c and "run=live-one" in c["src"] for c in studio_charts(at))
    at.button(key="pause").click().run()
    assert_renders(at)
    at.button(key="stop").click().run()
    w = RunWriter.open(run)
    assert [w.poll_command(), w.poll_command(), w.poll_command()] == ["pause", "stop", None]
    w.close()


def test_compare_page(monkeypatch: pytest.MonkeyPatch, runs_dir: Path) -> None:
    make_run(runs_dir / "broken-half-written")  # then remove its store: config.json only
    (runs_dir / "broken-half-written" / "store.sqlite").unlink()
    at = open_studio(monkeypatch, runs_dir, page="views/2_compare.py")
    assert_renders(at)
    assert len(at.multiselect(key="cmp_runs").value) == 2
    listing = at.dataframe[0].value.set_index("run")
    assert listing.loc["broken-half-written", "status"] == "unknown" and listing.loc["broken-half-written", "problem"]
    assert len(figure_specs(at)) == 1
    summary = next(d.value for d in at.dataframe if "n seeds" in d.value.columns)
    assert summary["n seeds"].iloc[0] == 2 and "±" in summary["val acc (fused)"].iloc[0]
    at.selectbox(key="cmp_metric").set_value("rho_a").run()
    assert_renders(at)
    assert len(at.get("download_button")) == 2
    from studio.ui.runlist import metrics_csv

    steps = metrics_csv(runs_dir / "taaf-hard-s0", "step").decode().splitlines()
    assert len(steps) == 41 and "rho_a" in steps[0].split(",")  # header + every step, unthinned
    assert "val_acc_f" in metrics_csv(runs_dir / "taaf-hard-s0", "epoch").decode().splitlines()[0]


def test_replay_page_scrubs_and_plays(monkeypatch: pytest.MonkeyPatch, runs_dir: Path) -> None:
    at = open_studio(monkeypatch, runs_dir, page="views/4_replay.py")
    assert_renders(at)
    slider = at.select_slider(key="rp_step")
    assert list(slider.options) == ["1", "10", "20", "30", "40"] and slider.value == 40
    slider.set_value(10).run()
    assert_renders(at)
    assert at.select_slider(key="rp_step").value == 10
    assert len(studio_charts(at)) >= 6
    at.button(key="rp_play").click().run()
    assert_renders(at)
    assert at.session_state["rp_playing"] is True


def test_inspect_without_trained_runs(monkeypatch: pytest.MonkeyPatch, runs_dir: Path) -> None:
    at = open_studio(monkeypatch, runs_dir, page="views/3_inspect.py")
    assert_renders(at)
    assert "No trained run" in page_text(at)


@pytest.mark.integration
def test_inspect_page_on_a_real_run(monkeypatch: pytest.MonkeyPatch, tiny_run: Path) -> None:
    assert RunReader(tiny_run).status()["status"] == "finished"
    at = open_studio(monkeypatch, tiny_run.parent, page="views/3_inspect.py")
    assert_renders(at)
    assert len(figure_specs(at)) == 3  # inputs, build-up, aligned rasters + attention
    at.checkbox(key="ins_drop_a").check().run()
    assert_renders(at)
    at.slider(key="ins_occ").set_value(4).run()
    assert_renders(at)
    assert "normalised time" in page_text(at)


@pytest.mark.integration
def test_live_page_on_a_real_run(monkeypatch: pytest.MonkeyPatch, tiny_run: Path) -> None:
    at = open_studio(monkeypatch, tiny_run.parent)
    assert_renders(at)
    assert len(studio_charts(at)) >= 8


def test_missing_dataset_folder_is_a_message_not_a_crash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = open_studio(monkeypatch, tmp_path / "runs")
    at.selectbox(key="cfg_dataset").set_value("cremad").run()
    assert at.number_input(key="cfg_epochs_cremad").value == 100  # that dataset's config defaults
    at.text_input(key="cfg_path_cremad").input("").run()
    at.button(key="start").click().run()
    assert_renders(at)
    assert "dataset folder" in page_text(at)  # nothing entered
    at.text_input(key="cfg_path_cremad").input("/nonexistent/CREMA-D").run()
    at.button(key="start").click().run()
    assert_renders(at)
    assert "Not started" in page_text(at) and "/nonexistent/CREMA-D" in page_text(at)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_presenter_mode_shows_one_group_and_steps_through(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    demo = make_run(tmp_path / "sample" / "demo_run")
    at = open_studio(monkeypatch, tmp_path / "no-runs-yet", demo, page="views/6_present.py")
    assert_renders(at)
    first = {k for k in studio_chart_data(at)}
    assert first == {"pres_0_loss"} and all("big=1" in c["src"] and "fill" in c for c in studio_charts(at))
    at.button(key="pres_next").click().run()
    assert_renders(at)
    assert set(studio_chart_data(at)) == {"pres_1_lr"} and at.query_params["group"] == "1"
    at.button(key="pres_prev").click().run()
    at.button(key="pres_prev").click().run()
    assert set(studio_chart_data(at)) == {"pres_6_rates", "pres_6_energy"}  # wraps around
    run = make_run(tmp_path / "runs" / "done-one")  # a finished run named in the URL replays in a loop
    at = open_studio(monkeypatch, tmp_path / "runs", demo, page="views/6_present.py")
    at.query_params["run"] = "done-one"
    at.run()
    assert_renders(at)
    assert run_bar(at)["status"] == "replay" and "t0=" in run_bar(at)["src"] and run.name in run_bar(at)["src"]
