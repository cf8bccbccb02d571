"""One config and seed give one result wherever the run is launched: the README's command line and the studio's
Start (core.launcher.start_run) write the same resolved config, log the same numbers and save the same weights,
bit for bit (a real 1-epoch run each, ~20-40 s)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core import launcher
from core.store import RunReader

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "taaf.toml"
TINY = {"train.epochs": 1, "data.batch_size": 128, "record.every_steps": 5, "record.shapley": False}
# Fields that say how a run was started or shown, not what it computes: a terminal progress bar (the launched
# trainer has no terminal: launcher.start_run turns it off).
RUN_SPECIFIC = {("record", "progress")}
TIME_COLUMNS = {"time", "elapsed_s", "samples_per_s", "epoch_time"}


def without_run_specific(cfg: dict) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in cfg.items()}
    for section, key in RUN_SPECIFIC:
        out[section].pop(key, None)
    return out


def wait_finished(run: Path, timeout_s: float = 600) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        st = launcher.run_state(run)
        if st["status"] in ("finished", "failed", "interrupted", "stopped"):
            assert st["status"] == "finished", (st, (run / "train.log").read_text()[-2000:])
            return
        time.sleep(0.5)
    pytest.fail(f"launched run {run} did not finish in {timeout_s} s")


@pytest.mark.integration  # trains from the CLI and through the launcher
def test_cli_and_studio_start_give_the_same_run(tmp_path: Path) -> None:
    cli = tmp_path / "cli"
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={str(v).lower()}")]
    proc = subprocess.run([sys.executable, "-m", "core.train", "--config", str(CONFIG), "--run-dir", str(cli), *sets],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the studio sends the preset and only the knobs that differ from it (none: an empty table)
    launched = launcher.start_run(tmp_path / "runs", CONFIG, {**TINY, "data.avdigits.preset": "audio-dominant",
                                                              "data.avdigits.degrade": {}})
    wait_finished(launched)
    a, b = RunReader(cli), RunReader(launched)
    cfg_a, cfg_b = a.config(), b.config()
    assert cfg_a["train"]["threads"] == cfg_b["train"]["threads"] == launcher.run_threads(cfg_a)
    assert cfg_a["data"]["avdigits"]["degrade"]["visual_noise"] == 6.0  # the knobs written out, both
    assert without_run_specific(cfg_a) == without_run_specific(cfg_b)
    assert a.meta()["test"] == b.meta()["test"]  # final test metrics, exactly
    for scope in ("step", "epoch"):
        sa, sb = a.scalars(scope), b.scalars(scope)
        cols = [c for c in sa.columns if c not in TIME_COLUMNS]
        assert len(sa) > 0 and list(sa.columns) == list(sb.columns)
        assert sa[cols].equals(sb[cols]), scope
    for name in ("best.pt", "last.pt"):
        ca = torch.load(cli / "checkpoints" / name, weights_only=False)
        cb = torch.load(launched / "checkpoints" / name, weights_only=False)
        for k, t in ca["model"].items():
            assert torch.equal(t, cb["model"][k]), (name, k)
        sa, sb = ca["optimizer"]["state"], cb["optimizer"]["state"]
        assert sa.keys() == sb.keys()
        for i in sa:
            for k, t in sa[i].items():
                assert torch.equal(torch.as_tensor(t), torch.as_tensor(sb[i][k])), (name, i, k)


def test_thread_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = {"train": {"threads": 0}}
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert launcher.run_threads(cfg) == launcher.launched_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # torchrun's per-rank setting wins over cores - 1
    assert launcher.run_threads(cfg) == 1
    assert launcher.run_threads({"train": {"threads": 3}}) == 3
