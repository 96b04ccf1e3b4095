"""Known GPU types (pure data): memory, compute capability, bf16, typical interconnect.

Memory is what `nvidia-smi` / NVML report as total for the usual board (MiB), not the marketing
number: a "16GB" V100 shows 16160 MiB, a T4 15360 MiB. Planning against these is what fits.
bf16 needs compute capability >= 8.0 (Ampere). Interconnect is the common form factor's: SXM
boards (V100/A100/H100/H200 in DGX/HGX nodes) have NVLink, the inference cards are PCIe.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MIB = 1024**2
GIB = 1024**3


@dataclass(frozen=True)
class GPUType:
    name: str                      # canonical SPEC name, e.g. "A100-80GB"
    family: str                    # "A100"
    total_mib: int                 # as NVML reports it
    compute_capability: tuple[int, int]
    interconnect: str              # "nvlink" | "pcie"

    @property
    def total_bytes(self) -> int:
        return self.total_mib * MIB

    @property
    def bf16(self) -> bool:
        return self.compute_capability >= (8, 0)


_TABLE = (
    # name          family  MiB     cc      interconnect
    ("T4-16GB", "T4", 15360, (7, 5), "pcie"),
    ("V100-16GB", "V100", 16160, (7, 0), "nvlink"),
    ("V100-32GB", "V100", 32510, (7, 0), "nvlink"),
    ("A10-24GB", "A10", 23028, (8, 6), "pcie"),
    ("A10G-24GB", "A10G", 23028, (8, 6), "pcie"),
    ("L4-24GB", "L4", 23034, (8, 9), "pcie"),
    ("RTX3090-24GB", "RTX3090", 24576, (8, 6), "pcie"),
    ("RTX4090-24GB", "RTX4090", 24564, (8, 9), "pcie"),
    ("A6000-48GB", "A6000", 49140, (8, 6), "pcie"),
    ("L40-48GB", "L40", 46068, (8, 9), "pcie"),
    ("L40S-48GB", "L40S", 46068, (8, 9), "pcie"),
    ("A100-40GB", "A100", 40960, (8, 0), "nvlink"),
    ("A100-80GB", "A100", 81920, (8, 0), "nvlink"),
    ("H100-80GB", "H100", 81559, (9, 0), "nvlink"),
    ("H100-94GB", "H100", 95830, (9, 0), "nvlink"),
    ("H200-141GB", "H200", 143771, (9, 0), "nvlink"),
)

GPU_TYPES: dict[str, GPUType] = {row[0]: GPUType(*row) for row in _TABLE}

# `A100` alone means this variant. Where a family has two sizes the smaller is the default:
# planning for less memory than the card has never runs out of memory.
DEFAULT_VARIANT = {
    "T4": "T4-16GB", "V100": "V100-16GB", "A10": "A10-24GB", "A10G": "A10G-24GB", "L4": "L4-24GB",
    "RTX3090": "RTX3090-24GB", "RTX4090": "RTX4090-24GB", "A6000": "A6000-48GB", "L40": "L40-48GB",
    "L40S": "L40S-48GB", "A100": "A100-40GB", "H100": "H100-80GB", "H200": "H200-141GB",
}


def known_names() -> str:
    """Every accepted name, for error messages."""
    return ", ".join(list(GPU_TYPES) + sorted(DEFAULT_VARIANT))


def lookup(name: str) -> GPUType | None:
    """`A100-80GB`, `a100-80gb`, `A100-80G`, `A100` (default variant) -> GPUType; unknown -> None."""
    key = name.strip().upper().replace("_", "-")
    key = re.sub(r"-(\d+)G(B)?$", r"-\1GB", key)
    for canonical, gpu in GPU_TYPES.items():
        if canonical.upper() == key:
            return gpu
    for family, canonical in DEFAULT_VARIANT.items():
        if family.upper() == key:
            return GPU_TYPES[canonical]
    return None


def short_label(name: str, total_bytes: int) -> str:
    """A table name for an NVML name ("Tesla V100-SXM2-16GB" -> "V100-16GB"), else a sanitised one."""
    tokens = set(re.split(r"[\s\-_]+", name.upper()))
    family_hits = [g for g in GPU_TYPES.values() if g.family.upper() in tokens]
    if family_hits:
        best = min(family_hits, key=lambda g: abs(g.total_bytes - total_bytes))
        return best.name
    cleaned = re.sub(r"[^A-Za-z0-9]+", "", name.replace("NVIDIA", "")) or "GPU"
    return f"{cleaned}-{round(total_bytes / GIB)}GB"
