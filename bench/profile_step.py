"""Where a training step of the default config spends its time: torch.profiler over a few dozen real steps.

    python bench/profile_step.py [--config configs/taaf.toml] [--steps 40] [--threads 2] [--set key=value ...]

Runs the real Trainer (train_step: forward, loss, balance signals, backward, Adam, per-step metrics) on the
first batches of an epoch and prints (1) the split of the profiled wall time into the categories named below,
by the self CPU time of the operators recorded inside each region, and (2) the top operators by self time and
by call count. Regions: `record_function` scopes set here around the parts of train_step.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import lif, model, training_loop  # noqa: E402
from core.config import load_config  # noqa: E402
from core.data.common import iterate_batches  # noqa: E402
from core.training_loop import Trainer  # noqa: E402

CONV = ("conv", "mkldnn_convolution", "convolution_backward", "thnn_conv", "slow_conv")
NORM = ("batch_norm", "native_batch_norm")
POOL = ("adaptive_avg_pool", "avg_pool")


def category(name: str, scope: str) -> str:
    """One category per operator: what it is (convolution, ...) first, then where it ran (the scope)."""
    low = name.lower()
    if any(c in low for c in CONV):
        return "convolution (fwd + bwd)"
    if any(c in low for c in NORM):
        return "batch norm (fwd + bwd)"
    if any(c in low for c in POOL):
        return "pooling (fwd + bwd)"
    return scope


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(ROOT / "configs/taaf.toml"))
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="0 = torch's default")
    ap.add_argument("--set", nargs="*", default=[])
    args = ap.parse_args()
    cfg = load_config(Path(args.config), ["record.progress=false", "record.checkpoint=false",
                                          f"train.threads={args.threads}", *args.set])
    trainer = Trainer(cfg, Path(tempfile.mkdtemp(prefix="profile-step-")))

    # Scopes around train_step's parts, by wrapping the functions it calls (the trainer is not edited for this).
    def scoped(label, fn):
        def wrapper(*a, **k):
            with record_function(f"@{label}"):
                return fn(*a, **k)
        return wrapper

    lif.LIFLayer.forward = scoped("neuron update (fwd)", lif.LIFLayer.forward)
    model.spike_grid_pool = scoped("pooling (fwd)", model.spike_grid_pool)  # a GEMM since core/spike_pool.py
    trainer.optimizer.step = scoped("optimizer", trainer.optimizer.step)
    trainer.optimizer.zero_grad = scoped("optimizer", trainer.optimizer.zero_grad)
    for name in ("loss", "signals", "lr_scale", "after_backward"):
        setattr(trainer.strategy, name, scoped("loss + balance signals (fwd)", getattr(trainer.strategy, name)))
    trainer.strategy.predictions = scoped("per-step metrics", trainer.strategy.predictions)
    for name in ("grad_norm_tensor", "entropy_tensors", "read_scalars"):
        setattr(training_loop, name, scoped("per-step metrics", getattr(training_loop, name)))
    batches = iterate_batches(trainer.bundle.train, cfg["data"]["batch_size"], torch.arange(len(trainer.bundle.train)),
                              0, False)
    trainer.model.train()
    todo = args.warmup + args.steps
    with profile(activities=[ProfilerActivity.CPU], record_shapes=False) as prof:
        t0 = None
        for i, (a, v, y) in enumerate(batches):
            if i == args.warmup:
                prof.step()
                t0 = time.perf_counter()
            with record_function("@step"):
                scalars = trainer.train_step(a, v, y)
            with record_function("@step"), record_function("@per-step metrics"):
                trainer.dist.mean_scalars(scalars)
            if i + 1 == todo:
                break
        wall = time.perf_counter() - t0
    print(f"torch threads {torch.get_num_threads()}, {args.steps} steps, {wall / args.steps * 1e3:.1f} ms/step "
          "(profiler on: slower than unprofiled)")
    split: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    # walk the event tree: each op's self time goes to its category, inherited from the nearest '@' scope
    events = [e for e in prof.events() if e.device_type.name == "CPU"]
    roots = [e for e in events if e.cpu_parent is None]

    def visit(e, where: str, in_step: bool) -> None:
        if e.name.startswith("autograd::engine::evaluate_function:"):
            node = e.name.split(":")[-1].strip()
            where = ("surrogate gradient (bwd)" if "SuperSpike" in node else
                     "neuron update (bwd, multi-step kernel: surrogate, reset, decay)" if "LIFBoxMultiStep" in node
                     else "other backward (elementwise: with norse's loop mostly LIF decay/reset; loss, heads)")
        elif e.name.startswith("@"):
            where = {"@step": "other (loss, TAAF, heads, autograd engine)"}.get(e.name, e.name[1:])
            in_step = in_step or e.name == "@step"
        elif in_step:
            split[category(e.name, where)] += e.self_cpu_time_total
            calls[e.name] += 1
        for c in e.cpu_children:
            visit(c, where, in_step)

    for r in roots:
        visit(r, "", False)
    total = sum(split.values())
    print(f"\nsplit of operator self time inside train_step (all {todo} recorded steps, warm-up included):")
    for k, v in sorted(split.items(), key=lambda kv: -kv[1]):
        print(f"  {k:45s} {v / total:6.1%}  {v / todo / 1e3:6.2f} ms/step")
    print("\noperators by calls per step:")
    for name, n in sorted(calls.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {name:45s} {n / todo:7.1f}")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


if __name__ == "__main__":
    main()
