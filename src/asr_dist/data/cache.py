"""A persistent cache of what reading an audio file told us, so a second run decodes nothing.

Where: `$ASR_DIST_CACHE_DIR`, else `$XDG_CACHE_HOME/asr-dist`, else `~/.cache/asr-dist`; when that
folder cannot be created or written, `<tempdir>/asr-dist-<uid>`. `ASR_DIST_CACHE_DIR=off` (or
`0`/`none`) keeps the cache in memory only.

Layout: `<cache>/audio-info/<sha1 of the audio file's folder>.json`, one JSON file per folder of
audio (a corpus' wavs/ folder is typically one file, shared by its train and dev manifests):
`{"version": 1, "files": {basename: [size, mtime_ns, header, scan]}}` with
`header` = [frames, rate, channels] or {"error": "..."} and `scan` = null (not decoded yet) or
AudioScan.to_list(). An entry is valid only while the file's size and mtime_ns are unchanged, so
an edited or replaced file is read again.

JSON rather than SQLite: it is written with write-to-temp + os.replace, which is safe with
several ranks writing at once and on NFS home folders (where SQLite locking is not); a lost race
only costs a cache miss next time, never a wrong answer.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile

VERSION = 1
_OFF = ("0", "off", "none", "false", "no")


def _writable_dir(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
        return os.access(path, os.W_OK | os.X_OK)
    except OSError:
        return False


def cache_dir() -> str | None:
    """The cache folder (created), or None when caching on disk is switched off."""
    env = os.environ.get("ASR_DIST_CACHE_DIR")
    if env is not None and env.strip().lower() in _OFF:
        return None
    candidates = []
    if env:
        candidates.append(os.path.expanduser(env))
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        candidates.append(os.path.join(xdg, "asr-dist"))
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    candidates.append(os.path.join(tempfile.gettempdir(), f"asr-dist-{uid}"))
    for c in candidates:
        if _writable_dir(c):
            return c
    return None


def file_key(path: str) -> tuple[int, int] | None:
    """(size, mtime_ns), or None when the file does not exist / cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class AudioInfoCache:
    """In-memory view of the per-folder JSON files; `save()` writes back the folders changed."""

    def __init__(self, root: str | None = "auto"):
        self.root = cache_dir() if root == "auto" else root
        self._folders: dict[str, dict] = {}
        self._dirty: set[str] = set()
        self.hits = 0
        self.misses = 0

    def _shard_path(self, folder: str) -> str | None:
        if self.root is None:
            return None
        digest = hashlib.sha1(folder.encode("utf-8", "surrogateescape")).hexdigest()[:20]
        return os.path.join(self.root, "audio-info", digest + ".json")

    @staticmethod
    def _read_shard(shard: str | None, folder: str) -> dict:
        """The entries a shard file holds for `folder`; {} when absent, stale or corrupt
        (a corrupt cache is a cold cache)."""
        if not shard or not os.path.isfile(shard):
            return {}
        try:
            with open(shard, encoding="utf-8") as fh:
                data = json.load(fh)
            if data.get("version") == VERSION and data.get("folder") == folder:
                return data["files"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return {}

    def _folder(self, folder: str) -> dict:
        files = self._folders.get(folder)
        if files is None:
            files = self._folders[folder] = self._read_shard(self._shard_path(folder), folder)
        return files

    def get(self, path: str, key: tuple[int, int]) -> list | None:
        """[header, scan] stored for this exact (size, mtime), else None."""
        folder, name = os.path.split(path)
        rec = self._folder(folder).get(name)
        if rec and rec[0] == key[0] and rec[1] == key[1]:
            self.hits += 1
            return [rec[2], rec[3]]
        self.misses += 1
        return None

    def put(self, path: str, key: tuple[int, int], header, scan) -> None:
        folder, name = os.path.split(path)
        files = self._folder(folder)
        rec = [key[0], key[1], header, scan]
        if files.get(name) != rec:
            files[name] = rec
            self._dirty.add(folder)

    def save(self) -> None:
        """Merge with what is on disk now (another process may have added entries) and replace."""
        if self.root is None:
            self._dirty.clear()
            return
        for folder in sorted(self._dirty):
            shard = self._shard_path(folder)
            mine = self._folders[folder]
            try:
                os.makedirs(os.path.dirname(shard), exist_ok=True)
                merged = self._read_shard(shard, folder)
                merged.update(mine)
                fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=os.path.dirname(shard))
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"version": VERSION, "folder": folder, "files": merged}, fh,
                              separators=(",", ":"))
                os.chmod(tmp, 0o644)
                os.replace(tmp, shard)
            except OSError:
                pass  # a read-only or full cache folder only costs speed
        self._dirty.clear()

