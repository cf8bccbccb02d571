"""Decoded-feature cache of the real datasets, and the Dataset that serves items from it.

One folder per (dataset path, preprocessing settings, file sizes / mtimes, cache format version):
`<cache_dir>/<dataset>-<hash>/` holding `audio.npy` (float32, N x F x L), `visual.npy` (uint8, N x 3 x H x W)
and `index.json` (clip ids in row order). It is written in a temporary folder and renamed into place,
so a folder that exists is complete; concurrent builders (several ranks) just let the first rename win.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from core.data.audio_features import normalise_frame, read_frame
from core.data.common import DataBundle
from core.data.validation import CheckReport, Problems, raise_if_problems

CACHE_VERSION = 1


class DecodeFailure(Exception):
    """One file that could not be decoded: `kind` groups it in the report ("unreadable audio"), `item` names it."""

    def __init__(self, kind: str, item: str) -> None:
        super().__init__(f"{kind}: {item}")
        self.kind, self.item = kind, item


def one_line(e: BaseException) -> str:
    """An exception as one short line for a problem list."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


def unreadable_audio(path: str | Path, e: BaseException) -> DecodeFailure:
    """The failure to raise when no decoder could read an audio file: named by file name, with the cause."""
    return DecodeFailure("unreadable audio", f"{Path(path).name} ({one_line(e)})")


def decode_frame(frame: str | Path, size: int) -> np.ndarray:
    """A frame image as uint8 (3, size, size); DecodeFailure naming `<id>/<file>` when it cannot be read."""
    try:
        return read_frame(frame, size)
    except Exception as e:  # any decoder failure is the file's problem, reported by name
        raise DecodeFailure(
            "unreadable frame", f"{Path(frame).parent.name}/{Path(frame).name} ({one_line(e)})"
        ) from None


def cache_folder(cache_dir: str | Path, dataset: str, key: dict[str, Any]) -> Path:
    """The settings-keyed folder; `key` must hold everything that changes the decoded arrays."""
    blob = json.dumps({"version": CACHE_VERSION, "dataset": dataset, **key}, sort_keys=True, default=str)
    return Path(cache_dir) / f"{dataset}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def file_stamp(path: Path) -> list[int]:
    """(size, mtime_ns): replacing a file in place invalidates the cache without hashing gigabytes."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


@dataclass
class CachePlan:
    """One dataset's cache: its folder, the clip ids in row order, their decode jobs and the (picklable) decoder."""

    folder: Path
    ids: list[str]
    jobs: list[Any]
    fn: Callable[[Any], tuple[np.ndarray, np.ndarray]]


def plan_cache(
    cache_dir: str | Path,
    dataset: str,
    root: Path,
    settings: dict[str, Any],
    files: dict[str, tuple[Path, Path]],
    decode_clip: Callable[[dict[str, Any], tuple[str, str]], tuple[np.ndarray, np.ndarray]],
) -> CachePlan:
    """The cache of `files` (id -> (audio, frame)) decoded by `decode_clip` with `settings`, in sorted id order."""
    ids = sorted(files)
    stamps = [[cid, file_stamp(files[cid][0]), files[cid][1].name, file_stamp(files[cid][1])] for cid in ids]
    # the key's content decides the folder name: changing it orphans every cache already decoded
    key = {"path": str(root.resolve()), "settings": settings, "files": stamps}
    jobs = [(str(files[cid][0]), str(files[cid][1])) for cid in ids]
    return CachePlan(cache_folder(cache_dir, dataset, key), ids, jobs, partial(decode_clip, settings))


def is_complete(folder: Path) -> bool:
    return (folder / "index.json").is_file()


def _safe(fn: Callable[[Any], tuple[np.ndarray, np.ndarray]], job: Any) -> Any:
    try:
        return fn(job)
    except DecodeFailure as e:
        return ("fail", e.kind, e.item)  # tuples pickle back from worker processes more simply than exceptions


def decode_all(
    jobs: list[Any], fn: Callable[[Any], tuple[np.ndarray, np.ndarray]], workers: int, desc: str = "decoding"
) -> Iterator[tuple[int, Any]]:
    """(index, (audio, visual) or ("fail", kind, item)) for every job, in order; `fn` must be picklable."""
    from tqdm import tqdm

    safe = partial(_safe, fn)
    bar = tqdm(total=len(jobs), desc=desc, unit="clip", disable=None, leave=False)
    try:
        if workers > 0 and len(jobs) > 1:
            with multiprocessing.get_context("spawn" if os.name != "posix" else "fork").Pool(workers) as pool:
                for i, out in enumerate(pool.imap(safe, jobs, chunksize=16)):
                    bar.update()
                    yield i, out
        else:
            for i, job in enumerate(jobs):
                bar.update()
                yield i, safe(job)
    finally:
        bar.close()


def failed(out: Any) -> bool:
    return isinstance(out[0], str)


def decode_problems(jobs: list[Any], fn: Callable, workers: int) -> Problems:
    """Try decoding everything without keeping it (the check command)."""
    problems = Problems()
    for _, out in decode_all(jobs, fn, workers, desc="checking"):
        if failed(out):
            problems.add(out[1], out[2])
    return problems


