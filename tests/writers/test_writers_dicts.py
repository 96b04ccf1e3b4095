"""Writers are pure (torch blocked) and encode the facts NOTES-machines.md lists."""
from __future__ import annotations

import sys
from pathlib import Path

# the planner tests own the shared factories (xls-r summaries, torch-blocking fixture)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "planning"))

import pytest

from test_planner_examples import plan, pure  # noqa: F401  (fixture and helper, torch blocked)


def test_names(pure):  # noqa: F811
    w = pure["writers"]
    assert w.config_name(plan(pure, "xls-r-1b", "8xV100-16GB")) == "zero2-8xV100-16GB"
    assert w.config_name(plan(pure, "xls-r-1b", "4x8xH100-80GB", strategy="zero3-offload")) \
        == "zero3-offload-4x8xH100-80GB"
    assert w.config_name(plan(pure, "xls-r-1b", "1xA100-80GB")) == "single-1xA100-80GB"
    assert w.config_name(plan(pure, "xls-r-300m", "8xA100-80GB", num_processes=4)) == "ddp-4xA100-80GB"


def test_accelerate_dicts(pure):  # noqa: F811
    w = pure["writers"]
    ddp = w.accelerate_config(plan(pure, "xls-r-300m", "8xA100-80GB"))
    assert (ddp["distributed_type"], ddp["num_processes"], ddp["mixed_precision"]) == ("MULTI_GPU", 8, "bf16")
    assert ddp["use_cpu"] is False and "deepspeed_config" not in ddp and "main_process_ip" not in ddp
    single = w.accelerate_config(plan(pure, "xls-r-1b", "1xA100-80GB"))
    assert single["distributed_type"] == "NO" and single["num_processes"] == 1
    z = plan(pure, "xls-r-1b", "2x8xV100-16GB")
    cfg = w.accelerate_config(z, machine_rank=1, main_process_ip="10.0.0.1",
                              deepspeed_config_file="deepspeed_configs/x.json")
    assert cfg["distributed_type"] == "DEEPSPEED" and "mixed_precision" not in cfg
    assert cfg["deepspeed_config"] == {"deepspeed_config_file": "deepspeed_configs/x.json",
                                       "zero3_init_flag": False}
    assert (cfg["num_machines"], cfg["num_processes"], cfg["machine_rank"]) == (2, 16, 1)
    assert cfg["main_process_ip"] == "10.0.0.1" and cfg["main_process_port"] == 29500
    inline = w.accelerate_config(plan(pure, "xls-r-1b", "8xA100-80GB", strategy="zero3-offload"))
    assert inline["deepspeed_config"]["offload_param_device"] == "cpu"
    assert inline["mixed_precision"] == "bf16" and inline["deepspeed_config"]["zero3_init_flag"]


def test_cpu_ddp_is_multi_gpu(pure):  # noqa: F811
    inv = pure["hardware.inventory"].cpu_inventory(2, 24 * 2**30, "box", "")
    p = pure["planning.planner"]
    from test_planner_examples import summary

    data = p.DataStats(count=60, hours=0.05, mean=3.0, p50=3.0, p95=4.0, max=4.5)
    tiny = summary(pure, "xls-r-300m")
    two = p.make_plan(inv, tiny, data, effective_batch_seconds=32, num_processes=2,
                      strategy="ddp")
    cfg = pure["writers"].accelerate_config(two)
    assert cfg["distributed_type"] == "MULTI_GPU" and cfg["num_processes"] == 2
    assert cfg["mixed_precision"] == "no"


@pytest.mark.parametrize("strategy,stage", [("zero2", 2), ("zero3", 3), ("zero2-offload", 2),
                                            ("zero3-offload", 3)])
def test_deepspeed_dicts(pure, strategy, stage):  # noqa: F811
    w = pure["writers"]
    p = plan(pure, "xls-r-1b", "8xV100-16GB", strategy=strategy)
    ds = w.deepspeed_config(p)
    z = ds["zero_optimization"]
    assert z["stage"] == stage
    assert ("offload_optimizer" in z) == strategy.endswith("offload")
    assert ("offload_param" in z) == (strategy == "zero3-offload")
    assert ds["fp16"]["enabled"] and not ds["bf16"]["enabled"] and ds["fp16"]["loss_scale"] == 0
    assert ds["gradient_accumulation_steps"] == p.chosen.gradient_accumulation_steps
    assert ds["train_micro_batch_size_per_gpu"] == 1
    assert ds["zero_allow_untested_optimizer"] and ds["zero_force_ds_cpu_optimizer"] is False
    if stage == 3:
        assert z["stage3_gather_16bit_weights_on_model_save"] is True
    assert w.deepspeed_config(plan(pure, "xls-r-300m", "8xA100-80GB")) is None
