"""All timesteps of a layer of LIF-box neurons in one autograd node: the same numbers as norse 1.1.0's
`lif_box_feed_forward_step` called once per step, with a hand-written backward.

Why: norse's step is ~12 small tensor operations plus as many autograd nodes per timestep, so with T = 4..16 a
training step ran about a thousand tiny operators, most of its time on a CPU (docs/performance.md). Here the
forward loop runs 5 in-place operations per step and the backward one fused multiply-add and one multiply per
step; everything that does not depend on the previous step is done for all steps at once.

The forward reproduces norse's arithmetic in the same order, so spikes and membranes are bit-identical
(tests/test_lif_multistep.py). norse's step, per element, with a = dt * tau_mem_inv:

    v_dec = v + a * ((x + v_leak) - v)
    z     = heaviside(v_dec - v_th)                  # SuperSpike: backward dz/dv_dec = 1 / (|v_dec - v_th| + 1)^2
    v'    = (1 - z) * v_dec + z * v_reset            # "reset_value"; the reset is NOT detached in the gradient

(norse 1.1.0's SuperSpike ignores its alpha: the slope is fixed, matched here.) The backward is the exact
gradient of that graph: with g' = dL/dv' coming from the next step and dL/dz from the layer's output,

    dL/dv_dec = g' * (1 - z) + (dL/dz + g' * (v_reset - v_dec)) * s,   s = 1 / (|v_dec - v_th| + 1)^2
    dL/dx     = a * dL/dv_dec,     dL/dv (previous step) = (1 - a) * dL/dv_dec
"""

from __future__ import annotations

from typing import Any

import torch


def lif_box_parameters_fixed(p: Any) -> bool:
    """Whether the hand-written backward covers these parameters: no gradient wanted for any of them, and the
    surrogate and reset it implements (norse's defaults, which the model uses)."""
    from norse.torch.functional.reset import reset_value

    tensors = (p.tau_mem_inv, p.v_leak, p.v_th, p.v_reset)
    return (p.method == "super" and p.reset_method is reset_value
            and not any(isinstance(q, torch.Tensor) and q.requires_grad for q in tensors))


class LIFBoxMultiStep(torch.autograd.Function):
    """(T, ...) input currents -> (T, ...) spikes and (T, ...) membranes after each step's reset."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, a: torch.Tensor, v_leak: torch.Tensor, v_th: torch.Tensor,
                v_reset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, v_leak, v_th, v_reset = (q.to(x.device, x.dtype) for q in (a, v_leak, v_th, v_reset))
        drive = x + v_leak  # norse adds the leak before subtracting v: the same rounding
        v_dec = torch.empty_like(x)  # membrane before the threshold check, every step (the backward needs it)
        v_out = torch.empty_like(x)  # membrane after the reset
        spiked = torch.empty(x.shape, dtype=torch.bool, device=x.device)
        v = torch.zeros_like(x[0])
        step = torch.empty_like(v)
        for t in range(x.shape[0]):
            torch.sub(drive[t], v, out=step)
            step.mul_(a)
            torch.add(v, step, out=v_dec[t])
            torch.gt(v_dec[t], v_th, out=spiked[t])  # v_dec > v_th exactly when v_dec - v_th > 0 (IEEE)
            torch.where(spiked[t], v_reset, v_dec[t], out=v_out[t])  # (1 - z) v + z v_reset for z in {0, 1}
            v = v_out[t]
        z = spiked.to(x.dtype)
        ctx.save_for_backward(v_dec, z, a, v_th, v_reset)
        ctx.mark_non_differentiable(v_out)
        return z, v_out

    @staticmethod
    def backward(ctx: Any, grad_z: torch.Tensor, _grad_v: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        v_dec, z, a, v_th, v_reset = ctx.saved_tensors
        # SuperSpike's slope s for every step at once (norse divides by (|u| + 1)^2; so does this)
        squared = (v_dec - v_th).abs_().add_(1.0).pow_(2)
        surrogate = grad_z / squared  # dL/dz * s
        slope = squared.reciprocal_()
        # dL/dv_dec[t] = surrogate[t] + dL/dv_dec[t + 1] * keep[t], keep = (1 - a) ((1 - z) + (v_reset - v_dec) s)
        keep = (v_reset - v_dec).mul_(slope).add_(1.0 - z).mul_(1.0 - a)
        grad_dec = torch.empty_like(v_dec)
        grad_dec[-1] = surrogate[-1]  # the last step's membrane is used by nothing
        for t in range(v_dec.shape[0] - 2, -1, -1):
            torch.addcmul(surrogate[t], grad_dec[t + 1], keep[t], out=grad_dec[t])
        return grad_dec.mul_(a), None, None, None, None


def lif_box_multistep(x: torch.Tensor, p: Any, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and membranes after reset, each (T, ...), of a LIF-box layer driven by `x` (T, ...) from rest."""
    a = dt * torch.as_tensor(p.tau_mem_inv)
    return LIFBoxMultiStep.apply(x, a, *(torch.as_tensor(q) for q in (p.v_leak, p.v_th, p.v_reset)))
