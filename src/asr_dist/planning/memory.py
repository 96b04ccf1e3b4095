"""Model-state bytes per GPU (and CPU RAM per node) for each strategy (pure formulas).

Sources:
- ZeRO paper (Rajbhandari et al., 2020, "ZeRO: Memory Optimizations Toward Training Trillion
  Parameter Models", sec. 3.1 and 5): mixed-precision Adam keeps 2P (16-bit weights) + 2P (16-bit
  grads) + KP with K = 12 (fp32 master weights, momentum, variance) = 16 bytes/param; ZeRO-2
  partitions grads + optimizer over N, ZeRO-3 also the weights.
- DeepSpeed's estimators, which this module reproduces exactly for all-trainable models:
  `deepspeed.runtime.zero.stage_1_and_2.estimate_zero2_model_states_mem_needs` -
  GPU 2P + 18P/N (18 = 2 grads16 + 4 grads32 + 4 params32 + 8 optimizer states), with optimizer
  offload GPU 2P and CPU P*max(4*gpus, 16)*1.5; and
  `deepspeed.runtime.zero.stage3.estimate_zero3_model_states_mem_needs` - GPU 4*largest_layer +
  18P/N, with param+optimizer offload GPU 4*largest_layer and CPU 18P/nodes*1.5; CPU for ZeRO-3
  without offload (zero.Init) 4*largest_layer*gpus_per_node*1.5. The 1.5 is DeepSpeed's
  `additional_buffer_factor` (pinned buffers, fragmentation); we apply it to every CPU figure.
  One deliberate difference: for ZeRO-2 offload DeepSpeed multiplies 4P by the *total* GPU count
  even on several nodes; RAM is per node, so we use the GPUs of one node (equal on one node).
- single/DDP run under torch autocast (Accelerate `mixed_precision`), not DeepSpeed: weights,
  grads and Adam moments are fp32 (4P + 4P + 8P = the same 16 bytes/param), autocast's 16-bit
  copies of the weights live through backward (2P, as buffers), and DDP's Reducer keeps gradient
  buckets that copy every gradient (`gradient_as_bucket_view=False`, torch's default: +4P).
Frozen parameters (the feature encoder when frozen) have weights but no grads or optimizer state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

GIB = 1024**3
STRATEGIES = ("single", "ddp", "zero2", "zero3", "zero2-offload", "zero3-offload")
CPU_BUFFER_FACTOR = 1.5            # DeepSpeed's additional_buffer_factor
OVERLAP_COMM_FACTOR = 4.5          # DeepSpeed docs: overlap_comm uses 4.5x the bucket sizes (ZeRO-2)
ZERO2_BUCKET_ELEMENTS = 20_000_000  # reduce_bucket_size = allgather_bucket_size (elements)


@dataclass(frozen=True)
class ZeroKnobs:
    """Bucket sizes written to the DeepSpeed JSON and counted as buffers here (elements)."""
    reduce_bucket_size: int
    allgather_bucket_size: int
    stage3_reduce_bucket_size: int
    stage3_prefetch_bucket_size: int
    stage3_param_persistence_threshold: int


def zero_knobs(hidden_size: int) -> ZeroKnobs:
    """Accelerate's "auto" values for stage 3 (hidden^2, 0.9*hidden^2, 10*hidden); 2e7 for stage 2."""
    return ZeroKnobs(ZERO2_BUCKET_ELEMENTS, ZERO2_BUCKET_ELEMENTS, hidden_size**2,
                     int(0.9 * hidden_size**2), 10 * hidden_size)


@dataclass(frozen=True)
class ModelStateBytes:
    weights: int
    gradients: int
    optimizer: int
    buffers: int             # comm buckets, gathered ZeRO-3 layers, autocast weight copies
    gathered_layer: int      # part of buffers: DeepSpeed's 4 * largest_layer (ZeRO-3 only)
    cpu_bytes_per_node: int  # loading + offloaded states, x1.5

    @property
    def gpu_model_states(self) -> int:
        """What DeepSpeed's estimators call GPU memory: states plus the gathered layer."""
        return self.weights + self.gradients + self.optimizer + self.gathered_layer


