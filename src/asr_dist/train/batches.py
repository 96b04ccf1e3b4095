"""Turning a micro-batch of utterances into tensors, through the Wav2Vec2Processor."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.audio import load_audio
from ..data.filtering import Utterance


@dataclass
class Batch:
    input_values: torch.Tensor
    attention_mask: torch.Tensor | None
    labels: torch.Tensor | None
    input_lengths: torch.Tensor  # samples per row before padding
    utterances: list[Utterance]

    @property
    def audio_seconds(self) -> float:
        return float(sum(u.duration for u in self.utterances))

    def model_inputs(self, device) -> dict:
        out = {"input_values": self.input_values.to(device)}
        if self.attention_mask is not None:
            out["attention_mask"] = self.attention_mask.to(device)
        if self.labels is not None:
            out["labels"] = self.labels.to(device)
        return out


class Collator:
    """Loads audio, normalises and pads it with the feature extractor, pads labels with -100."""

    def __init__(self, processor, with_labels: bool = True):
        self.processor = processor
        self.with_labels = with_labels

    def __call__(self, utterances: list[Utterance]) -> Batch:
        audio = [load_audio(u.audio_path) for u in utterances]
        feats = self.processor.feature_extractor(audio, sampling_rate=16000, padding=True,
                                                 return_tensors="pt")
        mask = feats.get("attention_mask")
        labels = None
        if self.with_labels:
            tok = self.processor.tokenizer([u.text for u in utterances], padding=True, return_tensors="pt")
            labels = tok["input_ids"].masked_fill(tok["attention_mask"].eq(0), -100)
        lengths = torch.tensor([len(a) for a in audio], dtype=torch.long)
        return Batch(feats["input_values"], mask, labels, lengths, list(utterances))
