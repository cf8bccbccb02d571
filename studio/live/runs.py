"""The live room's one cache: each run's data (RunData), its built figures and probe arrays, shared by every tab
and every page of the process, and the small public API the pages read it through.

Why one process-wide cache: figures are built once per change and shared by every tab (one RunData per run,
refreshed at most every REFRESH_S), so three tabs cost the server about what one does. The live routes
(studio/live/routes.py) and the pages' static drawing (studio/ui/panels.py) read the same entries. No Streamlit
calls here: the routes run on the server's thread pool, outside any session.

Runs are named by their folder name inside the studio's runs folder (or `@demo`); anything else,
including a name that resolves (through a link) outside that folder, is refused (None).

Public: snapshot, panel_figure, raster_figure, probe_arrays, token_for, resolve_run, is_folder_name, demo_upto, DEMO.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.store import RunReader
from studio import settings
from studio.live import figures, steady
from studio.live.rundata import RunData, RunView
from studio.live.urls import DEMO

REFRESH_S = 0.25  # a live run is re-read at most this often, whatever the number of tabs and charts
DEMO_SPEED_S = 45.0  # the demo replays its whole run in about this many seconds, then loops
MAX_RUNS = 4  # runs held in memory at once (least recently asked dropped first)

__all__ = ["DEMO", "Built", "Snapshot", "demo_upto", "is_folder_name", "panel_figure", "probe_arrays", "raster_figure",
           "resolve_run", "snapshot", "token_for"]


@dataclass(frozen=True)
class Built:
    """A figure built once for a cache key: its version (the key's hash), its plotly JSON and its height."""

    version: str
    json: bytes
    height: int


class LiveRun:
    """One run as the live routes see it: its RunData, a cache of built figures and of probe arrays."""

    def __init__(self, path: Path, immutable: bool) -> None:
        self.rd = RunData(path, immutable=immutable)
        self.lock = threading.Lock()
        self.refreshed = 0.0
        self.figs: OrderedDict[tuple, Built] = OrderedDict()
        self.arrays: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()

    def fresh(self, force: bool = False) -> RunData:
        """The run's data, re-read if older than REFRESH_S (or `force`); an immutable run (the demo) once."""
        rd, now = self.rd, time.time()
        if self.refreshed == 0.0 or (not rd.immutable and (force or now - self.refreshed >= REFRESH_S)):
            rd.refresh()
            self.refreshed = now
        return rd

    def figure(self, key: tuple, build: Any) -> Built:
        """The figure for `key`, built once; the 32 newest kept."""
        hit = self.figs.get(key)
        if hit is None:
            fig = build()
            hit = Built(hashlib.blake2s(repr(key).encode(), digest_size=8).hexdigest(), fig.to_json().encode(),
                        int(fig.layout.height or 450))
            self.figs[key] = hit
            while len(self.figs) > 32:
                self.figs.popitem(last=False)
        else:
            self.figs.move_to_end(key)
        return hit

    def probe_arrays(self, step: int) -> dict[str, np.ndarray]:
        hit = self.arrays.get(step)
        if hit is None:
            with RunReader(self.rd.path, immutable=self.rd.immutable or None) as r:
                hit = self.arrays[step] = r.arrays(step, "probe")
            while len(self.arrays) > 3:
                self.arrays.popitem(last=False)
        return hit


_runs: OrderedDict[Path, LiveRun] = OrderedDict()
_runs_lock = threading.Lock()


def is_folder_name(token: str) -> bool:
    """Whether `token` can be the name of a folder directly inside another: any letters and spaces ('my run',
    'exp-ü'), but no separator, no NUL, not empty and not starting with '.' (no '..', no hidden folder)."""
    return 0 < len(token) <= 255 and not token.startswith(".") and not any(c in token for c in "/\\\0")


def resolve_run(token: str, runs_dir: Path | None = None, demo: Path | None = None) -> Path | None:
    """The run folder a route may read for `token` (a folder name in the runs folder, or '@demo'), else None.

    The folder must resolve to a direct child of the runs folder (or be the runs folder itself, when the
    studio watches one run's own folder): no separators, no '..', no link out."""
    if token == DEMO:
        return demo if demo is not None else settings.demo_dir()
    base = (runs_dir or settings.runs_dir()).resolve()
    if not is_folder_name(token):
        return None
    if (base / "store.sqlite").is_file():  # the studio was pointed at one run's folder
        return base if token == base.name else None
    path = (base / token).resolve()
    return path if path.parent == base and path.is_dir() else None


def live_run(token: str) -> LiveRun | None:
    """The shared LiveRun of `token` (see resolve_run), or None if the token names no readable run folder."""
    path = resolve_run(token)
    if path is None:
        return None
    with _runs_lock:
        run = _runs.get(path)
        if run is None:
            run = _runs[path] = LiveRun(path, immutable=token == DEMO)
            while len(_runs) > MAX_RUNS:
                _runs.popitem(last=False)
        _runs.move_to_end(path)
    return run


def demo_upto(rd: RunData, t0: float, now: float | None = None) -> int:
    """The step the demo replay shows `now` for a page that started it at `t0` (loops, with a short pause)."""
    frac = (((now or time.time()) - t0) / DEMO_SPEED_S) % 1.05
    return int(min(frac, 1.0) * max(rd.last_step, 0))


def cut(run: LiveRun, demo_t0: float | None, force: bool = False) -> tuple[RunView, bool]:
    """The cut of the run to draw now and whether it is still moving (live, or the looping demo, whose
    replay started at `demo_t0`); `force` re-reads the run now. Call with run.lock held."""
    rd = run.fresh(force)
    if demo_t0 is not None:
        return rd.view(upto=demo_upto(rd, demo_t0)), True
    moving = rd.status.get("status") in ("running", "paused") and not rd.status.get("stale")
    return rd.view(), moving


def header(view: RunView, status: dict[str, Any], demo: bool) -> dict[str, Any]:
    """What the run bar shows: status, step / total, epoch, fused validation accuracy and its change, speed."""
    meta, steps = view.meta, view.steps
    s = "demo replay" if demo else ("interrupted" if status.get("stale") else status.get("status", "unknown"))
    val = view.epochs["val_acc_f"].dropna() if "val_acc_f" in view.epochs else []
    sps = None
    if s == "running" and "samples_per_s" in steps and len(steps):
        med = float(steps["samples_per_s"].tail(20).median())
        sps = med if math.isfinite(med) else None
    return {"name": view.path.name, "status": s, "step": max(view.step, 0), "total": meta.get("total_steps"),
            "epoch": int(steps["epoch"].iloc[-1]) + 1 if len(steps) else 0, "epochs": meta.get("epochs"),
            "val": float(val.iloc[-1]) if len(val) else None,
            "val_delta": float(val.iloc[-1] - val.iloc[-2]) if len(val) > 1 else None, "sps": sps}


@dataclass(frozen=True)
class Snapshot:
    """What a page draws of a run at one script run: the cut, whether it still moves, and its run bar."""

    view: RunView
    moving: bool
    status: dict[str, Any]
    meta: dict[str, Any]
    head: dict[str, Any]  # header(): what the run bar shows
    newest_probe: int | None  # the run's newest probe step (the raster controls' samples and layers)


def snapshot(token: str, demo_t0: float | None = None, force: bool = False, upto: int | None = None) -> Snapshot | None:
    """Run `token` now (None: no such run folder): replayed in a loop from `demo_t0` if given, cut at step `upto`
    if given (Replay), as it is otherwise; `force` re-reads it now. Raises TAAFError for an unreadable run."""
    run = live_run(token)
    if run is None:
        return None
    with run.lock:
        view, moving = cut(run, demo_t0, force)
        if upto is not None:
            view, moving = run.rd.view(upto=upto), False
        head = header(view, run.rd.status, demo=token == DEMO)
        if demo_t0 is not None and token != DEMO:
            head["status"] = "replay"  # the presenter replaying a finished run
        rd = run.rd
        return Snapshot(view, moving, dict(rd.status), dict(rd.meta), head,
                        rd.probe_steps[-1] if rd.probe_steps else None)


def token_for(path: str | Path) -> str:
    """The run token of a run folder: DEMO for the shipped demo, else its folder name."""
    return DEMO if settings.is_demo(path) else Path(path).name


def view_figure(run: LiveRun, view: RunView, name: str) -> Built | None:
    """Panel `name` (figures.FIGURES) of this cut, built once per change; None while it has nothing to draw.
    Call with run.lock held."""
    changes, build = figures.FIGURES[name]
    if name == "alpha_now" and not view.probe_steps:
        return None
    return run.figure((name, changes(view)), lambda: steady.steady_axes(build(view)))


def probe_figure(run: LiveRun, view: RunView, name: str, params: tuple[int, str, int | str, str]) -> Built | None:
    """'raster' or 'membrane' of one probe sample at the cut's newest probe step, built once per change; None
    before the first probe. `params`: (probe, modality, max neurons, layer). Raises ValueError for a probe out of
    range or a figure the modality did not record. Call with run.lock held."""
    if not view.probe_steps:
        return None
    step = view.probe_steps[-1]
    arrays = run.probe_arrays(step)
    if params[0] >= next((a.shape[0] for k, a in arrays.items() if k.startswith("spikes/")), 0):
        raise ValueError("probe sample out of range")

    def build_one() -> Any:
        figs = figures.raster_figures(view, arrays, step, *params)
        if name not in figs:
            raise ValueError(f"no {name} recorded for this modality")
        return figs[name]

    return run.figure((name, step, params), build_one)


def _shared(view: RunView) -> LiveRun:
    """The cache entry of the view's run; a run outside the runs folder gets a private one (drawn, not shared)."""
    run = live_run(token_for(view.path))
    if run is None or run.rd.path.resolve() != Path(view.path).resolve():  # figure keys hold no path: never mix runs
        return LiveRun(Path(view.path), view.immutable)
    return run


def panel_figure(view: RunView, name: str) -> Built | None:
    """Panel `name` of a cut drawn once by a page (finished runs, Replay), through the shared cache."""
    run = _shared(view)
    with run.lock:
        return view_figure(run, view, name)


def raster_figure(view: RunView, name: str, params: tuple[int, str, int | str, str]) -> Built | None:
    """probe_figure for a page's static drawing, through the shared cache."""
    run = _shared(view)
    with run.lock:
        return probe_figure(run, view, name, params)


def probe_arrays(path: str | Path, step: int) -> dict[str, np.ndarray]:
    """A run's probe arrays at one step, from the shared cache (raises StoreError if unreadable)."""
    run = live_run(token_for(path)) or LiveRun(Path(path), settings.is_demo(path))
    with run.lock:
        return run.probe_arrays(step)
