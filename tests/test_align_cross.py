"""`model.align = "cross"`: after the fixed resampling, the fused head's visual features are attended per sample from
each audio step (core/align.py CrossAlign). It finds each sample's own visual event wherever it is (a TimeAlign is
one matrix for all samples), treats every sample on its own, trains, and runs with every temporal strategy."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.align import CrossAlign, TimeAlign
from core.build import build_run
from core.config import load_config
from core.energy import layer_costs
from core.model import MultimodalSNN, per_step
from core.optim import make_optimizer
from tests.support import CONFIGS, small_avdigits_t

TEMPORAL = sorted(CONFIGS.glob("*-temporal.toml"))

T = 8


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_avdigits_t(tmp_path_factory.mktemp("avdt-cross") / "small.npz")


def sharp_aligner() -> CrossAlign:
    """Audio feature 0 = "the word is here", visual feature 0 = "the digit is here": at the word's step the query
    matches the digit's key with a score of ~70, so the attention there is one-hot on the digit's step; elsewhere
    the query is 0 (uniform attention). Values copy visual features 0, 1 back into features 0, 1."""
    cross = CrossAlign(d_a=2, d_v=3, d=2)
    with torch.no_grad():
        for lin in (cross.query, cross.key, cross.value, cross.out):
            lin.weight.zero_()
            lin.bias.zero_()
        cross.query.weight[0, 0] = 10.0
        cross.key.weight[0, 0] = 10.0
        cross.value.weight[0, 0] = cross.value.weight[1, 1] = 1.0
        cross.out.weight[0, 0] = cross.out.weight[1, 1] = 1.0
    return cross


def events(word_steps: list[int], digit_steps: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(T, B, 2) audio and (T, B, 3) visual: one word step and one digit step per sample; the digit's
    feature 1 (0.5) is what the fused head should receive; feature 2 is background the keys ignore."""
    b = len(word_steps)
    h_a, h_v = torch.zeros(T, b, 2), torch.zeros(T, b, 3)
    h_v[..., 2] = 0.1
    for i, (ta, tv) in enumerate(zip(word_steps, digit_steps, strict=True)):
        h_a[ta, i, 0] = 1.0
        h_v[tv, i, :2] = torch.tensor([1.0, 0.5])
    return h_a, h_v


def test_each_sample_finds_its_own_digit_wherever_it_is() -> None:
    cross = sharp_aligner()
    # the same word step, the digit one step before it, four steps after it, at the very end
    h_a, h_v = events([2, 2, 2], [1, 6, 7])
    w = cross.weights(h_a, h_v).detach()
    assert w.shape == (3, T, T) and torch.allclose(w.sum(-1), torch.ones(3, T))
    assert w[:, 2].argmax(-1).tolist() == [1, 6, 7]  # one global T x T matrix would read the same step for all
    assert (w[:, 2].max(-1).values > 0.99).all()
    out = cross(h_a, h_v).detach()
    assert out.shape == h_v.shape
    moved = out - h_v  # what attention added at the word's step: the digit, whatever its step
    assert torch.allclose(moved[2, :, :2], torch.tensor([[1.0, 0.5]]).expand(3, 2), atol=1e-3)
    assert torch.allclose(moved[..., 2], torch.zeros(T, 3))  # the output layer only writes features 0 and 1
    fixed = TimeAlign(T, T, learnable=False)(h_v)  # the fixed warp alone: the word's step sees no digit
    assert (fixed[2, 1:, 0] < 0.05).all()


def test_a_sample_shifted_in_time_gives_features_shifted_the_same_way() -> None:
    cross = sharp_aligner()
    h_a, h_v = events([2, 6], [1, 5])  # sample 1 = sample 0 four steps later
    out = cross(h_a, h_v).detach()
    assert torch.allclose(out[4:, 1], out[:4, 0], atol=1e-3)
    assert not torch.allclose(out[4:, 1], out[4:, 0], atol=1e-2)  # and they did differ where they are not shifted


