"""The training loop end to end: CLI, run store contents, resume equivalence and every fault path."""

import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from core.config import load_config
from core.data import build_datasets
from core.errors import CheckpointError, RunExistsError, TrainingFailed
from core.store import RunReader
from core.strategies.taaf import TAAFStrategy
from core.training_loop import train
from tests.support import FAST, ROOT, TAAF_CONFIG, sets, wait_until

pytestmark = pytest.mark.integration  # every test here trains


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.train", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_cli_trains_and_records_everything(tmp_path):
    run = tmp_path / "run"
    p = cli("--config", "configs/taaf.toml", "--run-dir", str(run), *sets(FAST))
    assert p.returncode == 0, p.stderr[-2000:]
    assert "test accuracy" in p.stdout
    r = RunReader(run)
    assert r.status()["status"] == "finished"
    steps = r.scalars("step")
    meta = r.meta()
    assert len(steps) == meta["total_steps"] == 2 * meta["steps_per_epoch"]
    for key in ("loss", "loss_a", "loss_v", "loss_f", "acc_a", "acc_v", "acc_f", "rho_a", "rho_v", "k_a", "k_v",
                "lr_a", "lr_v", "lr_f", "gnorm_a", "gnorm_v", "rate/a.lif1", "rate/v.lif2", "samples_per_s",
                "alpha_entropy_a", "alpha_entropy_v", "alpha_entropy_f"):
        assert key in steps.columns and steps[key].notna().all(), key
    # the balance really modulates: effective lr of a modality = base lr x its coefficient
    assert torch.allclose(torch.tensor(steps["lr_a"].values), torch.tensor((0.003 * steps["k_a"]).values))
    epochs = r.scalars("epoch")
    assert len(epochs) == 2
    for key in ("val_acc_a", "val_acc_v", "val_acc_f", "shapley_a", "shapley_v", "energy_pj", "energy_ann_pj",
                "val_alpha_entropy_a", "val_alpha_entropy_v", "val_alpha_entropy_f"):
        assert epochs[key].notna().all(), key
    for u in "avf":  # attention entropy lies between one-hot (0) and uniform (ln T) at every step
        h = steps[f"alpha_entropy_{u}"]
        assert ((h >= 0) & (h <= math.log(meta["T"]) + 1e-5)).all(), u
    probe_steps = r.array_steps("probe")
    assert probe_steps[0] == 1 and len(probe_steps) >= 2
    arrays = r.arrays(probe_steps[-1])
    P, T = 8, meta["T"]
    assert arrays["alpha"].shape == (P, 3, T)
    assert abs(arrays["alpha"].sum(-1) - 1).max() < 1e-4
    assert arrays["probs"].shape == (P, 3, T, 10)
    assert arrays["spikes/a.lif1"].shape[:2] == (P, 4) and arrays["spikes/v.lif1"].shape[:2] == (P, 4)
    assert set(arrays["spikes/v.lif2"].ravel().tolist()) <= {0, 1}
    ck = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert ck["epoch"] == 1 and "a.lif1" in ck["neurons"]
    assert (run / "checkpoints" / "best.pt").exists()
    assert "test" in meta and 0 <= meta["test"]["acc_f"] <= 1


