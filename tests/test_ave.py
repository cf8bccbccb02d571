"""AVE loader on fabricated trees: classes, layout variants (header, CRLF, FPS-SE, wav / npy / pickle), broken cases."""

from __future__ import annotations

import pickle
import re
import shutil
import warnings

import numpy as np
import pytest
import torch

from core.data import ave, build_datasets
from core.data.check import main as check_main
from core.errors import ConfigError, DataError
from tests.fabricate import AVE_CLASSES, ave_data, fabricate_ave, tree_config

SORTED = sorted(AVE_CLASSES)


def assert_labels(bundle, tree) -> None:
    """Every item's label is the index of its category among the sorted categories."""
    truth = {vid: cls for items in tree.splits.values() for vid, cls in items}
    for split in ("train", "val", "test"):
        ds = getattr(bundle, split)
        assert sorted(ds.ids) == sorted(tree.ids(split))
        for i, vid in enumerate(ds.ids):
            assert bundle.class_names[ds[i][2]] == truth[vid]


def test_wav_layout_with_header(tmp_path):
    tree = fabricate_ave(tmp_path / "AVE", header=True)
    b = build_datasets(tree_config("ave", tree.root, tmp_path / "cache"))  # default audio settings
    assert b.class_names == SORTED and b.num_classes == 3
    assert (len(b.train), len(b.val), len(b.test)) == (6, 3, 3)
    assert b.audio_shape == (128, 128) and b.visual_shape == (3, 16, 16)
    a, v, y = b.val[0]
    assert a.shape == (128, 128) and v.shape == (3, 16, 16) and a.dtype == v.dtype == torch.float32
    assert torch.isfinite(a).all() and a.std() > 0
    assert_labels(b, tree)


def test_no_header_crlf_reads_the_same(tmp_path):
    with_header = ave.scan(ave_data(fabricate_ave(tmp_path / "h", header=True).root, tmp_path))
    tree = fabricate_ave(tmp_path / "n", header=False, crlf=True)
    assert b"\r\n" in (tree.root / "Annotations.txt").read_bytes()
    plain = ave.scan(ave_data(tree.root, tmp_path))
    assert not plain.problems and plain.classes == SORTED and plain.splits == with_header.splits
    assert_labels(ave.build(ave_data(tree.root, tmp_path), seed=0), tree)


def test_fps_se_frames_and_short_split_names(tmp_path):
    tree = fabricate_ave(
        tmp_path / "AVE", frames_dir="Image-01-FPS-SE", split_names=("train.txt", "val.txt", "test.txt")
    )
    with pytest.raises(DataError, match=r"missing folder: Image-01-FPS/ not found .*set data\.ave\.frames_dir"):
        ave.build(ave_data(tree.root, tmp_path), seed=0)
    b = ave.build(ave_data(tree.root, tmp_path, frames_dir="Image-01-FPS-SE"), seed=0)
    assert_labels(b, tree)


def test_npy_spectrograms_and_explicit_audio_dir(tmp_path):
    tree = fabricate_ave(tmp_path / "AVE", audio="npy")
    b = ave.build(ave_data(tree.root, tmp_path, audio="npy"), seed=0)
    assert b.train[0][0].shape == (20, 20)
    assert_labels(b, tree)
    shutil.move(tree.root / "Audio-1004-SE", tree.root / "specs")
    with pytest.raises(DataError, match="no audio folder .*expected one of Audio-1004-SE, Audios"):
        ave.build(ave_data(tree.root, tmp_path, audio="npy"), seed=0)
    assert len(ave.build(ave_data(tree.root, tmp_path, audio="npy", audio_dir="specs"), seed=0).test) == 3


def test_pickle_needs_opt_in_and_warns(tmp_path):
    tree = fabricate_ave(tmp_path / "AVE", audio="pickle")
    with pytest.raises(ConfigError, match=r"--allow-pickle on the command line.*run arbitrary code"):
        ave.build(ave_data(tree.root, tmp_path, audio="pickle"), seed=0)
    with pytest.raises(ConfigError, match="allow-pickle"):
        ave.check(ave_data(tree.root, tmp_path, audio="pickle"))
    with pytest.warns(UserWarning, match="pickle can run arbitrary code"):
        b = ave.build(ave_data(tree.root, tmp_path, audio="pickle"), seed=0, trust_pickles=True)
    assert b.test[0][0].shape == (20, 20)
    assert_labels(b, tree)


