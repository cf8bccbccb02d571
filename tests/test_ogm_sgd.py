"""OGM-GE's reference optimizer: under SGD the OGM coefficient k changes the step, under Adam a constant
scale of the gradient does not (why OGM-GE runs with SGD, method.md); the recipe config validates."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.config import load_config
from core.errors import ConfigError
from core.optim import make_optimizer
from core.strategies.ogm_ge import modulate_gradients
from tests.support import CONFIGS


def step_after_modulation(optim_cfg: dict, k: float, steps: int = 3) -> torch.Tensor:
    """How far a conv kernel moves in `steps` optimizer steps when OGM scales its gradient by k (no noise)."""
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, bias=False)
    start = conv.weight.detach().clone()
    opt = make_optimizer([{"params": list(conv.parameters()), "name": "a"}], optim_cfg)
    x = torch.randn(4, 2, 5, 5)
    for _ in range(steps):
        opt.zero_grad()
        conv(x).square().mean().backward()
        modulate_gradients(list(conv.parameters()), k, noise=False)
        opt.step()
    return conv.weight.detach() - start


def recipe(name: str) -> dict:
    return load_config(CONFIGS / name)["optim"]


def test_reference_config_is_ogm_ge_with_its_sgd_recipe():
    cfg = load_config(CONFIGS / "ogm-ge.toml")
    o = cfg["optim"]
    assert cfg["strategy"]["name"] == "ogm-ge"
    assert (o["name"], o["lr"], o["momentum"], o["weight_decay"]) == ("sgd", 1e-3, 0.9, 1e-4)
    adam = load_config(CONFIGS / "ogm-ge-adam.toml")
    assert adam["strategy"]["name"] == "ogm-ge" and adam["optim"]["name"] == "adam"


def test_make_optimizer_uses_momentum_and_weight_decay():
    p = nn.Parameter(torch.zeros(3))
    opt = make_optimizer([p], recipe("ogm-ge.toml"))
    assert isinstance(opt, torch.optim.SGD)
    g = opt.param_groups[0]
    assert (g["lr"], g["momentum"], g["weight_decay"]) == (1e-3, 0.9, 1e-4)
    assert isinstance(make_optimizer([p], recipe("ogm-ge-adam.toml")), torch.optim.Adam)


def test_under_sgd_the_ogm_coefficient_scales_the_step():
    sgd = {**recipe("ogm-ge.toml"), "weight_decay": 0.0}  # weight decay would add a k-independent term
    full, scaled = step_after_modulation(sgd, 1.0), step_after_modulation(sgd, 0.3)
    ratio = scaled.norm() / full.norm()
    assert ratio == pytest.approx(0.3, rel=0.02)
    # with the recipe's weight decay the step still shrinks by about k
    ratio_wd = step_after_modulation(recipe("ogm-ge.toml"), 0.3).norm() / step_after_modulation(
        recipe("ogm-ge.toml"), 1.0).norm()
    assert 0.25 < float(ratio_wd) < 0.4


def test_under_adam_a_constant_scale_cancels():
    adam = recipe("ogm-ge-adam.toml")
    full, scaled = step_after_modulation(adam, 1.0), step_after_modulation(adam, 0.3)
    assert float(scaled.norm() / full.norm()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("value", [1.0, 1.5, -0.1])
def test_momentum_outside_0_1_is_refused(value):
    with pytest.raises(ConfigError, match="optim.momentum"):
        load_config(None, {"optim.momentum": value})
