"""The multimodal spiking network: norse LIF encoders per modality, learnable time alignment,
per-timestep heads for audio / visual / fused, and TAAF (core/taaf.py) over their outputs.

Tensors are time-first: (S, B, ...) inside an encoder with S its own steps, (T, B, ...) after alignment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from norse.torch import LIFBoxParameters
from norse.torch.functional.encode import poisson_encode
from torch import nn

from core.align import CrossAlign, make_aligner
from core.errors import ConfigError
from core.lif import DT, LIFLayer
from core.spike_pool import spike_grid_pool
from core.taaf import MODALITIES, TAAF, uniform_alpha

POOL_GRID = 4  # encoder outputs are pooled to at most 4 x 4 positions, then flattened


def per_step(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a stateless module to every step at once by folding time into the batch."""
    s, b = x.shape[:2]
    y = module(x.flatten(0, 1))
    return y.unflatten(0, (s, b))


def conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out))


class PooledConv2d(nn.Conv2d):
    """A 3 x 3 convolution (padding 1, no bias) followed by 2 x 2 average pooling, as one strided conv.

    avg_pool(conv3x3(x, W)) = conv(x, W (*) box / 4, stride 2): the same numbers, computed at a quarter of
    the positions. On a CPU avg_pool2d and its backward cost as much as the conv, so this is 2-4x faster.
    The parameter stays the 3 x 3 weight (checkpoints and the energy count see the layer as defined).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, c_out, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ph, pw = min(2, x.shape[-2]), min(2, x.shape[-1])  # no pooling along a side that is already 1
        if ph == pw == 1:
            return super().forward(x)
        kernel = sum(F.pad(self.weight, (j, pw - 1 - j, i, ph - 1 - i)) for i in range(ph) for j in range(pw))
        return F.conv2d(x, kernel / (ph * pw), stride=(ph, pw), padding=1)


class PlainStage(nn.Module):
    """conv, 2x2 average pooling of the current (where the map is larger than 1), BN, then LIF.

    The current is pooled, not the spikes: the LIF then runs on a 4x smaller map, and elementwise
    neuron updates are most of the step time on a CPU.
    """

    def __init__(self, name: str, c_in: int, c_out: int, p: LIFBoxParameters) -> None:
        super().__init__()
        self.conv = PooledConv2d(c_in, c_out)
        self.bn = nn.BatchNorm2d(c_out)
        self.lif = LIFLayer(name, p)

    def current(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))

    def forward(self, x: torch.Tensor, static: bool = False) -> torch.Tensor:
        if static:  # every step carries the same frame: compute its current once
            once = self.current(x[0])
            return self.lif(once.unsqueeze(0).expand(x.shape[0], *once.shape))
        return self.lif(per_step(self.current, x))


class BasicBlock(nn.Module):
    """Spiking ResNet basic block: LIF(BN(conv(LIF(BN(conv x)))) + shortcut(x))."""

    def __init__(self, name: str, c_in: int, c_out: int, stride: int, p: LIFBoxParameters) -> None:
        super().__init__()
        self.conv1 = conv_bn(c_in, c_out, stride)
        self.lif1 = LIFLayer(f"{name}.lif1", p)
        self.conv2 = conv_bn(c_out, c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        self.lif2 = LIFLayer(f"{name}.lif2", p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.lif1(per_step(self.conv1, x))
        return self.lif2(per_step(self.conv2, z) + per_step(self.shortcut, x))


class SpikingEncoder(nn.Module):
    """Per-modality encoder: (S, B, C, H, W) -> features (S, B, D): spike rates pooled to a coarse grid.

    blocks = 0: one plain conv stage per width (the tiny CPU default).
    blocks > 0: a conv stem, then `blocks` residual blocks per width (ResNet18 = widths [64, 128, 256, 512],
    blocks 2).
    """

    def __init__(self, prefix: str, in_ch: int, widths: list[int], blocks: int, p: LIFBoxParameters) -> None:
        super().__init__()
        self.stages = nn.ModuleList()
        if blocks == 0:
            c = in_ch
            for i, w in enumerate(widths):
                self.stages.append(PlainStage(f"{prefix}.lif{i + 1}", c, w, p))
                c = w
        else:
            self.stages.append(PlainStage(f"{prefix}.stem", in_ch, widths[0], p))
            c = widths[0]
            for i, w in enumerate(widths):
                for j in range(blocks):
                    stride = 2 if (j == 0 and i > 0) else 1
                    self.stages.append(BasicBlock(f"{prefix}.s{i + 1}b{j + 1}", c, w, stride, p))
                    c = w

    def forward(self, x: torch.Tensor, static: bool = False) -> torch.Tensor:
        """static: every step carries the same frame (direct encoding), so the first conv runs once."""
        z = self.stages[0](x, static=static)
        for stage in self.stages[1:]:
            z = stage(z)
        # Keep a coarse spatial grid rather than a global mean: for a spectrogram slice the rows are
        # frequencies, and averaging them away discards what tells one word from another.
        h, w = z.shape[-2:]
        grid = (min(h, POOL_GRID), min(w, POOL_GRID))
        return per_step(lambda t: spike_grid_pool(t, grid), z)

    def output_dim(self, in_shape: tuple[int, int, int], steps: int) -> int:
        with torch.no_grad():
            was = self.training
            self.eval()
            d = self.forward(torch.zeros(steps, 1, *in_shape)).shape[-1]
            self.train(was)
        return d


@dataclass
class ModelOutput:
    logits: dict[str, torch.Tensor]  # u -> (T, B, C) per-timestep logits
    alpha: dict[str, torch.Tensor]  # u -> (B, T) temporal weights (uniform for mean fusion)
    pred: dict[str, torch.Tensor]  # u -> (B, C) time-aggregated logits
    feats: dict[str, torch.Tensor]  # "a" / "v" -> (T, B, D) aligned features (v before any cross alignment)


class MultimodalSNN(nn.Module):
    """Audio + visual spiking encoders, time alignment, per-timestep heads, temporal fusion."""

    def __init__(
        self,
        model_cfg: dict[str, Any],
        audio_shape: tuple[int, int],
        visual_shape: tuple[int, int, int],
        num_classes: int,
        fusion: str = "taaf",
    ) -> None:
        super().__init__()
        m = model_cfg
        self.T, self.audio_steps, self.visual_steps = m["T"], m["audio_steps"], m["visual_steps"]
        self.audio_context = m["audio_context"]
        self.encoding, self.fusion = m["encoding"], fusion
        self.v_th = float(m["v_th"])
        p = LIFBoxParameters(tau_mem_inv=torch.tensor(float(m["tau_mem_inv"])), v_th=torch.tensor(self.v_th))
        self.audio_encoder = SpikingEncoder("a", 1, m["widths"], m["blocks"], p)
        self.visual_encoder = SpikingEncoder("v", visual_shape[0], m["widths"], m["blocks"], p)
        self.align_a = make_aligner(m["align"], self.audio_steps, self.T)
        self.align_v = make_aligner(m["align"], self.visual_steps, self.T)
        if audio_shape[1] < self.audio_steps:
            raise ConfigError(
                f"model.audio_steps = {self.audio_steps}: the spectrograms have only {audio_shape[1]} frames"
            )
        slice_shape = (1, audio_shape[0], audio_shape[1] // self.audio_steps * (2 * self.audio_context + 1))
        d_a = self.audio_encoder.output_dim(slice_shape, 1)
        d_v = self.visual_encoder.output_dim(tuple(visual_shape), 1)
        self.head_a = nn.Linear(d_a, num_classes)
        self.head_v = nn.Linear(d_v, num_classes)
        self.head_f = nn.Linear(d_a + d_v, num_classes)
        # align = cross: the fused head reads the visual features attended from each audio step (per sample)
        self.cross = CrossAlign(d_a, d_v, m["attn_dim"]) if m["align"] == "cross" else None
        self.taaf = TAAF(num_classes, m["attn_dim"], m["attn_temperature"]) if fusion == "taaf" else None
        self.num_classes = num_classes

    def lif_layers(self) -> list[LIFLayer]:
        return [m for m in self.modules() if isinstance(m, LIFLayer)]

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Audio, visual and fusion parameters: the balance modulates the first two separately."""
        audio = [*self.audio_encoder.parameters(), *self.align_a.parameters(), *self.head_a.parameters()]
        visual = [*self.visual_encoder.parameters(), *self.align_v.parameters(), *self.head_v.parameters()]
        taken = {id(q) for q in audio + visual}
        return {"a": audio, "v": visual, "f": [q for q in self.parameters() if id(q) not in taken]}

    def audio_slices(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, F, L) spectrogram -> (S_a, B, 1, F, W (2c + 1)): successive time slices of W = L // S_a frames,
        one per step, each with c neighbouring slices of context on either side (zeros past the ends)."""
        s, c = self.audio_steps, self.audio_context
        width = audio.shape[-1] // s
        x = F.pad(audio[..., : width * s], (c * width, c * width))
        windows = x.unfold(-1, width * (2 * c + 1), width)  # (B, F, S, W (2c + 1))
        return windows.permute(2, 0, 1, 3).unsqueeze(2)

    def visual_steps_input(self, visual: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, bool]:
        """Frame presented for S_v steps: direct current (static), or Poisson spikes of its intensity.
        A frame sequence (B, F, C, H, W) (AV-Digits-T) is spread over the S_v steps instead (`frames_to_steps`)."""
        if visual.dim() == 5:
            frames = frames_to_steps(visual.transpose(0, 1), self.visual_steps)
            if self.encoding == "poisson":
                return torch.bernoulli(frames.clamp(0, 1), generator=generator), False
            return frames, False
        if self.encoding == "poisson":
            rates = visual.clamp(0, 1)
            spikes = poisson_encode(rates, self.visual_steps, f_max=1.0 / DT, dt=DT, generator=generator)
            return spikes, False
        return visual.unsqueeze(0).expand(self.visual_steps, *visual.shape), True

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, F, L) spectrogram -> aligned features (T, B, D_a)."""
        return self.align_a(self.audio_encoder(self.audio_slices(audio)))

    def encode_visual(self, visual: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, C, H, W) frame, or (B, F, C, H, W) frames -> aligned features (T, B, D_v)."""
        xv, static = self.visual_steps_input(visual, generator)
        return self.align_v(self.visual_encoder(xv, static=static))

    def forward(
        self, audio: torch.Tensor, visual: torch.Tensor, generator: torch.Generator | None = None
    ) -> ModelOutput:
        return self.fuse(self.encode_audio(audio), self.encode_visual(visual, generator))

    def fuse(self, h_a: torch.Tensor, h_v: torch.Tensor) -> ModelOutput:
        """Per-timestep heads and temporal fusion over aligned features (T, B, D) of each modality."""
        h_vf = h_v if self.cross is None else self.cross(h_a, h_v)
        logits = {
            "a": per_step(self.head_a, h_a),
            "v": per_step(self.head_v, h_v),
            "f": per_step(self.head_f, torch.cat([h_a, h_vf], dim=-1)),
        }
        if self.taaf is not None:
            alpha, pred = self.taaf(logits)
        else:
            alpha = {u: uniform_alpha(logits[u]) for u in MODALITIES}
            pred = {u: logits[u].mean(dim=0) for u in MODALITIES}
        return ModelOutput(logits=logits, alpha=alpha, pred=pred, feats={"a": h_a, "v": h_v})


def frames_to_steps(frames: torch.Tensor, steps: int) -> torch.Tensor:
    """(F, B, ...) frames -> (steps, B, ...): each step the mean of its own frames (F a multiple of steps), each
    frame repeated (steps a multiple of F), else the frame under each step's centre. Time stays monotone."""
    f = frames.shape[0]
    if f == steps:
        return frames
    if f % steps == 0:
        return frames.unflatten(0, (steps, f // steps)).mean(dim=1)
    if steps % f == 0:
        return frames.repeat_interleave(steps // f, dim=0)
    index = ((torch.arange(steps, device=frames.device) + 0.5) * f / steps).long().clamp(max=f - 1)
    return frames[index]


def neuron_parameters(model: MultimodalSNN) -> dict[str, dict[str, float]]:
    """norse keeps neuron parameters outside state_dict: saved beside it in checkpoints."""
    out = {}
    for layer in model.lif_layers():
        out[layer.name] = {k: float(getattr(layer.p, k)) for k in ("tau_mem_inv", "v_leak", "v_th", "v_reset")}
    return out


def load_neuron_parameters(model: MultimodalSNN, params: dict[str, dict[str, float]]) -> None:
    for layer in model.lif_layers():
        if layer.name in params:
            q = params[layer.name]
            layer.p = layer.p._replace(**{k: torch.tensor(v) for k, v in q.items()})
