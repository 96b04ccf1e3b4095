"""Reading audio: soundfile decoding, mono mix-down, polyphase resampling to the model's rate.

Also the one full decode a file gets at filter time (`scan_audio`): frames actually decodable,
peak level and whether every sample is finite, computed block by block so memory stays flat.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import soundfile as sf

TARGET_RATE = 16000
# A file whose peak |sample| is at or below this is "silent": -80 dBFS, about 3 LSB of 16-bit PCM
# (digital silence, or silence with dither). Real speech peaks far above -40 dBFS.
SILENCE_PEAK = 1e-4
_SCAN_BLOCK = 1 << 18  # frames per block when scanning (1 MiB of float32 per channel)


def _source(path_or_bytes):
    return io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, (bytes, bytearray)) else path_or_bytes


def audio_info(path) -> tuple[int, int, int]:
    """(frames, sample_rate, channels) from the header only; raises on unreadable files.
    `path` may also be the bytes of an audio file."""
    info = sf.info(_source(path))
    return info.frames, info.samplerate, info.channels


def resample(audio: np.ndarray, rate: int, target_rate: int = TARGET_RATE) -> np.ndarray:
    """Band-limited polyphase resampling (scipy's resample_poly, Kaiser FIR), not nearest-sample."""
    if rate == target_rate:
        return np.ascontiguousarray(audio, dtype=np.float32)
    from scipy.signal import resample_poly  # lazy: scipy.signal costs ~0.7 s to import

    ratio = Fraction(target_rate, rate).limit_denominator(1000)
    return np.ascontiguousarray(resample_poly(audio, ratio.numerator, ratio.denominator), dtype=np.float32)


def load_audio(path, target_rate: int = TARGET_RATE) -> np.ndarray:
    """Decode to float32 mono at target_rate. `path` may also be the bytes of an audio file."""
    data, rate = sf.read(_source(path), dtype="float32", always_2d=True)
    audio = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return resample(audio, rate, target_rate)


def load_utterance_audio(utterance, target_rate: int = TARGET_RATE) -> np.ndarray:
    """What the collator should call: today every Utterance has a real file (bytes stored in a
    `datasets` folder are written once to the cache, see data/sources.py), so this is
    load_audio(u.audio_path); it is the one place to change if that ever stops being true."""
    return load_audio(utterance.audio_path, target_rate)


@dataclass(frozen=True)
class AudioScan:
    """The result of decoding a whole file once."""
    frames: int  # frames actually decoded
    peak: float  # max |sample| over finite samples (0.0 when none)
    non_finite: bool  # any NaN or +-inf sample
    error: str | None  # decoding failed part-way (corrupt data beyond the header)

    def to_list(self) -> list:
        return [self.frames, self.peak, self.non_finite, self.error]

    @classmethod
    def from_list(cls, v) -> "AudioScan":
        return cls(int(v[0]), float(v[1]), bool(v[2]), v[3])


def scan_audio(path, header_frames: int | None = None) -> AudioScan:
    """Decode every sample once, block by block. A decode error, or far fewer frames than the
    header promised (more than 1% short), is reported in `error`."""
    frames, peak, non_finite = 0, 0.0, False
    try:
        with sf.SoundFile(_source(path)) as fh:
            if header_frames is None:
                header_frames = fh.frames
            for block in fh.blocks(blocksize=_SCAN_BLOCK, dtype="float32", always_2d=True):
                frames += len(block)
                finite = np.isfinite(block)
                if not finite.all():
                    non_finite = True
                    block = block[finite]
                if block.size:
                    peak = max(peak, float(np.abs(block).max()))
    except Exception as exc:  # libsndfile's errors for corrupt data ("lost sync", ...)
        return AudioScan(frames, peak, non_finite, f"{type(exc).__name__}: {exc}"[:300])
    if header_frames and header_frames - frames > max(1, math.ceil(0.01 * header_frames)):
        return AudioScan(frames, peak, non_finite, f"decoded {frames} of {header_frames} frames")
    return AudioScan(frames, peak, non_finite, None)
