"""Train one run, writing every step to its run store: the command line.

    python -m core.train --config configs/taaf.toml [--set key=value ...] [--run-dir DIR]
    python -m core.train --resume runs/<name>
    ... --allow-pickle        read pickled audio (AVE audio = "pickle"); only a command-line flag can allow it
    torchrun --nproc-per-node N -m core.train --config ...        (rank 0 writes the store)

Every step is written to the run store (core/store/) while training, so the studio can watch it. The loop itself
is core/training_loop.py; this module imports it (and torch, 3-10 s) only after the arguments and the config
passed, so --help and a mistyped key answer at once.

Exit status: 0 finished (or stopped), 1 the run failed (non-finite loss, full disk, a crash), 2 bad arguments,
config, data or run folder, 130 interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from core.config import load_config, saved_run_config
from core.data.registry import ALLOW_PICKLE_HELP
from core.errors import DiskFullError, TAAFError, TrainingFailed, is_disk_full


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m core.train", description=__doc__.split("\n")[0])
    ap.add_argument("--config", help="TOML config (configs/*.toml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    ap.add_argument("--run-dir", help="run directory (default: <record.runs_dir>/<strategy>-<preset>-s<seed>-<time>)")
    ap.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    ap.add_argument("--allow-pickle", action="store_true", help=ALLOW_PICKLE_HELP)
    return ap


def exit_status(e: BaseException) -> tuple[int, str | None]:
    """The exit status for an error that ended the command, and its line for stderr (None: print the traceback)."""
    if isinstance(e, KeyboardInterrupt):
        return 130, "\ninterrupted: run marked interrupted; continue with --resume"
    if isinstance(e, TAAFError):  # config, data, store and checkpoint errors: one line
        return (1 if isinstance(e, (TrainingFailed, DiskFullError)) else 2), f"error: {e}"
    if is_disk_full(e):  # e.g. creating the run store on a full disk, before the loop takes over
        return 1, f"error: no space left on device while writing {getattr(e, 'filename', None) or 'the run folder'}"
    return 1, None


def run_config(ap: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[dict[str, Any], Path | None, bool]:
    """(config, run folder or None for the default name, resume?) from the command line."""
    if args.resume:
        from core.store import RunReader

        run_dir = Path(args.resume)
        return saved_run_config(RunReader(run_dir).config(), str(run_dir / "config.json"), args.set), run_dir, True
    if not args.config:
        ap.error("--config is required (or --resume RUN_DIR)")
    cfg = load_config(args.config, args.set)
    from core.launcher import resolve_launch  # the studio's Start writes the same config (threads, knobs)

    cfg = resolve_launch(cfg)
    return cfg, Path(args.run_dir) if args.run_dir else None, False


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    # Ctrl-C and SIGTERM (a killed launcher, a job scheduler) end the run the same way: marked interrupted.
    # SIGINT is set explicitly: a process started in the background inherits it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        cfg, run_dir, resume = run_config(ap, args)
        if run_dir is None:
            from core.launcher import run_name

            run_dir = Path(cfg["record"]["runs_dir"]) / run_name(cfg)
        from core.training_loop import train  # torch: only now

        summary = train(cfg, run_dir, resume=resume, trust_pickles=args.allow_pickle)
    except (KeyboardInterrupt, Exception) as e:
        code, line = exit_status(e)
        if line is None:
            traceback.print_exc()
        else:
            print(line, file=sys.stderr)
        return code
    if "test" in summary:
        t = summary["test"]
        print(f"run: {run_dir}")
        print(f"test accuracy  fused {t['acc_f']:.3f}  audio {t['acc_a']:.3f}  visual {t['acc_v']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
