import math

import torch
import torch.nn.functional as F

from core.config import load_config
from core.model import MultimodalSNN, PooledConv2d
from core.taaf import TAAF, TemporalAttention, weighted_over_time


def test_alpha_is_a_distribution_over_timesteps():
    torch.manual_seed(0)
    attn = TemporalAttention(num_classes=6, dim=8)
    logits = torch.randn(5, 3, 6) * 4
    alpha = attn(logits)
    assert alpha.shape == (3, 5)
    assert torch.allclose(alpha.sum(dim=1), torch.ones(3), atol=1e-6)
    assert (alpha > 0).all()


def test_alpha_matches_hand_computed_column_mean():
    attn = TemporalAttention(num_classes=2, dim=2)
    with torch.no_grad():
        attn.query.weight.copy_(torch.eye(2))
        attn.key.weight.copy_(torch.eye(2))
    o = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # T=2, C=2
    alpha = attn(o[:, None, :])[0]
    s = (o @ o.T) / math.sqrt(2)
    a = torch.softmax(s, dim=-1)
    assert torch.allclose(alpha, a.mean(dim=0), atol=1e-6)


def test_taaf_prediction_is_alpha_weighted_sum():
    torch.manual_seed(1)
    taaf = TAAF(num_classes=4, dim=8)
    logits = {u: torch.randn(3, 2, 4) for u in "avf"}
    alpha, pred = taaf(logits)
    for u in "avf":
        manual = sum(alpha[u][:, t, None] * logits[u][t] for t in range(3))
        assert torch.allclose(pred[u], manual, atol=1e-6)
        assert torch.allclose(weighted_over_time(logits[u], alpha[u]), manual, atol=1e-6)


def test_network_shapes_time_first_and_alpha_sums():
    cfg = load_config(None, ["model.T=3", "model.audio_steps=6", "model.visual_steps=2"])
    model = MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), num_classes=10)
    out = model(torch.randn(5, 32, 32), torch.rand(5, 1, 8, 8))
    for u in "avf":
        assert out.logits[u].shape == (3, 5, 10)
        assert out.alpha[u].shape == (5, 3)
        assert torch.allclose(out.alpha[u].sum(1), torch.ones(5), atol=1e-5)
        assert out.pred[u].shape == (5, 10)
    names = [layer.name for layer in model.lif_layers()]
    assert names == ["a.lif1", "a.lif2", "v.lif1", "v.lif2"]
    # each encoder ran its own number of steps before alignment; an audio step sees its slice of 5 frames
    # plus one slice of context on either side
    assert model.audio_slices(torch.randn(5, 32, 32)).shape == (6, 5, 1, 32, 15)


def test_audio_slices_carry_their_neighbours_as_context():
    cfg = load_config(None, ["model.audio_steps=4", "model.audio_context=1"])
    model = MultimodalSNN(cfg["model"], (2, 8), (1, 8, 8), num_classes=3)
    audio = torch.arange(16.0).view(1, 2, 8)  # 2 bands x 8 frames: slices of 2 frames
    x = model.audio_slices(audio)[:, 0, 0]  # (S, F, 6)
    assert torch.equal(x[1, 0], torch.tensor([0.0, 1, 2, 3, 4, 5]))  # slice 1 with slices 0 and 2
    assert torch.equal(x[0, 0], torch.tensor([0.0, 0, 0, 1, 2, 3]))  # zeros before the start
    assert torch.equal(x[3, 1], torch.tensor([12.0, 13, 14, 15, 0, 0]))  # and after the end
    cfg0 = load_config(None, ["model.audio_steps=4", "model.audio_context=0"])
    plain = MultimodalSNN(cfg0["model"], (2, 8), (1, 8, 8), num_classes=3).audio_slices(audio)[:, 0, 0]
    assert torch.equal(plain[2, 0], torch.tensor([4.0, 5]))


def test_mean_fusion_has_uniform_alpha_and_no_attention_parameters():
    cfg = load_config()
    model = MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), num_classes=10, fusion="mean")
    out = model(torch.randn(2, 32, 32), torch.rand(2, 1, 8, 8))
    assert torch.allclose(out.alpha["f"], torch.full((2, cfg["model"]["T"]), 1 / cfg["model"]["T"]))
    assert model.taaf is None


def test_resnet_width_builds_residual_encoder():
    cfg = load_config(None, ["model.widths=[8, 16]", "model.blocks=2"])
    model = MultimodalSNN(cfg["model"], (64, 64), (3, 32, 32), num_classes=6)
    out = model(torch.randn(2, 64, 64), torch.rand(2, 3, 32, 32))
    assert out.pred["f"].shape == (2, 6)
    assert len(model.lif_layers()) == 2 * (1 + 2 * 2 * 2)  # stem + 2 stages x 2 blocks x 2 LIFs, per modality


def test_poisson_encoding_is_seeded():
    cfg = load_config(None, ["model.encoding=\"poisson\""])
    model = MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), num_classes=10)
    v = torch.rand(2, 1, 8, 8)
    x1, static = model.visual_steps_input(v, torch.Generator().manual_seed(3))
    x2, _ = model.visual_steps_input(v, torch.Generator().manual_seed(3))
    assert not static and torch.equal(x1, x2) and set(x1.unique().tolist()) <= {0.0, 1.0}


def test_pooled_conv_equals_conv_then_average_pooling():
    # One strided conv must give what a 3x3 conv (padding 1) followed by 2x2 average pooling gives,
    # including odd sides (pooling drops the last row / column) and sides of 1 (no pooling there).
    torch.manual_seed(0)
    conv = PooledConv2d(3, 5)
    for h, w in [(32, 24), (7, 5), (1, 6), (5, 1), (1, 1)]:
        x = torch.randn(2, 3, h, w)
        y = F.conv2d(x, conv.weight, padding=1)
        ref = F.avg_pool2d(y, (min(2, h), min(2, w)))
        out = conv(x)
        assert out.shape == ref.shape
        assert torch.allclose(out, ref, atol=1e-5), (h, w)
