"""The linear probe (core/linear_probe.py): it reads what the features hold, and nothing else."""

from __future__ import annotations

import numpy as np
import torch

from core.config import load_config
from core.linear_probe import LinearProbe, due_mid_epoch, pooled_features, probe_accuracy
from core.model import MultimodalSNN


def toy(n: int, seed: int, d: int = 20, classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centres = np.random.default_rng(99).normal(0, 1, (classes, d)) * 5  # the same class centres for every split
    return centres[y] + rng.normal(0, 0.5, (n, d)), y


def test_linearly_separable_features_give_about_one():
    x, y = toy(200, 0)
    xt, yt = toy(200, 1)
    assert probe_accuracy(x, y, xt, yt) >= 0.98


def test_shuffled_labels_give_chance():
    x, y = toy(400, 0)
    xt, yt = toy(2000, 1)
    rng = np.random.default_rng(2)
    # labels shuffled on both splits: they say nothing about the features
    acc = probe_accuracy(x, rng.permutation(y), xt, rng.permutation(yt))
    assert abs(acc - 0.25) < 0.06  # chance at 4 classes


def test_one_class_in_the_fit_predicts_it():
    x, _ = toy(10, 0)
    assert probe_accuracy(x, np.zeros(10, int), x, np.array([0] * 5 + [1] * 5)) == 0.5


def test_due_mid_epoch_spaces_probes_evenly_and_leaves_the_last_step_to_the_epoch_end():
    spe = 38
    due = [s for s in range(1, 3 * spe + 1) if due_mid_epoch(s, 2, spe)]
    assert due == [19, 57, 95]
    assert [s for s in range(1, spe + 1) if due_mid_epoch(s, 4, spe)] == [10, 19, 28]  # round(9.5) = 10
    assert not any(due_mid_epoch(s, 1, spe) for s in range(1, 3 * spe + 1))  # one per epoch: the end only
    assert not any(due_mid_epoch(s, 0, spe) for s in range(1, 3 * spe + 1))


class Split(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.audio, self.visual = torch.rand(n, 16, 16, generator=g), torch.rand(n, 1, 8, 8, generator=g)
        self.label = torch.randint(0, 3, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.label)


def test_probe_leaves_the_model_and_the_global_rng_as_they_were():
    cfg = load_config(None, ["model.widths=[4, 8]", "model.T=2", "model.audio_steps=2", "model.visual_steps=2",
                             "model.encoding=poisson"])
    model = MultimodalSNN(cfg["model"], (16, 16), (1, 8, 8), num_classes=3)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    probe = LinearProbe(Split(40, 0), samples=30, seed=0, batch_size=8, device=torch.device("cpu"))
    assert len(probe.indices) == 30 and probe.indices.equal(probe.indices.sort().values)
    torch.manual_seed(5)
    expected_next = torch.rand(1)
    torch.manual_seed(5)
    out = probe(model, Split(24, 1))
    assert torch.rand(1).equal(expected_next)  # Poisson draws came from the probe's own generator
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN statistics too
    assert set(out) == {"probe_acc_a", "probe_acc_v"} and all(0 <= v <= 1 for v in out.values())
    fa, fv, y = pooled_features(model, Split(24, 1), None, 8, torch.device("cpu"))
    assert fa.shape == (24, model.head_a.in_features) and fv.shape == (24, model.head_v.in_features)
    assert out == probe(model, Split(24, 1))  # the same model and subset: the same numbers


def test_a_run_logs_its_probes_where_the_cadence_says_and_scores_test_at_the_end(tmp_path):
    from core.store import RunReader
    from core.training_loop import train

    cfg = load_config("configs/concat.toml", ["train.epochs=1", "record.progress=false", "train.threads=1",
                                              "record.shapley=false", "record.linear_probes_per_epoch=2",
                                              "record.linear_probe_samples=64"])
    train(cfg, tmp_path / "run")
    r = RunReader(tmp_path / "run")
    spe = r.meta()["steps_per_epoch"]
    probed = r.scalars("step", keys=["probe_acc_a", "probe_acc_v"]).dropna()
    assert probed["step"].tolist() == [round(spe / 2), spe]  # mid-epoch, then the epoch's end
    epoch = r.scalars("epoch")
    assert epoch["probe_acc_a"].iloc[-1] == probed["probe_acc_a"].iloc[-1]
    test = r.meta()["test"]
    assert 0 <= test["probe_acc_a"] <= 1 and 0 <= test["probe_acc_v"] <= 1
    # the audio encoder is informative after one epoch on audio-dominant data: well above chance (0.1)
    assert test["probe_acc_a"] > 0.3
