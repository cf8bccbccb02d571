"""Forward hooks that record any spiking module (core/spike_hooks.py), into a run through core/runlog.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from core.runlog import Run
from core.spike_hooks import membranes_of, spikes_of, spiking_layers, watch_spikes
from core.store import RunReader

pytestmark = pytest.mark.unit


class StepLIF(nn.Module):
    """A bare LIF over time: returns (spikes, membrane), both (T, B, N)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v, zs, vs = torch.zeros_like(x[0]), [], []
        for t in range(x.shape[0]):
            v = 0.9 * v + x[t]
            z = (v > 1.0).float()
            v = v * (1 - z)
            zs.append(z)
            vs.append(v)
        return torch.stack(zs), torch.stack(vs)


class AttrLIF(StepLIF):
    """Returns spikes alone and keeps its membrane in `self.mem`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        z, self.mem = super().forward(x)
        return z


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ear = nn.ModuleDict({"fc": nn.Linear(3, 5), "lif": StepLIF()})
        self.eye = nn.ModuleDict({"fc": nn.Linear(2, 4), "lif": AttrLIF()})

    def forward(self, a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        za, _ = self.ear["lif"](self.ear["fc"](a) * 3)
        zv = self.eye["lif"](self.eye["fc"](v) * 3)
        return za.mean(0).sum(1) + zv.mean(0).sum(1)


def test_layers_are_named_by_modality_and_recorded_only_inside_the_block(tmp_path: Path) -> None:
    net = Net()
    layers = spiking_layers(net, (StepLIF,), {"ear": "a", "eye": "v"})
    assert list(layers) == ["a.ear.lif", "v.eye.lif"]
    a, v = torch.randn(6, 4, 3), torch.randn(6, 4, 2)
    with watch_spikes(layers, membrane="mem") as seen:
        net(a, v)
    assert set(seen) == {"a.ear.lif", "v.eye.lif"}
    assert seen["a.ear.lif"][0].shape == (6, 4, 5) and seen["v.eye.lif"][1].shape == (6, 4, 4)
    assert not seen["a.ear.lif"][0].requires_grad
    assert all(not m._forward_hooks for m in layers.values())  # the hooks are gone: other batches pay nothing
    before = dict(seen)
    net(a, v)
    assert seen.keys() == before.keys() and all(seen[k][0] is before[k][0] for k in seen)
    with Run.create(tmp_path / "r", {}, T=6, probes=3) as run:
        run.log_spikes(1, spikes_of(seen), membrane=membranes_of(seen))
    with RunReader(tmp_path / "r") as r:
        arrays, meta = r.arrays(1, "probe"), r.meta()
    assert arrays["spikes/a.ear.lif"].shape == (3, 6, 5) and arrays["membrane/v.eye.lif"].shape == (3, 6, 4)
    assert (arrays["spikes/a.ear.lif"] == seen["a.ear.lif"][0][:, :3].transpose(0, 1).numpy()).all()
    assert meta["layers"] == ["a.ear.lif", "v.eye.lif"]


def test_a_module_that_returns_no_tensor_is_named_in_the_error() -> None:
    odd = nn.Module()
    odd.forward = lambda x: {"z": x}  # type: ignore[method-assign]
    with pytest.raises(TypeError, match="returned dict"), watch_spikes({"a.odd": odd}):
        odd(torch.zeros(2, 1, 1))
    assert not odd._forward_hooks
