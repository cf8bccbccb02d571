"""The time aligner is a warp (rows normalised, causal, monotone) for every parameter value, at
initialisation it averages each output step's own input steps, and it stays a warp while it trains."""

from __future__ import annotations

import pytest
import torch

from core.align import TimeAlign, causal_mask
from core.config import load_config
from core.errors import ConfigError
from core.model import MultimodalSNN


def assert_warp(w: torch.Tensor, t_in: int) -> None:
    t_out = w.shape[0]
    assert torch.allclose(w.sum(dim=1), torch.ones(t_out), atol=1e-5)  # rows normalised
    assert (w >= 0).all()
    future = ~causal_mask(t_out, t_in)  # input steps that start after output step t ends
    assert (w[future] == 0).all()
    mean_pos = w @ torch.arange(float(t_in))
    assert (mean_pos[1:] - mean_pos[:-1] >= -1e-5).all(), mean_pos  # monotone


def test_causal_mask_by_hand():
    assert causal_mask(4, 8).sum(dim=1).tolist() == [2, 4, 6, 8]
    assert causal_mask(4, 4).tolist() == torch.ones(4, 4).tril().bool().tolist()
    assert causal_mask(4, 1).all()  # one static frame: available from the first step


def test_initial_warp_averages_instead_of_point_sampling():
    w = TimeAlign(8, 4).weight.detach()
    assert_warp(w, 8)
    for t in range(4):  # each output step reads its own two input steps, about equally
        assert float(w[t, 2 * t]) == pytest.approx(float(w[t, 2 * t + 1]), abs=1e-6)
        assert w[t, 2 * t] + w[t, 2 * t + 1] > 0.85
    assert (w.sum(dim=0) > 0.4).all()  # no input step is dropped (8 -> 4 resampling used to skip 1 and 6)
    same = TimeAlign(4, 4).weight.detach()
    assert torch.allclose(same, torch.eye(4), atol=0.01)


@pytest.mark.parametrize("t_in,t_out", [(8, 4), (16, 4), (4, 4), (6, 4), (1, 4), (4, 8)])
def test_every_parameter_value_gives_a_warp(t_in, t_out):
    align = TimeAlign(t_in, t_out)
    g = torch.Generator().manual_seed(t_in * 10 + t_out)
    for _ in range(20):
        with torch.no_grad():
            for p in align.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 3)
        assert_warp(align.weight.detach(), t_in)


def test_stays_a_warp_while_training_and_learns():
    torch.manual_seed(0)
    align = TimeAlign(8, 4)
    start = align.weight.detach().clone()
    opt = torch.optim.Adam(align.parameters(), lr=0.1)
    target = torch.randn(4, 16, 3)  # an arbitrary target pulls the rows around
    for _ in range(50):
        h = torch.randn(8, 16, 3)
        loss = (align(h) - target).square().mean() + align(h)[:, :, 0].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert_warp(align.weight.detach(), 8)
    assert not torch.allclose(align.weight.detach(), start, atol=1e-3)  # it did learn


def model_with(align: str, audio_steps: int = 8, visual_steps: int = 4) -> MultimodalSNN:
    cfg = load_config(None, {"model.align": align, "model.audio_steps": audio_steps,
                             "model.visual_steps": visual_steps})
    return MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), num_classes=10)


def test_fixed_alignment_has_no_parameters_and_the_learned_one_has():
    fixed, learned = model_with("fixed"), model_with("learned")
    assert not list(fixed.align_a.parameters()) and not list(fixed.align_v.parameters())
    assert len(list(learned.align_a.parameters())) == 3
    assert torch.allclose(fixed.align_a.weight, learned.align_a.weight)  # the same starting point
    out = fixed(torch.randn(2, 32, 32), torch.rand(2, 1, 8, 8))
    assert out.logits["f"].shape == (4, 2, 10)


def test_no_alignment_needs_equal_steps():
    assert isinstance(model_with("none", 4, 4).align_a, torch.nn.Identity)
    with pytest.raises(ConfigError, match="align = 'none'"):
        load_config(None, {"model.align": "none", "model.audio_steps": 8})
    with pytest.raises(ConfigError, match="model.align"):
        load_config(None, {"model.align": "dense"})
