"""Bundled AV-Digits loader: validate the .npz, degrade it with the configured preset, keep it in memory.

Schema (docs/architecture.md): audio float (N, F, L) natural-log mel power; visual float (N, H, W) or
(N, C, H, W) in [0, 1]; label int (N,); split int (N,) with 0 train / 1 validation / 2 test; speaker
int (N,). Optional: class_names str (K,) (labels then in [0, K)), speaker_names str (S,). In the shipped
file no speaker is in two splits (validation and test are unseen voices; `shared_speakers`).

Loader items are `(audio (F, L), visual (C, H, W), label)`. Audio is standardised with one scalar
mean / std of the (degraded) train split, so the network sees ~N(0, 1) inputs whatever the preset;
each split dataset keeps `audio_norm = (mean, std)` to undo it (presets.corrupt_sample takes it).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from core.data import presets
from core.data.common import DataBundle
from core.data.validation import CheckReport, count_table
from core.errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CLASS_NAMES = [str(i) for i in range(10)]
SPLITS = {0: "train", 1: "validation", 2: "test"}
# key -> (dtype kind accepted, allowed ndims, stored dtype)
SCHEMA: dict[str, tuple[str, tuple[int, ...], type]] = {
    "audio": ("f", (3,), np.float32),
    "visual": ("f", (3, 4), np.float32),
    "label": ("iu", (1,), np.int64),
    "split": ("iu", (1,), np.int8),
    "speaker": ("iu", (1,), np.int32),
}
OPTIONAL = ("class_names", "speaker_names")
_KIND_WORDS = {"f": "a float dtype (float32)", "iu": "an integer dtype"}


class AVTensorDataset(Dataset):
    """A whole split held as tensors: index it per item, or take `audio[idx]`, `visual[idx]`, `label[idx]`."""

    def __init__(self, audio: torch.Tensor, visual: torch.Tensor, label: torch.Tensor, **info: Any) -> None:
        self.audio = audio  # (n, F, L) float32
        self.visual = visual  # (n, C, H, W) float32
        self.label = label  # (n,) int64
        self.speaker: torch.Tensor | None = info.pop("speaker", None)
        self.index: np.ndarray | None = info.pop("index", None)  # rows of the source file
        self.audio_norm: tuple[float, float] = info.pop("audio_norm", (0.0, 1.0))
        self.class_names: list[str] = info.pop("class_names", DEFAULT_CLASS_NAMES)
        self.knobs: dict[str, Any] = info.pop("knobs", {})
        self.info = info

    def __len__(self) -> int:
        return int(self.label.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        return self.audio[i], self.visual[i], int(self.label[i])


def resolve_path(path: str | Path) -> Path:
    """A relative path is looked up from the working directory, then from the repository root."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    alt = REPO_ROOT / p
    return alt if alt.exists() else p


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read and validate an AV-Digits .npz; any problem -> DataError with one line naming the file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: file not found (expected an AV-Digits .npz; see sample_data/README.md)")
    if not zipfile.is_zipfile(p):
        raise DataError(f"{p}: not an .npz file (not a zip archive, or truncated)")
    raw: dict[str, np.ndarray] = {}
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in SCHEMA if k not in z.files]
            if missing:
                raise DataError(f"{p}: missing key(s) {', '.join(missing)} (found: {', '.join(z.files) or 'none'})")
            for key in [k for k in z.files if k in SCHEMA or k in OPTIONAL]:  # other keys are ignored
                try:
                    raw[key] = z[key]
                except ValueError as e:  # e.g. object arrays, which need pickle
                    raise DataError(f"{p}: key '{key}' cannot be read without pickle ({e})") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError) as e:
        raise DataError(f"{p}: corrupt .npz ({type(e).__name__}: {e})") from None
    return _validate(p, raw)


