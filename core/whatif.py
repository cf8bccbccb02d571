"""Load a trained run and ask what-if questions of one sample (the studio's Inspect page uses this)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import checkpoint
from core.build import build_run
from core.config import saved_run_config
from core.data import DataBundle
from core.data.presets import corrupt_sample
from core.model import MultimodalSNN
from core.recorder import probe_arrays, probe_forward
from core.store import RunReader
from core.store.paths import inside_run
from core.strategies import Strategy
from core.taaf import MODALITIES


@dataclass
class Trained:
    run_dir: Path
    cfg: dict[str, Any]
    model: MultimodalSNN
    strategy: Strategy
    bundle: DataBundle
    layers: list[str]
    T: int


def load_trained(run_dir: str | Path, which: str = "best", trust_pickles: bool = False) -> Trained:
    """The run's config, data and its best-on-validation (or last) checkpoint, in eval mode on the CPU.
    `trust_pickles`: the user's --allow-pickle (core.evaluate); the studio never passes it."""
    run_dir = Path(run_dir)
    cfg = saved_run_config(RunReader(run_dir).config(), str(run_dir / "config.json"))
    cfg["train"]["device"] = "cpu"
    built = build_run(cfg, trust_pickles)
    model = built.model
    checkpoint.load(inside_run(run_dir, f"checkpoints/{which}.pt", "checkpoint"), model, None)
    model.eval()
    return Trained(run_dir, cfg, model, built.strategy, built.bundle, [m.name for m in model.lif_layers()], model.T)


@torch.no_grad()
def what_if(trained: Trained, index: int, knobs: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """One test sample, corrupted as `knobs` says; its rasters, alpha and the prediction building up.

    knobs: any of core/data/presets.py KNOBS (audio_snr_db with inf = off, audio_dropout, visual_noise,
    occlusion, visual_dropout) plus drop_audio / drop_visual flags that drop a modality outright.
    Re-entrant: the shared eval-mode model is only read, and one forward pass with its own generator
    gives every output (the same answer for the same arguments, whoever else is calling).
    """
    audio, visual, label = trained.bundle.test[index]
    # The undamaged sample's value ranges: the page draws the damaged one on these fixed colour scales. A
    # dropped spectrogram is filled with its own minimum (the log-mel floor: silence), a dropped frame with 0.
    ranges = {"audio_range": (float(np.asarray(audio).min()), float(np.asarray(audio).max())),
              "visual_range": (min(0.0, float(np.asarray(visual).min())), float(np.asarray(visual).max()))}
    audio, visual = corrupt_sample(np.asarray(audio), np.asarray(visual), knobs, np.random.default_rng(seed),
                                   audio_norm=getattr(trained.bundle.test, "audio_norm", None))
    a = torch.as_tensor(audio, dtype=torch.float32)[None]
    v = torch.as_tensor(visual, dtype=torch.float32)[None]
    y = torch.tensor([int(label)])
    out, recorded = probe_forward(trained.model, a, v, torch.Generator().manual_seed(seed))
    arrays = probe_arrays(out, recorded, y, membrane_neurons=16)
    # Prediction from timesteps <= t: the alpha-weighted partial sum, renormalised over the steps seen.
    alpha_f, logits_f = out.alpha["f"][0], out.logits["f"][:, 0]  # (T,), (T, C)
    weights = alpha_f.cumsum(0).clamp_min(1e-8)
    partial = (alpha_f[:, None] * logits_f).cumsum(0) / weights[:, None]
    pred = trained.strategy.predictions(trained.model, out)["f"][0]
    result: dict[str, Any] = {k: v[0] for k, v in arrays.items() if k != "labels"}
    result.update(
        audio=audio,
        visual=visual,
        build_up=partial.softmax(-1).numpy(),
        label=int(label),
        pred=int(pred.argmax()),
        pred_probs=pred.softmax(-1).numpy(),
        streams=list(MODALITIES),
        **ranges,
    )
    return result
