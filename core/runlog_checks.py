"""Checks and conversions of the public recorder (core/runlog.py): what it refuses, in one line, and the store's
array layout it converts to (docs/architecture.md, "Probe arrays")."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from core.errors import TAAFError

MAX_RASTER_NEURONS = 2048  # per layer, as core/recorder.py: a fixed prefix of the flattened neurons
FUSED = "fused"


class RecordError(TAAFError, ValueError):
    """Input the recorder refuses (one line naming it); nothing of the refused call was written."""


def as_numpy(x: Any) -> np.ndarray:
    """A numpy array from a numpy array, a torch tensor (any device, detached) or a nested list."""
    if hasattr(x, "detach"):  # torch without importing it: the API works for numpy-only loops too
        x = x.detach().float().cpu().numpy() if x.dtype.is_floating_point else x.detach().cpu().numpy()
    return np.asarray(x)


def checked_number(key: Any, value: Any, nonfinite: str) -> float:
    """A scalar as a float; RecordError for something not a number, a reserved key, or (nonfinite "refuse") a value
    that is not finite."""
    try:
        f = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError, RuntimeError):  # (RuntimeError: a tensor of several elements)
        raise RecordError(f"scalar {key!r} = {value!r:.60}: not a number") from None
    if key in ("step", "epoch", "time"):
        raise RecordError(f"scalar {key!r}: the name is reserved")
    if not math.isfinite(f) and nonfinite == "refuse":
        raise RecordError(f"scalar {key!r} = {f}: not finite (Run.create(nonfinite='keep') stores it as NaN)")
    return f


def short_names(modalities: Sequence[str]) -> dict[str, str]:
    """Each modality's short name (its first letter: lr_a, k_v ...); the full name where first letters clash."""
    if not modalities or len(set(modalities)) != len(modalities) or FUSED in modalities:
        raise RecordError(f"modalities {tuple(modalities)!r}: need distinct names, none called {FUSED!r}")
    firsts = [m[:1] for m in modalities]
    return {m: (m[:1] if firsts.count(m[:1]) == 1 and m[:1] != "f" else m) for m in modalities}


def recorded_modalities(meta: Mapping[str, Any] | None) -> dict[str, str]:
    """{short name: modality} of the modalities a run's meta names (`modalities`, as Run.create writes it), in its
    order; audio and visual for a run that names none, or names them unreadably (runs older than the recorder)."""
    mods = (meta or {}).get("modalities")
    if isinstance(mods, list | tuple) and mods and all(isinstance(m, str) and m for m in mods):
        try:
            return {s: m for m, s in short_names([str(m) for m in mods]).items()}
        except RecordError:
            pass
    return {"a": "audio", "v": "visual"}


def checked_attention(attention: Mapping[str, Any], T: int | None, suffix_of: Callable[[str], str]
                      ) -> dict[str, np.ndarray]:
    """{stream suffix: (batch, T) float32}; RecordError for an unknown stream, a wrong shape or a bad value. With
    `T` None (a new run), the call's first stream fixes it for all."""
    checked: dict[str, np.ndarray] = {}
    for stream, a in attention.items():
        suffix = suffix_of(stream)
        arr = as_numpy(a).astype(np.float32, copy=False)
        T = T or (arr.shape[1] if arr.ndim == 2 else None)
        if arr.ndim != 2 or arr.shape[1] != T or arr.shape[0] == 0:
            raise RecordError(f"attention {stream!r}: shape {arr.shape}, expected (batch, T={T})")
        if not np.isfinite(arr).all() or (arr < 0).any():
            raise RecordError(f"attention {stream!r}: values must be finite and >= 0")
        checked[suffix] = arr
    return checked


def attention_entropy(checked: Mapping[str, np.ndarray]) -> dict[str, float]:
    """alpha_entropy_<x>: entropy over T of each row (normalised to sum 1), nats, mean over the batch."""
    out = {}
    for suffix, arr in checked.items():
        p = arr / np.maximum(arr.sum(axis=1, keepdims=True), 1e-12)
        out[f"alpha_entropy_{suffix}"] = float(-(p * np.log(np.maximum(p, 1e-12))).sum(axis=1).mean())
    return out


def spike_arrays(spikes: Mapping[str, Any], membrane: Mapping[str, Any] | None, labels: Any, probes: int,
                 membrane_neurons: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """(probe arrays spikes/ membrane/ labels, probe first, of the first `probes` samples; rate/<layer> scalars)
    from time-first tensors; RecordError for a wrong shape or non-0/1 spikes."""
    arrays: dict[str, np.ndarray] = {}
    rates: dict[str, float] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for layer, z in spikes.items():
        arr = as_numpy(z)
        shapes[layer] = arr.shape
        if arr.ndim < 3:
            raise RecordError(f"spikes {layer!r}: shape {arr.shape}, expected (T, batch, neurons...)")
        flat = arr.reshape(arr.shape[0], arr.shape[1], -1)[:, :probes, :MAX_RASTER_NEURONS]
        if not ((flat == 0) | (flat == 1)).all():
            raise RecordError(f"spikes {layer!r}: values must be 0 or 1")
        arrays[f"spikes/{layer}"] = np.ascontiguousarray(flat.transpose(1, 0, 2), dtype=np.uint8)
        rates[f"rate/{layer}"] = float(arr.mean())
    for layer, v in (membrane or {}).items():
        arr = as_numpy(v).astype(np.float32, copy=False)
        if layer not in shapes or arr.ndim < 3 or arr.shape[:2] != shapes[layer][:2]:
            raise RecordError(f"membrane {layer!r}: shape {arr.shape} does not match its spikes")
        flat = arr.reshape(arr.shape[0], arr.shape[1], -1)[:, :probes, :membrane_neurons]
        arrays[f"membrane/{layer}"] = np.ascontiguousarray(flat.transpose(1, 0, 2), dtype=np.float16)
    if labels is not None:
        arrays["labels"] = as_numpy(labels).astype(np.int64).reshape(-1)[:probes]
    return arrays, rates
