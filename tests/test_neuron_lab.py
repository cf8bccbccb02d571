"""The Neuron lab: its neuron is the network's (norse step and parameters), its f-I curve, the input it
replays from a run, its figures, and the page itself through AppTest."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from norse.torch.functional.lif_box import LIFBoxFeedForwardState, lif_box_feed_forward_step
from streamlit.testing.v1 import AppTest

from core import neuron_lab as lab
from core.config import DEFAULTS
from core.lif import DT, recording
from core.model import MultimodalSNN
from core.recorder import record_probes
from studio.charts import neuron as charts_neuron
from tests.support import CONFIGS, DEMO_RUN, open_studio, studio_charts

PARAMS = [(2.0, 0.5), (7.5, 1.0), (1.0, 0.25), (40.0, 1.5)]  # (tau_ms, v_th); the first is the network's


def norse_reference(x: torch.Tensor, tau_ms: float, v_th: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Step norse's functional LIF-box directly, as core/lif.py's LIFLayer does."""
    from norse.torch import LIFBoxParameters

    p = LIFBoxParameters(tau_mem_inv=torch.tensor(1e3 / tau_ms), v_th=torch.tensor(v_th))
    state = LIFBoxFeedForwardState(v=torch.zeros_like(x[0]))
    vs, zs = [], []
    for t in range(x.shape[0]):
        z, state = lif_box_feed_forward_step(x[t], state, p, DT)
        vs.append(state.v)
        zs.append(z)
    return torch.stack(vs), torch.stack(zs)


@pytest.mark.parametrize("tau_ms,v_th", PARAMS)
def test_simulated_trace_matches_norse_step(tau_ms: float, v_th: float) -> None:
    x = (torch.randn(150, 3, generator=torch.Generator().manual_seed(1)) * 0.8 + 2.0) * v_th
    v, z = lab.simulate(x.numpy(), lab.lif_parameters(tau_ms, v_th))
    ref_v, ref_z = norse_reference(x, tau_ms, v_th)
    assert z.sum() > 10  # the input does make it fire: the comparison covers resets
    np.testing.assert_array_equal(v, ref_v.numpy())
    np.testing.assert_array_equal(z, ref_z.numpy())
    v1, z1 = lab.simulate(x[:, 1].numpy(), lab.lif_parameters(tau_ms, v_th))  # one neuron: the same column
    np.testing.assert_array_equal(v1, v[:, 1])


def test_default_neuron_is_the_networks_layer() -> None:
    """With the default config's values the lab's neuron is exactly a LIF layer of the built network."""
    model = MultimodalSNN(DEFAULTS["model"], (32, 32), (1, 8, 8), 10)
    layer = model.lif_layers()[0]
    p = lab.lif_parameters(lab.network_tau_ms(), lab.network_v_th())
    for k in ("tau_mem_inv", "v_leak", "v_th", "v_reset"):
        assert float(getattr(p, k)) == pytest.approx(float(getattr(layer.p, k)), rel=1e-6), k
    x = torch.rand(120, 5, generator=torch.Generator().manual_seed(2)) * 1.5
    with recording() as recorded:
        z_net = layer(x)
    v, z = lab.simulate(x.numpy(), p)
    np.testing.assert_allclose(v, recorded[layer.name][1].numpy(), atol=1e-6)
    np.testing.assert_array_equal(z, z_net.numpy())


@pytest.mark.parametrize("tau_ms,v_th", PARAMS)
def test_f_i_curve_is_monotone_and_zero_below_rheobase(tau_ms: float, v_th: float) -> None:
    p = lab.lif_parameters(tau_ms, v_th)
    currents = np.union1d(np.linspace(-1.0, 4.0, 201), [v_th - 1e-3, v_th]).astype(np.float32)
    rates = lab.f_i_curve(p, currents, steps=300)
    assert np.all(np.diff(rates) >= 0)
    assert lab.rheobase(p) == pytest.approx(v_th)
    assert np.all(rates[currents <= v_th] == 0)
    assert rates[-1] > 0  # above the rheobase it does fire


