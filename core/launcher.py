"""Start, pause, resume and stop training runs from another process (the studio), one run at a time.

Training always runs as its own detached process (`python -m core.train`), so a browser tab closing,
a widget rerun or the studio server stopping never interrupts it. Starting is guarded by an fcntl lock
in the runs folder: two presses, two tabs or two users at once never start two runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.config import load_config, to_toml, validate
from core.errors import ConfigError, DataError, StoreError, TAAFError
from core.store import RunReader, pid_alive, send_command
from core.store.limits import MAX_LAUNCH_BYTES, read_small_file
from core.store.paths import LOG_FILE, inside_run

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCK_NAME = ".launch.lock"
LAUNCH_NAME = "launch.json"  # written before the trainer exists: pid + time, so a starting run counts as active
START_GRACE_S = 180.0  # a launched trainer that has not created its store after this long is not "starting"
ACTIVE = ("running", "paused")
# Launched trainers run this much nicer than the studio: on a 2-core laptop a trainer at equal priority
# competes with the studio server and the browser, and a selector change then took up to 1.6 s to redraw.
# An idle machine trains exactly as fast; only the page's bursts of work go first.
TRAINER_NICENESS = 10


def launched_threads(cores: int | None = None) -> int:
    """Torch threads of a run launched from the studio when its config leaves them to torch (0): one core
    fewer than the machine has, at least one. The page being watched (server and browser) needs about a core
    while live; two torch threads on a 2-core machine then wait for each other at every operation whenever
    one is preempted (a watched run trained 10x slower with 2 threads, docs/performance.md). Written into the
    run's config, so the run can be reproduced exactly."""
    return max(1, (cores or os.cpu_count() or 1) - 1)


def run_threads(cfg: dict[str, Any]) -> int:
    """The torch thread count a run trains with, however it is launched (CLI or the studio's Start): the config's
    `train.threads`, or for 0 OMP_NUM_THREADS if set, else `launched_threads()`. One rule for both because the
    count changes the numbers (a convolution's weight gradient and a linear layer's are summed in per-thread
    chunks: 1 and 2 threads part at step 2), so a config and seed gave one result from the CLI and another
    from the studio."""
    # OMP_NUM_THREADS first, as torch's own default does: torchrun sets it to 1 per rank so N ranks do not each
    # take every core
    omp = os.environ.get("OMP_NUM_THREADS", "")
    return int(cfg["train"]["threads"]) or (int(omp) if omp.isdigit() and int(omp) > 0 else launched_threads())


def resolve_launch(cfg: dict[str, Any]) -> dict[str, Any]:
    """The config a fresh run is written with, the same from the CLI and from the studio: the thread count
    resolved (`run_threads`) and, for AV-Digits, every degradation knob the data is built with written out
    (the studio sends only the knobs that differ from the preset, a config file may list the preset's own:
    the same data, and now the same config.json). Returns a new dict."""
    cfg = json.loads(json.dumps(cfg))  # a deep copy (configs are plain JSON-able data)
    cfg["train"]["threads"] = run_threads(cfg)
    if cfg["data"]["dataset"] == "avdigits":
        from core.data import presets  # (lazy: core.data imports torch, slow for the studio's first paint)

        av = cfg["data"]["avdigits"]
        knobs = presets.resolve(av["preset"], av["degrade"])
        av["degrade"] = {k: "off" if isinstance(v, float) and v == float("inf") else v for k, v in knobs.items()}
    return cfg


