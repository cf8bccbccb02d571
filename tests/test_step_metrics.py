"""A training step's scalars are read in one transfer and equal what float() of each gave."""

from __future__ import annotations

import math

import torch

from core.step_metrics import read_scalars


def test_tensors_become_the_floats_float_gives_and_floats_pass_through() -> None:
    torch.manual_seed(0)
    x = torch.randn(100)
    values = {"mean": x.mean(), "k_a": 0.75, "acc": (x > 0).float().mean(), "norm": x.norm(),
              "lr": 1e-3, "half": torch.tensor(1 / 3, dtype=torch.float64)}
    got = read_scalars(values)
    assert list(got) == list(values)  # order kept: the store's columns come in this order
    for k, v in values.items():
        assert type(got[k]) is float
        assert got[k] == float(v)  # bit for bit, mixed float32 / float64 included
    assert math.isclose(got["half"], 1 / 3, rel_tol=0, abs_tol=0)


def test_one_transfer_for_all_tensors(monkeypatch) -> None:
    calls = []
    real = torch.Tensor.tolist
    monkeypatch.setattr(torch.Tensor, "tolist", lambda self: calls.append(self.shape) or real(self))
    monkeypatch.setattr(torch.Tensor, "item", lambda self: (_ for _ in ()).throw(AssertionError("item() called")))
    read_scalars({f"rate/{i}": torch.rand(()) for i in range(12)} | {"loss": torch.tensor(2.5)})
    assert calls == [torch.Size([13])]


def test_nothing_to_read() -> None:
    assert read_scalars({"lr": 0.1}) == {"lr": 0.1}
