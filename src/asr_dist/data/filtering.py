"""From manifest entries to the utterances a run uses: normalise text, check audio headers,
drop what cannot be trained on, and count every drop by reason (never silently)."""
from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .audio import audio_info
from .manifest import Entry
from .text import TextNormalizer, out_of_vocab

REASONS = (
    "missing_file", "unreadable_audio", "zero_length", "too_short", "too_long",
    "empty_text", "text_too_long_for_ctc", "oov_characters",
)


@dataclass(frozen=True)
class Utterance:
    index: int
    audio_path: str
    text: str  # normalised
    duration: float  # seconds


@dataclass
class FilterResult:
    kept: list[Utterance]
    skipped: Counter = field(default_factory=Counter)
    dropped: list[tuple[str, int, str]] = field(default_factory=list)  # (reason, line, path)
    unk_mapped: int = 0  # utterances whose out-of-vocabulary characters became [UNK]

    def stats(self) -> dict:
        d = np.array([u.duration for u in self.kept], dtype=np.float64)
        if not len(d):
            return {"count": 0, "hours": 0.0, "mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0.0}
        return {"count": int(len(d)), "hours": float(d.sum() / 3600), "mean": float(d.mean()),
                "p50": float(np.percentile(d, 50)), "p95": float(np.percentile(d, 95)),
                "max": float(d.max())}


def filter_entries(entries: list[Entry], *, normalizer: TextNormalizer, min_duration: float,
                   max_duration: float, frames_per_second: float, vocab: dict | None = None,
                   drop_oov: bool = False) -> FilterResult:
    """Keep what can be trained on. `vocab` None: every character is in vocabulary (it is being
    built from these very transcripts). Durations come from the file header (cheap), not the
    manifest's claim, so a lying manifest cannot break batching."""
    result = FilterResult(kept=[])

    def drop(reason: str, e: Entry):
        result.skipped[reason] += 1
        result.dropped.append((reason, e.line, e.audio_path))

    for e in entries:
        text = normalizer(e.text)
        try:
            frames, rate, _ = audio_info(e.audio_path)
        except FileNotFoundError:
            drop("missing_file", e)
            continue
        except Exception:  # soundfile raises its own error types for corrupt headers
            drop("missing_file" if not os.path.exists(e.audio_path) else "unreadable_audio", e)
            continue
        if frames <= 0:
            drop("zero_length", e)
            continue
        duration = frames / rate
        if duration < min_duration:
            drop("too_short", e)
            continue
        if duration > max_duration:
            drop("too_long", e)
            continue
        if not text:
            drop("empty_text", e)
            continue
        if vocab is not None and out_of_vocab(text, vocab):
            if drop_oov:
                drop("oov_characters", e)
                continue
            result.unk_mapped += 1
        if len(text) > math.floor(duration * frames_per_second):
            drop("text_too_long_for_ctc", e)
            continue
        result.kept.append(Utterance(len(result.kept), e.audio_path, text, duration))
    return result
