"""What a run records beyond per-step scalars: probe snapshots, per-head evaluation and Shapley values."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from norse.torch import LIFBoxParameters
from torch import nn
from torch.utils.data import Dataset

from core.data.common import iterate_batches
from core.lif import is_muted, membrane_before_reset, muted, recording
from core.model import ModelOutput, MultimodalSNN
from core.strategies.base import Strategy
from core.taaf import MODALITIES, alpha_entropy

MAX_RASTER_NEURONS = 2048  # per layer: a fixed prefix of the flattened (channel, y, x) neurons


def probe_indices(dataset: Dataset, count: int, seed: int) -> torch.Tensor:
    """A fixed set of validation samples, the same at every recording of a run."""
    g = torch.Generator().manual_seed(seed + 7919)
    return torch.randperm(len(dataset), generator=g)[: min(count, len(dataset))].sort().values


def stack_items(dataset: Dataset, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return next(iterate_batches(dataset, len(indices), order=indices))


EVENT_KEYS = ("audio_on", "audio_off", "visual_on", "visual_off")


def probe_inputs(dataset: Dataset, indices: torch.Tensor, visual: torch.Tensor) -> dict[str, np.ndarray]:
    """What the probes' data holds, for the studio to draw beside the network's response: where each probe's word
    and visual event really are (`events` (P, 4) int16: audio_on, audio_off in audio frames, visual_on, visual_off
    in visual frames; datasets with event positions, e.g. AV-Digits-T) and its frame sequence (`frames`
    (P, F, H, W) float16, first channel; frame-sequence datasets). Empty for a dataset with neither."""
    out: dict[str, np.ndarray] = {}
    events = getattr(dataset, "events", None)
    if isinstance(events, dict) and all(k in events for k in EVENT_KEYS):
        out["events"] = torch.stack([events[k][indices] for k in EVENT_KEYS], dim=1).to(torch.int16).numpy()
    if visual.dim() == 5:  # (P, F, C, H, W)
        out["frames"] = visual[:, :, 0].to(torch.float16).numpy()
    return out


@torch.no_grad()
def probe_forward(
    model: MultimodalSNN, audio: torch.Tensor, visual: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[ModelOutput, dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """One forward pass and every LIF layer's (spikes, membrane), by name. Touches no state on the model, so
    threads sharing one model in eval mode (the studio's Inspect page) can call it at once."""
    with recording() as recorded:
        out = model(audio, visual, generator)
    return out, recorded


def recorded_neurons(spikes: torch.Tensor, count: int) -> torch.Tensor:
    """Which `count` neurons of a layer's raster (S, P, N) get their membrane recorded: those that start the most
    spike trains (a spike after a silent step: integrate, fire, reset, again), then the most spikes, over every
    probe; ties keep the lower index. The first neurons of a layer are often silent, so the first M told little."""
    n = spikes.shape[-1]
    if count >= n:
        return torch.arange(n, device=spikes.device)
    z = spikes.to(torch.int64)
    onsets = z[0].sum(0) + (z[1:] * (1 - z[:-1])).sum((0, 1))
    score = onsets * (z.shape[0] * z.shape[1] + 1) + z.sum((0, 1))
    top = torch.sort(score, descending=True, stable=True).indices[:count]
    return top.sort().values


def probe_arrays(
    out: ModelOutput, recorded: dict[str, tuple[torch.Tensor, torch.Tensor]], labels: torch.Tensor,
    membrane_neurons: int, currents: dict[str, torch.Tensor] | None = None,
    neurons: dict[str, LIFBoxParameters] | None = None,
) -> dict[str, np.ndarray]:
    """What a probe snapshot stores, per probe first: spikes, membrane (after reset), alpha and per-timestep
    probabilities; with each layer's input current (and its neuron parameters), the current and the membrane
    before the reset (`membrane_pre/`: on a spike step, where v got above the threshold)."""
    arrays: dict[str, np.ndarray] = {}
    for name, (spikes, membrane) in recorded.items():
        z = spikes.flatten(2)[..., :MAX_RASTER_NEURONS]  # (S, P, N)
        idx = recorded_neurons(z, membrane_neurons)  # columns of the raster: their spikes are stored too
        v = membrane.flatten(2)[..., idx]
        arrays[f"spikes/{name}"] = z.transpose(0, 1).to(torch.uint8).cpu().numpy()
        arrays[f"membrane/{name}"] = v.transpose(0, 1).to(torch.float16).cpu().numpy()
        arrays[f"neurons/{name}"] = idx.cpu().numpy().astype(np.int32)
        if currents and name in currents:
            i = currents[name].reshape(*v.shape[:2], -1)[..., idx]  # same neurons as membrane
            arrays[f"current/{name}"] = i.transpose(0, 1).to(torch.float16).cpu().numpy()
            if neurons and name in neurons:
                pre = membrane_before_reset(i.float().cpu().numpy(), v.float().cpu().numpy(), neurons[name])
                arrays[f"membrane_pre/{name}"] = torch.from_numpy(pre).transpose(0, 1).to(torch.float16).numpy()
    arrays["alpha"] = torch.stack([out.alpha[u] for u in MODALITIES], dim=1).float().cpu().numpy()
    probs = torch.stack([out.logits[u].softmax(-1) for u in MODALITIES], dim=0)  # (3, T, P, C)
    arrays["probs"] = probs.permute(2, 0, 1, 3).float().cpu().numpy()
    arrays["labels"] = labels.cpu().numpy().astype(np.int64)
    return arrays


@torch.no_grad()
def record_probes(
    model: MultimodalSNN,
    strategy: Strategy,
    audio: torch.Tensor,
    visual: torch.Tensor,
    labels: torch.Tensor,
    membrane_neurons: int,
    dropped: tuple[str, ...] = (),
) -> dict[str, np.ndarray]:
    """Spikes, membrane and input current of every LIF layer, alpha and per-timestep probabilities for the probes,
    in eval mode (the trainer's model is put back in train mode afterwards). `dropped`: modalities muted
    (core.lif.muted: their encoders receive no current), recorded as `dropped` (uint8 flags for a, v)."""
    was_training = model.training
    if was_training:  # only the trainer's own model: a shared eval model is never written to
        model.eval()
    currents: dict[str, torch.Tensor] = {}  # what each layer's neurons received (the Neuron lab replays it)

    def keep_current(mod: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        # a muted layer receives nothing (this hook sees the current before the layer mutes it)
        currents[mod.name] = torch.zeros_like(args[0]) if is_muted(mod.name) else args[0].detach()

    hooks = [layer.register_forward_pre_hook(keep_current) for layer in model.lif_layers()]
    try:
        with muted(dropped):
            out, recorded = probe_forward(model, audio, visual)
    finally:
        for hook in hooks:
            hook.remove()
        if was_training:
            model.train()
    arrays = probe_arrays(out, recorded, labels, membrane_neurons, currents,
                          {layer.name: layer.p for layer in model.lif_layers()})
    if dropped:
        arrays["dropped"] = np.array([u in dropped for u in ("a", "v")], dtype=np.uint8)
    return arrays


@torch.no_grad()
def evaluate(
    model: MultimodalSNN,
    strategy: Strategy,
    dataset: Dataset,
    batch_size: int,
    device: torch.device,
    zero: tuple[str, ...] = (),
    num_workers: int = 0,
) -> dict[str, float]:
    """Accuracy of the audio, visual and fused heads (NaN for a head the strategy lacks), fused loss and the
    mean attention entropy of each stream (alpha_entropy_a / _v / _f, nats).
    zero: modalities whose input is replaced by zeros (for Shapley values)."""
    return evaluate_zeroed(model, strategy, dataset, batch_size, device, [zero], num_workers)[zero]


@torch.no_grad()
def evaluate_zeroed(
    model: MultimodalSNN,
    strategy: Strategy,
    dataset: Dataset,
    batch_size: int,
    device: torch.device,
    zeros: list[tuple[str, ...]],
    num_workers: int = 0,
) -> dict[tuple[str, ...], dict[str, float]]:
    """`evaluate` for several sets of zeroed modalities in one pass over the data.

    Each encoder runs once per batch on the real input. A zeroed input is the same for every sample, and
    in eval mode an encoder treats samples independently, so its features are computed once for one
    sample and broadcast: the four Shapley evaluations cost little more than one.
    """
    was_training = model.training
    model.eval()
    correct = {z: {u: 0 for u in MODALITIES} for z in zeros}
    present = {z: set(MODALITIES) for z in zeros}
    loss_sum, n = dict.fromkeys(zeros, 0.0), 0
    entropy_sum = {z: dict.fromkeys(MODALITIES, 0.0) for z in zeros}
    blank: dict[str, torch.Tensor] = {}
    for audio, visual, y in iterate_batches(dataset, batch_size, num_workers=num_workers):
        audio, visual, y = audio.to(device), visual.to(device), y.to(device)
        feats: dict[str, torch.Tensor] = {}
        if any("a" not in z for z in zeros):
            feats["a"] = model.encode_audio(audio)
        if any("v" not in z for z in zeros):
            feats["v"] = model.encode_visual(visual)
        if any("a" in z for z in zeros) and "a" not in blank:
            blank["a"] = model.encode_audio(torch.zeros_like(audio[:1]))
        if any("v" in z for z in zeros) and "v" not in blank:
            blank["v"] = model.encode_visual(torch.zeros_like(visual[:1]))
        for z in zeros:
            h = {u: blank[u].expand(-1, len(y), -1) if u in z else feats[u] for u in ("a", "v")}
            fused = model.fuse(h["a"], h["v"])
            preds = strategy.predictions(model, fused)
            for u in MODALITIES:
                entropy_sum[z][u] += float(alpha_entropy(fused.alpha[u]).sum())
            present[z] &= set(preds)
            for u, p in preds.items():
                correct[z][u] += int((p.argmax(-1) == y).sum())
            loss_sum[z] += float(F.cross_entropy(preds["f"], y, reduction="sum"))
        n += len(y)
    model.train(was_training)
    out = {}
    for z in zeros:
        out[z] = {f"acc_{u}": (correct[z][u] / max(n, 1) if u in present[z] else math.nan) for u in MODALITIES}
        out[z]["loss"] = loss_sum[z] / max(n, 1)
        out[z].update({f"alpha_entropy_{u}": entropy_sum[z][u] / max(n, 1) for u in MODALITIES})
    return out


def shapley_values(full: float, audio_only: float, visual_only: float, none: float) -> dict[str, float]:
    """Two-player Shapley values of fused accuracy: each modality's mean marginal gain."""
    return {
        "shapley_a": 0.5 * ((audio_only - none) + (full - visual_only)),
        "shapley_v": 0.5 * ((visual_only - none) + (full - audio_only)),
    }

