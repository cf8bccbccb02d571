"""Several processes with torchrun (PyTorch DDP): each rank trains on its shard of every epoch's order,
metrics are averaged across ranks, and only rank 0 writes the store and checkpoints.

    torchrun --nproc-per-node N -m core.train --config configs/cremad-taaf.toml

What keeps the ranks in lockstep (every rank must make the same collective calls in the same order):
- the same seed and epoch order on every rank; `shard` gives each an equal share (tail dropped),
  so all ranks take the same number of steps;
- the balance signals (rho, k) are averaged before they scale learning rates or gradients, so the
  optimizer steps stay identical on every rank (DDP only synchronises gradients);
- commands (pause / stop) and the early-stopping counters are broadcast from rank 0.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.utils._pytree as pytree
from torch import nn

from core.errors import TAAFError
from core.model import ModelOutput

# DDP finds the forward's output tensors with torch's pytree. Unregistered, the ModelOutput dataclass is
# one opaque leaf: concat / OGM-GE then stop with "Expected to have finished reduction" (measured), and
# with static_graph the gradients are silently never all-reduced.
try:
    pytree.register_dataclass(ModelOutput)
except ValueError:  # already registered (a second import under another name)
    pass

COMMANDS = (None, "pause", "resume", "stop")
ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")  # what torchrun sets for env:// initialisation


@dataclass
class Distributed:
    enabled: bool = False
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @classmethod
    def from_env(cls, device: str = "auto") -> Distributed:
        """Enabled when launched by torchrun (also with one process, to measure DDP's own cost).
        NCCL on CUDA (one GPU per local rank), gloo on the CPU (`device = "cpu"` or no GPU)."""
        if not all(k in os.environ for k in ENV):
            return cls()
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = device != "cpu" and torch.cuda.is_available()
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise TAAFError(f"train.device = {device!r}: CUDA is not available on this machine (use 'cpu' or 'auto')")
        if cuda:
            if local >= torch.cuda.device_count():
                raise TAAFError(f"LOCAL_RANK {local}: only {torch.cuda.device_count()} CUDA device(s) visible; "
                                "use --nproc-per-node <= that number")
            torch.cuda.set_device(local)
            dev, backend = torch.device("cuda", local), "nccl"
        else:
            dev, backend = torch.device("cpu"), "gloo"
        if not dist.is_initialized():
            kwargs: dict[str, Any] = {"device_id": dev} if cuda else {}  # binds NCCL to this rank's GPU
            dist.init_process_group(backend, rank=rank, world_size=world, **kwargs)
        return cls(True, rank, world, dev)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module, every_parameter_used: bool = False) -> nn.Module:
        """DDP that tolerates parameters without gradients: concat / OGM-GE never train the unimodal heads,
        a unimodal run never trains the other encoder. (static_graph=True was tried: it desynchronises
        the ranks from the second step on when an output does not reach the loss.) DDP passes a zero
        gradient back through every output, so a unimodal run's idle encoder gets zero gradients here
        where a single process has none: its predictions are unaffected."""
        if not self.enabled:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids,
                                                   find_unused_parameters=not every_parameter_used)

    def shard_size(self, n: int) -> int:
        """Items per rank per epoch: what `shard` keeps."""
        return n // self.world_size if self.enabled else n

    def shard(self, order: torch.Tensor) -> torch.Tensor:
        """Every rank takes an equal strided share (the tail that does not divide evenly is dropped)."""
        if not self.enabled:
            return order
        n = len(order) // self.world_size * self.world_size
        return order[self.rank : n : self.world_size]

    def mean_scalars(self, scalars: dict[str, float]) -> dict[str, float]:
        """Mean over ranks of every value (one all-reduce); every rank must pass the same keys."""
        if not self.enabled:
            return scalars
        keys = sorted(scalars)
        t = torch.tensor([float(scalars[k]) for k in keys], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return {k: float(v) / self.world_size for k, v in zip(keys, t.tolist(), strict=True)}

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on one (e.g. a non-finite loss: all ranks fail together)."""
        if not self.enabled:
            return flag
        t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def broadcast_command(self, command: str | None) -> str | None:
        """Rank 0 reads the store's control channel; every rank acts on what it read."""
        if not self.enabled:
            return command
        t = torch.tensor([COMMANDS.index(command)], device=self.device)
        dist.broadcast(t, 0)
        return COMMANDS[int(t)]

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's value on every rank (a run directory name, the early-stopping counters)."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.enabled:
            if self.device.type == "cuda":
                dist.barrier(device_ids=[self.device.index])
            else:
                dist.barrier()

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first, the others after it (a cold feature cache is built once, then read).
        If rank 0 fails inside, torchrun tears the others down."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()
