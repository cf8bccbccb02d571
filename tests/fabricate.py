"""Tiny CREMA-D and AVE trees with real files (soundfile wavs, Pillow jpgs, numpy / pickle spectrograms), and configs.

Used by the CREMA-D and AVE tests; nothing here touches a real dataset.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

from core.config import load_config

CREMAD_CLASSES = ["NEU", "HAP", "SAD", "FEA", "DIS", "ANG"]
AVE_CLASSES = ["Church bell", "Bark", "Male speech, man speaking"]  # unsorted on purpose: classes get sorted


def write_wav(path: Path, seconds: float = 0.5, sr: int = 22050, freq: float = 440.0, seed: int = 0) -> None:
    """A tone plus a little noise, 16-bit PCM like the real files."""
    t = np.arange(int(seconds * sr)) / sr
    noise = np.random.default_rng(seed).standard_normal(len(t))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), (0.5 * np.sin(2 * np.pi * freq * t) + 0.05 * noise).astype(np.float32), sr, subtype="PCM_16")


def write_frames(folder: Path, n: int = 3, color: tuple[int, int, int] = (200, 50, 50), size=(24, 16)) -> None:
    """n jpgs named like ffmpeg's output (00001.jpg ...), slightly different so the middle one is identifiable."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        c = tuple(min(255, v + 20 * i) for v in color)
        Image.new("RGB", size, color=c).save(folder / f"{i + 1:05d}.jpg", quality=90)


def tree_config(dataset: str, root: Path, cache_dir: Path, **over) -> dict:
    """A full config reading `dataset` from a fabricated tree: 16 px frames, `over` as data.<dataset>.<key> = value."""
    sets = {
        "data.dataset": dataset,
        "data.path": str(root),
        "data.cache_dir": str(cache_dir),
        f"data.{dataset}.frame_size": 16,
        **{f"data.{dataset}.{k}": v for k, v in over.items()},
    }
    return load_config(None, sets)


def cremad_data(root: Path, tmp_path: Path, **over) -> dict:
    """The `data` section reading a fabricated CREMA-D tree, caching under tmp_path/cache."""
    return tree_config("cremad", root, tmp_path / "cache", **over)["data"]


def ave_data(root: Path, tmp_path: Path, **over) -> dict:
    """The `data` section reading a fabricated AVE tree, with small short audio so every test decodes fast."""
    return tree_config("ave", root, tmp_path / "cache", **{"audio_size": 20, "seconds": 1.0, **over})["data"]


def _lines(rows: list[str], crlf: bool, header: str | None = None) -> bytes:
    eol = "\r\n" if crlf else "\n"
    return eol.join(([header] if header else []) + rows).encode() + eol.encode()


@dataclass
class Tree:
    root: Path
    splits: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # split -> [(id, class name)]

    def ids(self, split: str | None = None) -> list[str]:
        return [cid for s, items in self.splits.items() if split in (None, s) for cid, _ in items]


def fabricate_cremad(
    root: Path,
    actors: tuple[str, ...] = ("1001", "1002", "1003"),
    test_actor: str = "1001",
    crlf: bool = True,
    frames_dir: str = "Image-01-FPS",
    sr: int = 22050,
) -> Tree:
    """train: every actor x class with sentence DFA (18 clips); test: `test_actor` x class with IEO (6 clips)."""
    tree = Tree(root)
    tree.splits["train"] = [(f"{a}_DFA_{e}_XX", e) for a in actors for e in CREMAD_CLASSES]
    tree.splits["test"] = [(f"{test_actor}_IEO_{e}_HI", e) for e in CREMAD_CLASSES]
    for split, fname in (("train", "train.csv"), ("test", "test.csv")):
        root.mkdir(parents=True, exist_ok=True)
        (root / fname).write_bytes(_lines([f"{c},{e}" for c, e in tree.splits[split]], crlf))
        for n, (clip, emo) in enumerate(tree.splits[split]):
            k = CREMAD_CLASSES.index(emo)
            write_wav(root / "AudioWAV" / f"{clip}.wav", sr=sr, freq=200.0 + 150 * k, seed=n)
            write_frames(root / frames_dir / clip, color=(40 * k, 100, 200 - 30 * k))
    return tree


def fabricate_ave(
    root: Path,
    header: bool = True,
    crlf: bool = False,
    frames_dir: str = "Image-01-FPS",
    audio: str = "wav",
    audio_dir: str | None = None,
    split_names: tuple[str, str, str] = ("trainSet.txt", "valSet.txt", "testSet.txt"),
    per_class: tuple[int, int, int] = (2, 1, 1),
) -> Tree:
    """`per_class` videos per class in train / val / test; audio as .wav (0.5 s), .npy or .pkl (64 x 50)."""
    tree = Tree(root)
    audio_dir = audio_dir or {"wav": "Audios", "npy": "Audio-1004-SE", "pickle": "Audio-1004-SE"}[audio]
    n = 0
    rows_of: dict[str, list[str]] = {}
    for split, count in zip(("train", "val", "test"), per_class, strict=True):
        items = tree.splits.setdefault(split, [])
        for k, cls in enumerate(AVE_CLASSES):
            for _ in range(count):
                vid = f"-v{n:03d}Xq_{k}"  # YouTube ids may start with '-'
                items.append((vid, cls))
                rows_of.setdefault(split, []).append(f"{cls}&{vid}&good&0&10")
                write_audio(root / audio_dir, vid, audio, k, n)
                write_frames(root / frames_dir / vid, n=4, color=(60 * k, 120, 30))
                n += 1
    head = "Category&VideoID&Quality&StartTime&EndTime" if header else None
    all_rows = [r for rows in rows_of.values() for r in rows]
    (root / "Annotations.txt").write_bytes(_lines(all_rows, crlf, head))
    for split, name in zip(("train", "val", "test"), split_names, strict=True):
        (root / name).write_bytes(_lines(rows_of[split], crlf, head))
    return tree


def write_audio(folder: Path, vid: str, audio: str, k: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if audio == "wav":
        write_wav(folder / f"{vid}.wav", freq=300.0 + 200 * k, seed=seed)
        return
    spec = np.random.default_rng(seed).standard_normal((64, 50)).astype(np.float32) + k
    if audio == "npy":
        np.save(folder / f"{vid}.npy", spec)
    else:
        with open(folder / f"{vid}.pkl", "wb") as f:
            pickle.dump(spec, f)
