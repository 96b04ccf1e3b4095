"""Folder inputs: a `datasets` folder written by `save_to_disk`, and an audiofolder.

`datasets` folder: read with `datasets.load_from_disk` in Arrow format, so no Audio feature is
ever decoded (decoding would need torchcodec, which is not usable here). Columns:
  audio   `audio_filepath` (a path), or `audio`: a path, or a {"path", "bytes"} struct as stored by
          `Audio(decode=False)` or by `save_to_disk` of an `Audio()` column (which embeds bytes);
  text    `text`, else `transcription`, `sentence` or `transcript`;
  duration `duration` (optional; the filter measures it anyway).
Relative paths are resolved against the dataset folder, then against its parent (a dataset saved
beside the manifest it came from, e.g. corpus/train_ds next to corpus/wavs).
Audio held as bytes is written once to `<cache>/audio/<sha1[:2]>/<sha1>.<ext>` (content-addressed:
the same bytes always give the same file, so a rerun writes nothing), and the Entry points at that
file, so every consumer (filter, collator: `load_audio(u.audio_path)`) works on a plain path.
`Entry.origin` keeps the name the dataset gave it, for reports. Line numbers are row + 1.

audiofolder: `metadata.csv` (or `metadata.jsonl`) with `file_name` (relative to the folder) and
`transcription` or `text` (also `sentence`); `duration` optional. Read directly: datasets'
audiofolder builder needs torchcodec.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile

from ..errors import UserError
from .cache import cache_dir
from .manifest import Entry, parse_duration

TEXT_COLUMNS = ("text", "transcription", "sentence", "transcript")
AUDIO_COLUMNS = ("audio_filepath", "audio", "file", "path")
METADATA_FILES = ("metadata.csv", "metadata.jsonl")
_AUDIO_EXTS = {".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif", ".au", ".w64", ".caf"}


def folder_kind(path: str) -> str:
    names = set(os.listdir(path))
    if "dataset_dict.json" in names:
        return "datasets-dict"
    if names & {"dataset_info.json", "state.json"}:
        return "datasets"
    if names & set(METADATA_FILES):
        return "audiofolder"
    return "unknown"


def read_folder(path: str, what: str) -> list[Entry]:
    kind = folder_kind(path)
    if kind == "datasets":
        return read_datasets_folder(path, what)
    if kind == "audiofolder":
        return read_audiofolder(path, what)
    if kind == "datasets-dict":
        with open(os.path.join(path, "dataset_dict.json"), encoding="utf-8") as fh:
            splits = json.load(fh).get("splits", [])
        raise UserError(f"--{what}: {path} is a DatasetDict with splits {', '.join(splits)}; "
                        f"give one split's folder, e.g. {os.path.join(path, splits[0] if splits else 'train')}")
    raise UserError(f"--{what}: {path} is a folder but neither a `datasets` folder (dataset_info.json, "
                    f"state.json) nor an audiofolder (metadata.csv / metadata.jsonl)")


# --- bytes held in a dataset -----------------------------------------------------------------
_session_dir: str | None = None


def _bytes_dir() -> str:
    global _session_dir
    root = cache_dir()
    if root is not None:
        return os.path.join(root, "audio")
    if _session_dir is None:  # caching switched off: one temporary folder per process
        _session_dir = tempfile.mkdtemp(prefix="asr-dist-audio-")
    return _session_dir


def _ext_for(data: bytes, name_hint: str | None) -> str:
    ext = os.path.splitext(name_hint or "")[1].lower()
    if ext in _AUDIO_EXTS:
        return ext
    import io

    import soundfile as sf

    try:
        return "." + sf.info(io.BytesIO(data)).format.lower()
    except Exception:
        return ".bin"  # undecodable: the filter will report it as unreadable_audio


def materialize_bytes(data: bytes, name_hint: str | None = None) -> str:
    """The path of a file holding exactly `data` (written once, content-addressed)."""
    digest = hashlib.sha1(data).hexdigest()
    folder = os.path.join(_bytes_dir(), digest[:2])
    target = os.path.join(folder, digest + _ext_for(data, name_hint))
    try:
        if os.path.getsize(target) == len(data):
            return target
    except OSError:
        pass
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return target


def _resolve_in(path: str, folder: str) -> str:
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return path
    first = os.path.normpath(os.path.join(folder, path))
    if os.path.exists(first):
        return first
    second = os.path.normpath(os.path.join(os.path.dirname(folder), path))
    return second if os.path.exists(second) else first


def _pick(columns, candidates, path: str, role: str, what: str) -> str:
    for c in candidates:
        if c in columns:
            return c
    raise UserError(f"--{what}: {path} has no {role} column (looked for {', '.join(candidates)}; "
                    f"found {', '.join(columns) or 'none'})")


def read_datasets_folder(path: str, what: str = "manifest") -> list[Entry]:
    try:
        from datasets import Dataset, load_from_disk
    except ImportError:  # pragma: no cover - datasets is a dependency
        raise UserError(f"--{what}: {path} is a `datasets` folder but the datasets package is not installed") from None
    folder = os.path.abspath(path)
    try:
        ds = load_from_disk(folder)
    except Exception as exc:
        raise UserError(f"--{what}: {path}: load_from_disk failed ({type(exc).__name__}: {exc})") from None
    if not isinstance(ds, Dataset):
        raise UserError(f"--{what}: {path} is not a single Dataset ({type(ds).__name__}); give one split's folder")
    columns = list(ds.column_names)
    audio_col = _pick(columns, AUDIO_COLUMNS, path, "audio", what)
    text_col = _pick(columns, TEXT_COLUMNS, path, "text", what)
    dur_col = "duration" if "duration" in columns else None
    keep = [c for c in (audio_col, text_col, dur_col) if c]
    entries: list[Entry] = []
    row = 0
    for batch in ds.select_columns(keep).with_format("arrow").iter(batch_size=512):
        audio = batch.column(audio_col).to_pylist()
        texts = batch.column(text_col).to_pylist()
        durs = batch.column(dur_col).to_pylist() if dur_col else [None] * len(texts)
        for a, t, d in zip(audio, texts, durs):
            row += 1
            where = f"{path}: row {row - 1}"
            if t is None:
                raise UserError(f"{where}: no text")
            origin = None
            if isinstance(a, dict):
                data, name = a.get("bytes"), a.get("path")
                if data:
                    audio_path, origin = materialize_bytes(data, name), f"{path}[{row - 1}]:{name or 'bytes'}"
                elif name:
                    audio_path = _resolve_in(name, folder)
                else:
                    raise UserError(f"{where}: audio has neither path nor bytes")
            elif isinstance(a, str) and a:
                audio_path = _resolve_in(a, folder)
            elif isinstance(a, (bytes, bytearray)) and a:
                audio_path, origin = materialize_bytes(bytes(a)), f"{path}[{row - 1}]:bytes"
            else:
                raise UserError(f"{where}: column '{audio_col}' holds {type(a).__name__}, not a path or audio bytes")
            entries.append(Entry(row, audio_path, str(t), parse_duration(d, where), origin))
    return entries


def read_audiofolder(path: str, what: str = "manifest") -> list[Entry]:
    folder = os.path.abspath(path)
    meta = next(os.path.join(folder, m) for m in METADATA_FILES if os.path.isfile(os.path.join(folder, m)))
    rows: list[tuple[int, dict]] = []
    with open(meta, encoding="utf-8", newline="") as fh:
        if meta.endswith(".csv"):
            rows = list(enumerate(csv.DictReader(fh), start=2))
        else:
            for i, raw in enumerate(fh, start=1):
                if raw.strip():
                    try:
                        rows.append((i, json.loads(raw)))
                    except json.JSONDecodeError as exc:
                        raise UserError(f"{meta}:{i}: not valid JSON ({exc.msg})") from None
    entries = []
    for line, r in rows:
        if not isinstance(r, dict) or not r.get("file_name"):
            raise UserError(f"{meta}:{line}: missing field 'file_name'")
        text_col = next((c for c in TEXT_COLUMNS if r.get(c) is not None), None)
        if text_col is None:
            raise UserError(f"{meta}:{line}: missing field 'transcription' (or text / sentence)")
        entries.append(Entry(line, _resolve_in(str(r["file_name"]), folder), str(r[text_col]),
                             parse_duration(r.get("duration"), f"{meta}:{line}")))
    return entries
