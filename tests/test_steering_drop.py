"""Dropping a modality mid-run (corrupt.drop_*): its encoder is muted (core.lif.muted) in the training steps and in
the probe snapshots taken meanwhile, so its raster goes silent and the snapshot says so; validation stays on
undropped data, so the curves remain comparable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import training_loop
from core.config import load_config
from core.lif import is_muted, muted
from core.model import MultimodalSNN
from core.recorder import record_probes
from core.store import RunReader
from core.training_loop import train
from tests.support import TAAF_CONFIG
from tests.test_steering import _steer_during

# the default network (the tiny one barely fires this early), two epochs of 10 steps, a probe every 5 steps
DROP_RUN = ["train.epochs=2", "record.every_steps=5", "record.progress=false", "train.threads=1",
            "record.shapley=false", "data.batch_size=128"]


def _visual_spikes(arrays: dict[str, np.ndarray]) -> int:
    return sum(int(a.sum()) for k, a in arrays.items() if k.startswith("spikes/v."))


@pytest.mark.unit
def test_muting_silences_that_encoder_only_and_only_inside_the_block():
    torch.manual_seed(0)
    model = MultimodalSNN(load_config(TAAF_CONFIG, DROP_RUN)["model"], (40, 32), (1, 28, 28), 10)
    audio, visual, y = 4 * torch.rand(3, 40, 32), 4 * torch.rand(3, 1, 28, 28), torch.tensor([0, 1, 2])
    plain = record_probes(model, None, audio, visual, y, 8)
    dropped = record_probes(model, None, audio, visual, y, 8, ("v",))
    assert _visual_spikes(plain) > 0 and _visual_spikes(dropped) == 0
    assert "dropped" not in plain and dropped["dropped"].tolist() == [0, 1]
    for key in plain:
        if key.startswith(("spikes/a.", "membrane/a.", "current/a.")):
            assert np.array_equal(plain[key], dropped[key]), key  # the other encoder hears what it heard
    assert not np.array_equal(plain["alpha"], dropped["alpha"])  # and the fusion sees the difference
    with muted(("v",)):
        assert is_muted("v.lif1") and not is_muted("a.lif1")
    assert not is_muted("v.lif1")
    assert _visual_spikes(record_probes(model, None, audio, visual, y, 8)) == _visual_spikes(plain)


@pytest.mark.integration
def test_a_dropped_visual_input_is_silent_in_the_probes_and_validation_stays_undropped(tmp_path, monkeypatch):
    run = tmp_path / "run"
    cfg = load_config(TAAF_CONFIG, DROP_RUN)
    _steer_during(monkeypatch, run, {7: [("corrupt.drop_visual", 5)]})  # training steps 8..12 drop it
    seen = []  # (muted while validating?, its fused accuracy)
    original = training_loop.evaluate_zeroed

    def evaluate_zeroed(model, *args, **kwargs):
        out = original(model, *args, **kwargs)
        seen.append((is_muted("v.lif1"), out[()]["acc_f"]))
        return out

    monkeypatch.setattr(training_loop, "evaluate_zeroed", evaluate_zeroed)
    train(cfg, run)
    r = RunReader(run)
    probes = {s: r.arrays(s) for s in r.array_steps()}
    assert sorted(probes) == [1, 5, 10, 15, 20]
    dropped = [s for s, a in probes.items() if "dropped" in a]
    assert dropped == [10]  # the probe after step 10: inside the drop
    assert probes[10]["dropped"].tolist() == [0, 1]
    assert _visual_spikes(probes[10]) == 0
    assert all(int(a.sum()) == 0 for k, a in probes[10].items() if k.startswith(("membrane/v.", "current/v.")))
    assert sum(int(a.sum()) for k, a in probes[10].items() if k.startswith("spikes/a.")) > 0  # audio still fires
    assert _visual_spikes(probes[5]) > 0 and _visual_spikes(probes[15]) > 0  # before and after: it fires
    # validation at the end of epoch 1 (step 10, inside the drop) ran unmuted, and is what the store holds
    epochs = r.scalars("epoch")
    assert [m for m, _ in seen] == [False, False]
    assert epochs["val_acc_f"].tolist() == [acc for _, acc in seen]
