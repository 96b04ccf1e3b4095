import random

from asr_dist.data.sampler import DurationBatchSampler, epoch_batches, padding_fraction


def _skewed(n=3000, seed=0):
    rng = random.Random(seed)
    return [min(20.0, max(0.5, rng.lognormvariate(1.35, 0.45))) for _ in range(n)]


def test_budget_respected_and_every_sample_once_per_epoch():
    d = _skewed()
    batches = epoch_batches(d, 40.0, seed=1, epoch=0, world_size=1)
    assert all(len(b) * max(d[i] for i in b) <= 40.0 or len(b) == 1 for b in batches)
    seen = [i for b in batches for i in b]
    assert sorted(seen) == list(range(len(d)))


def test_deterministic_per_seed_and_epoch():
    d = _skewed(500)
    assert epoch_batches(d, 30.0, 3, 0) == epoch_batches(d, 30.0, 3, 0)
    assert epoch_batches(d, 30.0, 3, 0) != epoch_batches(d, 30.0, 3, 1)


def test_two_ranks_get_disjoint_equal_streams():
    d = _skewed(500)
    r0 = DurationBatchSampler(d, 30.0, seed=5, world_size=2, rank=0)
    r1 = DurationBatchSampler(d, 30.0, seed=5, world_size=2, rank=1)
    n = len(epoch_batches(d, 30.0, 5, 0, world_size=2)) // 2
    a = [r0.next_group() for _ in range(n)]
    b = [r1.next_group() for _ in range(n)]
    assert not {i for x in a for i in x} & {i for x in b for i in x}
    assert r0.state == r1.state


def test_resume_continues_exactly():
    d = _skewed(400)
    full = DurationBatchSampler(d, 25.0, seed=2)
    stream = [full.next_group() for _ in range(200)]  # crosses an epoch boundary
    first = DurationBatchSampler(d, 25.0, seed=2)
    head = [first.next_group() for _ in range(77)]
    resumed = DurationBatchSampler(d, 25.0, seed=2)
    resumed.load_state_dict(first.state_dict())
    assert head + [resumed.next_group() for _ in range(123)] == stream


def test_padding_small_against_random_batches():
    d = _skewed()
    ours = padding_fraction(epoch_batches(d, 60.0, seed=0, epoch=0), d)
    rng = random.Random(0)
    order = list(range(len(d)))
    rng.shuffle(order)
    size = 8
    random_batches = [order[i:i + size] for i in range(0, len(order), size)]
    assert ours <= 0.05
    assert padding_fraction(random_batches, d) >= 0.30
