"""TensorBoard in and out: a run's scalars (and attention) as event files, and event files as a run.

    python -m core.tensorboard export <run dir> <logdir>     # then: tensorboard --logdir <logdir>
    python -m core.tensorboard import <logdir> <run dir>     # then pick the run in the studio

Export writes through TensorBoard's own writer (torch.utils.tensorboard.SummaryWriter): step scalars as
`train/<key>`, epoch scalars as `epoch/<key>` (at the step that ended the epoch, as the run store keeps them), each
with its logged wall time; the probe-mean attention α as an image `attention/alpha` (rows audio, visual, fused, or
another loop's recorded streams in their order; brighter = more weight) and each stream's α values as a histogram
`attention/<stream>`.

Import reads event files with TensorBoard's EventAccumulator, every folder under <logdir> (SummaryWriter.add_scalars
writes each line of a chart into a folder `<main tag>_<line>`). Tags map onto the run store's names: ours
(`train/`, `epoch/`), then the OGM-GE family's (OGM_NAMES, docs/own-loop.md), else the tag itself as a step scalar.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from core.errors import TAAFError
from core.runlog import Run
from core.runlog_checks import recorded_modalities
from core.store import RunReader

# OGM-GE (Peng et al., CVPR 2022) and the repositories built on its code: tag -> (scope, our key). Their ratio v is
# the visual score over the audio score (our rho_v), their coefficients the gradient scales (our k_a, k_v); their
# epoch charts (add_scalars 'Loss' and 'Evaluation') are logged per epoch with the epoch number as the step.
OGM_NAMES: dict[str, tuple[str, str]] = {
    "data/ratio v": ("step", "rho_v"),
    "data/ratio a": ("step", "rho_a"),
    "data/coefficient a": ("step", "k_a"),
    "data/coefficient v": ("step", "k_v"),
    "Loss_Total Loss": ("epoch", "train_loss"),
    "Loss_Audio Loss": ("epoch", "train_loss_a"),
    "Loss_Visual Loss": ("epoch", "train_loss_v"),
    "Evaluation_Total Accuracy": ("epoch", "val_acc_f"),
    "Evaluation_Audio Accuracy": ("epoch", "val_acc_a"),
    "Evaluation_Visual Accuracy": ("epoch", "val_acc_v"),
}
STREAMS = ("audio", "visual", "fused")


class TensorBoardError(TAAFError):
    """A run or a log folder that cannot be converted (one line)."""


def export(run_dir: str | Path, logdir: str | Path) -> int:
    """Write the run's scalars and attention into `logdir`; returns the number of scalar values written."""
    from torch.utils.tensorboard import SummaryWriter  # (imports tensorboard: only when exporting)

    written = 0
    with RunReader(run_dir) as r:
        frames = {"train": r.scalars("step"), "epoch": r.scalars("epoch")}
        probe_steps = r.array_steps("probe")
        names = recorded_modalities(r.meta())
        writer = SummaryWriter(log_dir=str(logdir))
        try:
            for prefix, df in frames.items():
                for key in (c for c in df.columns if c not in ("step", "epoch", "time")):
                    for step, t, value in zip(df["step"], df["time"], df[key], strict=True):
                        if value is not None and math.isfinite(value):
                            writer.add_scalar(f"{prefix}/{key}", float(value), int(step), walltime=float(t))
                            written += 1
            for step in probe_steps:
                rows = attention_rows(r.arrays(step, "probe"), names)
                if not rows:
                    continue
                mean = np.stack([np.nan_to_num(a.astype(np.float32).mean(axis=0)) for a in rows.values()])  # (S, T)
                writer.add_image("attention/alpha", mean / max(float(mean.max()), 1e-12), step, dataformats="HW")
                for stream, a in rows.items():
                    values = a[np.isfinite(a)]
                    if values.size:
                        writer.add_histogram(f"attention/{stream}", values, step)
        finally:
            writer.close()
    return written


