"""A run folder from someone else is data, never code (issue 20): a copied run whose config.json points at a
pickled AVE tree inside the run, with a pickle that runs a command when loaded, must not run it through
core.evaluate, build_run from the saved config (what Inspect uses) or --resume; --allow-pickle (the user's flag)
still reads numpy arrays only."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from fabricate import fabricate_ave

from core.build import build_run
from core.config import load_config, saved_run_config
from core.data import audio_features as af
from core.errors import ConfigError, DataError
from core.store import RunReader

ROOT = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this runs `touch <marker>`: the attack."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: D105
        return (os.system, (f"touch {self.marker}",))


def crafted_run(tiny_run: Path, tmp_path: Path, allow_pickle_in_config: bool = True) -> tuple[Path, Path]:
    """A copy of a real finished run, re-pointed at an AVE tree inside it whose first .pkl is the payload."""
    run, marker = tmp_path / "shared-run", tmp_path / "PWNED"
    shutil.copytree(tiny_run, run)
    tree = fabricate_ave(run / "data", audio="pickle")
    evil = tree.root / "Audio-1004-SE" / f"{sorted(tree.ids())[0]}.pkl"
    evil.write_bytes(pickle.dumps(Payload(marker)))
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"].update(dataset="ave", path=str(tree.root), cache_dir=str(run / "cache"))
    cfg["data"]["ave"] = {"audio": "pickle", "frame_size": 16, "audio_size": 20,
                          **({"allow_pickle": True} if allow_pickle_in_config else {})}
    (run / "config.json").write_text(json.dumps(cfg))
    return run, marker


def test_the_payload_is_real(tmp_path: Path) -> None:
    """The attack works when a plain pickle.load reads it (so the tests below would see it if it ran)."""
    marker = tmp_path / "m"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


def test_evaluate_on_a_crafted_run_runs_no_code(tiny_run: Path, tmp_path: Path) -> None:
    run, marker = crafted_run(tiny_run, tmp_path)
    p = subprocess.run([sys.executable, "-m", "core.evaluate", str(run)], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert not marker.exists()
    assert p.returncode == 2, p.stderr[-2000:]
    assert p.stderr.strip().splitlines() == [p.stderr.strip()] and "--allow-pickle" in p.stderr


def test_build_run_from_the_saved_config_runs_no_code(tiny_run: Path, tmp_path: Path) -> None:
    """What whatif.load_trained (the Inspect page) does: the saved allow_pickle is ignored, the gate refuses."""
    run, marker = crafted_run(tiny_run, tmp_path)
    cfg = saved_run_config(RunReader(run).config(), str(run / "config.json"))
    assert "allow_pickle" not in cfg["data"]["ave"]
    with pytest.raises(ConfigError, match="--allow-pickle"):
        build_run(cfg)
    from core.whatif import load_trained

    with pytest.raises(ConfigError, match="--allow-pickle"):
        load_trained(run)
    assert not marker.exists()


def test_resume_of_a_crafted_run_runs_no_code(tiny_run: Path, tmp_path: Path) -> None:
    run, marker = crafted_run(tiny_run, tmp_path)
    p = subprocess.run([sys.executable, "-m", "core.train", "--resume", str(run)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert not marker.exists()
    assert p.returncode == 2 and "--allow-pickle" in p.stderr, p.stderr[-2000:]


def test_with_the_flag_the_array_unpickler_still_refuses_the_payload(tiny_run: Path, tmp_path: Path) -> None:
    run, marker = crafted_run(tiny_run, tmp_path, allow_pickle_in_config=False)
    p = subprocess.run([sys.executable, "-m", "core.evaluate", str(run), "--allow-pickle"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert not marker.exists()
    assert p.returncode == 2, p.stderr[-2000:]
    assert "refers to posix.system" in p.stderr and "only numpy arrays" in p.stderr
    cfg = saved_run_config(RunReader(run).config(), str(run / "config.json"))
    with warnings.catch_warnings(), pytest.raises(DataError, match="unreadable audio"):
        warnings.simplefilter("ignore")
        build_run(cfg, trust_pickles=True)
    assert not marker.exists()


def test_array_unpickler_reads_arrays_and_refuses_everything_else(tmp_path: Path) -> None:
    good = tmp_path / "good.pkl"
    spec = np.arange(12, dtype=np.float32).reshape(3, 4)
    good.write_bytes(pickle.dumps(spec))
    np.testing.assert_array_equal(af.read_spectrogram(good, "pickle", trust_pickles=True), spec)
    for protocol in (2, 5):  # protocol 5 reconstructs through numpy's _frombuffer
        good.write_bytes(pickle.dumps(spec.astype(np.float64), protocol=protocol))
        np.testing.assert_array_equal(af.read_spectrogram(good, "pickle", trust_pickles=True), spec)
    with pytest.raises(ValueError, match="--allow-pickle"):
        af.read_spectrogram(good, "pickle")
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps(Payload(tmp_path / "marker")))
    with pytest.raises(pickle.UnpicklingError, match=r"^refers to posix\.system; only numpy arrays"):
        af.read_spectrogram(bad, "pickle", trust_pickles=True)
    bad.write_bytes(pickle.dumps({"a": 1, "f": print}))
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        af.read_spectrogram(bad, "pickle", trust_pickles=True)
    assert not (tmp_path / "marker").exists()


def test_allow_pickle_is_no_setting(tmp_path: Path) -> None:
    """A config file (or --set) that sets it gets one line pointing at the flag; a saved run's config loads."""
    conf = tmp_path / "c.toml"
    conf.write_text("[data.ave]\naudio = 'pickle'\nallow_pickle = true\n")
    with pytest.raises(ConfigError) as e:
        load_config(conf)
    msg = str(e.value)
    assert msg.startswith(f"{conf}: 'data.ave.allow_pickle' is no longer a setting") and "--allow-pickle" in msg
    assert "\n" not in msg
    with pytest.raises(ConfigError, match="--allow-pickle"):
        load_config(None, ["data.ave.allow_pickle=true"])
    saved = {"data": {"dataset": "ave", "ave": {"audio": "pickle", "allow_pickle": True}}}
    cfg = saved_run_config(saved, "runs/x/config.json")
    assert cfg["data"]["ave"]["audio"] == "pickle" and "allow_pickle" not in cfg["data"]["ave"]
    assert saved["data"]["ave"]["allow_pickle"] is True  # the caller's dict is not changed
