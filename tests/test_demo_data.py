import hashlib
import json
import os

import soundfile as sf

from asr_dist.data.demo import DemoSpec, write_demo_corpus


def _digest(folder: str) -> str:
    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as fh:
                h.update(name.encode() + fh.read())
    return h.hexdigest()


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    spec = DemoSpec(num_train=12, num_dev=3, seed=7)
    write_demo_corpus(str(tmp_path / "a"), spec)
    write_demo_corpus(str(tmp_path / "b"), spec)
    write_demo_corpus(str(tmp_path / "c"), DemoSpec(num_train=12, num_dev=3, seed=8))
    assert _digest(str(tmp_path / "a")) == _digest(str(tmp_path / "b"))
    assert _digest(str(tmp_path / "a")) != _digest(str(tmp_path / "c"))


def test_manifests_valid_and_durations_match_files(small_corpus):
    for split, count in (("train", 60), ("dev", 12)):
        with open(os.path.join(small_corpus, f"{split}.jsonl")) as fh:
            rows = [json.loads(line) for line in fh]
        assert len(rows) == count
        for row in rows:
            assert set(row) == {"audio_filepath", "duration", "text"}
            info = sf.info(os.path.join(small_corpus, row["audio_filepath"]))
            assert info.samplerate == 16000 and info.channels == 1
            assert abs(info.frames / 16000 - row["duration"]) < 1e-3
            assert row["text"] and row["text"] == row["text"].strip()


def test_default_corpus_shape_is_skewed_like_real_speech(tmp_path):
    paths = write_demo_corpus(str(tmp_path), DemoSpec(num_train=300, num_dev=1))
    with open(paths["train"]) as fh:
        durations = sorted(json.loads(line)["duration"] for line in fh)
    median = durations[len(durations) // 2]
    assert durations[0] >= 0.5 and durations[-1] <= 9.0
    assert durations[-1] > 5.0  # a long tail
    assert median < (durations[0] + durations[-1]) / 2  # skewed toward short utterances
