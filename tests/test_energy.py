"""Energy count on a tiny network, by hand: every MAC of the SNN (overlapping audio windows, time
alignment, attention included), and the ANN reference = the same network once over the same input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.config import load_config
from core.energy import E_MAC_PJ, energy_estimate, layer_costs
from core.model import MultimodalSNN

# widths [2], T = 2 steps for both modalities, one slice of audio context, 3 classes, attention d = 2
TINY_MODEL = {"model.widths": [2], "model.T": 2, "model.audio_steps": 2, "model.visual_steps": 2,
        "model.audio_context": 1, "model.attn_dim": 2}


def tiny(fusion: str = "taaf", silent: bool = True) -> MultimodalSNN:
    torch.manual_seed(0)
    model = MultimodalSNN(load_config(None, TINY_MODEL)["model"], (4, 4), (1, 4, 4), num_classes=3, fusion=fusion)
    if silent:  # no spikes: every spike-driven operation costs 0, so the count is all hand arithmetic
        for layer in model.lif_layers():
            layer.p = layer.p._replace(v_th=torch.tensor(1e9))
    return model


def test_tiny_network_by_hand():
    audio, visual = torch.randn(3, 4, 4), torch.rand(3, 1, 4, 4)
    e = energy_estimate(tiny(), audio, visual)
    # SNN, analog input (4.6 pJ each):
    #   audio conv: a slice is 2 frames + 1 slice of context either side = 4 x 6; 2 channels x 9 taps x 24
    #   positions = 432 per step, 2 steps (the overlap is computed, so it is counted) -> 864
    #   visual conv: the static frame once, 2 x 9 x 16 = 288
    #   attention, 3 streams: query + key 2 x (T 2 x C 3 x d 2) = 24, Q K^T 2 x 2 x 2 = 8, sum_t alpha O 2 x 3 = 6
    #   -> 38 each, 114
    # Spike-driven (silent here: 0 SOPs): the time alignment (T x S x D: 2 x 2 x 12 audio, 2 x 2 x 8 visual)
    # and the heads (12 x 3, 8 x 3, 20 x 3 per step).
    assert e["macs"] == pytest.approx(864 + 288 + 114)
    assert e["sops"] == 0
    assert e["energy_pj"] == pytest.approx(E_MAC_PJ * (864 + 288 + 114))
    # ANN: audio conv once over the whole 4 x 4 spectrogram (2 x 9 x 16 = 288), visual conv once (288),
    # heads once (36 + 24 + 60): no timesteps, so no alignment and no attention over time.
    assert e["ann_macs"] == pytest.approx(288 + 288 + 120)
    assert e["energy_ann_pj"] == pytest.approx(E_MAC_PJ * 696)


def test_alignment_and_heads_are_counted_as_operations_on_their_input():
    model = tiny(silent=False)
    costs = {c.name: c for c in layer_costs(model, torch.randn(3, 4, 4), torch.rand(3, 1, 4, 4))}
    assert costs["align_a"].macs == pytest.approx(2 * 2 * 12) and costs["align_v"].macs == pytest.approx(2 * 2 * 8)
    assert costs["head_f"].macs == pytest.approx(2 * 20 * 3)
    assert costs["taaf.attention.f"].macs == pytest.approx(2 * 2 * 2 + 2 * 3)
    assert costs["align_a"].spiking_input  # one plain stage, pooled on its own grid: the rates are spikes
    assert not costs["taaf.attention.a"].spiking_input  # logits are analog


def test_mean_fusion_has_no_attention_cost():
    e = energy_estimate(tiny("mean"), torch.randn(2, 4, 4), torch.rand(2, 1, 4, 4))
    assert e["macs"] == pytest.approx(864 + 288)


class Binary(nn.Module):
    """A linear layer fed a fixed spike pattern: a quarter of its inputs fire."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 5)

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        return self.fc(audio)


def test_synaptic_operations_follow_the_measured_rate():
    spikes = torch.zeros(4, 8)
    spikes[:, :2] = 1.0  # rate 0.25
    (c,) = layer_costs(Binary(), spikes, spikes)
    assert c.spiking_input and c.macs == 40 and c.active_macs == pytest.approx(10)


def test_default_network_ann_counts_each_audio_frame_once():
    """The default audio steps see 3 slices each (one of context on either side): the SNN convolves every
    frame 3 times, the ANN reference once."""
    cfg = load_config()
    model = MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), num_classes=10)
    costs = {c.name: c for c in layer_costs(model, torch.randn(2, 32, 32), torch.rand(2, 1, 8, 8))}
    e = energy_estimate(model, torch.randn(2, 32, 32), torch.rand(2, 1, 8, 8))
    snn_first = costs["audio_encoder.stages.0.conv"].macs
    assert snn_first == pytest.approx(4 * 32 * 32 * 24 * 9)
    ann_first = 32 * 32 * 32 * 9  # whole spectrogram once
    assert snn_first == pytest.approx(3 * ann_first)
    assert e["ann_macs"] > ann_first
