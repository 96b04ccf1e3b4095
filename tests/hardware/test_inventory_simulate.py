from __future__ import annotations

import pytest

from asr_dist.errors import UserError
from asr_dist.hardware import gpu_table
from asr_dist.hardware.inventory import Inventory, cpu_inventory, parse_simulate

GIB = 2**30


def test_table_has_the_required_gpus():
    for name in ("T4-16GB", "V100-16GB", "V100-32GB", "A10-24GB", "A100-40GB", "A100-80GB",
                 "L4-24GB", "L40S-48GB", "H100-80GB", "H200-141GB"):
        assert gpu_table.lookup(name) is not None, name
    assert gpu_table.lookup("A100").name == "A100-40GB"
    assert gpu_table.lookup("a100-80gb").name == "A100-80GB"
    assert not gpu_table.lookup("V100").bf16 and gpu_table.lookup("H100").bf16


@pytest.mark.parametrize("spec,nodes,per_node,name", [
    ("1xA100-80GB", 1, 1, "A100-80GB"), ("8xV100-16GB", 1, 8, "V100-16GB"),
    ("4x8xH100-80GB", 4, 8, "H100-80GB"), ("2xA100", 1, 2, "A100-40GB"),
])
def test_parse(spec, nodes, per_node, name):
    inv = parse_simulate(spec)
    assert (inv.num_nodes, inv.gpus_per_node, inv.smallest_gpu.name) == (nodes, per_node, name)
    assert inv.num_gpus == nodes * per_node and inv.source == "simulate" and not inv.is_cpu_only
    assert inv.nodes[0].cpu_cores == 32 and inv.nodes[0].ram_bytes == 512 * GIB
    assert any("512 GiB" in n for n in inv.notes)


def test_mixed_nodes_plan_for_smallest():
    inv = parse_simulate("8xA100-40GB,8xV100-32GB")
    assert inv.num_nodes == 2 and inv.smallest_gpu.name == "V100-32GB" and not inv.all_bf16
    assert inv.is_heterogeneous and any("smallest GPU" in n for n in inv.notes)
    assert inv.label() == "2x8xV100-32GB-mixed"


def test_unknown_gpu_lists_known_names():
    with pytest.raises(UserError) as info:
        parse_simulate("8xK80")
    assert "K80" in str(info.value) and "A100-80GB" in str(info.value)
    for bad in ("", "8x", "x8xA100", "0xA100"):
        with pytest.raises(UserError):
            parse_simulate(bad)


def test_round_trip_render_and_cpu():
    inv = parse_simulate("2x4xL4-24GB")
    assert Inventory.from_dict(inv.to_dict()) == inv
    text = inv.render()
    assert "L4-24GB" in text and "bf16 yes" in text and inv.label() == "2x4xL4-24GB"
    cpu = cpu_inventory(2, 24 * GIB, "box", "no GPU")
    assert cpu.is_cpu_only and cpu.smallest_gpu is None and cpu.num_gpus == 0 and not cpu.all_bf16
    assert "no GPU" in cpu.render() and cpu.label() == "cpu"
    assert parse_simulate("cpu").is_cpu_only


def test_short_label_for_nvml_names():
    assert gpu_table.short_label("Tesla V100-SXM2-16GB", 16160 * 2**20) == "V100-16GB"
    assert gpu_table.short_label("NVIDIA A100-SXM4-80GB", 81920 * 2**20) == "A100-80GB"
    assert gpu_table.short_label("NVIDIA A10", 23028 * 2**20) == "A10-24GB"
    assert gpu_table.short_label("NVIDIA Foo 9", 8 * GIB) == "Foo9-8GB"
