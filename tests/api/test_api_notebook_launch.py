"""asr_dist.notebook_launch: the planned processes started through accelerate's notebook_launcher
(forked from this process, DDP over gloo on CPU), and asr_dist.launch / evaluate against the CLI."""
import json
import os
import signal

import pytest

import asr_dist
from helpers import read_json, run_cli

OPTIONS = dict(num_processes=2, max_steps=8, eval_every=1000, save_every=8, effective_batch_seconds=16)


def _quiet(*_):
    pass


@pytest.fixture(scope="module")
def forked_run(small_corpus, tmp_path_factory):
    """notebook_launch with 2 processes, run from this (pytest) process; the configs land in cwd."""
    work = tmp_path_factory.mktemp("nb_launch")
    cwd = os.getcwd()
    os.chdir(work)
    try:
        summary = asr_dist.notebook_launch(
            train_manifest=os.path.join(small_corpus, "train.jsonl"),
            eval_manifest=os.path.join(small_corpus, "dev.jsonl"), output_dir=str(work / "nb"), **OPTIONS)
    finally:
        os.chdir(cwd)
    return work, summary


def test_two_forked_processes_form_one_gloo_group(forked_run):
    work, s = forked_run
    assert s["world_size"] == 2 and s["strategy"] == "ddp" and s["steps"] == 8 and s["exit_code"] == 0
    a, b = s["param_checksums"]
    assert a == pytest.approx(b, rel=1e-9)  # gradients were averaged across the two ranks
    assert len(s["peak_memory_bytes"]) == 2
    assert s["run_dir"] == str(work / "nb")
    on_disk = read_json(work / "nb" / "run_summary.json")
    assert {k: v for k, v in s.items() if k != "run_dir"} == on_disk
    assert (work / "nb" / "model.safetensors").is_file() and (work / "nb" / "checkpoint-8").is_dir()
    assert (work / "accelerate_configs" / "ddp-2xcpu.yaml").is_file()  # the same files as `asr-dist launch`


def test_same_result_as_accelerate_launch_from_the_cli(forked_run, small_corpus):
    """One code path: the CLI's `accelerate launch` subprocess trains exactly the same run."""
    work, nb = forked_run
    args = [f"--{k.replace('_', '-')}={v}" for k, v in OPTIONS.items()]
    proc = run_cli("launch", "--train-manifest", os.path.join(small_corpus, "train.jsonl"),
                   "--eval-manifest", os.path.join(small_corpus, "dev.jsonl"), "--output-dir", work / "cli",
                   *args, cwd=work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cli = read_json(work / "cli" / "run_summary.json")
    for key in ("strategy", "world_size", "steps", "samples_seen", "audio_seconds_seen", "eval", "skipped"):
        assert nb[key] == cli[key], key
    assert nb["train_loss_final"] == pytest.approx(cli["train_loss_final"], abs=1e-6)
    assert nb["param_checksums"] == pytest.approx(cli["param_checksums"], rel=1e-9)


def test_evaluate_equals_the_cli(forked_run, small_corpus):
    work, _ = forked_run
    dev = os.path.join(small_corpus, "dev.jsonl")
    proc = run_cli("evaluate", work / "nb", dev, "--json")
    assert proc.returncode == 0, proc.stderr
    assert asr_dist.evaluate(str(work / "nb"), dev) == json.loads(proc.stdout)
    with pytest.raises(asr_dist.UserError) as err:
        asr_dist.evaluate(str(work / "missing"), dev)
    proc = run_cli("evaluate", work / "missing", dev)
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {err.value}"


def test_one_process_runs_in_this_process_and_leaves_it_clean(forked_run, small_corpus, monkeypatch):
    """A 1-process plan runs inside the caller (the kernel): afterwards its environment, signal
    handlers and accelerate's global state are as before, so another launch can follow."""
    from accelerate.state import AcceleratorState, PartialState

    work, _ = forked_run
    monkeypatch.chdir(work)
    env_before = dict(os.environ)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)}
    s = asr_dist.notebook_launch(train_manifest=os.path.join(small_corpus, "train.jsonl"), say=_quiet,
                                 output_dir=str(work / "one"), max_steps=3, eval_every=1000, save_every=3,
                                 effective_batch_seconds=16)
    assert s["world_size"] == 1 and s["strategy"] == "single" and s["steps"] == 3
    assert dict(os.environ) == env_before
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
    assert not AcceleratorState._shared_state and not PartialState._shared_state


def test_notebook_launch_user_errors(small_corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(asr_dist.UserError, match="--model"):
        asr_dist.notebook_launch(model="xls", train_manifest=os.path.join(small_corpus, "train.jsonl"))
    with pytest.raises(asr_dist.UserError, match="notebook_launch starts the processes of this machine"):
        asr_dist.notebook_launch(num_machines=2, main_process_ip="127.0.0.1", output_dir=str(tmp_path / "x"),
                                 train_manifest=os.path.join(small_corpus, "train.jsonl"))
