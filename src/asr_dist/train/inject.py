"""Fault injection through the environment, for tests and for users' dry runs of failure handling.

ASR_DIST_INJECT_OOM raises the out-of-memory error CUDA raises, where a real one would (inside the
model's forward or backward pass); ASR_DIST_INJECT_NONFINITE makes the loss of given steps NaN.
(ASR_DIST_INJECT_SAVE_PAUSE, which holds a checkpoint save, lives with the save: checkpoint.py.)
Everything downstream treats what they raise exactly as the real thing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class OomInjection:
    """ASR_DIST_INJECT_OOM="rank=R,max_batch_seconds=S[,from_step=N][,phase=forward|backward]": on
    rank R, every micro-batch holding more than S seconds of padded audio (from optimizer step N on,
    default 1) raises the out-of-memory error CUDA raises, in its forward pass (default) or in its
    backward pass (training only; evaluation has none)."""

    rank: int
    max_batch_seconds: float
    from_step: int = 1
    phase: str = "forward"

    @classmethod
    def from_env(cls, env=os.environ) -> "OomInjection | None":
        raw = env.get("ASR_DIST_INJECT_OOM", "").strip()
        if not raw:
            return None
        try:
            fields = dict(part.split("=", 1) for part in raw.split(","))
            phase = fields.get("phase", "forward")
            if phase not in ("forward", "backward") or set(fields) - {"rank", "max_batch_seconds", "from_step", "phase"}:
                raise ValueError
            return cls(int(fields["rank"]), float(fields["max_batch_seconds"]), int(fields.get("from_step", 1)), phase)
        except (KeyError, ValueError):
            raise ValueError(f"ASR_DIST_INJECT_OOM: expected 'rank=R,max_batch_seconds=S[,from_step=N]"
                             f"[,phase=forward|backward]', got {raw!r}") from None


def install_oom_injection(inj: OomInjection | None, acc, base_model, next_step: Callable[[], int]) -> None:
    """Hooks on the encoder of this rank's model (when the injection names this rank): raise
    before it runs (forward), or when backward reaches its output (backward)."""
    if inj is None or inj.rank != acc.process_index:
        return
    fps = 16000 / base_model.config.inputs_to_logits_ratio

    def error_for(hidden):
        seconds = hidden.shape[0] * hidden.shape[1] / fps
        if seconds <= inj.max_batch_seconds or next_step() < inj.from_step:
            return None
        return torch.OutOfMemoryError(
            f"CUDA out of memory (injected by ASR_DIST_INJECT_OOM on rank {inj.rank} in {inj.phase}: "
            f"micro-batch of {seconds:.1f} padded seconds > {inj.max_batch_seconds:g})")

    def before_encoder(_module, args):
        error = error_for(args[0])
        if error is not None:
            raise error

    def after_encoder(_module, args, output):
        error, out = error_for(args[0]), output[0]
        if error is not None and out.requires_grad:  # evaluation has no backward

            def fail(_grad):
                raise error

            out.register_hook(fail)

    if inj.phase == "forward":
        base_model.wav2vec2.encoder.register_forward_pre_hook(before_encoder)
    else:
        base_model.wav2vec2.encoder.register_forward_hook(after_encoder)


def nonfinite_steps(env=os.environ) -> set[int]:
    """ASR_DIST_INJECT_NONFINITE="3,4": make the loss of those optimizer steps NaN."""
    raw = env.get("ASR_DIST_INJECT_NONFINITE", "")
    return {int(x) for x in raw.split(",") if x.strip()}
