"""Run store under real concurrency: a writer process against reader processes that poll it, as the studio does."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from core.store import RunReader, send_command
from tests.support import ROOT

WRITER = textwrap.dedent("""
    import sys, time, numpy as np
    from core.store import RunWriter
    w = RunWriter.create(sys.argv[1], {"n": 300})
    got = []
    for s in range(300):
        w.log_scalars(s, s // 100, {f"k{i:02d}": s + i / 100 for i in range(20)})
        if s % 30 == 0:
            w.log_arrays(s, s // 100, {"x/step": np.full((64, 64), s, np.int32), "noise": np.random.rand(200, 50)})
        w.heartbeat()
        c = w.poll_command()
        if c:
            got.append(c)
            w.log_event("command", c)
        time.sleep(0.002)
    w.set_status("finished")
    w.close()
    print(",".join(got))
""")


READER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from core.store import RunReader
    d = Path(sys.argv[1])
    while not (d / "store.sqlite").exists():
        time.sleep(0.01)
    r, reads = RunReader(d), 0
    while True:
        done = r.status()["status"] == "finished"
        df = r.scalars()
        assert df.shape[1] in (3, 23) and not df.isna().any().any(), "partial step"
        for s in r.array_steps():
            assert (r.arrays(s)["x/step"] == s).all()
        reads += 1
        if done:
            break
    print(reads, len(df))
""")


@pytest.mark.integration
def test_concurrent_writer_and_readers(tmp_path: Path) -> None:
    d = tmp_path / "live"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(d)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    other = subprocess.Popen([sys.executable, "-c", READER, str(d)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    reads, partial, sent = 0, False, []
    try:
        while not (d / "store.sqlite").exists() and proc.poll() is None:
            time.sleep(0.01)
        r = RunReader(d)
        while True:
            done = proc.poll() is not None
            df = r.scalars()
            if len(df):
                keys = [c for c in df.columns if c not in ("step", "epoch", "time")]
                assert len(keys) == 20 and not df[keys].isna().any().any(), "a reader saw a partial step"
                assert df["step"].tolist() == list(range(len(df)))
                assert np.allclose(df["k07"], df["step"] + 0.07)
                partial |= len(df) < 300
            for s in r.array_steps():
                assert (r.arrays(s)["x/step"] == s).all()  # every row's file exists and is complete
            if 50 * (len(sent) + 1) < len(df) < 250 and len(sent) < 3:  # leave the writer time to poll
                sent.append(("pause", "resume", "stop")[len(sent)])
                send_command(d, sent[-1])  # a second writer connection beside the trainer's
            reads += 1
            if done:
                break
        out, _ = proc.communicate(timeout=30)
        other_out, _ = other.communicate(timeout=30)
    finally:
        proc.kill()
        other.kill()
    assert proc.returncode == 0 and other.returncode == 0  # the second reader process saw only whole steps
    assert other_out.split()[1] == "300"
    assert reads > 3 and partial  # the reads really overlapped the writes
    assert len(r.scalars()) == 300 and r.array_steps() == list(range(0, 300, 30))
    assert out.strip().split(",") == sent and r.events()["message"].tolist() == sent
    assert r.status()["status"] == "finished"


POLLER = textwrap.dedent("""
    import sys, time, traceback
    from pathlib import Path
    from core.store import RunReader, list_runs
    d = Path(sys.argv[1])
    while not (d / "store.sqlite").exists():
        time.sleep(0.01)
    reads, errors, last, done = 0, [], -1, False
    while not done:
        try:  # what a studio tab does each tick: a fresh reader, the run bar, what is new, the newest probe
            with RunReader(d) as r:
                done = r.status()["status"] == "finished"
                r.meta()
                new = r.scalars("step", since_step=last)
                if len(new):
                    assert new["step"].is_monotonic_increasing and not new.isna().any().any(), "partial step"
                    last = int(new["step"].iloc[-1])
                steps = r.array_steps()
                if steps:
                    assert (r.arrays(steps[-1])["x/step"] == steps[-1]).all()
                r.events()
                r.log_tail(20)
            list_runs(d.parent)
            reads += 1
        except Exception:
            errors.append(traceback.format_exc().strip().splitlines()[-1])
    print(reads, len(errors), last, *errors[:3], sep="\\n")
""")


@pytest.mark.integration
def test_one_writer_and_five_polling_readers_see_no_errors(tmp_path: Path) -> None:
    """The studio with five tabs beside a trainer (issue 13 audited it for 60 s: 0 errors in 12,712 reads)."""
    d = tmp_path / "live"
    readers = [subprocess.Popen([sys.executable, "-c", POLLER, str(d)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
               for _ in range(5)]
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(d)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.wait(timeout=120) == 0
        outs = [p.communicate(timeout=60)[0].split("\n") for p in readers]
    finally:
        for p in (writer, *readers):
            p.kill()
    for out in outs:
        reads, errors, last = int(out[0]), int(out[1]), int(out[2])
        assert errors == 0, out[3:]
        assert reads >= 2 and last == 299  # each polled more than once and saw every step in the end
    print(f"5 readers beside one writer: {sum(int(o[0]) for o in outs)} reads, 0 errors")