def _validate(p: Path, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, (kinds, ndims, dtype) in SCHEMA.items():
        a = raw[key]
        if a.dtype.kind not in kinds:
            raise DataError(f"{p}: key '{key}' has dtype {a.dtype}: expected {_KIND_WORDS[kinds]}")
        if a.ndim not in ndims:
            want = " or ".join(f"{d}-D" for d in ndims)
            raise DataError(f"{p}: key '{key}' has shape {a.shape}: expected {want}")
        if a.size == 0 and key in ("audio", "visual"):
            raise DataError(f"{p}: key '{key}' has shape {a.shape}: expected no zero-size axis")
        out[key] = a.astype(dtype, copy=False)
    n = out["label"].shape[0]
    for key in SCHEMA:
        if out[key].shape[0] != n:
            sizes = ", ".join(f"{k} {out[k].shape[0]}" for k in SCHEMA)
            raise DataError(f"{p}: keys disagree on the number of samples ({sizes})")
    if n == 0:
        raise DataError(f"{p}: the file holds no samples")
    for key in ("audio", "visual"):
        bad = ~np.isfinite(out[key])
        if bad.any():
            rows = np.flatnonzero(bad.reshape(n, -1).any(axis=1))
            raise DataError(f"{p}: key '{key}' has {int(bad.sum())} non-finite values (NaN/inf) "
                            f"in {len(rows)} samples, first at sample {rows[0]}")
    lo, hi = float(out["visual"].min()), float(out["visual"].max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise DataError(f"{p}: key 'visual' spans [{lo:g}, {hi:g}]: expected images scaled to [0, 1]")
    names = DEFAULT_CLASS_NAMES
    if "class_names" in raw:
        cn = raw["class_names"]
        if cn.dtype.kind not in "US" or cn.ndim != 1 or cn.size == 0:
            raise DataError(f"{p}: key 'class_names' has dtype {cn.dtype}, shape {cn.shape}: "
                            "expected a 1-D string array")
        names = [str(c) for c in cn]
    label = out["label"]
    bad = (label < 0) | (label >= len(names))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{p}: key 'label' has {int(bad.sum())} values outside [0, {len(names)}), "
                        f"e.g. {int(label[i])} at sample {i}")
    split = raw["split"]
    odd = ~np.isin(split, list(SPLITS))
    if odd.any():
        raise DataError(f"{p}: key 'split' has values {sorted(set(np.unique(split[odd]).tolist()))}: "
                        "expected only 0 (train), 1 (validation), 2 (test)")
    for s, name in SPLITS.items():
        if not np.any(split == s):
            raise DataError(f"{p}: split {s} ({name}) has no samples")
    out["class_names"] = np.array(names)
    if "speaker_names" in raw:
        out["speaker_names"] = raw["speaker_names"]
    return out


def shared_speakers(arrays: dict[str, np.ndarray]) -> dict[str, int]:
    """Speakers found in two splits: validation and test are meant to hold unseen voices (both 0 in the
    shipped file); a user's file may choose otherwise, and `python -m core.data check` says so."""
    spk = {s: set(arrays["speaker"][arrays["split"] == s].tolist()) for s in SPLITS}
    return {"train-validation": len(spk[0] & spk[1]), "test-other": len(spk[2] & (spk[0] | spk[1]))}


def degrade_seed(seed: int) -> int:
    """Seed of the load-time degradations, derived from the run seed (kept apart from the model's draws)."""
    return int(np.random.SeedSequence([int(seed), 0xAD161]).generate_state(1)[0])


def check(data_cfg: dict[str, Any], decode: bool = True, trust_pickles: bool = False) -> CheckReport:
    """Validate the .npz a config points at: the report behind `python -m core.data check` (decode: unused,
    nothing to decode)."""
    path = data_cfg["path"]
    try:
        arrays = load_npz(resolve_path(path))  # same lookup as build(): cwd, then the repo root
    except DataError as e:
        return CheckReport([str(e)], f"AV-Digits at {path}: invalid")
    lines = [f"AV-Digits at {path}: valid"]
    counts: dict[str, dict[str, int]] = {}
    try:  # a table when load_npz hands back the schema's arrays; validation already passed either way
        labels, splits = np.asarray(arrays["label"]), np.asarray(arrays["split"])
        names = [str(d) for d in range(int(labels.max()) + 1)]
        for code, split in enumerate(("train", "val", "test")):
            counts[split] = {n: int(np.sum((splits == code) & (labels == int(n)))) for n in names}
        lines.append(count_table(counts, names))
        shared = shared_speakers(arrays)
        lines.append(f"speakers in two splits: train and validation {shared['train-validation']}, "
                     f"test and train / validation {shared['test-other']}")
    except Exception as e:  # the table is optional, the verdict is not
        lines.append(f"(no per-class table: {type(e).__name__})")
    return CheckReport([], "\n".join(lines), counts)


def build(data_cfg: dict[str, Any], seed: int, trust_pickles: bool = False) -> DataBundle:
    """Train / validation / test datasets from the `[data]` config table and the run seed."""
    arrays = load_npz(resolve_path(data_cfg["path"]))
    av = data_cfg.get("avdigits", {})
    knobs = presets.resolve(av.get("preset", "clean"), av.get("degrade", {}))
    arrays = presets.apply(arrays, knobs, degrade_seed(seed))
    audio, visual = arrays["audio"], arrays["visual"]
    if visual.ndim == 3:
        visual = visual[:, None]  # (N, H, W) -> (N, 1, H, W)
    train = arrays["split"] == 0
    mean, std = float(audio[train].mean()), float(audio[train].std())
    std = std if std > 1e-8 else 1.0
    audio_t = torch.from_numpy(((audio - mean) / std).astype(np.float32))
    visual_t = torch.from_numpy(np.ascontiguousarray(visual, dtype=np.float32))
    label_t = torch.from_numpy(arrays["label"].astype(np.int64))
    speaker_t = torch.from_numpy(arrays["speaker"].astype(np.int64))
    names = [str(c) for c in arrays["class_names"]]
    parts = {}
    for s in SPLITS:
        idx = np.flatnonzero(arrays["split"] == s)
        ti = torch.from_numpy(idx)
        parts[s] = AVTensorDataset(audio_t[ti], visual_t[ti], label_t[ti], speaker=speaker_t[ti], index=idx,
                                   audio_norm=(mean, std), class_names=names, knobs=knobs)
    return DataBundle(
        train=parts[0], val=parts[1], test=parts[2], num_classes=len(names), class_names=names,
        audio_shape=(int(audio.shape[1]), int(audio.shape[2])),
        visual_shape=(int(visual.shape[1]), int(visual.shape[2]), int(visual.shape[3])),
    )
