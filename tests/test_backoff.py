"""The pure backoff: exact limit sequence, probing, splitting without losing a sample."""
import random

import pytest

from asr_dist.train.backoff import BackoffState, bucket_of, padded_seconds, split
from asr_dist.train.inject import OomInjection


def test_halving_sequence_per_bucket_and_longer_ones():
    b = BackoffState(planned_seconds=32.0)
    assert b.on_oom(32.0, longest_seconds=4.2) == 16.0  # bucket 5 and longer
    assert b.limit_for(4.1) == 16.0 and b.limit_for(9.0) == 16.0
    assert b.limit_for(3.0) == 32.0  # shorter shapes keep the plan
    assert b.on_oom(16.0, 4.2) == 8.0
    assert b.on_oom(8.0, 4.2) == 4.2  # floor: one utterance of that length
    assert b.smallest_limit() == 4.2


def test_probe_raises_limits_back_towards_the_plan():
    b = BackoffState(planned_seconds=10.0, probe_after=3, probe_factor=2.0)
    b.on_oom(10.0, 2.0)
    assert [b.on_good_step() for _ in range(3)] == [False, False, True]
    assert b.limit_for(2.0) == 10.0 and not b.limits  # back at the plan: nothing remembered


def test_state_round_trip():
    b = BackoffState(planned_seconds=20.0)
    b.on_oom(20.0, 6.5)
    c = BackoffState(planned_seconds=20.0)
    c.load_state_dict(b.state_dict())
    assert c.limits == b.limits and c.limit_for(7) == 10.0


def test_split_respects_limits_and_keeps_every_sample():
    rng = random.Random(0)
    durations = [rng.uniform(0.5, 8.0) for _ in range(200)]
    b = BackoffState(planned_seconds=40.0)
    b.on_oom(40.0, 3.0)
    group = list(range(60))
    pieces = split(group, durations, b)
    assert sorted(i for p in pieces for i in p) == group
    for p in pieces:
        longest = max(durations[i] for i in p)
        assert len(p) == 1 or padded_seconds(p, durations) <= b.limit_for(longest)


def test_injection_spec():
    assert OomInjection.from_env({"ASR_DIST_INJECT_OOM": "rank=1,max_batch_seconds=6.5"}) == OomInjection(1, 6.5)
    assert OomInjection.from_env({}) is None
    assert OomInjection.from_env({"ASR_DIST_INJECT_OOM": "rank=0,max_batch_seconds=9,from_step=5"}).from_step == 5
    assert OomInjection.from_env({"ASR_DIST_INJECT_OOM": "rank=1,max_batch_seconds=9,phase=backward"}).phase == "backward"
    for bad in ("rank=1", "rank=1,max_batch_seconds=9,phase=optimizer", "rank=1,max_batch_seconds=9,stepp=2"):
        with pytest.raises(ValueError, match="rank=R,max_batch_seconds=S"):
            OomInjection.from_env({"ASR_DIST_INJECT_OOM": bad})
    assert bucket_of(4.0) == 4 and bucket_of(4.01) == 5