def random_inputs(b: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(T, b, 6, generator=g), torch.rand(T, b, 5, generator=g)


def test_each_sample_is_aligned_from_its_own_content_only() -> None:
    torch.manual_seed(0)
    cross = CrossAlign(6, 5, 4)
    h_a, h_v = random_inputs(5, 1)
    out = cross(h_a, h_v).detach()
    perm = torch.tensor([3, 0, 4, 1, 2])
    assert torch.allclose(cross(h_a[:, perm], h_v[:, perm]).detach(), out[:, perm], atol=1e-6)
    other = h_v.clone()
    other[:, 4] = torch.rand(T, 5)  # only sample 4's video changes: only sample 4's output changes
    changed = cross(h_a, other).detach()
    assert torch.allclose(changed[:, :4], out[:, :4], atol=1e-6)
    assert not torch.allclose(changed[:, 4], out[:, 4], atol=1e-4)


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    cross = CrossAlign(6, 5, 4)
    h_a, h_v = random_inputs(3, 2)
    h_a.requires_grad_(True)
    cross(h_a, h_v).square().sum().backward()
    for name, p in cross.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert h_a.grad.abs().sum() > 0  # the audio steers the attention, so the audio encoder learns from it too


def cross_model() -> MultimodalSNN:
    cfg = load_config(None, {"model.align": "cross", "model.audio_steps": 8, "model.visual_steps": 4})
    return MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), num_classes=10)


def test_only_the_fused_head_reads_the_cross_aligned_visual() -> None:
    torch.manual_seed(0)
    model = cross_model().eval()
    assert isinstance(model.align_v, TimeAlign) and not list(model.align_v.parameters())  # fixed resampling
    out = model(torch.randn(2, 32, 32), torch.rand(2, 1, 8, 8))
    h_a, h_v = out.feats["a"], out.feats["v"]
    assert h_a.shape[0] == h_v.shape[0] == 4
    assert torch.allclose(out.logits["v"], per_step(model.head_v, h_v))  # the visual head: its own features
    fused = per_step(model.head_f, torch.cat([h_a, model.cross(h_a, h_v)], dim=-1))
    assert torch.allclose(out.logits["f"], fused)
    plain = per_step(model.head_f, torch.cat([h_a, h_v], dim=-1))
    assert not torch.allclose(out.logits["f"], plain)


def test_cross_parameters_are_in_the_fusion_group_and_counted_for_energy() -> None:
    model = cross_model()
    groups = {u: {id(p) for p in ps} for u, ps in model.param_groups().items()}
    cross = {id(p) for p in model.cross.parameters()}
    assert cross <= groups["f"] and not cross & (groups["a"] | groups["v"])  # the balance never scales it
    assert {id(p) for p in model.visual_encoder.parameters()} <= groups["v"]
    assert {id(p) for p in model.audio_encoder.parameters()} <= groups["a"]
    costs = {c.name: c for c in layer_costs(model, torch.randn(2, 32, 32), torch.rand(2, 1, 8, 8))}
    assert costs["cross"].macs == pytest.approx(2 * 4 * 4 * model.cross.query.out_features)
    assert costs["cross.query"].macs > 0


@pytest.mark.parametrize("path", TEMPORAL, ids=[p.name for p in TEMPORAL])
def test_every_temporal_strategy_trains_a_step_with_cross_alignment(path: Path, small_file: Path) -> None:
    torch.manual_seed(0)
    cfg = load_config(path, [f"data.path={small_file}", "model.align=cross", "model.widths=[8, 16]"])
    built = build_run(cfg)
    model, strategy = built.model, built.strategy
    audio, visual, y = next(iter(torch.utils.data.DataLoader(built.bundle.train, batch_size=8)))
    groups = model.param_groups()
    opt = make_optimizer([{"params": groups[u], "name": u} for u in ("a", "v", "f")], cfg["optim"])
    before = [p.detach().clone() for p in model.cross.parameters()]
    out = model(audio, visual)
    assert out.feats["v"].shape[:2] == (cfg["model"]["T"], 8)
    loss, _ = strategy.loss(model, out, y)
    assert torch.isfinite(loss)
    opt.zero_grad()
    loss.backward()
    opt.step()
    moved = any(not torch.equal(b, p) for b, p in zip(before, model.cross.parameters(), strict=True))
    # every strategy whose loss reads the fused head trains the cross aligner; the unimodal ones and late fusion
    # (whose fused prediction has no parameters) leave it alone
    reads_fused = strategy.name not in ("unimodal-audio", "unimodal-visual", "late-fusion")
    assert moved == reads_fused, strategy.name
