"""Training must actually learn: a short real run's dev CER is far below the untrained model's."""
import os

import torch

from helpers import read_json, run_cli


def _untrained_cer(run_dir, manifest) -> float:
    from asr_dist.data.filtering import filter_entries
    from asr_dist.data.manifest import read_manifest
    from asr_dist.data.text import TextNormalizer
    from asr_dist.train.evaluate import error_rates, transcribe
    from asr_dist.train.model import build_model, load_processor

    processor = load_processor(str(run_dir))
    torch.manual_seed(42)
    model = build_model("tiny", processor, freeze_feature_encoder=False)
    utts = filter_entries(read_manifest(manifest), normalizer=TextNormalizer(), min_duration=0.0,
                          max_duration=60.0, frames_per_second=50.0).kept
    hyps = transcribe(model, processor, utts, device=torch.device("cpu"))
    return error_rates([u.text for u in utts], hyps)["cer"]


def test_short_run_learns(tmp_path):
    from asr_dist.data.demo import DemoSpec, write_demo_corpus

    corpus = tmp_path / "corpus"
    write_demo_corpus(str(corpus), DemoSpec(num_train=160, num_dev=20, seed=3))
    out = tmp_path / "run"
    dev = os.path.join(corpus, "dev.jsonl")
    proc = run_cli("launch", "--train-manifest", corpus / "train.jsonl", "--eval-manifest", dev,
                   "--output-dir", out, "--max-steps", 400, "--eval-every", 200, "--save-every", 400,
                   "--effective-batch-seconds", 24, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trained = read_json(out / "run_summary.json")["eval"]["cer"]
    untrained = _untrained_cer(out, dev)
    assert untrained > 0.8, untrained  # random weights emit blanks or noise
    assert trained < 0.35, (trained, untrained)
