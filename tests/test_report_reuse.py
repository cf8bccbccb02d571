"""The report in pieces (issue 22): finished runs are found by the hash of their resolved config, only missing
runs are trained, --dry-run says how many and how long, grids extend at an edge, and the markdown's verdicts."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from core import report
from core.report_runs import Job, config_key, finished_index, job_config
from core.store import RunWriter

ENTRIES = {e.label: e for e in report.STRATEGY_TABLE + report.EXTRA_TABLE}


def fake_run(run_dir: Path, job: Job, test_f: float, val_f: float = 0.9, seconds: float = 20.0) -> Path:
    """A finished run store as the trainer leaves it, with the job's resolved config."""
    w = RunWriter.create(run_dir, job_config(job))
    for step, epoch in ((19, 0), (38, 0)):
        w.log_scalars(step, epoch, {"loss": 1.0, "elapsed_s": step / 2.0, "probe_acc_a": 0.4 + step / 100,
                                    "probe_acc_v": 0.3 + step / 100, "linear_probe_s": 0.5}, scope="step")
    w.log_scalars(38, 0, {"val_acc_f": val_f, "val_acc_a": 0.5, "val_acc_v": 0.4, "energy_pj": 5e6,
                          "energy_ann_pj": 2.5e7, "energy_ann_int8_pj": 1.2e6}, scope="epoch")
    w.set_meta("test", {"acc_f": test_f, "acc_a": 0.5, "acc_v": 0.4, "probe_acc_a": 0.8, "probe_acc_v": 0.6})
    w.set_status("finished")
    w.close()
    import sqlite3

    with sqlite3.connect(run_dir / "store.sqlite") as c:  # a known run time for the estimate
        c.execute("UPDATE status SET started = ?, updated = ? WHERE id = 1", (time.time() - seconds, time.time()))
    return run_dir


def test_the_key_is_the_resolved_config_not_the_folder(tmp_path):
    job = Job(ENTRIES["taaf"], "audio-dominant", 1.0, 0)
    fake_run(tmp_path / "any-name-at-all", job, 0.95)
    index = finished_index(tmp_path)
    assert index == {config_key(job_config(job)): tmp_path / "any-name-at-all"}
    other_lr = Job(ENTRIES["taaf"], "audio-dominant", 3.0, 0)
    other_seed = Job(ENTRIES["taaf"], "audio-dominant", 1.0, 1)
    assert config_key(job_config(other_lr)) not in index and config_key(job_config(other_seed)) not in index
    # beta = 1 of the sweep is taaf's own config: the same key, so the same run
    assert config_key(job_config(Job(ENTRIES["taaf beta=1"], "audio-dominant", 1.0, 0))) in index


def test_an_unfinished_run_is_not_reused(tmp_path):
    job = Job(ENTRIES["concat"], "clean", 1.0, 0)
    w = RunWriter.create(tmp_path / "r", job_config(job))
    w.set_status("failed", error="boom")
    w.close()
    assert finished_index(tmp_path) == {}


def test_only_missing_runs_are_trained(tmp_path, monkeypatch):
    done = Job(ENTRIES["concat"], "clean", 1.0, 0)
    fake_run(tmp_path / "old-layout" / "concat-clean", done, 0.9)
    trained: list[Job] = []

    def fake_train(args):
        job, run_dir = args
        trained.append(job)
        fake_run(run_dir, job, 0.8)
        return report.summarise(run_dir)

    monkeypatch.setattr(report, "run_job", fake_train)
    runner = report.Runner(tmp_path, workers=1)
    jobs = [done, Job(ENTRIES["concat"], "clean", 1.0, 1)]
    assert runner.run(jobs, train_missing=True) == []
    assert trained == [jobs[1]] and runner.reused == [done]
    assert runner.results[done]["test_f"] == 0.9 and runner.results[jobs[1]]["test_f"] == 0.8
    # a second report finds both and trains nothing
    again = report.Runner(tmp_path, workers=1)
    assert again.run(jobs, train_missing=True) == [] and len(again.reused) == 2 and len(trained) == 1


def test_dry_run_counts_and_estimates_from_finished_runs(tmp_path, capsys):
    for seed in range(2):
        fake_run(tmp_path / f"r{seed}", Job(ENTRIES["concat"], "clean", 1.0, seed), 0.9, seconds=30.0)
    argv = ["--dry-run", "--runs-dir", str(tmp_path), "--presets", "clean", "--strategies", "concat", "taaf",
            "--seeds", "2", "--lr-factors", "1", "--jobs", "2"]
    assert report.main(argv) == 0
    out = capsys.readouterr().out
    assert "4 runs planned: 2 finished (reused), 2 to train (24 epochs)" in out
    assert "about 0.0 h with --jobs 2 (avdigits: 24 epochs at 2.5 s (the median of 2 finished runs))" in out  # 30/12
    assert not (tmp_path / "results.md").exists()  # a dry run writes nothing


