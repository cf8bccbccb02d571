"""The command line that trains a run again: `python -m core.train --config configs/<x>.toml --set ...`.

Built from the run's config.json against the shipped config file it differs from least, so the command is short
and names the strategy's own file. Settings that say where or how a run is shown, not what it trains
(RUN_SPECIFIC), are left out: the new run goes to the default runs folder under a new name.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from core.config import dotted_settings, load_config, parse_value, saved_run_config, toml_value
from core.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
RUN_SPECIFIC = {"record.runs_dir", "record.progress"}


def _inline(v: Any) -> str:
    """A `--set` value as a TOML literal (a free-form table as an inline table)."""
    if isinstance(v, dict):
        # inside a table a string keeps its quotes (a bare word is only `--set`'s shorthand): audio_snr_db = "off"
        items = (f"{k} = {toml_value(x) if isinstance(x, str) else _inline(x)}" for k, x in v.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(v, str) and v and v.replace("-", "").replace("_", "").isalnum() and parse_value(v) == v:
        return v  # a bare word reads back as itself (--set takes it as a string): `preset=hard`
    return toml_value(v)


def overrides(run_cfg: dict[str, Any], base: dict[str, Any]) -> list[str]:
    """`key=value` for every setting of `run_cfg` that differs from `base` (both resolved), run-specific ones
    left out."""
    want, have = dotted_settings(run_cfg), dotted_settings(base)
    return [f"{k}={_inline(v)}" for k, v in want.items() if k not in RUN_SPECIFIC and have.get(k) != v]


def rerun_args(saved: dict[str, Any], configs: Path = CONFIGS) -> list[str]:
    """`--config FILE --set k=v ...` that trains the run whose config.json is `saved` again (the same settings,
    seed included); FILE is the shipped config that needs the fewest `--set`s. ConfigError if the saved config
    does not load."""
    run_cfg = saved_run_config(saved, "config.json")
    best: tuple[int, str, list[str]] | None = None
    for path in sorted(configs.glob("*.toml")):
        try:
            sets = overrides(run_cfg, load_config(path))
        except ConfigError:  # a shipped file that does not load here is simply not a candidate
            continue
        if best is None or len(sets) < best[0]:
            best = (len(sets), path.relative_to(configs.parent).as_posix(), sets)
    if best is None:
        raise ConfigError(f"{configs}: no config file loads")
    return ["--config", best[1], *(x for s in best[2] for x in ("--set", s))]


def rerun_command(saved: dict[str, Any], configs: Path = CONFIGS) -> str:
    """The shell line (run from the repository root) that trains the run again."""
    return "python -m core.train " + " ".join(shlex.quote(a) for a in rerun_args(saved, configs))
