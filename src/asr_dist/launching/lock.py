"""One launch per run folder: an exclusive lock held by the launcher for the whole run.

flock is released by the kernel when the holder exits, however it exits (kill -9 included), so a
stale lock file never blocks the next launch."""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time

from ..errors import UserError

LOCK_FILE = ".asr-dist.lock"


class RunLock:
    def __init__(self, run_dir: str):
        os.makedirs(run_dir, exist_ok=True)
        self.path = os.path.join(run_dir, LOCK_FILE)
        self.fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.seek(0)
            try:
                holder = json.loads(self.fh.read() or "{}")
            except ValueError:
                holder = {}
            self.fh.close()
            who = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('since', '?')}"
            raise UserError(f"--output-dir: {run_dir} is in use by another launch ({who}); wait for it, "
                            f"or choose another --output-dir") from None
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "since": time.strftime("%Y-%m-%d %H:%M:%S")}))
        self.fh.flush()

    def release(self) -> None:
        if not self.fh.closed:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()
