"""The attribution baselines (issue 22): concat-aux, late-fusion, concat-balance. One step each on a tiny batch:
the loss is the one specified, and the parameters it should (not) reach get (no) gradient."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from core.balance import balance_coefficients
from core.config import STRATEGY_NAMES, load_config
from core.model import MultimodalSNN
from core.strategies import STRATEGIES, make_strategy
from core.strategies.base import slice_logits
from core.strategies.concat_balance import slice_logits_per_step

NEW = ("concat-aux", "late-fusion", "concat-balance")


def tiny(name: str, seed: int = 0):
    cfg = load_config(None, [f"strategy.name={name}", "model.widths=[4, 8]", "model.T=2", "model.audio_steps=2",
                             "model.visual_steps=2"])
    strategy = make_strategy(cfg)
    torch.manual_seed(seed)
    model = MultimodalSNN(cfg["model"], (16, 16), (1, 8, 8), num_classes=3, fusion=strategy.fusion)
    g = torch.Generator().manual_seed(seed)
    # inputs strong enough that the spiking encoders fire, so every head sees non-zero features
    batch = (3 * torch.rand(6, 16, 16, generator=g), 3 * torch.rand(6, 1, 8, 8, generator=g),
             torch.tensor([0, 1, 2, 0, 1, 2]))
    return strategy, model, batch


def grads_after_one_step(strategy, model, batch):
    audio, visual, y = batch
    out = model(audio, visual)
    loss, scalars = strategy.loss(model, out, y)
    model.zero_grad(set_to_none=True)
    loss.backward()
    return out, loss, scalars


def has_grad(module: torch.nn.Module) -> bool:
    return any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.parameters())


def test_every_new_strategy_is_registered_and_named_in_the_schema():
    for name in NEW:
        assert name in STRATEGIES and name in STRATEGY_NAMES
        assert STRATEGIES[name].fusion == "mean"  # no attention in any of them


def test_concat_aux_is_the_fused_loss_plus_both_modality_losses():
    strategy, model, batch = tiny("concat-aux")
    out, loss, scalars = grads_after_one_step(strategy, model, batch)
    y = batch[2]
    expected = sum(F.cross_entropy(out.pred[u], y) for u in "afv").detach()
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-6)
    assert scalars["loss_a"] == pytest.approx(float(F.cross_entropy(out.pred["a"], y).detach()), rel=1e-6)
    assert has_grad(model.head_a) and has_grad(model.head_v) and has_grad(model.head_f)
    assert strategy.lr_scale(strategy.signals(model, out, y, 0), 0) == (1.0, 1.0)  # no balance
    # its audio / visual accuracies come from the trained heads, not from weight slices
    assert torch.equal(strategy.predictions(model, out)["a"], out.pred["a"])


def test_late_fusion_trains_each_head_on_its_own_loss_and_fuses_log_probabilities():
    strategy, model, batch = tiny("late-fusion")
    out, loss, scalars = grads_after_one_step(strategy, model, batch)
    y = batch[2]
    assert float(loss) == pytest.approx(float(F.cross_entropy(out.pred["a"], y) + F.cross_entropy(out.pred["v"], y)),
                                        rel=1e-6)
    assert has_grad(model.head_a) and has_grad(model.head_v)
    assert all(p.grad is None for p in model.head_f.parameters())  # nothing is trained for fusion
    fused = strategy.predictions(model, out)["f"]
    assert torch.allclose(fused, out.pred["a"].log_softmax(-1) + out.pred["v"].log_softmax(-1))
    assert scalars["loss_f"] == pytest.approx(float(F.cross_entropy(fused, y)), rel=1e-5)


def test_late_fusion_picks_the_class_both_modalities_find_most_likely_together():
    strategy, _, _ = tiny("late-fusion")
    pred = {"a": torch.tensor([[2.0, 1.9, -5.0]]), "v": torch.tensor([[-5.0, 1.0, 0.9]])}
    out = type("Out", (), {"pred": pred})()
    # audio alone says 0, visual alone says 1; the product of their probabilities says 1
    assert int(strategy.predictions(None, out)["f"].argmax()) == 1


def test_concat_balance_trains_only_the_fused_loss():
    strategy, model, batch = tiny("concat-balance")
    out, loss, _ = grads_after_one_step(strategy, model, batch)
    assert float(loss) == pytest.approx(float(F.cross_entropy(out.pred["f"], batch[2])), rel=1e-6)
    assert has_grad(model.head_f)
    assert not has_grad(model.head_a) and not has_grad(model.head_v)  # no per-modality losses


def test_concat_balance_slows_the_dominant_modality_with_taafs_coefficients():
    strategy, model, batch = tiny("concat-balance")
    y = batch[2]
    d_a, d_v = model.head_a.in_features, model.head_v.in_features
    h_a = torch.zeros(2, 6, d_a)
    h_a[:, torch.arange(6), y] = 1.0  # the audio features name the class
    h_v = torch.rand(2, 6, d_v)
    with torch.no_grad():
        model.head_f.weight.zero_()
        model.head_f.bias.zero_()
        model.head_f.weight[:3, :3] = 5 * torch.eye(3)  # the audio slice reads it; the visual slice knows nothing
        out = model.fuse(h_a, h_v)
    per_step = slice_logits_per_step(model, out)
    # the per-step slices average to the slices OGM-GE uses
    assert torch.allclose(per_step["a"].mean(0), slice_logits(model, out)["a"], atol=1e-6)
    sig = strategy.signals(model, out, y, epoch=0)
    p_true = {u: per_step[u].softmax(-1).gather(-1, y.view(1, -1, 1).expand(2, -1, 1)).sum() / 2 for u in "av"}
    expected = balance_coefficients(float(p_true["a"]), float(p_true["v"]), strategy.s["beta"], strategy.s["coeff"])
    for k in ("rho_a", "k_a", "k_v"):
        assert sig[k] == pytest.approx(expected[k], rel=1e-5)
    assert sig["rho_a"] > 1 and sig["k_a"] < 1 and sig["k_v"] == 1.0
    assert strategy.lr_scale(sig, epoch=0) == (sig["k_a"], 1.0)
    late = strategy.s["modulation_ends"] + 1
    assert strategy.lr_scale(sig, epoch=late) == (1.0, 1.0)  # outside the modulation window
    assert not math.isnan(sig["k_a"])
