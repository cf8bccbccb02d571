"""AV-Digits-T in the studio: a probe sample's video strip marks its event frames, its attention heatmap marks
where the word and the digit really are (events mapped onto the timesteps), runs without events draw no
markers, and the sidebar starts a temporal run from configs/<strategy>-temporal.toml without presets."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pytest

from studio.charts import attention, frames, inspection
from studio.live import figures
from tests.support import assert_renders, open_studio, page_text

SIZES = {"audio": 64, "visual": 16}


def _validate(fig: go.Figure) -> None:
    go.Figure(fig.to_dict())  # figbuild skips plotly's validation: a wrong property name fails here


def _boxes(fig: go.Figure) -> list[Any]:
    return [s for s in fig.layout.shapes if s.type == "rect"]


def test_strip_draws_sixteen_frames_and_outlines_the_event_frames() -> None:
    seq = np.random.default_rng(0).random((16, 1, 8, 8)).astype(np.float32)
    fig = frames.frame_strip_figure(seq, (5, 9))
    _validate(fig)
    z = np.asarray(fig.data[0].z, dtype=np.float32)
    assert z.shape == (8, 16 * 9 - 1)  # 16 frames of 8 columns, a blank column between neighbours
    assert list(fig.layout.xaxis.ticktext) == [str(k) for k in range(16)]
    np.testing.assert_array_equal(z[:, 9 * 3:9 * 3 + 8], seq[3, 0])  # frame 3 where its tick says
    boxes = _boxes(fig)
    assert [(b.x0, b.x1) for b in boxes] == [(k * 9 - 0.5, k * 9 + 7.5) for k in (5, 6, 7, 8)]


def test_strip_without_an_event_outlines_nothing() -> None:
    fig = frames.frame_strip_figure(np.zeros((16, 8, 8), np.float32))
    _validate(fig)
    assert not _boxes(fig) and np.asarray(fig.data[0].z, dtype=np.float32).shape == (8, 143)


def test_event_timesteps_map_each_modality_onto_T() -> None:
    spans = frames.event_timesteps((16, 40, 6, 10), SIZES, 8)
    assert spans == {"audio": (2.0, 5.0), "visual": (3.0, 5.0)}  # 16/64*8, 40/64*8; 6/16*8, 10/16*8
    assert frames.event_timesteps((0, 64, 0, 16), SIZES, 4) == {"audio": (0.0, 4.0), "visual": (0.0, 4.0)}


def test_probe_attention_marks_the_mapped_event_timesteps() -> None:
    alpha = np.full((3, 8), 1 / 8, np.float32)
    spans = frames.event_timesteps((16, 40, 6, 10), SIZES, 8)
    fig = attention.probe_alpha_figure(alpha, spans)
    _validate(fig)
    boxes = _boxes(fig)
    assert len(boxes) == 2
    # cell t (1..T) spans [t - 0.5, t + 0.5]: a box from x0 to x1 covers timesteps (from 0) x0 - 0.5 .. x1 - 0.5
    assert [(b.x0 - 0.5, b.x1 - 0.5) for b in boxes] == [spans["audio"], spans["visual"]]
    assert [round((b.y0 + b.y1) / 2) for b in boxes] == [0, 1]  # on the audio row, then the visual row
    assert "really is" in fig.layout.title.text


def test_probe_attention_without_events_draws_no_markers() -> None:
    fig = attention.probe_alpha_figure(np.full((3, 4), 0.25, np.float32))
    _validate(fig)
    assert not _boxes(fig) and "really" not in fig.layout.title.text


def _arrays(events: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    out = {"alpha": rng.random((2, 3, 8)).astype(np.float32), "frames": rng.random((2, 16, 8, 8)).astype(np.float16)}
    if events:
        out["events"] = np.array([[16, 40, 6, 10], [0, 8, 12, 16]], np.int16)
    return out


def test_sample_figures_of_a_temporal_probe() -> None:
    view = SimpleNamespace(meta={"T": 8, "input_frames": SIZES, "dataset": "avdigits-t"})
    figs = figures.sample_figures(view, _arrays(True), 1)
    assert set(figs) == {"strip", "probe_alpha"}
    assert [(b.x0, b.x1) for b in _boxes(figs["strip"])] == [(k * 9 - 0.5, k * 9 + 7.5) for k in (12, 13, 14, 15)]
    assert [(b.x0 - 0.5, b.x1 - 0.5) for b in _boxes(figs["probe_alpha"])] == [(0.0, 1.0), (6.0, 8.0)]


def test_sample_figures_without_events_or_frames() -> None:
    view = SimpleNamespace(meta={"T": 8})
    assert set(figures.sample_figures(view, _arrays(False), 0)) == {"strip"}  # frames, but no events: no heatmap
    assert not _boxes(figures.sample_figures(view, _arrays(False), 0)["strip"])
    assert figures.sample_figures(view, {"alpha": np.zeros((2, 3, 4), np.float32)}, 0) == {}  # AV-Digits runs
    no_sizes = figures.sample_figures(view, _arrays(True), 0)  # events, but the run's meta lacks input_frames
    assert not _boxes(no_sizes["probe_alpha"])


def test_inputs_figure_draws_a_sequence_as_a_strip() -> None:
    audio = np.zeros((32, 64), np.float32)
    fig = inspection.inputs_figure(audio, np.random.default_rng(2).random((16, 1, 8, 8)), event=(2, 5))
    _validate(fig)
    assert len(fig.data) == 2 and np.asarray(fig.data[1].z, dtype=np.float32).shape == (8, 143)
    assert len(list(fig.layout.xaxis2.ticktext)) == 16 and len(_boxes(fig)) == 3
    single = inspection.inputs_figure(audio, np.ones((1, 8, 8), np.float32))  # AV-Digits: one frame, as before
    assert np.asarray(single.data[1].z).shape == (8, 8)


def test_sidebar_starts_avdigits_t_from_the_strategy_temporal_config(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    from core import launcher

    started: list[tuple[Any, dict[str, Any]]] = []

    def fake_start(runs: Any, config: Any, over: dict[str, Any]) -> Path:
        started.append((config, over))
        run = tmp_path / "runs" / "fake"
        run.mkdir(parents=True, exist_ok=True)
        return run

    monkeypatch.setattr(launcher, "start_run", fake_start)
    at = open_studio(monkeypatch, tmp_path / "runs")
    at.selectbox(key="cfg_dataset").set_value("avdigits-t").run()
    assert_renders(at)
    keys = {w.key for w in at.selectbox}
    assert "cfg_preset" not in keys and "cfg_run" not in keys  # presets are AV-Digits' own
    assert at.number_input(key="cfg_T_avdigits-t").value == 8  # configs/taaf-temporal.toml
    assert "temporal" in page_text(at)
    at.selectbox(key="cfg_strategy").set_value("ogm-ge").run()
    at.button(key="start").click().run()
    assert_renders(at)
    config, over = started[-1]
    assert Path(config).name == "ogm-ge-temporal.toml"
    assert over["data.dataset"] == "avdigits-t" and "data.path" not in over
    assert not any(k.startswith("data.avdigits") for k in over)
