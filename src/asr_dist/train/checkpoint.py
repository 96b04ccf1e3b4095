"""Checkpoints: atomic (write to a hidden temporary folder, then rename), rotated, resumable.

checkpoint-<step>/  accelerator.save_state (model, optimizer, scheduler, scaler, RNG of every rank;
                    DeepSpeed engines through their own checkpointing) + trainer_state.json, written
                    last: a folder without it is not a checkpoint.
checkpoint-best/    the model with the lowest eval WER as a transformers folder (loadable directly).
"""
from __future__ import annotations

import json
import os
import re
import shutil

from ..errors import UserError

STATE_FILE = "trainer_state.json"
_CKPT = re.compile(r"^checkpoint-(\d+)$")
TMP_PREFIX = ".tmp-"


def list_checkpoints(run_dir: str) -> list[tuple[int, str]]:
    """Complete checkpoints in run_dir, oldest first."""
    if not os.path.isdir(run_dir):
        return []
    found = []
    for name in os.listdir(run_dir):
        m = _CKPT.match(name)
        path = os.path.join(run_dir, name)
        if m and os.path.isfile(os.path.join(path, STATE_FILE)):
            found.append((int(m.group(1)), path))
    return sorted(found)


def clean_partial(run_dir: str) -> list[str]:
    """Remove temporary folders left by an interrupted save; returns what was removed."""
    removed = []
    if os.path.isdir(run_dir):
        for name in os.listdir(run_dir):
            if name.startswith(TMP_PREFIX):
                shutil.rmtree(os.path.join(run_dir, name), ignore_errors=True)
                removed.append(name)
    return removed


def resolve_resume(resume: str, run_dir: str) -> str | None:
    """'none' -> None; 'auto' -> newest complete checkpoint or None; PATH -> PATH if it is one."""
    if resume in (None, "", "none"):
        return None
    if resume == "auto":
        found = list_checkpoints(run_dir)
        return found[-1][1] if found else None
    if not os.path.isfile(os.path.join(resume, STATE_FILE)):
        raise UserError(f"--resume: {resume} is not a checkpoint folder (no {STATE_FILE} in it)")
    return resume


def read_state(ckpt_dir: str) -> dict:
    with open(os.path.join(ckpt_dir, STATE_FILE), encoding="utf-8") as fh:
        return json.load(fh)


def write_json_atomic(path: str, data: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written (disk full, read-only folder, ...); the previous one stands."""


def describe_write_error(exc: BaseException, folder: str) -> str:
    """A one-line reason for a failed write. torch.save reports a full disk as a RuntimeError
    ("unexpected pos ..."), so the free space of the folder's file system is checked too."""
    import errno

    if isinstance(exc, OSError) and exc.errno is not None:
        return os.strerror(exc.errno)
    try:
        st = os.statvfs(folder)
        if st.f_bavail * st.f_frsize < 16 * 2**20:
            return f"{os.strerror(errno.ENOSPC)} ({st.f_bavail * st.f_frsize / 2**20:.1f} MiB free)"
    except OSError:
        pass
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _agree_on_error(accelerator, error: str | None) -> None:
    """Every rank learns whether any rank failed to write (instead of waiting at a barrier)."""
    from .step import gather_rows

    rows = gather_rows(accelerator, [1.0 if error else 0.0])
    if any(r[0] for r in rows):
        raise CheckpointWriteError(error or f"rank {[r[0] for r in rows].index(1.0)} could not write its part")


def _pause_for_fault_injection(step: int) -> None:
    """ASR_DIST_INJECT_SAVE_PAUSE="step=N,seconds=S": sleep S seconds inside the save of step N,
    between writing the temporary folder and renaming it (tests kill the run in that window)."""
    raw = os.environ.get("ASR_DIST_INJECT_SAVE_PAUSE", "")
    if not raw:
        return
    spec = dict(part.split("=", 1) for part in raw.split(","))
    if int(spec.get("step", step)) == step:
        import sys
        import time

        seconds = float(spec.get("seconds", 60))
        print(f"fault injection: pausing {seconds:g} s inside the write of checkpoint-{step}", file=sys.stderr, flush=True)
        time.sleep(seconds)


def save_checkpoint(accelerator, run_dir: str, step: int, state: dict, keep: int) -> str:
    """Every rank calls this (DeepSpeed saves shards on every rank). An OSError on any rank
    (ENOSPC, EROFS, ...) removes the temporary folder and raises CheckpointWriteError on every
    rank; earlier checkpoints are untouched."""
    final = os.path.join(run_dir, f"checkpoint-{step}")
    tmp = os.path.join(run_dir, f"{TMP_PREFIX}checkpoint-{step}")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    error = None
    try:
        accelerator.save_state(tmp)
        if accelerator.is_main_process:
            write_json_atomic(os.path.join(tmp, STATE_FILE), state)
    except (OSError, RuntimeError) as exc:  # RuntimeError: torch.save on a full disk
        error = f"could not write {final}: {describe_write_error(exc, run_dir)}; the previous checkpoint is intact"
    try:
        _agree_on_error(accelerator, error)
    except CheckpointWriteError:
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if accelerator.is_main_process:
        _pause_for_fault_injection(step)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.replace(tmp, final)
        rotate(run_dir, keep)
    accelerator.wait_for_everyone()
    return final


def rotate(run_dir: str, keep: int) -> None:
    for _, path in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)


def save_model_folder(accelerator, model, processor, folder: str, extra: dict | None = None) -> None:
    """A transformers-loadable folder (config.json, weights, processor files), written atomically.
    Every rank calls this: ZeRO-3 weights are gathered into one state dict."""
    state_dict = accelerator.get_state_dict(model)
    error = None
    if accelerator.is_main_process:
        parent, name = os.path.split(os.path.abspath(folder))
        tmp = os.path.join(parent, f"{TMP_PREFIX}{name}")
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            accelerator.unwrap_model(model).save_pretrained(tmp, state_dict=state_dict, safe_serialization=True)
            processor.save_pretrained(tmp)
            if extra:
                write_json_atomic(os.path.join(tmp, "best.json"), extra)
            old = os.path.join(parent, f"{TMP_PREFIX}old-{name}")
            if os.path.exists(folder):
                os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        except (OSError, RuntimeError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            error = f"could not write {folder}: {describe_write_error(exc, parent)}"
    _agree_on_error(accelerator, error)


def save_final_model(accelerator, model, processor, run_dir: str) -> None:
    """The final model at the run folder's root: written to a temporary folder, then each file
    moved into place (so a crash never leaves a half-written weights file at the root)."""
    tmp = os.path.join(run_dir, f"{TMP_PREFIX}final")
    save_model_folder(accelerator, model, processor, tmp)
    if accelerator.is_main_process:
        for name in os.listdir(tmp):  # renames within one folder: no space needed
            os.replace(os.path.join(tmp, name), os.path.join(run_dir, name))
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
