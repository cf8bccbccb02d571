"""A training step's logged scalars read from the device in one go.

Each `float(tensor)` is a device sync (a GPU stalls until its queue drains) and, on any device, a small
operator of its own; a step logs two dozen scalars. Metrics stay tensors until the end of the step, then one
`tolist()` reads them all.
"""

from __future__ import annotations

import torch


def read_scalars(values: dict[str, float | torch.Tensor]) -> dict[str, float]:
    """The same dict with every 0-d tensor replaced by its Python float; floats pass through. One transfer."""
    names = [k for k, v in values.items() if isinstance(v, torch.Tensor)]
    if not names:
        return dict(values)  # type: ignore[arg-type]
    tensors = [values[k].detach().reshape(()) for k in names]  # type: ignore[union-attr]
    dtype = tensors[0].dtype if all(t.dtype == tensors[0].dtype for t in tensors) else torch.float64
    read = torch.stack([t.to(dtype) for t in tensors]).tolist()  # float32 -> Python float: exactly float(t)
    return {k: float(dict(zip(names, read, strict=True)).get(k, v)) for k, v in values.items()}