def attention_rows(probe: dict[str, np.ndarray], names: dict[str, str]) -> dict[str, np.ndarray]:
    """stream -> (P, T) attention of a probe snapshot: our trainer's `alpha` (P, 3, T) by STREAMS, or another loop's
    `attention/<short name>` arrays (core/runlog.py) by their modality's name (`names`: short -> name), in their
    recorded order. Empty when no stream has a finite value or their lengths differ."""
    alpha = probe.get("alpha")
    if alpha is not None and alpha.ndim == 3:
        rows = {stream: alpha[:, i] for i, stream in enumerate(STREAMS[: alpha.shape[1]])}
    else:
        names = {**names, "f": "fused"}
        rows = {names.get(k.split("/", 1)[1], k.split("/", 1)[1]): v for k, v in probe.items()
                if k.startswith("attention/") and v.ndim == 2}
    shapes = {a.shape[1] for a in rows.values()}
    if len(shapes) != 1 or not any(np.isfinite(a).any() for a in rows.values()):
        return {}
    return rows


def our_name(tag: str) -> tuple[str, str]:
    """(scope, key) in the run store for an event-file tag."""
    if tag in OGM_NAMES:
        return OGM_NAMES[tag]
    for prefix, scope in (("train/", "step"), ("epoch/", "epoch")):
        if tag.startswith(prefix):
            return scope, tag[len(prefix):]
    return "step", f"tb/{tag}" if tag in ("step", "epoch", "time") else tag


def read_scalars(logdir: Path) -> dict[tuple[str, str], dict[int, float]]:
    """(scope, key) -> {step: value} of every event file under `logdir` (a later event for a step wins)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folders = sorted({p.parent for p in logdir.rglob("events.out.tfevents.*") if p.is_file()})
    if not folders:
        raise TensorBoardError(f"{logdir}: no TensorBoard event files (events.out.tfevents.*) in it")
    out: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for folder in folders:
        acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        acc.Reload()
        sub = folder.relative_to(logdir).as_posix()
        for tag in acc.Tags().get("scalars", []):
            # add_scalars: folder "<tag>_<line>" holds the line under its chart's tag
            name = tag if sub == "." else sub if sub.startswith(f"{tag}_") else f"{sub}/{tag}"
            for event in acc.Scalars(tag):
                out[our_name(name)][int(event.step)] = float(event.value)
    return out


def import_logdir(logdir: str | Path, run_dir: str | Path) -> int:
    """A new run at `run_dir` from the scalars of the event files under `logdir`; returns the values read."""
    logdir = Path(logdir)
    if not logdir.is_dir():
        raise TensorBoardError(f"{logdir}: not a folder")
    series = read_scalars(logdir)
    by_step: dict[str, dict[int, dict[str, float]]] = {"step": defaultdict(dict), "epoch": defaultdict(dict)}
    for (scope, key), values in series.items():
        for step, value in values.items():
            by_step[scope][step][key] = value
    with Run.create(run_dir, {"imported_from": str(logdir.resolve())}, nonfinite="keep",
                    meta={"strategy": "imported (TensorBoard)", "source": "tensorboard"}) as run:
        epoch_steps = sorted(by_step["epoch"])
        for step in sorted(by_step["step"]):
            epoch = int(np.searchsorted(epoch_steps, step)) if epoch_steps else 0
            run.log_scalars(step, by_step["step"][step], epoch=epoch)
        for epoch, step in enumerate(epoch_steps):
            run.log_epoch(step, by_step["epoch"][step], epoch=epoch)
        if epoch_steps:
            run.set_meta("epochs", len(epoch_steps))
    return sum(len(v) for v in series.values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m core.tensorboard", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="a run's scalars and attention into a TensorBoard log folder")
    ex.add_argument("run", type=Path)
    ex.add_argument("logdir", type=Path)
    im = sub.add_parser("import", help="event-file scalars into a new run the studio shows")
    im.add_argument("logdir", type=Path)
    im.add_argument("run", type=Path)
    args = ap.parse_args(argv)
    try:
        if args.command == "export":
            n = export(args.run, args.logdir)
            print(f"wrote {n} scalar values of {args.run} into {args.logdir} (tensorboard --logdir {args.logdir})")
        else:
            n = import_logdir(args.logdir, args.run)
            print(f"imported {n} scalar values from {args.logdir} into {args.run}")
    except TAAFError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
