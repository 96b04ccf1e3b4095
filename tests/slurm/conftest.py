"""A real one-node SLURM cluster on localhost for the job-script tests (started and stopped here).

The cluster is started by tests/slurm/local_slurm/start-local-slurm.sh (which apt-installs
slurm-wlm and munge when missing) and stopped by stop-local-slurm.sh afterwards. It needs root;
without root, or without slurm and without apt-get, the cluster tests are skipped with the reason.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from helpers import skip_or_fail  # tests/ is on sys.path through the root conftest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "local_slurm")
#: fake GPUs let the job scripts keep their `#SBATCH --gpus-per-node` lines
FAKE_GPUS = 2


def _have_slurm() -> bool:
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return all(shutil.which(b, path=path) for b in ("slurmctld", "slurmd", "sbatch", "munged"))


@pytest.fixture(scope="module")
def local_slurm():
    if os.geteuid() != 0:
        skip_or_fail("the local SLURM cluster needs root (start-local-slurm.sh starts munged/slurmctld/slurmd)")
    if not _have_slurm() and not shutil.which("apt-get"):
        skip_or_fail("slurm-wlm is not installed and apt-get is not available to install it")
    env = {**os.environ, "SLURM_FAKE_GPUS": str(FAKE_GPUS), "SLURM_CRED_EXPIRE": "10", "SLURM_MIN_JOB_AGE": "5"}
    start = subprocess.run([os.path.join(SCRIPTS, "start-local-slurm.sh")], env=env, capture_output=True,
                           text=True, timeout=600)
    if start.returncode != 0:
        subprocess.run([os.path.join(SCRIPTS, "stop-local-slurm.sh")], capture_output=True, timeout=120)
        pytest.fail(f"start-local-slurm.sh failed ({start.returncode}):\n{start.stderr[-4000:]}")
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    try:
        yield {"fake_gpus": FAKE_GPUS}
    finally:
        subprocess.run([os.path.join(SCRIPTS, "stop-local-slurm.sh")], capture_output=True, timeout=180)
