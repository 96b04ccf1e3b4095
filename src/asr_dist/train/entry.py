"""`asr-dist train` / `python -m asr_dist.train`: what `accelerate launch` starts on every rank.

Reads the run folder the launcher prepared (plan.json, vocab/processor), builds the Accelerator
whose state (single, DDP, DeepSpeed) comes from the accelerate config it was launched with, and
runs the loop.
"""
from __future__ import annotations

import json
import os
import sys
from datetime import timedelta

from ..config import RunConfig
from ..errors import UserError
from ..runs import PLAN_FILE, SUMMARY_FILE, freezes_feature_encoder, load_data, read_vocab, resolve_inputs
from . import checkpoint as ckpt
from .loop import EXIT_OOM, Trainer, TrainPlan
from .model import build_model, build_processor, folder_has_processor, load_processor
from .step import OomNeedsRestart


def make_accelerator(plan: TrainPlan):
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, InitProcessGroupKwargs

    deepspeed = os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true"
    on_cpu = not torch.cuda.is_available()
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    # gloo on CPU (without it Accelerate believes every rank is rank 0 of 1 under DeepSpeed), and
    # a 10-minute collective timeout instead of 30 so a dead rank cannot hang the job for long
    kwargs = [InitProcessGroupKwargs(backend="gloo" if on_cpu else "nccl", timeout=timedelta(minutes=10))] if distributed else []
    # the step executor accumulates locally and averages gradients itself (train/step.py): DDP
    # must run no collective inside forward (no buffer broadcast), and Accelerate must not divide
    # the loss by an accumulation count (gradient_accumulation_steps stays 1 outside DeepSpeed)
    kwargs.append(DistributedDataParallelKwargs(broadcast_buffers=False))
    # Accelerator(cpu=True) makes a MULTI_GPU launch run DDP over gloo on CPU; with DeepSpeed it
    # must stay False (DeepSpeed's own CPU accelerator takes over; cpu=True would drop DeepSpeed).
    acc = Accelerator(cpu=on_cpu and not deepspeed, kwargs_handlers=kwargs)
    return acc


def read_plan(run_dir: str) -> dict:
    path = os.path.join(run_dir, PLAN_FILE)
    if not os.path.isfile(path):
        raise UserError(f"{path}: no plan in the run folder; start runs with `asr-dist launch` "
                        f"(or `asr-dist launch --dry-run` to prepare the folder)")
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _quiet_libraries() -> None:
    """Our progress bar is the one to read: no per-save "Writing model shards" bars."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def train_main(cfg: RunConfig) -> int:
    if not cfg.output_dir:
        raise UserError("--output-dir: `asr-dist train` needs the run folder prepared by `asr-dist launch`")
    cfg = resolve_inputs(cfg, say=lambda *_: None)
    run_dir = cfg.output_dir
    _quiet_libraries()
    plan_dict = read_plan(run_dir)
    plan = TrainPlan.from_plan_dict(plan_dict)
    acc = make_accelerator(plan)
    with acc.main_process_first():  # the main rank writes the processor; the others then read it
        if not folder_has_processor(run_dir):
            build_processor(load_data(cfg).vocab, run_dir)
    processor = load_processor(run_dir)
    data = load_data(cfg, vocab=read_vocab(run_dir))
    resume = ckpt.resolve_resume(cfg.resume, run_dir)
    if acc.is_main_process:
        ckpt.clean_partial(run_dir)
    from accelerate.utils import set_seed

    set_seed(cfg.seed)  # the same initial weights on every rank and in every run with this seed
    model = build_model(cfg.model, processor, gradient_checkpointing=plan.gradient_checkpointing,
                        freeze_feature_encoder=freezes_feature_encoder(cfg))
    trainer = Trainer(cfg, plan, acc, processor, model, data.train.kept,
                      data.eval.kept if data.eval else [], run_dir, data.skipped(), plan_dict)
    try:
        summary, code = trainer.run(resume)
    except OomNeedsRestart:
        # recorded in the run folder; the other ranks sit in a collective this rank cannot join,
        # so no summary, no barrier: leave now (torch elastic then stops them)
        exit_rank(EXIT_OOM)
    if acc.is_main_process:
        try:
            ckpt.write_json_atomic(os.path.join(run_dir, SUMMARY_FILE), summary)
        except OSError as exc:
            print(f"error: could not write {run_dir}/{SUMMARY_FILE}: {exc.strerror or exc}", file=sys.stderr, flush=True)
            code = code or 5
    acc.wait_for_everyone()
    acc.end_training()
    return code


def exit_rank(code: int) -> None:
    """End a rank process right after a finished run, without interpreter teardown.

    Everything the run writes is on disk and closed by now (checkpoints, model, summary,
    TensorBoard). What remains are C++ threads of the communication backend: tearing them down
    during interpreter finalization aborts now and then ("terminate called without an active
    exception", SIGABRT; measured: 1 run in 15 of 2-process DDP over gloo on a busy 2-core machine),
    which turns a finished run into a failed one. So: flush, then leave at once."""
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
