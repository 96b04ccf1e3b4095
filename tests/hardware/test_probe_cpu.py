from __future__ import annotations

from asr_dist.hardware.probe import parse_slurm, probe


def test_probe_here_is_cpu_with_note():
    inv = probe({})
    assert inv.is_cpu_only and inv.source == "probe"
    assert inv.nodes[0].cpu_cores >= 1 and inv.nodes[0].ram_bytes > 2**30
    assert any("NVML" in n or "pynvml" in n for n in inv.notes), inv.notes
    assert "CPU" in inv.render()


def test_empty_cuda_visible_devices_is_cpu():
    assert probe({"CUDA_VISIBLE_DEVICES": ""}).is_cpu_only


def test_slurm_env_is_parsed():
    env = {"SLURM_JOB_ID": "1234", "SLURM_NNODES": "2", "SLURM_NODEID": "1", "SLURM_NTASKS": "2",
           "SLURM_GPUS_PER_NODE": "gpu:a100:4(S:0-1)", "SLURM_JOB_NODELIST": "gpu[01-02]"}
    s = parse_slurm(env)
    assert (s.job_id, s.num_nodes, s.node_id, s.tasks, s.gpus_per_node, s.nodelist) == \
        ("1234", 2, 1, 2, 4, "gpu[01-02]")
    assert parse_slurm({}) is None
    assert parse_slurm({"SLURM_JOB_ID": "9", "SLURM_GPUS_ON_NODE": "8"}).gpus_per_node == 8
    inv = probe(env)
    assert inv.slurm == s and inv.num_nodes == 2
    assert "SLURM job 1234" in inv.render()


def test_visible_devices_selection():
    from asr_dist.hardware.probe import _visible

    uuids = ["GPU-aaa", "GPU-bbb", "GPU-ccc"]
    assert _visible({}, 3, uuids.__getitem__)[0] == [0, 1, 2]
    assert _visible({"CUDA_VISIBLE_DEVICES": "2,0"}, 3, uuids.__getitem__)[0] == [2, 0]
    assert _visible({"CUDA_VISIBLE_DEVICES": "GPU-bbb"}, 3, uuids.__getitem__)[0] == [1]
    assert _visible({"CUDA_VISIBLE_DEVICES": "1,-1,2"}, 3, uuids.__getitem__)[0] == [1]
    assert _visible({"CUDA_VISIBLE_DEVICES": ""}, 3, uuids.__getitem__)[0] == []
