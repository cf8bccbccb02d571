"""AV-Digits-T end to end: every temporal config builds its network on the frame sequences, and a TAAF run on a
small built file trains one epoch from the CLI, recording where each probe's word and visual event are."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.build import build_run
from core.config import load_config
from core.model import frames_to_steps
from core.store import RunReader
from tests.support import CONFIGS, ROOT, TINY, sets, small_avdigits_t

TEMPORAL = sorted(CONFIGS.glob("*-temporal.toml"))


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_avdigits_t(tmp_path_factory.mktemp("avdt") / "small.npz")


def test_frames_to_steps_keeps_time_order() -> None:
    f = torch.arange(16.0).view(16, 1)
    assert frames_to_steps(f, 8).flatten().tolist() == [0.5 + 2 * k for k in range(8)]  # pairs averaged
    assert frames_to_steps(f[:4], 8).flatten().tolist() == [0, 0, 1, 1, 2, 2, 3, 3]  # each frame repeated
    assert frames_to_steps(f[:5], 3).flatten().tolist() == [0, 2, 4]  # the frame under each step's centre
    assert frames_to_steps(f, 16) is f


@pytest.mark.parametrize("path", TEMPORAL, ids=[p.name for p in TEMPORAL])
def test_every_temporal_config_runs_its_network_on_frame_sequences(path: Path, small_file: Path) -> None:
    cfg = load_config(path, [f"data.path={small_file}"])
    built = build_run(cfg)
    audio, visual, y = next(iter(torch.utils.data.DataLoader(built.bundle.train, batch_size=4)))
    assert visual.shape[1:] == (16, 1, 8, 8) and audio.shape[1:] == (32, 64)
    out = built.model(audio, visual)
    assert out.pred["f"].shape == (4, 10) and torch.isfinite(out.pred["f"]).all()
    loss, _ = built.strategy.loss(built.model, out, y)
    loss.backward()  # the visual encoder learns from the sequence (every strategy that trains it)
    grads = [p.grad for p in built.model.visual_encoder.parameters() if p.grad is not None]
    assert grads or cfg["strategy"]["name"] == "unimodal-audio"


@pytest.mark.integration
def test_taaf_temporal_trains_one_epoch_from_the_cli_and_records_events(tmp_path: Path, small_file: Path) -> None:
    run = tmp_path / "run"
    over = [*TINY, "train.epochs=1", f"data.path={small_file}", "model.T=4", "model.audio_steps=8",
            "model.visual_steps=8", "data.batch_size=32"]
    subprocess.run([sys.executable, "-m", "core.train", "--config", str(CONFIGS / "taaf-temporal.toml"),
                    *sets(over), "--run-dir", str(run)], cwd=ROOT, check=True, capture_output=True, timeout=600)
    r = RunReader(run)
    assert r.status()["status"] == "finished"
    meta = r.meta()
    assert meta["dataset"] == "avdigits-t" and meta["input_frames"] == {"audio": 64, "visual": 16}
    probe = r.arrays(r.array_steps()[-1])
    p = len(probe["labels"])
    assert probe["frames"].shape == (p, 16, 8, 8)
    ev = probe["events"]
    assert ev.shape == (p, 4)
    assert ((0 <= ev[:, 0]) & (ev[:, 0] < ev[:, 1]) & (ev[:, 1] <= 64)).all()
    assert ((0 <= ev[:, 2]) & (ev[:, 2] < ev[:, 3]) & (ev[:, 3] <= 16)).all()
    # the frames drawn in the studio are the ones the network saw: the digit's frames are brighter on average
    shown = [probe["frames"][i, ev[i, 2]:ev[i, 3]].mean() for i in range(p)]
    hidden = [probe["frames"][i, [t for t in range(16) if not ev[i, 2] <= t < ev[i, 3]]].mean() for i in range(p)]
    assert sum(s > h for s, h in zip(shown, hidden, strict=True)) >= p - 1
