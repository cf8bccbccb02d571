"""Does attention find the events? Per probe sample, the correlation between a stream's attention over the T
timesteps and where its event really is (AV-Digits-T records each probe's word and visual event).

    python -m core.attention_events runs/<name> [--step N]

The event's share of each timestep is its overlap with the step's span of the input (a timestep t covers the
fraction [t / T, (t + 1) / T) of the sequence, as the fixed resampling does; the learned warp starts there).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

STREAMS = {"audio": (0, 0, 1), "visual": (1, 2, 3)}  # stream -> (alpha row, events column on, off)


def coverage(on: float, off: float, length: int, steps: int) -> np.ndarray:
    """(steps,) share of each timestep's span covered by the event [on, off) of a `length`-frame input."""
    edges = np.arange(steps + 1) * length / steps
    overlap = np.clip(np.minimum(edges[1:], off) - np.maximum(edges[:-1], on), 0, None)
    return overlap / (length / steps)


def correlations(alpha: np.ndarray, events: np.ndarray, frames: dict[str, int]) -> dict[str, np.ndarray]:
    """stream -> (P,) Pearson correlation of alpha (P, 3, T) with each probe's event coverage (NaN where either
    is constant over the timesteps)."""
    steps = alpha.shape[-1]
    out = {}
    for stream, (row, on, off) in STREAMS.items():
        values = []
        for a, ev in zip(alpha[:, row], events, strict=True):
            c = coverage(float(ev[on]), float(ev[off]), frames[stream], steps)
            values.append(np.nan if a.std() < 1e-9 or c.std() < 1e-9 else float(np.corrcoef(a, c)[0, 1]))
        out[stream] = np.array(values)
    return out


def summary(run_dir: Path, step: int | None = None) -> str:
    from core.store import RunReader

    r = RunReader(run_dir)
    steps = r.array_steps()
    if not steps:
        raise SystemExit(f"error: {run_dir}: no probe snapshots")
    step = steps[-1] if step is None else step
    probe = r.arrays(step)
    if "events" not in probe:
        raise SystemExit(f"error: {run_dir}: its probes record no event positions (an AV-Digits-T run has them)")
    frames = r.meta().get("input_frames") or {}
    corr = correlations(probe["alpha"], probe["events"], frames)
    lines = [f"{run_dir} step {step}: correlation of each probe's attention with where its event is (T = "
             f"{probe['alpha'].shape[-1]}, {len(probe['events'])} probes)"]
    for stream, c in corr.items():
        ok = c[np.isfinite(c)]
        per = " ".join("  nan" if not np.isfinite(v) else f"{v:+.2f}" for v in c)
        mean = f"mean {ok.mean():+.2f}" if len(ok) else "no finite value"
        lines.append(f"  {stream:6s} {mean}; per probe: {per}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--step", type=int, default=None, help="probe snapshot step (default: the last)")
    args = ap.parse_args(argv)
    print(summary(args.run, args.step))
    return 0


if __name__ == "__main__":
    sys.exit(main())
