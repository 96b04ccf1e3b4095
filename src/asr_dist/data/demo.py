"""A deterministic speech-like corpus: every character is a short tone pair, words are separated
by silence, utterance lengths are skewed like real corpora (many short, a long tail to ~8 s).

Learnable (a tiny wav2vec2 reaches low CER in minutes on CPU) but not trivial: pitch, tempo and
loudness jitter, background noise, and a lexicon where words share characters.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
LEXICON = (
    "the cat sat on a mat dog ran far big red sun sky blue green tree fish swim bird fly high "
    "low cold warm rain snow wind moon star light night day sea boat sail hill road old new"
).split()
ALPHABET = sorted({c for w in LEXICON for c in w})


@dataclass(frozen=True)
class DemoSpec:
    num_train: int = 400
    num_dev: int = 60
    seed: int = 0
    char_seconds: float = 0.075  # mean length of one character's tone pair
    gap_seconds: float = 0.12  # mean silence between words
    max_words: int = 15
    min_seconds: float = 0.5


def _char_frequencies() -> dict[str, tuple[float, float]]:
    """Two tones per character, on log-spaced grids (a factor 1.6 / 1.4 apart), so that short
    convolution kernels can tell them apart: 5 low tones x 4 high tones = 20 pairs; letters beyond
    20 reuse low tones one step apart on a third grid."""
    table = {}
    for i, ch in enumerate(ALPHABET):
        low = 250.0 * 1.6 ** (i % 5)
        high = 2200.0 * 1.4 ** ((i // 5) % 4)
        table[ch] = (low, high)
    return table


FREQS = _char_frequencies()


def _render_char(ch: str, rng: np.random.Generator, spec: DemoSpec, pitch: float) -> np.ndarray:
    n = int(SAMPLE_RATE * spec.char_seconds * rng.uniform(0.8, 1.25))
    t = np.arange(n) / SAMPLE_RATE
    low, high = FREQS[ch]
    jitter = pitch * rng.uniform(0.98, 1.02)
    wave = np.sin(2 * np.pi * low * jitter * t) + 0.7 * np.sin(2 * np.pi * high * jitter * t)
    env = np.hanning(n) ** 0.5
    gap = np.zeros(int(SAMPLE_RATE * 0.02), dtype=np.float64)  # separates repeated letters
    return np.concatenate([wave * env * rng.uniform(0.6, 1.0), gap])


def render_utterance(words: list[str], rng: np.random.Generator, spec: DemoSpec) -> np.ndarray:
    pitch = rng.uniform(0.93, 1.07)  # a "speaker": the whole utterance shifted
    parts = [np.zeros(int(SAMPLE_RATE * rng.uniform(0.03, 0.15)))]
    for k, word in enumerate(words):
        if k:
            parts.append(np.zeros(int(SAMPLE_RATE * spec.gap_seconds * rng.uniform(0.7, 1.4))))
        parts.extend(_render_char(ch, rng, spec, pitch) for ch in word)
    parts.append(np.zeros(int(SAMPLE_RATE * rng.uniform(0.03, 0.15))))
    audio = np.concatenate(parts)
    if len(audio) < spec.min_seconds * SAMPLE_RATE:  # very short utterances get more silence
        audio = np.pad(audio, (0, int(spec.min_seconds * SAMPLE_RATE) - len(audio)))
    audio = audio + rng.normal(0.0, 0.02, size=audio.shape)
    return (0.35 * audio / max(1e-9, np.abs(audio).max())).astype(np.float32)


def _num_words(rng: np.random.Generator, spec: DemoSpec) -> int:
    # log-normal: median ~4 words (~1.6 s), long tail to max_words (~8 s)
    return int(np.clip(round(rng.lognormal(np.log(4.0), 0.65)), 1, spec.max_words))


def write_demo_corpus(out_dir: str, spec: DemoSpec = DemoSpec(), progress=None) -> dict[str, str]:
    """Write DIR/wavs/*.wav, DIR/train.jsonl, DIR/dev.jsonl; same spec -> same bytes."""
    wav_dir = os.path.join(out_dir, "wavs")
    os.makedirs(wav_dir, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    paths = {}
    for split, count in (("train", spec.num_train), ("dev", spec.num_dev)):
        lines = []
        for i in range(count):
            words = [LEXICON[j] for j in rng.integers(0, len(LEXICON), size=_num_words(rng, spec))]
            audio = render_utterance(words, rng, spec)
            rel = f"wavs/{split}_{i:05d}.wav"
            sf.write(os.path.join(out_dir, rel), audio, SAMPLE_RATE, subtype="PCM_16")
            lines.append({"audio_filepath": rel, "duration": round(len(audio) / SAMPLE_RATE, 4),
                          "text": " ".join(words)})
            if progress:
                progress(1)
        path = os.path.join(out_dir, f"{split}.jsonl")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(line) + "\n" for line in lines)
        os.replace(tmp, path)  # the manifest appears only once every WAV it names exists
        paths[split] = path
    return paths


def demo_exists(out_dir: str) -> bool:
    return all(os.path.exists(os.path.join(out_dir, f"{s}.jsonl")) for s in ("train", "dev"))
