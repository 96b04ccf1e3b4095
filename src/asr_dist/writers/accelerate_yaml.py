"""Plan -> the dict `accelerate config` would write as YAML (pure).

Facts this encodes (NOTES-machines.md): CPU multi-process DDP must say MULTI_GPU (the training
script makes `Accelerator(cpu=True)` itself when there is no CUDA); MULTI_CPU silently runs one
process. A YAML that names a `deepspeed_config_file` must not set `mixed_precision` (precision
lives in the DeepSpeed JSON).
"""
from __future__ import annotations

DISTRIBUTED_TYPE = {"single": "NO", "ddp": "MULTI_GPU", "zero2": "DEEPSPEED", "zero3": "DEEPSPEED",
                    "zero2-offload": "DEEPSPEED", "zero3-offload": "DEEPSPEED"}
MIXED_PRECISION = {"fp32": "no", "fp16": "fp16", "bf16": "bf16"}
ZERO_STAGE = {"zero2": 2, "zero3": 3, "zero2-offload": 2, "zero3-offload": 3}
DEFAULT_PORT = 29500


def config_name(plan) -> str:
    """"zero2-8xV100-16GB", "single-cpu", "ddp-2xcpu", "zero3-offload-4x8xH100-80GB"."""
    c, hw = plan.chosen, plan.hardware
    if hw.is_cpu_only:
        where = "cpu" if c.num_processes == 1 else f"{c.num_processes}xcpu"
    elif c.num_machines == hw.num_nodes and c.num_processes == hw.gpus_per_node * hw.num_nodes:
        where = hw.label()
    else:
        per = c.num_processes // max(c.num_machines, 1)
        label = f"{per}x{hw.smallest_gpu.label}"
        where = label if c.num_machines == 1 else f"{c.num_machines}x{label}"
    return f"{c.strategy}-{where}"


def accelerate_config(plan, *, machine_rank: int = 0, main_process_ip: str | None = None,
                      main_process_port: int | None = None,
                      deepspeed_config_file: str | None = None) -> dict:
    c = plan.chosen
    kind = DISTRIBUTED_TYPE[c.strategy]
    if kind == "NO" and c.num_processes > 1:
        kind = "MULTI_GPU"
    cfg = {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        "distributed_type": kind,
        "downcast_bf16": "no",
        "enable_cpu_affinity": False,
        "gpu_ids": "all",
        "machine_rank": int(machine_rank),
        "main_training_function": "main",
        "num_machines": int(c.num_machines),
        "num_processes": int(c.num_processes),
        "rdzv_backend": "static",
        "same_network": True,
        "tpu_env": [],
        "tpu_use_cluster": False,
        "tpu_use_sudo": False,
        "use_cpu": False,
    }
    if c.num_machines > 1:
        if main_process_ip:
            cfg["main_process_ip"] = main_process_ip
        cfg["main_process_port"] = int(main_process_port or DEFAULT_PORT)
    elif main_process_port:
        cfg["main_process_port"] = int(main_process_port)
    if kind == "DEEPSPEED":
        stage3 = ZERO_STAGE[c.strategy] == 3
        if deepspeed_config_file:
            cfg["deepspeed_config"] = {"deepspeed_config_file": deepspeed_config_file,
                                       "zero3_init_flag": stage3}
        else:   # inline form: accelerate builds the DeepSpeed config itself
            cfg["deepspeed_config"] = {
                "zero_stage": ZERO_STAGE[c.strategy],
                "offload_optimizer_device": "cpu" if c.strategy.endswith("offload") else "none",
                "offload_param_device": "cpu" if c.strategy == "zero3-offload" else "none",
                "gradient_accumulation_steps": int(c.gradient_accumulation_steps),
                "gradient_clipping": 1.0,
                "zero3_init_flag": stage3,
                "zero3_save_16bit_model": stage3,
            }
            cfg["mixed_precision"] = MIXED_PRECISION[c.precision]
    else:
        cfg["mixed_precision"] = MIXED_PRECISION[c.precision]
    return cfg
