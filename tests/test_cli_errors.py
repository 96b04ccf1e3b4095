"""Bad input: exit code 2 and one line naming the problem, never a traceback."""
import json
import os

from helpers import assert_one_line_error, run_cli


def test_missing_manifest(tmp_path):
    proc = run_cli("launch", "--dry-run", "--train-manifest", tmp_path / "nope.jsonl", cwd=tmp_path)
    assert_one_line_error(proc, "--train-manifest", "nope.jsonl", "not found")


def test_manifest_line_without_text(tmp_path, small_corpus):
    bad = tmp_path / "bad.jsonl"
    with open(os.path.join(small_corpus, "train.jsonl")) as fh:
        rows = [json.loads(line) for line in fh][:5]
    for row in rows:
        row["audio_filepath"] = os.path.join(small_corpus, row["audio_filepath"])
    del rows[2]["text"]
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = run_cli("launch", "--dry-run", "--train-manifest", bad, cwd=tmp_path)
    assert_one_line_error(proc, "bad.jsonl:3", "text")


def test_broken_json_line_named(tmp_path):
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"audio_filepath": "a.wav", "text": "x"}\n{"audio_filepath": \n')
    proc = run_cli("data-report", bad)
    assert_one_line_error(proc, "broken.jsonl:2", "not valid JSON")


def test_unknown_model_preset(tmp_path, small_corpus):
    proc = run_cli("launch", "--dry-run", "--model", "xls-r-9b",
                   "--train-manifest", os.path.join(small_corpus, "train.jsonl"), cwd=tmp_path)
    assert_one_line_error(proc, "--model", "xls-r-9b", "tiny")


def test_bad_yaml_key(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("learning_rat: 0.1\n")
    proc = run_cli("plan", "--config", cfg)
    assert_one_line_error(proc, "learning_rat", "learning_rate")
