"""DDP on the CPU (gloo, 2 processes via torchrun): only rank 0 writes, commands reach every rank,
resume replays exactly, and the ranks' parameters never drift apart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core.config import load_config
from core.model import MultimodalSNN
from core.store import RunReader, send_command
from core.strategies import STRATEGIES, make_strategy
from tests.support import ROOT, sets, wait_until

TRAIN_ITEMS, BATCH = 1213, 64  # bundled AV-Digits training split; per-rank batch
DDP_FAST = ["train.epochs=3", "record.progress=false", "train.threads=1", "record.shapley=false",
        "record.energy=false", "record.every_steps=1000", f"data.batch_size={BATCH}"]


def torchrun(*args: str) -> subprocess.Popen:
    # --standalone picks a free port: no clash with other DDP jobs on the machine
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # a worker script outside the repository imports core
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(p: subprocess.Popen, timeout: float = 120) -> str:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err[-3000:]
    return out


def status(run: Path) -> str:
    with RunReader(run) as r:
        return r.status()["status"]


@pytest.mark.integration
def test_ddp_single_writer_commands_and_exact_resume(tmp_path):
    # 1. straight run, no --run-dir: every rank must agree on the default name (one folder, one store)
    runs = tmp_path / "runs"
    out = finish(torchrun("-m", "core.train", "--config", "configs/taaf.toml",
                          *sets(DDP_FAST + [f"record.runs_dir={json.dumps(str(runs))}"])))
    assert out.count("test accuracy") == 1  # only rank 0 reports
    (straight,) = list(runs.iterdir())
    per_rank_steps = -(-(TRAIN_ITEMS // 2) // BATCH)
    with RunReader(straight) as r:
        meta, steps = r.meta(), r.scalars("step")
        assert r.status()["status"] == "finished" and len(r.scalars("epoch")) == 3
    assert meta["steps_per_epoch"] == per_rank_steps and meta["total_steps"] == 3 * per_rank_steps
    assert steps["step"].tolist() == list(range(1, 3 * per_rank_steps + 1))  # each step once, not once per rank
    assert sorted(p.name for p in (straight / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
    assert not list(straight.rglob("*.tmp")) and not list(straight.rglob(".*.tmp"))

    # 2. same run, paused once the first epoch's checkpoint exists, then stopped while paused
    run = tmp_path / "stopped"
    p = torchrun("-m", "core.train", "--config", "configs/taaf.toml", "--run-dir", str(run), *sets(DDP_FAST))
    try:
        wait_until(lambda: (run / "checkpoints" / "last.pt").exists(), "the first checkpoint")
        send_command(run, "pause")
        wait_until(lambda: status(run) == "paused", "status paused")
        with RunReader(run) as r:
            before = r.last_step()
        time.sleep(0.6)  # paused on every rank: nothing is trained meanwhile
        with RunReader(run) as r:
            assert r.last_step() == before
        send_command(run, "stop")
        finish(p, timeout=60)  # both ranks leave their pause loop; a rank left behind would hang
    finally:
        if p.poll() is None:
            p.kill()
    assert status(run) == "stopped"
    assert before < 3 * per_rank_steps

    # 3. resume under DDP: replays from the checkpoint and ends where the straight run ended, bit for bit
    finish(torchrun("-m", "core.train", "--resume", str(run)))
    with RunReader(run) as r:
        assert r.status()["status"] == "finished"
        resumed = r.scalars("step")
        assert "resume" in r.events()["kind"].tolist()
    assert resumed["step"].tolist() == steps["step"].tolist()
    assert resumed["loss"].tolist() == steps["loss"].tolist()
    a = torch.load(straight / "checkpoints/last.pt", weights_only=True)["model"]
    b = torch.load(run / "checkpoints/last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


WORKER = r'''
import gc, json, sys
from pathlib import Path
import torch, torch.distributed as dist
from core.config import load_config
from core.training_loop import Trainer
from core.data.common import iterate_batches

out = {}
for name in ("taaf", "ogm-ge", "unimodal-audio"):
    cfg = load_config("configs/taaf.toml", [f"strategy.name={name}", "train.threads=1", "record.progress=false",
                                             "optim.name=sgd", "optim.weight_decay=0.0001"])
    t = Trainer(cfg, Path(sys.argv[2]) / name)
    order = t.dist.shard(torch.arange(len(t.bundle.train)))
    for i, (a, v, y) in enumerate(iterate_batches(t.bundle.train, 32, order)):
        if i == 3:
            break
        local = t.train_step(a, v, y)
    mean = t.dist.mean_scalars(local)["loss"]
    vec = torch.cat([p.detach().flatten() for p in t.model.parameters()] + [torch.tensor([local["loss"]])])
    got = [torch.zeros_like(vec) for _ in range(t.dist.world_size)]
    dist.all_gather(got, vec)
    out[name] = {"param_diff": max(float((g[:-1] - got[0][:-1]).abs().max()) for g in got),
                 "loss_mean_error": abs(mean - sum(float(g[-1]) for g in got) / len(got)),
                 "losses_differ": float(got[0][-1]) != float(got[1][-1])}
if t.dist.is_main:
    Path(sys.argv[1]).write_text(json.dumps(out))
d = t.dist
del t  # free DDP (and its process group) now: gloo threads outliving the interpreter abort the process
gc.collect()
d.close()
'''


@pytest.mark.integration
def test_ranks_stay_identical_for_every_kind_of_strategy(tmp_path):
    """Balance signals scale learning rates (taaf) or gradients plus noise (ogm-ge), and unimodal runs
    leave an encoder idle: the parameters must still be equal on both ranks after several steps."""
    script, result = tmp_path / "worker.py", tmp_path / "result.json"
    script.write_text(WORKER)
    finish(torchrun(str(script), str(result), str(tmp_path / "runs")))
    for name, r in json.loads(result.read_text()).items():
        assert r["param_diff"] == 0.0, (name, r)
        assert r["losses_differ"], name  # the ranks really saw different data
        assert r["loss_mean_error"] < 1e-6, (name, r)  # logged metrics are the mean over ranks


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_a_strategy_that_says_its_loss_uses_every_parameter_does(name):
    # DDP is built without the unused-parameter search for these; one unused parameter would hang it.
    cfg = load_config("configs/taaf.toml", [f'strategy.name="{name}"'])
    strategy = make_strategy(cfg)
    torch.manual_seed(0)
    model = MultimodalSNN(cfg["model"], (32, 32), (1, 8, 8), 10, strategy.fusion)
    out = model(torch.randn(4, 32, 32), torch.rand(4, 1, 8, 8))
    loss, _ = strategy.loss(model, out, torch.tensor([0, 1, 2, 3]))
    loss.backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert bool(unused) != strategy.loss_uses_every_parameter, unused
