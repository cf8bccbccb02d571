"""AV-Digits-T loader: validate sample_data/av_digits_t.npz and render its audio-visual sequences.

The file (built by sample_data/build_av_digits_t.py, schema in sample_data/README.md) stores the source
clips and images once, their blend partners, and per pair the indices and event positions; the sequences
are rendered here, deterministically (the pixel noise comes from the file's `noise_seed`, not the run seed:
the dataset is the same for every run).

Items are `(audio (F, WINDOW), visual (FRAMES, 1, H, W), label)`. Audio is standardised with one scalar
mean / std of the train split (`audio_norm`), visual is in [0, 1]. Each split dataset also holds the
whole split as tensors `audio`, `visual`, `label`, `speaker` (of the clip) for batch indexing, and
`events`: a dict of (n,) int64 tensors `audio_on`, `audio_off` (audio frames, [0, WINDOW]) and
`visual_on`, `visual_off` (visual frames, [0, FRAMES]); visual frame k covers audio frames
[k * WINDOW / FRAMES, (k + 1) * WINDOW / FRAMES).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.data.avdigits import AVTensorDataset, resolve_path
from core.data.common import DataBundle
from core.data.validation import CheckReport, count_table
from core.errors import DataError

DEFAULT_PATH = "sample_data/av_digits_t.npz"
AV_DIGITS_DEFAULT = "sample_data/av_digits.npz"  # data.path's default: the other bundled dataset's file
SPLITS = {0: "train", 1: "validation", 2: "test"}
EVENT_KEYS = ("audio_on", "audio_off", "visual_on", "visual_off")
# key -> (dtype kinds accepted, ndim)
SCHEMA: dict[str, tuple[str, int]] = {
    "audio": ("f", 3), "visual": ("f", 3), "label": ("iu", 1), "split": ("iu", 1), "speaker": ("iu", 1),
    "source_row": ("iu", 1), "clip_span": ("iu", 2), "audio_partner": ("i", 1), "audio_weight": ("f", 1),
    "visual_partner": ("i", 1), "visual_weight": ("f", 1),
    "pair_image": ("iu", 1), "pair_clip": ("iu", 1), "pair_split": ("iu", 1), "pair_label": ("iu", 1),
    **{k: ("iu", 1) for k in EVENT_KEYS},
    "window": ("iu", 1), "frames": ("iu", 1), "visual_noise": ("f", 1), "audio_snr_db": ("f", 1),
    "noise_seed": ("iu", 1),
    "audio_pairs": ("iu", 2), "visual_pairs": ("iu", 2), "class_names": ("U", 1),
}
ROW_KEYS = ("label", "split", "speaker", "source_row", "clip_span", "audio_partner", "audio_weight", "visual_partner",
            "visual_weight")
SCALAR_KEYS = ("window", "frames", "visual_noise", "audio_snr_db", "noise_seed")  # stored as 1-element arrays
PAIR_KEYS = ("pair_image", "pair_clip", "pair_split", "pair_label", *EVENT_KEYS)


class AVSequenceDataset(AVTensorDataset):
    """A split of AV-Digits-T: AVTensorDataset whose visual is (n, FRAMES, 1, H, W), plus `events`."""

    def __init__(self, audio: torch.Tensor, visual: torch.Tensor, label: torch.Tensor,
                 events: dict[str, torch.Tensor], **info: Any) -> None:
        super().__init__(audio, visual, label, **info)
        self.events = events


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read and validate an AV-Digits-T .npz; any problem -> DataError with one line naming the file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: file not found (expected AV-Digits-T; build it with sample_data/build_av_digits_t.py)")
    if not zipfile.is_zipfile(p):
        raise DataError(f"{p}: not an .npz file (not a zip archive, or truncated)")
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in SCHEMA if k not in z.files]
            if missing:
                raise DataError(f"{p}: missing key(s) {', '.join(missing)} (is it an AV-Digits-T file?)")
            raw = {k: z[k] for k in SCHEMA}
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError) as e:
        raise DataError(f"{p}: corrupt .npz ({type(e).__name__}: {e})") from None
    _validate(p, raw)
    return raw


def _check(p: Path, ok: bool, message: str) -> None:
    if not ok:
        raise DataError(f"{p}: {message}")


def _validate(p: Path, a: dict[str, np.ndarray]) -> None:
    for key, (kinds, ndim) in SCHEMA.items():
        _check(p, a[key].dtype.kind in kinds and a[key].ndim == ndim,
               f"key '{key}' has dtype {a[key].dtype}, shape {a[key].shape}: expected {ndim}-D of kind '{kinds}'")
    for key in SCALAR_KEYS:
        _check(p, a[key].size == 1, f"key '{key}' has shape {a[key].shape}: expected one value")
        a[key] = a[key].reshape(())
    n, m = len(a["audio"]), len(a["pair_image"])
    _check(p, n > 0 and m > 0, f"no samples (source rows {n}, pairs {m})")
    for key in ("visual", *ROW_KEYS):
        _check(p, len(a[key]) == n, f"key '{key}' has {len(a[key])} rows: expected {n} like 'audio'")
    for key in PAIR_KEYS:
        _check(p, len(a[key]) == m, f"key '{key}' has {len(a[key])} entries: expected {m} like 'pair_image'")
    for key in ("audio", "visual"):
        _check(p, bool(np.isfinite(a[key]).all()), f"key '{key}' has non-finite values (NaN/inf)")
    k = len(a["class_names"])
    _check(p, bool(((a["label"] >= 0) & (a["label"] < k)).all()), f"key 'label' has values outside [0, {k})")
    for key in ("pair_image", "pair_clip", "audio_partner", "visual_partner"):
        lo = -1 if "partner" in key else 0
        _check(p, bool(((a[key] >= lo) & (a[key] < n)).all()), f"key '{key}' indexes outside [{lo}, {n})")
    for key in ("pair_image", "pair_clip"):
        _check(p, bool((a["label"][a[key]] == a["pair_label"]).all()), f"key '{key}' has rows whose label "
               "differs from 'pair_label'")
        _check(p, bool((a["split"][a[key]] == a["pair_split"]).all()), f"key '{key}' has rows of another split")
    window, frames, length = int(a["window"]), int(a["frames"]), a["audio"].shape[2]
    _check(p, window >= length and frames >= 1, f"window {window} / frames {frames}: expected window >= "
           f"{length} (the clips' frames) and frames >= 1")
    span = a["clip_span"]
    _check(p, span.shape[1] == 2 and bool(((0 <= span[:, 0]) & (span[:, 0] < span[:, 1])
                                           & (span[:, 1] <= length)).all()), "key 'clip_span' out of range")
    for on, off, top in (("audio_on", "audio_off", window), ("visual_on", "visual_off", frames)):
        _check(p, bool(((a[on] >= 0) & (a[on] < a[off]) & (a[off] <= top)).all()),
               f"keys '{on}'/'{off}': expected 0 <= on < off <= {top}")
    for s, name in SPLITS.items():
        _check(p, bool(np.any(a["pair_split"] == s)), f"split {s} ({name}) has no pairs")


def blended_clips(a: dict[str, np.ndarray]) -> np.ndarray:
    """(n, F, L) per source row: its active frames left-aligned, mixed in mel power with its partner's
    (also left-aligned) where it has one; silence after."""
    audio, span = a["audio"].astype(np.float64), a["clip_span"].astype(np.int64)
    n, f, length = audio.shape
    floor = float(audio.min())  # the silence floor log(1e-6), as stored
    t = np.arange(length)
    src = np.clip(span[:, :1] + t, 0, length - 1)
    own = np.take_along_axis(audio, np.broadcast_to(src[:, None, :], (n, f, length)), axis=2)
    own = np.where((t < span[:, 1:2] - span[:, :1])[:, None, :], own, floor)
    partner = a["audio_partner"].astype(np.int64)
    w = a["audio_weight"].astype(np.float64)[:, None, None]
    mixed = np.log(w * np.exp(own) + (1 - w) * np.exp(own[np.maximum(partner, 0)]))
    return np.where(partner[:, None, None] >= 0, mixed, own).astype(np.float32)


def blended_images(a: dict[str, np.ndarray]) -> np.ndarray:
    """(n, H, W) per source row: the image, mixed pixelwise with its partner's where it has one."""
    img, partner = a["visual"], a["visual_partner"].astype(np.int64)
    w = a["visual_weight"][:, None, None]
    return np.where(partner[:, None, None] >= 0, w * img + (1 - w) * img[np.maximum(partner, 0)], img)