def _mixed(precision: str) -> bool:
    return precision in ("fp16", "bf16")


def model_state_bytes(strategy: str, *, params_total: int, params_trainable: int,
                      largest_layer_params: int, hidden_size: int, world_size: int,
                      gpus_per_node: int, num_nodes: int, precision: str) -> ModelStateBytes:
    """Bytes per GPU of weights, gradients, optimizer state and buffers, and CPU RAM per node."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}")
    P, T, n = params_total, params_trainable, max(world_size, 1)
    frozen = P - T
    g = max(min(gpus_per_node, n), 1)          # processes on one node
    mixed = _mixed(precision)
    w16 = 2 if mixed else 4                    # bytes of a model weight as DeepSpeed holds it
    knobs = zero_knobs(hidden_size)
    live = 4 * largest_layer_params * (1 if mixed else 2)
    load_cpu = 4 * P * g                       # every local process builds the fp32 model on CPU
    if strategy in ("single", "ddp"):
        buffers = (2 * T if mixed else 0) + (4 * T if strategy == "ddp" and n > 1 else 0)
        return ModelStateBytes(4 * P, 4 * T, 8 * T, buffers, 0, int(load_cpu * CPU_BUFFER_FACTOR))
    # DeepSpeed: with mixed precision the optimizer holds fp32 master + 2 moments (12 B), and an
    # fp32 gradient partition (4 B) besides the 16-bit one; in fp32 there is no master copy.
    opt_per = 12 if mixed else 8
    grad_per = 6 if mixed else 4
    if strategy == "zero2":
        buffers = int(OVERLAP_COMM_FACTOR * (knobs.reduce_bucket_size + knobs.allgather_bucket_size) * w16)
        return ModelStateBytes(w16 * P, grad_per * T // n, opt_per * T // n, buffers, 0,
                               int(load_cpu * CPU_BUFFER_FACTOR))
    if strategy == "zero2-offload":
        # GPU keeps the 16-bit weights; grads are reduced in buckets and copied to CPU, where the
        # fp32 master, moments and fp32 grads of this node's partitions live.
        buffers = int(OVERLAP_COMM_FACTOR * (knobs.reduce_bucket_size + knobs.allgather_bucket_size) * w16)
        offloaded = (opt_per + 4) * T * g / n
        cpu = max(load_cpu, offloaded) * CPU_BUFFER_FACTOR
        return ModelStateBytes(w16 * P, 0, 0, buffers, 0, int(cpu))
    comm = (2 * knobs.stage3_prefetch_bucket_size + 2 * knobs.stage3_reduce_bucket_size) * w16
    if strategy == "zero3":
        # estimator: 18 B/param partitioned = 2 (16-bit weights) + 16 (grads + optimizer)
        grads = (16 - opt_per if mixed else 4) * T // n
        return ModelStateBytes(w16 * P // n, grads, opt_per * T // n, live + comm, live,
                               int(4 * largest_layer_params * g * CPU_BUFFER_FACTOR))
    # zero3-offload: parameters and optimizer on CPU; the GPU holds gathered layers only.
    offloaded = ((18 if mixed else 16) * T + w16 * frozen) * g / n
    return ModelStateBytes(0, 0, 0, live + comm, live, int(offloaded * CPU_BUFFER_FACTOR))


def safety_margin_bytes(device_total_bytes: int) -> int:
    """Reserved per device for the CUDA context, cuBLAS/cuDNN workspaces and allocator
    fragmentation: 1.5 GiB + 10% of the device's memory (same rule for RAM on CPU-only hosts)."""
    return int(1.5 * GIB + 0.10 * device_total_bytes)


def gib(n: float) -> float:
    return n / GIB


def ceil_div(a: float, b: float) -> int:
    return int(math.ceil(a / b - 1e-9))
