"""The report: learning rate chosen on validation only, convergence coordination, the strategy table, and an
end-to-end --quick run that never touches docs/results.md unless asked. Verdicts, CIs and power:
tests/test_verdicts.py; reuse of finished runs and --dry-run: tests/test_report_reuse.py."""

from __future__ import annotations

import math

import pytest

from core import report
from core.report import ALIGN_TABLE, STRATEGY_TABLE, Entry, Job, main, plan
from core.report_stats import holm, p_text
from core.report_tables import choose_lr, coordination, mean_std, reached, steps_to_reach
from tests.support import ROOT


def run(val: float, test: float, curve_a=(), curve_v=(), steps=()) -> dict:
    return {"val_f": val, "test_f": test, "curve": {"a": list(curve_a), "v": list(curve_v)},
            "curve_steps": list(steps)}


def test_mean_std_formats_and_skips_missing():
    assert mean_std([0.5, 0.7]) == "0.600 ± 0.141"
    assert mean_std([None, float("nan")]) == "–"
    assert mean_std([2.0], "{:.1f}") == "2.0"


def test_learning_rate_is_chosen_on_validation_not_test():
    by_lr = {
        0.3: [(0, run(0.90, 0.99)), (1, run(0.92, 0.99))],  # best on test, worse on validation
        1.0: [(0, run(0.95, 0.80)), (1, run(0.95, 0.81))],
        3.0: [(0, run(0.99, 0.70))],  # best validation, but only one seed of two finished
    }
    assert choose_lr(by_lr) == 1.0


def test_holm_adjustment_is_monotone_in_p_and_never_below_the_raw_p():
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.2]) == [0.2] and holm([]) == []
    assert holm([0.3, 0.3, 0.3]) == pytest.approx([0.9, 0.9, 0.9])


def test_p_values_never_round_across_the_significance_level():
    assert p_text(0.0496) == "0.0496" and p_text(0.0504) == "0.050" and p_text(0.2) == "0.200"
    assert p_text(0.0001) == "< 0.001"


def test_convergence_coordination_against_unimodal_best():
    steps = [40, 80, 120, 160]
    r = run(0, 0, curve_a=[0.3, 0.6, 0.85, 0.9], curve_v=[0.5, 0.55, 0.56, 0.56], steps=steps)
    c = coordination(r, {"a": 0.9, "v": 0.6})  # targets 0.81 and 0.54
    assert c == {"a": 120, "v": 80, "gap": 40}
    never = coordination(r, {"a": 0.9, "v": 0.9})
    assert never["v"] is None and never["gap"] is None
    assert reached([120, None]) == "120 (1/2)"
    # no unimodal-visual reference, or a run without a visual head: not "never reached" but not applicable
    assert reached([coordination(r, {"a": 0.9})["v"]]) == "–"
    audio_only = run(0, 0, curve_a=[0.9] * 4, curve_v=[math.nan] * 4, steps=steps)
    assert coordination(audio_only, {"a": 0.9, "v": 0.6})["v"] == "n/a"
    assert steps_to_reach([math.nan, 0.5], [10, 20], 0.4) == 20


def test_strategy_table_has_every_reference_and_ablation():
    labels = [e.label for e in STRATEGY_TABLE]
    assert {"taaf", "taaf-uniform", "ogm-ge", "ogm-ge-adam", "concat", "unimodal-audio"} <= set(labels)
    assert {e.overrides["model.align"] for e in ALIGN_TABLE} == {"fixed", "none", "cross"}
    for e in STRATEGY_TABLE:
        if e.label != "taaf-uniform":  # its config arrives with issue 12a's strategy
            assert (ROOT / e.config).is_file(), e.config


