"""What the tests share: repository paths, the short-training overrides, synthetic run stores and chart inputs,
waiting, Chromium.

Override lists used by more than one file live here; a list only one file needs (DDP's, CUDA's) stays in that
file under a name that says how it differs. Fixtures live in conftest.py; dataset trees in tests/fabricate.py.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

from core.store import RunWriter
from devtools.devserver import CHROMIUM_ARGS

if TYPE_CHECKING:  # streamlit loads in a second: only the tests that drive the studio import it
    from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
TAAF_CONFIG = CONFIGS / "taaf.toml"
DEMO_RUN = ROOT / "sample_data" / "demo_run"
AVDIGITS_NPZ = ROOT / "sample_data" / "av_digits.npz"  # the bundled dataset
ARTIFACTS = ROOT / "test-artifacts"  # the browser tests' screenshots and timings
STUDIO_APP = ROOT / "studio" / "home.py"  # the multipage app AppTest drives (studio/app.py is its launcher)

# Two short epochs of the default network, probes every 5 steps: what the trainer's CLI tests train.
FAST = ["train.epochs=2", "record.every_steps=5", "record.progress=false", "train.threads=1"]
# FAST with a small network (T = 2, narrow encoders) and no Shapley values: for tests of what the trainer writes
# (files, checkpoints, errors), not of learning.
TINY = [*FAST, "record.shapley=false", "data.batch_size=128", "model.widths=[8, 16]", "model.T=2",
        "model.audio_steps=2", "model.visual_steps=2"]
# One epoch of the default network with large batches: the session's shared finished run (conftest.tiny_run).
ONE_EPOCH = ["train.epochs=1", "record.every_steps=5", "record.progress=false", "record.shapley=false",
             "data.batch_size=128", "train.threads=1"]


def sets(items: list[str]) -> list[str]:
    """`--set` arguments for core.train, one pair per override."""
    return [x for item in items for x in ("--set", item)]


def wait_until(cond: Callable[[], Any], what: str, timeout: float = 60, poll: float = 0.05) -> Any:
    """Poll `cond` until it returns something truthy (returned); fail naming `what` after `timeout` seconds."""
    end = time.time() + timeout
    while not (value := cond()):
        assert time.time() < end, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(poll)
    return value


# --- synthetic run stores --------------------------------------------------------------------------------------

LAYERS = ["a.lif1", "a.lif2", "v.lif1", "v.lif2"]
NEURONS = {"a.lif1": 64, "a.lif2": 32, "v.lif1": 48, "v.lif2": 16}


def make_run(run_dir: Path, status: str = "finished", steps: int = 40, steps_per_epoch: int = 20, every: int = 10,
             T: int = 4, P: int = 4, C: int = 10, error: str | None = None, seed: int = 0) -> Path:
    """A run store with every key docs/architecture.md lists, as the trainer would write it."""
    rng = np.random.default_rng(seed)
    cfg = {"strategy": {"name": "taaf"}, "data": {"dataset": "avdigits", "avdigits": {"preset": "hard"}},
           "train": {"seed": seed}, "model": {"T": T, "v_th": 1.0}}
    w = RunWriter.create(run_dir, cfg)
    meta = {"strategy": "taaf", "preset": "hard", "seed": seed, "T": T, "class_names": [str(i) for i in range(C)],
            "layers": LAYERS, "v_th": 1.0, "pid": os.getpid(), "epochs": max(1, steps // steps_per_epoch),
            "steps_per_epoch": steps_per_epoch, "total_steps": max(steps, 1)}
    for k, v in meta.items():
        w.set_meta(k, v)
    for s in range(1, steps + 1):  # like the trainer: step n = n steps done
        e = (s - 1) // steps_per_epoch
        vals = {"loss": 2.3 - s / steps, **{f"loss_{u}": 2.3 - s / steps for u in "avf"},
                **{f"acc_{u}": min(1.0, s / steps + rng.random() * 0.1) for u in "avf"},
                "rho_a": 1.5, "rho_v": 1 / 1.5, "k_a": 0.6, "k_v": 1.0, "lr_a": 1.8e-3, "lr_v": 3e-3, "lr_f": 3e-3,
                "gnorm_a": 2.0, "gnorm_v": 1.0, "samples_per_s": 300.0, **{f"rate/{n}": 0.1 for n in LAYERS}}
        w.log_scalars(s, e, vals, scope="step")
        if s == 1 or s % every == 0:
            alpha = rng.random((P, 3, T)).astype(np.float32)
            arrays = {"alpha": alpha / alpha.sum(-1, keepdims=True),
                      "probs": np.full((P, 3, T, C), 1 / C, np.float32), "labels": np.arange(P) % C}
            for n in LAYERS:
                t_l = 8 if n.startswith("a.") else 4
                arrays[f"spikes/{n}"] = (rng.random((P, t_l, NEURONS[n])) < 0.2).astype(np.uint8)
                arrays[f"membrane/{n}"] = rng.normal(0.5, 0.4, (P, t_l, 16)).astype(np.float16)
            w.log_arrays(s, e, arrays, kind="probe")
        if s % steps_per_epoch == 0:
            f = (e + 1) / max(1, steps // steps_per_epoch)
            w.log_scalars(s, e, {"val_acc_a": 0.8 * f, "val_acc_v": 0.4 * f, "val_acc_f": 0.9 * f, "val_loss": 1.0,
                                 "shapley_a": 0.3, "shapley_v": 0.1, "energy_pj": 1e6, "energy_ann_pj": 5e6,
                                 "sops": 1e4, "epoch_time": 3.0}, scope="epoch")
    if status != "running":
        w.set_status(status, error=error)
    w.close()
    (run_dir / "train.log").write_text("step 1\nstep 2\nTraceback (most recent call last):\nBoom: synthetic\n")
    return run_dir


# --- synthetic chart inputs ----------------------------------------------------------------------------------

def step_table(n: int = 120) -> pd.DataFrame:
    """Step scalars of a 120-step run of three epochs, as RunReader.scalars("step") returns them."""
    rng = np.random.default_rng(0)
    s = np.arange(n)
    d = {"step": s, "epoch": s // 40, "time": s * 0.1}
    for u in "avf":
        d[f"loss_{u}"] = 2.3 * np.exp(-s / 50) + rng.random(n) * 0.1
        d[f"acc_{u}"] = np.clip(s / n + rng.random(n) * 0.1, 0, 1)
        d[f"lr_{u}"] = np.full(n, 3e-3) * (0.5 if u == "a" else 1.0)
    d.update(k_a=np.full(n, 0.6), k_v=np.ones(n), rho_a=1.5 + rng.random(n), rho_v=np.full(n, 0.6),
             gnorm_a=np.full(n, 2.0), gnorm_v=np.full(n, 1.0))
    d["rate/a.lif1"] = np.full(n, 0.1)
    d["rate/v.lif1"] = np.full(n, 0.2)
    return pd.DataFrame(d)


def epoch_table() -> pd.DataFrame:
    """Epoch scalars of the same run (validation, Shapley values, energy)."""
    return pd.DataFrame({
        "step": [39, 79, 119], "epoch": [0, 1, 2], "time": [4, 8, 12],
        "val_acc_a": [0.5, 0.85, 0.9], "val_acc_v": [0.2, 0.3, 0.6], "val_acc_f": [0.5, 0.9, 0.95],
        "val_loss": [1.5, 0.8, 0.5], "shapley_a": [0.3, 0.4, 0.5], "shapley_v": [0.1, 0.1, 0.2],
        "energy_pj": [2e6, 2.2e6, 2.1e6], "energy_ann_pj": [1e7, 1e7, 1e7],
    })


def alpha_series(s: int = 5, t: int = 4) -> np.ndarray:
    """Attention weights for `s` steps: (step, head, timestep), each row summing to 1."""
    a = np.random.default_rng(1).random((s, 3, t)).astype(np.float32)
    return a / a.sum(axis=2, keepdims=True)


def whatif_inputs() -> dict:
    """What core.inspect's what-if returns for one sample: attention, build-up, spikes, the inputs."""
    rng = np.random.default_rng(3)
    return {
        "alpha": alpha_series(1)[0], "build_up": np.full((4, 10), 0.1, np.float32),
        "spikes/a.lif1": (rng.random((8, 30)) < 0.3).astype(np.uint8),
        "spikes/v.lif1": (rng.random((4, 20)) < 0.3).astype(np.uint8),
        "audio": rng.random((32, 32)).astype(np.float32), "visual": rng.random((1, 8, 8)).astype(np.float32),
    }


