"""Training throughput (samples/s) of the CREMA-D paper config on CREMA-D-shaped fabricated tensors.

    python bench/bench_throughput.py                      # whatever device is present (CUDA if any)
    python bench/bench_throughput.py --device cuda        # one GPU: plain run, then DDP with 1 process
    torchrun --nproc-per-node N bench/bench_throughput.py --device cuda   # DDP with N processes (rank 0 prints)

Variants: "128" = 128 x 128 spectrogram + one 128 x 128 RGB frame (configs/cremad-taaf.toml, the S-CMRL
shape); "257" = 257 x 188 spectrogram + one 224 x 224 frame (configs/cremad-taaf-spec257.toml, OGM-GE's);
"tiny" = the CPU default network on AV-Digits shapes (configs/taaf.toml), for reference.
T = 4 in all. The real training loop runs (core.training_loop.Trainer.train_epoch: store logging, control
polling, per-step metrics); only the dataset is replaced by in-memory tensors, so feature loading from
disk is not measured (see docs/datasets.md). Probes, Shapley and energy are off; checkpoints are not written.
Figure = samples trained between the end of the warm-up steps and the last step, over that wall time.
Target (issue 3): >= 1,000 samples/s on one H100 for the 128 x 128, T = 4 setting. Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import core.build as build_mod
import core.training_loop as train_mod
from core.config import load_config
from core.data.common import DataBundle
from core.distributed import ENV
from core.store import RunReader

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {"128": ("cremad-taaf.toml", (128, 128), (3, 128, 128)),
            "257": ("cremad-taaf-spec257.toml", (257, 188), (3, 224, 224)),
            "tiny": ("taaf.toml", (32, 32), (1, 8, 8))}  # the CPU default network on AV-Digits shapes


class Pool:
    """Indexable like a tensor of `n` items, backed by `len(pool)` distinct random ones (little memory)."""

    def __init__(self, pool: torch.Tensor, n: int) -> None:
        self.pool, self.n = pool, n

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        return self.pool[idx % len(self.pool)]


class FabricatedSplit(torch.utils.data.Dataset):
    """CREMA-D-shaped items; exposes .audio / .visual / .label so batches are slices (no DataLoader)."""

    def __init__(self, n: int, audio_shape: tuple, visual_shape: tuple, classes: int = 6, pool: int = 64) -> None:
        g = torch.Generator().manual_seed(0)
        self.n = n
        self.audio = Pool(torch.randn(pool, *audio_shape, generator=g), n)  # log-spectrogram-like values
        self.visual = Pool(torch.randn(pool, *visual_shape, generator=g), n)  # ImageNet-normalised-like
        self.label = Pool(torch.randint(0, classes, (pool,), generator=g), n)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        j = torch.tensor([i])
        return self.audio[j][0], self.visual[j][0], int(self.label[j][0])


def measure(variant: str, args: argparse.Namespace, amp: bool) -> float:
    """Samples/s of the training loop for one variant; under torchrun the total over all ranks."""
    config, audio_shape, visual_shape = VARIANTS[variant]
    world = int(os.environ.get("WORLD_SIZE", "1")) if all(k in os.environ for k in ENV) else 1
    steps = args.warmup + args.steps
    n = args.batch * steps * world
    overrides = {"data.batch_size": args.batch, "train.device": args.device, "train.amp": amp, "train.epochs": 1,
                 "train.threads": args.threads, "data.num_workers": 0, "record.every_steps": 10**9,
                 "record.shapley": False, "record.energy": False, "record.checkpoint": False,
                 "record.progress": False, "strategy.name": args.strategy}
    cfg = load_config(ROOT / "configs" / config, overrides)
    split = FabricatedSplit(n, audio_shape, visual_shape)
    bundle = DataBundle(split, FabricatedSplit(8, audio_shape, visual_shape), split, 6,
                        ["NEU", "HAP", "SAD", "FEA", "DIS", "ANG"], audio_shape, visual_shape)
    build_mod.build_datasets = lambda _cfg: bundle  # the only thing replaced: the dataset
    with tempfile.TemporaryDirectory() as tmp:
        trainer = train_mod.Trainer(cfg, Path(tmp) / "run")
        try:
            trainer.train_epoch(_NoBar(), time.time())
            rate = None
            if trainer.dist.is_main:
                trainer.telemetry.writer.close()
                with RunReader(Path(tmp) / "run") as r:
                    t = r.scalars("step", keys=["samples_per_s"])
                measured = t[t["step"] > args.warmup]
                seconds = float(measured["time"].iloc[-1] - t.loc[t["step"] == args.warmup, "time"].iloc[0])
                rate = len(measured) * args.batch * world / seconds
        finally:
            trainer.dist.close()
    return rate


class _NoBar:
    def update(self, *_: object) -> None:
        pass

    def set_postfix(self, **_: object) -> None:
        pass


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(0)} (torch {torch.__version__})"
    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores, " \
           f"{torch.get_num_threads()} torch threads (torch {torch.__version__})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--variants", default="128,257", help="comma list of 128, 257")
    ap.add_argument("--batch", type=int, default=None, help="per-process batch (default 64 on CUDA, 4 on CPU)")
    ap.add_argument("--steps", type=int, default=None, help="measured steps (default 20 on CUDA, 2 on CPU)")
    ap.add_argument("--warmup", type=int, default=None, help="unmeasured first steps (default 5 CUDA, 2 CPU)")
    ap.add_argument("--amp", choices=("off", "on", "both"), default=None, help="bf16 autocast (default: both on CUDA)")
    ap.add_argument("--strategy", default="taaf")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's choice)")
    args = ap.parse_args()
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    cuda = args.device.startswith("cuda")
    args.batch = args.batch or (64 if cuda else 4)
    args.steps = args.steps or (20 if cuda else 2)
    args.warmup = args.warmup or (5 if cuda else 2)  # step 1 records a probe: keep it out of the window
    amps = {"off": [False], "on": [True], "both": [False, True]}[args.amp or ("both" if cuda else "off")]
    if args.threads:
        torch.set_num_threads(args.threads)
    launched = all(k in os.environ for k in ENV)  # under torchrun: DDP with WORLD_SIZE processes only
    main_rank = int(os.environ.get("RANK", "0")) == 0
    say = print if main_rank else (lambda *a, **k: None)
    say(f"device: {device_name(args.device)}")
    say(f"strategy {args.strategy}, T = 4, per-process batch {args.batch}, {args.warmup} warm-up + "
        f"{args.steps} measured steps")
    for variant in args.variants.split(","):
        for amp in amps:
            label = f"{variant:>3}  amp={'bf16' if amp else 'off ':4}"
            if launched:
                rate = measure(variant, args, amp)
                say(f"{label}  DDP x{os.environ['WORLD_SIZE']}: {rate:9.2f} samples/s (all ranks)")
                continue
            plain = measure(variant, args, amp)
            os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "RANK": "0",
                               "WORLD_SIZE": "1", "LOCAL_RANK": "0"})
            try:
                ddp1 = measure(variant, args, amp)
            finally:
                for k in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK"):
                    os.environ.pop(k, None)
            say(f"{label}  plain {plain:9.2f} samples/s   DDP x1 {ddp1:9.2f} samples/s   "
                f"DDP/plain {ddp1 / plain:.2f}")


if __name__ == "__main__":
    main()
