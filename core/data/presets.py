"""AV-Digits imbalance presets: named sets of degradation knobs, applied once at load time with a fixed seed.

Knobs (all "off" by default; `custom` = all off unless set in `data.avdigits.degrade`):

- `audio_window`: frames of a longer silent window that each spectrogram is placed into at a random
  offset (0 = off; must be at least the stored length). The word's onset then varies over the whole
  window, so audio time and the (static) frame no longer line up: the `misaligned` preset's knob.
- `audio_snr_db`: white noise added at this SNR in the mel-POWER domain. The features are natural-log
  mel power, so a sample is corrupted as `log(exp(audio) + noise)`, where `noise` is flat across mel
  bands and frames (Gamma-distributed per cell, shape NOISE_SHAPE) with mean power
  `mean(exp(audio)) / 10**(snr / 10)`: the SNR is measured over the whole 1 s window of that sample.
  `inf` = no noise.
- `audio_dropout`: probability that a spectrogram is replaced by silence (the array's minimum, i.e.
  the log power floor).
- `visual_noise`: std of Gaussian pixel noise in the ORIGINAL 0..16 pixel units (method.md's
  "noise 6"); the image is in [0, 1], so the std applied is `visual_noise / 16`, then clipped to [0, 1].
- `occlusion`: side in pixels of one random square per image set to 0 (background), fully inside.
- `visual_dropout`: probability that an image is blanked (all zeros).

Order: audio window, audio noise (so the SNR covers the whole window), audio dropout; occlusion, visual
noise, visual dropout. In `apply` each knob has
its own random stream, so turning one knob does not change what another one draws.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.errors import ConfigError

NOISE_SHAPE = 4.0  # Gamma shape of the per-cell noise power: mean-preserving, fluctuations like a few-bin band

KNOBS: dict[str, dict[str, Any]] = {
    "audio_window": {"default": 0, "min": 0, "max": 4096,
                     "help": "frames of a silent window each spectrogram is placed in at a random offset; 0 = off"},
    "audio_snr_db": {"default": math.inf, "min": -30.0, "max": math.inf,
                     "help": "audio white noise at this SNR in dB (mel-power domain); inf = off"},
    "audio_dropout": {"default": 0.0, "min": 0.0, "max": 1.0,
                      "help": "probability a spectrogram is replaced by silence"},
    "visual_noise": {"default": 0.0, "min": 0.0, "max": 64.0,
                     "help": "Gaussian pixel noise std in original 0..16 pixel units"},
    "occlusion": {"default": 0, "min": 0, "max": 64,
                  "help": "side in pixels of a random zeroed square per image; 0 = off"},
    "visual_dropout": {"default": 0.0, "min": 0.0, "max": 1.0,
                       "help": "probability an image is blanked (all zeros)"},
}

PRESETS: dict[str, dict[str, Any]] = {
    "clean": {},
    "audio-dominant": {"visual_noise": 6.0, "occlusion": 3},
    "hard": {"audio_snr_db": -5.0, "visual_noise": 6.0, "occlusion": 3},
    "visual-dominant": {"audio_snr_db": -10.0},
    # twice the audio window, the word anywhere in it; images as in audio-dominant, so both modalities count
    "misaligned": {"audio_window": 64, "visual_noise": 6.0, "occlusion": 3},
    "custom": {},
}
# Model settings a preset is meant to be trained with (configs/*-misaligned.toml and the report use them).
PRESET_MODEL: dict[str, dict[str, Any]] = {
    "misaligned": {"audio_steps": 8, "visual_steps": 4, "T": 4},
}

SAMPLE_FLAGS = {"drop_audio": "audio_dropout", "drop_visual": "visual_dropout"}  # corrupt_sample only

PRESET_HELP: dict[str, str] = {
    "clean": "no degradation: vision dominates (8x8 digits are easy)",
    "audio-dominant": "noisy, occluded images: audio is the stronger modality",
    "hard": "both modalities degraded to about the same, weak level",
    "visual-dominant": "audio buried in noise (-10 dB): vision dominates strongly",
    "misaligned": "the word at a random onset in a 2 s window (audio 8 steps, frame 4): work for the aligner",
    "custom": "every knob off unless set in data.avdigits.degrade",
}


def defaults() -> dict[str, Any]:
    """Every knob at its 'off' value."""
    return {k: spec["default"] for k, spec in KNOBS.items()}


def _check(key: str, value: Any) -> Any:
    spec = KNOBS[key]
    where = f"data.avdigits.degrade.{key}"
    if value is None or value == "off":
        return spec["default"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(f"{where} = {value!r}: expected a number ({spec['help']})")
    if isinstance(spec["default"], int) and not isinstance(spec["default"], bool):
        if not math.isfinite(value) or float(value) != int(value):
            raise ConfigError(f"{where} = {value!r}: expected an integer")
        value = int(value)
    else:
        value = float(value)
    if not spec["min"] <= value <= spec["max"]:
        raise ConfigError(f"{where} = {value!r}: expected a value in [{spec['min']}, {spec['max']}]")
    return value


def resolve(preset: str, degrade: dict[str, Any] | None = None) -> dict[str, Any]:
    """Knob values of `preset`, overridden by the user's `degrade` table; every knob present in the result."""
    if preset not in PRESETS:
        raise ConfigError(f"data.avdigits.preset = {preset!r}: expected one of {', '.join(PRESETS)}")
    return complete({**PRESETS[preset], **(degrade or {})})