# --- the studio through AppTest ---------------------------------------------------------------------------------

def open_studio(monkeypatch: pytest.MonkeyPatch, runs: Path, demo: Path | str = "", page: str | None = None,
                timeout: float = 60) -> AppTest:
    """The studio (studio/home.py) run once over `runs` with `demo` as its demo run, then switched to `page`."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TAAF_RUNS_DIR", str(runs))
    monkeypatch.setenv("TAAF_DEMO_RUN", str(demo))
    at = AppTest.from_file(str(STUDIO_APP), default_timeout=timeout).run()
    if page:
        at.switch_page(page).run()
    return at


def assert_renders(at: AppTest) -> None:
    """The script ran without an exception."""
    assert not at.exception, [e.value for e in at.exception]


def page_text(at: AppTest) -> str:
    """Every text element on the page, one per line."""
    parts = [e.value for kind in ("markdown", "success", "info", "warning", "error", "caption", "code")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def studio_chart_data(at: AppTest) -> dict[str, dict]:
    """Every chart on the page (studio/live/livechart.py): key -> its data (`fig` JSON drawn now, or a live `src`)."""
    return {c.proto.id.rsplit("-", 1)[1]: json.loads(c.proto.json) for c in at.get("bidi_component")
            if c.proto.component_name == "taaf_chart"}


def studio_charts(at: AppTest) -> list[dict]:
    return list(studio_chart_data(at).values())


def figure_specs(at: AppTest) -> list[str]:
    """The figure JSON of every chart drawn now (static charts)."""
    return [c["fig"] for c in studio_charts(at) if "fig" in c]


def run_bar(at: AppTest) -> dict:
    """The run bar's data: status, the header it starts with, and the route it polls (None when static)."""
    return next(json.loads(c.proto.json) for c in at.get("bidi_component") if c.proto.component_name == "taaf_head")


