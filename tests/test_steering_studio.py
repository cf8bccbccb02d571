"""Steering in the studio: event marks on every training-step chart, the Train page's steering form, and Replay's
jump from event to event (AppTest, no browser)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.steering import EVENT_COLUMNS, event_message
from core.store import RunWriter
from studio.charts import curves
from studio.charts.events import EVENT_COLOR, mark_events
from studio.live import figures
from studio.live.rundata import RunData
from tests.support import assert_renders, figure_specs, make_run, open_studio, step_table

pytestmark = pytest.mark.unit


def _events(*rows: tuple[int, str, object, object]) -> pd.DataFrame:
    return pd.DataFrame([{"id": i, "time": 0.0, "step": s, "key": k, "old": o, "new": n, "source": "cli"}
                         for i, (s, k, o, n) in enumerate(rows)], columns=EVENT_COLUMNS)


def _marks(fig) -> list[tuple[str, float]]:
    return [(s.xref, s.x0) for s in fig.layout.shapes if s.line.color == EVENT_COLOR]


def test_one_labelled_line_per_event_on_each_step_axis():
    fig = mark_events(curves.lr_figure(step_table()), _events((30, "optim.lr", 0.003, 0.001),
                                                              (60, "strategy.beta", 1.0, 3.0)))
    assert sorted(_marks(fig)) == sorted((x, at) for x in ("x", "x2", "x3") for at in (30.5, 60.5))
    labels = [a.text for a in fig.layout.annotations if a.font.color == EVENT_COLOR]
    assert labels.count("lr 0.001") == 3 and labels.count("β 3") == 3
    fig.to_json()  # still a valid figure
    assert not _marks(mark_events(curves.energy_figure(None), _events((30, "optim.lr", 0.003, 0.001))))


def _steer(run: Path, step: int, key: str, old: object, new: object) -> None:
    w = RunWriter.open(run)  # this process wrote the (running) synthetic run: reopening keeps it live
    w.log_event("steer", event_message(step, key, old, new, "cli"))
    w.close()


def test_live_panels_mark_events_and_redraw_when_one_arrives(tmp_path):
    run = make_run(tmp_path / "r", status="running")
    rd = RunData(run)
    rd.refresh()
    before = {name: figures.FIGURES[name][0](rd.view()) for name in figures.STEP_AXIS_FIGURES}
    _steer(run, 12, "corrupt.drop_visual", 0, 5)
    assert rd.refresh()
    view = rd.view()
    for name in figures.STEP_AXIS_FIGURES:
        changes, build = figures.FIGURES[name]
        assert changes(view) != before[name], name  # the cached figure is rebuilt
        if name != "entropy":  # (the synthetic run records no attention entropy: that panel waits, no axes)
            assert 12.5 in [at for _, at in _marks(build(view))], name
    assert figures.FIGURES["energy"][0](view) == figures.FIGURES["energy"][0](view)
    assert rd.view(upto=10).steer.empty and len(rd.view(upto=20).steer) == 1  # Replay cuts events like steps


def test_the_train_page_form_sends_only_what_changed(monkeypatch, tmp_path):
    run = make_run(tmp_path / "runs" / "live-one", status="running")
    at = open_studio(monkeypatch, tmp_path / "runs")
    assert_renders(at)
    note = next(c.value for c in at.caption if "only the training batches" in c.value)
    assert "dropped modality is muted" in note and "validation and test accuracy stay undropped" in note
    next(n for n in at.number_input if n.label.startswith("learning rate")).set_value(0.0005)
    next(b for b in at.selectbox if b.label == "drop a modality").set_value("visual")
    at.get("form_submit_button")[0].click().run()
    assert_renders(at)
    w = RunWriter.open(run)
    sent = [json.loads(p) for p in w.poll_settings()]
    w.close()
    assert [(s["key"], s["value"], s["source"]) for s in sent] == [("optim.lr", 0.0005, "studio"),
                                                                  ("corrupt.drop_visual", 50, "studio")]


def test_replay_jumps_from_event_to_event(monkeypatch, runs_dir):
    run = runs_dir / "taaf-hard-s0"
    w = RunWriter.open(run)
    for step, key in ((12, "optim.lr"), (25, "strategy.beta")):
        w.log_event("steer", event_message(step, key, 1.0, 2.0, "cli"))
    w.set_status("finished")
    w.close()
    time.sleep(0.01)
    at = open_studio(monkeypatch, runs_dir, page="views/4_replay.py")
    at.selectbox(key="rp_run").set_value(str(run)).run()
    assert at.select_slider(key="rp_step").value == 40
    at.button(key="rp_step-prev-event").click().run()
    assert at.select_slider(key="rp_step").value == 30  # the first probe after step 25
    at.button(key="rp_step-prev-event").click().run()
    assert at.select_slider(key="rp_step").value == 20
    at.button(key="rp_step-next-event").click().run()
    assert at.select_slider(key="rp_step").value == 30
    assert any("step 25.5" in s or '"x0":25.5' in s.replace(" ", "") for s in figure_specs(at))


def test_compare_marks_each_runs_events_on_its_step_axis(monkeypatch, runs_dir):
    w = RunWriter.open(runs_dir / "taaf-hard-s1")
    w.log_event("steer", event_message(17, "optim.lr", 0.003, 0.001, "cli"))
    w.set_status("finished")
    w.close()
    at = open_studio(monkeypatch, runs_dir, page="views/2_compare.py")
    at.selectbox(key="cmp_metric").set_value("rho_a").run()
    assert_renders(at)
    (spec,) = [json.loads(s) for s in figure_specs(at)]
    labels = [a["text"] for a in spec["layout"].get("annotations", [])]
    assert labels == ["taaf-hard-s1: lr 0.001"]
    assert [s["x0"] for s in spec["layout"]["shapes"]] == [17.5]


def test_a_probe_taken_with_a_modality_dropped_says_so_on_that_modalitys_raster():
    view = SimpleNamespace(layers=["a.lif1", "v.lif1"], meta={}, config={}, streams={"a": "audio", "v": "visual"},
                           modalities=["audio", "visual"])  # as a RunView of our trainer's run has them
    arrays = {"spikes/a.lif1": np.ones((2, 4, 8), np.uint8), "spikes/v.lif1": np.zeros((2, 4, 8), np.uint8),
              "dropped": np.array([0, 1], np.uint8)}

    def notes(modality: str, arrays: dict) -> list[str]:
        fig = figures.raster_figures(view, arrays, 10, 0, modality, 200, figures.ALL_LAYERS)["raster"]
        return [a.text for a in fig.layout.annotations if "muted" in a.text]

    assert notes("visual", arrays) == ["visual muted: dropped by steering at this probe"]
    assert notes("audio", arrays) == []
    assert notes("visual", {k: a for k, a in arrays.items() if k != "dropped"}) == []  # an undropped probe