def test_dry_run_of_the_default_report_states_its_size(tmp_path, capsys):
    assert report.main(["--dry-run", "--runs-dir", str(tmp_path / "none"), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    n = int(out.split(" runs planned")[0])
    assert n > 700 and "avdigits: " in out and "avdigits-t: " in out and "stated: " in out  # each at its own rate


def results_for(diffs: dict[str, list[float]], base: float = 0.9) -> dict:
    """Summaries of taaf and each B on audio-dominant, seeds 0..n-1, with taaf - B = the given differences."""
    out = {}
    n = len(next(iter(diffs.values())))
    for s in range(n):
        taaf = Job(ENTRIES["taaf"], "audio-dominant", 1.0, s)
        out[taaf] = summary(base)
        for b, d in diffs.items():
            out[Job(ENTRIES[b], "audio-dominant", 1.0, s)] = summary(base - d[s])
    return out


def summary(test_f: float) -> dict:
    return {"test_f": test_f, "val_f": 0.9, "head_a": 0.5, "head_v": 0.4, "probe_a": 0.8, "probe_v": 0.6,
            "curve": {"a": [0.5, 0.8], "v": [0.3, 0.6]}, "curve_steps": [19, 38], "energy_uj": 5.0, "ann_uj": 25.0,
            "ann_int8_uj": 1.2, "wall_s": 20.0, "lr": 0.003, "run_dir": "/nonexistent"}


def test_markdown_writes_primary_verdicts_and_never_no_difference_shown(tmp_path):
    seeds = 10
    results = results_for({
        "concat": [0.03 + 0.002 * (i % 3) for i in range(seeds)],  # clearly taaf better
        "taaf-uniform": [0.001 * ((-1) ** i) for i in range(seeds)],  # equivalent within ±1 point
        "concat-aux": [0.03 * ((-1) ** i) for i in range(seeds)],  # inconclusive
    })
    table = [ENTRIES[k] for k in ("taaf", "concat", "taaf-uniform", "concat-aux")]
    design = report.Design(report.PRIMARY_PAIRS, report.HEADLINE_PRESETS, report.EXPLORATORY_PAIRS, 1 / 27, 27)
    out = tmp_path / "r.md"
    counts = {"runs": len(results), "distinct": len(results), "trained": 0, "reused": len(results), "train_h": 0.1,
              "wall_h": 0.0}
    report.write_markdown(results, [], [], table, design, "test", "python -m core.report", counts, out)
    text = out.read_text()
    assert "no difference shown" not in text
    assert f"{len(results)} runs in the tables, {len(results)} distinct configs (0 trained by this invocation, " \
           f"{len(results)} reused" in text
    holds = text.split("## What holds and what does not")[1].split("\n## ")[0]
    assert "**taaf vs concat** on audio-dominant: taaf better" in holds
    assert "**taaf vs taaf-uniform** on audio-dominant: equivalent within ±1 point" in holds
    assert "**taaf vs concat-aux** on audio-dominant: inconclusive" in holds
    primary = text.split("## Primary comparisons")[1].split("\n## ")[0]
    assert "(3 tests)" in primary  # Holm over the pairs that ran, not over everything
    assert "| audio-dominant | taaf − concat | 10 |" in primary
    assert not math.isnan(float(primary.split("| taaf − concat | 10 | ")[1].split(" [")[0]))


def test_grid_extends_on_the_side_whose_edge_was_chosen():
    e = ENTRIES["concat"]
    jobs = [Job(e, "clean", f, s) for f in (1 / 3, 1.0, 3.0) for s in range(2)]
    val = {1 / 3: 0.95, 1.0: 0.9, 3.0: 0.85}
    results = {j: {"val_f": val[j.factor]} for j in jobs}
    assert report.extensions(results, jobs, (1 / 3, 1.0, 3.0)) == {("clean", "concat"): pytest.approx(1 / 9)}
    inside = {j: {"val_f": 1.0 if j.factor == 1.0 else 0.5} for j in jobs}
    assert report.extensions(inside, jobs, (1 / 3, 1.0, 3.0)) == {}
    capped = [Job(e, "clean", f, 0) for f in (1 / 27, 1 / 9, 1 / 3, 1.0, 3.0)]
    low = {j: {"val_f": 1.0 if j.factor < 0.05 else 0.5} for j in capped}
    assert report.extensions(low, capped, (1 / 3, 1.0, 3.0)) == {}  # two extensions already: the cap
    partial = {j: r for j, r in results.items() if j != jobs[-1]}
    assert report.extensions(partial, jobs, (1 / 3, 1.0, 3.0)) == {}  # a run missing: not decided yet
