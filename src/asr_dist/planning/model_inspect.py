"""Shapes and parameter counts of a wav2vec2 CTC model, without allocating weights.

`count_params` is pure arithmetic over the config (milliseconds: planning a 1B model stays far
under a second); `inspect_model_meta` builds the real module tree on the meta device and counts
its parameters, the reference the tests hold the arithmetic to.
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


# Wav2Vec2Config's defaults for the keys the arithmetic reads (a folder's config.json may omit them)
CONFIG_DEFAULTS = dict(
    hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
    conv_dim=(512, 512, 512, 512, 512, 512, 512), conv_kernel=(10, 3, 3, 3, 3, 2, 2),
    conv_stride=(5, 2, 2, 2, 2, 2, 2), conv_bias=False, feat_extract_norm="group",
    num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16, mask_time_prob=0.05,
    mask_feature_prob=0.0, do_stable_layer_norm=False, add_adapter=False, output_hidden_size=None,
)


def count_params(config: dict) -> dict:
    """Exact parameter counts of Wav2Vec2ForCTC for a config dict (pure arithmetic).

    Returns {"total", "feature_encoder", "largest_layer", "pos_conv"}; "largest_layer" is the
    biggest module's own parameters (DeepSpeed's definition for ZeRO-3 live parameters)."""
    c = {**CONFIG_DEFAULTS, **{k: v for k, v in config.items() if v is not None}}
    if c["add_adapter"]:
        raise ValueError("wav2vec2 adapters are not supported by the parameter arithmetic")
    H, I, L, V = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    dims, kernels = list(c["conv_dim"]), list(c["conv_kernel"])
    modules = []  # own parameters of each module
    encoder = 0
    for i, (dim, k) in enumerate(zip(dims, kernels)):
        conv = dim * (dims[i - 1] if i else 1) * k + (dim if c["conv_bias"] else 0)
        norm = 2 * dim if (c["feat_extract_norm"] == "layer" or i == 0) else 0
        encoder += conv + norm
        modules += [conv, norm]
    last = dims[-1]
    projection = [2 * last, last * H + H]
    masked = H if (c["mask_time_prob"] > 0 or c["mask_feature_prob"] > 0) else 0
    K, G = c["num_conv_pos_embeddings"], c["num_conv_pos_embedding_groups"]
    pos_conv = K + H * (H // G) * K + H  # weight_norm g over the kernel dim, v, bias
    layer = [4 * (H * H + H), 2 * H, H * I + I, I * H + H, 2 * H]
    head = (c["output_hidden_size"] or H) * V + V
    total = encoder + sum(projection) + masked + pos_conv + 2 * H + L * sum(layer) + head
    largest = max(modules + projection + [H * H + H, H * I + I, I * H + H, pos_conv - H, head])
    return {"total": total, "feature_encoder": encoder, "largest_layer": largest, "pos_conv": pos_conv}


def _config_dict(model: str, vocab_size: int) -> dict:
    if model in PRESETS:
        return {**PRESETS[model].config_kwargs, "vocab_size": vocab_size}
    if os.path.isdir(model):
        path = os.path.join(model, "config.json")
        if not os.path.isfile(path):
            raise UserError(f"--model: folder '{model}' has no config.json")
        with open(path, encoding="utf-8") as fh:
            import json

            return {**json.load(fh), "vocab_size": vocab_size}
    raise UserError(f"--model: '{model}' is not a preset ({', '.join(PRESETS)}) "
                    "nor a folder with config.json")


def inspect_model(model: str, vocab_size: int = 32, freeze_feature_encoder: bool = True) -> ModelSummary:
    """Preset name or local folder -> ModelSummary, by arithmetic over the config."""
    c = {**CONFIG_DEFAULTS, **_config_dict(model, vocab_size)}
    n = count_params(c)
    stride = 1
    for s in c["conv_stride"]:
        stride *= s
    trainable = n["total"] - (n["feature_encoder"] if freeze_feature_encoder else 0)
    return ModelSummary(
        name=model, params_total=n["total"], params_trainable=trainable,
        params_feature_encoder=n["feature_encoder"], hidden_size=c["hidden_size"],
        num_layers=c["num_hidden_layers"], num_heads=c["num_attention_heads"],
        intermediate_size=c["intermediate_size"], conv_dim=tuple(c["conv_dim"]),
        conv_kernel=tuple(c["conv_kernel"]), conv_stride=tuple(c["conv_stride"]),
        frames_per_second=16000 / stride, vocab_size=vocab_size, largest_layer_params=n["largest_layer"],
        feature_encoder_frozen=freeze_feature_encoder, pos_conv_params=n["pos_conv"],
        do_stable_layer_norm=bool(c["do_stable_layer_norm"]))


def inspect_model_meta(model: str, vocab_size: int = 32, freeze_feature_encoder: bool = True) -> ModelSummary:
    """The same summary from the real module tree built on the meta device (slow: seconds)."""
    import torch
    from transformers import Wav2Vec2ForCTC

    config = _config(model, vocab_size)
    with torch.device("meta"):
        built = Wav2Vec2ForCTC(config)
    return summarize(model, built, config, freeze_feature_encoder)
