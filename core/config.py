"""A run's settings: loading a TOML file over the defaults, `--set` overrides, validation, and writing TOML.

A config is a plain nested dict (`cfg["model"]["T"]`). A file under configs/ holds only what differs from
DEFAULTS (core/config_schema.py, with the allowed choices and ranges); unknown keys and bad values are
rejected with one line naming the key, the value and what was expected. The full resolved config:

    python -m core.config show configs/taaf.toml [--set key=value ...]
"""

from __future__ import annotations

import argparse
import copy
import difflib
import math
import sys
import tomllib
from pathlib import Path
from typing import Any

from core.config_schema import (
    CHECKS,
    DEFAULTS,
    ENUMS,
    FREE_FORM,
    REMOVED,
    SAVED_RUN_FALLBACKS,
    STRATEGY_NAMES,
    WEIGHTINGS,
)
from core.errors import ConfigError

__all__ = [  # the schema's names stay importable from here, where the rest of the code looks for them
    "CHECKS", "DEFAULTS", "ENUMS", "FREE_FORM", "REMOVED", "SAVED_RUN_FALLBACKS", "STRATEGY_NAMES", "WEIGHTINGS",
    "config_from_dict", "dotted_settings", "load_config", "parse_value", "saved_run_config", "to_toml", "toml_value",
    "validate",
]


def parse_value(text: str) -> Any:
    """A `--set` value: a TOML literal (1, 0.5, true, [16, 32], "x") or else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _merge(base: dict, user: dict, where: str, source: str) -> None:
    for key, value in user.items():
        dotted = f"{where}.{key}" if where else key
        if dotted in REMOVED:
            raise ConfigError(f"{source}: '{dotted}' {REMOVED[dotted]}")
        if key not in base:
            known = ", ".join(sorted(base)) or "(none)"
            hint = closest_key(dotted)
            raise ConfigError(f"{source}: unknown key '{dotted}' (known keys here: {known})"
                              + (f"; did you mean '{hint}'?" if hint else ""))
        default = base[key]
        if dotted in FREE_FORM:  # knobs merge key by key; their owner validates names and values
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{dotted}' must be a table, got {value!r}")
            base[key] = {**default, **value}
            continue
        if isinstance(default, dict) and default:
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{dotted}' must be a table, got {value!r}")
            _merge(default, value, dotted, source)
        else:
            base[key] = _coerce(default, value, dotted, source)


def dotted_settings(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"model.T": 4, ...}: every setting of a (partial or full) config by its dotted key; a free-form table (the
    degrade knobs) is one value."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        dotted = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict) and dotted not in FREE_FORM:
            out.update(dotted_settings(v, dotted))
        else:
            out[dotted] = v
    return out


def closest_key(dotted: str) -> str | None:
    """The known setting a mistyped one most likely meant, in any section: `train.lr` -> `optim.lr`
    (the same last part elsewhere first, then the closest spelling), or None."""
    known = list(dotted_settings(DEFAULTS))
    leaf = dotted.rsplit(".", 1)[-1]
    same_leaf = [k for k in known if k.rsplit(".", 1)[-1] == leaf]
    if same_leaf:
        return min(same_leaf, key=lambda k: -difflib.SequenceMatcher(None, k, dotted).ratio())
    close = difflib.get_close_matches(dotted, known, n=1, cutoff=0.75)
    return close[0] if close else None


def _coerce(default: Any, value: Any, dotted: str, source: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected an integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected a number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected a string")
        return value
    if isinstance(default, list):
        if not isinstance(value, list):
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected a list")
        return value
    if isinstance(default, dict):  # free-form table
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{dotted}' must be a table, got {value!r}")
        return value
    return value


def _get(cfg: dict, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def validate(cfg: dict, source: str = "config") -> None:
    """Range and choice checks that span the whole config."""
    for dotted, choices in ENUMS.items():
        value = _get(cfg, dotted)
        if value not in choices:
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected one of {', '.join(choices)}")
    for dotted, (ok, expected) in CHECKS.items():
        value = _get(cfg, dotted)
        if isinstance(value, float) and not math.isfinite(value) or not ok(value):
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected {expected}")
    m = cfg["model"]
    if m["align"] == "none" and not (m["audio_steps"] == m["visual_steps"] == m["T"]):
        raise ConfigError(
            f"{source}: model.align = 'none' needs model.audio_steps = model.visual_steps = model.T, "
            f"got {m['audio_steps']}, {m['visual_steps']}, {m['T']}"
        )
    s = cfg["strategy"]
    if s["modulation_ends"] < s["modulation_starts"]:
        raise ConfigError(f"{source}: 'strategy.modulation_ends' = {s['modulation_ends']} is before modulation_starts")


def load_config(path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the TOML file, then `key=value` overrides; validated."""
    if path is None:
        return config_from_dict({}, "defaults", overrides)
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        user = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    return config_from_dict(user, str(path), overrides)


