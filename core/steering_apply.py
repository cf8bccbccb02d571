"""The trainer's side of steering (core/steering.py says what may change): the current overrides, applied at
each step boundary, and the corruption of training batches.

Rank 0 takes the pending settings from the store and records each as a `steer` event; every rank applies the
same list (broadcast). A resumed run starts from the events up to its checkpoint's step and replays the later ones
at their steps, so a steered run that is interrupted and resumed trains exactly what it would have uninterrupted.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.data.presets import add_audio_noise
from core.steering import STEERABLE, check_for_strategy, decode_setting, event_message, events_frame

OFF: dict[str, Any] = {"lr_scale.a": 1.0, "lr_scale.v": 1.0, "corrupt.audio_snr_db": math.inf,
                       "corrupt.visual_noise": 0.0}


class Steering:
    """What the steering events changed so far, for one trainer."""

    def __init__(self, cfg: dict[str, Any], strategy: Any) -> None:
        self.cfg, self.strategy = cfg, strategy
        self.strategy_name = cfg["strategy"]["name"]
        self.values: dict[str, Any] = dict(OFF)
        self.drop_until = {"a": 0, "v": 0}  # the last step whose batch has that modality dropped
        self.replay: list[dict[str, Any]] = []  # recorded events after the resumed step, applied at their steps

    @classmethod
    def for_trainer(cls, cfg: dict[str, Any], strategy: Any, run_dir: Path, resume: bool, step: int,
                    dist: Any) -> Steering:
        """A trainer's steering; resuming at `step`, the run's recorded events (rank 0 reads them) restored."""
        steering = cls(cfg, strategy)
        if resume:
            events = recorded_events(run_dir) if dist.is_main else None
            steering.restore(dist.broadcast_object(events) if dist.enabled else events, step)
        return steering

    # ---- the state -----------------------------------------------------------------------------
    def current(self, key: str, step: int) -> Any:
        """`key`'s value in force after `step` (the old value an event records)."""
        if key.startswith("corrupt.drop_"):
            return max(0, self.drop_until[key[len("corrupt.drop_")]] - step)
        if key == "optim.lr":
            return self.cfg["optim"]["lr"]
        if key == "strategy.beta":
            return self.strategy.s["beta"]
        if key == "strategy.balance":
            return bool(getattr(self.strategy, "balance", False))
        return self.values[key]

    def set(self, key: str, value: Any, step: int) -> None:
        """`key` = `value` from step + 1 on."""
        if key.startswith("corrupt.drop_"):
            self.drop_until[key[len("corrupt.drop_")]] = step + int(value)
        elif key == "optim.lr":
            self.cfg["optim"]["lr"] = float(value)  # scheduled_lr reads it every step
        elif key == "strategy.beta":
            self.strategy.s["beta"] = float(value)
        elif key == "strategy.balance":
            self.strategy.balance = bool(value)  # an instance attribute over the class's
        else:
            self.values[key] = value

    def restore(self, events: list[dict[str, Any]], step: int) -> None:
        """On resume: the recorded events (`recorded_events`) up to `step` applied, the later ones kept for their
        steps."""
        for ev in sorted(events, key=lambda e: (e["step"], e["id"])):
            if ev["step"] <= step:
                self.set(ev["key"], ev["new"], ev["step"])
            else:
                self.replay.append(ev)

    # ---- at each step boundary ----------------------------------------------------------------
    def boundary(self, step: int, telemetry: Any, dist: Any, audio: torch.Tensor,
                 visual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """After `step` and before step + 1: apply what is due (rank 0 records new settings; every rank applies
        rank 0's list), then corrupt the next training batch as the settings say (`dropped` says which modalities
        it runs muted). Validation, test and the probe samples never pass through here."""
        due = self.due(step, telemetry) if dist.is_main else []
        for key, value, source in dist.broadcast_object(due) if dist.enabled else due:
            if source is not None:  # a new setting (a replayed one is in the store already)
                telemetry.event("steer", event_message(step, key, self.current(key, step), value, source))
            self.set(key, value, step)
        return self.corrupt(step + 1, audio, visual)

    def due(self, step: int, telemetry: Any) -> list[tuple[str, Any, str | None]]:
        """Rank 0: the replayed events of this step, then the pending settings (checked again: a row may come from
        anywhere; a bad one is recorded as discarded), as (key, value, source; None when replayed)."""
        due: list[tuple[str, Any, str | None]] = [(ev["key"], ev["new"], None) for ev in self.replay
                                                  if ev["step"] == step]
        self.replay = [ev for ev in self.replay if ev["step"] != step]
        for payload in telemetry.poll_settings():
            setting = decode_setting(payload)
            problem = "not a valid setting" if setting is None else None
            if setting is not None:
                try:
                    check_for_strategy(setting["key"], self.strategy_name)
                except ValueError as e:
                    problem = str(e)
            if problem:
                telemetry.event("command_discarded", f"steering setting {payload[:200]!r} discarded: {problem}")
            else:
                due.append((setting["key"], setting["value"], setting["source"]))
        return due

    # ---- what the settings do -----------------------------------------------------------------
    def lr_scale(self, scale: tuple[float, float]) -> tuple[float, float]:
        """The strategy's (audio, visual) lr factors times the steered ones."""
        return scale[0] * self.values["lr_scale.a"], scale[1] * self.values["lr_scale.v"]

    def corrupt(self, step: int, audio: torch.Tensor, visual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training batch `step` as the settings say; noise from a generator seeded by (seed, step), so a resumed
        run draws the same noise."""
        snr, std = self.values["corrupt.audio_snr_db"], self.values["corrupt.visual_noise"]
        if math.isfinite(snr) or std > 0:
            rng = np.random.default_rng([self.cfg["train"]["seed"], step])
            if math.isfinite(snr):
                audio = torch.from_numpy(add_audio_noise(audio.numpy(), snr, rng))
            if std > 0:
                noise = rng.normal(0.0, std, size=tuple(visual.shape)).astype(np.float32)
                visual = visual + torch.from_numpy(noise)
        return audio, visual

    def dropped(self, step: int) -> tuple[str, ...]:
        """The modalities dropped for training batch `step` (and for the probe taken after it): the trainer runs
        them muted (core.lif.muted), their encoders silent."""
        return tuple(u for u in ("a", "v") if step <= self.drop_until[u])


assert set(OFF) | {"optim.lr", "strategy.beta", "strategy.balance", "corrupt.drop_audio",
                   "corrupt.drop_visual"} == set(STEERABLE)  # every steerable key has a home here


def recorded_events(run_dir: Path) -> list[dict[str, Any]]:
    """The steering events a run's store holds (what a resume replays)."""
    from core.store import RunReader

    return events_frame(RunReader(run_dir).events()).to_dict("records")
