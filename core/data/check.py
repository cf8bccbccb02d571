"""`python -m core.data check <config.toml> [--set k=v] [--no-decode] [--allow-pickle]`: validate the dataset a
config points at.

Exit status: 0 clean, 1 the dataset has problems, 2 the config (or command line) is wrong.
"""

from __future__ import annotations

import argparse
import sys

from core.data.registry import ALLOW_PICKLE_HELP, check_config
from core.errors import ConfigError, TAAFError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.data", description="Dataset tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="validate the dataset a config points at; exit 1 on problems")
    p.add_argument("config", help="a run config (TOML)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. data.path=/data/CREMA-D (repeatable)",
    )
    p.add_argument("--no-decode", action="store_true", help="skip trying to decode every audio file and frame")
    p.add_argument("--allow-pickle", action="store_true", help=ALLOW_PICKLE_HELP)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse's usage errors are exit 2 already; keep --help at 0
        return int(e.code or 0)
    from core.config import load_config

    try:
        cfg = load_config(args.config, args.overrides)
        report = check_config(cfg, decode=not args.no_decode, trust_pickles=args.allow_pickle)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TAAFError as e:  # a data error the check itself could not turn into a report line
        print(f"problem: {e}", file=sys.stderr)
        return 1
    print(report.summary)
    if report.problems:
        print(f"\n{len(report.problems)} problem(s):")
        for line in report.problems:
            print(f"  - {line}")
        return 1
    print("\nno problems found")
    return 0
