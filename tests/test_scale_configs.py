"""Shipped configs: every one loads; the CREMA-D / AVE ones build the ResNet18-width spiking network, which
runs on CPU on the shapes their loaders produce; the tiny default and ResNet18 differ by config alone."""

from __future__ import annotations

import pytest
import torch

from core.config import load_config
from core.config_schema import STRATEGY_NAMES
from core.model import BasicBlock, MultimodalSNN, PlainStage
from core.strategies import make_strategy
from tests.support import CONFIGS, TAAF_CONFIG

CONFIG_FILES = sorted(CONFIGS.glob("*.toml"))
SCALED = [p for p in CONFIG_FILES if p.name.startswith(("cremad-", "ave-"))]
PAPER_STRATEGIES = ("taaf", "taaf-no-balance", "taaf-uniform", "concat", "ogm-ge", "unimodal-audio", "unimodal-visual")
# A quick forward: fewer steps than the paper's T = 4 / 8 slices, same widths and blocks.
QUICK = {"model.T": 2, "model.audio_steps": 2, "model.visual_steps": 1}


def shapes(cfg: dict) -> tuple[tuple[int, int], tuple[int, int, int]]:
    """What the CREMA-D / AVE loaders produce for these settings (docs/datasets.md)."""
    if cfg["data"]["dataset"] == "cremad":
        c = cfg["data"]["cremad"]
        audio = (257, 188) if c["audio"] == "spec257" else (c["audio_size"], c["audio_size"])
        return audio, (3, c["frame_size"], c["frame_size"])
    a = cfg["data"]["ave"]
    return (a["audio_size"], a["audio_size"]), (3, a["frame_size"], a["frame_size"])


@pytest.mark.parametrize("path", CONFIG_FILES, ids=[p.name for p in CONFIG_FILES])
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert cfg["strategy"]["name"] in STRATEGY_NAMES


def test_each_dataset_has_every_strategy():
    for dataset in ("cremad", "ave"):
        for s in PAPER_STRATEGIES:  # CREMA-D and AVE ship configs for the paper's strategies
            cfg = load_config(CONFIGS / f"{dataset}-{s}.toml")
            assert cfg["data"]["dataset"] == dataset and cfg["strategy"]["name"] == s


@pytest.mark.parametrize("path", SCALED, ids=[p.name for p in SCALED])
def test_paper_setting_is_written_out(path):
    cfg = load_config(path)
    m, o, t = cfg["model"], cfg["optim"], cfg["train"]
    assert (m["widths"], m["blocks"], m["T"]) == ([64, 128, 256, 512], 2, 4)
    assert (o["name"], o["lr"], o["momentum"], o["weight_decay"]) == ("sgd", 1e-3, 0.9, 1e-4)
    assert (o["scheduler"], o["step_size"], o["gamma"]) == ("step", 70, 0.1)
    assert (cfg["data"]["batch_size"], t["epochs"]) == (64, 100)
    if cfg["data"]["dataset"] == "cremad":
        assert cfg["strategy"]["ogm_alpha"] == 0.8  # OGM-GE's recommendation for CREMA-D
    text = path.read_text()
    assert "EDIT" in text and cfg["data"]["path"].startswith("/data/")  # a placeholder the user replaces


@pytest.mark.parametrize("name", ["cremad-taaf", "cremad-ogm-ge", "ave-unimodal-visual"])
def test_resnet18_config_builds_and_runs_on_cpu(name):
    torch.manual_seed(0)
    cfg = load_config(CONFIGS / f"{name}.toml", QUICK)
    audio_shape, visual_shape = shapes(cfg)
    assert (audio_shape, visual_shape) == ((128, 128), (3, 128, 128))  # the S-CMRL-style default
    strategy = make_strategy(cfg)
    model = MultimodalSNN(cfg["model"], audio_shape, visual_shape, 6, strategy.fusion)
    blocks = [s for s in model.audio_encoder.stages if isinstance(s, BasicBlock)]
    assert len(blocks) == 8 and blocks[-1].conv2[0].out_channels == 512  # 4 stages x 2 basic blocks
    assert 20e6 < sum(p.numel() for p in model.parameters()) < 25e6  # two ResNet18 trunks (11.2 M each)
    with torch.no_grad():
        out = model(torch.randn(2, *audio_shape), torch.randn(2, *visual_shape))
    assert out.pred["f"].shape == (2, 6) and torch.isfinite(out.pred["f"]).all()
    assert out.logits["a"].shape == (2, 2, 6)  # (T, B, C)


def test_spec257_variant_builds_on_ogm_ge_shapes():
    cfg = load_config(CONFIGS / "cremad-taaf-spec257.toml", QUICK)
    audio_shape, visual_shape = shapes(cfg)
    assert (audio_shape, visual_shape) == ((257, 188), (3, 224, 224))
    model = MultimodalSNN(cfg["model"], audio_shape, visual_shape, 6, "taaf")
    assert model.head_f.out_features == 6  # building probes the encoders on these shapes


def test_tiny_and_resnet18_differ_only_by_config():
    """Same code path: the ResNet18 config is the tiny config with model.widths / model.blocks changed."""
    tiny_cfg = load_config(TAAF_CONFIG)
    big_cfg = load_config(TAAF_CONFIG, {"model.widths": [64, 128, 256, 512], "model.blocks": 2})
    tiny = MultimodalSNN(tiny_cfg["model"], (32, 32), (1, 8, 8), 10)
    big = MultimodalSNN(big_cfg["model"], (32, 32), (1, 8, 8), 10)
    assert all(isinstance(s, PlainStage) for s in tiny.audio_encoder.stages)
    assert sum(isinstance(s, BasicBlock) for s in big.audio_encoder.stages) == 8
    n_tiny = sum(p.numel() for p in tiny.parameters())
    n_big = sum(p.numel() for p in big.parameters())
    assert n_tiny < 100_000 < 20e6 < n_big
    paper = load_config(CONFIGS / "cremad-taaf.toml")["model"]
    # the paper config's network is that override (its audio slicing is its own choice: 8 steps, no context)
    paper = dict(paper, **{k: tiny_cfg["model"][k] for k in ("audio_steps", "audio_context")})
    same = MultimodalSNN(paper, (32, 32), (1, 8, 8), 10)
    assert sum(p.numel() for p in same.parameters()) == n_big
