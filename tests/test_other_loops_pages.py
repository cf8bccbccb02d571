"""Issue 25, the rest: what compares modalities adapts to the run's own modalities (three, or two by other names),
a metric only our trainer computes says the run records none, Inspect says in one line why it cannot rebuild a
run of another loop and shows its recorded rasters, Compare's final table has a column group per modality under
its recorded name ("vision" is never "visual"); Train, Inspect, Compare and Replay render such runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.diagnostics import imbalance_verdict
from studio.charts import curves, imbalance
from studio.charts.streams import DEFAULT_STREAMS, run_streams
from studio.ui import compare, inspectable
from tests.support import assert_renders, figure_specs, make_run, open_studio, page_text
from tests.test_charts_modalities import record

pytestmark = pytest.mark.unit

THREE = {"a": "audio", "v": "visual", "t": "touch", "f": "fused"}
SOUND_VISION = {"s": "sound", "v": "vision", "f": "fused"}


def _epochs(accs: dict[str, list[float]]) -> pd.DataFrame:
    n = len(next(iter(accs.values())))
    return pd.DataFrame({"step": np.arange(1, n + 1) * 10, "epoch": range(n),
                         **{f"val_acc_{u}": v for u, v in accs.items()}})


def _steps(n: int = 40, **cols: float) -> pd.DataFrame:
    s = np.arange(1, n + 1)
    return pd.DataFrame({"step": s, "epoch": (s - 1) // 10, **{k: np.full(n, v) for k, v in cols.items()}})


def test_the_verdict_measures_every_modality_against_the_strongest() -> None:
    meta = {"strategy": "own loop", "modalities": ["audio", "visual", "touch"]}
    one = imbalance_verdict(None, _epochs({"a": [0.5, 0.8], "v": [0.5, 0.78], "t": [0.3, 0.4]}), meta)
    assert one.startswith("Touch is the weak modality: its head is 40 points behind audio (audio 80 %, visual 78 %, "
                          "touch 40 % on validation after epoch 2)"), one
    two = imbalance_verdict(None, _epochs({"a": [0.5, 0.6], "v": [0.5, 0.9], "t": [0.3, 0.4]}), meta)
    assert two.startswith("Audio and touch are the weak modalities: their heads are 30 and 50 points behind "
                          "visual"), two
    even = imbalance_verdict(None, _epochs({"a": [0.8], "v": [0.79], "t": [0.78]}), meta)
    assert even.startswith("No clear imbalance: the strongest and weakest heads are 2.0 points apart"), even
    assert "touch" in imbalance_verdict(None, None, meta)  # "No verdict yet: the audio, visual and touch heads ..."


def test_the_verdict_names_two_modalities_as_recorded() -> None:
    meta = {"strategy": "own loop", "modalities": ["sound", "vision"]}
    s = imbalance_verdict(_steps(lr_s=1e-3, lr_f=2e-3), _epochs({"s": [0.3, 0.5], "v": [0.6, 0.9]}), meta)
    assert s.startswith("Sound is the weak modality: its head is 40 points behind vision (sound 50 %, vision 90 %"), s
    assert "visual" not in s and "audio" not in s
    assert "no balance was recorded for vision" in s  # no lr_v logged: no made-up slowdown


def test_three_modalities_each_against_the_strongest_in_the_diagnostics_row() -> None:
    steps = _steps(gnorm_a=2.0, gnorm_v=1.0, gnorm_t=0.5)
    fig = imbalance.imbalance_figure(steps, _epochs({"a": [0.5, 0.8], "v": [0.6, 0.7], "t": [0.2, 0.4],
                                                     "f": [0.6, 0.85]}), THREE)
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:2] == list(imbalance.AGAINST_BEST_TITLES)
    gaps = {t.name: list(t.y) for t in fig.data if t.xaxis == "x"}
    assert set(gaps) == {"audio", "visual", "touch"}
    assert np.allclose(gaps["touch"], [-0.4, -0.4]) and np.allclose(gaps["audio"], [-0.1, 0.0])
    ratios = {t.name: t.y for t in fig.data if t.xaxis == "x2"}
    assert set(ratios) == {"‖g_a‖/largest", "‖g_v‖/largest", "‖g_t‖/largest"}
    assert np.allclose(ratios["‖g_t‖/largest"], 0.25)
    assert any(a.text == imbalance.NO_SHAPLEY for a in fig.layout.annotations)  # no Shapley values: said, not 0
    assert not any(t.name == "Shapley" for t in fig.data) and fig.layout.xaxis3.visible is False


def test_two_modalities_by_other_names_compare_first_against_second() -> None:
    steps = _steps(gnorm_s=3.0, gnorm_v=1.5)
    epochs = _epochs({"s": [0.5, 0.8], "v": [0.6, 0.7]}).assign(shapley_s=[0.1, 0.3], shapley_v=[0.2, 0.1])
    fig = imbalance.imbalance_figure(steps, epochs, SOUND_VISION)
    assert [a.text for a in fig.layout.annotations][:2] == ["val acc gap (s − v)", "grad-norm ratio s / v"]
    gap = next(t for t in fig.data if t.name == "val gap")
    assert np.allclose(gap.y, [-0.1, 0.1]) and "sound − vision" in gap.hovertemplate
    assert np.allclose(next(t for t in fig.data if t.name == "‖g_s‖/‖g_v‖").y, 2.0)
    shap = next(t for t in fig.data if t.name == "Shapley")
    assert list(shap.x) == ["sound", "vision"] and np.allclose(shap.y, [0.3, 0.1])


def test_our_runs_keep_their_diagnostics_and_a_run_without_rho_says_so() -> None:
    from tests.support import epoch_table, step_table

    fig = imbalance.imbalance_figure(step_table(), epoch_table())
    assert [a.text for a in fig.layout.annotations][:4] == list(imbalance.IMBALANCE_TITLES)
    assert not any(a.text == imbalance.NO_SHAPLEY for a in fig.layout.annotations)
    lr = curves.lr_figure(step_table().drop(columns=["rho_a", "rho_v"]), streams=SOUND_VISION)
    assert any("no score ratio ρ" in a.text for a in lr.layout.annotations)
    assert "ρ audio" in {t.name for t in curves.lr_figure(step_table()).data}


def test_compare_matches_modalities_by_name_not_first_letter() -> None:
    more = compare.modality_metrics([DEFAULT_STREAMS, SOUND_VISION])
    assert more["epoch"]["val_acc@vision"].label == "val acc (vision head)"
    assert more["epoch"]["val_acc@vision"].column(SOUND_VISION) == "val_acc_v"
    assert more["epoch"]["val_acc@vision"].column(DEFAULT_STREAMS) is None  # our run's "v" is visual, not vision
    assert more["epoch"]["val_acc@visual"].column(SOUND_VISION) is None
    assert list(compare.final_metrics(compare.modalities_of([THREE, SOUND_VISION]))) == [
        "val_acc@audio", "shapley@audio", "val_acc@visual", "shapley@visual", "val_acc@touch", "shapley@touch",
        "val_acc@sound", "shapley@sound", "val_acc@vision", "shapley@vision"]


def test_whatif_blocker_says_why_in_one_line() -> None:
    assert inspectable.whatif_blocker({"strategy": "taaf"}, has_checkpoint=True) is None
    assert inspectable.whatif_blocker({"strategy": "taaf", "modalities": ["audio", "visual"]}, True) is None
    three = inspectable.whatif_blocker({"strategy": "own loop", "modalities": ["audio", "visual", "touch"]}, False)
    assert three is not None and "audio, visual, touch" in three and "\n" not in three
    other = inspectable.whatif_blocker({"strategy": "own loop", "modalities": ["audio", "visual"]}, True)
    assert other is not None and "another training loop" in other and "own loop" in other
    assert "checkpoint" in inspectable.whatif_blocker({"strategy": "taaf"}, has_checkpoint=False)


# --- the pages, through AppTest ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def other_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder with a three-modality run, a sound/vision run (both core.runlog) and one of our trainer's."""
    runs = tmp_path_factory.mktemp("other") / "runs"
    record(runs / "three-senses", ("audio", "visual", "touch"))
    record(runs / "sound-vision", ("sound", "vision"))
    make_run(runs / "taaf-hard-s0")
    return runs


