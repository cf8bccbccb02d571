"""core/spike_pool.py: the encoders' grid pooling as a matrix product gives adaptive_avg_pool2d's numbers bit for
bit on spikes, forward and gradient; window sizes whose weight is not a power of two fall back to it; and
core/alloc.py's glibc setting is accepted."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F

from core.alloc import keep_freed_memory
from core.spike_pool import adaptive_windows, pooling_matrix, spike_grid_pool


@pytest.mark.parametrize("size,grid", [((8, 6), (4, 4)), ((16, 12), (4, 4)), ((4, 4), (2, 2)), ((2, 2), (2, 2)),
                                       ((5, 4), (4, 4)), ((6, 6), (4, 4)), ((3, 8), (3, 4)), ((7, 7), (4, 4))])
def test_grid_pool_equals_adaptive_pooling_bit_for_bit(size, grid) -> None:
    torch.manual_seed(size[0] * 10 + size[1])
    spikes = (torch.rand(6, 5, *size) > 0.7).float()
    grad = torch.randn(6, 5 * grid[0] * grid[1])
    ours, ref = spikes.clone().requires_grad_(), spikes.clone().requires_grad_()
    out = spike_grid_pool(ours, grid)
    expected = F.adaptive_avg_pool2d(ref, grid).flatten(1)
    assert torch.equal(out.detach().view(torch.int32), expected.detach().view(torch.int32))
    out.backward(grad)
    expected.backward(grad)
    assert torch.equal(ours.grad.view(torch.int32), ref.grad.view(torch.int32))


def test_windows_and_the_fallback() -> None:
    assert adaptive_windows(6, 4) == [(0, 2), (1, 3), (3, 5), (4, 6)]  # overlapping, as adaptive pooling's
    assert pooling_matrix((8, 6), (4, 4), torch.device("cpu"), torch.float32) is not None
    assert pooling_matrix((7, 7), (4, 4), torch.device("cpu"), torch.float32) is None  # windows of 2 x 3 cells


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_memory_setting_is_accepted() -> None:
    # glibc accepts both thresholds (it refuses values it cannot honour); the effect on a training step, page
    # faults per step, is what bench/bench_commits.py reports (a toy allocation pattern reuses memory anyway)
    assert keep_freed_memory()
    assert keep_freed_memory(64 << 20)
