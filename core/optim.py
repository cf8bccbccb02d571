"""The optimiser, the learning-rate schedule and the gradient norm the trainer records."""

from __future__ import annotations

import math
from typing import Any

import torch


def make_optimizer(params: Any, optim: dict[str, Any]) -> torch.optim.Optimizer:
    """`optim.name` = adam or sgd (momentum and weight decay from the config: OGM-GE's reference recipe)."""
    if optim["name"] == "adam":
        # foreach: the same arithmetic as the per-parameter loop, bit for bit, one call per operation for all
        # parameters instead of ~9 per parameter (CPU's default is the loop); `fused` is faster still but rounds
        # differently
        return torch.optim.Adam(params, lr=optim["lr"], weight_decay=optim["weight_decay"], foreach=True)
    return torch.optim.SGD(params, lr=optim["lr"], momentum=optim["momentum"], weight_decay=optim["weight_decay"])


def scheduled_lr(optim: dict[str, Any], epoch: int, step: int, total_steps: int) -> float:
    """Base learning rate at this point of the run; a function of (epoch, step) only, so --resume agrees."""
    if optim["scheduler"] == "step":
        return optim["lr"] * optim["gamma"] ** (epoch // optim["step_size"])
    if optim["scheduler"] == "cosine":  # from lr down to 0 at the last step
        return optim["lr"] * 0.5 * (1.0 + math.cos(math.pi * min(step / max(total_steps, 1), 1.0)))
    return optim["lr"]


def grad_norm_tensor(params: Any) -> torch.Tensor:
    """The total gradient norm of `params` as a 0-d tensor (read with the step's other scalars: no sync here)."""
    grads = [p.grad.detach() for p in params if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())


def grad_norm(params: Any) -> float:
    # one device sync for the whole encoder (a float() per parameter stalls a GPU ~100 times a step)
    return float(grad_norm_tensor(params))
