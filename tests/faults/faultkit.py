"""Running `asr-dist launch` in the background and watching its output, for the fault tests."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time


class Launch:
    """A real `asr-dist launch` subprocess (own session) whose stderr is collected as it comes."""

    def __init__(self, args, cwd, env=None):
        self.proc = subprocess.Popen([sys.executable, "-m", "asr_dist.cli.main", "launch", *map(str, args)],
                                     cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.err = ""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for chunk in iter(lambda: self.proc.stderr.read1(4096), b""):
            with self._lock:
                self.err += chunk.decode(errors="replace")

    def step(self) -> int:
        """The training step the progress bar shows last (0 before it starts)."""
        with self._lock:
            found = re.findall(r"train:.*?\|\s*(\d+)/\d+", self.err)
        return int(found[-1]) if found else 0

    def wait_for(self, predicate, timeout=180.0, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"run ended (code {self.proc.returncode}) before {what}:\n{self.err[-3000:]}")
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}:\n{self.err[-3000:]}")

    def wait(self, timeout=300.0) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def descendants(self) -> dict[int, list[bytes]]:
        """pid -> command line of every process below the launcher."""
        parent, cmds = {}, {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    parent[int(pid)] = int(fh.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    cmds[int(pid)] = fh.read().split(b"\0")
            except OSError:
                continue
        found = {}
        for pid in parent:
            p = pid
            while p in parent and p != self.proc.pid and p > 1:
                p = parent[p]
            if p == self.proc.pid and pid != self.proc.pid:
                found[pid] = cmds.get(pid, [])
        return found

    def ranks(self) -> list[int]:
        """Training processes of this launch (below accelerate's launcher, running asr_dist.train)."""
        return sorted(pid for pid, cmd in self.descendants().items()
                      if b"asr_dist.train" in cmd and b"asr_dist.launching.accelerate_main" not in cmd)

    def kill_all(self):
        """kill -9 of the whole run: the launcher and everything it started."""
        for pid in [*self.descendants(), self.proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
