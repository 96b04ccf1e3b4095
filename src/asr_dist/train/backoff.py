"""OOM-driven micro-batch backoff: the pure part (no torch, no collectives).

The sampler decides which utterances make up an optimizer step (from the plan's micro-batch and
accumulation); the backoff decides how that step is cut into micro-batches at run time. A limit
of padded audio seconds is kept per duration bucket (the longest utterance of a micro-batch,
rounded up to whole seconds): an out-of-memory error halves the limit of that bucket and of every
longer one; after `probe_after` good steps the limits are raised again by `probe_factor`, never
above the plan's micro-batch. Splitting never changes which utterances a step sees, and the loss
weights make the gradient independent of the cut, so the effective batch and the samples are
exactly those of the plan.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field



def bucket_of(longest_seconds: float) -> int:
    return max(1, math.ceil(longest_seconds - 1e-9))


def padded_seconds(indices: list[int], durations: list[float]) -> float:
    return len(indices) * max(durations[i] for i in indices) if indices else 0.0


def split(indices: list[int], durations: list[float], limit: "BackoffState") -> list[list[int]]:
    """Cut one planned micro-batch into pieces that respect the limits (by duration, greedily)."""
    order = sorted(indices, key=lambda i: durations[i])
    out: list[list[int]] = []
    current: list[int] = []
    for i in order:
        trial = current + [i]
        if current and padded_seconds(trial, durations) > limit.limit_for(durations[i]):
            out.append(current)
            trial = [i]
        current = trial
    if current:
        out.append(current)
    return out


@dataclass
class BackoffState:
    planned_seconds: float
    probe_after: int = 200
    probe_factor: float = 1.25
    limits: dict[int, float] = field(default_factory=dict)  # bucket -> limit (absent: planned)
    good_steps: int = 0

    def limit_for(self, longest_seconds: float) -> float:
        return self.limits.get(bucket_of(longest_seconds), self.planned_seconds)

    def on_oom(self, failed_padded_seconds: float, longest_seconds: float) -> float:
        """Halve the limit for this shape and every longer one; returns the new limit. The
        floor is one utterance (the longest), below which nothing can be cut."""
        new = max(longest_seconds, failed_padded_seconds / 2.0)
        self.adopt(new, bucket_of(longest_seconds))
        return new

    def adopt(self, new_limit: float, from_bucket: int) -> None:
        """Apply a limit learned on any rank (so every rank cuts alike)."""
        top = max([from_bucket, *self.limits]) if self.limits else from_bucket
        top = max(top, bucket_of(self.planned_seconds))
        for b in range(from_bucket, top + 1):
            self.limits[b] = min(self.limits.get(b, self.planned_seconds), new_limit)
        self.good_steps = 0

    def on_good_step(self) -> bool:
        """Count a step without OOM; after probe_after of them raise the limits. True if raised."""
        if not self.limits:
            return False
        self.good_steps += 1
        if self.good_steps < self.probe_after:
            return False
        self.good_steps = 0
        self.limits = {b: min(self.planned_seconds, v * self.probe_factor) for b, v in self.limits.items()}
        self.limits = {b: v for b, v in self.limits.items() if v < self.planned_seconds}
        return True

    def smallest_limit(self) -> float:
        return min(self.limits.values(), default=self.planned_seconds)

    def state_dict(self) -> dict:
        return {"planned_seconds": self.planned_seconds, "limits": {str(k): v for k, v in self.limits.items()},
                "good_steps": self.good_steps}

    def load_state_dict(self, d: dict) -> None:
        self.limits = {int(k): float(v) for k, v in d.get("limits", {}).items()}
        self.good_steps = int(d.get("good_steps", 0))
