"""Generated configs load with accelerate's and DeepSpeed's own loaders."""
from __future__ import annotations

import sys
from pathlib import Path

# the planner tests own the shared factories (xls-r summaries, torch-blocking fixture)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "planning"))

import json

import pytest
import yaml

from asr_dist.hardware.inventory import cpu_inventory, parse_simulate
from asr_dist.planning.planner import DataStats, make_plan
from asr_dist.writers import accelerate_config, config_name, deepspeed_config

from test_planner_examples import XLSR

DATA = DataStats(count=1000, hours=1.4, mean=5.0, p50=4.5, p95=12.0, max=20.0)


def _summary(name):
    from asr_dist.planning.model_inspect import ModelSummary

    return ModelSummary(name=name, params_feature_encoder=4210176, num_heads=16, conv_dim=(512,) * 7,
                        conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
                        frames_per_second=50.0, vocab_size=32, **XLSR[name])


PLANS = [("8xA100-80GB", "auto"), ("1xA100-80GB", "auto"), ("8xV100-16GB", "zero2"),
         ("8xV100-16GB", "zero3"), ("1xT4-16GB", "zero2-offload"), ("2x8xH100-80GB", "zero3-offload")]


@pytest.mark.parametrize("spec,strategy", PLANS)
def test_accelerate_loader(tmp_path, spec, strategy):
    from accelerate.commands.config.config_args import load_config_from_file

    p = make_plan(parse_simulate(spec), _summary("xls-r-1b"), DATA, effective_batch_seconds=1600,
                  strategy=strategy)
    ds = deepspeed_config(p)
    ds_path = None
    if ds:
        ds_path = tmp_path / f"{config_name(p)}.json"
        ds_path.write_text(json.dumps(ds))
    cfg = accelerate_config(p, main_process_ip="127.0.0.1", deepspeed_config_file=str(ds_path) if ds_path else None)
    path = tmp_path / f"{config_name(p)}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    loaded = load_config_from_file(str(path))
    assert loaded.num_processes == p.chosen.num_processes
    assert str(loaded.distributed_type).split(".")[-1] == cfg["distributed_type"]


def test_accelerate_loader_cpu_ddp(tmp_path):
    from accelerate.commands.config.config_args import load_config_from_file

    p = make_plan(cpu_inventory(2, 24 * 2**30, "box", ""), _summary("xls-r-300m"), DATA,
                  effective_batch_seconds=32, num_processes=2, strategy="ddp")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(accelerate_config(p)))
    assert load_config_from_file(str(path)).num_processes == 2


@pytest.mark.parametrize("spec,strategy", [p for p in PLANS if p[1] != "auto"])
def test_deepspeed_loader(monkeypatch, tmp_path, spec, strategy):
    from deepspeed.runtime.config import DeepSpeedConfig

    p = make_plan(parse_simulate(spec), _summary("xls-r-1b"), DATA, effective_batch_seconds=1600,
                  strategy=strategy)
    ds = deepspeed_config(p)
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    path = tmp_path / "ds.json"
    path.write_text(json.dumps(ds))
    conf = DeepSpeedConfig(str(path))
    assert conf.zero_optimization_stage == ds["zero_optimization"]["stage"]
    assert conf.gradient_accumulation_steps == p.chosen.gradient_accumulation_steps
    assert conf.train_micro_batch_size_per_gpu == 1
    assert conf.zero_allow_untested_optimizer
    assert conf.float16_config.enabled == (p.chosen.precision == "fp16")
    assert conf.bfloat16_config.enabled == (p.chosen.precision == "bf16")
