"""Bad input in a real run: the run goes on and counts what it dropped; a lying manifest cannot
break batching (durations come from the audio files)."""
import json
import os

import numpy as np
import soundfile as sf

from helpers import read_json, run_cli


def test_run_goes_on_with_counts(small_corpus, tmp_path):
    with open(os.path.join(small_corpus, "train.jsonl")) as fh:
        rows = [json.loads(line) for line in fh]
    for row in rows:
        row["audio_filepath"] = os.path.join(small_corpus, row["audio_filepath"])
    real = rows[0]["duration"]
    rows[0]["duration"] = 99.0  # lies: the file decides
    rows[1]["duration"] = 0.01
    (tmp_path / "garbage.wav").write_bytes(os.urandom(3000))
    sf.write(tmp_path / "silent.wav", np.zeros(32000, dtype="float32"), 16000)
    sf.write(tmp_path / "nan.wav", np.full(32000, np.nan, dtype="float32"), 16000, subtype="FLOAT")
    rows += [{"audio_filepath": str(tmp_path / "missing.wav"), "text": "the cat"},
             {"audio_filepath": str(tmp_path / "garbage.wav"), "text": "the cat"},
             {"audio_filepath": str(tmp_path / "silent.wav"), "text": "the cat"},
             {"audio_filepath": str(tmp_path / "nan.wav"), "text": "the cat"},
             {"audio_filepath": rows[2]["audio_filepath"], "text": "?!"},
             {"audio_filepath": rows[3]["audio_filepath"], "text": "the cat sat with ünïcödé"}]
    manifest = tmp_path / "messy.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))

    report = run_cli("data-report", manifest, "--json")
    assert report.returncode == 0, report.stderr
    rep = json.loads(report.stdout)
    assert rep["max"] < 10 and rep["count"] == 61  # 60 good + the OOV line kept (mapped or vocab)
    assert rep["skipped"]["missing_file"] == 1 and rep["skipped"]["unreadable_audio"] == 1
    assert rep["skipped"]["silent"] == 1 and rep["skipped"]["non_finite"] == 1 and rep["skipped"]["empty_text"] == 1

    out = tmp_path / "run"
    proc = run_cli("launch", "--train-manifest", manifest, "--eval-manifest", os.path.join(small_corpus, "dev.jsonl"),
                   "--output-dir", out, "--max-steps", 3, "--eval-every", 3, "--save-every", 3, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = read_json(out / "run_summary.json")
    for reason in ("missing_file", "unreadable_audio", "silent", "non_finite", "empty_text"):
        assert s["skipped"][reason] == 1, s["skipped"]
    assert "skipped:" in proc.stderr and "missing_file=1" in proc.stderr
    assert real < 10
