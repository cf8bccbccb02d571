"""Config files hold only their differences from DEFAULTS; `python -m core.config show` prints the full resolved
config as TOML that loads back; each enumeration (strategy names, loss weightings) has one source."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tomllib

import pytest

from core.config import DEFAULTS, ENUMS, dotted_settings, load_config, main
from core.errors import ConfigError
from tests.support import CONFIGS, ROOT, TAAF_CONFIG

CONFIG_FILES = sorted(CONFIGS.glob("*.toml"))


def show(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["show", *argv]) == 0
    return capsys.readouterr().out


def test_an_empty_file_resolves_to_the_defaults(tmp_path):
    (tmp_path / "empty.toml").write_text("# nothing differs\n")
    assert load_config(tmp_path / "empty.toml") == DEFAULTS == load_config(None)


def test_a_one_line_file_changes_that_setting_alone(tmp_path):
    (tmp_path / "t8.toml").write_text("model.T = 8\n")
    expected = copy.deepcopy(DEFAULTS)
    expected["model"]["T"] = 8
    assert load_config(tmp_path / "t8.toml") == expected


def test_shipped_configs_exist():
    assert len(CONFIG_FILES) >= 20 and TAAF_CONFIG in CONFIG_FILES


@pytest.mark.parametrize("path", CONFIG_FILES, ids=[p.name for p in CONFIG_FILES])
def test_a_shipped_config_says_what_it_is_for_and_writes_only_its_differences(path):
    text = path.read_text()
    assert text.startswith("# ") and f"python -m core.config show configs/{path.name}" in text
    written = dotted_settings(tomllib.loads(text))
    defaults = dotted_settings(DEFAULTS)
    same = [k for k, v in written.items() if v == defaults[k] and type(v) is type(defaults[k])]
    assert not same, f"{path.name} writes default values: {same}"
    assert dotted_settings(load_config(path)).keys() == defaults.keys()  # and still resolves to every setting


@pytest.mark.parametrize("path", CONFIG_FILES, ids=[p.name for p in CONFIG_FILES])
def test_show_prints_toml_that_loads_back_to_the_same_config(path, capsys, tmp_path):
    out = show(capsys, str(path))
    assert out.startswith("# every setting of ")
    (tmp_path / "shown.toml").write_text(out)
    shown = load_config(tmp_path / "shown.toml")
    assert shown == load_config(path)
    assert dotted_settings(tomllib.loads(out)).keys() == dotted_settings(DEFAULTS).keys()  # written out in full


def test_show_applies_set_overrides_and_without_a_file_shows_the_defaults(capsys, tmp_path):
    out = show(capsys, "configs/taaf-t16.toml", "--set", "model.T=8", "--set", 'strategy.name="concat"')
    (tmp_path / "shown.toml").write_text(out)
    cfg = load_config(tmp_path / "shown.toml")
    assert (cfg["model"]["T"], cfg["model"]["visual_steps"], cfg["strategy"]["name"]) == (8, 16, "concat")
    assert tomllib.loads(show(capsys)) == DEFAULTS


@pytest.mark.integration
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "configs/none.toml"], "configs/none.toml: config file not found"),
        (["show", "configs/taaf.toml", "--set", "model.widht=3"], "unknown key 'model.widht'"),
        (["show", "configs/taaf.toml", "--set", "model.T=0"], "'model.T' = 0: expected an integer >= 1"),
    ],
)
def test_show_answers_a_bad_file_or_key_in_one_line_without_torch(argv, message):
    code = "import sys, core.config as c; rc = c.main(sys.argv[1:]); assert 'torch' not in sys.modules; sys.exit(rc)"
    r = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error: ") and message in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.integration
def test_show_runs_as_a_module_without_importing_torch():
    code = ("import runpy, sys; sys.argv = ['core.config', 'show', 'configs/taaf.toml'];\n"
            "try: runpy.run_module('core.config', run_name='__main__')\n"
            "except SystemExit as e: assert e.code == 0, e.code\n"
            "assert 'torch' not in sys.modules, 'core.config imported torch'")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert tomllib.loads(r.stdout)["model"]["T"] == 4


def test_a_bad_config_file_is_refused_in_one_line(tmp_path):
    (tmp_path / "bad.toml").write_text('[model]\nT = "four"\n')
    with pytest.raises(ConfigError, match=r"bad.toml: 'model.T' = 'four': expected an integer$"):
        load_config(tmp_path / "bad.toml")


def test_a_run_stores_its_full_resolved_config(tmp_path):
    from core.store.writer import RunWriter

    cfg = load_config(CONFIGS / "concat.toml")
    with RunWriter.create(tmp_path / "run", cfg):
        pass
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == cfg  # every setting, not the file's few


def test_strategy_names_are_the_registry_and_weightings_are_the_loss():
    import torch

    from core import balance
    from core.strategies import STRATEGIES

    assert ENUMS["strategy.name"] == tuple(STRATEGIES)  # same names, same order (the studio lists them so)
    assert balance.WEIGHTINGS is ENUMS["strategy.weighting"]
    logits, alpha, target = torch.randn(4, 2, 3), torch.full((2, 4), 0.25), torch.tensor([0, 2])
    for weighting in ENUMS["strategy.weighting"]:  # every choice the config accepts is a loss balance computes
        assert torch.isfinite(balance.stream_loss(logits, alpha, target, weighting))
    with pytest.raises(ValueError, match="expected one of weighted-ce, detached, prediction-ce"):
        balance.stream_loss(logits, alpha, target, "other")
