"""Manifests: NeMo-style JSONL and CSV/TSV with the same columns (audio_filepath, duration, text).

Structural problems a user must fix (missing file, broken JSON, a line without `text` or
`audio_filepath`) raise UserError naming the path and line. Problems with single utterances
(missing audio, bad duration, empty text, ...) are not decided here: see data/filtering.py.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass

from ..errors import UserError

REQUIRED = ("audio_filepath", "text")


@dataclass(frozen=True)
class Entry:
    line: int  # 1-based line in the manifest (header is line 1 for CSV)
    audio_path: str  # absolute
    text: str
    duration: float | None  # as stated by the manifest, None when absent


def _resolve(path: str, base: str) -> str:
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base, path))


def _entry(row: dict, line: int, base: str, manifest: str) -> Entry:
    missing = [k for k in REQUIRED if row.get(k) is None]
    if missing:
        raise UserError(f"{manifest}:{line}: missing field '{missing[0]}' (need audio_filepath and text)")
    duration = row.get("duration")
    if duration in ("", None):
        duration = None
    else:
        try:
            duration = float(duration)
        except (TypeError, ValueError):
            raise UserError(f"{manifest}:{line}: duration {duration!r} is not a number") from None
    return Entry(line, _resolve(str(row["audio_filepath"]), base), str(row["text"]), duration)


def read_manifest(path: str, what: str = "manifest") -> list[Entry]:
    if not path:
        raise UserError(f"--{what}: no manifest given")
    if not os.path.isfile(path):
        raise UserError(f"--{what}: file not found: {path}")
    base = os.path.dirname(os.path.abspath(path))
    ext = os.path.splitext(path)[1].lower()
    entries: list[Entry] = []
    with open(path, encoding="utf-8", newline="") as fh:
        if ext in (".csv", ".tsv"):
            reader = csv.DictReader(fh, delimiter="\t" if ext == ".tsv" else ",")
            for i, row in enumerate(reader, start=2):
                entries.append(_entry(row, i, base, path))
        else:
            for i, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{path}:{i}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise UserError(f"{path}:{i}: expected a JSON object, got {type(row).__name__}")
                entries.append(_entry(row, i, base, path))
    if not entries:
        raise UserError(f"--{what}: {path} holds no utterances")
    return entries
