"""Every setting of a run, in one TOML file: defaults, loading, `--set` overrides and validation.

A config is a plain nested dict (`cfg["model"]["T"]`). Unknown keys and bad values are
rejected with one line naming the key, the value and what was expected.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import ConfigError

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
        "threads": 0,  # torch CPU threads; 0 = torch's choice
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

FREE_FORM = {"data.avdigits.degrade"}  # tables whose keys are validated by their owner (core/data/presets.py)

ENUMS: dict[str, tuple[str, ...]] = {
    "data.dataset": ("avdigits", "cremad", "ave"),
    "data.avdigits.preset": ("clean", "audio-dominant", "hard", "visual-dominant", "misaligned", "custom"),
    "data.cremad.audio": ("spec257", "resized"),
    "data.ave.audio": ("wav", "npy", "pickle"),
    "model.align": ("learned", "fixed", "none"),
    "model.encoding": ("direct", "poisson"),
    "strategy.name": (
        "taaf", "taaf-no-balance", "taaf-uniform", "concat", "ogm-ge", "unimodal-audio", "unimodal-visual"
    ),
    "strategy.weighting": ("weighted-ce", "detached", "prediction-ce"),
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


def parse_value(text: str) -> Any:
    """A `--set` value: a TOML literal (1, 0.5, true, [16, 32], "x") or else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _merge(base: dict, user: dict, where: str, source: str) -> None:
    for key, value in user.items():
        dotted = f"{where}.{key}" if where else key
        if key not in base:
            known = ", ".join(sorted(base)) or "(none)"
            raise ConfigError(f"{source}: unknown key '{dotted}' (known keys here: {known})")
        default = base[key]
        if dotted in FREE_FORM:  # knobs merge key by key; their owner validates names and values
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{dotted}' must be a table, got {value!r}")
            base[key] = {**default, **value}
            continue
        if isinstance(default, dict) and default:
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{dotted}' must be a table, got {value!r}")
            _merge(default, value, dotted, source)
        else:
            base[key] = _coerce(default, value, dotted, source)


def _coerce(default: Any, value: Any, dotted: str, source: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected an integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected a number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected a string")
        return value
    if isinstance(default, list):
        if not isinstance(value, list):
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected a list")
        return value
    if isinstance(default, dict):  # free-form table
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{dotted}' must be a table, got {value!r}")
        return value
    return value


def _get(cfg: dict, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def validate(cfg: dict, source: str = "config") -> None:
    """Range and choice checks that span the whole config."""
    for dotted, choices in ENUMS.items():
        value = _get(cfg, dotted)
        if value not in choices:
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected one of {', '.join(choices)}")
    for dotted, (ok, expected) in CHECKS.items():
        value = _get(cfg, dotted)
        if isinstance(value, float) and not math.isfinite(value) or not ok(value):
            raise ConfigError(f"{source}: '{dotted}' = {value!r}: expected {expected}")
    m = cfg["model"]
    if m["align"] == "none" and not (m["audio_steps"] == m["visual_steps"] == m["T"]):
        raise ConfigError(
            f"{source}: model.align = 'none' needs model.audio_steps = model.visual_steps = model.T, "
            f"got {m['audio_steps']}, {m['visual_steps']}, {m['T']}"
        )
    s = cfg["strategy"]
    if s["modulation_ends"] < s["modulation_starts"]:
        raise ConfigError(f"{source}: 'strategy.modulation_ends' = {s['modulation_ends']} is before modulation_starts")


def load_config(path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the TOML file, then `key=value` overrides; validated."""
    if path is None:
        return config_from_dict({}, "defaults", overrides)
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        user = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    return config_from_dict(user, str(path), overrides)


def config_from_dict(
    user: dict[str, Any], source: str, overrides: list[str] | dict[str, Any] | None = None,
    defaults: dict[str, Any] = DEFAULTS,
) -> dict[str, Any]:
    """Defaults, then a (possibly partial) config dict, then overrides; validated."""
    cfg = copy.deepcopy(defaults)
    _merge(cfg, user, "", source)
    for key, value in _parse_overrides(overrides).items():
        _merge(cfg, _nested(key, value), "", f"--set {key}")
    validate(cfg, source if not overrides else f"{source} with --set overrides")
    return cfg


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    """{"a": {"b": value}} for "a.b"."""
    *parents, leaf = dotted.split(".")
    nested: dict[str, Any] = {leaf: value}
    for part in reversed(parents):
        nested = {part: nested}
    return nested


# Settings added after runs were first saved, with the value the code had before them: a saved run's config
# that lacks one is read with that value, so --resume and Inspect rebuild the run that was trained (DEFAULTS
# give a new run the current reading).
SAVED_RUN_FALLBACKS: dict[str, Any] = {
    "strategy.weighting": "weighted-ce",  # the literal reading, before issue 12
    "strategy.entropy_floor": 0.0,
    "model.attn_temperature": 0.0,
}


def saved_run_config(
    saved: dict[str, Any], source: str, overrides: list[str] | dict[str, Any] | None = None
) -> dict[str, Any]:
    """The config of a saved run (its config.json): as `config_from_dict`, but settings the run predates take
    the value the run was trained with (SAVED_RUN_FALLBACKS), not today's default."""
    defaults = copy.deepcopy(DEFAULTS)
    for dotted, value in SAVED_RUN_FALLBACKS.items():
        _merge(defaults, _nested(dotted, value), "", "SAVED_RUN_FALLBACKS")
    return config_from_dict(saved, source, overrides, defaults)


def _parse_overrides(overrides: list[str] | dict[str, Any] | None) -> dict[str, Any]:
    if not overrides:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    out: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. model.T=8")
        key, text = item.split("=", 1)
        out[key.strip()] = parse_value(text.strip())
    return out


def to_toml(cfg: dict[str, Any]) -> str:
    """Write a config back as TOML (for run directories and the studio's 'copy config')."""
    lines: list[str] = []

    def emit(table: dict, prefix: str) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in table.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            lines.append(f"\n[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for k, v in tables.items():
            emit(v, f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k))

    emit(cfg, "")
    return "\n".join(lines).lstrip() + "\n"


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else f'"{key}"'


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")
