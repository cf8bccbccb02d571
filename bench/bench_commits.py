"""Training time of this tree against an older commit, in alternated pairs of fresh processes, CPU time.

    python bench/bench_commits.py --against c379d42 [--steps 40] [--pairs 3] [--configs configs/taaf.toml ...]
        [--old-env TAAF_LIF=norse]

The old commit is exported with `git archive` into a temporary folder. Each side runs in its own process (its
own imports, its own allocator state) from its own tree: one Trainer, 5 warm-up steps, then `--steps` timed
training steps (train_step: forward, loss, backward, Adam, metrics) on the first batches of the training split,
1 torch thread. The processes alternate old, new, old, new, so machine load hits both alike; the ratio per pair
is new / old of the process's CPU time over the timed steps (user + system: page faults count, and a loaded
2-core machine disturbs it far less than wall time). Every pair also compares the steps' losses bit for bit.
Then samples per CPU-second of the new tree's first config against the same-width non-spiking CNN (in this
process, with the trainer's allocator setting).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs inside the tree being timed (cwd), so it may only use what every commit has: Trainer, load_config,
# iterate_batches.
WORKER = """
import json, resource, shutil, sys, tempfile, time
from pathlib import Path
import torch
sys.path.insert(0, ".")
from core.config import load_config
from core.data.common import iterate_batches
from core.training_loop import Trainer
config, steps = sys.argv[1], int(sys.argv[2])
cfg = load_config(Path(config), ["record.progress=false", "record.checkpoint=false", "train.threads=1"])
run_dir = Path(tempfile.mkdtemp(prefix="bench-commits-"))
trainer = Trainer(cfg, run_dir)
torch.set_num_threads(1)
order = torch.arange(len(trainer.bundle.train))
batches = [b for _, b in zip(range(steps + 5), iterate_batches(trainer.bundle.train, cfg["data"]["batch_size"],
                                                               order, 0, False))]
trainer.model.train()
for a, v, y in batches[:5]:
    trainer.train_step(a, v, y)
t0, c0 = time.perf_counter(), time.process_time()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
losses = [trainer.train_step(a, v, y)["loss"] for a, v, y in batches[5:]]
print(json.dumps({"cpu": time.process_time() - c0, "wall": time.perf_counter() - t0, "losses": losses,
                  "steps": len(losses), "batch": cfg["data"]["batch_size"],
                  "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0}))
trainer.telemetry.shutdown()
shutil.rmtree(run_dir, ignore_errors=True)
"""


def export(commit: str) -> Path:
    """The commit's files in a temporary folder (git archive; the data files come with it)."""
    folder = Path(tempfile.mkdtemp(prefix=f"bench-commit-{commit}-"))
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def timed_run(tree: Path, config: str, steps: int, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, config, str(steps)], cwd=tree, check=True,
                         capture_output=True, text=True, env={**os.environ, **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, help="the old commit (anything git archive takes)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--configs", nargs="+", default=["configs/taaf.toml", "configs/taaf-t16.toml"])
    ap.add_argument("--old-env", nargs="*", default=[], metavar="KEY=VALUE",
                    help="environment of the old side only (TAAF_LIF=norse: norse's per-step loop)")
    args = ap.parse_args()
    old_tree, old_env = export(args.against), dict(kv.split("=", 1) for kv in args.old_env)
    try:
        measure(args, old_tree, old_env)
    finally:
        shutil.rmtree(old_tree, ignore_errors=True)


def measure(args: argparse.Namespace, old_tree: Path, old_env: dict[str, str]) -> None:
    print(f"new: {ROOT} (working tree), old: {args.against} {old_env or ''}; 1 torch thread, {args.steps} steps, "
          f"load at start {os.getloadavg()[0]:.1f}", flush=True)
    new_sps = {}
    for config in args.configs:
        ratios, same, new_cpu = [], True, []
        for _ in range(args.pairs):
            old = timed_run(old_tree, config, args.steps, old_env)
            new = timed_run(ROOT, config, args.steps, {})
            ratios.append(new["cpu"] / old["cpu"])
            new_cpu.append(new["cpu"])
            same &= old["losses"] == new["losses"]
            print(f"  {config}: old {old['cpu'] / args.steps * 1e3:6.1f} ms CPU/step, new "
                  f"{new['cpu'] / args.steps * 1e3:6.1f}, new / old CPU {ratios[-1]:.3f} (wall "
                  f"{new['wall'] / old['wall']:.3f}); page faults a step old {old['faults'] / args.steps:.0f}, new "
                  f"{new['faults'] / args.steps:.0f}; load {os.getloadavg()[0]:.1f}", flush=True)
        new_sps[config] = new["batch"] * args.steps / statistics.median(new_cpu)
        print(f"{config}: training time new / old (CPU), median of {args.pairs} pairs: "
              f"{statistics.median(ratios):.3f}; losses of {args.steps} steps "
              f"{'bit-identical' if same else 'DIFFER'}", flush=True)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import torch
    from bench_lif import reference_cpu_samples_per_s

    from core.config import load_config

    torch.set_num_threads(1)
    try:  # the trainer's allocator setting (core/alloc.py), so that the CNN pays no page faults either
        from core.alloc import keep_freed_memory
        keep_freed_memory()
    except ImportError:  # a tree from before it
        pass
    first = args.configs[0]
    ref = reference_cpu_samples_per_s(load_config(ROOT / first, ["train.threads=1"]), args.steps)
    print(f"samples per CPU-second, 1 thread: spiking ({first}, new) {new_sps[first]:.0f}, same-width CNN "
          f"{ref:.0f}, ratio {new_sps[first] / ref:.3f} (load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
