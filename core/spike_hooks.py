"""Record the spikes (and membrane) of any spiking module through forward hooks, only while asked to.

    layers = spiking_layers(net, (MyLIF,), {"ear": "a", "eye": "v"})    # {"a.ear.lif1": module, ...}
    with watch_spikes(layers, membrane="v") as seen:                    # hooks on only inside the block
        net(audio, visual)
    run.log_spikes(step, spikes_of(seen), membrane=membranes_of(seen))

A watched module's forward returns its spikes time first, (T, batch, ...); or a tuple whose first item they are
(norse, snnTorch-style `(spikes, state)`), the second taken as the membrane when it is a tensor of the same shape.
`membrane="v"` reads the membrane from that attribute of the module after its forward instead. Outside the block
no hook is registered, so batches that are not probed pay nothing. Hooks belong to the modules, not to a thread:
record in the thread that runs the model.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

Seen = dict[str, tuple[torch.Tensor, torch.Tensor | None]]


def spiking_layers(model: nn.Module, kinds: tuple[type, ...],
                   modality_of: Mapping[str, str] | None = None) -> dict[str, nn.Module]:
    """Every submodule of `model` of one of `kinds`, by a name the studio reads: its dotted path, prefixed with
    its modality's letter when the path starts with a key of `modality_of` ({"ear": "a"} -> "a.ear.lif1")."""
    found: dict[str, nn.Module] = {}
    for path, module in model.named_modules():
        if path and isinstance(module, kinds):
            top = path.split(".", 1)[0]
            letter = (modality_of or {}).get(top)
            found[f"{letter}.{path}" if letter else path] = module
    return found


def _split(output: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(output, torch.Tensor):
        return output, None
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        second = output[1] if len(output) > 1 else None
        same = isinstance(second, torch.Tensor) and second.shape == output[0].shape
        return output[0], second if same else None
    raise TypeError(f"a watched module returned {type(output).__name__}; expected spikes (T, batch, ...) "
                    "or a tuple starting with them")


@contextmanager
def watch_spikes(layers: Mapping[str, nn.Module], membrane: str | None = None) -> Iterator[Seen]:
    """Inside the block, each forward of a module in `layers` stores (spikes, membrane or None), detached, under
    its name (a module that runs twice keeps its last call). The hooks are removed on the way out."""
    seen: Seen = {}
    handles = []

    def hook_for(name: str):  # noqa: ANN202 (a torch forward hook)
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            spikes, v = _split(output)
            if membrane is not None and isinstance(getattr(module, membrane, None), torch.Tensor):
                v = getattr(module, membrane)
            seen[name] = (spikes.detach(), None if v is None else v.detach())
        return hook

    try:
        for name, module in layers.items():
            handles.append(module.register_forward_hook(hook_for(name)))
        yield seen
    finally:
        for handle in handles:
            handle.remove()


def spikes_of(seen: Seen) -> dict[str, torch.Tensor]:
    return {name: z for name, (z, _) in seen.items()}


def membranes_of(seen: Seen) -> dict[str, torch.Tensor]:
    """The membranes that were seen, each the shape of its layer's spikes (others left out)."""
    return {name: v for name, (z, v) in seen.items() if v is not None and v.shape == z.shape}