def render(a: dict[str, np.ndarray], pairs: np.ndarray, noise_stream: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Audio (m, F, WINDOW) log-mel and visual (m, FRAMES, H, W) in [0, 1] for the given pair indices.
    `noise_stream` picks an independent noise stream (the split number), so a split renders the same
    whatever else is rendered."""
    clips, images = blended_clips(a), blended_images(a)
    window, frames = int(a["window"]), int(a["frames"])
    length = clips.shape[2]
    on = a["audio_on"][pairs].astype(np.int64)
    src = np.arange(window)[None, :] - on[:, None]  # (m, window): frame of the left-aligned clip
    inside = (src >= 0) & (src < length)
    audio = clips[a["pair_clip"][pairs][:, None], :, np.clip(src, 0, length - 1)]  # (m, window, F)
    audio = np.where(inside[..., None], audio, float(clips.min())).transpose(0, 2, 1)
    rng = np.random.default_rng([int(a["noise_seed"]), noise_stream, 1])
    snr = float(a["audio_snr_db"])
    if np.isfinite(snr):  # flat mel-power noise over the whole window, Gamma(4) around the word's mean power / SNR
        word_power = (np.exp(audio) * inside[:, None, :]).sum(axis=(1, 2)) / (inside.sum(1) * audio.shape[1])
        noise = rng.gamma(4.0, 0.25, audio.shape) * (word_power / 10 ** (snr / 10))[:, None, None]
        audio = np.log(np.exp(audio) + noise)
    t = np.arange(frames)[None, :]
    shown = (t >= a["visual_on"][pairs][:, None]) & (t < a["visual_off"][pairs][:, None])  # (m, frames)
    rng = np.random.default_rng([int(a["noise_seed"]), noise_stream, 0])
    noise = rng.standard_normal((len(pairs), frames, *images.shape[1:]), dtype=np.float32)
    visual = shown[..., None, None] * images[a["pair_image"][pairs]][:, None] + float(a["visual_noise"]) * noise
    return np.ascontiguousarray(audio, dtype=np.float32), np.clip(visual, 0.0, 1.0).astype(np.float32)


def data_path(data_cfg: dict[str, Any]) -> Path:
    """`data.path`, or the bundled AV-Digits-T file while it is empty or left at AV-Digits' default."""
    path = data_cfg.get("path") or DEFAULT_PATH
    return resolve_path(DEFAULT_PATH if path == AV_DIGITS_DEFAULT else path)


def check(data_cfg: dict[str, Any], decode: bool = True, trust_pickles: bool = False) -> CheckReport:
    """The report behind `python -m core.data check`: the file's validation and its pairs per split and class."""
    del decode, trust_pickles  # nothing to decode, and no pickles: the file is read with allow_pickle=False
    path = data_path(data_cfg)
    try:
        a = load_npz(path)
    except DataError as e:
        return CheckReport([str(e)], f"AV-Digits-T at {path}: invalid")
    names = [str(c) for c in a["class_names"]]
    counts = {split: {n: int(np.sum((a["pair_split"] == code) & (a["pair_label"] == k))) for k, n in enumerate(names)}
              for code, split in enumerate(("train", "val", "test"))}
    return CheckReport([], f"AV-Digits-T at {path}: valid (pairs per split and class)\n{count_table(counts, names)}",
                       counts)


def build(data_cfg: dict[str, Any], seed: int, trust_pickles: bool = False) -> DataBundle:
    """Train / validation / test datasets from the `[data]` config table (`path`, see `data_path`). `seed` is
    unused: the sequences are fixed by the file; no pickles are ever read."""
    del seed, trust_pickles
    a = load_npz(data_path(data_cfg))
    names = [str(c) for c in a["class_names"]]
    rendered = {s: (np.flatnonzero(a["pair_split"] == s), *render(a, np.flatnonzero(a["pair_split"] == s), s))
                for s in SPLITS}
    train_audio = rendered[0][1]
    mean, std = float(train_audio.mean()), float(train_audio.std())
    std = std if std > 1e-8 else 1.0
    parts = {}
    for s, (idx, audio, visual) in rendered.items():
        events = {k: torch.from_numpy(a[k][idx].astype(np.int64)) for k in EVENT_KEYS}
        parts[s] = AVSequenceDataset(
            torch.from_numpy((audio - mean) / std), torch.from_numpy(visual[:, :, None]),
            torch.from_numpy(a["pair_label"][idx].astype(np.int64)), events,
            speaker=torch.from_numpy(a["speaker"][a["pair_clip"][idx]].astype(np.int64)), index=idx,
            audio_norm=(mean, std), class_names=names,
            knobs={"audio_pairs": a["audio_pairs"].tolist(), "visual_pairs": a["visual_pairs"].tolist()})
    h, w = a["visual"].shape[1:]
    return DataBundle(train=parts[0], val=parts[1], test=parts[2], num_classes=len(names), class_names=names,
                      audio_shape=(int(a["audio"].shape[1]), int(a["window"])), visual_shape=(1, int(h), int(w)))
