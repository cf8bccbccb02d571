"""Epoch checkpoints: model, optimizer, RNG states and neuron parameters, loadable with
`torch.load(weights_only=True)` (only tensors, numbers, strings, lists and dicts inside)."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.errors import CheckpointError, DiskFullError, is_disk_full
from core.model import MultimodalSNN, load_neuron_parameters, neuron_parameters


def rng_states() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": [list(x) if isinstance(x, tuple) else x for x in random.getstate()],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_states(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: Path, model: MultimodalSNN, optimizer: torch.optim.Optimizer | None, extra: dict[str, Any]) -> None:
    """Write to a temporary name, then rename: a crash never leaves a half-written checkpoint, and a failed write
    (a full disk: DiskFullError, one line) removes its temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else {},
        "neurons": neuron_parameters(model),
        "rng": rng_states(),
        **extra,
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # then created exclusively: a planted link is never written through
    try:
        with open(tmp, "xb") as f:
            torch.save(state, f)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if is_disk_full(e):
            raise DiskFullError(f"no space left on device while writing {path}") from None
        raise


def load(path: Path, model: MultimodalSNN, optimizer: torch.optim.Optimizer | None) -> dict[str, Any]:
    """Restore a checkpoint into model (and optimizer, RNGs); CheckpointError in one line if it is unusable."""
    try:
        if os.path.exists(path) and not os.path.isfile(path):  # a FIFO would block the loader forever
            raise CheckpointError(f"{path}: checkpoint is not a regular file; refused")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if any(k in state["model"] for k in ("align_a.weight", "align_v.weight")):
            raise CheckpointError(f"{path}: saved by a version before the time-warp aligner (a dense align "
                                  "matrix); this version cannot load it: train the run again")
        model.load_state_dict(state["model"])
        load_neuron_parameters(model, state["neurons"])
        if optimizer is not None:
            optimizer.load_state_dict(state["optimizer"])
            set_rng_states(state["rng"])
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint not found") from None
    except CheckpointError:
        raise
    except Exception as e:  # torch raises many types for truncated or foreign files
        reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise CheckpointError(f"{path}: cannot load checkpoint ({reason})") from None
    return state