@contextmanager
def _launch_lock(runs_dir: Path) -> Iterator[None]:
    runs_dir.mkdir(parents=True, exist_ok=True)
    with open(runs_dir / LOCK_NAME, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def launch_info(run_dir: Path) -> dict[str, Any] | None:
    """What start_run wrote before spawning the trainer (pid, time, command), or None."""
    try:  # a regular file of at most 64 KB: a FIFO named launch.json would block the run list
        info = json.loads(read_small_file(inside_run(run_dir, LAUNCH_NAME), MAX_LAUNCH_BYTES, LAUNCH_NAME))
    except (OSError, ValueError, RecursionError, StoreError):
        return None
    return info if isinstance(info, dict) else None


def run_state(run_dir: str | Path) -> dict[str, Any]:
    """The status of one run dir, including the moments before the trainer has created its store.

    `status` is the store's status, or "starting" (trainer launched, store not created yet) or
    "failed" (the trainer exited before creating its store: see train.log).
    """
    run_dir = Path(run_dir)
    info = launch_info(run_dir)
    launching = bool(info) and pid_alive(info.get("pid")) and time.time() - float(info.get("time", 0)) < START_GRACE_S
    if (run_dir / "store.sqlite").exists():
        st = dict(RunReader(run_dir).status())
        newer = float(info.get("time", 0)) > float(st.get("updated") or 0) if info else False
        if launching and newer and (st["status"] not in ACTIVE or st.get("stale")):  # a --resume still loading
            st.update(status="starting", stale=False, error=None)
        return st
    if info is None:
        raise StoreError(f"{run_dir}: not a run directory (no store.sqlite)")
    if launching:
        return {"status": "starting", "error": None, "pid": info.get("pid"), "updated": info.get("time"),
                "stale": False}
    return {"status": "failed", "error": "the trainer exited before creating its run store (see train.log)",
            "pid": info.get("pid"), "updated": info.get("time"), "stale": False}


def active_run(runs_dir: str | Path) -> Path | None:
    """The run in `runs_dir` that is starting, running or paused (and not stale), if any."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return None
    for d in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        try:
            st = run_state(d)
        except TAAFError:
            continue  # corrupt or foreign folders never block a start
        if st["status"] == "starting" or (st["status"] in ACTIVE and not st.get("stale")):
            return d
    return None


def _spawn(args: list[str], log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "core.train", *args], cwd=REPO_ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    try:  # now, before the trainer starts torch's threads: they inherit its niceness
        os.setpriority(os.PRIO_PROCESS, proc.pid, trainer_niceness())
    except (AttributeError, OSError):  # no setpriority (Windows), or the trainer already ended
        pass
    # Reap the child when it ends so it never lingers as a zombie (which would look alive).
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return proc


def trainer_niceness() -> int:
    """The niceness a launched trainer gets: TRAINER_NICENESS above the studio's own, at most 19."""
    return min(19, os.getpriority(os.PRIO_PROCESS, 0) + TRAINER_NICENESS)


def run_name(cfg: dict[str, Any]) -> str:
    """`<strategy>-<preset>-s<seed>-<YYYYmmdd-HHMMSS>` (preset = the dataset for CREMA-D / AVE)."""
    data = cfg["data"]
    preset = data["avdigits"]["preset"] if data["dataset"] == "avdigits" else data["dataset"]
    return f"{cfg['strategy']['name']}-{preset}-s{cfg['train']['seed']}-{time.strftime('%Y%m%d-%H%M%S')}"


def _resolve(config_path: Path | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The full config: file, then overrides; dict values replace a free-form table (the degrade knobs) whole."""
    flat = {k: v for k, v in overrides.items() if v is not None and not isinstance(v, dict)}
    cfg = load_config(config_path, flat)
    for key, table in overrides.items():
        if isinstance(table, dict):
            node = cfg
            *parents, leaf = key.split(".")
            for part in parents:
                node = node.get(part) if isinstance(node, dict) else None
            if not isinstance(node, dict) or not isinstance(node.get(leaf), dict):
                raise ConfigError(f"{key}: not a table of the config")
            node[leaf] = dict(table)
    validate(cfg, str(config_path or "config"))
    if cfg["data"]["dataset"] == "avdigits":  # knob names and ranges, now rather than in the trainer's log
        from core.data import presets  # (lazy: core.data imports torch, slow for the studio's first paint)

        presets.resolve(cfg["data"]["avdigits"]["preset"], cfg["data"]["avdigits"]["degrade"])
    return cfg


def start_run(runs_dir: str | Path, config_path: str | Path | None, overrides: dict[str, Any] | None = None,
              name: str | None = None) -> Path:
    """Validate the config, then launch `python -m core.train` detached into `runs_dir/<name>`.

    `overrides` maps dotted keys to values (`{"model.T": 8}`); a dict value replaces a whole table
    (`{"data.avdigits.degrade": {"occlusion": 2}}`). The resolved config is written to the run's
    launch.toml and passed to the trainer, so the run is exactly what was validated here.
    Raises ConfigError / DataError for a bad config or dataset path, TAAFError if a run is already active.
    """
    runs_dir = Path(runs_dir).resolve()
    config_path = Path(config_path) if config_path is not None else None
    overrides = {"record.progress": False, **(overrides or {})}  # no terminal progress bar in train.log
    cfg = resolve_launch(_resolve(config_path, overrides))
    data_path = Path(cfg["data"]["path"])
    if not (data_path if data_path.is_absolute() else REPO_ROOT / data_path).exists():
        raise DataError(f"data.path = {cfg['data']['path']!r}: no such file or folder")
    with _launch_lock(runs_dir):
        busy = active_run(runs_dir)
        if busy is not None:
            raise TAAFError(f"run '{busy.name}' is already {run_state(busy)['status']} in {runs_dir}: "
                            "pause/stop it first (one run at a time)")
        base = name or run_name(cfg)
        run_dir, i = runs_dir / base, 1
        while run_dir.exists():
            i += 1
            run_dir = runs_dir / f"{base}-{i}"
        run_dir.mkdir(parents=True)
        (run_dir / "launch.toml").write_text(to_toml(cfg))
        args = ["--config", str(run_dir / "launch.toml"), "--run-dir", str(run_dir)]
        log_path = run_dir / "train.log"
        log_path.write_text(f"$ python -m core.train {' '.join(args)}\n")
        proc = _spawn(args, log_path)
        (run_dir / LAUNCH_NAME).write_text(json.dumps({"pid": proc.pid, "time": time.time(), "args": args}))
    return run_dir


def resume_interrupted(run_dir: str | Path) -> int:
    """Continue a stale / interrupted run from its last checkpoint (`--resume`); returns the trainer's pid."""
    run_dir = Path(run_dir).resolve()
    with _launch_lock(run_dir.parent):
        st = run_state(run_dir)
        if st["status"] in ACTIVE and not st.get("stale") or st["status"] in ("starting", "finished"):
            raise TAAFError(f"run '{run_dir.name}' is {st['status']}: nothing to resume")
        busy = active_run(run_dir.parent)
        if busy is not None:
            raise TAAFError(f"run '{busy.name}' is active in {run_dir.parent}: stop it before resuming another")
        for name in (LOG_FILE, LAUNCH_NAME):  # both are written here: never through a link out of the run
            inside_run(run_dir, name)
        with open(run_dir / "train.log", "a") as fh:
            fh.write(f"\n$ python -m core.train --resume {run_dir}   # {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        proc = _spawn(["--resume", str(run_dir)], run_dir / "train.log")
        (run_dir / LAUNCH_NAME).write_text(json.dumps({"pid": proc.pid, "time": time.time(), "args": ["--resume"]}))
    return proc.pid


def _command(run_dir: str | Path, cmd: str) -> None:
    send_command(Path(run_dir), cmd)


def pause(run_dir: str | Path) -> None:
    """Ask the trainer to pause after its current step (it keeps its state and waits)."""
    _command(run_dir, "pause")


def resume(run_dir: str | Path) -> None:
    """Ask a paused trainer to continue."""
    _command(run_dir, "resume")


def stop(run_dir: str | Path) -> None:
    """Ask the trainer to stop after its current step and mark the run stopped. It does not checkpoint: Continue
    (`resume_interrupted`) starts from the last epoch checkpoint and trains the steps after it again."""
    _command(run_dir, "stop")


def continue_note(checkpoint: Any, step: int) -> str:
    """What Continue (`--resume`) does for a run at `step` whose last epoch checkpoint is `checkpoint` (the run's
    meta "checkpoint": {"epoch", "step"}, or None): it starts from that checkpoint, so the steps after it are trained
    again (a Stop does not checkpoint mid-epoch)."""
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("step"), int):
        return f"starts over from step 0 (no epoch has ended yet){_redo(0, step)}"
    epoch = checkpoint.get("epoch")
    # The store numbers epochs from 0; the run bar (and this note) count them from 1, as a reader does.
    shown = epoch + 1 if isinstance(epoch, int) and not isinstance(epoch, bool) else "?"
    where = f"the checkpoint at the end of epoch {shown} (step {checkpoint['step']})"
    return f"starts from {where}{_redo(checkpoint['step'], step)}"


def _redo(done: int, step: int) -> str:
    return f"; steps {done + 1}–{step} are trained again" if step > done else ""
