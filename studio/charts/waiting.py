"""What an empty panel says while a run is young: in plain words, when it will fill (pure; no Streamlit).

Panels fill at three moments of a run (core/train.py): the step curves from the second logged step, the
attention and spike panels at the first probe (step 1, then every `record.every_steps` steps), and the
per-epoch panels (validation gap, Shapley, epochs to 90 %, energy) when the first epoch's validation ends.
"""

from __future__ import annotations

import math

import pandas as pd

STEP_PANELS = frozenset({"loss", "lr", "rates", "entropy"})
PROBE_PANELS = frozenset({"alpha", "alpha_now", "raster", "membrane"})
EPOCH_PANELS = frozenset({"imb", "val_gap", "shapley", "epochs90", "energy", "verdict"})
CURVE_STEPS = 2  # studio/charts/curves.py MIN_STEPS: a line needs two points


def about(seconds: float | None) -> str:
    """A duration as people say it: "a few seconds", "about 40 s", "about 3 min"."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    if seconds < 10:
        return "a few seconds"
    if seconds < 90:
        return f"about {int(round(seconds, -1 if seconds >= 20 else 0))} s"
    return f"about {round(seconds / 60)} min"


def recent_step_time(steps: pd.DataFrame | None, window: int = 20) -> float | None:
    """Seconds per training step lately: from the trainer's `elapsed_s` clock, else batch / samples_per_s."""
    if steps is None or len(steps) < 2:
        return None
    tail = steps.tail(window + 1)
    if "elapsed_s" in tail.columns and "step" in tail.columns:
        d = tail[["step", "elapsed_s"]].dropna()
        if len(d) >= 2 and d["step"].iloc[-1] > d["step"].iloc[0]:
            per = (d["elapsed_s"].iloc[-1] - d["elapsed_s"].iloc[0]) / (d["step"].iloc[-1] - d["step"].iloc[0])
            if per > 0:
                return float(per)
    return None


def fills_when(panel: str, steps_done: int, steps_per_epoch: int | None, step_time_s: float | None,
               every_steps: int, epochs_done: int = 0) -> str | None:
    """The sentence an empty `panel` shows, or None when the run has what the panel draws.

    steps_done: training steps logged so far; steps_per_epoch: from the run's meta (None: unknown);
    step_time_s: recent seconds per step (recent_step_time); every_steps: record.every_steps.
    """
    def eta(n: int) -> str:  # ", about 40 s" for n more steps, when the step time is known
        return f", {about(n * step_time_s)}" if step_time_s and about(n * step_time_s) else ""

    if panel in STEP_PANELS:
        if steps_done >= CURVE_STEPS:
            return None
        if steps_done == 0:
            return "Fills when training starts: the curves begin at the second training step."
        return f"Fills at the next training step{eta(1)}: a curve needs two steps."
    if panel in PROBE_PANELS:
        if steps_done >= 1:
            return None
        return (f"Fills at the first training step: the probe samples are recorded then and every "
                f"{every_steps} steps after.")
    if panel in EPOCH_PANELS:
        if epochs_done >= 1:
            return None
        if not steps_per_epoch:
            return "Fills after the first epoch, when the validation set is evaluated."
        left = max(steps_per_epoch - steps_done, 0)
        if left == 0:
            return "Fills in a moment: the first epoch's validation is running."
        return (f"Fills after the first epoch: {left} more training step{'s' if left != 1 else ''}"
                f"{eta(left)}, then validation.")
    raise ValueError(f"panel {panel!r}: expected one of {sorted(STEP_PANELS | PROBE_PANELS | EPOCH_PANELS)}")


def note_for(panel: str, steps: pd.DataFrame | None, epochs: pd.DataFrame | None, meta: dict,
             config: dict) -> str | None:
    """fills_when from what a page holds of a run: its step and epoch frames, meta and config."""
    n_epochs = 0 if epochs is None or epochs.empty else len(epochs)
    steps_done = int(steps["step"].iloc[-1]) if steps is not None and len(steps) and "step" in steps else 0
    every = int((config.get("record") or {}).get("every_steps") or 1)
    spe = meta.get("steps_per_epoch")
    return fills_when(panel, steps_done, int(spe) if spe else None, recent_step_time(steps), every, n_epochs)