def test_trace_and_f_i_in_one_pass_equal_separate_runs() -> None:
    p = lab.lif_parameters(5.0, 0.7)
    x = lab.noise_input(0.9, 0.5, 130, seed=3)
    currents = np.linspace(0, 2, 21, dtype=np.float32)
    v, z, rates = lab.trace_and_f_i(x, p, currents, steps=200)
    v_ref, z_ref = lab.simulate(x, p)
    np.testing.assert_array_equal(v, v_ref)
    np.testing.assert_array_equal(z, z_ref)
    np.testing.assert_array_equal(rates, lab.f_i_curve(p, currents, steps=200))
    batch = np.stack([x, 2 * x], axis=1)  # (S, B) probe-like input: each column its own neuron
    v2, _, _ = lab.trace_and_f_i(batch, p, currents)
    np.testing.assert_array_equal(v2[:, 1], lab.simulate(2 * x, p)[0])


def test_inputs() -> None:
    s = lab.step_input(1.2, 100, onset=30)
    assert s.shape == (100,) and np.all(s[:30] == 0) and np.all(s[30:] == np.float32(1.2))
    a, b = lab.noise_input(0.5, 0.3, 200, seed=7), lab.noise_input(0.5, 0.3, 200, seed=7)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, lab.noise_input(0.5, 0.3, 200, seed=8))
    assert abs(float(a.mean()) - 0.5) < 0.1
    with pytest.raises(ValueError, match="tau_mem_ms = 0.5"):
        lab.lif_parameters(0.5, 0.5)


def test_probe_current_recovered_from_demo_run_replays_its_membrane() -> None:
    """A run that recorded only membrane and spikes (runs before `current/` was recorded): the recovered input,
    replayed with the run's own neuron, gives back the recorded membrane and spikes."""
    from core.store import RunReader

    with RunReader(DEMO_RUN, immutable=True) as r:
        arrays = {k: a for k, a in r.arrays(r.array_steps()[-1]).items() if not k.startswith("current/")}
        model_cfg = r.config()["model"]
    p = lab.lif_parameters(lab.network_tau_ms(model_cfg), lab.network_v_th(model_cfg))
    layers = lab.probe_neurons(arrays)
    assert layers and all(m > 0 for m in layers.values())
    fired_somewhere = False
    for layer, m in layers.items():
        for n in range(0, m, 5):
            cur, bound = lab.probe_current(arrays, layer, n, p)
            v, z = lab.simulate(cur, p)
            mem = arrays[f"membrane/{layer}"][:, :, n].T.astype(np.float32)
            np.testing.assert_allclose(v, mem, atol=2e-3)
            neuron = int(arrays[f"neurons/{layer}"][n]) if f"neurons/{layer}" in arrays else n  # recorded ones
            np.testing.assert_array_equal(z, arrays[f"spikes/{layer}"][:, :, neuron].T)
            np.testing.assert_array_equal(bound, z.astype(bool))  # a lower bound exactly where it fired
            fired_somewhere |= bool(z.any())
    assert fired_somewhere


def test_recorded_current_is_each_layers_input() -> None:
    """record_probes stores `current/<layer>`: for the first visual layer (direct encoding) that is the
    conv + BN of the frame, the same at every step."""
    torch.manual_seed(0)
    model = MultimodalSNN(DEFAULTS["model"], (32, 32), (1, 8, 8), 10)
    audio, visual = torch.randn(3, 32, 32), torch.rand(3, 1, 8, 8)
    arrays = record_probes(model, None, audio, visual, torch.zeros(3, dtype=torch.long), membrane_neurons=6)
    for layer in lab.probe_neurons(arrays):
        assert arrays[f"current/{layer}"].shape == arrays[f"membrane/{layer}"].shape
        assert arrays[f"current/{layer}"].dtype == np.float16
    model.eval()
    with torch.no_grad():
        ids = torch.from_numpy(arrays["neurons/v.lif1"]).long()  # the recorded neurons of the layer
        want = model.visual_encoder.stages[0].current(visual).flatten(1)[:, ids]  # (P, M)
    got = arrays["current/v.lif1"].astype(np.float32)  # (P, T, M)
    for t in range(got.shape[1]):
        np.testing.assert_allclose(got[:, t], want.numpy(), atol=2e-2, rtol=2e-3)
    p = lab.lif_parameters(lab.network_tau_ms(), lab.network_v_th())
    cur, bound = lab.probe_current(arrays, "v.lif1", 2, p)
    assert not bound.any()  # recorded: exact everywhere
    np.testing.assert_array_equal(cur, got[:, :, 2].T)


