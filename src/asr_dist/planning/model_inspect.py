"""Shapes and parameter counts of a wav2vec2 CTC model, built on the meta device (edge: torch).

No weights are allocated or downloaded: the model is constructed inside `torch.device("meta")`.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields

from ..errors import UserError
from ..models.presets import PRESETS


@dataclass(frozen=True)
class ModelSummary:
    name: str
    params_total: int
    params_trainable: int
    params_feature_encoder: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    conv_dim: tuple
    conv_kernel: tuple
    conv_stride: tuple
    frames_per_second: float
    vocab_size: int
    # extras (defaults keep hand-built summaries short in tests)
    largest_layer_params: int = 0          # biggest module's own parameters (DeepSpeed's definition)
    feature_encoder_frozen: bool = True
    pos_conv_params: int = 0               # positional conv embedding (its weight is recomputed each step)
    do_stable_layer_norm: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("conv_dim", "conv_kernel", "conv_stride"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelSummary":
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        for key in ("conv_dim", "conv_kernel", "conv_stride"):
            kw[key] = tuple(kw[key])
        return cls(**kw)


def _config(model: str, vocab_size: int):
    from transformers import Wav2Vec2Config

    if model in PRESETS:
        return Wav2Vec2Config(**PRESETS[model].config_kwargs, vocab_size=vocab_size)
    if os.path.isdir(model):
        if not os.path.isfile(os.path.join(model, "config.json")):
            raise UserError(f"--model: folder '{model}' has no config.json")
        config = Wav2Vec2Config.from_pretrained(model)
        config.vocab_size = vocab_size
        return config
    raise UserError(f"--model: '{model}' is not a preset ({', '.join(PRESETS)}) "
                    "nor a folder with config.json")


def summarize(name: str, model, config, freeze_feature_encoder: bool) -> ModelSummary:
    """Count parameters of a built model (meta or real); unique by identity."""
    params = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in params.values())
    encoder = {id(p): p.numel() for p in model.wav2vec2.feature_extractor.parameters()}
    n_encoder = sum(encoder.values())
    trainable = total - (n_encoder if freeze_feature_encoder else 0)
    largest = max(sum(p.numel() for p in m.parameters(recurse=False)) for m in model.modules())
    pos_conv = sum(p.numel() for p in model.wav2vec2.encoder.pos_conv_embed.parameters())
    stride = 1
    for s in config.conv_stride:
        stride *= s
    return ModelSummary(
        name=name, params_total=total, params_trainable=trainable, params_feature_encoder=n_encoder,
        hidden_size=config.hidden_size, num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads, intermediate_size=config.intermediate_size,
        conv_dim=tuple(config.conv_dim), conv_kernel=tuple(config.conv_kernel),
        conv_stride=tuple(config.conv_stride), frames_per_second=16000 / stride,
        vocab_size=config.vocab_size, largest_layer_params=largest,
        feature_encoder_frozen=freeze_feature_encoder, pos_conv_params=pos_conv,
        do_stable_layer_norm=bool(config.do_stable_layer_norm))


def inspect_model(model: str, vocab_size: int = 32, freeze_feature_encoder: bool = True) -> ModelSummary:
    """Preset name or local folder -> ModelSummary, without allocating weights."""
    import torch
    from transformers import Wav2Vec2ForCTC

    config = _config(model, vocab_size)
    with torch.device("meta"):
        built = Wav2Vec2ForCTC(config)
    return summarize(model, built, config, freeze_feature_encoder)
