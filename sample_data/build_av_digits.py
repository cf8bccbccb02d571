"""Build the bundled AV-Digits dataset: sklearn's 8x8 digit images paired with the spoken digit word.

Needs the Debian packages `espeak-ng` and `flite` (`apt-get install espeak-ng flite`); users never
run this, they get the committed `sample_data/av_digits.npz`.

    .venv/bin/python sample_data/build_av_digits.py [--seed 0] [--out sample_data/av_digits.npz]

Each image gets the word of its label ("zero".."nine") spoken by one "speaker" = (voice, variant):
8 English espeak-ng accents x every distinct variant in espeak-ng's `voices/!v` folder, plus 5 flite
voices; random speed 120-220 wpm and pitch 25-75 per clip. The clip is resampled to 16 kHz,
silence-trimmed, loudness-normalised, placed at a random offset in a 1 s window and turned into a
32 x 32 natural-log mel-power spectrogram. About 20 % of the speakers are test-only; whole speakers of
the rest make up validation (15 % of their samples), so no speaker is in two splits. Same seed ->
byte-identical file.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly
from sklearn.datasets import load_digits

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
# awb_time is a limited-domain voice (it only speaks clock times), so it is left out.
FLITE_VOICES = {"kal": 100.0, "kal16": 100.0, "awb": 110.0, "rms": 100.0, "slt": 170.0}  # base F0 in Hz
SR = 16000
N_MELS, N_FRAMES, N_FFT = 32, 32, 1024
HOP = SR // N_FRAMES  # 500 samples: 32 frames cover exactly 1 s
TARGET_RMS = 0.1
POWER_FLOOR = 1e-6  # mel power floor before the log: silence = log(1e-6) = -13.8
QUANT = 1.0 / 256  # log-mel stored on a 1/256-nat grid (0.017 dB): far below any meaningful precision, zips 3x
TEST_SPEAKERS, VAL_FRACTION = 0.2, 0.15


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _espeak_data_dir() -> Path:
    out = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True).stdout
    m = re.search(r"Data at:\s*(\S+)", out)
    if not m:
        sys.exit(f"cannot find espeak-ng's data folder in: {out.strip()}")
    return Path(m.group(1))


def _espeak_variants(tmp: str) -> list[str]:
    """Variant files that exist AND change the voice: espeak-ng silently accepts unknown names."""
    folder = _espeak_data_dir() / "voices" / "!v"
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and re.fullmatch(r"[A-Za-z0-9_-]+", p.name))
    seen: set[str] = set()
    kept = []
    for name in [""] + names:  # "" = the plain voice, so variants identical to it are dropped too
        path = os.path.join(tmp, "probe.wav")
        _run(["espeak-ng", "-v", f"en-us+{name}" if name else "en-us", "-s", "160", "-p", "50", "-w", path, "seven"])
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        if digest not in seen and name:
            kept.append(name)
        seen.add(digest)
    return kept


def _flite_voices() -> list[str]:
    out = subprocess.run(["flite", "-lv"], check=True, capture_output=True, text=True).stdout
    listed = set(out.split(":", 1)[-1].split())
    return [v for v in FLITE_VOICES if v in listed]


def mel_filterbank(sr: int = SR, n_fft: int = N_FFT, n_mels: int = N_MELS,
                   fmin: float = 40.0, fmax: float = 7600.0) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular HTK-mel filters with unit peak."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    edges_hz = 700.0 * (10 ** (np.linspace(mel(fmin), mel(fmax), n_mels + 2) / 2595.0) - 1.0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    lo, mid, hi = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    up = (freqs - lo) / (mid - lo)
    down = (hi - freqs) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down))


def log_mel(wave: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """(N_MELS, N_FRAMES) natural-log mel power of a 1 s, 16 kHz waveform; frames centred every HOP samples."""
    pad = np.pad(wave, (N_FFT // 2, N_FFT // 2))
    starts = HOP // 2 + HOP * np.arange(N_FRAMES)  # frame centre in `wave` = start in `pad`
    win = np.hanning(N_FFT + 1)[:-1]  # periodic Hann
    frames = pad[starts[:, None] + np.arange(N_FFT)] * win
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 / np.sum(win**2)
    return np.log(fb @ power.T + POWER_FLOOR)


def _trim(x: np.ndarray, sr: int, rel_db: float = -35.0) -> np.ndarray:
    """Cut leading/trailing 10 ms frames quieter than `rel_db` below the loudest frame."""
    n = max(1, sr // 100)
    m = len(x) // n
    rms = np.sqrt(np.mean(x[: m * n].reshape(m, n) ** 2, axis=1) + 1e-12)
    active = np.flatnonzero(rms > rms.max() * 10 ** (rel_db / 20))
    return x[active[0] * n : (active[-1] + 1) * n]


def synth(job: tuple) -> np.ndarray:
    """One clip -> (N_MELS, N_FRAMES) float32 log-mel. Runs in a worker process."""
    idx, engine, voice, variant, word, wpm, pitch, offset_u, tmp = job
    path = os.path.join(tmp, f"{idx}.wav")
    if engine == "espeak":
        _run(["espeak-ng", "-v", f"{voice}+{variant}", "-s", str(wpm), "-p", str(pitch), "-w", path, word])
    else:  # flite: speed via duration_stretch (default ~170 wpm), pitch via the F0 target
        f0 = FLITE_VOICES[voice] * 2 ** ((pitch - 50) / 50)
        _run(["flite", "-voice", voice, "--setf", f"duration_stretch={170 / wpm:.4f}",
              "--setf", f"int_f0_target_mean={f0:.1f}", "-t", word, "-o", path])
    sr, x = wavfile.read(path)
    os.remove(path)
    x = x.astype(np.float64) / 32768.0
    if x.ndim > 1:
        x = x.mean(axis=1)
    g = np.gcd(SR, sr)
    x = resample_poly(x, SR // g, sr // g)
    if not np.any(x):
        raise RuntimeError(f"silent clip: {engine} {voice}+{variant} '{word}'")
    x = _trim(x, SR)[:SR]
    x = np.clip(x * TARGET_RMS / np.sqrt(np.mean(x**2)), -1.0, 1.0)
    window = np.zeros(SR)
    start = int(offset_u * (SR - len(x)))
    window[start : start + len(x)] = x
    feats = log_mel(window, mel_filterbank())
    return (np.round(feats / QUANT) * QUANT).astype(np.float32)


def speaker_split(speaker: np.ndarray, n_spk: int, rng: np.random.Generator) -> np.ndarray:
    """0 train / 1 validation / 2 test per sample, by speaker: about 20 % of the speakers are test-only, then
    whole speakers of the rest go to validation until it holds VAL_FRACTION of the remaining samples. No
    speaker is in two splits, so validation measures unseen voices as test does."""
    test_spk = rng.permutation(n_spk)[: round(TEST_SPEAKERS * n_spk)]
    split = np.zeros(len(speaker), np.int8)
    split[np.isin(speaker, test_spk)] = 2
    rest = np.flatnonzero(split != 2)
    candidates = rng.permutation(np.setdiff1d(np.unique(speaker[rest]), test_spk))
    counts = np.bincount(speaker[rest], minlength=n_spk)[candidates]
    n_val_spk = int(np.searchsorted(np.cumsum(counts), VAL_FRACTION * len(rest))) + 1
    split[np.isin(speaker, candidates[:n_val_spk])] = 1
    return split


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> bytes:
    """np.savez_compressed layout with fixed zip timestamps, so the bytes depend only on the arrays."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=9)
    data = buf.getvalue()
    path.write_bytes(data)
    return data


