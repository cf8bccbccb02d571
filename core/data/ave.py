"""AVE loader (user-provided folder: the AVE_Dataset layout the OGM-GE family uses).

    <path>/Annotations.txt                  Category&VideoID&Quality&Start&End (header line optional)
    <path>/trainSet.txt, valSet.txt, testSet.txt   same format (or train.txt, val.txt, test.txt)
    <path>/<frames_dir>/<id>/*.jpg          Image-01-FPS or Image-01-FPS-SE; the middle frame is used
    <path>/<audio dir>/<id>.wav | .npy | .pkl     audio dir: data.ave.audio_dir or the first of AUDIO_DIRS

Classes are the sorted distinct categories of Annotations.txt. Pickles (audio = "pickle") are read only when the
user passes --allow-pickle on the command line (`trust_pickles`; a pickle can run code when loaded), never because
a config file or a run folder says so, and then only through an unpickler that builds numpy arrays and nothing else.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import partial
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
from core.errors import ConfigError

ANNOTATIONS = "Annotations.txt"
SPLIT_FILES = {
    "train": ("trainSet.txt", "train.txt"),
    "val": ("valSet.txt", "val.txt"),
    "test": ("testSet.txt", "test.txt"),
}
AUDIO_DIRS = ("Audio-1004-SE", "Audios", "AudioWAV", "audio")
SUFFIX = {"wav": ".wav", "npy": ".npy", "pickle": ".pkl"}


def _pickle_gate(c: dict[str, Any], trust_pickles: bool) -> None:
    if c["audio"] != "pickle":
        return
    if not trust_pickles:
        raise ConfigError(
            "data.ave.audio = 'pickle' needs --allow-pickle on the command line: loading a pickle can run "
            "arbitrary code, so opt in only for files you trust (or convert them to .npy, audio = 'npy')"
        )
    warnings.warn(
        "--allow-pickle: reading pickled spectrograms (numpy arrays only); a pickle can run arbitrary code "
        "when loaded, use only files you trust",
        UserWarning,
        stacklevel=3,
    )


def settings(c: dict[str, Any], audio_dir: str) -> dict[str, Any]:
    """Everything that changes the decoded arrays (the cache key)."""
    keys = ["audio", "audio_size", "frame_size", "frames_dir"]
    if c["audio"] == "wav":
        keys += ["sample_rate", "seconds", "n_fft", "hop"]
    return {**{k: c[k] for k in keys}, "audio_dir": audio_dir}


def decode_clip(
    s: dict[str, Any], job: tuple[str, str], trust_pickles: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(audio path, frame path) -> (audio_size x audio_size spectrogram, uint8 frame); picklable for workers."""
    audio, frame = job
    try:
        if s["audio"] == "wav":
            spec = af.wav_log_spectrogram(audio, s["sample_rate"], s["seconds"], s["n_fft"], s["hop"])
        else:
            spec = af.read_spectrogram(audio, s["audio"], trust_pickles)
        spec = af.resize_2d(spec, s["audio_size"])
    except Exception as e:  # any decoder failure is the file's problem, reported by name
        raise unreadable_audio(audio, e) from None
    return spec, decode_frame(frame, s["frame_size"])


def _is_header(fields: list[str]) -> bool:
    """'Category&VideoID&Quality&StartTime&EndTime': named so, or its Start / End fields are not numbers."""
    if fields[0].lower() == "category":
        return True
    try:
        [float(f) for f in fields[3:5]]
    except ValueError:
        return True
    return False


def read_list(path: Path, problems: Problems) -> list[tuple[int, str, str]]:
    """(line, category, video id) rows of an `&` list; a header line is skipped, malformed rows reported."""
    out = []
    for i, (n, fields) in enumerate(read_rows(path, "&")):
        if i == 0 and _is_header(fields):
            continue
        if len(fields) < 2 or not fields[0] or not fields[1]:
            problems.add("malformed row (expected Category&VideoID&Quality&Start&End)", f"{path.name} line {n}")
            continue
        why = id_problem(fields[1])
        if why:
            problems.add(f"invalid video id ({why})", f"{path.name} line {n}: {fields[1][:40]!r}")
            continue
        out.append((n, fields[0], fields[1]))
    return out


@dataclass
class Scan:
    root: Path
    classes: list[str] = field(default_factory=list)
    splits: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # split -> [(id, label)]
    names: dict[str, str] = field(default_factory=dict)  # split -> file name found
    files: dict[str, tuple[Path, Path]] = field(default_factory=dict)  # id -> (audio, frame), both present
    audio_dir: Path | None = None
    problems: Problems = field(default_factory=Problems)


