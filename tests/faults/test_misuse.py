"""Misconfiguration and misuse: exit 2 with one line naming the problem, nothing overwritten."""
import os

from faultkit import Launch
from helpers import assert_one_line_error, run_cli


def test_resume_path_that_is_not_a_checkpoint(small_corpus, tmp_path):
    proc = run_cli("launch", "--dry-run", "--train-manifest", os.path.join(small_corpus, "train.jsonl"),
                   "--output-dir", tmp_path / "o", "--resume", tmp_path, cwd=tmp_path)
    assert_one_line_error(proc, "--resume", str(tmp_path), "not a checkpoint")


def test_zero_or_negative_budgets(small_corpus, tmp_path):
    proc = run_cli("plan", "--train-manifest", os.path.join(small_corpus, "train.jsonl"),
                   "--effective-batch-seconds", -5, "--max-steps", 0)
    assert_one_line_error(proc, "effective_batch_seconds", "-5", "max_steps")


def test_wrong_type_in_yaml(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("max_steps: lots\nseed: 1.5\n")
    proc = run_cli("plan", "--config", cfg)
    assert_one_line_error(proc, "max_steps: expected int, got 'lots'", "seed")


def test_evaluate_a_model_folder_without_processor(tmp_path, small_corpus):
    from transformers import Wav2Vec2Config

    Wav2Vec2Config().save_pretrained(tmp_path / "m")
    proc = run_cli("evaluate", tmp_path / "m", os.path.join(small_corpus, "dev.jsonl"))
    assert_one_line_error(proc, "no processor", "vocab.json")


def test_second_launch_into_a_busy_folder_refuses(small_corpus, tmp_path):
    out = tmp_path / "run"
    args = ["--train-manifest", os.path.join(small_corpus, "train.jsonl"), "--output-dir", out,
            "--max-steps", 100000, "--save-every", 100000, "--eval-every", 100000]
    first = Launch(args, cwd=tmp_path)
    try:
        first.wait_for(lambda: first.step() >= 1, what="the first run to train")
        before = sorted(p.name for p in out.iterdir())
        proc = run_cli("launch", *args, "--resume", "auto", cwd=tmp_path)
        assert_one_line_error(proc, "in use by another launch", "pid")
        assert sorted(p.name for p in out.iterdir()) == before
    finally:
        first.kill_all()
        first.wait(timeout=30)