def _choose(at, key: str, runs: Path, name: str) -> None:
    """Select run `name` in selectbox `key` (its values are run paths)."""
    at.selectbox(key=key).set_value(str(runs / name)).run()
    assert_renders(at)


@pytest.mark.parametrize("name, third", [("three-senses", "touch"), ("sound-vision", "vision")])
def test_train_page_draws_the_runs_modalities_in_its_diagnostics(monkeypatch: pytest.MonkeyPatch, other_runs: Path,
                                                                 name: str, third: str) -> None:
    at = open_studio(monkeypatch, other_runs / name)
    assert_renders(at)
    specs = figure_specs(at)
    [imb] = [json.loads(s) for s in specs if "to 90 % of own latest" in s]
    reach = next(t for t in imb["data"] if t.get("name") == "to 90 % of own latest")
    assert third in reach["x"]
    if name == "sound-vision":
        assert "visual" not in json.dumps(imb)  # nothing drawn or said under our trainer's names
    assert "records<br>no Shapley values" in json.dumps(imb["layout"]["annotations"])
    assert third in imb["layout"]["title"]["text"]  # the verdict names the run's own modalities


@pytest.mark.parametrize("name, modalities", [("three-senses", ["audio", "visual", "touch"]),
                                              ("sound-vision", ["sound", "vision"])])