def test_npy_mode_never_unpickles(tmp_path):
    tree = fabricate_ave(tmp_path / "AVE", audio="npy")
    vid = tree.ids("train")[0]
    np.save(tree.root / "Audio-1004-SE" / f"{vid}.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    report = ave.check(ave_data(tree.root, tmp_path, audio="npy"))
    assert report.problems == [
        f"unreadable audio: {vid}.npy (ValueError: Object arrays cannot be loaded when allow_pickle=False)"
    ]


def test_pickle_with_a_non_array_is_unreadable(tmp_path):
    tree = fabricate_ave(tmp_path / "AVE", audio="pickle")
    vid = tree.ids("test")[1]
    (tree.root / "Audio-1004-SE" / f"{vid}.pkl").write_bytes(pickle.dumps({"not": "an array"}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = ave.check(ave_data(tree.root, tmp_path, audio="pickle"), trust_pickles=True)
    assert len(report.problems) == 1 and report.problems[0].startswith(f"unreadable audio: {vid}.pkl (ValueError")


def test_check_summary_counts(tmp_path):
    tree = fabricate_ave(tmp_path / "AVE", per_class=(3, 1, 2))
    report = ave.check(ave_data(tree.root, tmp_path))
    assert report.ok, report.problems
    assert report.counts["train"] == {c: 3 for c in SORTED} and report.counts["test"]["Bark"] == 2
    assert "18 videos (trainSet.txt 9, valSet.txt 3, testSet.txt 6), 3 classes" in report.summary


def _broken(tree, kind: str) -> str:
    vid = tree.ids("val")[1]
    if kind == "missing wav":
        (tree.root / "Audios" / f"{vid}.wav").unlink()
        return f"missing audio (Audios/<id>.wav): {vid}"
    if kind == "missing frames":
        shutil.rmtree(tree.root / "Image-01-FPS" / vid)
        return f"missing frames (no image in Image-01-FPS/<id>/): {vid}"
    if kind == "unknown label":
        with open(tree.root / "testSet.txt", "a") as f:
            f.write(f"Dog&{vid}x&good&0&10\n")
        return "label not among the categories of Annotations.txt: testSet.txt line 5: 'Dog'"
    if kind == "empty split":
        (tree.root / "valSet.txt").write_text("Category&VideoID&Quality&StartTime&EndTime\n")
        return "empty split: valSet.txt has no rows"
    if kind == "duplicate id":
        with open(tree.root / "testSet.txt", "a") as f:
            f.write(f"Bark&{vid}&good&0&10\n")
        return f"duplicate video id: {vid} (valSet.txt line 3 and testSet.txt line 5)"
    if kind == "unreadable wav":
        (tree.root / "Audios" / f"{vid}.wav").write_bytes(b"garbage")
        return f"unreadable audio: {vid}.wav ("
    if kind == "not annotated":
        lines = (tree.root / "Annotations.txt").read_text().splitlines()
        (tree.root / "Annotations.txt").write_text("\n".join(x for x in lines if f"&{vid}&" not in x) + "\n")
        return f"video id not in Annotations.txt: valSet.txt line 3: {vid}"
    if kind == "missing split file":
        (tree.root / "testSet.txt").unlink()
        return "missing split file: none of testSet.txt, test.txt in "
    raise AssertionError(kind)


KINDS = [
    "missing wav",
    "missing frames",
    "unknown label",
    "empty split",
    "duplicate id",
    "unreadable wav",
    "not annotated",
    "missing split file",
]


@pytest.mark.parametrize("kind", KINDS)
def test_broken_tree_is_reported_and_refused(tmp_path, kind):
    tree = fabricate_ave(tmp_path / "AVE")
    expected = _broken(tree, kind)
    report = ave.check(ave_data(tree.root, tmp_path))
    assert not report.ok and len(report.problems) == 1 and report.problems[0].startswith(expected), report.problems
    with pytest.raises(DataError, match="AVE: " + re.escape(expected.split(":")[0])):
        ave.build(ave_data(tree.root, tmp_path), seed=0)


def test_check_cli_exit_codes(tmp_path, capsys):
    tree = fabricate_ave(tmp_path / "AVE", audio="pickle")
    conf = tmp_path / "c.toml"
    conf.write_text(
        f'[data]\ndataset = "ave"\npath = "{tree.root}"\ncache_dir = "{tmp_path / "cache"}"\n'
        '[data.ave]\naudio = "pickle"\nframe_size = 16\n'
    )
    assert check_main(["check", str(conf)]) == 2
    assert "--allow-pickle" in capsys.readouterr().err
    with pytest.warns(UserWarning):
        assert check_main(["check", str(conf), "--allow-pickle"]) == 0
    assert "no problems found" in capsys.readouterr().out
    (tree.root / "Image-01-FPS" / tree.ids("test")[0] / "00003.jpg").write_bytes(b"not a jpeg")
    with pytest.warns(UserWarning):
        assert check_main(["check", str(conf), "--allow-pickle"]) == 1
    assert "unreadable frame: " in capsys.readouterr().out
