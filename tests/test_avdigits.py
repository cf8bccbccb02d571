"""AV-Digits: shipped file schema and speaker split; presets (determinism, measured effects, resolve); loader errors."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from core.config import DEFAULTS
from core.data import avdigits, build_datasets, presets
from core.errors import ConfigError, DataError
from tests.support import ROOT

SHIPPED = ROOT / "sample_data" / "av_digits.npz"


@pytest.fixture(scope="module")
def shipped() -> dict[str, np.ndarray]:
    return avdigits.load_npz(SHIPPED)


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


# --- presets ----------------------------------------------------------------------------------------

def test_presets_are_deterministic_and_knobs_independent(shipped):
    knobs = presets.resolve("hard")
    a, b = presets.apply(shipped, knobs, seed=3), presets.apply(shipped, knobs, seed=3)
    c = presets.apply(shipped, knobs, seed=4)
    assert np.array_equal(a["audio"], b["audio"]) and np.array_equal(a["visual"], b["visual"])
    assert not np.array_equal(a["audio"], c["audio"]) and not np.array_equal(a["visual"], c["visual"])
    # Turning the audio knob off leaves the visual draws as they were.
    v_only = presets.apply(shipped, {**knobs, "audio_snr_db": math.inf}, seed=3)
    assert np.array_equal(v_only["visual"], a["visual"]) and np.array_equal(v_only["audio"], shipped["audio"])


def test_clean_changes_nothing(shipped):
    out = presets.apply(shipped, presets.resolve("clean"), seed=0)
    assert np.array_equal(out["audio"], shipped["audio"]) and np.array_equal(out["visual"], shipped["visual"])


@pytest.mark.parametrize("snr", [-10.0, -5.0, 0.0, 10.0])
def test_measured_snr_matches_request(shipped, snr):
    clean = shipped["audio"][:300]
    noisy = presets.apply({"audio": clean, "visual": shipped["visual"][:300]}, {"audio_snr_db": snr}, seed=1)["audio"]
    p_sig = np.exp(clean.astype(np.float64))
    p_noise = np.exp(noisy.astype(np.float64)) - p_sig
    measured = 10 * np.log10(p_sig.mean(axis=(1, 2)) / p_noise.mean(axis=(1, 2)))
    assert abs(np.median(measured) - snr) < 0.3
    assert (p_noise > 0).all()


def test_visual_noise_std_in_16ths():
    visual = np.full((400, 8, 8), 0.5, np.float32)  # mid-grey: noise std 2/16 is almost never clipped
    out = presets.apply({"audio": np.zeros((400, 4, 4), np.float32), "visual": visual}, {"visual_noise": 2.0}, 0)
    assert abs((out["visual"] - visual).std() * 16 - 2.0) < 0.05
    assert 0 <= out["visual"].min() and out["visual"].max() <= 1


def test_occlusion_zeroes_one_square():
    visual = np.ones((200, 8, 8), np.float32)
    out = presets.apply({"audio": np.zeros((200, 4, 4), np.float32), "visual": visual}, {"occlusion": 3}, 0)["visual"]
    for img in out:
        rows, cols = np.nonzero(img == 0)
        assert len(rows) == 9 and np.ptp(rows) == 2 and np.ptp(cols) == 2
    assert len({tuple(np.argwhere(img == 0)[0]) for img in out}) > 10  # positions vary


def test_dropouts_blank_whole_samples(shipped):
    out = presets.apply(shipped, {"visual_dropout": 0.3, "audio_dropout": 0.2}, seed=0)
    v_blank = (out["visual"] == 0).all(axis=(1, 2))
    a_silent = (out["audio"] == shipped["audio"].min()).all(axis=(1, 2))
    assert abs(v_blank.mean() - 0.3) < 0.05 and abs(a_silent.mean() - 0.2) < 0.05
    assert np.array_equal(out["visual"][~v_blank], shipped["visual"][~v_blank])


def test_named_presets_parameters():
    assert presets.active(presets.resolve("clean")) == {}
    assert presets.active(presets.resolve("audio-dominant")) == {"visual_noise": 6.0, "occlusion": 3}
    assert presets.active(presets.resolve("hard")) == {"audio_snr_db": -5.0, "visual_noise": 6.0, "occlusion": 3}
    assert presets.active(presets.resolve("visual-dominant")) == {"audio_snr_db": -10.0}
    assert presets.active(presets.resolve("custom")) == {}
    assert set(presets.KNOBS) == set(presets.defaults())


def test_resolve_overrides_and_errors():
    k = presets.resolve("hard", {"audio_snr_db": 0, "occlusion": "off", "visual_dropout": 0.5})
    assert k["audio_snr_db"] == 0.0 and k["occlusion"] == 0 and k["visual_noise"] == 6.0 and k["visual_dropout"] == 0.5
    with pytest.raises(ConfigError, match=r"data\.avdigits\.degrade\.snr: unknown knob .*audio_snr_db.*occlusion"):
        presets.resolve("clean", {"snr": -5})
    with pytest.raises(ConfigError, match=r"data\.avdigits\.degrade\.audio_dropout = 1\.5"):
        presets.resolve("clean", {"audio_dropout": 1.5})
    with pytest.raises(ConfigError, match=r"data\.avdigits\.degrade\.occlusion = 2\.5: expected an integer"):
        presets.resolve("clean", {"occlusion": 2.5})
    with pytest.raises(ConfigError, match=r"data\.avdigits\.degrade\.occlusion = inf: expected an integer"):
        presets.resolve("clean", {"occlusion": math.inf})
    with pytest.raises(ConfigError, match=r"degrade\.visual_noise = 'lots'"):
        presets.resolve("clean", {"visual_noise": "lots"})
    with pytest.raises(ConfigError, match=r"data\.avdigits\.preset = 'easy'"):
        presets.resolve("easy", {})


def test_corrupt_sample(shipped):
    a, v = shipped["audio"][0], shipped["visual"][0]
    knobs = presets.resolve("hard")
    a1, v1 = presets.corrupt_sample(a, v, knobs, np.random.default_rng(5))
    a2, v2 = presets.corrupt_sample(a, v, knobs, np.random.default_rng(5))
    assert np.array_equal(a1, a2) and np.array_equal(v1, v2) and a1.shape == a.shape and v1.shape == v.shape
    assert not np.array_equal(a1, a) and not np.array_equal(v1, v)
    # Standardised input: undone and redone around the corruption; clean knobs are the identity.
    norm = (-10.0, 4.0)
    same, _ = presets.corrupt_sample((a - norm[0]) / norm[1], v, {}, np.random.default_rng(0), audio_norm=norm)
    assert np.allclose(same, (a - norm[0]) / norm[1], atol=1e-6)
    _, blank = presets.corrupt_sample(a, v[None], {"visual_dropout": 1.0}, np.random.default_rng(0))
    assert blank.shape == (1, 8, 8) and not blank.any()
    same, _ = presets.corrupt_sample(a, v, {"audio_snr_db": None}, np.random.default_rng(0))  # None = off
    assert np.array_equal(same, a)
    silent, kept = presets.corrupt_sample(a, v, {"drop_audio": True, "drop_visual": False}, np.random.default_rng(0))
    assert (silent == a.min()).all() and np.array_equal(kept, v)
    with pytest.raises(ConfigError, match=r"degrade\.drop: unknown knob .*audio_dropout"):
        presets.corrupt_sample(a, v, {"drop": True}, np.random.default_rng(0))


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


# --- the misaligned preset -------------------------------------------------------------------------

def test_misaligned_preset_moves_each_word_to_its_own_onset(shipped):
    knobs = presets.resolve("misaligned")
    out = presets.apply(shipped, knobs, seed=0)
    audio = out["audio"]
    assert audio.shape == (len(shipped["label"]), 32, 64)
    silence = float(shipped["audio"].min())
    loud = audio.max(axis=1) > silence + 1  # frames where something sounds
    onsets = loud.argmax(axis=1)
    assert onsets.min() < 8 and onsets.max() > 40 and np.std(onsets) > 8  # the onset varies over the window
    # the stored 32 frames are intact somewhere in the window (before noise; this preset adds none to audio)
    i = 5
    row = audio[i]
    found = [o for o in range(33) if np.array_equal(row[:, o : o + 32], shipped["audio"][i])]
    assert found
    assert np.array_equal(presets.apply(shipped, knobs, seed=0)["audio"], audio)  # deterministic
    # the images are degraded exactly as in audio-dominant (each knob has its own stream)
    ad = presets.apply(shipped, presets.resolve("audio-dominant"), seed=0)
    assert np.array_equal(out["visual"], ad["visual"])


def test_audio_window_shorter_than_the_clip_is_refused(shipped):
    with pytest.raises(ConfigError, match="audio_window = 16"):
        presets.apply(shipped, {"audio_window": 16}, seed=0)
    with pytest.raises(ConfigError, match="audio_window"):
        presets.resolve("custom", {"audio_window": 2.5})


def test_misaligned_preset_trains_with_its_model_steps():
    cfg = copy.deepcopy(DEFAULTS)
    cfg["data"]["avdigits"]["preset"] = "misaligned"
    b = build_datasets(cfg)
    assert b.audio_shape == (32, 64)
    from core.config import load_config
    from core.model import MultimodalSNN

    model_cfg = load_config(None, {f"model.{k}": v for k, v in presets.PRESET_MODEL["misaligned"].items()})["model"]
    model = MultimodalSNN(model_cfg, b.audio_shape, b.visual_shape, b.num_classes)
    out = model(b.val.audio[:3], b.val.visual[:3])
    assert model.audio_slices(b.val.audio[:3]).shape[0] == 8 and out.logits["f"].shape == (4, 3, 10)
