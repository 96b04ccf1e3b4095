"""run_summary.json: what one launch of the loop did (the contract's fields), gathered over ranks."""
from __future__ import annotations

import os

import torch

from .monitor import peak_memory_bytes
from .step import AGREEMENT_SECONDS, gather_rows


def run_summary(t, wall: float, seg_audio: float, resume_path, exit_code: int) -> dict:
    """`t`: the Trainer after its loop. Collective: every rank calls it."""
    acc, c = t.acc, t.counters
    peaks = torch.tensor([peak_memory_bytes(), param_checksum(acc, t.model)], dtype=torch.float64, device=acc.device)
    rows = acc.gather(peaks[None]).tolist() if acc.num_processes > 1 else [peaks.tolist()]
    peaks = [r[0] for r in rows]
    checksums = None if t.plan.strategy.startswith("zero3") else [r[1] for r in rows]
    return {
        "strategy": t.plan.strategy, "world_size": acc.num_processes,
        "num_machines": int(os.environ.get("ASR_DIST_NUM_MACHINES", t.cfg.num_machines)),
        "steps": c.step, "samples_seen": c.samples_seen, "audio_seconds_seen": c.audio_seconds_seen,
        "train_loss_final": c.train_loss,
        "eval": {"wer": c.last_eval.get("wer"), "cer": c.last_eval.get("cer")},
        "best_wer": c.best_wer, "best_step": c.best_step, "oom_backoffs": t.oom_backoffs,
        "oom_limit_seconds": t.executor.backoff.smallest_limit(), "error": t.error,
        "eval_oom_retries": int(sum(r[0] for r in gather_rows(acc, [float(t.eval_oom_retries)]))),
        "skipped": t.skipped, "nonfinite_steps": c.nonfinite_steps,
        "wall_seconds": c.wall_seconds_before,
        "audio_seconds_per_second": seg_audio / wall if wall > 0 else 0.0,
        "peak_memory_bytes": [int(p) for p in peaks],
        "predicted_peak_bytes": t.plan.predicted_peak_bytes,
        "resumed_from": resume_path,
        "micro_batch_seconds": t.plan.micro_batch_seconds,
        "gradient_accumulation_steps": t.plan.accumulation,
        "precision": t.plan.precision,
        "param_checksums": checksums,
        "agreement_seconds_per_step": AGREEMENT_SECONDS[0] / max(1, c.step - t.start_step),
        "exit_code": exit_code,
    }


def peak_memory_scalars(acc) -> dict:
    """memory/peak_bytes_rank<r> for every rank (one small gather per logging interval)."""
    mine = torch.tensor([float(peak_memory_bytes())], dtype=torch.float64, device=acc.device)
    peaks = acc.gather(mine).tolist() if acc.num_processes > 1 else mine.tolist()
    return {f"memory/peak_bytes_rank{r}": p for r, p in enumerate(peaks)}


def param_checksum(acc, model) -> float:
    """Sum of |parameter| over the model, per rank: equal on every rank when replicas are in
    sync (DDP, ZeRO-1/2). ZeRO-3 shards parameters, so there it is not comparable."""
    with torch.no_grad():
        return float(sum(p.detach().double().abs().sum() for p in acc.unwrap_model(model).parameters()))
