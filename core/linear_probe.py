"""Per-modality accuracy that means the same thing for every strategy: a linear probe on each frozen encoder.

TAAF's audio / visual accuracies come from trained heads, concat's and OGM-GE's from weight slices of the fused
layer, so their columns measure different things. A probe measures what the encoder's features hold: the
time-averaged (pooled) aligned features of a fixed subset of the TRAIN split fit a multinomial logistic
regression (scikit-learn, features standardised on that subset), which is scored on another split (validation
while training; test once, on the best-on-validation checkpoint). The encoders are not changed by it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch.utils.data import Dataset

from core.data.common import iterate_batches

MAX_ITER = 200  # lbfgs iterations: enough on these sizes; a probe that stops early still scores what it fit
PROBE_SEED = 104_729  # the subset and the Poisson draws (if any) are fixed for the whole run


def probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    """Fit a standardised multinomial logistic regression on (train_x, train_y); its accuracy on (test_x, test_y)."""
    if len(np.unique(train_y)) < 2:  # nothing to separate: the probe predicts the one class it saw
        return float(np.mean(test_y == train_y[0]))
    scaler = StandardScaler().fit(train_x)
    # One BLAS thread: the fit is small, and a thread per core fighting the trainer (or runs side by side) made
    # it 100x slower on the 2-core machine (6.5 s against 0.06 s for 256 x 1024 features).
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(max_iter=MAX_ITER).fit(scaler.transform(train_x), train_y)
    return float(clf.score(scaler.transform(test_x), test_y))


@torch.no_grad()
def pooled_features(model: torch.nn.Module, dataset: Dataset, indices: torch.Tensor | None, batch_size: int,
                    device: torch.device) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(audio features (N, D_a), visual features (N, D_v), labels (N,)): each encoder's aligned features, mean
    over time, in eval mode (the model's mode is put back)."""
    was_training = model.training
    model.eval()
    gen = torch.Generator(device=device).manual_seed(PROBE_SEED)  # never the global RNG: training replays exactly
    fa, fv, ys = [], [], []
    try:
        for audio, visual, y in iterate_batches(dataset, batch_size, order=indices):
            fa.append(model.encode_audio(audio.to(device)).mean(dim=0).float().cpu())
            fv.append(model.encode_visual(visual.to(device), gen).mean(dim=0).float().cpu())
            ys.append(y.cpu())
    finally:
        model.train(was_training)
    return torch.cat(fa).numpy(), torch.cat(fv).numpy(), torch.cat(ys).numpy()


class LinearProbe:
    """Probes of a run: a fixed subset of `train` (the same at every call), fitted on the model's features now."""

    def __init__(self, train: Dataset, samples: int, seed: int, batch_size: int, device: torch.device) -> None:
        g = torch.Generator().manual_seed(seed + PROBE_SEED)
        self.train, self.batch_size, self.device = train, batch_size, device
        self.indices = torch.randperm(len(train), generator=g)[: min(samples, len(train))].sort().values

    def __call__(self, model: torch.nn.Module, scored_on: Dataset) -> dict[str, Any]:
        """{"probe_acc_a", "probe_acc_v"}: accuracy on `scored_on` of probes fitted on the train subset."""
        ta, tv, ty = pooled_features(model, self.train, self.indices, self.batch_size, self.device)
        sa, sv, sy = pooled_features(model, scored_on, None, self.batch_size, self.device)
        return {"probe_acc_a": probe_accuracy(ta, ty, sa, sy), "probe_acc_v": probe_accuracy(tv, ty, sv, sy)}


def run_probe(cfg: dict[str, Any], train: Dataset, device: torch.device) -> LinearProbe | None:
    """The trainer's probe, or None when `record.linear_probes_per_epoch` = 0."""
    if not cfg["record"]["linear_probes_per_epoch"]:
        return None
    return LinearProbe(train, cfg["record"]["linear_probe_samples"], cfg["train"]["seed"], cfg["data"]["batch_size"],
                       device)


def due_mid_epoch(step: int, per_epoch: int, steps_per_epoch: int) -> bool:
    """Step (numbered from 1) k of an epoch is probed when k = round(j steps_per_epoch / per_epoch) for some
    j < per_epoch; the epoch's last step (j = per_epoch) is probed by the epoch's end, with validation."""
    k = (step - 1) % steps_per_epoch + 1
    return k < steps_per_epoch and any(k == round(j * steps_per_epoch / per_epoch) for j in range(1, per_epoch))


def timed(probe: LinearProbe, model: torch.nn.Module, scored_on: Dataset) -> dict[str, float]:
    """The probe's scalars plus `linear_probe_s`, its wall time (what it adds to training)."""
    import time

    t0 = time.perf_counter()
    out = probe(model, scored_on)
    return {**out, "linear_probe_s": time.perf_counter() - t0}
