"""In a real browser: every AV-Digits-T config (configs/*-temporal.toml) trains one epoch from the CLI, and each of
its runs opens in every studio page that shows a run (Train & watch, Replay, Inspect, Neuron lab, Presenter, Compare)
with no exception box and something drawn; the Sweeps page opens beside them.

The runs train on a small file built by the shipped builder (tests.support.small_avdigits_t), two at a time."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.config_schema import STRATEGY_NAMES
from core.store import RunReader
from devtools import devserver
from tests.support import ARTIFACTS, BROWSER_TESTS, CONFIGS, ROOT, TINY, launch_chromium, sets, small_avdigits_t

pytestmark = BROWSER_TESTS

TEMPORAL = sorted(CONFIGS.glob("*-temporal.toml"))
# Each page that shows one run, and the label of its run picker.
PICKERS = {"": "Run", "/replay": "Run", "/inspect": "Trained run", "/neuron_lab": "run"}
PRESENTER_GROUPS = 7  # studio/views/6_present.py GROUPS; the presenter takes its run from the URL


def _train(config: Path, data: Path, runs: Path) -> tuple[str, Path]:
    run = runs / config.stem
    over = [*TINY, "train.epochs=1", f"data.path={data}", "model.T=4", "model.audio_steps=8", "model.visual_steps=8",
            "data.batch_size=32"]
    out = subprocess.run([sys.executable, "-m", "core.train", "--config", str(config), *sets(over),
                          "--run-dir", str(run)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"{config.name}: {out.stderr[-1500:]}"
    return config.stem, run


@pytest.fixture(scope="module")
def temporal_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("temporal_configs")
    data = small_avdigits_t(root / "small.npz")
    runs = root / "runs"
    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(lambda c: _train(c, data, runs), TEMPORAL))


def test_every_temporal_config_trains_one_epoch_from_the_cli(temporal_runs: dict[str, Path]) -> None:
    strategies = set()
    for name, run in temporal_runs.items():
        r = RunReader(run)
        assert r.status()["status"] == "finished", name
        meta = r.meta()
        assert meta["dataset"] == "avdigits-t", name
        assert 0.0 <= meta["test"]["acc_f"] <= 1.0, name  # evaluated on the test split
        strategies.add(r.config()["strategy"]["name"])
    assert strategies == set(STRATEGY_NAMES)  # one temporal config for every strategy


def _settle(page, what: str, timeout: float = 90) -> None:
    """Wait until Streamlit's script run has finished and nothing on the page is stale."""
    end = time.time() + timeout
    time.sleep(0.5)
    while page.locator('[data-testid="stStatusWidget"]').count() or page.locator('[data-stale="true"]').count():
        assert time.time() < end, f"{what}: the page did not settle in {timeout:.0f} s"
        time.sleep(0.2)
    time.sleep(0.5)


def _no_exception(page, what: str) -> None:
    exc = page.locator('[data-testid="stException"]')
    assert exc.count() == 0, f"{what}: {exc.first.inner_text()[:1500]}"


def _chart_problems(page) -> list[str]:
    """Texts of live charts' notes that report an error (a route that answered 4xx/5xx, a figure that failed)."""
    notes = page.locator(".taaf-chart-note").all_inner_texts()
    return [n for n in notes if re.search(r"answered|error|cannot", n, re.I)]


def _option(page, strategy: str):
    """The picker option of the run of `strategy` (labels start `strategy · avdigits-t · ...`)."""
    return page.get_by_role("option").filter(has_text=re.compile(rf"^{re.escape(strategy)} · "))


def test_each_temporal_run_opens_in_every_page(temporal_runs: dict[str, Path],
                                               monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    strategies = {name: RunReader(run).config()["strategy"]["name"] for name, run in temporal_runs.items()}
    monkeypatch.setenv("TAAF_DEMO_RUN", "")  # the pickers hold the temporal runs only
    runs = next(iter(temporal_runs.values())).parent
    ARTIFACTS.mkdir(exist_ok=True)
    proc, url = devserver.start(ROOT / "studio" / "app.py", ["--runs-dir", str(runs)],
                                open(tmp_path / "server.log", "w"))
    try:
        with sync_api.sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for path, label in PICKERS.items():
                page.goto(url.rstrip("/") + path)
                if path == "/neuron_lab":  # its input is a constant current until a run's neuron is chosen
                    page.get_by_text("a neuron of a run").click()
                page.get_by_role("combobox", name=label, exact=True).wait_for(timeout=90_000)
                for name, strategy in strategies.items():
                    what = f"{path or '/'} with {name}"
                    page.get_by_role("combobox", name=label, exact=True).click()
                    _option(page, strategy).first.click()
                    _settle(page, what)
                    _no_exception(page, what)
                    assert page.locator(".js-plotly-plot").count() > 0, f"{what}: no chart drawn"
                    assert not _chart_problems(page), f"{what}: {_chart_problems(page)}"
                page.screenshot(path=str(ARTIFACTS / f"temporal{path.replace('/', '-') or '-train'}.png"))
            for name in strategies:
                page.goto(f"{url.rstrip('/')}/present?run={name}&group=0")
                for group in range(PRESENTER_GROUPS):
                    what = f"/present group {group} with {name}"
                    page.wait_for_function("() => document.querySelectorAll('.taaf-chart').length && [...document."
                                           "querySelectorAll('.taaf-chart')].every(d => d.classList.contains("
                                           "'js-plotly-plot'))", timeout=60_000)
                    _settle(page, what)
                    _no_exception(page, what)
                    assert not _chart_problems(page), f"{what}: {_chart_problems(page)}"
                    title = page.locator("h2").first.inner_text()
                    page.keyboard.press("ArrowRight")
                    page.wait_for_function(f"() => document.querySelector('h2')?.textContent !== {title!r}",
                                           timeout=30_000)
            page.goto(url.rstrip("/") + "/compare")
            box = page.get_by_role("combobox", name="Runs", exact=True)
            box.wait_for(timeout=90_000)
            for strategy in strategies.values():
                box.click()
                option = _option(page, strategy)
                if option.count():  # not chosen yet (the page preselects some finished runs)
                    option.first.click()
                    _settle(page, f"/compare adding {strategy}")
                page.keyboard.press("Escape")
            _settle(page, "/compare")
            _no_exception(page, "/compare with every temporal run")
            chosen = page.locator('[data-testid="stMultiSelect"] [data-tag]').all_inner_texts()
            assert len(chosen) == len(strategies), chosen
            assert page.locator(".js-plotly-plot").count() > 0
            page.goto(url.rstrip("/") + "/sweeps")
            _settle(page, "/sweeps")
            _no_exception(page, "/sweeps")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
