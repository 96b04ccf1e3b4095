"""The planner with torch (and every other heavy library) blocked: it must be pure."""
from __future__ import annotations

import importlib
import sys
import time

import pytest

BLOCKED = ("torch", "transformers", "deepspeed", "accelerate", "pynvml")

# inspect_model(...) on this transformers version; test_model_inspect.py keeps these in sync
XLSR = {
    "xls-r-300m": dict(params_total=315471520, params_trainable=311261344, hidden_size=1024,
                       num_layers=24, intermediate_size=4096, largest_layer_params=8388736,
                       pos_conv_params=8389760),
    "xls-r-1b": dict(params_total=962538400, params_trainable=958328224, hidden_size=1280,
                     num_layers=48, intermediate_size=5120, largest_layer_params=13107328,
                     pos_conv_params=13108608),
    "xls-r-2b": dict(params_total=2159321120, params_trainable=2155110944, hidden_size=1920,
                     num_layers=48, intermediate_size=7680, largest_layer_params=29491328,
                     pos_conv_params=29493248),
}


class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: the planning core must be pure")
        return None


@pytest.fixture
def pure():
    """Fresh imports of the pure modules with torch & co. unimportable."""
    saved = {k: v for k, v in sys.modules.items()
             if k.split(".")[0] in BLOCKED + ("asr_dist",)}
    for k in saved:
        del sys.modules[k]
    blocker = _Blocker()
    sys.meta_path.insert(0, blocker)
    try:
        mods = {name: importlib.import_module(f"asr_dist.{name}") for name in (
            "hardware.inventory", "planning.planner", "planning.memory", "planning.activations",
            "writers")}
        yield mods
    finally:
        sys.meta_path.remove(blocker)
        for k in [k for k in sys.modules if k.split(".")[0] in BLOCKED + ("asr_dist",)]:
            del sys.modules[k]
        sys.modules.update(saved)


def summary(pure, name: str):
    from_dict = pure["planning.planner"].ModelSummary
    return from_dict(name=name, params_feature_encoder=4210176, num_heads=16,
                     conv_dim=(512,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2),
                     conv_stride=(5, 2, 2, 2, 2, 2, 2), frames_per_second=50.0, vocab_size=32,
                     feature_encoder_frozen=True, do_stable_layer_norm=True, **XLSR[name])


DATA = dict(count=100_000, hours=138.9, mean=5.0, p50=4.5, p95=12.0, max=20.0)
EFFECTIVE = 1600.0  # 320 utterances of 5 s per optimizer step


def plan(pure, model, spec, **kw):
    p = pure["planning.planner"]
    inv = pure["hardware.inventory"].parse_simulate(spec)
    data = p.DataStats(**{**DATA, **kw.pop("data", {})})
    return p.make_plan(inv, summary(pure, model), data,
                       effective_batch_seconds=kw.pop("effective", EFFECTIVE), **kw)


def test_torch_really_blocked(pure):
    with pytest.raises(ImportError):
        importlib.import_module("torch")
    assert "torch" not in sys.modules


@pytest.mark.parametrize("model,spec,expected", [
    ("xls-r-1b", "1xA100-80GB", "single"),
    ("xls-r-300m", "8xA100-80GB", "ddp"),
    ("xls-r-1b", "8xV100-16GB", "zero2"),
])
def test_examples(pure, model, spec, expected):
    result = plan(pure, model, spec)
    assert result.chosen.strategy == expected, result.render_table()
    assert result.chosen.fits


def test_1b_on_t4_needs_cpu_offload(pure):
    result = plan(pure, "xls-r-1b", "1xT4-16GB")
    assert result.chosen.strategy in ("zero2-offload", "zero3-offload")
    assert result.chosen.precision == "fp16"  # T4 has no bf16
    assert result.chosen.cpu_bytes_per_node > 0


def test_v100_ddp_loses_on_model_states(pure):
    result = plan(pure, "xls-r-1b", "8xV100-16GB")
    ddp = next(c for c in result.candidates if c.strategy == "ddp")
    assert not ddp.fits and "model states" in ddp.reason
    assert result.chosen.precision == "fp16"


def test_batch_arithmetic(pure):
    for model, spec in [("xls-r-1b", "8xV100-16GB"), ("xls-r-300m", "8xA100-80GB"),
                        ("xls-r-1b", "1xT4-16GB")]:
        c = plan(pure, model, spec).chosen
        product = c.micro_batch_seconds * c.gradient_accumulation_steps * c.num_processes
        assert product >= EFFECTIVE - 1e-6
        assert product <= EFFECTIVE * 1.05
        assert c.micro_batch_seconds >= DATA["max"]


