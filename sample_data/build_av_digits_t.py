"""Build AV-Digits-T: AV-Digits' clips and images turned into events in time, complementary by construction.

    .venv/bin/python sample_data/build_av_digits_t.py [--seed 0] [--out sample_data/av_digits_t.npz]
                                                      [--rows-per-class N] [--pairs-per-image K]
        variants: [--audio-pairs A,B ...] [--visual-pairs A,B ...] [--audio-partners row|class]
                  [--visual-partners row|class] [--audio-snr-db DB|inf] [--visual-noise STD]

Source: the committed sample_data/av_digits.npz (no speech synthesis). The file stores the clips and
images once, plus per-source-row blend partners and per-pair indices and event positions; the loader
(core/data/avdigits_t.py) renders the sequences from them, so the file stays small.

- Pairs: within each split and class, every image is paired with K clips of its label and every clip
  with K images (K rounds of a random matching), so speakers and images never cross splits.
- Audio: the clip's active frames are placed at a per-pair onset in a WINDOW-frame silent window.
  Clips of AUDIO_PAIRS classes are mixed (in mel power) with a clip of the partner class at a
  weight drawn from BLEND_RANGE for the clip's own word: both words are heard at once, the louder
  is as often the partner as the label, so audio cannot tell the pair apart on new material. The partner
  is ONE clip per class and split (AUDIO_PARTNERS "class"): memorisable in train, useless elsewhere, which
  makes audio the fast modality that starves vision in joint training (sample_data/README.md).
- Visual: FRAMES frames of Gaussian noise; the digit is shown during an event of EVENT_FRAMES[0..1]
  frames that starts LAG_RANGE audio frames after the word's onset (negative: before), clamped to the
  sequence. Images of VISUAL_PAIRS classes are mixed pixelwise with one fixed image of the partner class,
  drawn per image (same weights as the audio), so vision cannot tell those pairs apart.
Same seed and options -> byte-identical file (fixed zip timestamps, as build_av_digits.py writes).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_av_digits import write_npz  # noqa: E402  (same fixed-timestamp zip writer)

SOURCE = Path(__file__).with_name("av_digits.npz")
WINDOW = 64  # audio frames per sample (2 s at 32 frames / s)
FRAMES = 16  # visual frames per sample: one covers WINDOW // FRAMES = 4 audio frames (125 ms)
EVENT_FRAMES = (3, 5)  # digit visible for 3..5 visual frames (inclusive)
LAG_RANGE = (-16, 16)  # visual onset - audio onset, audio frames (+-0.5 s), before clamping
# Vision is the fast modality, so its confusable pairs are the ones audio resolves only with a fine
# distinction ("five"/"nine": same vowel; "six"/"seven": same onset) learnt slowly from noisy audio.
VISUAL_PAIRS = ((5, 9), (6, 7))  # 5/9 is also sklearn-digits' own most frequent confusion
# Audio is the fast modality here (clean, its pairs memorisable) and is ambiguous on every class (it only
# says which pair), so in joint training it fits its training set before vision has learnt to split the
# pairs (the imbalance). 5, 6, 7, 9 are in a pair of each modality, with different partners: only the two
# together name them (5: audio 5/6, vision 5/9).
AUDIO_PAIRS = ((2, 3), (1, 4), (0, 8), (5, 6), (7, 9))  # shapes vision tells apart
# "class": all clips of a class (in a split) are blended with ONE partner clip, whose identity tells the pair
# apart in train only (memorised in the first epoch); vision's partners stay per image (row), not memorisable.
AUDIO_PARTNERS, VISUAL_PARTNERS = "class", "row"
BLEND_RANGE = (0.35, 0.65)  # weight of the sample's own material in a blend; symmetric around 0.5
VISUAL_NOISE = 0.6  # std of the Gaussian pixel noise on every frame (image in [0, 1]); clipped to [0, 1]
AUDIO_SNR_DB = float("inf")  # flat mel-power noise over the window at this SNR (to the word's mean power); inf: none
SILENCE = np.float32(np.round(np.log(1e-6) * 256) / 256)  # the source's silence floor on its 1/256 grid


def active_span(clip: np.ndarray) -> tuple[int, int]:
    """First and one-past-last frame with any band above the silence floor."""
    cols = np.flatnonzero((clip > SILENCE + 1e-3).any(axis=0))
    return int(cols[0]), int(cols[-1]) + 1


def partners(label: np.ndarray, split: np.ndarray, pairs: tuple[tuple[int, int], ...],
             rng: np.random.Generator, scope: str = "row") -> tuple[np.ndarray, np.ndarray]:
    """Per source row: one fixed row of the partner class in the same split (-1 if the class is in no pair)
    and the weight of the row's own material in the blend (1 where unpaired). scope "row": each row draws
    its own partner; "class": all rows of a class (in a split) share one partner, a training-only shortcut
    (that one partner's idiosyncrasies tell the pair apart in train, not in another split's partner)."""
    partner = np.full(len(label), -1, np.int32)
    weight = np.ones(len(label), np.float32)
    for a, b in pairs:
        for s in np.unique(split):
            for own, other in ((a, b), (b, a)):
                rows = np.flatnonzero((label == own) & (split == s))
                pool = np.flatnonzero((label == other) & (split == s))
                partner[rows] = rng.choice(pool, len(rows) if scope == "row" else 1)
                weight[rows] = rng.uniform(*BLEND_RANGE, len(rows)).astype(np.float32)
    return partner, weight


def make_pairs(label: np.ndarray, split: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """(image row, clip row) pairs: per split and class, K rounds of a random one-to-one matching."""
    img, clip = [], []
    for s in np.unique(split):
        for c in np.unique(label):
            rows = np.flatnonzero((label == c) & (split == s))
            for _ in range(k):
                img.append(rows)
                clip.append(rng.permutation(rows))
    img_a, clip_a = np.concatenate(img), np.concatenate(clip)
    order = np.lexsort((rng.random(len(img_a)), split[img_a]))  # grouped by split, shuffled within
    return img_a[order].astype(np.int32), clip_a[order].astype(np.int32)


def events(span_len: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Audio onset/offset (audio frames) and visual event start/end (visual frames) per pair."""
    n = len(span_len)
    audio_on = rng.integers(0, WINDOW - span_len + 1)
    lag = rng.integers(LAG_RANGE[0], LAG_RANGE[1] + 1, n)
    dur = rng.integers(EVENT_FRAMES[0], EVENT_FRAMES[1] + 1, n)
    per = WINDOW // FRAMES
    visual_on = np.clip(np.floor((audio_on + lag) / per).astype(np.int64), 0, FRAMES - dur)
    return {"audio_on": audio_on.astype(np.int16), "audio_off": (audio_on + span_len).astype(np.int16),
            "visual_on": visual_on.astype(np.int16), "visual_off": (visual_on + dur).astype(np.int16)}


