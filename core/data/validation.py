"""Dataset validation shared by the loaders: the report `check()` returns, problems grouped by kind, and the
list-reading and per-class table helpers. The loaders import this; the CLI (core/data/check.py) imports the loaders
through core/data/registry.py, so nothing here imports a loader (no circle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import DataError

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


MAX_ID_BYTES = 200  # clip / video ids become file and folder names (most filesystems allow 255 bytes)


def id_problem(cid: str) -> str | None:
    """Why a clip / video id from a list cannot name files inside the dataset folder, or None if it can: ids
    are joined to folder paths, so a separator or '..' would read files elsewhere."""
    if len(cid.encode("utf-8", "replace")) > MAX_ID_BYTES:
        return f"longer than {MAX_ID_BYTES} bytes"
    if any(ch in cid for ch in "/\\\0") or ".." in cid:
        return "contains a path separator or '..'"
    return None


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
