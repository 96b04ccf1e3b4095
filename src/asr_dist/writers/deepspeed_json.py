"""Plan -> DeepSpeed config dict (pure); None for single/DDP.

train_micro_batch_size_per_gpu is 1: DeepSpeed needs an integer sample count, but our sampler
batches by audio seconds (a micro-batch is up to `micro_batch_seconds` of padded audio, a varying
number of utterances). With 1, "one micro-batch" is one batch from our sampler; DeepSpeed only
uses the number for its train_batch_size bookkeeping and throughput logs, and Accelerate, which
cannot infer it from a batch_sampler, takes it from here. Bucket sizes are the ones memory.py
counts (`zero_knobs`), so the plan's buffers are what this config allocates.
"""
from __future__ import annotations

from ..planning.memory import zero_knobs
from .accelerate_yaml import ZERO_STAGE

STEPS_PER_PRINT = 10**9  # quiet: the training loop does its own logging


def _precision(precision: str) -> dict:
    if precision == "bf16":
        return {"bf16": {"enabled": True}, "fp16": {"enabled": False}}
    if precision == "fp16":
        return {"fp16": {"enabled": True, "loss_scale": 0, "initial_scale_power": 16,
                         "loss_scale_window": 1000, "hysteresis": 2, "min_loss_scale": 1},
                "bf16": {"enabled": False}}
    return {"fp16": {"enabled": False}, "bf16": {"enabled": False}}


def _zero(plan) -> dict:
    c = plan.chosen
    stage = ZERO_STAGE[c.strategy]
    knobs = zero_knobs(plan.model.hidden_size)
    zero = {"stage": stage, "overlap_comm": True, "contiguous_gradients": True,
            "reduce_scatter": True, "reduce_bucket_size": knobs.reduce_bucket_size}
    if c.strategy.endswith("offload"):
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if c.strategy == "zero3-offload":
        zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    if stage == 2:
        zero["allgather_bucket_size"] = knobs.allgather_bucket_size
    else:
        zero["reduce_bucket_size"] = knobs.stage3_reduce_bucket_size
        zero.update({
            "stage3_prefetch_bucket_size": knobs.stage3_prefetch_bucket_size,
            "stage3_param_persistence_threshold": knobs.stage3_param_persistence_threshold,
            "stage3_gather_16bit_weights_on_model_save": True,
        })
    return zero


def deepspeed_config(plan) -> dict | None:
    c = plan.chosen
    if c.strategy not in ZERO_STAGE:
        return None
    return {
        "train_micro_batch_size_per_gpu": 1,
        "gradient_accumulation_steps": int(c.gradient_accumulation_steps),
        "gradient_clipping": 1.0,
        "steps_per_print": STEPS_PER_PRINT,
        "wall_clock_breakdown": False,
        "zero_allow_untested_optimizer": True,
        "zero_force_ds_cpu_optimizer": False,
        **_precision(c.precision),
        "zero_optimization": _zero(plan),
    }
