"""The Python API: the same operations as the CLI (which is a thin layer over these functions).

Options are the CLI's RUN OPTIONS with underscores; user errors raise asr_dist.UserError with the
message the CLI prints.
"""
from __future__ import annotations

import json
import os
import sys

from .config import RunConfig, from_dict, load_yaml
from .errors import RunFailed, UserError
from .runs import SUMMARY_FILE


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def config_from(config: str | RunConfig | None = None, **run_options) -> RunConfig:
    base = config if isinstance(config, RunConfig) else (load_yaml(config) if config else RunConfig())
    options = {k: v for k, v in run_options.items() if v is not None}
    return from_dict(options, base, source="options") if options else base


def profile(simulate: str | None = None):
    from .launching.prepare import inventory_for

    return inventory_for(RunConfig(simulate=simulate))


def plan(config: str | RunConfig | None = None, say=_say, **run_options):
    """The Plan for these options: `.chosen`, `.candidates`, `.to_dict()` (= `plan --json`)."""
    from .launching.prepare import plan_from_config

    return plan_from_config(config_from(config, **run_options), say)[0]


def launch(config: str | RunConfig | None = None, dry_run: bool = False, say=_say, **run_options) -> dict:
    """Plan, write configs, run `accelerate launch`; returns run_summary.json as a dict
    (with dry_run: the command and the files written, nothing started)."""
    from .launching.prepare import prepare_run
    from .launching.slurm import apply_slurm_env

    prepared = prepare_run(apply_slurm_env(config_from(config, **run_options), os.environ, say), say)
    info = {"run_dir": prepared.run_dir, "accelerate_config": prepared.accelerate_yaml,
            "deepspeed_config": prepared.deepspeed_json, "command": prepared.command.shell(),
            "strategy": prepared.plan.chosen.strategy}
    if dry_run:
        prepared.release()
        return info
    restarts = 0
    while True:
        try:
            code = _start(prepared, say)
            if not _restart_after_oom(prepared, code, restarts, say):
                return _finish(prepared, code)
        finally:
            prepared.release()
        restarts += 1
        prepared = prepare_run(prepared.cfg.replace(resume="auto"), say)


def _restart_after_oom(prepared, code: int, restarts: int, say) -> bool:
    """True when ranks left after an OOM that could not be recovered in place (ZeRO-3 forward,
    DeepSpeed backward) and recorded a smaller limit: restart from the last checkpoint with it."""
    from .train import checkpoint as ckpt
    from .train import restart
    from .train.restart import MAX_RESTARTS

    records = restart.read_records(prepared.run_dir) if code != 0 else []
    if not records or (prepared.cfg.num_machines > 1 and prepared.cfg.machine_rank > 0):
        return False
    resume = f"asr-dist launch --output-dir {prepared.run_dir} --resume auto"
    fatal = [r for r in records if r.get("fatal")]
    if fatal:
        restart.clear_records(prepared.run_dir)
        if _fresh_summary(prepared) is not None:
            return False  # a single process wrote it, with the error
        raise RunFailed(f"{fatal[0]['fatal']} (rank {fatal[0]['rank']}, step {fatal[0]['step']}); "
                        f"the last checkpoint in {prepared.run_dir} is intact")
    if prepared.cfg.num_machines > 1:
        raise RunFailed(f"{'; '.join(map(restart.describe, records))}; the smaller limit is recorded in "
                        f"{prepared.run_dir}: relaunch on every machine with `{resume}`")
    if restarts >= MAX_RESTARTS:
        raise RunFailed(f"out of memory again after {restarts} restarts with smaller micro-batches; the plan is far "
                        f"from what fits: try --gradient-checkpointing on or --strategy zero3-offload, then `{resume}`")
    last = ckpt.list_checkpoints(prepared.run_dir)
    say(restart.restart_message(records, last[-1][1] if last else None))
    return True


def _start(prepared, say) -> int:
    from .launching.runner import run

    say(f"plan: {prepared.plan.chosen.strategy} x{prepared.plan.chosen.num_processes} "
        f"({prepared.plan.chosen.precision}, micro-batch {prepared.plan.chosen.micro_batch_seconds:.1f} s x "
        f"{prepared.plan.chosen.gradient_accumulation_steps} accumulation); run folder {prepared.run_dir}")
    say(f"launching: {prepared.command.shell()}")
    return run(prepared.command)