def test_a_dataset_preset_trains_what_its_config_file_trains():
    """On AV-Digits-T every strategy takes the data, model and train settings of configs/taaf-temporal.toml (its
    file, frame steps, epochs), keeps its own strategy and optimiser, and a longer budget scales those epochs."""
    from core.config import load_config
    from core.report_runs import job_config

    temporal = load_config(ROOT / "configs" / "taaf-temporal.toml")
    by_label = {e.label: e for e in report.entries(None)}
    for label in ("concat", "ogm-ge", "unimodal-visual", "taaf align=cross"):
        cfg = job_config(Job(by_label[label], "avdigits-t", 1.0, 3))
        assert cfg["data"] == temporal["data"] | {"avdigits": cfg["data"]["avdigits"]}, label
        assert (cfg["model"]["T"], cfg["model"]["visual_steps"], cfg["train"]["epochs"]) == (8, 8, 3), label
        assert cfg["train"]["seed"] == 3 and cfg["strategy"]["name"] == label.split()[0]
    ogm = job_config(Job(by_label["ogm-ge"], "avdigits-t", 1.0, 0))
    assert ogm["optim"]["name"] == "sgd"  # its own recipe, not taaf-temporal's optimiser
    longer = next(e for e in report.EXTRA_TABLE if e.epochs_scale > 1)
    assert job_config(Job(longer, "avdigits-t", 1.0, 0))["train"]["epochs"] == 3 * longer.epochs_scale
    cross = next(e for e in ALIGN_TABLE if e.overrides["model.align"] == "cross")
    assert cross.presets == ("avdigits-t",)


def test_default_protocol_budget():
    jobs = plan(STRATEGY_TABLE, ["audio-dominant", "clean"], None, report.LR_FACTORS, None)
    per_cell = {(j.entry.label, j.preset): set() for j in jobs}
    for j in jobs:
        per_cell[(j.entry.label, j.preset)].add((j.factor, j.seed))
    assert len(per_cell[("taaf", "audio-dominant")]) == 3 * 10  # >= 3 learning rates, 10 paired seeds (primary)
    assert len(per_cell[("concat", "clean")]) == 3 * 3
    assert len(report.LR_FACTORS) >= 3


def test_job_config_uses_the_strategy_recipe_and_preset_model():
    sgd = Job(Entry("ogm-ge", "configs/ogm-ge.toml"), "misaligned", 3.0, 1)
    cfg = report.job_config(sgd)
    assert cfg["optim"]["name"] == "sgd" and cfg["optim"]["lr"] == pytest.approx(3e-3)
    assert cfg["model"]["audio_steps"] == 8 and cfg["data"]["avdigits"]["degrade"] == {}
    none = Job(ALIGN_TABLE[1], "misaligned", 1.0, 0)
    assert report.job_config(none)["model"]["audio_steps"] == 4


def test_help_says_how_many_runs(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "--dry-run" in text and "how long" in text


@pytest.mark.integration
def test_quick_report_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default --out must land under the runs dir, never in docs/
    results = ROOT / "docs" / "results.md"
    before = results.read_bytes()
    args = ["--quick", "--lr-factors", "1", "--presets", "clean", "--strategies", "taaf", "unimodal-visual",
            "--runs-dir", str(tmp_path / "runs")]
    assert main(args) == 0
    text = (tmp_path / "runs" / "results.md").read_text()
    assert "## clean" in text and "| taaf |" in text and "| unimodal-visual |" in text
    assert "## Exploratory comparisons" in text and "| clean | taaf − unimodal-visual | 2 |" in text
    assert "## What holds and what does not" in text and "no difference shown" not in text
    assert "Validation fused accuracy per learning-rate factor" in text and "| probe audio |" in text
    assert results.read_bytes() == before
    # a second report reuses the finished runs instead of training again
    out = tmp_path / "again.md"
    assert main(args + ["--finished-only", "--out", str(out)]) == 0
    assert "Not run" not in out.read_text()
    assert main(args + ["--seeds", "3", "--finished-only", "--out", str(out)]) == 0
    assert "taaf on clean, lr x1, seed 2" in out.read_text()
    assert "distinct configs (0 trained by this invocation" in out.read_text()
