"""Model presets as Wav2Vec2Config keyword arguments (pure data: no torch, no download).

`tiny` learns the demo corpus in minutes on CPU. The `xls-r-*` entries are the published
XLS-R architectures (facebook/wav2vec2-xls-r-300m, -1b, -2b config.json), used for planning and
for training from scratch; to fine-tune the released weights, pass their local folder as --model.
"""
from __future__ import annotations

from dataclasses import dataclass, field

_XLSR_COMMON = dict(
    conv_dim=(512, 512, 512, 512, 512, 512, 512),
    conv_kernel=(10, 3, 3, 3, 3, 2, 2),
    conv_stride=(5, 2, 2, 2, 2, 2, 2),
    conv_bias=True,
    feat_extract_norm="layer",
    do_stable_layer_norm=True,
    num_conv_pos_embeddings=128,
    num_conv_pos_embedding_groups=16,
    num_attention_heads=16,
    hidden_act="gelu",
    feat_proj_dropout=0.0,
    attention_dropout=0.0,
    hidden_dropout=0.0,
    activation_dropout=0.0,
    layerdrop=0.0,
    mask_time_prob=0.05,
    ctc_loss_reduction="mean",
    ctc_zero_infinity=True,
)


@dataclass(frozen=True)
class Preset:
    name: str
    config_kwargs: dict = field(hash=False)
    learning_rate: float
    description: str


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        "tiny",
        dict(
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=128,
            # a filterbank-like first layer (25 ms window, 10 ms hop), then 2x: 50 frames per second,
            # as the real wav2vec2 (measured: learns the demo in ~400 steps; the 3-layer 200 fps
            # encoder with 4 ms receptive field stays on the CTC blank plateau for 400+ steps)
            conv_dim=(64, 64),
            conv_kernel=(400, 3),
            conv_stride=(160, 2),
            conv_bias=True,
            feat_extract_norm="layer",  # as XLS-R: the model takes an attention mask
            do_stable_layer_norm=True,
            num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=4,
            hidden_dropout=0.0,
            attention_dropout=0.0,
            activation_dropout=0.0,
            feat_proj_dropout=0.0,
            final_dropout=0.0,
            layerdrop=0.0,
            mask_time_prob=0.0,
            ctc_loss_reduction="mean",
            ctc_zero_infinity=True,
        ),
        3e-3,
        "2-layer, 64-wide wav2vec2 (~0.2M parameters) built from a config; learns the demo corpus on CPU",
    ),
    "xls-r-300m": Preset(
        "xls-r-300m",
        dict(_XLSR_COMMON, hidden_size=1024, num_hidden_layers=24, intermediate_size=4096),
        1e-4,
        "XLS-R 300M architecture (24 layers, 1024 wide)",
    ),
    "xls-r-1b": Preset(
        "xls-r-1b",
        dict(_XLSR_COMMON, hidden_size=1280, num_hidden_layers=48, intermediate_size=5120),
        1e-4,
        "XLS-R 1B architecture (48 layers, 1280 wide)",
    ),
    "xls-r-2b": Preset(
        "xls-r-2b",
        dict(_XLSR_COMMON, hidden_size=1920, num_hidden_layers=48, intermediate_size=7680),
        1e-4,
        "XLS-R 2B architecture (48 layers, 1920 wide)",
    ),
}

DEFAULT_LEARNING_RATE_PRETRAINED = 1e-4


def is_preset(model: str) -> bool:
    return model in PRESETS


def frames_per_second(config_kwargs: dict, sample_rate: int = 16000) -> float:
    """Output frames per second of audio: sample rate over the product of conv strides."""
    total = 1
    for s in config_kwargs["conv_stride"]:
        total *= s
    return sample_rate / total
