"""Energy with its parts: one row per counted operation of a trained run (MACs, SOPs, pJ), beside the same network
as an ANN at fp32 and at int8 (core/energy.py: the pJ per operation and their source)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from core.data.common import iterate_batches
from core.energy import E_AC_PJ, E_INT8_AC_PJ, E_INT8_MAC_PJ, E_MAC_PJ, ann_layer_macs, layer_costs

SAMPLES = 64  # validation samples the firing rates are measured on


def layer_rows(model: torch.nn.Module, audio: torch.Tensor, visual: torch.Tensor) -> list[dict[str, Any]]:
    """Per operation, per sample: SNN MACs on analog input, SOPs (MACs x input firing rate, spiking input), SNN pJ;
    the ANN's MACs of the same layer (0 where an ANN has none: alignment, attention) and its pJ at fp32 / int8."""
    ann = ann_layer_macs(model, audio, visual)
    rows = []
    for c in layer_costs(model, audio, visual):
        macs, sops = (0.0, c.active_macs) if c.spiking_input else (c.macs, 0.0)
        a = ann.get(c.name, 0.0)
        rows.append({"layer": c.name, "macs": macs, "sops": sops, "snn_pj": E_MAC_PJ * macs + E_AC_PJ * sops,
                     "snn_int8_pj": E_INT8_MAC_PJ * macs + E_INT8_AC_PJ * sops,
                     "ann_macs": a, "ann_pj": E_MAC_PJ * a, "ann_int8_pj": E_INT8_MAC_PJ * a})
    return rows


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    total = {k: sum(r[k] for r in rows) for k in ("macs", "sops", "snn_pj", "snn_int8_pj", "ann_macs", "ann_pj",
                                         "ann_int8_pj")}
    lines = ["| layer | SNN MACs (analog input) | SNN SOPs | SNN pJ fp32 | share of SNN | SNN pJ int8 | ANN MACs "
             "| ANN pJ fp32 | ANN pJ int8 |", "|---|---|---|---|---|---|---|---|---|"]
    for r in [*rows, {"layer": "**total**", **total}]:
        share = r["snn_pj"] / total["snn_pj"] if total["snn_pj"] else float("nan")
        nums = " | ".join(f"{r[k]:,.0f}" for k in ("snn_int8_pj", "ann_macs", "ann_pj", "ann_int8_pj"))
        lines.append(f"| {r['layer']} | {r['macs']:,.0f} | {r['sops']:,.0f} | {r['snn_pj']:,.0f} | {share:.1%} "
                     f"| {nums} |")
    lines += ["", f"pJ per operation (Horowitz, ISSCC 2014, 45 nm): fp32 MAC {E_MAC_PJ} (mult 3.7 + add 0.9), "
              f"accumulate {E_AC_PJ}; int8 MAC {E_INT8_MAC_PJ} (mult 0.2 + add 0.03), accumulate "
              f"{E_INT8_AC_PJ}. Compare like with like: SNN fp32 with ANN fp32, SNN int8 with ANN int8. "
              "The ANN reference is the same widths without spikes and was never trained: its accuracy is not "
              "known (a trained ANN was not run)."]
    return lines


def energy_parts(run_dir: str | Path) -> dict[str, Any]:
    """The per-layer table of a finished run's best checkpoint on its first validation samples."""
    from core.whatif import load_trained

    trained = load_trained(run_dir)
    audio, visual, _ = next(iterate_batches(trained.bundle.val, min(SAMPLES, len(trained.bundle.val))))
    rows = layer_rows(trained.model, audio, visual)
    return {"samples": len(audio), "rows": rows, "table": markdown(rows)}
