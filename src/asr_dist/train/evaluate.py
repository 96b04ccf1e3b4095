"""Greedy CTC decoding and WER/CER with jiwer."""
from __future__ import annotations

import contextlib

import jiwer
import torch

from .batches import Collator
from ..data.sampler import pack_by_budget


def error_rates(refs: list[str], hyps: list[str]) -> dict:
    if not refs:
        return {"wer": float("nan"), "cer": float("nan")}
    # jiwer rejects empty references; an empty hypothesis is fine
    return {"wer": float(jiwer.wer(refs, hyps)), "cer": float(jiwer.cer(refs, hyps))}


def eval_groups(utterances, budget_seconds: float) -> list[list[int]]:
    """Batches of one rank's evaluation share: sorted by duration, packed under the budget."""
    durations = [u.duration for u in utterances]
    order = sorted(range(len(utterances)), key=lambda i: durations[i])
    return pack_by_budget(order, durations, budget_seconds)


@torch.no_grad()
def transcribe(model, processor, utterances, *, device, budget_seconds: float = 60.0,
               autocast=None, forward_passes: int = 0, filler=None, on_oom=None) -> list[str]:
    """Greedy CTC transcripts in the order of `utterances`. Logits are cut per row to the frames
    its real audio produces, so padding cannot emit characters.

    `forward_passes`: run at least this many forward passes (extra ones on `filler`, results
    dropped). Under ZeRO-3 every forward gathers parameters collectively, so every rank must run
    the same number of them."""
    collate = Collator(processor, with_labels=False)
    groups = eval_groups(utterances, budget_seconds)
    out: dict[int, str] = {}
    base = getattr(model, "module", model)
    was_training = model.training
    model.eval()
    try:
        extra = max(0, forward_passes - len(groups))
        pending = groups + [None] * extra
        while pending:
            group = pending.pop(0)
            batch = collate([utterances[i] for i in group] if group is not None else [filler])
            inputs = batch.model_inputs(device)
            try:
                with (autocast() if autocast is not None else contextlib.nullcontext()):
                    logits = model(**inputs).logits
            except torch.OutOfMemoryError:
                # on_oom may end the evaluation (one utterance alone; ZeRO-3) by raising
                if on_oom is not None:
                    on_oom([utterances[i] for i in group] if group is not None else [filler])
                if group is None or len(group) == 1:
                    raise
                # evaluation has no optimizer state to keep consistent: halve and retry this batch
                half = len(group) // 2
                pending[:0] = [group[:half], group[half:]]
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                continue
            if group is None:
                continue
            frames = base._get_feat_extract_output_lengths(batch.input_lengths).tolist()
            ids = logits.argmax(-1).cpu()
            for row, i in enumerate(group):
                out[i] = processor.decode(ids[row, : frames[row]])
    finally:
        model.train(was_training)
    return [out[i] for i in range(len(utterances))]