def build_cache(plan: CachePlan, workers: int, audio_shape: tuple[int, ...], visual_shape: tuple[int, ...]) -> Problems:
    """Decode every job into the plan's folder (atomically). Returns the decode problems; nothing is written if any."""
    folder, ids = plan.folder, plan.ids
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".tmp-{folder.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    problems = Problems()
    try:
        audio = np.lib.format.open_memmap(
            tmp / "audio.npy", mode="w+", dtype=np.float32, shape=(len(ids), *audio_shape)
        )
        visual = np.lib.format.open_memmap(
            tmp / "visual.npy", mode="w+", dtype=np.uint8, shape=(len(ids), *visual_shape)
        )
        for i, out in decode_all(plan.jobs, plan.fn, workers, desc=f"caching {folder.name}"):
            if failed(out):
                problems.add(out[1], out[2])
                continue
            audio[i], visual[i] = out
        audio.flush()
        visual.flush()
        del audio, visual
        if problems:
            return problems
        (tmp / "index.json").write_text(json.dumps({"version": CACHE_VERSION, "ids": ids}))
        try:
            os.rename(tmp, folder)
        except OSError:
            if not is_complete(folder):  # not a lost race with another builder: a real error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return problems


def cached_ids(folder: Path) -> list[str]:
    return json.loads((folder / "index.json").read_text())["ids"]


class FeatureDataset(Dataset):
    """Items `(audio (F, L) float32, visual (3, H, W) float32, label int)` read from a cache folder.

    The arrays are memory-mapped lazily, per process: the object pickles without them, so DataLoader
    workers (data.num_workers) each open their own map and share the page cache.
    """

    def __init__(self, folder: Path, rows: np.ndarray, labels: np.ndarray, ids: list[str]) -> None:
        self.folder = Path(folder)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.ids = list(ids)
        self._audio: np.ndarray | None = None
        self._visual: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def _open(self) -> None:
        self._audio = np.load(self.folder / "audio.npy", mmap_mode="r")
        self._visual = np.load(self.folder / "visual.npy", mmap_mode="r")

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        if self._audio is None:
            self._open()
        r = self.rows[i]
        audio = torch.from_numpy(np.array(self._audio[r], dtype=np.float32))
        visual = torch.from_numpy(normalise_frame(np.asarray(self._visual[r])))
        return audio, visual, int(self.labels[i])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_audio"] = state["_visual"] = None
        return state


def datasets_from_cache(folder: Path, splits: dict[str, list[tuple[str, int]]]) -> dict[str, FeatureDataset]:
    """One FeatureDataset per split from (clip id, label) lists, rows looked up in the cache's index."""
    row_of = {cid: r for r, cid in enumerate(cached_ids(folder))}
    out = {}
    for name, items in splits.items():
        ids = [cid for cid, _ in items]
        out[name] = FeatureDataset(folder, np.array([row_of[c] for c in ids]), np.array([y for _, y in items]), ids)
    return out


def decode_check(plan: CachePlan, workers: int, decode: bool) -> tuple[Problems, str]:
    """check()'s decode pass: (problems, one-line note for the summary)."""
    if not decode:
        return Problems(), "decoding: skipped (--no-decode)"
    if is_complete(plan.folder):
        return Problems(), f"decoding: skipped, every clip is already decoded in {plan.folder}"
    problems = decode_problems(plan.jobs, plan.fn, workers)
    return problems, f"decoding: tried {len(plan.jobs)} clip(s), {'some failed' if problems else 'all readable'}"


def checked_report(
    problems: Problems,
    lines: list[str],
    counts: dict[str, dict[str, int]],
    plan: CachePlan | None,
    workers: int,
    decode: bool,
) -> CheckReport:
    """check()'s report: the scan's problems and summary lines, extended by the decode pass when there is a plan."""
    if plan is not None:
        found, note = decode_check(plan, workers, decode)
        problems.extend(found)
        lines.append(note)
    return CheckReport(problems.lines(), "\n".join(lines), counts)


def ensure_cache(
    plan: CachePlan, workers: int, audio_shape: tuple[int, ...], visual_shape: tuple[int, ...], where: str
) -> None:
    """build()'s decode pass: reuse a complete cache, else decode everything; DataError if any file fails."""
    if is_complete(plan.folder):
        return
    raise_if_problems(build_cache(plan, workers, audio_shape, visual_shape), where)


def cached_bundle(
    plan: CachePlan,
    splits: dict[str, list[tuple[str, int]]],
    class_names: list[str],
    audio_shape: tuple[int, int],
    visual_shape: tuple[int, int, int],
    workers: int,
    where: str,
) -> DataBundle:
    """build()'s ending: fill the cache unless it is complete, then serve the train / val / test splits from it."""
    ensure_cache(plan, workers, audio_shape, visual_shape, where)
    ds = datasets_from_cache(plan.folder, splits)
    return DataBundle(
        ds["train"], ds["val"], ds["test"], len(class_names), list(class_names), audio_shape, visual_shape
    )