def config_from_dict(
    user: dict[str, Any], source: str, overrides: list[str] | dict[str, Any] | None = None,
    defaults: dict[str, Any] = DEFAULTS,
) -> dict[str, Any]:
    """Defaults, then a (possibly partial) config dict, then overrides; validated."""
    cfg = copy.deepcopy(defaults)
    _merge(cfg, user, "", source)
    for key, value in _parse_overrides(overrides).items():
        _merge(cfg, _nested(key, value), "", f"--set {key}")
    validate(cfg, source if not overrides else f"{source} with --set overrides")
    return cfg


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    """{"a": {"b": value}} for "a.b"."""
    *parents, leaf = dotted.split(".")
    nested: dict[str, Any] = {leaf: value}
    for part in reversed(parents):
        nested = {part: nested}
    return nested


def saved_run_config(
    saved: dict[str, Any], source: str, overrides: list[str] | dict[str, Any] | None = None
) -> dict[str, Any]:
    """The config of a saved run (its config.json): as `config_from_dict`, but settings the run predates take
    the value the run was trained with (SAVED_RUN_FALLBACKS), not today's default."""
    saved = _without_removed(saved)
    defaults = copy.deepcopy(DEFAULTS)
    for dotted, value in SAVED_RUN_FALLBACKS.items():
        _merge(defaults, _nested(dotted, value), "", "SAVED_RUN_FALLBACKS")
    return config_from_dict(saved, source, overrides, defaults)


def _without_removed(saved: dict[str, Any]) -> dict[str, Any]:
    """A copy of a saved config without the settings that no longer exist (REMOVED): a run saved when one did
    (or a copied run folder that sets one) loads, and the setting has no effect."""
    saved = copy.deepcopy(saved)
    for dotted in REMOVED:
        *parents, leaf = dotted.split(".")
        node: Any = saved
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return saved


def _parse_overrides(overrides: list[str] | dict[str, Any] | None) -> dict[str, Any]:
    if not overrides:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    out: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. model.T=8")
        key, text = item.split("=", 1)
        out[key.strip()] = parse_value(text.strip())
    return out


def to_toml(cfg: dict[str, Any]) -> str:
    """Write a config back as TOML (for run directories and the studio's 'copy config')."""
    lines: list[str] = []

    def emit(table: dict, prefix: str) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in table.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            lines.append(f"\n[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{_toml_key(k)} = {toml_value(v)}")
        for k, v in tables.items():
            emit(v, f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k))

    emit(cfg, "")
    return "\n".join(lines).lstrip() + "\n"


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else f'"{key}"'


def toml_value(v: Any) -> str:
    """One value as a TOML literal (a `--set` value, a line of to_toml)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


def main(argv: list[str] | None = None) -> int:
    """`show [FILE] [--set k=v ...]`: print the full resolved config as TOML (loadable again), or one error line."""
    ap = argparse.ArgumentParser(prog="python -m core.config", description="Inspect run configs.")
    sub = ap.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print every setting of a config, resolved over the defaults, as TOML")
    show.add_argument("config", nargs="?", help="TOML config (configs/*.toml); omitted: the defaults")
    show.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config, args.set)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    source = args.config or "the defaults"
    sets = "".join(f" --set {s}" for s in args.set)
    sys.stdout.write(f"# every setting of {source}{sets}, resolved (python -m core.config show)\n" + to_toml(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
