"""Training on a GPU (plain, bf16 autocast, and DDP over NCCL). Skipped cleanly where no GPU is present."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from core import checkpoint
from core.config import load_config
from core.lif import recording
from core.model import MultimodalSNN
from core.store import RunReader
from core.training_loop import train
from tests.support import ROOT, TAAF_CONFIG

CUDA_FAST = ["train.epochs=1", "record.progress=false", "record.every_steps=5", "train.device=cuda"]

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


@pytest.mark.integration
@pytest.mark.parametrize("amp", [False, True])
def test_trains_on_cuda(tmp_path, amp):
    cfg = load_config(TAAF_CONFIG, CUDA_FAST + [f"train.amp={str(amp).lower()}"])
    summary = train(cfg, tmp_path / "run")
    with RunReader(tmp_path / "run") as r:
        meta, steps = r.meta(), r.scalars("step")
        assert r.status()["status"] == "finished"
    assert meta["device"].startswith("cuda")
    assert len(steps) == meta["total_steps"] and steps["loss"].notna().all()
    assert 0 <= summary["test"]["acc_f"] <= 1
    cpu_model = MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), 10)  # a GPU run's checkpoint loads on a CPU
    state = checkpoint.load(tmp_path / "run" / "checkpoints" / "last.pt", cpu_model, None)
    assert state["epoch"] == 0 and next(cpu_model.parameters()).device.type == "cpu"


def test_bf16_autocast_keeps_membranes_in_fp32():
    cfg = load_config(TAAF_CONFIG)
    model = MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), 10).cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16), recording() as recorded:
        out = model(torch.randn(4, 32, 32, device="cuda"), torch.rand(4, 1, 8, 8, device="cuda"))
    assert len(recorded) == len(model.lif_layers())
    assert all(membrane.dtype == torch.float32 for _, membrane in recorded.values())
    assert torch.isfinite(out.pred["f"].float()).all()


@pytest.mark.integration
def test_ddp_one_process_on_nccl(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1", "-m", "core.train",
           "--config", "configs/concat.toml", "--run-dir", str(tmp_path / "run"),
           *[x for s in CUDA_FAST for x in ("--set", s)]]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    with RunReader(tmp_path / "run") as r:
        assert r.status()["status"] == "finished" and r.meta()["device"] == "cuda:0"
