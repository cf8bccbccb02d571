"""Record any training loop into a run the studio shows: the public recorder API (docs/own-loop.md).

    from core.runlog import Run
    with Run.create("runs/my-net", config, modalities=("audio", "visual"), T=8) as run:
        for step in ...:
            run.log_scalars(step, {"loss": loss, "acc_f": acc})
            run.log_lr(step, {"audio": lr_a, "visual": lr_v})
            if run.is_probe_step(step):
                run.log_spikes(step, {"a.lif1": spikes}, membrane={"a.lif1": v})

It writes the same run store (core/store/) our trainer writes, under the same names (docs/architecture.md, "What a
run records"), so Train & watch, Replay and Compare read a run of any network. Thread-safe (one lock around the
recorder's state; RunWriter has its own); no Streamlit, no model classes. Bad input raises RecordError, one line
naming the key and the value, before anything of that call is written: what was logged before stays.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Self

import numpy as np

from core.runlog_checks import (
    FUSED,
    RecordError,
    as_numpy,
    attention_entropy,
    checked_attention,
    checked_number,
    short_names,
    spike_arrays,
)
from core.store import RunReader, RunWriter

HEARTBEAT_S = 2.0  # seconds between liveness marks (the studio takes a silent writer for a dead one)
KEEP_PROBE_STEPS = 4  # recent probe steps held in memory, so a late call for one of them adds to its npz
MAX_PENDING_WRITES = 2  # npz writes queued at once: a loop that probes faster than the disk writes waits


class Run:
    """One run being recorded. Make it with `Run.create` (or `Run.open` to continue one); use it as a context
    manager, or call `finish` yourself."""

    def __init__(self, writer: RunWriter, modalities: Sequence[str], T: int | None, probe_every: int,
                 probes: int, membrane_neurons: int, nonfinite: str = "refuse", heartbeat: bool = True) -> None:
        self.writer, self.run_dir = writer, writer.run_dir
        self.modalities = tuple(modalities)
        self.short = short_names(self.modalities)
        self.streams = {**self.short, FUSED: "f"}  # attention streams -> the suffix of alpha_entropy_<x>
        self.T, self.probe_every, self.probes, self.membrane_neurons = T, probe_every, probes, membrane_neurons
        if nonfinite not in ("refuse", "keep"):
            raise RecordError(f"nonfinite={nonfinite!r}: expected 'refuse' or 'keep'")
        self.nonfinite = nonfinite
        self.epoch = 0
        self.layers: list[str] = []
        self.finished = False
        self._lock = threading.RLock()
        self._probe: dict[int, dict[str, np.ndarray]] = {}  # step -> the arrays its npz holds so far
        self._array_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runlog-arrays")
        self._pending: list[Future] = []
        self._last_beat = time.monotonic()
        self._stop_beat = threading.Event()
        self._beat_thread = threading.Thread(target=self._beat, name="runlog-heartbeat", daemon=True)
        if heartbeat:
            self._beat_thread.start()

    @classmethod
    def create(cls, run_dir: str | Path, config: Mapping[str, Any] | None = None,
               modalities: Sequence[str] = ("audio", "visual"), *, T: int | None = None,
               class_names: Sequence[str] | None = None, probe_every: int = 20, probes: int = 8,
               membrane_neurons: int = 16, meta: Mapping[str, Any] | None = None,
               nonfinite: str = "refuse", heartbeat: bool = True) -> Run:
        """A new run in `run_dir` (RunExistsError if one is there). `config` is saved as config.json (any JSON);
        T: timesteps of the attention (fixed by the first log_attention when None); meta: more run facts
        (steps_per_epoch, total_steps, v_th, strategy ... as docs/architecture.md names them)."""
        short_names(modalities)  # refused before anything is created
        cfg = dict(config or {})
        cfg.setdefault("record", {}).setdefault("every_steps", probe_every)  # the studio's "fills at" sentences
        run = cls(RunWriter.create(run_dir, cfg), modalities, T, probe_every, probes, membrane_neurons, nonfinite,
                  heartbeat)
        facts = {"strategy": "own loop", "modalities": list(modalities), "pid": _pid(), **(meta or {})}
        if T is not None:
            facts["T"] = int(T)
        if class_names is not None:
            facts["class_names"] = [str(c) for c in class_names]
        for key, value in facts.items():
            run.writer.set_meta(key, value)
        run.writer.set_status("running")
        return run

    @classmethod
    def open(cls, run_dir: str | Path, modalities: Sequence[str] = ("audio", "visual"), *,
             probe_every: int = 20, probes: int = 8, membrane_neurons: int = 16, nonfinite: str = "refuse",
             heartbeat: bool = True) -> Run:
        """An existing run, to go on recording into it (a resumed training)."""
        writer = RunWriter.open(run_dir)
        with RunReader(writer.run_dir) as r:
            meta = r.meta()
        run = cls(writer, modalities, meta.get("T"), probe_every, probes, membrane_neurons, nonfinite, heartbeat)
        run.layers = list(meta.get("layers") or [])
        writer.set_meta("pid", _pid())
        writer.set_status("running")
        return run

    # ---- scalars -----------------------------------------------------------------------------
    def log_scalars(self, step: int, values: Mapping[str, Any], epoch: int | None = None,
                    scope: str = "step") -> None:
        """Scalars of one step (scope "step") or of the epoch that ended at `step` (scope "epoch"), one transaction."""
        rows = {str(k): checked_number(k, v, self.nonfinite) for k, v in values.items()}
        with self._lock:
            if epoch is not None:
                self.epoch = int(epoch)
            self.writer.log_scalars(self._step(step), self.epoch, rows, scope=scope)
            self._maybe_beat()

    def log_epoch(self, step: int, values: Mapping[str, Any], epoch: int | None = None) -> None:
        """Epoch scalars (val_acc_f, val_loss, ...) at the step that ended the epoch."""
        self.log_scalars(step, values, epoch, scope="epoch")

    def log_lr(self, step: int, lrs: Mapping[str, float]) -> None:
        """Effective learning rate of each modality's parameters (and "fused"): lr_a, lr_v, lr_f."""
        self.log_scalars(step, {f"lr_{self._stream(u)}": v for u, v in lrs.items()})

    def log_balance(self, step: int, coeffs: Mapping[str, float]) -> None:
        """Balance coefficient of each modality (1 = unmodulated): k_a, k_v."""
        self.log_scalars(step, {f"k_{self._modality(u)}": v for u, v in coeffs.items()})

    # ---- probe arrays ------------------------------------------------------------------------
    def is_probe_step(self, step: int) -> bool:
        """Whether `step` is one whose attention and spikes are kept as arrays (step 1, then every probe_every)."""
        return step == 1 or step % self.probe_every == 0

    def log_attention(self, step: int, attention: Mapping[str, Any]) -> None:
        """Attention over time of each stream, {stream: (batch, T)} (a modality or "fused"): the entropy of each
        (alpha_entropy_<x>, batch mean) every call; the arrays themselves at probe steps (is_probe_step)."""
        self._step(step)
        checked = checked_attention(attention, self.T, self._stream)
        if not checked:
            return
        entropy = attention_entropy(checked)
        with self._lock:
            if self.T is None:
                self.T = next(iter(checked.values())).shape[1]
                self.writer.set_meta("T", int(self.T))
            self.log_scalars(step, entropy)
            if self.is_probe_step(step):
                arrays = {f"attention/{s}": a[: self.probes] for s, a in checked.items()}
                if len(self.modalities) == 2:  # the studio's α panels: rows (first modality, second, fused)
                    old = self._probe.get(step, {}).get("alpha")
                    P = min(self.probes, max(len(a) for a in checked.values()))
                    alpha = old.copy() if old is not None else np.full((P, 3, self.T), np.nan, np.float32)
                    for row, suffix in enumerate((*self.short.values(), "f")):
                        if suffix in checked:
                            rows = checked[suffix][:P]
                            alpha[: len(rows), row] = rows
                    arrays["alpha"] = alpha
                self._add_probe(step, arrays)

    def log_spikes(self, step: int, spikes: Mapping[str, Any], membrane: Mapping[str, Any] | None = None,
                   labels: Any = None) -> None:
        """Spikes of layers, {layer: (T, batch, ...) time first, 0/1}, and optionally their membrane (same shape),
        as probe arrays of `step` (the first `probes` samples); each layer's firing rate as rate/<layer>.
        Name layers "<modality letter>.<name>" (a.conv1, v.fc) so the studio splits rasters by modality."""
        self._step(step)
        arrays, rates = spike_arrays(spikes, membrane, labels, self.probes, self.membrane_neurons)
        with self._lock:
            new = [name for name in spikes if name not in self.layers]
            if new:
                self.layers += [str(n) for n in new]
                self.writer.set_meta("layers", self.layers)
            self.log_scalars(step, rates)
            self._add_probe(step, arrays)

    def log_arrays(self, step: int, arrays: Mapping[str, Any]) -> None:
        """Arrays of your own (probabilities, features ...) into the step's probe npz, as given: numbers only. Also
        the call for a snapshot already in the store's probe layout (docs/architecture.md, "Probe arrays"): our
        trainer records its probes (spikes of chosen neurons, currents, alpha, frames, events ...) with it."""
        self._step(step)
        out = {}
        for key, a in arrays.items():
            arr = as_numpy(a)
            if not isinstance(key, str) or not key or arr.dtype.kind not in "biuf":
                raise RecordError(f"array {key!r}: needs a name and numbers (got dtype {arr.dtype})")
            out[key] = arr
        with self._lock:
            self._add_probe(step, out)

    def _add_probe(self, step: int, arrays: dict[str, np.ndarray]) -> None:
        """Merge into the step's npz and (re)write it on the array thread: one file per step holds all its arrays.
        A failed earlier write (a full disk) raises here, before anything of this call is kept."""
        step = self._step(step)
        for f in [f for f in self._pending if f.done()]:
            self._pending.remove(f)
            f.result()
        while len(self._pending) >= MAX_PENDING_WRITES:  # the loop waits only when the writes fall behind
            self._pending.pop(0).result()
        merged = {**self._probe.get(step, {}), **arrays}
        self._probe[step] = merged
        while len(self._probe) > KEEP_PROBE_STEPS:  # the oldest is complete on disk: forget its copy
            del self._probe[min(self._probe)]
        self._pending.append(self._array_thread.submit(self.writer.log_arrays, step, self.epoch, dict(merged)))

    def flush(self, raise_errors: bool = True) -> None:
        """Wait until every array logged so far is on disk and raise a failed write's error; with
        raise_errors=False (a loop on its way out of another failure) only wait, keeping the error for later."""
        with self._lock:
            pending = list(self._pending)
        wait(pending)
        if raise_errors:
            with self._lock:
                self._pending = [f for f in self._pending if f not in pending]
            for f in pending:
                f.result()

    def stop_writing(self) -> None:
        """Stop the heartbeat, wait for the pending array writes and end the array thread, raising nothing: for a
        loop that sets the final status itself (our trainer, core/telemetry.py); `finish` does this and more."""
        self._stop_beat.set()
        if self._beat_thread.is_alive():
            self._beat_thread.join()
        self.flush(raise_errors=False)
        self._array_thread.shutdown(wait=True)

    # ---- events, meta, status ----------------------------------------------------------------
    def event(self, kind: str, message: str) -> None:
        """A line in the run's event log (a short tag and one line of text)."""
        self.writer.log_event(str(kind), " ".join(str(message).split()))

    def warn(self, message: str) -> None:
        """A warning: in the event log and in the run bar (meta `warnings`)."""
        line = " ".join(str(message).split())
        with self._lock:
            self.writer.log_event("warning", line)
            with RunReader(self.run_dir) as r:
                warnings = list(r.meta().get("warnings") or [])
            self.writer.set_meta("warnings", [*warnings, line])

    def set_meta(self, key: str, value: Any) -> None:
        self.writer.set_meta(key, value)

    def finish(self, status: str = "finished", error: str | None = None) -> None:
        """Write what is pending, set the final status (finished, failed, stopped, interrupted), close."""
        with self._lock:
            if self.finished:
                return
            self.finished = True
        self._stop_beat.set()
        if self._beat_thread.is_alive():
            self._beat_thread.join()
        try:
            self.flush()
        finally:
            self._array_thread.shutdown(wait=True)
            self.writer.set_status(status, error=error)
            self.writer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            self.finish("finished")
        else:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            self.finish(status, error=" ".join(f"{type(exc).__name__}: {exc}".split())[:500])

    # ---- checks ------------------------------------------------------------------------------
    def _step(self, step: Any) -> int:
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise RecordError(f"step {step!r}: expected an int >= 0")
        if self.finished:
            raise RecordError(f"{self.run_dir}: the run is finished; nothing more is recorded")
        return int(step)

    def _modality(self, name: str) -> str:
        if name not in self.short:
            raise RecordError(f"unknown modality {name!r}; this run's are {', '.join(self.modalities)}")
        return self.short[name]

    def _stream(self, name: str) -> str:
        if name not in self.streams:
            raise RecordError(f"unknown stream {name!r}; this run's are {', '.join(self.streams)}")
        return self.streams[name]

    def _maybe_beat(self) -> None:
        if time.monotonic() - self._last_beat > HEARTBEAT_S:
            self._last_beat = time.monotonic()
            self.writer.heartbeat()

    def _beat(self) -> None:
        """Keeps the run live while the loop runs no steps (a long validation)."""
        while not self._stop_beat.wait(HEARTBEAT_S):
            if time.monotonic() - self._last_beat > HEARTBEAT_S:
                try:
                    self.writer.heartbeat()
                except Exception:  # noqa: BLE001 (a closed writer at the end; the loop reports real failures)
                    return


def _pid() -> int:
    return os.getpid()
