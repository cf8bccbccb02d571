"""AV-Digits: the shipped file's schema and speaker split; the loader and its errors.
Presets: test_avdigits_presets.py."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from core.config import DEFAULTS
from core.data import avdigits, build_datasets
from core.errors import DataError
from tests.support import AVDIGITS_NPZ as SHIPPED


def good(n: int = 30, f: int = 16, length: int = 20, h: int = 12, w: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """A small valid file of a different size than the shipped one."""
    rng = np.random.default_rng(seed)
    return {
        "audio": rng.normal(-5, 2, (n, f, length)).astype(np.float32),
        "visual": rng.random((n, h, w)).astype(np.float32),
        "label": np.arange(n, dtype=np.int64) % 10,
        "split": (np.arange(n) % 3).astype(np.int8),
        "speaker": (np.arange(n) % 7).astype(np.int32),
    }


def data_cfg(path: Path | str, preset: str = "clean", **degrade) -> dict:
    cfg = copy.deepcopy(DEFAULTS)["data"]
    cfg["path"] = str(path)
    cfg["avdigits"] = {"preset": preset, "degrade": degrade}
    return cfg


# --- the shipped file -------------------------------------------------------------------------------

def test_shipped_schema(shipped):
    with np.load(SHIPPED, allow_pickle=False) as z:
        raw = {k: z[k] for k in z.files}
    n = 1797
    assert raw["audio"].dtype == np.float32 and raw["audio"].shape == (n, 32, 32)
    assert raw["visual"].dtype == np.float32 and raw["visual"].shape == (n, 8, 8)
    assert raw["label"].dtype == np.int64 and raw["split"].dtype == np.int8 and raw["speaker"].dtype == np.int32
    assert np.isfinite(raw["audio"]).all() and 0 <= raw["visual"].min() and raw["visual"].max() <= 1
    assert set(np.unique(raw["label"])) == set(range(10)) and set(np.unique(raw["split"])) == {0, 1, 2}
    assert list(shipped["class_names"]) == "zero one two three four five six seven eight nine".split()
    assert raw["audio"].std() > 1  # real spectrograms, not a constant
    assert len(raw["speaker_names"]) > raw["speaker"].max()


def test_shipped_speaker_split(shipped):
    sp, split, label = shipped["speaker"], shipped["split"], shipped["label"]
    train_spk, val_spk, test_spk = (set(sp[split == s]) for s in (0, 1, 2))
    assert not test_spk & (train_spk | val_spk)
    assert not val_spk & train_spk  # validation measures unseen voices, as test does
    assert 0.15 < len(test_spk) / len(set(sp)) < 0.25
    assert 0.12 < np.mean(split[split != 2] == 1) < 0.18
    assert np.bincount(label[split == 1], minlength=10).min() >= 10  # every digit in validation


def test_loaded_validation_speakers_are_not_in_train():
    cfg = copy.deepcopy(DEFAULTS)
    b = build_datasets(cfg)
    train, val, test = (set(d.speaker.tolist()) for d in (b.train, b.val, b.test))
    assert val and not val & train and not test & (train | val)
    assert avdigits.shared_speakers(avdigits.load_npz(SHIPPED)) == {"train-validation": 0, "test-other": 0}
    arrays = good()  # speakers 0..6 cycle through the three splits
    assert avdigits.shared_speakers(arrays)["train-validation"] == 7



# --- the loader -------------------------------------------------------------------------------------

def test_build_from_config():
    b = build_datasets(copy.deepcopy(DEFAULTS))  # default: sample_data/av_digits.npz, audio-dominant
    assert (b.num_classes, b.audio_shape, b.visual_shape) == (10, (32, 32), (1, 8, 8))
    assert len(b.train) + len(b.val) + len(b.test) == 1797
    a, v, y = b.val[3]
    assert a.shape == (32, 32) and v.shape == (1, 8, 8) and a.dtype == v.dtype == torch.float32 and isinstance(y, int)
    assert b.train.audio.shape == (len(b.train), 32, 32) and b.train.label.dtype == torch.int64
    assert torch.equal(b.val.visual[3], v) and abs(float(b.train.audio.mean())) < 1e-3
    assert not set(b.test.speaker.tolist()) & set(b.train.speaker.tolist())


def test_build_seed_fixes_the_degradation(tmp_path):
    cfg = data_cfg(SHIPPED, "audio-dominant")
    x, y, z = avdigits.build(cfg, 0), avdigits.build(cfg, 0), avdigits.build(cfg, 1)
    assert torch.equal(x.train.visual, y.train.visual) and not torch.equal(x.train.visual, z.train.visual)
    assert torch.equal(x.train.audio, z.train.audio)  # audio-dominant leaves audio alone


def test_other_sizes_are_accepted(tmp_path):
    path = tmp_path / "small.npz"
    np.savez(path, **good(), notes=np.array([{"any": "thing"}], dtype=object))  # unknown keys are ignored
    b = avdigits.build(data_cfg(path, "hard", audio_dropout=0.5), seed=0)
    assert b.audio_shape == (16, 20) and b.visual_shape == (1, 12, 10) and b.class_names[3] == "3"
    assert (len(b.train), len(b.val), len(b.test)) == (10, 10, 10)


def _bad(**change) -> dict:
    arrays = good()
    for k, v in change.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    return arrays


nan_audio = good()["audio"].copy()
nan_audio[[2, 2, 5], [0, 1, 0], 0] = np.nan
inf_visual = good()["visual"].copy()
inf_visual[7, 0, 0] = np.inf

BAD_CASES = {
    "missing key": (_bad(speaker=None), r"missing key\(s\) speaker"),
    "audio int": (_bad(audio=np.zeros((30, 16, 20), np.int16)), r"'audio' has dtype int16: expected a float"),
    "label float": (_bad(label=np.zeros(30, np.float32)), r"'label' has dtype float32: expected an integer"),
    "audio 2-D": (_bad(audio=np.zeros((30, 320), np.float32)), r"'audio' has shape \(30, 320\): expected 3-D"),
    "N mismatch": (_bad(label=np.zeros(29, np.int64)), r"disagree on the number of samples .*label 29"),
    "label range": (_bad(label=np.full(30, 10, np.int64)), r"'label' has 30 values outside \[0, 10\), e\.g\. 10"),
    "negative label": (
        _bad(label=np.r_[np.zeros(29), -1].astype(np.int64)), r"outside \[0, 10\), e\.g\. -1 at sample 29"),
    "split value": (_bad(split=np.r_[np.arange(27) % 3, 3, 4, 3].astype(np.int8)), r"'split' has values \[3, 4\]"),
    "empty split": (_bad(split=(np.arange(30) % 2 * 2).astype(np.int8)), r"split 1 \(validation\) has no samples"),
    "nan audio": (
        _bad(audio=nan_audio), r"'audio' has 3 non-finite values \(NaN/inf\) in 2 samples, first at sample 2"),
    "inf visual": (_bad(visual=inf_visual), r"'visual' has 1 non-finite values .* first at sample 7"),
    "visual 0..16": (_bad(visual=good()["visual"] * 16), r"'visual' spans .*expected images scaled to \[0, 1\]"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_load_npz_rejects(tmp_path, case):
    arrays, message = BAD_CASES[case]
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message) as e:
        avdigits.load_npz(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_load_npz_file_problems(tmp_path):
    with pytest.raises(DataError, match=r"nope\.npz: file not found"):
        avdigits.load_npz(tmp_path / "nope.npz")
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(DataError, match=r"text\.npz: not an \.npz file"):
        avdigits.load_npz(text)
    good_path = tmp_path / "good.npz"
    np.savez_compressed(good_path, **good(n=300))
    data = bytearray(good_path.read_bytes())
    for i in range(len(data) // 4, len(data) // 2):  # scramble compressed payload, keep the zip directory
        data[i] ^= 0x5A
    (tmp_path / "cut.npz").write_bytes(bytes(data[:-300]))
    with pytest.raises(DataError, match=r"cut\.npz: not an \.npz file \(not a zip archive, or truncated\)"):
        avdigits.load_npz(tmp_path / "cut.npz")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"broken\.npz: corrupt \.npz"):
        avdigits.load_npz(broken)
    with pytest.raises(DataError, match=r"nope\.npz: file not found"):
        avdigits.build(data_cfg(tmp_path / "nope.npz"), 0)
