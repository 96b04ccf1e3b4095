"""`asr-dist profile`, `plan` (table and JSON) and `launch --dry-run` through the real CLI."""
import json
import os

from helpers import run_cli

CANDIDATE_KEYS = {"strategy", "fits", "reason", "num_processes", "num_machines", "micro_batch_seconds",
                  "gradient_accumulation_steps", "precision", "gradient_checkpointing", "bytes_per_gpu",
                  "cpu_bytes_per_node"}


def test_plan_json_matches_contract(small_corpus):
    proc = run_cli("plan", "--model", "xls-r-1b", "--simulate", "8xV100-16GB", "--json",
                   "--train-manifest", os.path.join(small_corpus, "train.jsonl"))
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["chosen"]["strategy"] == "zero2"
    assert {c["strategy"] for c in plan["candidates"]} == {"single", "ddp", "zero2", "zero3", "zero2-offload",
                                                          "zero3-offload"}
    for c in plan["candidates"]:
        assert CANDIDATE_KEYS <= set(c)
        b = c["bytes_per_gpu"]
        assert b["total"] == b["weights"] + b["gradients"] + b["optimizer"] + b["activations"] + b["buffers"]
    c = plan["chosen"]
    assert c["micro_batch_seconds"] * c["gradient_accumulation_steps"] * c["num_processes"] >= 32
    assert plan["model"]["name"] == "xls-r-1b" and plan["model"]["params_total"] > 9e8


def test_plan_table_names_every_candidate_and_the_choice(small_corpus):
    proc = run_cli("plan", "--model", "xls-r-300m", "--simulate", "8xA100-80GB",
                   "--train-manifest", os.path.join(small_corpus, "train.jsonl"))
    assert proc.returncode == 0, proc.stderr
    rows = [ln for ln in proc.stdout.splitlines() if ln.startswith(("->", "  "))]
    assert any(r.startswith("->ddp") for r in rows)
    for name in ("single", "zero2", "zero3", "zero2-offload", "zero3-offload"):
        assert any(r.split()[0] == name for r in rows), name
    assert "chosen: ddp" in proc.stdout and "batch:" in proc.stdout


def test_nothing_fits_is_a_user_error(tmp_path):
    """A 100 s utterance through xls-r-2b without checkpointing cannot fit a T4 in any strategy."""
    import numpy as np
    import soundfile as sf

    sf.write(tmp_path / "long.wav", np.random.default_rng(0).normal(0, 0.1, 100 * 16000).astype("float32"), 16000)
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio_filepath": "long.wav", "text": "a long one"}) + "\n")
    proc = run_cli("plan", "--model", "xls-r-2b", "--simulate", "1xT4-16GB", "--gradient-checkpointing", "off",
                   "--max-duration", 120,
                   "--train-manifest", tmp_path / "m.jsonl")
    assert proc.returncode == 2, proc.stdout[-2000:]
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "GiB" in proc.stderr and "would fit" in proc.stderr


def test_unknown_gpu_lists_known_ones():
    proc = run_cli("profile", "--simulate", "8xB300")
    assert proc.returncode == 2
    assert "A100" in proc.stderr and "H100" in proc.stderr and "Traceback" not in proc.stderr


def test_profile_here_is_cpu_with_a_note():
    proc = run_cli("profile", "--json")
    assert proc.returncode == 0, proc.stderr
    inv = json.loads(proc.stdout)
    assert inv["notes"] and inv["nodes"][0]["gpus"] == []


def test_dry_run_writes_reusable_configs(small_corpus, tmp_path):
    import yaml

    proc = run_cli("launch", "--dry-run", "--strategy", "zero2", "--num-processes", "2",
                   "--train-manifest", os.path.join(small_corpus, "train.jsonl"),
                   "--output-dir", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "asr_dist.launching.accelerate_main --config_file" in proc.stdout
    acc = yaml.safe_load((tmp_path / "accelerate_configs" / "zero2-2xcpu.yaml").read_text())
    assert acc["distributed_type"] == "DEEPSPEED" and acc["num_processes"] == 2
    ds = json.loads((tmp_path / acc["deepspeed_config"]["deepspeed_config_file"]).read_text())
    assert ds["zero_optimization"]["stage"] == 2
    assert (tmp_path / "out" / "plan.json").is_file() and not list((tmp_path / "out").glob("checkpoint-*"))
