"""CREMA-D loader (user-provided folder, community layout used by OGM-GE and successors).

    <path>/AudioWAV/<clip>.wav            e.g. 1001_DFA_ANG_XX.wav (actor id = first field)
    <path>/<frames_dir>/<clip>/*.jpg      1-FPS frames; the middle one is used
    <path>/train.csv, <path>/test.csv     no header, rows `clip,EMO` (CRLF or LF)

Labels NEU HAP SAD FEA DIS ANG -> 0..5 (OGM-GE's order). Validation is carved from train with the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.data import audio_features as af
from core.data.cache import CachePlan, cached_bundle, checked_report, decode_frame, plan_cache, unreadable_audio
from core.data.common import DataBundle
from core.data.validation import (
    CheckReport,
    Problems,
    class_counts,
    count_table,
    id_problem,
    raise_if_problems,
    read_rows,
)

CLASSES = ["NEU", "HAP", "SAD", "FEA", "DIS", "ANG"]
SPLIT_FILES = {"train": "train.csv", "test": "test.csv"}
AUDIO_DIR = "AudioWAV"


def actor_of(clip: str) -> str:
    """1001_DFA_ANG_XX -> 1001."""
    return clip.split("_", 1)[0]


def settings(c: dict[str, Any]) -> dict[str, Any]:
    """Everything that changes the decoded arrays (the cache key); val settings are not in it."""
    keys = ["audio", "sample_rate", "seconds", "n_fft", "hop", "frame_size", "frames_dir"]
    if c["audio"] == "resized":
        keys.append("audio_size")
    return {k: c[k] for k in keys}


def audio_shape(c: dict[str, Any]) -> tuple[int, int]:
    if c["audio"] == "resized":
        return (c["audio_size"], c["audio_size"])
    return (c["n_fft"] // 2 + 1, af.stft_frames(round(c["sample_rate"] * c["seconds"]), c["hop"]))


def decode_clip(s: dict[str, Any], job: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """(wav path, frame path) -> (log spectrogram, uint8 frame). Module-level so worker processes can pickle it."""
    wav, frame = job
    try:
        spec = af.wav_log_spectrogram(wav, s["sample_rate"], s["seconds"], s["n_fft"], s["hop"])
        if s["audio"] == "resized":
            spec = af.resize_2d(spec, s["audio_size"])
    except Exception as e:  # any decoder failure is the file's problem, reported by name
        raise unreadable_audio(wav, e) from None
    return spec, decode_frame(frame, s["frame_size"])


@dataclass
class Scan:
    root: Path
    splits: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # split -> [(clip, label)]
    files: dict[str, tuple[Path, Path]] = field(default_factory=dict)  # clip -> (wav, frame), both present
    problems: Problems = field(default_factory=Problems)
    rows: dict[str, int] = field(default_factory=dict)  # data rows per split file


def scan(data_cfg: dict[str, Any]) -> Scan:
    """Structural checks: split files, labels, duplicates, missing wavs / frames, room for a validation split."""
    c = data_cfg["cremad"]
    s = Scan(Path(data_cfg["path"]))
    if not s.root.is_dir():
        s.problems.add("dataset folder not found (data.path)", str(s.root))
        return s
    label_of = {name: i for i, name in enumerate(CLASSES)}
    seen: dict[str, str] = {}
    for split, fname in SPLIT_FILES.items():
        path = s.root / fname
        if not path.is_file():
            s.problems.add("missing split file", f"{fname} not found in {s.root}")
            continue
        rows = read_rows(path, ",")
        s.rows[split] = len(rows)
        items = s.splits.setdefault(split, [])
        for n, fields in rows:
            where = f"{fname} line {n}"
            if len(fields) != 2 or not fields[0]:
                s.problems.add("malformed row (expected clip,EMO)", f"{where}: {','.join(fields)!r}")
            elif id_problem(fields[0]):
                s.problems.add(f"invalid clip id ({id_problem(fields[0])})", f"{where}: {fields[0][:40]!r}")
            elif fields[1] not in label_of:
                s.problems.add(f"label not in {' '.join(CLASSES)}", f"{where}: {fields[1]!r}")
            elif fields[0] in seen:
                s.problems.add("duplicate clip id", f"{fields[0]} ({seen[fields[0]]} and {where})")
            else:
                seen[fields[0]] = where
                items.append((fields[0], label_of[fields[1]]))
        if not rows:
            s.problems.add("empty split", f"{fname} has no rows")
    _scan_files(s, c, list(seen))
    _scan_val(s, c)
    return s


def _scan_files(s: Scan, c: dict[str, Any], clips: list[str]) -> None:
    audio_dir, frames_dir = s.root / AUDIO_DIR, s.root / c["frames_dir"]
    for d, key in ((audio_dir, None), (frames_dir, "data.cremad.frames_dir")):
        if not d.is_dir():
            s.problems.add("missing folder", f"{d.name}/ not found in {s.root}" + (f" (set {key})" if key else ""))
    for clip in clips:
        wav = audio_dir / f"{clip}.wav"
        frame = af.middle_frame(frames_dir / clip)
        if audio_dir.is_dir() and not wav.is_file():
            s.problems.add(f"missing audio ({AUDIO_DIR}/<clip>.wav)", clip)
        if frames_dir.is_dir() and frame is None:
            s.problems.add(f"missing frames (no image in {c['frames_dir']}/<clip>/)", clip)
        if wav.is_file() and frame is not None:
            s.files[clip] = (wav, frame)


def _scan_val(s: Scan, c: dict[str, Any]) -> None:
    train = s.splits.get("train", [])
    if len(train) == 1:
        s.problems.add("cannot carve a validation split", "train.csv has 1 clip; need at least 2")
    if c["speaker_disjoint_val"] and len(train) > 1 and len({actor_of(cid) for cid, _ in train}) < 2:
        s.problems.add("cannot carve a speaker-disjoint validation split", "train.csv has a single actor")


def carve_val(
    train: list[tuple[str, int]], fraction: float, seed: int, speaker_disjoint: bool
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Split train into (train, val) with the seed; speaker-disjoint moves whole actors to val."""
    rng = np.random.default_rng(seed)
    target = min(max(1, round(fraction * len(train))), len(train) - 1)
    if speaker_disjoint:
        actors = sorted({actor_of(cid) for cid, _ in train})
        chosen: set[str] = set()
        size = {a: sum(actor_of(cid) == a for cid, _ in train) for a in actors}
        for a in (actors[i] for i in rng.permutation(len(actors))):
            if len(chosen) == len(actors) - 1 or sum(size[x] for x in chosen) >= target:
                break
            chosen.add(a)
        in_val = [actor_of(cid) in chosen for cid, _ in train]
    else:
        val_idx = set(rng.permutation(len(train))[:target].tolist())
        in_val = [i in val_idx for i in range(len(train))]
    return [x for x, v in zip(train, in_val, strict=True) if not v], [
        x for x, v in zip(train, in_val, strict=True) if v
    ]


