"""Out-of-memory errors that cannot be recovered inside the step, carried across a restart.

Under ZeRO-3 the ranks all-gather parameters inside forward, and under any DeepSpeed stage they
reduce gradients inside backward: when one rank runs out of memory there, the others are already
inside a collective it will never join, so the step cannot be re-cut in place as it is for DDP
and ZeRO-1/2 forwards (train/step.py). Instead the failing rank writes what it learned (the
micro-batch that failed and the halved limit) to `oom-restart-rank<R>.json` in the run folder and
leaves; `asr-dist launch` restarts from the last checkpoint (api.launch); the restarted ranks
adopt the recorded limits before their first step and log the event in `oom_backoffs`. The same
samples are replayed from the checkpoint, so samples and effective batch stay those of the plan.
"""
from __future__ import annotations

import glob
import json
import os
import sys

RECORD_PATTERN = "oom-restart-rank*.json"
MAX_RESTARTS = 4  # each one halves a limit; more than this and the plan is far off
EVENT_KEYS = ("step", "rank", "from_batch_seconds", "to_batch_seconds")


def record_path(run_dir: str, rank: int) -> str:
    return os.path.join(run_dir, RECORD_PATTERN.replace("*", str(rank)))


def write_record(run_dir: str, event: dict, fatal: str = "") -> str:
    """Written by the failing rank alone (atomic: tmp + rename)."""
    from .checkpoint import write_json_atomic

    path = record_path(run_dir, event["rank"])
    write_json_atomic(path, {**event, "fatal": fatal or None})
    return path


def read_records(run_dir: str) -> list[dict]:
    """Every rank's record, by rank (an unreadable one is skipped: a rank killed mid-write)."""
    records = []
    for path in glob.glob(os.path.join(run_dir, RECORD_PATTERN)):
        try:
            with open(path, encoding="utf-8") as fh:
                records.append(json.load(fh))
        except (OSError, ValueError):
            continue
    return sorted(records, key=lambda r: r.get("rank", 0))


def clear_records(run_dir: str) -> None:
    for path in glob.glob(os.path.join(run_dir, RECORD_PATTERN)):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def describe(record: dict) -> str:
    return (f"rank {record['rank']} ran out of memory in step {record['step']} ({record.get('phase', 'forward')}) "
            f"on a {record['from_batch_seconds']:g} s micro-batch while the other ranks were inside a collective")


def restart_message(records: list[dict], checkpoint: str | None) -> str:
    limit = min(r["to_batch_seconds"] for r in records)
    start = f"from {checkpoint}" if checkpoint else "from the start (no checkpoint yet)"
    return (f"{'; '.join(describe(r) for r in records)}. Restarting {start} with micro-batches of at most "
            f"{limit:g} s (same samples, same effective batch)")


def event_of(record: dict) -> dict:
    """The run_summary.json `oom_backoffs` entry of a record."""
    return {k: record[k] for k in EVENT_KEYS}


def record_and_say(run_dir: str, exc) -> str:
    """On the failing rank (exc: step.OomNeedsRestart): write its record, say so; the error text."""
    path = write_record(run_dir, exc.event, exc.fatal)
    then = ("not restarted: even one utterance does not fit" if exc.fatal else
            f"the limit {exc.event['to_batch_seconds']:g} s is recorded in {path}; `asr-dist launch` restarts "
            f"from the last checkpoint with it (or: asr-dist launch --output-dir {run_dir} --resume auto)")
    print(f"{exc}; {then}", file=sys.stderr, flush=True)
    return str(exc)


def adopt_records(trainer, monitor) -> None:
    """At the start of a run, on every rank: the limits recorded by ranks that left, adopted for
    every shape (not only the failed one and longer: each further OOM would cost a restart) and
    logged as `oom_backoffs` events; then the records go."""
    for r in [r for r in read_records(trainer.run_dir) if not r.get("fatal")]:
        trainer.executor.backoff.adopt(r["to_batch_seconds"], 1)
        trainer.oom_backoffs.append(event_of(r))
        monitor.line(f"step {r['step']}: {describe(r)}; every rank now cuts micro-batches to "
                     f"{r['to_batch_seconds']:g} s (same samples, same effective batch)")
        monitor.scalars(r["step"], {"oom/limit_seconds": r["to_batch_seconds"]})
    trainer.acc.wait_for_everyone()  # every rank has read them before they go
    if trainer.acc.is_main_process:
        clear_records(trainer.run_dir)
