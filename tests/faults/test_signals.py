"""SIGTERM/SIGUSR1 to a running launch (or to one rank): checkpoint at the next step boundary,
exit 75, and `--resume auto` ends exactly where an uninterrupted run ends."""
import os
import signal
import time

import pytest

from faultkit import Launch
from helpers import read_json, run_cli

STEPS = 300  # long enough that the signal arrives mid-run even on an idle machine (~30 steps/s)


def _args(corpus, out, *extra):
    return ["--train-manifest", os.path.join(corpus, "train.jsonl"), "--output-dir", out, "--max-steps", STEPS,
            "--save-every", 1000, "--eval-every", 1000, "--log-every", 1, "--effective-batch-seconds", 16, *extra]


@pytest.fixture(scope="module")
def uninterrupted(small_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "run"
    proc = run_cli("launch", *_args(small_corpus, out), cwd=out.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_json(out / "run_summary.json")


def _interrupt_and_resume(corpus, tmp_path, full, sig, *, to_rank=False, processes=1):
    out = tmp_path / "run"
    extra = ("--num-processes", processes)
    run = Launch(_args(corpus, out, *extra), cwd=tmp_path)
    try:
        run.wait_for(lambda: run.step() >= 3, what="step 3")
        target = run.ranks()[-1] if to_rank else run.proc.pid
        sent = time.time()
        os.kill(target, sig)
        code = run.wait(timeout=120)
        took = time.time() - sent
    finally:
        run.kill_all()
    assert code == 75, run.err[-3000:]
    assert took < 60, took  # a checkpoint at the next step boundary, not at the end of the run
    stopped = read_json(out / "run_summary.json")
    assert stopped["exit_code"] == 75 and 3 <= stopped["steps"] < STEPS
    assert (out / f"checkpoint-{stopped['steps']}" / "trainer_state.json").is_file()
    proc = run_cli("launch", *_args(corpus, out, *extra, "--resume", "auto"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    done = read_json(out / "run_summary.json")
    assert done["resumed_from"].endswith(f"checkpoint-{stopped['steps']}") and done["steps"] == STEPS
    if full is not None:
        assert done["train_loss_final"] == pytest.approx(full["train_loss_final"], abs=1e-6)
        assert done["samples_seen"] == full["samples_seen"]
    return done


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1], ids=["SIGTERM", "SIGUSR1"])
def test_signal_to_launcher_checkpoints_and_resumes_exactly(sig, small_corpus, tmp_path, uninterrupted):
    _interrupt_and_resume(small_corpus, tmp_path, uninterrupted, sig)


def test_sigterm_to_one_rank_of_two_stops_both_cleanly(small_corpus, tmp_path):
    done = _interrupt_and_resume(small_corpus, tmp_path, None, signal.SIGTERM, to_rank=True, processes=2)
    assert done["world_size"] == 2
