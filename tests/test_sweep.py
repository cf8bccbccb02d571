"""Sweeps (core/sweep.py, core/sweep_queue.py): a plan checked before anything is queued, a queue on disk trained
one run after another by a detached runner that can be killed and restarted, cancelling, and the results grouped
with the report's statistics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core import sweep, sweep_queue
from core.errors import TAAFError
from core.report_stats import paired_stats, verdict
from core.store import RunWriter
from tests.support import ROOT, TINY, make_run, wait_until


@pytest.mark.unit
def test_a_plan_is_strategies_by_values_by_seeds_and_a_bad_one_queues_nothing(tmp_path):
    runs = sweep.plan(["taaf", "concat"], sweep.parse_seeds(["0-2"]), preset="hard", vary="optim.lr=0.001,0.003",
                      sweep="s")
    assert len(runs) == 12 and runs[0]["name"] == "s-taaf-lr0.001-s0"
    assert runs[0]["overrides"] == {"data.avdigits.preset": "hard", "strategy.name": "taaf", "train.seed": 0,
                                    "optim.lr": 0.001}
    assert sweep.main(["--strategies", "taaf", "nope", "--runs-dir", str(tmp_path), "--no-start"]) == 2
    assert sweep.main(["--seeds", "0-x", "--runs-dir", str(tmp_path), "--no-start"]) == 2
    assert sweep_queue.rows(tmp_path) == []
    assert sweep.estimate_seconds(tmp_path, runs[:2]) == 2 * 12 * sweep.DEFAULT_EPOCH_S  # 12 epochs by default


@pytest.mark.unit
def test_cancel_skips_a_waiting_run_and_says_what_it_did(tmp_path):
    ids = sweep_queue.enqueue(tmp_path, "s", [{"name": "a", "overrides": {}}, {"name": "b", "overrides": {}}], None)
    assert sweep_queue.cancel(tmp_path, ids[1]) == "b cancelled"
    assert sweep_queue.cancel(tmp_path, ids[1]) == "b is cancelled: nothing to cancel"
    assert [r["state"] for r in sweep_queue.rows(tmp_path)] == ["waiting", "cancelled"]
    with pytest.raises(TAAFError, match="no run with id 99"):
        sweep_queue.cancel(tmp_path, 99)


@pytest.mark.unit
def test_results_group_by_strategy_over_distinct_seeds_with_the_reports_verdict(tmp_path):
    _finished_sweep(tmp_path)
    table, verdicts = sweep.results(tmp_path, "s")
    assert [(t["group"], t["seeds"]) for t in table] == [("taaf", 3), ("concat", 3)]
    assert table[0]["test_f"] == "0.910 ± 0.010"
    (v,) = verdicts
    assert (v["a"], v["b"], v["seeds"]) == ("taaf", "concat", 3) and v["diff"] == pytest.approx(0.29)
    st = paired_stats([0.3, 0.29, 0.28])  # the per-seed differences
    assert v["verdict"] == verdict("taaf", "concat", st) == "taaf better" and v["ci"].startswith("+0.290 [")


def _runner(runs: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "core.sweep_queue", str(runs), "0.2"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


@pytest.mark.integration
def test_a_queue_of_two_trains_both_in_turn_and_survives_a_runner_restart(tmp_path):
    runs = tmp_path / "runs"
    sets = [x for item in [*TINY, "train.epochs=1"] for x in ("--set", item)]
    assert sweep.main(["--strategies", "taaf", "concat", "--seeds", "0", "--runs-dir", str(runs), "--name", "sw",
                       "--no-start", *sets]) == 0
    first = _runner(runs)
    try:
        wait_until(lambda: sweep_queue.rows(runs)[0]["state"] == "training", "the first run to start", 60)
        os.kill(first.pid, signal.SIGKILL)  # the runner dies; the trainer it launched is its own process
        first.wait()
        assert not sweep_queue.runner_alive(runs)
        second = _runner(runs)  # what a restarted studio does (ensure_runner): re-attach
        wait_until(lambda: all(r["state"] not in ("waiting", "training") for r in sweep_queue.rows(runs)),
                   "both runs to end", 240, poll=0.5)
        assert second.wait(timeout=30) == 0
    finally:
        for p in (first, locals().get("second")):
            if p is not None and p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
    a, b = sweep_queue.rows(runs)
    assert (a["state"], b["state"]) == ("finished", "finished"), (a, b)
    assert a["ended"] <= b["started"]  # one after another
    assert a["resumes"] == 0  # re-attached to the live trainer, not restarted
    table, _ = sweep.results(runs, "sw")
    assert [(t["group"], t["seeds"]) for t in table] == [("taaf", 1), ("concat", 1)]


def _finished_sweep(folder: Path, name: str = "s") -> list[Path]:
    """A sweep of taaf and concat over seeds 0-2 whose runs have finished (synthetic stores with test scores)."""
    planned = []
    for strategy, acc in (("taaf", 0.9), ("concat", 0.6)):
        for seed in (0, 1, 2):
            run = make_run(folder / f"{name}-{strategy}-s{seed}", seed=seed)
            cfg = json.loads((run / "config.json").read_text())
            (run / "config.json").write_text(json.dumps({**cfg, "optim": {"lr": 0.003}}))  # the report reads it
            w = RunWriter.open(run)
            w.set_meta("test", {"acc_f": acc + 0.01 * seed * (1 if strategy == "taaf" else 2), "acc_a": 0.5,
                                "acc_v": 0.5})
            w.close()
            planned.append({"name": run.name, "overrides": {"train.seed": seed}, "dir": run})
    for row_id, p in zip(sweep_queue.enqueue(folder, name, planned, None), planned, strict=True):
        sweep_queue._update(folder, row_id, state="finished", run_dir=str(p["dir"]))
    return [p["dir"] for p in planned]


@pytest.mark.unit
def test_the_sweeps_page_shows_the_queue_results_and_opens_compare_on_the_sweep(monkeypatch, tmp_path):
    from tests.support import assert_renders, open_studio

    runs = tmp_path / "runs"
    dirs = _finished_sweep(runs)
    make_run(runs / "someone-else", seed=5)
    started = []
    monkeypatch.setattr(sweep_queue, "ensure_runner", lambda folder: started.append(folder) or False)
    at = open_studio(monkeypatch, runs, page="views/7_sweeps.py")
    assert_renders(at)
    queue, groups, verdicts = (d.value for d in at.dataframe[:3])
    assert list(queue["state"]) == ["finished"] * 6 and started  # the page re-attaches a runner where one is needed
    assert list(groups["group"]) == ["taaf", "concat"] and list(groups["distinct seeds"]) == [3, 3]
    assert verdicts["verdict"].iloc[0] == "taaf better"
    assert any("6 runs" in c.value for c in at.sidebar.caption)  # the form: run count and time before launching
    at.button(key="sw_compare").click().run()
    assert_renders(at)
    assert sorted(at.multiselect(key="cmp_runs").value) == sorted(str(d) for d in dirs)