def _cache_plan(data_cfg: dict[str, Any], s: Scan) -> CachePlan:
    return plan_cache(data_cfg["cache_dir"], "cremad", s.root, settings(data_cfg["cremad"]), s.files, decode_clip)


def check(data_cfg: dict[str, Any], decode: bool = True, trust_pickles: bool = False) -> CheckReport:
    """Validate a CREMA-D folder: the report behind `python -m core.data check` and build()."""
    c = data_cfg["cremad"]
    s = scan(data_cfg)
    counts = class_counts(s.splits, CLASSES)
    lines = [f"CREMA-D at {s.root}"]
    if s.splits:
        clips = [cid for items in s.splits.values() for cid, _ in items]
        listed = ", ".join(f"{SPLIT_FILES[k]} {v}" for k, v in s.rows.items())
        lines.append(
            f"{len(clips)} clips ({listed}), {len({actor_of(x) for x in clips})} actors, {len(CLASSES)} classes"
        )
        lines.append(count_table(counts, CLASSES))
    lines.append(
        f"validation: carved from train.csv at build time with train.seed (val_fraction "
        f"{c['val_fraction']}, speaker-disjoint: {'yes' if c['speaker_disjoint_val'] else 'no'})"
    )
    a_shape = audio_shape(c)
    lines.append(
        f"audio: {c['audio']} -> {a_shape[0]} x {a_shape[1]}; frames: middle image of "
        f"{c['frames_dir']}/<clip>/ -> 3 x {c['frame_size']} x {c['frame_size']}"
    )
    plan = _cache_plan(data_cfg, s) if s.files else None
    return checked_report(s.problems, lines, counts, plan, data_cfg["num_workers"], decode)


def build(data_cfg: dict[str, Any], seed: int, trust_pickles: bool = False) -> DataBundle:
    """Check, decode (or reuse the cache), carve validation, and return the three splits."""
    c = data_cfg["cremad"]
    s = scan(data_cfg)
    raise_if_problems(s.problems, str(s.root))
    a_shape, v_shape = audio_shape(c), (3, c["frame_size"], c["frame_size"])
    train, val = carve_val(s.splits["train"], c["val_fraction"], seed, c["speaker_disjoint_val"])
    splits = {"train": train, "val": val, "test": s.splits["test"]}
    plan = _cache_plan(data_cfg, s)
    return cached_bundle(plan, splits, CLASSES, a_shape, v_shape, data_cfg["num_workers"], str(s.root))
