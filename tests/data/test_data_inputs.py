"""Every input kind read_manifest takes gives the same samples for the same content."""
import csv
import json
import os

import numpy as np
import pytest
from datatest_wavs import tone, write_jsonl, write_wav

from asr_dist.data.audio import load_audio, load_utterance_audio
from asr_dist.data.filtering import filter_entries
from asr_dist.data.manifest import manifest_kind, read_manifest
from asr_dist.data.text import TextNormalizer
from asr_dist.errors import UserError

ROWS = [("wavs/u0.wav", "The cat sat.", 0.6, 300.0), ("wavs/u1.wav", "Dog ran far!", 1.1, 500.0),
        ("wavs/u2.wav", "blue green", 0.8, 700.0), ("wavs/u3.wav", "?!", 0.9, 900.0),  # empty text
        ("wavs/u4.wav", "red sun", 1.3, 1100.0)]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ASR_DIST_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    for rel, _, secs, freq in ROWS:
        write_wav(root / rel, tone(secs, freq))
    return root


def _samples(path):
    res = filter_entries(read_manifest(str(path)), normalizer=TextNormalizer(), min_duration=0.1,
                         max_duration=30.0, frames_per_second=50.0)
    out = [(u.text, round(u.duration, 6), load_utterance_audio(u).tobytes()) for u in res.kept]
    return out, dict(res.skipped), [(r, ln) for r, ln, _ in res.dropped]


def _write_csv(path, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(["audio_filepath", "text", "duration"])
        w.writerows(rows)


def _every_kind(corpus):
    from datasets import Audio, Dataset

    paths = {}
    rows = [{"audio_filepath": rel, "text": text, "duration": secs} for rel, text, secs, _ in ROWS]
    paths["jsonl"] = write_jsonl(corpus / "m.jsonl", rows)
    _write_csv(corpus / "m.csv", [(r["audio_filepath"], r["text"], r["duration"]) for r in rows])
    paths["csv"] = str(corpus / "m.csv")
    _write_csv(corpus / "m.tsv", [(r["audio_filepath"], r["text"], "") for r in rows], "\t")
    paths["tsv"] = str(corpus / "m.tsv")
    # datasets, audio_filepath column with paths relative to the corpus (the dataset's parent)
    Dataset.from_list(rows).save_to_disk(str(corpus / "ds_paths"))
    paths["datasets-audio_filepath"] = str(corpus / "ds_paths")
    # datasets, `audio` column of absolute paths, Audio(decode=False): stored as {"path", "bytes": None}
    abs_rows = [{"audio": str(corpus / rel), "text": text} for rel, text, _, _ in ROWS]
    Dataset.from_list(abs_rows).cast_column("audio", Audio(decode=False)).save_to_disk(str(corpus / "ds_audio_path"))
    paths["datasets-audio-path"] = str(corpus / "ds_audio_path")
    # datasets, `audio` column of bytes only (no usable path), Audio(decode=False)
    byte_rows = [{"audio": {"bytes": open(corpus / rel, "rb").read(), "path": os.path.basename(rel)}, "text": text}
                 for rel, text, _, _ in ROWS]
    Dataset.from_list(byte_rows).cast_column("audio", Audio(decode=False)).save_to_disk(str(corpus / "ds_bytes"))
    paths["datasets-audio-bytes"] = str(corpus / "ds_bytes")
    # audiofolder: metadata.csv with file_name + transcription
    af = corpus / "af"
    for rel, _, secs, freq in ROWS:
        write_wav(af / os.path.basename(rel), tone(secs, freq))
    with open(af / "metadata.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file_name", "transcription"])
        w.writerows((os.path.basename(rel), text) for rel, text, _, _ in ROWS)
    paths["audiofolder"] = str(af)
    # audiofolder with metadata.jsonl and a `text` column
    afj = corpus / "afj"
    for rel, _, secs, freq in ROWS:
        write_wav(afj / os.path.basename(rel), tone(secs, freq))
    write_jsonl(afj / "metadata.jsonl", [{"file_name": os.path.basename(rel), "text": text} for rel, text, _, _ in ROWS])
    paths["audiofolder-jsonl"] = str(afj)
    return paths


