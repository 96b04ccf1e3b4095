"""Start the launch command as a child process and forward signals to the training ranks.

The child (`accelerate launch`) runs in its own session. SIGTERM/SIGUSR1/SIGINT sent to us are
forwarded to the training processes of that session (not to accelerate's launcher, whose default
SIGUSR1 action would kill it before the ranks have written their checkpoint); the ranks checkpoint
at the next step boundary and exit, and accelerate's launcher then exits by itself.
"""
from __future__ import annotations

import os
import signal
import subprocess

from .command import LaunchCommand

FORWARDED = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)


def _session_members(sid: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:  # field 6 of stat (session) after state, ppid, pgrp
                pids.append(int(name))
        except (OSError, IndexError, ValueError):
            continue
    return pids


def _ignore_stop_signals() -> None:
    """In the child before exec: accelerate's single-process launcher has no handler, so a
    SIGTERM sent to every process of a job (scancel, preemption) would kill it before the rank
    has written its checkpoint. Ignored dispositions survive exec; the training ranks install
    their own handlers (train/loop.py) and torchrun installs its own for SIGTERM."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)


def run(command: LaunchCommand) -> int:
    env = {**os.environ, **{k: str(v) for k, v in command.env.items()}}
    proc = subprocess.Popen(list(command.argv), env=env, start_new_session=True, preexec_fn=_ignore_stop_signals)

    def forward(signum, _frame):
        sig = signal.SIGTERM if signum == signal.SIGINT else signum
        targets = [p for p in _session_members(proc.pid) if p != proc.pid] or [proc.pid]
        for pid in targets:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        while True:
            try:
                return proc.wait()
            except InterruptedError:
                continue
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
