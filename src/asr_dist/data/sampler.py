"""Micro-batches sized by audio seconds, bucketed by duration so padding stays small.

Pure and rank-aware by argument (no process group needed): every rank builds the same global list
of micro-batches for (seed, epoch), rank r takes every world_size-th one, and the list is cut to
a multiple of world_size so every rank sees the same number per epoch. The position is a
(epoch, cursor) pair, so a run resumes mid-epoch without repeating or skipping a sample.

Budget = padded seconds: len(batch) x longest utterance, since that is what a padded tensor
(and so activation memory) costs.
"""
from __future__ import annotations

import random
from dataclasses import dataclass


def pack_by_budget(order: list[int], durations: list[float], budget_seconds: float) -> list[list[int]]:
    """Greedy packing of indices (already sorted by duration) into batches whose padded size
    (count x longest) stays within budget. An utterance longer than the budget gets its own batch."""
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0.0
    for i in order:
        d = durations[i]
        new_longest = max(longest, d)
        if current and new_longest * (len(current) + 1) > budget_seconds:
            batches.append(current)
            current, new_longest = [], d
        current.append(i)
        longest = new_longest
    if current:
        batches.append(current)
    return batches


def epoch_batches(durations: list[float], budget_seconds: float, seed: int, epoch: int,
                  world_size: int = 1, bucket_size: int = 2048) -> list[list[int]]:
    """The global micro-batch list of one epoch, a multiple of world_size long.

    Shuffle, cut into buckets of `bucket_size` utterances, sort each bucket by duration, pack,
    then shuffle the batches (so consecutive steps mix short and long ones)."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(durations)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket_size):
        bucket = sorted(order[start:start + bucket_size], key=lambda i: durations[i])
        batches.extend(pack_by_budget(bucket, durations, budget_seconds))
    rng.shuffle(batches)
    usable = len(batches) - len(batches) % world_size
    return batches[:usable]


@dataclass
class SamplerState:
    epoch: int = 0
    cursor: int = 0  # micro-batches of this epoch's global list already consumed (all ranks)


class DurationBatchSampler:
    """Endless stream of one rank's micro-batches; `state` is what a checkpoint saves."""

    def __init__(self, durations: list[float], budget_seconds: float, *, seed: int,
                 world_size: int = 1, rank: int = 0, state: SamplerState | None = None):
        if not durations:
            raise ValueError("no utterances to sample from")
        self.durations = list(durations)
        self.budget_seconds = float(budget_seconds)
        self.seed, self.world_size, self.rank = seed, world_size, rank
        self.state = state or SamplerState()
        self._cache: tuple[int, list[list[int]]] | None = None

    def _batches(self, epoch: int) -> list[list[int]]:
        if self._cache is None or self._cache[0] != epoch:
            batches = epoch_batches(self.durations, self.budget_seconds, self.seed, epoch, self.world_size)
            if not batches:
                raise ValueError(f"fewer micro-batches ({len(batches)}) than ranks ({self.world_size})")
            self._cache = (epoch, batches)
        return self._cache[1]

    def next_group(self) -> list[int]:
        """This rank's next micro-batch; all ranks advance together by world_size."""
        batches = self._batches(self.state.epoch)
        if self.state.cursor >= len(batches):
            self.state = SamplerState(self.state.epoch + 1, 0)
            batches = self._batches(self.state.epoch)
        batch = batches[self.state.cursor + self.rank]
        self.state = SamplerState(self.state.epoch, self.state.cursor + self.world_size)
        return batch

    def state_dict(self) -> dict:
        return {"epoch": self.state.epoch, "cursor": self.state.cursor,
                "budget_seconds": self.budget_seconds, "seed": self.seed, "world_size": self.world_size}

    def load_state_dict(self, d: dict) -> None:
        self.state = SamplerState(int(d["epoch"]), int(d["cursor"]))


def padding_fraction(batches: list[list[int]], durations: list[float]) -> float:
    """Padded samples / total samples in the batch tensors."""
    total = sum(len(b) * max(durations[i] for i in b) for b in batches)
    real = sum(durations[i] for b in batches for i in b)
    return 1.0 - real / total if total else 0.0
