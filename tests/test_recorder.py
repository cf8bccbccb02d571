import pytest
import torch

from core.config import load_config
from core.energy import E_AC_PJ, E_MAC_PJ, energy_estimate, layer_costs
from core.model import MultimodalSNN
from core.recorder import evaluate, evaluate_zeroed, record_probes, shapley_values
from core.strategies import make_strategy


def test_shapley_values_by_hand():
    s = shapley_values(full=0.9, audio_only=0.6, visual_only=0.5, none=0.1)
    assert s["shapley_a"] == pytest.approx(0.5 * ((0.6 - 0.1) + (0.9 - 0.5)))
    assert s["shapley_v"] == pytest.approx(0.5 * ((0.5 - 0.1) + (0.9 - 0.6)))
    assert s["shapley_a"] + s["shapley_v"] == pytest.approx(0.9 - 0.1)  # efficiency


def small_model():
    cfg = load_config()
    torch.manual_seed(0)
    return cfg, MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), num_classes=10)


def test_energy_counts_spiking_layers_by_measured_rate():
    cfg, model = small_model()
    for layer in model.lif_layers():  # an untrained net in eval mode barely spikes: lower the threshold
        layer.p = layer.p._replace(v_th=torch.tensor(0.05))
    audio, visual = torch.randn(4, 32, 32), torch.rand(4, 1, 8, 8)
    costs = {c.name: c for c in layer_costs(model, audio, visual)}
    first = costs["audio_encoder.stages.0.conv"]
    second = costs["audio_encoder.stages.1.conv"]
    assert not first.spiking_input and second.spiking_input
    # conv 3x3, 1 -> 32 channels on a 32 x 24 window (an 8-frame slice with one slice of context on either
    # side), 4 steps: MACs per sample
    assert first.macs == pytest.approx(4 * 32 * 32 * 24 * 9)
    assert costs["visual_encoder.stages.0.conv"].macs == pytest.approx(32 * 8 * 8 * 9)  # the static frame: once
    e = energy_estimate(model, audio, visual)
    sops = sum(c.active_macs for c in costs.values() if c.spiking_input)
    macs = sum(c.macs for c in costs.values() if not c.spiking_input)
    assert e["energy_pj"] == pytest.approx(E_MAC_PJ * macs + E_AC_PJ * sops, rel=1e-6)
    assert 0 < e["sops"] < sum(c.macs for c in costs.values() if c.spiking_input)


def test_silent_network_has_no_synaptic_operations():
    cfg, model = small_model()
    for layer in model.lif_layers():
        layer.p = layer.p._replace(v_th=torch.tensor(1e9))
    e = energy_estimate(model, torch.randn(2, 32, 32), torch.rand(2, 1, 8, 8))
    assert e["sops"] == 0


def test_probe_arrays_shapes_and_binary_spikes():
    cfg, model = small_model()
    strategy = make_strategy(cfg)
    arrays = record_probes(model, strategy, torch.randn(3, 32, 32), torch.rand(3, 1, 8, 8), torch.tensor([1, 2, 3]),
                           membrane_neurons=5)
    assert arrays["spikes/a.lif1"].shape == (3, 4, 2048)  # 16 x 16 x 12 neurons, capped at MAX_RASTER_NEURONS
    assert arrays["membrane/v.lif1"].shape == (3, 4, 5)
    assert arrays["alpha"].shape == (3, 3, 4)
    assert arrays["probs"].shape == (3, 3, 4, 10)
    assert abs(arrays["probs"].sum(-1) - 1).max() < 1e-4
    assert set(arrays["spikes/a.lif2"].ravel().tolist()) <= {0, 1}
    assert model.training  # a trainer's model in train mode gets it back after the eval-mode probes


class TensorSplit:
    """The smallest dataset iterate_batches accepts: whole-split tensors."""

    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(1)
        self.audio, self.visual = torch.randn(n, 32, 32, generator=g), torch.rand(n, 1, 8, 8, generator=g)
        self.label = torch.randint(0, 10, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.label)


@pytest.mark.parametrize("strategy_name", ["taaf", "concat", "unimodal-visual"])
def test_one_pass_zeroed_evaluation_matches_zeroing_the_inputs(strategy_name):
    # The Shapley evaluations share encoder passes; they must equal running the model on zeroed inputs.
    cfg, model = small_model()
    cfg["strategy"]["name"] = strategy_name
    strategy = make_strategy(cfg)
    for layer in model.lif_layers():  # spikes on random inputs, so that zeroing changes predictions
        layer.p = layer.p._replace(v_th=torch.tensor(0.05))
    data = TensorSplit(11)
    zeros = [(), ("v",), ("a",), ("a", "v")]
    got = evaluate_zeroed(model, strategy, data, 4, torch.device("cpu"), zeros)
    model.eval()
    for z in zeros:
        audio = torch.zeros_like(data.audio) if "a" in z else data.audio
        visual = torch.zeros_like(data.visual) if "v" in z else data.visual
        with torch.no_grad():
            preds = strategy.predictions(model, model(audio, visual))
        for u, p in preds.items():
            assert got[z][f"acc_{u}"] == pytest.approx(float((p.argmax(-1) == data.label).float().mean())), (z, u)
        expected_loss = float(torch.nn.functional.cross_entropy(preds["f"], data.label))
        assert got[z]["loss"] == pytest.approx(expected_loss, rel=1e-4), z
    assert got[()] == evaluate(model, strategy, data, 4, torch.device("cpu"))
    assert got[("v",)]["loss"] != got[()]["loss"]  # zeroing did change the outputs
