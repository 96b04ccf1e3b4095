"""From manifest entries to the utterances a run uses: normalise text, check audio headers and
content, drop what cannot be trained on, and count every drop by reason (never silently).

Checks, cheapest first; an utterance is dropped for the first reason that applies:
  missing_file           the audio file does not exist
  zero_length            an empty file (0 bytes) or a header saying 0 frames
  unreadable_audio       the header cannot be parsed (truncated header, not audio), or decoding
                         fails / stops more than 1% short of the header's frame count (corrupt data)
  too_short / too_long   header duration outside [min_duration, max_duration]
  empty_text             nothing left after normalisation (e.g. a transcript of punctuation only)
  oov_characters         characters outside the given vocabulary, with drop_oov=True
                         (with drop_oov=False they become [UNK]; those utterances are counted as
                         `oov_mapped_to_unk` by runs.Data.skipped(), but kept)
  text_too_long_for_ctc  more CTC labels (characters + a blank between repeated characters) than
                         the model has output frames for this duration
  non_finite             a NaN or infinite sample (float WAV/FLAC)
  silent                 peak |sample| <= -80 dBFS (audio.SILENCE_PEAK) over the whole file

Content checks (the last two, and corrupt data) decode each file once, and are on by default:
the results (with the header) go to a persistent cache keyed by path + size + mtime
(data/cache.py), so later runs read no audio at all. Only files that passed every other check
are decoded, several at a time (threads: libsndfile releases the GIL).
"""
from __future__ import annotations

import math
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .audio import SILENCE_PEAK, AudioScan, audio_info, scan_audio
from .cache import AudioInfoCache, file_key
from .manifest import Entry
from .text import TextNormalizer, out_of_vocab

REASONS = (
    "missing_file", "unreadable_audio", "zero_length", "too_short", "too_long",
    "empty_text", "text_too_long_for_ctc", "oov_characters", "non_finite", "silent",
)
UNK_MAPPED = "oov_mapped_to_unk"  # a count in `skipped`, but the utterances are kept


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
    dropped: list[tuple[str, int, str]] = field(default_factory=list)  # (reason, line, path), by line
    unk_mapped: int = 0  # kept utterances whose out-of-vocabulary characters became [UNK]
    headers_read: int = 0  # files whose header was read this time (not from the cache)
    files_decoded: int = 0  # files fully decoded this time (not from the cache)

    def stats(self) -> dict:
        d = np.array([u.duration for u in self.kept], dtype=np.float64)
        if not len(d):
            return {"count": 0, "hours": 0.0, "mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0.0}
        return {"count": int(len(d)), "hours": float(d.sum() / 3600), "mean": float(d.mean()),
                "p50": float(np.percentile(d, 50)), "p95": float(np.percentile(d, 95)),
                "max": float(d.max())}


def ctc_min_frames(text: str) -> int:
    """Output frames CTC needs for `text`: one per label plus a blank between repeated labels."""
    return len(text) + sum(1 for a, b in zip(text, text[1:]) if a == b)


def _header(path: str):
    try:
        frames, rate, channels = audio_info(path)
        return [int(frames), int(rate), int(channels)]
    except Exception as exc:  # soundfile raises its own error types for corrupt headers
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def _workers(n: int) -> int:
    return max(1, min(8, os.cpu_count() or 1, n))


def filter_entries(entries: list[Entry], *, normalizer: TextNormalizer, min_duration: float,
                   max_duration: float, frames_per_second: float, vocab: dict | None = None,
                   drop_oov: bool = False, content_checks: bool = True,
                   cache: AudioInfoCache | bool | None = True) -> FilterResult:
    """Keep what can be trained on. `vocab` None: every character is in vocabulary (it is being
    built from these very transcripts). Durations come from the file header (cheap), not the
    manifest's claim, so a lying manifest cannot break batching. `cache`: True for the persistent
    cache, False/None for an in-memory one (this call only), or an AudioInfoCache to share."""
    if not isinstance(cache, AudioInfoCache):
        cache = AudioInfoCache("auto" if cache else None)
    result = FilterResult(kept=[])
    drops: list[tuple[str, Entry]] = []
    # (entry, text, duration, rate, header frames, unk) of utterances that pass the cheap checks
    candidates: list[tuple[Entry, str, float, int, int, bool]] = []
    known: dict[str, tuple[tuple[int, int], object, object]] = {}  # path -> (key, header, scan)

    for e in entries:
        path = e.audio_path
        if path in known:
            key, header, _ = known[path]
        else:
            key = file_key(path)
            if key is None:
                drops.append(("missing_file", e))
                continue
            hit = cache.get(path, key)
            if hit is None:
                header, scan = (_header(path) if key[0] else {"error": "empty file"}), None
                result.headers_read += 1
                cache.put(path, key, header, scan)
            else:
                header, scan = hit
            known[path] = (key, header, scan)
        if key[0] == 0:
            drops.append(("zero_length", e))
            continue
        if isinstance(header, dict):
            drops.append(("unreadable_audio", e))
            continue
        frames, rate, _ = header
        if frames <= 0 or rate <= 0:
            drops.append(("zero_length", e))
            continue
        duration = frames / rate
        if duration < min_duration:
            drops.append(("too_short", e))
            continue
        if duration > max_duration:
            drops.append(("too_long", e))
            continue
        text = normalizer(e.text)
        if not text:
            drops.append(("empty_text", e))
            continue
        unk = False
        if vocab is not None and out_of_vocab(text, vocab):
            if drop_oov:
                drops.append(("oov_characters", e))
                continue
            unk = True
        if ctc_min_frames(text) > math.floor(duration * frames_per_second):
            drops.append(("text_too_long_for_ctc", e))
            continue
        candidates.append((e, text, duration, rate, frames, unk))

    if content_checks:
        todo = sorted({c[0].audio_path for c in candidates if known[c[0].audio_path][2] is None})
        if todo:
            frames_of = {c[0].audio_path: c[4] for c in candidates}
            with ThreadPoolExecutor(_workers(len(todo))) as pool:
                scans = list(pool.map(lambda p: scan_audio(p, frames_of[p]), todo))
            for p, s in zip(todo, scans):
                key, header, _ = known[p]
                known[p] = (key, header, s.to_list())
                cache.put(p, key, header, s.to_list())
            result.files_decoded = len(todo)

    kept: list[tuple[Entry, str, float, bool]] = []
    for e, text, duration, rate, frames, unk in candidates:
        if content_checks:
            scan = AudioScan.from_list(known[e.audio_path][2])
            if scan.error:
                drops.append(("unreadable_audio", e))
                continue
            if scan.non_finite:
                drops.append(("non_finite", e))
                continue
            if scan.peak <= SILENCE_PEAK:
                drops.append(("silent", e))
                continue
        kept.append((e, text, duration, unk))
    cache.save()

    for e, text, duration, unk in kept:
        result.kept.append(Utterance(len(result.kept), e.audio_path, text, duration))
        result.unk_mapped += unk
    order = {id(e): i for i, e in enumerate(entries)}
    for reason, e in sorted(drops, key=lambda d: order[id(d[1])]):
        result.skipped[reason] += 1
        result.dropped.append((reason, e.line, e.origin or e.audio_path))
    return result
