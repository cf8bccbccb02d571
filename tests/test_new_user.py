"""What a new user tripped over (issue 26): run names that say what a run is, a Continue note that counts epochs
like the run bar, a CLI command that reproduces a run, honest small numbers and words."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config import load_config, saved_run_config
from core.launcher import continue_note
from core.rerun import RUN_SPECIFIC, rerun_command
from tests.support import CONFIGS, DEMO_RUN, ROOT, alpha_series, make_run, step_table

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
    from core.launcher import resolve_launch

    run_cfg = resolve_launch(load_config(ROOT / config, sets))  # what the trainer writes to the run's config.json
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
    from core.launcher import resolve_launch  # a run recorded before every knob was written out: the same data

    assert _without_run_specific(cfg) == _without_run_specific(resolve_launch(saved_run_config(saved, "demo")))


# --- item 2: what tells runs apart ------------------------------------------------------------------------------

def test_the_run_list_carries_T_epochs_and_the_test_accuracy(tmp_path: Path) -> None:
    from core.store import RunWriter, list_runs

    run = make_run(tmp_path / "taaf-hard-s0", T=16, steps=40, steps_per_epoch=20)
    w = RunWriter.open(run)
    w.set_meta("test", {"acc_a": 0.8, "acc_v": 0.4, "acc_f": 0.9375, "loss": 0.3})
    w.close()
    make_run(tmp_path / "taaf-hard-s1", T=4, steps=20, steps_per_epoch=20, seed=1)  # no final test yet
    rows = {r["name"]: r for r in list_runs(tmp_path).to_dict("records")}
    assert (rows["taaf-hard-s0"]["T"], rows["taaf-hard-s0"]["epochs"], rows["taaf-hard-s0"]["test_acc_f"]) == \
        (16, 2, 0.9375)
    assert rows["taaf-hard-s1"]["T"] == 4 and pd.isna(rows["taaf-hard-s1"]["test_acc_f"])


def test_a_crafted_test_accuracy_is_the_rows_problem(tmp_path: Path) -> None:
    from core.store import RunWriter, list_runs

    run = make_run(tmp_path / "r")
    w = RunWriter.open(run)
    w.set_meta("test", {"acc_f": "high"})
    w.close()
    [row] = list_runs(tmp_path).to_dict("records")
    assert row["status"] == "unknown" and "test_acc_f" in row["problem"]


def test_labels_tell_runs_apart_that_differ_only_in_T_or_epochs() -> None:
    from studio.ui import runlist

    base = {"name": "taaf-audio-dominant-s0-20261207-120000", "status": "finished", "strategy": "taaf",
            "preset": "audio-dominant", "seed": 0, "epochs": 12, "created": 1.8e9, "demo": False}
    t4 = runlist.label({**base, "T": 4, "test_acc_f": 0.9466})
    t16 = runlist.label({**base, "T": 16.0, "test_acc_f": float("nan")})  # a float column with gaps, as pandas has it
    assert t4.startswith("taaf · audio-dominant · T 4 · 12 epochs · seed 0 · finished · test 94.7 %")
    assert "T 16" in t16 and "test" not in t16
    assert "finished" not in runlist.label({**base, "T": 4}, status=False)
    twins = {"a": {**base, "T": 4}, "b": {**base, "T": 4, "name": "taaf-audio-dominant-s0-20261207-120000-2"}}
    shown = [runlist.labeller(twins)(k) for k in twins]
    assert len(set(shown)) == 2 and shown[1].endswith("-2")  # Streamlit matches choices by label: never two alike
    assert runlist.label({"name": "broken", "status": "unknown", "strategy": None}) == "broken · unknown"


# --- item 4: the first epoch ------------------------------------------------------------------------------------

def test_the_waiting_sentence_covers_no_drawn_cell() -> None:
    from studio.charts import imbalance
    from studio.live.figures import _write_note

    fig = imbalance.imbalance_figure(step_table(12), None)  # step 12 of the first epoch: only grad-norm has data
    _write_note(fig, "Fills after the first epoch: 26 more training steps, then validation.")
    drawn = fig.layout.xaxis2.domain
    notes = [a for a in fig.layout.annotations if "Fills" in a.text]
    assert len(notes) == 3 and sum("26 more" in a.text for a in notes) == 1  # the sentence once
    for a in notes:
        assert not drawn[0] <= a.x <= drawn[1], a.text  # none over the grad-norm line
    assert fig.layout.xaxis2.visible is not False and fig.layout.xaxis.visible is False


def test_an_empty_figure_still_gets_the_centred_sentence() -> None:
    from studio.charts import curves
    from studio.live.figures import _write_note

    fig = curves.energy_figure(None)
    _write_note(fig, "Fills after the first epoch.")
    assert any(a.text == "Fills after the first epoch." and a.x == 0.5 for a in fig.layout.annotations)


def test_one_attention_column_is_named_by_its_step() -> None:
    from studio.charts import attention

    fig = attention.alpha_history_figure([1], alpha_series(1))
    assert fig.layout.xaxis.type == "category"  # not a 0.5-1.5 numeric axis around step 1
    assert attention.alpha_history_figure([1, 20], alpha_series(2)).layout.xaxis.type != "category"


def test_the_threshold_is_named_on_the_axis_not_over_the_lines() -> None:
    from studio.charts import rasters

    rng = np.random.default_rng(0)
    fig = rasters.membrane_figure(rng.random((16, 8)).astype(np.float32), (rng.random((16, 8)) < 0.3), 0.5,
                                  ids=[3, 70, 71, 200, 300, 301, 400, 999])
    assert not [a for a in fig.layout.annotations if "v_th" in (a.text or "")]
    assert "v_th = 0.5" in fig.layout.yaxis.title.text
    titles = [a.text for a in fig.layout.annotations if (a.text or "").startswith("neuron ")]
    assert titles and all(int(t.split()[1]) in (3, 70, 71, 200, 300, 301, 400, 999) for t in titles)


# --- item 5: which membranes a run records ----------------------------------------------------------------------

def test_the_recorded_neurons_are_those_that_cycle_anywhere_in_the_layer() -> None:
    import torch

    from core.recorder import recorded_neurons

    z = torch.zeros(16, 2, 100, dtype=torch.uint8)  # (T, P, N): the first neurons silent
    z[::2, :, 90] = 1  # eight spike trains per sample: integrate, fire, reset, again
    z[:, :, 50] = 1  # fires every step: one train, most spikes
    z[3, 0, 7] = 1
    assert recorded_neurons(z, 3).tolist() == [7, 50, 90]
    assert recorded_neurons(z, 1).tolist() == [90]
    assert recorded_neurons(z, 200).tolist() == list(range(100))


def test_probe_arrays_store_which_neurons_they_recorded() -> None:
    import torch

    from core.config import DEFAULTS
    from core.model import MultimodalSNN
    from core.recorder import record_probes

    torch.manual_seed(0)
    model = MultimodalSNN({**DEFAULTS["model"], "T": 8, "audio_steps": 8, "visual_steps": 8}, (32, 32), (1, 8, 8), 10)
    arrays = record_probes(model, None, torch.randn(4, 32, 32) * 3, torch.rand(4, 1, 8, 8),
                           torch.zeros(4, dtype=torch.long), membrane_neurons=6)
    for layer in [k.split("/", 1)[1] for k in arrays if k.startswith("membrane/")]:
        ids = arrays[f"neurons/{layer}"]
        spikes = arrays[f"spikes/{layer}"]
        assert ids.dtype == np.int32 and ids.shape == (6,) and (np.diff(ids) > 0).all()
        assert arrays[f"membrane/{layer}"].shape == (*spikes.shape[:2], 6)
        first = spikes[:, :, :6].sum()
        assert spikes[:, :, ids].sum() >= first  # never less busy than the first six


# --- item 8: words --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("typo, meant", [("train.lr", "optim.lr"), ("model.epochs", "train.epochs"),
                                         ("optim.lrr", "optim.lr"), ("record.every_step", "record.every_steps")])
def test_a_mistyped_key_suggests_the_closest_known_one(typo: str, meant: str) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match=f"did you mean '{meant}'"):
        load_config(CONFIGS / "taaf.toml", [f"{typo}=1"])


def test_present_loaded_directly_goes_through_the_root_keeping_its_query() -> None:
    from starlette.requests import Request

    from studio.app import _present

    scope = {"type": "http", "method": "GET", "path": "/present", "query_string": b"run=a%20b&group=2",
             "headers": []}
    response = _present(Request(scope))
    assert response.status_code == 307
    assert response.headers["location"] == "/?present=1&run=a+b&group=2"
