import math

import pytest
import torch
import torch.nn.functional as F

from core.balance import attention_guided_loss, balance_coefficients, coefficient, confidence_score
from core.strategies.ogm_ge import modulate_gradients, ogm_coefficients


def test_coefficient_forms_by_hand():
    assert coefficient(1.0, 2.0, "tanh") == pytest.approx(1.0)
    assert coefficient(1.5, 2.0, "tanh") == pytest.approx(1 - math.tanh(1.0))
    assert coefficient(1.5, 0.8, "ogm") == pytest.approx(1 - math.tanh(1.2))


def test_only_the_dominant_modality_is_slowed():
    c = balance_coefficients(3.0, 1.5, beta=1.0)
    assert c["rho_a"] == pytest.approx(2.0) and c["rho_v"] == pytest.approx(0.5)
    assert c["k_a"] == pytest.approx(1 - math.tanh(1.0)) and c["k_v"] == 1.0
    c = balance_coefficients(1.0, 4.0, beta=0.5)
    assert c["k_a"] == 1.0 and c["k_v"] == pytest.approx(1 - math.tanh(0.5 * 3.0))


def test_attention_guided_loss_and_score_by_hand():
    logits = torch.tensor([[[2.0, 0.0]], [[0.0, 1.0]]])  # T=2, B=1, C=2
    alpha = torch.tensor([[0.25, 0.75]])
    y = torch.tensor([0])
    ce0 = F.cross_entropy(logits[0], y)
    ce1 = F.cross_entropy(logits[1], y)
    assert float(attention_guided_loss(logits, alpha, y)) == pytest.approx(float(0.25 * ce0 + 0.75 * ce1), rel=1e-6)
    p0 = torch.softmax(logits[0, 0], -1)[0]
    p1 = torch.softmax(logits[1, 0], -1)[0]
    assert confidence_score(logits, alpha, y) == pytest.approx(float(0.25 * p0 + 0.75 * p1), rel=1e-6)


def test_ogm_coefficients_follow_the_reference_code():
    c = ogm_coefficients(score_a=10.0, score_v=20.0, alpha=0.8)  # visual dominant
    assert c["rho_v"] == pytest.approx(2.0)
    assert c["k_v"] == pytest.approx(1 - math.tanh(0.8 * 2.0)) and c["k_a"] == 1.0
    c = ogm_coefficients(score_a=30.0, score_v=10.0, alpha=0.8)
    assert c["k_a"] == pytest.approx(1 - math.tanh(0.8 * 3.0)) and c["k_v"] == 1.0


def test_ogm_ge_scales_conv_grads_and_adds_noise_of_grad_std():
    conv = torch.nn.Conv2d(4, 8, 3)
    lin = torch.nn.Linear(3, 3)
    torch.manual_seed(0)
    conv.weight.grad = torch.randn_like(conv.weight) * 2
    lin.weight.grad = torch.ones_like(lin.weight)
    original = conv.weight.grad.clone()
    modulate_gradients([conv.weight, lin.weight], k=0.5, noise=False)
    assert torch.allclose(conv.weight.grad, original * 0.5)
    assert torch.equal(lin.weight.grad, torch.ones_like(lin.weight))  # only 4-D gradients
    conv.weight.grad = original.clone()
    torch.manual_seed(1)
    modulate_gradients([conv.weight], k=0.0, noise=True)  # k = 0 leaves only the noise
    noise = conv.weight.grad
    assert noise.std().item() == pytest.approx(original.std().item(), rel=0.15)
    assert abs(noise.mean().item()) < 0.3


def test_taaf_balance_applies_only_inside_the_modulation_window():
    from core.config import load_config
    from core.strategies import STRATEGIES

    cfg = load_config(None, ["strategy.modulation_starts=2", "strategy.modulation_ends=4"])
    taaf = STRATEGIES["taaf"](cfg)
    signals = balance_coefficients(3.0, 1.5, beta=1.0)
    assert taaf.lr_scale(signals, 1) == (1.0, 1.0)
    assert taaf.lr_scale(signals, 2) == pytest.approx((1 - math.tanh(1.0), 1.0))
    assert taaf.lr_scale(signals, 4) == pytest.approx((1 - math.tanh(1.0), 1.0))
    assert taaf.lr_scale(signals, 5) == (1.0, 1.0)
    assert STRATEGIES["taaf-no-balance"](cfg).lr_scale(signals, 3) == (1.0, 1.0)


def test_scheduled_learning_rates():
    from core.optim import scheduled_lr

    o = {"lr": 0.1, "scheduler": "none", "step_size": 2, "gamma": 0.5}
    assert scheduled_lr(o, 7, 70, 100) == 0.1
    assert scheduled_lr(dict(o, scheduler="step"), 5, 50, 100) == pytest.approx(0.1 * 0.5**2)
    cos = dict(o, scheduler="cosine")
    assert scheduled_lr(cos, 0, 0, 100) == pytest.approx(0.1)
    assert scheduled_lr(cos, 0, 50, 100) == pytest.approx(0.05)
    assert scheduled_lr(cos, 0, 100, 100) == pytest.approx(0.0, abs=1e-12)
