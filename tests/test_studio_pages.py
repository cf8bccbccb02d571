"""The Compare and Inspect pages through AppTest (issue 14: honest comparisons, deltas that mean something)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest

from tests.support import DEMO_RUN, assert_renders, make_run, open_studio


def _page(monkeypatch: pytest.MonkeyPatch, runs: Path, demo: Path | str, page: str) -> AppTest:
    at = open_studio(monkeypatch, runs, demo, page, timeout=90)
    assert_renders(at)
    return at


def test_compare_counts_seeds_and_warns_on_copies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs / "taaf-hard-s0", seed=0)
    make_run(runs / "taaf-hard-s0-again", seed=0)  # same config and seed: a bit-identical copy
    make_run(runs / "taaf-hard-s1", seed=1)
    demo = make_run(tmp_path / "sample" / "demo_run", steps=10, steps_per_epoch=20)  # no epoch yet: no val acc
    at = _page(monkeypatch, runs, demo, "views/2_compare.py")
    at.multiselect(key="cmp_runs").set_value([str(runs / n) for n in
                                              ("taaf-hard-s0", "taaf-hard-s0-again", "taaf-hard-s1")]).run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "taaf-hard-s0, taaf-hard-s0-again" in warning and "same config and seed" in warning
    summary = next(d.value for d in at.dataframe if "n seeds" in d.value.columns)
    row = summary.iloc[0]
    assert row["n seeds"] == 2 and row["runs"] == 3
    assert "val acc (fused)" in summary.columns and "val_acc_f" not in summary.columns
    assert row["energy (µJ / sample)"].startswith("1.0000 ±")  # 1e6 pJ from make_run, in µJ as on the Train page
    listing = at.dataframe[0].value
    assert "last val acc (fused)" in listing.columns
    assert "None" not in listing.astype(str).to_numpy().ravel().tolist()
    assert listing.set_index("run").loc["demo_run", "last val acc (fused)"] == "—"
    at.selectbox(key="cmp_metric").set_value("energy_uj").run()
    assert not at.exception
    chart = next(c for c in at.get("bidi_component") if c.proto.component_name == "taaf_chart")
    layout = json.loads(json.loads(chart.proto.json)["fig"])["layout"]
    assert layout["yaxis"]["title"]["text"] == "energy (µJ / sample)"


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed demo run (a real checkpoint), copied so that nothing writes beside the original."""
    dst = tmp_path_factory.mktemp("demo") / "demo_run"
    shutil.copytree(DEMO_RUN, dst)
    return dst


def test_inspect_shows_no_arrows_on_correctness_or_probabilities(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path, demo_copy: Path) -> None:
    at = _page(monkeypatch, tmp_path / "runs", demo_copy, "views/3_inspect.py")
    for drop in (False, True):  # dropping both inputs makes the prediction wrong on most samples
        at.checkbox(key="ins_drop_a").set_value(drop)
        at.checkbox(key="ins_drop_v").set_value(drop).run()
        assert not at.exception
        metrics = {m.label: m for m in at.metric}
        fused = metrics["fused prediction"]
        assert fused.proto.delta in ("correct", "wrong") and fused.proto.direction == Metric.MetricDirection.NONE
        for head in ("audio head alone", "visual head alone"):
            assert metrics[head].proto.delta == ""  # a probability is not a change
        assert sum("p(true class) = " in c.value for c in at.caption) == 2


@pytest.mark.parametrize("page", ["views/2_compare.py", "views/3_inspect.py", "views/4_replay.py"])
def test_every_page_hides_streamlits_own_stop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, demo_copy: Path,
                                              page: str) -> None:
    from studio.ui import look

    at = _page(monkeypatch, tmp_path / "runs", demo_copy, page)
    styles = [m.value for m in at.sidebar.markdown if "<style>" in m.value]
    assert look.CSS in styles  # the page's own call: a page opened by its URL runs without home.py
    assert 'stStatusWidget"]:has([data-testid="stStatusWidgetRunningIcon"]) button' in look.CSS