def _finish(prepared, code: int) -> dict:
    if prepared.cfg.num_machines > 1 and prepared.cfg.machine_rank > 0:
        # machine 0's rank 0 writes the run summary; the other machines report their exit code
        if code != 0:
            raise RunFailed(f"training on machine {prepared.cfg.machine_rank} exited with code {code}")
        return {"run_dir": prepared.run_dir, "machine_rank": prepared.cfg.machine_rank, "exit_code": 0}
    return _read_summary(prepared, code)


def _fresh_summary(prepared) -> dict | None:
    """run_summary.json of the run just started (not an older one)."""
    summary_path = os.path.join(prepared.run_dir, SUMMARY_FILE)
    if os.path.isfile(summary_path) and os.path.getmtime(summary_path) >= os.path.getmtime(
            os.path.join(prepared.run_dir, "run_config.yaml")):
        with open(summary_path, encoding="utf-8") as fh:
            return json.load(fh)
    return None


def _read_summary(prepared, code: int) -> dict:
    """run_summary.json of the run just started, with "run_dir" added."""
    summary = _fresh_summary(prepared)
    if summary is None or (code != 0 and summary.get("exit_code", 0) == 0):
        raise RunFailed(f"training exited with code {code}; see the output above and {prepared.run_dir}/logs")
    summary["run_dir"] = prepared.run_dir
    return summary


def notebook_launch(config: str | RunConfig | None = None, say=_say, **run_options) -> dict:
    """The same run as launch(), started from a Jupyter cell through accelerate's notebook_launcher
    (one forked process per planned rank; progress is written to the cell). Returns run_summary.json
    as a dict."""
    from .notebook import notebook_launch as _notebook_launch

    return _notebook_launch(config, say=say, **run_options)


def demo_data(directory: str, num_train: int = 400, num_dev: int = 60, seed: int = 0) -> dict:
    """Write the deterministic demo corpus (`asr-dist demo-data`): DIR/wavs/*.wav, DIR/train.jsonl,
    DIR/dev.jsonl. Returns {"train": path, "dev": path, ...}."""
    from .data.demo import DemoSpec, write_demo_corpus

    for name, value in (("--num-train", num_train), ("--num-dev", num_dev)):
        if int(value) < 1:
            raise UserError(f"{name}: must be >= 1, got {value}")
    return write_demo_corpus(directory, DemoSpec(num_train=int(num_train), num_dev=int(num_dev), seed=int(seed)))


def data_report(manifest: str, model: str = "tiny", min_duration: float | None = None,
                max_duration: float | None = None):
    """`asr-dist data-report`: a DataReport with `.to_dict()` (= `--json`) and `.render()`."""
    from .data.report import data_report as _data_report

    return _data_report(manifest, model=model, min_duration=min_duration, max_duration=max_duration)


def evaluate(model_dir: str, manifest: str, max_utterances: int | None = None) -> dict:
    """WER/CER of a saved model folder on a manifest (greedy CTC decoding)."""
    import torch

    from .data.filtering import filter_entries
    from .data.manifest import read_manifest
    from .data.text import TextNormalizer
    from .train.evaluate import error_rates, transcribe
    from .train.model import load_processor

    if not os.path.isdir(model_dir):
        raise UserError(f"MODEL_DIR: not a folder: {model_dir}")
    processor = load_processor(model_dir)
    from transformers import Wav2Vec2ForCTC

    model = Wav2Vec2ForCTC.from_pretrained(model_dir)
    fps = 16000 / model.config.inputs_to_logits_ratio
    data = filter_entries(read_manifest(manifest), normalizer=TextNormalizer(), min_duration=0.0,
                          max_duration=float("inf"), frames_per_second=fps, vocab=processor.tokenizer.get_vocab())
    utts = data.kept[:max_utterances] if max_utterances else data.kept
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    hyps = transcribe(model, processor, utts, device=device)
    result = error_rates([u.text for u in utts], hyps)
    result.update(utterances=len(utts), skipped=dict(data.skipped))
    return result