# --- the browser -----------------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# For a module whose tests all drive the browser: the `browser` kind, and a skip (with the reason) without chromium.
BROWSER_TESTS = [pytest.mark.browser,
                 pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt install chromium)")]


def launch_chromium(playwright: Any) -> Any:
    """Playwright's chromium driving the system's (Debian's) headless Chromium with devserver's arguments."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextmanager
def live_run_in_studio(runs: Path, overrides: list[str], log_name: str) -> Iterator[tuple[Path, str]]:
    """A run of TAAF_CONFIG with `overrides` started as the studio's Start starts one, and a studio server on its runs
    folder once the trainer runs: (run dir, url). The server is stopped and the trainer killed at the end; the
    server's log goes to test-artifacts/<log_name>."""
    import signal

    from core import launcher
    from core.config import parse_value
    from devtools import devserver

    ARTIFACTS.mkdir(exist_ok=True)
    over = {k: parse_value(v) for k, _, v in (item.partition("=") for item in overrides)}
    run = launcher.start_run(runs, TAAF_CONFIG, over)
    proc = None
    with open(ARTIFACTS / log_name, "w") as log:
        try:
            proc, url = devserver.start("studio/app.py", ["--runs-dir", str(runs)], log)
            wait_until(lambda: launcher.run_state(run)["status"] == "running", "the trainer to run", 180, poll=0.2)
            yield run, url
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(10)
            info = launcher.launch_info(run)
            if info and launcher.pid_alive(info["pid"]):
                os.kill(info["pid"], signal.SIGKILL)
            time.sleep(0.1)


def small_avdigits_t(path: Path) -> Path:
    """A small AV-Digits-T file (6 source rows per split and class, 2 clips per image) written to `path`, built by
    the shipped builder: what tests train and render on instead of the 16,173-pair bundled file."""
    import sys

    sys.path.insert(0, str(ROOT / "sample_data"))
    import build_av_digits_t as builder
    from build_av_digits import write_npz

    write_npz(path, builder.build_arrays(0, pairs_per_image=2, rows_per_class=6))
    return path
