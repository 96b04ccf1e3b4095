"""Measure saved activations of wav2vec2 on CPU and rewrite planning/calibration.json (edge script).

    python -m asr_dist.planning.calibrate            # fit, print the table, rewrite the JSON
    python -m asr_dist.planning.calibrate --dry-run  # fit and print only

Measurement: forward + backward inside `torch.autograd.graph.saved_tensors_hooks`; every packed
tensor's `untyped_storage().data_ptr() -> nbytes`, unique storages, parameter storages and
autocast's 16-bit copies of parameters excluded (those are model states, counted by memory.py).
Bytes are tracked over time (a storage is live from its first pack until every reference to it
has been unpacked by its backward node) and the peak is kept; without checkpointing that is the
end of the forward. With gradient checkpointing (reentrant, so the hooks see the recomputation)
it is the layer inputs plus the layer being recomputed.
Configurations are the `tiny` preset and variants of it (width, depth, heads, FFN, conv, vocab)
so that every term of activations.py is separable; 16-bit constants come from CPU bf16 autocast.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..models.presets import PRESETS
from . import activations as act

CALIBRATION_PATH = Path(__file__).with_name("calibration.json")

VARIANTS = (
    {}, {"num_hidden_layers": 1}, {"num_hidden_layers": 4}, {"hidden_size": 32, "num_attention_heads": 2},
    {"hidden_size": 128, "num_attention_heads": 8}, {"intermediate_size": 256},
    {"intermediate_size": 64, "num_hidden_layers": 3}, {"conv_dim": (64, 128)},
    {"vocab_size": 64}, {"num_attention_heads": 8}, {"hidden_size": 96, "intermediate_size": 384},
)
SHAPES = ((1, 1.0), (2, 2.0), (4, 0.5), (1, 3.0), (3, 1.5))


def build(overrides: dict | None = None, *, freeze: bool = True, attention: str = "sdpa"):
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

    kwargs = dict(PRESETS["tiny"].config_kwargs, vocab_size=32)
    kwargs.update(overrides or {})
    config = Wav2Vec2Config(**kwargs)
    torch.manual_seed(0)
    model = Wav2Vec2ForCTC(config)
    model.set_attn_implementation(attention)
    if freeze:
        model.freeze_feature_encoder()
    model.train()
    return model


def summary_of(model, freeze: bool = True):
    from .model_inspect import summarize

    return summarize("tiny", model, model.config, freeze)


def measure(model, batch_size: int, seconds: float, *, checkpointing: bool = False,
            precision: str = "fp32", chars_per_second: float = act.CHARS_PER_SECOND) -> int:
    """Peak bytes saved for backward by one training step of `model` on a padded batch."""
    import warnings

    import torch

    warnings.filterwarnings("ignore", message=".*(deprecated|requires_grad=True).*")
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
    else:
        model.gradient_checkpointing_disable()
    params = list(model.parameters())
    param_ptrs = {p.untyped_storage().data_ptr() for p in params}
    by_shape: dict[tuple, list] = {}
    for p in params:
        by_shape.setdefault(tuple(p.shape), []).append(p)
    live: dict[int, list] = {}          # storage address -> [saved references, bytes, weak ref]
    totals = {"now": 0, "peak": 0}

    def is_weight_copy(t) -> bool:
        if t.dtype not in (torch.bfloat16, torch.float16):
            return False
        return any(torch.equal(t, p.detach().to(t.dtype)) for p in by_shape.get(tuple(t.shape), ()))

    def pack(t):
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr in param_ptrs or is_weight_copy(t):
            return (None, t)
        entry = live.get(ptr)
        if entry and entry[0] > 0 and torch.UntypedStorage._expired(entry[2]):
            totals["now"] -= entry[1]      # freed without being unpacked; its address is reused
            entry = None
        if entry is None or entry[0] == 0:
            entry = live[ptr] = [0, storage.nbytes(), storage._weak_ref()]
        if entry[0] == 0:
            totals["now"] += entry[1]
            totals["peak"] = max(totals["peak"], totals["now"])
        entry[0] += 1
        return ([ptr], t)

    def unpack(packed):
        holder, t = packed
        if holder:  # first unpack releases this reference (its node has run)
            entry = live[holder.pop()]
            entry[0] -= 1
            if entry[0] == 0:
                totals["now"] -= entry[1]
        return t

    generator = torch.Generator().manual_seed(0)
    samples = int(round(seconds * act.SAMPLE_RATE))
    audio = torch.randn(batch_size, samples, generator=generator)
    mask = torch.ones(batch_size, samples, dtype=torch.long)
    mask[-1, int(samples * 0.9):] = 0  # padded, as real batches are: the 4-D mask is materialised
    n_labels = max(1, int(round(chars_per_second * seconds)))
    labels = torch.randint(1, model.config.vocab_size, (batch_size, n_labels), generator=generator)
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision != "fp32"):
                loss = model(audio, attention_mask=mask, labels=labels).loss
            loss.backward()
    finally:
        model.zero_grad(set_to_none=True)
    return totals["peak"]


def _rows(precision: str, *, checkpointing=False, freeze=True, attention="sdpa", variants=VARIANTS):
    rows = []
    for overrides in variants:
        model = build(overrides, freeze=freeze, attention=attention)
        summary = summary_of(model, freeze)
        for b, s in SHAPES:
            measured = measure(model, b, s, checkpointing=checkpointing, precision=precision)
            rows.append((summary, b, s, measured))
    return rows


def _fit_base(rows):
    import numpy as np
    from scipy.optimize import nnls

    names = ("hidden", "intermediate", "heads", "layer_mask", "outer_hidden", "conv_out", "vocab", "ctc", "mask",
             "pos_conv", "const")
    matrix, target = [], []
    for summary, b, s, measured in rows:
        f = act.features(summary, b, s, act.CHARS_PER_SECOND)
        L = f["num_layers"]
        matrix.append([L * f["layer_hidden"], L * f["layer_intermediate"], L * f["layer_heads"],
                       L * f["layer_mask"],
                       f["outer_hidden"], f["conv_out"], f["vocab"], f["ctc"], f["mask"],
                       f["pos_conv"], 1.0])
        target.append(measured)
    a, y = np.array(matrix), np.array(target, dtype=float)
    scale = y.copy()  # relative error matters: weight each row by 1/measured
    coef, _ = nnls(a / scale[:, None], y / scale)
    return dict(zip(names, (float(c) for c in coef)))


def _fit_extra(rows, consts: dict, terms: tuple, **kw) -> dict:
    """More constants: weighted least squares of (measured - prediction without them) on their
    features, each feature found by switching its constant to 1."""
    import numpy as np

    base = act.ActivationConstants(**{**{k: consts.get(k, 0.0) for k in act.TERMS},
                                      **{t: 0.0 for t in terms}})
    matrix, target = [], []
    for summary, b, s, measured in rows:
        def predict(c):
            return act.saved_activation_bytes(summary, c, batch_size=b, longest_seconds=s, **kw)
        without = predict(base)
        matrix.append([(predict(act.ActivationConstants(**{**base.__dict__, t: 1.0})) - without)
                       / measured for t in terms])
        target.append((measured - without) / measured)
    from scipy.optimize import nnls

    coef, _ = nnls(np.array(matrix), np.array(target))
    return {t: float(v) for t, v in zip(terms, coef)}


def _worst(rows, consts: dict, **kw) -> float:
    c = act.ActivationConstants(**{k: consts.get(k, 0.0) for k in act.TERMS})
    return max(abs(act.saved_activation_bytes(summary, c, batch_size=b, longest_seconds=s, **kw)
                   / measured - 1) for summary, b, s, measured in rows)


def fit(precision: str, log=print) -> dict:
    """All constants for one precision, fitted in stages; logs the worst relative error of each."""
    rows = _rows(precision)
    consts = _fit_base(rows)
    consts["ckpt_layer"] = 1.0  # the recomputed layer counts in full
    log(f"[{precision}] base (SDPA, frozen encoder): worst error {_worst(rows, consts, checkpointing=False):.1%}")
    stages = ((("ckpt_input", "ckpt_mask", "ckpt_outer_hidden", "ckpt_conv_out"), dict(checkpointing=True), dict(checkpointing=True)),
              (("eager",), dict(attention="eager"), dict(checkpointing=False, attention="eager")),
              (("conv",), dict(freeze=False), dict(checkpointing=False)))
    for terms, build_kw, predict_kw in stages:
        rows = _rows(precision, variants=VARIANTS[:5], **build_kw)
        consts.update(_fit_extra(rows, consts, terms, **predict_kw))
        values = ", ".join(f"{t} {consts[t]:.3f}" for t in terms)
        log(f"[{precision}] {values} B/elem; worst error {_worst(rows, consts, **predict_kw):.1%}")
    return {k: round(v, 4) for k, v in consts.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print, do not rewrite the JSON")
    args = parser.parse_args(argv)
    start = time.time()
    import torch
    import transformers

    torch.set_num_threads(1)
    data = {
        "source": (f"planning/calibrate.py on CPU, torch {torch.__version__}, transformers "
                   f"{transformers.__version__}; tiny preset and {len(VARIANTS) - 1} variants x "
                   f"{len(SHAPES)} batch shapes; 16bit = CPU bf16 autocast; SDPA attention"),
        "units": "bytes per element of each term in activations.py",
        "chars_per_second": act.CHARS_PER_SECOND,
        "constants": {"fp32": fit("fp32"), "16bit": fit("bf16")},
    }
    text = json.dumps(data, indent=2) + "\n"
    print(text)
    if not args.dry_run:
        CALIBRATION_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {CALIBRATION_PATH} ({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
