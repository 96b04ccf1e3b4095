"""memory.py against DeepSpeed's own byte-returning estimators (within 5%), xls-r 300m/1b/2b."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest

from asr_dist.planning.memory import model_state_bytes

from test_planner_examples import XLSR  # noqa: E402  (same folder on sys.path under pytest)

ds2 = pytest.importorskip("deepspeed.runtime.zero.stage_1_and_2")
ds3 = pytest.importorskip("deepspeed.runtime.zero.stage3")

LAYOUTS = [(1, 1), (8, 1), (8, 4)]  # (gpus per node, nodes): 1, 8 and 32 GPUs


def ours(strategy, name, gpn, nodes):
    m = XLSR[name]
    # like with like: DeepSpeed's estimators assume every parameter is trained
    return model_state_bytes(strategy, params_total=m["params_total"],
                             params_trainable=m["params_total"],
                             largest_layer_params=m["largest_layer_params"],
                             hidden_size=m["hidden_size"], world_size=gpn * nodes,
                             gpus_per_node=gpn, num_nodes=nodes, precision="bf16")


def close(a, b, tol=0.05):
    return abs(a - b) <= tol * b


@pytest.mark.parametrize("name", list(XLSR))
@pytest.mark.parametrize("gpn,nodes", LAYOUTS)
def test_zero2(name, gpn, nodes):
    P = XLSR[name]["params_total"]
    cpu, gpu = ds2.estimate_zero2_model_states_mem_needs(P, gpn, nodes, cpu_offload=False)
    s = ours("zero2", name, gpn, nodes)
    assert close(s.gpu_model_states, gpu) and close(s.cpu_bytes_per_node, cpu)
    cpu, gpu = ds2.estimate_zero2_model_states_mem_needs(P, gpn, nodes, cpu_offload=True)
    s = ours("zero2-offload", name, gpn, nodes)
    assert close(s.gpu_model_states, gpu)
    if nodes == 1:  # DeepSpeed counts 4P per GPU of *all* nodes into one node's RAM (see memory.py)
        assert close(s.cpu_bytes_per_node, cpu)


@pytest.mark.parametrize("name", list(XLSR))
@pytest.mark.parametrize("gpn,nodes", LAYOUTS)
def test_zero3(name, gpn, nodes):
    P, L = XLSR[name]["params_total"], XLSR[name]["largest_layer_params"]
    cpu, gpu, _ = ds3.estimate_zero3_model_states_mem_needs(P, L, gpn, nodes, cpu_offload=False,
                                                             cpu_offload_params=False)
    s = ours("zero3", name, gpn, nodes)
    assert close(s.gpu_model_states, gpu) and close(s.cpu_bytes_per_node, cpu)
    cpu, gpu, _ = ds3.estimate_zero3_model_states_mem_needs(P, L, gpn, nodes, cpu_offload=True,
                                                             cpu_offload_params=True)
    s = ours("zero3-offload", name, gpn, nodes)
    assert close(s.gpu_model_states, gpu) and close(s.cpu_bytes_per_node, cpu)


def test_sixteen_bytes_per_param_single():
    s = ours("single", "xls-r-1b", 1, 1)
    assert s.weights + s.gradients + s.optimizer == 16 * XLSR["xls-r-1b"]["params_total"]


def test_frozen_params_have_no_grads_or_optimizer():
    m = XLSR["xls-r-300m"]
    s = model_state_bytes("zero2", params_total=m["params_total"], params_trainable=m["params_trainable"],
                          largest_layer_params=m["largest_layer_params"], hidden_size=1024,
                          world_size=1, gpus_per_node=1, num_nodes=1, precision="fp32")
    assert s.weights == 4 * m["params_total"]
    assert s.gradients == 4 * m["params_trainable"] and s.optimizer == 8 * m["params_trainable"]