def build(seed: int, out: Path, workers: int = 2) -> None:
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    digits = load_digits()
    visual = (digits.images / 16.0).astype(np.float32)
    label = digits.target.astype(np.int64)
    n = len(label)
    with tempfile.TemporaryDirectory() as tmp:
        variants = _espeak_variants(tmp)
        speakers = [("espeak", a, v) for a in ACCENTS for v in variants]
        speakers += [("flite", v, "") for v in _flite_voices()]
        n_spk = len(speakers)
        # Every speaker gets about the same number of clips, labels random w.r.t. speakers.
        speaker = rng.permutation(np.resize(rng.permutation(n_spk), n)).astype(np.int32)
        wpm = rng.integers(120, 221, n)
        pitch = rng.integers(25, 76, n)
        offset_u = rng.random(n)
        jobs = [(i, *speakers[speaker[i]], WORDS[label[i]], int(wpm[i]), int(pitch[i]), float(offset_u[i]), tmp)
                for i in range(n)]
        t_syn = time.perf_counter()
        with ProcessPoolExecutor(max_workers=workers) as pool:
            audio = np.stack(list(pool.map(synth, jobs, chunksize=16)))
        t_syn = time.perf_counter() - t_syn

    split = speaker_split(speaker, n_spk, rng)

    names = [f"espeak:{v}+{var}" if e == "espeak" else f"flite:{v}" for e, v, var in speakers]
    arrays = {
        "audio": audio, "visual": visual, "label": label, "split": split, "speaker": speaker,
        "class_names": np.array(WORDS), "speaker_names": np.array(names),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    data = write_npz(out, arrays)
    counts = {name: int(np.sum(split == s)) for s, name in enumerate(("train", "val", "test"))}
    print(f"wrote {out}: {len(data) / 1e6:.2f} MB, sha256 {hashlib.sha256(data).hexdigest()[:16]}")
    n_test, n_val = (len(np.unique(speaker[split == s])) for s in (2, 1))
    print(f"samples {n}: {counts}; speakers {n_spk} ({len(variants)} espeak variants x {len(ACCENTS)} accents"
          f" + {n_spk - len(variants) * len(ACCENTS)} flite), test / validation speakers {n_test} / {n_val}")
    print(f"audio {audio.shape} range [{audio.min():.2f}, {audio.max():.2f}]; visual {visual.shape}")
    print(f"synthesis {t_syn:.1f} s on {workers} processes; total {time.perf_counter() - t0:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("av_digits.npz"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    build(args.seed, args.out, args.workers)


if __name__ == "__main__":
    main()
