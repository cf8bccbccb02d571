"""Steering a live run: the settings that may change while it trains, their ranges, and how a change is asked for
and recorded. Torch-free (the studio and the CLI import it); the trainer's side is core/steering_apply.py.

A change is asked for through the run store's control channel (`send_setting`: a `set {json}` row), checked here
first: only the keys in STEERABLE, each within its range, only for a run that is alive (running or paused, not
stale). Anything else is refused with one line naming it and nothing is written. The trainer applies it at its
next step boundary and records it as an event of kind `steer`, `step=<s> key=<k> old=<v> new=<v> source=<src>`:
it applies from step s + 1 on. The configuration at step s is the base config plus the events up to s, which is
what a resumed run replays (docs/steering.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import TAAFError

EVENT_KIND = "steer"
SOURCES = ("studio", "cli", "test")
BALANCED = ("taaf", "taaf-no-balance", "taaf-uniform")  # strategies with TAAF's beta and lr balance


class SteerError(TAAFError, ValueError):
    """A setting that cannot be changed: unknown key, value out of range, or a run that is not alive."""


@dataclass(frozen=True)
class Steerable:
    kind: str  # "float" | "int" | "bool"
    lo: float
    hi: float
    help: str
    lo_open: bool = False
    strategies: tuple[str, ...] = ()  # () = every strategy

    def describe(self) -> str:
        if self.kind == "bool":
            return "true or false"
        word = "an integer" if self.kind == "int" else "a number"
        return f"{word} {'>' if self.lo_open else '>='} {self.lo:g} and <= {self.hi:g}"


STEERABLE: dict[str, Steerable] = {
    "optim.lr": Steerable("float", 0.0, 1e3, "base learning rate of every group (the schedule scales it)",
                          lo_open=True),
    "lr_scale.a": Steerable("float", 0.0, 100.0, "extra factor on the audio group's learning rate (1 = none)"),
    "lr_scale.v": Steerable("float", 0.0, 100.0, "extra factor on the visual group's learning rate (1 = none)"),
    "strategy.beta": Steerable("float", 0.0, 1e6, "beta of TAAF's balance coefficient 1 - tanh(beta (rho - 1))",
                               strategies=BALANCED),
    "strategy.balance": Steerable("bool", 0, 1, "TAAF's learning-rate balance on or off", strategies=BALANCED),
    "corrupt.audio_snr_db": Steerable("float", -30.0, math.inf, "white noise on training audio at this SNR in dB "
                                      "(mel-power domain, as the presets); inf = off"),
    "corrupt.visual_noise": Steerable("float", 0.0, 10.0, "std of Gaussian noise added to training visual inputs "
                                      "(AV-Digits pixels are in [0, 1]); 0 = off"),
    "corrupt.drop_audio": Steerable("int", 0, 1_000_000, "the audio encoder muted (no input current, no spikes) "
                                    "for the next N training steps and the probes taken meanwhile"),
    "corrupt.drop_visual": Steerable("int", 0, 1_000_000, "the visual encoder muted (no input current, no spikes) "
                                     "for the next N training steps and the probes taken meanwhile"),
}
CORRUPTION_NOTE = ("Noise changes only the training batches from the next step on; validation, test and the probe "
                   "samples stay the run's own data. A dropped modality is muted in training and in the probe "
                   "snapshots meanwhile (its raster goes silent); validation and test accuracy stay undropped.")


def parse_value(key: str, value: Any) -> Any:
    """A value for `key` from text (`0.001`, `true`, `off`) or a Python value, checked; SteerError names both."""
    spec = STEERABLE.get(key)
    if spec is None:
        raise SteerError(f"{key}: not a steerable setting (steerable: {', '.join(STEERABLE)})")
    if isinstance(value, str):
        text = value.strip().lower()
        if spec.kind == "bool" and text in ("true", "on", "1", "false", "off", "0"):
            return text in ("true", "on", "1")
        if text == "off" and key == "corrupt.audio_snr_db":
            return math.inf
        if text == "off" and spec.kind != "bool":
            return spec.lo if key.startswith("corrupt.") else _bad(key, value, spec)
        try:
            value = float(text)
        except ValueError:
            _bad(key, value, spec)
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        _bad(key, value, spec)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        _bad(key, value, spec)
    if spec.kind == "int":
        if not math.isfinite(value) or float(value) != int(value):
            _bad(key, value, spec)
        value = int(value)
    else:
        value = float(value)
    if not ((spec.lo < value) if spec.lo_open else (spec.lo <= value)) or value > spec.hi:
        _bad(key, value, spec)
    return value


def _bad(key: str, value: Any, spec: Steerable) -> Any:
    raise SteerError(f"{key} = {value!r}: expected {spec.describe()} ({spec.help})")


def parse_assignment(text: str) -> tuple[str, Any]:
    """`optim.lr=0.001` -> ("optim.lr", 0.001), checked."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SteerError(f"{text!r}: expected KEY=VALUE, e.g. optim.lr=0.001")
    return key.strip(), parse_value(key.strip(), value)


