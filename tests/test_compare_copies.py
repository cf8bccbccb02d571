"""Compare page: runs with the same config and seed count once, and a warning names copies that differ."""

from __future__ import annotations

import pandas as pd

from studio.ui import compare


def finals(acc_b: float, status_b: str = "finished") -> pd.DataFrame:
    return pd.DataFrame([
        {"run": "a", "strategy": "taaf", "preset": "p", "seed": 0, "status": "finished", "fingerprint": "f0",
         "val_acc_f": 0.97},
        {"run": "b", "strategy": "taaf", "preset": "p", "seed": 0, "status": status_b, "fingerprint": "f0",
         "val_acc_f": acc_b},
        {"run": "c", "strategy": "taaf", "preset": "p", "seed": 1, "status": "finished", "fingerprint": "f1",
         "val_acc_f": 0.95},
    ])


def test_same_seed_counts_once_and_differing_copies_are_named() -> None:
    df = finals(0.962)
    table = compare.summary_table(df, ["val_acc_f"])
    assert table["n seeds"].tolist() == [2] and table["runs"].tolist() == [3]
    assert compare.duplicate_groups(df) == [["a", "b"]]
    assert compare.differing_copies(df, ["val_acc_f"]) == [["a", "b"]]


def test_equal_copies_and_unfinished_copies_raise_no_difference() -> None:
    assert compare.differing_copies(finals(0.97), ["val_acc_f"]) == []
    assert compare.differing_copies(finals(0.5, status_b="running"), ["val_acc_f"]) == []
