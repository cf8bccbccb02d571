"""What the public recorder (core/runlog.py) costs a training loop, on our default network.

    python bench/bench_recorder.py [--steps 200] [--threads 2]

Trains the default config's network (configs/taaf.toml) with our own `train_step` and records every step through
`Run`: the step's scalars (as many as our trainer writes), learning rates, balance coefficients and the batch's
attention; every `record.every_steps` steps the probe samples' spikes and membrane of every LIF layer and their
attention. Prints the recorder's time on the training thread as a share of the training step time
(target: <= 3 %), and, apart, the probe forward pass (which the loop pays whatever records it).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import load_config  # noqa: E402
from core.data.common import iterate_batches  # noqa: E402
from core.lif import recording  # noqa: E402
from core.runlog import Run  # noqa: E402
from core.training_loop import Trainer  # noqa: E402

STREAMS = {"a": "audio", "v": "visual", "f": "fused"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    cfg = load_config(ROOT / "configs/taaf.toml", ["record.progress=false", f"train.threads={args.threads}"])
    every = cfg["record"]["every_steps"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-recorder-"))
    step_s = record_s = probe_forward_s = probe_record_s = 0.0
    try:
        trainer = Trainer(cfg, tmp / "trainer")
        trainer.telemetry.shutdown()
        model, (pa, pv, py) = trainer.model, trainer.probe
        run = Run.create(tmp / "own", cfg, T=cfg["model"]["T"], probe_every=every, nonfinite="keep")
        step = 0
        while step < args.steps:
            for audio, visual, y in iterate_batches(trainer.bundle.train, cfg["data"]["batch_size"],
                                                       order=torch.randperm(len(trainer.bundle.train))):
                step += 1
                t0 = time.perf_counter()
                scalars = trainer.train_step(audio, visual, y)
                t1 = time.perf_counter()
                with torch.no_grad():
                    alpha = model(audio[:8], visual[:8]).alpha  # stands in for the batch's attention (untimed)
                t1b = time.perf_counter()
                run.log_scalars(step, scalars, epoch=0)
                run.log_lr(step, {STREAMS[u]: scalars[f"lr_{u}"] for u in "avf"})
                run.log_balance(step, {STREAMS[u]: scalars[f"k_{u}"] for u in "av"})
                run.log_attention(step, {STREAMS[u]: alpha[u] for u in "avf"})
                t2 = time.perf_counter()
                record_step_s = t2 - t1b
                if run.is_probe_step(step):
                    model.eval()
                    with torch.no_grad(), recording() as rec:
                        out = model(pa, pv)
                    model.train()
                    t3 = time.perf_counter()
                    run.log_spikes(step, {n: z for n, (z, _) in rec.items()}, membrane={n: v for n, (_, v) in
                                                                                          rec.items()}, labels=py)
                    run.log_attention(step, {STREAMS[u]: out.alpha[u] for u in "avf"})
                    t4 = time.perf_counter()
                    probe_forward_s += t3 - t2
                    record_s += t4 - t3
                    probe_record_s += t4 - t3
                if step > 10:  # the first steps warm up allocators and caches
                    step_s += t1 - t0
                    record_s += record_step_s
                if step >= args.steps:
                    break
        t0 = time.perf_counter()
        run.finish()
        record_s += time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = args.steps - 10
    print(f"torch threads: {torch.get_num_threads()}, {args.steps} steps, probes every {every}")
    print(f"training step {step_s / n * 1e3:.1f} ms; recorder {record_s / n * 1e3:.3f} ms per step "
          f"= {record_s / step_s:.2%} of the step time  [target <= 3 %]; of it, probe spikes and attention "
          f"{probe_record_s / n * 1e3:.3f} ms per step amortised")
    print(f"probe forward pass (not the recorder; paid by any loop that probes): "
          f"{probe_forward_s / n * 1e3:.2f} ms per step amortised")


if __name__ == "__main__":
    main()
