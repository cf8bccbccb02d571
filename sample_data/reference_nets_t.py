"""Reference accuracies on AV-Digits-T with small NON-spiking networks, before any spiking network.

    .venv/bin/python sample_data/reference_nets_t.py [--seeds 0 1 2] [--epochs 6] [--threads 2]

Per modality an encoder with the project's default widths [32, 64]: two 3 x 3 conv + BN + ReLU stages,
each stride 2 (the project pools 2 x 2 after each conv), over the whole audio window (32 mel x 64
frames) or over each visual frame (8 x 8); then a temporal conv (audio: kernel 5 over the 16 positions
left after the strides; visual: kernel 3 over the 16 frames) to 128 channels, ReLU, max over time: one
128-d embedding per modality. Heads: audio alone and visual alone = Linear(128, 10) each; concat =
Linear(256, 10) over both embeddings, trained jointly with one cross-entropy; late fusion = the sum of
the two unimodal networks' log-softmax. Adam, lr 3e-3, batch 64, EPOCHS epochs; the epoch is chosen on
validation accuracy, never on test. Prints test accuracy (mean over seeds, min - max) and, per degraded
modality, the share of its off-diagonal test confusions that fall on its stated pairs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.data import avdigits_t  # noqa: E402

WIDTHS = (32, 64)
EMBED = 128


def conv_stage(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class AudioEncoder(nn.Module):
    """(B, F, L) -> (B, EMBED)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(conv_stage(1, WIDTHS[0]), conv_stage(*WIDTHS))
        self.temporal = nn.Conv1d(WIDTHS[1] * 4, EMBED, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.conv(x.unsqueeze(1))  # (B, 64, F / 4, L / 4)
        z = F.adaptive_avg_pool2d(z, (4, z.shape[-1])).flatten(1, 2)  # 4 frequency rows, as the project's grid
        return F.relu(self.temporal(z)).amax(dim=-1)


class VisualEncoder(nn.Module):
    """(B, S, 1, H, W) -> (B, EMBED)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(conv_stage(1, WIDTHS[0]), conv_stage(*WIDTHS))
        self.temporal = nn.Conv1d(WIDTHS[1] * 4, EMBED, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s = x.shape[:2]
        z = self.conv(x.flatten(0, 1))  # (B S, 64, 2, 2) for 8 x 8 frames
        z = z.flatten(1).unflatten(0, (b, s)).transpose(1, 2)  # (B, 256, S)
        return F.relu(self.temporal(z)).amax(dim=-1)


class Net(nn.Module):
    def __init__(self, mode: str, classes: int) -> None:
        super().__init__()
        self.mode = mode
        self.audio = AudioEncoder() if mode in ("audio", "concat") else None
        self.visual = VisualEncoder() if mode in ("visual", "concat") else None
        self.head = nn.Linear(EMBED * (2 if mode == "concat" else 1), classes)

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        parts = [enc(x) for enc, x in ((self.audio, audio), (self.visual, visual)) if enc is not None]
        return self.head(torch.cat(parts, dim=1))


def predict(net: Net, ds: avdigits_t.AVSequenceDataset, batch: int = 512) -> torch.Tensor:
    net.eval()
    with torch.no_grad():
        out = [F.log_softmax(net(ds.audio[i : i + batch], ds.visual[i : i + batch]), dim=1)
               for i in range(0, len(ds), batch)]
    return torch.cat(out)


def train(mode: str, bundle, seed: int, epochs: int) -> tuple[torch.Tensor, list[float]]:
    """Test log-posteriors of the best-validation epoch, and validation accuracy per epoch."""
    torch.manual_seed(seed)
    net = Net(mode, bundle.num_classes)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    tr, va, te = bundle.train, bundle.val, bundle.test
    best, best_test, curve = -1.0, None, []
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(tr)).split(64):
            loss = F.cross_entropy(net(tr.audio[idx], tr.visual[idx]), tr.label[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = float((predict(net, va).argmax(1) == va.label).float().mean())
        curve.append(acc)
        if acc > best:
            best, best_test = acc, predict(net, te)
    return best_test, curve


def pair_share(pred: np.ndarray, label: np.ndarray, pairs: list[list[int]], k: int) -> float:
    """Share of the off-diagonal confusions (true != predicted) whose (true, predicted) is a stated pair."""
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (label, pred), 1)
    off = cm.sum() - np.trace(cm)
    on_pairs = sum(cm[a, b] + cm[b, a] for a, b in pairs)
    return float(on_pairs / off) if off else 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", default=avdigits_t.DEFAULT_PATH)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    bundle = avdigits_t.build({"path": args.path}, 0)
    label = bundle.test.label.numpy()
    pairs = bundle.test.knobs
    acc: dict[str, list[float]] = {k: [] for k in ("audio alone", "visual alone", "concat (joint)", "late fusion")}
    share: dict[str, list[float]] = {"audio": [], "visual": []}
    for seed in args.seeds:
        logp = {}
        for mode in ("audio", "visual", "concat"):
            logp[mode], curve = train(mode, bundle, seed, args.epochs)
            print(f"seed {seed} {mode:7s} validation per epoch " + " ".join(f"{a:.2f}" for a in curve), flush=True)
        logp["late"] = logp["audio"] + logp["visual"]
        for name, key in zip(acc, ("audio", "visual", "concat", "late"), strict=True):
            acc[name].append(float((logp[key].argmax(1).numpy() == label).mean()))
        for m in share:
            share[m].append(pair_share(logp[m].argmax(1).numpy(), label, pairs[f"{m}_pairs"], bundle.num_classes))
        print(f"seed {seed} test: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in acc.items())
              + ", on-pair confusion share " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in share.items()), flush=True)
    print(f"\nAV-Digits-T test accuracy, {len(args.seeds)} seeds ({', '.join(map(str, args.seeds))}), "
          f"{args.epochs} epochs, Adam 3e-3, batch 64, epoch chosen on validation:\n")
    print("| network | test accuracy, mean (min - max) |\n|---|---|")
    for name, v in acc.items():
        print(f"| {name} | {np.mean(v):.3f} ({min(v):.3f} - {max(v):.3f}) |")
    best_uni = max(np.mean(acc["audio alone"]), np.mean(acc["visual alone"]))
    late, joint = np.mean(acc["late fusion"]), np.mean(acc["concat (joint)"])
    print(f"\nlate fusion - better single modality: {100 * (late - best_uni):+.1f} points (target >= +8)")
    print(f"concat (joint) - late fusion: {100 * (joint - late):+.1f} points (target <= -5)")
    for m, v in share.items():
        print(f"{m} alone: {100 * np.mean(v):.0f} % of its off-diagonal test confusions fall on its stated pairs "
              f"{pairs[f'{m}_pairs']}")
    print(f"total {time.perf_counter() - t0:.0f} s on {args.threads} threads")


if __name__ == "__main__":
    main()
