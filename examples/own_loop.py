"""A spiking network that is not ours, trained by its own loop, watched in the studio through core.runlog.

    python examples/own_loop.py [--runs-dir runs] [--name NAME] [--epochs 3] [--max-steps 0]

Plain PyTorch: its own LIF neuron (surrogate gradient), its own widths and layer names (ear.*, eye.*), per-timestep
attention over 8 steps, and an OGM-GE-style coefficient that slows the modality ahead. It reads the bundled
AV-Digits file directly. Everything it records goes through `Run` (docs/own-loop.md); then open the studio
(`python -m studio`) and pick the run on Train & watch, Replay or Compare.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.runlog import Run  # noqa: E402
from core.spike_hooks import membranes_of, spikes_of, spiking_layers, watch_spikes  # noqa: E402

T = 8  # timesteps: the 32 spectrogram frames in chunks of 4; the image shown at every step


class Spike(torch.autograd.Function):
    """Heaviside forward, fast-sigmoid gradient backward."""

    @staticmethod
    def forward(ctx, v: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        ctx.save_for_backward(v)
        return (v > 0).float()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        (v,) = ctx.saved_tensors
        return grad / (1 + 10 * v.abs()) ** 2


class LeakyNeuron(nn.Module):
    """LIF over time: input (T, B, N) -> (spikes, membrane after reset), both (T, B, N)."""

    def __init__(self, decay: float = 0.8, threshold: float = 1.0) -> None:
        super().__init__()
        self.decay, self.threshold = decay, threshold

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v, zs, vs = torch.zeros_like(x[0]), [], []
        for t in range(x.shape[0]):
            v = self.decay * v + x[t]
            z = Spike.apply(v - self.threshold)
            v = v - z * self.threshold  # soft reset
            zs.append(z)
            vs.append(v)
        return torch.stack(zs), torch.stack(vs)


class Branch(nn.Module):
    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.fc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:], strict=False))
        self.lif = nn.ModuleList(LeakyNeuron() for _ in sizes[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for fc, lif in zip(self.fc, self.lif, strict=True):
            x, _ = lif(fc(x))
        return x


class TwoSenseSNN(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.ear, self.eye = Branch([128, 96, 48]), Branch([64, 40])
        self.head = nn.ModuleDict({"audio": nn.Linear(48, classes), "visual": nn.Linear(40, classes),
                                   "fused": nn.Linear(88, classes)})
        self.score = nn.ModuleDict({"audio": nn.Linear(48, 1), "visual": nn.Linear(40, 1), "fused": nn.Linear(88, 1)})

    def forward(self, audio: torch.Tensor, visual: torch.Tensor) -> tuple[dict, dict]:
        a = audio.reshape(len(audio), 32, T, 4).permute(2, 0, 1, 3).flatten(2)  # (T, B, 128)
        v = visual.flatten(1).expand(T, -1, -1)  # (T, B, 64)
        feats = {"audio": self.ear(a), "visual": self.eye(v)}
        feats["fused"] = torch.cat([feats["audio"], feats["visual"]], dim=-1)
        logits, attention = {}, {}
        for u, h in feats.items():
            alpha = self.score[u](h).squeeze(-1).transpose(0, 1).softmax(dim=1)  # (B, T)
            attention[u] = alpha
            logits[u] = (self.head[u](h) * alpha.transpose(0, 1)[..., None]).sum(0)
        return logits, attention


def load(split: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    with np.load(ROOT / "sample_data" / "av_digits.npz") as f:
        keep = f["split"] == split
        return (torch.from_numpy(f["audio"][keep]), torch.from_numpy(f["visual"][keep]),
                torch.from_numpy(f["label"][keep]).long())


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs-dir", type=Path, default=ROOT / "runs")
    ap.add_argument("--name", default=f"own-loop-{time.strftime('%Y%m%d-%H%M%S')}")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: all epochs)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    (xa, xv, y), (va, vv, vy) = load(0), load(1)
    net = TwoSenseSNN()
    opt = torch.optim.Adam([{"params": net.ear.parameters(), "name": "audio"},
                            {"params": net.eye.parameters(), "name": "visual"},
                            {"params": [*net.head.parameters(), *net.score.parameters()], "name": "fused"}], lr=2e-3)
    batch, per_epoch = 64, (len(y) + 63) // 64
    total = per_epoch * args.epochs if not args.max_steps else min(args.max_steps, per_epoch * args.epochs)
    config = {"example": "examples/own_loop.py", "lr": 2e-3, "batch_size": batch, "epochs": args.epochs, "T": T}
    layers = spiking_layers(net, (LeakyNeuron,), {"ear": "a", "eye": "v"})
    probe = torch.arange(8) * (len(vy) // 8)
    run = Run.create(args.runs_dir / args.name, config, T=T, class_names=[str(d) for d in range(10)], probe_every=10,
                     meta={"strategy": "own-loop example", "dataset": "avdigits", "seed": args.seed, "v_th": 1.0,
                           "steps_per_epoch": per_epoch, "total_steps": total, "epochs": args.epochs})
    with run:
        step, start = 0, time.perf_counter()
        for epoch in range(args.epochs):
            for idx in torch.randperm(len(y)).split(batch):
                step += 1
                t0 = time.perf_counter()
                logits, attention = net(xa[idx], xv[idx])
                losses = {u: F.cross_entropy(lg, y[idx]) for u, lg in logits.items()}
                opt.zero_grad()
                sum(losses.values()).backward()
                # OGM-GE-style: the modality whose head is more confident on the true class learns slower
                score = {u: logits[u].softmax(-1).gather(1, y[idx, None]).mean().item() for u in ("audio", "visual")}
                rho = score["audio"] / max(score["visual"], 1e-6)
                k = {"audio": 1 - np.tanh(rho - 1) if rho > 1 else 1.0, "visual": 1 - np.tanh(1 / rho - 1)
                     if rho < 1 else 1.0}
                for group in opt.param_groups[:2]:
                    for p in group["params"]:
                        if p.grad is not None:
                            p.grad *= k[group["name"]]
                opt.step()
                acc = {f"acc_{u[0]}": (lg.argmax(-1) == y[idx]).float().mean().item() for u, lg in logits.items()}
                run.log_scalars(step, {"loss": sum(losses.values()).item(), **acc, "rho_a": rho, "rho_v": 1 / rho,
                                       **{f"loss_{u[0]}": loss.item() for u, loss in losses.items()},
                                       "samples_per_s": len(idx) / (time.perf_counter() - t0),
                                       "elapsed_s": time.perf_counter() - start}, epoch=epoch)
                run.log_lr(step, {g["name"]: g["lr"] * k.get(g["name"], 1.0) for g in opt.param_groups})
                run.log_balance(step, k)
                run.log_attention(step, {u: a.detach() for u, a in attention.items()})
                if run.is_probe_step(step):  # only probe batches pay for the hooks
                    with torch.no_grad(), watch_spikes(layers) as seen:
                        _, probe_attention = net(va[probe], vv[probe])
                    run.log_spikes(step, spikes_of(seen), membrane=membranes_of(seen), labels=vy[probe])
                    run.log_attention(step, probe_attention)
                if step >= total:
                    break
            with torch.no_grad():
                logits, _ = net(va, vv)
            val = {f"val_acc_{u[0]}": (lg.argmax(-1) == vy).float().mean().item() for u, lg in logits.items()}
            run.log_epoch(step, {**val, "val_loss": F.cross_entropy(logits["fused"], vy).item()}, epoch=epoch)
            print(f"epoch {epoch}: step {step}, val acc fused {val['val_acc_f']:.3f}")
            if step >= total:
                break
    print(f"recorded into {run.run_dir}; open it with: python -m studio")
    return run.run_dir


if __name__ == "__main__":
    main()
