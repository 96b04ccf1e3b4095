"""Non-finite losses: skipped on every rank and counted; too many in a row stop the run cleanly."""
import os

from helpers import read_json, run_cli


def _run(corpus, out, steps, cwd, *extra, env=None):
    return run_cli("launch", "--train-manifest", os.path.join(corpus, "train.jsonl"), "--output-dir", out,
                   "--max-steps", steps, "--save-every", 4, "--eval-every", 1000, "--effective-batch-seconds", 16,
                   *extra, cwd=cwd, env=env)


def test_nonfinite_steps_skipped_on_both_ranks(small_corpus, tmp_path):
    proc = _run(small_corpus, tmp_path / "nf", 8, tmp_path, "--num-processes", 2,
                env={"ASR_DIST_INJECT_NONFINITE": "3,4"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = read_json(tmp_path / "nf" / "run_summary.json")
    assert s["nonfinite_steps"] == 2 and s["steps"] == 8
    a, b = s["param_checksums"]
    assert a == b  # both ranks skipped the same steps
    assert "non-finite loss" in proc.stderr


def test_too_many_in_a_row_abort_and_keep_last_checkpoint(small_corpus, tmp_path):
    proc = _run(small_corpus, tmp_path / "abort", 20, tmp_path, "--max-nonfinite-in-row", 3,
                env={"ASR_DIST_INJECT_NONFINITE": "6,7,8,9,10"})
    assert proc.returncode == 3, proc.stderr[-3000:]
    s = read_json(tmp_path / "abort" / "run_summary.json")
    assert s["steps"] == 8 and s["nonfinite_steps"] == 3 and s["exit_code"] == 3
    assert (tmp_path / "abort" / "checkpoint-4" / "trainer_state.json").is_file()
    assert not (tmp_path / "abort" / "model.safetensors").exists()
    assert "aborting: 3 non-finite losses in a row" in proc.stderr
