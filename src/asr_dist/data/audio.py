"""Reading audio: soundfile decoding, mono mix-down, polyphase resampling to the model's rate."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import soundfile as sf

TARGET_RATE = 16000


def audio_info(path: str) -> tuple[int, int, int]:
    """(frames, sample_rate, channels) from the header only; raises on unreadable files."""
    info = sf.info(path)
    return info.frames, info.samplerate, info.channels


def load_audio(path: str, target_rate: int = TARGET_RATE) -> np.ndarray:
    """Decode to float32 mono at target_rate (scipy's polyphase filter, not nearest-sample)."""
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    audio = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != target_rate:
        from scipy.signal import resample_poly  # lazy: scipy.signal costs ~0.7 s to import

        ratio = Fraction(target_rate, rate).limit_denominator(1000)
        audio = resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)
    return np.ascontiguousarray(audio, dtype=np.float32)
