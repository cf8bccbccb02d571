"""Record the demo run that the studio replays on first launch (committed as sample_data/demo_run/).

    python sample_data/make_demo_run.py

A normal TAAF run on the bundled data (audio-dominant preset), recorded densely enough to replay
smoothly; only its best checkpoint is kept so the what-if page can load it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import load_config  # noqa: E402
from core.store import RunWriter  # noqa: E402
from core.training_loop import train  # noqa: E402

DEMO = ROOT / "sample_data" / "demo_run"
SETTINGS = ["train.epochs=8", "record.every_steps=4", "record.progress=false", "train.seed=0"]


def main() -> None:
    tmp = DEMO.with_name("demo_run.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    cfg = load_config(ROOT / "configs" / "taaf.toml", SETTINGS)
    cfg["data"]["path"] = "sample_data/av_digits.npz"
    summary = train(cfg, tmp)
    writer = RunWriter.open(tmp)
    writer.set_meta("demo", True)
    writer.close()
    (tmp / "checkpoints" / "last.pt").unlink(missing_ok=True)
    for leftover in tmp.glob("store.sqlite-*"):  # WAL folded into the main file by close()
        leftover.unlink()
    shutil.rmtree(DEMO, ignore_errors=True)
    tmp.rename(DEMO)
    size = sum(f.stat().st_size for f in DEMO.rglob("*") if f.is_file())
    print(f"wrote {DEMO} ({size / 1e6:.1f} MB); test accuracy {summary['test']}")


if __name__ == "__main__":
    main()