def test_itemised_bytes_add_up(pure):
    for c in plan(pure, "xls-r-1b", "8xV100-16GB").candidates:
        b = c.bytes_per_gpu
        assert b.total == b.weights + b.gradients + b.optimizer + b.activations + b.buffers
        assert c.comm_cost in ("none", "low", "medium", "high")


def test_nothing_fits_names_requirement_and_hardware(pure):
    errors = importlib.import_module("asr_dist.errors")
    with pytest.raises(errors.UserError) as info:
        plan(pure, "xls-r-2b", "1xT4-16GB", data={"max": 90.0}, gradient_checkpointing="off")
    text = str(info.value)
    assert "GiB per GPU" in text and "would fit" in text, text


def test_forced_strategy_is_chosen_with_warning(pure):
    result = plan(pure, "xls-r-1b", "8xV100-16GB", strategy="ddp")
    assert result.chosen.strategy == "ddp" and not result.chosen.fits
    assert any("WARNING" in n for n in result.notes)


def test_cpu_only(pure):
    inv = pure["hardware.inventory"].cpu_inventory(2, 24 * 2**30, "box", "no GPU")
    p = pure["planning.planner"]
    tiny = p.ModelSummary(name="tiny", params_total=94544, params_trainable=87792,
                          params_feature_encoder=6752, hidden_size=64, num_layers=2, num_heads=4,
                          intermediate_size=128, conv_dim=(32, 32, 32), conv_kernel=(10, 3, 3),
                          conv_stride=(5, 4, 4), frames_per_second=200.0, vocab_size=32,
                          largest_layer_params=16400, pos_conv_params=16464)
    data = p.DataStats(count=60, hours=0.05, mean=3.0, p50=3.0, p95=4.0, max=4.5)
    one = p.make_plan(inv, tiny, data, effective_batch_seconds=32)
    assert (one.chosen.strategy, one.chosen.precision, one.chosen.num_processes) == ("single", "fp32", 1)
    two = p.make_plan(inv, tiny, data, effective_batch_seconds=32, num_processes=2)
    assert two.chosen.strategy == "ddp" and two.chosen.num_processes == 2
    forced = p.make_plan(inv, tiny, data, effective_batch_seconds=32, num_processes=2, strategy="zero2")
    assert forced.chosen.strategy == "zero2"
    w = pure["writers"]
    assert w.config_name(one) == "single-cpu" and w.config_name(two) == "ddp-2xcpu"


def test_num_processes_on_gpu_and_precision_errors(pure):
    errors = importlib.import_module("asr_dist.errors")
    result = plan(pure, "xls-r-300m", "8xA100-80GB", num_processes=4)
    assert result.chosen.num_processes == 4 and result.chosen.strategy == "ddp"
    with pytest.raises(errors.UserError, match="num_processes"):
        plan(pure, "xls-r-300m", "8xA100-80GB", num_processes=9)
    with pytest.raises(errors.UserError, match="bf16"):
        plan(pure, "xls-r-300m", "8xV100-16GB", precision="bf16")


def test_checkpointing_only_when_needed(pure):
    assert not plan(pure, "xls-r-300m", "8xA100-80GB").chosen.gradient_checkpointing
    forced = plan(pure, "xls-r-300m", "8xA100-80GB", gradient_checkpointing="on")
    assert forced.chosen.gradient_checkpointing
    off = plan(pure, "xls-r-300m", "8xA100-80GB")
    assert forced.chosen.bytes_per_gpu.activations < off.chosen.bytes_per_gpu.activations


def test_heterogeneous_plans_for_smallest(pure):
    result = plan(pure, "xls-r-300m", "8xA100-40GB,8xV100-32GB")
    assert result.chosen.precision == "fp16"
    assert any("smallest GPU" in n for n in result.notes + result.hardware.notes)


def test_round_trip_and_table(pure):
    p = pure["planning.planner"]
    result = plan(pure, "xls-r-1b", "4x8xA100-80GB")
    d = result.to_dict()
    for key in ("chosen", "candidates", "hardware", "model"):
        assert key in d
    for c in d["candidates"]:
        assert set(c["bytes_per_gpu"]) == {"weights", "gradients", "optimizer", "activations",
                                           "buffers", "total"}
        for key in ("strategy", "fits", "reason", "num_processes", "num_machines",
                    "micro_batch_seconds", "gradient_accumulation_steps", "precision",
                    "gradient_checkpointing", "cpu_bytes_per_node"):
            assert key in c
    assert {"name", "params_total", "params_trainable"} <= set(d["model"])
    assert p.Plan.from_dict(d) == result
    table = result.render_table()
    assert "->" in table and " x " in table and "margin" in table


def test_plan_latency(pure):
    start = time.perf_counter()
    for _ in range(10):
        plan(pure, "xls-r-1b", "4x8xA100-80GB")
    assert (time.perf_counter() - start) / 10 < 0.05