def test_recorded_membrane_before_reset_crosses_the_threshold_exactly_where_the_layer_fired() -> None:
    """`membrane_pre/<layer>`: the recorded (after-reset) membrane where the neuron stayed silent, above v_th on
    every spike step."""
    torch.manual_seed(1)
    model = MultimodalSNN(DEFAULTS["model"], (32, 32), (1, 8, 8), 10)
    audio, visual = torch.randn(4, 32, 32) * 3, torch.rand(4, 1, 8, 8)
    arrays = record_probes(model, None, audio, visual, torch.zeros(4, dtype=torch.long), membrane_neurons=8)
    p = lab.lif_parameters(lab.network_tau_ms(), lab.network_v_th())
    fired_any = False
    for layer, m in lab.probe_neurons(arrays).items():
        pre = arrays[f"membrane_pre/{layer}"].astype(np.float32)  # (P, T, M)
        post = arrays[f"membrane/{layer}"].astype(np.float32)
        fired = arrays[f"spikes/{layer}"][:, :, arrays[f"neurons/{layer}"]].astype(bool)
        assert len(arrays[f"neurons/{layer}"]) == m
        assert pre.shape == post.shape
        fired_any |= bool(fired.any())
        assert np.all(pre[fired] > p.v_th.item() - 1e-3) and np.all(pre[~fired] <= p.v_th.item() + 1e-3)
        np.testing.assert_allclose(pre[~fired], post[~fired], atol=2e-3)
    assert fired_any


def test_figures_validate_and_show_threshold_and_spikes() -> None:
    p = lab.lif_parameters(4.0, 0.6)
    x = lab.step_input(1.0, 120, onset=20)
    v, z = lab.simulate(x, p)
    fig = charts_neuron.neuron_figure(x, v, z, 0.6, starts=[60])
    go.Figure(fig.to_dict())  # the builder skips validation: validate here
    spikes = [t for t in fig.data if t.name.startswith("spike")]
    assert len(spikes) == 1 and len(spikes[0].x) == int(z.sum()) > 0
    assert any(s["type"] == "line" and s["y0"] == 0.6 for s in fig.layout.shapes)  # the threshold
    currents = np.linspace(0, 2, 41, dtype=np.float32)
    fi = charts_neuron.f_i_figure(currents, lab.f_i_curve(p, currents), 0.6, (1.0, 200.0), lab.FI_STEPS)
    go.Figure(fi.to_dict())
    assert any(s["x0"] == 0.6 for s in fi.layout.shapes)  # the rheobase


def _lab(monkeypatch: pytest.MonkeyPatch, runs: Path, demo: Path | str = "") -> AppTest:
    return open_studio(monkeypatch, runs, demo, page="views/5_neuron_lab.py")


def _charts(at: AppTest) -> list[str]:
    """The figures the page draws (studio/live/livechart.py's chart component, figure JSON inline)."""
    return [c["fig"] for c in studio_charts(at)]


def _spike_count(at: AppTest) -> int:
    """Spike markers in the trace figure as sent to the browser (arrays travel as typed base64 blobs)."""
    spec = json.loads(_charts(at)[0])
    xs = [t["x"] for t in spec["data"] if t.get("name", "").startswith("spike")]
    return sum(len(np.frombuffer(base64.b64decode(x["bdata"]), x["dtype"])) if isinstance(x, dict) else len(x)
               for x in xs)


