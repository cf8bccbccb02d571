"""Shared fixtures (synthetic run stores, one real tiny trained run) and the test kinds.

Every test has one kind: `unit` (in process, seconds), `integration` (trains, or starts subprocesses or servers),
`browser` (drives Chromium). A test marked with none gets one here: `integration` if it reads the session's real
trained run (tiny_run), else `unit`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support import AVDIGITS_NPZ, ONE_EPOCH, ROOT, TAAF_CONFIG, make_run, sets, whatif_inputs

KINDS = ("unit", "integration", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(k) for k in KINDS):
            reads_a_trained_run = "tiny_run" in getattr(item, "fixturenames", ())
            item.add_marker(pytest.mark.integration if reads_a_trained_run else pytest.mark.unit)


@pytest.fixture()
def runs_dir(tmp_path: Path) -> Path:
    """A runs folder with a finished run and a second seed of it."""
    d = tmp_path / "runs"
    make_run(d / "taaf-hard-s0", seed=0)
    make_run(d / "taaf-hard-s1", seed=1)
    return d


@pytest.fixture(scope="module")
def shipped() -> dict[str, np.ndarray]:
    """The bundled AV-Digits arrays (sample_data/av_digits.npz), loaded once per module."""
    from core.data import avdigits

    return avdigits.load_npz(AVDIGITS_NPZ)


@pytest.fixture()
def whatif_result() -> dict:
    """Synthetic what-if output for one sample (tests.support.whatif_inputs)."""
    return whatif_inputs()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real finished run from `python -m core.train` (1 short epoch), trained once per test session (~20 s),
    for tests that only read a finished run (copy it first to change it)."""
    run_dir = tmp_path_factory.mktemp("real") / "tiny"
    cmd = [sys.executable, "-m", "core.train", "--config", str(TAAF_CONFIG), "--run-dir", str(run_dir),
           *sets(ONE_EPOCH)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"tiny training run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return run_dir