def test_evaluate_cli_prints_test_metrics(tmp_path):
    run = tmp_path / "run"
    assert cli("--config", "configs/concat.toml", "--run-dir", str(run), *sets(FAST[:1] + FAST[2:] +
               ["train.epochs=1"])).returncode == 0
    p = subprocess.run([sys.executable, "-m", "core.evaluate", str(run)], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "accuracy" in p.stdout and "shapley" in p.stdout and "energy" in p.stdout


def test_resume_equals_uninterrupted_run(tmp_path):
    cfg = load_config(TAAF_CONFIG, FAST + ["train.epochs=3"])
    train(cfg, tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "resumed", stop_after_epoch=1)
    assert RunReader(tmp_path / "resumed").status()["status"] == "interrupted"
    train(cfg, tmp_path / "resumed", resume=True)
    a = torch.load(tmp_path / "straight/checkpoints/last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "resumed/checkpoints/last.pt", weights_only=True)["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    sa = RunReader(tmp_path / "straight").scalars("step")
    sb = RunReader(tmp_path / "resumed").scalars("step")
    assert list(sa["step"]) == list(sb["step"])
    assert sa["loss"].tolist() == sb["loss"].tolist()


def test_non_finite_loss_fails_at_step_and_keeps_checkpoint(tmp_path, monkeypatch):
    cfg = load_config(TAAF_CONFIG, FAST)
    steps_per_epoch = math.ceil(len(build_datasets(cfg).train) / cfg["data"]["batch_size"])
    bad_call = steps_per_epoch + 6  # in the second epoch, after the first checkpoint
    original = TAAFStrategy.loss
    calls = {"n": 0}

    def poisoned(self, model, out, y):
        calls["n"] += 1
        loss, scalars = original(self, model, out, y)
        return (loss * float("nan") if calls["n"] == bad_call else loss), scalars

    monkeypatch.setattr(TAAFStrategy, "loss", poisoned)
    # the step counter has not advanced yet when the bad loss is seen: it names the last finished step
    with pytest.raises(TrainingFailed, match=f"non-finite loss .* at step {bad_call - 1} "):
        train(cfg, tmp_path / "run")
    st = RunReader(tmp_path / "run").status()
    assert st["status"] == "failed" and f"step {bad_call - 1} " in st["error"]
    ck = torch.load(tmp_path / "run/checkpoints/last.pt", weights_only=True)
    assert ck["epoch"] == 0  # the epoch before the failure, intact


def test_existing_run_dir_is_refused_and_kept(tmp_path):
    run = tmp_path / "run"
    cfg = load_config(TAAF_CONFIG, FAST + ["train.epochs=1"])
    train(cfg, run)
    before = (run / "store.sqlite").stat().st_size
    with pytest.raises(RunExistsError):
        train(cfg, run)
    p = cli("--config", "configs/taaf.toml", "--run-dir", str(run))
    assert p.returncode == 2 and p.stderr.strip().startswith("error:") and str(run) in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert (run / "store.sqlite").stat().st_size == before
    assert RunReader(run).status()["status"] == "finished"


def test_corrupt_checkpoint_on_resume_is_one_line(tmp_path):
    run = tmp_path / "run"
    train(load_config(TAAF_CONFIG, FAST + ["train.epochs=1"]), run)
    (run / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint")
    p = cli("--resume", str(run))
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [p.stderr.strip()]
    assert "last.pt" in p.stderr and "cannot load checkpoint" in p.stderr
    with pytest.raises(CheckpointError):
        train(load_config(TAAF_CONFIG, FAST), run, resume=True)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--set", "model.Tx=3"], "unknown key 'model.Tx'"),
        (["--set", "model.T=0"], "'model.T' = 0: expected an integer >= 1"),
        (["--set", "optim.lr=-0.1"], "'optim.lr' = -0.1: expected a number > 0"),
        (["--set", "data.path=\"/nonexistent/x.npz\""], "/nonexistent/x.npz"),
    ],
)
def test_bad_config_values_are_one_line_errors(tmp_path, args, expected):
    p = cli("--config", "configs/taaf.toml", "--run-dir", str(tmp_path / "run"), *args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], p.stderr
    assert not (tmp_path / "run" / "store.sqlite").exists()


def test_ctrl_c_marks_interrupted_and_resume_finishes(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "core.train", "--config", "configs/taaf.toml", "--run-dir",
                             str(run), *sets(FAST + ["train.epochs=3"])], cwd=ROOT, stderr=subprocess.PIPE,
                            text=True)
    wait_until(lambda: (run / "checkpoints" / "last.pt").exists(), "the first epoch's checkpoint", 120, poll=0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert RunReader(run).status()["status"] == "interrupted"
    torch.load(run / "checkpoints" / "last.pt", weights_only=True)  # kept and loadable
    p = cli("--resume", str(run))
    assert p.returncode == 0, p.stderr[-2000:]
    r = RunReader(run)
    assert r.status()["status"] == "finished"
    assert len(r.scalars("step")) == r.meta()["total_steps"]


def test_pause_resume_stop_through_the_control_channel(tmp_path):
    from core.store import send_command

    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "core.train", "--config", "configs/taaf.toml", "--run-dir",
                             str(run), *sets(FAST + ["train.epochs=20"])], cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: (run / "store.sqlite").exists() and RunReader(run).last_step() >= 3, "step 3", 120, 0.2)
        send_command(run, "pause")
        wait_until(lambda: RunReader(run).status()["status"] == "paused", "status paused", 60, 0.1)
        paused_at = RunReader(run).last_step()
        time.sleep(1.0)  # a window in which a step would be recorded if pause did not hold: nothing to wait for
        assert RunReader(run).last_step() == paused_at  # no step while paused
        send_command(run, "resume")
        wait_until(lambda: RunReader(run).last_step() > paused_at, "a step after resume", 60, 0.1)
        send_command(run, "stop")
        assert proc.wait(timeout=60) == 0
        assert RunReader(run).status()["status"] == "stopped"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)


@pytest.mark.parametrize("args, out", [
    (["--help"], "--resume RUN_DIR"),
    (["--set", "x=1"], "--config is required"),
    (["--config", "configs/taaf.toml", "--set", "train.epochz=1"], "unknown key 'train.epochz'"),
])
def test_help_and_argument_errors_come_before_torch_is_imported(args, out):
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "core.train", *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert out in p.stdout + p.stderr
    assert p.returncode == (0 if args == ["--help"] else 2)
    imported = [line.rsplit("|", 1)[-1].strip() for line in p.stderr.splitlines() if line.startswith("import time:")]
    assert imported and "torch" not in imported and "numpy" not in imported
