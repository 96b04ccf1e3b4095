"""Every filter reason, each from a real bad file or transcript made here; resampling; OOV modes."""
import json
import os

import numpy as np
import pytest
from datatest_wavs import RATE, bad_files, tone, write_jsonl, write_wav

from asr_dist.config import RunConfig
from asr_dist.data.audio import load_audio, scan_audio
from asr_dist.data.filtering import REASONS, filter_entries
from asr_dist.data.manifest import read_manifest
from asr_dist.data.report import data_report
from asr_dist.data.text import TextNormalizer, build_vocab
from asr_dist.runs import load_data


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ASR_DIST_CACHE_DIR", str(tmp_path / "cache"))


def _filter(manifest, **kw):
    args = dict(normalizer=TextNormalizer(), min_duration=0.2, max_duration=2.0, frames_per_second=50.0)
    args.update(kw)
    return filter_entries(read_manifest(str(manifest)), **args)


@pytest.fixture
def bad_manifest(tmp_path):
    f = bad_files(tmp_path / "wavs")
    rows = [
        {"audio_filepath": "wavs/good.wav", "text": "Hello, world!"},            # 1 kept
        {"audio_filepath": "wavs/missing.wav", "text": "gone"},                  # 2
        {"audio_filepath": "wavs/truncated_header.wav", "text": "cut"},          # 3
        {"audio_filepath": "wavs/zero_frames.wav", "text": "nothing"},           # 4
        {"audio_filepath": "wavs/empty_file.wav", "text": "nothing"},            # 5
        {"audio_filepath": "wavs/nan.wav", "text": "not a number"},              # 6
        {"audio_filepath": "wavs/silent.wav", "text": "quiet"},                  # 7
        {"audio_filepath": "wavs/corrupt.flac", "text": "garbled"},              # 8
        {"audio_filepath": "wavs/short.wav", "text": "hi"},                      # 9
        {"audio_filepath": "wavs/long.wav", "text": "long"},                     # 10
        {"audio_filepath": "wavs/good.wav", "text": " ?!... ,;: -- "},            # 11 punctuation only
        {"audio_filepath": "wavs/good.wav", "text": "a" * 10 + "b" * 40},        # 12: 50 chars + 48 blanks > 50 frames
        {"audio_filepath": "wavs/good.wav", "text": "ab " * 16},                 # 13: 47 labels <= 50 frames: kept
    ]
    return write_jsonl(tmp_path / "bad.jsonl", rows), f


def test_every_reason_from_real_files(bad_manifest):
    manifest, _ = bad_manifest
    res = _filter(manifest)
    got = {line: reason for reason, line, _ in res.dropped}
    assert got == {2: "missing_file", 3: "unreadable_audio", 4: "zero_length", 5: "zero_length",
                   6: "non_finite", 7: "silent", 8: "unreadable_audio", 9: "too_short", 10: "too_long",
                   11: "empty_text", 12: "text_too_long_for_ctc"}
    assert [u.text for u in res.kept] == ["hello world", ("ab " * 16).strip()]
    assert res.kept[0].duration == pytest.approx(1.0)
    assert sum(res.skipped.values()) == len(res.dropped) == 11
    assert set(res.skipped) <= set(REASONS)
    assert [ln for _, ln, _ in res.dropped] == sorted(ln for _, ln, _ in res.dropped)
    assert res.dropped[0][2].endswith("missing.wav")


def test_content_checks_can_be_switched_off(bad_manifest):
    manifest, _ = bad_manifest
    res = _filter(manifest, content_checks=False)
    assert res.files_decoded == 0
    assert not {"silent", "non_finite"} & set(res.skipped)
    assert res.skipped["unreadable_audio"] == 1  # only the header-level one


def test_scan_reports_corrupt_nan_and_silence(bad_manifest):
    _, f = bad_manifest
    assert scan_audio(f["corrupt"]).error
    assert scan_audio(f["nan"]).non_finite and scan_audio(f["nan"]).peak == pytest.approx(0.3, abs=1e-3)
    assert scan_audio(f["silent"]).peak == 0.0
    good = scan_audio(f["good"])
    assert good.error is None and good.frames == RATE and not good.non_finite


