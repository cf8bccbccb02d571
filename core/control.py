"""Steer or pause / resume / stop a live run from the shell: what the studio's buttons and steering form do.

    python -m core.control runs/<name> set optim.lr=0.001 [strategy.beta=2 ...]
    python -m core.control runs/<name> pause | resume | stop
    python -m core.control runs/<name> events        # the steering events so far

Exit status 0 when sent (a setting applies at the trainer's next step boundary and shows as a `steer` event),
2 with one line `error: ...` when refused (nothing is written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core import launcher
from core.errors import TAAFError
from core.steering import STEERABLE, events_frame, parse_assignment, request
from core.store import RunReader


def build_parser() -> argparse.ArgumentParser:
    keys = "; ".join(f"{k}: {s.help}" for k, s in STEERABLE.items())
    ap = argparse.ArgumentParser(prog="python -m core.control", description=__doc__.split("\n")[0],
                                 epilog=f"steerable settings: {keys}")
    ap.add_argument("run", help="the run's folder (runs/<name>)")
    ap.add_argument("action", choices=("set", "pause", "resume", "stop", "events"))
    ap.add_argument("settings", nargs="*", metavar="KEY=VALUE", help="with set: one or more settings")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    run = Path(args.run)
    try:
        if args.action == "events":
            print(events_frame(RunReader(run).events()).drop(columns=["id", "time"]).to_string(index=False))
            return 0
        if args.action != "set":
            if args.settings:
                ap.error(f"{args.action} takes no settings")
            state = launcher.run_state(run)
            if state["status"] not in ("running", "paused") or state.get("stale"):
                raise TAAFError(f"{run.name}: run is {state['status']}, not alive: nothing to {args.action}")
            getattr(launcher, args.action)(run)
            print(f"{args.action} sent to {run.name}")
            return 0
        if not args.settings:
            ap.error("set needs at least one KEY=VALUE, e.g. optim.lr=0.001")
        pairs = [parse_assignment(text) for text in args.settings]  # all checked before any is sent
        for key, value in pairs:
            request(run, key, value, source="cli")
            print(f"{key} = {value} sent to {run.name}: applies at its next step boundary")
        return 0
    except TAAFError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
