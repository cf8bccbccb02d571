"""AV-Digits presets: deterministic, their measured effects (SNR, noise, occlusion, dropouts), resolve, corrupt
samples, and the misaligned preset."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from core.config import DEFAULTS
from core.data import build_datasets, presets
from core.errors import ConfigError


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