def test_every_input_kind_gives_the_same_samples(corpus):
    paths = _every_kind(corpus)
    expected_kind = {"jsonl": "jsonl", "csv": "csv", "tsv": "tsv", "audiofolder": "audiofolder",
                     "audiofolder-jsonl": "audiofolder"}
    reference = _samples(paths["jsonl"])
    assert len(reference[0]) == 4 and reference[1] == {"empty_text": 1}
    assert [t for t, _, _ in reference[0]] == ["the cat sat", "dog ran far", "blue green", "red sun"]
    for name, path in paths.items():
        assert manifest_kind(path) == expected_kind.get(name, "datasets"), name
        got = _samples(path)
        assert got[0] == reference[0], name
        assert got[1] == reference[1], name
    # line numbers: JSONL line 4, CSV/metadata.csv line 5 (header is line 1), datasets row 3 -> 4
    assert _samples(paths["csv"])[2] == [("empty_text", 5)]
    assert _samples(paths["datasets-audio-bytes"])[2] == [("empty_text", 4)]


def test_bytes_only_audio_is_written_once_to_the_cache(corpus, tmp_path):
    paths = _every_kind(corpus)
    first = read_manifest(paths["datasets-audio-bytes"])
    assert all(e.audio_path.startswith(str(tmp_path / "cache" / "audio")) for e in first)
    assert first[0].origin.endswith("[0]:u0.wav")
    mtimes = [os.stat(e.audio_path).st_mtime_ns for e in first]
    second = read_manifest(paths["datasets-audio-bytes"])
    assert [e.audio_path for e in second] == [e.audio_path for e in first]
    assert [os.stat(e.audio_path).st_mtime_ns for e in second] == mtimes
    np.testing.assert_array_equal(load_audio(first[1].audio_path), load_audio(str(corpus / ROWS[1][0])))


def test_embedded_audio_feature_without_torchcodec(corpus):
    """save_to_disk of an Audio() column embeds the bytes; reading must not decode them."""
    from datasets import Audio, Dataset

    rows = [{"audio": str(corpus / rel), "sentence": text} for rel, text, _, _ in ROWS]
    Dataset.from_list(rows).cast_column("audio", Audio(sampling_rate=16000)).save_to_disk(str(corpus / "emb"))
    got = _samples(corpus / "emb")
    assert got[0] == _samples(write_jsonl(corpus / "m.jsonl", [
        {"audio_filepath": rel, "text": text} for rel, text, _, _ in ROWS]))[0]


def test_folder_errors_are_user_errors(corpus, tmp_path):
    from datasets import Dataset, DatasetDict

    rows = [{"audio_filepath": "x.wav", "text": "a"}]
    DatasetDict({"train": Dataset.from_list(rows), "test": Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(UserError, match="DatasetDict.*train"):
        read_manifest(str(tmp_path / "dd"), "train-manifest")
    assert len(read_manifest(str(tmp_path / "dd" / "train"))) == 1
    os.makedirs(tmp_path / "plain")
    with pytest.raises(UserError, match="neither"):
        read_manifest(str(tmp_path / "plain"))
    Dataset.from_list([{"audio_filepath": "x.wav", "words": "a"}]).save_to_disk(str(tmp_path / "notext"))
    with pytest.raises(UserError, match="no text column"):
        read_manifest(str(tmp_path / "notext"))
    af = tmp_path / "af"
    os.makedirs(af)
    (af / "metadata.csv").write_text("file_name,label\na.wav,x\n")
    with pytest.raises(UserError, match=r"metadata.csv:2: missing field 'transcription'"):
        read_manifest(str(af))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"audio_filepath": "a.wav", "text": "x", "duration": "long"}) + "\n")
    with pytest.raises(UserError, match="bad.jsonl:1: duration"):
        read_manifest(str(bad))
