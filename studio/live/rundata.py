"""What the studio keeps of one run between refreshes: read incrementally, bounded in memory.

`RunData.refresh()` reads only steps and probes newer than what it holds (`since_step`), so a live
panel costs one small query per second. Memory stays flat over a long run: step rows are thinned
(every other old row dropped) past MAX_ROWS and the attention history past MAX_PROBES.
No Streamlit here: the live cache (studio/live/runs.py) keeps one RunData per run for the whole process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import StoreError
from core.steering import EVENT_COLUMNS, events_frame
from core.store import RunReader
from studio.charts.streams import DEFAULT_STREAMS, run_streams

MAX_ROWS = 6000  # step rows kept per run (older half thinned 2x when exceeded)
MAX_EPOCH_ROWS = 2000
MAX_PROBES = 400  # attention-history columns kept
MAX_NEW_PROBES = 200  # probe files read per refresh: a longer backlog (opening a long run) is sampled evenly


def thin(df: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """Drop every other row of the older half until at most max_rows remain (recent rows stay dense)."""
    while len(df) > max_rows:
        half = len(df) // 2
        df = pd.concat([df.iloc[:half:2], df.iloc[half:]], ignore_index=True)
    return df


@dataclass
class RunData:
    """Scalars and attention history of one run up to `last_step`; refreshed in place."""

    path: Path
    immutable: bool = False  # a shipped, finished run (the demo): read as a snapshot, never touch its folder
    meta: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    epochs: pd.DataFrame = field(default_factory=pd.DataFrame)
    probe_steps: list[int] = field(default_factory=list)
    alphas: list[np.ndarray] = field(default_factory=list)  # (K, T) probe-mean alpha per probe step, K streams
    steer: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=EVENT_COLUMNS))  # steering events
    last_step: int = -1
    last_epoch_step: int = -1
    version: int = 0  # bumped whenever anything new was read: figure caches key on it

    def refresh(self, upto: int | None = None) -> bool:
        """Read what is new (at most up to step `upto`, for replay); True if anything changed.

        Raises StoreError for a missing, corrupt or half-written run.
        """
        with RunReader(self.path, immutable=self.immutable or None) as r:
            old_status = self.status.get("status"), self.status.get("stale")
            self.status = r.status()
            if not self.meta or self.status.get("status") in ("running", "paused"):
                self.meta = r.meta()  # the trainer adds meta keys at start; cheap
            if not self.config:
                try:
                    self.config = r.config()
                except StoreError:
                    self.config = {}
            changed = (self.status.get("status"), self.status.get("stale")) != old_status
            changed |= self._read_scalars(r, upto)
            changed |= self._read_probes(r, upto)
            if self.status.get("status") in ("running", "paused") or changed or not self.version:  # else final
                steer = events_frame(r.events())
                changed |= len(steer) != len(self.steer)
                self.steer = steer
        if changed:
            self.version += 1
        return changed

    def _read_scalars(self, r: RunReader, upto: int | None) -> bool:
        if upto is not None and upto <= self.last_step and upto <= self.last_epoch_step:
            return False
        new = r.scalars("step", since_step=self.last_step)
        ep = r.scalars("epoch", since_step=self.last_epoch_step)
        if upto is not None:
            new, ep = new[new["step"] <= upto], ep[ep["step"] <= upto]
        if new.empty and ep.empty:
            return False
        if not new.empty:
            self.steps = thin(pd.concat([self.steps, new], ignore_index=True) if len(self.steps) else new, MAX_ROWS)
            self.last_step = int(new["step"].iloc[-1])
        if not ep.empty:
            self.epochs = thin(pd.concat([self.epochs, ep], ignore_index=True) if len(self.epochs) else ep,
                               MAX_EPOCH_ROWS)
            self.last_epoch_step = int(ep["step"].iloc[-1])
        return True

    def _read_probes(self, r: RunReader, upto: int | None) -> bool:
        last = self.probe_steps[-1] if self.probe_steps else -1
        todo = r.array_steps("probe", since_step=last, upto=upto)  # the new steps only: a night's run stays cheap
        if not todo:
            return False
        if len(todo) > MAX_NEW_PROBES:  # evenly over the backlog, always ending at its newest
            todo = [todo[i] for i in np.unique(np.linspace(0, len(todo) - 1, MAX_NEW_PROBES).astype(int))]
        streams = run_streams(self.meta)
        for s in todo:
            try:
                alpha = self._probe_alpha(r, s, streams)
            except StoreError:
                continue  # a probe file that vanished or is corrupt is skipped, not fatal
            if alpha is not None:
                self.probe_steps.append(int(s))
                self.alphas.append(alpha)
        while len(self.probe_steps) > MAX_PROBES:  # thin the older half, like the step rows
            half = len(self.probe_steps) // 2
            self.probe_steps = self.probe_steps[:half:2] + self.probe_steps[half:]
            self.alphas = self.alphas[:half:2] + self.alphas[half:]
        return True

    def _probe_alpha(self, r: RunReader, step: int, streams: dict[str, str]) -> np.ndarray | None:
        """The probe-mean attention (K, T) of one probe step, a row per stream: `alpha` (P, 3, T) where the run
        has audio and visual (our trainer; core/runlog.py with two modalities), else each stream's
        `attention/<x>` (P, T) (core/runlog.py, any modalities); NaN rows for streams it did not record. None for
        an `alpha` of the wrong shape."""
        T = int(self.meta.get("T") or 1)
        if streams == DEFAULT_STREAMS:
            alpha = r.arrays(step, "probe", keys=["alpha"]).get("alpha")  # one member: a long run opens fast
            if alpha is not None:
                return np.asarray(alpha, dtype=np.float32).mean(axis=0) if alpha.ndim == 3 else None
        keys = [f"attention/{u}" for u in streams]
        found = {k: a for k, a in r.arrays(step, "probe", keys=keys).items() if a.ndim == 2 and a.shape[0]}
        T = next((a.shape[1] for a in found.values()), T)
        # a loop that records spikes but no attention (core/runlog.py): all NaN, its rasters still show
        return np.stack([np.asarray(found[k], dtype=np.float32).mean(axis=0) if k in found and found[k].shape[1] == T
                         else np.full(T, np.nan, np.float32) for k in keys])

    def view(self, upto: int | None = None) -> RunView:
        """What the panels draw, cut at step `upto` (replay) or everything."""
        steps, epochs, ps, al = self.steps, self.epochs, self.probe_steps, self.alphas
        if upto is not None:
            steps = steps[steps["step"] <= upto] if len(steps) else steps
            epochs = epochs[epochs["step"] <= upto] if len(epochs) else epochs
            n = int(np.searchsorted(np.asarray(ps, dtype=np.int64), upto, side="right"))
            ps, al = ps[:n], al[:n]
        steer = self.steer if upto is None else self.steer[self.steer["step"] < upto]
        return RunView(self.path, self.immutable, self.meta, self.config, self.status, steps, epochs, list(ps),
                       np.stack(al) if al else np.zeros((0, len(run_streams(self.meta)), int(self.meta.get("T", 1))),
                                                        np.float32),
                       (self.version, upto), _key(steps), _key(epochs), (len(ps), ps[-1] if ps else None),
                       steer, len(steer))


@dataclass
class RunView:
    """An immutable cut of RunData for the panels; `key` changes whenever its content may have."""

    path: Path
    immutable: bool
    meta: dict[str, Any]
    config: dict[str, Any]
    status: dict[str, Any]
    steps: pd.DataFrame
    epochs: pd.DataFrame
    probe_steps: list[int]
    alphas: np.ndarray
    key: tuple  # changes whenever anything may have
    steps_key: tuple = ()  # changes only with the step rows (figure caches rebuild only what moved)
    epochs_key: tuple = ()
    probes_key: tuple = ()
    steer: pd.DataFrame | None = None  # steering events (core.steering.events_frame), cut like the steps
    steer_key: int = 0  # their number: a chart with event marks redraws when it changes

    @property
    def step(self) -> int:
        return int(self.steps["step"].iloc[-1]) if len(self.steps) else -1

    @property
    def streams(self) -> dict[str, str]:
        """{suffix: name} of the run's modalities, then fused (studio/charts/streams.py)."""
        return run_streams(self.meta)

    @property
    def modalities(self) -> list[str]:
        """The run's modalities by name ('audio', 'visual', or what it recorded: 'touch' ...)."""
        return [name for u, name in self.streams.items() if u != "f"]

    @property
    def layers(self) -> list[str]:
        layers = self.meta.get("layers")
        if layers:
            return list(layers)
        return [c[5:] for c in self.steps.columns if c.startswith("rate/")]


def _key(df: pd.DataFrame) -> tuple:
    return (len(df), int(df["step"].iloc[-1]) if len(df) else None, int(df["step"].iloc[0]) if len(df) else None)