def test_stereo_8k_resampled_band_limited(tmp_path):
    left = tone(1.0, 1000.0, rate=8000, amp=0.5)
    stereo = np.stack([left, left], axis=1)
    path = write_wav(tmp_path / "st.wav", stereo, rate=8000)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == 16000  # 1 s at 16 kHz
    spectrum = np.abs(np.fft.rfft(audio[2000:14000] * np.hanning(12000)))
    freqs = np.fft.rfftfreq(12000, 1 / 16000)
    assert abs(freqs[spectrum.argmax()] - 1000.0) < 5.0  # the tone keeps its frequency
    # nearest-sample / zero-order-hold upsampling would leave a strong image at 8000 - 1000 Hz
    image = spectrum[np.abs(freqs - 7000.0) < 20].max()
    assert image < 1e-3 * spectrum.max()
    # and the level is preserved (mono mix of two equal channels)
    assert np.abs(audio[2000:14000]).max() == pytest.approx(0.5, abs=0.02)
    # the filter measures its duration from the 8 kHz header
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"audio_filepath": "st.wav", "text": "tone"}])
    assert _filter(manifest).kept[0].duration == pytest.approx(1.0)


def _oov_corpus(tmp_path):
    write_wav(tmp_path / "a.wav", tone(1.0))
    rows = [{"audio_filepath": "a.wav", "text": "abc"}, {"audio_filepath": "a.wav", "text": "abz"},
            {"audio_filepath": "a.wav", "text": "ñañ"}]
    return write_jsonl(tmp_path / "oov.jsonl", rows)


def test_oov_mapped_to_unk_or_dropped(tmp_path):
    manifest = _oov_corpus(tmp_path)
    vocab = build_vocab(["abc"])
    mapped = _filter(manifest, vocab=vocab)
    assert len(mapped.kept) == 3 and mapped.unk_mapped == 2 and not mapped.skipped
    dropped = _filter(manifest, vocab=vocab, drop_oov=True)
    assert [u.text for u in dropped.kept] == ["abc"]
    assert dropped.skipped == {"oov_characters": 2} and dropped.unk_mapped == 0


def test_load_data_oov_modes_and_vocab_reused(tmp_path):
    manifest = _oov_corpus(tmp_path)
    vocab = build_vocab(["abc"])
    cfg = RunConfig(train_manifest=manifest)
    data = load_data(cfg, vocab=vocab)
    assert data.vocab is vocab and data.skipped() == {"oov_mapped_to_unk": 2}
    data = load_data(cfg, vocab=vocab, drop_oov=True)
    assert data.vocab == build_vocab(["abc"]) and data.skipped() == {"oov_characters": 2}
    # a normalizer that keeps only a-c turns "abz" into "ab" and "ñañ" into "a": nothing is OOV
    data = load_data(cfg, vocab=vocab, normalizer=TextNormalizer(allowed_chars="abc"))
    assert [u.text for u in data.train.kept] == ["abc", "ab", "a"] and data.skipped() == {}


def test_report_json_keys_and_all_dropped(bad_manifest):
    manifest, _ = bad_manifest
    rep = data_report(manifest, max_duration=2.0).to_dict()
    assert list(rep) == ["count", "hours", "mean", "p50", "p95", "max", "vocab", "skipped", "dropped"]
    assert rep["count"] == 2 and rep["max"] == pytest.approx(1.0)
    assert rep["hours"] == pytest.approx(2 / 3600)
    assert len(rep["dropped"]) == 11 == sum(rep["skipped"].values())
    assert set(rep["dropped"][0]) == {"reason", "line", "audio_filepath"}
    assert rep["vocab"] == sorted(set("helloworldab") - {" "})


def test_report_when_everything_is_dropped(tmp_path):
    write_wav(tmp_path / "s.wav", np.zeros(RATE, np.float32))
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"audio_filepath": "s.wav", "text": "x"}])
    rep = data_report(manifest)
    assert rep.to_dict()["count"] == 0 and rep.skipped == {"silent": 1}
    assert "line 1: silent" in rep.render()


def test_cli_data_report_json(bad_manifest, tmp_path):
    from helpers import run_cli

    manifest, _ = bad_manifest
    proc = run_cli("data-report", manifest, "--max-duration", "2", "--json",
                   env={"ASR_DIST_CACHE_DIR": str(tmp_path / "cli-cache")})
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["skipped"]["silent"] == 1 and rep["skipped"]["non_finite"] == 1
    text = run_cli("data-report", manifest, "--max-duration", "2",
                   env={"ASR_DIST_CACHE_DIR": str(tmp_path / "cli-cache")}).stdout
    assert all(f"line {n}:" in text for n in range(2, 13))
    assert os.listdir(tmp_path / "cli-cache" / "audio-info")
