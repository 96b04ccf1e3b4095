"""The edge that looks at the real machine: NVML (nvidia-ml-py), CPU affinity, RAM, SLURM_* env.

Never crashes for lack of a GPU: without NVML or without visible GPUs it returns a CPU inventory
with a note saying why. torch is not imported (NVML sees the GPUs without creating a CUDA context).
"""
from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping

from .inventory import GPU, Inventory, Node, SlurmAllocation, cpu_inventory


def _cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _ram_bytes() -> int:
    """Physical RAM, lowered to the cgroup limit when one is set (containers, SLURM jobs)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 0
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return total


def _int(env: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        match = re.search(r"(\d+)", env.get(name, "") or "")
        if match:
            return int(match.group(1))
    return None


def parse_slurm(env: Mapping[str, str]) -> SlurmAllocation | None:
    """SLURM_* variables -> SlurmAllocation (None outside a job)."""
    job_id = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
    if not job_id:
        return None
    gpus = None
    for name in ("SLURM_GPUS_PER_NODE", "SLURM_GPUS_ON_NODE"):
        raw = (env.get(name) or "").split("(")[0]       # "gpu:a100:4(S:0-1)" -> "gpu:a100:4"
        match = re.search(r"(\d+)$", raw.split(",")[0].strip())
        if match:
            gpus = int(match.group(1))
            break
    nodes = _int(env, "SLURM_NNODES", "SLURM_JOB_NUM_NODES") or 1
    return SlurmAllocation(
        job_id=job_id, num_nodes=nodes, node_id=_int(env, "SLURM_NODEID") or 0,
        tasks=_int(env, "SLURM_NTASKS") or nodes, gpus_per_node=gpus,
        nodelist=env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST") or "")


def _visible(env: Mapping[str, str], count: int, uuid_of) -> tuple[list[int], str | None]:
    """NVML indices that CUDA_VISIBLE_DEVICES leaves visible, in its order (CUDA stops at the
    first entry it cannot resolve)."""
    raw = env.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return list(range(count)), None
    picked: list[int] = []
    for entry in [e.strip() for e in raw.split(",")] if raw.strip() else []:
        if entry.isdigit() and int(entry) < count:
            idx = int(entry)
        else:
            idx = next((i for i in range(count) if entry and uuid_of(i).startswith(entry)), None)
        if idx is None or idx in picked:
            break
        picked.append(idx)
    return picked, f"CUDA_VISIBLE_DEVICES={raw!r}: {len(picked)} of {count} GPU(s) visible"


def _interconnect(pynvml, handle) -> str:
    try:
        links = getattr(pynvml, "NVML_NVLINK_MAX_LINKS", 18)
        for link in range(links):
            try:
                if pynvml.nvmlDeviceGetNvLinkState(handle, link) == pynvml.NVML_FEATURE_ENABLED:
                    return "nvlink"
            except pynvml.NVMLError_NotSupported:
                return "pcie"
            except pynvml.NVMLError:
                break
        return "pcie"
    except Exception:  # noqa: BLE001 - exotic driver answers must not stop a plan
        return "unknown"


def _nvml_gpus(env: Mapping[str, str]) -> tuple[tuple[GPU, ...], list[str]]:
    """GPUs NVML reports and CUDA_VISIBLE_DEVICES leaves, or () with a note saying why."""
    try:
        import pynvml
    except ImportError:
        return (), ["nvidia-ml-py (pynvml) is not installed: no GPU inventory"]
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return (), [f"NVML unavailable ({exc.__class__.__name__}: {exc}); no GPU seen"]
    notes: list[str] = []
    try:
        count = pynvml.nvmlDeviceGetCount()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]

        def uuid_of(i):
            value = pynvml.nvmlDeviceGetUUID(handles[i])
            return value.decode() if isinstance(value, bytes) else value

        indices, note = _visible(env, count, uuid_of)
        if note:
            notes.append(note)
        gpus = []
        for cuda_index, nvml_index in enumerate(indices):
            h = handles[nvml_index]
            name = pynvml.nvmlDeviceGetName(h)
            name = name.decode() if isinstance(name, bytes) else name
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            cc = tuple(pynvml.nvmlDeviceGetCudaComputeCapability(h))
            gpus.append(GPU(cuda_index, name, int(mem.total), int(mem.free), cc, cc >= (8, 0),
                            _interconnect(pynvml, h)))
        return tuple(gpus), notes
    except pynvml.NVMLError as exc:
        return (), notes + [f"NVML error while listing GPUs ({exc}); no GPU seen"]
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


def probe(env: Mapping[str, str] | None = None) -> Inventory:
    """The hardware this process would run on (and, inside SLURM, the allocation's shape)."""
    env = os.environ if env is None else env
    hostname = socket.gethostname()
    slurm = parse_slurm(env)
    gpus, notes = _nvml_gpus(env)
    cores, ram = _cpu_cores(), _ram_bytes()
    if slurm and slurm.gpus_per_node is not None and len(gpus) > slurm.gpus_per_node:
        notes.append(f"SLURM allocated {slurm.gpus_per_node} GPU(s) per node; using the first "
                     f"{slurm.gpus_per_node} of {len(gpus)} visible")
        gpus = gpus[:slurm.gpus_per_node]
    if not gpus:
        notes.append("CPU only: training runs on CPU processes (fp32)")
    this = Node(hostname, gpus, cores, ram)
    nodes = [this]
    if slurm and slurm.num_nodes > 1:
        notes.append(f"SLURM job with {slurm.num_nodes} nodes: the other nodes are assumed to have "
                     f"this node's shape ({len(gpus)} GPU(s), {cores} cores, {ram / 1024**3:.0f} GiB)")
        nodes = [Node(hostname if i == slurm.node_id else f"{slurm.nodelist or 'slurm'}#{i}", gpus,
                      cores, ram) for i in range(slurm.num_nodes)]
    if not gpus and len(nodes) == 1:
        return cpu_inventory(cores, ram, hostname, "; ".join(notes), slurm=slurm)
    return Inventory(tuple(nodes), "probe", tuple(notes), slurm)
