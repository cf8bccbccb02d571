"""Several processes with torchrun (PyTorch DDP): each rank trains on its shard of every epoch's order,
metrics are averaged across ranks, and only rank 0 writes the store and checkpoints."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

COMMANDS = (None, "pause", "resume", "stop")


@dataclass
class Distributed:
    enabled: bool = False
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @classmethod
    def from_env(cls) -> "Distributed":
        """Enabled when torchrun set WORLD_SIZE > 1: NCCL on CUDA, gloo on the CPU."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(local)
            device, backend = torch.device("cuda", local), "nccl"
        else:
            device, backend = torch.device("cpu"), "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend)
        return cls(True, rank, world, device)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        if not self.enabled:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        # Unimodal strategies leave one encoder without gradients.
        return nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)

    def shard(self, order: torch.Tensor) -> torch.Tensor:
        """Every rank takes an equal strided share (the tail that does not divide evenly is dropped)."""
        if not self.enabled:
            return order
        n = len(order) // self.world_size * self.world_size
        return order[self.rank : n : self.world_size]

    def mean_scalars(self, scalars: dict[str, float]) -> dict[str, float]:
        if not self.enabled:
            return scalars
        keys = sorted(scalars)
        t = torch.tensor([scalars[k] for k in keys], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return {k: float(v) / self.world_size for k, v in zip(keys, t.tolist())}

    def broadcast_command(self, command: str | None) -> str | None:
        if not self.enabled:
            return command
        t = torch.tensor([COMMANDS.index(command)], device=self.device)
        dist.broadcast(t, 0)
        return COMMANDS[int(t)]

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()
