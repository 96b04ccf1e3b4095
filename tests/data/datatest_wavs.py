"""Helpers for tests/data: real audio files, good and bad, made on the spot."""
from __future__ import annotations

import json
import os

import numpy as np
import soundfile as sf

RATE = 16000


def tone(seconds: float, freq: float = 440.0, rate: int = RATE, amp: float = 0.3, channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def write_wav(path, audio, rate: int = RATE, subtype: str = "PCM_16") -> str:
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    sf.write(str(path), audio, rate, subtype=subtype)
    return str(path)


def write_jsonl(path, rows) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    return str(path)


def bad_files(folder) -> dict[str, str]:
    """One real file per audio problem, plus a good one. Keys name the reason expected."""
    folder = str(folder)
    out = {"good": write_wav(os.path.join(folder, "good.wav"), tone(1.0))}
    full = open(out["good"], "rb").read()
    out["truncated_header"] = os.path.join(folder, "truncated_header.wav")
    with open(out["truncated_header"], "wb") as fh:
        fh.write(full[:30])  # RIFF/WAVE/fmt cut before the data chunk
    out["empty_file"] = os.path.join(folder, "empty_file.wav")
    open(out["empty_file"], "wb").close()
    out["zero_frames"] = write_wav(os.path.join(folder, "zero_frames.wav"), np.zeros(0, np.float32))
    nan = tone(1.0)
    nan[1234] = np.nan
    nan[5000] = np.inf
    out["nan"] = write_wav(os.path.join(folder, "nan.wav"), nan, subtype="FLOAT")
    out["silent"] = write_wav(os.path.join(folder, "silent.wav"), np.zeros(RATE, np.float32))
    # corrupt data beyond a valid header: a FLAC whose frames are overwritten in the middle
    flac = write_wav(os.path.join(folder, "corrupt.flac"), tone(1.0), subtype="PCM_16")
    data = bytearray(open(flac, "rb").read())
    mid = len(data) // 2
    data[mid:mid + 300] = b"\x55" * 300
    with open(flac, "wb") as fh:
        fh.write(bytes(data))
    out["corrupt"] = flac
    out["short"] = write_wav(os.path.join(folder, "short.wav"), tone(0.05))
    out["long"] = write_wav(os.path.join(folder, "long.wav"), tone(3.0))
    return out