def subsample(src: dict[str, np.ndarray], per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Rows kept for a small build: at most `per_class` per (split, class); all rows when 0."""
    if per_class <= 0:
        return np.arange(len(src["label"]))
    keep = [rng.permutation(np.flatnonzero((src["label"] == c) & (src["split"] == s)))[:per_class]
            for s in np.unique(src["split"]) for c in np.unique(src["label"])]
    return np.sort(np.concatenate(keep))


def build_arrays(seed: int, pairs_per_image: int = 9, rows_per_class: int = 0, source: Path = SOURCE, *,
                 audio_partners: str = AUDIO_PARTNERS, visual_partners: str = VISUAL_PARTNERS,
                 audio_snr_db: float = AUDIO_SNR_DB, visual_noise: float = VISUAL_NOISE,
                 audio_pairs: tuple[tuple[int, int], ...] = AUDIO_PAIRS,
                 visual_pairs: tuple[tuple[int, int], ...] = VISUAL_PAIRS) -> dict[str, np.ndarray]:
    """Everything the .npz holds, from the source file, the seed and the variant options (see `partners`)."""
    rng = np.random.default_rng(seed)
    with np.load(source, allow_pickle=False) as z:
        src = {k: z[k] for k in z.files}
    rows = subsample(src, rows_per_class, rng)
    audio, visual = src["audio"][rows], src["visual"][rows]
    label, split = src["label"][rows].astype(np.int64), src["split"][rows].astype(np.int8)
    spans = np.array([active_span(c) for c in audio], np.int16)
    a_partner, a_weight = partners(label, split, audio_pairs, rng, audio_partners)
    v_partner, v_weight = partners(label, split, visual_pairs, rng, visual_partners)
    pair_image, pair_clip = make_pairs(label, split, pairs_per_image, rng)
    length = spans[:, 1] - spans[:, 0]
    blended_len = np.where(a_partner >= 0, np.maximum(length, length[np.maximum(a_partner, 0)]), length)
    ev = events(blended_len[pair_clip], rng)
    return {
        "audio": audio, "visual": visual, "label": label, "split": split,
        "speaker": src["speaker"][rows].astype(np.int32), "source_row": rows.astype(np.int32),
        "clip_span": spans, "audio_partner": a_partner, "audio_weight": a_weight,
        "visual_partner": v_partner, "visual_weight": v_weight,
        "pair_image": pair_image, "pair_clip": pair_clip, "pair_split": split[pair_image],
        "pair_label": label[pair_image], **ev,
        "window": np.int32(WINDOW), "frames": np.int32(FRAMES), "visual_noise": np.float32(visual_noise),
        "audio_snr_db": np.float32(audio_snr_db),
        "noise_seed": np.int64(np.random.SeedSequence([seed, 0x7A7]).generate_state(1)[0]),
        "audio_pairs": np.array(audio_pairs, np.int64), "visual_pairs": np.array(visual_pairs, np.int64),
        "class_names": src["class_names"], "speaker_names": src["speaker_names"],
    }


def pair_arg(text: str) -> tuple[int, int]:
    """'A,B' -> (A, B), for --audio-pairs / --visual-pairs."""
    a, b = (int(x) for x in text.split(","))
    return a, b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("av_digits_t.npz"))
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--pairs-per-image", type=int, default=9)
    ap.add_argument("--rows-per-class", type=int, default=0, help="small build: at most N source rows per "
                    "split and class (0: all)")
    for m in ("audio", "visual"):
        ap.add_argument(f"--{m}-partners", choices=("row", "class"),
                        default=AUDIO_PARTNERS if m == "audio" else VISUAL_PARTNERS,
                        help="blend partner per source row, or one per class and split (see partners())")
        ap.add_argument(f"--{m}-pairs", type=pair_arg, nargs="+", default=AUDIO_PAIRS if m == "audio" else VISUAL_PAIRS,
                        metavar="A,B", help=f"{m}'s confusable class pairs")
    ap.add_argument("--audio-snr-db", type=float, default=AUDIO_SNR_DB, help="inf: no audio noise")
    ap.add_argument("--visual-noise", type=float, default=VISUAL_NOISE)
    args = ap.parse_args()
    arrays = build_arrays(args.seed, args.pairs_per_image, args.rows_per_class, args.source,
                          audio_partners=args.audio_partners, visual_partners=args.visual_partners,
                          audio_snr_db=args.audio_snr_db, visual_noise=args.visual_noise,
                          audio_pairs=tuple(args.audio_pairs), visual_pairs=tuple(args.visual_pairs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = write_npz(args.out, arrays)
    counts = np.bincount(arrays["pair_split"], minlength=3).tolist()
    print(f"wrote {args.out}: {len(data) / 1e6:.2f} MB, sha256 {hashlib.sha256(data).hexdigest()}")
    print(f"source rows {len(arrays['label'])}; pairs train / validation / test {counts}")


if __name__ == "__main__":
    main()
