"""Inventory types and `--simulate` parsing (pure: no torch, no NVML, no environment).

SPEC: `[NODESx]COUNTxGPU[-MEM]`, comma-separated for mixed nodes: `1xA100-80GB`, `8xV100-16GB`,
`4x8xH100-80GB`, `8xA100-40GB,8xV100-32GB`. `cpu` (or `NxCPU`, N processes' worth is decided by
--num-processes) simulates a CPU-only machine.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from ..errors import UserError
from . import gpu_table

GIB = 1024**3
SIMULATED_CPU_CORES = 32
SIMULATED_RAM_BYTES = 512 * GIB


@dataclass(frozen=True)
class GPU:
    index: int
    name: str
    total_bytes: int
    free_bytes: int
    compute_capability: tuple[int, int]
    bf16: bool
    interconnect: str  # "nvlink" | "pcie" | "unknown"

    @property
    def label(self) -> str:
        """Table name such as "V100-16GB" (used in config names and tables)."""
        return gpu_table.short_label(self.name, self.total_bytes)


@dataclass(frozen=True)
class Node:
    hostname: str
    gpus: tuple[GPU, ...]
    cpu_cores: int
    ram_bytes: int


@dataclass(frozen=True)
class SlurmAllocation:
    job_id: str
    num_nodes: int
    node_id: int
    tasks: int
    gpus_per_node: int | None
    nodelist: str


@dataclass(frozen=True)
class Inventory:
    nodes: tuple[Node, ...]
    source: str  # "probe" | "simulate"
    notes: tuple[str, ...] = ()
    slurm: SlurmAllocation | None = None

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def gpus_per_node(self) -> int:
        return min((len(n.gpus) for n in self.nodes), default=0)

    @property
    def num_gpus(self) -> int:
        return sum(len(n.gpus) for n in self.nodes)

    @property
    def is_cpu_only(self) -> bool:
        return self.num_gpus == 0

    @property
    def smallest_gpu(self) -> GPU | None:
        gpus = [g for n in self.nodes for g in n.gpus]
        return min(gpus, key=lambda g: g.total_bytes) if gpus else None

    @property
    def all_bf16(self) -> bool:
        gpus = [g for n in self.nodes for g in n.gpus]
        return bool(gpus) and all(g.bf16 for g in gpus)

    @property
    def is_heterogeneous(self) -> bool:
        return len({g.label for n in self.nodes for g in n.gpus}) > 1 or len(
            {len(n.gpus) for n in self.nodes}) > 1

    @property
    def min_ram_bytes(self) -> int:
        return min((n.ram_bytes for n in self.nodes), default=0)

    def label(self) -> str:
        """"8xV100-16GB", "4x8xH100-80GB", "2x8xV100-32GB-mixed", "cpu"."""
        if self.is_cpu_only:
            return "cpu"
        gpu = self.smallest_gpu.label
        per = f"{self.gpus_per_node}x{gpu}"
        text = per if self.num_nodes == 1 else f"{self.num_nodes}x{per}"
        return text + ("-mixed" if self.is_heterogeneous else "")

    # --- serialisation --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "num_nodes": self.num_nodes,
            "num_gpus": self.num_gpus,
            "gpus_per_node": self.gpus_per_node,
            "nodes": [json.loads(json.dumps(asdict(n))) for n in self.nodes],  # tuples -> lists, as plan --json
            "notes": list(self.notes),
            "slurm": asdict(self.slurm) if self.slurm else None,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Inventory":
        nodes = tuple(
            Node(n["hostname"], tuple(
                GPU(**{**g, "compute_capability": tuple(g["compute_capability"])}) for g in n["gpus"]),
                n["cpu_cores"], n["ram_bytes"])
            for n in d["nodes"])
        slurm = SlurmAllocation(**d["slurm"]) if d.get("slurm") else None
        return cls(nodes, d["source"], tuple(d.get("notes", ())), slurm)

    def render(self) -> str:
        """Multi-line text for `asr-dist profile`."""
        lines = [f"hardware ({self.source}): {self.num_nodes} node(s), {self.num_gpus} GPU(s)"]
        for node in self.nodes:
            lines.append(f"  node {node.hostname}: {node.cpu_cores} CPU cores, "
                         f"{node.ram_bytes / GIB:.1f} GiB RAM, {len(node.gpus)} GPU(s)")
            for g in node.gpus:
                cc = f"{g.compute_capability[0]}.{g.compute_capability[1]}"
                lines.append(f"    [{g.index}] {g.name}: {g.total_bytes / GIB:.1f} GiB total, "
                             f"{g.free_bytes / GIB:.1f} GiB free, cc {cc}, "
                             f"bf16 {'yes' if g.bf16 else 'no'}, links {g.interconnect}")
        if self.slurm:
            s = self.slurm
            gpn = s.gpus_per_node if s.gpus_per_node is not None else "?"
            lines.append(f"  SLURM job {s.job_id}: {s.num_nodes} node(s) [{s.nodelist}], this is node "
                         f"{s.node_id}, {s.tasks} task(s), {gpn} GPU(s) per node")
        else:
            lines.append("  SLURM: not inside an allocation")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def cpu_inventory(cpu_cores: int, ram_bytes: int, hostname: str, note: str,
                  source: str = "probe", slurm: SlurmAllocation | None = None) -> Inventory:
    """One node with no GPU."""
    return Inventory((Node(hostname, (), cpu_cores, ram_bytes),), source, (note,) if note else (), slurm)


def _gpus_of(gpu: gpu_table.GPUType, count: int) -> tuple[GPU, ...]:
    return tuple(GPU(i, gpu.name, gpu.total_bytes, gpu.total_bytes, gpu.compute_capability, gpu.bf16,
                     gpu.interconnect) for i in range(count))


_ITEM = re.compile(r"^(?:(\d+)\s*[xX]\s*)?(\d+)\s*[xX]\s*([A-Za-z0-9][A-Za-z0-9_\-]*)$")


def parse_simulate(spec: str) -> Inventory:
    """Parse a SPEC into an Inventory of simulated nodes (32 cores, 512 GiB RAM each)."""
    text = (spec or "").strip()
    if not text:
        raise UserError("--simulate: empty SPEC; expected e.g. 8xV100-16GB or 4x8xH100-80GB")
    nodes: list[Node] = []
    notes = [f"simulated nodes have {SIMULATED_CPU_CORES} CPU cores and "
             f"{SIMULATED_RAM_BYTES // GIB} GiB RAM each"]
    if text.lower() == "cpu":
        return cpu_inventory(SIMULATED_CPU_CORES, SIMULATED_RAM_BYTES, "sim-node0",
                             notes[0] + "; no GPU", source="simulate")
    for item in text.split(","):
        match = _ITEM.match(item.strip())
        if not match:
            raise UserError(f"--simulate: '{item.strip()}' is not [NODESx]COUNTxGPU[-MEM], "
                            "e.g. 8xV100-16GB, 4x8xH100-80GB, 8xA100-40GB,8xV100-32GB")
        num_nodes, count, name = int(match.group(1) or 1), int(match.group(2)), match.group(3)
        if num_nodes < 1 or count < 1:
            raise UserError(f"--simulate: '{item.strip()}' needs at least one node and one GPU")
        gpu = gpu_table.lookup(name)
        if gpu is None:
            raise UserError(f"--simulate: unknown GPU '{name}'; known: {gpu_table.known_names()}")
        if "-" not in name:
            notes.append(f"'{name}' read as {gpu.name} (default variant)")
        for _ in range(num_nodes):
            nodes.append(Node(f"sim-node{len(nodes)}", _gpus_of(gpu, count),
                              SIMULATED_CPU_CORES, SIMULATED_RAM_BYTES))
    inv = Inventory(tuple(nodes), "simulate", tuple(notes))
    if inv.is_heterogeneous:
        small = inv.smallest_gpu
        inv = Inventory(inv.nodes, inv.source, inv.notes + (
            f"mixed hardware: planning for the smallest GPU ({small.label}, "
            f"{small.total_bytes / GIB:.1f} GiB) and {inv.gpus_per_node} GPU(s) per node",))
    return inv
