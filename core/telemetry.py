"""What a training run tells the outside world through its run store (core/store/): meta, step and epoch
scalars, probe snapshots, the heartbeat, the status, events and warnings; and the commands (pause, resume,
stop) the studio sends back.

Only rank 0 writes the store: `Telemetry.open` gives the other ranks a `NullTelemetry`, which records nothing
and never hears a command (they follow rank 0's through `Distributed.broadcast_command`), so the training loop
calls the same methods on every rank without asking which one it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.runlog import Run
from core.store.paths import remove_temp_files


class Telemetry:
    """Rank 0's telemetry: scalars and probe arrays go through the public recorder (core/runlog.py, the one
    recording path any loop uses: its lock, its array thread); meta, status and events through its RunWriter."""

    def __init__(self, run: Run, probe_every: int) -> None:
        # The heartbeat is the recorder's too: its thread beats through validation, Shapley values, energy and the
        # final test, which run no steps (another host's reader would take a long validation for a dead trainer).
        self.run, self.writer, self.probe_every = run, run.writer, probe_every

    @staticmethod
    def open(run_dir: Path, cfg: dict[str, Any], resume: bool, is_main: bool) -> Telemetry:
        """A new run store (or the existing one, resuming) on rank 0; a NullTelemetry elsewhere."""
        if not is_main:
            return NullTelemetry()
        every = cfg["record"]["every_steps"]
        # NaN scalars are kept (a head a strategy lacks)
        run = (Run.open(run_dir, probe_every=every, nonfinite="keep") if resume else
               Run.create(run_dir, cfg, probe_every=every, nonfinite="keep",
                          meta={"strategy": cfg.get("strategy", {}).get("name", "")}))  # (start() writes the rest)
        return Telemetry(run, every)

    # ---- the store's meta, events and status -------------------------------------------------
    def start(self, meta: dict[str, Any]) -> None:
        for key, value in meta.items():
            self.writer.set_meta(key, value)
        self.writer.set_status("running")

    def set_meta(self, key: str, value: Any) -> None:
        self.writer.set_meta(key, value)

    def event(self, kind: str, message: str) -> None:
        self.writer.log_event(kind, message)

    def warn(self, message: str) -> None:
        """A warning in the event log and the run's meta (the studio shows it)."""
        self.writer.log_event("warning", message)
        self.writer.set_meta("warnings", [message])

    def remove_temp_files(self, run_dir: Path) -> None:
        """Before a resume: the interrupted run's temporary files."""
        removed = remove_temp_files(run_dir)  # what a killed trainer was writing: never read, and it would pile up
        if removed:
            self.writer.log_event("cleanup", f"removed the interrupted run's temporary files: {', '.join(removed)}")

    def resumed_at(self, epoch: int, step: int) -> None:
        """Drop what the interrupted run recorded after `step` (the resume records it again)."""
        self.writer.truncate_after(step)
        self.writer.log_event("resume", f"resumed at epoch {epoch}, step {step}")

    def set_status(self, status: str, error: str | None = None) -> None:
        self.flush_arrays()
        self.writer.set_status(status, error=error)

    def record_end(self, status: str, error: str | None = None) -> None:
        """set_status on the way out of a failure: best effort (on a full disk it may fail too), never raising
        over the error that ended the run."""
        try:
            self.set_status(status, error=error)
        except Exception:  # noqa: BLE001 (the first error is the one reported)
            try:
                self.writer.set_status(status, error=error)
            except Exception:  # noqa: BLE001
                pass

    def finish(self) -> None:
        self.run.finish("finished")  # the last probe written (its error raised), the status, the store closed

    def shutdown(self) -> None:
        """Stop the heartbeat and wait for the probe writes (also on the way out of a failure: raises nothing)."""
        self.run.stop_writing()

    # ---- while steps run ---------------------------------------------------------------------
    def after_step(self, step: int, epoch: int, scalars: dict[str, float],
                   probe: Callable[[], dict[str, np.ndarray]]) -> None:
        """The step's scalars (and the heartbeat, every 2 s); a probe snapshot every `record.every_steps` (and at
        step 1)."""
        self.run.log_scalars(step, scalars, epoch=epoch)
        if self.run.is_probe_step(step):
            # Compressing and writing the arrays happens on the recorder's array thread (zlib and file I/O release
            # the GIL): the training loop only waits when the writes fall behind.
            self.run.log_arrays(step, probe())

    def epoch_scalars(self, step: int, epoch: int, scalars: dict[str, float]) -> None:
        self.run.log_epoch(step, scalars, epoch=epoch)

    def step_scalars(self, step: int, epoch: int, scalars: dict[str, float]) -> None:
        """More scalars of a step already logged (the linear probes)."""
        self.run.log_scalars(step, scalars, epoch=epoch)

    def flush_arrays(self) -> None:
        """Wait for the probes being written (and raise a failed write's error, if any)."""
        self.run.flush()

    # ---- commands from the studio ------------------------------------------------------------
    def poll_command(self) -> str | None:
        return self.writer.poll_command()

    def heartbeat(self) -> None:
        self.writer.heartbeat()

    def poll_settings(self) -> list[str]:
        """Pending steering settings (core/steering_apply.py applies them at the step boundary)."""
        return self.writer.poll_settings()

    def follow_commands(self, broadcast: Callable[[str | None], str | None]) -> bool:
        """Pause (blocking until resume) or stop, as asked through the store; every rank follows rank 0's
        command through `broadcast`. True when a stop was asked for."""
        command = broadcast(self.poll_command())
        if command != "pause":
            return command == "stop"
        self.set_status("paused")
        while True:
            time.sleep(0.2)
            command = self.poll_command()
            self.heartbeat()
            command = broadcast(command)
            if command == "stop":
                return True
            if command == "resume":
                self.set_status("running")
                return False


class NullTelemetry(Telemetry):
    """Every rank but 0: records nothing, hears no command (broadcast hands it rank 0's)."""

    def __init__(self) -> None:  # no recorder, no writer, no heartbeat
        pass

    def start(self, meta: dict[str, Any]) -> None:
        pass

    def set_meta(self, key: str, value: Any) -> None:
        pass

    def event(self, kind: str, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def remove_temp_files(self, run_dir: Path) -> None:
        pass

    def resumed_at(self, epoch: int, step: int) -> None:
        pass

    def set_status(self, status: str, error: str | None = None) -> None:
        pass

    def record_end(self, status: str, error: str | None = None) -> None:
        pass

    def finish(self) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def after_step(self, step: int, epoch: int, scalars: dict[str, float],
                   probe: Callable[[], dict[str, np.ndarray]]) -> None:
        pass  # the probe's forward pass too: only rank 0 records probes

    def epoch_scalars(self, step: int, epoch: int, scalars: dict[str, float]) -> None:
        pass

    def step_scalars(self, step: int, epoch: int, scalars: dict[str, float]) -> None:
        pass

    def flush_arrays(self) -> None:
        pass

    def poll_command(self) -> str | None:
        return None

    def poll_settings(self) -> list[str]:
        return []

    def heartbeat(self) -> None:
        pass
