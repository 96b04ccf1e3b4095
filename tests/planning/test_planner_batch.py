"""Batch arithmetic edge cases of the planner (pure)."""
from asr_dist.hardware.inventory import parse_simulate
from asr_dist.planning.model_inspect import inspect_model
from asr_dist.planning.planner import DataStats, make_plan


def test_small_effective_batch_on_many_gpus_keeps_accumulation_one():
    """Effective 32 s over 32 GPUs is less than one longest utterance per rank: one micro-batch
    of the longest utterance each, accumulation 1 (a former bug looped accumulation to 10001)."""
    data = DataStats(count=400, hours=0.26, mean=2.36, p50=1.96, p95=5.53, max=7.81794)
    plan = make_plan(parse_simulate("4x8xA100-80GB"), inspect_model("xls-r-1b"), data, effective_batch_seconds=32)
    c = plan.chosen
    assert c.gradient_accumulation_steps == 1
    assert data.max <= c.micro_batch_seconds < data.max + 0.5
    assert c.micro_batch_seconds * c.gradient_accumulation_steps * c.num_processes >= 32


def test_large_effective_batch_reaches_target_closely():
    data = DataStats(count=10000, hours=14, mean=5, p50=4.5, p95=12, max=20)
    plan = make_plan(parse_simulate("8xA100-80GB"), inspect_model("xls-r-300m"), data, effective_batch_seconds=3200)
    c = plan.chosen
    planned = c.micro_batch_seconds * c.gradient_accumulation_steps * c.num_processes
    assert 3200 <= planned <= 3200 * 1.1
