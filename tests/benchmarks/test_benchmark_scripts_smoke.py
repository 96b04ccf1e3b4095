"""Smoke tests: every benchmark script runs in its tiny mode and writes its JSON (the timing goals
are not asserted here; benchmarks/README.md has the full runs). Scripts that write to a fixed
benchmarks/results/ path are run from a copy in a temporary folder so the recorded results stay."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"


def _run(args, cwd, timeout):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def _json(path: Path) -> dict:
    assert path.is_file(), f"{path} not written"
    return json.loads(path.read_text(encoding="utf-8"))


def test_padding_tiny_writes_json(tmp_path):
    out = tmp_path / "padding.json"
    _run([BENCH / "padding.py", "--tiny", "--out", out], tmp_path, 60)
    assert _json(out)["rows"]


def test_plan_latency_tiny_writes_json(tmp_path):
    out = tmp_path / "plan_latency.json"
    _run([BENCH / "plan_latency.py", "--tiny", "--out", out], tmp_path, 60)
    rows = _json(out)["rows"]
    assert [r["spec"] for r in rows] == ["1xA100-80GB", "8xV100-16GB"]
    assert all(r["subprocess_median"] > 0 and r["chosen"] for r in rows)


def test_throughput_tiny_writes_json(tmp_path):
    out = tmp_path / "throughput.json"
    _run([BENCH / "throughput.py", "--tiny", "--out", out, "--work-dir", tmp_path / "work"], tmp_path, 240)
    r = _json(out)
    assert r["ours"][0]["steps"] == r["hf"][0]["steps"] == r["steps"]
    assert r["ours_median"] > 0 and r["hf_median"] > 0 and r["explanation"]


def test_oom_recovery_tiny_writes_json(tmp_path):
    script = tmp_path / "bench" / "oom_recovery.py"  # it writes next to itself: results/oom_recovery.json
    script.parent.mkdir()
    shutil.copy(BENCH / "oom_recovery.py", script)
    _run([script, "--tiny"], tmp_path, 240)
    assert _json(script.parent / "results" / "oom_recovery.json")["steps"] == 4


def test_gpu_check_skips_cleanly_without_gpu(tmp_path):
    if shutil.which("nvidia-smi"):
        pytest.skip("a GPU driver is present: gpu_check.sh would run the full GPU benchmarks")
    proc = subprocess.run(["bash", str(BENCH / "gpu_check.sh")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 0 and "SKIPPED" in proc.stdout


def test_memory_model_tiny_writes_json(tmp_path):
    out = tmp_path / "memory_model.json"
    _run([BENCH / "memory_model.py", "--tiny", "--out", out], tmp_path, 240)
    data = _json(out)
    assert data["activations"] and data["estimators"] and data["plan_latency_seconds"] > 0
