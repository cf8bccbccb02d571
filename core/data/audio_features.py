"""Decoding helpers shared by the real-dataset loaders: wav -> log spectrogram, jpg -> normalised frame.

Only soundfile / scipy (audio) and Pillow (images): no torchaudio, no torchvision, no video decoding.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image
from scipy.signal import get_window, resample_poly

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")


def read_wav(path: str | Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples at `sample_rate` (channels averaged, polyphase resampling when needed)."""
    require_regular_file(path)
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    if data.shape[0] == 0:
        raise ValueError("no samples")
    x = data.mean(axis=1)
    if sr != sample_rate:
        g = math.gcd(int(sr), int(sample_rate))
        x = resample_poly(x, sample_rate // g, sr // g).astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise ValueError("non-finite samples")
    return x


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Tile a clip until it is `n` samples long, then crop (OGM-GE tiles short clips rather than padding)."""
    reps = -(-n // len(x))
    return np.tile(x, reps)[:n]


def stft_frames(n_samples: int, hop: int) -> int:
    """Frames of a centred STFT (librosa's default): 1 + n // hop."""
    return 1 + n_samples // hop


def log_stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """log(|STFT| + 1e-7), shape (n_fft // 2 + 1, 1 + len(x) // hop).

    Same as `np.log(np.abs(librosa.stft(x, n_fft=n_fft, hop_length=hop)) + 1e-7)` with librosa >= 0.10
    defaults (centred, zero padding, periodic Hann window), without needing librosa.
    """
    padded = np.pad(x.astype(np.float32), n_fft // 2, mode="constant")
    n_frames = stft_frames(len(x), hop)
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    window = get_window("hann", n_fft, fftbins=True).astype(np.float32)
    spec = np.fft.rfft(padded[idx] * window, n=n_fft, axis=1)
    return np.log(np.abs(spec) + 1e-7).T.astype(np.float32)


def wav_log_spectrogram(path: str | Path, sample_rate: int, seconds: float, n_fft: int, hop: int) -> np.ndarray:
    """The OGM-GE CREMA-D audio pipeline: resample, tile/crop to `seconds`, clip to [-1, 1], log-STFT."""
    x = fit_length(read_wav(path, sample_rate), round(sample_rate * seconds))
    return log_stft(np.clip(x, -1.0, 1.0), n_fft, hop)


def resize_2d(a: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a 2-D float array to size x size (Pillow's float 'F' mode)."""
    img = Image.fromarray(np.ascontiguousarray(a, dtype=np.float32))
    return np.asarray(img.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)


# The only globals a pickled numpy array needs (numpy 1.x and 2.x module names): anything else in a .pkl
# (os.system, builtins.eval, ...) is refused, so even a trusted-by-flag pickle cannot run code while it loads.
ARRAY_PICKLE_GLOBALS = {
    (module, name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
     ("numpy._core.numeric", "_frombuffer")}


def _latin1_bytes(text: str, encoding: str = "utf-8") -> bytes:
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refers to _codecs.encode with {encoding!r}; only numpy arrays are loaded")
    return text.encode("latin1")


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else: any other global is refused in one line."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in ARRAY_PICKLE_GLOBALS:
            return super().find_class(module, name)
        if (module, name) == ("_codecs", "encode"):  # protocol <= 2 writes an array's bytes as latin-1 text
            return _latin1_bytes
        raise pickle.UnpicklingError(f"refers to {module}.{name}; only numpy arrays are loaded from a pickle")


def require_regular_file(path: str | Path) -> None:
    """ValueError unless `path` is a regular file (after links): a FIFO or device would block its reader forever."""
    if not Path(path).is_file():
        raise ValueError("not a regular file")


def load_array_pickle(path: str | Path) -> np.ndarray:
    """A pickled numpy array through `ArrayUnpickler`."""
    require_regular_file(path)
    with open(path, "rb") as f:
        return np.asarray(ArrayUnpickler(f).load())


def read_spectrogram(path: str | Path, kind: str, trust_pickles: bool = False) -> np.ndarray:
    """A stored 2-D spectrogram: `.npy` (never unpickled) or, only with `trust_pickles` (the user's
    --allow-pickle), a pickle read through the array-only unpickler."""
    require_regular_file(path)
    if kind == "npy":
        a = np.load(str(path), allow_pickle=False)
    elif not trust_pickles:
        raise ValueError("pickled audio needs --allow-pickle on the command line")
    else:
        a = load_array_pickle(path)
    a = np.asarray(a)
    a = a.reshape([d for d in a.shape if d != 1] or [1])  # (1, F, L) copies exist
    if a.ndim != 2 or a.dtype.kind not in "fiu":
        raise ValueError(f"expected a 2-D numeric array, got shape {a.shape} dtype {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise ValueError("non-finite values")
    return a.astype(np.float32)


def list_frames(folder: Path) -> list[Path]:
    """Image files of one clip's frame folder, in name order (ffmpeg numbers them 00001.jpg ...)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)


def middle_frame(folder: Path) -> Path | None:
    """The one frame used per clip: the middle one, so train / val / test are all deterministic."""
    frames = list_frames(folder)
    return frames[len(frames) // 2] if frames else None


def read_frame(path: str | Path, size: int) -> np.ndarray:
    """RGB frame resized to size x size, as uint8 (3, size, size): 4x smaller to cache than floats."""
    require_regular_file(path)
    with Image.open(path) as img:
        img.load()  # decode now so truncated files fail here, not in a worker mid-epoch
        rgb = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1))


def normalise_frame(frame: np.ndarray) -> np.ndarray:
    """uint8 (3, H, W) -> float32 with ImageNet mean / std (what ResNet-style encoders expect)."""
    return ((frame.astype(np.float32) / 255.0) - IMAGENET_MEAN) / IMAGENET_STD
