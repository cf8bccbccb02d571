"""Record the demo run that the studio replays on first launch (committed as sample_data/demo_run/).

    python sample_data/make_demo_run.py [--out DIR]

A normal TAAF run on AV-Digits-T (configs/taaf-temporal.toml: both modalities unfold in time, so the replay shows
attention finding the word and the digit sample by sample), recorded densely enough to replay smoothly; only its
best checkpoint is kept so the what-if page can load it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import load_config  # noqa: E402
from core.store import RunWriter  # noqa: E402
from core.training_loop import train  # noqa: E402

DEMO = ROOT / "sample_data" / "demo_run"
CONFIG = ROOT / "configs" / "taaf-temporal.toml"
SETTINGS = ["train.epochs=2", "record.every_steps=4", "record.progress=false", "train.seed=0", "train.threads=1"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEMO, help="where the run goes (default: sample_data/demo_run)")
    out = ap.parse_args().out.resolve()
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    cfg = load_config(CONFIG, SETTINGS)
    summary = train(cfg, tmp)
    writer = RunWriter.open(tmp)
    writer.set_meta("demo", True)
    writer.close()
    (tmp / "checkpoints" / "last.pt").unlink(missing_ok=True)
    for leftover in tmp.glob("store.sqlite-*"):  # WAL folded into the main file by close()
        leftover.unlink()
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({size / 1e6:.1f} MB); test accuracy {summary['test']}")


if __name__ == "__main__":
    main()
