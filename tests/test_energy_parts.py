"""Energy with its parts (issue 22): the per-layer rows add up to the run's totals, and int8 uses the stated pJ."""

from __future__ import annotations

import pytest
import torch

from core.config import load_config
from core.energy import E_INT8_AC_PJ, E_INT8_MAC_PJ, energy_estimate
from core.energy_table import layer_rows, markdown
from core.model import MultimodalSNN


def test_layer_rows_add_up_to_the_estimate_and_int8_uses_the_stated_costs():
    assert (E_INT8_MAC_PJ, E_INT8_AC_PJ) == (0.23, 0.03)  # Horowitz ISSCC 2014, 45 nm: 0.2 + 0.03 per MAC
    cfg = load_config(None, ["model.widths=[4, 8]", "model.T=2", "model.audio_steps=2", "model.visual_steps=2"])
    torch.manual_seed(0)
    model = MultimodalSNN(cfg["model"], (16, 16), (1, 8, 8), num_classes=3)
    audio, visual = 3 * torch.rand(4, 16, 16), 3 * torch.rand(4, 1, 8, 8)
    total = energy_estimate(model, audio, visual)
    rows = layer_rows(model, audio, visual)
    assert sum(r["snn_pj"] for r in rows) == pytest.approx(total["energy_pj"])
    assert sum(r["ann_pj"] for r in rows) == pytest.approx(total["energy_ann_pj"])
    assert sum(r["ann_int8_pj"] for r in rows) == pytest.approx(total["energy_ann_int8_pj"])
    assert total["energy_ann_int8_pj"] == pytest.approx(0.23 * total["ann_macs"])
    assert total["energy_int8_pj"] == pytest.approx(0.23 * total["macs"] + 0.03 * total["sops"])
    first = next(r for r in rows if r["layer"] == "audio_encoder.stages.0.conv")
    assert first["sops"] == 0 and first["macs"] > 0  # the analog spectrogram: MACs, not SOPs
    text = "\n".join(markdown(rows))
    assert "| **total** |" in text and "int8 MAC 0.23" in text and "never trained" in text