def check_for_strategy(key: str, strategy: str) -> None:
    spec = STEERABLE[key]
    if spec.strategies and strategy not in spec.strategies:
        raise SteerError(f"{key}: strategy {strategy!r} has no such setting (only {', '.join(spec.strategies)})")


def request(run_dir: str | Path, key: str, value: Any, source: str = "cli") -> int:
    """Ask the run's trainer to change `key` to `value` at its next step boundary; returns the control row's id.
    Refused (SteerError, nothing written) for an unknown key, a value out of range or a run that is not alive."""
    from core.launcher import run_state  # the run's status, including a trainer that is still starting
    from core.store import RunReader, send_setting

    value = parse_value(key, value)
    if source not in SOURCES:
        raise SteerError(f"source {source!r}: expected one of {', '.join(SOURCES)}")
    run_dir = Path(run_dir)
    try:
        st = run_state(run_dir)
        strategy = str((RunReader(run_dir).config().get("strategy") or {}).get("name", ""))
    except TAAFError as e:
        raise SteerError(f"{run_dir.name}: cannot steer ({e})") from None
    if st["status"] not in ("running", "paused") or st.get("stale"):
        state = "interrupted" if st.get("stale") else st["status"]
        raise SteerError(f"{run_dir.name}: run is {state}, not alive: only a running or paused run can be steered")
    check_for_strategy(key, strategy)
    return send_setting(run_dir, json.dumps({"key": key, "value": value, "source": source}))


def decode_setting(payload: str) -> dict[str, Any] | None:
    """A control row's setting as {key, value, source}, checked again (the row may come from anywhere); None if
    it is not a valid one (the trainer then records it as discarded)."""
    try:
        d = json.loads(payload)
        if not isinstance(d, dict):
            return None
        return {"key": d["key"], "value": parse_value(str(d["key"]), d["value"]),
                "source": d.get("source") if d.get("source") in SOURCES else "cli"}
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def event_message(step: int, key: str, old: Any, new: Any, source: str) -> str:
    """One event line: readable, and parsed back by `events_frame` (values are JSON, without spaces)."""
    return f"step={step} key={key} old={json.dumps(old)} new={json.dumps(new)} source={source}"


def parse_event(message: str) -> dict[str, Any] | None:
    try:
        fields = dict(part.split("=", 1) for part in message.split(" "))
        return {"step": int(fields["step"]), "key": fields["key"], "old": json.loads(fields["old"]),
                "new": json.loads(fields["new"]), "source": fields["source"]}
    except (ValueError, KeyError):
        return None


EVENT_COLUMNS = ["id", "time", "step", "key", "old", "new", "source"]


def events_frame(events: pd.DataFrame) -> pd.DataFrame:
    """The steering events of a run's event table (RunReader.events()), one row each, in the order applied."""
    rows = []
    for row in events.itertuples(index=False):
        if row.kind == EVENT_KIND:
            parsed = parse_event(str(row.message))
            if parsed is not None:
                rows.append({"id": row.id, "time": row.time, **parsed})
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


def event_label(key: str, new: Any) -> str:
    """A chart's short label for one event: `lr 0.001`, `β 2`, `drop v 50`."""
    short = {"optim.lr": "lr", "lr_scale.a": "lr×a", "lr_scale.v": "lr×v", "strategy.beta": "β",
             "strategy.balance": "balance", "corrupt.audio_snr_db": "SNR", "corrupt.visual_noise": "v noise",
             "corrupt.drop_audio": "drop a", "corrupt.drop_visual": "drop v"}.get(key, key)
    if isinstance(new, bool):
        return f"{short} {'on' if new else 'off'}"
    return f"{short} {new:g}" if isinstance(new, (int, float)) else f"{short} {new}"