def scan(data_cfg: dict[str, Any]) -> Scan:
    """Structural checks: annotation and split lists, labels, duplicates, missing audio / frames."""
    c = data_cfg["ave"]
    s = Scan(Path(data_cfg["path"]))
    if not s.root.is_dir():
        s.problems.add("dataset folder not found (data.path)", str(s.root))
        return s
    ann = s.root / ANNOTATIONS
    annotated: dict[str, str] = {}
    if not ann.is_file():
        s.problems.add("missing annotation file", f"{ANNOTATIONS} not found in {s.root} (it defines the classes)")
    else:
        for n, category, vid in read_list(ann, s.problems):
            if vid in annotated:
                s.problems.add(f"duplicate video id in {ANNOTATIONS}", f"{vid} (line {n})")
            annotated.setdefault(vid, category)
        s.classes = sorted(set(annotated.values()))
    label_of = {name: i for i, name in enumerate(s.classes)}
    seen: dict[str, str] = {}
    for split, candidates in SPLIT_FILES.items():
        path = next((s.root / f for f in candidates if (s.root / f).is_file()), None)
        if path is None:
            s.problems.add("missing split file", f"none of {', '.join(candidates)} in {s.root}")
            continue
        s.names[split] = path.name
        rows = read_list(path, s.problems)
        items = s.splits.setdefault(split, [])
        for n, category, vid in rows:
            where = f"{path.name} line {n}"
            if s.classes and category not in label_of:
                s.problems.add(f"label not among the categories of {ANNOTATIONS}", f"{where}: {category!r}")
            elif vid in seen:
                s.problems.add("duplicate video id", f"{vid} ({seen[vid]} and {where})")
            elif annotated and vid not in annotated:
                s.problems.add(f"video id not in {ANNOTATIONS}", f"{where}: {vid}")
            else:
                seen[vid] = where
                if s.classes:
                    items.append((vid, label_of[category]))
        if not rows:
            s.problems.add("empty split", f"{path.name} has no rows")
    _scan_files(s, c, list(seen))
    return s


def _scan_files(s: Scan, c: dict[str, Any], ids: list[str]) -> None:
    if c["audio_dir"]:
        s.audio_dir = s.root / c["audio_dir"]
        if not s.audio_dir.is_dir():
            s.problems.add("missing folder", f"{c['audio_dir']}/ not found in {s.root} (data.ave.audio_dir)")
    else:
        s.audio_dir = next((s.root / d for d in AUDIO_DIRS if (s.root / d).is_dir()), None)
        if s.audio_dir is None:
            s.problems.add(
                "missing folder",
                f"no audio folder in {s.root}: expected one of {', '.join(AUDIO_DIRS)} (or set data.ave.audio_dir)",
            )
    frames_dir = s.root / c["frames_dir"]
    if not frames_dir.is_dir():
        s.problems.add("missing folder", f"{c['frames_dir']}/ not found in {s.root} (set data.ave.frames_dir)")
    suffix, audio_ok = SUFFIX[c["audio"]], s.audio_dir is not None and s.audio_dir.is_dir()
    for vid in ids:
        audio = s.audio_dir / f"{vid}{suffix}" if audio_ok else None
        frame = af.middle_frame(frames_dir / vid)
        if audio is not None and not audio.is_file():
            s.problems.add(f"missing audio ({s.audio_dir.name}/<id>{suffix})", vid)
        if frames_dir.is_dir() and frame is None:
            s.problems.add(f"missing frames (no image in {c['frames_dir']}/<id>/)", vid)
        if audio is not None and audio.is_file() and frame is not None:
            s.files[vid] = (audio, frame)


def _cache_plan(data_cfg: dict[str, Any], s: Scan, trust_pickles: bool) -> CachePlan:
    st = settings(data_cfg["ave"], s.audio_dir.name if s.audio_dir else "")
    # trust is not part of the cache key: it does not change the arrays, only whether pickles may be read
    decode = partial(decode_clip, trust_pickles=trust_pickles)
    return plan_cache(data_cfg["cache_dir"], "ave", s.root, st, s.files, decode)


def check(data_cfg: dict[str, Any], decode: bool = True, trust_pickles: bool = False) -> CheckReport:
    """Validate an AVE folder: the report behind `python -m core.data check` and build()."""
    c = data_cfg["ave"]
    _pickle_gate(c, trust_pickles)
    s = scan(data_cfg)
    counts = class_counts(s.splits, s.classes)
    lines = [f"AVE at {s.root}"]
    if s.splits:
        listed = ", ".join(f"{s.names[k]} {len(v)}" for k, v in s.splits.items())
        lines.append(
            f"{sum(len(v) for v in s.splits.values())} videos ({listed}), {len(s.classes)} classes "
            f"(sorted categories of {ANNOTATIONS})"
        )
        if s.classes:
            lines.append(count_table(counts, s.classes))
    where = f"{s.audio_dir.name}/<id>{SUFFIX[c['audio']]}" if s.audio_dir else "(no audio folder)"
    lines.append(
        f"audio: {c['audio']} from {where} -> {c['audio_size']} x {c['audio_size']}; frames: middle "
        f"image of {c['frames_dir']}/<id>/ -> 3 x {c['frame_size']} x {c['frame_size']}"
    )
    plan = _cache_plan(data_cfg, s, trust_pickles) if s.files else None
    return checked_report(s.problems, lines, counts, plan, data_cfg["num_workers"], decode)


def build(data_cfg: dict[str, Any], seed: int, trust_pickles: bool = False) -> DataBundle:
    """Check, decode (or reuse the cache) and return the three splits (`seed` unused: the splits are fixed).
    `trust_pickles`: the user's --allow-pickle, never a config value."""
    c = data_cfg["ave"]
    _pickle_gate(c, trust_pickles)
    s = scan(data_cfg)
    raise_if_problems(s.problems, str(s.root))
    a_shape, v_shape = (c["audio_size"], c["audio_size"]), (3, c["frame_size"], c["frame_size"])
    splits = {k: s.splits[k] for k in ("train", "val", "test")}
    plan = _cache_plan(data_cfg, s, trust_pickles)
    return cached_bundle(plan, splits, s.classes, a_shape, v_shape, data_cfg["num_workers"], str(s.root))
