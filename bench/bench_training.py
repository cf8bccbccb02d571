"""Training speed of the default TAAF config, and what recording costs.

    python bench/bench_training.py [--epochs 12] [--threads 2]
    python bench/bench_training.py --lif-pairs 2 [--epochs 12] [--threads 2]

With --lif-pairs N it only times the multi-step LIF kernel against norse's per-step loop (TAAF_LIF=norse):
N alternated pairs (norse, kernel) of the same run of configs/taaf.toml and of configs/taaf-t16.toml, each
reporting its training time (the step gaps inside epochs, as below) new / old per pair, and the fused test
accuracy of both, which must be equal (the kernel computes the same numbers).

Prints, all measured in this run:
  1. wall time and fused test accuracy of the default TAAF config on the audio-dominant preset
     (target: >= 0.95 in <= 30 s on 2 CPU cores);
  2. the share of the training loop spent recording (probes, per-step scalars), timed inside one run
     (target: <= 3 %), and the step time with probes on vs off across runs (noisier);
  3. samples/s of the spiking network vs a non-spiking CNN of the same widths (the reference).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import load_config  # noqa: E402
from core.data import build_datasets  # noqa: E402
from core.lif import LIF_IMPL_ENV  # noqa: E402
from core.store import RunReader, RunWriter  # noqa: E402
from core.training_loop import Trainer, train  # noqa: E402

RECORDING_S = {"probe": 0.0, "scalars": 0.0}


def timed(kind: str, fn):
    """Wrap a recording function so its time on the training thread is added to RECORDING_S[kind]."""

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            RECORDING_S[kind] += time.perf_counter() - t0

    return wrapper


Trainer.probe_arrays = timed("probe", Trainer.probe_arrays)
RunWriter.log_scalars = timed("scalars", RunWriter.log_scalars)


def run(overrides: list[str], tmp: Path, name: str,
        config: str = "configs/taaf.toml") -> tuple[float, dict, list[float]]:
    cfg = load_config(ROOT / config, ["record.progress=false", *overrides])
    start = time.perf_counter()
    summary = train(cfg, tmp / name)
    wall = time.perf_counter() - start
    steps = RunReader(tmp / name).scalars("step")
    # wall time between consecutive steps, leaving out the first step of each epoch: its interval also holds
    # the previous epoch's validation, Shapley, energy and checkpoint, the same with probes on or off
    gap = steps["elapsed_s"].diff()
    same_epoch = steps["epoch"].diff() == 0
    return wall, summary, gap[same_epoch].tolist()


class ReferenceCNN(nn.Module):
    """The same conv widths without spikes or time: one pass per sample."""

    def __init__(self, widths: list[int], classes: int = 10) -> None:
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(1, widths[0], 3, padding=1), nn.AvgPool2d(2), nn.BatchNorm2d(widths[0]),
                               nn.ReLU(), nn.Conv2d(widths[0], widths[1], 3, padding=1), nn.AvgPool2d(2),
                               nn.BatchNorm2d(widths[1]), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.v = nn.Sequential(nn.Conv2d(1, widths[0], 3, padding=1), nn.AvgPool2d(2), nn.BatchNorm2d(widths[0]),
                               nn.ReLU(), nn.Conv2d(widths[0], widths[1], 3, padding=1), nn.AvgPool2d(2),
                               nn.BatchNorm2d(widths[1]), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.head = nn.LazyLinear(classes)

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.a(audio[:, None]), self.v(visual)], dim=1))


def reference_samples_per_s(cfg_widths: list[int], batch: int, steps: int = 60) -> float:
    cfg = load_config(ROOT / "configs/taaf.toml")
    data = build_datasets(cfg).train
    model = ReferenceCNN(cfg_widths)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    a, v, y = data.audio[:batch], data.visual[:batch], data.label[:batch]
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(a, v), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 10:
            times.append(time.perf_counter() - t0)
    return batch / statistics.mean(times)


def compare_lif(common: list[str], pairs: int, tmp: Path) -> None:
    """Alternated (norse loop, kernel) runs of the default and the T = 16 config: training time and test accuracy."""
    for config in ("configs/taaf.toml", "configs/taaf-t16.toml"):
        ratios, accs = [], set()
        for i in range(pairs):
            loop_s = {}
            for impl in ("norse", "kernel"):
                os.environ[LIF_IMPL_ENV] = impl
                _, summary, gaps = run(common, tmp, f"{Path(config).stem}-{impl}-{i}", config)
                loop_s[impl] = sum(gaps)
                accs.add((impl, summary["test"]["acc_f"]))
                print(f"{config} {impl:6s}: training {loop_s[impl]:6.1f} s, fused test {summary['test']['acc_f']:.4f}",
                      flush=True)
            ratios.append(loop_s["kernel"] / loop_s["norse"])
        os.environ.pop(LIF_IMPL_ENV, None)
        same = len({a for _, a in accs}) == 1
        print(f"{config}: training time new / old per pair {', '.join(f'{r:.3f}' for r in ratios)} "
              f"(median {statistics.median(ratios):.3f}); fused test accuracy "
              f"{'identical' if same else 'DIFFERS: ' + str(sorted(accs))}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=0, help="0 = the config's")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--lif-pairs", type=int, default=0, help="time the LIF kernel vs norse's loop only")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    common = [f"train.threads={args.threads}"] + ([f"train.epochs={args.epochs}"] if args.epochs else [])
    tmp = Path(tempfile.mkdtemp(prefix="bench-training-"))
    if args.lif_pairs:
        try:
            run(common + ["train.epochs=1"], tmp, "warm-up")
            compare_lif(common, args.lif_pairs, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    try:
        run(common + ["train.epochs=1"], tmp, "warm-up")  # first-use costs (TorchScript, allocator) land here
        RECORDING_S.update(probe=0.0, scalars=0.0)
        # alternate on / off twice so that drifting machine load hits both alike
        wall, summary, on = run(common, tmp, "probes-on")
        loop_s = sum(on)
        share = {k: v / loop_s for k, v in RECORDING_S.items()}
        _, _, off = run(common + ["record.every_steps=1000000"], tmp, "probes-off")
        _, _, on2 = run(common, tmp, "probes-on-2")
        _, _, off2 = run(common + ["record.every_steps=1000000"], tmp, "probes-off-2")
        on, off = on + on2, off + off2
        cfg = load_config(ROOT / "configs/taaf.toml", common)
        batch = cfg["data"]["batch_size"]
        snn_sps = batch / statistics.median(off)
        ref_sps = reference_samples_per_s(cfg["model"]["widths"], batch)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    test = summary["test"]
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"default TAAF, audio-dominant: {wall:.1f} s wall for {cfg['train']['epochs']} epochs, "
          f"fused test accuracy {test['acc_f']:.3f} (audio head {test['acc_a']:.3f}, visual head {test['acc_v']:.3f})"
          f"  [target >= 0.95 in <= 30 s]")
    print(f"recording on the training thread, measured inside one run: probes {share['probe']:.1%} and "
          f"per-step scalars {share['scalars']:.1%} of the training-loop time  [target <= 3 %]")
    m_on, m_off = statistics.mean(on), statistics.mean(off)
    print(f"step time with probes every {cfg['record']['every_steps']} steps: {m_on * 1e3:.1f} ms, without: "
          f"{m_off * 1e3:.1f} ms, ratio {m_on / m_off:.3f}  (two runs each; run-to-run noise here is about 5-8 %)")
    print(f"samples/s: spiking network {snn_sps:.0f}, non-spiking CNN reference {ref_sps:.0f}, "
          f"ratio {snn_sps / ref_sps:.3f}")


if __name__ == "__main__":
    main()