def test_page_without_any_run_moves_with_its_sliders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = _lab(monkeypatch, tmp_path / "runs")  # first launch: no runs folder, no demo run
    assert not at.exception
    assert len(_charts(at)) == 2  # the trace and the f-I curve
    before = _spike_count(at)
    assert before > 0
    at.slider(key="lab_vth").set_value(1.5).run()  # above the default input current: silent
    assert not at.exception and len(_charts(at)) == 2
    assert _spike_count(at) == 0
    at.slider(key="lab_vth").set_value(0.3).run()
    assert _spike_count(at) > before
    at.radio(key="lab_source").set_value("noise").run()
    assert not at.exception and len(_charts(at)) == 2
    at.radio(key="lab_source").set_value("run").run()  # no run to replay: says so, no error
    assert not at.exception and any("No run yet" in e.value for e in at.info)


def test_page_replays_a_neuron_of_the_demo_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = _lab(monkeypatch, tmp_path / "runs", DEMO_RUN)
    at.radio(key="lab_source").set_value("run").run()
    assert not at.exception and not at.error
    assert len(_charts(at)) == 2
    assert any("recorded exactly by the run" in c.value for c in at.caption)  # the demo records current/<layer>
    at.slider(key="lab_neuron").set_value(3).run()
    at.slider(key="lab_tau").set_value(12.0).run()
    assert not at.exception and len(_charts(at)) == 2


def test_t16_run_preset_changes_only_the_timesteps() -> None:
    from core.config import load_config
    from studio.ui import sidebar as controls

    over = controls._run_preset("taaf-t16")
    assert over == {"model.T": 16, "model.audio_steps": 16, "model.visual_steps": 16}
    cfg = load_config(CONFIGS / "concat.toml", over)  # applies over another strategy's config
    assert cfg["model"]["T"] == 16 and cfg["strategy"]["name"] == "concat"
    assert controls._run_preset("taaf") == {}


def test_sidebar_run_preset_sets_t_and_the_run_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = open_studio(monkeypatch, tmp_path / "runs")
    assert at.session_state["_overrides"]["model.T"] == 4
    at.selectbox(key="cfg_run").set_value("taaf-t16").run()
    assert not at.exception
    over = at.session_state["_overrides"]
    assert over["model.T"] == 16 and over["model.audio_steps"] == 16 and over["model.visual_steps"] == 16
    assert at.number_input(key="cfg_T_avdigits_T16").value == 16  # the field shows the preset's T
    at.selectbox(key="cfg_run").set_value("taaf").run()
    assert at.session_state["_overrides"]["model.T"] == 4 and "model.audio_steps" not in at.session_state["_overrides"]


def test_page_refuses_a_run_whose_neuron_it_cannot_simulate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A run's config.json is untrusted: a membrane time constant under one step gives one line, no crash."""
    from core.store import RunWriter

    w = RunWriter.create(tmp_path / "runs" / "odd", {"model": {"tau_mem_inv": 5000.0, "v_th": 0.5}})
    w.log_arrays(1, 0, {"spikes/a.lif1": np.zeros((2, 4, 8), np.uint8),
                        "membrane/a.lif1": np.zeros((2, 4, 8), np.float16)}, kind="probe")
    w.set_status("finished")
    w.close()
    at = _lab(monkeypatch, tmp_path / "runs")
    at.radio(key="lab_source").set_value("run").run()
    assert not at.exception
    assert len(at.error) == 1 and "tau_mem_ms = 0.2" in at.error[0].value


def test_membrane_before_reset_is_above_threshold_exactly_where_it_fired() -> None:
    p = lab.lif_parameters(3.0, 0.5)
    x = lab.noise_input(0.8, 0.6, 150, seed=4)
    v, z = lab.simulate(x, p)
    before = lab.membrane_before_reset(x, v, p)
    fired = z.astype(bool)
    assert fired.sum() > 5
    assert np.all(before[fired] > 0.5) and np.all(before[~fired] <= 0.5)
    np.testing.assert_allclose(before[~fired], v[~fired], atol=1e-6)  # no reset: the same membrane
    x_curve, y_curve = charts_neuron.sawtooth(v, z, before)
    assert len(x_curve) == len(v) + fired.sum() and np.all(np.diff(x_curve) >= 0)