def complete(knobs: dict[str, Any]) -> dict[str, Any]:
    """Every knob, checked: missing ones off; None or "off" = off; an unknown name -> ConfigError."""
    out = defaults()
    for key, value in knobs.items():
        if key not in KNOBS:
            raise ConfigError(f"data.avdigits.degrade.{key}: unknown knob (known knobs: {', '.join(KNOBS)})")
        out[key] = _check(key, value)
    return out


def active(knobs: dict[str, Any]) -> dict[str, Any]:
    """Only the knobs that differ from 'off' (for run names, legends and the README table)."""
    return {k: v for k, v in knobs.items() if v != KNOBS[k]["default"]}


# --- the degradations, on batches: audio (N, F, L) log-mel power, visual (N, ..., H, W) in [0, 1] ---

def place_in_window(audio: np.ndarray, frames: int, silence: float, rng: np.random.Generator) -> np.ndarray:
    """Each (F, L) spectrogram at a random offset (uniform, in frames) in a `frames`-long silent window."""
    length = audio.shape[-1]
    if frames <= 0 or frames == length:
        return audio
    if frames < length:
        raise ConfigError(f"data.avdigits.degrade.audio_window = {frames}: expected 0 or at least the "
                          f"spectrogram length ({length} frames)")
    offsets = rng.integers(0, frames - length + 1, audio.shape[0])
    out = np.full((*audio.shape[:-1], frames), silence, dtype=audio.dtype)
    for i, o in enumerate(offsets):
        out[i, ..., o : o + length] = audio[i]
    return out


def add_audio_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """log(exp(a) + n): flat mel-power noise whose mean is the sample's mean power / 10**(snr/10)."""
    if not math.isfinite(snr_db):
        return audio
    power = np.exp(audio.astype(np.float64))
    noise_mean = power.mean(axis=(-2, -1), keepdims=True) / 10 ** (snr_db / 10)
    noise = rng.gamma(NOISE_SHAPE, 1.0 / NOISE_SHAPE, size=audio.shape) * noise_mean
    return np.log(power + noise).astype(np.float32)


def drop(x: np.ndarray, p: float, fill: float, rng: np.random.Generator) -> np.ndarray:
    """Replace each sample (axis 0) by `fill` with probability p."""
    if p <= 0:
        return x
    hit = rng.random(x.shape[0]) < p
    out = x.copy()
    out[hit] = fill
    return out


def occlude(visual: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    """Zero one random side x side square (fully inside the image) per sample."""
    if side <= 0:
        return visual
    h, w = visual.shape[-2:]
    sh, sw = min(side, h), min(side, w)
    rows = rng.integers(0, h - sh + 1, visual.shape[0])
    cols = rng.integers(0, w - sw + 1, visual.shape[0])
    out = visual.copy()
    for i, (r, c) in enumerate(zip(rows, cols, strict=True)):
        out[i, ..., r : r + sh, c : c + sw] = 0.0
    return out


def add_visual_noise(visual: np.ndarray, std16: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian pixel noise, std given in 0..16 units, clipped back to [0, 1]."""
    if std16 <= 0:
        return visual
    noisy = visual + rng.normal(0.0, std16 / 16.0, size=visual.shape)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def _degrade(audio: np.ndarray, visual: np.ndarray, knobs: dict[str, Any], rngs: list[np.random.Generator],
             silence: float) -> tuple[np.ndarray, np.ndarray]:
    k = complete(knobs)
    audio = place_in_window(audio, int(k["audio_window"]), silence, rngs[5])
    audio = add_audio_noise(audio, float(k["audio_snr_db"]), rngs[0])
    audio = drop(audio, float(k["audio_dropout"]), silence, rngs[1])
    visual = occlude(visual, int(k["occlusion"]), rngs[2])
    visual = add_visual_noise(visual, float(k["visual_noise"]), rngs[3])
    visual = drop(visual, float(k["visual_dropout"]), 0.0, rngs[4])
    return audio, visual


def apply(arrays: dict[str, np.ndarray], knobs: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    """A copy of `arrays` with `audio` and `visual` degraded; same seed and knobs -> same arrays."""
    # spawn(6)'s first five children are spawn(5)'s: the knobs that existed before audio_window draw as before
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    silence = float(arrays["audio"].min())
    audio, visual = _degrade(arrays["audio"], arrays["visual"], knobs, rngs, silence)
    return {**arrays, "audio": audio, "visual": visual}


def corrupt_sample(audio: Any, visual: Any, knobs: dict[str, Any], rng: np.random.Generator,
                   silence: float | None = None, audio_norm: tuple[float, float] | None = None,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Degrade ONE sample (what-if page): audio (F, L), visual (H, W) or (C, H, W); returns float32 arrays.

    Besides the knobs, `drop_audio` / `drop_visual` = True drop that modality (dropout probability 1).
    `silence` fills a dropped spectrogram (default: the sample's minimum). `audio_norm` = (mean, std)
    when `audio` is a standardised loader item (see core.data.avdigits): it is undone before the
    corruption, which works on log power, and redone after.
    """
    knobs = dict(knobs)
    for flag, knob in SAMPLE_FLAGS.items():  # what-if page's "drop a modality" checkboxes
        if knobs.pop(flag, False):
            knobs[knob] = 1.0
    a = np.asarray(audio, dtype=np.float32)
    v = np.asarray(visual, dtype=np.float32)
    if audio_norm is not None:
        a = a * audio_norm[1] + audio_norm[0]
    fill = float(a.min()) if silence is None else silence
    a2, v2 = _degrade(a[None], v[None], knobs, [rng] * 6, fill)
    a2 = a2[0]
    if audio_norm is not None:
        a2 = (a2 - audio_norm[0]) / audio_norm[1]
    return a2.astype(np.float32), v2[0].astype(np.float32)
