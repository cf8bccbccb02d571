"""What a run's config may hold: every setting's default, the allowed choices and ranges, and the values that
saved runs predating a setting were trained with. Plain data, no torch: `core.config` loads and checks with it.

A config file under configs/ holds only what differs from DEFAULTS; `python -m core.config show FILE` prints
the full resolved config.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# A `{}` default marks a free-form table whose owner validates it (e.g. the AV-Digits degrade knobs).
DEFAULTS: dict[str, Any] = {
    "data": {
        "dataset": "avdigits",  # avdigits | cremad | ave
        "path": "sample_data/av_digits.npz",  # a file for avdigits, a folder for cremad / ave
        "batch_size": 32,
        "num_workers": 0,
        "cache_dir": ".cache/features",  # decoded features of real datasets, keyed by settings
        "avdigits": {
            "preset": "audio-dominant",  # clean | audio-dominant | hard | visual-dominant | misaligned | custom
            "degrade": {},  # knobs that override the preset's: see core/data/presets.py
        },
        "cremad": {
            "audio": "spec257",  # spec257: 257 x 188 log-STFT (OGM-GE); resized: square resize (S-CMRL)
            "audio_size": 128,  # side of the resized spectrogram when audio = "resized"
            "sample_rate": 22050,
            "seconds": 3.0,
            "n_fft": 512,
            "hop": 353,
            "frame_size": 128,  # frames resized to frame_size x frame_size
            "val_fraction": 0.1,
            "speaker_disjoint_val": False,
            "frames_dir": "Image-01-FPS",  # folder of per-clip frame folders
        },
        "ave": {
            "frames_dir": "Image-01-FPS",  # or Image-01-FPS-SE
            "audio": "wav",  # wav | npy | pickle
            "allow_pickle": False,  # pickles can execute code: opt in explicitly
            "audio_size": 128,
            "frame_size": 128,
            "audio_dir": "",  # "" = first found of Audio-1004-SE, Audios, AudioWAV, audio
            "sample_rate": 16000,  # wav only: log-STFT settings before the square resize
            "seconds": 10.0,
            "n_fft": 512,
            "hop": 160,
        },
    },
    "model": {
        "T": 4,  # common number of timesteps after alignment
        "audio_steps": 4,  # spectrogram time slices fed to the audio encoder, one per step
        "audio_context": 1,  # neighbouring slices each step also sees, on either side (0 = its slice alone)
        "visual_steps": 4,  # steps the frame is presented for
        "align": "learned",  # learned (time warp) | fixed (its initial matrix) | none (audio_steps = visual_steps = T)
        "encoding": "direct",  # direct | poisson (visual input)
        "widths": [32, 64],  # channels per encoder stage
        "blocks": 0,  # residual blocks per stage; 0 = one plain conv per stage (tiny default)
        "attn_dim": 16,  # TAAF query / key size
        "attn_temperature": 0.0,  # 0: dot-product attention scores; > 0: cosine similarity / temperature
        "tau_mem_inv": 500.0,  # 1/ms; with dt = 1 ms the membrane keeps half its potential per step
        "v_th": 0.5,
    },
    "strategy": {
        "name": "taaf",  # taaf | taaf-no-balance | taaf-uniform | concat | ogm-ge | unimodal-audio | unimodal-visual
        # how TAAF's attention alpha enters each stream's loss (docs/method.md): detached = sum_t sg(alpha) CE_t
        # + CE of the alpha-weighted prediction (alpha learns there); weighted-ce = sum_t alpha CE_t with alpha's
        # gradient (the literal reading); prediction-ce = CE of the alpha-weighted prediction alone
        "weighting": "detached",
        # fraction of ln T (uniform attention's entropy); > 0 adds mean(relu(fraction ln T - entropy(alpha)))
        # to each stream's loss, so alpha cannot collapse to one-hot (0.577: 0.80 nats at T = 4)
        "entropy_floor": 0.577,
        "coeff": "tanh",  # tanh: 1 - tanh(beta (rho - 1)); ogm: 1 - tanh(beta relu(rho))
        "beta": 1.0,
        "lambda_a": 1.0,
        "lambda_v": 1.0,
        "lambda_f": 1.0,
        "ogm_alpha": 0.8,
        "modulation_starts": 0,  # epochs (inclusive) in which OGM-GE and the TAAF balance modulate
        "modulation_ends": 50,
        "ogm_noise": True,  # OGM-GE (true) or plain OGM (false)
    },
    "optim": {
        "name": "adam",  # adam | sgd
        "lr": 0.003,
        "weight_decay": 0.0,
        "momentum": 0.9,  # sgd only (OGM-GE's reference recipe: sgd, lr 1e-3, momentum 0.9, weight decay 1e-4)
        "scheduler": "none",  # none | step | cosine (per step, from lr to 0 over the run)
        "step_size": 70,
        "gamma": 0.1,
    },
    "train": {
        "epochs": 12,
        "seed": 0,
        "device": "auto",  # auto | cpu | cuda | cuda:N
        "patience": 0,  # stop after this many epochs without a better validation accuracy; 0 = never
        "amp": False,  # bf16 autocast on CUDA
        "threads": 0,  # torch CPU threads; 0 = cores - 1, from the CLI and the studio alike (launcher.run_threads)
    },
    "record": {
        "runs_dir": "runs",
        "every_steps": 20,  # probe recording period (each probe costs about one training step)
        "probes": 8,  # fixed validation samples recorded at each probe
        "membrane_neurons": 16,
        "shapley": True,
        "energy": True,
        "progress": True,  # terminal progress bar
        "checkpoint": True,
    },
}

# The one list of each: core/strategies registers a class per name (tests/test_config_files.py holds the two
# equal) and core/balance reads WEIGHTINGS; kept here because those modules import torch and this one must not.
STRATEGY_NAMES = ("taaf", "taaf-no-balance", "taaf-uniform", "concat", "ogm-ge", "unimodal-audio", "unimodal-visual")
# How TAAF's attention alpha enters each stream's loss (docs/method.md, "Which reading of the loss").
WEIGHTINGS = ("weighted-ce", "detached", "prediction-ce")

FREE_FORM = {"data.avdigits.degrade"}  # tables whose keys are validated by their owner (core/data/presets.py)

ENUMS: dict[str, tuple[str, ...]] = {
    "data.dataset": ("avdigits", "cremad", "ave"),
    "data.avdigits.preset": ("clean", "audio-dominant", "hard", "visual-dominant", "misaligned", "custom"),
    "data.cremad.audio": ("spec257", "resized"),
    "data.ave.audio": ("wav", "npy", "pickle"),
    "model.align": ("learned", "fixed", "none"),
    "model.encoding": ("direct", "poisson"),
    "strategy.name": STRATEGY_NAMES,
    "strategy.weighting": WEIGHTINGS,
    "strategy.coeff": ("tanh", "ogm"),
    "optim.name": ("adam", "sgd"),
    "optim.scheduler": ("none", "step", "cosine"),
}

_pos = (lambda v: v > 0, "a number > 0")
_nonneg = (lambda v: v >= 0, "a number >= 0")
_ge1 = (lambda v: v >= 1, "an integer >= 1")
CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "data.batch_size": _ge1,
    "data.num_workers": _nonneg,
    "model.T": _ge1,
    "model.audio_steps": _ge1,
    "model.audio_context": _nonneg,
    "model.visual_steps": _ge1,
    "model.widths": (
        lambda v: len(v) >= 1 and all(isinstance(w, int) and w >= 1 for w in v),
        "a non-empty list of integers >= 1",
    ),
    "model.blocks": _nonneg,
    "model.attn_dim": _ge1,
    "model.attn_temperature": _nonneg,
    "model.tau_mem_inv": _pos,
    "model.v_th": _pos,
    "strategy.beta": _nonneg,
    "strategy.entropy_floor": (lambda v: 0 <= v < 1, "a fraction in [0, 1) of ln(model.T)"),
    "strategy.ogm_alpha": _nonneg,
    "optim.lr": _pos,
    "optim.weight_decay": _nonneg,
    "optim.momentum": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "optim.gamma": _pos,
    "optim.step_size": _ge1,
    "train.epochs": _ge1,
    "train.patience": _nonneg,
    "train.threads": _nonneg,
    "train.device": (lambda v: v in ("auto", "cpu", "cuda") or bool(re.fullmatch(r"cuda:\d+", v)),
                     "auto, cpu, cuda or cuda:N"),
    "record.every_steps": _ge1,
    "record.probes": _ge1,
    "record.membrane_neurons": _nonneg,
    "data.cremad.val_fraction": (lambda v: 0 < v < 1, "a fraction in (0, 1)"),
    **{f"data.{d}.{k}": _ge1 for d in ("cremad", "ave") for k in ("audio_size", "frame_size", "sample_rate", "n_fft")},
    "data.cremad.hop": _ge1,
    "data.ave.hop": _ge1,
    "data.cremad.seconds": _pos,
    "data.ave.seconds": _pos,
}


# Settings added after runs were first saved, with the value the code had before them: a saved run's config
# that lacks one is read with that value, so --resume and Inspect rebuild the run that was trained (DEFAULTS
# give a new run the current reading).
SAVED_RUN_FALLBACKS: dict[str, Any] = {
    "strategy.weighting": "weighted-ce",  # the literal reading, before issue 12
    "strategy.entropy_floor": 0.0,
    "model.attn_temperature": 0.0,
}
