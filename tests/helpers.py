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
