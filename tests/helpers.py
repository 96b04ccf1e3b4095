"""Helpers the tests import (a plain module: `conftest` is a name several folders' conftest.py share)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

CLI = [sys.executable, "-m", "asr_dist.cli.main"]


def run_cli(*args, cwd=None, env=None, timeout=600) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout)


def read_json(path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def skip_or_fail(reason: str):
    """Outside CI a missing prerequisite skips; in CI (root, apt) it must not, so it fails."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"CI must be able to run this test: {reason}")
    pytest.skip(reason)


def assert_one_line_error(proc, *needles):
    """Exit code 2 and exactly one line on stderr containing every needle; no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
