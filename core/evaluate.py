"""Evaluate a finished run on its test split: accuracy per head, Shapley values and energy.

    python -m core.evaluate runs/<name> [--split test|val] [--checkpoint best|last] [--allow-pickle]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.data.registry import ALLOW_PICKLE_HELP
from core.energy import energy_estimate
from core.errors import TAAFError
from core.recorder import evaluate_zeroed, shapley_values
from core.whatif import load_trained


def evaluate_run(
    run_dir: str | Path, split: str = "test", which: str = "best", trust_pickles: bool = False
) -> dict[str, Any]:
    trained = load_trained(run_dir, which, trust_pickles)
    data = getattr(trained.bundle, split)
    bs, dev = trained.cfg["data"]["batch_size"], "cpu"
    zeros = [(), ("v",), ("a",), ("a", "v")]
    acc = evaluate_zeroed(trained.model, trained.strategy, data, bs, dev, zeros)
    out: dict[str, Any] = {**acc[()], **shapley_values(acc[()]["acc_f"], *(acc[z]["acc_f"] for z in zeros[1:]))}
    n = min(64, len(data))
    from core.data.common import iterate_batches

    audio, visual, _ = next(iterate_batches(data, n))
    out.update(energy_estimate(trained.model, audio, visual))
    out["samples"] = len(data)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m core.evaluate", description="Evaluate a run on its test split.")
    ap.add_argument("run_dir")
    ap.add_argument("--split", choices=("test", "val"), default="test")
    ap.add_argument("--checkpoint", choices=("best", "last"), default="best")
    ap.add_argument("--allow-pickle", action="store_true", help=ALLOW_PICKLE_HELP)
    args = ap.parse_args(argv)
    try:
        r = evaluate_run(args.run_dir, args.split, args.checkpoint, args.allow_pickle)
    except TAAFError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.run_dir} ({args.checkpoint} checkpoint, {args.split} split, {r['samples']} samples)")
    print(f"accuracy   fused {r['acc_f']:.4f}   audio {r['acc_a']:.4f}   visual {r['acc_v']:.4f}")
    print(f"shapley    audio {r['shapley_a']:+.4f}   visual {r['shapley_v']:+.4f}")
    ratio = r["energy_pj"] / max(r["energy_ann_pj"], 1e-12)
    print(f"energy     {r['energy_pj'] / 1e6:.4f} uJ per sample (SNN)   {r['energy_ann_pj'] / 1e6:.4f} uJ (same ANN)"
          f"   ratio {ratio:.3f}   SOPs {r['sops']:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
