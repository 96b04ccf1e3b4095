"""profile -> inspect -> plan -> run folder + configs: everything `asr-dist launch` does before it
starts `accelerate launch` (and all that `--dry-run` does)."""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass

import yaml

from ..config import RunConfig
from ..errors import UserError
from ..runs import (PLAN_FILE, RUN_CONFIG_FILE, Data, default_output_dir, freezes_feature_encoder, load_data,
                    read_vocab, resolve_inputs)
from ..train import checkpoint as ckpt
from .command import LaunchCommand, accelerate_command

ACCELERATE_DIR = "accelerate_configs"
DEEPSPEED_DIR = "deepspeed_configs"


def inventory_for(cfg: RunConfig):
    from ..hardware.inventory import parse_simulate
    from ..hardware.probe import probe

    return parse_simulate(cfg.simulate) if cfg.simulate else probe()


def data_stats(data: Data):
    from ..planning.planner import DataStats

    return DataStats(**data.train.stats())


def make_run_plan(cfg: RunConfig, data: Data, inventory=None):
    from ..planning.model_inspect import inspect_model
    from ..planning.planner import make_plan

    inventory = inventory or inventory_for(cfg)
    model = inspect_model(cfg.model, vocab_size=len(data.vocab), freeze_feature_encoder=freezes_feature_encoder(cfg))
    return make_plan(inventory, model, data_stats(data), effective_batch_seconds=cfg.effective_batch_seconds,
                     strategy=cfg.strategy, precision=cfg.precision,
                     gradient_checkpointing=cfg.gradient_checkpointing, num_processes=cfg.num_processes)


def plan_from_config(cfg: RunConfig, say=print):
    """The plan for these options (reads the manifests for duration statistics and vocabulary)."""
    cfg = resolve_inputs(cfg, say)
    data = load_data(cfg, vocab=_model_vocab(cfg))
    return make_run_plan(cfg, data), cfg, data


def _model_vocab(cfg: RunConfig) -> dict | None:
    """A local model folder that has a vocabulary keeps it (fine-tuning, resuming)."""
    return read_vocab(cfg.model) if os.path.isdir(cfg.model) else None


@dataclass(frozen=True)
class PreparedRun:
    cfg: RunConfig
    plan: object
    run_dir: str
    accelerate_yaml: str
    deepspeed_json: str | None
    command: LaunchCommand


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _check_run_dir(cfg: RunConfig, run_dir: str) -> None:
    if cfg.resume == "none" and ckpt.list_checkpoints(run_dir):
        raise UserError(f"--output-dir: {run_dir} already holds checkpoints; pass --resume auto to "
                        f"continue that run, or choose another --output-dir")


def prepare_run(cfg: RunConfig, say=print) -> PreparedRun:
    from ..train.model import build_processor, folder_has_processor
    from ..writers import accelerate_config, config_name, deepspeed_config

    plan, cfg, data = plan_from_config(cfg, say)
    name = config_name(plan)
    run_dir = cfg.output_dir or default_output_dir(cfg, name)
    if cfg.resume == "auto" and not cfg.output_dir:
        say("note: --resume auto without --output-dir starts a new run folder (nothing to resume)")
    _check_run_dir(cfg, run_dir)
    os.makedirs(run_dir, exist_ok=True)
    cfg = cfg.replace(output_dir=run_dir)

    if not folder_has_processor(run_dir):
        if os.path.isdir(cfg.model) and folder_has_processor(cfg.model):
            from transformers import Wav2Vec2Processor

            Wav2Vec2Processor.from_pretrained(cfg.model).save_pretrained(run_dir)
        else:
            build_processor(data.vocab, run_dir)

    ds_dict = deepspeed_config(plan)
    ds_path = None
    if ds_dict is not None:
        ds_path = os.path.join(DEEPSPEED_DIR, f"{name}.json")
        text = json.dumps(ds_dict, indent=2) + "\n"
        _write(ds_path, text)
        _write(os.path.join(run_dir, f"{name}.deepspeed.json"), text)
    acc_dict = accelerate_config(plan, machine_rank=cfg.machine_rank, main_process_ip=cfg.main_process_ip,
                                 main_process_port=cfg.main_process_port, deepspeed_config_file=ds_path)
    acc_path = os.path.join(ACCELERATE_DIR, f"{name}.yaml")
    _write(acc_path, yaml.safe_dump(acc_dict, sort_keys=False))
    # the run folder's copy names the run folder's DeepSpeed JSON, so it stays valid on its own
    run_acc = dict(acc_dict)
    if ds_path:
        run_acc["deepspeed_config"] = {**acc_dict["deepspeed_config"],
                                       "deepspeed_config_file": os.path.abspath(os.path.join(run_dir, f"{name}.deepspeed.json"))}
    run_acc_path = os.path.join(run_dir, f"{name}.accelerate.yaml")
    _write(run_acc_path, yaml.safe_dump(run_acc, sort_keys=False))
    _write(os.path.join(run_dir, PLAN_FILE), json.dumps(plan.to_dict(), indent=2) + "\n")
    run_cfg_path = os.path.join(run_dir, RUN_CONFIG_FILE)
    _write(run_cfg_path, cfg.to_yaml())

    env = {"ASR_DIST_NUM_MACHINES": cfg.num_machines}
    if plan.hardware.is_cpu_only:
        env.setdefault("DS_ACCELERATOR", os.environ.get("DS_ACCELERATOR", "cpu"))
        # torch elastic would pin every rank to 1 thread: share the node's cores among its ranks
        per_node = max(1, plan.chosen.num_processes // max(1, plan.chosen.num_machines))
        cores = plan.hardware.nodes[0].cpu_cores
        env.setdefault("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", str(max(1, cores // per_node))))
    command = accelerate_command(run_acc_path, run_cfg_path, machine_rank=cfg.machine_rank if cfg.num_machines > 1 else None,
                                 main_process_ip=cfg.main_process_ip, main_process_port=cfg.main_process_port,
                                 env=env)
    return PreparedRun(cfg, plan, run_dir, acc_path, ds_path, command)
