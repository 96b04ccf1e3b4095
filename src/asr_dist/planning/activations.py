"""Bytes of activations saved for backward by one micro-batch of wav2vec2 CTC (pure).

The model is a sum of structural terms, each "elements x bytes-per-element constant"; the constants
are measured on CPU with the real model (planning/calibrate.py: forward+backward inside
`torch.autograd.graph.saved_tensors_hooks`, unique storages, parameters and autocast weight copies
excluded) and stored as data in planning/calibration.json. For a micro-batch of `b` utterances
padded to `F` frames each (`T` samples), with `S` label characters per utterance:

  per transformer layer   b*F*(c_hidden*H + c_intermediate*I + c_heads*heads) + b*F^2*c_layer_mask
                          (SDPA with a padding mask keeps its own copy of the F x F mask per layer)
  outside the layers      b*F*(c_outer_hidden*H + c_conv_out*C_last + c_vocab*V + c_ctc*(2S+1))
                          + b*F^2*c_mask (the 4-D padding mask SDPA gets) + P_pos*c_pos_conv
                          (the weight-normed positional conv weight) + c_const
  eager attention only    b*F^2*heads*L*c_eager   (SDPA keeps the log-sum-exp, not the probabilities)
  trainable conv encoder  (b*T + sum_i b*len_i*C_i)*c_conv   (frozen: nothing is saved inside it)

Gradient checkpointing (HF `gradient_checkpointing_enable`, one checkpoint per encoder layer)
keeps each layer's input (b*F*H*c_ckpt_input per layer) and the 4-D mask the layers share
(b*F^2*c_ckpt_mask, once), plus one layer recomputed in backward (c_ckpt_layer = 1); by then the LM head's and
CTC's tensors are freed, so outside the layers only the input side stays (c_ckpt_outer_hidden
and c_ckpt_conv_out replace c_outer_hidden and c_conv_out; vocab and CTC terms count only where
they exceed one layer). It is assumed to save nothing
in a trainable feature encoder (conservative). Eager attention replaces the per-layer mask copy
by the attention probabilities, b*F^2*heads*c_eager per layer.
Constants come in two sets: `fp32`, and `16bit` (measured under bf16 autocast; fp16 has the same
element sizes). `activation_bytes` adds a transient allowance of one layer's activations for the
gradients and temporaries alive during backward, which saved-tensor measurement does not see.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

SAMPLE_RATE = 16000
CHARS_PER_SECOND = 15.0  # label length assumed for the CTC forward variables (S = 15 * seconds)

TERMS = ("hidden", "intermediate", "heads", "layer_mask", "outer_hidden", "conv_out", "vocab", "ctc", "mask",
         "pos_conv", "const", "eager", "conv", "ckpt_input", "ckpt_mask", "ckpt_outer_hidden", "ckpt_conv_out", "ckpt_layer")


@dataclass(frozen=True)
class ActivationConstants:
    """Bytes per element for each structural term (see module docstring), one set per precision."""
    hidden: float
    intermediate: float
    heads: float
    layer_mask: float
    outer_hidden: float
    conv_out: float
    vocab: float
    ctc: float
    mask: float
    pos_conv: float
    const: float
    eager: float
    conv: float
    ckpt_input: float
    ckpt_mask: float
    ckpt_outer_hidden: float
    ckpt_conv_out: float
    ckpt_layer: float = 1.0


@dataclass(frozen=True)
class Calibration:
    fp32: ActivationConstants
    half: ActivationConstants  # fp16 / bf16
    chars_per_second: float = CHARS_PER_SECOND
    source: str = ""

    def for_precision(self, precision: str) -> ActivationConstants:
        return self.fp32 if precision == "fp32" else self.half


def _constants(values: dict) -> ActivationConstants:
    defaults = {"ckpt_layer": 1.0}
    return ActivationConstants(**{k: float(values.get(k, defaults.get(k, 0.0))) for k in TERMS})


def calibration_from_dict(d: dict) -> Calibration:
    return Calibration(
        fp32=_constants(d["constants"]["fp32"]), half=_constants(d["constants"]["16bit"]),
        chars_per_second=float(d.get("chars_per_second", CHARS_PER_SECOND)),
        source=d.get("source", ""))


@lru_cache(maxsize=1)
def load_calibration() -> Calibration:
    """The shipped constants (planning/calibration.json), read once."""
    text = resources.files("asr_dist.planning").joinpath("calibration.json").read_text("utf-8")
    return calibration_from_dict(json.loads(text))


def conv_lengths(samples: int, kernels, strides) -> list[int]:
    """Output length after each conv layer (no padding, as in wav2vec2's feature encoder)."""
    out, length = [], samples
    for k, s in zip(kernels, strides):
        length = max((length - k) // s + 1, 0)
        out.append(length)
    return out


def features(model, batch_size: float, longest_seconds: float, chars_per_second: float) -> dict:
    """Element counts for each term (the planner's and the calibration fit's common ground)."""
    samples = int(round(longest_seconds * SAMPLE_RATE))
    lengths = conv_lengths(samples, model.conv_kernel, model.conv_stride)
    frames = lengths[-1] if lengths else 0
    bf = batch_size * frames
    labels = chars_per_second * longest_seconds
    L, H, I, heads = model.num_layers, model.hidden_size, model.intermediate_size, model.num_heads
    return {
        "layer_hidden": bf * H, "layer_intermediate": bf * I, "layer_heads": bf * heads,
        "layer_mask": batch_size * frames * frames,
        "outer_hidden": bf * H, "conv_out": bf * model.conv_dim[-1], "vocab": bf * model.vocab_size,
        "ctc": bf * (2 * labels + 1), "mask": batch_size * frames * frames,
        "pos_conv": getattr(model, "pos_conv_params", 0), "eager": batch_size * frames * frames * heads,
        "conv": batch_size * (samples + sum(n * c for n, c in zip(lengths, model.conv_dim))),
        "num_layers": L,
    }


@dataclass(frozen=True)
class ActivationBreakdown:
    layers: int       # all transformer layers (or, with checkpointing, their inputs + one layer)
    outer: int        # feature projection, positional conv, LM head, CTC
    conv: int         # feature encoder (0 when frozen)
    transient: int    # one layer's worth alive during backward (gradients, temporaries)

    @property
    def saved(self) -> int:
        return self.layers + self.outer + self.conv

    @property
    def total(self) -> int:
        return self.saved + self.transient


def breakdown(model, c: ActivationConstants, *, batch_size: float, longest_seconds: float,
              checkpointing: bool, attention: str = "sdpa",
              chars_per_second: float = CHARS_PER_SECOND) -> ActivationBreakdown:
    f = features(model, batch_size, longest_seconds, chars_per_second)
    square = c.eager * f["eager"] if attention == "eager" else c.layer_mask * f["layer_mask"]
    one_layer = (c.hidden * f["layer_hidden"] + c.intermediate * f["layer_intermediate"]
                 + c.heads * f["layer_heads"] + square)
    L = f["num_layers"]
    if checkpointing:
        layers = (L * c.ckpt_input * f["layer_hidden"] + c.ckpt_mask * f["layer_mask"]
                  + c.ckpt_layer * one_layer)
    else:
        layers = L * one_layer
    head = c.vocab * f["vocab"] + c.ctc * f["ctc"]
    if checkpointing:
        outer = (c.ckpt_outer_hidden * f["outer_hidden"] + c.ckpt_conv_out * f["conv_out"]
                 + c.pos_conv * f["pos_conv"] + c.const + max(head - one_layer, 0.0))
    else:
        outer = (c.outer_hidden * f["outer_hidden"] + c.conv_out * f["conv_out"] + c.mask * f["mask"]
                 + c.pos_conv * f["pos_conv"] + c.const + head)
    conv = 0.0 if model.feature_encoder_frozen else c.conv * f["conv"]
    return ActivationBreakdown(int(math.ceil(layers)), int(math.ceil(max(outer, 0.0))),
                               int(math.ceil(conv)), int(math.ceil(one_layer)))


def saved_activation_bytes(model, constants: ActivationConstants, *, batch_size: float,
                           longest_seconds: float, checkpointing: bool, attention: str = "sdpa",
                           chars_per_second: float = CHARS_PER_SECOND) -> int:
    """Peak bytes of tensors saved for backward (what calibration measures)."""
    return breakdown(model, constants, batch_size=batch_size, longest_seconds=longest_seconds,
                     checkpointing=checkpointing, attention=attention,
                     chars_per_second=chars_per_second).saved


def activation_bytes(model, constants: ActivationConstants, *, total_seconds: float,
                     longest_seconds: float, checkpointing: bool, attention: str = "sdpa",
                     chars_per_second: float = CHARS_PER_SECOND) -> int:
    """Activation bytes per GPU for a micro-batch of `total_seconds` padded audio whose longest
    utterance is `longest_seconds` (batch_size = total / longest), plus the backward transient."""
    longest = max(min(longest_seconds, total_seconds), 1e-3)
    return breakdown(model, constants, batch_size=total_seconds / longest, longest_seconds=longest,
                     checkpointing=checkpointing, attention=attention,
                     chars_per_second=chars_per_second).total
