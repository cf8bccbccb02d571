"""studio/ui/compare.py: what counts as the same experiment, and the Compare page's final-metrics table."""

from __future__ import annotations

import pandas as pd

from studio.ui import compare


def _cfg(seed: int, runs_dir: str = "runs") -> dict:
    return {"strategy": {"name": "taaf"}, "train": {"seed": seed, "epochs": 3},
            "record": {"runs_dir": runs_dir, "progress": True, "every_steps": 20}}


def test_fingerprint_is_config_and_seed_not_where_it_was_saved() -> None:
    assert compare.fingerprint(_cfg(0)) == compare.fingerprint(_cfg(0, "/elsewhere"))
    assert compare.fingerprint(_cfg(0)) != compare.fingerprint(_cfg(1))
    other = _cfg(0)
    other["train"]["epochs"] = 4
    assert compare.fingerprint(other) != compare.fingerprint(_cfg(0))


def _finals() -> pd.DataFrame:
    fp = {s: compare.fingerprint(_cfg(s)) for s in (0, 1)}
    return pd.DataFrame([
        {"run": "a", "strategy": "taaf", "preset": "hard", "seed": 0, "fingerprint": fp[0], "val_acc_f": 0.8,
         "energy_uj": 6.0},
        {"run": "a-copy", "strategy": "taaf", "preset": "hard", "seed": 0, "fingerprint": fp[0], "val_acc_f": 0.8,
         "energy_uj": 6.0},
        {"run": "b", "strategy": "taaf", "preset": "hard", "seed": 1, "fingerprint": fp[1], "val_acc_f": 0.9,
         "energy_uj": 6.2},
        {"run": "c", "strategy": "concat", "preset": "hard", "seed": 0, "fingerprint": None, "val_acc_f": None,
         "energy_uj": None},
    ])


def test_copies_count_once_and_n_counts_seeds() -> None:
    t = compare.summary_table(_finals(), ["val_acc_f", "energy_uj"]).set_index("strategy")
    taaf = t.loc["taaf"]
    assert taaf["n seeds"] == 2 and taaf["runs"] == 3
    assert taaf["val acc (fused)"] == "0.8500 ± 0.0707"  # over seeds 0 and 1, not 0.8, 0.8, 0.9
    assert taaf["energy (µJ / sample)"] == "6.1000 ± 0.1414"
    assert t.loc["concat", "val acc (fused)"] == compare.MISSING and t.loc["concat", "n seeds"] == 1
    assert compare.duplicate_groups(_finals()) == [["a", "a-copy"]]


def test_runs_without_a_fingerprint_are_not_merged() -> None:
    f = _finals().assign(fingerprint=None)
    assert compare.summary_table(f, ["val_acc_f"]).set_index("strategy").loc["taaf", "runs"] == 3
    assert compare.duplicate_groups(f) == []


def test_readable_listing_has_names_and_dashes() -> None:
    table = pd.DataFrame({"name": ["demo"], "last_val_acc_f": [None], "seed": [0]})
    out = compare.readable(table, ["name", "last_val_acc_f", "seed", "not_there"])
    assert list(out.columns) == ["run", "last val acc (fused)", "seed"]
    assert out.iloc[0]["last val acc (fused)"] == "—"


def test_energy_in_microjoules() -> None:
    df = compare.with_energy_uj(pd.DataFrame({"energy_pj": [2.5e6, None]}))
    assert df["energy_uj"].iloc[0] == 2.5 and df["energy_uj"].isna().iloc[1]
