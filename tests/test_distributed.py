"""Real multi-process runs on CPU: DDP over gloo, DeepSpeed ZeRO-2/3 (+offload), exact resume.

Every run is a real `asr-dist launch` -> `accelerate launch` subprocess tree on the small corpus."""
import os
import shutil

import pytest

from helpers import read_json, run_cli


def _launch(corpus, out, *extra, cwd):
    proc = run_cli("launch", "--train-manifest", os.path.join(corpus, "train.jsonl"),
                   "--eval-manifest", os.path.join(corpus, "dev.jsonl"), "--output-dir", out,
                   "--effective-batch-seconds", 16, "--eval-every", 1000, *extra, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return read_json(os.path.join(out, "run_summary.json"))


def _losses(run_dir) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(os.path.join(run_dir, "logs"))
    ea.Reload()
    return [e.value for e in ea.Scalars("train/loss")]


def test_ddp_two_processes_share_data_and_stay_in_sync(small_corpus, tmp_path):
    s = _launch(small_corpus, tmp_path / "ddp", "--num-processes", 2, "--max-steps", 30, "--save-every", 30,
                cwd=tmp_path)
    assert s["strategy"] == "ddp" and s["world_size"] == 2 and s["steps"] == 30
    a, b = s["param_checksums"]
    assert a == pytest.approx(b, rel=1e-9)  # gradients were averaged: identical replicas
    assert len(s["peak_memory_bytes"]) == 2
    one = _launch(small_corpus, tmp_path / "one", "--max-steps", 30, "--save-every", 30, cwd=tmp_path)
    # same effective batch in audio seconds: each of the 2 ranks takes about half the audio per step,
    # and the two runs reach a comparable loss
    assert s["audio_seconds_seen"] == pytest.approx(one["audio_seconds_seen"], rel=0.35)
    assert s["train_loss_final"] == pytest.approx(one["train_loss_final"], rel=0.5)
    assert max(_losses(tmp_path / "ddp")) > 2 * s["train_loss_final"]  # and it did fall


@pytest.mark.parametrize("strategy", ["zero2", "zero3", "zero2-offload"])
def test_deepspeed_trains_saves_and_resumes(strategy, small_corpus, tmp_path):
    out = tmp_path / strategy
    s = _launch(small_corpus, out, "--strategy", strategy, "--num-processes", 2, "--max-steps", 16,
                "--save-every", 8, "--log-every", 1, cwd=tmp_path)
    assert s["strategy"] == strategy and s["world_size"] == 2 and s["steps"] == 16
    losses = _losses(out)
    assert sum(losses[-4:]) < 0.7 * sum(losses[:4]), losses
    assert (out / "checkpoint-16" / "trainer_state.json").is_file()
    from transformers import Wav2Vec2ForCTC

    model = Wav2Vec2ForCTC.from_pretrained(out)  # ZeRO-3 shards consolidated into one state dict
    assert all(p.numel() > 0 and p.abs().sum() > 0 for p in model.parameters() if p.dim() > 1)
    if strategy != "zero3":
        a, b = s["param_checksums"]
        assert a == pytest.approx(b, rel=1e-9)
    r = _launch(small_corpus, out, "--strategy", strategy, "--num-processes", 2, "--max-steps", 20,
                "--save-every", 8, "--resume", "auto", cwd=tmp_path)
    assert r["steps"] == 20 and r["resumed_from"].endswith("checkpoint-16")
    assert r["samples_seen"] > s["samples_seen"]


@pytest.mark.parametrize("processes", [1, 2])
def test_resumed_run_equals_uninterrupted_run(processes, small_corpus, tmp_path):
    common = ("--num-processes", processes, "--max-steps", 12, "--save-every", 4, "--save-total-limit", 5,
              "--log-every", 1)
    full = _launch(small_corpus, tmp_path / "full", *common, cwd=tmp_path)
    # a second run folder that holds only the uninterrupted run's checkpoint at step 8
    part = tmp_path / "part"
    part.mkdir()
    shutil.copytree(tmp_path / "full" / "checkpoint-8", part / "checkpoint-8")
    resumed = _launch(small_corpus, part, *common, "--resume", "auto", cwd=tmp_path)
    assert resumed["resumed_from"].endswith("checkpoint-8") and resumed["steps"] == 12
    assert resumed["train_loss_final"] == pytest.approx(full["train_loss_final"], abs=1e-6)
    assert resumed["samples_seen"] == full["samples_seen"]
    assert resumed["audio_seconds_seen"] == pytest.approx(full["audio_seconds_seen"], abs=1e-6)
    assert resumed["param_checksums"] == pytest.approx(full["param_checksums"], rel=1e-9)


def test_two_machines_on_loopback(small_corpus, tmp_path):
    """--num-machines 2: two launchers (machine_rank 0 and 1) on 127.0.0.1, one shared run folder."""
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "mm"
    args = ["--train-manifest", os.path.join(small_corpus, "train.jsonl"), "--output-dir", out,
            "--num-machines", 2, "--num-processes", 2, "--main-process-ip", "127.0.0.1",
            "--main-process-port", port, "--max-steps", 6, "--save-every", 3, "--eval-every", 1000,
            "--effective-batch-seconds", 16]
    procs = [subprocess.Popen([sys.executable, "-m", "asr_dist.cli.main", "launch", *map(str, args),
                               "--machine-rank", str(rank)], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for rank in (1, 0)]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
    s = read_json(out / "run_summary.json")
    assert s["world_size"] == 2 and s["num_machines"] == 2 and s["steps"] == 6
    a, b = s["param_checksums"]
    assert a == pytest.approx(b, rel=1e-9)
    assert "waiting for machine 0" in results[0][1]


def test_generated_config_reruns_with_plain_accelerate_launch(small_corpus, tmp_path):
    """The README's promise: `accelerate launch --config_file <generated yaml> -m asr_dist.train
    --config <run>/run_config.yaml` reruns the job (here: continues it) without asr-dist's launcher."""
    import subprocess
    import sys

    out = tmp_path / "ddp"
    first = _launch(small_corpus, out, "--num-processes", 2, "--max-steps", 4, "--save-every", 4, cwd=tmp_path)
    yaml_path = out / "ddp-2xcpu.accelerate.yaml"
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    proc = subprocess.run([accelerate, "launch", "--config_file", str(yaml_path), "-m", "asr_dist.train",
                           "--config", str(out / "run_config.yaml"), "--max-steps", "8", "--resume", "auto"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "DS_ACCELERATOR": "cpu"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = read_json(out / "run_summary.json")
    assert s["world_size"] == 2 and s["steps"] == 8 and s["resumed_from"].endswith("checkpoint-4")
    assert s["samples_seen"] > first["samples_seen"]
