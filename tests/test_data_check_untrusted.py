"""`python -m core.data check` on a hostile dataset folder (issue 20): a FIFO where a frame should be never blocks
it, an id too long for a file name or holding a path ('../') is one problem line, never a traceback or a read
outside the dataset folder."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from fabricate import fabricate_ave, fabricate_cremad, write_frames, write_wav

from core.data.check import main as check_main

DEADLINE_S = 20.0


def check_within_deadline(conf: Path, *extra: str) -> int:
    """check_main in a thread; fails the test instead of hanging it."""
    box: dict = {}
    t = threading.Thread(target=lambda: box.update(rc=check_main(["check", str(conf), *extra])), daemon=True)
    t.start()
    t.join(DEADLINE_S)
    if t.is_alive():
        pytest.fail(f"python -m core.data check {conf} blocked for more than {DEADLINE_S} s")
    return box["rc"]


def ave_conf(tmp_path: Path, root: Path) -> Path:
    conf = tmp_path / "c.toml"
    conf.write_text(f'[data]\ndataset = "ave"\npath = "{root}"\ncache_dir = "{tmp_path / "cache"}"\n'
                    '[data.ave]\naudio = "npy"\nframe_size = 16\naudio_size = 20\n')
    return conf


def add_row(root: Path, vid: str, split_file: str = "testSet.txt", cls: str = "Bark") -> None:
    for name in ("Annotations.txt", split_file):
        with open(root / name, "a") as f:
            f.write(f"{cls}&{vid}&good&0&10\n")


def test_a_fifo_frame_is_one_problem_not_a_hang(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tree = fabricate_ave(tmp_path / "AVE", audio="npy")
    vid = tree.ids("test")[0]
    frame = tree.root / "Image-01-FPS" / vid / "00003.jpg"  # the middle one of four
    frame.unlink()
    os.mkfifo(frame)
    try:
        assert check_within_deadline(ave_conf(tmp_path, tree.root)) == 1
    finally:
        try:  # release a reader stuck on it (a regression), so the test process can end
            os.close(os.open(frame, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    assert f"unreadable frame: {vid}/00003.jpg (ValueError: not a regular file)" in capsys.readouterr().out


def test_an_id_too_long_for_a_file_name_is_one_problem(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tree = fabricate_ave(tmp_path / "AVE", audio="npy")
    add_row(tree.root, "v" * 300)
    assert check_within_deadline(ave_conf(tmp_path, tree.root)) == 1
    out = capsys.readouterr()
    assert "invalid video id (longer than 200 bytes): 2 (first: Annotations.txt line" in out.out
    assert "testSet.txt line 5: 'vvvv" in out.out
    assert "Traceback" not in out.err + out.out


def test_ids_with_a_path_never_read_outside_the_dataset(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tree = fabricate_ave(tmp_path / "AVE", audio="npy")
    outside = tmp_path / "outside"  # a complete clip outside the dataset folder, reachable through '..'
    write_frames(tree.root / "Image-01-FPS" / ".." / ".." / "outside", n=3)
    (tree.root / "Audio-1004-SE" / ".." / ".." / "outside.npy").write_bytes(
        (tree.root / "Audio-1004-SE" / f"{tree.ids('test')[0]}.npy").read_bytes())
    assert outside.is_dir()
    add_row(tree.root, "../../outside")
    assert check_within_deadline(ave_conf(tmp_path, tree.root)) == 1
    out = capsys.readouterr().out
    assert "invalid video id (contains a path separator or '..'): 2 (first: Annotations.txt line 14:" in out
    assert "testSet.txt line 5: '../../outside'" in out


def test_cremad_clip_ids_are_checked_too(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tree = fabricate_cremad(tmp_path / "CREMA-D")
    write_wav(tmp_path / "evil.wav")
    write_frames(tmp_path / "evil", n=3)
    with open(tree.root / "test.csv", "a") as f:
        f.write("../evil,ANG\n" + "x" * 300 + ",ANG\n")
    conf = tmp_path / "c.toml"
    conf.write_text(f'[data]\ndataset = "cremad"\npath = "{tree.root}"\ncache_dir = "{tmp_path / "cache"}"\n'
                    '[data.cremad]\nframe_size = 16\n')
    assert check_within_deadline(conf, "--no-decode") == 1
    out = capsys.readouterr().out
    assert "invalid clip id (contains a path separator or '..'): test.csv line" in out
    assert "invalid clip id (longer than 200 bytes)" in out