def test_inspect_says_why_and_shows_the_recorded_rasters(monkeypatch: pytest.MonkeyPatch, other_runs: Path,
                                                         name: str, modalities: list[str]) -> None:
    at = open_studio(monkeypatch, other_runs, page="views/3_inspect.py")
    assert_renders(at)
    _choose(at, "ins_run", other_runs, name)
    [line] = [i.value for i in at.info]
    assert line.startswith("No what-if for this run") and "checkpoint" in line
    specs = figure_specs(at)
    assert len(specs) == len(modalities)  # a raster per recorded modality
    short = {m: run_streams({"modalities": modalities}) for m in modalities}
    for m, spec in zip(modalities, specs, strict=True):
        suffix = next(u for u, n in short[m].items() if n == m)
        assert f"{suffix}.lif1  (" in spec
    assert all(m in page_text(at) for m in modalities)
    before = specs
    at.number_input(key="ins_probe_3").set_value(2).run()  # another of its 3 probe samples
    assert_renders(at)
    assert len(figure_specs(at)) == len(modalities) and figure_specs(at) != before


def test_compare_tables_a_column_group_per_modality_under_its_own_name(monkeypatch: pytest.MonkeyPatch,
                                                                       other_runs: Path) -> None:
    at = open_studio(monkeypatch, other_runs, page="views/2_compare.py")
    assert_renders(at)
    at.multiselect(key="cmp_runs").set_value([str(other_runs / n) for n in ("three-senses", "sound-vision",
                                                                            "taaf-hard-s0")]).run()
    assert_renders(at)
    table = at.dataframe[-2].value  # (then the per-run table, in its expander)
    cols = list(table.columns)
    for m in ("audio", "visual", "touch", "sound", "vision"):
        assert f"val acc ({m} head)" in cols, cols
    assert "Shapley (audio)" in cols and "Shapley (touch)" not in cols  # only our run records Shapley values
    options = list(at.selectbox(key="cmp_metric").options)
    assert "val acc (vision head)" in options and "coefficient k (sound)" in options
    at.selectbox(key="cmp_metric").set_value("val_acc@vision").run()
    assert_renders(at)
    [spec] = [s for s in figure_specs(at) if "val acc (vision head)" in s]
    assert "sound-vision" in spec and "taaf-hard-s0" not in spec and "three-senses" not in spec
    at.selectbox(key="cmp_metric").set_value("val_acc@visual").run()
    [spec] = [s for s in figure_specs(at) if "val acc (visual head)" in s]
    assert "sound-vision" not in spec and "taaf-hard-s0" in spec and "three-senses" in spec


@pytest.mark.parametrize("name, third", [("three-senses", "_touch(t)"), ("sound-vision", "_vision(t)")])
def test_replay_renders_every_recorded_stream(monkeypatch: pytest.MonkeyPatch, other_runs: Path, name: str,
                                              third: str) -> None:
    at = open_studio(monkeypatch, other_runs, page="views/4_replay.py")
    _choose(at, "rp_run", other_runs, name)
    assert any(third in s for s in figure_specs(at))
    at.select_slider(key="rp_step").set_value(at.select_slider(key="rp_step").options[1]).run()
    assert_renders(at)
