"""Manifests: NeMo-style JSONL and CSV/TSV with the same columns (audio_filepath, duration, text),
a `datasets` folder written by `save_to_disk`, and an audiofolder (a folder with metadata.csv or
metadata.jsonl naming `file_name` and `transcription`/`text`). `read_manifest` dispatches on what
the path is; the folder kinds are read in data/sources.py.

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
KINDS = ("jsonl", "csv", "tsv", "datasets", "audiofolder")


@dataclass(frozen=True)
class Entry:
    line: int  # 1-based line in the manifest (header is line 1 for CSV); row + 1 for `datasets`
    audio_path: str  # absolute
    text: str
    duration: float | None  # as stated by the manifest, None when absent
    origin: str | None = None  # how the input names the audio when audio_path is a cache copy


def _resolve(path: str, base: str) -> str:
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base, path))


def parse_duration(value, where: str) -> float | None:
    if value in ("", None):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: duration {value!r} is not a number") from None


def _entry(row: dict, line: int, base: str, manifest: str) -> Entry:
    missing = [k for k in REQUIRED if row.get(k) is None]
    if missing:
        raise UserError(f"{manifest}:{line}: missing field '{missing[0]}' (need audio_filepath and text)")
    duration = parse_duration(row.get("duration"), f"{manifest}:{line}")
    return Entry(line, _resolve(str(row["audio_filepath"]), base), str(row["text"]), duration)


def manifest_kind(path: str) -> str:
    """What `path` is: a file by its extension (.csv, .tsv, anything else JSON lines), or a folder
    by its contents (dataset_info.json/state.json: `datasets`; metadata.csv/.jsonl: audiofolder)."""
    if os.path.isdir(path):
        from .sources import folder_kind

        return folder_kind(path)
    ext = os.path.splitext(path)[1].lower()
    return {".csv": "csv", ".tsv": "tsv"}.get(ext, "jsonl")


def read_manifest(path: str, what: str = "manifest") -> list[Entry]:
    if not path:
        raise UserError(f"--{what}: no manifest given")
    if os.path.isdir(path):
        from .sources import read_folder

        entries = read_folder(path, what)
    elif not os.path.isfile(path):
        raise UserError(f"--{what}: file not found: {path}")
    else:
        entries = _read_file(path, manifest_kind(path))
    if not entries:
        raise UserError(f"--{what}: {path} holds no utterances")
    return entries


def _read_file(path: str, kind: str) -> list[Entry]:
    base = os.path.dirname(os.path.abspath(path))
    entries: list[Entry] = []
    try:
        fh = open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    with fh:
        try:
            if kind in ("csv", "tsv"):
                reader = csv.DictReader(fh, delimiter="\t" if kind == "tsv" else ",")
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
        except UnicodeDecodeError as exc:
            raise UserError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return entries
