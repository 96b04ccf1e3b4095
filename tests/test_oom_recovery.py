"""OOM backoff in real runs: ASR_DIST_INJECT_OOM raises torch.OutOfMemoryError inside the forward
(or backward) pass on one rank; the run recovers inside the step (DDP; ZeRO-2 forward) or, where
the other ranks are already inside a collective (ZeRO-3 forward, DeepSpeed backward), restarts from
the last checkpoint with the smaller limit; samples and effective batch are those of the plan."""
import glob
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


@pytest.fixture(scope="module")
def plain_run(small_corpus, tmp_path_factory):
    """The run without injection, once per strategy (2 processes): (summary, run folder)."""
    done = {}

    def get(strategy):
        if strategy not in done:
            out = tmp_path_factory.mktemp(f"plain-{strategy}") / "run"
            s = _ok(_launch(small_corpus, str(out), "--strategy", strategy, "--num-processes", 2), out)
            assert s["oom_backoffs"] == [] and s["micro_batch_seconds"] == 16
            done[strategy] = s, out
        return done[strategy]

    return get


def _weights(run_dir):
    from safetensors.torch import load_file

    return load_file(os.path.join(run_dir, "model.safetensors"))


@pytest.mark.parametrize("strategy", ["ddp", "zero2"])
def test_one_rank_oom_every_rank_backs_off_same_samples_same_result(strategy, small_corpus, tmp_path, plain_run):
    args = ("--strategy", strategy, "--num-processes", 2)
    plain, _ = plain_run(strategy)
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


@pytest.mark.parametrize("strategy,phase,in_place", [("zero3", "forward", False), ("zero2", "backward", False),
                                                     ("ddp", "backward", True)])
def test_oom_inside_a_collective_restarts_from_the_checkpoint(strategy, phase, in_place, small_corpus, tmp_path,
                                                              plain_run):
    """ZeRO-3 gathers parameters inside forward and DeepSpeed reduces gradients inside backward: the
    failing rank records its limit and leaves, `asr-dist launch` restarts from checkpoint-4 with it,
    and the run ends with the same samples and the same weights as without the OOM. DDP recovers
    from a backward OOM in place (no collective runs inside its accumulation)."""
    plain, plain_dir = plain_run(strategy)
    out = tmp_path / "hit"
    proc = _launch(small_corpus, str(out), "--strategy", strategy, "--num-processes", 2,
                   env={"ASR_DIST_INJECT_OOM": f"rank=1,max_batch_seconds=9,from_step=5,phase={phase}"})
    s = _ok(proc, out)
    (event,) = s["oom_backoffs"][:1]
    assert event["step"] == 5 and event["rank"] == 1 and event["from_batch_seconds"] > 9 >= event["to_batch_seconds"]
    assert set(event) == {"step", "rank", "from_batch_seconds", "to_batch_seconds"}
    if in_place:
        assert s["resumed_from"] is None and "Restarting" not in proc.stderr
    else:
        assert len(s["oom_backoffs"]) == 1  # the limit then held for every shape
        assert f"rank 1 ran out of memory in step 5 ({phase})" in proc.stderr
        assert f"Restarting from {out}/checkpoint-4 with micro-batches of at most" in proc.stderr
        assert s["resumed_from"] == f"{out}/checkpoint-4"
        assert not glob.glob(str(out / "oom-restart-rank*.json"))  # consumed by the restarted run
    assert s["steps"] == 8 and s["samples_seen"] == plain["samples_seen"]
    assert s["audio_seconds_seen"] == pytest.approx(plain["audio_seconds_seen"])
    got, want = _weights(out), _weights(plain_dir)
    assert got.keys() == want.keys()
    for name in want:  # the same gradients, summed in smaller pieces
        assert got[name].float().sub(want[name].float()).abs().max() <= 1e-4, name


def test_one_eval_utterance_too_big_is_a_clear_error(small_corpus, tmp_path):
    """Training fits (micro-batches cut to 3 s), but one evaluation utterance alone exceeds the limit."""
    import json

    def absolute(row):
        return json.dumps({**row, "audio_filepath": os.path.join(small_corpus, row["audio_filepath"])}) + "\n"

    rows = [json.loads(line) for line in open(os.path.join(small_corpus, "train.jsonl"), encoding="utf-8")]
    longest = max(rows, key=lambda r: r["duration"])
    assert longest["duration"] > 4.5
    train, dev = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    train.write_text("".join(absolute(r) for r in rows if r["duration"] < 3))
    dev.write_text(absolute(longest))
    out = tmp_path / "evalfatal"
    proc = run_cli("launch", "--train-manifest", train, "--eval-manifest", dev,
                   "--output-dir", out, "--max-steps", 2, "--eval-every", 2, "--micro-batch-limit-seconds", 3,
                   cwd=tmp_path, env={"ASR_DIST_INJECT_OOM": "rank=0,max_batch_seconds=4.5"}, timeout=600)
    assert proc.returncode == 4, proc.stderr[-3000:]
    s = read_json(out / "run_summary.json")
    assert s["exit_code"] == 4 and s["steps"] == 2
    assert "evaluation: out of memory on one utterance alone" in s["error"]
    assert os.path.basename(longest["audio_filepath"]) in s["error"] and "--max-duration" in s["error"]
    assert "evaluation: out of memory on one utterance alone" in proc.stderr
    assert not glob.glob(str(out / "oom-restart-rank*.json"))
