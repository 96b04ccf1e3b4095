"""kill -9 in the middle of a checkpoint write, a rank dying mid-step, a full disk: the previous
checkpoint stays complete, the run stops within a bounded time, resume works."""
import os
import shutil
import subprocess
import time

import pytest

from faultkit import Launch
from helpers import read_json, run_cli, skip_or_fail


def _args(corpus, out, steps=12, *extra):
    return ["--train-manifest", os.path.join(corpus, "train.jsonl"), "--output-dir", out, "--max-steps", steps,
            "--save-every", 4, "--save-total-limit", 1, "--eval-every", 1000, "--effective-batch-seconds", 16, *extra]


def test_kill9_while_writing_a_checkpoint_keeps_the_previous_one(small_corpus, tmp_path):
    out = tmp_path / "run"
    run = Launch(_args(small_corpus, out), cwd=tmp_path,
                 env={"ASR_DIST_INJECT_SAVE_PAUSE": "step=8,seconds=120"})
    try:
        run.wait_for(lambda: "pausing 120 s inside the write of checkpoint-8" in run.err, what="the save of step 8")
        time.sleep(0.5)
    finally:
        run.kill_all()
    run.wait(timeout=30)
    assert (out / ".tmp-checkpoint-8").is_dir() and not (out / "checkpoint-8").exists()
    assert (out / "checkpoint-4" / "trainer_state.json").is_file()
    from safetensors.torch import load_file  # the surviving checkpoint's weights read back whole

    weights = load_file(out / "checkpoint-4" / "model.safetensors")
    assert "lm_head.weight" in weights and all(t.isfinite().all() for t in weights.values())
    proc = run_cli("launch", *_args(small_corpus, out, 12, "--resume", "auto"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = read_json(out / "run_summary.json")
    assert s["resumed_from"].endswith("checkpoint-4") and s["steps"] == 12
    assert not any(p.name.startswith(".tmp-") for p in out.iterdir())  # the partial write was cleaned up


def test_a_rank_killed_mid_step_stops_the_run_fast_and_resume_works(small_corpus, tmp_path):
    from asr_dist.train.checkpoint import list_checkpoints

    out = tmp_path / "run"
    run = Launch(_args(small_corpus, out, 100000, "--num-processes", 2), cwd=tmp_path)  # far from done
    try:
        run.wait_for(lambda: list_checkpoints(str(out)) and run.step() >= 6, what="a checkpoint and step 6")
        victim = run.ranks()[-1]
        killed = time.time()
        os.kill(victim, 9)
        code = run.wait(timeout=120)
        took = time.time() - killed
    finally:
        run.kill_all()
    assert code not in (0, 75)
    assert took < 60, took  # not the 10-minute collective timeout
    assert "rank 1" in run.err or "local_rank: 1" in run.err, run.err[-3000:]
    last = list_checkpoints(str(out))[-1][0]
    proc = run_cli("launch", *_args(small_corpus, out, last + 4, "--num-processes", 2, "--resume", "auto"),
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = read_json(out / "run_summary.json")
    assert s["steps"] == last + 4 and s["resumed_from"].endswith(f"checkpoint-{last}")


@pytest.fixture
def small_disk(tmp_path):
    """A real 2.8 MiB tmpfs: room for the run folder and one checkpoint, not two."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        skip_or_fail("mounting a tmpfs needs root (CI runs as root)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2800k", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_at_save_time_is_a_clear_error_and_keeps_the_checkpoint(small_corpus, tmp_path, small_disk):
    out = small_disk / "run"
    proc = run_cli("launch", *_args(small_corpus, out), cwd=tmp_path)
    assert proc.returncode == 5, proc.stderr[-3000:]
    assert "could not write" in proc.stderr and "No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (out / "checkpoint-4" / "trainer_state.json").is_file()
    assert not any(p.name.startswith(".tmp-") for p in out.iterdir())
    # once there is room again, the run continues from that checkpoint
    room = tmp_path / "room"
    shutil.copytree(out, room, ignore=shutil.ignore_patterns(".asr-dist.lock"))
    proc = run_cli("launch", *_args(small_corpus, room, 12, "--resume", "auto"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_json(room / "run_summary.json")["resumed_from"].endswith("checkpoint-4")
