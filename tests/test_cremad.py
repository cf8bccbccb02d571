"""CREMA-D loader on fabricated trees: shapes, label map, splits, layout variants, cache, broken cases, check CLI."""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from core.data import audio_features, build_datasets, cremad
from core.data.check import main as check_main
from core.errors import DataError
from tests.fabricate import CREMAD_CLASSES, cremad_data, fabricate_cremad, tree_config, write_wav
from tests.support import ROOT


@pytest.fixture
def tree(tmp_path):
    return fabricate_cremad(tmp_path / "CREMA-D")


def count_decodes(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = audio_features.wav_log_spectrogram

    def counting(path, *a, **k):
        calls.append(str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(audio_features, "wav_log_spectrogram", counting)
    return calls


def test_build_shapes_labels_and_splits(tree, tmp_path):
    b = build_datasets(tree_config("cremad", tree.root, tmp_path / "cache"))  # through the real dispatch
    assert b.class_names == CREMAD_CLASSES and b.num_classes == 6
    assert b.audio_shape == (257, 188) and b.visual_shape == (3, 16, 16)
    assert len(b.train) + len(b.val) == 18 and len(b.val) == 2 and len(b.test) == 6
    assert set(b.train.ids) | set(b.val.ids) == set(tree.ids("train")) and set(b.test.ids) == set(tree.ids("test"))
    a, v, y = b.train[0]
    assert a.dtype == v.dtype == torch.float32 and a.shape == (257, 188) and v.shape == (3, 16, 16)
    assert isinstance(y, int) and torch.isfinite(a).all() and torch.isfinite(v).all()
    for ds in (b.train, b.val, b.test):  # label map: the EMO field of the clip name, NEU..ANG = 0..5
        for i, cid in enumerate(ds.ids):
            assert CREMAD_CLASSES[ds[i][2]] == cid.split("_")[2]
    # ImageNet normalisation of the middle (2nd of 3) frame: undo it and compare with the jpg
    i = b.test.ids.index("1001_IEO_NEU_HI")
    raw = audio_features.read_frame(tree.root / "Image-01-FPS" / "1001_IEO_NEU_HI" / "00002.jpg", 16)
    back = b.test[i][1].numpy() * audio_features.IMAGENET_STD + audio_features.IMAGENET_MEAN
    assert np.allclose(back * 255, raw, atol=0.01)


def test_spectrogram_matches_reference_stft(tree, tmp_path):
    from scipy.signal import get_window, stft

    b = cremad.build(cremad_data(tree.root, tmp_path), seed=0)
    cid = b.test.ids[0]
    x = audio_features.read_wav(tree.root / "AudioWAV" / f"{cid}.wav", 22050)
    x = np.clip(np.tile(x, 7)[: 3 * 22050], -1, 1)  # 0.5 s tiled to 3 s
    _, _, z = stft(x, window="hann", nperseg=512, noverlap=512 - 353, boundary="zeros", padded=False)
    ref = np.log(np.abs(z * get_window("hann", 512).sum()) + 1e-7)
    assert np.allclose(b.test[0][0].numpy(), ref, atol=1e-3)


def test_resized_variant_and_16k_wavs(tmp_path):
    tree = fabricate_cremad(tmp_path / "c16", sr=16000)  # the real files are 16 kHz: resampled to 22050
    b = cremad.build(cremad_data(tree.root, tmp_path), seed=0)
    assert b.train[0][0].shape == (257, 188)
    r = cremad.build(cremad_data(tree.root, tmp_path, audio="resized", audio_size=24), seed=0)
    assert r.audio_shape == (24, 24) and r.train[0][0].shape == (24, 24)


def test_val_carve_is_seeded_and_speaker_disjoint_option(tree, tmp_path):
    a = cremad.build(cremad_data(tree.root, tmp_path), seed=3)
    assert a.val.ids == cremad.build(cremad_data(tree.root, tmp_path), seed=3).val.ids
    assert any(cremad.build(cremad_data(tree.root, tmp_path), seed=s).val.ids != a.val.ids for s in (4, 5, 6))
    assert not set(a.train.ids) & set(a.val.ids)
    for seed in range(4):
        d = cremad.build(cremad_data(tree.root, tmp_path, speaker_disjoint_val=True, val_fraction=0.3), seed=seed)
        train_actors = {c.split("_")[0] for c in d.train.ids}
        val_actors = {c.split("_")[0] for c in d.val.ids}
        assert val_actors and train_actors and not train_actors & val_actors
        assert len(d.train) + len(d.val) == 18


def test_lf_and_crlf_split_files_read_the_same(tmp_path):
    lf = fabricate_cremad(tmp_path / "lf", crlf=False)
    assert b"\r" not in (lf.root / "train.csv").read_bytes()
    crlf = fabricate_cremad(tmp_path / "crlf", crlf=True)
    assert b"\r\n" in (crlf.root / "train.csv").read_bytes()
    s1, s2 = cremad.scan(cremad_data(lf.root, tmp_path)), cremad.scan(cremad_data(crlf.root, tmp_path))
    assert s1.splits == s2.splits and not s1.problems and not s2.problems


def test_cache_is_reused_and_keyed_by_settings(tree, tmp_path, monkeypatch):
    calls = count_decodes(monkeypatch)
    first = cremad.build(cremad_data(tree.root, tmp_path), seed=0)
    assert len(calls) == 24
    second = cremad.build(cremad_data(tree.root, tmp_path), seed=0)
    assert len(calls) == 24  # read from the cache, nothing decoded
    assert torch.equal(first.test[2][0], second.test[2][0])
    cremad.build(cremad_data(tree.root, tmp_path, frame_size=8), seed=0)  # new settings, new folder
    assert len(calls) == 48
    write_wav(tree.root / "AudioWAV" / f"{tree.ids('test')[0]}.wav", seconds=0.7, freq=999.0)
    os.utime(tree.root / "AudioWAV" / f"{tree.ids('test')[0]}.wav", ns=(1, 1))  # a replaced file
    cremad.build(cremad_data(tree.root, tmp_path), seed=0)
    assert len(calls) == 72
    folders = [p for p in (tmp_path / "cache").iterdir()]
    assert len(folders) == 3 and all(p.name.startswith("cremad-") for p in folders)  # no temp folders left


def test_datasets_pickle_and_work_in_loader_workers(tree, tmp_path):
    b = cremad.build(cremad_data(tree.root, tmp_path, audio="resized", audio_size=16), seed=0)
    b.train[0]  # opens the memory maps; they must not travel in the pickle
    clone = pickle.loads(pickle.dumps(b.train))
    assert clone._audio is None and torch.equal(clone[1][0], b.train[1][0])
    # spawn: the worker gets the dataset only through its pickle, and no lock a lingering thread of an earlier
    # test held at fork time can hang it (a forked worker hung once in a full run, 2026-12-07)
    loader = torch.utils.data.DataLoader(b.test, batch_size=4, num_workers=1, multiprocessing_context="spawn")
    a, v, y = next(iter(loader))
    assert a.shape == (4, 16, 16) and v.shape == (4, 3, 16, 16) and y.tolist() == [0, 1, 2, 3]


def test_check_counts_and_parallel_decode(tree, tmp_path):
    cfg = cremad_data(tree.root, tmp_path)
    cfg["num_workers"] = 2
    report = cremad.check(cfg)
    assert report.ok, report.problems
    assert report.counts["train"]["ANG"] == 3 and report.counts["test"]["NEU"] == 1
    assert "24 clips" in report.summary and "3 actors" in report.summary and "all readable" in report.summary


def _broken(tree, kind: str) -> str:
    """Break the tree one way; return a fragment the problem line must contain."""
    clip = tree.ids("train")[4]
    if kind == "missing wav":
        (tree.root / "AudioWAV" / f"{clip}.wav").unlink()
        return f"missing audio (AudioWAV/<clip>.wav): {clip}"
    if kind == "missing frames":
        shutil.rmtree(tree.root / "Image-01-FPS" / clip)
        return f"missing frames (no image in Image-01-FPS/<clip>/): {clip}"
    if kind == "unknown label":
        with open(tree.root / "train.csv", "ab") as f:
            f.write(b"1001_DFA_XYZ_XX,XYZ\r\n")
        return "label not in NEU HAP SAD FEA DIS ANG: train.csv line 19: 'XYZ'"
    if kind == "empty split":
        (tree.root / "test.csv").write_bytes(b"")
        return "empty split: test.csv has no rows"
    if kind == "duplicate id":
        with open(tree.root / "test.csv", "ab") as f:
            f.write(f"{clip},ANG\r\n".encode())
        return f"duplicate clip id: {clip} (train.csv line 5 and test.csv line 7)"
    if kind == "unreadable wav":
        (tree.root / "AudioWAV" / f"{clip}.wav").write_bytes(b"RIFF\x00\x00not a wav at all")
        return f"unreadable audio: {clip}.wav ("
    if kind == "unreadable frame":
        (tree.root / "Image-01-FPS" / clip / "00002.jpg").write_bytes(b"\xff\xd8 broken")
        return f"unreadable frame: {clip}/00002.jpg ("
    raise AssertionError(kind)


KINDS = [
    "missing wav",
    "missing frames",
    "unknown label",
    "empty split",
    "duplicate id",
    "unreadable wav",
    "unreadable frame",
]


@pytest.mark.parametrize("kind", KINDS)
def test_broken_tree_is_reported_and_refused(tree, tmp_path, kind):
    expected = _broken(tree, kind)
    report = cremad.check(cremad_data(tree.root, tmp_path))
    assert not report.ok and len(report.problems) == 1 and report.problems[0].startswith(expected), report.problems
    with pytest.raises(DataError, match="CREMA-D: " + re.escape(expected.split(":")[0])):
        cremad.build(cremad_data(tree.root, tmp_path), seed=0)
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(cache.iterdir())  # nothing half-written


def test_many_missing_files_make_one_line_with_count(tree, tmp_path):
    shutil.rmtree(tree.root / "Image-01-FPS")
    for cid in tree.ids("test"):
        (tree.root / "AudioWAV" / f"{cid}.wav").unlink()
    report = cremad.check(cremad_data(tree.root, tmp_path))
    assert report.problems[0] == f"missing folder: Image-01-FPS/ not found in {tree.root} (set data.cremad.frames_dir)"
    assert report.problems[1].startswith("missing audio (AudioWAV/<clip>.wav): 6 (first: 1001_IEO_NEU_HI; ")
    assert report.problems[1].endswith("; ...)")
    with pytest.raises(DataError, match=r"\(\+1 more problem; run `python -m core\.data check <config>`\)"):
        cremad.build(cremad_data(tree.root, tmp_path), seed=0)


@pytest.mark.integration
def test_check_cli_exit_codes(tree, tmp_path, capsys):
    conf = tmp_path / "c.toml"
    conf.write_text(f'[data]\ndataset = "cremad"\npath = "{tree.root}"\ncache_dir = "{tmp_path / "cache"}"\n')
    assert check_main(["check", str(conf), "--set", "data.cremad.frame_size=16"]) == 0
    out = capsys.readouterr().out
    assert "no problems found" in out and "ANG" in out
    assert check_main(["check", str(conf), "--set", "data.cremad.nope=1"]) == 2
    assert "unknown key 'data.cremad.nope'" in capsys.readouterr().err
    _broken(tree, "missing wav")
    # the real entry point once (a subprocess pays the torch import, so only once)
    bad = subprocess.run(
        [sys.executable, "-m", "core.data", "check", str(conf), "--no-decode"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "missing audio (AudioWAV/<clip>.wav)" in bad.stdout, bad.stderr


def test_check_cli_on_avdigits_configs(tmp_path, capsys):
    conf = tmp_path / "a.toml"
    conf.write_text('[data]\ndataset = "avdigits"\n')  # the bundled file, found from any working directory
    assert check_main(["check", str(conf)]) == 0
    assert "AV-Digits at" in capsys.readouterr().out
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    assert check_main(["check", str(conf), "--set", f"data.path={bad}"]) == 1
    assert str(bad) in capsys.readouterr().out
