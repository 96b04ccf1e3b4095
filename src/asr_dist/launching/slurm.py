"""Inside a SLURM allocation: derive the multi-machine options from the environment (pure)."""
from __future__ import annotations

from typing import Mapping

from ..config import RunConfig


def apply_slurm_env(cfg: RunConfig, env: Mapping[str, str], say=print) -> RunConfig:
    """Placeholder until the SLURM module lands: no change outside or inside SLURM."""
    return cfg
