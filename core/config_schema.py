"""What a run's config may hold: every setting's default, the allowed choices and ranges, and the values that
saved runs predating a setting were trained with. Plain data, no torch: `core.config` loads and checks with it.

A config file under configs/ holds only what differs from DEFAULTS; `python -m core.config show FILE` prints
the full resolved config.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from core.data.registry import LOADERS

# A `{}` default marks a free-form table whose owner validates it (e.g. the AV-Digits degrade knobs).
DEFAULTS: dict[str, Any] = {
    "data": {
        "dataset": "avdigits",  # avdigits | avdigits-t | cremad | ave
        # a file for avdigits (avdigits-t reads its own bundled file while this is left at the default), a folder for
        # cremad / ave
        "path": "sample_data/av_digits.npz",
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
            "audio": "wav",  # wav | npy | pickle (pickle also needs --allow-pickle on the command line)
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
        # learned (time warp) | fixed (its initial matrix) | none (audio_steps = visual_steps = T) | cross (fixed,
        # then the fused head's visual features attended per sample from each audio step: core/align.py CrossAlign)
        "align": "learned",
        "encoding": "direct",  # direct | poisson (visual input)
        "widths": [32, 64],  # channels per encoder stage
        "blocks": 0,  # residual blocks per stage; 0 = one plain conv per stage (tiny default)
        "attn_dim": 16,  # TAAF query / key size
        "attn_temperature": 0.0,  # 0: dot-product attention scores; > 0: cosine similarity / temperature
        "tau_mem_inv": 500.0,  # 1/ms; with dt = 1 ms the membrane keeps half its potential per step
        "v_th": 0.5,
    },
    "strategy": {
        # taaf | taaf-no-balance | taaf-uniform | concat | ogm-ge | unimodal-audio | unimodal-visual, and the
        # attribution baselines concat-aux | late-fusion | concat-balance (docs/method.md)
        "name": "taaf",
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
        # linear probes of each frozen encoder (core/linear_probe.py) per epoch, evenly spaced, the last at the
        # epoch's end (0 = none); fitted on `linear_probe_samples` fixed training samples, scored on validation
        "linear_probes_per_epoch": 0,  # off by default (+18 % of a step each); the report asks for 2
        "linear_probe_samples": 256,
    },
}

# The one list of each: core/strategies registers a class per name (tests/test_config_files.py holds the two
# equal) and core/balance reads WEIGHTINGS; kept here because those modules import torch and this one must not.
STRATEGY_NAMES = ("taaf", "taaf-no-balance", "taaf-uniform", "concat", "ogm-ge", "unimodal-audio", "unimodal-visual",
                  "concat-aux", "late-fusion", "concat-balance")
# How TAAF's attention alpha enters each stream's loss (docs/method.md, "Which reading of the loss").
WEIGHTINGS = ("weighted-ce", "detached", "prediction-ce")

FREE_FORM = {"data.avdigits.degrade"}  # tables whose keys are validated by their owner (core/data/presets.py)

ENUMS: dict[str, tuple[str, ...]] = {
    "data.dataset": tuple(LOADERS),  # the dataset registry is the one list
    "data.avdigits.preset": ("clean", "audio-dominant", "hard", "visual-dominant", "misaligned", "custom"),
    "data.cremad.audio": ("spec257", "resized"),
    "data.ave.audio": ("wav", "npy", "pickle"),
    "model.align": ("learned", "fixed", "none", "cross"),
    "model.encoding": ("direct", "poisson"),
    "strategy.name": STRATEGY_NAMES,
    "strategy.weighting": WEIGHTINGS,
    "strategy.coeff": ("tanh", "ogm"),
    "optim.name": ("adam", "sgd"),
    "optim.scheduler": ("none", "step", "cosine"),
}


def _in(lo: float, hi: float, lo_open: bool = False) -> tuple[Callable[[Any], bool], str]:
    """lo <= v <= hi (lo < v when lo_open). Every number has an upper bound: a copied run's config.json is checked
    the same way, and `model.T = 1000000000` would otherwise be built until the trainer is killed for memory."""
    kind = "an integer" if isinstance(lo, int) and isinstance(hi, int) else "a number"
    return ((lambda v: (lo < v if lo_open else lo <= v) and v <= hi),
            f"{kind} {'>' if lo_open else '>='} {lo:g} and <= {hi:g}")


_BIG = 1e6  # coefficients, thresholds and rates: far beyond any sensible value, still finite
CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "data.batch_size": _in(1, 65_536),
    "data.num_workers": _in(0, 256),
    "model.T": _in(1, 1024),
    "model.audio_steps": _in(1, 1024),
    "model.audio_context": _in(0, 64),
    "model.visual_steps": _in(1, 1024),
    "model.widths": (
        lambda v: 1 <= len(v) <= 16 and all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= 4096
                                            for w in v),
        "a list of 1 to 16 integers in [1, 4096]",
    ),
    "model.blocks": _in(0, 64),
    "model.attn_dim": _in(1, 4096),
    "model.attn_temperature": _in(0.0, _BIG),
    "model.tau_mem_inv": _in(0, _BIG, lo_open=True),
    "model.v_th": _in(0, _BIG, lo_open=True),
    "strategy.beta": _in(0, _BIG),
    "strategy.entropy_floor": (lambda v: 0 <= v < 1, "a fraction in [0, 1) of ln(model.T)"),
    "strategy.lambda_a": _in(0, _BIG),
    "strategy.lambda_v": _in(0, _BIG),
    "strategy.lambda_f": _in(0, _BIG),
    "strategy.ogm_alpha": _in(0, _BIG),
    "strategy.modulation_starts": _in(0, 1_000_000),
    "strategy.modulation_ends": _in(0, 1_000_000),
    "optim.lr": _in(0.0, 1e3, lo_open=True),
    "optim.weight_decay": _in(0, 1e3),
    "optim.momentum": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "optim.gamma": _in(0, 1e3, lo_open=True),
    "optim.step_size": _in(1, 1_000_000),
    "train.epochs": _in(1, 100_000),
    "train.seed": _in(0, 2**31 - 1),
    "train.patience": _in(0, 100_000),
    "train.threads": _in(0, 1024),
    "train.device": (lambda v: v in ("auto", "cpu", "cuda") or bool(re.fullmatch(r"cuda:\d{1,3}", v)),
                     "auto, cpu, cuda or cuda:N"),
    "record.every_steps": _in(1, 1_000_000_000),
    "record.probes": _in(1, 1024),
    "record.membrane_neurons": _in(0, 4096),
    "record.linear_probes_per_epoch": _in(0, 1000),
    "record.linear_probe_samples": _in(20, 1_000_000),
    "data.cremad.val_fraction": (lambda v: 0 < v < 1, "a fraction in (0, 1)"),
    **{f"data.{d}.{k}": _in(1, 4096) for d in ("cremad", "ave") for k in ("audio_size", "frame_size")},
    **{f"data.{d}.sample_rate": _in(1, 384_000) for d in ("cremad", "ave")},
    **{f"data.{d}.{k}": _in(1, 65_536) for d in ("cremad", "ave") for k in ("n_fft", "hop")},
    **{f"data.{d}.seconds": _in(0, 3600, lo_open=True) for d in ("cremad", "ave")},
}


# Settings that no longer exist, with why: a config file that sets one is refused with this line; a saved run's
# config.json that holds one is read with it ignored. Trusting pickles was a setting, so a copied run folder could
# switch on code execution; it is a command-line flag now (--allow-pickle), never read from a file.
REMOVED: dict[str, str] = {
    "data.ave.allow_pickle": "is no longer a setting: a config file must not switch on loading pickles "
                             "(they can run code); pass --allow-pickle on the command line instead",
}

# Settings added after runs were first saved, with the value the code had before them: a saved run's config
# that lacks one is read with that value, so --resume and Inspect rebuild the run that was trained (DEFAULTS
# give a new run the current reading).
SAVED_RUN_FALLBACKS: dict[str, Any] = {
    "strategy.weighting": "weighted-ce",  # the literal reading, before issue 12
    "strategy.entropy_floor": 0.0,
    "model.attn_temperature": 0.0,
    "record.linear_probes_per_epoch": 0,  # no linear probes before issue 22
}
