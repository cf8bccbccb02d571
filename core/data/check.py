"""Dataset validation shared by the loaders, and the CLI `python -m core.data check <config.toml> [--set k=v]`.

Exit status: 0 clean, 1 the dataset has problems, 2 the config (or command line) is wrong.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError, DataError, TAAFError

SHOW_FIRST = 3  # names listed per problem line


@dataclass
class CheckReport:
    """What `check()` found. `problems` are one-line strings; `summary` is the printable overview."""

    problems: list[str]
    summary: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> class name -> clips

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_if_bad(self, where: str) -> None:
        """What build() does: refuse to train on a half-broken dataset."""
        if self.problems:
            more = len(self.problems) - 1
            tail = f" (+{more} more problem{'s' if more > 1 else ''}; run `python -m core.data check <config>`)"
            raise DataError(f"{where}: {self.problems[0]}{tail if more else ''}")


class Problems:
    """Problems grouped by kind, so 7000 missing files make one line with a count and the first few names."""

    def __init__(self) -> None:
        self._groups: dict[str, list[str]] = {}

    def add(self, kind: str, item: str) -> None:
        self._groups.setdefault(kind, []).append(item)

    def extend(self, other: Problems) -> None:
        for kind, items in other._groups.items():
            self._groups.setdefault(kind, []).extend(items)

    def __bool__(self) -> bool:
        return bool(self._groups)

    def lines(self) -> list[str]:
        out = []
        for kind, items in self._groups.items():
            if len(items) == 1:
                out.append(f"{kind}: {items[0]}")
            else:
                shown = "; ".join(items[:SHOW_FIRST]) + ("; ..." if len(items) > SHOW_FIRST else "")
                out.append(f"{kind}: {len(items)} (first: {shown})")
        return out


def read_rows(path: Path, sep: str) -> list[tuple[int, list[str]]]:
    """Non-blank rows of a text list as (line number, stripped fields); CRLF / LF and a UTF-8 BOM all accepted."""
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    return [(n, [f.strip() for f in line.split(sep)]) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def raise_if_problems(problems: Problems, where: str) -> None:
    """build()'s refusal: a DataError naming the first problem (and how many more), if there is any."""
    CheckReport(problems.lines(), "").raise_if_bad(where)


def class_counts(splits: dict[str, list[tuple[str, int]]], class_names: list[str]) -> dict[str, dict[str, int]]:
    """Items per class in each split, from (id, label index) lists; every class listed, absent ones as 0."""
    return {
        split: {name: sum(y == i for _, y in items) for i, name in enumerate(class_names)}
        for split, items in splits.items()
    }


def count_table(counts: dict[str, dict[str, int]], class_names: list[str]) -> str:
    """Clips per class (rows) and split (columns), with totals."""
    splits = list(counts)
    width = max([len(c) for c in class_names] + [5])
    head = f"  {'class':<{width}}" + "".join(f"{s:>8}" for s in splits) + f"{'total':>8}"
    rows = [head]
    for c in class_names:
        vals = [counts[s].get(c, 0) for s in splits]
        rows.append(f"  {c:<{width}}" + "".join(f"{v:>8}" for v in vals) + f"{sum(vals):>8}")
    totals = [sum(counts[s].values()) for s in splits]
    rows.append(f"  {'total':<{width}}" + "".join(f"{v:>8}" for v in totals) + f"{sum(totals):>8}")
    return "\n".join(rows)


def check_config(cfg: dict[str, Any], decode: bool = True) -> CheckReport:
    """Validate the dataset a full config points at (ConfigError propagates: that is the user's config)."""
    data_cfg = cfg["data"]
    name = data_cfg["dataset"]
    if name == "cremad":
        from core.data import cremad

        return cremad.check(data_cfg, decode=decode)
    if name == "ave":
        from core.data import ave

        return ave.check(data_cfg, decode=decode)
    return _check_avdigits(data_cfg)


def _check_avdigits(data_cfg: dict[str, Any]) -> CheckReport:
    path = data_cfg["path"]
    try:
        from core.data import avdigits

        load_npz = avdigits.load_npz
        resolve = getattr(avdigits, "resolve_path", Path)  # same lookup as build(): cwd, then the repo root
    except (ImportError, AttributeError):
        return CheckReport([], f"AV-Digits at {path}: not checked (core.data.avdigits.load_npz is not available)")
    try:
        arrays = load_npz(resolve(path))
    except DataError as e:
        return CheckReport([str(e)], f"AV-Digits at {path}: invalid")
    lines = [f"AV-Digits at {path}: valid"]
    counts: dict[str, dict[str, int]] = {}
    try:  # a table when load_npz hands back the schema's arrays; validation already passed either way
        import numpy as np

        labels, splits = np.asarray(arrays["label"]), np.asarray(arrays["split"])
        names = [str(d) for d in range(int(labels.max()) + 1)]
        for code, split in enumerate(("train", "val", "test")):
            counts[split] = {n: int(np.sum((splits == code) & (labels == int(n)))) for n in names}
        lines.append(count_table(counts, names))
        shared = avdigits.shared_speakers(arrays)
        lines.append(f"speakers in two splits: train and validation {shared['train-validation']}, "
                     f"test and train / validation {shared['test-other']}")
    except Exception as e:  # the table is optional, the verdict is not
        lines.append(f"(no per-class table: {type(e).__name__})")
    return CheckReport([], "\n".join(lines), counts)


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
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse's usage errors are exit 2 already; keep --help at 0
        return int(e.code or 0)
    from core.config import load_config

    try:
        cfg = load_config(args.config, args.overrides)
        report = check_config(cfg, decode=not args.no_decode)
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
