"""OOM backoff in real runs: ASR_DIST_INJECT_OOM raises torch.OutOfMemoryError inside the forward
pass on one rank; the run recovers inside the step, keeps samples and effective batch."""
import os

import pytest

from helpers import read_json, run_cli

COMMON = ("--effective-batch-seconds", 32, "--max-steps", 8, "--save-every", 4, "--eval-every", 8, "--log-every", 1)


def _launch(corpus, out, *extra, env=None):
    return run_cli("launch", "--train-manifest", os.path.join(corpus, "train.jsonl"),
                   "--eval-manifest", os.path.join(corpus, "dev.jsonl"), "--output-dir", out, *COMMON, *extra,
                   cwd=os.path.dirname(out), env=env, timeout=900)


def _ok(proc, out):
    assert proc.returncode == 0, proc.stderr[-4000:]
    return read_json(os.path.join(out, "run_summary.json"))


@pytest.mark.parametrize("strategy", ["ddp", "zero2"])
def test_one_rank_oom_every_rank_backs_off_same_samples_same_result(strategy, small_corpus, tmp_path):
    args = ("--strategy", strategy, "--num-processes", 2)
    plain = _ok(_launch(small_corpus, str(tmp_path / "plain"), *args), tmp_path / "plain")
    assert plain["oom_backoffs"] == [] and plain["micro_batch_seconds"] == 16
    hit = tmp_path / "oom"
    s = _ok(_launch(small_corpus, str(hit), *args, env={"ASR_DIST_INJECT_OOM": "rank=1,max_batch_seconds=9"}), hit)
    events = s["oom_backoffs"]
    assert events and all(e["rank"] == 1 for e in events)
    assert events[0]["step"] == 1 and events[0]["from_batch_seconds"] > 9 >= events[0]["to_batch_seconds"]
    assert set(events[0]) == {"step", "rank", "from_batch_seconds", "to_batch_seconds"}
    assert s["samples_seen"] == plain["samples_seen"]
    assert s["audio_seconds_seen"] == pytest.approx(plain["audio_seconds_seen"])
    assert s["eval"]["cer"] is not None and s["eval_oom_retries"] > 0  # eval batches above it were halved
    # both ranks adopted it: the smaller cut from the start gives the same parameters
    limit = s["oom_limit_seconds"]
    small = _ok(_launch(small_corpus, str(tmp_path / "small"), *args, "--micro-batch-limit-seconds", limit),
                tmp_path / "small")
    assert small["oom_backoffs"] == []
    assert s["param_checksums"] == pytest.approx(small["param_checksums"], rel=1e-5)
    assert s["train_loss_final"] == pytest.approx(small["train_loss_final"], rel=1e-4)
    if strategy == "ddp":
        a, b = s["param_checksums"]
        assert a == pytest.approx(b, rel=1e-12)


def test_rank0_oom_at_first_step_single_process(small_corpus, tmp_path):
    out = tmp_path / "first"
    proc = _launch(small_corpus, str(out), env={"ASR_DIST_INJECT_OOM": "rank=0,max_batch_seconds=10"})
    s = _ok(proc, out)
    assert s["oom_backoffs"][0]["step"] == 1 and s["oom_backoffs"][0]["rank"] == 0
    assert s["steps"] == 8 and "out of memory on rank 0" in proc.stderr


def test_single_utterance_too_big_is_a_clear_error_and_keeps_the_checkpoint(small_corpus, tmp_path):
    out = tmp_path / "fatal"
    first = _launch(small_corpus, str(out), "--max-steps", 4)
    assert first.returncode == 0, first.stderr[-3000:]
    proc = _launch(small_corpus, str(out), "--resume", "auto", env={"ASR_DIST_INJECT_OOM": "rank=0,max_batch_seconds=0.3"})
    assert proc.returncode == 4, proc.stderr[-3000:]
    s = read_json(out / "run_summary.json")
    assert s["exit_code"] == 4 and s["steps"] == 4
    assert "out of memory on one utterance alone" in s["error"] and ".wav" in s["error"] and "--max-duration" in s["error"]
    assert "out of memory on one utterance alone" in proc.stderr
    from asr_dist.train.checkpoint import list_checkpoints

    assert [step for step, _ in list_checkpoints(str(out))] == [4]
