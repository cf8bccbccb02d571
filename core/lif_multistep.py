"""All timesteps of a layer of LIF-box neurons in one autograd node: the same numbers as norse 1.1.0's
`lif_box_feed_forward_step` called once per step, with a hand-written backward.

Why: norse's step is ~12 small tensor operations plus as many autograd nodes per timestep, so with T = 4..16 a
training step ran about a thousand tiny operators. Here the forward runs 5 operations per step and the backward
7, with no autograd bookkeeping per step; what does not depend on the previous step is done for all at once.

Forward and backward reproduce norse's arithmetic and autograd's order of accumulation, so spikes, membranes
and input gradients are bit-identical to norse's loop, and a run trains the same weights
(tests/test_lif_multistep.py). norse's step, per element, with a = dt * tau_mem_inv:

    v_dec = v + a * ((x + v_leak) - v)
    z     = heaviside(v_dec - v_th)                  # SuperSpike: backward dz/dv_dec = 1 / (|v_dec - v_th| + 1)^2
    v'    = (1 - z) * v_dec + z * v_reset            # "reset_value"; the reset is NOT detached in the gradient

(norse 1.1.0's SuperSpike ignores its alpha: the slope is fixed, matched here.) The backward is the gradient
of that graph: with g' = dL/dv' coming from the next step and dL/dz from the layer's output,

    dL/dv_dec = g' * (1 - z) + (dL/dz + g' * v_reset - g' * v_dec) * s,   s = 1 / (|v_dec - v_th| + 1)^2
    dL/dx     = a * dL/dv_dec,     dL/dv (previous step) = dL/dv_dec - a * dL/dv_dec
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
                v_reset: torch.Tensor, reset_nonzero: bool, leak_nonzero: bool) -> tuple[torch.Tensor, torch.Tensor]:
        a, v_leak, v_th, v_reset = (q.to(x.device, x.dtype) for q in (a, v_leak, v_th, v_reset))
        # norse adds the leak before subtracting v: the same rounding. A zero leak is left out: x + 0 differs
        # from x only for x = -0, and (-0) - v equals (+0) - v bit for bit unless v is -0, which it never is
        # (v starts at +0; v + step and the reset below give -0 only from a -0 v).
        drive = x + v_leak if leak_nonzero else x
        v_dec = torch.empty_like(x)  # membrane before the threshold check, every step (the backward needs it)
        v_out = torch.empty_like(x)  # membrane after the reset
        z = torch.empty_like(x)  # spikes, written as 0 / 1 floats by the comparison itself (no bool pass)
        v = torch.zeros_like(x[0])
        step = torch.empty_like(v)
        # per-step views taken once (unbind), not by indexing in every operation: T = 16 has 64 steps a layer
        for d_t, dec_t, z_t, out_t in zip(drive.unbind(0), v_dec.unbind(0), z.unbind(0), v_out.unbind(0),
                                          strict=True):
            torch.sub(d_t, v, out=step)
            step.mul_(a)
            torch.add(v, step, out=dec_t)
            torch.gt(dec_t, v_th, out=z_t)  # v_dec > v_th exactly when v_dec - v_th > 0 (IEEE)
            if reset_nonzero:  # (1 - z) v + z v_reset for z in {0, 1}
                torch.where(z_t.bool(), v_reset, dec_t, out=out_t)
            else:  # v - v z: v - v = +0 on a spike, v - (+-0) = v otherwise, as where() gives, ~10x faster
                torch.addcmul(dec_t, dec_t, z_t, value=-1.0, out=out_t)
            v = out_t
        ctx.save_for_backward(v_dec, z, a, v_th, v_reset)
        ctx.reset_nonzero = reset_nonzero
        ctx.mark_non_differentiable(v_out)
        ctx.set_materialize_grads(False)  # the membranes' gradient is unused: no zero tensor filled for it
        return z, v_out

    @staticmethod
    def backward(ctx: Any, grad_z: torch.Tensor | None, _grad_v: Any) -> tuple[torch.Tensor | None, ...]:
        v_dec, z, a, v_th, v_reset = ctx.saved_tensors
        if grad_z is None:  # only the membranes were used (recording): nothing flows back
            return None, None, None, None, None, None, None
        # The operations autograd runs through norse's graph, in its order, so the gradient is bit-identical:
        # float addition of two terms is commutative, and where three meet (dL/dz) the order is autograd's.
        squared = (v_dec - v_th).abs_().add_(1.0).pow_(2)  # SuperSpike divides by (|v_dec - v_th| + 1)^2
        kept = 1.0 - z  # the reset's (1 - z)
        grad_x = torch.empty_like(v_dec)
        g = None  # dL/dv' (membrane after the reset) from the next step; the last step's is used by nothing
        steps = zip(grad_z.unbind(0), v_dec.unbind(0), squared.unbind(0), kept.unbind(0), grad_x.unbind(0),
                    strict=True)
        # In-place where a fresh tensor would hold the same value; g * kept is exact (kept is 0 or 1), so addcmul
        # (fused multiply-add or not) rounds g * kept + g_dec as the separate operations do.
        for gz, dec_t, sq_t, kept_t, gx_t in reversed(list(steps)):
            if g is None:
                g_dec = gz / sq_t
            else:  # dL/dz = dL/dz(output) + g v_reset - g v_dec (autograd's order of arrival)
                if ctx.reset_nonzero:
                    gz = gz + g * v_reset
                g_dec = torch.sub(gz, g * dec_t).div_(sq_t)
                g_dec.addcmul_(g, kept_t)
            torch.mul(g_dec, a, out=gx_t)  # dL/dx = a dL/dv_dec
            g = g_dec.sub_(gx_t)  # dL/dv (previous step) = dL/dv_dec - a dL/dv_dec
        return grad_x, None, None, None, None, None, None


def lif_box_multistep(x: torch.Tensor, p: Any, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and membranes after reset, each (T, ...), of a LIF-box layer driven by `x` (T, ...) from rest."""
    a = dt * torch.as_tensor(p.tau_mem_inv)
    v_reset = torch.as_tensor(p.v_reset)
    v_leak = torch.as_tensor(p.v_leak)
    # a reset to 0 adds g * 0 to dL/dz: exact to leave out (norse's parameters live on the CPU: no device sync)
    return LIFBoxMultiStep.apply(x, a, v_leak, torch.as_tensor(p.v_th), v_reset, bool(v_reset.cpu() != 0),
                                 bool(v_leak.cpu() != 0))
