"""Is a run store the same as another? A digest of everything a run store holds that a rerun should reproduce:
every scalar (bytes of each column, per scope), every probe array (name, dtype, shape, bytes), the arrays rows,
the meta (less the process's pid and device), the events, the tables' schema. Times are left out (wall clock).

    python -m devtools.store_digest train OUT_DIR [--temporal-data FILE]   # two tiny runs + OUT_DIR/digest.json
    python -m devtools.store_digest compare A.json B.json                  # exit 1 and the differences, if any

`train` trains a 1-epoch tiny run of the default config (and, with --temporal-data, of configs/taaf-temporal.toml
on that AV-Digits-T file, whose probes also record frames and events): used to check that a change to how the
trainer records (issue 25: one recording path) leaves the store it writes unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import numpy as np

from core.store import RunReader

ROOT = Path(__file__).resolve().parents[1]
TINY = ["train.epochs=1", "record.every_steps=5", "record.progress=false", "record.shapley=false",
        "data.batch_size=128", "train.threads=1", "model.widths=[8, 16]", "model.T=2", "model.audio_steps=2",
        "model.visual_steps=2"]
VARYING_META = ("pid", "device", "checkpoint", "created", "writer")  # the process, the machine, the clock, a path
TIMINGS = ("epoch_time", "elapsed_s", "samples_per_s")  # wall-clock scalars: their rows are compared, not values


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def digest(run_dir: Path) -> dict[str, Any]:
    """Everything of the run that a rerun reproduces, as hashes and plain values."""
    out: dict[str, Any] = {}
    with RunReader(run_dir) as r:
        for scope in ("step", "epoch"):
            df = r.scalars(scope)
            out[f"scalars/{scope}"] = {c: [str(df[c].dtype), len(df), int(df[c].notna().sum()),
                                           "timing" if c in TIMINGS else _sha(df[c].to_numpy())]
                                       for c in sorted(df.columns) if c != "time"}
        arrays = {}
        for step in r.array_steps("probe"):
            for key, a in sorted(r.arrays(step, "probe").items()):
                arrays[f"{step}/{key}"] = [str(a.dtype), list(a.shape), _sha(a)]
        out["arrays"] = arrays
        out["meta"] = {k: v for k, v in sorted(r.meta().items()) if k not in VARYING_META}
        ev = r.events()
        out["events"] = [[str(k), str(m)] for k, m in zip(ev["kind"], ev["message"], strict=True)] if len(ev) else []
        out["status"] = r.status().get("status")
    with sqlite3.connect(f"file:{run_dir / 'store.sqlite'}?mode=ro", uri=True) as db:
        out["schema"] = sorted(row[0] or "" for row in db.execute("SELECT sql FROM sqlite_master"))
        rows = db.execute("SELECT kind, step, epoch, path FROM arrays ORDER BY kind, step")
        out["array_rows"] = [list(row) for row in rows]
    return out


def compare(a: dict[str, Any], b: dict[str, Any], where: str = "") -> list[str]:
    """The paths at which two digests differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in
                ([f"{where}/{k}: only in {'first' if k in a else 'second'}"] if (k in a) != (k in b)
                 else compare(a[k], b[k], f"{where}/{k}"))]
    return [] if a == b else [f"{where}: {str(a)[:120]} != {str(b)[:120]}"]


def train_runs(out_dir: Path, temporal_data: Path | None) -> dict[str, Any]:
    from core.config import load_config
    from core.training_loop import train

    runs = {"default": (ROOT / "configs/taaf.toml", [])}
    if temporal_data is not None:
        runs["temporal"] = (ROOT / "configs/taaf-temporal.toml", [f"data.path={temporal_data}", "model.T=4",
                                                                  "model.audio_steps=8", "model.visual_steps=8"])
    result = {}
    for name, (config, extra) in runs.items():
        train(load_config(config, [*TINY, *extra]), out_dir / name)
        result[name] = digest(out_dir / name)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("out_dir", type=Path)
    t.add_argument("--temporal-data", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("first", type=Path)
    c.add_argument("second", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "train":
        result = train_runs(args.out_dir, args.temporal_data)
        (args.out_dir / "digest.json").write_text(json.dumps(result, indent=1, default=str))
        print(f"{args.out_dir / 'digest.json'}: " + ", ".join(f"{k}: {len(v['arrays'])} arrays, "
                                                               f"{len(v['scalars/step'])} step keys"
                                                               for k, v in result.items()))
        return 0
    diffs = compare(json.loads(args.first.read_text()), json.loads(args.second.read_text()))
    print("\n".join(diffs) if diffs else "identical: every scalar, array, meta key, event and table")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
