"""Adaptive average pooling of an encoder's spike maps to its coarse grid, as one matrix product.

On a CPU `adaptive_avg_pool2d` walks its tiny planes (8 x 6 -> 4 x 4, thousands of them a step) one output at a
time: forward and backward took ~2.4 ms of a ~31 ms default training step. Written as (N C, H W) @ (H W, g_h g_w),
the same pooling is one GEMM each way, ~6x faster.

The same numbers, bit for bit, where the matrix is used: every window's weight 1 / (k_h k_w) is a power of two,
so each product with a spike (0 or 1) is exact and each output a small multiple of it, whatever the order of the
sums; the gradient of an input is the sum of at most two window terms g / (k_h k_w), in either order the value
adaptive pooling's backward computes (g / k_h / k_w: scaling by powers of two is exact). Other window sizes, and
inputs that are not spikes, keep `adaptive_avg_pool2d`.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F


def adaptive_windows(n_in: int, n_out: int) -> list[tuple[int, int]]:
    """adaptive_avg_pool's window of each output: [floor(i n_in / n_out), ceil((i + 1) n_in / n_out))."""
    return [(i * n_in // n_out, -(-(i + 1) * n_in // n_out)) for i in range(n_out)]


@functools.lru_cache(maxsize=64)
def pooling_matrix(size: tuple[int, int], grid: tuple[int, int], device: torch.device,
                   dtype: torch.dtype) -> torch.Tensor | None:
    """(H W, g_h g_w) weights of adaptive average pooling, or None when a window's 1 / (k_h k_w) is not a power of
    two (the product would round)."""
    rows, cols = adaptive_windows(size[0], grid[0]), adaptive_windows(size[1], grid[1])
    m = torch.zeros(grid[0], grid[1], size[0], size[1], dtype=torch.float64)
    for i, (h0, h1) in enumerate(rows):
        for j, (w0, w1) in enumerate(cols):
            count = (h1 - h0) * (w1 - w0)
            if count & (count - 1):
                return None
            m[i, j, h0:h1, w0:w1] = 1.0 / count
    return m.reshape(grid[0] * grid[1], size[0] * size[1]).T.contiguous().to(device, dtype)


def spike_grid_pool(z: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) spikes -> (N, C g_h g_w): adaptive average pooling to `grid`, flattened channel-major."""
    n, c, h, w = z.shape
    if (h, w) == tuple(grid):  # pooling to the map's own size is the identity
        return z.flatten(1)
    m = pooling_matrix((h, w), tuple(grid), z.device, z.dtype)
    if m is None or torch.is_autocast_enabled(z.device.type):  # autocast would run the product in bf16
        return F.adaptive_avg_pool2d(z, grid).flatten(1)
    return (z.reshape(n * c, h * w) @ m).view(n, -1)
