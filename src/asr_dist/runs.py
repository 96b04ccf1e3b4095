"""What launch and train share at the edge: defaults that depend on the world (demo data, run
folder, learning rate), reading and filtering the data, and the vocabulary."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from .config import RunConfig
from .data.cache import AudioInfoCache
from .data.demo import DemoSpec, demo_exists, write_demo_corpus
from .data.filtering import UNK_MAPPED, FilterResult, filter_entries
from .data.manifest import read_manifest
from .data.text import TextNormalizer, build_vocab
from .errors import UserError
from .models.presets import DEFAULT_LEARNING_RATE_PRETRAINED, PRESETS, frames_per_second

PLAN_FILE = "plan.json"
RUN_CONFIG_FILE = "run_config.yaml"
SUMMARY_FILE = "run_summary.json"


def ensure_demo_data(folder: str, say=print) -> None:
    if demo_exists(folder):
        return
    spec = DemoSpec()
    say(f"generating the demo corpus in {folder}/ ({spec.num_train} train + {spec.num_dev} dev utterances) ...")
    t = time.time()
    write_demo_corpus(folder, spec)
    say(f"demo corpus ready in {time.time() - t:.1f} s")


def model_basename(model: str) -> str:
    return model if model in PRESETS else os.path.basename(os.path.normpath(model)) or "model"


def resolve_inputs(cfg: RunConfig, say=print) -> RunConfig:
    """Fill the defaults that depend on the world: demo data when no manifest, eval manifest,
    learning rate by model."""
    changes = {}
    if cfg.train_manifest is None:
        ensure_demo_data(cfg.demo_data_dir, say)
        changes["train_manifest"] = os.path.join(cfg.demo_data_dir, "train.jsonl")
        if cfg.eval_manifest is None:
            changes["eval_manifest"] = os.path.join(cfg.demo_data_dir, "dev.jsonl")
    if cfg.learning_rate is None:
        preset = PRESETS.get(cfg.model)
        changes["learning_rate"] = preset.learning_rate if preset else DEFAULT_LEARNING_RATE_PRETRAINED
    return cfg.replace(**changes) if changes else cfg


def default_output_dir(cfg: RunConfig, plan_name: str) -> str:
    name = cfg.run_name or f"{model_basename(cfg.model)}-{plan_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return os.path.join("outputs", name)


def freezes_feature_encoder(cfg: RunConfig) -> bool:
    """Presets start from random weights and train their feature encoder; pretrained folders
    freeze it unless told otherwise (the usual XLS-R fine-tuning recipe)."""
    return cfg.freeze_feature_encoder and cfg.model not in PRESETS


def model_frames_per_second(model: str) -> float:
    if model in PRESETS:
        return frames_per_second(PRESETS[model].config_kwargs)
    path = os.path.join(model, "config.json")
    if not os.path.isfile(path):
        raise UserError(f"--model: '{model}' is not a preset ({', '.join(PRESETS)}) nor a folder with config.json")
    with open(path, encoding="utf-8") as fh:
        return frames_per_second(json.load(fh))


@dataclass
class Data:
    train: FilterResult
    eval: FilterResult | None
    vocab: dict

    def skipped(self) -> dict:
        """Drop counts by reason over both splits (the run_summary.json `skipped`)."""
        total: dict = {}
        for part in (self.train, self.eval):
            if part:
                for reason, n in part.skipped.items():
                    total[reason] = total.get(reason, 0) + n
        if self.train.unk_mapped or (self.eval and self.eval.unk_mapped):
            total[UNK_MAPPED] = self.train.unk_mapped + (self.eval.unk_mapped if self.eval else 0)
        return total


def load_data(cfg: RunConfig, vocab: dict | None = None, *, normalizer: TextNormalizer | None = None,
              drop_oov: bool = False, content_checks: bool = True, cache=True,
              require_kept: bool = True) -> Data:
    """Read and filter both manifests (any input kind read_manifest takes). Without a
    vocabulary, build it from the kept training transcripts (characters, `|` for spaces, [UNK],
    [PAD]); a given vocabulary is used unchanged. `drop_oov`: drop utterances with characters
    outside the vocabulary (`oov_characters`) instead of mapping them to [UNK]
    (`oov_mapped_to_unk`). `content_checks`: decode each file once (cached) to drop silent,
    non-finite and corrupt audio. `require_kept=False` returns an empty train split instead of
    raising (data-report)."""
    fps = model_frames_per_second(cfg.model)
    norm = normalizer or TextNormalizer()
    if cache is True:
        cache = AudioInfoCache()  # one instance for both splits (they often share a folder)
    common = dict(normalizer=norm, min_duration=cfg.min_duration, max_duration=cfg.max_duration,
                  frames_per_second=fps, drop_oov=drop_oov, content_checks=content_checks, cache=cache)
    train = filter_entries(read_manifest(cfg.train_manifest, "train-manifest"), vocab=vocab, **common)
    if not train.kept and require_kept:
        reasons = ", ".join(f"{k}={v}" for k, v in train.skipped.items())
        raise UserError(f"--train-manifest: no usable utterance in {cfg.train_manifest} (dropped: {reasons})")
    if vocab is None:
        vocab = build_vocab(u.text for u in train.kept)
    evald = None
    if cfg.eval_manifest:
        evald = filter_entries(read_manifest(cfg.eval_manifest, "eval-manifest"), vocab=vocab, **common)
    return Data(train, evald, vocab)


def read_vocab(folder: str) -> dict | None:
    path = os.path.join(folder, "vocab.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
