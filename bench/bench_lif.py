"""The multi-step LIF kernel against norse's per-step loop, step by step inside one process.

    python bench/bench_lif.py [--steps 30] [--pairs 3] [--threads 2] [--configs configs/taaf.toml ...]

For each config: one Trainer; the same first `--steps` training steps (train_step: forward, loss, backward,
Adam, metrics) run from the same weights and optimizer state with TAAF_LIF=norse and with the kernel, in
alternated pairs, so machine load hits both alike. Prints per pair the training time new / old (wall time, and
the process's CPU time, which a loaded machine disturbs far less: with one thread it is the work done), the median,
and whether the two trained the same numbers: every step's loss and the final weights compared bit for bit.
Then samples/s of the kernel's steps against the same-width non-spiking CNN (bench_training.ReferenceCNN).
A shorter stand-in for timing whole runs (`bench_training.py --lif-pairs`) on a loaded machine.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import torch.nn.functional as F  # noqa: E402
from bench_training import ReferenceCNN  # noqa: E402

from core.config import load_config  # noqa: E402
from core.data.common import iterate_batches  # noqa: E402
from core.lif import LIF_IMPL_ENV  # noqa: E402
from core.training_loop import Trainer  # noqa: E402


def compare(config: str, steps: int, pairs: int, threads: int) -> float:
    cfg = load_config(ROOT / config, ["record.progress=false", "record.checkpoint=false", f"train.threads={threads}"])
    trainer = Trainer(cfg, Path(tempfile.mkdtemp(prefix="bench-lif-")))
    weights, opt = copy.deepcopy(trainer.model.state_dict()), copy.deepcopy(trainer.optimizer.state_dict())
    bs = cfg["data"]["batch_size"]
    order = torch.arange(len(trainer.bundle.train))
    batches = [b for _, b in zip(range(steps), iterate_batches(trainer.bundle.train, bs, order, 0, False),
                                 strict=False)]
    trainer.model.train()

    def run(impl: str) -> tuple[float, float, list[float], dict[str, torch.Tensor]]:
        os.environ[LIF_IMPL_ENV] = impl
        trainer.model.load_state_dict(weights)
        trainer.optimizer.load_state_dict(opt)
        t0, c0 = time.perf_counter(), time.process_time()
        losses = [trainer.train_step(a, v, y)["loss"] for a, v, y in batches]
        return (time.perf_counter() - t0, time.process_time() - c0, losses,
                copy.deepcopy(trainer.model.state_dict()))

    run("kernel")  # warm-up (allocator, first-use costs)
    wall, cpu, same, kernel_s = [], [], True, []
    for _ in range(pairs):
        old_s, old_c, old_losses, old_w = run("norse")
        new_s, new_c, new_losses, new_w = run("kernel")
        wall.append(new_s / old_s)
        cpu.append(new_c / old_c)
        kernel_s.append(new_c)
        same &= old_losses == new_losses and all(torch.equal(old_w[k], new_w[k]) for k in old_w)
        print(f"  {config}: norse {old_s / steps * 1e3:7.1f} ms/step ({old_c / steps * 1e3:.1f} ms CPU), kernel "
              f"{new_s / steps * 1e3:7.1f} ms/step ({new_c / steps * 1e3:.1f} ms CPU), new / old wall {wall[-1]:.3f} "
              f"CPU {cpu[-1]:.3f}  (load {os.getloadavg()[0]:.1f})", flush=True)
    os.environ.pop(LIF_IMPL_ENV, None)
    print(f"{config}: training time new / old, median of {pairs} pairs: wall {statistics.median(wall):.3f}, CPU "
          f"{statistics.median(cpu):.3f}; {steps} steps' losses and final weights "
          f"{'bit-identical' if same else 'DIFFER'}", flush=True)
    return bs * steps / statistics.median(kernel_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--configs", nargs="+", default=["configs/taaf.toml", "configs/taaf-t16.toml"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}, load average at start {os.getloadavg()[0]:.1f}")
    sps = {c: compare(c, args.steps, args.pairs, args.threads) for c in args.configs}
    cfg = load_config(ROOT / args.configs[0], [f"train.threads={args.threads}"])
    ref = reference_cpu_samples_per_s(cfg, args.steps)
    print(f"samples per CPU-second: spiking network ({args.configs[0]}, kernel) {sps[args.configs[0]]:.0f}, "
          f"non-spiking CNN of the same widths {ref:.0f}, ratio {sps[args.configs[0]] / ref:.3f}  "
          f"(load {os.getloadavg()[0]:.1f})")


def reference_cpu_samples_per_s(cfg: dict, steps: int) -> float:
    """bench_training's reference CNN on the same batches, timed in CPU seconds after 5 warm-up steps."""
    from core.data import build_datasets

    data = build_datasets(cfg).train
    model = ReferenceCNN(cfg["model"]["widths"])
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    bs = cfg["data"]["batch_size"]
    a, v, y = data.audio[:bs], data.visual[:bs], data.label[:bs]
    for i in range(5 + steps):
        if i == 5:
            c0 = time.process_time()
        loss = F.cross_entropy(model(a, v), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return bs * steps / (time.process_time() - c0)


if __name__ == "__main__":
    main()
