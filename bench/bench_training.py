"""Training speed of the default TAAF config, and what recording costs.

    python bench/bench_training.py [--epochs 12] [--threads 2]

Prints, all measured in this run:
  1. wall time and fused test accuracy of the default TAAF config on the audio-dominant preset
     (target: >= 0.95 in <= 30 s on 2 CPU cores);
  2. mean training-step time with probe recording every 10 steps vs never (target: <= 3 % more);
  3. samples/s of the spiking network vs a non-spiking CNN of the same widths (the reference).
"""

from __future__ import annotations

import argparse
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
from core.store import RunReader  # noqa: E402
from core.train import train  # noqa: E402


def run(overrides: list[str], tmp: Path, name: str) -> tuple[float, dict, list[float]]:
    cfg = load_config(ROOT / "configs/taaf.toml", ["record.progress=false", *overrides])
    start = time.perf_counter()
    summary = train(cfg, tmp / name)
    wall = time.perf_counter() - start
    steps = RunReader(tmp / name).scalars("step")
    elapsed = steps["elapsed_s"].diff().dropna().tolist()  # wall time between consecutive steps
    return wall, summary, elapsed


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=0, help="0 = the config's")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    common = [f"train.threads={args.threads}"] + ([f"train.epochs={args.epochs}"] if args.epochs else [])
    tmp = Path(tempfile.mkdtemp(prefix="bench-training-"))
    try:
        wall, summary, on = run(common, tmp, "probes-on")
        _, _, off = run(common + ["record.every_steps=1000000"], tmp, "probes-off")
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
    m_on, m_off = statistics.mean(on), statistics.mean(off)
    print(f"step time with probes every {cfg['record']['every_steps']} steps: {m_on * 1e3:.1f} ms, without: "
          f"{m_off * 1e3:.1f} ms, ratio {m_on / m_off:.3f}  [target <= 1.03]")
    print(f"samples/s: spiking network {snn_sps:.0f}, non-spiking CNN reference {ref_sps:.0f}, "
          f"ratio {snn_sps / ref_sps:.3f}")


if __name__ == "__main__":
    main()
