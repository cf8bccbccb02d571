"""What is read from a run folder, and how much (issue 20): a malformed store is one problem row, never an
exception; a FIFO where a file should be never blocks a reader; an npz is checked before it is inflated."""

from __future__ import annotations

import io
import os
import sqlite3
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import make_run

from core import launcher
from core.errors import StoreError
from core.store import RunReader, limits, list_runs
from core.store.paths import read_log_tail

DEADLINE_S = 5.0


def within_deadline(fn: Callable[[], Any], fifo: Path | None = None) -> Any:
    """fn() run in a thread; fails the test (instead of hanging it) when it takes over DEADLINE_S. A reader stuck
    on `fifo` is released by opening its other end."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 (re-raised below, in the test's thread)
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(DEADLINE_S)
    if t.is_alive():
        if fifo is not None:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        pytest.fail(f"{fn} blocked for more than {DEADLINE_S} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    d = tmp_path / "runs"
    make_run(d / "good", steps=20, steps_per_epoch=10)
    make_run(d / "bad", steps=20, steps_per_epoch=10)
    return d


def tamper(run: Path, sql: str) -> None:
    conn = sqlite3.connect(run / "store.sqlite")
    conn.execute(sql)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(("sql", "expected"), [
    ("UPDATE meta SET value = '[1]' WHERE key = 'schema_version'", "meta schema_version = '[1]' is not an integer"),
    ("UPDATE status SET updated = 'yesterday'", "status.updated = 'yesterday' is not a time in seconds"),
    ("UPDATE status SET started = 'x'", "status.started = 'x' is not a time in seconds"),
    ("UPDATE status SET status = 'exploded'", "status.status = 'exploded' is not one of running"),
    ("UPDATE status SET pid = 'abc'", "status.pid = 'abc' is not an integer"),
    ("UPDATE status SET host = X'ff'", "status.host = \"b'\\\\xff'\" is not text"),
    ("UPDATE meta SET value = '{not json' WHERE key = 'strategy'", "meta 'strategy' = '{not json' is not JSON"),
    ("UPDATE meta SET value = '\"many\"' WHERE key = 'total_steps'", "total_steps = 'many' is not a number"),
    ("UPDATE meta SET value = '{\"a\": 1}' WHERE key = 'strategy'", "strategy = \"{'a': 1}\" is not text"),
    ("UPDATE scalars SET value = 'high' WHERE key = 'val_acc_f'", "last_val_acc_f = 'high' is not a number"),
])
def test_a_malformed_store_is_one_problem_row(runs: Path, sql: str, expected: str) -> None:
    tamper(runs / "bad", sql)
    table = list_runs(runs).set_index("name")
    assert table.loc["good", "problem"] == "" and table.loc["good", "status"] == "finished"
    bad = table.loc["bad"]
    assert bad["status"] == "unknown"
    assert bad["problem"].startswith(str(runs / "bad" / "store.sqlite")) and expected in bad["problem"], bad["problem"]
    assert "\n" not in bad["problem"]


def test_reader_raises_one_line_store_errors(runs: Path) -> None:
    tamper(runs / "bad", "UPDATE status SET updated = 'yesterday'")
    with RunReader(runs / "bad") as r, pytest.raises(StoreError, match="status.updated = 'yesterday'"):
        r.status()
    tamper(runs / "bad", "UPDATE meta SET value = '[1]' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match=r"schema_version = '\[1\]' is not an integer"):
        RunReader(runs / "bad")


def test_config_json_fifo_does_not_block_the_run_list(runs: Path) -> None:
    cfg = runs / "bad" / "config.json"
    cfg.unlink()
    os.mkfifo(cfg)
    table = within_deadline(lambda: list_runs(runs), cfg).set_index("name")
    assert table.loc["bad", "status"] == "finished"  # the store is fine; only the config is unreadable
    with RunReader(runs / "bad") as r, pytest.raises(StoreError, match="config is not a regular file; refused"):
        within_deadline(r.config, cfg)


def test_launch_json_and_store_fifos_do_not_block(runs: Path) -> None:
    launch = runs / "bad" / launcher.LAUNCH_NAME
    os.mkfifo(launch)
    assert within_deadline(lambda: launcher.launch_info(runs / "bad"), launch) is None
    assert within_deadline(lambda: launcher.run_state(runs / "bad"), launch)["status"] == "finished"
    assert within_deadline(lambda: launcher.active_run(runs), launch) is None
    db = runs / "good" / "store.sqlite"
    db.unlink()
    os.mkfifo(db)
    table = within_deadline(lambda: list_runs(runs), db).set_index("name")
    assert "run store is not a regular file; refused" in table.loc["good", "problem"]
    wal = runs / "bad" / "store.sqlite-wal"
    wal.unlink(missing_ok=True)
    os.mkfifo(wal)
    with pytest.raises(StoreError, match="run store journal is not a regular file"):
        within_deadline(lambda: RunReader(runs / "bad"), wal)


def test_oversized_config_is_refused_in_one_line(runs: Path) -> None:
    (runs / "bad" / "config.json").write_text('{"x": "' + "a" * limits.MAX_CONFIG_BYTES + '"}')
    with RunReader(runs / "bad") as r, pytest.raises(StoreError, match="over the limit of 1048576; refused"):
        r.config()


def test_log_tail_without_newlines_reads_a_bounded_amount(runs: Path) -> None:
    (runs / "bad" / "train.log").write_bytes(b"x" * (3 << 20) + b"\nlast line\n")
    assert read_log_tail(runs / "bad", 5).splitlines()[-1] == "last line"
    (runs / "bad" / "train.log").write_bytes(b"y" * (3 << 20))
    assert len(read_log_tail(runs / "bad", 5)) <= (1 << 20) + (1 << 16)


def _npy_member(zf: zipfile.ZipFile, name: str, header_of: np.ndarray, data: bytes = b"") -> None:
    """A member whose header describes `header_of` (shape, dtype) followed by `data`, compressed."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_2_0(buf, np.lib.format.header_data_from_array_1_0(header_of))
    with zf.open(name, "w", force_zip64=True) as m:
        m.write(buf.getvalue() + data)


