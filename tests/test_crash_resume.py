"""A crash at any checkpoint write, or a full disk, resumes to exactly the run that never crashed."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

from core import checkpoint
from core.config import load_config
from core.store import RunReader
from core.training_loop import train
from tests.support import TAAF_CONFIG, TINY, sets

pytestmark = pytest.mark.integration  # every test here trains

# TINY, a small network (T = 2, narrow encoders): what is tested is the order of the files, not learning.
SAVES = 4  # two epochs, each improving validation: a best.pt and a last.pt each


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[str]]:
    """The uninterrupted run, and the checkpoint files it wrote, in order."""
    run = tmp_path_factory.mktemp("straight") / "run"
    names: list[str] = []
    original = checkpoint.save

    def recording(path, *args, **kw):
        names.append(Path(path).name)
        return original(path, *args, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(checkpoint, "save", recording)
        summary = train(load_config(TAAF_CONFIG, TINY), run)
    return run, summary, names


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


def _same_run(a: Path, b: Path) -> None:
    for name in ("best.pt", "last.pt"):
        ta, tb = _tensors(a / "checkpoints" / name), _tensors(b / "checkpoints" / name)
        assert all(torch.equal(ta[k], tb[k]) for k in ta), name
    ra, rb = RunReader(a), RunReader(b)
    assert ra.scalars("step")["loss"].tolist() == rb.scalars("step")["loss"].tolist()
    assert ra.scalars("epoch")["val_acc_f"].tolist() == rb.scalars("epoch")["val_acc_f"].tolist()
    assert ra.meta()["test"] == rb.meta()["test"]


# (which write, when): 0-1 best/last of epoch 0, 2-3 of epoch 1. After the last write of epoch 0 is an epoch
# boundary (test_train.py's resume test), and "while writing" the second file of an epoch leaves the same files as
# "after writing" the first, plus a partial temporary file.
POINTS = [(0, "while writing"), (0, "after writing"), (2, "while writing"), (2, "after writing"),
          (3, "while writing"), (3, "after writing")]


@pytest.mark.parametrize("at, phase", POINTS)
def test_a_crash_at_any_checkpoint_write_resumes_identically(straight, tmp_path, monkeypatch, at, phase):
    ref, ref_summary, names = straight
    assert sorted(names) == ["best.pt", "best.pt", "last.pt", "last.pt"]  # every write point is exercised
    original, calls = checkpoint.save, {"n": 0}

    def crashing(path, *args, **kw):
        calls["n"] += 1
        if calls["n"] - 1 == at:
            if phase == "while writing":  # killed mid-write: partial temporary files stay behind
                Path(str(path) + ".tmp").write_bytes(b"PK\x03\x04 partial")
                (run / "arrays" / ".probe-000000003.npz.4242.tmp").write_bytes(b"PK\x03\x04 partial")
                raise KeyboardInterrupt
            original(path, *args, **kw)
            raise KeyboardInterrupt
        return original(path, *args, **kw)

    cfg = load_config(TAAF_CONFIG, TINY)
    run = tmp_path / "run"
    monkeypatch.setattr(checkpoint, "save", crashing)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run)
    monkeypatch.setattr(checkpoint, "save", original)
    summary = train(cfg, run, resume=True)
    assert summary["test"] == ref_summary["test"]
    _same_run(ref, run)
    assert not list(run.rglob("*.tmp"))  # the partial files are gone
    if phase == "while writing":
        assert "cleanup" in RunReader(run).events()["kind"].tolist()


def test_a_full_disk_fails_in_one_line_and_resumes(straight, tmp_path, monkeypatch, capsys):
    from core.train import main

    ref, ref_summary, _ = straight
    real_open, calls = open, {"n": 0}

    class FullFile:  # a file on a disk that fills up after a few bytes
        def __init__(self, f):
            self.f = f

        def write(self, b):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def full_open(file, mode="r", *args, **kw):
        f = real_open(file, mode, *args, **kw)
        if "x" in mode and str(file).endswith("last.pt.tmp"):
            calls["n"] += 1
            if calls["n"] == 2:  # the second epoch's last.pt
                return FullFile(f)
        return f

    run = tmp_path / "run"
    args = ["--config", str(TAAF_CONFIG), "--run-dir", str(run), *sets(TINY)]
    monkeypatch.setattr("builtins.open", full_open)
    rc = main(args)
    monkeypatch.setattr("builtins.open", real_open)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1, err
    assert err[0].startswith("error: no space left on device while writing") and "last.pt" in err[0], err
    st = RunReader(run).status()
    assert st["status"] == "failed" and "no space left on device" in st["error"]
    assert not list(run.rglob("*.tmp"))
    assert main(["--resume", str(run)]) == 0  # space is back
    _same_run(ref, run)
