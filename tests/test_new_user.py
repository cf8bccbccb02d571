"""What a new user tripped over (issue 26): run names that say what a run is, a Continue note that counts epochs
like the run bar, a CLI command that reproduces a run, honest small numbers and words."""

from __future__ import annotations

import json

import pytest

from core.config import load_config, saved_run_config
from core.launcher import continue_note
from core.rerun import RUN_SPECIFIC, rerun_command
from tests.support import CONFIGS, DEMO_RUN, ROOT

pytestmark = pytest.mark.unit


def test_continue_note_counts_epochs_from_one_like_the_run_bar() -> None:
    # 38 steps an epoch, stopped at step 277: the last checkpoint (stored epoch 6, 0-based) ends the 7th epoch.
    text = continue_note({"epoch": 6, "step": 266}, 277)
    assert "end of epoch 7 (step 266)" in text
    assert "steps 267–277 are trained again" in text
    assert "epoch 6" not in text


def _resolved_from_command(command: str) -> dict:
    """The config core.train's own argument parser resolves from a `python -m core.train ...` line."""
    import shlex

    from core.train import build_parser, run_config

    words = shlex.split(command)
    assert words[:3] == ["python", "-m", "core.train"]
    ap = build_parser()
    cfg, run_dir, resume = run_config(ap, ap.parse_args(words[3:]))
    assert run_dir is None and not resume
    return cfg


def _without_run_specific(cfg: dict) -> dict:
    import copy

    cfg = copy.deepcopy(cfg)
    for dotted in RUN_SPECIFIC:
        section, key = dotted.split(".")
        cfg[section].pop(key)
    return cfg


@pytest.mark.parametrize("config, sets", [
    ("configs/taaf.toml", []),
    ("configs/taaf-t16.toml", ["train.epochs=3", "train.seed=7", "record.runs_dir=/tmp/elsewhere",
                               "record.progress=false", "train.threads=1"]),
    ("configs/concat.toml", ["data.avdigits.preset=hard", "model.widths=[8, 16]", "optim.lr=0.0005",
                             "data.avdigits.degrade={occlusion = 2}", "strategy.weighting=\"weighted-ce\""]),
])
def test_the_copied_command_reproduces_the_runs_config(config: str, sets: list[str]) -> None:
    run_cfg = load_config(ROOT / config, sets)  # what the trainer writes to the run's config.json
    saved = json.loads(json.dumps(run_cfg))
    command = rerun_command(saved)
    assert _without_run_specific(_resolved_from_command(command)) == _without_run_specific(run_cfg), command
    assert "runs_dir" not in command and "progress" not in command  # where it was shown, not what it trained


def test_the_copied_command_starts_from_the_closest_shipped_config() -> None:
    cfg = load_config(CONFIGS / "taaf-t16.toml", ["train.seed=3"])
    assert rerun_command(cfg) == "python -m core.train --config configs/taaf-t16.toml --set train.seed=3"


def test_the_demo_runs_command_reproduces_it() -> None:
    saved = json.loads((DEMO_RUN / "config.json").read_text())
    cfg = _resolved_from_command(rerun_command(saved))
    assert _without_run_specific(cfg) == _without_run_specific(saved_run_config(saved, "demo"))