def _replace_probe(run: Path, write: Callable[[zipfile.ZipFile], None]) -> int:
    with RunReader(run) as r:
        step = r.array_steps()[-1]
    path = run / f"arrays/probe-{step:09d}.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        write(zf)
    return step


def test_a_compressed_array_bomb_is_refused_before_inflating(runs: Path) -> None:
    zeros = np.zeros(10_000_000, np.float64)  # 80 MB of zeros: about 80 KB compressed
    step = _replace_probe(runs / "bad", lambda zf: _npy_member(zf, "alpha.npy", zeros, zeros.tobytes()))
    assert (runs / "bad" / f"arrays/probe-{step:09d}.npz").stat().st_size < 1 << 20
    with RunReader(runs / "bad") as r, pytest.raises(StoreError) as e:
        r.arrays(step)
    assert "array 'alpha' of shape (10000000,) float64 is 80000000 bytes uncompressed, over the limit" in str(e.value)


def test_npz_headers_are_checked_before_any_array_is_read(runs: Path) -> None:
    """Ten members that each claim 48 MB (no data behind them): refused by their total, nothing inflated."""
    claim = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape=(12_000_000,), strides=(0,))

    def write(zf: zipfile.ZipFile) -> None:
        for i in range(10):
            _npy_member(zf, f"m{i}.npy", claim)

    step = _replace_probe(runs / "bad", write)
    with RunReader(runs / "bad") as r, pytest.raises(StoreError, match="bytes uncompressed in all; refused"):
        r.arrays(step)


def test_object_arrays_in_an_npz_are_refused(runs: Path) -> None:
    obj = np.array([{"a": 1}], dtype=object)
    step = _replace_probe(runs / "bad", lambda zf: _npy_member(zf, "alpha.npy", obj, b"whatever"))
    with RunReader(runs / "bad") as r, pytest.raises(StoreError, match="holds Python objects"):
        r.arrays(step)


def test_genuine_arrays_still_load(runs: Path) -> None:
    with RunReader(runs / "good") as r:
        step = r.array_steps()[-1]
        got = r.arrays(step)
        assert got["alpha"].shape == (4, 3, 4) and got["spikes/a.lif1"].dtype == np.uint8
        assert set(r.arrays(step, keys=["alpha"])) == {"alpha"}


def _numeric_leaves(tree: dict, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for k, v in tree.items():
        dotted = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out += _numeric_leaves(v, dotted)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append((dotted, v))
    return out


def test_every_number_in_the_config_has_an_upper_bound() -> None:
    """`model.T = 1000000000` was accepted and the trainer was killed for memory: every numeric setting (and
    each width) refuses an absurd value in one line, in a config file and in a saved run's config.json alike."""
    from core.config import DEFAULTS, load_config, saved_run_config
    from core.errors import ConfigError

    leaves = _numeric_leaves(DEFAULTS)
    assert len(leaves) > 40
    for dotted, default in leaves:
        huge = 10**12 if isinstance(default, int) else 1e12
        with pytest.raises(ConfigError) as e:
            load_config(None, {dotted: huge})
        assert f"'{dotted}' = {huge!r}: expected" in str(e.value) and "\n" not in str(e.value), dotted
        *parents, leaf = dotted.split(".")
        saved: dict = {}
        node = saved
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = huge
        with pytest.raises(ConfigError, match=f"runs/x/config.json: '{dotted}'"):
            saved_run_config(saved, "runs/x/config.json")
    with pytest.raises(ConfigError, match="a list of 1 to 16 integers in"):
        load_config(None, {"model.widths": [32, 10**9]})
    load_config(None, {"model.T": 16, "data.batch_size": 256})  # sensible values still pass


def test_a_checkpoint_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    """The Inspect page and core.evaluate load checkpoints/best.pt of a run someone else made."""
    from core.checkpoint import load
    from core.errors import CheckpointError

    fifo = tmp_path / "best.pt"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="checkpoint is not a regular file; refused"):
        within_deadline(lambda: load(fifo, None, None), fifo)  # type: ignore[arg-type]
